package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	_ "github.com/jackc/pgx/v5/stdlib"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
)

// binary is the loyalty command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loyalty-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "loyalty")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build loyalty:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running loyalty command whose output goes to the test log
// when the test fails.
type process struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func environment(env *testenv.Env, addr string) []string {
	return append(os.Environ(),
		"APP_ENV=development",
		"DATABASE_URL="+env.DSN,
		"REDIS_URL="+env.RedisURL,
		"HTTP_ADDR="+addr,
		"APP_URL=http://"+addr,
		"SHOPIFY_API_SECRET="+testenv.ShopifySecret,
		"ENCRYPTION_KEY="+apptest.TestEncryptionKey,
		"WORKER_CONCURRENCY=20",
		"LOG_LEVEL=debug",
	)
}

func start(t *testing.T, env *testenv.Env, addr string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = environment(env, addr)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("output of loyalty %s:\n%s", strings.Join(args, " "), out.String())
		}
	})
	return p
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no cleanup
		t.Fatal(err)
	}
	p.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the app at %s did not become ready", addr)
}

// eventually polls cond until it holds or the deadline passes, and returns
// how long it took. Deadlines here are generous on purpose: speed is measured
// by benchmarks, not asserted by tests.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

func balanceInPostgres(t *testing.T, db *sql.DB, customer string) int64 {
	t.Helper()
	var n int64
	err := db.QueryRow(`SELECT balance FROM customers WHERE platform_id = $1`, customer).Scan(&n)
	if err == sql.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func runCLI(t *testing.T, env *testenv.Env, addr string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = environment(env, addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("loyalty %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestEndToEndSignedOrderBecomesPoints(t *testing.T) {
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	start(t, env, addr, "all")
	waitReady(t, addr)
	db := env.Store.SQL()

	// The real sample order, signed as Shopify signs it.
	body := testenv.Fixture(t, "shopify/orders_paid.json")
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/shopify", bytes.NewReader(body))
	req.Header.Set("X-Shopify-Topic", "orders/paid")
	req.Header.Set("X-Shopify-Shop-Domain", testenv.ShopDomain)
	req.Header.Set("X-Shopify-Webhook-Id", "e2e-1")
	req.Header.Set("X-Shopify-Hmac-Sha256", shopify.Sign(body, testenv.ShopifySecret))
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answered := time.Since(sent)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	took := eventually(t, 10*time.Second, "points in PostgreSQL", func() bool {
		return balanceInPostgres(t, db, "115310627314723954") == 414
	})
	t.Logf("webhook answered in %s; points visible in PostgreSQL %s after sending", answered, took+answered)

	t.Run("simulate and points show work against the running app", func(t *testing.T) {
		out := runCLI(t, env, addr, "simulate", "orders/paid", "--shop", testenv.ShopDomain, "--customer", "7770001", "--amount", "120.50")
		if !strings.Contains(out, "200 OK") {
			t.Fatalf("simulate said:\n%s", out)
		}
		eventually(t, 10*time.Second, "simulated points", func() bool { return balanceInPostgres(t, db, "7770001") == 120 })
		out = runCLI(t, env, addr, "points", "show", "--shop", testenv.ShopDomain, "--customer", "7770001")
		if !strings.Contains(out, "balance: 120 points") {
			t.Fatalf("points show said:\n%s", out)
		}
		out = runCLI(t, env, addr, "points", "adjust", "--shop", testenv.ShopDomain, "--customer", "7770001", "--points", "-20", "--reason", "duplicate order", "--by", "support@acme.test")
		if !strings.Contains(out, "balance now 100") {
			t.Fatalf("points adjust said:\n%s", out)
		}
		out = runCLI(t, env, addr, "points", "history", "--shop", testenv.ShopDomain, "--customer", "7770001")
		if !strings.Contains(out, "by support@acme.test, “duplicate order”") {
			t.Fatalf("points history said:\n%s", out)
		}
		out = runCLI(t, env, addr, "points", "birthday", "--shop", testenv.ShopDomain, "--customer", "7770001", "--set", "05-17", "--by", "support@acme.test", "--reason", "told us by phone")
		if !strings.Contains(out, "birthday 05-17") {
			t.Fatalf("points birthday said:\n%s", out)
		}
		if out := runCLI(t, env, addr, "points", "show", "--shop", testenv.ShopDomain, "--customer", "7770001"); !strings.Contains(out, "birthday: 05-17") {
			t.Fatalf("points show said:\n%s", out)
		}
		if out := runCLI(t, env, addr, "reconcile"); !strings.Contains(out, "every balance matches its ledger") {
			t.Fatalf("reconcile said:\n%s", out)
		}
	})
	t.Run("adjusting without a reason is refused with a clear message", func(t *testing.T) {
		cmd := exec.Command(binary, "points", "adjust", "--shop", testenv.ShopDomain, "--customer", "7770001", "--points", "5", "--by", "anna")
		cmd.Env = environment(env, addr)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "an adjustment needs a reason") {
			t.Fatalf("err = %v, output:\n%s", err, out)
		}
	})
}

func TestWorkerKilledMidTaskLosesNothingAndCountsNothingTwice(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	const customer = "4242"
	if _, err := env.Service.WelcomeCustomer(ctx, env.Shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: customer}}); err != nil {
		t.Fatal(err)
	}
	db := env.Store.SQL()

	// Hold the customer's row lock, so every task that gets to the ledger
	// waits inside its transaction: the worker is provably mid-task.
	hold, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(`SELECT 1 FROM customers WHERE platform_id = $1 FOR UPDATE`, customer); err != nil {
		t.Fatal(err)
	}

	worker := start(t, env, freeAddr(t), "worker")
	client := asynq.NewClientFromRedisClient(env.Redis)
	const orders = 40
	for i := 0; i < orders; i++ {
		body, err := shopify.SamplePayload("orders/paid", shopify.SampleOptions{OrderID: fmt.Sprint(9000 + i), CustomerID: customer, Amount: app.MustAmount("10.00")})
		if err != nil {
			t.Fatal(err)
		}
		task, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: "orders/paid",
			DeliveryID: fmt.Sprint("kill-", i), ReceivedAt: time.Now(), Body: body})
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	inspector := asynq.NewInspectorFromRedisClient(env.Redis)
	eventually(t, 30*time.Second, "tasks in the worker's hands and its transactions waiting on the ledger lock", func() bool {
		// Paid orders share transactions, so a few transactions hold
		// many tasks: count both.
		var waiting int
		db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		q, err := inspector.GetQueueInfo(jobs.QueueCritical)
		return err == nil && waiting >= 1 && q.Active >= 10
	})
	worker.kill(t)
	hold.Rollback()
	if got := balanceInPostgres(t, db, customer); got != 0 {
		t.Fatalf("balance after the kill = %d: a killed transaction committed", got)
	}

	// A new worker finishes the queue, and asynq hands it the tasks the dead
	// worker held once their lease runs out.
	workerAddr := freeAddr(t)
	start(t, env, workerAddr, "worker")
	took := eventually(t, 3*time.Minute, "every order credited", func() bool {
		return balanceInPostgres(t, db, customer) >= orders*10
	})
	t.Logf("all %d orders credited %s after the restart", orders, took)
	time.Sleep(500 * time.Millisecond) // any double count would land now
	if got := balanceInPostgres(t, db, customer); got != orders*10 {
		t.Fatalf("balance = %d, want exactly %d", got, orders*10)
	}
	var entries int
	db.QueryRow(`SELECT count(*) FROM ledger_entries WHERE kind = 'earn'`).Scan(&entries)
	if entries != orders {
		t.Fatalf("%d earn entries, want %d", entries, orders)
	}
	env.Reconciles(t)

	// The worker process reports its own job outcomes.
	resp, err := http.Get("http://" + workerAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `loyalty_jobs_total{outcome="processed",type="loyalty:accrue"}`) {
		t.Fatalf("worker metrics lack job outcomes:\n%.2000s", metrics)
	}
}

