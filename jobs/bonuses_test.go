package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
)

// bonusWorker is a handler over a service whose clock the test sets.
type bonusWorker struct {
	env *testenv.Env
	svc *app.Service
	h   *Handler
	now time.Time
	mu  sync.Mutex
}

func newBonusWorker(t *testing.T, edit func(*app.Program)) *bonusWorker {
	t.Helper()
	env := testenv.New(t, edit)
	w := &bonusWorker{env: env}
	w.svc = app.NewService(env.Store, func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now })
	w.h = NewHandler(w.svc, env.Store, env.Log, nil)
	return w
}

func (w *bonusWorker) at(s string) {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		panic(err)
	}
	w.mu.Lock()
	w.now = t
	w.mu.Unlock()
}

// member makes a customer with an email who joined on the given day, with a
// birthday ("MM-DD") unless it is empty.
func (w *bonusWorker) member(t *testing.T, id, joined, birthday string) app.Customer {
	t.Helper()
	ctx := context.Background()
	if _, err := w.svc.WelcomeCustomer(ctx, w.env.Shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: id, Email: id + "@example.com", Locale: "en"}}); err != nil {
		t.Fatal(err)
	}
	if birthday != "" {
		b, _ := app.ParseBirthday(birthday)
		if _, err := w.svc.SetBirthday(ctx, w.env.Shop, app.BirthdayChange{CustomerID: id, Birthday: b}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.env.Store.SQL().Exec(`UPDATE customers SET created_at = $1 WHERE shop_id = $2 AND platform_id = $3`,
		joined, w.env.Shop.ID, id); err != nil {
		t.Fatal(err)
	}
	c, err := w.svc.Balance(ctx, w.env.Shop, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *bonusWorker) points(t *testing.T, id string) int64 {
	t.Helper()
	c, err := w.svc.Balance(context.Background(), w.env.Shop, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Balance + c.Pending
}

func (w *bonusWorker) notices(t *testing.T, id string) []app.Notification {
	t.Helper()
	ns, err := w.svc.Notifications(context.Background(), w.env.Shop, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestYearlyBonusesJob(t *testing.T) {
	w := newBonusWorker(t, func(p *app.Program) { p.BirthdayBonus = 100; p.AnniversaryBonus = 40 })
	ctx := context.Background()
	mux := asynq.NewServeMux()
	w.h.Register(mux)
	birthday := w.member(t, "b1", "2025-01-10 12:00:00", "05-17")
	w.member(t, "a1", "2025-05-17 12:00:00", "")
	w.member(t, "none", "2025-01-10 12:00:00", "08-01")

	w.at("2026-05-17 00:20:00")
	for range 2 {
		if err := mux.ProcessTask(ctx, NewYearlyBonusesTask()); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("the birthday bonus is given once and its message recorded once", func(t *testing.T) {
		if got := w.points(t, "b1"); got != 100 {
			t.Fatalf("%d points, want 100", got)
		}
		ns := w.notices(t, "b1")
		if len(ns) != 1 || ns[0].Notice.Kind != app.MessageBirthday || ns[0].Notice.Points != 100 ||
			ns[0].Notice.Key != fmt.Sprintf("birthday:%d:2026", birthday.ID) {
			t.Fatalf("notices %+v", ns)
		}
	})
	t.Run("the anniversary bonus is given once, with no message", func(t *testing.T) {
		if got := w.points(t, "a1"); got != 40 {
			t.Fatalf("%d points, want 40", got)
		}
		if ns := w.notices(t, "a1"); len(ns) != 0 {
			t.Fatalf("notices %+v", ns)
		}
	})
	t.Run("nobody else gets anything", func(t *testing.T) {
		if got := w.points(t, "none"); got != 0 {
			t.Fatalf("%d points", got)
		}
	})
	t.Run("a job that missed the day catches up within the grace window", func(t *testing.T) {
		w.member(t, "late", "2025-01-10 12:00:00", "05-18")
		w.at("2026-05-24 09:00:00") // six days late: no run since
		if err := w.h.YearlyBonuses(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got := w.points(t, "late"); got != 100 {
			t.Fatalf("%d points, want 100", got)
		}
		if got := w.points(t, "b1"); got != 100 {
			t.Fatalf("b1 has %d points after the later run, want 100", got)
		}
	})
	t.Run("two workers at once give each bonus once", func(t *testing.T) {
		for i := range 10 {
			w.member(t, fmt.Sprintf("c%d", i), "2025-01-10 12:00:00", "06-01")
		}
		w.at("2026-06-01 00:20:00")
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := w.h.YearlyBonuses(ctx, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 10 {
			id := fmt.Sprintf("c%d", i)
			if got, n := w.points(t, id), len(w.notices(t, id)); got != 100 || n != 1 {
				t.Fatalf("%s has %d points and %d notices, want 100 and 1", id, got, n)
			}
		}
	})
	d, err := w.svc.Reconcile(ctx, w.env.Shop)
	if err != nil || len(d) != 0 {
		t.Fatalf("reconcile: %v %v", d, err)
	}
}

func TestYearlyBonusesAreScheduledOncePerHour(t *testing.T) {
	env := testenv.New(t, nil)
	h := NewHandler(env.Service, env.Store, env.Log, nil)
	var schedules []*Schedule
	for range 2 { // two worker processes
		srv, err := NewServer(env.Redis, ServerConfig{Concurrency: 1}, h, env.Log)
		if err != nil {
			t.Fatal(err)
		}
		schedules = append(schedules, srv.sched)
	}
	var spec string
	for _, e := range schedules[0].entries {
		if e.task.Type() == TypeYearlyBonuses {
			spec = e.spec
		}
	}
	if spec != "@hourly" {
		t.Fatalf("yearly bonuses scheduled %q, want @hourly", spec)
	}
	at := time.Date(2026, 5, 17, 0, 0, 3, 0, time.UTC)
	for _, s := range schedules {
		if err := s.EnqueueDue(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := asynq.NewInspectorFromRedisClient(env.Redis).ListPendingTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, task := range tasks {
		if task.Type == TypeYearlyBonuses {
			ids = append(ids, task.ID)
		}
	}
	if len(ids) != 1 || ids[0] != PeriodTaskID(TypeYearlyBonuses, at.Truncate(time.Hour)) {
		t.Fatalf("yearly bonus tasks %v, want one for the hour", ids)
	}
}
