package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"loyalty/app"
)

func TestResendNotification(t *testing.T) {
	setup := func(t *testing.T) (*fixture, *recordingQueue, app.Notification) {
		f := newFixture(t, nil)
		q := &recordingQueue{}
		f.svc.WithNoticeQueue(q)
		c := f.shopper("c1", "ada@example.com", "pl")
		f.notify(app.Notice{Kind: app.MessageEarned, CustomerID: c.ID, Points: 40, Key: "earned:1"})
		return f, q, f.notifications("c1")[0]
	}

	t.Run("support sends the same message again, once per click", func(t *testing.T) {
		f, q, n := setup(t)
		sup := f.staff("Sue", app.RoleSupport)
		before := len(q.got)
		again, err := f.svc.ResendNotification(f.ctx, f.shop, sup, n.ID, "click-1")
		if err != nil {
			t.Fatal(err)
		}
		if again.ID == n.ID || again.Notice.Kind != app.MessageEarned || again.Notice.Points != 40 || again.Status != app.NotificationQueued {
			t.Fatalf("resent = %+v", again)
		}
		same, err := f.svc.ResendNotification(f.ctx, f.shop, sup, n.ID, "click-1")
		if err != nil || same.ID != again.ID {
			t.Fatalf("a double click = %+v, %v; want message %d again", same, err, again.ID)
		}
		if len(q.got) != before+1 {
			t.Fatalf("queued %d messages for two clicks, want 1", len(q.got)-before)
		}
		page, _ := f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Action: "message resend"})
		if len(page.Entries) != 1 || page.Entries[0].Actor != "Sue <sue@acme.example>" {
			t.Fatalf("audit = %+v", page.Entries)
		}
	})

	t.Run("an unsubscribed shopper gets nothing, and support is told why", func(t *testing.T) {
		f, _, n := setup(t)
		if err := f.svc.Unsubscribe(f.ctx, f.shop.ID, n.CustomerID); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.ResendNotification(f.ctx, f.shop, f.staff("Sue", app.RoleSupport), n.ID, "k")
		wantCode(t, err, app.EInvalid)
		if !strings.Contains(app.ErrorMessage(err), "unsubscribed") {
			t.Fatalf("message = %q", app.ErrorMessage(err))
		}
	})

	t.Run("only roles that resend, and only the shop's own messages", func(t *testing.T) {
		f, _, n := setup(t)
		_, err := f.svc.ResendNotification(f.ctx, f.shop, f.staff("Adam", app.RoleAdmin), n.ID, "k")
		wantCode(t, err, app.EForbidden)
		other, _ := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com", Currency: "EUR"}, nil)
		stranger := f.staff("Mallory", app.RoleOwner)
		stranger.ShopID = other.ID
		_, err = f.svc.ResendNotification(f.ctx, other, stranger, n.ID, "k")
		wantCode(t, err, app.ENotFound)
	})
}

func TestStaffDataExport(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("1", "c1", "25.00"))
	sup := f.staff("Sue", app.RoleSupport)
	e, err := f.svc.StaffDataExport(f.ctx, f.shop, sup, "c1")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Customer *struct {
			Balance int64 `json:"points_balance"`
		} `json:"customer"`
	}
	if err := json.Unmarshal(e.Document, &doc); err != nil || doc.Customer == nil || doc.Customer.Balance != 25 {
		t.Fatalf("document = %s, %v", e.Document, err)
	}
	page, _ := f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Action: "customer data export"})
	if len(page.Entries) != 1 || page.Entries[0].Actor != "Sue <sue@acme.example>" {
		t.Fatalf("audit = %+v", page.Entries)
	}
	_, err = f.svc.StaffDataExport(f.ctx, f.shop, f.staff("Adam", app.RoleAdmin), "c1")
	wantCode(t, err, app.EForbidden)
	_, err = f.svc.StaffDataExport(f.ctx, f.shop, sup, "nobody")
	wantCode(t, err, app.ENotFound)
}
