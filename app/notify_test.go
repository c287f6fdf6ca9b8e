package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

// recordingQueue remembers the notifications handed to the workers.
type recordingQueue struct{ got []app.Notification }

func (q *recordingQueue) QueueNotices(_ context.Context, _ app.Shop, ns []app.Notification) error {
	q.got = append(q.got, ns...)
	return nil
}

// mailerFunc is a Mailer made of a function: the app's tests check the
// delivery rules; the real SMTP conversation is tested in jobs.
type mailerFunc func(app.Mail) error

func (f mailerFunc) Send(_ context.Context, m app.Mail) error { return f(m) }

// shopper makes a customer through the welcome event and returns them.
func (f *fixture) shopper(id, email, locale string) app.Customer {
	f.t.Helper()
	if _, err := f.svc.WelcomeCustomer(f.ctx, f.shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: id, Email: email, Locale: locale}}); err != nil {
		f.t.Fatalf("welcome %s: %v", id, err)
	}
	c, err := f.svc.Balance(f.ctx, f.shop, id)
	if err != nil {
		f.t.Fatalf("customer %s: %v", id, err)
	}
	return c
}

func (f *fixture) notify(n app.Notice) bool {
	f.t.Helper()
	queued, err := f.svc.Notify(f.ctx, f.shop, n)
	if err != nil {
		f.t.Fatalf("notify %s: %v", n.Key, err)
	}
	return queued
}

func (f *fixture) notifications(customerID string) []app.Notification {
	f.t.Helper()
	ns, err := f.svc.Notifications(f.ctx, f.shop, customerID, 0)
	if err != nil {
		f.t.Fatalf("notifications: %v", err)
	}
	return ns
}

func TestNotify(t *testing.T) {
	t.Run("a notice is recorded and queued once per key", func(t *testing.T) {
		f := newFixture(t, nil)
		q := &recordingQueue{}
		f.svc.WithNoticeQueue(q)
		c := f.shopper("c1", "anna@example.com", "pl-PL")
		n := app.Notice{Kind: app.MessageEarned, CustomerID: c.ID, Points: 120, Key: "earned:1"}
		if !f.notify(n) {
			t.Fatal("first notice was not queued")
		}
		if f.notify(n) {
			t.Fatal("the same key was queued twice")
		}
		got := f.notifications("c1")
		if len(got) != 1 || len(q.got) != 1 {
			t.Fatalf("%d notifications recorded, %d queued; want 1 and 1", len(got), len(q.got))
		}
		if g := got[0]; g.Status != app.NotificationQueued || g.Email != "anna@example.com" || g.Locale != "pl-PL" ||
			g.Notice.Points != 120 || g.Notice.Kind != app.MessageEarned {
			t.Fatalf("recorded %+v", g)
		}
	})

	skipped := []struct {
		name  string
		edit  func(*app.Program)
		email string
		unsub bool
	}{
		{"a message the merchant switched off is skipped", func(p *app.Program) { p.Messages.Earned = false }, "a@example.com", false},
		{"a shopper without an email address is skipped", nil, "", false},
		{"a shopper who unsubscribed is skipped", nil, "a@example.com", true},
	}
	for _, tt := range skipped {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.edit)
			q := &recordingQueue{}
			f.svc.WithNoticeQueue(q)
			c := f.shopper("c1", tt.email, "en")
			if tt.unsub {
				if err := f.svc.Unsubscribe(f.ctx, f.shop.ID, c.ID); err != nil {
					t.Fatal(err)
				}
			}
			if f.notify(app.Notice{Kind: app.MessageEarned, CustomerID: c.ID, Points: 5, Key: "earned:1"}) {
				t.Fatal("queued")
			}
			got := f.notifications("c1")
			if len(got) != 1 || got[0].Status != app.NotificationSkipped || got[0].LastError == "" || len(q.got) != 0 {
				t.Fatalf("recorded %+v, queued %d; want one skipped with a reason, none queued", got, len(q.got))
			}
			attempts, err := f.svc.NotificationAttempts(f.ctx, got[0].ID)
			if err != nil || len(attempts) != 1 || attempts[0].Status != app.NotificationSkipped {
				t.Fatalf("attempts = %+v, %v; want the skip recorded", attempts, err)
			}
		})
	}

	t.Run("a notice needs a known kind, a key and a customer", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.shopper("c1", "a@example.com", "en")
		for _, n := range []app.Notice{
			{Kind: "sms", CustomerID: c.ID, Key: "k"},
			{Kind: app.MessageWelcome, CustomerID: c.ID},
			{Kind: app.MessageWelcome, Key: "k"},
		} {
			if _, err := f.svc.Notify(f.ctx, f.shop, n); app.ErrorCode(err) != app.EInvalid {
				t.Errorf("Notify(%+v) = %v, want invalid", n, err)
			}
		}
	})
}

