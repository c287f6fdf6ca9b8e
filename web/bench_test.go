package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// BenchmarkShopifyIntake measures the whole intake of a signed orders/paid
// delivery through the HTTP handler: verify, shop lookup, dedupe, enqueue.
func BenchmarkShopifyIntake(b *testing.B) {
	env := testenv.New(b, nil)
	h := newBenchHarness(b, env)
	body := testenv.Fixture(b, "shopify/orders_paid.json")
	signature := shopify.Sign(body, testenv.ShopifySecret)
	var seq atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/shopify", bytes.NewReader(body))
			req.Header.Set("X-Shopify-Topic", "orders/paid")
			req.Header.Set("X-Shopify-Shop-Domain", testenv.ShopDomain)
			req.Header.Set("X-Shopify-Webhook-Id", "bench-"+strconv.FormatInt(seq.Add(1), 10))
			req.Header.Set("X-Shopify-Hmac-Sha256", signature)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkIntakeFloor is the least any intake must do: verify the HMAC and
// enqueue to Redis. Intake's cost above this is its own overhead.
func BenchmarkIntakeFloor(b *testing.B) {
	env := testenv.New(b, nil)
	client := asynq.NewClientFromRedisClient(env.Redis)
	body := testenv.Fixture(b, "shopify/orders_paid.json")
	signature := shopify.Sign(body, testenv.ShopifySecret)
	var seq atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := shopify.Verify(body, signature, testenv.ShopifySecret); err != nil {
				b.Fatal(err)
			}
			task, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: "orders/paid",
				DeliveryID: "floor-" + strconv.FormatInt(seq.Add(1), 10), ReceivedAt: time.Now(), Body: body})
			if _, err := client.EnqueueContext(context.Background(), task); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newBenchHarness(b *testing.B, env *testenv.Env) http.Handler {
	h := newHarness(b, env, nil)
	return h.server.Config.Handler
}

// BenchmarkWooCommerceIntake is BenchmarkShopifyIntake for a WooCommerce
// store: its secret is looked up per store (cached), and order deliveries
// are deduplicated by the order's state.
func BenchmarkWooCommerceIntake(b *testing.B) {
	env := testenv.New(b, nil)
	_, _, err := env.Service.ConnectStore(context.Background(), app.Shop{Platform: app.WooCommerce, Domain: "bench.example"},
		app.Connection{URL: "https://bench.example", WebhookKey: "wc_benchbenchbench1"}, app.Credentials{WebhookSecret: "wc-test-secret"})
	if err != nil {
		b.Fatal(err)
	}
	h := newBenchHarness(b, env)
	var seq atomic.Int64
	// Every delivery is a new order: the template's id is swapped for a
	// fresh one of the same width, and the body signed as the store would.
	template := woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 900000000, CustomerID: 25, Status: "processing", Modified: time.Now()})
	b.SetBytes(int64(len(template)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := bytes.ReplaceAll(template, []byte("900000000"), []byte(strconv.FormatInt(100000000+n, 10)))
			signature := woocommerce.Sign(body, "wc-test-secret")
			req := httptest.NewRequest(http.MethodPost, "/webhooks/woocommerce/wc_benchbenchbench1", bytes.NewReader(body))
			req.Header.Set("X-WC-Webhook-Topic", "order.created")
			req.Header.Set("X-WC-Webhook-Resource", "order")
			req.Header.Set("X-WC-Webhook-Event", "created")
			req.Header.Set("X-WC-Webhook-Delivery-ID", strconv.FormatInt(n, 10))
			req.Header.Set("X-WC-Webhook-Signature", signature)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
