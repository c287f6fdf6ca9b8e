package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
)

var sweepNow = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// sweepFixture is a store with one shop whose program expires lots, and a
// service whose clock stands at sweepNow.
type sweepFixture struct {
	t    testing.TB
	ctx  context.Context
	st   *store.Store
	svc  *app.Service
	shop app.Shop
}

func newSweepFixture(t testing.TB, domain string) *sweepFixture {
	t.Helper()
	st, _ := apptest.NewDB(t)
	f := &sweepFixture{t: t, ctx: context.Background(), st: st, svc: app.NewService(st, func() time.Time { return sweepNow })}
	f.shop = f.addShop(domain)
	return f
}

func (f *sweepFixture) addShop(domain string) app.Shop {
	f.t.Helper()
	prog := app.DefaultProgram(0)
	prog.ExpiryDays = 365
	shop, err := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: domain}, &prog)
	if err != nil {
		f.t.Fatalf("add shop: %v", err)
	}
	return shop
}

// seedLots gives the shop customers customers holding lotsEach lots of 10
// points each, earned a year before sweepNow and expiring an hour before
// it, with the earn entries and balances that explain them: set-based, three
// statements however many lots.
func seedLots(tb testing.TB, db *sql.DB, shopID int64, customers, lotsEach int) {
	tb.Helper()
	earned, expires := sweepNow.AddDate(-1, 0, 0), sweepNow.Add(-time.Hour)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO customers (shop_id, platform_id, balance, last_activity_at)
			SELECT $1, 'seed-' || g, $2, $3 FROM generate_series(1, $4) g`,
			[]any{shopID, 10 * lotsEach, earned, customers}},
		{`WITH e AS (
			INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after,
				cause_job, idempotency_key, created_at)
			SELECT c.shop_id, c.id, 'earn', 10, 10 * k, 0, 'seed', 'seed:' || c.id || ':' || k, $2
			FROM customers c CROSS JOIN generate_series(1, $3) k WHERE c.shop_id = $1
			ORDER BY c.id, k
			RETURNING id, customer_id, points, created_at)
		INSERT INTO lots (customer_id, entry_id, points, remaining, earned_at, available_at, expires_at)
			SELECT customer_id, id, points, points, created_at, created_at, $4 FROM e`,
			[]any{shopID, earned, lotsEach, expires}},
		{`ANALYZE customers, lots, ledger_entries`, nil},
	}
	for _, s := range stmts {
		if _, err := db.Exec(s.sql, s.args...); err != nil {
			tb.Fatalf("seed lots: %v", err)
		}
	}
}

func (f *sweepFixture) reconciles() {
	f.t.Helper()
	d, err := f.svc.Reconcile(f.ctx, f.shop)
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	for _, x := range d {
		f.t.Errorf("ledger does not reconcile: %s", x)
	}
}

// count runs a query that returns one number.
func (f *sweepFixture) count(query string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.st.SQL().QueryRowContext(f.ctx, query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestExpirySweepConcurrency(t *testing.T) {
	t.Run("two sweeps at once, while customers spend, expire every point exactly once", func(t *testing.T) {
		f := newSweepFixture(t, "acme.myshopify.com")
		const customers, lotsEach = 300, 5
		seedLots(t, f.st.SQL(), f.shop.ID, customers, lotsEach)

		ctx, stop := context.WithCancel(f.ctx)
		var wg sync.WaitGroup
		sweeps := make([]app.Sweep, 2)
		errs := make([]error, 2)
		for i := range sweeps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Small batches, so the two interleave many times.
				sweeps[i], errs[i] = f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 40})
			}()
		}
		var spent int64
		spender := make(chan struct{})
		go func() {
			defer close(spender)
			for n := 0; ctx.Err() == nil; n++ {
				_, err := f.svc.Adjust(f.ctx, f.shop, app.Adjustment{CustomerID: fmt.Sprintf("seed-%d", 1+rand.IntN(customers)),
					Points: -15, Reason: "redeemed at the till", Staff: "till", IdempotencyKey: fmt.Sprint("spend-", n)})
				switch {
				case err == nil:
					spent += 15
				case app.ErrorCode(err) != app.EInsufficientPoint:
					t.Errorf("spend: %v", err)
					return
				}
			}
		}()
		wg.Wait()
		stop()
		<-spender
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// A sweep leaves what a busy customer holds to the next run.
		rest, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 40})
		if err != nil {
			t.Fatal(err)
		}

		total := sweeps[0].Points + sweeps[1].Points + rest.Points
		if want := int64(customers*lotsEach*10) - spent; total != want {
			t.Errorf("expired %d points (%v, %v, then %v) and spent %d; want %d expired", total, sweeps[0], sweeps[1], rest, spent, want)
		}
		if sweeps[0].Lots == 0 || sweeps[1].Lots == 0 {
			t.Logf("one sweep found nothing to do: %v, %v", sweeps[0], sweeps[1])
		}
		entries := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'expire'`)
		if lots := int64(sweeps[0].Lots + sweeps[1].Lots + rest.Lots); entries != lots {
			t.Errorf("%d expire entries for %d expired lots", entries, lots)
		}
		if n := f.count(`SELECT count(*) FROM lots WHERE remaining > 0`); n != 0 {
			t.Errorf("%d lots still hold points", n)
		}
		if n := f.count(`SELECT count(*) FROM customers WHERE balance <> 0 OR pending <> 0`); n != 0 {
			t.Errorf("%d customers still hold points", n)
		}
		f.reconciles()
	})
}

