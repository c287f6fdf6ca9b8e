package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
)

// The customer of the sample order.
const lifecycleCustomer = "115310627314723954"

// deliver posts a signed Shopify delivery that Shopify triggered at the
// given time, as the lifecycle rules depend on it.
func (h *harness) deliver(t *testing.T, shop, topic, id string, body []byte, triggered time.Time) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.server.URL+"/webhooks/shopify", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Shop-Domain", shop)
	req.Header.Set("X-Shopify-Webhook-Id", id)
	req.Header.Set("X-Shopify-Api-Version", shopify.APIVersion)
	req.Header.Set("X-Shopify-Triggered-At", triggered.UTC().Format(time.RFC3339Nano))
	req.Header.Set("X-Shopify-Hmac-Sha256", shopify.Sign(body, testenv.ShopifySecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d %q, want 200", topic, id, resp.StatusCode, answer)
	}
}

// task returns the queued task of a delivery, or nil.
func (h *harness) task(t *testing.T, shop, id string) *asynq.TaskInfo {
	t.Helper()
	for _, q := range []string{jobs.QueueCritical, jobs.QueueDefault} {
		for _, task := range h.queued(t, q) {
			if task.ID == jobs.TaskID(app.Shopify, shop, id) {
				return task
			}
		}
	}
	return nil
}

func install(t *testing.T, env *testenv.Env, domain, token string) app.Shop {
	t.Helper()
	shop, _, err := env.Service.InstallShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: domain, Currency: "USD"},
		app.Credentials{AccessToken: token, Scopes: []string{"read_orders", "read_customers"}})
	if err != nil {
		t.Fatal(err)
	}
	return shop
}

func TestWebhooksRightAfterAnInstallAreQueued(t *testing.T) {
	order := testenv.Fixture(t, "shopify/orders_paid.json")

	t.Run("the first webhook after a first install is not dropped", func(t *testing.T) {
		env := testenv.New(t, nil)
		h := newHarness(t, env, nil)
		const fresh = "fresh.myshopify.com"
		// A delivery that raced ahead of the install is dropped: the shop
		// is not known yet.
		h.deliver(t, fresh, "orders/paid", "before-install", order, time.Now())
		if h.task(t, fresh, "before-install") != nil {
			t.Fatal("a delivery for a shop that is not installed was queued")
		}
		install(t, env, fresh, "shpat_first")
		h.deliver(t, fresh, "orders/paid", "after-install", order, time.Now())
		if h.task(t, fresh, "after-install") == nil {
			t.Fatal("the first order after the install was dropped")
		}
	})

	t.Run("a reinstalled shop's orders are queued immediately after the reinstall", func(t *testing.T) {
		env := testenv.New(t, nil)
		h := newHarness(t, env, nil)
		if err := env.Service.Uninstall(context.Background(), env.Shop); err != nil {
			t.Fatal(err)
		}
		h.deliver(t, testenv.ShopDomain, "orders/paid", "while-uninstalled", order, time.Now())
		if h.task(t, testenv.ShopDomain, "while-uninstalled") != nil {
			t.Fatal("an order of an uninstalled shop was queued")
		}
		install(t, env, testenv.ShopDomain, "shpat_back")
		h.deliver(t, testenv.ShopDomain, "orders/paid", "after-reinstall", order, time.Now())
		if task := h.task(t, testenv.ShopDomain, "after-reinstall"); task == nil || task.Type != jobs.TypeAccrue {
			t.Fatalf("the first order after the reinstall = %+v, want an accrue task", task)
		}
	})
}

