package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
)

// RateLimiter bounds the public widget endpoints per shop and per client
// within a fixed window, counted in Redis so every app process shares the
// count. When Redis cannot count, requests pass: the endpoints only read.
// A RateLimiter must not be copied once used.
type RateLimiter struct {
	Redis     redis.UniversalClient
	PerShop   int64
	PerClient int64
	Window    time.Duration
	// ShareEvery, above zero, counts in this process's memory and shares
	// the counts with the other processes through Redis once per
	// ShareEvery, in one pipeline sent by the one request that finds the
	// last share that old; every other request decides without a round
	// trip. At the widget's rate the per-request round trip was a sixth of
	// the serve process's CPU and much of Redis's. A process decides with
	// the totals it learned at its last share plus its own requests since,
	// so together the processes may overshoot a limit by what they admit
	// within one ShareEvery. Zero counts every request in Redis before
	// deciding: sign-ins keep that, each attempt counting everywhere at once.
	ShareEvery time.Duration

	now         func() time.Time // time.Now when nil; tests move it
	maxCounters int              // maxCountersPerWindow when 0; tests lower it
	counts      sharedCounts
}

// maxCountersPerWindow caps the counters a process keeps in memory for one
// window (shops and clients together, about 10 MB at most), so a flood
// from many addresses cannot grow memory without limit.
const maxCountersPerWindow = 100_000

func (l *RateLimiter) allow(c echo.Context, shopKey string) error {
	if l == nil || l.Redis == nil {
		return nil
	}
	window := l.Window
	if window <= 0 {
		window = time.Minute
	}
	if l.ShareEvery > 0 {
		return l.allowShared(c, shopKey, window)
	}
	return l.allowExact(c, shopKey, window)
}

func (l *RateLimiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// allowExact counts the request in Redis before deciding: exact across
// processes, one round trip a request.
func (l *RateLimiter) allowExact(c echo.Context, shopKey string, window time.Duration) error {
	slot := strconv.FormatInt(l.clock().UnixNano()/int64(window), 10)
	shopCounter := "loyalty:rate:" + shopKey + ":" + slot
	clientCounter := "loyalty:rate:" + shopKey + ":" + c.RealIP() + ":" + slot
	ctx, cancel := context.WithTimeout(c.Request().Context(), 200*time.Millisecond)
	defer cancel()
	pipe := l.Redis.Pipeline()
	shopCount := pipe.Incr(ctx, shopCounter)
	pipe.Expire(ctx, shopCounter, window)
	clientCount := pipe.Incr(ctx, clientCounter)
	pipe.Expire(ctx, clientCounter, window)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil
	}
	return l.decide(c, shopCount.Val(), clientCount.Val(), window)
}

func (l *RateLimiter) decide(c echo.Context, shopCount, clientCount int64, window time.Duration) error {
	if (l.PerShop > 0 && shopCount > l.PerShop) || (l.PerClient > 0 && clientCount > l.PerClient) {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(window.Seconds())))
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests; try again later")
	}
	return nil
}

// allowShared counts the request in memory and decides with what the
// process knows; the request that finds a share due makes it before
// deciding, so it decides with the freshest totals (its own request included).
func (l *RateLimiter) allowShared(c echo.Context, shopKey string, window time.Duration) error {
	now := l.clock()
	slot := now.UnixNano() / int64(window)
	ip := c.RealIP()
	capacity := l.maxCounters
	if capacity <= 0 {
		capacity = maxCountersPerWindow
	}
	shop, client, shopN, clientN := l.counts.add(slot, shopKey, ip, capacity)
	if shop == nil {
		// Past the cap: Redis counts this client as it would without
		// ShareEvery, so memory stays bounded and the client is still limited.
		return l.allowExact(c, shopKey, window)
	}
	if now.UnixNano()-l.counts.lastShare.Load() >= int64(l.ShareEvery) {
		if l.share(c.Request().Context(), now, slot, window) {
			shopN, clientN = l.counts.totals(shop, client)
		}
	}
	return l.decide(c, shopN, clientN, window)
}

// sharedCounts is what one process knows of the Redis counters.
type sharedCounts struct {
	// One mutex around small maps: a request holds it for a few map
	// lookups, far less than the handler's own work, so 64 concurrent
	// requests on 2 cores barely wait on it.
	mu      sync.Mutex
	windows map[int64]*countWindow // by slot; ended ones are dropped at the next share

	sharing   atomic.Bool  // one request shares at a time; the others do not wait
	lastShare atomic.Int64 // UnixNano when the last share began
}

