// Command drill runs the reliability drills against the real binary on a
// PostgreSQL and a Redis of its own (started with scripts/services.sh in
// .data/drill on free ports, Redis with its append-only file), so it can
// kill and restart them:
//
//  1. faults: a Shopify-like sender posts signed orders/paid webhooks
//     (shuffled, some twice, retried with backoff on any failure) while the
//     worker is SIGKILLed and restarted, Redis is restarted and PostgreSQL
//     is crash-stopped and restarted; afterwards every acknowledged order
//     must be in the ledger exactly once and the ledger must reconcile.
//  2. bad input: forged, truncated, oversized and malformed deliveries and
//     stale or tampered app proxy requests get the right status and change
//     no balance.
//  3. scale-out: two serve and two worker processes on the same PostgreSQL
//     and Redis give the same result as one.
//
// It prints what was sent, acknowledged, retried, credited, lost and
// double-counted, and exits 1 when anything was lost or counted twice or a
// check failed.
//
//	go run ./cmd/drill [-orders 20000] [-rate 400] [-drills 1,2,3] [-keep]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	_ "github.com/jackc/pgx/v5/stdlib"
)

type options struct {
	orders      int
	rate        float64
	concurrency int
	workers     int
	drills      string
	dataDir     string
	pgStop      string
	redisKill   bool
	serveKill   bool
	drain       time.Duration
	keep        bool
	seed        uint64
}

func main() {
	var o options
	flag.IntVar(&o.orders, "orders", 20000, "orders in drill 1 (drill 3 sends a quarter as many)")
	flag.Float64Var(&o.rate, "rate", 400, "first delivery attempts per second (retries come on top)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "connections of the sender")
	flag.IntVar(&o.workers, "worker-concurrency", 128, "WORKER_CONCURRENCY of each worker process (the app's default)")
	flag.StringVar(&o.drills, "drills", "1,2,3", "which drills to run")
	flag.StringVar(&o.dataDir, "data", ".data/drill", "the drill's data folder (recreated), relative to the repository")
	flag.StringVar(&o.pgStop, "pg-stop", "immediate", "how PostgreSQL is stopped in drill 1: immediate (a crash) or fast")
	flag.BoolVar(&o.redisKill, "redis-kill", false, "SIGKILL Redis in drill 1 instead of SHUTDOWN (a process crash; the AOF is written before Redis answers)")
	flag.BoolVar(&o.serveKill, "serve-kill", true, "also SIGKILL and restart the web process in drill 1")
	flag.DurationVar(&o.drain, "drain-timeout", 4*time.Minute, "how long to wait for the queue to drain after sending")
	flag.BoolVar(&o.keep, "keep", false, "leave the drill's PostgreSQL and Redis running at the end")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock)")
	flag.Parse()
	if o.pgStop != "immediate" && o.pgStop != "fast" {
		fmt.Fprintln(os.Stderr, "-pg-stop must be immediate or fast")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o, os.Stdout)
	stop()
	os.Exit(code)
}

// drill holds the running stack.
type drill struct {
	opt      options
	out      io.Writer
	root     string
	svc      *services
	app      *appEnv
	db       *sql.DB
	insp     *asynq.Inspector
	logDir   string
	serves   []*proc
	workers  []*proc
	failures []string
}

func (d *drill) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.failures = append(d.failures, msg)
	fmt.Fprintln(d.out, "  FAIL:", msg)
}

func run(ctx context.Context, o options, out io.Writer) int {
	started := time.Now()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	d, err := setUp(ctx, o, out)
	if d != nil {
		defer d.tearDown()
	}
	if err != nil {
		fmt.Fprintln(out, "error:", err)
		return 1
	}
	rng := rand.New(rand.NewPCG(o.seed, 9))
	for _, which := range strings.Split(o.drills, ",") {
		if ctx.Err() != nil {
			break
		}
		var err error
		switch strings.TrimSpace(which) {
		case "1":
			err = d.faults(ctx, rng)
		case "2":
			err = d.badInput(ctx)
		case "3":
			err = d.scaleOut(ctx, rng)
		default:
			err = fmt.Errorf("unknown drill %q", which)
		}
		if err != nil {
			d.fail("drill %s: %v", which, err)
		}
	}
	fmt.Fprintf(out, "\nlogs: %s (services: %s)\ntotal time %s\n", d.logDir, filepath.Join(d.logDir, "services.log"), time.Since(started).Round(time.Second))
	if len(d.failures) > 0 {
		fmt.Fprintf(out, "DRILL FAILED (%d):\n", len(d.failures))
		for _, f := range d.failures {
			fmt.Fprintln(out, "  -", f)
		}
		return 1
	}
	fmt.Fprintln(out, "DRILL PASSED: nothing lost, nothing counted twice, every bad input refused")
	return 0
}

