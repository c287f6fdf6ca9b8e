package jobs

import (
	"context"
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
		token, err := h.shopifyOAuth.Refresh(ctx, c.ShopDomain, c.RefreshToken, now)
		if err != nil {
			failures++
			log.Error("access token refresh failed", "expires_at", c.ExpiresAt, "error", err)
			h.svc.Audit(ctx, app.AuditEntry{ShopID: c.ShopID, ShopDomain: c.ShopDomain, Actor: "token refresh job",
				Action: "refresh access token", Outcome: app.AuditFailed, Detail: err.Error()})
			continue
		}
		err = h.svc.SaveCredentials(ctx, app.Credentials{ShopID: c.ShopID, AccessToken: token.AccessToken,
			RefreshToken: token.RefreshToken, Scopes: token.Scopes(), ExpiresAt: token.ExpiresAt, RefreshExpiresAt: token.RefreshExpiresAt})
		if err != nil {
			return err
		}
		log.Info("access token refreshed", "expires_at", token.ExpiresAt)
	}
	outcome := "processed"
	if failures > 0 {
		outcome = "failed"
	}
	h.metrics.jobs.WithLabelValues(TypeRefreshTokens, outcome).Inc()
	return nil
}