func TestShopsAndDeliveriesCommands(t *testing.T) {
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	out := runCLI(t, env, addr, "shops", "add", "--platform", "shopify", "--domain", "Polski-Sklep.myshopify.com",
		"--name", "Polski Sklep", "--currency", "pln", "--earn-rate", "0.5", "--signup-bonus", "25", "--pending-days", "14")
	for _, want := range []string{"polski-sklep.myshopify.com (Polski Sklep)", "currency:     PLN", "0.5 point(s) per 1 PLN", "signup bonus 25, pending 14 days"} {
		if !strings.Contains(out, want) {
			t.Errorf("shops add output lacks %q:\n%s", want, out)
		}
	}
	cmd := exec.Command(binary, "shops", "add", "--domain", "polski-sklep.myshopify.com")
	cmd.Env = environment(env, addr)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already registered") {
		t.Errorf("a second add without --if-missing: err = %v, output:\n%s", err, out)
	}
	runCLI(t, env, addr, "shops", "add", "--domain", "polski-sklep.myshopify.com", "--if-missing")
	if out := runCLI(t, env, addr, "shops", "list"); !strings.Contains(out, "polski-sklep.myshopify.com") || !strings.Contains(out, "http://"+addr+"/webhooks/shopify") {
		t.Errorf("shops list:\n%s", out)
	}
	if out := runCLI(t, env, addr, "shops", "show", "--shop", testenv.ShopDomain); !strings.Contains(out, "status:       active") {
		t.Errorf("shops show:\n%s", out)
	}

	// A malformed delivery is visible to support with its error and payload.
	err := env.Store.RecordDelivery(context.Background(), app.WebhookDelivery{Platform: app.Shopify, ShopDomain: testenv.ShopDomain,
		DeliveryID: "broken-1", Topic: "orders/paid", Status: app.DeliveryFailed, Detail: "malformed payload: order id missing",
		Payload: []byte(`{"customer":{}}`), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	out = runCLI(t, env, addr, "deliveries", "list", "--shop", testenv.ShopDomain, "--status", "failed", "--payload")
	for _, want := range []string{"broken-1", "failed", "order id missing", `{"customer":{}}`} {
		if !strings.Contains(out, want) {
			t.Errorf("deliveries list lacks %q:\n%s", want, out)
		}
	}
}

func TestPrivacyExportCommands(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	addr := freeAddr(t)
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "299938", Customer: &app.CustomerRef{PlatformID: "191167", Email: "john@example.com"}, Subtotal: app.MustAmount("25.00")}); err != nil {
		t.Fatal(err)
	}
	export, err := env.Service.ExportCustomerData(ctx, env.Shop, app.DataRequest{CustomerID: "191167", Email: "john@example.com", RequestID: "9999"})
	if err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, env, addr, "privacy", "exports", "--shop", testenv.ShopDomain)
	if !strings.Contains(out, "191167") || !strings.Contains(out, "9999") {
		t.Fatalf("privacy exports:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	runCLI(t, env, addr, "privacy", "export", "--shop", testenv.ShopDomain, "--id", fmt.Sprint(export.ID), "--out", file, "--delivered")
	doc, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(doc), "john@example.com") || !strings.Contains(string(doc), "299938") {
		t.Fatalf("export file: %v\n%s", err, doc)
	}
	if out := runCLI(t, env, addr, "privacy", "exports", "--shop", testenv.ShopDomain); !strings.Contains(out, "delivered") {
		t.Fatalf("the export is not marked delivered:\n%s", out)
	}
}

