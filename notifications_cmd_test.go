package main

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loyalty/email/emailtest"
	"loyalty/internal/testenv"
	"loyalty/platforms/shopify"
)

// TestMessagesEndToEnd runs the built binary with SMTP_URL pointing at a
// mail server in the test: a signed order of a new shopper becomes one
// welcome over SMTP telling what the order earned, support lists it, and
// the unsubscribe link in the message stops the next one.
func TestMessagesEndToEnd(t *testing.T) {
	sink := emailtest.Start(t, "", "")
	t.Setenv("SMTP_URL", sink.URL())
	t.Setenv("SMTP_FROM", "rewards@loyalty.test")
	env := testenv.New(t, nil)
	addr := freeAddr(t)
	start(t, env, addr, "all")
	waitReady(t, addr)
	order := func(id string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/shopify", bytes.NewReader(body))
		req.Header.Set("X-Shopify-Topic", "orders/paid")
		req.Header.Set("X-Shopify-Shop-Domain", testenv.ShopDomain)
		req.Header.Set("X-Shopify-Webhook-Id", id)
		req.Header.Set("X-Shopify-Hmac-Sha256", shopify.Sign(body, testenv.ShopifySecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", resp.StatusCode)
		}
	}
	body := testenv.Fixture(t, "shopify/orders_paid.json")
	order("msg-1", body)
	got := sink.Wait(1)
	welcome := got[0]
	if welcome.Subject != "Welcome to "+testenv.ShopDomain+" Rewards" || !strings.Contains(welcome.Text, "You earned 414 points.") ||
		!strings.Contains(welcome.Text, "You now have 414 points.") {
		t.Fatalf("messages: %+v", got)
	}

	list := func() string {
		return runCLI(t, env, addr, "notifications", "list", "--shop", testenv.ShopDomain, "--customer", "115310627314723954", "--attempts")
	}
	t.Run("support sees what was sent to whom, when, and how it went", func(t *testing.T) {
		out := ""
		eventually(t, 10*time.Second, "recorded as sent", func() bool { out = list(); return strings.Count(out, " sent ") >= 1 })
		for _, want := range []string{"welcome 414 points earned by the first order", "john@example.com", "accepted by the mail server"} {
			if !strings.Contains(out, want) {
				t.Fatalf("notifications list lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("the one-click link in the message stops the next one", func(t *testing.T) {
		link := strings.Trim(welcome.Header.Get("List-Unsubscribe"), "<>")
		if !strings.HasPrefix(link, "http://"+addr+"/unsubscribe?t=") {
			t.Fatalf("List-Unsubscribe = %q", link)
		}
		resp, err := http.PostForm(link, url.Values{"List-Unsubscribe": {"One-Click"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("one-click: %d", resp.StatusCode)
		}
		second := bytes.Replace(body, []byte(`"id": 820982911946154508`), []byte(`"id": 820982911946154509`), 1)
		if bytes.Equal(second, body) {
			t.Fatal("the fixture's order id changed; update the test")
		}
		order("msg-2", second)
		eventually(t, 10*time.Second, "the second message recorded as skipped", func() bool {
			return strings.Contains(list(), "the shopper unsubscribed")
		})
		if n := len(sink.Messages()); n != 1 {
			t.Fatalf("%d messages sent, want 1", n)
		}
	})
}
