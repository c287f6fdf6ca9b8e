package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// Deliveries records what became of webhook deliveries.
type Deliveries interface {
	DeliveryStatus(ctx context.Context, platform app.Platform, shopDomain, deliveryID string) (app.DeliveryStatus, error)
	DeliveryStatuses(ctx context.Context, platform app.Platform, shopDomain string, deliveryIDs []string) (map[string]app.DeliveryStatus, error)
	RecordDelivery(ctx context.Context, d app.WebhookDelivery) error
	RecordDeliveries(ctx context.Context, ds []app.WebhookDelivery) error
}

// Handler processes tasks. It holds the loyalty service and where deliveries
// are recorded.
type Handler struct {
	svc            *app.Service
	shopifyOAuth   *shopify.OAuth
	wooClients     WooClients
	wooDeliveryURL func(webhookKey string) string
	shopifyClients ShopifyClients
	queue          *asynq.Client
	deliveries     Deliveries
	log            *slog.Logger
	metrics        *Metrics
	now            func() time.Time
	mail           *mail // messages to shoppers (notify.go); nil: none sent
	accruals       *accrualBatcher
	inspector      *asynq.Inspector // privacy.go: deletes queued copies of redacted data; nil: none
}

// NewHandler returns a handler over the loyalty service.
func NewHandler(svc *app.Service, deliveries Deliveries, log *slog.Logger, metrics *Metrics) *Handler {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	h := &Handler{svc: svc, deliveries: deliveries, log: log, metrics: metrics, now: time.Now}
	h.accruals = newAccrualBatcher(h)
	return h
}

// Register routes every task type to its handler method.
func (h *Handler) Register(mux *asynq.ServeMux) {
	for _, t := range []string{TypeAccrue, TypeReverse, TypeBonus, TypeShop, TypePrivacy} {
		mux.HandleFunc(t, h.ProcessWebhook)
	}
	mux.HandleFunc(TypeReconcile, h.Reconcile)
	mux.HandleFunc(TypeRefreshTokens, h.RefreshTokens)
	mux.HandleFunc(TypeOrderState, h.ProcessWebhook)
	mux.HandleFunc(TypeWooSync, h.SyncWooCommerce)
	mux.HandleFunc(TypeWooWebhooks, h.CheckWooWebhooks)
	mux.HandleFunc(TypeIssueCode, h.IssueCode)
	mux.HandleFunc(TypeIssuePending, h.IssuePending)
	mux.HandleFunc(TypeExpireCodes, h.ExpireCodes)
	mux.HandleFunc(TypeExpirePoints, h.ExpirePoints)
	mux.HandleFunc(TypeReleasePending, h.ReleasePending)
	h.registerNotify(mux)
	mux.HandleFunc(TypeYearlyBonuses, h.YearlyBonuses)
}

// errMalformed marks payloads that can never succeed: retrying them only
// fills the queue.
var errMalformed = errors.New("malformed payload")

// apply turns a delivery body into an app event and applies it.
type apply func(ctx context.Context, svc *app.Service, shop app.Shop, body []byte) (app.Outcome, error)

func parsed[E any](parse func([]byte) (E, error), use func(*app.Service, context.Context, app.Shop, E) (app.Outcome, error)) apply {
	return func(ctx context.Context, svc *app.Service, shop app.Shop, body []byte) (app.Outcome, error) {
		e, err := parse(body)
		if err != nil {
			return app.Outcome{}, fmt.Errorf("%w: %w", errMalformed, err)
		}
		return use(svc, ctx, shop, e)
	}
}

var appliers = map[app.Platform]map[string]apply{
	app.Shopify: {
		shopify.TopicOrdersPaid:      parsed(shopify.ParseOrderPaid, (*app.Service).AccrueOrder),
		shopify.TopicRefundsCreate:   parsed(shopify.ParseRefund, (*app.Service).ReverseRefund),
		shopify.TopicOrdersCancelled: parsed(shopify.ParseOrderCancelled, (*app.Service).CancelOrder),
		shopify.TopicCustomersCreate: parsed(shopify.ParseCustomerCreated, (*app.Service).WelcomeCustomer),
		// Intake marked the shop uninstalled already; the worker finishes
		// the uninstall as of when it happened (see process).
		shopify.TopicAppUninstalled:       nil,
		shopify.TopicCustomersDataRequest: parsed(shopify.ParseDataRequest, exportCustomerData),
		shopify.TopicCustomersRedact:      parsed(shopify.ParseCustomerRedact, (*app.Service).RedactCustomer),
		shopify.TopicShopRedact:           eraseShop(shopify.ParseShopRedact),
	},
}

