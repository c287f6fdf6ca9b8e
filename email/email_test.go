package email_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/email"
	"loyalty/email/emailtest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestPlurals(t *testing.T) {
	tests := []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 1, "You now have 1 point."},
		{"en", 2, "You now have 2 points."},
		{"en", 1500, "You now have 1,500 points."},
		{"pl", 1, "Masz teraz 1 punkt."},
		{"pl", 3, "Masz teraz 3 punkty."},
		{"pl", 5, "Masz teraz 5 punktów."},
		{"pl", 12, "Masz teraz 12 punktów."},
		{"pl", 22, "Masz teraz 22 punkty."},
		{"pl", 1500, "Masz teraz 1500 punktów."},
		{"pl", 12500, "Masz teraz 12\u00a0500 punktów."},
		{"ru", 1, "Теперь на вашем счёте 1 балл."},
		{"ru", 21, "Теперь на вашем счёте 21 балл."},
		{"ru", 11, "Теперь на вашем счёте 11 баллов."},
		{"ru", 34, "Теперь на вашем счёте 34 балла."},
		{"ru", 120, "Теперь на вашем счёте 120 баллов."},
		{"ru", 1500, "Теперь на вашем счёте 1\u00a0500 баллов."},
		{"lv", 1, "Tagad jums ir 1 punkts."},
		{"lv", 21, "Tagad jums ir 21 punkts."},
		{"lv", 2, "Tagad jums ir 2 punkti."},
		{"lv", 10, "Tagad jums ir 10 punktu."},
		{"lv", 11, "Tagad jums ir 11 punktu."},
		{"ro", 1, "Acum ai 1 punct."},
		{"ro", 2, "Acum ai 2 puncte."},
		{"ro", 19, "Acum ai 19 puncte."},
		{"ro", 20, "Acum ai 20 de puncte."},
		{"ro", 101, "Acum ai 101 puncte."},
		{"ro", 1500, "Acum ai 1.500 de puncte."},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" says "+tt.want, func(t *testing.T) {
			if got := email.For(tt.lang).T("balance", tt.n, nil); got != tt.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestLanguages(t *testing.T) {
	day := time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)
	dates := map[string]string{"en": "14 March 2027", "pl": "14 marca 2027 r.", "ru": "14 марта 2027 г.",
		"lv": "2027. gada 14. martā", "ro": "14 martie 2027"}
	for lang, want := range dates {
		if got := email.For(lang).Date(day); got != want {
			t.Errorf("%s date = %q, want %q", lang, got, want)
		}
	}
	for _, tt := range []struct{ locale, want string }{{"pl-PL", "pl"}, {"ru_RU", "ru"}, {"RO", "ro"}, {"de", "en"}, {"", "en"}} {
		if got := email.For(tt.locale).Code; got != tt.want {
			t.Errorf("For(%q) = %s, want %s", tt.locale, got, tt.want)
		}
	}
	t.Run("a shopper whose language the app does not speak gets the shop's", func(t *testing.T) {
		for _, tt := range []struct {
			locales []string
			want    string
		}{{[]string{"de", "", "lv"}, "lv"}, {[]string{"ro", "pl"}, "ro"}, {[]string{"de", "fr"}, "en"}} {
			if got := email.First(tt.locales...).Code; got != tt.want {
				t.Errorf("First(%q) = %s, want %s", tt.locales, got, tt.want)
			}
		}
	})
	t.Run("every language has every message of English", func(t *testing.T) {
		for _, lang := range email.Languages {
			for _, key := range email.Keys() {
				if !email.For(lang).Has(key) {
					t.Errorf("%s lacks %s", lang, key)
				}
			}
		}
	})
}

