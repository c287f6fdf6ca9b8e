package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/woocommerce"
)

// wooWorker is a worker with one connected WooCommerce store.
type wooWorker struct {
	env  *testenv.Env
	h    *jobs.Handler
	shop app.Shop
}

const wooDomain = "sklep.example.pl"

func newWooWorker(t *testing.T, earnStatuses ...string) *wooWorker {
	t.Helper()
	return newWooWorkerIn(t, "PLN", earnStatuses...)
}

// newWooWorkerIn is newWooWorker for a store that sells in currency.
func newWooWorkerIn(t *testing.T, currency string, earnStatuses ...string) *wooWorker {
	t.Helper()
	env := testenv.New(t, nil)
	shop, _, err := env.Service.ConnectStore(context.Background(), app.Shop{Platform: app.WooCommerce, Domain: wooDomain, Currency: currency},
		app.Connection{URL: "https://" + wooDomain, WebhookKey: "wc_0123456789abcdef", EarnStatuses: earnStatuses},
		app.Credentials{WebhookSecret: "wc-test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return &wooWorker{env: env, h: jobs.NewHandler(env.Service, env.Store, env.Log, nil), shop: shop}
}

var walkStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// state is order 727 of customer 25 at one step of its life.
func state(step int, status string, refunds ...woocommerce.SampleRefund) []byte {
	return woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 727, CustomerID: 25, Status: status, Currency: "PLN",
		Total: app.MustAmount("123.00"), Tax: app.MustAmount("23.00"), Shipping: app.MustAmount("10.00"), ShippingTax: app.MustAmount("2.30"),
		Refunds: refunds, Modified: walkStart.Add(time.Duration(step) * time.Minute)})
}

func (w *wooWorker) deliver(t *testing.T, topic, id string, body []byte) {
	t.Helper()
	task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.WooCommerce, Shop: wooDomain, Topic: topic,
		DeliveryID: id, ReceivedAt: time.Now(), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.h.ProcessWebhook(context.Background(), task); err != nil {
		t.Fatalf("%s %s: %v", topic, id, err)
	}
}

func (w *wooWorker) balance(t *testing.T) int64 {
	t.Helper()
	c, err := w.env.Service.Balance(context.Background(), w.shop, "25")
	if app.ErrorCode(err) == app.ENotFound {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.Balance
}

// reconciles fails the test when a customer of the WooCommerce store has a
// balance that disagrees with their ledger or lots.
func (w *wooWorker) reconciles(t *testing.T) {
	t.Helper()
	d, err := w.env.Service.Reconcile(context.Background(), w.shop)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		t.Errorf("ledger does not reconcile: %s", x)
	}
}

func TestWooCommerceStatusWalk(t *testing.T) {
	// 123.00 paid: 10.00 shipping + 2.30 its tax, 23.00 tax in all → 90.00
	// of goods before tax earn 90 points by default.
	pending := state(0, "pending")
	processing := state(1, "processing")
	completed := state(2, "completed")
	partly := state(3, "completed", woocommerce.SampleRefund{ID: 801, Amount: app.MustAmount("41.00"), Reason: "one item back"})
	refunded := state(4, "refunded", woocommerce.SampleRefund{ID: 801, Amount: app.MustAmount("41.00")}, woocommerce.SampleRefund{ID: 802, Amount: app.MustAmount("82.00")})

	tests := []struct {
		name  string
		steps [][]byte
		want  int64
	}{
		{"pending earns nothing yet", [][]byte{pending}, 0},
		{"processing earns", [][]byte{pending, processing}, 90},
		{"completing after processing earns nothing more", [][]byte{pending, processing, completed}, 90},
		{"the same state delivered many times earns once", [][]byte{processing, processing, completed, completed, processing}, 90},
		{"a partial refund takes back its share", [][]byte{processing, partly}, 60},
		{"an older state after a newer one changes nothing", [][]byte{partly, processing, completed}, 60},
		{"the full walk ends at zero", [][]byte{pending, processing, completed, partly, refunded}, 0},
		{"the walk in reverse ends at zero too", [][]byte{refunded, partly, completed, processing, pending}, 0},
		{"an order first seen refunded never earns", [][]byte{refunded}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWooWorker(t)
			for i, body := range tt.steps {
				w.deliver(t, woocommerce.TopicOrderUpdated, fmt.Sprintf("d%d", i), body)
			}
			if got := w.balance(t); got != tt.want {
				t.Fatalf("balance = %d, want %d", got, tt.want)
			}
			w.reconciles(t)
		})
	}
}

