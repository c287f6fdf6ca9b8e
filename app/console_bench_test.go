package app_test

import (
	"context"
	"testing"

	"loyalty/app"
)

// BenchmarkConsole measures what support staff wait for in a shop of
// 100,000 customers and 300,000 ledger entries: a search by email prefix,
// by part of a name (the trigram index), by platform id, and the
// customer's page.
func BenchmarkConsole(b *testing.B) {
	st, svc, shop := benchShop(b)
	ctx := context.Background()
	seed(b, st, shop,
		`INSERT INTO customers (shop_id, platform_id, email, first_name, last_name, balance, created_at)
			SELECT $1, (7000000000 + g)::text, 'shopper' || g || '@example.com', 'Name' || (g % 977), 'Surname' || g, 150, '2026-01-01'
			FROM generate_series(1, 100000) g`,
		`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_job, idempotency_key, created_at)
			SELECT $1, c.id, 'bonus', 50, 50 * (g % 3 + 1), 0, 'seed', 'k' || g, timestamptz '2026-01-01' + g * interval '90 seconds'
			FROM generate_series(1, 300000) g JOIN customers c ON c.shop_id = $1 AND c.platform_id = (7000000000 + g % 100000 + 1)::text`)
	for _, bc := range []struct {
		name, text string
		want       int
	}{
		{"email prefix", "shopper4242", 11}, // shopper4242@ and shopper42420@ … shopper42429@
		{"name part", "surname99999", 1},
		{"platform id", "7000054321", 1},
	} {
		b.Run("search by "+bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				page, err := svc.SearchCustomers(ctx, shop, app.CustomerQuery{Text: bc.text})
				if err != nil || len(page.Customers) != bc.want {
					b.Fatalf("%d found, want %d, %v", len(page.Customers), bc.want, err)
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
