package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/woocommerce"
)

// WooCommerce task types.
const (
	// TypeOrderState applies an order's current state: WooCommerce sends
	// whole orders, not paid or refund events.
	TypeOrderState = "loyalty:order-state"
	// TypeWooSync reads orders changed since the last sync: WooCommerce
	// never retries a failed delivery, so this is how a lost one is found.
	TypeWooSync = "loyalty:woocommerce-sync"
	// TypeWooWebhooks re-activates webhooks WooCommerce disabled after
	// repeated failed deliveries.
	TypeWooWebhooks = "loyalty:woocommerce-webhooks"
)

// WooTopics are the webhook topics a connected store sends.
var WooTopics = []string{woocommerce.TopicOrderCreated, woocommerce.TopicOrderUpdated, woocommerce.TopicOrderDeleted,
	woocommerce.TopicOrderRestored, woocommerce.TopicCustomerCreated}

func init() {
	routes[app.WooCommerce] = map[string]route{
		woocommerce.TopicOrderCreated:    {TypeOrderState, QueueCritical},
		woocommerce.TopicOrderUpdated:    {TypeOrderState, QueueCritical},
		woocommerce.TopicOrderRestored:   {TypeOrderState, QueueCritical},
		woocommerce.TopicOrderDeleted:    {TypeReverse, QueueCritical},
		woocommerce.TopicCustomerCreated: {TypeBonus, QueueDefault},
	}
	appliers[app.WooCommerce] = map[string]apply{
		woocommerce.TopicOrderCreated:    applyOrderState,
		woocommerce.TopicOrderUpdated:    applyOrderState,
		woocommerce.TopicOrderRestored:   applyOrderState,
		woocommerce.TopicOrderDeleted:    parsed(woocommerce.ParseDeleted, (*app.Service).CancelOrder),
		woocommerce.TopicCustomerCreated: applyNewCustomer,
	}
}

// applyNewCustomer grants the signup bonus to a new shopper. WooCommerce
// sends customer.created for every WordPress user registered, so staff
// accounts (shop managers, editors) are left out by their role.
func applyNewCustomer(ctx context.Context, svc *app.Service, shop app.Shop, body []byte) (app.Outcome, error) {
	var user struct {
		Role string `json:"role"`
	}
	if err := json.Unmarshal(body, &user); err == nil && user.Role != "" && user.Role != "customer" && user.Role != "subscriber" {
		return app.Outcome{Skipped: app.SkipNoSignupBonus, Detail: "user " + user.Role + " is not a shopper: no signup bonus"}, nil
	}
	return parsed(woocommerce.ParseCustomer, (*app.Service).WelcomeCustomer)(ctx, svc, shop, body)
}

