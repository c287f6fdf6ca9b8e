package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/web"
)

const demoShopper = "7770001"

// newDemo serves the app with the demo storefront for the test shop, whose
// shopper 7770001 has earned 320 points; demo nil is production.
func newDemo(t *testing.T, demo *web.Demo) (*testenv.Env, *httptest.Server) {
	t.Helper()
	env := testenv.New(t, nil)
	if demo != nil {
		demo.Shop, demo.Customer = testenv.ShopDomain, demoShopper
	}
	srv := web.New(web.Deps{Service: env.Service, Registry: prometheus.NewRegistry(), Postgres: env.Store, Redis: pinger{env.Redis}, Log: env.Log,
		Widget: &web.Widget{ShopifySecrets: []string{testenv.ShopifySecret, "previous-secret"}, Now: time.Now}, Demo: demo})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	ctx := context.Background()
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1001", Name: "#1001",
		Customer: &app.CustomerRef{PlatformID: demoShopper, FirstName: "Ada"}, Subtotal: app.MustAmount("320.00")}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1002",
		Customer: &app.CustomerRef{PlatformID: "7770002"}, Subtotal: app.MustAmount("999.00")}); err != nil {
		t.Fatal(err)
	}
	return env, ts
}

// browser is a client with a cookie jar, as a shopper's browser has.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func fetch(t *testing.T, client *http.Client, method, u string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func customerDoc(t *testing.T, raw string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	return doc
}

func TestDemoStorefrontPage(t *testing.T) {
	_, ts := newDemo(t, &web.Demo{})
	client := browser(t)
	tests := []struct {
		name  string
		query string
		want  []string
		not   []string
	}{
		{"the page loads the widget for the signed-in demo shopper", "",
			[]string{`<script type="module" src="/widget/loyalty-widget.js">`,
				`<loyalty-widget data-platform="shopify" data-api="/demo/apps/loyalty" data-locale="en" data-currency="USD" data-layout="launcher"`,
				`Signed in as <strong>Ada</strong> (customer 7770001)`},
			[]string{`data-layout="inline"`}},
		{"?locale= sets the widget's language", "?locale=pl",
			[]string{`data-locale="pl"`, `<html lang="pl">`, `id="demo-locale"`}, nil},
		{"an unknown locale falls back to English", "?locale=xx", []string{`data-locale="en"`}, nil},
		{"?layout=inline puts the widget in the account area", "?layout=inline&locale=ru",
			[]string{`data-locale="ru" data-currency="USD" data-layout="inline"`}, []string{`data-layout="launcher"`}},
		{"?guest=1 signs the shopper out", "?guest=1", []string{"Not signed in"}, []string{"Signed in as"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, page := fetch(t, client, http.MethodGet, ts.URL+"/demo"+tt.query, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, page)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(page, n) {
					t.Errorf("the page has %s", n)
				}
			}
		})
	}
}

func TestDemoAppProxy(t *testing.T) {
	env, ts := newDemo(t, &web.Demo{})
	client := browser(t)
	fetch(t, client, http.MethodGet, ts.URL+"/demo", nil)

	t.Run("reaches /proxy/customer signed as Shopify signs, for the demo shopper", func(t *testing.T) {
		status, raw := fetch(t, client, http.MethodGet, ts.URL+"/demo/apps/loyalty/customer?locale=pl-PL", nil)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		doc := customerDoc(t, raw)
		want := env.Balance(t, demoShopper)
		if doc["balance"] != float64(want) || want != 320 || doc["locale"] != "pl" || doc["shop"] != testenv.ShopDomain {
			t.Fatalf("balance %v (ledger %d), doc %v", doc["balance"], want, doc)
		}
		if doc["customer"].(map[string]any)["id"] != demoShopper {
			t.Fatalf("customer = %v", doc["customer"])
		}
	})
	t.Run("a shopper cannot put their own Shopify parameters in", func(t *testing.T) {
		forged := url.Values{"logged_in_customer_id": {"7770002"}, "shop": {"other.myshopify.com"},
			"signature": {strings.Repeat("0", 64)}, "timestamp": {"1"}, "path_prefix": {"/apps/other"}}
		status, raw := fetch(t, client, http.MethodGet, ts.URL+"/demo/apps/loyalty/customer?"+forged.Encode(), nil)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		doc := customerDoc(t, raw)
		if doc["customer"].(map[string]any)["id"] != demoShopper || doc["balance"] != 320.0 {
			t.Fatalf("the forged id got through: %v", doc)
		}
	})
	t.Run("a signed-out shopper is a guest, whatever the query says", func(t *testing.T) {
		guest := browser(t)
		fetch(t, guest, http.MethodGet, ts.URL+"/demo?guest=1", nil)
		status, raw := fetch(t, guest, http.MethodGet, ts.URL+"/demo/apps/loyalty/customer?logged_in_customer_id=7770001", nil)
		if doc := customerDoc(t, raw); status != http.StatusOK || doc["customer"] != nil || doc["balance"] != 0.0 {
			t.Fatalf("%d %v", status, doc)
		}
		// Signing in again (the page without ?guest=1) ends the guest session.
		fetch(t, guest, http.MethodGet, ts.URL+"/demo", nil)
		_, raw = fetch(t, guest, http.MethodGet, ts.URL+"/demo/apps/loyalty/customer", nil)
		if doc := customerDoc(t, raw); doc["customer"] == nil {
			t.Fatalf("still a guest: %v", doc)
		}
	})
	t.Run("paths stay under /proxy", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/demo/apps/loyalty/../../healthz", nil)
		rec := httptest.NewRecorder()
		ts.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("a redemption is posted through it, body and all, and the view shows it at once", func(t *testing.T) {
		reward, err := env.Service.AddReward(context.Background(), env.Shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed,
			Points: 100, Amount: app.MustAmount("5.00"), Active: true})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"reward_id": ` + strconv.FormatInt(reward.ID, 10) + `, "key": "0b7c1f3e-demo"}`
		for i := 0; i < 2; i++ { // the same key twice spends once
			status, raw := fetch(t, client, http.MethodPost, ts.URL+"/demo/apps/loyalty/redeem", strings.NewReader(body))
			if doc := customerDoc(t, raw); status != http.StatusCreated || doc["balance"] != 220.0 {
				t.Fatalf("try %d: %d %s", i+1, status, raw)
			}
		}
		_, raw := fetch(t, client, http.MethodGet, ts.URL+"/demo/apps/loyalty/customer", nil)
		if doc := customerDoc(t, raw); doc["balance"] != 220.0 || env.Balance(t, demoShopper) != 220 {
			t.Fatalf("after redeeming: %v", doc)
		}
	})
	t.Run("the method reaches the app as sent", func(t *testing.T) {
		// /proxy/customer only answers GET: a POST arriving as a POST is
		// refused there, not turned into a read.
		status, raw := fetch(t, client, http.MethodPost, ts.URL+"/demo/apps/loyalty/customer", strings.NewReader(`{}`))
		if status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
			t.Fatalf("status %d: %s", status, raw)
		}
	})
}

func TestDemoIsAbsentInProduction(t *testing.T) {
	_, ts := newDemo(t, nil)
	for _, path := range []string{"/demo", "/demo/apps/loyalty/customer"} {
		if status, body := fetch(t, http.DefaultClient, http.MethodGet, ts.URL+path, nil); status != http.StatusNotFound {
			t.Errorf("%s: status %d: %s", path, status, body)
		}
	}
}
