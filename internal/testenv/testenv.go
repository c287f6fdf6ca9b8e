// Package testenv assembles the app for tests: a fresh database and Redis
// database, a registered shop, and the pieces wired as main wires them.
package testenv

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
	"loyalty/internal/shared"
)

// ShopifySecret is the app secret tests sign Shopify webhooks with: the one
// Shopify's published test vectors use.
const ShopifySecret = "hush"

// ShopDomain is the shop every environment starts with.
const ShopDomain = "acme.myshopify.com"

// Env is one test's app.
type Env struct {
	Store    *store.Store
	DSN      string
	Redis    *redis.Client
	RedisURL string
	Service  *app.Service
	Shop     app.Shop
	Log      *slog.Logger
}

// New starts a fresh environment with a Shopify shop whose program is the
// default one changed by edit.
func New(t testing.TB, edit func(*app.Program)) *Env {
	t.Helper()
	st, dsn := apptest.NewDB(t)
	redisURL := apptest.NewRedis(t)
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	// Wired as main wires it: widget views go through the Redis cache,
	// so any test that reads one after a change also checks that the
	// change invalidated it.
	views := store.NewViewCache(rdb, nil)
	st.OnLedgerChange(views.Invalidate)
	st.OnProgramChange(views.InvalidateShop)
	svc := app.NewService(st, time.Now).WithViewCache(views)
	prog := app.DefaultProgram(0)
	if edit != nil {
		edit(&prog)
	}
	shop, err := svc.AddShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: ShopDomain, Currency: "USD"}, &prog)
	if err != nil {
		t.Fatalf("add shop: %v", err)
	}
	return &Env{Store: st, DSN: dsn, Redis: rdb, RedisURL: redisURL, Service: svc, Shop: shop, Log: Logger(t)}
}

// Logger returns a logger that writes to the test log only with -v.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		w := &testWriter{t: t}
		// Work the test started may log after it ended (the workers queue a
		// batch's messages on a goroutine of their own), and t.Log then
		// panics: such lines are dropped.
		t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// Balance returns a customer's spendable points.
func (e *Env) Balance(t testing.TB, customerID string) int64 {
	t.Helper()
	c, err := e.Service.Balance(context.Background(), e.Shop, customerID)
	if err != nil {
		t.Fatalf("balance of %s: %v", customerID, err)
	}
	return c.Balance
}

// Reconciles fails the test when any balance disagrees with its ledger.
func (e *Env) Reconciles(t testing.TB) {
	t.Helper()
	d, err := e.Service.Reconcile(context.Background(), e.Shop)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		t.Errorf("ledger does not reconcile: %s", x)
	}
}

// Fixture reads a sample payload from the shared fixtures folder beside the
// repository, byte for byte: signatures are computed over the raw bytes.
func Fixture(t testing.TB, path string) []byte {
	t.Helper()
	return shared.File(t, "fixtures/"+path)
}