// applyOrderState applies an order's current state: earning when it
// reached a paying status, each refund once, and a reversal when it was
// cancelled, refunded, failed or trashed. The service drops a state older
// than the one already applied (by date_modified_gmt), and lets an order
// that comes back after a cancellation (paid late, restored from the trash)
// earn again.
func applyOrderState(ctx context.Context, svc *app.Service, shop app.Shop, body []byte) (app.Outcome, error) {
	order, err := woocommerce.ParseOrder(body)
	if err != nil {
		return app.Outcome{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	conn, err := svc.Connection(ctx, shop)
	if err != nil {
		return app.Outcome{}, err
	}
	st := order.State(conn.EarnStatuses)
	// A multi-currency plugin sells in the shopper's currency, and the
	// order payload gives its amounts in that currency only: the program's
	// rate, per unit of the shop's currency, cannot apply to them. Such an
	// order earns nothing, and support sees why; its refunds and
	// cancellation still go through, as they only take back what it holds.
	var otherCurrency string
	if st.Paid != nil && order.Currency != "" && shop.Currency != "" && !strings.EqualFold(order.Currency, shop.Currency) {
		st.Paid = nil
		otherCurrency = fmt.Sprintf("%s: the order is in %s and the shop's currency is %s, so it earns no points",
			app.SkipOtherCurrency, order.Currency, shop.Currency)
	}
	out, err := svc.ApplyOrderState(ctx, shop, st)
	if err != nil {
		return app.Outcome{}, err
	}
	if len(out.Entries) > 0 {
		return out, nil
	}
	detail := out.Detail
	switch {
	case otherCurrency != "":
		out.Skipped, detail = app.SkipOtherCurrency, otherCurrency
	case detail == "" && out.Skipped == app.SkipNothingToDo:
		detail = "nothing to do at this status"
	case detail == "":
		detail = string(out.Skipped)
	}
	out.Detail = fmt.Sprintf("order %d (%s): %s", order.ID, order.Status, detail)
	return out, nil
}

// WooClients builds REST clients for connected stores.
type WooClients func(storeURL, consumerKey, consumerSecret string) *woocommerce.Client

// WithWooCommerce lets the handler reach connected stores: clients builds
// their REST clients, deliveryURL gives the webhook address for a store's key.
func (h *Handler) WithWooCommerce(clients WooClients, deliveryURL func(webhookKey string) string) *Handler {
	h.wooClients, h.wooDeliveryURL = clients, deliveryURL
	return h
}

// NewWooSyncTask makes the periodic reconciliation of WooCommerce stores.
func NewWooSyncTask() *asynq.Task {
	return asynq.NewTask(TypeWooSync, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Unique(4*time.Minute),
		asynq.Timeout(30*time.Minute))
}

// NewWooWebhooksTask makes the periodic webhook health check.
func NewWooWebhooksTask() *asynq.Task {
	return asynq.NewTask(TypeWooWebhooks, nil, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Unique(50*time.Minute))
}

// syncOverlap re-reads a little before the last sync point: WooCommerce's
// modification times have one-second resolution and a store's clock may lag.
const syncOverlap = 2 * time.Minute

// SyncWooCommerce reads every connected store's orders changed since the
// last sync and applies them through the same path as webhooks.
func (h *Handler) SyncWooCommerce(ctx context.Context, _ *asynq.Task) error {
	if h.wooClients == nil {
		return nil
	}
	shops, conns, err := h.svc.ActiveConnections(ctx, app.WooCommerce)
	if err != nil {
		return err
	}
	for i, shop := range shops {
		if err := h.syncStore(ctx, shop, conns[i]); err != nil {
			h.log.Warn("woocommerce sync failed", "platform", app.WooCommerce, "shop", shop.Domain, "error", err)
		}
	}
	return nil
}

// SyncStore reconciles one store; see SyncWooCommerce.
func (h *Handler) syncStore(ctx context.Context, shop app.Shop, conn app.Connection) error {
	log := h.log.With("platform", app.WooCommerce, "shop", shop.Domain)
	creds, err := h.svc.Credentials(ctx, shop)
	if err != nil {
		return err
	}
	if creds.APIKey == "" || creds.AccessToken == "" {
		log.Debug("store has no REST keys; webhooks only")
		return nil
	}
	client := h.wooClients(conn.URL, creds.APIKey, creds.AccessToken)
	applied, failed := 0, 0
	latest, err := client.OrdersModifiedAfter(ctx, conn.SyncedUntil.Add(-syncOverlap), func(raw json.RawMessage) error {
		out, err := applyOrderState(ctx, h.svc, shop, raw)
		if errors.Is(err, errMalformed) {
			failed++ // one broken order must not stop the store's sync
			log.Error("woocommerce sync: malformed order", "error", err)
			return nil
		}
		if err != nil {
			return err
		}
		if len(out.Entries) > 0 {
			applied++
		}
		return nil
	})
	until := conn.SyncedUntil
	if !latest.IsZero() && latest.After(until) {
		until = latest
	}
	if saveErr := h.svc.SaveSyncProgress(ctx, shop, until, err); saveErr != nil {
		return saveErr
	}
	outcome := "processed"
	if err != nil || failed > 0 {
		outcome = "failed"
	}
	h.metrics.jobs.WithLabelValues(TypeWooSync, outcome).Inc()
	if applied > 0 {
		log.Info("woocommerce sync applied orders missed by webhooks", "orders", applied, "synced_until", until)
	}
	return err
}

// CheckWooWebhooks keeps each store delivering: it makes webhooks again for
// topics the merchant (or a plugin) deleted, signed with the store's
// secret, and re-activates webhooks WooCommerce disabled after failed
// deliveries. A webhook the merchant paused stays paused, since that was
// their decision, but the store loses orders while it is, so it is raised
// as an alert. What it did, or could not do, goes to the audit log, where
// support and the merchant see it.
func (h *Handler) CheckWooWebhooks(ctx context.Context, _ *asynq.Task) error {
	if h.wooClients == nil {
		return nil
	}
	shops, conns, err := h.svc.ActiveConnections(ctx, app.WooCommerce)
	if err != nil {
		return err
	}
	names := func(hooks []woocommerce.Webhook) string {
		out := make([]string, len(hooks))
		for j, w := range hooks {
			out[j] = fmt.Sprintf("%s (#%d)", w.Topic, w.ID)
		}
		return strings.Join(out, ", ")
	}
	for i, shop := range shops {
		creds, err := h.svc.Credentials(ctx, shop)
		if err != nil || creds.APIKey == "" || creds.WebhookSecret == "" {
			continue
		}
		log := h.log.With("platform", app.WooCommerce, "shop", shop.Domain)
		client := h.wooClients(conns[i].URL, creds.APIKey, creds.AccessToken)
		repair, err := client.RepairWebhooks(ctx, h.wooDeliveryURL(conns[i].WebhookKey), creds.WebhookSecret, WooTopics)
		entry := app.AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: "webhook health job", Action: "check webhooks", Outcome: app.AuditOK}
		var did []string
		if len(repair.Recreated) > 0 {
			did = append(did, "re-created webhooks deleted from the store: "+names(repair.Recreated))
		}
		if len(repair.Reactivated) > 0 {
			did = append(did, "re-activated webhooks disabled by the store after failed deliveries: "+names(repair.Reactivated))
		}
		if err != nil {
			entry.Outcome = app.AuditFailed
			did = append(did, "could not check the store's webhooks: "+err.Error())
			log.Error("woocommerce webhook check failed", "error", err)
		} else if len(did) > 0 {
			log.Warn("woocommerce webhooks repaired", "detail", strings.Join(did, "; "))
		}
		if len(did) > 0 {
			entry.Detail = strings.Join(did, "; ")
			h.svc.Audit(ctx, entry)
		}
		if len(repair.Paused) > 0 {
			detail := "webhooks paused in WooCommerce, so orders are not sent to the loyalty program until they are set to active again " +
				"(WooCommerce › Settings › Advanced › Webhooks); reconciliation catches up in the meantime: " + names(repair.Paused)
			h.svc.Audit(ctx, app.AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: "webhook health job",
				Action: "webhooks paused", Outcome: app.AuditRefused, Detail: detail})
			log.Warn("woocommerce webhooks paused by the merchant; left paused", "webhooks", names(repair.Paused))
		}
		h.svc.MarkWebhooksChecked(ctx, shop)
	}
	return nil
}
