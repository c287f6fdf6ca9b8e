package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"loyalty/app"
)

func TestConsoleSupportActions(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	shop := r.env.Shop
	if _, err := r.svc.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1", Currency: shop.Currency, Subtotal: app.MustAmount("40.00"),
		PaidAt: r.now, Customer: &app.CustomerRef{PlatformID: "c1", Email: "ada@shoppers.test"}}); err != nil {
		t.Fatal(err)
	}
	c1, _ := r.svc.Balance(ctx, shop, "c1")
	if _, err := r.svc.Notify(ctx, shop, app.Notice{Kind: app.MessageEarned, CustomerID: c1.ID, Points: 40, Key: "earned:1"}); err != nil {
		t.Fatal(err)
	}
	messages, _ := r.svc.Notifications(ctx, shop, "c1", 1)
	// Sent, as the shopper says it never arrived: a queued message is still
	// on its way and offers no resend.
	if n, err := r.svc.DeliverNotice(ctx, messages[0].ID, acceptingMailer{}, false); err != nil || n.Status != app.NotificationSent {
		t.Fatalf("deliver: %+v %v", n, err)
	}
	resend := "/console/notifications/" + strconv.FormatInt(messages[0].ID, 10) + "/resend"

	t.Run("support resends a message from the customer's page, once per click", func(t *testing.T) {
		b, csrf := r.signedIn(t, "support@acme.test")
		_, page := r.get(t, b, "/console/customers/c1", nil)
		if !strings.Contains(page, `action="`+resend+`"`) || !strings.Contains(page, "/console/customers/c1/data.json") {
			t.Fatalf("the page offers no resend or data download:\n%s", page)
		}
		form := url.Values{"csrf": {csrf}, "key": {"page-key-1"}, "customer": {"c1"}}
		for range 2 {
			resp, _ := r.post(t, b, resend, form, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/customers/c1?notice=resent#msg-h" {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if all, _ := r.svc.Notifications(ctx, shop, "c1", 10); len(all) != 2 {
			t.Fatalf("%d messages after two clicks, want the original and one resend", len(all))
		}
	})

	t.Run("support downloads the customer's data as JSON", func(t *testing.T) {
		b, _ := r.signedIn(t, "support@acme.test")
		resp, body := r.get(t, b, "/console/customers/c1/data.json", nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="customer-c1-`) ||
			!strings.Contains(body, `"points_balance": 40`) {
			t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("admins neither resend nor export data, and see no buttons for it", func(t *testing.T) {
		b, csrf := r.signedIn(t, "admin@acme.test")
		_, page := r.get(t, b, "/console/customers/c1", nil)
		if strings.Contains(page, resend) || strings.Contains(page, "data.json") {
			t.Fatal("the page offers an admin what they may not do")
		}
		if resp, _ := r.post(t, b, resend, url.Values{"csrf": {csrf}, "key": {"k"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("resend = %d", resp.StatusCode)
		}
		if resp, _ := r.get(t, b, "/console/customers/c1/data.json", nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("data = %d", resp.StatusCode)
		}
	})

	t.Run("another shop's staff reach neither", func(t *testing.T) {
		b := r.browser()
		if resp, _ := r.signIn(t, b, "other.myshopify.com", "owner@other.test", staffPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("sign in to shop B")
		}
		_, page := r.get(t, b, "/console/account", nil)
		i := strings.Index(page, `name="csrf" value="`)
		csrf := page[i+len(`name="csrf" value="`):]
		csrf = csrf[:strings.Index(csrf, `"`)]
		if resp, _ := r.post(t, b, resend, url.Values{"csrf": {csrf}, "key": {"k"}}, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("resend of shop A's message = %d", resp.StatusCode)
		}
		if resp, _ := r.get(t, b, "/console/customers/c1/data.json", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("shop A's customer data = %d", resp.StatusCode)
		}
	})
}

// acceptingMailer is a mail server that takes every message.
type acceptingMailer struct{}

func (acceptingMailer) Send(context.Context, app.Mail) error { return nil }
