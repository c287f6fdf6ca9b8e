package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifytest"
	"loyalty/web"
	"loyalty/webhooks"
)

const (
	apiKey  = "loyalty-api-key"
	newShop = "nowy-sklep.myshopify.com"
)

var handledTopics = []string{"orders/paid", "orders/cancelled", "refunds/create", "customers/create", "app/uninstalled"}

// installRig is the app with its install flow pointed at a fake Shopify,
// and a browser (a client with a cookie jar that does not follow redirects,
// so each hop can be inspected).
type installRig struct {
	env     *testenv.Env
	shopify *shopifytest.Server
	app     *httptest.Server
	browser *http.Client
	now     time.Time
}

func newInstallRig(t *testing.T) *installRig {
	t.Helper()
	env := testenv.New(t, nil)
	fake := shopifytest.New(t, apiKey, testenv.ShopifySecret)
	r := &installRig{env: env, shopify: fake, now: time.Now().Truncate(time.Second)}
	fake.SetClock(func() time.Time { return r.now })

	mux := http.NewServeMux()
	r.app = httptest.NewServer(mux)
	t.Cleanup(r.app.Close)
	auth := &web.ShopifyAuth{
		OAuth: &shopify.OAuth{APIKey: apiKey, APISecret: testenv.ShopifySecret, Scopes: strings.Split(shopifytest.DefaultScope, ","),
			RedirectURL: r.app.URL + "/auth/shopify/callback", HTTP: fake.Client(), BaseURL: fake.BaseURL},
		APIKey: apiKey, APISecret: testenv.ShopifySecret, Scopes: strings.Split(shopifytest.DefaultScope, ","),
		Topics: handledTopics, WebhookURL: r.app.URL + "/webhooks/shopify",
		NewClient: func(shop, token string) *shopify.Client {
			return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL,
				Sleep: func(context.Context, time.Duration) error { return nil }})
		},
		States: web.RedisStates{Redis: env.Redis},
		Now:    func() time.Time { return r.now },
	}
	reg := prometheus.NewRegistry()
	intake := webhooks.New(webhooks.Config{ShopifySecrets: []string{testenv.ShopifySecret}}, env.Service, env.Redis, env.Store, env.Log, webhooks.NewMetrics(reg))
	srv := web.New(web.Deps{Service: env.Service, Intake: intake, Shopify: auth, Console: &web.Console{}, Registry: reg, Postgres: env.Store,
		Redis: pinger{env.Redis}, MaxWebhookBody: maxBody, Log: env.Log})
	mux.Handle("/", srv.Handler())

	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return r
}

