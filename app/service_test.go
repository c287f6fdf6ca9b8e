package app_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *store.Store
	svc   *app.Service
	shop  app.Shop
}

// newFixture starts a fresh database with one Shopify shop whose program is
// the default one changed by edit.
func newFixture(t *testing.T, edit func(*app.Program)) *fixture {
	t.Helper()
	st, _ := apptest.NewDB(t)
	svc := app.NewService(st, func() time.Time { return testNow })
	prog := app.DefaultProgram(0)
	if edit != nil {
		edit(&prog)
	}
	shop, err := svc.AddShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: "acme.myshopify.com", Currency: "PLN"}, &prog)
	if err != nil {
		t.Fatalf("add shop: %v", err)
	}
	return &fixture{t: t, ctx: context.Background(), store: st, svc: svc, shop: shop}
}

func customer(id string) *app.CustomerRef {
	return &app.CustomerRef{PlatformID: id, Email: id + "@example.com"}
}

func paid(orderID, customerID, subtotal string) app.OrderPaid {
	return app.OrderPaid{OrderID: orderID, Customer: customer(customerID), Currency: "PLN",
		Subtotal: app.MustAmount(subtotal), PaidAt: testNow}
}

func refund(orderID, refundID, lines string) app.OrderRefunded {
	return app.OrderRefunded{OrderID: orderID, RefundID: refundID, Lines: app.MustAmount(lines)}
}

func (f *fixture) accrue(e app.OrderPaid) app.Outcome {
	f.t.Helper()
	out, err := f.svc.AccrueOrder(f.ctx, f.shop, e)
	if err != nil {
		f.t.Fatalf("accrue %s: %v", e.OrderID, err)
	}
	return out
}

func (f *fixture) refund(e app.OrderRefunded) app.Outcome {
	f.t.Helper()
	out, err := f.svc.ReverseRefund(f.ctx, f.shop, e)
	if err != nil {
		f.t.Fatalf("refund %s: %v", e.RefundID, err)
	}
	return out
}

func (f *fixture) cancel(orderID string) app.Outcome {
	f.t.Helper()
	out, err := f.svc.CancelOrder(f.ctx, f.shop, app.OrderCancelled{OrderID: orderID, CancelledAt: testNow})
	if err != nil {
		f.t.Fatalf("cancel %s: %v", orderID, err)
	}
	return out
}

// balance asserts the customer's spendable and pending points, and that the
// ledger still reconciles.
func (f *fixture) balance(customerID string, wantBalance, wantPending int64) {
	f.t.Helper()
	c, err := f.svc.Balance(f.ctx, f.shop, customerID)
	if err != nil {
		f.t.Fatalf("balance of %s: %v", customerID, err)
	}
	if c.Balance != wantBalance || c.Pending != wantPending {
		f.t.Fatalf("customer %s has balance %d pending %d, want %d and %d", customerID, c.Balance, c.Pending, wantBalance, wantPending)
	}
	f.reconciles()
}

func (f *fixture) reconciles() {
	f.t.Helper()
	d, err := f.svc.Reconcile(f.ctx, f.shop)
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	for _, x := range d {
		f.t.Errorf("ledger does not reconcile: %s", x)
	}
}

