package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
)

// clock is a time the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newClockFixture is newFixture with a clock the test moves, starting at
// testNow.
func newClockFixture(t *testing.T, edit func(*app.Program)) (*fixture, *clock) {
	t.Helper()
	st, _ := apptest.NewDB(t)
	clk := &clock{t: testNow}
	svc := app.NewService(st, clk.now)
	prog := app.DefaultProgram(0)
	if edit != nil {
		edit(&prog)
	}
	shop, err := svc.AddShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: "acme.myshopify.com", Currency: "PLN"}, &prog)
	if err != nil {
		t.Fatalf("add shop: %v", err)
	}
	return &fixture{t: t, ctx: context.Background(), store: st, svc: svc, shop: shop}, clk
}

// days is a moment n days (and extra) after testNow.
func days(n int, extra ...time.Duration) time.Time {
	t := testNow.AddDate(0, 0, n)
	for _, d := range extra {
		t = t.Add(d)
	}
	return t
}

// earnAt credits an order paid at the clock's time.
func (f *fixture) earnAt(clk *clock, orderID, customerID, subtotal string) app.Outcome {
	f.t.Helper()
	e := paid(orderID, customerID, subtotal)
	e.PaidAt = clk.now()
	return f.accrue(e)
}

func (f *fixture) expire() app.Sweep {
	f.t.Helper()
	s, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{})
	if err != nil {
		f.t.Fatalf("expire points: %v", err)
	}
	f.reconciles()
	return s
}

func (f *fixture) release() app.Sweep {
	f.t.Helper()
	s, err := f.svc.ReleasePending(f.ctx, app.SweepOptions{})
	if err != nil {
		f.t.Fatalf("release pending points: %v", err)
	}
	f.reconciles()
	return s
}

// remaining is what each of the customer's lots still holds, in spend order.
func (f *fixture) remaining(customerID string) []int64 {
	f.t.Helper()
	c, err := f.svc.Balance(f.ctx, f.shop, customerID)
	if err != nil {
		f.t.Fatal(err)
	}
	lots, err := f.store.Lots(f.ctx, c.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]int64, len(lots))
	for i, l := range lots {
		out[i] = l.Remaining
	}
	return out
}

