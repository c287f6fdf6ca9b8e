package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"loyalty/app"
)

// expiry is scenario 4: a sweep of lots past their date through the
// service, as the worker's periodic job runs it (default options).
func (b *bench) expiry(ctx context.Context) error {
	lots := b.sz.lots
	const each = 10
	step("4. expiry sweep of %d lots (seeding %d customers × %d lots)", lots, lots/each, each)
	shop, err := b.addShop(ctx, "bench-expiry.myshopify.com", func(p *app.Program) { p.ExpiryDays = 365 })
	if err != nil {
		return err
	}
	now := time.Now()
	earned, expires := now.AddDate(-1, 0, 0), now.Add(-time.Hour)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO customers (shop_id, platform_id, balance, last_activity_at)
			SELECT $1, 'seed-' || g, $2, $3 FROM generate_series(1, $4) g`, []any{shop.ID, 10 * each, earned, lots / each}},
		{`WITH e AS (
			INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after,
				cause_job, idempotency_key, created_at)
			SELECT c.shop_id, c.id, 'earn', 10, 10 * k, 0, 'seed', 'seed:' || c.id || ':' || k, $2
			FROM customers c CROSS JOIN generate_series(1, $3) k WHERE c.shop_id = $1
			ORDER BY c.id, k
			RETURNING id, customer_id, points, created_at)
		INSERT INTO lots (customer_id, entry_id, points, remaining, earned_at, available_at, expires_at)
			SELECT customer_id, id, points, points, created_at, created_at, $4 FROM e`, []any{shop.ID, earned, each, expires}},
		{`ANALYZE customers, lots, ledger_entries`, nil},
	} {
		if _, err := b.s.pool.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("seed lots: %w", err)
		}
	}
	start := time.Now()
	sweep, err := b.svc.ExpirePoints(ctx, app.SweepOptions{})
	took := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Printf("    %+v in %.2fs\n", sweep, took.Seconds())
	// Every lot expired once: none open, every balance down to zero.
	var open, holders int64
	if err := b.s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM lots l JOIN customers c ON c.id = l.customer_id WHERE c.shop_id = $1 AND l.remaining > 0),
			(SELECT count(*) FROM customers WHERE shop_id = $1 AND balance <> 0)`, shop.ID).Scan(&open, &holders); err != nil {
		return err
	}
	if sweep.Lots != lots || open != 0 || holders != 0 {
		b.fail("expiry: expired %d of %d lots, %d still open, %d customers with a balance left (want 0)", sweep.Lots, lots, open, holders)
	}
	b.rows = append(b.rows, row{
		scenario: fmt.Sprintf("4. Expiry sweep (%s lots)", thousands(lots)),
		result:   fmt.Sprintf("%.1f s (%s lots/s)", took.Seconds(), rate(float64(sweep.Lots)/took.Seconds())),
		beside:   fmt.Sprintf("%d customers, %d batches", sweep.Customers, sweep.Batches),
		target:   "< 60 s for 1,000,000",
		verdict:  b.verdict(took < time.Duration(float64(60*time.Second)*float64(lots)/1e6), fmt.Sprintf("expiry sweep of %d lots took %.1f s (target < 60 s per million)", lots, took.Seconds())),
	})
	return nil
}

// growth is scenario 5: the mean time of AccrueOrder, sequential, with more
// and more ledger rows present, in a database of its own.
func (b *bench) growth(ctx context.Context) error {
	step("5. growth: %d sequential accruals at %v ledger rows", b.sz.growthOrders, b.sz.growth)
	dsn, err := b.s.newDatabase(ctx, "bench_"+randomHex(6)+"_growth")
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn+poolSize(4))
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := openStore(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := service(st)
	prog := app.DefaultProgram(0)
	shop, err := svc.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: "bench-growth.myshopify.com", Currency: "USD"}, &prog)
	if err != nil {
		return err
	}
	people := b.sz.growthPeople
	var first int64
	if err := pool.QueryRow(ctx, `WITH c AS (INSERT INTO customers (shop_id, platform_id)
		SELECT $1, 'g-' || g FROM generate_series(0, $2 - 1) g RETURNING id) SELECT min(id) FROM c`, shop.ID, people).Scan(&first); err != nil {
		return err
	}
	seeded := 0
	var means []time.Duration
	for level, rows := range b.sz.growth {
		seedStart := time.Now()
		const batch = 1_000_000
		for seeded < rows {
			to := min(seeded+batch, rows)
			// Entries spread over the customers, as years of history are.
			if _, err := pool.Exec(ctx, `INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after,
					pending_after, cause_job, idempotency_key, created_at)
				SELECT $1, $2 + (g % $3), 'earn', 10, 10, 0, 'seed', 'seed:' || g, now() - interval '30 days'
				FROM generate_series($4::bigint, $5::bigint - 1) g`, shop.ID, first, people, seeded, to); err != nil {
				return fmt.Errorf("seed ledger: %w", err)
			}
			seeded = to
		}
		// VACUUM as well as ANALYZE: millions of fresh rows make autovacuum
		// scan the ledger, and a run that caught it mid-scan measured the
		// vacuum beside the accruals (1.54× once, 0.78× the next run). A
		// live database has long been vacuumed past its old rows.
		if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) customers, ledger_entries, orders, lots`); err != nil {
			return err
		}
		if rows > 0 {
			fmt.Printf("    seeded %s ledger rows in %.1fs\n", thousands(rows), time.Since(seedStart).Seconds())
		}
		// A few unmeasured orders first, then the measured ones: each on a
		// customer with history (when there is any) not used before.
		accrue := func(k int, order string) error {
			_, err := svc.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: order,
				Customer: &app.CustomerRef{PlatformID: "g-" + strconv.Itoa(k%people)}, Subtotal: app.MustAmount("42.50")})
			return err
		}
		base := level * (b.sz.growthOrders + 100)
		for i := range 100 {
			if err := accrue(base+i, fmt.Sprintf("warm-%d-%d", level, i)); err != nil {
				return err
			}
		}
		start := time.Now()
		for i := range b.sz.growthOrders {
			if err := accrue(base+100+i, fmt.Sprintf("growth-%d-%d", level, i)); err != nil {
				return err
			}
		}
		mean := time.Since(start) / time.Duration(b.sz.growthOrders)
		means = append(means, mean)
		fmt.Printf("    %s ledger rows: %s per order\n", thousands(rows), ms(mean))
	}
	var parts, beside string
	for i, m := range means {
		if i > 0 {
			parts += ", "
		}
		parts += thousands(b.sz.growth[i]) + ": " + ms(m)
	}
	last := means[len(means)-1]
	ratio := float64(last) / float64(means[0])
	beside = fmt.Sprintf("%d orders each, %d customers", b.sz.growthOrders, people)
	b.rows = append(b.rows, row{
		scenario: "5. Growth (AccrueOrder, sequential)",
		result:   parts,
		beside:   beside,
		ratio:    fmt.Sprintf("%.2f×", ratio),
		target:   "flat (largest/empty <= 1.5×)",
		verdict:  b.verdict(ratio <= 1.5, fmt.Sprintf("accrual with %s ledger rows takes %.2f× the time with %s", thousands(b.sz.growth[len(means)-1]), ratio, thousands(b.sz.growth[0]))),
	})
	return nil
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
