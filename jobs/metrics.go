package jobs

import "github.com/prometheus/client_golang/prometheus"

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
