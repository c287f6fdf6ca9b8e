package app_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
	"loyalty/internal/password"
)

// staff creates a staff member of the fixture's shop with a role.
func (f *fixture) staff(name string, role app.Role) app.Staff {
	f.t.Helper()
	f.svc.WithPasswordHasher(password.Bcrypt{Cost: bcrypt.MinCost})
	m, err := f.svc.AddStaff(f.ctx, f.shop, "test", name+"@acme.example", name, role, "correct horse battery")
	if err != nil {
		f.t.Fatalf("add staff %s: %v", name, err)
	}
	return m
}

func (f *fixture) staffAdjust(m app.Staff, customerID string, points int64, key string) app.AdjustResult {
	f.t.Helper()
	res, err := f.svc.AdjustAsStaff(f.ctx, f.shop, m, app.AdjustRequest{CustomerID: customerID, Points: points,
		ReasonCode: app.ReasonGoodwill, Note: "late parcel", IdempotencyKey: key})
	if err != nil {
		f.t.Fatalf("adjust %s by %d: %v", customerID, points, err)
	}
	return res
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if app.ErrorCode(err) != code {
		t.Fatalf("error = %v (%s), want %s", err, app.ErrorCode(err), code)
	}
}

func TestAdjustAsStaff(t *testing.T) {
	t.Run("within the limit the entry is posted at once with the reason code, note and staff name", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		sup := f.staff("Sue", app.RoleSupport)
		res := f.staffAdjust(sup, "c1", 50, "k1")
		if res.Entry == nil || res.Request != nil {
			t.Fatalf("result = %+v, want an entry", res)
		}
		e := *res.Entry
		if e.Cause.ReasonCode != app.ReasonGoodwill || e.Cause.Staff != "Sue <sue@acme.example>" ||
			e.Cause.Reason != "Goodwill gesture: late parcel" {
			t.Fatalf("cause = %+v", e.Cause)
		}
		f.balance("c1", 150, 0)
		again := f.staffAdjust(sup, "c1", 50, "k1")
		if again.Entry == nil || again.Entry.ID != e.ID {
			t.Fatalf("a retried adjustment = %+v, want entry %d again", again, e.ID)
		}
		f.balance("c1", 150, 0)
		log, _ := f.svc.AuditLog(f.ctx, f.shop.Domain, 10)
		if log[0].Action != "adjust balance" || log[0].Actor != "Sue <sue@acme.example>" || !strings.Contains(log[0].Detail, "+50 points") {
			t.Fatalf("audit = %+v", log[0])
		}
	})

	t.Run("above the role's limit it waits for approval and changes nothing", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.AdjustLimits = map[app.Role]int64{app.RoleSupport: 100} })
		f.accrue(paid("1", "c1", "100.00"))
		sup := f.staff("Sue", app.RoleSupport)
		res := f.staffAdjust(sup, "c1", 101, "k1")
		if res.Request == nil || res.Request.Status != app.RequestPending || res.Request.RequestedBy != "Sue <sue@acme.example>" {
			t.Fatalf("result = %+v, want a pending request", res)
		}
		again := f.staffAdjust(sup, "c1", 101, "k1")
		if again.Request == nil || again.Request.ID != res.Request.ID {
			t.Fatalf("a retried request = %+v, want request %d", again, res.Request.ID)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("a removal above the limit that the balance cannot cover is refused at once", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.AdjustLimits = map[app.Role]int64{app.RoleSupport: 10} })
		f.accrue(paid("1", "c1", "100.00"))
		_, err := f.svc.AdjustAsStaff(f.ctx, f.shop, f.staff("Sue", app.RoleSupport), app.AdjustRequest{CustomerID: "c1", Points: -101,
			ReasonCode: app.ReasonCorrection, IdempotencyKey: "k"})
		wantCode(t, err, app.EInsufficientPoint)
		if reqs, _ := f.svc.AdjustmentRequests(f.ctx, f.shop, "", 0); len(reqs) != 0 {
			t.Fatalf("filed %+v", reqs)
		}
	})

	t.Run("owners are never limited", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.AdjustLimits = map[app.Role]int64{app.RoleSupport: 0} })
		f.accrue(paid("1", "c1", "10.00"))
		res := f.staffAdjust(f.staff("Olga", app.RoleOwner), "c1", 100000, "k1")
		if res.Entry == nil {
			t.Fatalf("owner's adjustment = %+v", res)
		}
	})

	refusals := []struct {
		name string
		role app.Role
		req  app.AdjustRequest
		code string
	}{
		{"admins do not adjust balances", app.RoleAdmin, app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "k"}, app.EForbidden},
		{"a reason code is required", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", Points: 5, IdempotencyKey: "k"}, app.EInvalid},
		{"import is not a code staff choose", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonImport, IdempotencyKey: "k"}, app.EInvalid},
		{"other needs a note", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonOther, IdempotencyKey: "k"}, app.EInvalid},
		{"an idempotency key is required", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonGoodwill}, app.EInvalid},
		{"zero points", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", ReasonCode: app.ReasonGoodwill, IdempotencyKey: "k"}, app.EInvalid},
		{"no more than the balance can be removed", app.RoleSupport, app.AdjustRequest{CustomerID: "c1", Points: -101, ReasonCode: app.ReasonCorrection, IdempotencyKey: "k"}, app.EInsufficientPoint},
		{"an unknown customer", app.RoleSupport, app.AdjustRequest{CustomerID: "nobody", Points: 5, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "k"}, app.ENotFound},
	}
	for _, tc := range refusals {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.accrue(paid("1", "c1", "100.00"))
			_, err := f.svc.AdjustAsStaff(f.ctx, f.shop, f.staff("X", tc.role), tc.req)
			wantCode(t, err, tc.code)
			f.balance("c1", 100, 0)
		})
	}

	t.Run("staff of another shop cannot adjust this shop's customers", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		other, err := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com", Currency: "EUR"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stranger := f.staff("Mallory", app.RoleOwner)
		stranger.ShopID = other.ID
		_, err = f.svc.AdjustAsStaff(f.ctx, f.shop, stranger, app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "k"})
		wantCode(t, err, app.EForbidden)
		_, err = f.svc.AdjustAsStaff(f.ctx, other, f.staff("Sue", app.RoleSupport), app.AdjustRequest{CustomerID: "c1", Points: 5, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "k"})
		wantCode(t, err, app.EForbidden)
	})
}