func TestWooCommerceFailedPaymentCanStillBePaid(t *testing.T) {
	w := newWooWorker(t)
	failed := woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 727, CustomerID: 25, Status: "failed", Currency: "PLN",
		Total: app.MustAmount("123.00"), Tax: app.MustAmount("23.00"), Shipping: app.MustAmount("10.00"), ShippingTax: app.MustAmount("2.30"),
		Modified: walkStart})
	w.deliver(t, woocommerce.TopicOrderUpdated, "failed", failed)
	w.deliver(t, woocommerce.TopicOrderUpdated, "paid-again", state(5, "processing"))
	if got := w.balance(t); got != 90 {
		t.Fatalf("balance = %d; an order whose first payment failed must earn when it is paid", got)
	}
}

func TestWooCommerceEarnStatusIsTheMerchants(t *testing.T) {
	w := newWooWorker(t, "completed")
	w.deliver(t, woocommerce.TopicOrderUpdated, "a", state(1, "processing"))
	if got := w.balance(t); got != 0 {
		t.Fatalf("processing earned %d; this store earns at completed", got)
	}
	w.deliver(t, woocommerce.TopicOrderUpdated, "b", state(2, "completed"))
	if got := w.balance(t); got != 90 {
		t.Fatalf("balance = %d, want 90", got)
	}
}

func TestWooCommerceGuestsTrashAndCustomers(t *testing.T) {
	w := newWooWorker(t)
	guest := woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 9, CustomerID: 0, Status: "processing", Currency: "PLN", Total: app.MustAmount("50.00"), Modified: walkStart})
	w.deliver(t, woocommerce.TopicOrderCreated, "guest", guest)
	o, err := w.env.Store.Order(context.Background(), w.shop.ID, "9")
	if err != nil || o.Status != app.OrderStatusSkipped {
		t.Fatalf("guest order = %+v, %v; want skipped", o, err)
	}

	w.deliver(t, woocommerce.TopicOrderCreated, "o1", state(1, "processing"))
	w.deliver(t, woocommerce.TopicOrderDeleted, "trash", []byte(`{"id":727}`))
	if got := w.balance(t); got != 0 {
		t.Fatalf("after trash balance = %d, want 0", got)
	}

	prog, _ := w.env.Service.Program(context.Background(), w.shop)
	prog.SignupBonus = 15
	w.env.Store.SaveProgram(context.Background(), prog)
	w.deliver(t, woocommerce.TopicCustomerCreated, "c", testenv.Fixture(t, "woocommerce/customer_v3_retrieve_example.json"))
	w.deliver(t, woocommerce.TopicCustomerCreated, "c-again", testenv.Fixture(t, "woocommerce/customer_v3_retrieve_example.json"))
	if got := w.balance(t); got != 15 {
		t.Fatalf("customer 25's balance = %d, want the signup bonus once", got)
	}
	w.deliver(t, woocommerce.TopicCustomerCreated, "manager", []byte(`{"id":2,"email":"manager@sklep.example.pl","role":"shop_manager"}`))
	if c, err := w.env.Service.Balance(context.Background(), w.shop, "2"); err == nil && c.Balance != 0 {
		t.Fatalf("a shop manager got a signup bonus of %d", c.Balance)
	}
}

