package app_test

import (
	"context"
	"testing"
	"time"

	"loyalty/app"
)

// BenchmarkKPIs measures a month of daily KPIs (31 buckets and a total) of a
// shop with 20,000 customers, 200,000 ledger entries and 100,000 orders
// spread over a year.
func BenchmarkKPIs(b *testing.B) {
	st, svc, shop := benchShop(b)
	ctx := context.Background()
	seed(b, st, shop,
		`INSERT INTO customers (shop_id, platform_id, created_at) SELECT $1, 'c' || g, '2026-01-01' FROM generate_series(1, 20000) g`,
		`INSERT INTO orders (shop_id, platform_id, customer_id, status, eligible, paid_at)
			SELECT $1, 'o' || g, c.id, 'paid', 500000, timestamptz '2026-01-01' + g * interval '5 minutes'
			FROM generate_series(1, 100000) g JOIN customers c ON c.shop_id = $1 AND c.platform_id = 'c' || (g % 20000 + 1)`,
		`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_job, idempotency_key, created_at)
			SELECT $1, c.id, CASE WHEN g % 5 = 0 THEN 'redeem' ELSE 'earn' END, CASE WHEN g % 5 = 0 THEN -10 ELSE 50 END,
				g, 0, 'seed', 'k' || g, timestamptz '2026-01-01' + g * interval '150 seconds'
			FROM generate_series(1, 200000) g JOIN customers c ON c.shop_id = $1 AND c.platform_id = 'c' || (g % 20000 + 1)`)
	query := app.KPIQuery{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Bucket: app.BucketDay}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := svc.KPIs(ctx, shop, query)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Totals.Members == 0 || len(rep.Series) != 30 {
			b.Fatalf("members %d, %d buckets", rep.Totals.Members, len(rep.Series))
		}
	}
}
