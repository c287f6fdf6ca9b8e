package jobs

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"loyalty/app/apptest"
)

// scrape gathers the collector's metrics as name{label values} → value.
func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += ":" + l.GetValue()
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return -1
}

func TestQueueCollector(t *testing.T) {
	rdb := apptest.NewRedisClient(t)
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	enqueue := func(task *asynq.Task, opts ...asynq.Option) {
		t.Helper()
		if _, err := client.Enqueue(task, opts...); err != nil {
			t.Fatal(err)
		}
	}

	// The low queue goes through real workers: one task succeeds, one
	// fails for good (archived), one fails and waits for its retry.
	enqueue(asynq.NewTask("test:ok", nil), asynq.Queue(QueueLow))
	enqueue(asynq.NewTask("test:fail", nil), asynq.Queue(QueueLow), asynq.MaxRetry(0))
	enqueue(asynq.NewTask("test:fail", nil), asynq.Queue(QueueLow), asynq.MaxRetry(5))
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:ok", func(context.Context, *asynq.Task) error { return nil })
	mux.HandleFunc("test:fail", func(context.Context, *asynq.Task) error { return errors.New("platform down") })
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{QueueLow: 1}, Concurrency: 2,
		TaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour }})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := inspector.GetQueueInfo(QueueLow)
		if err == nil && info.ProcessedTotal == 3 && info.Archived == 1 && info.Retry == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers did not process the low queue: %+v %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Shutdown()

	// Work waiting: two pending in critical, one scheduled in a paused default.
	enqueue(asynq.NewTask("test:ok", nil), asynq.Queue(QueueCritical))
	enqueue(asynq.NewTask("test:ok", nil), asynq.Queue(QueueCritical))
	enqueue(asynq.NewTask("test:ok", nil), asynq.Queue(QueueDefault), asynq.ProcessIn(time.Hour))
	if err := inspector.PauseQueue(QueueDefault); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the oldest pending task ages

	got := scrape(t, NewQueueCollector(inspector, 2*time.Second))
	t.Run("depth by queue and state", func(t *testing.T) {
		want := map[string]float64{
			"loyalty_queue_up":                         1,
			"loyalty_queue_tasks:critical:pending":     2,
			"loyalty_queue_tasks:critical:active":      0,
			"loyalty_queue_tasks:default:scheduled":    1,
			"loyalty_queue_tasks:default:pending":      0,
			"loyalty_queue_tasks:low:archived":         1,
			"loyalty_queue_tasks:low:retry":            1,
			"loyalty_queue_tasks:low:pending":          0,
			"loyalty_queue_paused:default":             1,
			"loyalty_queue_paused:critical":            0,
			"loyalty_queue_processed_total:low":        3,
			"loyalty_queue_failed_total:low":           2,
			"loyalty_queue_failed_total:critical":      0,
			"loyalty_queue_oldest_pending_seconds:low": 0,
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %v (reported: %v), want %v", k, g, ok, v)
			}
		}
	})
	t.Run("latency is the age of the oldest pending task", func(t *testing.T) {
		if l := got["loyalty_queue_oldest_pending_seconds:critical"]; l < 0.04 || l > 30 {
			t.Fatalf("critical queue latency %vs", l)
		}
	})
	t.Run("memory is reported", func(t *testing.T) {
		if got["loyalty_queue_memory_bytes:critical"] <= 0 {
			t.Fatalf("memory %v", got["loyalty_queue_memory_bytes:critical"])
		}
	})
}

func TestQueueCollectorGivesUpWhenRedisHangs(t *testing.T) {
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: 5 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	c := NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb), 200*time.Millisecond)
	start := time.Now()
	got := scrape(t, c)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the scrape took %v", took)
	}
	if len(got) != 1 || got["loyalty_queue_up"] != 0 {
		t.Fatalf("scrape of a hung Redis: %v", got)
	}
}
