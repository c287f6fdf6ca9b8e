package web

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"loyalty/app"
	"loyalty/internal/testenv"
)

// Customers of the console tests: two of shop A, one of shop B.
const (
	ewaID = "7100000000000000001" // shop A, 320 points
	janID = "7100000000000000002" // shop A, 999 points
	oskID = "7200000000000000001" // shop B, 150 points
)

// seedCustomers gives shop A two customers and shop B one, through the
// same service calls the webhook jobs make.
func seedCustomers(t *testing.T, r *consoleRig) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []struct {
		shop     app.Shop
		order    string
		customer app.CustomerRef
		subtotal string
	}{
		{r.env.Shop, "5001", app.CustomerRef{PlatformID: ewaID, Email: "ewa@example.com", FirstName: "Ewa", LastName: "Kowalska"}, "320.00"},
		{r.env.Shop, "5002", app.CustomerRef{PlatformID: janID, Email: "jan@example.com", FirstName: "Jan", LastName: "Nowak"}, "999.00"},
		{r.shopB, "6001", app.CustomerRef{PlatformID: oskID, Email: "oskar@other.test", FirstName: "Oskar"}, "150.00"},
	} {
		c := o.customer
		if _, err := r.svc.AccrueOrder(ctx, o.shop, app.OrderPaid{OrderID: o.order, Name: "#" + o.order, Customer: &c, Subtotal: app.MustAmount(o.subtotal)}); err != nil {
			t.Fatal(err)
		}
	}
}

// signedInAt is signedIn for any shop: a browser signed in as email at the
// shop's domain, and its CSRF token.
func (r *consoleRig) signedInAt(t *testing.T, domain, email string) (*http.Client, string) {
	t.Helper()
	b := r.browser()
	if resp, body := r.signIn(t, b, domain, email, staffPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d %s", email, resp.StatusCode, body)
	}
	_, page := r.get(t, b, "/console/customers", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token on the customers page:\n%s", page)
	}
	return b, m[1]
}