func TestAccrueOrder(t *testing.T) {
	t.Run("a paid order credits floor(eligible × rate) at once", func(t *testing.T) {
		f := newFixture(t, nil)
		out := f.accrue(paid("820982911946154508", "115310627314723954", "414.95"))
		if out.Points() != 414 || out.Skipped != app.SkipNone {
			t.Fatalf("outcome = %+v, want 414 points", out)
		}
		f.balance("115310627314723954", 414, 0)
		e := out.Entries[0]
		if e.Kind != app.KindEarn || e.Cause.OrderID != "820982911946154508" || e.BalanceAfter != 414 {
			t.Fatalf("entry = %+v", e)
		}
	})
	t.Run("the same order twice credits once", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		if out := f.accrue(paid("1", "c1", "100.00")); out.Skipped != app.SkipDuplicate || len(out.Entries) != 0 {
			t.Fatalf("second accrual = %+v, want a duplicate", out)
		}
		f.balance("c1", 100, 0)
	})
	t.Run("a guest checkout earns nothing and is recorded as skipped, with what it was worth", func(t *testing.T) {
		f := newFixture(t, nil)
		e := paid("2", "", "50.00")
		e.Customer = nil
		if out := f.accrue(e); out.Skipped != app.SkipGuest {
			t.Fatalf("outcome = %+v, want skipped as guest", out)
		}
		o, err := f.store.Order(f.ctx, f.shop.ID, "2")
		if err != nil || o.Status != app.OrderStatusSkipped || o.SkipReason == "" || o.Eligible != app.MustAmount("50.00") || o.PointsEarned != 0 {
			t.Fatalf("order = %+v, %v; want skipped with a reason and its eligible amount for the KPIs", o, err)
		}
	})
	t.Run("the earn rate and rounding are the program's", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.EarnRate = app.Rate(25000); p.Rounding = app.RoundCeil })
		f.accrue(paid("3", "c1", "10.01"))
		f.balance("c1", 26, 0) // 10.01 × 2.5 = 25.025 → 26
	})
	t.Run("an order arriving before its customer creates the customer", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("4", "new-customer", "10.00"))
		c, err := f.svc.Balance(f.ctx, f.shop, "new-customer")
		if err != nil || c.Email != "new-customer@example.com" {
			t.Fatalf("customer = %+v, %v", c, err)
		}
	})
	t.Run("an inactive shop earns nothing", func(t *testing.T) {
		f := newFixture(t, nil)
		f.shop.Status = app.ShopUninstalled
		if out := f.accrue(paid("5", "c1", "10.00")); out.Skipped != app.SkipShopInactive {
			t.Fatalf("outcome = %+v", out)
		}
	})
	t.Run("a pending period holds the points until the return window closes", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.PendingDays = 14; p.ExpiryDays = 365 })
		f.accrue(paid("6", "c1", "100.00"))
		f.balance("c1", 0, 100)
		c, _ := f.svc.Balance(f.ctx, f.shop, "c1")
		lots, err := f.store.Lots(f.ctx, c.ID)
		if err != nil || len(lots) != 1 {
			t.Fatalf("lots = %+v, %v", lots, err)
		}
		if !lots[0].AvailableAt.Equal(testNow.AddDate(0, 0, 14)) || lots[0].ExpiresAt == nil || !lots[0].ExpiresAt.Equal(testNow.AddDate(0, 0, 365)) {
			t.Fatalf("lot = %+v, want available in 14 days and expiring in a year", lots[0])
		}
	})
}

