package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// Paid orders are most of what a worker does on a busy day, and crediting
// one costs the database little next to the transaction around it. So the
// paid-order tasks a worker runs at the same time for the same shop are
// gathered and credited in one transaction (group commit): each task still
// waits for the commit that credits its order, so what asynq acknowledges is
// exactly what is in the ledger, and a crash loses nothing but the
// uncommitted batch, whose tasks asynq runs again. The deliveries' records
// and the shoppers' messages commit in the same transaction: one commit a
// batch, where each order used to cost three.
//
// Gathering costs no waiting: a batch starts as soon as a runner is free,
// with whatever arrived while the previous one ran, so a quiet shop's order
// is credited at once and a busy shop's orders share commits.

// batchedTopics are the topics credited in batches, with their parsers.
var batchedTopics = map[app.Platform]map[string]func([]byte) (app.OrderPaid, error){
	app.Shopify: {shopify.TopicOrdersPaid: shopify.ParseOrderPaid},
}

const (
	// maxAccrualBatch bounds a batch, and with it the rows one transaction
	// locks and the work redone when it fails.
	maxAccrualBatch = 64
	// accrualRunners is how many batches of one shop run at once in a
	// process: while one waits for the database, the other gathers. More
	// runners split the same tasks into smaller batches, and on a busy
	// machine each batch's statements cost about the same whatever its
	// size (BenchmarkWorkerAccrual: 2 runners credit a third more orders
	// a second than 4).
	accrualRunners = 2
	// batchTimeout bounds one batch; the tasks waiting for it give up with
	// their own deadlines and are retried.
	batchTimeout = 30 * time.Second
	// queueMessagesTimeout bounds queueing a batch's messages.
	queueMessagesTimeout = 10 * time.Second
)

// accrualBatcher gathers paid-order tasks per shop.
type accrualBatcher struct {
	h     *Handler
	mu    sync.Mutex
	shops map[shopKey]*shopAccruals
}

type shopKey struct {
	platform app.Platform
	domain   string
}

type shopAccruals struct {
	waiting []*accrual
	running int
}

// accrual is one task waiting for the batch that credits it.
type accrual struct {
	w Webhook
	// retried says asynq ran the task before.
	retried bool
	done    chan accrualResult // buffered: the runner never waits for a waiter that gave up
}

type accrualResult struct {
	outcome, detail string
	err             error
}

func newAccrualBatcher(h *Handler) *accrualBatcher {
	return &accrualBatcher{h: h, shops: map[shopKey]*shopAccruals{}}
}

// do credits one delivery with the others gathered for its shop and says
// how it went, as Handler.process does.
func (b *accrualBatcher) do(ctx context.Context, w Webhook) (outcome, detail string, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	a := &accrual{w: w, retried: retried > 0, done: make(chan accrualResult, 1)}
	k := shopKey{w.Platform, w.Shop}
	b.mu.Lock()
	s := b.shops[k]
	if s == nil {
		s = &shopAccruals{}
		b.shops[k] = s
	}
	s.waiting = append(s.waiting, a)
	if s.running < accrualRunners {
		s.running++
		go b.run(k, s)
	}
	b.mu.Unlock()
	select {
	case r := <-a.done:
		return r.outcome, r.detail, r.err
	case <-ctx.Done():
		// The batch may still commit; the retry then finds the order
		// credited.
		return "retry", "", ctx.Err()
	}
}

// run applies the shop's waiting deliveries, a batch at a time, until none
// wait.
func (b *accrualBatcher) run(k shopKey, s *shopAccruals) {
	for {
		b.mu.Lock()
		if len(s.waiting) == 0 {
			s.running--
			if s.running == 0 {
				delete(b.shops, k)
			}
			b.mu.Unlock()
			return
		}
		n := min(len(s.waiting), maxAccrualBatch)
		batch := make([]*accrual, n)
		copy(batch, s.waiting)
		s.waiting = append(s.waiting[:0:0], s.waiting[n:]...)
		b.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		b.h.accrueBatch(ctx, batch)
		cancel()
	}
}

// accrueBatch applies a batch in one transaction. Anything unusual (an
// unknown shop, a malformed payload, an error in the transaction) sends the
// deliveries concerned down the one-by-one path, which records each
// verdict on its own.
func (h *Handler) accrueBatch(ctx context.Context, batch []*accrual) {
	alone := func(as ...*accrual) {
		for _, a := range as {
			o, d, err := h.process(ctx, a.w)
			a.done <- accrualResult{outcome: o, detail: d, err: err}
		}
	}
	retryAll := func(as []*accrual, err error) {
		for _, a := range as {
			a.done <- accrualResult{outcome: "retry", err: err}
		}
	}
	first := batch[0].w
	// A task run before may have committed its batch and lost only its
	// acknowledgement: its delivery's verdict says so. A first run is
	// almost never a repeat (intake drops repeated deliveries), and one
	// that is finds its order credited already: the ledger's keys and the
	// order's state make a repeat change nothing, and the first verdict
	// recorded stands. So only retried tasks cost a look-up.
	var ids []string
	for _, a := range batch {
		if a.retried {
			ids = append(ids, a.w.DeliveryID)
		}
	}
	statuses := map[string]app.DeliveryStatus{}
	if len(ids) > 0 {
		var err error
		if statuses, err = h.deliveries.DeliveryStatuses(ctx, first.Platform, first.Shop, ids); err != nil {
			retryAll(batch, err)
			return
		}
	}
	shop, err := h.svc.Shop(ctx, first.Platform, first.Shop)
	if err != nil || !shop.Active() {
		alone(batch...)
		return
	}
	var todo []*accrual
	var events []app.OrderPaid
	for _, a := range batch {
		if statuses[a.w.DeliveryID].Done() {
			a.done <- accrualResult{outcome: "duplicate"}
			continue
		}
		e, err := batchedTopics[a.w.Platform][a.w.Topic](a.w.Body)
		if err != nil {
			alone(a) // records it as failed
			continue
		}
		todo = append(todo, a)
		events = append(events, e)
	}
	if len(todo) == 0 {
		return
	}
	// One transaction credits the orders and records the deliveries'
	// verdicts and the shoppers' messages with them: one commit a batch.
	results := make([]accrualResult, len(todo))
	_, queue, err := h.svc.AccrueAndRecord(ctx, shop, events, func(outs []app.Outcome) []app.WebhookDelivery {
		records := make([]app.WebhookDelivery, len(todo))
		for i, a := range todo {
			status, outcome, detail := verdict(outs[i])
			records[i] = deliveryRecord(a.w, status, detail)
			results[i] = accrualResult{outcome: outcome, detail: detail}
		}
		return records
	})
	if err != nil {
		alone(todo...)
		return
	}
	for i, a := range todo {
		a.done <- results[i]
	}
	// The messages' tasks are queued off the runner, which goes on to the
	// next batch at once: the orders are credited and their tasks answered,
	// and a message whose task is not queued waits in the outbox for the
	// sweep.
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueMessagesTimeout)
		defer cancel()
		queue(ctx)
	}()
}
