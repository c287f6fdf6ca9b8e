package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"loyalty/app"
	"loyalty/config"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifyfake"
	"loyalty/web"
)

// demoShopify is the Admin API of the local demo shop, which has no real
// Shopify behind it: an in-process fake, so that the demo's redemptions get
// their codes instead of failing for want of API access. It is nil in
// production, where the demo shop does not exist.
//
// The demo shop gets an access token the fake accepts: the one stored by an
// earlier run (a new fake knows no tokens), or a new one saved now. A demo
// shop not yet added gets none; scripts/run.sh adds it before starting.
func demoShopify(ctx context.Context, cfg config.Config, svc *app.Service, log *slog.Logger) (*shopifyfake.Shopify, error) {
	if cfg.Production() {
		return nil, nil
	}
	fake := shopifyfake.New(cfg.Shopify.APIKey, cfg.Shopify.APISecret)
	shop, err := svc.Shop(ctx, app.Shopify, web.DemoShop)
	if app.ErrorCode(err) == app.ENotFound {
		log.Info("no demo shop: its codes will not be issued", "shop", web.DemoShop)
		return fake, nil
	}
	if err != nil {
		return nil, fmt.Errorf("demo shop: %w", err)
	}
	creds, err := svc.Credentials(ctx, shop)
	switch {
	case err == nil && creds.AccessToken != "":
		fake.AddToken(shop.Domain, creds.AccessToken)
	case err == nil || app.ErrorCode(err) == app.ENotFound:
		token := fake.IssueToken(shop.Domain)
		if err := svc.SaveCredentials(ctx, app.Credentials{ShopID: shop.ID, AccessToken: token,
			Scopes: strings.Split(shopifyfake.DefaultScope, ",")}); err != nil {
			return nil, fmt.Errorf("demo shop credentials: %w", err)
		}
	default:
		return nil, fmt.Errorf("demo shop credentials: %w", err)
	}
	log.Info("the demo shop's codes are made on an in-process fake of the Shopify Admin API", "shop", web.DemoShop)
	return fake, nil
}

// withDemoShop sends the demo shop's Admin API calls to fake and every
// other shop's to clients. With no fake (production) it is clients itself.
func withDemoShop(clients jobs.ShopifyClients, fake *shopifyfake.Shopify) jobs.ShopifyClients {
	if fake == nil {
		return clients
	}
	return func(shop, token string) *shopify.Client {
		if shop != web.DemoShop {
			return clients(shop, token)
		}
		return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL})
	}
}
