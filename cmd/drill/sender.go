package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// order is one paid order of the drill and the points it must earn.
type order struct {
	ID       string
	Customer string
	Points   int64
	acked    atomic.Bool
	ackedAt  atomic.Int64 // unix nanoseconds of the first 2xx for any of its deliveries
}

// delivery is one webhook delivery as Shopify makes it: a fixed body and
// X-Shopify-Webhook-Id, repeated unchanged on every retry.
type delivery struct {
	order     *order
	webhookID string
	kind      string // "first", "duplicate" (same id again) or "new id" (same order, another id)
	body      []byte
	signature string
	attempts  int // touched only by the goroutine sending it
	statuses  []string
	acked     bool
	ackedAt   time.Time
	gaveUp    bool
}

// plan makes n orders for shop (some customers buying several times) and
// their deliveries: one each, a share delivered twice with the same id, a
// smaller share again under a new id (two subscriptions, or a resend), all
// shuffled.
func plan(prefix string, n int, secret string, dupShare, reIDShare float64, rng *rand.Rand) ([]*order, []*delivery, error) {
	customers := max(1, n/3)
	orders := make([]*order, n)
	var deliveries []*delivery
	at := time.Now().Add(-time.Hour)
	for i := range orders {
		amount := int64(5 + rng.IntN(196)) // whole dollars: at the default earn rate, points == dollars
		o := &order{ID: fmt.Sprint(4_000_000_000_000_000 + int64(i) + 1), Customer: fmt.Sprint(7_000_000_000_000 + rng.IntN(customers) + 1), Points: amount}
		orders[i] = o
		body, err := shopify.SamplePayload(shopify.TopicOrdersPaid, shopify.SampleOptions{OrderID: o.ID, CustomerID: o.Customer,
			Amount: app.Amount(amount * app.AmountScale), Currency: "USD", At: at})
		if err != nil {
			return nil, nil, err
		}
		d := &delivery{order: o, webhookID: fmt.Sprintf("%s-%d", prefix, i), kind: "first", body: body, signature: shopify.Sign(body, secret)}
		deliveries = append(deliveries, d)
		if rng.Float64() < dupShare {
			deliveries = append(deliveries, &delivery{order: o, webhookID: d.webhookID, kind: "duplicate", body: body, signature: d.signature})
		}
		if rng.Float64() < reIDShare {
			deliveries = append(deliveries, &delivery{order: o, webhookID: d.webhookID + "-again", kind: "new id", body: body, signature: d.signature})
		}
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	return orders, deliveries, nil
}

// sender posts deliveries the way Shopify does: at a steady rate over
// keep-alive connections, a delivery failing on a non-2xx answer, a
// connection error or a 5 s time-out, retried with the same id and body
// after an exponential backoff (Shopify: 8 retries over 4 hours; here the
// same shape compressed to about a minute).
type sender struct {
	urls        []string // spread over round-robin
	shop        string
	rate        float64 // first attempts per second
	concurrency int
	maxRetries  int
	backoff     time.Duration
	client      *http.Client

	requests atomic.Int64
	retries  atomic.Int64
	mu       sync.Mutex
	statuses map[string]int
}

func newSender(urls []string, shop string, rate float64, concurrency int) *sender {
	tr := &http.Transport{MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: 90 * time.Second}
	return &sender{urls: urls, shop: shop, rate: rate, concurrency: concurrency, maxRetries: 8, backoff: 250 * time.Millisecond,
		client: &http.Client{Transport: tr, Timeout: 5 * time.Second}, statuses: map[string]int{}}
}

// run sends every delivery and returns when each is acknowledged or given
// up on. progress is called with the number of first attempts handed out so
// far, after each one.
func (s *sender) run(ctx context.Context, deliveries []*delivery, progress func(int)) {
	queue := make(chan *delivery, len(deliveries))
	var pending sync.WaitGroup
	pending.Add(len(deliveries))
	var workers sync.WaitGroup
	var next atomic.Int64
	for range s.concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for d := range queue {
				url := s.urls[int(next.Add(1))%len(s.urls)]
				if s.attempt(ctx, url, d) || d.attempts > s.maxRetries || ctx.Err() != nil {
					if !d.acked {
						d.gaveUp = true
					}
					pending.Done()
					continue
				}
				s.retries.Add(1)
				wait := s.backoff << (d.attempts - 1)
				wait = wait*4/5 + time.Duration(rand.Int64N(int64(wait*2/5)+1)) // ±20% jitter
				time.AfterFunc(wait, func() { queue <- d })
			}
		}()
	}
	start := time.Now()
	for i, d := range deliveries {
		due := start.Add(time.Duration(float64(i) / s.rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		queue <- d
		if progress != nil {
			progress(i + 1)
		}
	}
	pending.Wait()
	close(queue)
	workers.Wait()
}

// attempt makes one delivery attempt and reports whether it was
// acknowledged.
func (s *sender) attempt(ctx context.Context, url string, d *delivery) bool {
	d.attempts++
	s.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		s.count(&d.statuses, "error")
		return false
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set(shopify.HeaderTopic, shopify.TopicOrdersPaid)
	h.Set(shopify.HeaderShopDomain, s.shop)
	h.Set(shopify.HeaderWebhookID, d.webhookID)
	h.Set(shopify.HeaderHMAC, d.signature)
	h.Set(shopify.HeaderAPIVersion, "2026-07")
	h.Set(shopify.HeaderTriggeredAt, time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := s.client.Do(req)
	if err != nil {
		what := "error"
		if strings.Contains(err.Error(), "Client.Timeout") || strings.Contains(err.Error(), "deadline exceeded") {
			what = "timeout"
		}
		s.count(&d.statuses, what)
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.count(&d.statuses, fmt.Sprint(resp.StatusCode))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false
	}
	now := time.Now()
	d.acked, d.ackedAt = true, now
	if d.order.acked.CompareAndSwap(false, true) {
		d.order.ackedAt.Store(now.UnixNano())
	}
	return true
}

func (s *sender) count(into *[]string, what string) {
	*into = append(*into, what)
	s.mu.Lock()
	s.statuses[what]++
	s.mu.Unlock()
}

// statusLine is the answers seen, as "200×20912 503×12 timeout×3".
func (s *sender) statusLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.statuses))
	for k := range s.statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, s.statuses[k])
	}
	return strings.Join(parts, " ")
}