func TestWooCommerceManualSetup(t *testing.T) {
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	out := runCLI(t, env, addr, "shops", "add", "--platform", "woocommerce", "--url", "https://Sklep.Example.pl/", "--currency", "PLN",
		"--consumer-key", "ck_123", "--consumer-secret", "cs_456", "--earn-statuses", "completed")
	for _, want := range []string{"woocommerce sklep.example.pl", "webhook URL:  http://" + addr + "/webhooks/woocommerce/wc_",
		"earns at:     completed", "REST keys:    true", "webhook secret: "} {
		if !strings.Contains(out, want) {
			t.Errorf("shops add output lacks %q:\n%s", want, out)
		}
	}
	if out := runCLI(t, env, addr, "shops", "list"); !strings.Contains(out, "/webhooks/woocommerce/wc_") {
		t.Errorf("shops list does not show the store's webhook path:\n%s", out)
	}
	cmd := exec.Command(binary, "shops", "add", "--platform", "woocommerce", "--url", "https://x.example", "--consumer-key", "ck_only")
	cmd.Env = environment(env, addr)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "go together") {
		t.Errorf("a key without its secret: err %v\n%s", err, out)
	}
}

func TestEndToEndWooCommerceOrderBecomesPoints(t *testing.T) {
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	runCLI(t, env, addr, "shops", "add", "--platform", "woocommerce", "--url", "https://sklep.example.pl", "--currency", "PLN")
	start(t, env, addr, "all")
	waitReady(t, addr)
	db := env.Store.SQL()

	woo := func(args ...string) string {
		return runCLI(t, env, addr, append([]string{"simulate"}, append(args, "--platform", "woocommerce", "--shop", "sklep.example.pl")...)...)
	}
	if out := woo("order.created", "--order", "501", "--customer", "77", "--amount", "80.00", "--status", "processing"); !strings.Contains(out, "200 OK") {
		t.Fatalf("simulate said:\n%s", out)
	}
	eventually(t, 10*time.Second, "points for the WooCommerce order", func() bool { return balanceInPostgres(t, db, "77") > 0 })
	earned := balanceInPostgres(t, db, "77")

	// The same order cancelled: everything it earned goes back.
	woo("order.updated", "--order", "501", "--customer", "77", "--amount", "80.00", "--status", "cancelled")
	eventually(t, 10*time.Second, "the cancellation", func() bool { return balanceInPostgres(t, db, "77") == 0 })
	t.Logf("order 501 earned %d points, then gave them back when cancelled", earned)
}

