package jobs

import (
	"context"
	"fmt"
	"time"

	"loyalty/app"
)

// privacyTimeout bounds a privacy task. Erasing a large shop deletes its
// whole ledger in one transaction, which can take far longer than a points
// change; cut off at a minute it would roll back and retry forever.
const privacyTimeout = 15 * time.Minute

// ForUninstalledShops reports whether a topic must be processed even for a
// shop that uninstalled the app. The privacy requests must: the platform
// sends a shop's erasure only after the uninstall (Shopify 48 hours later),
// and customer requests may come in between.
func ForUninstalledShops(platform app.Platform, topic string) bool {
	r, ok := routes[platform][topic]
	return ok && r.taskType == TypePrivacy
}

// exportCustomerData answers a data request; the export waits in the
// database for support to hand it to the merchant.
func exportCustomerData(svc *app.Service, ctx context.Context, shop app.Shop, req app.DataRequest) (app.Outcome, error) {
	e, err := svc.ExportCustomerData(ctx, shop, req)
	if err != nil {
		return app.Outcome{}, err
	}
	return app.Outcome{Detail: fmt.Sprintf("exported customer %s (request %s, data export %d)",
		e.CustomerID, e.RequestID, e.ID)}, nil
}

// eraseShop checks the body with parse, then erases the delivery's shop.
func eraseShop(parse func([]byte) error) apply {
	return parsed(func(body []byte) (struct{}, error) { return struct{}{}, parse(body) },
		func(svc *app.Service, ctx context.Context, shop app.Shop, _ struct{}) (app.Outcome, error) {
			return svc.EraseShop(ctx, shop)
		})
}
