package app_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"loyalty/app"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not RFC 4180 CSV: %v\n%s", err, b)
	}
	return recs
}

// byColumn finds the row whose column col is value.
func byColumn(recs [][]string, col int, value string) []string {
	for _, r := range recs[1:] {
		if r[col] == value {
			return r
		}
	}
	return nil
}

func TestExportMembers(t *testing.T) {
	f := seedKPIShop(t)
	evil := f.seedCustomer("evil", nov(2))
	f.exec(`UPDATE customers SET first_name = '=HYPERLINK("http://x")', last_name = 'Kowalska, "Ola"',
		birth_month = 2, birth_day = 9, balance = 42, pending = 7, last_activity_at = $2 WHERE id = $1`, evil, nov(9))
	gone := f.seedCustomer("gone", nov(2))
	f.exec(`UPDATE customers SET first_name = 'Jan', birth_month = 3, birth_day = 1 WHERE id = $1`, gone)
	f.exec(`UPDATE customers SET email = '', first_name = '', last_name = '', locale = '', birth_month = NULL, birth_day = NULL,
		platform_id = 'redacted:' || id, redacted_at = now() WHERE id = $1`, gone)

	var out bytes.Buffer
	if err := f.svc.ExportMembers(f.ctx, f.shop, &out); err != nil {
		t.Fatalf("export: %v", err)
	}
	recs := readCSV(t, out.Bytes())
	t.Run("lines end in CRLF, as RFC 4180 has them", func(t *testing.T) {
		if !strings.HasPrefix(out.String(), "customer_id,email,first_name,last_name,balance,pending,joined_at,last_activity_at,birthday\r\n") ||
			strings.Count(out.String(), "\r\n") != 1+7 {
			t.Errorf("line ends: %q", out.String())
		}
	})
	t.Run("the header names the documented columns", func(t *testing.T) {
		if got := strings.Join(recs[0], ","); got != "customer_id,email,first_name,last_name,balance,pending,joined_at,last_activity_at,birthday" {
			t.Errorf("header %s", got)
		}
	})
	t.Run("every customer has a row", func(t *testing.T) {
		if len(recs) != 1+7 {
			t.Errorf("%d rows, want 7 customers and a header", len(recs)-1)
		}
	})
	t.Run("a row carries points as integers, times in RFC 3339 UTC and the birthday as MM-DD", func(t *testing.T) {
		want := []string{"evil", "evil@example.com", `'=HYPERLINK("http://x")`, `Kowalska, "Ola"`, "42", "7",
			"2026-11-02T12:00:00Z", "2026-11-09T12:00:00Z", "02-09"}
		if got := byColumn(recs, 0, "evil"); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
	t.Run("a redacted customer keeps their row without personal data", func(t *testing.T) {
		var row []string
		for _, r := range recs[1:] {
			if strings.HasPrefix(r[0], "redacted:") {
				row = r
			}
		}
		if row == nil || row[1] != "" || row[2] != "" || row[3] != "" || row[8] != "" {
			t.Errorf("redacted row %q", row)
		}
	})
}

func TestExportLedger(t *testing.T) {
	f := seedKPIShop(t)
	a := customerID(t, f, "a")
	f.exec(`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, staff, reason, idempotency_key, created_at)
		VALUES ($1, $2, 'adjust', -3, 97, 0, '@ola', '-3: typo, "sorry"', 'adj-x', $3)`, f.shop.ID, a, nov(21))
	f.exec(`INSERT INTO ledger_entries (shop_id, customer_id, order_id, kind, points, balance_after, pending_after, cause_order, idempotency_key, created_at)
		SELECT $1, $2, o.id, 'earn', 1, 98, 0, o.platform_id, 'earn-x', $3 FROM orders o WHERE o.platform_id = 'oa1'`, f.shop.ID, a, nov(22))

	var out bytes.Buffer
	if err := f.svc.ExportLedger(f.ctx, f.shop, &out); err != nil {
		t.Fatalf("export: %v", err)
	}
	recs := readCSV(t, out.Bytes())
	t.Run("the header names the documented columns", func(t *testing.T) {
		if got := strings.Join(recs[0], ","); got != "entry_id,customer_id,email,kind,points,balance_after,pending_after,order,reason,staff,created_at" {
			t.Errorf("header %s", got)
		}
	})
	t.Run("every entry has a row, oldest first", func(t *testing.T) {
		if len(recs) != 1+11 {
			t.Errorf("%d rows, want 11", len(recs)-1)
		}
		if recs[1][3] != "earn" || recs[1][4] != "100" {
			t.Errorf("first row %q", recs[1])
		}
	})
	t.Run("negative points stay numbers; text that looks like a formula is defused", func(t *testing.T) {
		row := byColumn(recs, 4, "-3")
		want := []string{"a", "a@example.com", "adjust", "-3", "97", "0", "", `'-3: typo, "sorry"`, "'@ola", "2026-11-21T12:00:00Z"}
		if row == nil || strings.Join(row[1:], "|") != strings.Join(want, "|") {
			t.Errorf("got  %q\nwant %q", row, want)
		}
	})
	t.Run("an entry about an order names the platform's order id", func(t *testing.T) {
		if row := byColumn(recs, 7, "oa1"); row == nil || row[3] != "earn" {
			t.Errorf("order row %q", row)
		}
	})
	t.Run("a redacted customer's entries lose the email", func(t *testing.T) {
		f.exec(`UPDATE customers SET email = '', first_name = '', last_name = '', locale = '',
			platform_id = 'redacted:' || id, redacted_at = now() WHERE id = $1`, a)
		out.Reset()
		if err := f.svc.ExportLedger(f.ctx, f.shop, &out); err != nil {
			t.Fatal(err)
		}
		for _, r := range readCSV(t, out.Bytes())[1:] {
			if strings.HasPrefix(r[1], "redacted:") && r[2] != "" {
				t.Errorf("row %q keeps an email", r)
			}
		}
	})
}

func customerID(t *testing.T, f *fixture, platformID string) int64 {
	t.Helper()
	var id int64
	if err := f.store.SQL().QueryRow(`SELECT id FROM customers WHERE shop_id = $1 AND platform_id = $2`, f.shop.ID, platformID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestExportPages runs across the batch boundary: every row comes out once,
// in id order, and another shop's rows never do.
func TestExportPages(t *testing.T) {
	f := newFixture(t, nil)
	other, err := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com", Currency: "PLN"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, shopID := range []int64{f.shop.ID, other.ID} {
		f.exec(`INSERT INTO customers (shop_id, platform_id) SELECT $1, 'p' || g FROM generate_series(1, 2500) g`, shopID)
		f.exec(`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, cause_job, idempotency_key)
			SELECT c.shop_id, c.id, 'bonus', 1, 1, 0, 'seed', 'k' || c.id FROM customers c WHERE c.shop_id = $1`, shopID)
	}
	for name, export := range map[string]func() ([]byte, error){
		"members": func() ([]byte, error) {
			var b bytes.Buffer
			err := f.svc.ExportMembers(f.ctx, f.shop, &b)
			return b.Bytes(), err
		},
		"ledger": func() ([]byte, error) {
			var b bytes.Buffer
			err := f.svc.ExportLedger(f.ctx, f.shop, &b)
			return b.Bytes(), err
		},
	} {
		t.Run(name+" come out once each, in order", func(t *testing.T) {
			b, err := export()
			if err != nil {
				t.Fatal(err)
			}
			recs := readCSV(t, b)[1:]
			if len(recs) != 2500 {
				t.Fatalf("%d rows, want 2500", len(recs))
			}
			col := 0
			if name == "ledger" {
				col = 1
			}
			seen := map[string]bool{}
			for _, r := range recs {
				if seen[r[col]] {
					t.Fatalf("%s twice", r[col])
				}
				seen[r[col]] = true
			}
		})
	}
}