// ProcessWebhook applies one webhook delivery to the ledger.
func (h *Handler) ProcessWebhook(ctx context.Context, t *asynq.Task) error {
	w, err := DecodeWebhook(t.Payload())
	if err != nil {
		h.metrics.jobs.WithLabelValues(t.Type(), "failed").Inc()
		return fmt.Errorf("decode task payload: %v: %w", err, asynq.SkipRetry)
	}
	log := h.log.With("platform", w.Platform, "shop", w.Shop, "topic", w.Topic, "delivery_id", w.DeliveryID, "task", t.Type())
	if retried, _ := asynq.GetRetryCount(ctx); retried == 0 {
		h.metrics.queueLatency.WithLabelValues(t.Type()).Observe(h.now().Sub(w.ReceivedAt).Seconds())
	}
	var outcome, detail string
	if _, batched := batchedTopics[w.Platform][w.Topic]; batched {
		outcome, detail, err = h.accruals.do(ctx, w)
	} else {
		outcome, detail, err = h.process(ctx, w)
	}
	h.metrics.jobs.WithLabelValues(t.Type(), outcome).Inc()
	switch outcome {
	case "failed":
		log.Error("webhook failed for good", "error", err)
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	case "retry":
		log.Warn("webhook will be retried", "error", err)
		return err
	case "duplicate":
		log.Info("webhook already processed")
	default:
		log.Info("webhook "+outcome, "detail", detail)
	}
	return nil
}

// process does the work and says how it went: processed, skipped,
// duplicate, failed (recorded, never retried) or retry.
func (h *Handler) process(ctx context.Context, w Webhook) (outcome, detail string, err error) {
	status, err := h.deliveries.DeliveryStatus(ctx, w.Platform, w.Shop, w.DeliveryID)
	if err != nil {
		return "retry", "", err
	}
	if status.Done() {
		return "duplicate", "", nil
	}
	record := func(status app.DeliveryStatus, detail string) error {
		return h.deliveries.RecordDelivery(ctx, deliveryRecord(w, status, detail))
	}
	applyFn, ok := appliers[w.Platform][w.Topic]
	if !ok {
		detail = fmt.Sprintf("no handler for %s topic %s", w.Platform, w.Topic)
		return "failed", detail, errors.Join(errors.New(detail), record(app.DeliveryFailed, detail))
	}
	shop, err := h.svc.Shop(ctx, w.Platform, w.Shop)
	if app.ErrorCode(err) == app.ENotFound {
		// An erased shop's privacy requests still clear its queued tasks:
		// a first run may have erased the shop, then failed to clear them.
		if err := h.purgeQueued(ctx, w, app.Outcome{}); err != nil {
			return "retry", "", fmt.Errorf("purge queued tasks: %w", err)
		}
		detail = "unknown shop"
		return "skipped", detail, record(app.DeliverySkipped, detail)
	}
	if err != nil {
		return "retry", "", err
	}
	var out app.Outcome
	if w.Platform == app.Shopify && w.Topic == shopify.TopicAppUninstalled {
		// As of when it happened, so a reinstall since then wins.
		at := w.TriggeredAt
		if at.IsZero() {
			at = w.ReceivedAt
		}
		out, err = h.svc.CompleteUninstall(ctx, shop, at)
	} else {
		out, err = applyFn(ctx, h.svc, shop, w.Body)
	}
	if err != nil {
		if errors.Is(err, errMalformed) || app.ErrorCode(err) == app.EInvalid {
			detail = err.Error()
			return "failed", detail, errors.Join(err, record(app.DeliveryFailed, detail))
		}
		return "retry", "", err
	}
	if err := h.purgeQueued(ctx, w, out); err != nil {
		return "retry", "", fmt.Errorf("purge queued tasks: %w", err)
	}
	status, outcome, detail = verdict(out)
	if err := record(status, detail); err != nil {
		// The ledger change is committed; a retry finds it applied.
		return "retry", "", fmt.Errorf("record delivery: %w", err)
	}
	h.notifyApplied(ctx, w, shop, out)
	return outcome, detail, nil
}

