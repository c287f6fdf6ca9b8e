package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
	"loyalty/web"
)

type widgetRig struct {
	env *testenv.Env
	srv *httptest.Server
	now time.Time
}

func newWidgetRig(t *testing.T, limiter *web.RateLimiter) *widgetRig {
	t.Helper()
	env := testenv.New(t, nil)
	r := &widgetRig{env: env, now: time.Now().Truncate(time.Second)}
	srv := web.New(web.Deps{Service: env.Service, Registry: prometheus.NewRegistry(), Postgres: env.Store, Redis: pinger{env.Redis}, Log: env.Log,
		Widget: &web.Widget{ShopifySecrets: []string{testenv.ShopifySecret}, Now: func() time.Time { return r.now }, Limiter: limiter}})
	r.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(r.srv.Close)
	ctx := context.Background()
	env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "7000000000000000001", FirstName: "Ewa"}, Subtotal: app.MustAmount("320.00")})
	env.Service.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: "2", Customer: &app.CustomerRef{PlatformID: "7000000000000000002"}, Subtotal: app.MustAmount("999.00")})
	env.Service.AddReward(ctx, env.Shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), Active: true})
	return r
}

// proxied is a request as Shopify's app proxy forwards it.
func (r *widgetRig) proxied(customer string, at time.Time, edit func(url.Values)) url.Values {
	q := url.Values{"shop": {testenv.ShopDomain}, "logged_in_customer_id": {customer}, "path_prefix": {"/apps/loyalty"},
		"timestamp": {strconv.FormatInt(at.Unix(), 10)}, "locale": {"pl-PL"}}
	q.Set("signature", shopify.SignProxy(q, testenv.ShopifySecret))
	if edit != nil {
		edit(q)
	}
	return q
}

func (r *widgetRig) get(t *testing.T, path string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Get(r.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	return resp.StatusCode, doc, resp.Header
}

func TestWidgetThroughTheShopifyAppProxy(t *testing.T) {
	r := newWidgetRig(t, nil)
	status, doc, header := r.get(t, "/proxy/customer?"+r.proxied("7000000000000000001", r.now, nil).Encode())
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, doc)
	}
	t.Run("a storefront language the widget does not speak falls back to the shop's", func(t *testing.T) {
		ctx := context.Background()
		prog, _ := r.env.Service.Program(ctx, r.env.Shop)
		prog.Locale = "lv"
		if err := r.env.Service.SetProgram(ctx, r.env.Shop, prog, "test", "language lv"); err != nil {
			t.Fatal(err)
		}
		q := r.proxied("7000000000000000001", r.now, nil)
		q.Del("signature")
		q.Set("locale", "de-DE")
		q.Set("signature", shopify.SignProxy(q, testenv.ShopifySecret))
		if _, doc, _ := r.get(t, "/proxy/customer?"+q.Encode()); doc["locale"] != "lv" {
			t.Fatalf("locale = %v, want the shop's lv", doc["locale"])
		}
	})
	t.Run("the document has what the widget shows", func(t *testing.T) {
		if doc["balance"] != 320.0 || doc["currency"] != "USD" || doc["locale"] != "pl" || doc["customer"].(map[string]any)["id"] != "7000000000000000001" {
			t.Fatalf("doc = %v", doc)
		}
		for _, key := range []string{"pending", "expiring", "history", "rewards", "program"} {
			if _, ok := doc[key]; !ok {
				t.Errorf("the document lacks %q", key)
			}
		}
		reward := doc["rewards"].([]any)[0].(map[string]any)
		if reward["affordable"] != false || reward["points_needed"] != 180.0 {
			t.Fatalf("reward = %v", reward)
		}
		if header.Get("Cache-Control") != "private, no-store" {
			t.Fatalf("Cache-Control = %q", header.Get("Cache-Control"))
		}
	})
	tests := []struct {
		name   string
		query  url.Values
		status int
	}{
		{"another shopper's id swapped into a signed request", r.proxied("7000000000000000001", r.now, func(q url.Values) { q.Set("logged_in_customer_id", "7000000000000000002") }), http.StatusUnauthorized},
		{"a request signed two minutes ago", r.proxied("7000000000000000001", r.now.Add(-2*time.Minute), nil), http.StatusUnauthorized},
		{"an unsigned request", url.Values{"shop": {testenv.ShopDomain}, "logged_in_customer_id": {"7000000000000000001"}}, http.StatusUnauthorized},
		{"a shop that is not installed", r.proxied("1", r.now, func(q url.Values) {
			q.Set("shop", "nieznany.myshopify.com")
			q.Set("signature", shopify.SignProxy(q, testenv.ShopifySecret))
		}), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if status, doc, _ := r.get(t, "/proxy/customer?"+tt.query.Encode()); status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, doc)
			}
		})
	}
	t.Run("a guest sees the program, not anyone's points", func(t *testing.T) {
		status, doc, _ := r.get(t, "/proxy/customer?"+r.proxied("", r.now, nil).Encode())
		if status != http.StatusOK || doc["customer"] != nil || doc["balance"] != 0.0 || len(doc["rewards"].([]any)) != 1 {
			t.Fatalf("%d %v", status, doc)
		}
	})
	t.Run("an uninstalled shop's widget says the program is unavailable", func(t *testing.T) {
		r.env.Service.Uninstall(context.Background(), r.env.Shop)
		status, doc, _ := r.get(t, "/proxy/customer?"+r.proxied("7000000000000000001", r.now, nil).Encode())
		if status != http.StatusForbidden || doc["error"].(map[string]any)["message"] != "the loyalty program is not available in this shop right now" {
			t.Fatalf("%d %v", status, doc)
		}
	})
}