func (r *installRig) get(t *testing.T, rawURL string) (*http.Response, string) {
	t.Helper()
	resp, err := r.browser.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// startInstall plays Shopify sending the merchant to the app and returns
// the app's redirect to the grant screen.
func (r *installRig) startInstall(t *testing.T, shop string) *url.URL {
	t.Helper()
	resp, body := r.get(t, r.app.URL+"/auth/shopify/install?"+r.shopify.InstallQuery(shop, r.now).Encode())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("install: status %d, want a redirect to Shopify:\n%s", resp.StatusCode, body)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc
}

// grant plays the merchant approving on Shopify's grant screen and returns
// Shopify's redirect to the app's callback.
func (r *installRig) grant(t *testing.T, authorize *url.URL) string {
	t.Helper()
	resp, body := r.get(t, authorize.String())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("grant screen: status %d:\n%s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func (r *installRig) install(t *testing.T, shop string) (*http.Response, string, string) {
	t.Helper()
	callback := r.grant(t, r.startInstall(t, shop))
	resp, body := r.get(t, callback)
	return resp, body, callback
}

func (r *installRig) auditOutcomes(t *testing.T, shop string) []string {
	t.Helper()
	lines, err := r.env.Service.AuditLog(context.Background(), shop, 20)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		out = append(out, l.Action+":"+l.Outcome)
	}
	return out
}

func TestShopifyInstall(t *testing.T) {
	r := newInstallRig(t)
	ctx := context.Background()

	authorize := r.startInstall(t, newShop)
	t.Run("the merchant is sent to Shopify's grant screen with a state", func(t *testing.T) {
		q := authorize.Query()
		if !strings.HasSuffix(authorize.Path, "/admin/oauth/authorize") || q.Get("client_id") != apiKey ||
			q.Get("scope") != shopifytest.DefaultScope || q.Get("redirect_uri") != r.app.URL+"/auth/shopify/callback" || len(q.Get("state")) < 32 {
			t.Fatalf("authorize URL = %s", authorize)
		}
	})
	callback := r.grant(t, authorize)
	appURL, _ := url.Parse(r.app.URL + "/auth/shopify")
	stateCookies := r.browser.Jar.Cookies(appURL)
	resp, body := r.get(t, callback)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://"+newShop+"/admin/apps/"+apiKey {
		t.Fatalf("callback: status %d, location %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	shop, err := r.env.Service.Shop(ctx, app.Shopify, newShop)
	if err != nil || !shop.Active() {
		t.Fatalf("shop = %+v, %v; want installed", shop, err)
	}
	t.Run("the expiring offline token is stored", func(t *testing.T) {
		c, err := r.env.Service.Credentials(ctx, shop)
		if err != nil || c.AccessToken == "" || c.RefreshToken == "" || !c.ExpiresAt.After(r.now) {
			t.Fatalf("credentials: %+v, %v", c.ExpiresAt, err)
		}
	})
	t.Run("the shop's name and currency come from Shopify", func(t *testing.T) {
		if shop.Name == "" || shop.Name == newShop || len(shop.Currency) != 3 {
			t.Fatalf("shop = %+v", shop)
		}
	})
	t.Run("every handled topic is subscribed to the webhook URL", func(t *testing.T) {
		subs := r.shopify.Subscriptions(newShop)
		got := map[string]bool{}
		for _, s := range subs {
			if strings.HasSuffix(s.URI, "/webhooks/shopify") {
				got[strings.ToLower(s.Topic)] = true
			}
		}
		if len(subs) != len(handledTopics) {
			t.Fatalf("subscriptions = %+v, want %d", subs, len(handledTopics))
		}
	})
	t.Run("the install is in the audit log", func(t *testing.T) {
		if got := r.auditOutcomes(t, newShop); len(got) != 1 || got[0] != "install:ok" {
			t.Fatalf("audit = %v", got)
		}
	})
	t.Run("a replayed callback is refused even with the browser's cookie", func(t *testing.T) {
		r.browser.Jar.SetCookies(appURL, stateCookies)
		resp, body := r.get(t, callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "already used") {
			t.Fatalf("replay: status %d:\n%s", resp.StatusCode, body)
		}
	})

	t.Run("opening the installed app shows it instead of installing again", func(t *testing.T) {
		resp, body := r.get(t, r.app.URL+"/auth/shopify/install?"+r.shopify.InstallQuery(newShop, r.now).Encode())
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Loyalty is active on") || !strings.Contains(body, apiKey) {
			t.Fatalf("status %d:\n%s", resp.StatusCode, body)
		}
		link := "/console/login?shop=" + newShop
		if !strings.Contains(body, `href="`+link+`" target="_blank"`) {
			t.Fatalf("no link to the console:\n%s", body)
		}
		if _, login := r.get(t, r.app.URL+link); !strings.Contains(login, `name="shop" value="`+newShop+`"`) {
			t.Fatalf("the console's sign-in does not name the shop:\n%s", login)
		}
	})

	t.Run("after uninstall a reinstall keeps the program and balances", func(t *testing.T) {
		prog, _ := r.env.Service.Program(ctx, shop)
		prog.SignupBonus = 77
		r.env.Store.SaveProgram(ctx, prog)
		if _, err := r.env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "c1"}, Subtotal: app.MustAmount("30")}); err != nil {
			t.Fatal(err)
		}
		if err := r.env.Service.Uninstall(ctx, shop); err != nil {
			t.Fatal(err)
		}
		resp, body, _ := r.install(t, newShop)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("reinstall: status %d:\n%s", resp.StatusCode, body)
		}
		back, _ := r.env.Service.Shop(ctx, app.Shopify, newShop)
		p, _ := r.env.Service.Program(ctx, back)
		c, _ := r.env.Service.Balance(ctx, back, "c1")
		if back.ID != shop.ID || !back.Active() || p.SignupBonus != 77 || c.Balance != 30 {
			t.Fatalf("after reinstall shop %+v, bonus %d, balance %d", back, p.SignupBonus, c.Balance)
		}
		if n := len(r.shopify.Subscriptions(newShop)); n != len(handledTopics) {
			t.Fatalf("%d subscriptions after reinstall, want %d (registration is idempotent)", n, len(handledTopics))
		}
	})
}

