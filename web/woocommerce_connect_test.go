package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/woocommerce"
	"loyalty/platforms/woocommerce/woocommercetest"
	"loyalty/web"
	"loyalty/webhooks"
)

// connectRig is the app wired to a fake WooCommerce store.
type connectRig struct {
	env     *testenv.Env
	store   *woocommercetest.Store
	app     *httptest.Server
	clients jobs.WooClients
	handler *jobs.Handler
}

func newConnectRig(t *testing.T) *connectRig {
	t.Helper()
	return newConnectRigWith(t, jobs.WooTopics)
}

// newConnectRigWith is newConnectRig registering topics on connect.
func newConnectRigWith(t *testing.T, topics []string) *connectRig {
	t.Helper()
	env := testenv.New(t, nil)
	fake := woocommercetest.New(t)
	r := &connectRig{env: env, store: fake}
	mux := http.NewServeMux()
	// WooCommerce only posts keys to an https callback_url.
	r.app = httptest.NewTLSServer(mux)
	t.Cleanup(r.app.Close)
	r.clients = func(storeURL, key, secret string) *woocommerce.Client {
		return woocommerce.NewClient(storeURL, key, secret, woocommerce.ClientOptions{HTTP: fake.Client(),
			Sleep: func(context.Context, time.Duration) error { return nil }})
	}
	deliveryURL := func(key string) string { return r.app.URL + "/webhooks/woocommerce/" + key }
	reg := prometheus.NewRegistry()
	intake := webhooks.New(webhooks.Config{}, env.Service, env.Redis, env.Store, env.Log, webhooks.NewMetrics(reg))
	srv := web.New(web.Deps{Service: env.Service, Intake: intake, Registry: reg, Postgres: env.Store, Redis: pinger{env.Redis},
		MaxWebhookBody: maxBody, Log: env.Log,
		WooCommerce: &web.WooConnect{AppURL: r.app.URL, Clients: r.clients, DeliveryURL: deliveryURL, Topics: topics,
			States: web.RedisStates{Redis: env.Redis}, Now: time.Now}})
	mux.Handle("/", srv.Handler())
	r.handler = jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithWooCommerce(r.clients, deliveryURL)
	return r
}

// connect plays the merchant connecting the store and returns the page
// they end on.
func (r *connectRig) connect(t *testing.T) (int, string) {
	t.Helper()
	browser := r.store.Client()
	browser.CheckRedirect = nil // follow app → store → callback → app like a browser
	resp, err := browser.Get(r.app.URL + "/auth/woocommerce/connect?store=" + url.QueryEscape(r.store.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *connectRig) shop(t *testing.T) (app.Shop, error) {
	u, _ := url.Parse(r.store.URL)
	return r.env.Service.Shop(context.Background(), app.WooCommerce, u.Host)
}

func TestWooCommerceConnect(t *testing.T) {
	r := newConnectRig(t)
	ctx := context.Background()
	status, page := r.connect(t)
	if status != http.StatusOK || !strings.Contains(page, "is connected") || !strings.Contains(page, "Store key") {
		t.Fatalf("connect ended on %d:\n%s", status, page)
	}
	shop, err := r.shop(t)
	if err != nil || !shop.Active() {
		t.Fatalf("shop = %+v, %v", shop, err)
	}
	t.Run("the keys are checked and kept, sealed", func(t *testing.T) {
		creds, err := r.env.Service.Credentials(ctx, shop)
		if err != nil || !strings.HasPrefix(creds.APIKey, "ck_") || !strings.HasPrefix(creds.AccessToken, "cs_") || len(creds.WebhookSecret) < 32 {
			t.Fatalf("credentials: %v (key %q)", err, creds.APIKey)
		}
	})
	t.Run("webhooks are registered, active, and their pings answered", func(t *testing.T) {
		hooks := r.store.Webhooks()
		if len(hooks) != len(jobs.WooTopics) {
			t.Fatalf("%d webhooks, want %d", len(hooks), len(jobs.WooTopics))
		}
		for _, h := range hooks {
			if h.Status != "active" || h.PendingDelivery || !strings.HasPrefix(h.DeliveryURL, r.app.URL+"/webhooks/woocommerce/wc_") {
				t.Errorf("webhook %+v", h)
			}
		}
	})
	t.Run("a real delivery from the store is accepted", func(t *testing.T) {
		id := r.store.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{CustomerID: 25, Status: "processing", Total: app.MustAmount("40.00")}))
		if status, err := r.store.Deliver("order.created", id); err != nil || status != http.StatusOK {
			t.Fatalf("delivery answered %d, %v", status, err)
		}
	})
	t.Run("connecting again keeps the webhook address and creates no duplicates", func(t *testing.T) {
		before, _ := r.env.Service.Connection(ctx, shop)
		if status, page := r.connect(t); status != http.StatusOK {
			t.Fatalf("reconnect: %d\n%s", status, page)
		}
		after, _ := r.env.Service.Connection(ctx, shop)
		if after.WebhookKey != before.WebhookKey || len(r.store.Webhooks()) != len(jobs.WooTopics) {
			t.Fatalf("webhook key %s → %s, %d webhooks", before.WebhookKey, after.WebhookKey, len(r.store.Webhooks()))
		}
	})
}