func TestReversals(t *testing.T) {
	t.Run("a partial refund takes back its share of what the order earned", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "200.00"))
		out := f.refund(refund("1", "r1", "50.00"))
		if out.Points() != -50 || out.Entries[0].Cause.RefundID != "r1" {
			t.Fatalf("outcome = %+v", out)
		}
		f.balance("c1", 150, 0)
	})
	t.Run("reversals use the rate the order earned at, not today's", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.EarnRate = app.Rate(20000) })
		f.accrue(paid("1", "c1", "100.00")) // 200 points at rate 2
		prog, _ := f.store.Program(f.ctx, f.shop.ID)
		prog.EarnRate = app.Rate(100000) // the merchant raises the rate to 10
		if err := f.store.SaveProgram(f.ctx, prog); err != nil {
			t.Fatal(err)
		}
		f.refund(refund("1", "r1", "25.00"))
		f.balance("c1", 150, 0)
	})
	t.Run("refunds adding up to the whole order take back exactly everything", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "99.99")) // 99 points
		f.refund(refund("1", "r1", "33.33"))
		f.refund(refund("1", "r2", "33.33"))
		f.refund(refund("1", "r3", "33.33"))
		f.balance("c1", 0, 0)
	})
	t.Run("the same refund twice reverses once", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.refund(refund("1", "r1", "40.00"))
		if out := f.refund(refund("1", "r1", "40.00")); out.Skipped != app.SkipDuplicate {
			t.Fatalf("outcome = %+v", out)
		}
		f.balance("c1", 60, 0)
	})
	t.Run("a refund delivered before the paid event ends in the same balance", func(t *testing.T) {
		f := newFixture(t, nil)
		if out := f.refund(refund("1", "r1", "40.00")); len(out.Entries) != 0 {
			t.Fatalf("refund before paid posted %+v", out)
		}
		out := f.accrue(paid("1", "c1", "100.00"))
		if len(out.Entries) != 2 || out.Points() != 60 {
			t.Fatalf("outcome = %+v, want earn 100 and reverse 40", out)
		}
		f.balance("c1", 60, 0)
	})
	t.Run("cancelling takes back what the order still holds", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.refund(refund("1", "r1", "30.00"))
		if out := f.cancel("1"); out.Points() != -70 {
			t.Fatalf("cancel = %+v, want -70", out)
		}
		f.balance("c1", 0, 0)
	})
	t.Run("a paid event after the cancellation earns nothing", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.cancel("1")
		if out := f.accrue(paid("1", "c1", "100.00")); out.Skipped != app.SkipCancelled {
			t.Fatalf("outcome = %+v", out)
		}
		if out := f.cancel("1"); out.Skipped != app.SkipDuplicate {
			t.Fatalf("second cancel = %+v", out)
		}
		f.balance("c1", 0, 0)
	})
	t.Run("a cancellation delivered before the paid event means the order never earns", func(t *testing.T) {
		f := newFixture(t, nil)
		f.cancel("1")
		if out := f.accrue(paid("1", "c1", "100.00")); out.Skipped != app.SkipCancelled {
			t.Fatalf("outcome = %+v", out)
		}
		o, _ := f.store.Order(f.ctx, f.shop.ID, "1")
		if o.Status != app.OrderStatusCancelled {
			t.Fatalf("order status = %s", o.Status)
		}
	})
	t.Run("a refund after cancellation takes nothing more", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.cancel("1")
		f.refund(refund("1", "r1", "100.00"))
		f.balance("c1", 0, 0)
	})
	t.Run("without negative balances the part spent already is recorded as unrecovered", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.adjust("c1", -80, "k1")
		out := f.cancel("1")
		if len(out.Entries) != 1 || out.Entries[0].Points != -20 || out.Entries[0].Unrecovered != 80 {
			t.Fatalf("cancel = %+v, want -20 with 80 unrecovered", out.Entries)
		}
		f.balance("c1", 0, 0)
		// A later refund of the same order does not try to take it again.
		f.accrue(paid("2", "c1", "10.00"))
		f.refund(refund("1", "r1", "100.00"))
		f.balance("c1", 10, 0)
	})
	t.Run("with negative balances allowed the debt is repaid by the next earning", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.AllowNegative = true })
		f.accrue(paid("1", "c1", "100.00"))
		f.adjust("c1", -80, "k1")
		f.cancel("1")
		f.balance("c1", -80, 0)
		f.accrue(paid("2", "c1", "100.00"))
		f.balance("c1", 20, 0)
	})
	t.Run("a refund inside the return window takes back pending points first", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.PendingDays = 30 })
		f.adjust0("c1")
		f.accrue(paid("1", "c1", "100.00"))
		f.balance("c1", 10, 100)
		f.refund(refund("1", "r1", "60.00"))
		f.balance("c1", 10, 40)
	})
}

func (f *fixture) adjust(customerID string, points int64, key string) app.Entry {
	f.t.Helper()
	e, err := f.svc.Adjust(f.ctx, f.shop, app.Adjustment{CustomerID: customerID, Points: points,
		Reason: "goodwill", Staff: "anna@acme.test", IdempotencyKey: key})
	if err != nil {
		f.t.Fatalf("adjust %s by %d: %v", customerID, points, err)
	}
	return e
}

// adjust0 creates the customer with 10 available points.
func (f *fixture) adjust0(customerID string) {
	f.t.Helper()
	f.svc.WelcomeCustomer(f.ctx, f.shop, app.CustomerCreated{Customer: *customer(customerID)})
	f.adjust(customerID, 10, "seed-"+customerID)
}