func TestAppUninstalledStopsEarningWhenAcknowledged(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	order := testenv.Fixture(t, "shopify/orders_paid.json")
	uninstalled := testenv.Fixture(t, "shopify/app_uninstalled.json")
	// Two app servers: the second has seen the shop active a moment ago
	// and still holds it in its cache.
	h, other := newHarness(t, env, nil), newHarness(t, env, nil)
	other.deliver(t, testenv.ShopDomain, "customers/create", "warm-up", testenv.Fixture(t, "shopify/customers_create.json"), time.Now())

	uninstalledAt := time.Now()
	h.deliver(t, testenv.ShopDomain, "app/uninstalled", "uninstall", uninstalled, uninstalledAt)

	t.Run("the shop is uninstalled before any worker runs", func(t *testing.T) {
		shop, err := env.Service.Shop(ctx, app.Shopify, testenv.ShopDomain)
		if err != nil || shop.Active() {
			t.Fatalf("shop = %+v, %v; want uninstalled", shop, err)
		}
		if h.task(t, testenv.ShopDomain, "uninstall") == nil {
			t.Fatal("the uninstall was not queued for the worker to complete")
		}
	})

	t.Run("an order paid right after earns nothing", func(t *testing.T) {
		h.deliver(t, testenv.ShopDomain, "orders/paid", "paid-after-uninstall", order, time.Now())
		if h.task(t, testenv.ShopDomain, "paid-after-uninstall") != nil {
			t.Fatal("the server that took the uninstall queued the next order")
		}
		// The other server may still take it; the worker then credits nothing.
		other.deliver(t, testenv.ShopDomain, "orders/paid", "paid-elsewhere", order, time.Now())
		task := other.task(t, testenv.ShopDomain, "paid-elsewhere")
		if task == nil {
			t.Fatal("the other server dropped the order: this test no longer reaches the worker")
		}
		worker := jobs.NewHandler(env.Service, env.Store, env.Log, nil)
		if err := worker.ProcessWebhook(ctx, asynq.NewTask(task.Type, task.Payload)); err != nil {
			t.Fatal(err)
		}
		c, err := env.Service.Balance(ctx, env.Shop, lifecycleCustomer)
		if app.ErrorCode(err) != app.ENotFound && (err != nil || c.Balance != 0) {
			t.Fatalf("balance = %+v, %v after the uninstall; want nothing earned", c, err)
		}
	})

	t.Run("completing the uninstall forgets the access and audits it once", func(t *testing.T) {
		shop, _ := env.Service.Shop(ctx, app.Shopify, testenv.ShopDomain)
		if err := env.Service.SaveCredentials(ctx, app.Credentials{ShopID: shop.ID, AccessToken: "shpat_revoked"}); err != nil {
			t.Fatal(err)
		}
		for i, want := range []app.Skipped{app.SkipNone, app.SkipDuplicate} {
			out, err := env.Service.CompleteUninstall(ctx, shop, uninstalledAt)
			if err != nil || out.Skipped != want {
				t.Fatalf("completion %d = %+v, %v; want skipped %q", i+1, out, err, want)
			}
		}
		if _, err := env.Service.Credentials(ctx, shop); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("credentials after the uninstall: %v, want none", err)
		}
		log, _ := env.Service.AuditLog(ctx, testenv.ShopDomain, 10)
		if n := countActions(log, "uninstall"); n != 1 {
			t.Fatalf("%d uninstall lines in the audit log, want 1: %+v", n, log)
		}
	})

	t.Run("a reinstall after the uninstall wins over its late task and a retried delivery", func(t *testing.T) {
		install(t, env, testenv.ShopDomain, "shpat_new")
		// Shopify retries the same delivery, with the same trigger time.
		h.deliver(t, testenv.ShopDomain, "app/uninstalled", "uninstall", uninstalled, uninstalledAt)
		shop, err := env.Service.Shop(ctx, app.Shopify, testenv.ShopDomain)
		if err != nil || !shop.Active() {
			t.Fatalf("after a retried uninstall shop = %+v, %v; want the reinstall to stand", shop, err)
		}
		out, err := env.Service.CompleteUninstall(ctx, shop, uninstalledAt)
		if err != nil || out.Skipped != app.SkipReinstalled {
			t.Fatalf("the late uninstall task = %+v, %v; want it skipped", out, err)
		}
		creds, err := env.Service.Credentials(ctx, shop)
		if err != nil || creds.AccessToken != "shpat_new" {
			t.Fatalf("credentials = %+v, %v; want the reinstall's", creds, err)
		}
		h.deliver(t, testenv.ShopDomain, "orders/paid", "paid-after-reinstall", order, time.Now())
		if h.task(t, testenv.ShopDomain, "paid-after-reinstall") == nil {
			t.Fatal("the reinstalled shop's order was dropped")
		}
	})
}

func countActions(log []app.AuditEntry, action string) int {
	n := 0
	for _, e := range log {
		if e.Action == action {
			n++
		}
	}
	return n
}
