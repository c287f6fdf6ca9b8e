// Package apptest starts real PostgreSQL databases and Redis databases for
// tests: every test gets its own, built from the project's migrations and
// dropped when it ends. The servers come from `make test`
// (scripts/services.sh); TEST_DATABASE_URL and TEST_REDIS_URL point at them.
package apptest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"loyalty/app/store"
)

const (
	defaultDatabaseURL = "postgres://loyalty@127.0.0.1:54329/loyalty?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:63799/0"
	// Redis runs with 64 databases; 0 is kept for bookkeeping.
	redisDatabases = 64
)

// DatabaseURL is the server tests create their databases on.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultDatabaseURL
}

// RedisURL is the Redis server tests use.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultRedisURL
}

// TestEncryptionKey is the key test stores seal secrets with (hex, as
// ENCRYPTION_KEY takes it), for subprocesses under test.
const TestEncryptionKey = "746573742d6b65792d6e6f742d666f722d70726f64756374696f6e2d75736521"

// TestKeys is the keyring of test stores.
func TestKeys() *store.Keyring {
	raw, _ := hex.DecodeString(TestEncryptionKey)
	k, err := store.NewKeyring(raw)
	if err != nil {
		panic(err)
	}
	return k
}

var templateOnce struct {
	sync.Mutex
	name string
}

// NewDB creates a fresh, migrated database for the test, opens a store on it
// and drops the database when the test ends. It returns the store and the
// database's URL (for subprocesses under test).
func NewDB(t testing.TB) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	tmpl := template(t)
	name := "test_" + randomHex(8)
	admin := connect(t, DatabaseURL())
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dsn := withDatabase(t, DatabaseURL(), name)
	st, err := store.Open(ctx, dsn, store.Options{MaxOpenConns: 60, Keys: TestKeys()})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		admin := connect(t, DatabaseURL())
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return st, dsn
}

// template returns the name of a database holding the current migrations,
// creating it once per schema version. Its name carries a hash of the
// migration files, so a changed migration builds a new template; an advisory
// lock lets test packages running in parallel create it only once.
func template(t testing.TB) string {
	t.Helper()
	templateOnce.Lock()
	defer templateOnce.Unlock()
	if templateOnce.name != "" {
		return templateOnce.name
	}
	ctx := context.Background()
	name := "loyalty_tmpl_" + migrationsHash(t)
	admin := connect(t, DatabaseURL())
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727001)`); err != nil {
		t.Fatalf("lock template: %v", err)
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(727001)`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("look for template: %v", err)
	}
	if !exists {
		building := name + "_building"
		admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
		if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
			t.Fatalf("create template: %v", err)
		}
		st, err := store.Open(ctx, withDatabase(t, DatabaseURL(), building), store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatalf("open template: %v", err)
		}
		if err := store.Migrate(ctx, st.SQL(), "up", io.Discard); err != nil {
			t.Fatalf("migrate template: %v", err)
		}
		st.Close()
		// Renamed only once complete, so a crashed build is never used.
		if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
			t.Fatalf("finish template: %v", err)
		}
	}
	templateOnce.name = name
	return name
}

func migrationsHash(t testing.TB) string {
	h := sha256.New()
	fsys := store.Migrations()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatalf("list migrations: %v", err)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatalf("read migration: %v", err)
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL at %s: %v (start it with `make test` or `scripts/services.sh up`)", redact(dsn), err)
	}
	return conn
}

func withDatabase(t testing.TB, dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewRedisClient gives the test a Redis database of its own, empty, and a
// client of it, closed with the test.
func NewRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(NewRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// NewRedis gives the test a Redis database of its own, empty, and returns
// its URL. Databases are leased through keys in database 0, so test packages
// running in parallel never share one; the lease ends with the test.
func NewRedis(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	opt.DB = 0
	leases := redis.NewClient(opt)
	defer leases.Close()
	if err := leases.Ping(ctx).Err(); err != nil {
		t.Fatalf("connect to test Redis at %s: %v (start it with `make test` or `scripts/services.sh up`)", RedisURL(), err)
	}
	token := randomHex(8)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for db := 1; db < redisDatabases; db++ {
			key := "apptest:lease:" + strconv.Itoa(db)
			ok, err := leases.SetNX(ctx, key, token, 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("lease a Redis database: %v", err)
			}
			if !ok {
				continue
			}
			dbOpt := *opt
			dbOpt.DB = db
			c := redis.NewClient(&dbOpt)
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("flush Redis database %d: %v", db, err)
			}
			c.Close()
			t.Cleanup(func() {
				c := redis.NewClient(&dbOpt)
				c.FlushDB(ctx)
				c.Close()
				l := redis.NewClient(opt)
				if v, _ := l.Get(ctx, key).Result(); v == token {
					l.Del(ctx, key)
				}
				l.Close()
			})
			u, _ := url.Parse(RedisURL())
			u.Path = "/" + strconv.Itoa(db)
			return u.String()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no free Redis database for the test after a minute")
	return ""
}
