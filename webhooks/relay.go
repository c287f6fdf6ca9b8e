package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/jobs"
)

// Relay moves deliveries parked in the inbox to the queue once Redis is back.
type Relay struct {
	inbox    Inbox
	queue    *asynq.Client
	interval time.Duration
	log      *slog.Logger
	metrics  *Metrics
}

// NewRelay returns a relay that checks the inbox every interval.
func NewRelay(inbox Inbox, rdb redis.UniversalClient, interval time.Duration, log *slog.Logger, metrics *Metrics) *Relay {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Relay{inbox: inbox, queue: asynq.NewClientFromRedisClient(rdb), interval: interval, log: log, metrics: metrics}
}

// Run relays until ctx is cancelled.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if n, err := r.RelayOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("inbox relay stopped early", "relayed", n, "error", err)
		} else if n > 0 {
			r.log.Info("inbox relayed to the queue", "deliveries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

const relayBatch = 200

// RelayOnce moves everything parked in the inbox to the queue, batch by
// batch, and returns how many deliveries it moved. It stops at the first
// delivery the queue refuses; that one and the rest stay parked.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	total := 0
	defer func() {
		if n, err := r.inbox.InboxSize(ctx); err == nil {
			r.metrics.inboxSize.Set(float64(n))
		}
	}()
	for {
		var enqueueErr error
		n, err := r.inbox.RelayInbox(ctx, relayBatch, func(batch []app.WebhookDelivery) int {
			for i, d := range batch {
				task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: d.Platform, Shop: d.ShopDomain, Topic: d.Topic,
					DeliveryID: d.DeliveryID, ReceivedAt: d.ReceivedAt, TriggeredAt: d.TriggeredAt, Body: d.Payload})
				if err == nil {
					_, err = r.queue.EnqueueContext(ctx, task)
				}
				if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
					enqueueErr = err
					return i
				}
			}
			return len(batch)
		})
		total += n
		if err != nil {
			return total, err
		}
		if enqueueErr != nil {
			return total, enqueueErr
		}
		if n < relayBatch {
			return total, nil
		}
	}
}
