package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"loyalty/app/apptest"
)

const limitedShop = "shopify:acme.myshopify.com"

// testClock is a clock the test moves; the processes of one test share it.
type testClock struct{ at time.Time }

func newTestClock() *testClock {
	// The start of a minute, so a test's requests stay in one window.
	return &testClock{at: time.Now().Truncate(time.Minute).Add(time.Minute)}
}

func (c *testClock) now() time.Time             { return c.at }
func (c *testClock) move(d time.Duration)       { c.at = c.at.Add(d) }
func (c *testClock) slot(w time.Duration) int64 { return c.at.UnixNano() / int64(w) }

// ask sends one widget request from ip through the limiter and answers its
// status: 200 when allowed.
func ask(t testing.TB, l *RateLimiter, ip string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/proxy/customer", nil)
	req.RemoteAddr = ip + ":50000"
	rec := httptest.NewRecorder()
	err := l.allow(echo.New().NewContext(req, rec), limitedShop)
	if err == nil {
		return http.StatusOK
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("allow: %v", err)
	}
	if he.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "60" {
		t.Fatalf("429 with Retry-After %q, want 60 (the window in seconds)", rec.Header().Get("Retry-After"))
	}
	return he.Code
}

func TestRateLimiterRefusesPastItsLimits(t *testing.T) {
	rdb := apptest.NewRedisClient(t)
	cases := []struct {
		name               string
		perShop, perClient int64
		ips                []string // one request each, in order
		want               []int
	}{
		{"a client past PerClient is refused", 1000, 3,
			[]string{"203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.1"}, []int{200, 200, 200, 429}},
		{"another client of the same shop is not", 1000, 1,
			[]string{"203.0.113.1", "203.0.113.1", "203.0.113.2"}, []int{200, 429, 200}},
		{"a shop past PerShop is refused whichever client asks", 3, 100,
			[]string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"}, []int{200, 200, 200, 429}},
	}
	for _, mode := range []struct {
		name  string
		every time.Duration
	}{{"counted in Redis on every request", 0}, {"counted in memory, shared every 1ms", time.Millisecond}} {
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				rdb.FlushDB(context.Background())
				clock := newTestClock()
				l := &RateLimiter{Redis: rdb, PerShop: tc.perShop, PerClient: tc.perClient, Window: time.Minute, ShareEvery: mode.every, now: clock.now}
				for i, ip := range tc.ips {
					if got := ask(t, l, ip); got != tc.want[i] {
						t.Fatalf("request %d from %s: %d, want %d", i+1, ip, got, tc.want[i])
					}
					// Exact within one process, whether or not a share falls between requests.
					clock.move(time.Millisecond / 2)
				}
			})
		}
	}
}

func TestSharedRateLimiterSharesCountsBetweenProcesses(t *testing.T) {
	rdb := apptest.NewRedisClient(t)
	clock := newTestClock()
	process := func(every time.Duration) *RateLimiter {
		return &RateLimiter{Redis: rdb, PerShop: 1000, PerClient: 3, Window: time.Minute, ShareEvery: every, now: clock.now}
	}
	a, b := process(time.Millisecond), process(time.Millisecond)
	for i := 0; i < 2; i++ {
		if got := ask(t, a, "203.0.113.1"); got != 200 {
			t.Fatalf("a, request %d: %d", i+1, got)
		}
	}
	clock.move(time.Millisecond)
	if got := ask(t, a, "203.0.113.1"); got != 200 { // shares a's three
		t.Fatalf("a, request 3: %d", got)
	}
	clock.move(time.Millisecond)

	t.Run("what one process admitted counts against the other after a share", func(t *testing.T) {
		if got := ask(t, b, "203.0.113.1"); got != 429 {
			t.Fatalf("b's first request of a client a admitted 3 times: %d, want 429", got)
		}
		if got := ask(t, b, "203.0.113.2"); got != 200 {
			t.Fatalf("another client on b: %d, want 200", got)
		}
	})
	t.Run("and the other way round", func(t *testing.T) {
		clock.move(time.Millisecond)
		if got := ask(t, b, "203.0.113.2"); got != 200 { // shares b's counts
			t.Fatalf("b: %d", got)
		}
		clock.move(time.Millisecond)
		a.PerClient = 2
		if got := ask(t, a, "203.0.113.2"); got != 429 {
			t.Fatalf("a's first request of a client b admitted twice, PerClient 2: %d, want 429", got)
		}
	})
	t.Run("a process counting every request in Redis shares the same counters", func(t *testing.T) {
		exact := process(0)
		if got := ask(t, exact, "203.0.113.3"); got != 200 {
			t.Fatalf("exact: %d", got)
		}
		exact.PerClient = 1
		if got := ask(t, exact, "203.0.113.1"); got != 429 {
			t.Fatalf("exact, a client the shared processes counted: %d, want 429", got)
		}
		clock.move(time.Millisecond)
		a.PerClient = 1
		if got := ask(t, a, "203.0.113.3"); got != 429 {
			t.Fatalf("a, a client the exact process counted once, PerClient 1: %d, want 429", got)
		}
	})
	t.Run("Redis holds every request, and each process only what it has not shared", func(t *testing.T) {
		key := "loyalty:rate:" + limitedShop + ":" + strconv.FormatInt(clock.slot(time.Minute), 10)
		unshared := int64(0)
		for _, l := range []*RateLimiter{a, b} {
			l.counts.mu.Lock()
			unshared += l.counts.windows[clock.slot(time.Minute)].shops[limitedShop].pending
			l.counts.mu.Unlock()
		}
		got, err := rdb.Get(context.Background(), key).Int64()
		if err != nil {
			t.Fatal(err)
		}
		// a asked 5 times, b 3, the exact process 2.
		if got+unshared != 10 {
			t.Fatalf("Redis %d + unshared %d, want 10 requests", got, unshared)
		}
	})
}

