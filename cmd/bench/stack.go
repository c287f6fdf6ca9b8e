package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/app/store"
)

// Settings of the app processes under test.
const (
	// shopifySecret signs every webhook and app proxy request of the run.
	shopifySecret = "bench-shopify-secret"
	// encryptionKey is the test key: the bench stores no real secret.
	encryptionKey = "746573742d6b65792d6e6f742d666f722d70726f64756374696f6e2d75736521"
	// limitConns is the concurrency of the database-limit loop: the
	// worker's pool size (DATABASE_MAX_CONNS, default 20). The worker under
	// test runs with its default WORKER_CONCURRENCY.
	limitConns = 20
	// redisDatabases matches apptest: databases are leased through keys in
	// database 0, so a bench never shares one with a test run.
	redisDatabases = 64
)

// stack is the run's own database(s), Redis database and app processes on
// the shared PostgreSQL and Redis servers. close undoes all of it.
type stack struct {
	root     string // repository root, where bin/loyalty is built
	binary   string
	adminDSN string // the server's maintenance database, for CREATE/DROP DATABASE
	dsn      string // the run's database
	redisURL string // the run's Redis database
	redis    *redis.Client
	pool     *pgxpool.Pool
	store    *store.Store

	mu        sync.Mutex
	databases []string
	procs     []*proc
	lease     func()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// newStack builds bin/loyalty, creates and migrates a fresh database and
// leases an empty Redis database.
func newStack(ctx context.Context) (*stack, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(root + "/go.mod"); err != nil {
		return nil, fmt.Errorf("run from the repository root (no go.mod in %s)", root)
	}
	s := &stack{root: root, binary: root + "/bin/loyalty"}
	step("building bin/loyalty")
	build := exec.CommandContext(ctx, "go", "build", "-o", s.binary, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}

	base := firstEnv("BENCH_DATABASE_URL", "DATABASE_URL")
	if base == "" {
		base = "postgres://loyalty@127.0.0.1:54329/loyalty?sslmode=disable"
	}
	if s.adminDSN, err = withDatabase(base, "postgres"); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if s.dsn, err = s.newDatabase(ctx, "bench_"+randomHex(6)); err != nil {
		return s, err
	}

	redisBase := firstEnv("BENCH_REDIS_URL", "REDIS_URL")
	if redisBase == "" {
		redisBase = "redis://127.0.0.1:63799/0"
	}
	if err := s.leaseRedis(ctx, redisBase); err != nil {
		return s, err
	}

	if s.pool, err = pgxpool.New(ctx, s.dsn+poolSize(limitConns+4)); err != nil {
		return s, err
	}
	if s.store, err = openStore(ctx, s.dsn, s.redis); err != nil {
		return s, err
	}
	return s, nil
}

func poolSize(n int) string { return "&pool_max_conns=" + strconv.Itoa(n) }

// openStore opens the app's store as the app's processes do (main.go's
// open): the view cache in Redis is invalidated by every ledger change.
func openStore(ctx context.Context, dsn string, rdb *redis.Client) (*store.Store, error) {
	raw, _ := hex.DecodeString(encryptionKey)
	keys, err := store.NewKeyring(raw)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, dsn, store.Options{MaxOpenConns: 20, Keys: keys})
	if err != nil {
		return nil, err
	}
	if rdb != nil {
		views := store.NewViewCache(rdb, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		st.OnLedgerChange(views.Invalidate)
		st.OnProgramChange(views.InvalidateShop)
	}
	return st, nil
}

// service is the app's service over st, on the wall clock, as the worker
// runs it.
func service(st *store.Store) *app.Service { return app.NewService(st, time.Now) }

// newDatabase creates database name, migrates it with `bin/loyalty migrate
// up` and registers it to be dropped by close. It returns its URL.
func (s *stack) newDatabase(ctx context.Context, name string) (string, error) {
	admin, err := pgx.Connect(ctx, s.adminDSN)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL (is it up? scripts/services.sh up): %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	s.mu.Lock()
	s.databases = append(s.databases, name)
	s.mu.Unlock()
	dsn, err := withDatabase(s.adminDSN, name)
	if err != nil {
		return "", err
	}
	step("database %s: bin/loyalty migrate up", name)
	cmd := exec.CommandContext(ctx, s.binary, "migrate", "up")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "REDIS_URL="+firstEnv("BENCH_REDIS_URL", "REDIS_URL"),
		"ENCRYPTION_KEY="+encryptionKey, "APP_ENV=development", "LOG_LEVEL=warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("migrate %s: %w\n%s", name, err, out)
	}
	return dsn, nil
}

