package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/platforms/shopify/shopifyfake"
)

// adminAPIRig is the console rig with an API token per staff member and
// customers in both shops: "c1" (100 points) in shop A, "b1" in shop B.
type adminAPIRig struct {
	*consoleRig
	tokens map[string]string // by email
}

func newAdminAPIRig(t *testing.T) *adminAPIRig {
	t.Helper()
	r := &adminAPIRig{consoleRig: newConsoleRig(t, false), tokens: map[string]string{}}
	for _, st := range []struct {
		shop  app.Shop
		email string
	}{{r.env.Shop, "owner@acme.test"}, {r.env.Shop, "admin@acme.test"}, {r.env.Shop, "support@acme.test"}, {r.shopB, "owner@other.test"}} {
		m := r.staff(t, st.shop, st.email)
		_, secret, err := r.svc.CreateAPIToken(context.Background(), st.shop, m, "api test")
		if err != nil {
			t.Fatal(err)
		}
		r.tokens[st.email] = secret
	}
	r.customer(t, r.env.Shop, "c1", "100.00")
	r.customer(t, r.shopB, "b1", "100.00")
	return r
}

func (r *adminAPIRig) staff(t *testing.T, shop app.Shop, email string) app.Staff {
	t.Helper()
	m, err := r.svc.StaffByEmail(context.Background(), shop, email)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// customer makes a customer of shop by an order of amount paid now (one
// point per unit of currency).
func (r *adminAPIRig) customer(t *testing.T, shop app.Shop, id, amount string) {
	t.Helper()
	a, err := app.ParseAmount(amount)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.svc.AccrueOrder(context.Background(), shop, app.OrderPaid{OrderID: "order-" + id, Name: "#" + id,
		Customer: &app.CustomerRef{PlatformID: id, Email: id + "@shoppers.test", FirstName: "Shopper", LastName: id},
		Currency: shop.Currency, Subtotal: a, PaidAt: r.now})
	if err != nil {
		t.Fatal(err)
	}
}

func (r *adminAPIRig) balance(t *testing.T, shop app.Shop, id string) int64 {
	t.Helper()
	c, err := r.svc.Balance(context.Background(), shop, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Balance
}

// call sends a request with email's token (none when email is "") and
// returns the status, headers and body.
func (r *adminAPIRig) call(t *testing.T, email, method, path, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if email != "" {
		req.Header.Set("Authorization", "Bearer "+r.tokens[email])
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, text := do(t, http.DefaultClient, req)
	return resp.StatusCode, resp.Header, text
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return v
}

type idJSON struct {
	ID int64 `json:"id"`
}

// TestAdminAPIRolesOnEveryRoute runs every admin API route as each role of
// shop A: a role whose permissions include the route's gets its success
// status, any other role 403 (and changes nothing). The table must name
// every route registered under /api/admin.
func TestAdminAPIRolesOnEveryRoute(t *testing.T) {
	r := newAdminAPIRig(t)
	ctx := context.Background()
	shop := r.env.Shop
	owner, support := r.staff(t, shop, "owner@acme.test"), r.staff(t, shop, "support@acme.test")
	roles := []string{"owner@acme.test", "admin@acme.test", "support@acme.test"}

	// What each role's requests act on, made beforehand so that an allowed
	// request succeeds: an adjustment to undo, requests to decide, staff
	// to change and disable, a reward to withdraw.
	undo, approve, reject, promote, disable := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	for i, email := range roles {
		res, err := r.svc.AdjustAsStaff(ctx, shop, owner, app.AdjustRequest{CustomerID: "c1", Points: 3, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "undo-me-" + email})
		if err != nil || res.Entry == nil {
			t.Fatalf("%+v %v", res, err)
		}
		undo[email] = res.Entry.ID
		for _, m := range []map[string]int64{approve, reject} {
			res, err := r.svc.AdjustAsStaff(ctx, shop, support, app.AdjustRequest{CustomerID: "c1", Points: 5000, ReasonCode: app.ReasonGoodwill,
				IdempotencyKey: fmt.Sprintf("request-%d-%p", i, m)})
			if err != nil || res.Request == nil {
				t.Fatalf("%+v %v", res, err)
			}
			m[email] = res.Request.ID
		}
		for _, m := range []map[string]int64{promote, disable} {
			added, err := r.svc.AddStaff(ctx, shop, "test", fmt.Sprintf("target-%d-%p@acme.test", i, m), "Target", app.RoleSupport, staffPassword)
			if err != nil {
				t.Fatal(err)
			}
			m[email] = added.ID
		}
	}
	reward, err := r.svc.AddReward(ctx, shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: 50000, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	penny, err := r.svc.AddReward(ctx, shop, app.Reward{Name: "0.01 off", Kind: app.RewardFixed, Points: 1, Amount: app.MustAmount("0.01"), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	c1, err := r.svc.Balance(ctx, shop, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Notify(ctx, shop, app.Notice{Kind: app.MessageEarned, CustomerID: c1.ID, Points: 100, Key: "earned:matrix"}); err != nil {
		t.Fatal(err)
	}
	messages, err := r.svc.Notifications(ctx, shop, "c1", 1)
	if err != nil || len(messages) != 1 {
		t.Fatalf("%+v %v", messages, err)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	bonus := map[string]int64{"owner@acme.test": 10, "admin@acme.test": 20, "support@acme.test": 30}

	routes := []struct {
		method, route string
		perm          app.Permission
		ok            int
		path, body    func(email string) string
	}{
		{"GET", "/api/admin/me", "", 200, nil, nil},
		{"GET", "/api/admin/customers", app.ViewCustomers, 200, nil, nil},
		{"GET", "/api/admin/customers/:customer", app.ViewCustomers, 200, func(string) string { return "/api/admin/customers/c1" }, nil},
		{"POST", "/api/admin/customers/:customer/adjustments", app.AdjustBalance, 201, func(string) string { return "/api/admin/customers/c1/adjustments" },
			func(string) string { return `{"points": 7, "reason_code": "goodwill"}` }},
		{"POST", "/api/admin/customers/:customer/redemptions", app.AdjustBalance, 201, func(string) string { return "/api/admin/customers/c1/redemptions" },
			func(string) string { return fmt.Sprintf(`{"reward_id": %d}`, penny.ID) }},
		{"GET", "/api/admin/customers/:customer/redemptions", app.ViewCustomers, 200, func(string) string { return "/api/admin/customers/c1/redemptions" }, nil},
		{"POST", "/api/admin/entries/:id/undo", app.AdjustBalance, 201, func(e string) string { return "/api/admin/entries/" + id(undo[e]) + "/undo" }, nil},
		{"GET", "/api/admin/approvals", app.ViewCustomers, 200, func(string) string { return "/api/admin/approvals?status=pending" }, nil},
		{"POST", "/api/admin/approvals/:id/approve", app.ApproveAdjustments, 200, func(e string) string { return "/api/admin/approvals/" + id(approve[e]) + "/approve" }, nil},
		{"POST", "/api/admin/approvals/:id/reject", app.ApproveAdjustments, 200, func(e string) string { return "/api/admin/approvals/" + id(reject[e]) + "/reject" },
			func(string) string { return `{"note": "not this time"}` }},
		{"GET", "/api/admin/reports/adjustments", app.ViewCustomers, 200, nil, nil},
		{"GET", "/api/admin/program", "", 200, nil, nil},
		{"PUT", "/api/admin/program", app.EditProgram, 200, nil, func(e string) string { return fmt.Sprintf(`{"signup_bonus": %d}`, bonus[e]) }},
		{"GET", "/api/admin/rewards", "", 200, nil, nil},
		{"POST", "/api/admin/rewards", app.EditRewards, 201, nil,
			func(e string) string {
				return `{"name": "free shipping for ` + e + `", "kind": "free_shipping", "points": 300}`
			}},
		{"PATCH", "/api/admin/rewards/:id", app.EditRewards, 204, func(string) string { return "/api/admin/rewards/" + id(reward.ID) }, func(string) string { return `{"active": false}` }},
		{"GET", "/api/admin/audit", app.ViewCustomers, 200, nil, nil},
		{"GET", "/api/admin/kpis", app.ViewCustomers, 200, func(string) string { return "/api/admin/kpis?bucket=week" }, nil},
		{"POST", "/api/admin/imports", app.AdjustBalance, 200, func(string) string { return "/api/admin/imports?dry_run=true" },
			func(string) string { return "customer_id,points\nc1,500\n" }},
		{"GET", "/api/admin/exports/members.csv", app.ExportCustomerData, 200, nil, nil},
		{"GET", "/api/admin/exports/ledger.csv", app.ExportCustomerData, 200, nil, nil},
		{"GET", "/api/admin/staff", app.ManageStaff, 200, nil, nil},
		{"POST", "/api/admin/staff", app.ManageStaff, 201, nil, func(e string) string {
			return `{"email": "new-` + strings.ReplaceAll(e, "@", "-at-") + `@acme.test", "name": "New", "role": "support", "password": "` + staffPassword + `"}`
		}},
		{"PATCH", "/api/admin/staff/:id", app.ManageStaff, 204, func(e string) string { return "/api/admin/staff/" + id(promote[e]) }, func(string) string { return `{"role": "admin"}` }},
		{"DELETE", "/api/admin/staff/:id", app.ManageStaff, 204, func(e string) string { return "/api/admin/staff/" + id(disable[e]) }, nil},
		{"POST", "/api/admin/notifications/:id/resend", app.ResendMessages, 201, func(string) string {
			return "/api/admin/notifications/" + id(messages[0].ID) + "/resend"
		}, nil},
		{"GET", "/api/admin/customers/:customer/data", app.ExportCustomerData, 200, func(string) string { return "/api/admin/customers/c1/data" }, nil},
	}

	t.Run("the table names every registered admin API route", func(t *testing.T) {
		want := map[string]bool{}
		for _, rt := range adminAPIRoutes(t) {
			want[rt] = true
		}
		for _, rt := range routes {
			if !want[rt.method+" "+rt.route] {
				t.Errorf("%s %s is in the table but not registered", rt.method, rt.route)
			}
			delete(want, rt.method+" "+rt.route)
		}
		for rt := range want {
			t.Errorf("%s is registered but not in the table", rt)
		}
	})

	for _, rt := range routes {
		for _, email := range roles {
			m := r.staff(t, shop, email)
			want := http.StatusForbidden
			if rt.perm == "" || m.Can(rt.perm) {
				want = rt.ok
			}
			t.Run(fmt.Sprintf("%s %s as %s is %d", rt.method, rt.route, m.Role, want), func(t *testing.T) {
				path, body := rt.route, ""
				if rt.path != nil {
					path = rt.path(email)
				}
				if rt.body != nil {
					body = rt.body(email)
				}
				header := map[string]string{"Idempotency-Key": "matrix-" + email}
				if rt.route == "/api/admin/imports" {
					header["Content-Type"] = "text/csv"
				}
				status, _, text := r.call(t, email, rt.method, path, body, header)
				if status != want {
					t.Fatalf("%d %s", status, text)
				}
				if want == http.StatusForbidden {
					if e := decode[errorBody](t, text); e.Error.Code != app.EForbidden || !strings.Contains(e.Error.Message, string(rt.perm)) {
						t.Fatalf("%s", text)
					}
				}
			})
		}
	}
	t.Run("refused requests changed nothing", func(t *testing.T) {
		// c1: 100 earned, 3 adjusted three times, owner's and support's
		// undone, approved by owner and admin (5000 each), +7 by owner and
		// support, 1 redeemed by owner and support.
		if got, want := r.balance(t, shop, "c1"), int64(100+3*3-3*2+5000*2+7*2-1*2); got != want {
			t.Fatalf("balance %d, want %d", got, want)
		}
		p, _ := r.svc.Program(ctx, shop)
		if p.SignupBonus != bonus["admin@acme.test"] {
			t.Fatalf("signup bonus %d: the last allowed PUT was admin's", p.SignupBonus)
		}
	})
}

// adminAPIRoutes lists the routes registered under /api/admin as
// "METHOD /path/:param".
func adminAPIRoutes(t *testing.T) []string {
	t.Helper()
	s := New(Deps{Registry: prometheus.NewRegistry(), Log: testenv.Logger(t), Console: &Console{}})
	var out []string
	for _, rt := range s.echo.Routes() {
		if strings.HasPrefix(rt.Path, "/api/admin/") {
			out = append(out, rt.Method+" "+rt.Path)
		}
	}
	sort.Strings(out)
	return out
}

// openAPIOperations reads the operations of openapi.yaml's paths as
// "METHOD /path/{param}". There is no YAML library among the module's
// dependencies, and the file's layout is fixed (two spaces per level), so
// the paths and their methods are read by indentation.
func openAPIOperations(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	inPaths, path := false, ""
	methods := map[string]bool{"get": true, "put": true, "post": true, "patch": true, "delete": true, "head": true, "options": true}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && methods[strings.TrimSuffix(strings.TrimSpace(line), ":")]:
			out = append(out, strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(line), ":"))+" "+path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestAdminAPIOpenAPIDescribesEveryRoute keeps openapi.yaml and the routes
// in step: every route under /api/admin is described with its method, and
// the file describes no route that does not exist.
func TestAdminAPIOpenAPIDescribesEveryRoute(t *testing.T) {
	registered := map[string]bool{}
	for _, rt := range adminAPIRoutes(t) {
		method, path, _ := strings.Cut(rt, " ")
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		registered[method+" "+strings.Join(parts, "/")] = true
	}
	documented := map[string]bool{}
	for _, op := range openAPIOperations(t) {
		documented[op] = true
	}
	if len(registered) < 20 {
		t.Fatalf("only %d admin routes registered: %v", len(registered), registered)
	}
	for op := range registered {
		if !documented[op] {
			t.Errorf("%s is registered but not in openapi.yaml", op)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("openapi.yaml describes %s, which is not registered", op)
		}
	}
	t.Run("every operation states its permission, and the errors it can answer", func(t *testing.T) {
		text, _ := os.ReadFile("../openapi.yaml")
		doc := string(text)
		if n, want := strings.Count(doc, "x-permission: "), len(registered); n < want {
			t.Errorf("%d x-permission lines for %d operations", n, want)
		}
		for _, s := range []string{"openapi: 3.1.0", "securitySchemes:", "scheme: bearer", "    Error:", `"401": { $ref: "#/components/responses/Unauthorized" }`} {
			if !strings.Contains(doc, s) {
				t.Errorf("openapi.yaml lacks %q", s)
			}
		}
	})
}

// TestAdminAPICrossShop: a token of shop B never reads or changes shop
// A's data. Everything of another shop answers 404, as if it did not
// exist, and stays as it was.
func TestAdminAPICrossShop(t *testing.T) {
	r := newAdminAPIRig(t)
	ctx := context.Background()
	shop := r.env.Shop
	owner, support := r.staff(t, shop, "owner@acme.test"), r.staff(t, shop, "support@acme.test")
	adj, err := r.svc.AdjustAsStaff(ctx, shop, owner, app.AdjustRequest{CustomerID: "c1", Points: 10, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "a"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := r.svc.AdjustAsStaff(ctx, shop, support, app.AdjustRequest{CustomerID: "c1", Points: 2000, ReasonCode: app.ReasonGoodwill, IdempotencyKey: "b"})
	if err != nil || req.Request == nil {
		t.Fatalf("%+v %v", req, err)
	}
	reward, err := r.svc.AddReward(ctx, shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: 50000, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	before := r.balance(t, shop, "c1")
	const b = "owner@other.test"
	for _, c := range []struct{ name, method, path, body string }{
		{"reading shop A's customer", "GET", "/api/admin/customers/c1", ""},
		{"adjusting shop A's customer", "POST", "/api/admin/customers/c1/adjustments", `{"points": 5, "reason_code": "goodwill"}`},
		{"undoing shop A's entry", "POST", fmt.Sprintf("/api/admin/entries/%d/undo", adj.Entry.ID), ""},
		{"approving shop A's request", "POST", fmt.Sprintf("/api/admin/approvals/%d/approve", req.Request.ID), ""},
		{"rejecting shop A's request", "POST", fmt.Sprintf("/api/admin/approvals/%d/reject", req.Request.ID), `{"note": "no"}`},
		{"withdrawing shop A's reward", "PATCH", fmt.Sprintf("/api/admin/rewards/%d", reward.ID), `{"active": false}`},
		{"redeeming for shop A's customer", "POST", "/api/admin/customers/c1/redemptions", fmt.Sprintf(`{"reward_id": %d}`, reward.ID)},
		{"reading shop A's customer's redemptions", "GET", "/api/admin/customers/c1/redemptions", ""},
		{"changing shop A's staff", "PATCH", fmt.Sprintf("/api/admin/staff/%d", support.ID), `{"role": "owner"}`},
		{"disabling shop A's staff", "DELETE", fmt.Sprintf("/api/admin/staff/%d", support.ID), ""},
	} {
		t.Run(c.name+" is 404", func(t *testing.T) {
			status, _, body := r.call(t, b, c.method, c.path, c.body, map[string]string{"Idempotency-Key": "x"})
			if e := decode[errorBody](t, body); status != http.StatusNotFound || e.Error.Code != app.ENotFound {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	t.Run("shop A's data is as it was", func(t *testing.T) {
		if got := r.balance(t, shop, "c1"); got != before {
			t.Fatalf("balance %d, was %d", got, before)
		}
		reqs, _ := r.svc.AdjustmentRequests(ctx, shop, app.RequestPending, 10)
		rewards, _ := r.svc.Rewards(ctx, shop)
		m := r.staff(t, shop, "support@acme.test")
		if len(reqs) != 1 || !rewards[0].Active || m.Role != app.RoleSupport || !m.DisabledAt.IsZero() {
			t.Fatalf("requests %+v, rewards %+v, staff %+v", reqs, rewards, m)
		}
	})
	t.Run("lists show only the token's shop", func(t *testing.T) {
		for _, path := range []string{"/api/admin/customers", "/api/admin/customers?q=c1", "/api/admin/approvals", "/api/admin/rewards",
			"/api/admin/audit", "/api/admin/staff", "/api/admin/exports/members.csv", "/api/admin/exports/ledger.csv"} {
			status, _, body := r.call(t, b, "GET", path, "", nil)
			if status != http.StatusOK || strings.Contains(body, "c1@shoppers.test") || strings.Contains(body, "acme.test") ||
				strings.Contains(body, "5.00 off") || strings.Contains(body, `"c1"`) {
				t.Errorf("%s: %d %s", path, status, body)
			}
		}
		_, _, body := r.call(t, b, "GET", "/api/admin/customers", "", nil)
		page := decode[struct{ Data []apiCustomer }](t, body)
		if len(page.Data) != 1 || page.Data[0].ID != "b1" {
			t.Fatalf("%s", body)
		}
	})
}

// TestAdminAPIPagination: following next_cursor from the first page visits
// every item once, pages hold limit items, and the last page says null.
// TestAdminAPIRedeem: staff redeem a reward for a shopper through the
// admin API as the embedded admin does, once per Idempotency-Key.
func TestAdminAPIRedeem(t *testing.T) {
	r := newAdminAPIRig(t) // c1 holds 100 points
	ctx := context.Background()
	shop := r.env.Shop
	reward, err := r.svc.AddReward(ctx, shop, app.Reward{Name: "0.40 off", Kind: app.RewardFixed, Points: 40, Amount: app.MustAmount("0.40"), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"reward_id": %d}`, reward.ID)
	const owner, support = "owner@acme.test", "support@acme.test"
	status, _, text := r.call(t, owner, "POST", "/api/admin/customers/c1/redemptions", body, map[string]string{"Idempotency-Key": "k1"})
	first := decode[redemptionJSON](t, text)
	if status != http.StatusCreated || first.Status != "pending" || first.Points != 40 || first.Code == "" || !strings.Contains(first.RedeemedBy, owner) {
		t.Fatalf("%d %s", status, text)
	}
	t.Run("a retry with the same key redeems once", func(t *testing.T) {
		status, _, text := r.call(t, owner, "POST", "/api/admin/customers/c1/redemptions", body, map[string]string{"Idempotency-Key": "k1"})
		if again := decode[redemptionJSON](t, text); status != http.StatusCreated || again.ID != first.ID {
			t.Fatalf("%d %s", status, text)
		}
		if got := r.balance(t, shop, "c1"); got != 60 {
			t.Fatalf("balance %d, want 60", got)
		}
	})
	t.Run("a colleague's same key is a redemption of its own", func(t *testing.T) {
		status, _, text := r.call(t, support, "POST", "/api/admin/customers/c1/redemptions", body, map[string]string{"Idempotency-Key": "k1"})
		if other := decode[redemptionJSON](t, text); status != http.StatusCreated || other.ID == first.ID {
			t.Fatalf("%d %s", status, text)
		}
	})
	t.Run("points that do not cover the reward are refused", func(t *testing.T) {
		status, _, text := r.call(t, owner, "POST", "/api/admin/customers/c1/redemptions", body, map[string]string{"Idempotency-Key": "k2"})
		if e := decode[errorBody](t, text); status != http.StatusUnprocessableEntity || e.Error.Code != app.EInsufficientPoint {
			t.Fatalf("%d %s", status, text)
		}
	})
	t.Run("a request without a key is refused", func(t *testing.T) {
		if status, _, text := r.call(t, owner, "POST", "/api/admin/customers/c1/redemptions", body, nil); status != http.StatusUnprocessableEntity {
			t.Fatalf("%d %s", status, text)
		}
	})
	t.Run("the customer's redemptions are listed newest first", func(t *testing.T) {
		status, _, text := r.call(t, support, "GET", "/api/admin/customers/c1/redemptions", "", nil)
		page := decode[struct {
			Data []redemptionJSON `json:"data"`
		}](t, text)
		if status != http.StatusOK || len(page.Data) != 2 || page.Data[1].ID != first.ID {
			t.Fatalf("%d %s", status, text)
		}
	})
	t.Run("an unknown customer is 404", func(t *testing.T) {
		if status, _, text := r.call(t, owner, "GET", "/api/admin/customers/nobody/redemptions", "", nil); status != http.StatusNotFound {
			t.Fatalf("%d %s", status, text)
		}
	})
}

func TestAdminAPIPagination(t *testing.T) {
	r := newAdminAPIRig(t)
	for i := 2; i <= 23; i++ {
		r.customer(t, r.env.Shop, fmt.Sprintf("c%d", i), "10.00")
	}
	type page struct {
		Data       []apiCustomer `json:"data"`
		NextCursor *string       `json:"next_cursor"`
	}
	t.Run("customers come in pages of limit, newest first, each once", func(t *testing.T) {
		seen := map[string]bool{}
		var order []string
		path := "/api/admin/customers?limit=5"
		pages := 0
		for {
			status, _, body := r.call(t, "support@acme.test", "GET", path, "", nil)
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			p := decode[page](t, body)
			pages++
			if p.NextCursor != nil && len(p.Data) != 5 {
				t.Fatalf("page %d holds %d", pages, len(p.Data))
			}
			for _, cu := range p.Data {
				if seen[cu.ID] {
					t.Fatalf("%s twice", cu.ID)
				}
				seen[cu.ID] = true
				order = append(order, cu.ID)
			}
			if p.NextCursor == nil {
				break
			}
			path = "/api/admin/customers?limit=5&cursor=" + *p.NextCursor
		}
		if len(seen) != 23 || pages != 5 || order[0] != "c23" || order[22] != "c1" {
			t.Fatalf("%d customers in %d pages: %v", len(seen), pages, order)
		}
	})
	t.Run("the last page's next_cursor is null, not missing", func(t *testing.T) {
		_, _, body := r.call(t, "support@acme.test", "GET", "/api/admin/customers?q=c17", "", nil)
		if !strings.Contains(body, `"next_cursor":null`) || decode[page](t, body).Data[0].ID != "c17" {
			t.Fatalf("%s", body)
		}
	})
	t.Run("the audit log pages the same way", func(t *testing.T) {
		seen := map[int64]bool{}
		path := "/api/admin/audit?limit=2"
		for n := 0; ; n++ {
			_, _, body := r.call(t, "admin@acme.test", "GET", path, "", nil)
			p := decode[struct {
				Data       []apiAuditEntry `json:"data"`
				NextCursor *string         `json:"next_cursor"`
			}](t, body)
			for _, e := range p.Data {
				if seen[e.ID] {
					t.Fatalf("audit line %d twice", e.ID)
				}
				seen[e.ID] = true
			}
			if p.NextCursor == nil {
				break
			}
			path = "/api/admin/audit?limit=2&cursor=" + *p.NextCursor
		}
		all, _ := r.svc.AuditTrail(context.Background(), r.env.Shop, app.AuditQuery{Limit: 100})
		if len(seen) != len(all.Entries) || len(seen) < 4 {
			t.Fatalf("paged %d lines of %d", len(seen), len(all.Entries))
		}
	})
	for _, q := range []string{"limit=0", "limit=101", "limit=ten", "cursor=abc", "cursor=-4"} {
		t.Run(q+" is refused with 422", func(t *testing.T) {
			status, _, body := r.call(t, "support@acme.test", "GET", "/api/admin/customers?"+q, "", nil)
			if status != http.StatusUnprocessableEntity || decode[errorBody](t, body).Error.Code != app.EInvalid {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
}

// TestAdminAPIErrorFormat: every error, whoever decides it (the token
// check, a role, the app's rules, the router), is JSON of one shape:
// {"error": {"code", "message"}} and nothing else.
func TestAdminAPIErrorFormat(t *testing.T) {
	r := newAdminAPIRig(t)
	for _, c := range []struct {
		name, email, method, path, body string
		header                          map[string]string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", "/api/admin/customers", "", nil, 401, "Unauthorized"},
		{"a role without the permission", "support@acme.test", "PUT", "/api/admin/program", `{"signup_bonus": 5}`, nil, 403, app.EForbidden},
		{"an unknown customer", "support@acme.test", "GET", "/api/admin/customers/nobody", "", nil, 404, app.ENotFound},
		{"an id that is not a number", "owner@acme.test", "POST", "/api/admin/entries/abc/undo", "", nil, 404, app.ENotFound},
		{"an adjustment without Idempotency-Key", "support@acme.test", "POST", "/api/admin/customers/c1/adjustments", `{"points": 5, "reason_code": "goodwill"}`, nil, 422, app.EInvalid},
		{"a body that is not JSON", "support@acme.test", "POST", "/api/admin/customers/c1/adjustments", `points=5`, map[string]string{"Idempotency-Key": "k"}, 422, app.EInvalid},
		{"an unknown field", "owner@acme.test", "PUT", "/api/admin/program", `{"earn_rat": "2"}`, nil, 422, app.EInvalid},
		{"a rule of the program", "owner@acme.test", "PUT", "/api/admin/program", `{"pending_days": 400}`, nil, 422, app.EInvalid},
		{"removing more points than there are", "support@acme.test", "POST", "/api/admin/customers/c1/adjustments", `{"points": -500, "reason_code": "correction"}`,
			map[string]string{"Idempotency-Key": "too-many"}, 422, app.EInsufficientPoint},
		{"a bad period", "owner@acme.test", "GET", "/api/admin/kpis?from=yesterday", "", nil, 422, app.EInvalid},
		{"an unknown bucket", "owner@acme.test", "GET", "/api/admin/kpis?bucket=year", "", nil, 422, app.EInvalid},
		{"an unknown status", "owner@acme.test", "GET", "/api/admin/approvals?status=maybe", "", nil, 422, app.EInvalid},
		{"an unknown route", "owner@acme.test", "GET", "/api/admin/nothing-here", "", nil, 404, "Not Found"},
	} {
		t.Run(c.name+" is "+strconv.Itoa(c.status)+" "+c.code, func(t *testing.T) {
			status, header, body := r.call(t, c.email, c.method, c.path, c.body, c.header)
			if status != c.status || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s %s", status, header.Get("Content-Type"), body)
			}
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			var e errorBody
			if err := dec.Decode(&e); err != nil || e.Error.Code != c.code || e.Error.Message == "" {
				t.Fatalf("%v: %s", err, body)
			}
		})
	}
}

// TestAdminAPIIdempotency: an adjustment retried with the same
// Idempotency-Key moves points once and answers as the first time.
func TestAdminAPIIdempotency(t *testing.T) {
	r := newAdminAPIRig(t)
	adjust := func(email, key, body string) (int, string) {
		t.Helper()
		status, _, text := r.call(t, email, "POST", "/api/admin/customers/c1/adjustments", body, map[string]string{"Idempotency-Key": key})
		return status, text
	}
	const add = `{"points": 25, "reason_code": "service_recovery", "note": "parcel late"}`
	t.Run("a retry returns the same entry and moves no more points", func(t *testing.T) {
		s1, first := adjust("support@acme.test", "key-1", add)
		s2, second := adjust("support@acme.test", "key-1", add)
		if s1 != http.StatusCreated || s2 != http.StatusCreated || first != second {
			t.Fatalf("%d %s\n%d %s", s1, first, s2, second)
		}
		e := decode[apiEntry](t, first)
		if e.Points != 25 || e.BalanceAfter != 125 || e.ReasonCode != "service_recovery" || e.Reason != "Service recovery (late, damaged or wrong item): parcel late" ||
			e.Staff != "Name of support@acme.test <support@acme.test>" || r.balance(t, r.env.Shop, "c1") != 125 {
			t.Fatalf("%+v, balance %d", e, r.balance(t, r.env.Shop, "c1"))
		}
	})
	t.Run("the same key for a different adjustment is 409", func(t *testing.T) {
		status, body := adjust("support@acme.test", "key-1", `{"points": 26, "reason_code": "service_recovery"}`)
		if status != http.StatusConflict || decode[errorBody](t, body).Error.Code != app.EConflict || r.balance(t, r.env.Shop, "c1") != 125 {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("another staff member's same key is their own adjustment", func(t *testing.T) {
		status, body := adjust("owner@acme.test", "key-1", add)
		if status != http.StatusCreated || r.balance(t, r.env.Shop, "c1") != 150 {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("above the limit a retry returns the same request, 202 both times", func(t *testing.T) {
		big := `{"points": 1500, "reason_code": "goodwill"}`
		s1, first := adjust("support@acme.test", "key-big", big)
		s2, second := adjust("support@acme.test", "key-big", big)
		req := decode[apiAdjustmentRequest](t, first)
		pending, _ := r.svc.AdjustmentRequests(context.Background(), r.env.Shop, app.RequestPending, 10)
		if s1 != http.StatusAccepted || s2 != http.StatusAccepted || first != second || req.Status != "pending" || req.CustomerID != "c1" ||
			req.EntryID != nil || len(pending) != 1 || r.balance(t, r.env.Shop, "c1") != 150 {
			t.Fatalf("%d %s\n%d %s\n%+v", s1, first, s2, second, pending)
		}
		t.Run("and once approved it is posted once", func(t *testing.T) {
			status, _, body := r.call(t, "admin@acme.test", "POST", fmt.Sprintf("/api/admin/approvals/%d/approve", req.ID), `{"note": "ok"}`, nil)
			if status != http.StatusOK || decode[apiAdjustmentRequest](t, body).EntryID == nil || r.balance(t, r.env.Shop, "c1") != 1650 {
				t.Fatalf("%d %s", status, body)
			}
			status, _, body = r.call(t, "admin@acme.test", "POST", fmt.Sprintf("/api/admin/approvals/%d/approve", req.ID), "", nil)
			if status != http.StatusConflict || r.balance(t, r.env.Shop, "c1") != 1650 {
				t.Fatalf("decided twice: %d %s", status, body)
			}
		})
	})
	t.Run("an undo retried is the same undo; undoing it again is 409", func(t *testing.T) {
		_, body := adjust("support@acme.test", "key-undo", `{"points": 40, "reason_code": "correction"}`)
		e := decode[apiEntry](t, body)
		path := fmt.Sprintf("/api/admin/entries/%d/undo", e.ID)
		s1, _, first := r.call(t, "support@acme.test", "POST", path, `{"note": "wrong customer"}`, nil)
		u := decode[apiEntry](t, first)
		if s1 != http.StatusCreated || u.Points != -40 || u.Undoes == nil || *u.Undoes != e.ID || u.ReasonCode != "undo" || r.balance(t, r.env.Shop, "c1") != 1650 {
			t.Fatalf("%d %s", s1, first)
		}
		if s2, _, second := r.call(t, "owner@acme.test", "POST", path, "", nil); s2 != http.StatusConflict || r.balance(t, r.env.Shop, "c1") != 1650 {
			t.Fatalf("%d %s", s2, second)
		}
		_, _, file := r.call(t, "support@acme.test", "GET", "/api/admin/customers/c1", "", nil)
		for _, en := range decode[apiCustomerFile](t, file).Entries {
			if en.ID == e.ID && (en.UndoneBy == nil || *en.UndoneBy != u.ID) {
				t.Fatalf("the file does not show the undo: %+v", en)
			}
		}
	})
}

// TestAdminAPIShapes pins the JSON names integrations read: snake_case,
// every field present (null when it does not apply), lists never null.
func TestAdminAPIShapes(t *testing.T) {
	r := newAdminAPIRig(t)
	keys := func(t *testing.T, body string, path ...string) []string {
		t.Helper()
		var v any = decode[map[string]any](t, body)
		for _, p := range path {
			switch x := v.(type) {
			case map[string]any:
				v = x[p]
			case []any:
				i, _ := strconv.Atoi(p)
				v = x[i]
			}
		}
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	r.call(t, "support@acme.test", "POST", "/api/admin/customers/c1/adjustments", `{"points": 5, "reason_code": "goodwill"}`, map[string]string{"Idempotency-Key": "shape"})
	_, _, file := r.call(t, "support@acme.test", "GET", "/api/admin/customers/c1", "", nil)
	for _, c := range []struct {
		name string
		path []string
		want string
	}{
		{"the customer file", nil, "customer entries last_activity_at lots notifications orders redemptions requests"},
		{"a customer", []string{"customer"}, "balance birthday created_at email first_name id last_name locale pending updated_at"},
		{"an entry", []string{"entries", "0"}, "balance_after created_at id job kind order_id pending_after points reason reason_code reason_label refund_id staff undoes undone_by unrecovered"},
		{"an order", []string{"orders", "0"}, "cancelled_at created_at currency eligible id name paid_at points_earned points_reversed refunded status"},
		{"a lot", []string{"lots", "0"}, "available_at earned_at expires_at id points remaining"},
	} {
		t.Run(c.name+" has exactly its documented fields", func(t *testing.T) {
			if got := strings.Join(keys(t, file, c.path...), " "); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	t.Run("lists are [] when empty, never null", func(t *testing.T) {
		if !strings.Contains(file, `"redemptions":[]`) || !strings.Contains(file, `"requests":[]`) || !strings.Contains(file, `"notifications":[]`) {
			t.Fatalf("%s", file)
		}
	})
	t.Run("the program round-trips through PUT unchanged", func(t *testing.T) {
		_, _, got := r.call(t, "owner@acme.test", "GET", "/api/admin/program", "", nil)
		status, _, put := r.call(t, "owner@acme.test", "PUT", "/api/admin/program", got, nil)
		if status != http.StatusOK || put != got || !strings.Contains(got, `"adjust_limits":{"support":1000}`) || !strings.Contains(got, `"earn_rate":"1"`) {
			t.Fatalf("%d\n%s\n%s", status, got, put)
		}
	})
	t.Run("a program change is audited field by field with who made it", func(t *testing.T) {
		status, _, body := r.call(t, "admin@acme.test", "PUT", "/api/admin/program", `{"earn_rate": "2.5", "adjust_limits": {"support": 50}, "messages": {"welcome": false}}`, nil)
		p := decode[apiProgram](t, body)
		if status != http.StatusOK || p.EarnRate != "2.5" || p.AdjustLimits["support"] != 50 || p.Messages.Welcome || !p.Messages.Earned {
			t.Fatalf("%d %s", status, body)
		}
		page, _ := r.svc.AuditTrail(context.Background(), r.env.Shop, app.AuditQuery{Action: "change program", Limit: 1})
		if len(page.Entries) != 1 || page.Entries[0].Actor != "Name of admin@acme.test <admin@acme.test>" ||
			page.Entries[0].Detail != "adjust_limits.support 1000 → 50; earn_rate 1 → 2.5; messages.welcome true → false" {
			t.Fatalf("%+v", page.Entries)
		}
	})
	t.Run("an export is a CSV download", func(t *testing.T) {
		status, header, body := r.call(t, "support@acme.test", "GET", "/api/admin/exports/members.csv", "", nil)
		if status != http.StatusOK || header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.HasPrefix(header.Get("Content-Disposition"), `attachment; filename="members-acme.myshopify.com-`) ||
			!strings.HasPrefix(body, "customer_id,email,") || !strings.Contains(body, "c1,c1@shoppers.test") {
			t.Fatalf("%d %v %s", status, header, body)
		}
	})
	t.Run("an import's dry run changes nothing; the import does, once", func(t *testing.T) {
		csv := "customer_id,points\nc1,900\nc1,,\n"
		before := r.balance(t, r.env.Shop, "c1")
		status, _, body := r.call(t, "owner@acme.test", "POST", "/api/admin/imports?dry_run=true", csv, map[string]string{"Content-Type": "text/csv"})
		rep := decode[apiImportReport](t, body)
		if status != http.StatusOK || !rep.DryRun || len(rep.Rows) != 2 || rep.Rows[0].Delta != 900 || rep.Rows[1].Outcome != "invalid" || r.balance(t, r.env.Shop, "c1") != before {
			t.Fatalf("%d %s", status, body)
		}
		for i := 0; i < 2; i++ {
			status, _, body = r.call(t, "owner@acme.test", "POST", "/api/admin/imports", csv, map[string]string{"Content-Type": "text/csv"})
			if status != http.StatusOK || decode[apiImportReport](t, body).DryRun {
				t.Fatalf("%d %s", status, body)
			}
		}
		if got := r.balance(t, r.env.Shop, "c1"); got != before+900 {
			t.Fatalf("balance %d after importing 900 twice onto %d", got, before)
		}
	})
}

// TestAdminAPIEmbedded: the embedded Shopify admin reaches the same
// handlers with a session token, as the shop's owner, and only its shop.
func TestAdminAPIEmbedded(t *testing.T) {
	r := newAdminAPIRig(t)
	fake := shopifyfake.New("embedded-key", testenv.ShopifySecret)
	s := New(Deps{Service: r.svc, Registry: prometheus.NewRegistry(), Log: r.env.Log, Console: &Console{},
		Shopify: &ShopifyAuth{APIKey: "embedded-key", APISecret: testenv.ShopifySecret, Now: func() time.Time { return r.now }}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call := func(user, method, path, body, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/embedded/api"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fake.SessionToken(testenv.ShopDomain, user, r.now))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, text := do(t, http.DefaultClient, req)
		return resp.StatusCode, text
	}
	t.Run("the customer file and search answer as in the admin API", func(t *testing.T) {
		if status, body := call("42", "GET", "/customers/c1", "", ""); status != http.StatusOK || decode[apiCustomerFile](t, body).Customer.ID != "c1" {
			t.Fatalf("%d %s", status, body)
		}
		if status, body := call("42", "GET", "/customers/b1", "", ""); status != http.StatusNotFound {
			t.Fatalf("shop B's customer: %d %s", status, body)
		}
	})
	t.Run("two Shopify users' equal keys are two adjustments; a retry is one", func(t *testing.T) {
		before := r.balance(t, r.env.Shop, "c1")
		for _, user := range []string{"42", "42", "43"} {
			if status, body := call(user, "POST", "/customers/c1/adjustments", `{"points": 2000, "reason_code": "goodwill"}`, "k"); status != http.StatusCreated ||
				decode[apiEntry](t, body).Staff != "Shopify user "+user+" <shopify user "+user+">" {
				t.Fatalf("%d %s", status, body)
			}
		}
		if got := r.balance(t, r.env.Shop, "c1"); got != before+4000 {
			t.Fatalf("balance %d, want %d", got, before+4000)
		}
	})
}

// TestWooCommerceEarnStatusesSettings: a WooCommerce merchant chooses the
// order statuses that earn in the console and through the API, as a
// program change: only with edit_program, checked by the store's adapter,
// saved, and audited.
func TestWooCommerceEarnStatusesSettings(t *testing.T) {
	r := newAdminAPIRig(t)
	ctx := context.Background()
	const domain = "sklep.example.pl"
	woo, _, err := r.svc.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: domain, Currency: "PLN"},
		app.Connection{URL: "https://" + domain, WebhookKey: "wc_0123456789abcdef"}, app.Credentials{WebhookSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for email, role := range map[string]app.Role{"owner@sklep.test": app.RoleOwner, "support@sklep.test": app.RoleSupport} {
		m, err := r.svc.AddStaff(ctx, woo, "test", email, "Staff", role, staffPassword)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := r.svc.CreateAPIToken(ctx, woo, m, "api test")
		if err != nil {
			t.Fatal(err)
		}
		r.tokens[email] = secret
	}
	statuses := func(t *testing.T) string {
		t.Helper()
		conn, err := r.svc.Connection(ctx, woo)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(conn.EarnStatuses, ",")
	}

	t.Run("console: the program page shows the statuses, and a change is saved and audited", func(t *testing.T) {
		b, csrf := r.signedInAt(t, domain, "owner@sklep.test")
		_, page := r.get(t, b, "/console/program", nil)
		if !hasValue(page, "earn_statuses", "processing, completed") {
			t.Fatalf("no earning statuses field with the default:\n%s", page)
		}
		resp, body := r.post(t, b, "/console/program/earn-statuses", url.Values{"csrf": {csrf}, "earn_statuses": {"wc-Completed, shipped"}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if got := statuses(t); got != "completed,shipped" {
			t.Fatalf("statuses = %q", got)
		}
		log, _ := r.svc.AuditTrail(ctx, woo, app.AuditQuery{Action: "change earning statuses", Limit: 5})
		if len(log.Entries) != 1 || !strings.Contains(log.Entries[0].Actor, "owner@sklep.test") {
			t.Fatalf("audit = %+v", log.Entries)
		}
	})
	t.Run("console: an unpaid status is refused with the reason, the typed value kept and nothing saved", func(t *testing.T) {
		b, csrf := r.signedInAt(t, domain, "owner@sklep.test")
		resp, page := r.post(t, b, "/console/program/earn-statuses", url.Values{"csrf": {csrf}, "earn_statuses": {"completed, cancelled"}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
		if !strings.Contains(page, "is not paid") || !hasValue(page, "earn_statuses", "completed, cancelled") {
			t.Fatalf("the page does not say why, or lost what was typed:\n%s", page)
		}
		if got := statuses(t); got != "completed,shipped" {
			t.Fatalf("statuses = %q after a refused change", got)
		}
	})
	t.Run("console: support cannot change them", func(t *testing.T) {
		b, csrf := r.signedInAt(t, domain, "support@sklep.test")
		if resp, body := r.post(t, b, "/console/program/earn-statuses", url.Values{"csrf": {csrf}, "earn_statuses": {"processing"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("console: a Shopify shop has no such setting", func(t *testing.T) {
		b, csrf := r.signedIn(t, "owner@acme.test")
		if _, page := r.get(t, b, "/console/program", nil); strings.Contains(page, `name="earn_statuses"`) {
			t.Fatal("the Shopify program page offers earning statuses")
		}
		if resp, _ := r.post(t, b, "/console/program/earn-statuses", url.Values{"csrf": {csrf}, "earn_statuses": {"processing"}}, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})

	t.Run("API: the program shows earn_statuses, and a PUT changes them", func(t *testing.T) {
		status, _, body := r.call(t, "owner@sklep.test", "GET", "/api/admin/program", "", nil)
		if got := decode[apiProgram](t, body).EarnStatuses; status != 200 || strings.Join(got, ",") != "completed,shipped" {
			t.Fatalf("%d %s", status, body)
		}
		status, _, body = r.call(t, "owner@sklep.test", "PUT", "/api/admin/program", `{"earn_statuses": ["processing", "wc-completed"], "signup_bonus": 25}`, nil)
		if got := decode[apiProgram](t, body); status != 200 || strings.Join(got.EarnStatuses, ",") != "processing,completed" || got.SignupBonus != 25 {
			t.Fatalf("%d %s", status, body)
		}
		if got := statuses(t); got != "processing,completed" {
			t.Fatalf("statuses = %q", got)
		}
	})
	t.Run("API: a bad status is 422 and nothing in the body is saved", func(t *testing.T) {
		status, _, body := r.call(t, "owner@sklep.test", "PUT", "/api/admin/program", `{"earn_statuses": ["refunded"], "signup_bonus": 99}`, nil)
		if e := decode[errorBody](t, body); status != http.StatusUnprocessableEntity || e.Error.Code != app.EInvalid || !strings.Contains(e.Error.Message, "earn_statuses") {
			t.Fatalf("%d %s", status, body)
		}
		p, _ := r.svc.Program(ctx, woo)
		if got := statuses(t); got != "processing,completed" || p.SignupBonus != 25 {
			t.Fatalf("statuses %q, signup bonus %d after a refused PUT", got, p.SignupBonus)
		}
	})
	t.Run("API: support may read but not change them", func(t *testing.T) {
		if status, _, body := r.call(t, "support@sklep.test", "PUT", "/api/admin/program", `{"earn_statuses": ["completed"]}`, nil); status != http.StatusForbidden {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("API: a Shopify shop shows none and refuses them", func(t *testing.T) {
		_, _, body := r.call(t, "owner@acme.test", "GET", "/api/admin/program", "", nil)
		if strings.Contains(body, "earn_statuses") {
			t.Fatalf("%s", body)
		}
		status, _, body := r.call(t, "owner@acme.test", "PUT", "/api/admin/program", `{"earn_statuses": ["completed"]}`, nil)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("%d %s", status, body)
		}
	})
}
