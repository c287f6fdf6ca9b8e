package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"loyalty/app/apptest"
	"loyalty/internal/testenv"
)

func TestSchedulePeriods(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 34, 56, 0, time.UTC)
	for _, tc := range []struct {
		spec         string
		period, next time.Time
	}{
		{"@hourly", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)},
		{"@every 5m", time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC), time.Date(2026, 11, 20, 12, 35, 0, 0, time.UTC)},
		{"@every 15m", time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC), time.Date(2026, 11, 20, 12, 45, 0, 0, time.UTC)},
		{"0 3 * * *", time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{"0 9 1 * *", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.spec+" periods are the same in every process, in UTC", func(t *testing.T) {
			s := NewSchedule(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if _, err := s.Register(tc.spec, asynq.NewTask("test:tick", nil)); err != nil {
				t.Fatal(err)
			}
			e := s.entries[0]
			for _, in := range []*time.Location{time.UTC, time.FixedZone("UTC+5", 5*3600)} {
				if p := e.period(at.In(in)); !p.Equal(tc.period) {
					t.Errorf("period of %s = %s, want %s", at.In(in), p, tc.period)
				}
			}
			if p := e.period(tc.period); !p.Equal(tc.period) {
				t.Errorf("a period begins at its own start: got %s", p)
			}
			if n := e.next(at); !n.Equal(tc.next) {
				t.Errorf("next after %s = %s, want %s", at, n, tc.next)
			}
		})
	}

	t.Run("a bad spec, a too short interval and a task registered twice are refused", func(t *testing.T) {
		s := NewSchedule(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		for _, spec := range []string{"every hour", "@every 10ms", "61 * * * *"} {
			if _, err := s.Register(spec, asynq.NewTask("test:tick", nil)); err == nil {
				t.Errorf("%q was accepted", spec)
			}
		}
		if _, err := s.Register("@hourly", asynq.NewTask("test:tick", nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register("@daily", asynq.NewTask("test:tick", nil)); err == nil {
			t.Error("a second schedule for the same task type was accepted")
		}
	})
}

// process is one worker process: its schedule, and workers running the
// test task through the schedule's Once.
type process struct {
	sched *Schedule
	srv   *asynq.Server
}

// ticks counts the runs of the test task, by task id.
type ticks struct {
	mu   sync.Mutex
	runs map[string]int
	fail map[string]int // fail the next n runs of an id
}

func (c *ticks) handle(ctx context.Context, _ *asynq.Task) error {
	id, _ := asynq.GetTaskID(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[id]++
	if c.fail[id] > 0 {
		c.fail[id]--
		return errors.New("the database is away")
	}
	return nil
}

func (c *ticks) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[id]
}

func startProcess(t *testing.T, rdb redis.UniversalClient, spec string, now func() time.Time, c *ticks) *process {
	t.Helper()
	log := testenv.Logger(t)
	s := NewSchedule(rdb, log)
	if now != nil {
		s.now = now
	}
	if _, err := s.Register(spec, asynq.NewTask("test:tick", nil, asynq.Queue(QueueDefault), asynq.MaxRetry(3))); err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	mux.Use(s.Once)
	mux.HandleFunc("test:tick", c.handle)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 2, Queues: Queues, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 50 * time.Millisecond,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 0 },
		Logger:         asynqLogger{log}, LogLevel: asynq.WarnLevel})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &process{sched: s, srv: srv}
}

// settle waits until no test task is queued, running or waiting to retry.
func settle(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		q, err := insp.GetQueueInfo(QueueDefault)
		if err == nil && q.Pending+q.Active+q.Scheduled+q.Retry == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the queue did not settle in 10s")
}

