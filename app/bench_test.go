package app_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
)

// BenchmarkAccrueOrder measures crediting one paid order: the whole ledger
// transaction (order, customer, entry, lot, balance) on real PostgreSQL,
// spread over many customers as real traffic is.
func BenchmarkAccrueOrder(b *testing.B) {
	_, svc, shop := benchShop(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		_, err := svc.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "o" + id,
			Customer: &app.CustomerRef{PlatformID: strconv.Itoa(i % 1000)}, Subtotal: app.MustAmount("42.50")})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchShop is a fresh database with one Shopify shop on the default
// program, and the service over it, on the real clock.
func benchShop(b *testing.B) (*store.Store, *app.Service, app.Shop) {
	b.Helper()
	st, _ := apptest.NewDB(b)
	svc := app.NewService(st, time.Now)
	shop, err := svc.AddShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: "bench.myshopify.com"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return st, svc, shop
}

// seed runs SQL statements that take the shop's id as $1, then ANALYZE,
// so the planner sees the data as production would.
func seed(b *testing.B, st *store.Store, shop app.Shop, statements ...string) {
	b.Helper()
	for _, q := range statements {
		if _, err := st.SQL().Exec(q, shop.ID); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.SQL().Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}
}