// expiries are the customer's expire entries, oldest first.
func (f *fixture) expiries(customerID string) []app.Entry {
	f.t.Helper()
	h, err := f.svc.History(f.ctx, f.shop, customerID, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []app.Entry
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Kind == app.KindExpire {
			out = append(out, h[i])
		}
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExpiryPerLot(t *testing.T) {
	perLot := func(days int) func(*app.Program) { return func(p *app.Program) { p.ExpiryDays = days } }

	t.Run("a lot expires ExpiryDays after it was earned, not a moment before", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(30))
		f.earnAt(clk, "1", "c1", "100")

		clk.set(days(30, -time.Second))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("expired %v a second early", s)
		}
		f.balance("c1", 100, 0)

		clk.set(days(30))
		if s := f.expire(); s.Lots != 1 || s.Points != 100 || s.Customers != 1 {
			t.Fatalf("sweep = %v, want one lot of 100", s)
		}
		f.balance("c1", 0, 0)
		exp := f.expiries("c1")
		if len(exp) != 1 || exp[0].Points != -100 || exp[0].BalanceAfter != 0 || !strings.HasPrefix(exp[0].IdempotencyKey, "expire:lot:") ||
			exp[0].Cause.Job == "" || !exp[0].CreatedAt.Equal(days(30)) {
			t.Fatalf("expire entries = %+v", exp)
		}
	})

	t.Run("a second sweep expires nothing more", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(30))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(31))
		f.expire()
		if s := f.expire(); s != (app.Sweep{}) {
			t.Fatalf("second sweep = %v, want nothing", s)
		}
		f.balance("c1", 0, 0)
		if n := len(f.expiries("c1")); n != 1 {
			t.Fatalf("%d expire entries, want 1", n)
		}
	})

	t.Run("spending takes the soonest-expiring lots first, so only the newest points are left to expire", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(365))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(10))
		f.earnAt(clk, "2", "c1", "100")
		clk.set(days(20))
		f.earnAt(clk, "3", "c1", "100")
		clk.set(days(30))
		f.adjust("c1", -150, "spend")
		if got := f.remaining("c1"); !equal(got, []int64{0, 50, 100}) {
			t.Fatalf("lots hold %v after spending 150, want [0 50 100]", got)
		}

		clk.set(days(365))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("the spent first lot expired: %v", s)
		}
		clk.set(days(375))
		if s := f.expire(); s.Points != 50 {
			t.Fatalf("day 375 expired %v, want 50 points", s)
		}
		f.balance("c1", 100, 0)
		clk.set(days(385))
		if s := f.expire(); s.Points != 100 {
			t.Fatalf("day 385 expired %v, want 100 points", s)
		}
		f.balance("c1", 0, 0)
	})

	t.Run("lots expiring together give one entry each, with running balances", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(30))
		f.earnAt(clk, "1", "c1", "100")
		f.earnAt(clk, "2", "c1", "40")
		f.earnAt(clk, "3", "c2", "7")
		clk.set(days(40))
		if s := f.expire(); s.Lots != 3 || s.Points != 147 || s.Customers != 2 {
			t.Fatalf("sweep = %v", s)
		}
		exp := f.expiries("c1")
		if len(exp) != 2 || exp[0].Points != -100 || exp[0].BalanceAfter != 40 || exp[1].Points != -40 || exp[1].BalanceAfter != 0 {
			t.Fatalf("expire entries = %+v", exp)
		}
		f.balance("c1", 0, 0)
		f.balance("c2", 0, 0)
	})

	t.Run("a refund takes the order's own points, not the soonest-expiring ones", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(365))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(10))
		f.earnAt(clk, "2", "c1", "100")
		f.refund(refund("2", "r1", "30"))
		if got := f.remaining("c1"); !equal(got, []int64{100, 70}) {
			t.Fatalf("lots hold %v after refunding 30 of the second order, want [100 70]", got)
		}
		clk.set(days(366))
		if s := f.expire(); s.Points != 100 {
			t.Fatalf("sweep = %v, want the first order's 100", s)
		}
		f.balance("c1", 70, 0)
	})

	t.Run("a pending lot still unreleased at its expiry expires from the pending balance", func(t *testing.T) {
		// The program keeps expiry after the pending period, but a release
		// job that is late (or down) must not keep points alive.
		f, clk := newClockFixture(t, func(p *app.Program) { p.ExpiryDays, p.PendingDays = 10, 5 })
		f.earnAt(clk, "1", "c1", "100")
		f.balance("c1", 0, 100)
		clk.set(days(10))
		if s := f.expire(); s.Points != 100 {
			t.Fatalf("sweep = %v", s)
		}
		f.balance("c1", 0, 0)
		if exp := f.expiries("c1"); exp[0].PendingAfter != 0 || exp[0].BalanceAfter != 0 {
			t.Fatalf("expire entry = %+v", exp[0])
		}
		clk.set(days(30))
		if s := f.release(); s.Lots != 0 {
			t.Fatalf("released an expired lot: %v", s)
		}
		f.balance("c1", 0, 0)
	})

	t.Run("a program that never expires keeps points for good", func(t *testing.T) {
		f, clk := newClockFixture(t, nil)
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(20 * 365))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("sweep = %v", s)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("a lot expires on its date even while its shop is uninstalled", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(30))
		f.earnAt(clk, "1", "c1", "100")
		if err := f.store.SetShopStatus(f.ctx, f.shop.ID, app.ShopUninstalled); err != nil {
			t.Fatal(err)
		}
		clk.set(days(31))
		if s := f.expire(); s.Points != 100 {
			t.Fatalf("sweep = %v", s)
		}
		f.balance("c1", 0, 0)
	})

	t.Run("small batches expire everything, one transaction each", func(t *testing.T) {
		f, clk := newClockFixture(t, perLot(30))
		for i, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
			f.earnAt(clk, "o"+c, c, "10")
			f.earnAt(clk, "p"+c, c, strings.Repeat("1", i+1))
		}
		clk.set(days(30))
		s, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 2, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if s.Lots != 10 || s.Batches < 3 {
			t.Fatalf("sweep = %v, want 10 lots in 3 or more batches", s)
		}
		f.reconciles()
	})
}

