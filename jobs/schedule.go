package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// Schedule runs periodic tasks once per period across any number of worker
// processes. Every process runs one, and asynq's own scheduler would have
// each of them enqueue its copy of every task; asynq.Unique only holds
// while a copy is queued, so a process whose clock or start lags by more
// than a quick task's run enqueues the period again. Here a period is named
// by the time it begins, the same in every process, and twice guarded:
//
//   - the task's id is TYPE@PERIOD (e.g. loyalty:reconcile@2026-11-20T12:00:00Z)
//     and asynq keeps a completed task, with its id, for a period
//     (asynq.Retention): a second enqueue of the period is refused however
//     late it comes;
//   - Once, a middleware on the workers, records a period that completed
//     in Redis and drops any other run of it (say, one enqueued again after
//     the retention ended). A run that failed is not recorded, so asynq's
//     retries go ahead.
//
// Periods follow the task's spec in UTC: "@hourly" begins on the hour,
// "0 3 * * *" at 03:00, and "@every 5m" every five minutes from midnight
// (multiples of the interval), so every process enqueues at the same
// moments. As with asynq's scheduler, a process that starts mid-period
// waits for the next one, and a period whose start no process saw (all
// were down) is skipped: every periodic job here catches up on its next
// run. EnqueueDue enqueues the current periods on demand.
//
// Register takes what asynq.Scheduler.Register takes, so adding a job is
// one line in NewServer:
//
//	sched.Register("@hourly", NewExpiryWarningsTask())
type Schedule struct {
	client  *asynq.Client
	rdb     redis.UniversalClient
	log     *slog.Logger
	now     func() time.Time
	mu      sync.Mutex
	entries []*scheduled
}

// scheduled is one registered task.
type scheduled struct {
	spec  string
	every time.Duration // "@every" specs: periods are multiples of it
	cron  cron.Schedule // other specs
	task  *asynq.Task
	opts  []asynq.Option
	last  time.Time // the last period this process enqueued
}

// NewSchedule makes an empty schedule on rdb, which it shares with the
// workers (and never closes).
func NewSchedule(rdb redis.UniversalClient, log *slog.Logger) *Schedule {
	return &Schedule{client: asynq.NewClientFromRedisClient(rdb), rdb: rdb, log: log, now: time.Now}
}

// Register runs task on spec, a cron expression (minute hour day month
// weekday), a descriptor such as "@hourly" or "@daily", or "@every
// <duration>", in UTC; opts are added when the task is enqueued. The
// returned id is the spec, for asynq.Scheduler's signature.
func (s *Schedule) Register(spec string, task *asynq.Task, opts ...asynq.Option) (string, error) {
	e := &scheduled{spec: spec, task: task, opts: opts}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || every < time.Second {
			return "", fmt.Errorf("schedule %s: %q needs a duration of a second or more", task.Type(), spec)
		}
		e.every = every
	} else {
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			return "", fmt.Errorf("schedule %s: %w", task.Type(), err)
		}
		if spec, ok := sched.(*cron.SpecSchedule); ok && !strings.HasPrefix(e.spec, "CRON_TZ=") && !strings.HasPrefix(e.spec, "TZ=") {
			spec.Location = time.UTC // the same in every process, whatever its TZ
		}
		e.cron = sched
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.entries {
		if other.task.Type() == task.Type() {
			return "", fmt.Errorf("schedule %s: registered twice", task.Type())
		}
	}
	s.entries = append(s.entries, e)
	return spec, nil
}

// period is the start of the period that contains at.
func (e *scheduled) period(at time.Time) time.Time {
	at = at.UTC()
	if e.every > 0 {
		return at.Truncate(e.every)
	}
	// The last activation at or before at: walk forward from further and
	// further back until one is found.
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		var last time.Time
		for t := at.Add(-back); ; {
			n := e.cron.Next(t)
			if n.IsZero() || n.After(at) {
				break
			}
			last, t = n, n
		}
		if !last.IsZero() {
			return last.UTC()
		}
	}
	return time.Time{}
}

// next is when the period after the one containing at begins.
func (e *scheduled) next(at time.Time) time.Time {
	if e.every > 0 {
		return at.UTC().Truncate(e.every).Add(e.every)
	}
	return e.cron.Next(at).UTC()
}

