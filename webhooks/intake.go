// Package webhooks is the intake of platform webhooks: verify the signature
// over the raw body, deduplicate, enqueue, answer. It does no business work,
// so it answers in milliseconds; the jobs package does the rest.
//
// When Redis (the queue) cannot take a delivery, intake parks it in a
// durable inbox table in PostgreSQL and still answers 200; the Relay moves
// parked deliveries to the queue when Redis is back. Only when neither can
// take it does intake answer 503, so the platform retries. An acknowledged
// delivery is never lost.
package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// Inbox is the durable parking place for deliveries the queue could not take.
type Inbox interface {
	ParkDelivery(ctx context.Context, d app.WebhookDelivery) (bool, error)
	RelayInbox(ctx context.Context, limit int, relay func([]app.WebhookDelivery) int) (int, error)
	InboxSize(ctx context.Context) (int64, error)
}

// Shops finds shops by platform and domain.
type Shops interface {
	Shop(ctx context.Context, platform app.Platform, domain string) (app.Shop, error)
}

// Uninstaller marks a shop uninstalled the moment the platform says the
// app was uninstalled at a given time, so the shop stops earning before
// any worker runs; a reinstall after that time wins. It reports whether
// the shop was marked.
type Uninstaller interface {
	MarkUninstalled(ctx context.Context, shop app.Shop, at time.Time) (bool, error)
}

// Outcomes of a delivery at intake, as counted in metrics.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeInbox        = "inbox"
	OutcomeUnknownShop  = "unknown_shop"
	OutcomeIgnoredTopic = "ignored_topic"
	OutcomeUnauthorized = "unauthorized"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "too_large"
	OutcomeUnavailable  = "unavailable"
)

// Result is the answer intake gives the platform.
type Result struct {
	Status  int
	Outcome string
	Message string
}

// Config configures intake.
type Config struct {
	// ShopifySecrets are the app secrets webhooks may be signed with: the
	// current one first, then the previous one during a rotation.
	ShopifySecrets []string
}

// Intake receives webhook deliveries.
type Intake struct {
	cfg     Config
	shops   *shopCache
	marks   Uninstaller
	stores  *storeCache
	queue   *asynq.Client
	inbox   Inbox
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
}

// New returns an intake that enqueues through rdb and parks deliveries in
// inbox when Redis cannot take them.
func New(cfg Config, shops interface {
	Shops
	Stores
	Uninstaller
}, rdb redis.UniversalClient, inbox Inbox, log *slog.Logger, metrics *Metrics) *Intake {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Intake{cfg: cfg, shops: newShopCache(shops), marks: shops, stores: newStoreCache(shops), queue: asynq.NewClientFromRedisClient(rdb),
		inbox: inbox, log: log, metrics: metrics, now: time.Now}
}

// Shopify handles a delivery to /webhooks/shopify.
func (in *Intake) Shopify(ctx context.Context, header http.Header, body []byte) Result {
	start := in.now()
	// The signature is checked over the raw bytes before anything is parsed.
	d, headerErr := shopify.DeliveryFromHeader(header)
	if err := shopify.Verify(body, header.Get("X-Shopify-Hmac-Sha256"), in.cfg.ShopifySecrets...); err != nil {
		in.log.Warn("webhook rejected: bad signature", claimed(app.Shopify, d.ShopDomain, d.Topic, d.WebhookID, "error", err)...)
		return in.done(app.Shopify, "", start, Result{http.StatusUnauthorized, OutcomeUnauthorized, "invalid webhook signature"})
	}
	if headerErr != nil {
		in.log.Warn("webhook rejected: bad headers", claimed(app.Shopify, d.ShopDomain, d.Topic, d.WebhookID, "error", headerErr)...)
		return in.done(app.Shopify, "", start, Result{http.StatusBadRequest, OutcomeBadRequest, headerErr.Error()})
	}
	return in.accept(ctx, start, jobs.Webhook{Platform: app.Shopify, Shop: d.ShopDomain, Topic: d.Topic,
		DeliveryID: d.WebhookID, TriggeredAt: d.TriggeredAt, Body: body}, nil)
}

// TooLarge answers a delivery whose body exceeds the limit.
func (in *Intake) TooLarge(platform app.Platform, header http.Header) Result {
	var shop, topic, id string
	switch platform {
	case app.Shopify:
		d, _ := shopify.DeliveryFromHeader(header)
		shop, topic, id = d.ShopDomain, d.Topic, d.WebhookID
	case app.WooCommerce:
		d, _ := woocommerce.DeliveryFromHeader(header)
		shop, topic, id = d.Source, d.Topic, d.DeliveryID
	}
	in.log.Warn("webhook rejected: body too large", claimed(platform, shop, topic, id)...)
	return in.done(platform, "", in.now(), Result{http.StatusRequestEntityTooLarge, OutcomeTooLarge, "webhook body too large"})
}