func TestWooCommerceRealSamples(t *testing.T) {
	w := newWooWorkerIn(t, "USD") // the documentation's store
	// The documentation's order 727 is a guest checkout (customer_id 0).
	w.deliver(t, woocommerce.TopicOrderCreated, "as-sent", testenv.Fixture(t, "woocommerce/order_created_body_as_sent.json"))
	if o, err := w.env.Store.Order(context.Background(), w.shop.ID, "727"); err != nil || o.Status != app.OrderStatusSkipped {
		t.Fatalf("order 727 = %+v, %v; want skipped as a guest order", o, err)
	}
	// Order 723 of customer 26 is completed with refunds of 10.00 and 9.00.
	w.deliver(t, woocommerce.TopicOrderUpdated, "with-refunds", testenv.Fixture(t, "woocommerce/order_v3_with_refunds_from_list_example.json"))
	o, err := w.env.Store.Order(context.Background(), w.shop.ID, "723")
	if err != nil || o.Status != app.OrderStatusPaid || o.PointsEarned == 0 || o.PointsReversed == 0 {
		t.Fatalf("order 723 = %+v, %v; want paid, with its refunds taken back", o, err)
	}
	c, _ := w.env.Service.Balance(context.Background(), w.shop, "26")
	if c.Balance != o.PointsEarned-o.PointsReversed {
		t.Fatalf("balance %d, want %d earned − %d reversed", c.Balance, o.PointsEarned, o.PointsReversed)
	}
	w.reconciles(t)
}

// delivery is one webhook of an order's life: a topic and its body.
type delivery struct {
	topic string
	body  []byte
}

func updated(body []byte) delivery  { return delivery{woocommerce.TopicOrderUpdated, body} }
func restored(body []byte) delivery { return delivery{woocommerce.TopicOrderRestored, body} }

// trashed is order 727 moved to the trash: order.deleted carries only the id.
var trashed = delivery{woocommerce.TopicOrderDeleted, []byte(`{"id":727}`)}

// Orders leave and come back: a payment after a cancellation, an order
// restored from the trash, a cancelled order set back to processing by the
// merchant. WooCommerce sends each state whole, in no order and sometimes
// twice; the balance must be what the order's latest state implies.
func TestWooCommerceOrderReturns(t *testing.T) {
	refund := woocommerce.SampleRefund{ID: 801, Amount: app.MustAmount("41.00"), Reason: "one item back"}
	tests := []struct {
		name  string
		steps []delivery
		want  int64
	}{
		{"an unpaid order cancelled and then paid earns",
			[]delivery{updated(state(0, "pending")), updated(state(1, "cancelled")), updated(state(2, "processing"))}, 90},
		{"a late payment earns once, whatever repeats and older states follow",
			[]delivery{updated(state(0, "pending")), updated(state(1, "cancelled")), updated(state(2, "processing")),
				updated(state(2, "processing")), updated(state(1, "cancelled")), updated(state(0, "pending")), updated(state(3, "completed"))}, 90},
		{"an older cancellation after a newer paid state changes nothing",
			[]delivery{updated(state(2, "processing")), updated(state(1, "cancelled"))}, 90},
		{"a cancellation after the payment stands when the payment is delivered again",
			[]delivery{updated(state(1, "processing")), updated(state(2, "cancelled")), updated(state(1, "processing"))}, 0},
		{"a cancelled order set back to processing earns again",
			[]delivery{updated(state(1, "processing")), updated(state(2, "cancelled")), updated(state(3, "processing"))}, 90},
		{"an order restored from the trash earns again",
			[]delivery{updated(state(1, "processing")), trashed, restored(state(3, "processing"))}, 90},
		{"a restored order delivered twice earns once",
			[]delivery{updated(state(1, "processing")), trashed, restored(state(3, "processing")), restored(state(3, "processing")),
				updated(state(1, "processing"))}, 90},
		{"a restored order trashed again gives its points back again",
			[]delivery{updated(state(1, "processing")), trashed, restored(state(3, "processing")), trashed}, 0},
		{"each return earns once: trashed and restored twice",
			[]delivery{updated(state(1, "processing")), trashed, restored(state(3, "processing")), trashed,
				restored(state(5, "processing")), restored(state(5, "processing")), restored(state(3, "processing"))}, 90},
		{"the same return delivered after a second trash does not earn again",
			[]delivery{updated(state(1, "processing")), trashed, restored(state(3, "processing")), trashed,
				restored(state(3, "processing"))}, 0},
		{"an unpaid order trashed and restored paid earns",
			[]delivery{updated(state(0, "pending")), trashed, restored(state(2, "processing"))}, 90},
		{"a partly refunded order that comes back keeps its refund taken back",
			[]delivery{updated(state(1, "processing")), updated(state(2, "completed", refund)),
				updated(state(3, "cancelled", refund)), updated(state(4, "completed", refund))}, 60},
		{"a refund made while the order was cancelled is taken back when it returns",
			[]delivery{updated(state(1, "processing")), updated(state(2, "cancelled")),
				updated(state(3, "cancelled", refund)), updated(state(4, "processing", refund))}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWooWorker(t)
			for i, d := range tt.steps {
				w.deliver(t, d.topic, fmt.Sprintf("d%d", i), d.body)
			}
			if got := w.balance(t); got != tt.want {
				t.Fatalf("balance = %d, want %d", got, tt.want)
			}
			w.reconciles(t)
		})
	}
}