// upload posts a multipart form with one file, as the import form does.
func (r *consoleRig) upload(t *testing.T, b *http.Client, path string, fields url.Values, filename, content string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	if filename != "" {
		f, _ := w.CreateFormFile("file", filename)
		f.Write([]byte(content))
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return do(t, b, req)
}

func (r *consoleRig) staff(t *testing.T, shop app.Shop, email string) app.Staff {
	t.Helper()
	m, err := r.svc.StaffByEmail(context.Background(), shop, email)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var keys atomic.Int64

// adjustValues is the adjust form as a browser posts it, with a fresh
// idempotency key.
func adjustValues(csrf, points, direction, reason, note string) url.Values {
	return url.Values{"csrf": {csrf}, "points": {points}, "direction": {direction}, "reason": {reason}, "note": {note},
		"key": {fmt.Sprint("test-key-", keys.Add(1))}}
}

// adjustment posts an adjustment as m through the service and returns the
// entry, or the request when it waits for approval.
func (r *consoleRig) adjustment(t *testing.T, m app.Staff, customer string, points int64) app.AdjustResult {
	t.Helper()
	res, err := r.svc.AdjustAsStaff(context.Background(), r.env.Shop, m, app.AdjustRequest{CustomerID: customer, Points: points,
		ReasonCode: app.ReasonGoodwill, IdempotencyKey: fmt.Sprint("svc-key-", keys.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (r *consoleRig) balance(t *testing.T, shop app.Shop, customer string) int64 {
	t.Helper()
	c, err := r.svc.Balance(context.Background(), shop, customer)
	if err != nil {
		t.Fatal(err)
	}
	return c.Balance
}

const importCSV = "customer_id,email,points\r\n" + ewaID + ",,1000\r\n,jan@example.com,999\r\n,nobody@example.com,10\r\n"

// TestConsoleCustomersRolesMatrix runs every customer route for every
// role: owners do everything, admins see and approve but do not adjust,
// import or export, support does all but approve.
func TestConsoleCustomersRolesMatrix(t *testing.T) {
	r := newConsoleRig(t, false)
	seedCustomers(t, r)
	owner, support := r.staff(t, r.env.Shop, "owner@acme.test"), r.staff(t, r.env.Shop, "support@acme.test")
	// A request to decide: above support's limit, so it waits.
	request := func(t *testing.T) string {
		res := r.adjustment(t, support, janID, app.DefaultAdjustLimit+1)
		if res.Request == nil {
			t.Fatal("no request")
		}
		return strconv.FormatInt(res.Request.ID, 10)
	}
	entry := func(t *testing.T) string {
		return strconv.FormatInt(r.adjustment(t, owner, ewaID, 5).Entry.ID, 10)
	}
	type call struct {
		method, path string
		form         url.Values
		file         bool
	}
	routes := []struct {
		name string
		call func(t *testing.T, csrf string) call
		want map[app.Role]int
	}{
		{"search customers", func(*testing.T, string) call { return call{"GET", "/console/customers?q=ewa", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 200, app.RoleSupport: 200}},
		{"customer page", func(*testing.T, string) call { return call{"GET", "/console/customers/" + ewaID, nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 200, app.RoleSupport: 200}},
		{"adjust", func(_ *testing.T, csrf string) call {
			return call{"POST", "/console/customers/" + ewaID + "/adjust", adjustValues(csrf, "5", "add", "goodwill", ""), false}
		}, map[app.Role]int{app.RoleOwner: 303, app.RoleAdmin: 403, app.RoleSupport: 303}},
		{"undo", func(t *testing.T, csrf string) call {
			return call{"POST", "/console/entries/" + entry(t) + "/undo", url.Values{"csrf": {csrf}, "customer": {ewaID}}, false}
		}, map[app.Role]int{app.RoleOwner: 303, app.RoleAdmin: 403, app.RoleSupport: 303}},
		{"approvals", func(*testing.T, string) call { return call{"GET", "/console/approvals", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 200, app.RoleSupport: 403}},
		{"approve", func(t *testing.T, csrf string) call {
			return call{"POST", "/console/approvals/" + request(t) + "/approve", url.Values{"csrf": {csrf}}, false}
		}, map[app.Role]int{app.RoleOwner: 303, app.RoleAdmin: 303, app.RoleSupport: 403}},
		{"reject", func(t *testing.T, csrf string) call {
			return call{"POST", "/console/approvals/" + request(t) + "/reject", url.Values{"csrf": {csrf}, "note": {"no receipt"}}, false}
		}, map[app.Role]int{app.RoleOwner: 303, app.RoleAdmin: 303, app.RoleSupport: 403}},
		{"adjustments report", func(*testing.T, string) call { return call{"GET", "/console/reports/adjustments", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 200, app.RoleSupport: 200}},
		{"import page", func(*testing.T, string) call { return call{"GET", "/console/import", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 403, app.RoleSupport: 200}},
		{"import preview", func(_ *testing.T, csrf string) call {
			return call{"POST", "/console/import", url.Values{"csrf": {csrf}, "dry_run": {"1"}}, true}
		}, map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 403, app.RoleSupport: 200}},
		{"members export", func(*testing.T, string) call { return call{"GET", "/console/export/members.csv", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 403, app.RoleSupport: 200}},
		{"ledger export", func(*testing.T, string) call { return call{"GET", "/console/export/ledger.csv", nil, false} },
			map[app.Role]int{app.RoleOwner: 200, app.RoleAdmin: 403, app.RoleSupport: 200}},
	}
	for _, role := range []app.Role{app.RoleOwner, app.RoleAdmin, app.RoleSupport} {
		b, csrf := r.signedIn(t, string(role)+"@acme.test")
		for _, rt := range routes {
			want := rt.want[role]
			t.Run(fmt.Sprintf("%s: %s is %d", role, rt.name, want), func(t *testing.T) {
				c := rt.call(t, csrf)
				var resp *http.Response
				var body string
				switch {
				case c.file:
					resp, body = r.upload(t, b, c.path, c.form, "balances.csv", importCSV)
				case c.method == "POST":
					resp, body = r.post(t, b, c.path, c.form, nil)
				default:
					resp, body = r.get(t, b, c.path, nil)
				}
				if resp.StatusCode != want {
					t.Fatalf("%s %s: %d, want %d\n%s", c.method, c.path, resp.StatusCode, want, body)
				}
			})
		}
	}
	t.Run("the import preview changed nothing", func(t *testing.T) {
		// Ewa has 320, the owner's and support's +5 each, and the +5 the
		// admin could not undo; the other undos netted to zero.
		if got := r.balance(t, r.env.Shop, ewaID); got != 320+5+5+5 {
			t.Fatalf("balance %d", got)
		}
	})
}

// TestConsoleCustomersCrossShop: a member of shop B never sees or changes
// shop A's customers, entries or requests, whatever ids they put in the
// URL.
func TestConsoleCustomersCrossShop(t *testing.T) {
	r := newConsoleRig(t, false)
	seedCustomers(t, r)
	support := r.staff(t, r.env.Shop, "support@acme.test")
	entryA := r.adjustment(t, r.staff(t, r.env.Shop, "owner@acme.test"), ewaID, 10).Entry
	requestA := r.adjustment(t, support, janID, 5000).Request
	b, csrf := r.signedInAt(t, "other.myshopify.com", "owner@other.test")
	tests := []struct {
		name, method, path string
		form               url.Values
	}{
		{"reading shop A's customer", "GET", "/console/customers/" + ewaID, nil},
		{"adjusting shop A's customer", "POST", "/console/customers/" + ewaID + "/adjust", adjustValues(csrf, "100", "add", "goodwill", "")},
		{"undoing shop A's entry", "POST", fmt.Sprint("/console/entries/", entryA.ID, "/undo"), url.Values{"csrf": {csrf}}},
		{"undoing shop A's entry from their own customer's page", "POST", fmt.Sprint("/console/entries/", entryA.ID, "/undo"), url.Values{"csrf": {csrf}, "customer": {oskID}}},
		{"approving shop A's request", "POST", fmt.Sprint("/console/approvals/", requestA.ID, "/approve"), url.Values{"csrf": {csrf}}},
		{"rejecting shop A's request", "POST", fmt.Sprint("/console/approvals/", requestA.ID, "/reject"), url.Values{"csrf": {csrf}, "note": {"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is not found", func(t *testing.T) {
			var resp *http.Response
			var body string
			if tt.method == "POST" {
				resp, body = r.post(t, b, tt.path, tt.form, nil)
			} else {
				resp, body = r.get(t, b, tt.path, nil)
			}
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("%d\n%s", resp.StatusCode, body)
			}
		})
	}
	t.Run("nothing of shop A changed", func(t *testing.T) {
		if got := r.balance(t, r.env.Shop, ewaID); got != 330 {
			t.Fatalf("Ewa's balance %d, want 330", got)
		}
		f, err := r.svc.CustomerFile(context.Background(), r.env.Shop, ewaID)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Undone) != 0 {
			t.Fatalf("undone: %v", f.Undone)
		}
		reqs, _ := r.svc.AdjustmentRequests(context.Background(), r.env.Shop, app.RequestPending, 10)
		if len(reqs) != 1 {
			t.Fatalf("pending requests %+v", reqs)
		}
	})
	t.Run("search, approvals and exports list only shop B's own", func(t *testing.T) {
		for _, path := range []string{"/console/customers", "/console/customers?q=ewa", "/console/approvals?status=all", "/console/export/members.csv", "/console/export/ledger.csv"} {
			resp, body := r.get(t, b, path, nil)
			if resp.StatusCode != http.StatusOK || strings.Contains(body, ewaID) || strings.Contains(body, janID) || strings.Contains(body, "example.com") {
				t.Fatalf("%s: %d\n%s", path, resp.StatusCode, body)
			}
		}
		if _, body := r.get(t, b, "/console/customers", nil); !strings.Contains(body, oskID) {
			t.Fatalf("shop B's own customer is missing:\n%s", body)
		}
	})
}

// TestConsoleCustomersCSRF: every form that changes something needs the
// session's CSRF token.
func TestConsoleCustomersCSRF(t *testing.T) {
	r := newConsoleRig(t, false)
	seedCustomers(t, r)
	entry := r.adjustment(t, r.staff(t, r.env.Shop, "owner@acme.test"), ewaID, 10).Entry
	request := r.adjustment(t, r.staff(t, r.env.Shop, "support@acme.test"), janID, 5000).Request
	b, _ := r.signedIn(t, "owner@acme.test")
	for _, token := range []string{"", "forged"} {
		for _, path := range []string{
			"/console/customers/" + ewaID + "/adjust",
			fmt.Sprint("/console/entries/", entry.ID, "/undo"),
			fmt.Sprint("/console/approvals/", request.ID, "/approve"),
			fmt.Sprint("/console/approvals/", request.ID, "/reject"),
		} {
			t.Run(fmt.Sprintf("%s with csrf %q is refused", path, token), func(t *testing.T) {
				form := adjustValues(token, "50", "add", "goodwill", "")
				form.Set("note", "because")
				if resp, _ := r.post(t, b, path, form, nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%d", resp.StatusCode)
				}
			})
		}
		t.Run(fmt.Sprintf("an import with csrf %q is refused", token), func(t *testing.T) {
			if resp, _ := r.upload(t, b, "/console/import", url.Values{"csrf": {token}, "dry_run": {"0"}}, "b.csv", importCSV); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%d", resp.StatusCode)
			}
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		if ewa, jan := r.balance(t, r.env.Shop, ewaID), r.balance(t, r.env.Shop, janID); ewa != 330 || jan != 999 {
			t.Fatalf("balances %d %d", ewa, jan)
		}
	})
}

var formKey = regexp.MustCompile(`name="key" value="([0-9a-f]{32})"`)

// TestConsoleCustomersSupportFlow follows a support member through the
// pages: find, adjust with a reason, the guardrails, approval and undo.
func TestConsoleCustomersSupportFlow(t *testing.T) {
	r := newConsoleRig(t, false)
	seedCustomers(t, r)
	support, csrf := r.signedIn(t, "support@acme.test")
	admin, adminCSRF := r.signedIn(t, "admin@acme.test")
	page := func(t *testing.T, b *http.Client, path string) string {
		t.Helper()
		resp, body := r.get(t, b, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", path, resp.StatusCode, body)
		}
		return body
	}
	for _, q := range []string{"ewa@exa", "Kowal", ewaID} {
		t.Run("a search for "+q+" finds Ewa and not Jan", func(t *testing.T) {
			body := page(t, support, "/console/customers?q="+url.QueryEscape(q))
			if !strings.Contains(body, `href="/console/customers/`+ewaID+`"`) || strings.Contains(body, janID) {
				t.Fatalf("%s", body)
			}
		})
	}
	t.Run("a search with no match says so", func(t *testing.T) {
		if body := page(t, support, "/console/customers?q=nobody"); !strings.Contains(body, "No customer matches") {
			t.Fatalf("%s", body)
		}
	})
	t.Run("an unknown customer is 404", func(t *testing.T) {
		if resp, _ := r.get(t, support, "/console/customers/123", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	body := page(t, support, "/console/customers/"+ewaID)
	t.Run("the customer page shows the balance, the order and the adjust form with its limit", func(t *testing.T) {
		for _, want := range []string{"Ewa Kowalska", `data-test="balance">320<`, "Earned on order #5001", "Up to 1\u202f000 points", `<option value="missing_points">Points missing from an order</option>`} {
			if !strings.Contains(body, want) {
				t.Fatalf("no %q in\n%s", want, body)
			}
		}
	})
	key := formKey.FindStringSubmatch(body)[1]
	adjust := func(form url.Values) (*http.Response, string) {
		return r.post(t, support, "/console/customers/"+ewaID+"/adjust", form, nil)
	}
	t.Run("adding points with a reason posts them at once, once however often it is sent", func(t *testing.T) {
		form := adjustValues(csrf, "50", "add", "service_recovery", "parcel arrived late")
		form.Set("key", key)
		for i := 0; i < 2; i++ {
			resp, _ := adjust(form)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/customers/"+ewaID+"?notice=adjusted" {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if got := r.balance(t, r.env.Shop, ewaID); got != 370 {
			t.Fatalf("balance %d, want 370", got)
		}
		body := page(t, support, "/console/customers/"+ewaID+"?notice=adjusted")
		for _, want := range []string{"The adjustment is posted to the ledger.", "<strong>Service recovery (late, damaged or wrong item)</strong> <span>parcel arrived late</span>",
			"Name of support@acme.test &lt;support@acme.test&gt;", `data-test="balance">370<`} {
			if !strings.Contains(body, want) {
				t.Fatalf("no %q in\n%s", want, body)
			}
		}
		if formKey.FindStringSubmatch(body)[1] == key {
			t.Fatal("the next form reuses the key")
		}
	})
	refusals := []struct {
		rule   string
		form   url.Values
		status int
		says   string
	}{
		{"removing more than the balance is refused", adjustValues(csrf, "500", "remove", "correction", ""), 422, "the customer has 370 points; cannot remove 500"},
		{"a reason is required", adjustValues(csrf, "5", "add", "", ""), 422, "choose a reason"},
		{"Other needs a note", adjustValues(csrf, "5", "add", "other", ""), 422, "say in the note why"},
		{"points are a whole number above zero", adjustValues(csrf, "1.5", "add", "goodwill", ""), 422, "whole number above zero"},
		{"zero points are refused", adjustValues(csrf, "0", "add", "goodwill", ""), 422, "whole number above zero"},
		{"a direction is required", adjustValues(csrf, "5", "sideways", "goodwill", ""), 422, "add or remove"},
	}
	for _, tt := range refusals {
		t.Run(tt.rule+", with the form kept", func(t *testing.T) {
			resp, body := adjust(tt.form)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) || !strings.Contains(body, `role="alert"`) ||
				!strings.Contains(body, `value="`+tt.form.Get("points")+`"`) || !strings.Contains(body, `name="key" value="`+tt.form.Get("key")+`"`) {
				t.Fatalf("%d\n%s", resp.StatusCode, body)
			}
		})
	}
	if got := r.balance(t, r.env.Shop, ewaID); got != 370 {
		t.Fatalf("after refusals: balance %d, want 370", got)
	}

	var requestID string
	t.Run("above the role's limit the adjustment waits for approval", func(t *testing.T) {
		resp, _ := adjust(adjustValues(csrf, "1500", "add", "missing_points", "order 4410 from the old shop"))
		if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?notice=requested") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := r.balance(t, r.env.Shop, ewaID); got != 370 {
			t.Fatalf("balance %d before approval", got)
		}
		body := page(t, support, "/console/customers/"+ewaID+"?notice=requested")
		if !strings.Contains(body, "Waiting for approval") || !strings.Contains(body, "1\u202f500 points · Points missing from an order: order 4410") {
			t.Fatalf("%s", body)
		}
		queue := page(t, admin, "/console/approvals")
		m := regexp.MustCompile(`/console/approvals/(\d+)/approve`).FindStringSubmatch(queue)
		if m == nil || !strings.Contains(queue, "ewa@example.com") {
			t.Fatalf("%s", queue)
		}
		requestID = m[1]
	})
	t.Run("support cannot approve their own or anyone's request", func(t *testing.T) {
		if resp, _ := r.post(t, support, "/console/approvals/"+requestID+"/approve", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("rejecting needs a note for the requester", func(t *testing.T) {
		resp, body := r.post(t, admin, "/console/approvals/"+requestID+"/reject", url.Values{"csrf": {adminCSRF}}, nil)
		if resp.StatusCode != 422 || !strings.Contains(body, "say why you reject") {
			t.Fatalf("%d\n%s", resp.StatusCode, body)
		}
	})
	t.Run("an admin's approval posts the points, once", func(t *testing.T) {
		resp, _ := r.post(t, admin, "/console/approvals/"+requestID+"/approve", url.Values{"csrf": {adminCSRF}, "note": {"receipt checked"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/approvals?notice=approved" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := r.post(t, admin, "/console/approvals/"+requestID+"/approve", url.Values{"csrf": {adminCSRF}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already approved") {
			t.Fatalf("second approval: %d\n%s", resp.StatusCode, body)
		}
		if got := r.balance(t, r.env.Shop, ewaID); got != 1870 {
			t.Fatalf("balance %d, want 1870", got)
		}
		if body := page(t, support, "/console/customers/"+ewaID); !strings.Contains(body, "Past approval requests") || !strings.Contains(body, "receipt checked") {
			t.Fatalf("%s", body)
		}
		if body := page(t, admin, "/console/approvals"); !strings.Contains(body, "Nothing waits for approval.") {
			t.Fatalf("%s", body)
		}
	})

	var undo string
	t.Run("undo reverses an adjustment with a new entry and marks it undone", func(t *testing.T) {
		body := page(t, support, "/console/customers/"+ewaID)
		// The approved 1500 is above support's limit to undo: only the 50
		// offers an undo.
		m := regexp.MustCompile(`/console/entries/(\d+)/undo`).FindAllStringSubmatch(body, -1)
		if len(m) != 1 {
			t.Fatalf("undo buttons: %v\n%s", m, body)
		}
		undo = m[0][1]
		resp, _ := r.post(t, support, "/console/entries/"+undo+"/undo", url.Values{"csrf": {csrf}, "customer": {ewaID}, "note": {"wrong customer"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "?notice=undone") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := r.balance(t, r.env.Shop, ewaID); got != 1820 {
			t.Fatalf("balance %d, want 1820", got)
		}
		body = page(t, support, "/console/customers/"+ewaID)
		if !strings.Contains(body, `data-test="undone">undone by`) || !strings.Contains(body, "Undo of adjustment #"+undo) || strings.Contains(body, "/console/entries/"+undo+"/undo") {
			t.Fatalf("%s", body)
		}
	})
	t.Run("an adjustment is undone once: a repeat is a no-op, a colleague's second undo a conflict", func(t *testing.T) {
		if resp, _ := r.post(t, support, "/console/entries/"+undo+"/undo", url.Values{"csrf": {csrf}, "customer": {ewaID}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("double click: %d", resp.StatusCode)
		}
		owner, ownerCSRF := r.signedIn(t, "owner@acme.test")
		resp, body := r.post(t, owner, "/console/entries/"+undo+"/undo", url.Values{"csrf": {ownerCSRF}, "customer": {ewaID}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already undone") || !strings.Contains(body, "Ewa Kowalska") {
			t.Fatalf("%d\n%s", resp.StatusCode, body)
		}
		if got := r.balance(t, r.env.Shop, ewaID); got != 1820 {
			t.Fatalf("balance %d, want 1820", got)
		}
	})
	t.Run("undoing above one's limit is refused", func(t *testing.T) {
		f, err := r.svc.CustomerFile(context.Background(), r.env.Shop, ewaID)
		if err != nil {
			t.Fatal(err)
		}
		big := f.Entries[1] // newest first: the undo, then the approved 1500
		if big.Points != 1500 {
			t.Fatalf("entries %+v", f.Entries)
		}
		resp, body := r.post(t, support, fmt.Sprint("/console/entries/", big.ID, "/undo"), url.Values{"csrf": {csrf}, "customer": {ewaID}}, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "above your role") {
			t.Fatalf("%d\n%s", resp.StatusCode, body)
		}
	})
	t.Run("the report counts the staff member's adjustments and undos", func(t *testing.T) {
		body := page(t, support, "/console/reports/adjustments")
		if !strings.Contains(body, `<th scope="row">Name of support@acme.test &lt;support@acme.test&gt;</th>`) {
			t.Fatalf("%s", body)
		}
		if resp, body := r.get(t, support, "/console/reports/adjustments?from=2026-02-10&to=2026-02-01", nil); resp.StatusCode != 422 || !strings.Contains(body, "ends before it starts") {
			t.Fatalf("%d\n%s", resp.StatusCode, body)
		}
		if resp, _ := r.get(t, support, "/console/reports/adjustments?from=yesterday", nil); resp.StatusCode != 422 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("a notice comes only from the fixed list", func(t *testing.T) {
		if body := page(t, support, "/console/customers?notice=<script>alert(1)</script>"); strings.Contains(body, "alert(1)") || strings.Contains(body, `class="notice"`) {
			t.Fatalf("%s", body)
		}
	})
}

// TestConsoleCustomersImportExport: an import is previewed, then confirmed
// with the previewed content; exports download as CSV files.
func TestConsoleCustomersImportExport(t *testing.T) {
	r := newConsoleRig(t, false)
	seedCustomers(t, r)
	b, csrf := r.signedIn(t, "support@acme.test")
	resp, preview := r.upload(t, b, "/console/import", url.Values{"csrf": {csrf}, "dry_run": {"1"}}, "old-app.csv", importCSV)
	t.Run("the preview lists each row's outcome and changes nothing", func(t *testing.T) {
		if resp.StatusCode != http.StatusOK || !strings.Contains(preview, "Preview of old-app.csv: nothing is changed yet") ||
			!strings.Contains(preview, "not found") || !strings.Contains(preview, "Import 2 customers") {
			t.Fatalf("%d\n%s", resp.StatusCode, preview)
		}
		if r.balance(t, r.env.Shop, ewaID) != 320 {
			t.Fatal("the preview changed a balance")
		}
	})
	content := regexp.MustCompile(`name="content" value="([^"]*)"`).FindStringSubmatch(preview)
	if content == nil {
		t.Fatalf("no content to confirm in\n%s", preview)
	}
	confirm := url.Values{"csrf": {csrf}, "dry_run": {"0"}, "filename": {"old-app.csv"}, "content": {unescapeHTML(content[1])}}
	t.Run("confirming imports what was previewed", func(t *testing.T) {
		resp, _ := r.post(t, b, "/console/import", confirm, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/import?notice=imported" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if ewa, jan := r.balance(t, r.env.Shop, ewaID), r.balance(t, r.env.Shop, janID); ewa != 1320 || jan != 1998 {
			t.Fatalf("balances %d %d", ewa, jan)
		}
	})
	t.Run("confirming twice imports once", func(t *testing.T) {
		r.post(t, b, "/console/import", confirm, nil)
		if ewa := r.balance(t, r.env.Shop, ewaID); ewa != 1320 {
			t.Fatalf("balance %d", ewa)
		}
	})
	for _, tt := range []struct{ rule, filename, content, says string }{
		{"no file is refused", "", "", "choose a CSV file"},
		{"an empty file is refused", "e.csv", "  \n", "the file is empty"},
		{"a file without a points column is refused", "p.csv", "customer_id,name\n1,x\n", "needs a points"},
	} {
		t.Run(tt.rule, func(t *testing.T) {
			resp, body := r.upload(t, b, "/console/import", url.Values{"csrf": {csrf}, "dry_run": {"1"}}, tt.filename, tt.content)
			if resp.StatusCode != 422 || !strings.Contains(body, tt.says) {
				t.Fatalf("%d\n%s", resp.StatusCode, body)
			}
		})
	}
	t.Run("the members export is a dated CSV download", func(t *testing.T) {
		resp, body := r.get(t, b, "/console/export/members.csv", nil)
		want := `attachment; filename="members-` + testenv.ShopDomain + "-" + r.now.Format("2006-01-02") + `.csv"`
		if resp.Header.Get("Content-Disposition") != want || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.HasPrefix(body, strings.Join(app.MemberHeader, ",")) || !strings.Contains(body, ewaID+",ewa@example.com,Ewa,Kowalska,1320,") {
			t.Fatalf("%v\n%s", resp.Header, body)
		}
	})
	t.Run("the ledger export has the imported entries", func(t *testing.T) {
		resp, body := r.get(t, b, "/console/export/ledger.csv", nil)
		if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="ledger-`) || !strings.Contains(body, ewaID+",ewa@example.com,adjust,1000,1320") {
			t.Fatalf("%v\n%s", resp.Header, body)
		}
	})
}

// unescapeHTML reads an attribute value back as a browser would.
func unescapeHTML(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#43;", "+", "&#10;", "\n", "&#13;", "\r").Replace(s)
}