// length is how long the period beginning at p lasts.
func (e *scheduled) length(p time.Time) time.Duration {
	if d := e.next(p).Sub(p); d > 0 {
		return d
	}
	return time.Hour
}

// PeriodTaskID names a task's run for the period beginning at period.
func PeriodTaskID(taskType string, period time.Time) string {
	return taskType + "@" + period.UTC().Format(time.RFC3339)
}

// parsePeriod reads the period from a task id made by PeriodTaskID.
func parsePeriod(taskType, id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, taskType+"@")
	if !ok {
		return time.Time{}, false
	}
	p, err := time.Parse(time.RFC3339, rest)
	return p, err == nil
}

// EnqueueDue enqueues every registered task for the period that contains
// at, unless it was enqueued (by any process) already.
func (s *Schedule) EnqueueDue(ctx context.Context, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.entries {
		if err := s.enqueue(ctx, e, e.period(at)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// enqueue enqueues e's run for period p. A refusal because the period is
// there already (or, for a task made asynq.Unique, because the previous
// period's run is still in hand) is success: someone has it.
func (s *Schedule) enqueue(ctx context.Context, e *scheduled, p time.Time) error {
	if p.IsZero() {
		return nil
	}
	opts := append(append([]asynq.Option{}, e.opts...),
		asynq.TaskID(PeriodTaskID(e.task.Type(), p)),
		// The id stays taken for the whole period even once the run is done.
		asynq.Retention(e.length(p)))
	_, err := s.client.EnqueueContext(ctx, e.task, opts...)
	switch {
	case err == nil:
		s.log.Debug("periodic task enqueued", "task", e.task.Type(), "period", p)
	case errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask):
		err = nil
	default:
		return fmt.Errorf("enqueue %s for %s: %w", e.task.Type(), p.Format(time.RFC3339), err)
	}
	e.last = p
	return err
}

// retryEnqueue is how soon a failed enqueue (Redis unreachable) is tried
// again within its period.
const retryEnqueue = 5 * time.Second

// Run enqueues every period of every task as it begins, until ctx ends.
func (s *Schedule) Run(ctx context.Context) {
	s.mu.Lock()
	for _, e := range s.entries {
		// The period under way began before this process: its run was
		// another's to enqueue.
		if e.last.IsZero() {
			e.last = e.period(s.now())
		}
	}
	s.mu.Unlock()
	for {
		now := s.now()
		wake := now.Add(24 * time.Hour)
		s.mu.Lock()
		for _, e := range s.entries {
			if p := e.period(now); p.After(e.last) {
				if err := s.enqueue(ctx, e, p); err != nil {
					s.log.Error("periodic task not enqueued", "task", e.task.Type(), "error", err)
					wake = minTime(wake, now.Add(retryEnqueue))
				}
			}
			wake = minTime(wake, e.next(now))
		}
		s.mu.Unlock()
		timer := time.NewTimer(wake.Sub(s.now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// doneKey records that a task's period completed.
func doneKey(taskID string) string { return "loyalty:schedule:done:" + taskID }

// Once is middleware for the workers: a periodic task's run for a period
// that already completed is dropped, and a run that succeeds records its
// period as completed. Tasks whose id names no period (webhooks, a run
// started by hand) pass through.
func (s *Schedule) Once(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		p, ok := parsePeriod(t.Type(), id)
		if !ok {
			return next.ProcessTask(ctx, t)
		}
		done, err := s.rdb.Exists(ctx, doneKey(id)).Result()
		if err != nil {
			return fmt.Errorf("check period of %s: %w", id, err)
		}
		if done > 0 {
			s.log.Info("periodic task already ran for its period", "task", id)
			return nil
		}
		if err := next.ProcessTask(ctx, t); err != nil {
			return err
		}
		// Kept past the period's end, and past its retention: by then no
		// process enqueues the period any more.
		keep := 2*s.periodLength(t.Type(), p) + time.Hour
		if err := s.rdb.Set(context.WithoutCancel(ctx), doneKey(id), "done", keep).Err(); err != nil {
			// The retained task still refuses a second enqueue.
			s.log.Warn("periodic task's period not recorded", "task", id, "error", err)
		}
		return nil
	})
}

// periodLength is how long a task type's period beginning at p lasts; a
// day for a type this process did not register (an older or newer
// version's task).
func (s *Schedule) periodLength(taskType string, p time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.task.Type() == taskType {
			return e.length(p)
		}
	}
	return 24 * time.Hour
}
