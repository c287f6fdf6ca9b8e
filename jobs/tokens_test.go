package jobs_test

import (
	"context"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifytest"
)

func TestRefreshTokensRenewsExpiringTokens(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	issued := time.Now().Add(-45 * time.Minute) // an hour-long token with 15 minutes left
	fake := shopifytest.New(t, "key", testenv.ShopifySecret)
	fake.SetClock(func() time.Time { return issued })
	oauth := &shopify.OAuth{APIKey: "key", APISecret: testenv.ShopifySecret, HTTP: fake.Client(), BaseURL: fake.BaseURL}

	const shopDomain = "odswiez.myshopify.com"
	first, err := oauth.ExchangeCode(ctx, shopDomain, fake.IssueCode(shopDomain), issued)
	if err != nil {
		t.Fatal(err)
	}
	shop, _, err := env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: shopDomain},
		app.Credentials{AccessToken: first.AccessToken, RefreshToken: first.RefreshToken, Scopes: first.Scopes(),
			ExpiresAt: first.ExpiresAt, RefreshExpiresAt: first.RefreshExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	// A shop whose refresh token Shopify no longer knows: its failure must
	// not stop the others, and support must see it.
	broken, _, _ := env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: "zepsuty.myshopify.com"},
		app.Credentials{AccessToken: "shpua_x", RefreshToken: "shprt_unknown", ExpiresAt: time.Now().Add(5 * time.Minute)})

	fake.SetClock(time.Now)
	h := jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithShopifyOAuth(oauth)
	if err := h.RefreshTokens(ctx, nil); err != nil {
		t.Fatal(err)
	}

	renewed, err := env.Service.Credentials(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.AccessToken == first.AccessToken || renewed.RefreshToken == first.RefreshToken || !renewed.ExpiresAt.After(time.Now().Add(50*time.Minute)) {
		t.Fatalf("credentials were not renewed: expires %s", renewed.ExpiresAt)
	}
	client := shopify.NewClient(shopDomain, renewed.AccessToken, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL})
	if _, err := client.ShopInfo(ctx); err != nil {
		t.Fatalf("the renewed token does not work: %v", err)
	}
	if _, err := oauth.Refresh(ctx, shopDomain, first.RefreshToken, time.Now()); err == nil {
		t.Fatal("the used refresh token still works; refresh tokens are single-use")
	}
	log, _ := env.Service.AuditLog(ctx, broken.Domain, 5)
	if len(log) == 0 || log[0].Action != "refresh access token" || log[0].Outcome != app.AuditFailed {
		t.Fatalf("audit log of the broken shop = %+v", log)
	}
	t.Run("a token far from expiry is left alone", func(t *testing.T) {
		if err := h.RefreshTokens(ctx, nil); err != nil {
			t.Fatal(err)
		}
		again, _ := env.Service.Credentials(ctx, shop)
		if again.AccessToken != renewed.AccessToken {
			t.Fatal("a fresh token was refreshed again")
		}
	})
}