// claimed are the log attributes of a delivery refused before it could be
// trusted: what its headers claim, cut short, since anyone can send them.
func claimed(platform app.Platform, shop, topic, deliveryID string, more ...any) []any {
	cut := func(v string) string {
		if len(v) > 100 {
			return v[:100] + "…"
		}
		return v
	}
	return append([]any{"platform", platform, "shop", cut(shop), "topic", cut(topic), "delivery_id", cut(deliveryID)}, more...)
}

// accept deduplicates and enqueues a verified delivery. known is the shop
// when the caller already looked it up (to find its secret), else nil.
func (in *Intake) accept(ctx context.Context, start time.Time, w jobs.Webhook, known *app.Shop) Result {
	log := in.log.With("platform", w.Platform, "shop", w.Shop, "topic", w.Topic, "delivery_id", w.DeliveryID)
	w.ReceivedAt = start
	if !jobs.Handles(w.Platform, w.Topic) {
		log.Info("webhook ignored: topic not handled")
		return in.done(w.Platform, "", start, Result{http.StatusOK, OutcomeIgnoredTopic, "topic not handled"})
	}
	// A shop we do not know or that uninstalled the app gets 200, so the
	// platform stops retrying something that will never be processed;
	// privacy requests of an uninstalled shop still go through, as the
	// platform sends the shop's erasure only after the uninstall, and so
	// does the uninstall itself, which the worker completes. When the
	// lookup itself fails the delivery is accepted: the worker checks again.
	uninstall := w.Platform == app.Shopify && w.Topic == shopify.TopicAppUninstalled
	shop, found, err := known, known != nil, error(nil)
	if known == nil || !known.Active() {
		// A store's cached shop that looks inactive may have come back.
		var s app.Shop
		s, found, err = in.shops.lookup(ctx, w.Platform, w.Shop)
		shop = &s
	}
	switch {
	case err != nil && uninstall:
		// The uninstall must be marked before it is acknowledged (below);
		// without the database the platform has to try again.
		log.Error("webhook refused: shop lookup failed, the uninstall cannot be marked", "error", err)
		return in.done(w.Platform, w.Topic, start, Result{http.StatusServiceUnavailable, OutcomeUnavailable, "temporarily unavailable, retry later"})
	case err != nil:
		log.Warn("shop lookup failed; accepting the webhook for the worker to check", "error", err)
	case !found || !shop.Active() && !jobs.ForUninstalledShops(w.Platform, w.Topic) && !uninstall:
		log.Warn("webhook dropped: shop unknown or uninstalled", "known", found)
		return in.done(w.Platform, w.Topic, start, Result{http.StatusOK, OutcomeUnknownShop, "shop not installed"})
	}

	// An uninstall stops the shop earning before it is acknowledged: one
	// UPDATE, so an order paid a moment later earns nothing even while the
	// queue is long. The worker's task does the rest (credentials, audit).
	// The guard is the platform's own time of the uninstall, so a late or
	// retried delivery never undoes a reinstall that came after it.
	if uninstall && found && shop.Active() {
		at := w.TriggeredAt
		if at.IsZero() {
			at = start
		}
		marked, err := in.marks.MarkUninstalled(ctx, *shop, at)
		if err != nil {
			log.Error("webhook refused: the uninstall cannot be marked", "error", err)
			return in.done(w.Platform, w.Topic, start, Result{http.StatusServiceUnavailable, OutcomeUnavailable, "temporarily unavailable, retry later"})
		}
		in.shops.forget(w.Platform, w.Shop)
		log.Info("shop marked uninstalled", "marked", marked)
	}

	// Only an enqueued task answers "duplicate": the task id is the
	// delivery's, so asynq refuses a second copy while the first waits or
	// runs. A mark set before enqueueing would lie when the enqueue never
	// happened (the process died, or Redis applied the mark and timed
	// out), and a platform retry would be dropped. A delivery repeated
	// after its task finished is enqueued again; the worker finds it
	// recorded, or the order already paid, and changes nothing.
	task, err := jobs.NewWebhookTask(w)
	if err == nil {
		if _, err = in.queue.EnqueueContext(ctx, task); err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
			outcome := OutcomeAccepted
			if err != nil {
				outcome = OutcomeDuplicate
			}
			log.Info("webhook " + outcome)
			return in.done(w.Platform, w.Topic, start, Result{http.StatusOK, outcome, "ok"})
		}
	}
	log.Warn("queue unavailable; parking the webhook in the inbox", "error", err)
	parked, perr := in.inbox.ParkDelivery(ctx, app.WebhookDelivery{Platform: w.Platform, ShopDomain: w.Shop,
		DeliveryID: w.DeliveryID, Topic: w.Topic, Payload: w.Body, ReceivedAt: w.ReceivedAt, TriggeredAt: w.TriggeredAt})
	if perr != nil {
		log.Error("webhook refused: neither the queue nor the inbox can take it", "queue_error", err, "inbox_error", perr)
		return in.done(w.Platform, w.Topic, start, Result{http.StatusServiceUnavailable, OutcomeUnavailable, "temporarily unavailable, retry later"})
	}
	if !parked {
		return in.done(w.Platform, w.Topic, start, Result{http.StatusOK, OutcomeDuplicate, "duplicate delivery"})
	}
	return in.done(w.Platform, w.Topic, start, Result{http.StatusOK, OutcomeInbox, "ok"})
}

