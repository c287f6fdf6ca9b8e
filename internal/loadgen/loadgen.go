// Package loadgen drives an HTTP server with a fixed number of concurrent
// connections, each sending one request after another (a closed loop, as
// webhook senders and browsers do), and counts what came back: requests,
// transport errors, statuses and every latency, for exact percentiles.
//
// It is kept lean on purpose: the benchmarks run the generator and the
// server under test on the same small machine, so every cycle the generator
// spends is one the server does not get.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Build makes the request a connection sends next. worker is the
// connection's number (0 to Concurrency-1) and seq the request's number in
// the whole run (0, 1, 2, ...: unique, so it can name a delivery or an
// order). A Build error is counted as an error and the request not sent.
type Build func(ctx context.Context, worker int, seq int64) (*http.Request, error)

// Config is one load phase.
type Config struct {
	// Concurrency is how many connections send at once (at least 1).
	Concurrency int
	// Duration bounds the phase in time; Requests bounds it in requests.
	// Whichever is reached first ends it; at least one must be set.
	Duration time.Duration
	Requests int64
	// Client sends the requests; NewClient(Concurrency) when nil.
	Client *http.Client
	// OK says which statuses are a success; 2xx when nil.
	OK func(status int) bool
}

// Result is what a phase measured.
type Result struct {
	Requests int64 // sent and answered or failed
	Errors   int64 // transport errors and Build errors: no status
	Failed   int64 // answered with a status OK rejects (non-2xx by default)
	Statuses map[int]int64
	// FirstError describes the first error or failed status, for the report.
	FirstError string
	Elapsed    time.Duration
	// latencies of answered requests (whatever their status), sorted.
	latencies []time.Duration
}

// OKCount is how many requests succeeded.
func (r Result) OKCount() int64 { return r.Requests - r.Errors - r.Failed }

// Rate is successful requests per second over the phase.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OKCount()) / r.Elapsed.Seconds()
}

// Percentile is the latency below which the fraction p (0 < p <= 1) of the
// answered requests fall, by the nearest-rank method; 0 without answers.
func (r Result) Percentile(p float64) time.Duration {
	return Percentile(r.latencies, p)
}

// Mean is the mean latency of the answered requests.
func (r Result) Mean() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, l := range r.latencies {
		sum += l
	}
	return sum / time.Duration(len(r.latencies))
}

// Clean reports whether every request succeeded.
func (r Result) Clean() bool { return r.Errors == 0 && r.Failed == 0 && r.Requests > 0 }

// String is a one-line summary with the counts.
func (r Result) String() string {
	s := fmt.Sprintf("%d requests in %.1fs: %.0f/s, p50 %s, p99 %s, errors %d, non-2xx %d",
		r.Requests, r.Elapsed.Seconds(), r.Rate(), Round(r.Percentile(0.50)), Round(r.Percentile(0.99)), r.Errors, r.Failed)
	if r.FirstError != "" {
		s += " (first: " + r.FirstError + ")"
	}
	return s
}

// Percentile is the nearest-rank percentile of sorted latencies: the
// smallest value with at least the fraction p of the values at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(p*float64(n)+0.999999999) - 1 // ceil(p*n) - 1, robust to float error
	if rank < 0 {
		rank = 0
	}
	if rank >= n {
		rank = n - 1
	}
	return sorted[rank]
}

// Round shortens a latency for printing: microseconds below a millisecond,
// else tenths of a millisecond.
func Round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// NewClient is an HTTP client for concurrency connections to one host:
// keep-alive, as many idle connections kept as there are senders (so none is
// closed and reopened between requests), and a 5 s time-out, Shopify's.
func NewClient(concurrency int) *http.Client {
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: t, Timeout: 5 * time.Second}
}

// Run drives the load until the duration passes, the request budget is
// spent or ctx ends, and returns what it measured. Requests in flight when
// the duration passes are finished and counted.
func Run(ctx context.Context, cfg Config, build Build) Result {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	client := cfg.Client
	if client == nil {
		client = NewClient(cfg.Concurrency)
	}
	ok := cfg.OK
	if ok == nil {
		ok = func(s int) bool { return s >= 200 && s < 300 }
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	// Requests in flight when the phase ends are not cancelled: they run
	// on a context of their own, so a late answer counts as an answer.
	reqCtx := context.WithoutCancel(ctx)

	var seq atomic.Int64
	type tally struct {
		requests, errors, failed int64
		statuses                 map[int]int64
		firstErr                 string
		latencies                []time.Duration
	}
	tallies := make([]tally, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			t := &tallies[w]
			t.statuses = map[int]int64{}
			t.latencies = make([]time.Duration, 0, 1024)
			fail := func(msg string) {
				if t.firstErr == "" {
					t.firstErr = msg
				}
			}
			for ctx.Err() == nil {
				n := seq.Add(1) - 1
				if cfg.Requests > 0 && n >= cfg.Requests {
					return
				}
				t.requests++
				req, err := build(reqCtx, w, n)
				if err != nil {
					t.errors++
					fail("build: " + err.Error())
					continue
				}
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.errors++
					fail(err.Error())
					continue
				}
				// Drained so the connection goes back to the pool.
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				took := time.Since(sent)
				if err != nil {
					t.errors++
					fail("read body: " + err.Error())
					continue
				}
				t.latencies = append(t.latencies, took)
				t.statuses[resp.StatusCode]++
				if !ok(resp.StatusCode) {
					t.failed++
					fail(fmt.Sprintf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode))
				}
			}
		}(w)
	}
	wg.Wait()
	r := Result{Statuses: map[int]int64{}, Elapsed: time.Since(start)}
	total := 0
	for _, t := range tallies {
		total += len(t.latencies)
	}
	r.latencies = make([]time.Duration, 0, total)
	for _, t := range tallies {
		r.Requests += t.requests
		r.Errors += t.errors
		r.Failed += t.failed
		for s, c := range t.statuses {
			r.Statuses[s] += c
		}
		if r.FirstError == "" {
			r.FirstError = t.firstErr
		}
		r.latencies = append(r.latencies, t.latencies...)
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r
}
