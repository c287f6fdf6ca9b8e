package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"encoding/json"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
	"loyalty/internal/password"
	"loyalty/internal/testenv"
)

const staffPassword = "correct horse battery"

// consoleRig is the app with the console on, three staff members of shop
// A (one per role), an owner of shop B, and a clock the test moves.
type consoleRig struct {
	env   *testenv.Env
	svc   *app.Service
	srv   *httptest.Server
	now   time.Time
	shopB app.Shop
}

func newConsoleRig(t *testing.T, secure bool) *consoleRig {
	t.Helper()
	env := testenv.New(t, nil)
	r := &consoleRig{env: env, now: time.Now().UTC().Truncate(time.Second)}
	r.svc = app.NewService(env.Store, func() time.Time { return r.now }).WithPasswordHasher(password.Bcrypt{Cost: bcrypt.MinCost})
	ctx := context.Background()
	var err error
	r.shopB, err = r.svc.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: "other.myshopify.com", Currency: "EUR"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		shop  app.Shop
		email string
		role  app.Role
	}{
		{env.Shop, "Owner@Acme.test", app.RoleOwner},
		{env.Shop, "admin@acme.test", app.RoleAdmin},
		{env.Shop, "support@acme.test", app.RoleSupport},
		{r.shopB, "owner@other.test", app.RoleOwner},
	} {
		if _, err := r.svc.AddStaff(ctx, s.shop, "test", s.email, "Name of "+s.email, s.role, staffPassword); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Deps{Service: r.svc, Registry: prometheus.NewRegistry(), Log: env.Log, Console: &Console{Secure: secure}})
	// A bare action that needs EditProgram and does nothing, so the tests
	// of the middleware (session, CSRF, roles) depend on no page's form.
	s.echo.POST("/console/test/program", func(c echo.Context) error {
		_, shop := staffOf(c)
		return c.String(http.StatusOK, "program of "+shop.Domain)
	}, s.requireStaff(app.EditProgram))
	r.srv = httptest.NewServer(s.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

// browser is a client with cookies that does not follow redirects.
func (r *consoleRig) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (r *consoleRig) post(t *testing.T, b *http.Client, path string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, b, req)
}

func (r *consoleRig) get(t *testing.T, b *http.Client, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, b, req)
}

func do(t *testing.T, b *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (r *consoleRig) signIn(t *testing.T, b *http.Client, shop, email, pw string) (*http.Response, string) {
	t.Helper()
	return r.post(t, b, "/console/login", url.Values{"shop": {shop}, "email": {email}, "password": {pw}}, nil)
}

// signedIn returns a browser signed in as email and its CSRF token.
func (r *consoleRig) signedIn(t *testing.T, email string) (*http.Client, string) {
	t.Helper()
	b := r.browser()
	if resp, body := r.signIn(t, b, testenv.ShopDomain, email, staffPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d %s", email, resp.StatusCode, body)
	}
	_, page := r.get(t, b, "/console/", nil)
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no csrf token on the console page:\n%s", page)
	}
	rest := page[i+len(`name="csrf" value="`):]
	return b, rest[:strings.Index(rest, `"`)]
}

