package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// TypeRefreshTokens renews expiring Shopify access tokens before they lapse.
const TypeRefreshTokens = "loyalty:refresh-tokens"

// refreshAhead is how long before expiry a token is renewed. Shopify's
// expiring offline tokens live an hour; the job runs every ten minutes, so
// every token gets at least two chances.
const refreshAhead = 30 * time.Minute

// NewRefreshTokensTask makes the periodic token renewal.
func NewRefreshTokensTask() *asynq.Task {
	return asynq.NewTask(TypeRefreshTokens, nil, asynq.Queue(QueueCritical), asynq.MaxRetry(3),
		asynq.Unique(9*time.Minute))
}

// WithShopifyOAuth lets the handler renew Shopify tokens.
func (h *Handler) WithShopifyOAuth(o *shopify.OAuth) *Handler {
	h.shopifyOAuth = o
	return h
}

// RefreshTokens renews every access token that expires soon. A refresh
// token is single-use and Shopify returns a new one each time, so the new
// pair is saved before anything else can fail.
func (h *Handler) RefreshTokens(ctx context.Context, _ *asynq.Task) error {
	if h.shopifyOAuth == nil {
		return nil
	}
	now := h.now()
	due, err := h.svc.ExpiringCredentials(ctx, now.Add(refreshAhead), 500)
	if err != nil {
		return err
	}
	failures := 0
	for _, c := range due {
		log := h.log.With("platform", app.Shopify, "shop", c.ShopDomain)
		renewed, err := h.renewShopify(ctx, c.ShopDomain, c, now)
		var saveErr *saveError
		if errors.As(err, &saveErr) {
			return err
		}
		if err != nil {
			if stored, serr := h.svc.Credentials(ctx, app.Shop{ID: c.ShopID}); serr == nil && stored.AccessToken != c.AccessToken {
				continue // renewed on demand by a task meanwhile
			}
			failures++
			log.Error("access token refresh failed", "expires_at", c.ExpiresAt, "error", err)
			h.svc.Audit(ctx, app.AuditEntry{ShopID: c.ShopID, ShopDomain: c.ShopDomain, Actor: "token refresh job",
				Action: "refresh access token", Outcome: app.AuditFailed, Detail: err.Error()})
			continue
		}
		log.Info("access token refreshed", "expires_at", renewed.ExpiresAt)
	}
	outcome := "processed"
	if failures > 0 {
		outcome = "failed"
	}
	h.metrics.jobs.WithLabelValues(TypeRefreshTokens, outcome).Inc()
	return nil
}

// saveError is a renewal Shopify granted that could not be stored.
type saveError struct{ err error }

func (e *saveError) Error() string { return "save renewed access token: " + e.err.Error() }
func (e *saveError) Unwrap() error { return e.err }

// renewShopify trades c's refresh token for a new pair and saves it at
// once: the refresh token is single-use, so a pair not saved is access lost.
func (h *Handler) renewShopify(ctx context.Context, domain string, c app.Credentials, now time.Time) (app.Credentials, error) {
	token, err := h.shopifyOAuth.Refresh(ctx, domain, c.RefreshToken, now)
	if err != nil {
		return app.Credentials{}, err
	}
	renewed := app.Credentials{ShopID: c.ShopID, ShopDomain: c.ShopDomain, AccessToken: token.AccessToken,
		RefreshToken: token.RefreshToken, Scopes: token.Scopes(), ExpiresAt: token.ExpiresAt, RefreshExpiresAt: token.RefreshExpiresAt}
	if err := h.svc.SaveCredentials(ctx, renewed); err != nil {
		return app.Credentials{}, &saveError{err}
	}
	return renewed, nil
}

// refreshMargin is how close to its expiry a token is renewed before a call
// that needs it: the call takes a few seconds, and clocks differ a little.
const refreshMargin = 2 * time.Minute

// shopifyAccess returns a shop's credentials with an access token that
// works now. The periodic refresh keeps tokens fresh, but after an outage
// longer than a token's hour (workers down, Shopify's token endpoint
// failing) every stored token has lapsed, and the first call for a shop
// renews its own. rejected says Shopify just answered c's token with a 401
// although it had not expired by this clock: it is renewed regardless.
//
// Two workers may renew the same shop at once; Shopify takes the spent
// refresh token only once, so the loser finds the winner's pair stored and
// uses it.
func (h *Handler) shopifyAccess(ctx context.Context, shop app.Shop, c app.Credentials, rejected bool) (app.Credentials, error) {
	now := h.now()
	if !c.Expiring() || h.shopifyOAuth == nil {
		return c, nil
	}
	if !rejected && c.ExpiresAt.After(now.Add(refreshMargin)) {
		return c, nil
	}
	if rejected {
		// Renewed by someone else since it was read: that one is current.
		if stored, err := h.svc.Credentials(ctx, shop); err == nil && stored.AccessToken != c.AccessToken {
			return stored, nil
		}
	}
	renewed, err := h.renewShopify(ctx, shop.Domain, c, now)
	if err == nil {
		h.log.Info("access token renewed on demand", "platform", shop.Platform, "shop", shop.Domain, "expires_at", renewed.ExpiresAt)
		return renewed, nil
	}
	if stored, serr := h.svc.Credentials(ctx, shop); serr == nil && stored.AccessToken != c.AccessToken && stored.ExpiresAt.After(now) {
		return stored, nil
	}
	return app.Credentials{}, fmt.Errorf("renew the expired access token: %w", err)
}

// unauthorized reports whether Shopify refused the access token.
func unauthorized(err error) bool {
	var ae *shopify.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
}
