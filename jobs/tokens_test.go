package jobs_test

import (
	"context"
	"strings"
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

// installExpiring installs a shop with an expiring token Shopify issued at
// issued, stored as expiring at claimed (zero: when Shopify says).
func installExpiring(t *testing.T, env *testenv.Env, fake *shopifytest.Server, oauth *shopify.OAuth, domain string, issued, claimed time.Time) (app.Shop, shopify.Token) {
	t.Helper()
	ctx := context.Background()
	fake.SetClock(func() time.Time { return issued })
	defer fake.SetClock(time.Now)
	tok, err := oauth.ExchangeCode(ctx, domain, fake.IssueCode(domain), issued)
	if err != nil {
		t.Fatal(err)
	}
	if claimed.IsZero() {
		claimed = tok.ExpiresAt
	}
	shop, _, err := env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: domain},
		app.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Scopes: tok.Scopes(),
			ExpiresAt: claimed, RefreshExpiresAt: tok.RefreshExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	return shop, tok
}

func TestRewardCodesRenewALapsedToken(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	fake := shopifytest.New(t, "key", testenv.ShopifySecret)
	oauth := &shopify.OAuth{APIKey: "key", APISecret: testenv.ShopifySecret, HTTP: fake.Client(), BaseURL: fake.BaseURL}
	h := jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithShopifyOAuth(oauth).
		WithShopifyClients(func(shop, token string) *shopify.Client {
			return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL,
				Sleep: func(context.Context, time.Duration) error { return nil }})
		})
	// The workers were down for two hours: the periodic refresh never ran.
	twoHoursAgo := time.Now().Add(-2 * time.Hour)

	t.Run("a token past its expiry is renewed before the code is made", func(t *testing.T) {
		shop, first := installExpiring(t, env, fake, oauth, "wygasly.myshopify.com", twoHoursAgo, time.Time{})
		red := newIssueRig(t, env, shop, h).redeemAndIssue(t, "a")
		if red.Status != app.RedemptionIssued {
			t.Fatalf("redemption = %s (%s), want issued", red.Status, red.Detail)
		}
		renewed, _ := env.Service.Credentials(ctx, shop)
		if renewed.AccessToken == first.AccessToken || !renewed.ExpiresAt.After(time.Now().Add(50*time.Minute)) {
			t.Fatalf("the renewed token was not kept: expires %s", renewed.ExpiresAt)
		}
	})
	t.Run("a token Shopify refuses before its time is renewed once and the call tried again", func(t *testing.T) {
		// By this clock the token has most of an hour left; Shopify says
		// it lapsed.
		shop, first := installExpiring(t, env, fake, oauth, "zegar.myshopify.com", twoHoursAgo, time.Now().Add(50*time.Minute))
		red := newIssueRig(t, env, shop, h).redeemAndIssue(t, "b")
		if red.Status != app.RedemptionIssued {
			t.Fatalf("redemption = %s (%s), want issued", red.Status, red.Detail)
		}
		if renewed, _ := env.Service.Credentials(ctx, shop); renewed.AccessToken == first.AccessToken {
			t.Fatal("the refused token is still stored")
		}
	})
	t.Run("a token that cannot be renewed gives the points back", func(t *testing.T) {
		shop, _ := installExpiring(t, env, fake, oauth, "odwolany.myshopify.com", twoHoursAgo, time.Time{})
		c, _ := env.Service.Credentials(ctx, shop)
		c.RefreshToken = "shprt_unknown"
		if err := env.Service.SaveCredentials(ctx, c); err != nil {
			t.Fatal(err)
		}
		red := newIssueRig(t, env, shop, h).redeemAndIssue(t, "c")
		if red.Status != app.RedemptionFailed || !strings.Contains(red.Detail, "renew") {
			t.Fatalf("redemption = %s (%s), want failed for want of access", red.Status, red.Detail)
		}
	})
}
