package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/redis/go-redis/v9"
	"loyalty/app"
	"loyalty/internal/loadgen"

	"loyalty/platforms/shopify"
)

// sizes are what a run measures: the full run, or -quick's smoke run.
type sizes struct {
	duration      time.Duration // each load phase
	warmUp        time.Duration
	orders        int // end-to-end orders
	widgetShops   int
	widgetPerShop int
	lots          int
	growth        []int // ledger rows present before each growth measurement
	growthOrders  int
	growthPeople  int
}

// bench holds the run's state and findings.
type bench struct {
	s        *stack
	sz       sizes
	svc      *app.Service
	failures []string // correctness conditions that did not hold
	misses   []string // speed targets missed
	rows     []row
	notes    []string
	serve    *proc
	only     string // scenarios to run (comma-separated); empty: all
}

// row is one line of the results table.
type row struct {
	scenario, result, beside, ratio, target, verdict string
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.failures = append(b.failures, msg)
	fmt.Println("FAIL: " + msg)
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.notes = append(b.notes, msg)
	fmt.Println("    " + msg)
}

// verdict is "ok" or "target missed", and records a miss.
func (b *bench) verdict(met bool, what string) string {
	if met {
		return "ok"
	}
	b.misses = append(b.misses, what)
	fmt.Println("target missed: " + what)
	return "target missed"
}

// checkLoad records a correctness failure when a load phase had errors or
// non-2xx answers.
func (b *bench) checkLoad(what string, r loadgen.Result) {
	fmt.Printf("    %s: %s\n", what, r)
	if !r.Clean() {
		b.fail("%s: %d errors, %d non-2xx of %d requests (statuses %v; first: %s)", what, r.Errors, r.Failed, r.Requests, r.Statuses, r.FirstError)
	}
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func pct(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

// addShop registers a Shopify shop through the service.
func (b *bench) addShop(ctx context.Context, domain string, edit func(*app.Program)) (app.Shop, error) {
	prog := app.DefaultProgram(0)
	if edit != nil {
		edit(&prog)
	}
	return b.svc.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: domain, Currency: "USD", Name: domain}, &prog)
}

// intake is scenario 1: signed orders/paid deliveries per second through
// `loyalty serve` (no worker running), beside the floor handler in the
// bench process on the same Redis database.
func (b *bench) intake(ctx context.Context) error {
	step("1. webhook intake: %d connections, %s each for the floor and the app", connections, b.sz.duration)
	const shop = "bench-intake.myshopify.com"
	if _, err := b.addShop(ctx, shop, nil); err != nil {
		return err
	}
	body, err := shopify.SamplePayload(shopify.TopicOrdersPaid, shopify.SampleOptions{OrderID: "820982911946154508",
		CustomerID: "115310627314723954", At: time.Now()})
	if err != nil {
		return err
	}
	signature := shopify.Sign(body, shopifySecret)

	// The floor: same Redis database, its own port, this process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	queue := asynq.NewClientFromRedisClient(b.s.redis)
	floorSrv := &http.Server{Handler: floorHandler(queue), ReadHeaderTimeout: 5 * time.Second}
	go floorSrv.Serve(ln)
	defer floorSrv.Close()

	var accepted int64
	load := func(base, prefix string) loadgen.Result {
		client := loadgen.NewClient(connections)
		build := func(ctx context.Context, _ int, seq int64) (*http.Request, error) {
			return webhookRequest(ctx, base, shop, prefix+strconv.FormatInt(seq, 36), signature, body)
		}
		warm := warmUp(ctx, client, b.sz.warmUp, func(ctx context.Context, w int, seq int64) (*http.Request, error) {
			return build(ctx, w, seq+1<<40)
		})
		b.checkLoad(prefix+"warm-up", warm)
		r := loadgen.Run(ctx, loadgen.Config{Concurrency: connections, Duration: b.sz.duration, Client: client}, build)
		accepted += warm.OKCount() + r.OKCount()
		return r
	}
	floor := load("http://"+ln.Addr().String()+"/webhooks/shopify", "floor-")
	b.checkLoad("floor", floor)
	app := load("http://"+b.serve.addr+"/webhooks/shopify", "intake-")
	b.checkLoad("intake", app)

	// Every acknowledged delivery must be in the queue: nothing lost.
	queued, err := queuedTasks(b.s.redis)
	if err != nil {
		return err
	}
	fmt.Printf("    queued: %d tasks for %d acknowledged deliveries (floor and intake, warm-ups included)\n", queued, accepted)
	if queued != int64(accepted) {
		b.fail("intake: %d deliveries acknowledged but %d tasks queued", accepted, queued)
	}

	ratio := app.Rate() / floor.Rate()
	p99 := app.Percentile(0.99)
	b.rows = append(b.rows, row{
		scenario: "1. Webhook intake (orders/paid, 64 conns)",
		result:   fmt.Sprintf("%s/s, p50 %s, p99 %s", rate(app.Rate()), ms(app.Percentile(0.5)), ms(p99)),
		beside:   fmt.Sprintf("floor %s/s, p50 %s, p99 %s", rate(floor.Rate()), ms(floor.Percentile(0.5)), ms(floor.Percentile(0.99))),
		ratio:    pct(app.Rate(), floor.Rate()),
		target:   ">= 70% of floor, p99 < 50 ms",
		verdict: b.verdict(ratio >= 0.70 && p99 < 50*time.Millisecond,
			fmt.Sprintf("intake %s/s is %s of the floor's %s/s (target 70%%), p99 %s (target < 50 ms)", rate(app.Rate()), pct(app.Rate(), floor.Rate()), rate(floor.Rate()), ms(p99))),
	})
	b.note("intake: %d requests, %d errors, %d non-2xx; floor: %d requests, %d errors, %d non-2xx",
		app.Requests, app.Errors, app.Failed, floor.Requests, floor.Errors, floor.Failed)
	// Nothing of this phase may reach the ledger later: a fresh queue.
	return b.s.redis.FlushDB(ctx).Err()
}

// queuedTasks is how many tasks the queues of rdb hold, whatever their state.
func queuedTasks(rdb *redis.Client) (int64, error) {
	in := asynq.NewInspectorFromRedisClient(rdb)
	queues, err := in.Queues()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, q := range queues {
		info, err := in.GetQueueInfo(q)
		if err != nil {
			return 0, err
		}
		n += int64(info.Size)
	}
	return n, nil
}
