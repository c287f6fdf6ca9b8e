package jobs_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"loyalty/app"
	"loyalty/internal/testenv"
)

// Paid orders that workers run at the same time are credited in shared
// transactions, and each delivery still gets its own verdict: credited
// once, a repeat recognised, a malformed one recorded as failed without
// holding back the others.
func TestConcurrentPaidOrdersShareTransactionsAndKeepTheirVerdicts(t *testing.T) {
	w := newWorker(t, nil)
	var sample map[string]any
	if err := json.Unmarshal(testenv.Fixture(t, "shopify/orders_paid.json"), &sample); err != nil {
		t.Fatal(err)
	}
	order := func(n int) []byte {
		o := map[string]any{}
		for k, v := range sample {
			o[k] = v
		}
		c := map[string]any{}
		for k, v := range sample["customer"].(map[string]any) {
			c[k] = v
		}
		c["id"] = 7000 + n%10 // ten customers, several orders each
		o["customer"], o["id"] = c, 5000+n
		body, _ := json.Marshal(o)
		return body
	}
	const orders = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*orders+1)
	for n := range orders {
		for _, id := range []string{"d" + strconv.Itoa(n), "again-d" + strconv.Itoa(n)} { // each order delivered twice
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- w.run(t, "orders/paid", id, order(n))
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- w.run(t, "orders/paid", "broken", []byte(`{"id": 1, "customer": `))
	}()
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d tasks returned an error, want 1 (the malformed one, never retried)", failed)
	}
	for c := range 10 {
		// 414 points per order, six orders per customer, each credited once.
		if got := w.env.Balance(t, strconv.Itoa(7000+c)); got != 6*414 {
			t.Errorf("customer %d balance = %d, want %d", 7000+c, got, 6*414)
		}
	}
	recorded, err := w.env.Store.Deliveries(t.Context(), testenv.ShopDomain, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]app.WebhookDelivery{}
	for _, d := range recorded {
		byID[d.DeliveryID] = d
	}
	credited, skipped := 0, 0
	for n := range orders {
		for _, id := range []string{"d" + strconv.Itoa(n), "again-d" + strconv.Itoa(n)} {
			switch d := byID[id]; d.Status {
			case app.DeliveryProcessed:
				credited++
			case app.DeliverySkipped:
				skipped++
			default:
				t.Errorf("delivery %s = %+v", id, d)
			}
		}
	}
	if credited != orders || skipped != orders {
		t.Errorf("%d deliveries credited and %d skipped as repeats, want %d and %d", credited, skipped, orders, orders)
	}
	if d := byID["broken"]; d.Status != app.DeliveryFailed || d.Payload == nil {
		t.Errorf("malformed delivery = %+v, want failed with its payload kept", d)
	}
	if d, err := w.env.Service.Reconcile(t.Context(), w.env.Shop); err != nil || len(d) != 0 {
		t.Errorf("reconcile = %v, %v", d, err)
	}
}

// A delivery that intake let through twice (its repeat check lost, say)
// is credited once whether or not its second run looks the delivery up,
// and keeps the verdict of its first run.
func TestRepeatedDeliveryChangesNothing(t *testing.T) {
	w := newWorker(t, nil)
	order := testenv.Fixture(t, "shopify/orders_paid.json")
	w.mustRun(t, "orders/paid", "paid-1", order)
	first := w.delivery(t, "paid-1")
	w.mustRun(t, "orders/paid", "paid-1", order)
	if got := w.env.Balance(t, sampleCustomer); got != 414 {
		t.Fatalf("balance %d after the delivery ran twice, want 414", got)
	}
	w.mustRun(t, "orders/cancelled", "cancel-1", order)
	w.mustRun(t, "orders/paid", "paid-1", order)
	if got := w.env.Balance(t, sampleCustomer); got != 0 {
		t.Fatalf("balance %d after the paid delivery came again after the cancellation, want 0", got)
	}
	if again := w.delivery(t, "paid-1"); again.Status != app.DeliveryProcessed || again.Detail != first.Detail {
		t.Fatalf("delivery after repeats = %s %q, want its first verdict %s %q", again.Status, again.Detail, first.Status, first.Detail)
	}
	w.env.Reconciles(t)
}
