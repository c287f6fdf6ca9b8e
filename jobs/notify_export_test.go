package jobs

import (
	"context"
	"time"
)

// SetNotifySweepWait changes how old a queued notification must be before
// the outbox sweep queues it (a minute).
func SetNotifySweepWait(h *Handler, d time.Duration) { h.mail.sweepWait = d }

// TakeSlots spends n messages of a shop's rate at once.
func TakeSlots(ctx context.Context, l *ShopRateLimit, shopID int64, n int) ([]time.Duration, error) {
	return l.takeN(ctx, shopID, n)
}
