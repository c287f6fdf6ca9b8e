package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
)

type worker struct {
	env *testenv.Env
	h   *jobs.Handler
}

func newWorker(t *testing.T, edit func(*app.Program)) *worker {
	env := testenv.New(t, edit)
	return &worker{env: env, h: jobs.NewHandler(env.Service, env.Store, env.Log, nil)}
}

// run processes a delivery as a worker would, through a task built the way
// intake builds it.
func (w *worker) run(t *testing.T, topic, id string, body []byte) error {
	t.Helper()
	task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: topic,
		DeliveryID: id, ReceivedAt: time.Now(), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return w.h.ProcessWebhook(context.Background(), task)
}

func (w *worker) mustRun(t *testing.T, topic, id string, body []byte) {
	t.Helper()
	if err := w.run(t, topic, id, body); err != nil {
		t.Fatalf("%s %s: %v", topic, id, err)
	}
}

func (w *worker) delivery(t *testing.T, id string) app.WebhookDelivery {
	t.Helper()
	list, err := w.env.Store.Deliveries(context.Background(), testenv.ShopDomain, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.DeliveryID == id {
			return d
		}
	}
	t.Fatalf("delivery %s not recorded", id)
	return app.WebhookDelivery{}
}

// The sample order's customer and its subtotal after discounts in shop money.
const sampleCustomer = "115310627314723954"

func TestShopifyOrderLifecycleFromTheRealSamples(t *testing.T) {
	w := newWorker(t, nil)
	order := testenv.Fixture(t, "shopify/orders_paid.json")
	refund := testenv.Fixture(t, "shopify/refunds_create.json")

	w.mustRun(t, "orders/paid", "d-paid", order)
	if got := w.env.Balance(t, sampleCustomer); got != 414 { // current_subtotal_price 414.95
		t.Fatalf("after orders/paid balance = %d, want 414", got)
	}
	if d := w.delivery(t, "d-paid"); d.Status != app.DeliveryProcessed || d.Detail != "earn +414 points" || d.Payload != nil {
		t.Fatalf("delivery = %+v", d)
	}

	t.Run("a re-run of the same delivery changes nothing", func(t *testing.T) {
		w.mustRun(t, "orders/paid", "d-paid", order)
		if got := w.env.Balance(t, sampleCustomer); got != 414 {
			t.Fatalf("balance = %d, want 414", got)
		}
	})
	t.Run("the same order in another delivery changes nothing", func(t *testing.T) {
		w.mustRun(t, "orders/paid", "d-paid-again", order)
		if got := w.env.Balance(t, sampleCustomer); got != 414 {
			t.Fatalf("balance = %d, want 414", got)
		}
		if d := w.delivery(t, "d-paid-again"); d.Status != app.DeliverySkipped {
			t.Fatalf("delivery = %+v, want skipped", d)
		}
	})
	t.Run("the sample refund returns every line, so every point goes back", func(t *testing.T) {
		w.mustRun(t, "refunds/create", "d-refund", refund)
		if got := w.env.Balance(t, sampleCustomer); got != 0 {
			t.Fatalf("balance = %d, want 0", got)
		}
	})
	w.env.Reconciles(t)
}

func TestOutOfOrderDeliveriesEndInTheRightBalance(t *testing.T) {
	order := testenv.Fixture(t, "shopify/orders_paid.json")
	refund := testenv.Fixture(t, "shopify/refunds_create.json")
	tests := []struct {
		name  string
		steps []string
		want  int64
	}{
		{"refund before paid", []string{"refunds/create", "orders/paid"}, 0},
		{"cancel before paid", []string{"orders/cancelled", "orders/paid"}, 0},
		{"paid after cancel is a duplicate", []string{"orders/paid", "orders/cancelled", "orders/paid"}, 0},
		{"paid twice then refund", []string{"orders/paid", "orders/paid", "refunds/create"}, 0},
		{"paid alone", []string{"orders/paid"}, 414},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorker(t, nil)
			for i, topic := range tt.steps {
				body := order
				if topic == "refunds/create" {
					body = refund
				}
				w.mustRun(t, topic, tt.name+string(rune('0'+i)), body)
			}
			c, err := w.env.Service.Balance(context.Background(), w.env.Shop, sampleCustomer)
			if err != nil && tt.want != 0 {
				t.Fatal(err)
			}
			if c.Balance != tt.want {
				t.Fatalf("balance = %d, want %d", c.Balance, tt.want)
			}
			w.env.Reconciles(t)
		})
	}
}

func TestMalformedPayloadIsRecordedAndNotRetried(t *testing.T) {
	w := newWorker(t, nil)
	tests := []struct{ name, topic, body string }{
		{"invalid JSON", "orders/paid", `{"id": 1, "customer":`},
		{"an order without an id", "orders/paid", `{"customer":{"id":5},"current_subtotal_price":"10.00"}`},
		{"a refund without an order", "refunds/create", `{"id": 9}`},
		{"a JSON string", "orders/paid", `"my secret message"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "bad-" + string(rune('a'+i))
			err := w.run(t, tt.topic, id, []byte(tt.body))
			if !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("err = %v, want one that tells asynq not to retry", err)
			}
			d := w.delivery(t, id)
			if d.Status != app.DeliveryFailed || d.Detail == "" || string(d.Payload) != tt.body {
				t.Fatalf("delivery = %+v, want failed with the error and the payload kept for support", d)
			}
		})
	}
}

func TestUnknownShopIsSkipped(t *testing.T) {
	w := newWorker(t, nil)
	task, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: "gone.myshopify.com", Topic: "orders/paid",
		DeliveryID: "x", ReceivedAt: time.Now(), Body: testenv.Fixture(t, "shopify/orders_paid.json")})
	if err := w.h.ProcessWebhook(context.Background(), task); err != nil {
		t.Fatalf("err = %v; an unknown shop is not worth a retry", err)
	}
}

func TestUninstallStopsEarning(t *testing.T) {
	w := newWorker(t, nil)
	w.mustRun(t, "app/uninstalled", "u1", testenv.Fixture(t, "shopify/app_uninstalled.json"))
	shop, err := w.env.Service.Shop(context.Background(), app.Shopify, testenv.ShopDomain)
	if err != nil || shop.Status != app.ShopUninstalled {
		t.Fatalf("shop = %+v, %v; want uninstalled", shop, err)
	}
	w.mustRun(t, "orders/paid", "after", testenv.Fixture(t, "shopify/orders_paid.json"))
	if d := w.delivery(t, "after"); d.Status != app.DeliverySkipped || !strings.Contains(d.Detail, "not active") {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestSignupBonus(t *testing.T) {
	w := newWorker(t, func(p *app.Program) { p.SignupBonus = 100 })
	body := testenv.Fixture(t, "shopify/customers_create.json")
	w.mustRun(t, "customers/create", "c1", body)
	w.mustRun(t, "customers/create", "c2", body) // a second subscription's delivery
	if got := w.env.Balance(t, "706405506930370084"); got != 100 {
		t.Fatalf("balance = %d, want the bonus once", got)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	w := newWorker(t, nil)
	w.env.Store.Close() // the database goes away
	err := w.run(t, "orders/paid", "d1", testenv.Fixture(t, "shopify/orders_paid.json"))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}