func TestWooCommerceOlderStateIsRecordedAsDropped(t *testing.T) {
	w := newWooWorker(t)
	w.deliver(t, woocommerce.TopicOrderUpdated, "new", state(2, "processing"))
	w.deliver(t, woocommerce.TopicOrderUpdated, "old", state(1, "cancelled"))
	ds, err := w.env.Store.Deliveries(context.Background(), wooDomain, app.DeliverySkipped, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].DeliveryID != "old" || !strings.Contains(ds[0].Detail, string(app.SkipStale)) {
		t.Fatalf("skipped deliveries = %+v; want the older cancellation, saying it is older than the state applied", ds)
	}
	o, err := w.env.Store.Order(context.Background(), w.shop.ID, "727")
	if err != nil || o.PlatformUpdatedAt == nil || !o.PlatformUpdatedAt.Equal(walkStart.Add(2*time.Minute)) {
		t.Fatalf("order = %+v, %v; want the newer state's modification time recorded", o, err)
	}
}

func TestWooCommerceOrderInAnotherCurrencyEarnsNothing(t *testing.T) {
	w := newWooWorker(t) // the store sells in PLN
	eur := woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 727, CustomerID: 25, Status: "processing", Currency: "EUR",
		Total: app.MustAmount("123.00"), Tax: app.MustAmount("23.00"), Shipping: app.MustAmount("10.00"), ShippingTax: app.MustAmount("2.30"),
		Modified: walkStart})
	w.deliver(t, woocommerce.TopicOrderUpdated, "eur", eur)
	if got := w.balance(t); got != 0 {
		t.Fatalf("an order in EUR earned %d points at the PLN rate", got)
	}
	ds, err := w.env.Store.Deliveries(context.Background(), wooDomain, app.DeliverySkipped, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || !strings.Contains(ds[0].Detail, "EUR") || !strings.Contains(ds[0].Detail, string(app.SkipOtherCurrency)) {
		t.Fatalf("skipped deliveries = %+v; want the EUR order, with the reason", ds)
	}
	// The same order in the shop's currency earns.
	w.deliver(t, woocommerce.TopicOrderUpdated, "pln", state(1, "processing"))
	if got := w.balance(t); got != 90 {
		t.Fatalf("balance = %d, want 90", got)
	}
	w.reconciles(t)
}