func TestWooCommerceConnectFailures(t *testing.T) {
	t.Run("a merchant who denies access connects nothing", func(t *testing.T) {
		r := newConnectRig(t)
		r.store.DenyConnect(true)
		status, page := r.connect(t)
		if status != http.StatusOK || !strings.Contains(page, "was not connected") {
			t.Fatalf("%d:\n%s", status, page)
		}
		if _, err := r.shop(t); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("a store was recorded: %v", err)
		}
	})
	t.Run("keys that do not work leave nothing behind, and WooCommerce deletes them", func(t *testing.T) {
		r := newConnectRig(t)
		r.store.FailNext(1, http.StatusUnauthorized)
		status, page := r.connect(t)
		if _, err := r.shop(t); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("a store was recorded after a failed connect (%d):\n%s", status, page)
		}
		if keys := r.store.Keys(); len(keys) != 0 {
			t.Fatalf("the store kept %d keys; our non-200 answer should have made it delete them", len(keys))
		}
	})
	t.Run("webhooks made before registration failed are deleted again", func(t *testing.T) {
		// The store refuses the last topic (400 invalid topic) after
		// creating the others.
		r := newConnectRigWith(t, append(slices.Clone(jobs.WooTopics), "order.bogus"))
		r.connect(t)
		if _, err := r.shop(t); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("a store was recorded after a failed connect: %v", err)
		}
		if hooks := r.store.Webhooks(); len(hooks) != 0 {
			t.Fatalf("the store kept %d webhooks of a failed connect: %+v", len(hooks), hooks)
		}
		var deleted int
		for _, req := range r.store.Requests() {
			if req.Method == http.MethodDelete && req.Status == http.StatusOK {
				deleted++
			}
		}
		if deleted != len(jobs.WooTopics) {
			t.Fatalf("%d webhooks deleted, want the %d created", deleted, len(jobs.WooTopics))
		}
	})
	t.Run("a failed reconnect leaves the webhooks that were there alone", func(t *testing.T) {
		r := newConnectRigWith(t, append(slices.Clone(jobs.WooTopics), "order.bogus"))
		theirs := r.store.AddWebhook("order.updated", "https://elsewhere.example/hook", "s", "active")
		r.connect(t)
		if hooks := r.store.Webhooks(); len(hooks) != 1 || hooks[0].ID != theirs.ID {
			t.Fatalf("webhooks = %+v; want only the one that was there before", hooks)
		}
	})
	t.Run("a callback without a state we issued is refused", func(t *testing.T) {
		r := newConnectRig(t)
		body := `{"key_id":1,"user_id":"forged","consumer_key":"ck_x","consumer_secret":"cs_y","key_permissions":"read_write"}`
		resp, err := r.app.Client().Post(r.app.URL+"/auth/woocommerce/callback", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("a plain-http store address is refused", func(t *testing.T) {
		r := newConnectRig(t)
		resp, err := r.app.Client().Get(r.app.URL + "/auth/woocommerce/connect?store=" + url.QueryEscape("http://shop.example"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}

func TestWooCommerceReconciliationRecoversLostDeliveries(t *testing.T) {
	r := newConnectRig(t)
	ctx := context.Background()
	if status, page := r.connect(t); status != http.StatusOK {
		t.Fatalf("connect: %d\n%s", status, page)
	}
	shop, _ := r.shop(t)
	// Orders change while the app is down: WooCommerce tries each webhook
	// once and never again. Nothing is delivered here at all.
	paid := r.store.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{CustomerID: 31, Status: "processing", Total: app.MustAmount("50.00")}))
	refunded := r.store.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{CustomerID: 31, Status: "completed", Total: app.MustAmount("20.00")}))
	r.store.AddRefund(refunded, app.MustAmount("20.00"), "returned")
	r.store.SetStatus(refunded, "refunded")

	if err := r.handler.SyncWooCommerce(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c, err := r.env.Service.Balance(ctx, shop, "31")
	if err != nil || c.Balance != 50 {
		t.Fatalf("after reconciliation customer 31 has %+v, %v; want 50 (order %d earned, order %d refunded)", c.Balance, err, paid, refunded)
	}
	conn, _ := r.env.Service.Connection(ctx, shop)
	if conn.LastSyncAt.IsZero() || conn.LastSyncError != "" {
		t.Fatalf("sync progress not recorded: %+v", conn)
	}
	t.Run("a second reconciliation changes nothing", func(t *testing.T) {
		if err := r.handler.SyncWooCommerce(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if c, _ := r.env.Service.Balance(ctx, shop, "31"); c.Balance != 50 {
			t.Fatalf("balance %d after a second sync", c.Balance)
		}
		r.env.Reconciles(t)
	})
}

func TestWooCommerceDisabledWebhooksAreReactivated(t *testing.T) {
	r := newConnectRig(t)
	ctx := context.Background()
	if status, page := r.connect(t); status != http.StatusOK {
		t.Fatalf("connect: %d\n%s", status, page)
	}
	shop, _ := r.shop(t)
	conn, _ := r.env.Service.Connection(ctx, shop)
	// The app was unreachable: the store failed seven deliveries in a row
	// and disabled the webhook.
	hook := r.store.AddWebhook("order.updated", r.app.URL+"/webhooks/woocommerce/"+conn.WebhookKey, "s", "disabled")

	if err := r.handler.CheckWooWebhooks(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, h := range r.store.Webhooks() {
		if h.ID == hook.ID && h.Status != "active" {
			t.Fatalf("webhook %d is %s, want active", h.ID, h.Status)
		}
	}
	log, _ := r.env.Service.AuditLog(ctx, shop.Domain, 5)
	if len(log) == 0 || !strings.Contains(log[0].Detail, fmt.Sprintf("#%d", hook.ID)) {
		t.Fatalf("audit log = %+v; want the re-activation recorded for the merchant", log)
	}
}

func TestWooCommerceWebhookHealth(t *testing.T) {
	r := newConnectRig(t)
	ctx := context.Background()
	if status, page := r.connect(t); status != http.StatusOK {
		t.Fatalf("connect: %d\n%s", status, page)
	}
	shop, _ := r.shop(t)
	creds, _ := r.env.Service.Credentials(ctx, shop)
	hooks := r.store.Webhooks()
	deleted, paused := hooks[0], hooks[1]

	// The merchant deletes one of the app's webhooks and pauses another.
	client := r.clients(r.store.URL, creds.APIKey, creds.AccessToken)
	if err := client.DeleteWebhooks(ctx, []woocommerce.Webhook{{ID: deleted.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateWebhook(ctx, paused.ID, woocommerce.WebhookInput{Status: woocommerce.WebhookPaused}); err != nil {
		t.Fatal(err)
	}
	if err := r.handler.CheckWooWebhooks(ctx, nil); err != nil {
		t.Fatal(err)
	}
	now := r.store.Webhooks()
	t.Run("a deleted webhook is made again, signed with the store's secret", func(t *testing.T) {
		var back *woocommercetest.Webhook
		for i, h := range now {
			if h.Topic == deleted.Topic {
				back = &now[i]
			}
		}
		if back == nil || back.ID == deleted.ID || back.Status != "active" || back.Secret != creds.WebhookSecret || back.DeliveryURL != deleted.DeliveryURL {
			t.Fatalf("webhook for %s = %+v", deleted.Topic, back)
		}
		id := r.store.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{CustomerID: 25, Status: "processing", Total: app.MustAmount("40.00")}))
		if status, err := r.store.Deliver(deleted.Topic, id); err != nil || status != http.StatusOK {
			t.Fatalf("delivery through the re-created webhook answered %d, %v", status, err)
		}
	})
	t.Run("a webhook the merchant paused stays paused, and the merchant is told", func(t *testing.T) {
		for _, h := range now {
			if h.ID == paused.ID && h.Status != "paused" {
				t.Fatalf("webhook %d is %s: the merchant's pause was overridden", h.ID, h.Status)
			}
		}
		log, _ := r.env.Service.AuditLog(ctx, shop.Domain, 5)
		var alert, repaired bool
		for _, e := range log {
			alert = alert || (e.Action == "webhooks paused" && strings.Contains(e.Detail, fmt.Sprintf("#%d", paused.ID)))
			repaired = repaired || (e.Action == "check webhooks" && strings.Contains(e.Detail, "re-created") && strings.Contains(e.Detail, deleted.Topic))
		}
		if !alert || !repaired {
			t.Fatalf("audit log = %+v; want the re-creation and the paused webhook recorded", log)
		}
	})
	t.Run("a second check changes nothing", func(t *testing.T) {
		before := len(r.store.Webhooks())
		if err := r.handler.CheckWooWebhooks(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if after := r.store.Webhooks(); len(after) != before {
			t.Fatalf("%d webhooks, then %d", before, len(after))
		}
	})
}
