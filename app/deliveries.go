package app

import "time"

// DeliveryStatus is what became of a webhook delivery.
type DeliveryStatus string

// Delivery statuses. Inbox deliveries wait in PostgreSQL because the queue
// was down; queued ones were relayed from there; the rest reached a worker.
const (
	DeliveryInbox     DeliveryStatus = "inbox"
	DeliveryQueued    DeliveryStatus = "queued"
	DeliveryProcessed DeliveryStatus = "processed"
	DeliverySkipped   DeliveryStatus = "skipped"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Done reports whether the delivery needs no more work.
func (s DeliveryStatus) Done() bool {
	return s == DeliveryProcessed || s == DeliverySkipped || s == DeliveryFailed
}

// WebhookDelivery is one platform delivery as support sees it: what arrived,
// when, and what became of it. The payload is kept only while it may still be
// needed: in the inbox, and when it failed so support can look at it.
type WebhookDelivery struct {
	ID          int64
	Platform    Platform
	ShopDomain  string
	DeliveryID  string
	Topic       string
	Status      DeliveryStatus
	Detail      string
	Payload     []byte
	ReceivedAt  time.Time
	TriggeredAt time.Time
	ProcessedAt time.Time
}
