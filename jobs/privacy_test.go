package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
)

// The customer and orders of Shopify's compliance samples.
const (
	privacyCustomer = "191167"
	goneShop        = "gone.myshopify.com"
)

// runFor processes a delivery for any shop, as a worker would.
func (w *worker) runFor(t *testing.T, shop, topic, id string, body []byte) {
	t.Helper()
	task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: shop, Topic: topic,
		DeliveryID: id, ReceivedAt: time.Now(), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.h.ProcessWebhook(context.Background(), task); err != nil {
		t.Fatalf("%s %s: %v", topic, id, err)
	}
}

func (w *worker) deliveryOf(t *testing.T, shop, id string) app.WebhookDelivery {
	t.Helper()
	list, err := w.env.Store.Deliveries(context.Background(), shop, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.DeliveryID == id {
			return d
		}
	}
	t.Fatalf("delivery %s of %s not recorded", id, shop)
	return app.WebhookDelivery{}
}

// earn gives a customer points on a shop's orders, with a partial refund of
// the first, the way the ledger would have them before a privacy request.
func earn(t *testing.T, env *testenv.Env, shop app.Shop, customer string, orders ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range orders {
		_, err := env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: id, Currency: "USD",
			Customer: &app.CustomerRef{PlatformID: customer, Email: "john@example.com", FirstName: "John", LastName: "Smith"},
			Subtotal: app.MustAmount("100.00"), PaidAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Service.ReverseRefund(ctx, shop, app.OrderRefunded{OrderID: orders[0], RefundID: "r-" + orders[0],
		Lines: app.MustAmount("25.00")}); err != nil {
		t.Fatal(err)
	}
}

func uninstall(t *testing.T, env *testenv.Env, shop app.Shop) app.Shop {
	t.Helper()
	if err := env.Service.Uninstall(context.Background(), shop); err != nil {
		t.Fatal(err)
	}
	shop.Status = app.ShopUninstalled
	return shop
}

func TestDataRequestFromTheRealSample(t *testing.T) {
	w := newWorker(t, nil)
	earn(t, w.env, w.env.Shop, privacyCustomer, "299938", "280263")
	uninstall(t, w.env, w.env.Shop) // the merchant must answer even after leaving
	body := testenv.Fixture(t, "shopify/customers_data_request.json")

	w.mustRun(t, "customers/data_request", "dr-1", body)
	d := w.delivery(t, "dr-1")
	if d.Status != app.DeliveryProcessed || !strings.HasPrefix(d.Detail, "exported customer 191167 (request 9999, data export ") {
		t.Fatalf("delivery = %+v", d)
	}
	list, err := w.env.Service.DataExports(context.Background(), w.env.Shop)
	if err != nil || len(list) != 1 {
		t.Fatalf("exports = %+v, %v", list, err)
	}
	export, err := w.env.Service.DataExport(context.Background(), w.env.Shop, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc app.CustomerDataDocument
	if err := json.Unmarshal(export.Document, &doc); err != nil {
		t.Fatal(err)
	}
	t.Run("the export holds the customer's ledger and orders", func(t *testing.T) {
		if doc.Shop != testenv.ShopDomain || doc.RequestID != "9999" || doc.Customer == nil ||
			doc.Customer.Email != "john@example.com" || doc.Customer.Balance != 175 {
			t.Fatalf("document = %s", export.Document)
		}
		if len(doc.LedgerEntries) != 3 || len(doc.Orders) != 2 || len(doc.Orders[0].Refunds) != 1 {
			t.Fatalf("document = %s", export.Document)
		}
		if doc.Request.Email != "john@example.com" || len(doc.Request.OrdersRequested) != 3 {
			t.Fatalf("request = %+v", doc.Request)
		}
	})
	t.Run("another delivery of the same request gives the same export", func(t *testing.T) {
		w.mustRun(t, "customers/data_request", "dr-2", body)
		again, _ := w.env.Service.DataExports(context.Background(), w.env.Shop)
		if len(again) != 1 || again[0].ID != export.ID {
			t.Fatalf("exports = %+v, want only %d", again, export.ID)
		}
		if d := w.delivery(t, "dr-2"); d.Detail != w.delivery(t, "dr-1").Detail {
			t.Fatalf("second delivery = %q", d.Detail)
		}
	})
}

func TestCustomerRedactFromTheRealSample(t *testing.T) {
	w := newWorker(t, nil)
	earn(t, w.env, w.env.Shop, privacyCustomer, "299938", "280263")
	w.mustRun(t, "customers/data_request", "dr", testenv.Fixture(t, "shopify/customers_data_request.json"))
	before, _ := w.env.Service.Balance(context.Background(), w.env.Shop, privacyCustomer)
	body := testenv.Fixture(t, "shopify/customers_redact.json")

	w.mustRun(t, "customers/redact", "red-1", body)
	if d := w.delivery(t, "red-1"); d.Status != app.DeliveryProcessed ||
		d.Detail != "redacted customer 191167; 1 data export deleted" {
		t.Fatalf("delivery = %+v", d)
	}
	t.Run("email and names are gone, the balance stays and the ledger reconciles", func(t *testing.T) {
		var email, first, last string
		var balance int64
		err := w.env.Store.SQL().QueryRow(`SELECT email, first_name, last_name, balance FROM customers WHERE id = $1`,
			before.ID).Scan(&email, &first, &last, &balance)
		if err != nil {
			t.Fatal(err)
		}
		if email+first+last != "" || balance != before.Balance || balance != 175 {
			t.Fatalf("customer = %q %q %q balance %d, want anonymous with %d", email, first, last, balance, before.Balance)
		}
		w.env.Reconciles(t)
	})
	t.Run("a repeat finds nothing to do", func(t *testing.T) {
		w.mustRun(t, "customers/redact", "red-2", body)
		if d := w.delivery(t, "red-2"); d.Status != app.DeliverySkipped || !strings.Contains(d.Detail, "nothing to redact") {
			t.Fatalf("delivery = %+v", d)
		}
		w.env.Reconciles(t)
	})
}

// tableCounts counts the rows of every table of the schema.
func tableCounts(t *testing.T, env *testenv.Env) map[string]int64 {
	t.Helper()
	rows, err := env.Store.SQL().Query(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	counts := map[string]int64{}
	for _, table := range tables {
		var n int64
		if err := env.Store.SQL().QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// seedShop gives a shop everything the app can hold for it: credentials, a
// customer with orders, a refund, ledger, lots and an export, and a failed
// delivery with its payload kept.
func seedShop(t *testing.T, env *testenv.Env, domain string) app.Shop {
	t.Helper()
	ctx := context.Background()
	shop, _, err := env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: domain},
		app.Credentials{AccessToken: "shpat_" + domain})
	if err != nil {
		t.Fatal(err)
	}
	earn(t, env, shop, privacyCustomer, "299938", "280263")
	if _, err := env.Service.ExportCustomerData(ctx, shop, app.DataRequest{CustomerID: privacyCustomer, RequestID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.RecordDelivery(ctx, app.WebhookDelivery{Platform: app.Shopify, ShopDomain: domain, DeliveryID: "failed",
		Topic: "orders/paid", Status: app.DeliveryFailed, Payload: []byte(`{"id": 1}`), ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return shop
}

func TestShopRedactFromTheRealSample(t *testing.T) {
	w := newWorker(t, nil)
	seedShop(t, w.env, "neighbour.myshopify.com")
	untouched := tableCounts(t, w.env)
	gone := seedShop(t, w.env, goneShop)
	uninstall(t, w.env, gone)
	body := testenv.Fixture(t, "shopify/shop_redact.json")

	w.runFor(t, goneShop, "shop/redact", "sr-1", body)
	if d := w.deliveryOf(t, goneShop, "sr-1"); d.Status != app.DeliveryProcessed ||
		d.Detail != "erased shop gone.myshopify.com: 1 customer, 2 orders, 1 webhook delivery record" {
		t.Fatalf("delivery = %+v", d)
	}
	t.Run("no table holds a row of the erased shop", func(t *testing.T) {
		rows, err := w.env.Store.SQL().Query(`SELECT table_name FROM information_schema.columns
			WHERE table_schema = 'public' AND column_name = 'shop_id'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		checked := 0
		for rows.Next() {
			var table string
			if err := rows.Scan(&table); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := w.env.Store.SQL().QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q WHERE shop_id = $1`, table), gone.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s holds %d rows of the erased shop", table, n)
			}
			checked++
		}
		if checked < 6 {
			t.Fatalf("only %d tables have a shop_id; the schema is not what this test expects", checked)
		}
	})
	t.Run("every table holds what it held before the shop came, and other shops are untouched", func(t *testing.T) {
		after := tableCounts(t, w.env)
		for table, want := range untouched {
			switch table {
			case "webhook_deliveries":
				want++ // the record of this shop/redact delivery
			case "audit_log":
				continue // below
			}
			if after[table] != want {
				t.Errorf("%s holds %d rows, want %d", table, after[table], want)
			}
		}
		if len(after) != len(untouched) {
			t.Errorf("tables changed: %v vs %v", after, untouched)
		}
		w.env.Reconciles(t)
	})
	t.Run("the audit log keeps only the erasure, detached from the shop", func(t *testing.T) {
		var lines, attached, erased int64
		err := w.env.Store.SQL().QueryRow(`SELECT count(*), count(*) FILTER (WHERE shop_id IS NOT NULL), count(*) FILTER (WHERE action = 'erase')
			FROM audit_log WHERE shop_domain = $1`, goneShop).Scan(&lines, &attached, &erased)
		if err != nil || lines != 1 || attached != 0 || erased != 1 {
			t.Fatalf("audit: %d lines, %d attached, %d erasures, %v", lines, attached, erased, err)
		}
	})
	t.Run("a repeat is answered and changes nothing", func(t *testing.T) {
		before := tableCounts(t, w.env)
		w.runFor(t, goneShop, "shop/redact", "sr-2", body)
		after := tableCounts(t, w.env)
		before["webhook_deliveries"]++ // its own record
		for table, n := range before {
			if after[table] != n {
				t.Errorf("%s: %d rows, want %d", table, after[table], n)
			}
		}
	})
}

func TestShopRedactOfAReinstalledShopErasesNothing(t *testing.T) {
	w := newWorker(t, nil)
	earn(t, w.env, w.env.Shop, privacyCustomer, "299938")
	before := tableCounts(t, w.env)
	w.mustRun(t, "shop/redact", "sr", testenv.Fixture(t, "shopify/shop_redact.json"))
	if d := w.delivery(t, "sr"); d.Status != app.DeliverySkipped || !strings.Contains(d.Detail, "reinstalled") {
		t.Fatalf("delivery = %+v", d)
	}
	after := tableCounts(t, w.env)
	before["webhook_deliveries"]++
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows, want %d", table, after[table], n)
		}
	}
	if got := w.env.Balance(t, privacyCustomer); got != 75 {
		t.Fatalf("balance = %d, want 75 kept", got)
	}
}

func TestPrivacyTopicsArePrivacyTasks(t *testing.T) {
	for _, topic := range []string{"customers/data_request", "customers/redact", "shop/redact"} {
		task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: topic, DeliveryID: "x"})
		if err != nil || task.Type() != jobs.TypePrivacy {
			t.Fatalf("%s: task %v, %v", topic, task, err)
		}
		if !jobs.ForUninstalledShops(app.Shopify, topic) {
			t.Errorf("%s is not processed for an uninstalled shop", topic)
		}
	}
	if jobs.ForUninstalledShops(app.Shopify, "orders/paid") {
		t.Error("orders/paid would be processed for an uninstalled shop")
	}
}

func TestMalformedPrivacyRequestIsRecordedAndNotRetried(t *testing.T) {
	w := newWorker(t, nil)
	err := w.run(t, "customers/redact", "bad", []byte(`{"customer": {"email": "john@example.com"}}`))
	if err == nil || !strings.Contains(err.Error(), "customer id missing") {
		t.Fatalf("err = %v", err)
	}
	if d := w.delivery(t, "bad"); d.Status != app.DeliveryFailed {
		t.Fatalf("delivery = %+v", d)
	}
}

// queued puts a webhook task for a shop in the queue, in the given state:
// pending, scheduled, or archived (given up, kept for months with its body).
func queued(t *testing.T, env *testenv.Env, shop, id string, body string, state asynq.TaskState) {
	t.Helper()
	task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: shop, Topic: "orders/paid",
		DeliveryID: id, ReceivedAt: time.Now(), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var opts []asynq.Option
	if state == asynq.TaskStateScheduled {
		opts = append(opts, asynq.ProcessIn(time.Hour))
	}
	info, err := asynq.NewClientFromRedisClient(env.Redis).Enqueue(task, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if state == asynq.TaskStateArchived {
		if err := asynq.NewInspectorFromRedisClient(env.Redis).ArchiveTask(info.Queue, info.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// queuedDeliveries lists the delivery ids of the webhook tasks left in the
// queues, by state.
func queuedDeliveries(t *testing.T, env *testenv.Env) map[string]asynq.TaskState {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(env.Redis)
	out := map[string]asynq.TaskState{}
	for queue := range jobs.Queues {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			insp.ListPendingTasks, insp.ListScheduledTasks, insp.ListRetryTasks, insp.ListArchivedTasks} {
			tasks, err := list(queue, asynq.PageSize(1000))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if w, err := jobs.DecodeWebhook(task.Payload); err == nil {
					out[w.Shop+" "+w.DeliveryID] = task.State
				}
			}
		}
	}
	return out
}

func TestCustomerRedactDeletesQueuedTasksThatNameTheCustomer(t *testing.T) {
	w := newWorker(t, nil)
	w.h.WithInspector(asynq.NewInspectorFromRedisClient(w.env.Redis))
	earn(t, w.env, w.env.Shop, privacyCustomer, "299938")
	shop, other := testenv.ShopDomain, "neighbour.myshopify.com"
	queued(t, w.env, shop, "gave-up", `{"customer": {"id": 191167, "email": "john@example.com"}}`, asynq.TaskStateArchived)
	queued(t, w.env, shop, "by-email", `{"contact_email": "JOHN@example.com"}`, asynq.TaskStateArchived)
	queued(t, w.env, shop, "someone-else", `{"customer": {"id": 1911670}}`, asynq.TaskStateArchived)
	queued(t, w.env, other, "other-shop", `{"customer": {"id": 191167}}`, asynq.TaskStateArchived)
	queued(t, w.env, shop, "about-to-run", `{"customer": {"id": 191167}}`, asynq.TaskStatePending)
	// A delivery that failed for good: the handler kept its body for support.
	failed, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: shop, Topic: "orders/paid",
		DeliveryID: "failed", ReceivedAt: time.Now(), Body: []byte(`{"customer": {"id": 191167}}`)})
	if err := w.env.Store.RecordDelivery(context.Background(), app.WebhookDelivery{Platform: app.Shopify, ShopDomain: shop,
		DeliveryID: "failed", Topic: "orders/paid", Status: app.DeliveryFailed, Payload: []byte(`{"customer": {"id": 191167}}`),
		ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	w.mustRun(t, "customers/redact", "red", testenv.Fixture(t, "shopify/customers_redact.json"))

	t.Run("archived tasks of the shop that name the customer are deleted, others stay", func(t *testing.T) {
		left := queuedDeliveries(t, w.env)
		for _, gone := range []string{"gave-up", "by-email"} {
			if _, ok := left[shop+" "+gone]; ok {
				t.Errorf("task %s still queued with the customer's data", gone)
			}
		}
		for _, kept := range []string{shop + " someone-else", other + " other-shop", shop + " about-to-run"} {
			if _, ok := left[kept]; !ok {
				t.Errorf("task %s was deleted", kept)
			}
		}
	})
	t.Run("an archived task does not put a cleared body back", func(t *testing.T) {
		if d := w.delivery(t, "failed"); d.Payload != nil {
			t.Fatalf("the redaction left the body: %s", d.Payload)
		}
		w.h.Archived(context.Background(), failed, errors.New("run again by hand, failed again"))
		if d := w.delivery(t, "failed"); d.Payload != nil {
			t.Fatalf("the body came back after the redaction: %s", d.Payload)
		}
	})
}

func TestShopRedactDeletesTheShopsQueuedTasks(t *testing.T) {
	w := newWorker(t, nil)
	w.h.WithInspector(asynq.NewInspectorFromRedisClient(w.env.Redis))
	seedShop(t, w.env, "neighbour.myshopify.com")
	gone := uninstall(t, w.env, seedShop(t, w.env, goneShop))
	for _, state := range []asynq.TaskState{asynq.TaskStateArchived, asynq.TaskStateScheduled, asynq.TaskStatePending} {
		queued(t, w.env, goneShop, state.String(), `{"customer": {"id": 191167}}`, state)
		queued(t, w.env, "neighbour.myshopify.com", state.String(), `{"customer": {"id": 191167}}`, state)
	}

	w.runFor(t, gone.Domain, "shop/redact", "sr", testenv.Fixture(t, "shopify/shop_redact.json"))

	left := queuedDeliveries(t, w.env)
	for _, state := range []string{"archived", "scheduled", "pending"} {
		if _, ok := left[goneShop+" "+state]; ok {
			t.Errorf("the erased shop's %s task is still queued", state)
		}
		if _, ok := left["neighbour.myshopify.com "+state]; !ok {
			t.Errorf("another shop's %s task was deleted", state)
		}
	}
	t.Run("a task of the erased shop that gives up later keeps no body", func(t *testing.T) {
		late, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: goneShop, Topic: "orders/paid",
			DeliveryID: "late", ReceivedAt: time.Now(), Body: []byte(`{"customer": {"id": 191167}}`)})
		w.h.Archived(context.Background(), late, errors.New("gave up"))
		if d := w.deliveryOf(t, goneShop, "late"); d.Payload != nil || d.Status != app.DeliveryFailed {
			t.Fatalf("delivery = %+v", d)
		}
	})
}

func TestShopRedactOfAReinstalledShopKeepsItsQueuedTasks(t *testing.T) {
	w := newWorker(t, nil)
	w.h.WithInspector(asynq.NewInspectorFromRedisClient(w.env.Redis))
	queued(t, w.env, testenv.ShopDomain, "retry-later", `{"id": 1}`, asynq.TaskStateScheduled)
	w.mustRun(t, "shop/redact", "sr", testenv.Fixture(t, "shopify/shop_redact.json"))
	if _, ok := queuedDeliveries(t, w.env)[testenv.ShopDomain+" retry-later"]; !ok {
		t.Fatal("the reinstalled shop lost its queued task")
	}
}
