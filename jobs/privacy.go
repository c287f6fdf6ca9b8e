package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
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

// webhookTypes are the task types whose payload is a Webhook with the
// delivery's body.
var webhookTypes = map[string]bool{TypeAccrue: true, TypeReverse: true, TypeBonus: true, TypeShop: true,
	TypePrivacy: true, TypeOrderState: true}

// WithInspector lets privacy requests delete the queued copies of the
// deliveries they redact or erase.
func (h *Handler) WithInspector(i *asynq.Inspector) *Handler {
	h.inspector = i
	return h
}

// purgeQueued deletes the webhook tasks that still hold a redacted
// customer's or an erased shop's data in the queues. A task that gave up
// stays in asynq's archive for months with its whole body, out of reach of
// the database's redaction, and the Archived hook would write it back into
// the deliveries; a task still retrying would do the same when it gives up.
//
// shop/redact deletes every waiting webhook task of the shop (archived,
// retrying, scheduled, pending): the shop's data is gone, so none of them
// has anything left to do. customers/redact deletes the shop's archived
// and retrying tasks whose body names the customer (their id, email or an
// order to redact); pending ones run in a moment and keep no body. A shop
// that reinstalled before its erasure keeps its tasks, as it keeps its data.
// Tasks being processed cannot be deleted and are left to finish.
func (h *Handler) purgeQueued(ctx context.Context, w Webhook, out app.Outcome) error {
	if h.inspector == nil || w.Platform != app.Shopify {
		return nil
	}
	var states []asynq.TaskState
	var names func(Webhook) bool
	switch w.Topic {
	case shopify.TopicShopRedact:
		if out.Skipped == app.SkipShopReinstalled {
			return nil
		}
		states = []asynq.TaskState{asynq.TaskStateArchived, asynq.TaskStateRetry, asynq.TaskStateScheduled, asynq.TaskStatePending}
		names = func(Webhook) bool { return true }
	case shopify.TopicCustomersRedact:
		req, err := shopify.ParseCustomerRedact(w.Body)
		if err != nil {
			return nil // the request itself failed as malformed
		}
		terms := append(append([]string{}, req.OrdersToRedact...), req.CustomerID)
		states = []asynq.TaskState{asynq.TaskStateArchived, asynq.TaskStateRetry}
		names = func(t Webhook) bool { return app.Mentions(t.Body, terms, req.Email) }
	default:
		return nil
	}
	self, _ := asynq.GetTaskID(ctx)
	deleted := 0
	for queue := range Queues {
		for _, state := range states {
			tasks, err := listTasks(h.inspector, queue, state)
			if err != nil {
				return err
			}
			for _, t := range tasks {
				if t.ID == self || !webhookTypes[t.Type] {
					continue
				}
				p, err := DecodeWebhook(t.Payload)
				if err != nil || p.Platform != w.Platform || p.Shop != w.Shop || len(p.Body) == 0 || !names(p) {
					continue
				}
				if err := h.inspector.DeleteTask(queue, t.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
					// Picked up by a worker since it was listed: it finishes.
					if info, ierr := h.inspector.GetTaskInfo(queue, t.ID); ierr == nil && info.State == asynq.TaskStateActive {
						continue
					}
					return fmt.Errorf("delete task %s: %w", t.ID, err)
				}
				deleted++
			}
		}
	}
	if deleted > 0 {
		h.log.Info("queued webhook tasks deleted for a privacy request", "platform", w.Platform, "shop", w.Shop,
			"topic", w.Topic, "delivery_id", w.DeliveryID, "tasks", deleted)
	}
	return nil
}

// listTasks lists every task of a queue in one state. A queue nothing was
// ever queued on does not exist yet, and holds nothing.
func listTasks(i *asynq.Inspector, queue string, state asynq.TaskState) ([]*asynq.TaskInfo, error) {
	list := map[asynq.TaskState]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		asynq.TaskStateArchived: i.ListArchivedTasks, asynq.TaskStateRetry: i.ListRetryTasks,
		asynq.TaskStateScheduled: i.ListScheduledTasks, asynq.TaskStatePending: i.ListPendingTasks,
	}[state]
	const size = 500
	var all []*asynq.TaskInfo
	for page := 1; ; page++ {
		tasks, err := list(queue, asynq.PageSize(size), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s tasks of queue %s: %w", state, queue, err)
		}
		all = append(all, tasks...)
		if len(tasks) < size {
			return all, nil
		}
	}
}
