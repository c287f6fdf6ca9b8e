package jobs_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/email"
	"loyalty/email/emailtest"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifytest"
)

var unsubscribeKey = []byte("unsubscribe-key-for-tests-only!!")

// mailRig is the app wired as main wires it for messages: notifications
// queued on asynq, workers running, and mail going over SMTP to a server
// in the test.
type mailRig struct {
	env    *testenv.Env
	smtp   *emailtest.Server
	h      *jobs.Handler
	queue  *jobs.NoticeQueue
	client *asynq.Client
	insp   *asynq.Inspector
	limit  *jobs.ShopRateLimit
	// shift moves the rate limiter's clock ahead of real time.
	shift atomic.Int64
}

func newMailRig(t *testing.T, edit func(*app.Program), perMinute int, start bool) *mailRig {
	t.Helper()
	env := testenv.New(t, edit)
	r := &mailRig{env: env, smtp: emailtest.Start(t, "", "")}
	tr, err := email.NewSMTP(r.smtp.URL(), email.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := email.NewSender(tr, "rewards@loyalty.test", "https://loyalty.test", unsubscribeKey)
	if err != nil {
		t.Fatal(err)
	}
	r.client = asynq.NewClientFromRedisClient(env.Redis)
	r.insp = asynq.NewInspectorFromRedisClient(env.Redis)
	r.queue = jobs.NewNoticeQueue(r.client, env.Log)
	env.Service.WithNoticeQueue(r.queue)
	r.limit = &jobs.ShopRateLimit{Redis: env.Redis, PerMinute: perMinute, Now: func() time.Time { return time.Now().Add(time.Duration(r.shift.Load())) }}
	r.h = jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithMail(sender, r.limit, r.queue).WithQueue(r.client)
	if start {
		srv, err := jobs.NewServer(env.Redis, jobs.ServerConfig{Concurrency: 4}, r.h, env.Log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { srv.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return r
}

// order pays an order as the Shopify webhook does, for a shopper with this
// locale and email.
func (r *mailRig) order(t *testing.T, id, customer, locale, subtotal string) {
	t.Helper()
	body := `{"id": ` + id + `, "name": "#` + id + `", "email": "` + customer + `@example.com", "currency": "USD",
		"customer_locale": "` + locale + `", "current_subtotal_price": "` + subtotal + `", "subtotal_price": "` + subtotal + `",
		"financial_status": "paid", "customer": {"id": ` + customerID(customer) + `, "email": "` + customer + `@example.com", "first_name": "` +
		strings.ToUpper(customer[:1]) + customer[1:] + `"}}`
	task, err := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: shopify.TopicOrdersPaid,
		DeliveryID: "order-" + id, ReceivedAt: time.Now(), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.h.ProcessWebhook(context.Background(), task); err != nil {
		t.Fatalf("order %s: %v", id, err)
	}
}

// customerID is the platform id of the shopper with this name.
func customerID(name string) string {
	n := 1000
	for _, c := range name {
		n += int(c)
	}
	return strconv.Itoa(n)
}

func (r *mailRig) notifications(t *testing.T) []app.Notification {
	t.Helper()
	ns, err := r.env.Service.Notifications(context.Background(), r.env.Shop, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// settle waits until no notification is queued, or fails after 10 seconds.
func (r *mailRig) settle(t *testing.T) []app.Notification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ns := r.notifications(t)
		queued := 0
		for _, n := range ns {
			if n.Status == app.NotificationQueued {
				queued++
			}
		}
		if queued == 0 {
			return ns
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications still queued: %+v", queued, ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMessagesArriveOverSMTP(t *testing.T) {
	r := newMailRig(t, func(p *app.Program) { p.SignupBonus = 0; p.Look.Color = "#7a1fa2" }, 100, true)
	r.order(t, "1001", "anna", "pl-PL", "120.00")
	r.order(t, "1002", "ivan", "ru", "1234.00")
	r.smtp.Wait(2) // a welcome each, telling what the first order earned and the balance when sent
	r.order(t, "1003", "anna", "pl-PL", "3.00")
	got := r.smtp.Wait(3) // and anna's points for her second

	byKey := map[string]emailtest.Received{}
	for _, m := range got {
		byKey[m.To[0]+" "+m.Header.Get("Content-Language")+" "+m.Subject] = m
	}
	find := func(to, subject string) emailtest.Received {
		t.Helper()
		for k, m := range byKey {
			if strings.HasPrefix(k, to) && strings.Contains(m.Subject, subject) {
				return m
			}
		}
		t.Fatalf("no message to %s with subject %q among %v", to, subject, keys(byKey))
		return emailtest.Received{}
	}
	t.Run("a first order welcomes the shopper in Polish, with what it earned", func(t *testing.T) {
		m := find("anna@example.com pl", "Witamy w programie lojalnościowym acme")
		for _, w := range []string{"Cześć Anna!", "Otrzymujesz 120 punktów.", "Masz teraz 120 punktów."} {
			if !strings.Contains(m.Text, w) {
				t.Fatalf("welcome without %q:\n%s", w, m.Text)
			}
		}
		if !strings.Contains(m.HTML, "background:#7a1fa2") {
			t.Fatalf("welcome not in the shop's colour:\n%s", m.HTML)
		}
	})
	t.Run("points earned later are written with Polish plural forms", func(t *testing.T) {
		m := find("anna@example.com pl", "Otrzymujesz 3 punkty w sklepie")
		if !strings.Contains(m.Text, "Masz teraz 123 punkty.") {
			t.Fatalf("earned:\n%s", m.Text)
		}
	})
	t.Run("and in Russian, with the number grouped the Russian way", func(t *testing.T) {
		m := find("ivan@example.com ru", "Добро пожаловать")
		if !strings.Contains(m.Text, "Вам начислено 1\u00a0234 балла.") || !strings.Contains(m.Text, "Теперь на вашем счёте 1\u00a0234 балла.") {
			t.Fatalf("welcome:\n%s", m.Text)
		}
	})
	t.Run("every message records that it was sent, once", func(t *testing.T) {
		for _, n := range r.settle(t) {
			if n.Status != app.NotificationSent || n.Attempts != 1 || n.SentAt == nil {
				t.Errorf("notification %+v", n)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(r.smtp.Messages()); n != 3 {
			t.Fatalf("%d messages, want 3", n)
		}
	})
	t.Run("the same order delivered again sends nothing more", func(t *testing.T) {
		task, _ := jobs.NewWebhookTask(jobs.Webhook{Platform: app.Shopify, Shop: testenv.ShopDomain, Topic: shopify.TopicOrdersPaid,
			DeliveryID: "order-1001-again", ReceivedAt: time.Now(),
			Body: []byte(`{"id": 1001, "email": "anna@example.com", "current_subtotal_price": "120.00", "customer": {"id": ` + customerID("anna") + `}}`)})
		if err := r.h.ProcessWebhook(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(r.smtp.Messages()); n != 3 {
			t.Fatalf("%d messages, want 3", n)
		}
	})
}

func keys(m map[string]emailtest.Received) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRewardCodeMessage(t *testing.T) {
	r := newMailRig(t, nil, 100, true)
	ctx := context.Background()
	fake := shopifytest.New(t, "key", testenv.ShopifySecret)
	shop, _, err := r.env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: "kod.myshopify.com", Name: "Магазин Кода"},
		app.Credentials{AccessToken: fake.IssueToken("kod.myshopify.com")})
	if err != nil {
		t.Fatal(err)
	}
	r.h.WithShopifyClients(func(shop, token string) *shopify.Client {
		return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL,
			Sleep: func(context.Context, time.Duration) error { return nil }})
	})
	if _, err := r.env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "25",
		Email: "olga@example.com", Locale: "ru-RU"}, Subtotal: app.MustAmount("1200.00")}); err != nil {
		t.Fatal(err)
	}
	reward, err := r.env.Service.AddReward(ctx, shop, app.Reward{Name: "Скидка 5 €", Kind: app.RewardFixed, Points: 500,
		Amount: app.MustAmount("5.00"), ExpiryDays: 30, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	red, err := r.env.Service.Redeem(ctx, shop, app.RedeemRequest{CustomerID: "25", RewardID: reward.ID, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.smtp.Messages()) != 0 {
		t.Fatal("a message before the code exists")
	}
	task := jobs.NewIssueCodeTask(shop, red.ID)
	if err := r.h.IssueCode(ctx, asynq.NewTask(task.Type(), task.Payload())); err != nil {
		t.Fatal(err)
	}
	m := r.smtp.Wait(1)[0]
	expires := email.For("ru").Date(red.ExpiresAt.UTC())
	if m.Subject != "Ваш код на награду от Магазин Кода" || !strings.Contains(m.Text, red.Code) || !strings.Contains(m.HTML, red.Code) ||
		!strings.Contains(m.Text, "«Скидка 5 €»") || !strings.Contains(m.Text, "Код действует до "+expires) {
		t.Fatalf("subject %q:\n%s", m.Subject, m.Text)
	}
}

func TestMessageRules(t *testing.T) {
	ctx := context.Background()
	t.Run("a message the merchant switched off is recorded as skipped and not sent", func(t *testing.T) {
		r := newMailRig(t, func(p *app.Program) { p.Messages.Earned, p.Messages.Welcome = false, false }, 100, true)
		r.order(t, "1", "anna", "en", "10.00")
		ns := r.notifications(t)
		if len(ns) != 2 || ns[0].Status != app.NotificationSkipped || ns[1].Status != app.NotificationSkipped {
			t.Fatalf("notifications = %+v", ns)
		}
		time.Sleep(300 * time.Millisecond)
		if len(r.smtp.Messages()) != 0 {
			t.Fatal("sent")
		}
	})
	t.Run("a key used twice sends once", func(t *testing.T) {
		r := newMailRig(t, nil, 100, true)
		r.order(t, "1", "anna", "en", "10.00")
		r.settle(t)
		c, _ := r.env.Service.Balance(ctx, r.env.Shop, customerID("anna"))
		for i := 0; i < 2; i++ {
			if _, err := r.env.Service.Notify(ctx, r.env.Shop, app.Notice{Kind: app.MessageBirthday, CustomerID: c.ID, Points: 50, Key: "birthday:x:2026"}); err != nil {
				t.Fatal(err)
			}
		}
		r.settle(t)
		time.Sleep(300 * time.Millisecond)
		if n := len(r.smtp.Messages()); n != 2 { // welcome (with the points earned), birthday
			t.Fatalf("%d messages, want 2", n)
		}
	})
	t.Run("a permanent refusal archives the message and is not retried", func(t *testing.T) {
		r := newMailRig(t, nil, 100, true)
		var tries atomic.Int32
		r.smtp.Reject(func(string) error { tries.Add(1); return emailtest.Permanent() })
		r.order(t, "1", "anna", "en", "10.00")
		r.order(t, "2", "anna", "en", "10.00")
		for _, n := range r.settle(t) {
			if n.Status != app.NotificationArchived || n.Attempts != 1 || !strings.Contains(n.LastError, "550") {
				t.Fatalf("notification %+v", n)
			}
		}
		time.Sleep(500 * time.Millisecond)
		if n := tries.Load(); n != 2 { // the welcome and the second order's points
			t.Fatalf("the server was asked %d times for 2 messages", n)
		}
		info, err := r.insp.GetTaskInfo(jobs.QueueLow, "notify:"+strconv.FormatInt(r.notifications(t)[0].ID, 10))
		if err == nil && info.State != asynq.TaskStateCompleted {
			t.Fatalf("task left %s", info.State)
		}
	})
	t.Run("a temporary refusal is retried and every try recorded", func(t *testing.T) {
		r := newMailRig(t, func(p *app.Program) { p.Messages.Welcome = false }, 100, false)
		r.smtp.Reject(func(string) error { return emailtest.Temporary() })
		r.order(t, "1", "anna", "en", "10.00")
		earned := r.notifications(t)[0]
		run := func() error {
			return r.h.Notify(ctx, asynq.NewTask(jobs.TypeNotify, jobs.NewNotifyTask(r.env.Shop, earned).Payload()))
		}
		if err := run(); err == nil {
			t.Fatal("a 451 was not retried")
		}
		r.smtp.Reject(nil)
		if err := run(); err != nil {
			t.Fatal(err)
		}
		n := r.notifications(t)[0]
		attempts, _ := r.env.Service.NotificationAttempts(ctx, n.ID)
		if n.Status != app.NotificationSent || n.Attempts != 2 || len(attempts) != 2 ||
			attempts[0].Status != app.NotificationQueued || !strings.Contains(attempts[0].Detail, "451") || attempts[1].Status != app.NotificationSent {
			t.Fatalf("notification %+v, attempts %+v", n, attempts)
		}
		if len(r.smtp.Wait(1)) != 1 {
			t.Fatal("not sent once")
		}
	})
}

func TestShopRateLimit(t *testing.T) {
	r := newMailRig(t, func(p *app.Program) { p.Messages.Welcome = false }, 2, true)
	for i := 1; i <= 5; i++ {
		r.order(t, strconv.Itoa(i), "anna", "en", "10.00")
	}
	r.smtp.Wait(2)
	time.Sleep(500 * time.Millisecond)
	if n := len(r.smtp.Messages()); n != 2 {
		t.Fatalf("%d messages in the first minute, want the limit of 2", n)
	}
	// The others wait for a later minute without spending a retry.
	var waiting []app.Notification
	for _, n := range r.notifications(t) {
		if n.Status == app.NotificationQueued {
			waiting = append(waiting, n)
			info, err := r.insp.GetTaskInfo(jobs.QueueLow, "notify:"+strconv.FormatInt(n.ID, 10))
			if err != nil || info.State != asynq.TaskStateRetry || info.Retried != 0 || info.NextProcessAt.Before(time.Now().Add(time.Second)) {
				t.Fatalf("task of a rate-limited message: %+v, %v", info, err)
			}
		}
	}
	if len(waiting) != 3 {
		t.Fatalf("%d messages waiting, want 3", len(waiting))
	}
	// A minute later (the clock moves; the tasks are run now rather than
	// waited for) two more go out.
	r.shift.Store(int64(time.Minute))
	for _, n := range waiting {
		if err := r.insp.RunTask(jobs.QueueLow, "notify:"+strconv.FormatInt(n.ID, 10)); err != nil {
			t.Fatal(err)
		}
	}
	r.smtp.Wait(4)
	time.Sleep(500 * time.Millisecond)
	if n := len(r.smtp.Messages()); n != 4 {
		t.Fatalf("%d messages after the second minute, want 4", n)
	}
}

func TestNotificationOutbox(t *testing.T) {
	// No queue: the notice is recorded but its task never queued, as when
	// Redis was down.
	r := newMailRig(t, nil, 100, false)
	r.env.Service.WithNoticeQueue(nil)
	r.order(t, "1", "anna", "en", "10.00")
	r.order(t, "2", "anna", "en", "10.00")
	if n := len(r.notifications(t)); n != 2 { // the welcome and the second order's points
		t.Fatalf("%d notifications", n)
	}
	ctx := context.Background()
	r.env.Service.WithNoticeQueue(r.queue)
	sweep := func() {
		t.Helper()
		if err := r.h.NotifyOutbox(ctx, jobs.NewNotifyOutboxTask()); err != nil {
			t.Fatal(err)
		}
	}
	sweep()
	if q, _ := r.insp.GetQueueInfo(jobs.QueueLow); q != nil && q.Size != 0 {
		t.Fatalf("a notification younger than a minute was swept: %d queued", q.Size)
	}
	jobs.SetNotifySweepWait(r.h, 0)
	sweep()
	sweep() // twice: the task id keeps one copy
	q, err := r.insp.GetQueueInfo(jobs.QueueLow)
	if err != nil || q.Pending != 2 {
		t.Fatalf("queue = %+v, %v; want the 2 notifications pending once each", q, err)
	}
}

// A queue that knows the shop's message rate queues each message for a
// minute with room for it: those over the limit wait as scheduled tasks and
// run once, sending at once when their time comes.
// Messages recorded together take their slots together, in one trip to
// Redis, exactly as they would one by one.
func TestRateSlotsTakenTogether(t *testing.T) {
	env := testenv.New(t, nil)
	minute := time.Date(2026, 11, 24, 10, 0, 15, 0, time.UTC)
	limit := func() *jobs.ShopRateLimit {
		return &jobs.ShopRateLimit{Redis: env.Redis, PerMinute: 3, Now: func() time.Time { return minute }}
	}
	oneByOne := limit()
	var want []time.Duration
	for range 8 {
		waits, err := jobs.TakeSlots(context.Background(), oneByOne, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, waits...)
	}
	together := limit()
	var got []time.Duration
	for _, n := range []int{2, 5, 1} {
		waits, err := jobs.TakeSlots(context.Background(), together, 2, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(waits) != n {
			t.Fatalf("%d waits for %d messages", len(waits), n)
		}
		got = append(got, waits...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("waits taken together %v, one by one %v", got, want)
	}
	// Three go now; the rest wait for later minutes, in order.
	for i, w := range want {
		if (i < 3) != (w == 0) {
			t.Fatalf("message %d waits %s; the first 3 of a minute go at once, the rest wait", i+1, w)
		}
		if i > 0 && w < want[i-1] {
			t.Fatalf("message %d waits %s, message %d %s: a later message goes no sooner", i+1, w, i, want[i-1])
		}
	}
	if want[3] < 45*time.Second || want[7] < 105*time.Second {
		t.Fatalf("waits %v: the 4th message goes in the next minute, the 7th and 8th in the one after", want)
	}
}

func TestMessagesAreQueuedForTheirSlot(t *testing.T) {
	r := newMailRig(t, func(p *app.Program) { p.Messages.Welcome = false }, 2, false)
	r.queue.WithRateLimit(r.limit)
	for i := 1; i <= 5; i++ {
		r.order(t, strconv.Itoa(i), "anna", "en", "10.00")
	}
	// Messages are queued right after the batch that credited the order.
	var q *asynq.QueueInfo
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if q, err = r.insp.GetQueueInfo(jobs.QueueLow); err == nil && q.Pending+q.Scheduled >= 5 {
			break
		}
	}
	if err != nil || q.Pending != 2 || q.Scheduled != 3 {
		t.Fatalf("queue = %+v, %v; want 2 messages pending and 3 scheduled for a later minute", q, err)
	}
	scheduled, err := r.insp.ListScheduledTasks(jobs.QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range scheduled {
		if info.NextProcessAt.Before(time.Now().Add(time.Second)) {
			t.Errorf("task %s is due at %s, want a later minute", info.ID, info.NextProcessAt)
		}
		// Its time come, it sends without asking the rate again, even
		// though this minute's room is spent.
		if err := r.h.Notify(context.Background(), asynq.NewTask(info.Type, info.Payload)); err != nil {
			t.Fatalf("slotted message: %v", err)
		}
	}
	if n := len(r.smtp.Wait(3)); n != 3 {
		t.Fatalf("%d messages sent by the scheduled tasks, want 3", n)
	}
}