func TestExpirySweepResumes(t *testing.T) {
	t.Run("a batch that fails mid-way leaves nothing half done, and the rerun finishes without double expiry", func(t *testing.T) {
		f := newSweepFixture(t, "acme.myshopify.com")
		const customers, lotsEach = 12, 3
		seedLots(t, f.st.SQL(), f.shop.ID, customers, lotsEach)
		// Batches go soonest expiry first: here, lot by lot. The crash: a lot
		// of the last customer refuses to be emptied, in the middle of its
		// batch's statement, after its entries went in.
		db := f.st.SQL()
		last := f.count(`SELECT max(id) FROM lots`)
		for _, stmt := range []string{
			fmt.Sprintf(`UPDATE lots SET expires_at = expires_at - (%d - id) * interval '1 second'`, last),
			`CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'worker died'; END $$`,
			fmt.Sprintf(`CREATE TRIGGER crash BEFORE UPDATE ON lots FOR EACH ROW WHEN (OLD.id = %d) EXECUTE FUNCTION crash()`, last),
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		s, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 6, Workers: 1})
		if err == nil {
			t.Fatalf("the sweep did not fail: %v", s)
		}
		done := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'expire'`)
		if done == 0 || done >= customers*lotsEach || done != int64(s.Lots) {
			t.Fatalf("after the crash: %d expire entries, sweep reported %v", done, s)
		}
		if n := f.count(`SELECT count(*) FROM lots WHERE remaining = 0`); n != done {
			t.Fatalf("%d lots emptied but %d expire entries", n, done)
		}
		f.reconciles()

		if _, err := db.Exec(`DROP TRIGGER crash ON lots`); err != nil {
			t.Fatal(err)
		}
		rest, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 6, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := done + int64(rest.Lots); got != customers*lotsEach {
			t.Fatalf("%d + %d lots expired, want %d", done, rest.Lots, customers*lotsEach)
		}
		if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'expire'`); n != customers*lotsEach {
			t.Fatalf("%d expire entries, want one per lot", n)
		}
		f.reconciles()
	})

	t.Run("a run stopped between batches leaves whole batches, and the next run does the rest", func(t *testing.T) {
		f := newSweepFixture(t, "acme.myshopify.com")
		seedLots(t, f.st.SQL(), f.shop.ID, 10, 2)
		ctx, stop := context.WithCancel(f.ctx)
		f.st.OnLedgerChange(func(context.Context, []store.CustomerKey) { stop() }) // the worker shuts down after one batch
		s, err := f.svc.ExpirePoints(ctx, app.SweepOptions{Batch: 4, Workers: 1})
		if !errors.Is(err, context.Canceled) || s.Batches != 1 {
			t.Fatalf("sweep = %v, %v; want one batch, then cancelled", s, err)
		}
		f.reconciles()
		rest, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Batch: 4})
		if err != nil || s.Lots+rest.Lots != 20 {
			t.Fatalf("rest = %v, %v; want the other %d lots", rest, err, 20-s.Lots)
		}
		f.reconciles()
	})
}

