package app_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

func (f *fixture) export(req app.DataRequest) (app.DataExport, app.CustomerDataDocument) {
	f.t.Helper()
	e, err := f.svc.ExportCustomerData(f.ctx, f.shop, req)
	if err != nil {
		f.t.Fatalf("export %s: %v", req.RequestID, err)
	}
	var doc app.CustomerDataDocument
	if err := json.Unmarshal(e.Document, &doc); err != nil {
		f.t.Fatalf("export document is not JSON: %v\n%s", err, e.Document)
	}
	return e, doc
}

func (f *fixture) uninstall() {
	f.t.Helper()
	if err := f.svc.Uninstall(f.ctx, f.shop); err != nil {
		f.t.Fatal(err)
	}
	f.shop.Status = app.ShopUninstalled
}

// count runs a counting query.
func (f *fixture) count(query string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.store.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestExportCustomerData(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("299938", "191167", "100.00"))
	f.accrue(paid("280263", "191167", "50.00"))
	f.refund(refund("280263", "r1", "20.00"))
	f.refund(refund("220458", "r2", "5.00")) // its paid event never came: a placeholder order
	f.accrue(paid("1", "someone-else", "70.00"))
	req := app.DataRequest{CustomerID: "191167", Email: "john@example.com",
		OrdersRequested: []string{"299938", "280263", "220458"}, RequestID: "9999"}

	first, doc := f.export(req)
	t.Run("the document holds the customer, their ledger, lots and orders with refunds", func(t *testing.T) {
		if doc.Shop != "acme.myshopify.com" || doc.Platform != app.Shopify || doc.RequestID != "9999" ||
			!doc.GeneratedAt.Equal(testNow) || !doc.CustomerFound || doc.Note != "" {
			t.Fatalf("header = %+v", doc)
		}
		c := doc.Customer
		if c == nil || c.CustomerID != "191167" || c.Email != "191167@example.com" || c.Balance != 130 {
			t.Fatalf("customer = %+v", c)
		}
		var kinds []string
		for _, e := range doc.LedgerEntries {
			kinds = append(kinds, string(e.Kind)+":"+e.OrderID)
		}
		if got := strings.Join(kinds, " "); got != "earn:299938 earn:280263 reverse:280263" {
			t.Fatalf("ledger = %s", got)
		}
		if len(doc.Lots) != 2 || doc.Lots[1].Remaining != 30 {
			t.Fatalf("lots = %+v", doc.Lots)
		}
		if len(doc.Orders) != 3 {
			t.Fatalf("orders = %+v", doc.Orders)
		}
		if o := doc.Orders[1]; o.OrderID != "280263" || o.PointsEarned != 50 || o.PointsReversed != 20 ||
			len(o.Refunds) != 1 || o.Refunds[0].RefundID != "r1" || o.Refunds[0].Lines != "20.00" {
			t.Fatalf("refunded order = %+v", o)
		}
		if o := doc.Orders[2]; o.OrderID != "220458" || o.Status != app.OrderStatusUnpaid {
			t.Fatalf("requested placeholder order = %+v", o)
		}
		if bytes.Contains(first.Document, []byte("someone-else")) {
			t.Fatal("the export holds another customer's data")
		}
	})
	t.Run("the same request gets the same export", func(t *testing.T) {
		f.accrue(paid("later", "191167", "10.00"))
		again, _ := f.export(req)
		if again.ID != first.ID || !bytes.Equal(again.Document, first.Document) || again.Status != app.ExportReady {
			t.Fatalf("second export = %d %s, want export %d unchanged", again.ID, again.Document, first.ID)
		}
	})
	t.Run("a customer the app never saw gets an export that says so", func(t *testing.T) {
		e, doc := f.export(app.DataRequest{CustomerID: "404", RequestID: "10000"})
		if e.ID == first.ID || doc.CustomerFound || doc.Customer != nil || doc.Note == "" {
			t.Fatalf("export = %+v", doc)
		}
		// Empty sections, not nulls: the merchant reads "none".
		for _, section := range []string{`"ledger_entries": []`, `"lots": []`, `"orders": []`} {
			if !bytes.Contains(e.Document, []byte(section)) {
				t.Errorf("document lacks %s:\n%s", section, e.Document)
			}
		}
	})
	t.Run("a request without an id is invalid", func(t *testing.T) {
		_, err := f.svc.ExportCustomerData(f.ctx, f.shop, app.DataRequest{CustomerID: "191167"})
		if app.ErrorCode(err) != app.EInvalid {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
	t.Run("support lists the exports, opens one and marks it delivered", func(t *testing.T) {
		list, err := f.svc.DataExports(f.ctx, f.shop)
		if err != nil || len(list) != 2 || list[1].ID != first.ID || list[1].Document != nil {
			t.Fatalf("list = %+v, %v", list, err)
		}
		one, err := f.svc.DataExport(f.ctx, f.shop, first.ID)
		if err != nil || !bytes.Equal(one.Document, first.Document) {
			t.Fatalf("export = %+v, %v", one, err)
		}
		if err := f.svc.MarkDataExportDelivered(f.ctx, f.shop, first.ID); err != nil {
			t.Fatal(err)
		}
		if one, _ := f.svc.DataExport(f.ctx, f.shop, first.ID); one.Status != app.ExportDelivered {
			t.Fatalf("status = %s", one.Status)
		}
		other, err := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DataExport(f.ctx, other, first.ID); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("another shop reads the export: %v", err)
		}
	})
	t.Run("an uninstalled shop still answers", func(t *testing.T) {
		f.uninstall()
		_, doc := f.export(app.DataRequest{CustomerID: "191167", RequestID: "after-uninstall"})
		if !doc.CustomerFound {
			t.Fatal("customer not found after the uninstall")
		}
	})
}

func TestRedactCustomer(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("299938", "191167", "100.00"))
	f.refund(refund("299938", "r1", "40.00"))
	f.accrue(paid("2", "1911670", "30.00")) // an id that merely starts the same
	f.export(app.DataRequest{CustomerID: "191167", RequestID: "9999"})
	f.export(app.DataRequest{CustomerID: "1911670", RequestID: "10000"})
	deliveries := map[string]string{
		"names the customer":     `{"customer": {"id": 191167}}`,
		"names their email":      `{"contact_email": "JOHN@example.com"}`,
		"names a redacted order": `{"order_id": 220458}`,
		"names someone else":     `{"customer": {"id": 1911670}}`,
	}
	for id, body := range deliveries {
		if err := f.store.RecordDelivery(f.ctx, app.WebhookDelivery{Platform: app.Shopify, ShopDomain: f.shop.Domain,
			DeliveryID: id, Topic: "orders/paid", Status: app.DeliveryFailed, Payload: []byte(body), ReceivedAt: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.ParkDelivery(f.ctx, app.WebhookDelivery{Platform: app.Shopify, ShopDomain: f.shop.Domain,
		DeliveryID: "parked", Topic: "orders/paid", Payload: []byte(`{"customer": {"id": 191167}}`), ReceivedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: "191167", Birthday: app.Birthday{Month: time.May, Day: 17}}); err != nil {
		t.Fatal(err)
	}
	// Staff write about the customer in the audit log: a corrected
	// birthday, and adjustments with free-text notes, one of which names
	// them only by name.
	ann := f.staff("Ann", app.RoleOwner)
	if _, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: "191167", Birthday: app.Birthday{Month: time.June, Day: 1},
		Staff: app.StaffLabel(ann), Reason: "John Smith asked by phone"}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"191167", "1911670"} {
		if _, err := f.svc.AdjustAsStaff(f.ctx, f.shop, ann, app.AdjustRequest{CustomerID: who, Points: 10, ReasonCode: app.ReasonOther,
			Note: "John Smith's parcel came late", IdempotencyKey: "k-" + who}); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := f.svc.Balance(f.ctx, f.shop, "191167")
	// A decision on a request names the requester, not the customer.
	if err := f.store.AuditCustomer(f.ctx, app.AuditEntry{ShopID: f.shop.ID, ShopDomain: f.shop.Domain, Actor: app.StaffLabel(ann),
		Action: "adjustment approved", Outcome: app.AuditOK, Detail: "request 7 by Bob: 10 points; Mrs Smith rang twice"}, before.ID); err != nil {
		t.Fatal(err)
	}
	f.uninstall() // customer requests must be honoured after an uninstall too

	req := app.RedactRequest{CustomerID: "191167", Email: "john@example.com", OrdersToRedact: []string{"220458"}}
	out, err := f.svc.RedactCustomer(f.ctx, f.shop, req)
	if err != nil {
		t.Fatal(err)
	}
	if out.Skipped != app.SkipNone || !strings.Contains(out.Detail, "redacted customer 191167") {
		t.Fatalf("outcome = %+v", out)
	}
	t.Run("nothing left names the customer, and the points stay", func(t *testing.T) {
		if _, err := f.svc.Balance(f.ctx, f.shop, "191167"); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("the customer is still found by their platform id: %v", err)
		}
		var platformID, email, first, last, locale string
		var balance int64
		var redactedAt *time.Time
		var birthMonth *int
		if err := f.store.SQL().QueryRow(`SELECT platform_id, email, first_name, last_name, locale, balance, redacted_at, birth_month
			FROM customers WHERE id = $1`, before.ID).Scan(&platformID, &email, &first, &last, &locale, &balance, &redactedAt, &birthMonth); err != nil {
			t.Fatal(err)
		}
		if platformID == "191167" || !strings.HasPrefix(platformID, "redacted:") || email+first+last+locale != "" || redactedAt == nil || birthMonth != nil {
			t.Fatalf("customer row = %q %q %q %q %q redacted at %v", platformID, email, first, last, locale, redactedAt)
		}
		if balance != before.Balance || balance != 70 {
			t.Fatalf("balance = %d, want %d kept", balance, before.Balance)
		}
		if n := f.count(`SELECT count(*) FROM ledger_entries WHERE customer_id = $1`, before.ID); n != 3 {
			t.Fatalf("%d ledger entries, want all three kept", n)
		}
		f.reconciles()
	})
	t.Run("their exports are deleted, other customers' stay", func(t *testing.T) {
		list, _ := f.svc.DataExports(f.ctx, f.shop)
		if len(list) != 1 || list[0].CustomerID != "1911670" {
			t.Fatalf("exports = %+v", list)
		}
	})
	t.Run("stored payloads naming them or their orders are cleared, others kept", func(t *testing.T) {
		list, err := f.store.Deliveries(f.ctx, f.shop.Domain, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			kept := d.Payload != nil
			want := d.DeliveryID == "names someone else" || d.DeliveryID == "parked"
			if kept != want {
				t.Errorf("delivery %q kept its payload: %v, want %v", d.DeliveryID, kept, want)
			}
		}
	})
	t.Run("the database refuses to put personal data back on a redacted row", func(t *testing.T) {
		if _, err := f.store.SQL().Exec(`UPDATE customers SET email = 'john@example.com' WHERE id = $1`, before.ID); err == nil {
			t.Fatal("a redacted customer took an email again")
		}
	})
	t.Run("a second request finds nothing to do", func(t *testing.T) {
		out, err := f.svc.RedactCustomer(f.ctx, f.shop, req)
		if err != nil || out.Skipped != app.SkipNothingToRedact {
			t.Fatalf("outcome = %+v, %v", out, err)
		}
	})
	t.Run("an unknown customer is not an error", func(t *testing.T) {
		out, err := f.svc.RedactCustomer(f.ctx, f.shop, app.RedactRequest{CustomerID: "404"})
		if err != nil || out.Skipped != app.SkipNothingToRedact {
			t.Fatalf("outcome = %+v, %v", out, err)
		}
	})
	t.Run("the audit log records the redaction without naming the customer", func(t *testing.T) {
		log, err := f.svc.AuditLog(f.ctx, f.shop.Domain, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range log {
			if mentions191167(a.Detail) || strings.Contains(a.Detail, "john") || strings.Contains(a.Detail, "06-01") {
				t.Errorf("audit line names the customer: %+v", a)
			}
			found = found || a.Action == "redact_customer"
		}
		if !found {
			t.Fatalf("no redaction in the audit log: %+v", log)
		}
	})
	t.Run("staff lines about them keep who did what and when, not what they wrote", func(t *testing.T) {
		log, err := f.svc.AuditLog(f.ctx, f.shop.Domain, 100)
		if err != nil {
			t.Fatal(err)
		}
		scrubbed := map[string]int{}
		for _, a := range log {
			if a.Detail == "redacted" {
				if a.Actor != app.StaffLabel(ann) || a.CreatedAt.IsZero() {
					t.Errorf("scrubbed line lost its actor or time: %+v", a)
				}
				scrubbed[a.Action]++
			}
		}
		if scrubbed["change birthday"] != 1 || scrubbed["adjust balance"] != 1 || scrubbed["adjustment approved"] != 1 || len(scrubbed) != 3 {
			t.Fatalf("scrubbed lines by action = %v, want the birthday change, one adjustment and the decision", scrubbed)
		}
		if n := f.count(`SELECT count(*) FROM audit_log WHERE detail LIKE 'customer 1911670:%John Smith%'`); n != 1 {
			t.Fatalf("%d lines about the other customer kept, want 1", n)
		}
		if !strings.Contains(out.Detail, "3 audit lines scrubbed") {
			t.Fatalf("outcome = %q, want the scrubbed lines counted", out.Detail)
		}
	})
	t.Run("a line tied to them is scrubbed even when its text does not name them", func(t *testing.T) {
		if n := f.count(`SELECT count(*) FROM audit_log WHERE detail LIKE '%Mrs Smith%'`); n != 0 {
			t.Fatalf("%d lines still hold what staff wrote about the customer", n)
		}
	})
}

// mentions191167 reports whether s names customer 191167 (not 1911670).
func mentions191167(s string) bool {
	for i := strings.Index(s, "191167"); i >= 0; i = strings.Index(s, "191167") {
		if end := i + 6; end == len(s) || s[end] < '0' || s[end] > '9' {
			return true
		}
		s = s[i+6:]
	}
	return false
}

func TestEraseShop(t *testing.T) {
	t.Run("an uninstalled shop is erased, ledger and all", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		f.refund(refund("1", "r1", "10.00"))
		f.export(app.DataRequest{CustomerID: "c1", RequestID: "1"})
		ann := f.staff("Ann", app.RoleOwner)
		if _, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: "c1", Birthday: app.Birthday{Month: time.May, Day: 17},
			Staff: app.StaffLabel(ann), Reason: "asked by phone"}); err != nil {
			t.Fatal(err)
		}
		f.staffAdjust(ann, "c1", 10, "k1")
		f.uninstall()
		out, err := f.svc.EraseShop(f.ctx, f.shop)
		if err != nil || out.Skipped != app.SkipNone || !strings.Contains(out.Detail, "1 customer, 1 order") {
			t.Fatalf("outcome = %+v, %v", out, err)
		}
		t.Run("the audit log keeps only the erasure, not what staff wrote", func(t *testing.T) {
			var lines []string
			rows, err := f.store.SQL().Query(`SELECT action || ': ' || detail FROM audit_log WHERE shop_domain = $1 ORDER BY id`, f.shop.Domain)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, l)
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "erase: ") {
				t.Fatalf("audit lines = %q, want the erasure alone", lines)
			}
		})
		if _, err := f.svc.Shop(f.ctx, app.Shopify, f.shop.Domain); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("shop still there: %v", err)
		}
		for _, table := range []string{"customers", "orders", "order_refunds", "ledger_entries", "lots", "data_exports"} {
			if n := f.count(`SELECT count(*) FROM ` + table); n != 0 {
				t.Errorf("%s still holds %d rows", table, n)
			}
		}
		t.Run("erasing it again succeeds and does nothing", func(t *testing.T) {
			out, err := f.svc.EraseShop(f.ctx, f.shop)
			if err != nil || out.Skipped != app.SkipShopAlreadyGone {
				t.Fatalf("outcome = %+v, %v", out, err)
			}
		})
	})
	t.Run("a reinstalled shop is not erased", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		out, err := f.svc.EraseShop(f.ctx, f.shop)
		if err != nil || out.Skipped != app.SkipShopReinstalled {
			t.Fatalf("outcome = %+v, %v", out, err)
		}
		f.balance("c1", 100, 0)
	})
	t.Run("a reinstall that lands after the worker read the shop still wins", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		stale := f.shop
		stale.Status = app.ShopUninstalled // what the worker saw before the merchant came back
		out, err := f.svc.EraseShop(f.ctx, stale)
		if err != nil || out.Skipped != app.SkipShopReinstalled {
			t.Fatalf("outcome = %+v, %v", out, err)
		}
		f.balance("c1", 100, 0)
	})
}

func TestAnExportIncludesTheMessagesSentToTheCustomer(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.svc.WelcomeCustomer(f.ctx, f.shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: "191167", Email: "ewa@example.com", Locale: "pl"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.svc.Balance(f.ctx, f.shop, "191167")
	if queued, err := f.svc.Notify(f.ctx, f.shop, app.Notice{Kind: app.MessageWelcome, CustomerID: c.ID, Key: "welcome:191167"}); err != nil || !queued {
		t.Fatalf("notify: %v %v", queued, err)
	}
	_, doc := f.export(app.DataRequest{CustomerID: "191167", RequestID: "1"})
	if len(doc.Messages) != 1 || doc.Messages[0].Kind != app.MessageWelcome || doc.Messages[0].Email != "ewa@example.com" || doc.Messages[0].Language != "pl" {
		t.Fatalf("messages %+v", doc.Messages)
	}
}
