package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// Task types.
const (
	TypeAccrue    = "loyalty:accrue"    // a paid order earns points
	TypeReverse   = "loyalty:reverse"   // a refund or cancellation takes them back
	TypeBonus     = "loyalty:bonus"     // a new customer gets the signup bonus
	TypeShop      = "loyalty:shop"      // app lifecycle events of a shop
	TypePrivacy   = "loyalty:privacy"   // privacy requests: export or redact a customer, erase a shop
	TypeReconcile = "loyalty:reconcile" // periodic check that balances match the ledger
)

// Queues, by priority: points for purchases come before everything else.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues maps each queue to its priority: a worker takes its next task from
// the first queue in this order that has one (see NewServer).
var Queues = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// MaxRetry is how often a webhook task is retried before asynq archives it.
// With asynq's exponential backoff the last try comes about a day later,
// which outlasts a database outage.
const MaxRetry = 20

// Webhook is the payload of a task made from a webhook delivery.
type Webhook struct {
	Platform    app.Platform `json:"platform"`
	Shop        string       `json:"shop"`
	Topic       string       `json:"topic"`
	DeliveryID  string       `json:"delivery_id"`
	ReceivedAt  time.Time    `json:"received_at"`
	TriggeredAt time.Time    `json:"triggered_at,omitzero"`
	Body        []byte       `json:"body,omitempty"`
}

// A webhook task's payload is webhookFormat, the delivery's description as
// one line of JSON, and the body exactly as it arrived. The body is most of
// the payload: as a JSON field it was base64-encoded by intake, then
// scanned and decoded again by the worker, a tenth of the worker's CPU per
// paid order, and a third more bytes in Redis. Payloads written before
// (the whole Webhook as JSON) still decode.
const webhookFormat = "webhook/2\n"

func encodeWebhook(w Webhook) ([]byte, error) {
	body := w.Body
	w.Body = nil // the head: omitted when empty
	head, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, 0, len(webhookFormat)+len(head)+1+len(w.Body))
	payload = append(payload, webhookFormat...)
	payload = append(payload, head...)
	payload = append(payload, '\n')
	return append(payload, body...), nil
}

// DecodeWebhook reads the delivery a webhook task carries.
func DecodeWebhook(payload []byte) (Webhook, error) {
	rest, ok := bytes.CutPrefix(payload, []byte(webhookFormat))
	if !ok {
		var w Webhook
		err := json.Unmarshal(payload, &w)
		return w, err
	}
	line, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return Webhook{}, errors.New("webhook task payload: no body")
	}
	var w Webhook
	if err := json.Unmarshal(line, &w); err != nil {
		return Webhook{}, err
	}
	w.Body = body
	return w, nil
}

// route says which task type and queue a platform topic goes to.
type route struct {
	taskType string
	queue    string
}

var routes = map[app.Platform]map[string]route{
	app.Shopify: {
		shopify.TopicOrdersPaid:      {TypeAccrue, QueueCritical},
		shopify.TopicRefundsCreate:   {TypeReverse, QueueCritical},
		shopify.TopicOrdersCancelled: {TypeReverse, QueueCritical},
		shopify.TopicCustomersCreate: {TypeBonus, QueueDefault},
		shopify.TopicAppUninstalled:  {TypeShop, QueueCritical},

		shopify.TopicCustomersDataRequest: {TypePrivacy, QueueDefault},
		shopify.TopicCustomersRedact:      {TypePrivacy, QueueDefault},
		shopify.TopicShopRedact:           {TypePrivacy, QueueDefault},
	},
}

// Handles reports whether the app does anything with a platform's topic.
func Handles(platform app.Platform, topic string) bool {
	_, ok := routes[platform][topic]
	return ok
}

// TaskID is the task id for a delivery: unique per platform, shop and
// delivery, so asynq refuses a second copy while the first is queued.
func TaskID(platform app.Platform, shop, deliveryID string) string {
	return fmt.Sprintf("%s:%s:%s", platform, shop, deliveryID)
}

// NewWebhookTask makes the task that processes a delivery.
func NewWebhookTask(w Webhook) (*asynq.Task, error) {
	r, ok := routes[w.Platform][w.Topic]
	if !ok {
		return nil, fmt.Errorf("no task for %s topic %q", w.Platform, w.Topic)
	}
	payload, err := encodeWebhook(w)
	if err != nil {
		return nil, fmt.Errorf("encode webhook task: %w", err)
	}
	timeout := time.Minute
	if r.taskType == TypePrivacy {
		timeout = privacyTimeout
	}
	return asynq.NewTask(r.taskType, payload,
		asynq.Queue(r.queue),
		asynq.MaxRetry(MaxRetry),
		asynq.TaskID(TaskID(w.Platform, w.Shop, w.DeliveryID)),
		asynq.Timeout(timeout),
	), nil
}

// NewReconcileTask makes the periodic ledger check.
func NewReconcileTask() *asynq.Task {
	return asynq.NewTask(TypeReconcile, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		// Every worker process runs a scheduler; uniqueness keeps the check
		// to one per period however many there are.
		asynq.Unique(50*time.Minute))
}
