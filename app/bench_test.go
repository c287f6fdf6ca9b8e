package app_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
)

// BenchmarkAccrueOrder measures crediting one paid order: the whole ledger
// transaction (order, customer, entry, lot, balance) on real PostgreSQL,
// spread over many customers as real traffic is.
func BenchmarkAccrueOrder(b *testing.B) {
	st, _ := apptest.NewDB(b)
	svc := app.NewService(st, time.Now)
	ctx := context.Background()
	shop, err := svc.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: "bench.myshopify.com"}, nil)
	if err != nil {
		b.Fatal(err)
	}
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