func TestDeliverNotice(t *testing.T) {
	temporary := errors.New("421 try again later")
	permanent := fmt.Errorf("%w: 550 no such user", app.ErrUndeliverable)
	tests := []struct {
		name     string
		err      error
		lastTry  bool
		status   app.NotificationStatus
		wantErr  bool
		attempts int
	}{
		{"a message the server takes is sent", nil, false, app.NotificationSent, false, 1},
		{"a temporary failure stays queued and is retried", temporary, false, app.NotificationQueued, true, 1},
		{"a temporary failure on the last try fails for good", temporary, true, app.NotificationFailed, false, 1},
		{"a permanent refusal is archived, not retried", permanent, false, app.NotificationArchived, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.shopper("c1", "a@example.com", "ru")
			f.notify(app.Notice{Kind: app.MessageRedeemed, CustomerID: c.ID, Code: "LOY-AAAA", RewardName: "5 off", Key: "redeemed:1"})
			id := f.notifications("c1")[0].ID
			var sent []app.Mail
			mailer := mailerFunc(func(m app.Mail) error { sent = append(sent, m); return tt.err })
			_, err := f.svc.DeliverNotice(f.ctx, id, mailer, tt.lastTry)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DeliverNotice = %v, want error %v", err, tt.wantErr)
			}
			n := f.notifications("c1")[0]
			if n.Status != tt.status || n.Attempts != tt.attempts || (n.Status == app.NotificationSent) != (n.SentAt != nil) {
				t.Fatalf("notification %+v, want status %s after %d attempts", n, tt.status, tt.attempts)
			}
			if len(sent) != 1 || sent[0].Notification.Notice.Code != "LOY-AAAA" || sent[0].Customer.ID != c.ID || sent[0].Look.Color == "" {
				t.Fatalf("mailer got %+v", sent)
			}
			// Running the task again sends nothing more unless it is still queued.
			if _, err := f.svc.DeliverNotice(f.ctx, id, mailer, false); (err != nil) != (tt.status == app.NotificationQueued) {
				t.Fatalf("second run: %v", err)
			}
			if want := map[bool]int{true: 2, false: 1}[tt.status == app.NotificationQueued]; len(sent) != want {
				t.Fatalf("mailer called %d times, want %d", len(sent), want)
			}
		})
	}

	t.Run("the rules are checked again when the message goes out", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.shopper("c1", "a@example.com", "en")
		f.notify(app.Notice{Kind: app.MessageWelcome, CustomerID: c.ID, Key: "welcome:1"})
		if err := f.svc.Unsubscribe(f.ctx, f.shop.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		mailer := mailerFunc(func(app.Mail) error { t.Fatal("sent to a shopper who unsubscribed"); return nil })
		n, err := f.svc.DeliverNotice(f.ctx, f.notifications("c1")[0].ID, mailer, false)
		if err != nil || n.Status != app.NotificationSkipped {
			t.Fatalf("DeliverNotice = %+v, %v; want skipped", n, err)
		}
	})

	t.Run("the outbox lists queued notices made before a time", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.shopper("c1", "a@example.com", "en")
		f.notify(app.Notice{Kind: app.MessageWelcome, CustomerID: c.ID, Key: "welcome:1"})
		shops, due, err := f.svc.QueuedNotifications(f.ctx, testNow.Add(time.Second), 0, 10)
		if err != nil || len(due) != 1 || shops[0].ID != f.shop.ID {
			t.Fatalf("queued = %v %v, %v", shops, due, err)
		}
		if _, due, _ = f.svc.QueuedNotifications(f.ctx, testNow, 0, 10); len(due) != 0 {
			t.Fatalf("a notice made at the cut-off is listed: %v", due)
		}
	})
}

