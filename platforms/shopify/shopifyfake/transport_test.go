package shopifyfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
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

func TestDiscountMutationsNeedTheirScopeAndJSON(t *testing.T) {
	ctx := context.Background()
	d := shopify.Discount{Title: "5 USD off (loyalty reward)", Code: "LOY-SCOPE1", CustomerID: "7770001",
		Kind: shopify.DiscountAmount, Amount: app.MustAmount("5"), StartsAt: time.Now()}

	t.Run("a token without write_discounts is denied access, for good", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		_, err := client(fake, fake.IssueToken(shop, "read_customers", "read_orders")).CreateDiscount(ctx, d)
		var ae *shopify.APIError
		if !errors.As(err, &ae) || ae.Code != "ACCESS_DENIED" || !shopify.IsPermanent(err) {
			t.Fatalf("err = %v, want a permanent ACCESS_DENIED", err)
		}
		if got := fake.Discounts(shop); len(got) != 0 {
			t.Fatalf("discounts %+v, want none", got)
		}
	})
	t.Run("read_discounts reads but does not write", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		err := client(fake, fake.IssueToken(shop, "read_discounts")).DeactivateDiscount(ctx, "gid://shopify/DiscountCodeNode/1")
		var ae *shopify.APIError
		if !errors.As(err, &ae) || ae.Code != "ACCESS_DENIED" {
			t.Fatalf("err = %v, want ACCESS_DENIED", err)
		}
	})
	t.Run("a JSON body without its content type is not read", func(t *testing.T) {
		fake := shopifyfake.New("key", "secret")
		req, _ := http.NewRequest(http.MethodPost, fake.BaseURL(shop)+"/admin/api/"+shopify.APIVersion+"/graphql.json",
			strings.NewReader(`{"query": "{ shop { name } }"}`))
		req.Header.Set("X-Shopify-Access-Token", fake.IssueToken(shop))
		resp, err := fake.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}
