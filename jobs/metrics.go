package jobs

import (
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the workers' Prometheus collectors.
type Metrics struct {
	queueLatency  *prometheus.HistogramVec
	jobs          *prometheus.CounterVec
	discrepancies *prometheus.GaugeVec
}

// NewMetrics creates the workers' collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queueLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyalty_queue_latency_seconds",
			Help:    "Time from a webhook's receipt to the start of its processing by a worker.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"type"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_jobs_total",
			Help: "Jobs run by workers, by type and outcome (processed, skipped, duplicate, failed, retry).",
		}, []string{"type", "outcome"}),
		discrepancies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loyalty_ledger_discrepancies",
			Help: "Customers whose balance disagrees with their ledger at the last reconciliation, by shop.",
		}, []string{"shop"}),
	}
	if reg != nil {
		reg.MustRegister(m.queueLatency, m.jobs, m.discrepancies)
	}
	return m
}

// QueueCollector reports the state of the task queues, read from Redis
// through asynq's Inspector when Prometheus scrapes: how many tasks wait in
// each state (depth), how old the oldest pending task is (latency) and how
// many tasks were processed and failed. Every process that registers it
// reports the same shared queues; aggregate with max by (queue), not sum.
type QueueCollector struct {
	inspector *asynq.Inspector
	// timeout bounds a scrape: Redis in trouble must not hang /metrics.
	timeout time.Duration

	tasks, oldest, processed, failed, paused, memory, up *prometheus.Desc
}

// NewQueueCollector reports the queues inspector sees, giving up on a
// scrape's read after timeout.
func NewQueueCollector(inspector *asynq.Inspector, timeout time.Duration) *QueueCollector {
	queue := []string{"queue"}
	return &QueueCollector{
		inspector: inspector,
		timeout:   timeout,
		tasks: prometheus.NewDesc("loyalty_queue_tasks",
			"Tasks in each queue by state: pending, active, scheduled, retry, archived (failed for good), completed, aggregating.",
			[]string{"queue", "state"}, nil),
		oldest: prometheus.NewDesc("loyalty_queue_oldest_pending_seconds",
			"Age of each queue's oldest pending task: how far behind the workers are (0 when none waits).", queue, nil),
		processed: prometheus.NewDesc("loyalty_queue_processed_total",
			"Tasks the workers finished processing, failed attempts included, since the queue was created.", queue, nil),
		failed: prometheus.NewDesc("loyalty_queue_failed_total",
			"Processing attempts that failed (each retry counts), since the queue was created.", queue, nil),
		paused: prometheus.NewDesc("loyalty_queue_paused",
			"1 when the queue is paused (from the dashboard), 0 when its tasks are processed.", queue, nil),
		memory: prometheus.NewDesc("loyalty_queue_memory_bytes",
			"Redis memory the queue's tasks use, as asynq estimates it by sampling.", queue, nil),
		up: prometheus.NewDesc("loyalty_queue_up",
			"1 when this scrape read the queues from Redis in time, 0 when it could not.", nil, nil),
	}
}

// Describe sends the collector's metric descriptions.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.oldest, c.processed, c.failed, c.paused, c.memory, c.up} {
		ch <- d
	}
}

// Collect reads every queue's state and sends it; when Redis does not
// answer within the timeout it sends only loyalty_queue_up 0.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	infos, err := c.read()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, q := range infos {
		for state, n := range map[string]int{"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled,
			"retry": q.Retry, "archived": q.Archived, "completed": q.Completed, "aggregating": q.Aggregating} {
			gauge(c.tasks, float64(n), q.Queue, state)
		}
		gauge(c.oldest, q.Latency.Seconds(), q.Queue)
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(q.ProcessedTotal), q.Queue)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(q.FailedTotal), q.Queue)
		paused := 0.0
		if q.Paused {
			paused = 1
		}
		gauge(c.paused, paused, q.Queue)
		gauge(c.memory, float64(q.MemoryUsage), q.Queue)
	}
}

// read fetches every queue's info, or gives up after the timeout. The
// Inspector takes no context: a late read finishes on its own and is
// dropped.
func (c *QueueCollector) read() ([]*asynq.QueueInfo, error) {
	type result struct {
		infos []*asynq.QueueInfo
		err   error
	}
	done := make(chan result, 1)
	go func() {
		names, err := c.inspector.Queues()
		if err != nil {
			done <- result{err: err}
			return
		}
		infos := make([]*asynq.QueueInfo, 0, len(names))
		for _, name := range names {
			info, err := c.inspector.GetQueueInfo(name)
			if err != nil {
				done <- result{err: err}
				return
			}
			infos = append(infos, info)
		}
		done <- result{infos: infos}
	}()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.infos, r.err
	case <-timer.C:
		return nil, errors.New("queue inspection timed out")
	}
}
