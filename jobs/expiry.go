package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
)

// Task types of points expiry.
const (
	// TypeExpirePoints expires lots past their date and the balances of
	// inactive customers.
	TypeExpirePoints = "loyalty:expire-points"
	// TypeReleasePending makes pending points whose return window ended
	// spendable.
	TypeReleasePending = "loyalty:release-pending"
)

// Both sweeps run every few minutes: a lot expires, or becomes spendable,
// within minutes of its time, and each run finds little to do.
const (
	expirePointsSchedule   = "@every 5m"
	releasePendingSchedule = "@every 5m"
)

// NewExpirePointsTask makes the periodic expiry sweep.
func NewExpirePointsTask() *asynq.Task {
	return asynq.NewTask(TypeExpirePoints, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute))
}

// NewReleasePendingTask makes the periodic release of pending points.
func NewReleasePendingTask() *asynq.Task {
	return asynq.NewTask(TypeReleasePending, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute))
}

// ExpirePoints runs the expiry sweep. Safe to run twice or on two workers:
// each batch commits on its own, so a retry after a failure carries on
// where the failed run stopped.
func (h *Handler) ExpirePoints(ctx context.Context, _ *asynq.Task) error {
	return h.sweep(ctx, TypeExpirePoints, "points expired", h.svc.ExpirePoints)
}

// ReleasePending runs the release of pending points, as safely.
func (h *Handler) ReleasePending(ctx context.Context, _ *asynq.Task) error {
	return h.sweep(ctx, TypeReleasePending, "pending points released", h.svc.ReleasePending)
}

func (h *Handler) sweep(ctx context.Context, taskType, what string, run func(context.Context, app.SweepOptions) (app.Sweep, error)) error {
	start := time.Now()
	s, err := run(ctx, app.SweepOptions{})
	log := h.log.With("task", taskType, "points", s.Points, "lots", s.Lots, "customers", s.Customers,
		"batches", s.Batches, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		h.metrics.jobs.WithLabelValues(taskType, "failed").Inc()
		log.Error(what+": run stopped, the next one carries on", "error", err)
		return err
	}
	h.metrics.jobs.WithLabelValues(taskType, "processed").Inc()
	if s.Lots > 0 {
		log.Info(what)
	}
	return nil
}