func TestShopifyInstallRefusals(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, r *installRig) (*http.Response, string)
		status int
		says   string
	}{
		{"a shop domain that is not myshopify.com", func(t *testing.T, r *installRig) (*http.Response, string) {
			q := r.shopify.InstallQuery(newShop, r.now)
			q.Set("shop", "evil.example.com")
			q.Set("hmac", shopify.SignQuery(q, testenv.ShopifySecret))
			return r.get(t, r.app.URL+"/auth/shopify/install?"+q.Encode())
		}, http.StatusBadRequest, "myshopify.com"},
		{"a tampered install query", func(t *testing.T, r *installRig) (*http.Response, string) {
			q := r.shopify.InstallQuery(newShop, r.now)
			q.Set("shop", "other-shop.myshopify.com")
			return r.get(t, r.app.URL+"/auth/shopify/install?"+q.Encode())
		}, http.StatusUnauthorized, "not signed by Shopify"},
		{"an install link past its time", func(t *testing.T, r *installRig) (*http.Response, string) {
			return r.get(t, r.app.URL+"/auth/shopify/install?"+r.shopify.InstallQuery(newShop, r.now.Add(-10*time.Minute)).Encode())
		}, http.StatusUnauthorized, "expired"},
		{"a tampered callback", func(t *testing.T, r *installRig) (*http.Response, string) {
			callback, _ := url.Parse(r.grant(t, r.startInstall(t, newShop)))
			q := callback.Query()
			q.Set("code", "forged-code")
			callback.RawQuery = q.Encode()
			return r.get(t, callback.String())
		}, http.StatusUnauthorized, "not signed by Shopify"},
		{"a callback from another browser (no state cookie)", func(t *testing.T, r *installRig) (*http.Response, string) {
			callback := r.grant(t, r.startInstall(t, newShop))
			r.browser.Jar, _ = cookiejar.New(nil)
			return r.get(t, callback)
		}, http.StatusForbidden, "this browser"},
		{"a state issued for another shop", func(t *testing.T, r *installRig) (*http.Response, string) {
			authorize := r.startInstall(t, "first-shop.myshopify.com")
			state := authorize.Query().Get("state")
			callback := r.shopify.CallbackQuery(newShop, r.shopify.IssueCode(newShop), state, r.now)
			return r.get(t, r.app.URL+"/auth/shopify/callback?"+callback.Encode())
		}, http.StatusForbidden, "another shop"},
		{"a callback past its time", func(t *testing.T, r *installRig) (*http.Response, string) {
			authorize := r.startInstall(t, newShop)
			callback := r.shopify.CallbackQuery(newShop, r.shopify.IssueCode(newShop), authorize.Query().Get("state"), r.now.Add(-5*time.Minute))
			return r.get(t, r.app.URL+"/auth/shopify/callback?"+callback.Encode())
		}, http.StatusUnauthorized, "expired"},
		{"scopes the merchant removed from the grant", func(t *testing.T, r *installRig) (*http.Response, string) {
			authorize := r.startInstall(t, newShop)
			q := authorize.Query()
			q.Set("scope", "read_orders")
			authorize.RawQuery = q.Encode()
			return r.get(t, r.grant(t, authorize))
		}, http.StatusForbidden, "read_customers"},
		{"webhook registration refused by Shopify", func(t *testing.T, r *installRig) (*http.Response, string) {
			r.shopify.RefuseTopic("orders/paid", "Address is not allowed")
			return r.get(t, r.grant(t, r.startInstall(t, newShop)))
		}, http.StatusBadGateway, "try the installation again"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			r := newInstallRig(t)
			resp, body := tt.tamper(t, r)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Fatalf("status %d, want %d with %q:\n%s", resp.StatusCode, tt.status, tt.says, body)
			}
			if _, err := r.env.Service.Shop(context.Background(), app.Shopify, newShop); app.ErrorCode(err) != app.ENotFound {
				t.Fatalf("a refused install left a shop behind: %v", err)
			}
			outcomes := append(r.auditOutcomes(t, newShop), r.auditOutcomes(t, "other-shop.myshopify.com")...)
			if tt.status != http.StatusBadRequest && (len(outcomes) == 0 || strings.HasSuffix(outcomes[0], ":ok")) {
				t.Fatalf("audit log = %v, want the refusal recorded", outcomes)
			}
		})
	}
}

func TestEmbeddedSessionTokens(t *testing.T) {
	r := newInstallRig(t)
	if resp, body, _ := r.install(t, newShop); resp.StatusCode != http.StatusFound {
		t.Fatalf("install: %d %s", resp.StatusCode, body)
	}
	call := func(token string) (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodGet, r.app.URL+"/embedded/api/session", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	t.Run("a valid session token of an installed shop is let in", func(t *testing.T) {
		status, body := call(r.shopify.SessionToken(newShop, "42", r.now))
		if status != http.StatusOK || body["shop"] != newShop || body["user_id"] != "42" {
			t.Fatalf("status %d body %v", status, body)
		}
	})
	tests := []struct {
		name   string
		token  func() string
		status int
	}{
		{"no token", func() string { return "" }, http.StatusUnauthorized},
		{"an expired token", func() string { return r.shopify.SessionToken(newShop, "42", r.now.Add(-5*time.Minute)) }, http.StatusUnauthorized},
		{"a token for another app", func() string {
			claims := r.shopify.SessionClaims(newShop, "42", r.now)
			claims["aud"] = "someone-else"
			return shopifytest.SignSessionToken(testenv.ShopifySecret, claims)
		}, http.StatusUnauthorized},
		{"a token signed with another secret", func() string {
			return shopifytest.SignSessionToken("not-the-secret", r.shopify.SessionClaims(newShop, "42", r.now))
		}, http.StatusUnauthorized},
		{"a token of a shop that never installed", func() string { return r.shopify.SessionToken("stranger.myshopify.com", "42", r.now) }, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if status, _ := call(tt.token()); status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
		})
	}
	t.Run("refuses the token of an uninstalled shop", func(t *testing.T) {
		shop, _ := r.env.Service.Shop(context.Background(), app.Shopify, newShop)
		r.env.Service.Uninstall(context.Background(), shop)
		if status, _ := call(r.shopify.SessionToken(newShop, "42", r.now)); status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", status)
		}
	})
}
