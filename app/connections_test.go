package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

func TestConnectStore(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	store := app.Shop{Platform: app.WooCommerce, Domain: "sklep.example.pl", Name: "Sklep", Currency: "pln"}
	conn := app.Connection{URL: "https://sklep.example.pl", WebhookKey: "wc_0123456789abcdef", SyncedUntil: testNow}
	creds := app.Credentials{APIKey: "ck_abc", AccessToken: "cs_def", WebhookSecret: "whsec", WidgetSecret: "widget"}

	shop, again, err := f.svc.ConnectStore(ctx, store, conn, creds)
	if err != nil || again || !shop.Active() || shop.Currency != "PLN" {
		t.Fatalf("connect = %+v, %v, %v", shop, again, err)
	}
	t.Run("the store is found by its webhook key with its secrets", func(t *testing.T) {
		s, c, cr, err := f.svc.StoreByWebhookKey(ctx, "wc_0123456789abcdef")
		if err != nil || s.ID != shop.ID || c.URL != conn.URL || cr.WebhookSecret != "whsec" || cr.APIKey != "ck_abc" ||
			cr.AccessToken != "cs_def" || cr.WidgetSecret != "widget" {
			t.Fatalf("found %+v %+v %+v, %v", s, c, cr, err)
		}
		if len(c.EarnStatuses) != 0 {
			t.Fatalf("earn statuses = %v; none were named, so the platform's default applies", c.EarnStatuses)
		}
		if _, _, _, err := f.svc.StoreByWebhookKey(ctx, "wc_unknown_key_000"); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("unknown key: %v", err)
		}
	})
	t.Run("secrets are sealed at rest", func(t *testing.T) {
		var row string
		f.store.SQL().QueryRow(`SELECT api_key || access_token || webhook_secret || widget_secret FROM shop_credentials`).Scan(&row)
		for _, secret := range []string{"ck_abc", "cs_def", "whsec", "widget"} {
			if strings.Contains(row, secret) {
				t.Fatalf("%q stored in the clear", secret)
			}
		}
	})
	t.Run("sync progress never moves backwards", func(t *testing.T) {
		later := testNow.Add(time.Hour)
		f.svc.SaveSyncProgress(ctx, shop, later, nil)
		f.svc.SaveSyncProgress(ctx, shop, testNow, errors.New("store unreachable"))
		c, _ := f.svc.Connection(ctx, shop)
		if !c.SyncedUntil.Equal(later) || c.LastSyncError != "store unreachable" {
			t.Fatalf("connection = %+v", c)
		}
	})
	t.Run("a reconnect keeps the program and reads on from where it was", func(t *testing.T) {
		prog, _ := f.svc.Program(ctx, shop)
		prog.SignupBonus = 10
		f.store.SaveProgram(ctx, prog)
		f.svc.Uninstall(ctx, shop)
		conn2 := conn
		conn2.SyncedUntil = testNow.Add(48 * time.Hour)
		back, again, err := f.svc.ConnectStore(ctx, store, conn2, creds)
		if err != nil || !again || back.ID != shop.ID {
			t.Fatalf("reconnect = %+v, %v, %v", back, again, err)
		}
		p, _ := f.svc.Program(ctx, back)
		c, _ := f.svc.Connection(ctx, back)
		if p.SignupBonus != 10 || !c.SyncedUntil.Equal(testNow.Add(time.Hour)) {
			t.Fatalf("program %+v, synced until %s", p, c.SyncedUntil)
		}
		shops, conns, err := f.svc.ActiveConnections(ctx, app.WooCommerce)
		if err != nil || len(shops) != 1 || conns[0].ShopID != shop.ID {
			t.Fatalf("active connections = %+v, %v", shops, err)
		}
	})
	t.Run("earning statuses are the platform's words, kept as given and audited", func(t *testing.T) {
		if err := f.svc.SetEarnStatuses(ctx, shop, nil, "owner@sklep.example.pl"); app.ErrorCode(err) != app.EInvalid {
			t.Fatalf("no statuses: %v", err)
		}
		if err := f.svc.SetEarnStatuses(ctx, shop, []string{"completed", "wc-shipped"}, "owner@sklep.example.pl"); err != nil {
			t.Fatal(err)
		}
		c, _ := f.svc.Connection(ctx, shop)
		if strings.Join(c.EarnStatuses, ",") != "completed,wc-shipped" {
			t.Fatalf("earn statuses = %v; the core must not rewrite a platform's status names", c.EarnStatuses)
		}
		log, _ := f.svc.AuditLog(ctx, shop.Domain, 1)
		if len(log) != 1 || log[0].Action != "change earning statuses" || log[0].Actor != "owner@sklep.example.pl" ||
			!strings.Contains(log[0].Detail, "completed,wc-shipped") {
			t.Fatalf("audit log = %+v", log)
		}
	})
}
