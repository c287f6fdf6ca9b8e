package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
)

func creds(token string) app.Credentials {
	return app.Credentials{AccessToken: token, RefreshToken: "shprt_" + token, Scopes: []string{"read_orders", "read_customers"},
		ExpiresAt: testNow.Add(time.Hour), RefreshExpiresAt: testNow.AddDate(0, 0, 90)}
}

func TestInstallShop(t *testing.T) {
	st, dsn := apptest.NewDB(t)
	svc := app.NewService(st, func() time.Time { return testNow })
	ctx := context.Background()
	shop := app.Shop{Platform: app.Shopify, Domain: "Sklep.myshopify.com", Name: "Sklep", Currency: "pln"}

	installed, again, err := svc.InstallShop(ctx, shop, creds("shpat_first"))
	if err != nil || again || !installed.Active() || installed.Domain != "sklep.myshopify.com" || installed.Currency != "PLN" {
		t.Fatalf("install = %+v, reinstall %v, %v", installed, again, err)
	}
	t.Run("a new shop starts with the default program", func(t *testing.T) {
		p, err := svc.Program(ctx, installed)
		if err != nil || p.EarnRate != app.DefaultProgram(0).EarnRate {
			t.Fatalf("program = %+v, %v", p, err)
		}
	})
	t.Run("tokens are sealed in the database", func(t *testing.T) {
		var access, refresh string
		if err := st.SQL().QueryRow(`SELECT access_token, refresh_token FROM shop_credentials`).Scan(&access, &refresh); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(access, "shpat") || strings.Contains(refresh, "shprt") {
			t.Fatalf("a token is stored in the clear: %q %q", access, refresh)
		}
		c, err := svc.Credentials(ctx, installed)
		if err != nil || c.AccessToken != "shpat_first" || c.RefreshToken != "shprt_shpat_first" || !c.Expiring() {
			t.Fatalf("credentials = %+v, %v", c, err)
		}
	})

	// The merchant tunes the program and customers earn; then uninstalls.
	prog, _ := svc.Program(ctx, installed)
	prog.EarnRate, prog.SignupBonus = app.Rate(50000), 20
	if err := st.SaveProgram(ctx, prog); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AccrueOrder(ctx, installed, paid("1", "c1", "10.00")); err != nil {
		t.Fatal(err)
	}
	if err := svc.Uninstall(ctx, installed); err != nil {
		t.Fatal(err)
	}
	t.Run("uninstalling forgets the revoked token", func(t *testing.T) {
		if _, err := svc.Credentials(ctx, installed); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("err = %v, want not found", err)
		}
		s, _ := svc.Shop(ctx, app.Shopify, "sklep.myshopify.com")
		if s.Active() {
			t.Fatal("shop still active")
		}
	})

	t.Run("reinstalling keeps the program and the balances", func(t *testing.T) {
		back, again, err := svc.InstallShop(ctx, shop, creds("shpat_second"))
		if err != nil || !again || back.ID != installed.ID || !back.Active() {
			t.Fatalf("reinstall = %+v, %v, %v", back, again, err)
		}
		p, _ := svc.Program(ctx, back)
		if p.EarnRate != app.Rate(50000) || p.SignupBonus != 20 {
			t.Fatalf("program = %+v, want the merchant's settings", p)
		}
		c, err := svc.Balance(ctx, back, "c1")
		if err != nil || c.Balance != 50 {
			t.Fatalf("balance = %+v, %v; want 50", c, err)
		}
		cr, _ := svc.Credentials(ctx, back)
		if cr.AccessToken != "shpat_second" {
			t.Fatalf("token = %q, want the new one", cr.AccessToken)
		}
	})
	t.Run("install, uninstall and reinstall are in the audit log", func(t *testing.T) {
		log, err := svc.AuditLog(ctx, "sklep.myshopify.com", 10)
		if err != nil || len(log) != 3 || log[0].Action != "reinstall" || log[1].Action != "uninstall" || log[2].Action != "install" {
			t.Fatalf("audit log = %+v, %v", log, err)
		}
	})
	t.Run("expiring credentials are found for refresh", func(t *testing.T) {
		list, err := svc.ExpiringCredentials(ctx, testNow.Add(2*time.Hour), 10)
		if err != nil || len(list) != 1 || list[0].ShopID != installed.ID {
			t.Fatalf("expiring = %+v, %v", list, err)
		}
		if list, _ := svc.ExpiringCredentials(ctx, testNow, 10); len(list) != 0 {
			t.Fatalf("found %d credentials expiring before now", len(list))
		}
	})

	t.Run("key rotation re-seals every secret with the new key", func(t *testing.T) {
		newKey := bytes.Repeat([]byte{7}, 32)
		rotating, err := store.NewKeyring(newKey, testKeyBytes(t))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := store.Open(ctx, dsn, store.Options{Keys: rotating})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if n, err := s2.RotateKeys(ctx); err != nil || n != 1 {
			t.Fatalf("rotated %d, %v; want 1", n, err)
		}
		if n, _ := s2.RotateKeys(ctx); n != 0 {
			t.Fatalf("a second rotation changed %d rows", n)
		}
		onlyNew, _ := store.NewKeyring(newKey)
		s3, err := store.Open(ctx, dsn, store.Options{Keys: onlyNew})
		if err != nil {
			t.Fatal(err)
		}
		defer s3.Close()
		c, err := s3.Credentials(ctx, installed.ID)
		if err != nil || c.AccessToken != "shpat_second" {
			t.Fatalf("after rotation with only the new key: %+v, %v", c, err)
		}
		if _, err := st.Credentials(ctx, installed.ID); err == nil {
			t.Fatal("the old key alone still opens the rotated secret")
		}
	})
}

func testKeyBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	n, err := hexDecode(b, apptest.TestEncryptionKey)
	if err != nil || n != 32 {
		t.Fatal("bad test key")
	}
	return b
}

func hexDecode(dst []byte, s string) (int, error) { return hex.Decode(dst, []byte(s)) }
