package shopifyfake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifyfake"
)

const shop = "demo-shop.myshopify.com"

func client(fake *shopifyfake.Shopify, token string) *shopify.Client {
	return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL, MaxRetries: -1})
}

func TestInProcessClientReachesTheAdminAPIWithoutAPort(t *testing.T) {
	ctx := context.Background()
	d := shopify.Discount{Title: "5 USD off (loyalty reward)", Code: "LOY-DEMO1", CustomerID: "7770001",
		Kind: shopify.DiscountAmount, Amount: app.MustAmount("5"), StartsAt: time.Now()}

	t.Run("an issued token creates the discount, and the fake records it", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		id, err := client(fake, fake.IssueToken(shop)).CreateDiscount(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got := fake.Discounts(shop)
		if len(got) != 1 || got[0].ID != id || got[0].Code != "LOY-DEMO1" || got[0].Amount != "5.00" {
			t.Fatalf("id %q, discounts %+v", id, got)
		}
	})
	t.Run("a token added as if from an earlier install is accepted", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		fake.AddToken(shop, "shpat_from_an_earlier_run")
		if _, err := client(fake, "shpat_from_an_earlier_run").CreateDiscount(ctx, d); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an unknown token is answered 401, a permanent error", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		_, err := client(fake, "shpat_unknown").CreateDiscount(ctx, d)
		if err == nil || !shopify.IsPermanent(err) {
			t.Fatalf("err = %v, want a permanent error", err)
		}
		reqs := fake.Requests()
		if len(reqs) != 1 || reqs[0].Status != http.StatusUnauthorized {
			t.Fatalf("requests = %+v", reqs)
		}
	})
	t.Run("a cancelled context sends nothing", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := client(fake, fake.IssueToken(shop)).CreateDiscount(cancelled, d)
		if !errors.Is(err, context.Canceled) || len(fake.Requests()) != 0 {
			t.Fatalf("err = %v, %d requests", err, len(fake.Requests()))
		}
	})
}
