package loadgen_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loyalty/internal/loadgen"
)

// get builds a GET of url carrying the request's number in X-Seq.
func get(url string) loadgen.Build {
	return func(ctx context.Context, _ int, seq int64) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Seq", strconv.FormatInt(seq, 10))
		return req, nil
	}
}

func seqOf(t *testing.T, r *http.Request) int64 {
	n, err := strconv.ParseInt(r.Header.Get("X-Seq"), 10, 64)
	if err != nil {
		t.Errorf("X-Seq: %v", err)
	}
	return n
}

func TestRunSendsExactlyTheBudgetWithUniqueNumbers(t *testing.T) {
	var mu sync.Mutex
	seen := map[int64]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[seqOf(t, r)]++
		mu.Unlock()
	}))
	defer srv.Close()

	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 8, Requests: 1000}, get(srv.URL))

	if r.Requests != 1000 || r.OKCount() != 1000 || r.Errors != 0 || r.Failed != 0 || !r.Clean() {
		t.Fatalf("result %s: want 1000 clean requests", r)
	}
	if r.Statuses[200] != 1000 {
		t.Errorf("statuses %v, want 1000 × 200", r.Statuses)
	}
	if len(seen) != 1000 {
		t.Fatalf("server saw %d distinct numbers, want 1000", len(seen))
	}
	for i := int64(0); i < 1000; i++ {
		if seen[i] != 1 {
			t.Fatalf("request number %d arrived %d times, want once", i, seen[i])
		}
	}
}

func TestRunCountsNon2xxAsFailedByStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch seqOf(t, r) % 10 {
		case 0:
			w.WriteHeader(http.StatusInternalServerError)
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusNoContent) // a 2xx: success
		}
	}))
	defer srv.Close()

	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 4, Requests: 500}, get(srv.URL))

	if r.Requests != 500 || r.Errors != 0 || r.Failed != 100 || r.OKCount() != 400 || r.Clean() {
		t.Fatalf("result %s: want 500 requests, 100 failed, 400 ok", r)
	}
	want := map[int]int64{500: 50, 429: 50, 204: 50, 200: 350}
	for s, n := range want {
		if r.Statuses[s] != n {
			t.Errorf("status %d: %d, want %d (all: %v)", s, r.Statuses[s], n, r.Statuses)
		}
	}
	if r.FirstError == "" {
		t.Error("no first error described")
	}
}

func TestRunAcceptsWhatOKSays(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()

	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 2, Requests: 50,
		OK: func(s int) bool { return s == http.StatusUnauthorized }}, get(srv.URL))

	if !r.Clean() || r.OKCount() != 50 {
		t.Fatalf("result %s: 401 was declared a success", r)
	}
}

func TestRunCountsTransportAndBuildErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seqOf(t, r)%5 == 0 {
			// Drop the connection without an answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	defer srv.Close()
	build := get(srv.URL)
	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 4, Requests: 300},
		func(ctx context.Context, w int, seq int64) (*http.Request, error) {
			if seq%3 == 1 {
				return nil, errors.New("no request this time")
			}
			return build(ctx, w, seq)
		})

	// Of 0..299: 100 are build errors (seq%3==1); of the other 200, those
	// with seq%5==0 are dropped: seq%15 in {0, 10} → 40.
	if r.Requests != 300 || r.Errors != 140 || r.Failed != 0 || r.OKCount() != 160 {
		t.Fatalf("result %s: want 300 requests, 140 errors, 160 ok", r)
	}
	if r.Statuses[200] != 160 {
		t.Errorf("statuses %v, want 160 × 200", r.Statuses)
	}
}

func TestRunKeepsConcurrencyConnectionsBusy(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()

	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 6, Requests: 120}, get(srv.URL))

	if !r.Clean() {
		t.Fatalf("result %s", r)
	}
	if most.Load() != 6 {
		t.Errorf("at most %d requests in flight, want 6", most.Load())
	}
}

func TestRunStopsAfterDurationAndMeasuresLatency(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
	}))
	defer srv.Close()

	r := loadgen.Run(context.Background(), loadgen.Config{Concurrency: 4, Duration: 300 * time.Millisecond}, get(srv.URL))

	if !r.Clean() {
		t.Fatalf("result %s", r)
	}
	if r.Elapsed < 300*time.Millisecond || r.Elapsed > 2*time.Second {
		t.Errorf("elapsed %s, want about 300ms", r.Elapsed)
	}
	// 4 connections × 300ms / 20ms = 60 at most, plus the 4 in flight.
	if r.Requests < 8 || r.Requests > 64 {
		t.Errorf("%d requests, want between 8 and 64", r.Requests)
	}
	if p := r.Percentile(0.5); p < delay {
		t.Errorf("p50 %s below the server's delay %s", p, delay)
	}
	if r.Percentile(0.99) < r.Percentile(0.5) || r.Mean() < delay {
		t.Errorf("p99 %s, p50 %s, mean %s: inconsistent", r.Percentile(0.99), r.Percentile(0.5), r.Mean())
	}
	if rate := r.Rate(); rate <= 0 || rate > float64(4*time.Second/delay) {
		t.Errorf("rate %.1f/s, want at most %d/s", rate, 4*time.Second/delay)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	r := loadgen.Run(ctx, loadgen.Config{Concurrency: 2}, get(srv.URL))

	if !r.Clean() || r.Elapsed > 2*time.Second {
		t.Fatalf("result %s", r)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no values give zero", nil, 0.5, 0},
		{"one value is every percentile", ms(7), 0.99, 7 * time.Millisecond},
		{"median of 1..100 is 50", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p100 is the maximum", ms(hundred...), 1, 100 * time.Millisecond},
		{"p0 is the minimum", ms(hundred...), 0, 1 * time.Millisecond},
		{"p99 of 10 values is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"p50 of 4 values is the second", ms(1, 2, 3, 4), 0.50, 2 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loadgen.Percentile(c.sorted, c.p); got != c.want {
				t.Errorf("Percentile(%v, %v) = %s, want %s", c.sorted, c.p, got, c.want)
			}
		})
	}
}