func TestUndoAdjustment(t *testing.T) {
	t.Run("an undo is a new entry of the opposite sign, and happens once", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		sup := f.staff("Sue", app.RoleSupport)
		e := f.staffAdjust(sup, "c1", 40, "k1").Entry
		undo, err := f.svc.UndoAdjustment(f.ctx, f.shop, sup, e.ID, "wrong customer")
		if err != nil {
			t.Fatal(err)
		}
		if undo.Points != -40 || undo.Cause.Undoes != e.ID || undo.Cause.ReasonCode != app.ReasonUndo ||
			!strings.Contains(undo.Cause.Reason, "wrong customer") {
			t.Fatalf("undo = %+v", undo)
		}
		f.balance("c1", 100, 0)
		_, err = f.svc.UndoAdjustment(f.ctx, f.shop, f.staff("Sam", app.RoleSupport), e.ID, "")
		wantCode(t, err, app.EConflict)
		_, err = f.svc.UndoAdjustment(f.ctx, f.shop, sup, undo.ID, "")
		wantCode(t, err, app.EInvalid)
		file, err := f.svc.CustomerFile(f.ctx, f.shop, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if file.Undone[e.ID] != undo.ID {
			t.Fatalf("file.Undone = %v, want %d undone by %d", file.Undone, e.ID, undo.ID)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("an undone removal gives the points back", func(t *testing.T) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "100.00"))
		sup := f.staff("Sue", app.RoleSupport)
		e := f.staffAdjust(sup, "c1", -30, "k1").Entry
		if _, err := f.svc.UndoAdjustment(f.ctx, f.shop, sup, e.ID, ""); err != nil {
			t.Fatal(err)
		}
		f.balance("c1", 100, 0)
	})

	t.Run("points already spent cannot be undone", func(t *testing.T) {
		f := newFixture(t, nil)
		sup := f.staff("Sue", app.RoleSupport)
		f.accrue(paid("1", "c1", "10.00"))
		e := f.staffAdjust(sup, "c1", 40, "k1").Entry
		f.staffAdjust(sup, "c1", -45, "k2")
		_, err := f.svc.UndoAdjustment(f.ctx, f.shop, sup, e.ID, "")
		wantCode(t, err, app.EInsufficientPoint)
	})

	t.Run("only adjustments, of this shop, within the role's limit", func(t *testing.T) {
		f := newFixture(t, func(p *app.Program) { p.AdjustLimits = map[app.Role]int64{app.RoleSupport: 10} })
		f.accrue(paid("1", "c1", "100.00"))
		owner, sup := f.staff("Olga", app.RoleOwner), f.staff("Sue", app.RoleSupport)
		big := f.staffAdjust(owner, "c1", 50, "k1").Entry
		_, err := f.svc.UndoAdjustment(f.ctx, f.shop, sup, big.ID, "")
		wantCode(t, err, app.EForbidden)
		entries, _ := f.svc.History(f.ctx, f.shop, "c1", 10)
		earn := entries[len(entries)-1]
		_, err = f.svc.UndoAdjustment(f.ctx, f.shop, owner, earn.ID, "")
		wantCode(t, err, app.EInvalid)
		other, _ := f.svc.AddShop(f.ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com", Currency: "EUR"}, nil)
		owner.ShopID = other.ID
		_, err = f.svc.UndoAdjustment(f.ctx, other, owner, big.ID, "")
		wantCode(t, err, app.ENotFound)
	})
}

func TestDecideAdjustment(t *testing.T) {
	setup := func(t *testing.T) (*fixture, app.Staff, app.AdjustmentRequest) {
		f := newFixture(t, func(p *app.Program) { p.AdjustLimits = map[app.Role]int64{app.RoleSupport: 100} })
		f.accrue(paid("1", "c1", "100.00"))
		sup := f.staff("Sue", app.RoleSupport)
		return f, sup, *f.staffAdjust(sup, "c1", 500, "k1").Request
	}

	t.Run("an admin's approval posts the adjustment in the requester's name", func(t *testing.T) {
		f, _, req := setup(t)
		admin := f.staff("Adam", app.RoleAdmin)
		got, err := f.svc.DecideAdjustment(f.ctx, f.shop, admin, req.ID, true, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != app.RequestApproved || got.EntryID == 0 || got.DecidedBy != "Adam <adam@acme.example>" {
			t.Fatalf("decided = %+v", got)
		}
		f.balance("c1", 600, 0)
		entries, _ := f.svc.History(f.ctx, f.shop, "c1", 1)
		if entries[0].Cause.Staff != "Sue <sue@acme.example>" || !strings.Contains(entries[0].Cause.Reason, "approved by Adam") {
			t.Fatalf("entry cause = %+v", entries[0].Cause)
		}
		_, err = f.svc.DecideAdjustment(f.ctx, f.shop, f.staff("Olga", app.RoleOwner), req.ID, true, "")
		wantCode(t, err, app.EConflict)
		f.balance("c1", 600, 0)
	})

	t.Run("a rejection needs a reason and changes nothing", func(t *testing.T) {
		f, _, req := setup(t)
		owner := f.staff("Olga", app.RoleOwner)
		_, err := f.svc.DecideAdjustment(f.ctx, f.shop, owner, req.ID, false, "")
		wantCode(t, err, app.EInvalid)
		got, err := f.svc.DecideAdjustment(f.ctx, f.shop, owner, req.ID, false, "too generous")
		if err != nil || got.Status != app.RequestRejected || got.EntryID != 0 {
			t.Fatalf("rejected = %+v, %v", got, err)
		}
		f.balance("c1", 100, 0)
		pending, _ := f.svc.AdjustmentRequests(f.ctx, f.shop, app.RequestPending, 0)
		if len(pending) != 0 {
			t.Fatalf("pending = %+v", pending)
		}
	})

	t.Run("support cannot approve, nor anyone their own request", func(t *testing.T) {
		f, sup, req := setup(t)
		_, err := f.svc.DecideAdjustment(f.ctx, f.shop, sup, req.ID, true, "")
		wantCode(t, err, app.EForbidden)
		// Promoted since she asked, she still may not approve her own request.
		sup.Role = app.RoleAdmin
		_, err = f.svc.DecideAdjustment(f.ctx, f.shop, sup, req.ID, true, "")
		wantCode(t, err, app.EForbidden)
		f.balance("c1", 100, 0)
	})

	t.Run("two approvers at once post one entry", func(t *testing.T) {
		f, _, req := setup(t)
		a, b := f.staff("Adam", app.RoleAdmin), f.staff("Olga", app.RoleOwner)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []app.Staff{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.DecideAdjustment(f.ctx, f.shop, m, req.ID, true, "")
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("errors = %v, want exactly one approval to win", errs)
		}
		f.balance("c1", 600, 0)
	})
}

func TestAdjustmentReport(t *testing.T) {
	f := newFixture(t, nil)
	f.accrue(paid("1", "c1", "100.00"))
	sue, sam := f.staff("Sue", app.RoleSupport), f.staff("Sam", app.RoleSupport)
	f.staffAdjust(sue, "c1", 30, "a")
	e := f.staffAdjust(sue, "c1", -20, "b").Entry
	f.staffAdjust(sam, "c1", 5, "c")
	if _, err := f.svc.UndoAdjustment(f.ctx, f.shop, sam, e.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.AdjustmentReport(f.ctx, f.shop, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []app.StaffAdjustments{
		{Staff: "Sam <sam@acme.example>", Adjustments: 1, Added: 5},
		{Staff: "Sue <sue@acme.example>", Adjustments: 2, Added: 30, Removed: 20, Undone: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("report = %+v\nwant %+v", got, want)
	}
	empty, err := f.svc.AdjustmentReport(f.ctx, f.shop, testNow.Add(time.Hour), testNow.Add(2*time.Hour))
	if err != nil || len(empty) != 0 {
		t.Fatalf("a later period = %+v, %v", empty, err)
	}
	_, err = f.svc.AdjustmentReport(f.ctx, f.shop, testNow, testNow)
	wantCode(t, err, app.EInvalid)
}

func TestSearchCustomers(t *testing.T) {
	f := newFixture(t, nil)
	for i, who := range []struct{ id, email, first, last string }{
		{"101", "ada@lovelace.example", "Ada", "Lovelace"},
		{"102", "alan@turing.example", "Alan", "Turing"},
		{"103", "grace_h@navy.example", "Grace", "Hopper"},
		{"104", "ada.b@other.example", "Ada", "Byron"},
	} {
		out, err := f.svc.AccrueOrder(f.ctx, f.shop, app.OrderPaid{OrderID: fmt.Sprint(i), Currency: "PLN", Subtotal: app.MustAmount("10.00"),
			PaidAt: testNow, Customer: &app.CustomerRef{PlatformID: who.id, Email: who.email, FirstName: who.first, LastName: who.last}})
		if err != nil || len(out.Entries) != 1 {
			t.Fatalf("seed %s: %v", who.id, err)
		}
	}
	cases := []struct {
		text string
		want []string
	}{
		{"", []string{"104", "103", "102", "101"}},
		{"102", []string{"102"}},
		{"ADA@", []string{"101"}},
		{"ada", []string{"104", "101"}},
		{"lovelace", []string{"101"}},
		{"ada lov", []string{"101"}},
		{"grace_", []string{"103"}},
		{"%", nil},
		{"nobody", nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q finds %v", tc.text, tc.want), func(t *testing.T) {
			page, err := f.svc.SearchCustomers(f.ctx, f.shop, app.CustomerQuery{Text: tc.text})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range page.Customers {
				got = append(got, c.PlatformID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("found %v", got)
			}
		})
	}
	t.Run("pages follow one another without gaps or repeats", func(t *testing.T) {
		var got []string
		q := app.CustomerQuery{Limit: 3}
		for pages := 0; ; pages++ {
			page, err := f.svc.SearchCustomers(f.ctx, f.shop, q)
			if err != nil || pages > 3 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, c := range page.Customers {
				got = append(got, c.PlatformID)
			}
			if page.Next == 0 {
				break
			}
			q.Before = page.Next
		}
		if fmt.Sprint(got) != "[104 103 102 101]" {
			t.Fatalf("pages = %v", got)
		}
	})
}

func TestImportBalances(t *testing.T) {
	const file = "customer_id,email,points\n" +
		"c1,,250\n" +
		",known@example.com,100\n" +
		"new1,new1@example.com,40\n" +
		",nobody@example.com,10\n" +
		"c1,,5\n" +
		"x,,lots\n"
	setup := func(t *testing.T) (*fixture, app.Staff) {
		f := newFixture(t, nil)
		f.accrue(paid("1", "c1", "10.00"))
		if _, err := f.svc.AccrueOrder(f.ctx, f.shop, app.OrderPaid{OrderID: "2", Currency: "PLN", Subtotal: app.MustAmount("1.00"),
			PaidAt: testNow, Customer: &app.CustomerRef{PlatformID: "k1", Email: "Known@Example.com"}}); err != nil {
			t.Fatal(err)
		}
		return f, f.staff("Sue", app.RoleSupport)
	}
	outcomes := func(rep app.ImportReport) string {
		var b strings.Builder
		for _, r := range rep.Rows {
			fmt.Fprintf(&b, "%d:%s:%+d ", r.Line, r.Outcome, r.Delta)
		}
		return strings.TrimSpace(b.String())
	}
	const want = "2:add:+250 3:add:+100 4:add:+40 5:not_found:+0 6:invalid:+0 7:invalid:+0"

	t.Run("a dry run reports every row and changes nothing", func(t *testing.T) {
		f, sue := setup(t)
		rep, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader(file), app.ImportOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(rep); got != want {
			t.Fatalf("rows = %s\nwant %s", got, want)
		}
		if rep.Customers != 3 || rep.PointsAdded != 390 || rep.Failed != 3 {
			t.Fatalf("totals = %+v", rep)
		}
		f.balance("c1", 10, 0)
		if _, err := f.svc.Balance(f.ctx, f.shop, "new1"); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("a dry run created a customer: %v", err)
		}
	})

	t.Run("the import does what the dry run said, and again changes nothing", func(t *testing.T) {
		f, sue := setup(t)
		rep, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader(file), app.ImportOptions{Filename: "smile.csv"})
		if err != nil || outcomes(rep) != want {
			t.Fatalf("import = %s, %v", outcomes(rep), err)
		}
		f.balance("c1", 260, 0)
		f.balance("k1", 101, 0)
		f.balance("new1", 40, 0)
		again, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader(file), app.ImportOptions{Filename: "smile.csv"})
		if err != nil {
			t.Fatal(err)
		}
		if again.Customers != 0 || again.Unchanged != 3 {
			t.Fatalf("second import = %s %+v", outcomes(again), again)
		}
		f.balance("c1", 260, 0)
		entries, _ := f.svc.History(f.ctx, f.shop, "c1", 1)
		if entries[0].Cause.ReasonCode != app.ReasonImport || !strings.Contains(entries[0].Cause.Reason, "smile.csv, line 2") {
			t.Fatalf("entry cause = %+v", entries[0].Cause)
		}
		log, _ := f.svc.AuditLog(f.ctx, f.shop.Domain, 1)
		if log[0].Action != "import balances" || !strings.Contains(log[0].Detail, "smile.csv") {
			t.Fatalf("audit = %+v", log[0])
		}
	})

	t.Run("a newer file adds only what changed", func(t *testing.T) {
		f, sue := setup(t)
		if _, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader("customer_id,points\nc1,250\n"), app.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader("customer_id,points\nc1,300\n"), app.ImportOptions{})
		if err != nil || outcomes(rep) != "2:add:+50" {
			t.Fatalf("import = %s, %v", outcomes(rep), err)
		}
		f.balance("c1", 310, 0)
	})

	t.Run("this app's own member export imports as it is", func(t *testing.T) {
		f, sue := setup(t)
		var export strings.Builder
		if err := f.svc.ExportMembers(f.ctx, f.shop, &export); err != nil {
			t.Fatal(err)
		}
		g := newFixture(t, nil)
		rep, err := g.svc.ImportBalances(g.ctx, g.shop, g.staff("Sue", app.RoleSupport), strings.NewReader(export.String()), app.ImportOptions{})
		if err != nil || rep.Customers != 2 || rep.PointsAdded != 11 {
			t.Fatalf("import of %q = %s %+v, %v", export.String(), outcomes(rep), rep, err)
		}
		g.balance("c1", 10, 0)
		g.balance("k1", 1, 0)
		_ = sue
	})

	t.Run("a formula-guarded cell is read without its quote", func(t *testing.T) {
		f, sue := setup(t)
		rep, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader("customer_id,email,points\n'-7,'=x@example.com,5\n"), app.ImportOptions{})
		if err != nil || len(rep.Rows) != 1 || rep.Rows[0].CustomerID != "-7" || rep.Rows[0].Email != "=x@example.com" {
			t.Fatalf("rows = %+v, %v", rep.Rows, err)
		}
	})

	refusals := []struct{ name, file string }{
		{"an empty file", ""},
		{"no points column", "customer_id,email\nc1,a@b.c\n"},
		{"no way to find customers", "name,points\nAda,5\n"},
		{"a header and nothing else", "customer_id,points\n"},
	}
	for _, tc := range refusals {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			f, sue := setup(t)
			_, err := f.svc.ImportBalances(f.ctx, f.shop, sue, strings.NewReader(tc.file), app.ImportOptions{})
			wantCode(t, err, app.EInvalid)
		})
	}
	t.Run("refused: admins do not import balances", func(t *testing.T) {
		f, _ := setup(t)
		_, err := f.svc.ImportBalances(f.ctx, f.shop, f.staff("Adam", app.RoleAdmin), strings.NewReader(file), app.ImportOptions{})
		wantCode(t, err, app.EForbidden)
	})
}