func setUp(ctx context.Context, o options, out io.Writer) (*drill, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dataDir := o.dataDir
	if !filepath.IsAbs(dataDir) {
		dataDir = filepath.Join(root, dataDir)
	}
	if filepath.Clean(dataDir) == filepath.Join(root, ".data") {
		return nil, errors.New("-data must not be the shared .data folder")
	}
	pgPort, err := freePort()
	if err != nil {
		return nil, err
	}
	redisPort, err := freePort()
	if err != nil {
		return nil, err
	}
	for redisPort == pgPort {
		if redisPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	svcLog := io.Discard
	svc := &services{root: root, dataDir: dataDir, pgPort: pgPort, redisPort: redisPort, log: svcLog}
	fmt.Fprintf(out, "drill: own PostgreSQL on 127.0.0.1:%d and Redis (AOF) on 127.0.0.1:%d, data in %s\n", pgPort, redisPort, dataDir)
	// A fresh start: whatever an earlier run left is stopped and removed.
	if err := svc.script("destroy"); err != nil {
		return nil, err
	}
	logDir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(logDir, "services.log"))
	if err != nil {
		return nil, err
	}
	svc.log = f
	d := &drill{opt: o, out: out, root: root, svc: svc, logDir: logDir}
	t := time.Now()
	if err := svc.script("up"); err != nil {
		return d, err
	}
	fmt.Fprintf(out, "  services up in %.1fs\n", time.Since(t).Seconds())
	t = time.Now()
	binary, err := build(ctx, root, dataDir)
	if err != nil {
		return d, err
	}
	fmt.Fprintf(out, "  built bin/loyalty in %.1fs (running a copy: %s)\n", time.Since(t).Seconds(), binary)
	if d.app, err = newAppEnv(svc, binary, logDir, o.workers); err != nil {
		return d, err
	}
	if _, err := d.app.cli("migrate", "up"); err != nil {
		return d, err
	}
	if d.db, err = sql.Open("pgx", svc.databaseURL()); err != nil {
		return d, err
	}
	d.insp = asynq.NewInspector(asynq.RedisClientOpt{Addr: svc.redisAddr()})
	for _, shop := range []string{shopFaults, shopScale, shopBad} {
		if _, err := d.app.cli("shops", "add", "--platform", "shopify", "--domain", shop, "--currency", "USD"); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (d *drill) tearDown() {
	for _, p := range append(d.serves, d.workers...) {
		if p != nil && !p.exited() {
			p.stop()
		}
	}
	if d.insp != nil {
		d.insp.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.opt.keep {
		fmt.Fprintf(d.out, "kept the drill's services running: PostgreSQL %s, Redis %s\n", d.svc.databaseURL(), d.svc.redisURL())
		return
	}
	if err := d.svc.script("down"); err != nil {
		fmt.Fprintln(d.out, "warning:", err)
	}
}

// The drills' shops: each drill checks only its own.
const (
	shopFaults = "drill-faults.myshopify.com"
	shopScale  = "drill-scale.myshopify.com"
	shopBad    = "drill-bad-input.myshopify.com"
)

// startServe starts a web process on addr, or on a free port when addr is
// empty.
func (d *drill) startServe(name, addr string) (*proc, error) {
	if addr == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	p, err := d.app.start(name, "serve", addr)
	if err == nil {
		d.serves = append(d.serves, p)
	}
	return p, err
}

// live returns the processes that still run.
func live(ps []*proc) []*proc {
	var out []*proc
	for _, p := range ps {
		if !p.exited() {
			out = append(out, p)
		}
	}
	return out
}

func (d *drill) startWorker(name string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := d.app.start(name, "worker", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		d.workers = append(d.workers, p)
	}
	return p, err
}

// fault is one disturbance of drill 1 and when it lasted.
type fault struct {
	name       string
	start, end time.Time
}

// phaseAt names the latest fault under way at t (with a little slack on
// both sides: retries land after it), or "steady running".
func phaseAt(faults []fault, t time.Time) string {
	name := "steady running"
	for _, f := range faults {
		if !t.Before(f.start.Add(-time.Second)) && !t.After(f.end.Add(5*time.Second)) {
			name = fmt.Sprintf("%s (%s–%s)", f.name, f.start.Format("15:04:05.000"), f.end.Format("15:04:05.000"))
		}
	}
	return name
}

// faults is drill 1.
func (d *drill) faults(ctx context.Context, rng *rand.Rand) error {
	fmt.Fprintf(d.out, "\n== drill 1: %d orders through a Shopify-like sender while the worker, Redis and PostgreSQL go down\n", d.opt.orders)
	serve, err := d.startServe("serve-1", "")
	if err != nil {
		return err
	}
	worker, err := d.startWorker("worker-1")
	if err != nil {
		return err
	}
	orders, deliveries, err := plan("faults", d.opt.orders, d.app.shopifySecret, 0.05, 0.01, rng)
	if err != nil {
		return err
	}
	// The faults take about half a minute one after the other: sending
	// lasts at least minSend so that all of them land while it runs.
	const minSend = 50 * time.Second
	rate := min(d.opt.rate, float64(len(deliveries))/minSend.Seconds())
	fmt.Fprintf(d.out, "  sending %d deliveries at %.0f/s\n", len(deliveries), rate)
	s := newSender([]string{"http://" + serve.addr + "/webhooks/shopify"}, shopFaults, rate, d.opt.concurrency)

	// The disturbances, each started once the sender has handed out its
	// share of first attempts, one after the other.
	type step struct {
		at   float64
		name string
		do   func() error
	}
	const outage = 2 * time.Second
	redisStop := "Redis SHUTDOWN (AOF written) and restarted"
	if d.opt.redisKill {
		redisStop = "Redis SIGKILLed and restarted"
	}
	steps := []step{
		{0.20, "worker SIGKILLed and restarted", func() error {
			worker.kill()
			time.Sleep(outage)
			w, err := d.startWorker("worker-1")
			worker = w
			return err
		}},
		{0.45, redisStop, func() error {
			if err := d.svc.stopRedis(d.opt.redisKill); err != nil {
				return err
			}
			time.Sleep(outage)
			return d.svc.script("up")
		}},
		{0.65, fmt.Sprintf("PostgreSQL stopped (-m %s) and restarted", d.opt.pgStop), func() error {
			if err := d.svc.stopPostgres(d.opt.pgStop); err != nil {
				return err
			}
			time.Sleep(outage)
			return d.svc.script("up")
		}},
	}
	if d.opt.serveKill {
		// What a deploy or a crashed web process does: requests in flight
		// fail and Shopify retries them.
		steps = append(steps, step{0.85, "serve SIGKILLed and restarted on the same port", func() error {
			serve.kill()
			time.Sleep(time.Second)
			p, err := d.startServe("serve-1", serve.addr)
			if err == nil {
				serve = p
			}
			return err
		}})
	}
	var handed atomic.Int64
	var faults []fault
	faultErr := make(chan error, 1)
	go func() {
		defer close(faultErr)
		for _, st := range steps {
			for float64(handed.Load()) < st.at*float64(len(deliveries)) {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			f := fault{name: st.name, start: time.Now()}
			err := st.do()
			f.end = time.Now()
			faults = append(faults, f)
			fmt.Fprintf(d.out, "  %s  %s (%.1fs)\n", f.start.Format("15:04:05.000"), st.name, f.end.Sub(f.start).Seconds())
			if err != nil {
				faultErr <- fmt.Errorf("%s: %w", st.name, err)
				return
			}
		}
	}()

	start := time.Now()
	s.run(ctx, deliveries, func(n int) { handed.Store(int64(n)) })
	sendTime := time.Since(start)
	if err := <-faultErr; err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  sending took %.1fs (%.0f deliveries/s)\n", sendTime.Seconds(), float64(len(deliveries))/sendTime.Seconds())
	return d.settle(ctx, shopFaults, orders, deliveries, s, faults, d.workers[len(d.workers)-1:])
}

// settle waits for the queue to drain, then checks the ledger against what
// was acknowledged and prints the counts.
func (d *drill) settle(ctx context.Context, shop string, orders []*order, deliveries []*delivery, s *sender, faults []fault, workers []*proc) error {
	id, err := shopID(ctx, d.db, shop)
	if err != nil {
		return err
	}
	ackedOrders := 0
	for _, o := range orders {
		if o.acked.Load() {
			ackedOrders++
		}
	}
	waitCredited(ctx, d.out, d.db, d.insp, id, ackedOrders, d.opt.drain)
	time.Sleep(time.Second) // a second copy of anything would land now
	l, err := readLedger(ctx, d.db, id)
	if err != nil {
		return err
	}
	v := check(orders, l)

	acked, gaveUp, byKind := 0, 0, map[string]int{}
	byOrder := map[*order][]*delivery{}
	for _, dl := range deliveries {
		byKind[dl.kind]++
		byOrder[dl.order] = append(byOrder[dl.order], dl)
		if dl.acked {
			acked++
		}
		if dl.gaveUp {
			gaveUp++
		}
	}
	for _, p := range workers {
		if p.exited() {
			d.fail("%s exited on its own (see %s)", p.name, p.log.Name())
		}
	}
	archived := archivedFor(d.insp, shop)
	fmt.Fprintf(d.out, "  sent:           %d deliveries of %d orders (%d first, %d repeated with the same id, %d under a new id), %d requests\n",
		len(deliveries), len(orders), byKind["first"], byKind["duplicate"], byKind["new id"], s.requests.Load())
	fmt.Fprintf(d.out, "  answers:        %s\n", s.statusLine())
	fmt.Fprintf(d.out, "  acknowledged:   %d deliveries (%d orders); gave up after %d retries: %d\n", acked, v.ordersAcked, s.maxRetries, gaveUp)
	fmt.Fprintf(d.out, "  retried:        %d requests\n", s.retries.Load())
	fmt.Fprintf(d.out, "  credited:       %d of %d acknowledged orders exactly once (+%d never acknowledged but credited)\n", v.credited, v.ordersAcked, v.creditedUnacked)
	fmt.Fprintf(d.out, "  lost:           %d\n", len(v.lost))
	fmt.Fprintf(d.out, "  double-counted: %d\n", len(v.doubled))
	if len(archived) > 0 {
		d.fail("%s: asynq archived %d of the shop's tasks (gave up on them): %s", shop, len(archived), strings.Join(archived[:min(10, len(archived))], ", "))
	}
	if len(v.lost) > 0 {
		d.fail("%s: %d acknowledged orders lost", shop, len(v.lost))
		explainLost(ctx, d.out, d.db, shop, v.lost, byOrder, faults, d.logDir)
	}
	for what, list := range map[string][]string{"double-counted": v.doubled, "earned the wrong points": v.wrongPoints, "balances disagree": v.balanceOff} {
		if len(list) > 0 {
			d.fail("%s: %d %s", shop, len(list), what)
			for i, x := range list {
				if i == 20 {
					fmt.Fprintf(d.out, "    … and %d more\n", len(list)-20)
					break
				}
				fmt.Fprintln(d.out, "    "+x)
			}
		}
	}
	if gaveUp > 0 {
		d.fail("%s: %d deliveries never acknowledged after %d retries", shop, gaveUp, s.maxRetries)
	}
	rec, err := d.app.cli("reconcile", "--shop", shop)
	fmt.Fprintf(d.out, "  reconcile:      %s\n", strings.TrimSpace(rec))
	if err != nil {
		d.fail("%s: reconcile: %v", shop, err)
	}
	return nil
}

// scaleOut is drill 3.
func (d *drill) scaleOut(ctx context.Context, rng *rand.Rand) error {
	n := max(1, d.opt.orders/4)
	fmt.Fprintf(d.out, "\n== drill 3: %d orders over two serve and two worker processes on one PostgreSQL and Redis\n", n)
	serves, workers := live(d.serves), live(d.workers)
	for len(serves) < 2 {
		p, err := d.startServe(fmt.Sprintf("serve-%d", len(serves)+1), "")
		if err != nil {
			return err
		}
		serves = append(serves, p)
	}
	for len(workers) < 2 {
		w, err := d.startWorker(fmt.Sprintf("worker-%d", len(workers)+1))
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}
	serves, workers = serves[:2], workers[:2]
	orders, deliveries, err := plan("scale", n, d.app.shopifySecret, 0.05, 0.01, rng)
	if err != nil {
		return err
	}
	s := newSender([]string{"http://" + serves[0].addr + "/webhooks/shopify", "http://" + serves[1].addr + "/webhooks/shopify"},
		shopScale, d.opt.rate, d.opt.concurrency)
	start := time.Now()
	s.run(ctx, deliveries, nil)
	sendTime := time.Since(start)
	fmt.Fprintf(d.out, "  sending took %.1fs (%.0f deliveries/s) over %s and %s; workers %s and %s\n", sendTime.Seconds(),
		float64(len(deliveries))/sendTime.Seconds(), serves[0].addr, serves[1].addr, workers[0].name, workers[1].name)
	return d.settle(ctx, shopScale, orders, deliveries, s, nil, workers)
}
