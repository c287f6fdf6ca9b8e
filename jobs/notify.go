package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// Notification task types.
const (
	// TypeNotify renders and sends one recorded notification.
	TypeNotify = "loyalty:notify"
	// TypeNotifyOutbox queues notifications whose task could not be queued
	// when they were recorded: the notifications table is the outbox.
	TypeNotifyOutbox = "loyalty:notify-outbox"
	// TypeExpiryWarnings warns shoppers whose points expire soon.
	TypeExpiryWarnings = "loyalty:expiry-warnings"
)

// Notify is the payload of TypeNotify.
type Notify struct {
	ShopID         int64 `json:"shop_id"`
	NotificationID int64 `json:"notification_id"`
	// Slotted says the task was queued for a time the shop's message rate
	// had room for, with the room taken: its first run sends at once.
	Slotted bool `json:"slotted,omitempty"`
}

// notifyRetries spreads temporary mail trouble over about a day with
// asynq's backoff; then the notification is recorded as failed.
const notifyRetries = 12

// NewNotifyTask makes the task that sends a notification. Messages are
// the least urgent work there is: they go on the low queue. The task id is
// the notification's, so a notification is queued at most once at a time.
func NewNotifyTask(shop app.Shop, n app.Notification) *asynq.Task {
	return newNotifyTask(Notify{ShopID: shop.ID, NotificationID: n.ID})
}

func newNotifyTask(p Notify) *asynq.Task {
	payload, _ := json.Marshal(p)
	return asynq.NewTask(TypeNotify, payload, asynq.Queue(QueueLow), asynq.MaxRetry(notifyRetries),
		asynq.TaskID("notify:"+strconv.FormatInt(p.NotificationID, 10)), asynq.Timeout(time.Minute))
}

// NewNotifyOutboxTask makes the periodic outbox sweep.
func NewNotifyOutboxTask() *asynq.Task {
	return asynq.NewTask(TypeNotifyOutbox, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Unique(50*time.Second))
}

// NewExpiryWarningsTask makes the periodic expiry warnings run.
func NewExpiryWarningsTask() *asynq.Task {
	return asynq.NewTask(TypeExpiryWarnings, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Unique(50*time.Minute))
}

// NoticeQueue hands notifications to the workers as they are recorded; the
// service uses it through app.Service.WithNoticeQueue.
type NoticeQueue struct {
	client *asynq.Client
	log    *slog.Logger
	limit  *ShopRateLimit
}

var _ app.NoticeQueue = (*NoticeQueue)(nil)

// NewNoticeQueue queues notifications with client.
func NewNoticeQueue(client *asynq.Client, log *slog.Logger) *NoticeQueue {
	return &NoticeQueue{client: client, log: log}
}

// WithRateLimit makes QueueNotices queue each notification for when the
// shop's message rate has room for it. On a busy day a shop records far
// more messages than it may send in a minute; a task queued for its slot
// runs once, where one queued at once would run, be put off, and run again.
func (q *NoticeQueue) WithRateLimit(l *ShopRateLimit) *NoticeQueue {
	q.limit = l
	return q
}