func TestStaffManagement(t *testing.T) {
	t.Run("only owners make owners, and the shop keeps one", func(t *testing.T) {
		f := newFixture(t, nil)
		owner, admin := f.staff("Olga", app.RoleOwner), f.staff("Adam", app.RoleAdmin)
		sup := f.staff("Sue", app.RoleSupport)
		wantCode(t, f.svc.SetStaffRole(f.ctx, f.shop, admin, sup.ID, app.RoleOwner), app.EForbidden)
		wantCode(t, f.svc.SetStaffRole(f.ctx, f.shop, admin, owner.ID, app.RoleSupport), app.EForbidden)
		if err := f.svc.SetStaffRole(f.ctx, f.shop, admin, sup.ID, app.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.svc.SetStaffRole(f.ctx, f.shop, owner, owner.ID, app.RoleAdmin), app.EConflict)
		_, err := f.svc.AddStaffAs(f.ctx, f.shop, admin, "eve@acme.example", "Eve", app.RoleOwner, "correct horse battery")
		wantCode(t, err, app.EForbidden)
		wantCode(t, f.svc.SetStaffRole(f.ctx, f.shop, sup, admin.ID, app.RoleSupport), app.EForbidden)
	})

	t.Run("nobody disables themselves", func(t *testing.T) {
		f := newFixture(t, nil)
		owner := f.staff("Olga", app.RoleOwner)
		wantCode(t, f.svc.DisableStaffByID(f.ctx, f.shop, owner, owner.ID), app.EInvalid)
		sup := f.staff("Sue", app.RoleSupport)
		if err := f.svc.DisableStaffByID(f.ctx, f.shop, owner, sup.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.SignIn(f.ctx, f.shop, sup.Email, "correct horse battery")
		if !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("disabled sign-in: %v", err)
		}
	})

	t.Run("a password changes only with the current one", func(t *testing.T) {
		f := newFixture(t, nil)
		sup := f.staff("Sue", app.RoleSupport)
		wantCode(t, f.svc.ChangePassword(f.ctx, f.shop, sup, "wrong password!", "a brand new passphrase"), app.EForbidden)
		wantCode(t, f.svc.ChangePassword(f.ctx, f.shop, sup, "correct horse battery", "short"), app.EInvalid)
		if err := f.svc.ChangePassword(f.ctx, f.shop, sup, "correct horse battery", "a brand new passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignIn(f.ctx, f.shop, sup.Email, "a brand new passphrase"); err != nil {
			t.Fatalf("sign in with the new password: %v", err)
		}
	})
}