func TestExpiryByInactivity(t *testing.T) {
	idle := func(months int) func(*app.Program) { return func(p *app.Program) { p.InactivityMonths = months } }
	months := func(n int, extra ...time.Duration) time.Time {
		t := testNow.AddDate(0, n, 0)
		for _, d := range extra {
			t = t.Add(d)
		}
		return t
	}

	t.Run("the whole balance expires after InactivityMonths without activity", func(t *testing.T) {
		f, clk := newClockFixture(t, idle(6))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(3))
		f.earnAt(clk, "2", "c1", "50")

		clk.set(months(6, 3*24*time.Hour-time.Second))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("expired a second early: %v", s)
		}
		clk.set(months(6, 3*24*time.Hour))
		if s := f.expire(); s.Points != 150 || s.Lots != 2 || s.Customers != 1 {
			t.Fatalf("sweep = %v, want both lots, 150 points", s)
		}
		f.balance("c1", 0, 0)
		exp := f.expiries("c1")
		if len(exp) != 1 || exp[0].Points != -150 || !strings.HasPrefix(exp[0].IdempotencyKey, "expire:inactive:") {
			t.Fatalf("expire entries = %+v, want one of -150", exp)
		}
		if s := f.expire(); s != (app.Sweep{}) {
			t.Fatalf("second sweep = %v", s)
		}
	})

	t.Run("any entry but an expiry restarts the clock", func(t *testing.T) {
		f, clk := newClockFixture(t, idle(6))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(months(5))
		f.adjust("c1", -10, "spend")
		clk.set(months(6, time.Hour))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("expired despite a redemption a month ago: %v", s)
		}
		clk.set(months(11))
		if s := f.expire(); s.Points != 90 {
			t.Fatalf("sweep = %v, want 90", s)
		}
		f.balance("c1", 0, 0)
	})

	t.Run("an uninstalled shop's idle balances wait until it is back", func(t *testing.T) {
		f, clk := newClockFixture(t, idle(6))
		f.earnAt(clk, "1", "c1", "100")
		if err := f.store.SetShopStatus(f.ctx, f.shop.ID, app.ShopUninstalled); err != nil {
			t.Fatal(err)
		}
		clk.set(months(7))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("sweep = %v", s)
		}
		if err := f.store.SetShopStatus(f.ctx, f.shop.ID, app.ShopActive); err != nil {
			t.Fatal(err)
		}
		if s := f.expire(); s.Points != 100 {
			t.Fatalf("sweep = %v", s)
		}
	})

	t.Run("an order that earns nothing is activity too", func(t *testing.T) {
		f, clk := newClockFixture(t, idle(6))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(months(5))
		if out := f.earnAt(clk, "2", "c1", "0.50"); out.Skipped != app.SkipZeroPoints {
			t.Fatalf("outcome = %+v", out)
		}
		clk.set(months(6, time.Hour))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("expired despite an order a month ago: %v", s)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("expiry is no activity; points earned after it make a new idle period that expires again", func(t *testing.T) {
		f, clk := newClockFixture(t, idle(1))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(months(1))
		f.expire()
		clk.set(months(1, time.Hour))
		if s := f.expire(); s.Lots != 0 {
			t.Fatalf("sweep = %v", s)
		}
		f.earnAt(clk, "2", "c1", "20")
		clk.set(months(2, 2*time.Hour))
		if s := f.expire(); s.Points != 20 {
			t.Fatalf("sweep = %v, want the new 20", s)
		}
		if exp := f.expiries("c1"); len(exp) != 2 || exp[0].IdempotencyKey == exp[1].IdempotencyKey {
			t.Fatalf("expire entries = %+v", exp)
		}
		f.balance("c1", 0, 0)
	})

	t.Run("pending points expire with the balance", func(t *testing.T) {
		f, clk := newClockFixture(t, func(p *app.Program) { p.InactivityMonths, p.PendingDays = 1, 60 })
		f.earnAt(clk, "1", "c1", "100")
		f.adjust("c1", 5, "goodwill")
		f.balance("c1", 5, 100)
		clk.set(months(1, time.Hour))
		if s := f.expire(); s.Points != 105 || s.Lots != 2 {
			t.Fatalf("sweep = %v, want 105 in two lots", s)
		}
		f.balance("c1", 0, 0)
		if exp := f.expiries("c1"); exp[0].BalanceAfter != 0 || exp[0].PendingAfter != 0 {
			t.Fatalf("expire entry = %+v", exp[0])
		}
		clk.set(days(61))
		if s := f.release(); s.Lots != 0 {
			t.Fatalf("released expired points: %v", s)
		}
	})
}

func TestReleasePending(t *testing.T) {
	pending := func(days int) func(*app.Program) { return func(p *app.Program) { p.PendingDays = days } }

	t.Run("pending points become spendable on their day, without a ledger entry", func(t *testing.T) {
		f, clk := newClockFixture(t, pending(14))
		f.earnAt(clk, "1", "c1", "100")
		f.balance("c1", 0, 100)

		clk.set(days(14, -time.Second))
		if s := f.release(); s.Lots != 0 {
			t.Fatalf("released a second early: %v", s)
		}
		clk.set(days(14))
		if s := f.release(); s.Lots != 1 || s.Points != 100 || s.Customers != 1 {
			t.Fatalf("release = %v", s)
		}
		f.balance("c1", 100, 0)
		if h, _ := f.svc.History(f.ctx, f.shop, "c1", 10); len(h) != 1 {
			t.Fatalf("history = %+v, want only the earn entry", h)
		}
		if s := f.release(); s != (app.Sweep{}) {
			t.Fatalf("second release = %v", s)
		}
		f.adjust("c1", -100, "spend") // now spendable
		f.balance("c1", 0, 0)
	})

	t.Run("a refund during the pending period cancels the order's pending points first", func(t *testing.T) {
		f, clk := newClockFixture(t, pending(14))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(14))
		f.release()
		clk.set(days(15))
		f.earnAt(clk, "2", "c1", "60")
		f.balance("c1", 100, 60)

		f.refund(refund("2", "r1", "30"))
		f.balance("c1", 100, 30)
		f.refund(refund("2", "r2", "30"))
		f.balance("c1", 100, 0)
		clk.set(days(29))
		if s := f.release(); s.Points != 0 {
			t.Fatalf("release = %v, want nothing left to release", s)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("the widget shows pending points by the day they become spendable", func(t *testing.T) {
		f, clk := newClockFixture(t, pending(14))
		f.earnAt(clk, "1", "c1", "100")
		clk.set(days(0, 5*time.Hour))
		f.earnAt(clk, "2", "c1", "20")
		clk.set(days(3))
		f.earnAt(clk, "3", "c1", "7")
		v, err := f.svc.CustomerView(f.ctx, f.shop, "c1")
		if err != nil {
			t.Fatal(err)
		}
		day := func(n int) time.Time { return days(n).Truncate(24 * time.Hour) }
		want := []app.ReleasingPoints{{Points: 120, On: day(14)}, {Points: 7, On: day(17)}}
		if len(v.Releasing) != 2 || v.Releasing[0] != want[0] || v.Releasing[1] != want[1] {
			t.Fatalf("releasing = %+v, want %+v", v.Releasing, want)
		}
		clk.set(days(14, 5*time.Hour))
		f.release()
		if v, _ := f.svc.CustomerView(f.ctx, f.shop, "c1"); len(v.Releasing) != 1 || v.Releasing[0] != want[1] {
			t.Fatalf("after the first release: releasing = %+v, want %+v", v.Releasing, want[1:])
		}
	})

	t.Run("a customer who owes points repays them from what is released", func(t *testing.T) {
		f, clk := newClockFixture(t, func(p *app.Program) { p.PendingDays, p.AllowNegative = 14, true })
		f.earnAt(clk, "A", "c1", "200")
		clk.set(days(14))
		f.release()
		f.adjust("c1", -200, "spend")
		// Order A is refunded after its points were spent: the customer
		// owes them.
		f.refund(refund("A", "r1", "200"))
		f.balance("c1", -200, 0)
		clk.set(days(15))
		f.earnAt(clk, "B", "c1", "80")
		f.balance("c1", -200, 80)
		clk.set(days(29))
		if s := f.release(); s.Points != 80 {
			t.Fatalf("release = %v", s)
		}
		f.balance("c1", -120, 0)
		clk.set(days(30))
		f.earnAt(clk, "C", "c1", "150")
		clk.set(days(44))
		f.release()
		f.balance("c1", 30, 0)
		if got := f.remaining("c1"); !equal(got, []int64{0, 0, 30}) {
			t.Fatalf("lots hold %v, want [0 0 30]: only the positive balance", got)
		}
	})
}