func TestSharedRateLimiterStartsEachWindowFromZero(t *testing.T) {
	rdb := apptest.NewRedisClient(t)
	clock := newTestClock()
	l := &RateLimiter{Redis: rdb, PerShop: 1000, PerClient: 2, Window: time.Minute, ShareEvery: time.Millisecond, now: clock.now}
	for i, want := range []int{200, 200, 429} {
		if got := ask(t, l, "203.0.113.1"); got != want {
			t.Fatalf("request %d: %d, want %d", i+1, got, want)
		}
	}
	ended := clock.slot(time.Minute)
	clock.move(time.Minute)
	if got := ask(t, l, "203.0.113.1"); got != 200 {
		t.Fatalf("first request of the next window: %d, want 200", got)
	}
	l.counts.mu.Lock()
	_, kept := l.counts.windows[ended]
	windows := len(l.counts.windows)
	l.counts.mu.Unlock()
	if kept || windows != 1 {
		t.Fatalf("the ended window's counters are still in memory (%d windows)", windows)
	}
}

func TestSharedRateLimiterCountsClientsPastItsCapInRedis(t *testing.T) {
	rdb := apptest.NewRedisClient(t)
	clock := newTestClock()
	// Room for the shop's counter and one client's.
	l := &RateLimiter{Redis: rdb, PerShop: 1000, PerClient: 1, Window: time.Minute, ShareEvery: time.Hour, now: clock.now, maxCounters: 2}
	ask(t, l, "203.0.113.1") // shares (the first request finds no share yet) and fills the cap
	for i, want := range []int{200, 429} {
		if got := ask(t, l, "203.0.113.2"); got != want {
			t.Fatalf("request %d of a client past the cap: %d, want %d", i+1, got, want)
		}
	}
	key := "loyalty:rate:" + limitedShop + ":203.0.113.2:" + strconv.FormatInt(clock.slot(time.Minute), 10)
	if n, err := rdb.Get(context.Background(), key).Int64(); err != nil || n != 2 {
		t.Fatalf("Redis counted the client past the cap %d times (%v), want 2 at once", n, err)
	}
	l.counts.mu.Lock()
	counters := len(l.counts.windows[clock.slot(time.Minute)].clients)
	l.counts.mu.Unlock()
	if counters != 1 {
		t.Fatalf("%d client counters in memory, want 1", counters)
	}
}

func TestRateLimiterPassesWhenRedisIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { down.Close() })

	for _, every := range []time.Duration{0, time.Millisecond} {
		t.Run("ShareEvery "+every.String(), func(t *testing.T) {
			clock := newTestClock()
			l := &RateLimiter{Redis: down, PerShop: 1000, PerClient: 5, Window: time.Minute, ShareEvery: every, now: clock.now}
			for i := 0; i < 5; i++ {
				if got := ask(t, l, "203.0.113.1"); got != 200 {
					t.Fatalf("request %d: %d, want 200", i+1, got)
				}
				clock.move(time.Millisecond)
			}
			if every == 0 {
				return
			}
			l.counts.mu.Lock()
			pending := l.counts.windows[clock.slot(time.Minute)].shops[limitedShop].pending
			l.counts.mu.Unlock()
			if pending != 5 {
				t.Fatalf("%d increments kept for the next share, want 5", pending)
			}
			clock.move(time.Minute)
			ask(t, l, "203.0.113.1")
			l.counts.mu.Lock()
			windows := len(l.counts.windows)
			l.counts.mu.Unlock()
			if windows != 1 {
				t.Fatalf("%d windows in memory, want only the current one: unshared counts of an ended window are dropped", windows)
			}
		})
	}
}

// BenchmarkRateLimiterShared is the widget's limiter under parallel
// requests from many clients, against counting every request in Redis.
func BenchmarkRateLimiterShared(b *testing.B) {
	rdb := apptest.NewRedisClient(b)
	for _, mode := range []struct {
		name  string
		every time.Duration
	}{{"shared every 100ms", 100 * time.Millisecond}, {"exact", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			l := &RateLimiter{Redis: rdb, PerShop: 1 << 40, PerClient: 1 << 40, Window: time.Minute, ShareEvery: mode.every}
			e := echo.New()
			var clients atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/proxy/customer", nil)
				req.RemoteAddr = "203.0.113." + strconv.FormatInt(clients.Add(1)%250, 10) + ":50000"
				c := e.NewContext(req, httptest.NewRecorder())
				for pb.Next() {
					if err := l.allow(c, limitedShop); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