func TestShopsConfigure(t *testing.T) {
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	out := runCLI(t, env, addr, "shops", "configure", "--shop", testenv.ShopDomain, "--by", "anna@acme.test",
		"--earn-rate", "2.5", "--signup-bonus", "40", "--expiry-days", "365")
	if !strings.Contains(out, "2.5 point(s) per 1 USD") || !strings.Contains(out, "signup bonus 40") || !strings.Contains(out, "after 365 days") {
		t.Fatalf("configure output:\n%s", out)
	}
	if out := runCLI(t, env, addr, "audit", "--shop", testenv.ShopDomain); !strings.Contains(out, "anna@acme.test") || !strings.Contains(out, "earn-rate=2.5") {
		t.Fatalf("the change is not in the audit log:\n%s", out)
	}
	out = runCLI(t, env, addr, "shops", "configure", "--shop", testenv.ShopDomain, "--by", "anna@acme.test", "--expiry-days", "0",
		"--inactivity-months", "18", "--warn-days", "30,7", "--birthday-bonus", "100", "--anniversary-bonus", "50",
		"--messages", "welcome,expiring", "--widget-color", "#AA3355", "--widget-position", "bottom-left", "--timezone", "Europe/Warsaw")
	for _, want := range []string{"time zone:    Europe/Warsaw", "birthday bonus 100, anniversary bonus 50, inactivity expiry after 18 months, warnings [30 7] days ahead",
		"messages:     welcome, expiring", "colour #aa3355, launcher bottom-left"} {
		if !strings.Contains(out, want) {
			t.Fatalf("configure output lacks %q:\n%s", want, out)
		}
	}
	cmd := exec.Command(binary, "shops", "configure", "--shop", testenv.ShopDomain, "--by", "anna", "--rounding", "banker")
	cmd.Env = environment(env, addr)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "rounding must be") {
		t.Fatalf("an invalid rounding: err %v\n%s", err, out)
	}

	runCLI(t, env, addr, "shops", "add", "--platform", "woocommerce", "--url", "https://sklep.example.pl")
	out = runCLI(t, env, addr, "shops", "configure", "--platform", "woocommerce", "--shop", "sklep.example.pl", "--by", "anna", "--earn-statuses", "wc-completed")
	if !strings.Contains(out, "earns at:     completed") {
		t.Fatalf("configure output:\n%s", out)
	}
	cmd = exec.Command(binary, "shops", "configure", "--platform", "woocommerce", "--shop", "sklep.example.pl", "--by", "anna", "--earn-statuses", "pending")
	cmd.Env = environment(env, addr)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not paid") {
		t.Fatalf("earning at pending: err %v\n%s", err, out)
	}
}

func TestRewardsAndRedeemCommands(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	addr := freeAddr(t)
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "c1"}, Subtotal: app.MustAmount("800")}); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, env, addr, "rewards", "add", "--shop", testenv.ShopDomain, "--name", "5.00 off", "--points", "500", "--amount", "5.00", "--expiry-days", "30")
	if !strings.Contains(out, "500 points → 5.00 USD off, code valid 30 days") {
		t.Fatalf("rewards add:\n%s", out)
	}
	runCLI(t, env, addr, "rewards", "add", "--shop", testenv.ShopDomain, "--name", "Any amount", "--kind", "variable_amount", "--points-per-unit", "100", "--min-points", "100")
	if out := runCLI(t, env, addr, "rewards", "list", "--shop", testenv.ShopDomain); !strings.Contains(out, "100 points per 1.00 USD off, spend 100 or more") {
		t.Fatalf("rewards list:\n%s", out)
	}
	rewards, _ := env.Service.Rewards(ctx, env.Shop)
	var variable int64
	for _, r := range rewards {
		if r.Kind == app.RewardVariable {
			variable = r.ID
		}
	}
	out = runCLI(t, env, addr, "points", "redeem", "--shop", testenv.ShopDomain, "--customer", "c1", "--reward", fmt.Sprint(variable), "--points", "250", "--by", "support@acme.test")
	if !regexp.MustCompile(`redeemed 250 points for Any amount: code LOY-\S+ \(pending\)`).MatchString(out) {
		t.Fatalf("points redeem:\n%s", out)
	}
	if got := balanceInPostgres(t, env.Store.SQL(), "c1"); got != 550 {
		t.Fatalf("balance = %d, want 550", got)
	}
}

// The servers collect garbage less often than Go's default, unless GOGC
// says otherwise.
func TestServersCollectGarbageLessOftenUnlessGOGCSays(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	tests := []struct {
		gogc string
		want int
	}{
		{"", serverGCPercent},
		{"100", 100},
		{"off", 100}, // the runtime read GOGC at start; the app leaves it be
	}
	for _, tt := range tests {
		t.Run("GOGC="+tt.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc)
			debug.SetGCPercent(100)
			collectGarbageLessOften()
			if got := debug.SetGCPercent(100); got != tt.want {
				t.Fatalf("GC percent %d, want %d", got, tt.want)
			}
		})
	}
}