type countWindow struct {
	shops   map[string]*count
	clients map[clientKey]*count
}

type clientKey struct{ shop, ip string }

// count is one Redis counter as this process knows it.
type count struct {
	shared  int64 // the total Redis answered at the last share (this process's shared increments included)
	pending int64 // this process's increments since, not yet in Redis
}

// add counts a request against its shop and client and returns both
// counters and their totals, or nils when the window already holds as many
// counters as it may and one of them is new.
func (s *sharedCounts) add(slot int64, shopKey, ip string, capacity int) (shop, client *count, shopN, clientN int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[slot]
	if w == nil {
		if s.windows == nil {
			s.windows = make(map[int64]*countWindow)
		}
		w = &countWindow{shops: make(map[string]*count), clients: make(map[clientKey]*count)}
		s.windows[slot] = w
	}
	ck := clientKey{shopKey, ip}
	shop, client = w.shops[shopKey], w.clients[ck]
	if shop == nil || client == nil {
		missing := 0
		if shop == nil {
			missing++
		}
		if client == nil {
			missing++
		}
		if len(w.shops)+len(w.clients)+missing > capacity {
			return nil, nil, 0, 0
		}
		if shop == nil {
			shop = &count{}
			w.shops[shopKey] = shop
		}
		if client == nil {
			client = &count{}
			w.clients[ck] = client
		}
	}
	shop.pending++
	client.pending++
	return shop, client, shop.shared + shop.pending, client.shared + client.pending
}

func (s *sharedCounts) totals(shop, client *count) (shopN, clientN int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return shop.shared + shop.pending, client.shared + client.pending
}

// unshared is one counter's increments on their way to Redis.
type unshared struct {
	c      *count
	n      int64
	shop   string
	client bool // the shop's counter when false
	ip     string
	slot   int64
	total  *redis.IntCmd
}

// share sends this process's pending increments of the current window to
// Redis in one pipeline and learns the totals, when no other request is
// sharing and the last share is ShareEvery old; it reports whether it did.
// Counters of ended windows are dropped first, shared or not: nobody
// decides with them any more.
func (l *RateLimiter) share(ctx context.Context, now time.Time, slot int64, window time.Duration) bool {
	s := &l.counts
	if !s.sharing.CompareAndSwap(false, true) {
		return false
	}
	defer s.sharing.Store(false)
	if now.UnixNano()-s.lastShare.Load() < int64(l.ShareEvery) {
		return false // another request shared between our look and our turn
	}
	// Set before the round trip, whatever its outcome: with Redis down,
	// only one request per ShareEvery waits on it.
	s.lastShare.Store(now.UnixNano())

	var batch []unshared
	s.mu.Lock()
	for sl, w := range s.windows {
		if sl < slot {
			delete(s.windows, sl)
			continue
		}
		for shop, c := range w.shops {
			if c.pending > 0 {
				batch = append(batch, unshared{c: c, n: c.pending, shop: shop, slot: sl})
			}
		}
		for k, c := range w.clients {
			if c.pending > 0 {
				batch = append(batch, unshared{c: c, n: c.pending, shop: k.shop, client: true, ip: k.ip, slot: sl})
			}
		}
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return false
	}

	// The request's own cancellation should not lose the other requests'
	// increments; the timeout is today's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 200*time.Millisecond)
	defer cancel()
	pipe := l.Redis.Pipeline()
	for i := range batch {
		b := &batch[i]
		// The key names the exact path uses, so processes in either mode
		// share one count.
		name := "loyalty:rate:" + b.shop + ":"
		if b.client {
			name += b.ip + ":"
		}
		name += strconv.FormatInt(b.slot, 10)
		b.total = pipe.IncrBy(ctx, name, b.n)
		pipe.Expire(ctx, name, window)
	}
	pipe.Exec(ctx) // each counter's own answer is read below

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range batch {
		if b.total.Err() != nil {
			// Kept for the next share: the count stays bounded by the
			// counters, and ended windows are dropped. A timeout after Redis
			// applied INCRBY counts twice, which errs on the strict side.
			continue
		}
		b.c.shared = b.total.Val()
		b.c.pending -= b.n
	}
	return true
}