func TestNotifyOutcome(t *testing.T) {
	// kinds lists notifications, newest first, as kind:points/earned:status.
	kinds := func(ns []app.Notification) string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("%s:%d/%d:%s", n.Notice.Kind, n.Notice.Points, n.Notice.Earned, n.Status))
		}
		return strings.Join(out, " ")
	}
	// messages checks a shopper's notifications, newest first.
	messages := func(f *fixture, id, want string) {
		f.t.Helper()
		if got := kinds(f.notifications(id)); got != want {
			f.t.Errorf("%s: notifications = %s, want %s", id, got, want)
		}
	}
	// welcomed makes a shopper join as customers/create does, welcomed then.
	welcomed := func(f *fixture, id string) {
		f.t.Helper()
		c := f.shopper(id, id+"@example.com", "en")
		if err := f.svc.NotifyWelcome(f.ctx, f.shop, c.ID, 0); err != nil {
			f.t.Fatal(err)
		}
	}
	// order pays an order and records the messages it calls for.
	order := func(f *fixture, e app.OrderPaid) {
		f.t.Helper()
		if err := f.svc.NotifyOutcome(f.ctx, f.shop, f.accrue(e)); err != nil {
			f.t.Fatal(err)
		}
	}
	t.Run("a shopper who joins with an order gets one message: the welcome, saying what the order earned", func(t *testing.T) {
		f := newFixture(t, nil)
		order(f, paid("o1", "c1", "120.00"))
		messages(f, "c1", "welcome:0/120:queued")
		// A second order earns again but welcomes no more.
		order(f, paid("o2", "c1", "5.00"))
		messages(f, "c1", "earned:5/0:queued welcome:0/120:queued")
	})
	t.Run("a shopper welcomed when they joined gets the earned message for their first order", func(t *testing.T) {
		f := newFixture(t, nil)
		welcomed(f, "c1")
		order(f, paid("o1", "c1", "120.00"))
		messages(f, "c1", "earned:120/0:queued welcome:0/0:queued")
	})
	t.Run("with welcomes switched off, a first order's message is the earned one", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.Messages.Welcome = false })
		order(f, paid("o1", "c1", "120.00"))
		messages(f, "c1", "earned:120/0:queued welcome:0/0:skipped")
	})
	t.Run("a batch welcomes each shopper who joined with its order, once", func(t *testing.T) {
		f := newFixture(t, nil)
		welcomed(f, "c2")
		batch := []app.OrderPaid{paid("o1", "c1", "120.00"), paid("o2", "c2", "10.00"), paid("o3", "c3", "7.00")}
		_, queue, err := f.svc.AccrueAndRecord(f.ctx, f.shop, batch, func([]app.Outcome) []app.WebhookDelivery { return nil })
		if err != nil {
			t.Fatal(err)
		}
		queue(f.ctx)
		messages(f, "c1", "welcome:0/120:queued")
		messages(f, "c2", "earned:10/0:queued welcome:0/0:queued")
		messages(f, "c3", "welcome:0/7:queued")
	})
	t.Run("the signup bonus comes with the welcome", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.SignupBonus = 50 })
		out, err := f.svc.WelcomeCustomer(f.ctx, f.shop, app.CustomerCreated{Customer: *customer("c1")})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.NotifyOutcome(f.ctx, f.shop, out); err != nil {
			t.Fatal(err)
		}
		if got := f.notifications("c1"); len(got) != 1 || got[0].Notice.Kind != app.MessageWelcome || got[0].Notice.Points != 50 {
			t.Fatalf("notifications = %+v", got)
		}
	})
}

func TestWarnExpiring(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.ExpiryDays = 30 })
	// Two orders on the same day expire on the same day: one warning.
	f.accrue(paid("o1", "c1", "100.00"))
	f.accrue(paid("o2", "c1", "20.00"))
	f.accrue(paid("o3", "c2", "7.00"))
	expires := testNow.AddDate(0, 0, 30)
	warn := func(at time.Time) int {
		t.Helper()
		svc := app.NewService(f.store, func() time.Time { return at })
		n, err := svc.WarnExpiring(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		name string
		at   time.Time
		want int
	}{
		{"nothing is due 15 days ahead", expires.AddDate(0, 0, -15).Add(time.Hour), 0},
		{"14 days ahead each shopper is warned once for the day", expires.AddDate(0, 0, -14), 2},
		{"an hour later the same warning is not sent again", expires.AddDate(0, 0, -14).Add(time.Hour), 0},
		{"a day later nothing new is due", expires.AddDate(0, 0, -13), 0},
		{"3 days ahead comes the second warning", expires.AddDate(0, 0, -3), 2},
		{"and it too is sent once", expires.AddDate(0, 0, -2), 0},
		{"points that expired are not warned about", expires.Add(time.Minute), 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := warn(s.at); got != s.want {
				t.Fatalf("queued %d warnings, want %d", got, s.want)
			}
		})
	}
	var warnings []app.Notification
	for _, n := range f.notifications("c1") {
		if n.Notice.Kind == app.MessageExpiring {
			warnings = append(warnings, n)
		}
	}
	if len(warnings) != 2 || warnings[0].Notice.Points != 120 || !warnings[0].Notice.On.Equal(time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("warnings = %+v", warnings)
	}

	t.Run("a missed day is caught up within the threshold", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.ExpiryDays = 30 })
		f.accrue(paid("o1", "c1", "10.00"))
		svc := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 20) })
		if n, err := svc.WarnExpiring(f.ctx); n != 1 || err != nil {
			t.Fatalf("WarnExpiring = %d, %v; want the 14-day warning 10 days ahead", n, err)
		}
	})
	t.Run("spent points are not warned about", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.ExpiryDays = 30 })
		f.accrue(paid("o1", "c1", "10.00"))
		f.adjust("c1", -10, "spent")
		svc := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 16) })
		if n, err := svc.WarnExpiring(f.ctx); n != 0 || err != nil {
			t.Fatalf("WarnExpiring = %d, %v", n, err)
		}
	})
	t.Run("a shop that switched warnings off sends none", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.ExpiryDays = 30; p.Messages.Expiring = false })
		f.accrue(paid("o1", "c1", "10.00"))
		svc := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 16) })
		if n, err := svc.WarnExpiring(f.ctx); n != 0 || err != nil {
			t.Fatalf("WarnExpiring = %d, %v", n, err)
		}
	})
}

