package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"loyalty/platforms/shopify/shopifytest"
)

// oauthVectors is the part of shared/protocols/test_vectors.json the OAuth
// and session-token tests use.
type oauthVectors struct {
	QueryHMAC []struct {
		Source       string `json:"source"`
		Secret       string `json:"secret"`
		Query        string `json:"query"`
		Message      string `json:"message"`
		ExpectedHMAC string `json:"expected_hmac"`
	} `json:"shopify_oauth_query_hmac"`
	SelfGenerated []struct {
		Kind     string         `json:"kind"`
		Secret   string         `json:"secret"`
		Payload  map[string]any `json:"payload"`
		Expected string         `json:"expected"`
	} `json:"self_generated"`
}

func loadOAuthVectors(tb testing.TB) oauthVectors {
	tb.Helper()
	var v oauthVectors
	if err := json.Unmarshal(sharedFile(tb, "protocols/test_vectors.json"), &v); err != nil {
		tb.Fatalf("test_vectors.json: %v", err)
	}
	if len(v.QueryHMAC) == 0 {
		tb.Fatal("test_vectors.json has no shopify_oauth_query_hmac vectors")
	}
	return v
}

func mustParseQuery(tb testing.TB, raw string) url.Values {
	tb.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func TestVerifyQueryHMACAcceptsEveryPublishedVector(t *testing.T) {
	for _, v := range loadOAuthVectors(t).QueryHMAC {
		t.Run(v.Source, func(t *testing.T) {
			q := mustParseQuery(t, v.Query)
			if got := queryMessage(q); got != v.Message {
				t.Errorf("message = %s\nwant      %s", got, v.Message)
			}
			if got := SignQuery(q, v.Secret); got != v.ExpectedHMAC {
				t.Errorf("SignQuery = %s, want %s", got, v.ExpectedHMAC)
			}
			if err := VerifyQueryHMAC(q, v.Secret); err != nil {
				t.Errorf("VerifyQueryHMAC = %v, want nil", err)
			}
		})
	}
}

func TestVerifyQueryHMAC(t *testing.T) {
	// The go-shopify urlOk vector, with its legacy signature parameter.
	const ok = "code=0907a61c0c8d55e99db179b68161bc00&hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20&shop=some-shop.myshopify.com&signature=11813d1e7bbf4629edcda0628a3f7a20&timestamp=1337178173"
	with := func(key, value string) url.Values {
		q := mustParseQuery(t, ok)
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		return q
	}
	signed := func(q url.Values) url.Values {
		q.Set("hmac", SignQuery(q, "hush"))
		return q
	}
	nodeSigned := func(raw, message string) url.Values {
		q := mustParseQuery(t, raw)
		q.Set("hmac", fmt.Sprintf("%x", mac([]byte(message), "hush")))
		return q
	}
	tests := []struct {
		name   string
		query  url.Values
		secret string
		valid  bool
	}{
		{"published vector verifies", with("hmac", "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"), "hush", true},
		{"urlNotOk: a changed timestamp fails", with("timestamp", "133717817"), "hush", false},
		{"a tampered shop fails", with("shop", "other-shop.myshopify.com"), "hush", false},
		{"an added parameter fails", with("state", "abcd"), "hush", false},
		{"the legacy signature is not signed", with("signature", "anything"), "hush", true},
		{"upper-case hex is the same digest", with("hmac", "4712BF92FFC2917D15A2F5A273E39F0116667419AA4B6AC0B3BAAF26FA3C4D20"), "hush", true},
		{"another secret fails", with("hmac", "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"), "other", false},
		{"an empty secret fails", with("hmac", "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"), "", false},
		{"a missing hmac fails", with("hmac", ""), "hush", false},
		{"a non-hex hmac fails", with("hmac", "R3/yWNrv9wL9r0u6k1iUt5HNpJY="), "hush", false},
		{"a truncated hmac fails", with("hmac", "4712bf92ffc2917d"), "hush", false},
		{"multiple values are signed joined by commas", signed(mustParseQuery(t, "ids[]=1&ids[]=2&shop=some-shop.myshopify.com&timestamp=1")), "hush", true},
		{"values signed form-encoded, as Shopify's Node library does, verify",
			nodeSigned("host=YWRtaW4=&shop=some-shop.myshopify.com&state=a b", "host=YWRtaW4%3D&shop=some-shop.myshopify.com&state=a%20b"), "hush", true},
		{"a & inside a value cannot pass for two parameters",
			nodeSigned("shop=some-shop.myshopify.com&state=x%26timestamp%3D1", "shop=some-shop.myshopify.com&state=x&timestamp=1"), "hush", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyQueryHMAC(tt.query, tt.secret)
			if tt.valid && err != nil {
				t.Fatalf("VerifyQueryHMAC = %v, want nil", err)
			}
			if !tt.valid {
				if !errors.Is(err, ErrBadQueryHMAC) {
					t.Fatalf("VerifyQueryHMAC = %v, want ErrBadQueryHMAC", err)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q reveals the secret", err)
				}
			}
		})
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	at := func(offset time.Duration) url.Values {
		return url.Values{"timestamp": {fmt.Sprint(now.Add(offset).Unix())}}
	}
	tests := []struct {
		name      string
		query     url.Values
		tolerance time.Duration
		fresh     bool
	}{
		{"now is fresh", at(0), 0, true},
		{"89 s ago is within the default 90 s", at(-89 * time.Second), 0, true},
		{"91 s ago is stale", at(-91 * time.Second), 0, false},
		{"89 s ahead (clock skew) is fresh", at(89 * time.Second), 0, true},
		{"91 s ahead is stale", at(91 * time.Second), 0, false},
		{"a wider tolerance admits older requests", at(-5 * time.Minute), 10 * time.Minute, true},
		{"a narrower tolerance refuses sooner", at(-20 * time.Second), 10 * time.Second, false},
		{"the 2012 vectors are stale today", url.Values{"timestamp": {"1337178173"}}, 0, false},
		{"a missing timestamp is stale", url.Values{}, 0, false},
		{"a blank timestamp is stale", url.Values{"timestamp": {" "}}, 0, false},
		{"a non-numeric timestamp is stale", url.Values{"timestamp": {"yesterday"}}, 0, false},
		{"a fractional timestamp is stale", url.Values{"timestamp": {"1700000000.5"}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTimestamp(tt.query, now, tt.tolerance)
			if tt.fresh && err != nil {
				t.Fatalf("CheckTimestamp = %v, want nil", err)
			}
			if !tt.fresh && !errors.Is(err, ErrStaleRequest) {
				t.Fatalf("CheckTimestamp = %v, want ErrStaleRequest", err)
			}
		})
	}
}

func TestValidShopDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"snowdevil.myshopify.com", "snowdevil.myshopify.com", true},
		{"  SnowDevil.MyShopify.com ", "snowdevil.myshopify.com", true},
		{"snow-devil-2.myshopify.com", "snow-devil-2.myshopify.com", true},
		{"0shop.myshopify.com", "0shop.myshopify.com", true},
		{"admin.shopify.com/store/snowdevil", "snowdevil.myshopify.com", true},
		{"admin.shopify.com/store/snowdevil/", "snowdevil.myshopify.com", true},
		{"admin.shopify.com/store/snow.devil", "", false},
		{"admin.shopify.com/store/", "", false},
		{"https://snowdevil.myshopify.com", "", false},
		{"snowdevil.myshopify.com/", "", false},
		{"snowdevil.myshopify.com/admin", "", false},
		{"snowdevil.myshopify.com:443", "", false},
		{"snowdevil.myshopify.com.evil.com", "", false},
		{"evil.com/snowdevil.myshopify.com", "", false},
		{"snowdevil.myshopify.io", "", false},
		{"snowdevil.shopify.com", "", false},
		{"snowdevil.com", "", false},
		{"-snowdevil.myshopify.com", "", false},
		{"snow_devil.myshopify.com", "", false},
		{"snow.devil.myshopify.com", "", false},
		{".myshopify.com", "", false},
		{"myshopify.com", "", false},
		{"user@snowdevil.myshopify.com", "", false},
		{"snowdevil.myshopify.com\n", "snowdevil.myshopify.com", true},
		{"snowdevil.myshopify.com%0a", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ValidShopDomain(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ValidShopDomain(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAuthorizeURL(t *testing.T) {
	tests := []struct {
		name string
		o    OAuth
		want string
	}{
		{
			"go-shopify's example, in Shopify's documented order",
			OAuth{APIKey: "apikey", Scopes: []string{"read_products"}, RedirectURL: "https://example.com/callback"},
			"https://fooshop.myshopify.com/admin/oauth/authorize?client_id=apikey&scope=read_products&redirect_uri=https%3A%2F%2Fexample.com%2Fcallback&state=thenonce",
		},
		{
			"scopes are joined by plain commas and no grant_options asks for an offline token",
			OAuth{APIKey: "apikey", Scopes: []string{"read_orders", "write_discounts"}, RedirectURL: "https://app.example.com/auth/callback?x=1"},
			"https://fooshop.myshopify.com/admin/oauth/authorize?client_id=apikey&scope=read_orders,write_discounts&redirect_uri=https%3A%2F%2Fapp.example.com%2Fauth%2Fcallback%3Fx%3D1&state=thenonce",
		},
		{
			"BaseURL replaces the shop's origin",
			OAuth{APIKey: "k", Scopes: []string{"read_orders"}, RedirectURL: "https://a/cb", BaseURL: func(shop string) string { return "http://127.0.0.1:9/shops/" + shop + "/" }},
			"http://127.0.0.1:9/shops/fooshop.myshopify.com/admin/oauth/authorize?client_id=k&scope=read_orders&redirect_uri=https%3A%2F%2Fa%2Fcb&state=thenonce",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.o.AuthorizeURL("fooshop.myshopify.com", "thenonce")
			if got != tt.want {
				t.Errorf("AuthorizeURL =\n%s\nwant\n%s", got, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if u.Query().Has("grant_options[]") {
				t.Error("an offline token request must not carry grant_options[]")
			}
		})
	}
}

func TestMissingScopes(t *testing.T) {
	tests := []struct {
		name              string
		granted, required []string
		want              []string
	}{
		{"all granted", []string{"read_orders", "write_discounts"}, []string{"read_orders", "write_discounts"}, nil},
		{"write implies read", []string{"write_orders"}, []string{"read_orders"}, nil},
		{"read does not imply write", []string{"read_discounts"}, []string{"write_discounts"}, []string{"write_discounts"}},
		{"unauthenticated write implies unauthenticated read", []string{"unauthenticated_write_checkouts"}, []string{"unauthenticated_read_checkouts"}, nil},
		{"write does not imply another resource", []string{"write_orders"}, []string{"read_customers"}, []string{"read_customers"}},
		{"missing ones keep the required order, once each", []string{"read_orders"}, []string{"write_discounts", "read_orders", "read_customers", "write_discounts"}, []string{"write_discounts", "read_customers"}},
		{"spaces around scopes are ignored", []string{" read_orders "}, []string{"read_orders "}, nil},
		{"nothing granted", nil, []string{"read_orders"}, []string{"read_orders"}},
		{"nothing required", []string{"read_orders"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MissingScopes(tt.granted, tt.required); !slices.Equal(got, tt.want) {
				t.Errorf("MissingScopes = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenScopesAndExpiry(t *testing.T) {
	tok := Token{Scope: "write_orders, read_customers,,"}
	if got := tok.Scopes(); !slices.Equal(got, []string{"write_orders", "read_customers"}) {
		t.Errorf("Scopes = %q", got)
	}
	if tok.Expiring() {
		t.Error("a token without ExpiresAt is not expiring")
	}
	if !(Token{ExpiresAt: time.Unix(1, 0)}).Expiring() {
		t.Error("a token with ExpiresAt is expiring")
	}
}

func TestTokenNeverPrintsItsSecrets(t *testing.T) {
	tok := Token{AccessToken: "shpua_secret123", RefreshToken: "shprt_secret456", Scope: "read_orders"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		got := fmt.Sprintf(format, tok)
		if strings.Contains(got, "secret") {
			t.Errorf("Sprintf(%s) = %s reveals a token", format, got)
		}
		if !strings.Contains(got, "read_orders") {
			t.Errorf("Sprintf(%s) = %s hides the scope", format, got)
		}
	}
}

func TestNewAPIErrorReadsEveryShopifyErrorShape(t *testing.T) {
	tests := []struct {
		name, body string
		code, msg  string
	}{
		{"oauth error", `{"error":"invalid_request","error_description":"The authorization code was not found or was already used"}`, "invalid_request", "The authorization code was not found or was already used"},
		{"oauth error without description", `{"error":"invalid_client"}`, "invalid_client", "invalid_client"},
		{"admin errors string", `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`, "", "[API] Invalid API key or access token (unrecognized login or wrong password)"},
		{"admin errors by field", `{"errors":{"query":"Required parameter missing or invalid","base":["a","b"]}}`, "", "base: a, b; query: Required parameter missing or invalid"},
		{"graphql errors", `{"errors":[{"message":"Access denied for shop field.","extensions":{"code":"ACCESS_DENIED"}},{"message":"second"}]}`, "ACCESS_DENIED", "Access denied for shop field.; second"},
		{"not json", `<html>Bad Gateway</html>`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError(502, []byte(tt.body))
			if e.Status != 502 || e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("got %+v, want code %q message %q", *e, tt.code, tt.msg)
			}
		})
	}
}

// newTestOAuth returns an OAuth for the app the fake Shopify knows.
func newTestOAuth(srv *shopifytest.Server) *OAuth {
	return &OAuth{
		APIKey:      srv.APIKey,
		APISecret:   srv.APISecret,
		Scopes:      []string{"read_orders", "read_customers", "write_discounts"},
		RedirectURL: "https://app.example.com/auth/callback",
		HTTP:        srv.Client(),
		BaseURL:     srv.BaseURL,
	}
}

func TestExchangeCode(t *testing.T) {
	const shop = "snowdevil.myshopify.com"
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	t.Run("returns an expiring offline token with its refresh token", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		tok, err := newTestOAuth(srv).ExchangeCode(ctx, shop, srv.IssueCode(shop, "write_orders", "read_customers"), now)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.AccessToken, "shpua_") || !strings.HasPrefix(tok.RefreshToken, "shprt_") {
			t.Errorf("token = %+v", tok)
		}
		if !slices.Equal(tok.Scopes(), []string{"write_orders", "read_customers"}) {
			t.Errorf("Scopes = %q", tok.Scopes())
		}
		if !tok.Expiring() || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || !tok.RefreshExpiresAt.Equal(now.Add(90*24*time.Hour)) {
			t.Errorf("expiries = %v, %v", tok.ExpiresAt, tok.RefreshExpiresAt)
		}
		// The fake grants an expiring token only to requests with expiring=1.
	})

	t.Run("a code works once", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		o := newTestOAuth(srv)
		code := srv.IssueCode(shop)
		if _, err := o.ExchangeCode(ctx, shop, code, now); err != nil {
			t.Fatal(err)
		}
		_, err := o.ExchangeCode(ctx, shop, code, now)
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("second exchange = %v, want *APIError", err)
		}
		if apiErr.Status != http.StatusBadRequest || apiErr.Code != "invalid_request" || apiErr.Message != shopifytest.MsgCodeUsed {
			t.Errorf("APIError = %+v", *apiErr)
		}
		if !strings.Contains(err.Error(), shop) || strings.Contains(err.Error(), o.APISecret) {
			t.Errorf("error %q must name the shop and not the secret", err)
		}
	})

	t.Run("a code issued for another shop is refused", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		_, err := newTestOAuth(srv).ExchangeCode(ctx, shop, srv.IssueCode("other.myshopify.com"), now)
		if !isAPIError(err, http.StatusBadRequest) {
			t.Fatalf("err = %v, want a 400 APIError", err)
		}
	})

	t.Run("a wrong client secret is refused without being echoed", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		o := newTestOAuth(srv)
		o.APISecret = "wrong-secret-value"
		_, err := o.ExchangeCode(ctx, shop, srv.IssueCode(shop), now)
		if !isAPIError(err, http.StatusBadRequest) || strings.Contains(err.Error(), "wrong-secret-value") {
			t.Fatalf("err = %v, want a 400 APIError without the secret", err)
		}
	})

	t.Run("an invalid shop domain is refused before the secret is sent", func(t *testing.T) {
		srv := shopifytest.New(t, "client-id", "client-secret")
		_, err := newTestOAuth(srv).ExchangeCode(ctx, "evil.com", "code", now)
		if err == nil || len(srv.Requests()) != 0 {
			t.Fatalf("err = %v after %d requests, want an error and no request", err, len(srv.Requests()))
		}
	})
}

func isAPIError(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == status
}

func TestRefreshRotatesTheTokenPair(t *testing.T) {
	const shop = "snowdevil.myshopify.com"
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := shopifytest.New(t, "client-id", "client-secret")
	srv.SetClock(clock.Now)
	o := newTestOAuth(srv)

	first, err := o.ExchangeCode(ctx, shop, srv.IssueCode(shop), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // the access token has now expired
	if err := NewClient(shop, first.AccessToken, testClientOptions(srv, clock, nil)).GraphQL(ctx, `{ webhookSubscriptions(first: 1) { nodes { id } } }`, nil, nil); !isAPIError(err, http.StatusUnauthorized) {
		t.Fatalf("expired token: err = %v, want 401", err)
	}

	second, err := o.Refresh(ctx, shop, first.RefreshToken, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
		t.Errorf("refresh did not rotate the pair: %v then %v", first, second)
	}
	if !second.ExpiresAt.Equal(clock.Now().Add(time.Hour)) || second.Scope != first.Scope {
		t.Errorf("refreshed token = %v", second)
	}
	if err := NewClient(shop, second.AccessToken, testClientOptions(srv, clock, nil)).GraphQL(ctx, `{ webhookSubscriptions(first: 1) { nodes { id } } }`, nil, nil); err != nil {
		t.Errorf("refreshed token: %v", err)
	}

	_, err = o.Refresh(ctx, shop, first.RefreshToken, clock.Now())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Message != shopifytest.MsgRefreshTokenUsed {
		t.Fatalf("reusing a refresh token: err = %v, want 400 %q", err, shopifytest.MsgRefreshTokenUsed)
	}
	if strings.Contains(err.Error(), first.RefreshToken) {
		t.Errorf("error %q reveals the refresh token", err)
	}
	if _, err := o.Refresh(ctx, shop, second.RefreshToken, clock.Now()); err != nil {
		t.Errorf("the new refresh token: %v", err)
	}
}

// TestInstallRunsEndToEndAgainstTheFake walks the authorization code grant
// as the web layer will: authorize redirect, callback checks, code
// exchange, scope check, webhook registration.
func TestInstallRunsEndToEndAgainstTheFake(t *testing.T) {
	const shop = "snowdevil.myshopify.com"
	ctx := context.Background()
	now := time.Now()
	srv := shopifytest.New(t, "client-id", "client-secret")
	o := newTestOAuth(srv)

	install := srv.InstallQuery(shop, now)
	if err := VerifyQueryHMAC(install, o.APISecret); err != nil {
		t.Fatalf("install request: %v", err)
	}
	if err := CheckTimestamp(install, now, 0); err != nil {
		t.Fatalf("install request: %v", err)
	}
	shopDomain, ok := ValidShopDomain(install.Get("shop"))
	if !ok {
		t.Fatalf("install shop %q", install.Get("shop"))
	}

	noFollow := *srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(o.AuthorizeURL(shopDomain, "nonce-123"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != o.RedirectURL {
		t.Fatalf("redirected to %s, want %s", got, o.RedirectURL)
	}
	callback := loc.Query()
	if err := VerifyQueryHMAC(callback, o.APISecret); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if err := CheckTimestamp(callback, now, 0); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if callback.Get("state") != "nonce-123" || callback.Get("shop") != shopDomain || callback.Get("host") == "" {
		t.Fatalf("callback query = %v", callback)
	}

	tok, err := o.ExchangeCode(ctx, shopDomain, callback.Get("code"), now)
	if err != nil {
		t.Fatal(err)
	}
	if missing := MissingScopes(tok.Scopes(), o.Scopes); missing != nil {
		t.Fatalf("missing scopes %q", missing)
	}
	client := NewClient(shopDomain, tok.AccessToken, ClientOptions{HTTP: srv.Client(), BaseURL: srv.BaseURL})
	if err := client.RegisterWebhooks(ctx, "https://app.example.com/webhooks/shopify", []string{TopicOrdersPaid, TopicAppUninstalled}); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Subscriptions(shopDomain)); got != 2 {
		t.Errorf("%d subscriptions, want 2", got)
	}
	if info, err := client.ShopInfo(ctx); err != nil || info.Name != "snowdevil" || info.Currency != "USD" {
		t.Errorf("ShopInfo = %+v, %v", info, err)
	}
}