func TestScheduleRunsEachPeriodOnce(t *testing.T) {
	noon := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	t.Run("two processes enqueue the same period, late or not: it runs once", func(t *testing.T) {
		rdb := apptest.NewRedisClient(t)
		c := &ticks{runs: map[string]int{}}
		a := startProcess(t, rdb, "@hourly", nil, c)
		b := startProcess(t, rdb, "@hourly", nil, c)
		id := PeriodTaskID("test:tick", noon)

		if err := a.sched.EnqueueDue(ctx, noon); err != nil {
			t.Fatal(err)
		}
		if err := b.sched.EnqueueDue(ctx, noon.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		settle(t, rdb)
		// B's clock is far behind, or it was stuck: it enqueues the period
		// again after the run completed.
		if err := b.sched.EnqueueDue(ctx, noon.Add(40*time.Minute)); err != nil {
			t.Fatal(err)
		}
		settle(t, rdb)
		if n := c.count(id); n != 1 {
			t.Fatalf("%s ran %d times, want once", id, n)
		}

		// The next period runs, once, too.
		next := PeriodTaskID("test:tick", noon.Add(time.Hour))
		for _, p := range []*process{a, b} {
			if err := p.sched.EnqueueDue(ctx, noon.Add(time.Hour+time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		settle(t, rdb)
		if n := c.count(next); n != 1 {
			t.Fatalf("%s ran %d times, want once", next, n)
		}
	})

	t.Run("a period enqueued again once asynq forgot it is dropped by the workers", func(t *testing.T) {
		rdb := apptest.NewRedisClient(t)
		c := &ticks{runs: map[string]int{}}
		a := startProcess(t, rdb, "@hourly", nil, c)
		id := PeriodTaskID("test:tick", noon)
		if err := a.sched.EnqueueDue(ctx, noon); err != nil {
			t.Fatal(err)
		}
		settle(t, rdb)
		// Retention over (or the task deleted from the dashboard): asynq no
		// longer knows the id.
		if err := asynq.NewInspectorFromRedisClient(rdb).DeleteTask(QueueDefault, id); err != nil {
			t.Fatal(err)
		}
		if err := a.sched.EnqueueDue(ctx, noon); err != nil {
			t.Fatal(err)
		}
		settle(t, rdb)
		if n := c.count(id); n != 1 {
			t.Fatalf("the handler ran %d times for %s, want once", n, id)
		}
	})

	t.Run("a run that fails is retried until it succeeds, and counts as the period's run", func(t *testing.T) {
		rdb := apptest.NewRedisClient(t)
		id := PeriodTaskID("test:tick", noon)
		c := &ticks{runs: map[string]int{}, fail: map[string]int{id: 2}}
		a := startProcess(t, rdb, "@hourly", nil, c)
		b := startProcess(t, rdb, "@hourly", nil, c)
		a.sched.EnqueueDue(ctx, noon)
		settle(t, rdb)
		b.sched.EnqueueDue(ctx, noon.Add(time.Minute))
		settle(t, rdb)
		if n := c.count(id); n != 3 {
			t.Fatalf("%s ran %d times, want 3: two failures and the success", id, n)
		}
	})

	t.Run("two schedules running side by side enqueue every period once", func(t *testing.T) {
		rdb := apptest.NewRedisClient(t)
		c := &ticks{runs: map[string]int{}}
		run, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			p := startProcess(t, rdb, "@every 1s", time.Now, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.sched.Run(run)
			}()
		}
		time.Sleep(3500 * time.Millisecond)
		stop()
		wg.Wait()
		settle(t, rdb)
		c.mu.Lock()
		defer c.mu.Unlock()
		var periods []string
		for id, n := range c.runs {
			periods = append(periods, id)
			if n != 1 {
				t.Errorf("%s ran %d times", id, n)
			}
		}
		sort.Strings(periods)
		if len(periods) < 3 || len(periods) > 4 {
			t.Errorf("ran periods %v, want the 3 or 4 seconds that began", periods)
		}
	})
}

func TestEveryPeriodicJobIsScheduled(t *testing.T) {
	env := testenv.New(t, nil)
	srv, err := NewServer(env.Redis, ServerConfig{Concurrency: 1}, NewHandler(env.Service, env.Store, env.Log, nil), env.Log)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range srv.sched.entries {
		got[e.task.Type()] = true
		if _, pattern := srv.mux.Handler(e.task); pattern != e.task.Type() {
			t.Errorf("%s is scheduled but no handler takes it", e.task.Type())
		}
	}
	for _, typ := range []string{TypeReconcile, TypeRefreshTokens, TypeWooSync, TypeWooWebhooks, TypeIssuePending,
		TypeExpireCodes, TypeExpirePoints, TypeReleasePending, TypeNotifyOutbox, TypeExpiryWarnings, TypeYearlyBonuses} {
		if !got[typ] {
			t.Errorf("%s is not on the schedule", typ)
		}
	}
}
