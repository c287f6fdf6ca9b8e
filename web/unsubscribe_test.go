package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/config"
	"loyalty/email"
	"loyalty/email/emailtest"
	"loyalty/internal/testenv"
	"loyalty/web"
)

// unsubRig is a web server with the unsubscribe page and a mailer whose
// messages reach an SMTP server in the test.
type unsubRig struct {
	env    *testenv.Env
	server *httptest.Server
	smtp   *emailtest.Server
	sender *email.Sender
}

func newUnsubRig(t *testing.T) *unsubRig {
	t.Helper()
	key := []byte("unsubscribe-key-for-tests-only!!")
	return newUnsubRigWith(t, key, &web.Unsubscribe{Key: key})
}

// newUnsubRigWith is a rig whose mailer signs links with key and whose
// page checks them with page.
func newUnsubRigWith(t *testing.T, key []byte, page *web.Unsubscribe) *unsubRig {
	t.Helper()
	env := testenv.New(t, func(p *app.Program) { p.Look.Color = "#ffcc00" })
	srv := web.New(web.Deps{Service: env.Service, Unsubscribe: page, Registry: prometheus.NewRegistry(),
		Postgres: env.Store, Redis: pinger{env.Redis}, Log: env.Log})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	smtp := emailtest.Start(t, "", "")
	tr, err := email.NewSMTP(smtp.URL(), email.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := email.NewSender(tr, "rewards@loyalty.test", ts.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	return &unsubRig{env: env, server: ts, smtp: smtp, sender: sender}
}

// shopper joins the program with an email address and a language.
func (r *unsubRig) shopper(t *testing.T, id, locale string) app.Customer {
	t.Helper()
	ctx := context.Background()
	if _, err := r.env.Service.WelcomeCustomer(ctx, r.env.Shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: id,
		Email: id + "@example.com", Locale: locale}}); err != nil {
		t.Fatal(err)
	}
	c, err := r.env.Service.Balance(ctx, r.env.Shop, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send records a notice and delivers it as the worker would; it reports
// whether it was queued and the notification as it ended.
func (r *unsubRig) send(t *testing.T, c app.Customer, key string) (bool, app.Notification) {
	t.Helper()
	ctx := context.Background()
	queued, err := r.env.Service.Notify(ctx, r.env.Shop, app.Notice{Kind: app.MessageEarned, CustomerID: c.ID, Points: 25, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.env.Service.Notifications(ctx, r.env.Shop, c.PlatformID, 1)
	if err != nil || len(list) == 0 {
		t.Fatalf("notifications: %v", err)
	}
	n, err := r.env.Service.DeliverNotice(ctx, list[0].ID, r.sender, false)
	if err != nil {
		t.Fatal(err)
	}
	return queued, n
}

var linkInText = regexp.MustCompile(`https?://\S+/unsubscribe\?t=\S+`)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	res, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestUnsubscribeLink(t *testing.T) {
	r := newUnsubRig(t)
	ctx := context.Background()
	anna := r.shopper(t, "anna", "pl-PL")
	r.send(t, anna, "earned:1")
	msg := r.smtp.Wait(1)[0]
	link := linkInText.FindString(msg.Text)
	if link == "" || !strings.Contains(msg.HTML, `href="`+link+`"`) || msg.Header.Get("List-Unsubscribe") != "<"+link+">" {
		t.Fatalf("the link is not in the text, the HTML and the header alike: %q\n%s", link, msg.Text)
	}
	unsubscribed := func(c app.Customer) bool {
		_, _, at, err := r.env.Service.Recipient(ctx, r.env.Shop.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return at != nil
	}

	t.Run("opening the link asks in the shopper's language and changes nothing", func(t *testing.T) {
		status, page := get(t, link)
		if status != http.StatusOK || !strings.Contains(page, `lang="pl"`) || !strings.Contains(page, "Czy chcesz przestać otrzymywać od acme.myshopify.com") ||
			!strings.Contains(page, "Wypisz mnie") || !strings.Contains(page, "background:#ffcc00") {
			t.Fatalf("status %d:\n%s", status, page)
		}
		if unsubscribed(anna) {
			t.Fatal("a GET unsubscribed the shopper: link scanners would do it")
		}
	})
	t.Run("confirming unsubscribes and says so", func(t *testing.T) {
		token := regexp.MustCompile(`name="t" value="([^"]+)"`).FindStringSubmatch(func() string { _, p := get(t, link); return p }())
		if token == nil {
			t.Fatal("no token in the form")
		}
		status, page := post(t, r.server.URL+"/unsubscribe", url.Values{"t": {token[1]}})
		if status != http.StatusOK || !strings.Contains(page, "nie będziesz już otrzymywać od acme.myshopify.com") || !unsubscribed(anna) {
			t.Fatalf("status %d:\n%s", status, page)
		}
		if status, page := get(t, link); status != http.StatusOK || !strings.Contains(page, "nie będziesz już otrzymywać") || strings.Contains(page, "<form") {
			t.Fatalf("the link opened again: %d\n%s", status, page)
		}
	})
	t.Run("later messages are skipped", func(t *testing.T) {
		queued, n := r.send(t, anna, "earned:2")
		if queued || n.Status != app.NotificationSkipped || n.LastError != "the shopper unsubscribed" {
			t.Fatalf("queued %v, notification %+v", queued, n)
		}
		time.Sleep(200 * time.Millisecond)
		if got := len(r.smtp.Messages()); got != 1 {
			t.Fatalf("%d messages sent, want 1", got)
		}
	})

	t.Run("a mail client's one-click request unsubscribes at once", func(t *testing.T) {
		ivan := r.shopper(t, "ivan", "ru")
		r.send(t, ivan, "earned:3")
		msg := r.smtp.Wait(2)[1]
		oneClick := strings.Trim(msg.Header.Get("List-Unsubscribe"), "<>")
		status, body := post(t, oneClick, url.Values{"List-Unsubscribe": {"One-Click"}})
		if status != http.StatusOK || !strings.Contains(body, "письма о баллах от acme.myshopify.com больше не будут приходить") || !unsubscribed(ivan) {
			t.Fatalf("status %d %q", status, body)
		}
		if queued, n := r.send(t, ivan, "earned:4"); queued || n.Status != app.NotificationSkipped {
			t.Fatalf("queued %v, notification %+v", queued, n)
		}
	})

	t.Run("a link that was tampered with is refused", func(t *testing.T) {
		u, _ := url.Parse(link)
		token := u.Query().Get("t")
		parts := strings.Split(token, ".")
		other := r.shopper(t, "ola", "en")
		forged := parts[0] + "." + parts[1] + "." + strconv.FormatInt(other.ID, 36) + "." + parts[3]
		for _, tok := range []string{forged, token + "x", "", "2." + strings.Join(parts[1:], ".")} {
			status, _ := post(t, r.server.URL+"/unsubscribe?t="+url.QueryEscape(tok), url.Values{"List-Unsubscribe": {"One-Click"}})
			if status != http.StatusBadRequest {
				t.Errorf("token %q: status %d, want 400", tok, status)
			}
		}
		if unsubscribed(other) {
			t.Fatal("a forged link unsubscribed another shopper")
		}
	})
}

// mailConfig loads the configuration with the given encryption keys and
// unsubscribe secret, as the app would read it from the environment.
func mailConfig(t *testing.T, key, previous, secret string) config.Mail {
	t.Helper()
	t.Setenv("UNSUBSCRIBE_SECRET", secret)
	t.Setenv("ENCRYPTION_KEY", key)
	t.Setenv("ENCRYPTION_KEY_PREVIOUS", previous)
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c.Mail
}

func TestUnsubscribeLinksSurviveAnEncryptionKeyRotation(t *testing.T) {
	const oldKey, newKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	before := mailConfig(t, oldKey, "", "")
	during := mailConfig(t, newKey, oldKey, "") // `loyalty keys rotate` runs with both
	after := mailConfig(t, newKey, "", "")
	if string(during.UnsubscribeKey) == string(before.UnsubscribeKey) {
		t.Fatal("the rotation did not change the unsubscribe key; this test proves nothing")
	}

	// A message sent before the rotation (its link signed as the mailer
	// signs it), opened while the old key is still set as the previous one.
	r := newUnsubRigWith(t, before.UnsubscribeKey, &web.Unsubscribe{Key: during.UnsubscribeKey, Previous: during.PreviousUnsubscribeKeys})
	anna := r.shopper(t, "anna", "en")
	token := app.UnsubscribeToken(before.UnsubscribeKey, r.env.Shop.ID, anna.ID)
	t.Run("a link signed under the old key still unsubscribes", func(t *testing.T) {
		if status, page := post(t, r.server.URL+"/unsubscribe", url.Values{"t": {token}}); status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, page)
		}
		if _, _, at, err := r.env.Service.Recipient(context.Background(), r.env.Shop.ID, anna.ID); err != nil || at == nil {
			t.Fatalf("not unsubscribed: %v", err)
		}
	})
	t.Run("once the previous key is removed, its links no longer open", func(t *testing.T) {
		later := newUnsubRigWith(t, after.UnsubscribeKey, &web.Unsubscribe{Key: after.UnsubscribeKey, Previous: after.PreviousUnsubscribeKeys})
		if status, _ := get(t, later.server.URL+"/unsubscribe?t="+url.QueryEscape(token)); status != http.StatusBadRequest {
			t.Fatalf("status %d, want the link refused", status)
		}
	})
	t.Run("setting UNSUBSCRIBE_SECRET keeps the links sent before it", func(t *testing.T) {
		secret := mailConfig(t, oldKey, "", "an-unsubscribe-secret-of-32-chars!")
		s := newUnsubRigWith(t, secret.UnsubscribeKey, &web.Unsubscribe{Key: secret.UnsubscribeKey, Previous: secret.PreviousUnsubscribeKeys})
		bob := s.shopper(t, "bob", "en")
		old := app.UnsubscribeToken(before.UnsubscribeKey, s.env.Shop.ID, bob.ID)
		if status, page := get(t, s.server.URL+"/unsubscribe?t="+url.QueryEscape(old)); status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, page)
		}
	})
}
