package jobs

import "time"

// SetNotifySweepWait changes how old a queued notification must be before
// the outbox sweep queues it (a minute).
func SetNotifySweepWait(h *Handler, d time.Duration) { h.mail.sweepWait = d }
