package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"loyalty/app"
	"loyalty/jobs"
	"loyalty/platforms/woocommerce"
)

// Stores finds a WooCommerce store by the key its webhooks arrive under,
// with the secret that signs them.
type Stores interface {
	StoreByWebhookKey(ctx context.Context, key string) (app.Shop, app.Connection, app.Credentials, error)
}

// WooCommerce handles a delivery to /webhooks/woocommerce/{store}. Every
// store signs with a secret of its own, so the store is looked up before
// the signature can be checked; one store's secret never validates
// another's deliveries.
func (in *Intake) WooCommerce(ctx context.Context, storeKey string, header http.Header, body []byte) Result {
	start := in.now()
	// WooCommerce pings a new webhook with an unsigned form body and
	// activates it only on exactly 200. The ping proves nothing and does
	// nothing.
	if woocommerce.IsPing(header, body) {
		in.log.Info("webhook ping answered", "platform", app.WooCommerce, "store_key", storeKey)
		return in.done(app.WooCommerce, "", start, Result{http.StatusOK, OutcomePing, ""})
	}
	store, found, err := in.stores.lookup(ctx, storeKey)
	if err != nil {
		// Without the secret nothing can be verified; WooCommerce will not
		// retry, but reconciliation reads the order later.
		in.log.Error("webhook refused: store lookup failed", "platform", app.WooCommerce, "store_key", storeKey, "error", err)
		return in.done(app.WooCommerce, "", start, Result{http.StatusServiceUnavailable, OutcomeUnavailable, "temporarily unavailable"})
	}
	if !found {
		in.log.Warn("webhook rejected: unknown store key", claimed(app.WooCommerce, header.Get("X-WC-Webhook-Source"),
			header.Get("X-WC-Webhook-Topic"), header.Get("X-WC-Webhook-Delivery-ID"), "store_key", storeKey)...)
		return in.done(app.WooCommerce, "", start, Result{http.StatusUnauthorized, OutcomeUnauthorized, "unknown store"})
	}
	d, headerErr := woocommerce.DeliveryFromHeader(header)
	if err := woocommerce.Verify(body, header.Get("X-WC-Webhook-Signature"), store.secret); err != nil {
		in.log.Warn("webhook rejected: bad signature", claimed(app.WooCommerce, store.shop.Domain, d.Topic, d.DeliveryID, "error", err)...)
		return in.done(app.WooCommerce, "", start, Result{http.StatusUnauthorized, OutcomeUnauthorized, "invalid webhook signature"})
	}
	if headerErr != nil {
		in.log.Warn("webhook rejected: bad headers", claimed(app.WooCommerce, store.shop.Domain, d.Topic, d.DeliveryID, "error", headerErr)...)
		return in.done(app.WooCommerce, "", start, Result{http.StatusBadRequest, OutcomeBadRequest, headerErr.Error()})
	}
	// WooCommerce sends an order's whole current state, possibly many times
	// and out of order, with a delivery id unique to each attempt. The
	// order's id and modification time identify the state itself, so the
	// same state is processed once however often it arrives. The time has
	// one-second resolution, so a short hash of the body tells apart two
	// different states saved within the same second.
	deliveryID := d.DeliveryID
	if d.Resource == "order" {
		if id, modified, err := woocommerce.ResourceState(body); err == nil && id != "" && modified != "" {
			sum := sha256.Sum256(body)
			deliveryID = "order-" + id + "@" + modified + "#" + hex.EncodeToString(sum[:6])
		}
	}
	return in.accept(ctx, start, jobs.Webhook{Platform: app.WooCommerce, Shop: store.shop.Domain, Topic: d.Topic,
		DeliveryID: deliveryID, Body: body}, &store.shop)
}

// OutcomePing counts WooCommerce's webhook creation pings.
const OutcomePing = "ping"

// storeCache remembers stores and their webhook secrets briefly, like
// shopCache, so verification costs no database round trip per delivery.
type storeCache struct {
	stores Stores
	mu     sync.RWMutex
	byKey  map[string]cachedStore
	now    func() time.Time
}

type cachedStore struct {
	shop    app.Shop
	secret  string
	found   bool
	expires time.Time
}

func newStoreCache(stores Stores) *storeCache {
	return &storeCache{stores: stores, byKey: map[string]cachedStore{}, now: time.Now}
}

func (c *storeCache) lookup(ctx context.Context, key string) (cachedStore, bool, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.byKey[key]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e, e.found, nil
	}
	shop, _, creds, err := c.stores.StoreByWebhookKey(ctx, key)
	found := err == nil && creds.WebhookSecret != ""
	if err != nil && app.ErrorCode(err) != app.ENotFound {
		return cachedStore{}, false, err
	}
	e = cachedStore{shop: shop, secret: creds.WebhookSecret, found: found, expires: now.Add(shopCacheTTL)}
	if !found {
		e.expires = now.Add(shopCacheMissTT)
	}
	c.mu.Lock()
	if len(c.byKey) > 100000 {
		c.byKey = map[string]cachedStore{}
	}
	c.byKey[key] = e
	c.mu.Unlock()
	return e, found, nil
}