func TestConsoleSignIn(t *testing.T) {
	r := newConsoleRig(t, false)
	t.Run("the right password signs in and the console says who and where", func(t *testing.T) {
		b := r.browser()
		resp, _ := r.signIn(t, b, "ACME.myshopify.com", "owner@acme.test", staffPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, page := r.get(t, b, "/console/", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Dashboard</h1>") || !strings.Contains(page, "acme.myshopify.com") ||
			!strings.Contains(page, "Name of Owner@Acme.test · owner") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
	const generic = "The email or password is wrong."
	for _, c := range []struct{ name, shop, email, pw string }{
		{"a wrong password", testenv.ShopDomain, "admin@acme.test", "not the password"},
		{"an unknown email", testenv.ShopDomain, "nobody@acme.test", staffPassword},
		{"another shop's staff", testenv.ShopDomain, "owner@other.test", staffPassword},
		{"an unknown shop", "nope.myshopify.com", "admin@acme.test", staffPassword},
	} {
		t.Run(c.name+" gets the one generic answer and no cookie", func(t *testing.T) {
			resp, page := r.signIn(t, r.browser(), c.shop, c.email, c.pw)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, generic) || len(resp.Cookies()) != 0 {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Cookies(), page)
			}
		})
	}
	t.Run("without a session the console sends to the sign-in page", func(t *testing.T) {
		resp, _ := r.get(t, r.browser(), "/console/", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("sign-ins are in the audit log with the email", func(t *testing.T) {
		log, err := r.svc.AuditLog(context.Background(), testenv.ShopDomain, 50)
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused bool
		for _, e := range log {
			ok = ok || (e.Action == "staff sign-in" && e.Actor == "owner@acme.test" && e.Outcome == app.AuditOK)
			refused = refused || (e.Action == "staff sign-in" && e.Actor == "admin@acme.test" && e.Outcome == app.AuditRefused)
		}
		if !ok || !refused {
			t.Fatalf("audit log: %+v", log)
		}
	})
}

func TestConsoleLockout(t *testing.T) {
	r := newConsoleRig(t, false)
	b := r.browser()
	for i := 1; i <= app.MaxFailedLogins; i++ {
		resp, page := r.signIn(t, b, testenv.ShopDomain, "support@acme.test", "wrong password "+string(rune('0'+i)))
		want := http.StatusUnauthorized
		if i == app.MaxFailedLogins {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, page)
		}
	}
	t.Run("a locked account refuses even the right password", func(t *testing.T) {
		resp, page := r.signIn(t, b, testenv.ShopDomain, "support@acme.test", staffPassword)
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "locked for 15 minutes") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
	t.Run("other staff are not locked", func(t *testing.T) {
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "admin@acme.test", staffPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("after 15 minutes the right password works again", func(t *testing.T) {
		r.now = r.now.Add(app.LockoutPeriod + time.Second)
		if resp, page := r.signIn(t, b, testenv.ShopDomain, "support@acme.test", staffPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
}

func TestConsoleSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		r := newConsoleRig(t, secure)
		resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "owner@acme.test", staffPassword)
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == SessionCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/console" || ck.Secure != secure || len(ck.Value) < 40 {
			t.Fatalf("secure=%v: cookie %+v", secure, ck)
		}
		t.Run("the cookie holds the token, the database only its hash", func(t *testing.T) {
			var n int
			r.env.Store.SQL().QueryRow(`SELECT count(*) FROM staff_sessions WHERE id = $1`, ck.Value).Scan(&n)
			var m int
			r.env.Store.SQL().QueryRow(`SELECT count(*) FROM staff_sessions WHERE id = $1`, app.HashToken(ck.Value)).Scan(&m)
			if n != 0 || m != 1 {
				t.Fatalf("by token %d, by hash %d", n, m)
			}
		})
	}
	t.Run("a session idle for 12 hours has ended; use keeps it alive", func(t *testing.T) {
		r := newConsoleRig(t, false)
		b, _ := r.signedIn(t, "owner@acme.test")
		r.now = r.now.Add(app.SessionIdle - time.Minute)
		if resp, _ := r.get(t, b, "/console/", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before expiry: %d", resp.StatusCode)
		}
		r.now = r.now.Add(app.SessionIdle - time.Minute)
		if resp, _ := r.get(t, b, "/console/", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("slid: %d", resp.StatusCode)
		}
		r.now = r.now.Add(app.SessionIdle + time.Minute)
		if resp, _ := r.get(t, b, "/console/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after 12 idle hours: %d", resp.StatusCode)
		}
		r.signedIn(t, "owner@acme.test")
		var n int
		r.env.Store.SQL().QueryRow(`SELECT count(*) FROM staff_sessions`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d sessions kept, want only the live one", n)
		}
	})
}

func TestConsoleCSRFAndLogout(t *testing.T) {
	r := newConsoleRig(t, false)
	b, csrf := r.signedIn(t, "owner@acme.test")
	t.Run("a post without the CSRF token is refused", func(t *testing.T) {
		if resp, _ := r.post(t, b, "/console/logout", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
		if resp, _ := r.post(t, b, "/console/test/program", url.Values{"csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("the token works as a form field or a header", func(t *testing.T) {
		if resp, body := r.post(t, b, "/console/test/program", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusOK || body != "program of "+testenv.ShopDomain {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, _ := r.post(t, b, "/console/test/program", nil, map[string]string{CSRFHeader: csrf}); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("another session's token is refused", func(t *testing.T) {
		_, other := r.signedIn(t, "admin@acme.test")
		if resp, _ := r.post(t, b, "/console/test/program", url.Values{"csrf": {other}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("sign out ends the session on the server", func(t *testing.T) {
		u, _ := url.Parse(r.srv.URL + "/console/")
		old := b.Jar.Cookies(u)
		resp, _ := r.post(t, b, "/console/logout", url.Values{"csrf": {csrf}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
			t.Fatalf("%d", resp.StatusCode)
		}
		// Replaying the old cookie does not bring the session back.
		replay := r.browser()
		replay.Jar.SetCookies(u, old)
		if resp, _ := r.get(t, replay, "/console/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("old cookie after sign out: %d", resp.StatusCode)
		}
	})
}

func TestConsoleRoles(t *testing.T) {
	r := newConsoleRig(t, false)
	for _, c := range []struct {
		email string
		want  int
	}{
		{"owner@acme.test", http.StatusOK},
		{"admin@acme.test", http.StatusOK},
		{"support@acme.test", http.StatusForbidden},
	} {
		t.Run(c.email+" editing the program gets "+http.StatusText(c.want), func(t *testing.T) {
			b, csrf := r.signedIn(t, c.email)
			if resp, body := r.post(t, b, "/console/test/program", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != c.want {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
	t.Run("the refusal is in the audit log", func(t *testing.T) {
		log, _ := r.svc.AuditLog(context.Background(), testenv.ShopDomain, 50)
		for _, e := range log {
			if e.Actor == "support@acme.test" && e.Outcome == app.AuditRefused && strings.Contains(e.Detail, string(app.EditProgram)) {
				return
			}
		}
		t.Fatalf("no refusal in %+v", log)
	})
}

func TestAdminAPITokens(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	token := func(shop app.Shop, email string) (app.APIToken, string) {
		t.Helper()
		m, err := r.svc.StaffByEmail(ctx, shop, email)
		if err != nil {
			t.Fatal(err)
		}
		tok, secret, err := r.svc.CreateAPIToken(ctx, shop, m, "test")
		if err != nil {
			t.Fatal(err)
		}
		return tok, secret
	}
	me := func(secret string) (int, map[string]any) {
		t.Helper()
		resp, body := r.get(t, http.DefaultClient, "/api/admin/me", map[string]string{"Authorization": "Bearer " + secret})
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}
	_, supportA := token(r.env.Shop, "support@acme.test")
	_, ownerB := token(r.shopB, "owner@other.test")
	t.Run("a token is lyt_ and stored only as its hash", func(t *testing.T) {
		var n int
		r.env.Store.SQL().QueryRow(`SELECT count(*) FROM api_tokens WHERE token_hash = $1`, app.HashToken(supportA)).Scan(&n)
		if !strings.HasPrefix(supportA, app.APITokenPrefix) || n != 1 {
			t.Fatalf("%q, %d rows by hash", supportA, n)
		}
	})
	t.Run("each token sees its own shop only", func(t *testing.T) {
		status, body := me(supportA)
		if status != http.StatusOK || body["shop"].(map[string]any)["domain"] != testenv.ShopDomain || body["role"] != "support" {
			t.Fatalf("%d %v", status, body)
		}
		perms := body["permissions"].([]any)
		if len(perms) != len(app.RoleSupport.Permissions()) {
			t.Fatalf("permissions %v", perms)
		}
		status, body = me(ownerB)
		if status != http.StatusOK || body["shop"].(map[string]any)["domain"] != "other.myshopify.com" || body["staff"].(map[string]any)["email"] != "owner@other.test" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("no token, a made-up token or a session cookie is 401", func(t *testing.T) {
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer lyt_madeup"}, {"Authorization": "Basic b3duZXI6cGFzcw=="}} {
			if resp, _ := r.get(t, http.DefaultClient, "/api/admin/me", h); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%v: %d", h, resp.StatusCode)
			}
		}
	})
	t.Run("a shop cannot revoke another shop's token", func(t *testing.T) {
		tok, secret := token(r.shopB, "owner@other.test")
		if err := r.svc.RevokeAPIToken(ctx, r.env.Shop, "owner@acme.test", tok.ID); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("err = %v", err)
		}
		if status, _ := me(secret); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("a revoked token is 401", func(t *testing.T) {
		tok, secret := token(r.env.Shop, "admin@acme.test")
		if status, _ := me(secret); status != http.StatusOK {
			t.Fatalf("before revoking: %d", status)
		}
		if err := r.svc.RevokeAPIToken(ctx, r.env.Shop, "owner@acme.test", tok.ID); err != nil {
			t.Fatal(err)
		}
		if status, _ := me(secret); status != http.StatusUnauthorized {
			t.Fatalf("after revoking: %d", status)
		}
	})
}

// TestAPITokenPermissions runs requireAPIToken over every role and
// permission: a route asking for p lets a role through exactly when the
// role grants p.
func TestAPITokenPermissions(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	s := New(Deps{Service: r.svc, Registry: prometheus.NewRegistry(), Log: r.env.Log, Console: &Console{}})
	for _, p := range app.Permissions {
		s.echo.GET("/api/admin/test/"+string(p), func(c echo.Context) error {
			_, shop := staffOf(c)
			return c.String(http.StatusOK, shop.Domain)
		}, s.requireAPIToken(p))
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, email := range []string{"owner@acme.test", "admin@acme.test", "support@acme.test"} {
		m, _ := r.svc.StaffByEmail(ctx, r.env.Shop, email)
		_, secret, err := r.svc.CreateAPIToken(ctx, r.env.Shop, m, "matrix")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range app.Permissions {
			want := http.StatusForbidden
			if m.Role.Can(p) {
				want = http.StatusOK
			}
			t.Run(string(m.Role)+" "+string(p), func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/admin/test/"+string(p), nil)
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, body := do(t, http.DefaultClient, req)
				if resp.StatusCode != want || (want == http.StatusOK && body != testenv.ShopDomain) {
					t.Fatalf("%d %s, want %d", resp.StatusCode, body, want)
				}
			})
		}
	}
}

func TestAdminStaffList(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	secret := func(email string) string {
		m, _ := r.svc.StaffByEmail(ctx, r.env.Shop, email)
		_, s, err := r.svc.CreateAPIToken(ctx, r.env.Shop, m, "list")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	list := func(token string) (int, string) {
		resp, body := r.get(t, http.DefaultClient, "/api/admin/staff", map[string]string{"Authorization": "Bearer " + token})
		return resp.StatusCode, body
	}
	t.Run("support cannot list staff", func(t *testing.T) {
		if status, body := list(secret("support@acme.test")); status != http.StatusForbidden || !strings.Contains(body, "manage_staff") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("an admin lists their shop's staff and no one else's", func(t *testing.T) {
		status, body := list(secret("admin@acme.test"))
		var out struct{ Staff []struct{ Email string } }
		json.Unmarshal([]byte(body), &out)
		if status != http.StatusOK || len(out.Staff) != 3 || strings.Contains(body, "other.test") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("a disabled member is signed out, cannot sign in and their tokens stop", func(t *testing.T) {
		b, _ := r.signedIn(t, "support@acme.test")
		token := secret("support@acme.test")
		if err := r.svc.DisableStaff(ctx, r.env.Shop, "owner@acme.test", "support@acme.test"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := r.get(t, b, "/console/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("session after disabling: %d", resp.StatusCode)
		}
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "support@acme.test", staffPassword); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("sign in after disabling: %d", resp.StatusCode)
		}
		if status, _ := list(token); status != http.StatusUnauthorized {
			t.Fatalf("token after disabling: %d", status)
		}
	})
	t.Run("a shop cannot disable another shop's staff", func(t *testing.T) {
		if err := r.svc.DisableStaff(ctx, r.env.Shop, "owner@acme.test", "owner@other.test"); app.ErrorCode(err) != app.ENotFound {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestConsoleAPITokens(t *testing.T) {
	r := newConsoleRig(t, false)
	support, csrf := r.signedIn(t, "support@acme.test")
	resp, page := r.post(t, support, "/console/tokens", url.Values{"csrf": {csrf}, "name": {"helpdesk"}}, nil)
	token := regexp.MustCompile(`<code>(lyt_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || token == nil {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	me := func() int {
		resp, _ := r.get(t, http.DefaultClient, "/api/admin/me", map[string]string{"Authorization": "Bearer " + token[1]})
		return resp.StatusCode
	}
	if me() != http.StatusOK {
		t.Fatal("the new token does not work")
	}
	id := regexp.MustCompile(`/console/tokens/(\d+)/revoke`).FindStringSubmatch(page)
	t.Run("the page shows the token once", func(t *testing.T) {
		_, again := r.get(t, support, "/console/account", nil)
		if strings.Contains(again, token[1]) || !strings.Contains(again, "helpdesk") || id == nil {
			t.Fatalf("%s", again)
		}
	})
	t.Run("support cannot revoke another member's token", func(t *testing.T) {
		owner, _ := r.svc.StaffByEmail(context.Background(), r.env.Shop, "owner@acme.test")
		other, _, _ := r.svc.CreateAPIToken(context.Background(), r.env.Shop, owner, "owner's")
		resp, _ := r.post(t, support, "/console/tokens/"+strconv.FormatInt(other.ID, 10)+"/revoke", url.Values{"csrf": {csrf}}, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("revoking from the console ends it", func(t *testing.T) {
		if resp, _ := r.post(t, support, "/console/tokens/"+id[1]+"/revoke", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d", resp.StatusCode)
		}
		if me() != http.StatusUnauthorized {
			t.Fatal("revoked token still works")
		}
	})
}

func TestConsoleSignInThrottle(t *testing.T) {
	r := newConsoleRig(t, false)
	s := New(Deps{Service: r.svc, Registry: prometheus.NewRegistry(), Log: r.env.Log,
		Console: &Console{SignIns: &RateLimiter{Redis: r.env.Redis, PerClient: 3, Window: time.Minute}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	signIn := func(client, email, pw string) int {
		t.Helper()
		form := url.Values{"shop": {testenv.ShopDomain}, "email": {email}, "password": {pw}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// The test server's peer is loopback, a trusted proxy: it names
		// the client in X-Forwarded-For.
		req.Header.Set("X-Forwarded-For", client)
		resp, _ := do(t, r.browser(), req)
		return resp.StatusCode
	}
	t.Run("one address guessing across accounts is stopped after the limit", func(t *testing.T) {
		for i, email := range []string{"a@acme.test", "b@acme.test", "c@acme.test"} {
			if got := signIn("203.0.113.9", email, "guess"); got != http.StatusUnauthorized {
				t.Fatalf("attempt %d = %d, want 401", i+1, got)
			}
		}
		if got := signIn("203.0.113.9", "support@acme.test", staffPassword); got != http.StatusTooManyRequests {
			t.Fatalf("attempt over the limit = %d, want 429 even with the right password", got)
		}
	})
	t.Run("other addresses still sign in", func(t *testing.T) {
		if got := signIn("198.51.100.7", "support@acme.test", staffPassword); got != http.StatusSeeOther {
			t.Fatalf("sign-in from another address = %d, want 303", got)
		}
	})
}