func (in *Intake) done(platform app.Platform, topic string, start time.Time, r Result) Result {
	// Only verified, handled topics become label values: an attacker's
	// headers must not mint new time series.
	if topic == "" || !jobs.Handles(platform, topic) {
		topic = "other"
	}
	in.metrics.webhooks.WithLabelValues(string(platform), topic, r.Outcome).Inc()
	in.metrics.latency.WithLabelValues(string(platform)).Observe(in.now().Sub(start).Seconds())
	return r
}

// shopCache remembers active shops briefly: intake must not pay a database
// round trip per delivery. Only an active shop is served from it. A shop
// that is unknown or uninstalled is read again every time, because its
// deliveries are dropped and a drop is final: the first webhook after an
// install or a reinstall must not meet a stale verdict. Drops are rare, so
// those reads are cheap. A shop uninstalled elsewhere may still be served
// as active for up to the TTL; the worker reads the database itself, so
// such a delivery earns nothing.
type shopCache struct {
	shops Shops
	mu    sync.RWMutex
	byKey map[string]cachedShop
	now   func() time.Time
}

type cachedShop struct {
	shop    app.Shop
	expires time.Time
}

const (
	shopCacheTTL = 15 * time.Second
	// shopCacheMissTT is how long storeCache remembers an unknown
	// WooCommerce store key (answered 401, so the store retries).
	shopCacheMissTT = 3 * time.Second
)

func newShopCache(shops Shops) *shopCache {
	return &shopCache{shops: shops, byKey: map[string]cachedShop{}, now: time.Now}
}

func shopKey(platform app.Platform, domain string) string { return string(platform) + "|" + domain }

// lookup returns the shop and whether it exists: an active shop from the
// cache when it is there, anything else from the database.
func (c *shopCache) lookup(ctx context.Context, platform app.Platform, domain string) (app.Shop, bool, error) {
	key := shopKey(platform, domain)
	now := c.now()
	c.mu.RLock()
	e, ok := c.byKey[key]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.shop, true, nil
	}
	shop, err := c.shops.Shop(ctx, platform, domain)
	if err != nil && app.ErrorCode(err) != app.ENotFound {
		return app.Shop{}, false, err
	}
	found := err == nil
	c.mu.Lock()
	if found && shop.Active() {
		if len(c.byKey) > 100000 {
			c.byKey = map[string]cachedShop{} // bounded, whatever the number of shops
		}
		c.byKey[key] = cachedShop{shop: shop, expires: now.Add(shopCacheTTL)}
	} else {
		delete(c.byKey, key)
	}
	c.mu.Unlock()
	return shop, found, nil
}

// forget drops a shop from the cache, e.g. when this process marked it
// uninstalled.
func (c *shopCache) forget(platform app.Platform, domain string) {
	c.mu.Lock()
	delete(c.byKey, shopKey(platform, domain))
	c.mu.Unlock()
}

// Metrics are intake's Prometheus collectors.
type Metrics struct {
	webhooks  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	inboxSize prometheus.Gauge
}

// NewMetrics creates intake's collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_webhooks_total",
			Help: "Webhook deliveries received, by platform, topic and outcome.",
		}, []string{"platform", "topic", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyalty_webhook_intake_seconds",
			Help:    "Time intake took to answer a webhook delivery.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"platform"}),
		inboxSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyalty_webhook_inbox_size",
			Help: "Deliveries parked in the PostgreSQL inbox waiting for the queue.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.webhooks, m.latency, m.inboxSize)
	}
	return m
}
