package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ServerConfig configures the workers.
type ServerConfig struct {
	Concurrency int
}

// Server runs the asynq workers and the schedule of periodic jobs.
type Server struct {
	srv   *asynq.Server
	sched *Schedule
	mux   *asynq.ServeMux
	log   *slog.Logger
}

// NewServer builds the workers for the tasks h handles.
func NewServer(rdb redis.UniversalClient, cfg ServerConfig, h *Handler, log *slog.Logger) (*Server, error) {
	logger := asynqLogger{log.With("component", "asynq")}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: cfg.Concurrency,
		// An idle worker looks for new tasks this often; asynq's default of
		// a second would be most of the time a shopper waits for points.
		TaskCheckInterval: 100 * time.Millisecond,
		Queues:            Queues,
		// Strictly by priority: purchases' points, then the rest. With
		// weights, asynq tries the queues in a shuffled order, one Redis
		// round trip each, and its one dequeuing loop spent a third of
		// its trips on empty queues while paid orders waited (16,700
		// dequeue scripts for 15,000 orders strictly, 22,800 weighted).
		// Messages and periodic jobs wait while webhooks queue up, as
		// they should on a sale day; they run once the backlog drains.
		StrictPriority:  true,
		Logger:          logger,
		LogLevel:        asynq.WarnLevel,
		IsFailure:       IsFailure, // a message over its shop's rate waits without spending a retry
		RetryDelayFunc:  RetryDelay(retryDelay),
		ShutdownTimeout: 20 * time.Second,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			if errors.Is(err, asynq.SkipRetry) || retried >= maxRetry {
				h.Archived(ctx, t, err)
			}
		}),
	})
	mux := asynq.NewServeMux()
	h.Register(mux)
	// Every worker process runs the schedule; each period of each job runs
	// once among them all (see Schedule).
	sched := NewSchedule(rdb, log.With("component", "schedule"))
	mux.Use(sched.Once)
	if _, err := sched.Register(expirePointsSchedule, NewExpirePointsTask()); err != nil {
		return nil, fmt.Errorf("schedule points expiry: %w", err)
	}
	if _, err := sched.Register(releasePendingSchedule, NewReleasePendingTask()); err != nil {
		return nil, fmt.Errorf("schedule pending points release: %w", err)
	}
	if _, err := sched.Register("@hourly", NewReconcileTask()); err != nil {
		return nil, fmt.Errorf("schedule reconciliation: %w", err)
	}
	if _, err := sched.Register("@every 10m", NewRefreshTokensTask()); err != nil {
		return nil, fmt.Errorf("schedule token refresh: %w", err)
	}
	if _, err := sched.Register("@every 5m", NewWooSyncTask()); err != nil {
		return nil, fmt.Errorf("schedule woocommerce sync: %w", err)
	}
	if _, err := sched.Register("@hourly", NewWooWebhooksTask()); err != nil {
		return nil, fmt.Errorf("schedule woocommerce webhook check: %w", err)
	}
	if _, err := sched.Register("@every 1m", NewIssuePendingTask()); err != nil {
		return nil, fmt.Errorf("schedule pending reward codes: %w", err)
	}
	if _, err := sched.Register("@every 1m", NewNotifyOutboxTask()); err != nil {
		return nil, fmt.Errorf("schedule notification outbox: %w", err)
	}
	if _, err := sched.Register("@hourly", NewExpiryWarningsTask()); err != nil {
		return nil, fmt.Errorf("schedule expiry warnings: %w", err)
	}
	if _, err := sched.Register("@every 15m", NewExpireCodesTask()); err != nil {
		return nil, fmt.Errorf("schedule reward code expiry: %w", err)
	}
	if _, err := sched.Register(YearlyBonusesSchedule, NewYearlyBonusesTask()); err != nil {
		return nil, fmt.Errorf("schedule yearly bonuses: %w", err)
	}
	return &Server{srv: srv, sched: sched, mux: mux, log: log}, nil
}

// retryDelay backs off exponentially for real failures, but runs a task
// orphaned by a crashed worker again at once: nothing was wrong with it.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// Run processes tasks until ctx is cancelled, then finishes the tasks in
// hand and stops.
func (s *Server) Run(ctx context.Context) error {
	if err := s.srv.Start(s.mux); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	scheduled := make(chan struct{})
	go func() {
		defer close(scheduled)
		s.sched.Run(ctx)
	}()
	s.log.Info("workers started")
	<-ctx.Done()
	<-scheduled
	s.srv.Shutdown()
	s.log.Info("workers stopped")
	return nil
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