func mailFor(kind app.MessageKind, locale string) app.Mail {
	return app.Mail{
		Shop:     app.Shop{ID: 7, Name: "Sklep Ania", Domain: "ania.myshopify.com"},
		Customer: app.Customer{ID: 42, FirstName: "Anna", Balance: 1620},
		Look:     app.WidgetLook{Color: "#ffcc00"},
		Notification: app.Notification{ID: 9, ShopID: 7, CustomerID: 42, Email: "anna@example.com", Locale: locale,
			Notice: app.Notice{Kind: kind, Points: 120, Code: "LOY-ABCD-EFGH-JKMN", RewardName: "10 zł rabatu",
				On: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC), Key: "k"}},
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name   string
		kind   app.MessageKind
		locale string
		want   []string
	}{
		{"welcome in Polish names the shop and the bonus", app.MessageWelcome, "pl", []string{"Witamy w programie lojalnościowym Sklep Ania", "120 punktów", "Cześć Anna!"}},
		{"earned in Russian with plural and balance", app.MessageEarned, "ru", []string{"Вам начислено 120 баллов", "1\u00a0620 баллов"}},
		{"redeemed carries the code and its end date", app.MessageRedeemed, "pl", []string{"LOY-ABCD-EFGH-JKMN", "„10 zł rabatu”", "14 marca 2027 r."}},
		{"expiring in Latvian", app.MessageExpiring, "lv-LV", []string{"120 punktu jūsu kontā zaudēs derīgumu 2027. gada 14. martā"}},
		{"birthday in Romanian", app.MessageBirthday, "ro", []string{"La mulți ani!", "120 de puncte"}},
		{"an unknown language falls back to English", app.MessageExpiring, "de", []string{"120 points in your account expire on 14 March 2027"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := email.Render(mailFor(tt.kind, tt.locale), "https://app.test/unsubscribe?t=x")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) || !strings.Contains(htmlText(m.HTML), w) {
					t.Errorf("%q missing from the text or HTML part:\n%s", w, m.Text)
				}
			}
			if !strings.Contains(m.HTML, "background:#ffcc00") || !strings.Contains(m.HTML, "color:#000000") {
				t.Errorf("HTML does not use the shop's colour with readable text on it")
			}
			if !strings.Contains(m.Text, "https://app.test/unsubscribe?t=x") || !strings.Contains(m.HTML, `href="https://app.test/unsubscribe?t=x"`) {
				t.Errorf("unsubscribe link missing")
			}
		})
	}
	t.Run("the welcome of a shopper who joined with an order tells what it earned, with no bonus", func(t *testing.T) {
		m := mailFor(app.MessageWelcome, "lv")
		m.Notification.Notice.Points, m.Notification.Notice.Earned = 0, 120
		got, err := email.Render(m, "https://app.test/unsubscribe?t=x")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"Laipni lūdzam Sklep Ania lojalitātes programmā", "Jūs saņēmāt 120 punktu.", "Tagad jums ir 1\u00a0620 punktu."} {
			if !strings.Contains(got.Text, w) || !strings.Contains(htmlText(got.HTML), w) {
				t.Errorf("%q missing from the text or HTML part:\n%s", w, got.Text)
			}
		}
		if strings.Contains(got.Text, "Lai sāktu") {
			t.Errorf("a welcome with no bonus speaks of one:\n%s", got.Text)
		}
	})
	t.Run("shop names are escaped in HTML", func(t *testing.T) {
		m := mailFor(app.MessageWelcome, "en")
		m.Shop.Name = `<b>Bad & "Co"</b>`
		r, err := email.Render(m, "https://app.test/u")
		if err != nil || strings.Contains(r.HTML, "<b>Bad") || !strings.Contains(r.HTML, "&lt;b&gt;Bad &amp;") {
			t.Fatalf("shop name not escaped: %v", err)
		}
	})
}

