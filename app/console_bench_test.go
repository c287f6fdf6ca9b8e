package app_test

import (
	"context"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
)

// BenchmarkConsole measures what support staff wait for in a shop of
// 100,000 customers and 300,000 ledger entries: a search by email prefix,
// by part of a name (which no index serves), by platform id, and the
// customer's page.
func BenchmarkConsole(b *testing.B) {
	st, _ := apptest.NewDB(b)
	svc := app.NewService(st, time.Now)
	ctx := context.Background()
	shop, err := svc.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: "bench.myshopify.com"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO customers (shop_id, platform_id, email, first_name, last_name, balance, created_at)
			SELECT $1, (7000000000 + g)::text, 'shopper' || g || '@example.com', 'Name' || (g % 977), 'Surname' || g, 150, '2026-01-01'
			FROM generate_series(1, 100000) g`,
		`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_job, idempotency_key, created_at)
			SELECT $1, c.id, 'bonus', 50, 50 * (g % 3 + 1), 0, 'seed', 'k' || g, timestamptz '2026-01-01' + g * interval '90 seconds'
			FROM generate_series(1, 300000) g JOIN customers c ON c.shop_id = $1 AND c.platform_id = (7000000000 + g % 100000 + 1)::text`,
		`ANALYZE`,
	} {
		if _, err := st.SQL().Exec(q, shop.ID); err != nil && q != `ANALYZE` {
			b.Fatal(err)
		}
	}
	st.SQL().Exec(`ANALYZE`)
	for _, bc := range []struct {
		name, text string
		want       int
	}{
		{"email prefix", "shopper4242", 12}, // shopper4242@, shopper42420..42429@, shopper4242x… up to a page
		{"name part", "surname99999", 1},
		{"platform id", "7000054321", 1},
	} {
		b.Run("search by "+bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				page, err := svc.SearchCustomers(ctx, shop, app.CustomerQuery{Text: bc.text})
				if err != nil || len(page.Customers) == 0 {
					b.Fatalf("%d found, %v", len(page.Customers), err)
				}
			}
		})
	}
	b.Run("customer page", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f, err := svc.CustomerFile(ctx, shop, "7000054321")
			if err != nil || len(f.Entries) != 3 {
				b.Fatalf("%d entries, %v", len(f.Entries), err)
			}
		}
	})
}