func TestAdjust(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("1", "c1", "100.00"))
	t.Run("an adjustment names the staff member and the reason", func(t *testing.T) {
		e := f.adjust("c1", 25, "req-1")
		if e.Kind != app.KindAdjust || e.Cause.Staff != "anna@acme.test" || e.Cause.Reason != "goodwill" {
			t.Fatalf("entry = %+v", e)
		}
		f.balance("c1", 125, 0)
	})
	t.Run("a retried request adjusts once", func(t *testing.T) {
		_, err := f.svc.Adjust(f.ctx, f.shop, app.Adjustment{CustomerID: "c1", Points: 25, Reason: "goodwill", Staff: "anna", IdempotencyKey: "req-1"})
		if !errors.Is(err, app.ErrDuplicate) {
			t.Fatalf("err = %v, want duplicate", err)
		}
		f.balance("c1", 125, 0)
	})
	t.Run("a mistake is undone by another entry, not by editing", func(t *testing.T) {
		f.adjust("c1", -25, "req-1-undo")
		f.balance("c1", 100, 0)
		h, _ := f.svc.History(f.ctx, f.shop, "c1", 10)
		if len(h) != 3 {
			t.Fatalf("history has %d entries, want earn, adjust and its undo", len(h))
		}
	})
	invalid := []struct {
		name string
		adj  app.Adjustment
		code string
	}{
		{"without a reason", app.Adjustment{CustomerID: "c1", Points: 5, Staff: "anna", IdempotencyKey: "x1"}, app.EInvalid},
		{"without a staff member", app.Adjustment{CustomerID: "c1", Points: 5, Reason: "r", IdempotencyKey: "x2"}, app.EInvalid},
		{"of zero points", app.Adjustment{CustomerID: "c1", Reason: "r", Staff: "anna", IdempotencyKey: "x3"}, app.EInvalid},
		{"taking more than the customer has", app.Adjustment{CustomerID: "c1", Points: -101, Reason: "r", Staff: "anna", IdempotencyKey: "x4"}, app.EInsufficientPoint},
		{"of an unknown customer", app.Adjustment{CustomerID: "nobody", Points: 5, Reason: "r", Staff: "anna", IdempotencyKey: "x5"}, app.ENotFound},
	}
	for _, tt := range invalid {
		t.Run("is refused "+tt.name, func(t *testing.T) {
			if _, err := f.svc.Adjust(f.ctx, f.shop, tt.adj); app.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
		})
	}
	f.balance("c1", 100, 0)
}

func TestWelcomeCustomer(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.SignupBonus = 50 })
	joined := app.CustomerCreated{Customer: app.CustomerRef{PlatformID: "706405506930370084", Email: "bob@biller.com"}}
	for i := 0; i < 2; i++ {
		if _, err := f.svc.WelcomeCustomer(f.ctx, f.shop, joined); err != nil {
			t.Fatal(err)
		}
	}
	f.balance("706405506930370084", 50, 0)
}

func TestLedgerIsAppendOnly(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("1", "c1", "10.00"))
	for _, stmt := range []string{`UPDATE ledger_entries SET points = 1000`, `DELETE FROM ledger_entries`} {
		if _, err := f.store.SQL().Exec(stmt); err == nil {
			t.Errorf("%q succeeded; the ledger must refuse it", stmt)
		}
	}
	f.balance("c1", 10, 0)
}

func TestIdempotencyIsADatabaseRule(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("1", "c1", "10.00"))
	_, err := f.store.SQL().Exec(`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_order, idempotency_key)
		SELECT shop_id, customer_id, kind, points, 0, 0, cause_order, idempotency_key FROM ledger_entries`)
	if err == nil {
		t.Fatal("a second entry with the same idempotency key was accepted")
	}
}