// htmlText undoes the escaping html/template applies to text.
func htmlText(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestSMTP(t *testing.T) {
	ctx := context.Background()
	newSender := func(t *testing.T, srv *emailtest.Server) *email.Sender {
		tr, err := email.NewSMTP(srv.URL(), email.SMTPOptions{Timeout: 5 * time.Second, TLSConfig: srv.ClientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		s, err := email.NewSender(tr, "rewards@app.test", "https://app.test", testKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("a message arrives with both parts, its language and one-click unsubscribe", func(t *testing.T) {
		srv := emailtest.Start(t, "mailer", "s3cret")
		s := newSender(t, srv)
		if err := s.Send(ctx, mailFor(app.MessageRedeemed, "ru")); err != nil {
			t.Fatal(err)
		}
		got := srv.Wait(1)[0]
		if got.To[0] != "anna@example.com" || got.From != "rewards@app.test" {
			t.Fatalf("envelope %s -> %v", got.From, got.To)
		}
		if got.Subject != "Ваш код на награду от Sklep Ania" || !strings.Contains(got.Text, "LOY-ABCD-EFGH-JKMN") ||
			!strings.Contains(got.HTML, "LOY-ABCD-EFGH-JKMN") || !strings.Contains(got.Text, "Код действует до 14 марта 2027 г.") {
			t.Fatalf("subject %q, text:\n%s", got.Subject, got.Text)
		}
		unsub := s.UnsubscribeURL(7, 42)
		if h := got.Header.Get("List-Unsubscribe"); h != "<"+unsub+">" {
			t.Errorf("List-Unsubscribe = %q, want <%s>", h, unsub)
		}
		if h := got.Header.Get("List-Unsubscribe-Post"); h != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", h)
		}
		if h := got.Header.Get("Message-Id"); h != "<notification-9@app.test>" {
			t.Errorf("Message-ID = %q", h)
		}
		if h := got.Header.Get("Content-Language"); h != "ru" {
			t.Errorf("Content-Language = %q", h)
		}
	})
	t.Run("a recipient the server refuses for good is undeliverable", func(t *testing.T) {
		srv := emailtest.Start(t, "", "")
		srv.Reject(func(string) error { return emailtest.Permanent() })
		err := newSender(t, srv).Send(ctx, mailFor(app.MessageWelcome, "en"))
		if !errors.Is(err, app.ErrUndeliverable) {
			t.Fatalf("Send = %v, want undeliverable", err)
		}
	})
	t.Run("a temporary refusal is retried, not archived", func(t *testing.T) {
		srv := emailtest.Start(t, "", "")
		srv.Reject(func(string) error { return emailtest.Temporary() })
		err := newSender(t, srv).Send(ctx, mailFor(app.MessageWelcome, "en"))
		if err == nil || errors.Is(err, app.ErrUndeliverable) {
			t.Fatalf("Send = %v, want a temporary error", err)
		}
	})
	t.Run("a malformed address is undeliverable without asking the server", func(t *testing.T) {
		srv := emailtest.Start(t, "", "")
		m := mailFor(app.MessageWelcome, "en")
		m.Notification.Email = "not an address"
		if err := newSender(t, srv).Send(ctx, m); !errors.Is(err, app.ErrUndeliverable) {
			t.Fatalf("Send = %v, want undeliverable", err)
		}
	})
	t.Run("a server that is down is a temporary error", func(t *testing.T) {
		tr, _ := email.NewSMTP("smtp://127.0.0.1:1", email.SMTPOptions{Timeout: time.Second})
		s, _ := email.NewSender(tr, "rewards@app.test", "https://app.test", testKey)
		if err := s.Send(ctx, mailFor(app.MessageWelcome, "en")); err == nil || errors.Is(err, app.ErrUndeliverable) {
			t.Fatalf("Send = %v, want a temporary error", err)
		}
	})
}

func TestParseSMTPURL(t *testing.T) {
	good := []string{"smtp://u:p@mail.example.com:587", "smtps://u:p@mail.example.com", "smtp://127.0.0.1:1025", "smtp://mail.example.com?starttls=off"}
	for _, u := range good {
		if _, _, _, _, err := email.ParseSMTPURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []string{"http://mail.example.com", "smtp://", "smtp://mail.example.com:99999", "smtp://mail.example.com?starttls=maybe", "::"}
	for _, u := range bad {
		if _, _, _, _, err := email.ParseSMTPURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestLogTransport(t *testing.T) {
	var buf strings.Builder
	s, err := email.NewSender(email.NewLog(slog.New(slog.NewTextHandler(&buf, nil))), "rewards@app.test", "https://app.test", testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), mailFor(app.MessageEarned, "pl")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, w := range []string{"anna@example.com", "Otrzymujesz 120 punktów", "https://app.test/unsubscribe?t="} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}

func TestTextOnAccent(t *testing.T) {
	for color, want := range map[string]string{"#1f6feb": "#ffffff", "#ffcc00": "#000000", "#000000": "#ffffff", "#ffffff": "#000000", "#7a1fa2": "#ffffff"} {
		if got := email.TextOn(color); got != want {
			t.Errorf("TextOn(%s) = %s, want %s", color, got, want)
		}
	}
}