func TestSweepsTellObservers(t *testing.T) {
	f := newSweepFixture(t, "acme.myshopify.com")
	other := f.addShop("other.myshopify.com")
	seedLots(t, f.st.SQL(), f.shop.ID, 3, 2)
	seedLots(t, f.st.SQL(), other.ID, 2, 1)
	// One customer holds a pending lot due for release.
	if _, err := f.st.SQL().Exec(`UPDATE lots SET pending = true, available_at = $1, expires_at = NULL
		WHERE id = (SELECT min(id) FROM lots)`, sweepNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SQL().Exec(`UPDATE customers SET balance = balance - 10, pending = 10
		WHERE id = (SELECT customer_id FROM lots WHERE id = (SELECT min(id) FROM lots))`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	heard := map[string]int{}
	f.st.OnLedgerChange(func(_ context.Context, changed []store.CustomerKey) {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range changed {
			heard[fmt.Sprintf("%d/%s", k.ShopID, k.PlatformID)]++
		}
	})

	if s, err := f.svc.ReleasePending(f.ctx, app.SweepOptions{}); err != nil || s.Lots != 1 {
		t.Fatalf("release = %v, %v", s, err)
	}
	if want := fmt.Sprintf("%d/seed-1", f.shop.ID); len(heard) != 1 || heard[want] != 1 {
		t.Fatalf("after the release observers heard %v, want %s", heard, want)
	}
	if s, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{}); err != nil || s.Customers != 5 {
		t.Fatalf("expiry = %v, %v", s, err)
	}
	for _, k := range []string{fmt.Sprintf("%d/seed-2", f.shop.ID), fmt.Sprintf("%d/seed-3", f.shop.ID),
		fmt.Sprintf("%d/seed-1", other.ID), fmt.Sprintf("%d/seed-2", other.ID)} {
		if heard[k] != 1 {
			t.Errorf("observers heard %v; want every expired customer once, %s among them", heard, k)
		}
	}
	if heard[fmt.Sprintf("%d/seed-1", f.shop.ID)] != 2 {
		t.Errorf("observers heard %v; the released customer's lots expired too", heard)
	}
}

// BenchmarkExpirySweep expires benchLots lots, 10 per customer, seeded with
// set-based INSERTs, in SweepBatch batches, and reports lots expired per
// second. The target is a million lots in under a minute: 16,667 lots/s
// (EXPIRY_BENCH_LOTS=1000000 make bench BENCH=ExpirySweep).
func BenchmarkExpirySweep(b *testing.B) {
	lots := benchLots()
	const lotsEach = 10
	f := newSweepFixture(b, "bench-0.myshopify.com")
	var expired int
	var took time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		shop := f.shop
		if i > 0 {
			shop = f.addShop(fmt.Sprintf("bench-%d.myshopify.com", i))
		}
		seedLots(b, f.st.SQL(), shop.ID, lots/lotsEach, lotsEach)
		b.StartTimer()
		start := time.Now()
		s, err := f.svc.ExpirePoints(f.ctx, app.SweepOptions{Workers: benchWorkers()})
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if s.Lots != lots {
			b.Fatalf("expired %v, want %d lots", s, lots)
		}
		expired += s.Lots
	}
	b.ReportMetric(float64(expired)/took.Seconds(), "lots/s")
}

// benchWorkers is EXPIRY_BENCH_WORKERS, or the default.
func benchWorkers() int {
	n, _ := strconv.Atoi(os.Getenv("EXPIRY_BENCH_WORKERS"))
	return n
}

// benchLots is how many lots BenchmarkExpirySweep expires per run:
// EXPIRY_BENCH_LOTS, or 100,000.
func benchLots() int {
	if n, err := strconv.Atoi(os.Getenv("EXPIRY_BENCH_LOTS")); err == nil && n >= 10 {
		return n / 10 * 10
	}
	return 100_000
}