// verdict is how an applied event is recorded and counted.
func verdict(out app.Outcome) (status app.DeliveryStatus, outcome, detail string) {
	if len(out.Entries) == 0 && (out.Detail == "" || out.Skipped != app.SkipNone) {
		return app.DeliverySkipped, "skipped", describe(out)
	}
	return app.DeliveryProcessed, "processed", describe(out)
}

func deliveryRecord(w Webhook, status app.DeliveryStatus, detail string) app.WebhookDelivery {
	return app.WebhookDelivery{Platform: w.Platform, ShopDomain: w.Shop, DeliveryID: w.DeliveryID, Topic: w.Topic,
		Status: status, Detail: detail, Payload: w.Body, ReceivedAt: w.ReceivedAt, TriggeredAt: w.TriggeredAt}
}

func describe(out app.Outcome) string {
	if out.Detail != "" {
		return out.Detail
	}
	if len(out.Entries) == 0 {
		if out.Skipped == app.SkipNone {
			return "done"
		}
		return string(out.Skipped)
	}
	s := ""
	for i, e := range out.Entries {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("%s %+d points", e.Kind, e.Points)
		if e.Unrecovered > 0 {
			s += fmt.Sprintf(" (%d unrecovered)", e.Unrecovered)
		}
	}
	return s
}

// Archived records a delivery whose task exhausted its retries, so support
// sees it as failed next to the reason asynq archived it with.
//
// A delivery whose verdict is already recorded is left as it is: a failure
// was recorded with its body by the handler, and a privacy request may have
// cleared that body since (an archived task can be run again by hand much
// later); writing the body back would undo the redaction. Nor is the body
// kept for a shop that is no longer there: it was erased.
func (h *Handler) Archived(ctx context.Context, t *asynq.Task, cause error) {
	w, err := DecodeWebhook(t.Payload())
	if err != nil || w.DeliveryID == "" {
		return
	}
	status, err := h.deliveries.DeliveryStatus(ctx, w.Platform, w.Shop, w.DeliveryID)
	if err == nil && status.Done() {
		return
	}
	body := w.Body
	if _, err := h.svc.Shop(ctx, w.Platform, w.Shop); err != nil {
		body = nil // erased, or unknown for now: keeping its data is not worth the doubt
	}
	err = h.deliveries.RecordDelivery(ctx, app.WebhookDelivery{Platform: w.Platform, ShopDomain: w.Shop,
		DeliveryID: w.DeliveryID, Topic: w.Topic, Status: app.DeliveryFailed,
		Detail: "gave up after retries: " + cause.Error(), Payload: body, ReceivedAt: w.ReceivedAt, TriggeredAt: w.TriggeredAt})
	if err != nil {
		h.log.Error("record archived delivery", "shop", w.Shop, "delivery_id", w.DeliveryID, "error", err)
	}
}

// Reconcile checks every shop's balances against its ledger and reports
// each disagreement; a healthy ledger reports none.
func (h *Handler) Reconcile(ctx context.Context, _ *asynq.Task) error {
	shops, err := h.svc.Shops(ctx)
	if err != nil {
		return err
	}
	for _, shop := range shops {
		d, err := h.svc.Reconcile(ctx, shop)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", shop.Domain, err)
		}
		h.metrics.discrepancies.WithLabelValues(shop.Domain).Set(float64(len(d)))
		for _, x := range d {
			h.log.Error("ledger discrepancy", "shop", shop.Domain, "detail", x.String())
		}
	}
	h.metrics.jobs.WithLabelValues(TypeReconcile, "processed").Inc()
	return nil
}