func TestWidgetOnWooCommerce(t *testing.T) {
	r := newWidgetRig(t, nil)
	ctx := context.Background()
	store, _, err := r.env.Service.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: "sklep.example.pl", Currency: "PLN"},
		app.Connection{URL: "https://sklep.example.pl", WebhookKey: "wc_storekey0000001"}, app.Credentials{WebhookSecret: "s", WidgetSecret: "widget-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	r.env.Service.AccrueOrder(ctx, store, app.OrderPaid{OrderID: "727", Customer: &app.CustomerRef{PlatformID: "25"}, Subtotal: app.MustAmount("45.00")})
	token := func(customer int64, key, secret string, expires time.Time) string {
		return woocommerce.SignIdentity(secret, woocommerce.Identity{StoreKey: key, CustomerID: fmt.Sprint(customer), ExpiresAt: expires})
	}
	status, doc, header := r.get(t, "/wc/wc_storekey0000001/customer?locale=ru_RU&token="+url.QueryEscape(token(25, "wc_storekey0000001", "widget-secret-0123456789", r.now.Add(time.Hour))))
	if status != http.StatusOK || doc["balance"] != 45.0 || doc["currency"] != "PLN" || doc["locale"] != "ru" {
		t.Fatalf("%d %v", status, doc)
	}
	if header.Get("Access-Control-Allow-Origin") != "https://sklep.example.pl" {
		t.Fatalf("CORS origin = %q", header.Get("Access-Control-Allow-Origin"))
	}
	tests := map[string]string{
		"a token signed with another secret": token(25, "wc_storekey0000001", "not-the-secret-000000", r.now.Add(time.Hour)),
		"another store's token":              token(25, "wc_otherstore00001", "widget-secret-0123456789", r.now.Add(time.Hour)),
		"an expired token":                   token(25, "wc_storekey0000001", "widget-secret-0123456789", r.now.Add(-time.Hour)),
	}
	for name, tok := range tests {
		t.Run("refuses "+name, func(t *testing.T) {
			if status, _, _ := r.get(t, "/wc/wc_storekey0000001/customer?token="+url.QueryEscape(tok)); status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", status)
			}
		})
	}
	t.Run("no token is a guest", func(t *testing.T) {
		if status, doc, _ := r.get(t, "/wc/wc_storekey0000001/customer"); status != http.StatusOK || doc["customer"] != nil {
			t.Fatalf("%d %v", status, doc)
		}
	})
}

func TestWidgetIsRateLimited(t *testing.T) {
	probe := newWidgetRig(t, nil) // for a Redis database of its own
	limited := newWidgetRig(t, &web.RateLimiter{Redis: probe.env.Redis, PerClient: 3, PerShop: 1000, Window: time.Minute})
	q := "/proxy/customer?" + limited.proxied("7000000000000000001", limited.now, nil).Encode()
	for i := 0; i < 3; i++ {
		if status, _, _ := limited.get(t, q); status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	status, _, header := limited.get(t, q)
	if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" {
		t.Fatalf("the 4th request got %d (Retry-After %q), want 429", status, header.Get("Retry-After"))
	}
}
