package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
)

// movable is a clock the test sets.
type movable struct {
	mu sync.Mutex
	t  time.Time
}

func (m *movable) now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *movable) set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = t
}

func TestExpiryJobs(t *testing.T) {
	t.Run("the release and expiry jobs move points, and the widget sees it at once", func(t *testing.T) {
		env := testenv.New(t, func(p *app.Program) { p.PendingDays, p.ExpiryDays = 14, 30 })
		ctx := context.Background()
		start := time.Now()
		clk := &movable{t: start}
		// The jobs' service runs on the test's clock, over the same store,
		// whose observers keep the widget's cache (env.Service) honest.
		svc := app.NewService(env.Store, clk.now)
		h := jobs.NewHandler(svc, env.Store, env.Log, nil)
		if _, err := svc.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1001", Customer: &app.CustomerRef{PlatformID: "c1"},
			Subtotal: app.MustAmount("100"), PaidAt: start}); err != nil {
			t.Fatal(err)
		}
		view := func() app.CustomerView {
			t.Helper()
			v, err := env.Service.CustomerView(ctx, env.Shop, "c1")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := view(); v.Customer.Balance != 0 || v.Customer.Pending != 100 {
			t.Fatalf("before the release: %+v", v.Customer)
		}

		clk.set(start.AddDate(0, 0, 14))
		if err := h.ReleasePending(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if v := view(); v.Customer.Balance != 100 || v.Customer.Pending != 0 {
			t.Fatalf("after the release the widget shows %+v", v.Customer)
		}

		clk.set(start.AddDate(0, 0, 30))
		for range 2 { // the second run finds nothing to do
			if err := h.ExpirePoints(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		v := view()
		if v.Customer.Balance != 0 || len(v.History) != 2 || v.History[0].Kind != app.KindExpire || v.History[0].Points != -100 {
			t.Fatalf("after the expiry the widget shows %+v, history %+v", v.Customer, v.History)
		}
		if d, err := env.Service.Reconcile(ctx, env.Shop); err != nil || len(d) != 0 {
			t.Fatalf("reconcile: %v %v", d, err)
		}
	})
}