// leaseRedis takes an unused database number the way apptest does (a key in
// database 0), flushes it, and keeps the lease alive until close.
func (s *stack) leaseRedis(ctx context.Context, base string) error {
	opt, err := redis.ParseURL(base)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DB = 0
	leases := redis.NewClient(opt)
	if err := leases.Ping(ctx).Err(); err != nil {
		leases.Close()
		return fmt.Errorf("connect to Redis (is it up? scripts/services.sh up): %w", err)
	}
	token := "bench-" + randomHex(6)
	for db := redisDatabases - 1; db >= 1; db-- {
		key := "apptest:lease:" + strconv.Itoa(db)
		ok, err := leases.SetNX(ctx, key, token, 10*time.Minute).Result()
		if err != nil {
			leases.Close()
			return err
		}
		if !ok {
			continue
		}
		dbOpt := *opt
		dbOpt.DB = db
		dbOpt.PoolSize = 128
		s.redis = redis.NewClient(&dbOpt)
		if err := s.redis.FlushDB(ctx).Err(); err != nil {
			return err
		}
		u, _ := url.Parse(base)
		u.Path = "/" + strconv.Itoa(db)
		s.redisURL = u.String()
		done := make(chan struct{})
		go func() { // renew: a full run can outlast the lease
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					leases.Expire(context.Background(), key, 10*time.Minute)
				}
			}
		}()
		s.lease = func() {
			close(done)
			s.redis.FlushDB(context.Background())
			if v, _ := leases.Get(context.Background(), key).Result(); v == token {
				leases.Del(context.Background(), key)
			}
			leases.Close()
		}
		return nil
	}
	leases.Close()
	return fmt.Errorf("no free Redis database (all %d leased)", redisDatabases-1)
}

// close stops the processes, drops the databases and frees the Redis
// database. It is safe to call on a half-built stack.
func (s *stack) close() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.lease != nil {
		s.lease()
	}
	if s.redis != nil {
		s.redis.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(s.databases) > 0 {
		admin, err := pgx.Connect(ctx, s.adminDSN)
		if err != nil {
			fmt.Fprintf(os.Stderr, "warning: cannot drop databases %v: %v\n", s.databases, err)
			return
		}
		defer admin.Close(ctx)
		for _, name := range s.databases {
			if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "warning: drop database %s: %v\n", name, err)
			}
		}
	}
}

// proc is a running `bin/loyalty serve|worker`.
type proc struct {
	mode string
	addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

// lockedWriter lets the child write while the bench reads.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs `bin/loyalty mode` on the run's database and Redis database and
// waits until it answers /readyz.
func (s *stack) start(ctx context.Context, mode string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.binary, mode)
	cmd.Env = append(os.Environ(),
		"APP_ENV=development",
		"DATABASE_URL="+s.dsn,
		"REDIS_URL="+s.redisURL,
		"HTTP_ADDR="+addr,
		"APP_URL=http://"+addr,
		"SHOPIFY_API_SECRET="+shopifySecret,
		"ENCRYPTION_KEY="+encryptionKey,
		"LOG_LEVEL=warn",
	)
	p := &proc{mode: mode, addr: addr, cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	cmd.Stdout = lockedWriter{p.mu, p.out}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-p.done:
			return nil, fmt.Errorf("loyalty %s exited at start:\n%s", mode, p.output())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("loyalty %s did not become ready at %s:\n%s", mode, addr, p.output())
}

// stopProc stops p and forgets it.
func (s *stack) stopProc(p *proc) {
	p.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.procs {
		if q == p {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			break
		}
	}
}

// stop interrupts the process (a graceful shutdown) and kills it if it has
// not ended within 15 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// output is what the process logged (warnings and errors at LOG_LEVEL=warn).
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// warnings counts the process's logged lines at warn level or above, and
// returns the first few.
func (p *proc) warnings() (int, []string) {
	var n int
	var first []string
	for _, line := range strings.Split(p.output(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			n++
			if len(first) < 3 {
				first = append(first, line)
			}
		}
	}
	return n, first
}
