// Command bench measures the loyalty app on this machine against the
// machine's own limits, on the real stack: it builds bin/loyalty, creates a
// fresh database on the running PostgreSQL and leases a Redis database,
// starts `loyalty serve` and `loyalty worker`, and runs five scenarios:
// webhook intake beside a bare verify-and-enqueue floor, end-to-end accrual
// beside the database's transaction limit, widget reads, the expiry sweep
// and accrual time as the ledger grows. It prints a table and writes it to
// BENCHMARKS.md with a description of the machine.
//
// Correctness is checked, speed only reported: the command exits 1 when a
// request fails or an order is lost or counted twice, and prints "target
// missed" lines for speed targets it did not reach.
//
//	go run ./cmd/bench [-duration 20s] [-quick] [-only accrual,widget] [-out BENCHMARKS.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func main() {
	// The load generator allocates as fast as the servers it drives and
	// shares their two cores: it collects garbage as rarely as they do
	// (see serverGCPercent in the app's main.go).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx)
	stop()
	os.Exit(code)
}

func run(ctx context.Context) int {
	duration := flag.Duration("duration", 15*time.Second, "length of each load phase")
	quick := flag.Bool("quick", false, "smoke run: 3 s phases, 50k lots, growth to 200k rows")
	out := flag.String("out", "BENCHMARKS.md", "where to write the report (empty: nowhere)")
	orders := flag.Int("orders", 0, "orders sent end to end (default 15000; -quick 1000)")
	only := flag.String("only", "", "run only these scenarios, comma-separated: intake,accrual,widget,expiry,growth")
	flag.Parse()

	sz := sizes{duration: *duration, warmUp: 2 * time.Second, orders: 15000, widgetShops: 128, widgetPerShop: 50,
		lots: 1_000_000, growth: []int{0, 1_000_000, 10_000_000}, growthOrders: 2000, growthPeople: 100_000}
	if *quick {
		sz = sizes{duration: 3 * time.Second, warmUp: 500 * time.Millisecond, orders: 1000, widgetShops: 16, widgetPerShop: 25,
			lots: 50_000, growth: []int{0, 50_000, 200_000}, growthOrders: 300, growthPeople: 10_000}
	}
	if *orders > 0 {
		sz.orders = *orders
	}
	started := time.Now()
	s, err := newStack(ctx)
	if s != nil {
		defer s.close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	m := describeMachine(ctx, s)
	b := &bench{s: s, sz: sz, svc: service(s.store), only: *only}
	if err := b.all(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		b.failures = append(b.failures, "run stopped: "+err.Error())
	}
	report := b.report(m, *quick, time.Since(started))
	fmt.Println()
	fmt.Print(report.table)
	if *out != "" && len(b.rows) > 0 {
		if err := os.WriteFile(*out, []byte(report.markdown), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 1
		}
		fmt.Printf("\nwritten to %s\n", *out)
	}
	for _, miss := range b.misses {
		fmt.Println("target missed: " + miss)
	}
	if len(b.failures) > 0 {
		fmt.Printf("\nFAILED: %d correctness condition(s) did not hold:\n", len(b.failures))
		for _, f := range b.failures {
			fmt.Println("  - " + f)
		}
		return 1
	}
	fmt.Println("\ncorrectness: every request answered 2xx, every order credited exactly once")
	return 0
}

// all runs the scenarios in order; the intake runs with no worker, the
// accrual with one, the rest with the server alone.
func (b *bench) all(ctx context.Context) error {
	serve, err := b.s.start(ctx, "serve")
	if err != nil {
		return err
	}
	b.serve = serve
	scenarios := []struct {
		name string
		run  func(context.Context) error
	}{{"intake", b.intake}, {"accrual", b.accrual}, {"widget", b.widget}, {"expiry", b.expiry}, {"growth", b.growth}}
	for _, sc := range scenarios {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.only != "" && !slices.Contains(strings.Split(b.only, ","), sc.name) {
			continue
		}
		scenario := sc.run
		if err := scenario(ctx); err != nil {
			return err
		}
	}
	return nil
}

type report struct{ table, markdown string }

func (b *bench) report(m machine, quick bool, took time.Duration) report {
	var t strings.Builder
	head := []string{"Scenario", "Result", "Beside it", "Ratio", "Target", "Verdict"}
	cells := [][]string{head}
	for _, r := range b.rows {
		cells = append(cells, []string{r.scenario, r.result, r.beside, r.ratio, r.target, r.verdict})
	}
	widths := make([]int, len(head))
	for _, c := range cells {
		for i, v := range c {
			widths[i] = max(widths[i], len([]rune(v)))
		}
	}
	line := func(c []string, sep string) {
		for i, v := range c {
			if i > 0 {
				t.WriteString(sep)
			}
			t.WriteString(v + strings.Repeat(" ", widths[i]-len([]rune(v))))
		}
		t.WriteString("\n")
	}
	for i, c := range cells {
		line(c, " | ")
		if i == 0 {
			dashes := make([]string, len(widths))
			for j, w := range widths {
				dashes[j] = strings.Repeat("-", w)
			}
			line(dashes, "-+-")
		}
	}

	var md strings.Builder
	md.WriteString("# Benchmarks\n\n")
	md.WriteString("Generated by `make bench` (`go run ./cmd/bench")
	if quick {
		md.WriteString(" -quick")
	} else if b.sz.duration != 15*time.Second {
		md.WriteString(" -duration " + b.sz.duration.String())
	}
	md.WriteString("`); do not edit by hand. ")
	if quick {
		md.WriteString("**This is a -quick smoke run: sizes are shrunk, numbers are not representative.** ")
	}
	fmt.Fprintf(&md, "One run, %s in all, against the machine's own limits measured in the same run.\n\n", took.Round(time.Second))
	md.WriteString("## Machine\n\n")
	for _, kv := range m.lines() {
		fmt.Fprintf(&md, "- %s: %s\n", kv[0], kv[1])
	}
	md.WriteString("\n## Results\n\n")
	md.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat("---|", len(head)) + "\n")
	for _, r := range b.rows {
		md.WriteString("| " + strings.Join([]string{r.scenario, r.result, r.beside, r.ratio, r.target, r.verdict}, " | ") + " |\n")
	}
	md.WriteString("\n")
	if len(b.failures) > 0 {
		md.WriteString("**Correctness FAILED:**\n\n")
		for _, f := range b.failures {
			md.WriteString("- " + f + "\n")
		}
	} else {
		md.WriteString("Correctness: every request was answered 2xx (0 errors, 0 non-2xx), every order credited exactly once and the ledger reconciles.\n")
	}
	if len(b.notes) > 0 {
		md.WriteString("\nCounts:\n\n")
		for _, n := range b.notes {
			md.WriteString("- " + n + "\n")
		}
	}
	fmt.Fprintf(&md, `
## How it is measured

- The load generator is internal/loadgen: one process, %d connections with keep-alive, each sending its next request as soon as
  the last is answered; latencies are per request, percentiles exact (nearest rank). Time-out 5 s (Shopify's). It runs on the
  same machine as the app, PostgreSQL and Redis, and takes its share of the CPUs. It runs, like the app's processes, with
  GOGC 400 unless GOGC is set.
- 1: `+"`loyalty serve`"+` alone (no worker) takes signed orders/paid deliveries of one sample order, each with a unique
  X-Shopify-Webhook-Id. The floor is a bare net/http handler in the bench process that only verifies the HMAC and enqueues the
  body with asynq to the same Redis. Each is warmed up for %s, then loaded for %s. Every acknowledged delivery is checked to be
  in the queue; the queue is then emptied.
- 2: `+"`loyalty worker`"+` is started first and left until its start-up runs of periodic jobs are done (idle for a second).
  The database limit is the ledger's core transaction (UPDATE customers SET balance ... RETURNING + INSERT INTO
  ledger_entries with a unique idempotency key, one transaction each) in a tight loop on %d connections (DATABASE_MAX_CONNS, the worker's pool),
  measured in two halves of %s, one before the orders and one after (once the worker is idle again); the limit is their mean,
  as the machine's speed drifts from minute to minute. %d orders/paid deliveries (distinct orders and customers) go through
  intake at %d connections with the worker draining (default WORKER_CONCURRENCY); orders/s = orders / (first send until the
  last is in the ledger). Paid orders of one shop that the worker runs at once are credited in shared transactions
  (jobs/accrual_batch.go).
- 3: signed /proxy/customer requests (shopify.SignProxy, fresh timestamp each) for existing customers, spread over shops and
  shoppers' addresses (X-Forwarded-For) as the app proxy forwards them, so the app's per-shop and per-client rate limits are
  not what is measured. Every shopper's widget is read once before the measured phase: it measures the steady state, where
  views come from the cache (a first view reads PostgreSQL).
- 4: lots seeded with generate_series (10 per customer, expired an hour ago), swept by app.Service.ExpirePoints with the
  worker's default options.
- 5: AccrueOrder called directly, sequentially, in a database of its own, on customers with history, with the ledger
  seeded to each size in batches of 1,000,000 rows, then vacuumed and analyzed (100 unmeasured orders first at each size).
`, connections, b.sz.warmUp, b.sz.duration, limitConns, b.sz.duration/2, b.sz.orders, connections)
	return report{table: t.String(), markdown: md.String()}
}