func TestConcurrentOperationsLoseNoUpdate(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("seed", "c1", "1000.00"))
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			switch i % 5 {
			case 0, 1: // new orders
				_, err = f.svc.AccrueOrder(f.ctx, f.shop, paid("o"+strconv.Itoa(i), "c1", "10.00"))
			case 2: // a refund of the seed order
				_, err = f.svc.ReverseRefund(f.ctx, f.shop, refund("seed", "r"+strconv.Itoa(i), "1.00"))
			case 3: // staff adding points
				_, err = f.svc.Adjust(f.ctx, f.shop, app.Adjustment{CustomerID: "c1", Points: 3, Reason: "r", Staff: "s", IdempotencyKey: "a" + strconv.Itoa(i)})
			case 4: // the same order delivered again and again
				_, err = f.svc.AccrueOrder(f.ctx, f.shop, paid("dup", "c1", "7.00"))
			}
			if err != nil {
				errs <- fmt.Errorf("op %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// 1000 + 20 orders × 10 − 10 refunds × 1 + 10 adjustments × 3 + 7 once
	f.balance("c1", 1000+200-10+30+7, 0)
}

func TestAddShop(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name string
		shop app.Shop
		code string
	}{
		{"a second registration of the same shop", app.Shop{Platform: app.Shopify, Domain: "ACME.myshopify.com"}, app.EConflict},
		{"a Shopify domain that is not myshopify.com", app.Shop{Platform: app.Shopify, Domain: "acme.com"}, app.EInvalid},
		{"an unknown platform", app.Shop{Platform: "magento", Domain: "x"}, app.EInvalid},
		{"a bad currency", app.Shop{Platform: app.Shopify, Domain: "b.myshopify.com", Currency: "EURO"}, app.EInvalid},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if _, err := f.svc.AddShop(f.ctx, tt.shop, nil); app.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

// A batch of paid orders ends in exactly the ledger the same orders make one
// by one: duplicates inside the batch, a customer with two orders, a guest,
// a cancelled order, a refund that came first and an order that earns
// nothing.
func TestAccrueOrdersInOneTransaction(t *testing.T) {
	guest := paid("g", "", "30.00")
	guest.Customer = nil
	batch := []app.OrderPaid{
		paid("1", "c2", "100.00"), paid("2", "c1", "40.00"), paid("1", "c2", "100.00"),
		guest, paid("3", "c1", "12.50"), paid("cancelled", "c3", "80.00"),
		paid("early-refund", "c3", "200.00"), paid("zero", "c4", "0.50"),
	}
	prepare := func(f *fixture) {
		f.cancel("cancelled")
		f.refund(refund("early-refund", "r1", "50.00"))
	}
	type result struct {
		skipped app.Skipped
		points  int64
	}
	run := func(apply func(f *fixture) []app.Outcome) (map[string]int64, []result) {
		f := newFixture(t, nil)
		prepare(f)
		var results []result
		for _, out := range apply(f) {
			results = append(results, result{out.Skipped, out.Points()})
		}
		balances := map[string]int64{}
		for _, c := range []string{"c1", "c2", "c3", "c4"} {
			got, err := f.svc.Balance(f.ctx, f.shop, c)
			if err != nil {
				t.Fatalf("balance of %s: %v", c, err)
			}
			balances[c] = got.Balance
		}
		f.reconciles()
		return balances, results
	}
	oneByOne, wantResults := run(func(f *fixture) []app.Outcome {
		var outs []app.Outcome
		for _, e := range batch {
			outs = append(outs, f.accrue(e))
		}
		return outs
	})
	batched, gotResults := run(func(f *fixture) []app.Outcome {
		outs, err := f.svc.AccrueOrders(f.ctx, f.shop, batch)
		if err != nil {
			t.Fatalf("accrue batch: %v", err)
		}
		return outs
	})
	if fmt.Sprint(batched) != fmt.Sprint(oneByOne) {
		t.Errorf("balances after the batch = %v, one by one = %v", batched, oneByOne)
	}
	if fmt.Sprint(gotResults) != fmt.Sprint(wantResults) {
		t.Errorf("outcomes of the batch = %v, one by one = %v (in the order given)", gotResults, wantResults)
	}
	if want := map[string]int64{"c1": 52, "c2": 100, "c3": 150, "c4": 0}; fmt.Sprint(oneByOne) != fmt.Sprint(want) {
		t.Errorf("balances = %v, want %v", oneByOne, want)
	}
}

// Batches lock orders before customers, as refunds and cancellations do, so
// none of them running at once waits for another in a circle (PostgreSQL
// would abort one with a deadlock error).
func TestBatchesRefundsAndCancellationsRunningAtOnceNeverDeadlock(t *testing.T) {
	f := newFixture(t, nil)
	for round := range 15 {
		id := func(n int) string { return fmt.Sprintf("r%d-o%d", round, n) }
		// Customers in the opposite order of their orders, and an order
		// paid before, delivered again behind another of its customer's.
		f.accrue(paid(id(0), "c9", "10.00"))
		batch := []app.OrderPaid{paid(id(1), "c9", "10.00"), paid(id(2), "c5", "10.00"),
			paid(id(3), "c1", "10.00"), paid(id(0), "c9", "10.00")}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		wg.Add(4)
		go func() {
			defer wg.Done()
			_, err := f.svc.AccrueOrders(f.ctx, f.shop, batch)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := f.svc.CancelOrder(f.ctx, f.shop, app.OrderCancelled{OrderID: id(0), Customer: customer("c9"), CancelledAt: testNow})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := f.svc.ReverseRefund(f.ctx, f.shop, app.OrderRefunded{OrderID: id(3), RefundID: id(3) + "-r", Customer: customer("c1"), Lines: app.MustAmount("5.00")})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := f.svc.AccrueOrders(f.ctx, f.shop, []app.OrderPaid{paid(id(3), "c1", "10.00"), paid(id(2), "c5", "10.00")})
			errs <- err
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	f.reconciles()
}

// A plain batch (new orders of distinct signed-in customers, no codes) is
// credited with a few statements for all its orders; it must leave exactly
// the ledger, lots and orders that crediting them one by one leaves, under
// every program that changes how a credit is written.
func TestAPlainBatchWritesWhatOneByOneWrites(t *testing.T) {
	programs := map[string]func(*app.Program){
		"the default program":        nil,
		"pending points that expire": func(p *app.Program) { p.PendingDays, p.ExpiryDays = 14, 365 },
		"negative balances allowed":  func(p *app.Program) { p.AllowNegative = true },
	}
	batch := []app.OrderPaid{paid("7", "c3", "70.00"), paid("5", "c1", "50.00"), paid("6", "c2", "0.40"), paid("9", "c9", "90.00")}
	batch[3].Name, batch[3].TaxesIncluded = "#1009", true
	for name, edit := range programs {
		t.Run(name, func(t *testing.T) {
			state := func(apply func(f *fixture) []app.Outcome) string {
				f := newFixture(t, edit)
				f.accrue(paid("1", "c1", "30.00")) // c1 is known, with points
				// c3 spent an order's points, and the order was then
				// cancelled: below zero where the program allows it.
				f.accrue(paid("3a", "c3", "20.00"))
				f.adjust("c3", -20, "spent")
				f.cancel("3a")
				var b strings.Builder
				for _, out := range apply(f) {
					fmt.Fprintf(&b, "outcome %s %d;", out.Skipped, out.Points())
				}
				rows, err := f.store.SQL().Query(`SELECT c.platform_id, c.balance, c.pending, c.email,
					coalesce((SELECT string_agg(l.points || '/' || l.remaining || '/' || l.pending || '/' || coalesce(l.expires_at::text, '-') || '/' || l.available_at::text, ',' ORDER BY l.id) FROM lots l WHERE l.customer_id = c.id), ''),
					coalesce((SELECT string_agg(e.kind || e.points || '@' || e.balance_after || '/' || e.pending_after || ':' || e.idempotency_key, ',' ORDER BY e.idempotency_key) FROM ledger_entries e WHERE e.customer_id = c.id), ''),
					coalesce((SELECT string_agg(o.platform_id || ':' || o.status || ':' || o.name || ':' || o.eligible || ':' || o.points_earned || ':' || o.taxes_included || ':' || coalesce(o.paid_at::text, '-'), ',' ORDER BY o.platform_id) FROM orders o WHERE o.customer_id = c.id), ''),
					c.last_activity_at
					FROM customers c ORDER BY c.platform_id`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var id, email, lots, entries, orders string
					var balance, pending int64
					var active time.Time
					if err := rows.Scan(&id, &balance, &pending, &email, &lots, &entries, &orders, &active); err != nil {
						t.Fatal(err)
					}
					activity := active.UTC().String()
					if active.After(testNow) {
						activity = "since joining" // the database's clock, not the test's
					}
					fmt.Fprintf(&b, "\n%s %d %d %s lots[%s] entries[%s] orders[%s] active %s", id, balance, pending, email, lots, entries, orders, activity)
				}
				f.reconciles()
				return b.String()
			}
			oneByOne := state(func(f *fixture) []app.Outcome {
				var outs []app.Outcome
				for _, e := range batch {
					outs = append(outs, f.accrue(e))
				}
				return outs
			})
			batched := state(func(f *fixture) []app.Outcome {
				outs, err := f.svc.AccrueOrders(f.ctx, f.shop, batch)
				if err != nil {
					t.Fatalf("accrue batch: %v", err)
				}
				return outs
			})
			if batched != oneByOne {
				t.Errorf("after the batch:%s\n\none by one:%s", batched, oneByOne)
			}
		})
	}
}
