package shopifytest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifytest"
)

const shop = "snowdevil.myshopify.com"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// post sends body to path on srv and decodes the JSON answer.
func post(t *testing.T, srv *shopifytest.Server, path string, header http.Header, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.BaseURL(shop)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %q is not a JSON object: %v", raw, err)
	}
	return resp.StatusCode, resp.Header, out
}

func graphQL(t *testing.T, srv *shopifytest.Server, token, query string, vars any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	h := http.Header{"Content-Type": {"application/json"}, "X-Shopify-Access-Token": {token}}
	status, _, out := post(t, srv, "/admin/api/2026-07/graphql.json", h, string(body))
	return status, out
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSignQueryReproducesTheDocumentedVector(t *testing.T) {
	q, _ := url.ParseQuery("code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")
	if got := shopifytest.SignQuery(q, "hush"); got != "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf" {
		t.Errorf("SignQuery = %s", got)
	}
}

func TestSignedQueriesVerify(t *testing.T) {
	srv := shopifytest.New(t, "client-id", "client-secret")
	now := time.Now()
	for name, q := range map[string]url.Values{
		"install":  srv.InstallQuery(shop, now),
		"callback": srv.CallbackQuery(shop, srv.IssueCode(shop), "nonce", now),
	} {
		t.Run(name, func(t *testing.T) {
			if err := shopify.VerifyQueryHMAC(q, "client-secret"); err != nil {
				t.Error(err)
			}
			if err := shopify.CheckTimestamp(q, now, 0); err != nil {
				t.Error(err)
			}
			host, err := base64.RawStdEncoding.DecodeString(q.Get("host"))
			if err != nil || string(host) != "admin.shopify.com/store/snowdevil" {
				t.Errorf("host %q decodes to %q, %v", q.Get("host"), host, err)
			}
		})
	}
}

func TestAuthorizeChecksTheRequest(t *testing.T) {
	srv := shopifytest.New(t, "client-id", "client-secret")
	noFollow := *srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := srv.BaseURL(shop) + "/admin/oauth/authorize?"
	tests := []struct {
		name   string
		query  string
		status int
	}{
		{"a complete request is redirected", "client_id=client-id&scope=read_orders&redirect_uri=https%3A%2F%2Fapp%2Fcb&state=n", http.StatusFound},
		{"another app's client_id is refused", "client_id=other&scope=read_orders&redirect_uri=https%3A%2F%2Fapp%2Fcb&state=n", http.StatusBadRequest},
		{"a missing redirect_uri is refused", "client_id=client-id&scope=read_orders&state=n", http.StatusBadRequest},
		{"a relative redirect_uri is refused", "client_id=client-id&scope=read_orders&redirect_uri=%2Fcb&state=n", http.StatusBadRequest},
		{"a missing state is refused", "client_id=client-id&scope=read_orders&redirect_uri=https%3A%2F%2Fapp%2Fcb", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := noFollow.Get(base + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

func TestAccessToken(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}

	t.Run("without expiring=1 the offline token never expires", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		code := srv.IssueCode(shop, "read_orders")
		status, _, body := post(t, srv, "/admin/oauth/access_token", form,
			url.Values{"client_id": {"client-id"}, "client_secret": {"client-secret"}, "code": {code}}.Encode())
		if status != 200 || body["scope"] != "read_orders" || body["access_token"] == nil || body["expires_in"] != nil || body["refresh_token"] != nil {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("the JSON body of Shopify's Node library is accepted", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		code := srv.IssueCode(shop)
		status, _, body := post(t, srv, "/admin/oauth/access_token", jsonHeader,
			compact(map[string]string{"client_id": "client-id", "client_secret": "client-secret", "code": code, "expiring": "1"}))
		if status != 200 || body["expires_in"] != 3600.0 || body["refresh_token_expires_in"] != 7776000.0 ||
			!strings.HasPrefix(body["refresh_token"].(string), "shprt_") {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("a reused code gets Shopify's wording", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		params := url.Values{"client_id": {"client-id"}, "client_secret": {"client-secret"}, "code": {srv.IssueCode(shop)}}.Encode()
		post(t, srv, "/admin/oauth/access_token", form, params)
		status, _, body := post(t, srv, "/admin/oauth/access_token", form, params)
		want := `{"error":"invalid_request","error_description":"The authorization code was not found or was already used"}`
		if status != 400 || compact(body) != want {
			t.Errorf("%d %s, want 400 %s", status, compact(body), want)
		}
	})

	t.Run("an unknown grant type is refused", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		status, _, body := post(t, srv, "/admin/oauth/access_token", form,
			url.Values{"client_id": {"client-id"}, "client_secret": {"client-secret"}, "grant_type": {"client_credentials"}}.Encode())
		if status != 400 || body["error"] != "unsupported_grant_type" {
			t.Errorf("%d %v", status, body)
		}
	})
}

func TestGraphQLEndpoint(t *testing.T) {
	const list = `query { webhookSubscriptions(first: 10, topics: $topics) { nodes { id } } }`

	t.Run("a wrong token gets Shopify's 401", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		status, body := graphQL(t, srv, "shpua_wrong", list, nil)
		if status != 401 || compact(body) != `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}` {
			t.Errorf("%d %s", status, compact(body))
		}
	})

	t.Run("another shop's token is refused", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		if status, _ := graphQL(t, srv, srv.IssueToken("other.myshopify.com"), list, nil); status != 401 {
			t.Errorf("status %d", status)
		}
	})

	t.Run("an unknown version is not found", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		h := http.Header{"X-Shopify-Access-Token": {srv.IssueToken(shop)}}
		if status, _, _ := post(t, srv, "/admin/api/2026-13/graphql.json", h, `{"query":"{ shop { id } }"}`); status != 404 {
			t.Errorf("status %d", status)
		}
	})

	t.Run("a body without a query is a 400", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		h := http.Header{"X-Shopify-Access-Token": {srv.IssueToken(shop)}}
		if status, _, _ := post(t, srv, "/admin/api/2026-07/graphql.json", h, `{"variables":{}}`); status != 400 {
			t.Errorf("status %d", status)
		}
	})

	t.Run("answers carry the cost and refund what was not used", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		_, body := graphQL(t, srv, srv.IssueToken(shop), list, map[string]any{"topics": []string{"ORDERS_PAID"}})
		want := `{"cost":{"actualQueryCost":2,"requestedQueryCost":12,"throttleStatus":{"currentlyAvailable":1998,"maximumAvailable":2000,"restoreRate":100}}}`
		if got := compact(body["extensions"]); got != want {
			t.Errorf("extensions = %s\nwant         %s", got, want)
		}
	})

	t.Run("the bucket refills with the clock and throttles when short", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		c := &clock{t: time.Unix(1_700_000_000, 0)}
		srv.SetClock(c.Now)
		srv.SetBucket(100, 10)
		srv.SetAvailable(shop, 5)
		token := srv.IssueToken(shop)
		_, body := graphQL(t, srv, token, list, nil)
		want := `{"errors":[{"extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"},"message":"Throttled"}],` +
			`"extensions":{"cost":{"actualQueryCost":null,"requestedQueryCost":12,"throttleStatus":{"currentlyAvailable":5,"maximumAvailable":100,"restoreRate":10}}}}`
		if compact(body) != want {
			t.Errorf("throttled answer = %s\nwant %s", compact(body), want)
		}
		c.Advance(700 * time.Millisecond)
		if _, body := graphQL(t, srv, token, list, nil); body["errors"] != nil {
			t.Errorf("after refilling: %s", compact(body))
		}
	})

	t.Run("the deprecated callbackUrl input is still read", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		_, body := graphQL(t, srv, srv.IssueToken(shop), `mutation m($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { userErrors { field message } } }`,
			map[string]any{"topic": "ORDERS_PAID", "webhookSubscription": map[string]any{"callbackUrl": "https://app/h", "format": "JSON"}})
		subs := srv.Subscriptions(shop)
		if len(subs) != 1 || subs[0].URI != "https://app/h" || subs[0].Topic != "ORDERS_PAID" {
			t.Errorf("subscriptions %+v after %s", subs, compact(body))
		}
	})

	t.Run("a compliance topic is not in the topic enum", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		_, body := graphQL(t, srv, srv.IssueToken(shop), `mutation { webhookSubscriptionCreate(topic: $topic, webhookSubscription: $w) { userErrors { message } } }`,
			map[string]any{"topic": "SHOP_REDACT", "webhookSubscription": map[string]any{"uri": "https://app/h"}})
		if !bytes.Contains([]byte(compact(body)), []byte("INVALID_VARIABLE")) {
			t.Errorf("answer %s", compact(body))
		}
	})

	t.Run("aliases and comments do not hide the root field", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		srv.Handle("shop", func(shop string, _ map[string]any) any { return map[string]any{"name": shop} })
		_, body := graphQL(t, srv, srv.IssueToken(shop), "# the shop\nquery q($x: Int = 1) {\n  s: shop { name }\n}", nil)
		if compact(body["data"]) != `{"shop":{"name":"snowdevil.myshopify.com"}}` {
			t.Errorf("answer %s", compact(body))
		}
	})

	t.Run("requests are logged with shop, version, field and status", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		srv.FailNext(1, http.StatusServiceUnavailable, "")
		token := srv.IssueToken(shop)
		graphQL(t, srv, token, list, nil)
		graphQL(t, srv, token, list, nil)
		got := srv.Requests()
		if len(got) != 2 || got[0].Status != 503 || got[1].Status != 200 || got[1].Field != "webhookSubscriptions" ||
			got[1].Shop != shop || got[1].Version != "2026-07" {
			t.Errorf("requests = %+v", got)
		}
		if srv.Calls("webhookSubscriptions") != 1 {
			t.Errorf("Calls = %d, want 1", srv.Calls("webhookSubscriptions"))
		}
	})
}