func TestAuditTrail(t *testing.T) {
	f := newFixture(t, nil)
	f.staff("Olga", app.RoleOwner) // one "staff add" line
	for i := range 5 {
		f.svc.Audit(f.ctx, app.AuditEntry{ShopID: f.shop.ID, ShopDomain: f.shop.Domain, Actor: "sue@acme.example",
			Action: "adjust balance", Outcome: app.AuditOK, Detail: fmt.Sprint(i)})
	}
	page, err := f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Actor: "SUE", Limit: 3})
	if err != nil || len(page.Entries) != 3 || page.Next == 0 || page.Entries[0].Detail != "4" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Actor: "sue", Before: page.Next, Limit: 3})
	if err != nil || len(page.Entries) != 2 || page.Next != 0 {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	page, _ = f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Action: "staff"})
	if len(page.Entries) != 1 || page.Entries[0].Action != "staff add" {
		t.Fatalf("by action = %+v", page.Entries)
	}
}

func TestRewardChangesAreAudited(t *testing.T) {
	f := newFixture(t, nil)
	r, err := f.svc.AddRewardAs(f.ctx, f.shop, "Adam <adam@acme.example>", app.Reward{Name: "5 off", Kind: app.RewardFixed, Points: 500,
		Amount: app.MustAmount("5.00"), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetRewardActiveAs(f.ctx, f.shop, "Adam <adam@acme.example>", r.ID, false); err != nil {
		t.Fatal(err)
	}
	page, _ := f.svc.AuditTrail(f.ctx, f.shop, app.AuditQuery{Action: "reward"})
	if len(page.Entries) != 2 || page.Entries[0].Action != "reward withdraw" || page.Entries[1].Action != "reward add" ||
		page.Entries[1].Actor != "Adam <adam@acme.example>" || !strings.Contains(page.Entries[1].Detail, `"5 off"`) {
		t.Fatalf("audit = %+v", page.Entries)
	}
	err = f.svc.SetRewardActiveAs(f.ctx, f.shop, "Adam", r.ID+100, true)
	wantCode(t, err, app.ENotFound)
}