func TestRedactionForgetsMessages(t *testing.T) {
	f := newFixture(t, nil)
	c := f.shopper("c1", "anna@example.com", "pl")
	f.notify(app.Notice{Kind: app.MessageRedeemed, CustomerID: c.ID, Code: "LOY-SECRET", RewardName: "5 off", Key: "redeemed:1"})
	f.notify(app.Notice{Kind: app.MessageEarned, CustomerID: c.ID, Points: 5, Key: "earned:1"})
	first := f.notifications("c1")[1]
	refuse := mailerFunc(func(app.Mail) error {
		return fmt.Errorf("%w: 550 <anna@example.com> no such user", app.ErrUndeliverable)
	})
	if _, err := f.svc.DeliverNotice(f.ctx, first.ID, refuse, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RedactCustomer(f.ctx, f.shop, app.RedactRequest{CustomerID: "c1"}); err != nil {
		t.Fatal(err)
	}
	ns, err := f.svc.Notifications(f.ctx, f.shop, "", 10)
	if err != nil || len(ns) != 2 {
		t.Fatalf("notifications = %+v, %v", ns, err)
	}
	for _, n := range ns {
		if n.Email != "" || n.Notice.Code != "" || n.Notice.RewardName != "" || n.LastError != "" || n.Status == app.NotificationQueued {
			t.Errorf("after redaction: %+v", n)
		}
		attempts, _ := f.svc.NotificationAttempts(f.ctx, n.ID)
		for _, a := range attempts {
			if strings.Contains(a.Detail, "anna") {
				t.Errorf("attempt still names the shopper: %+v", a)
			}
		}
	}
}

func TestWarnExpiringByInactivity(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.InactivityMonths = 2 })
	f.accrue(paid("o1", "c1", "80.00"))
	expires := testNow.AddDate(0, 2, 0) // 20 January 2027, noon
	at := func(when time.Time) *app.Service { return app.NewService(f.store, func() time.Time { return when }) }
	warn := func(when time.Time) int {
		t.Helper()
		n, err := at(when).WarnExpiring(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := warn(expires.AddDate(0, 0, -15)); n != 0 {
		t.Fatalf("%d warnings 15 days ahead", n)
	}
	if n := warn(expires.AddDate(0, 0, -14)); n != 1 {
		t.Fatalf("%d warnings 14 days ahead, want 1", n)
	}
	if n := warn(expires.AddDate(0, 0, -13)); n != 0 {
		t.Fatalf("the warning was sent again: %d", n)
	}
	var warning app.Notification
	for _, n := range f.notifications("c1") {
		if n.Notice.Kind == app.MessageExpiring {
			warning = n
		}
	}
	if warning.Notice.Points != 80 || !warning.Notice.On.Equal(time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("warning %+v", warning.Notice)
	}
	// A purchase moves the day; the new day is warned about in its turn.
	later := expires.AddDate(0, 0, -10)
	if _, err := at(later).AccrueOrder(f.ctx, f.shop, app.OrderPaid{OrderID: "o2", Customer: customer("c1"), Currency: "PLN",
		Subtotal: app.MustAmount("20.00"), PaidAt: later}); err != nil {
		t.Fatal(err)
	}
	if n := warn(expires.AddDate(0, 0, -3)); n != 0 {
		t.Fatalf("%d warnings for a day that moved", n)
	}
	if n := warn(later.AddDate(0, 2, -14)); n != 1 {
		t.Fatalf("%d warnings 14 days before the new day, want 1", n)
	}
}