// QueueNotices queues the tasks of a shop's notifications, with one trip to
// the rate counter for all of them. A failure is logged, not returned as
// the caller's problem: the outbox sweep queues them later.
func (q *NoticeQueue) QueueNotices(ctx context.Context, shop app.Shop, ns []app.Notification) error {
	var waits []time.Duration
	if q.limit != nil {
		// Without an answer from the counter the tasks take their slots
		// when they run, as those from the outbox sweep do.
		waits, _ = q.limit.takeN(ctx, shop.ID, len(ns))
	}
	var errs []error
	for i, n := range ns {
		p := Notify{ShopID: shop.ID, NotificationID: n.ID}
		var opts []asynq.Option
		if waits != nil {
			p.Slotted = true
			if waits[i] > 0 {
				opts = append(opts, asynq.ProcessIn(waits[i]))
			}
		}
		_, err := q.client.EnqueueContext(ctx, newNotifyTask(p), opts...)
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			q.log.Warn("notification not queued; the outbox sweep will send it", "shop", shop.Domain, "notification", n.ID, "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// mail is what the handler needs to send messages.
type mail struct {
	mailer    app.Mailer
	limiter   *ShopRateLimit
	notices   *NoticeQueue
	sweepWait time.Duration
}

// WithMail lets the handler send messages through mailer, at most limit.PerMinute per
// shop; q queues notifications found by the outbox sweep.
func (h *Handler) WithMail(mailer app.Mailer, limit *ShopRateLimit, q *NoticeQueue) *Handler {
	h.mail = &mail{mailer: mailer, limiter: limit, notices: q, sweepWait: time.Minute}
	return h
}

func (h *Handler) registerNotify(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeNotify, h.Notify)
	mux.HandleFunc(TypeNotifyOutbox, h.NotifyOutbox)
	mux.HandleFunc(TypeExpiryWarnings, h.WarnExpiring)
}

// ShopRateLimit counts each shop's messages per minute in Redis, so every
// worker process shares one budget per shop.
type ShopRateLimit struct {
	Redis     redis.UniversalClient
	PerMinute int
	Now       func() time.Time
}

// take spends one message of the shop's budget for the current minute, or
// says how long to wait; see takeN.
func (l *ShopRateLimit) take(ctx context.Context, shopID int64) (time.Duration, error) {
	waits, err := l.takeN(ctx, shopID, 1)
	if err != nil {
		return 0, err
	}
	return waits[0], nil
}

// takeN spends n messages of the shop's budget for the current minute, in
// one round trip, and says how long each must wait: none while the minute
// has room, then until a later minute, further ahead the longer the queue
// of messages already over the limit, so a backlog drains at the limit
// instead of waking all at once every minute.
func (l *ShopRateLimit) takeN(ctx context.Context, shopID int64, n int) ([]time.Duration, error) {
	waits := make([]time.Duration, n)
	if l == nil || l.PerMinute <= 0 || n == 0 {
		return waits, nil
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	minute := now.Unix() / 60
	key := "loyalty:mail-rate:" + strconv.FormatInt(shopID, 10) + ":" + strconv.FormatInt(minute, 10)
	pipe := l.Redis.TxPipeline()
	incr := pipe.IncrBy(ctx, key, int64(n))
	pipe.Expire(ctx, key, 2*time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("mail rate limit: %w", err)
	}
	next := time.Unix((minute+1)*60, 0)
	for i := range waits {
		// The i-th of the n is the k-th message of the minute.
		k := int(incr.Val()) - n + 1 + i
		if k <= l.PerMinute {
			continue
		}
		over := (k - l.PerMinute - 1) / l.PerMinute
		waits[i] = next.Sub(now) + time.Duration(over)*time.Minute + time.Duration(k%10)*time.Second
	}
	return waits, nil
}

// snooze asks asynq to run a task again after a while without counting it
// as a failure (no retry spent, no backoff): see IsFailure and RetryDelay.
type snooze struct {
	wait   time.Duration
	reason string
}

func (s *snooze) Error() string { return s.reason + "; again in " + s.wait.Round(time.Second).String() }

// IsFailure tells asynq which errors spend a retry: a snoozed task has not
// failed.
func IsFailure(err error) bool {
	var s *snooze
	return !errors.As(err, &s)
}

// RetryDelay runs a snoozed task when it asked to, and others as next
// would.
func RetryDelay(next asynq.RetryDelayFunc) asynq.RetryDelayFunc {
	return func(n int, err error, t *asynq.Task) time.Duration {
		var s *snooze
		if errors.As(err, &s) {
			return s.wait
		}
		return next(n, err, t)
	}
}

// Notify sends one notification. A shop over its rate waits for a later
// minute (its last try does not wait: a message late is better than
// none); temporary mail trouble is retried with backoff; a permanent
// refusal archives the notification. Every try is recorded on it.
func (h *Handler) Notify(ctx context.Context, t *asynq.Task) error {
	var p Notify
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task payload: %v: %w", err, asynq.SkipRetry)
	}
	if h.mail == nil {
		return errors.New("no mailer configured")
	}
	log := h.log.With("task", TypeNotify, "notification", p.NotificationID)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, known := asynq.GetMaxRetry(ctx)
	lastTry := known && retried >= maxRetry
	if !lastTry && !(p.Slotted && retried == 0) {
		// The budget comes first: on a busy day most tries of a shop's
		// messages wait for a later minute, and a wait costs no database
		// read. A task whose message went out already spends a slot, which
		// only a duplicate task does.
		wait, err := h.mail.limiter.take(ctx, p.ShopID)
		if err != nil {
			return err
		}
		if wait > 0 {
			h.metrics.jobs.WithLabelValues(TypeNotify, "rate-limited").Inc()
			return &snooze{wait: wait, reason: "shop over its message rate"}
		}
	}
	_, n, err := h.svc.Notification(ctx, p.NotificationID)
	if app.ErrorCode(err) == app.ENotFound {
		return fmt.Errorf("notification %d: %w", p.NotificationID, asynq.SkipRetry) // erased with its shop or customer
	}
	if err != nil {
		return err
	}
	if n.Status != app.NotificationQueued {
		return nil // sent (or given up) already
	}
	n, err = h.svc.DeliverNotice(ctx, p.NotificationID, h.mail.mailer, lastTry)
	outcome := string(n.Status)
	if err != nil {
		outcome = "retry"
	}
	h.metrics.jobs.WithLabelValues(TypeNotify, outcome).Inc()
	log = log.With("kind", n.Notice.Kind, "status", n.Status)
	switch {
	case err != nil:
		log.Warn("message will be retried", "error", err)
	case n.Status == app.NotificationSent:
		log.Info("message sent")
	default:
		log.Warn("message not sent", "reason", n.LastError)
	}
	return err
}

// NotifyOutbox queues every notification still waiting a minute after it
// was recorded. One whose task is queued (or waiting for a retry) already
// is left to it: the task id refuses a second copy.
func (h *Handler) NotifyOutbox(ctx context.Context, _ *asynq.Task) error {
	if h.mail == nil || h.mail.notices == nil {
		return nil
	}
	var after int64
	for page := 0; page < 20; page++ {
		shops, due, err := h.svc.QueuedNotifications(ctx, h.now().Add(-h.mail.sweepWait), after, 500)
		if err != nil {
			return err
		}
		for i, n := range due {
			if _, err := h.mail.notices.client.EnqueueContext(ctx, NewNotifyTask(shops[i], n)); err != nil &&
				!errors.Is(err, asynq.ErrTaskIDConflict) {
				return err
			}
			after = n.ID
		}
		if len(due) < 500 {
			return nil
		}
	}
	return nil
}

// WarnExpiring queues the expiry warnings that are due.
func (h *Handler) WarnExpiring(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.WarnExpiring(ctx)
	h.metrics.jobs.WithLabelValues(TypeExpiryWarnings, "processed").Add(float64(n))
	if n > 0 {
		h.log.Info("expiry warnings queued", "count", n)
	}
	return err
}

// notifyApplied sends the messages an applied webhook calls for: welcome
// and points earned. The ledger change is committed and recorded whatever
// happens here, so trouble is logged, not retried (a retry would find the
// delivery done and could not send them either).
func (h *Handler) notifyApplied(ctx context.Context, w Webhook, shop app.Shop, out app.Outcome) {
	err := h.svc.NotifyOutcome(ctx, shop, out)
	if routes[w.Platform][w.Topic].taskType == TypeBonus && len(out.Entries) == 0 && out.Skipped == app.SkipNoSignupBonus &&
		out.Detail == "" { // a WooCommerce staff account has a detail: no welcome
		if id := newCustomerID(w); id != "" {
			c, cerr := h.svc.Balance(ctx, shop, id)
			if cerr == nil {
				cerr = h.svc.NotifyWelcome(ctx, shop, c.ID, 0)
			}
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		h.log.Error("messages for a webhook could not be recorded", "shop", shop.Domain, "topic", w.Topic,
			"delivery_id", w.DeliveryID, "error", err)
	}
}

// newCustomerID reads the platform's id of the customer a customer-created
// webhook is about.
func newCustomerID(w Webhook) string {
	switch w.Platform {
	case app.Shopify:
		if e, err := shopify.ParseCustomerCreated(w.Body); err == nil {
			return e.Customer.PlatformID
		}
	case app.WooCommerce:
		if e, err := woocommerce.ParseCustomer(w.Body); err == nil {
			return e.Customer.PlatformID
		}
	}
	return ""
}

// notifyRedeemed sends a shopper the code their points bought, once it
// exists on the platform.
func (h *Handler) notifyRedeemed(ctx context.Context, shop app.Shop, r app.Redemption) {
	n := app.Notice{Kind: app.MessageRedeemed, CustomerID: r.CustomerID, Points: r.Points, Code: r.Code,
		RewardName: r.RewardName, Key: "redeemed:" + strconv.FormatInt(r.ID, 10)}
	if r.ExpiresAt != nil {
		n.On = *r.ExpiresAt
	}
	if _, err := h.svc.Notify(ctx, shop, n); err != nil {
		h.log.Error("reward code message could not be recorded", "shop", shop.Domain, "redemption", r.ID, "error", err)
	}
}
