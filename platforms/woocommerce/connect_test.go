package woocommerce

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"loyalty/platforms/woocommerce/woocommercetest"
)

func TestNormalizeStoreURL(t *testing.T) {
	tests := []struct {
		name, raw string
		allowHTTP bool
		want      string // "" means an error
	}{
		{"an https address is kept", "https://shop.example.com", false, "https://shop.example.com"},
		{"the trailing slash goes", "https://shop.example.com/", false, "https://shop.example.com"},
		{"the host is lower-cased", "https://Shop.Example.COM", false, "https://shop.example.com"},
		{"a bare host gets https", "shop.example.com", false, "https://shop.example.com"},
		{"spaces around are dropped", "  https://shop.example.com/ \n", false, "https://shop.example.com"},
		{"a sub-path install is kept", "https://example.com/shop/", false, "https://example.com/shop"},
		{"the path keeps its case", "https://example.com/Shop", false, "https://example.com/Shop"},
		{"query and fragment go", "https://example.com/shop/?utm_source=x#top", false, "https://example.com/shop"},
		{"the default port goes", "https://example.com:443/", false, "https://example.com"},
		{"another port stays", "https://example.com:8443", false, "https://example.com:8443"},
		{"a pasted admin address is cut back", "https://example.com/shop/wp-admin/admin.php?page=wc-settings", false, "https://example.com/shop"},
		{"a pasted API address is cut back", "https://example.com/wp-json/wc/v3/", false, "https://example.com"},
		{"double slashes collapse", "https://example.com//shop//", false, "https://example.com/shop"},
		{"an IPv6 host", "https://[2001:DB8::1]:8443/", false, "https://[2001:db8::1]:8443"},
		{"plain http is refused", "http://shop.example.com", false, ""},
		{"plain http when allowed", "http://localhost:8080/", true, "http://localhost:8080"},
		{"http's default port goes when allowed", "HTTP://LOCALHOST:80", true, "http://localhost"},
		{"another scheme is refused", "ftp://shop.example.com", true, ""},
		{"user info is refused", "https://admin:pw@shop.example.com", false, ""},
		{"empty", "", false, ""},
		{"no host", "https:///shop", false, ""},
		{"not a URL", "https://exa mple.com", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeStoreURL(tt.raw, tt.allowHTTP)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("NormalizeStoreURL(%q) = %q, want an error", tt.raw, got)
			case tt.want != "" && (err != nil || got != tt.want):
				t.Errorf("NormalizeStoreURL(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestAuthorizeURL(t *testing.T) {
	got := AuthorizeURL("https://example.com/shop", "Loyalty Points", "st4te_-x",
		"https://app.example/auth/woocommerce/return", "https://app.example/auth/woocommerce/callback")
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != "https://example.com/shop/wc-auth/v1/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	want := url.Values{
		"app_name":     {"Loyalty Points"},
		"scope":        {"read_write"},
		"user_id":      {"st4te_-x"},
		"return_url":   {"https://app.example/auth/woocommerce/return"},
		"callback_url": {"https://app.example/auth/woocommerce/callback"},
	}
	if u.Query().Encode() != want.Encode() {
		t.Errorf("query = %v, want %v", u.Query(), want)
	}
}

func TestParseConnectCallback(t *testing.T) {
	const ck, cs = "ck_0123456789abcdef0123456789abcdef01234567", "cs_89abcdef0123456789abcdef0123456789abcdef"
	t.Run("the documentation's example, user_id a number", func(t *testing.T) {
		got, err := ParseConnectCallback(fixture(t, "wc_auth_callback_example.json"))
		want := Keys{KeyID: 1, State: "123", ConsumerKey: "ck_xxxxxxxxxxxxxxxx", ConsumerSecret: "cs_xxxxxxxxxxxxxxxx", Permissions: "read_write"}
		if err != nil || got != want {
			t.Errorf("= %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("user_id a string, as the code sends it", func(t *testing.T) {
		body := `{"key_id":17,"user_id":"f3a9c0de","consumer_key":"` + ck + `","consumer_secret":"` + cs + `","key_permissions":"read_write"}`
		got, err := ParseConnectCallback([]byte(body))
		want := Keys{KeyID: 17, State: "f3a9c0de", ConsumerKey: ck, ConsumerSecret: cs, Permissions: "read_write"}
		if err != nil || got != want {
			t.Errorf("= %+v, %v; want %+v", got, err, want)
		}
		if strings.Contains(got.String(), cs) {
			t.Errorf("Keys.String shows the secret: %s", got)
		}
	})

	refused := []struct {
		name, body, says string
	}{
		{"not JSON", `key_id=1`, "not the JSON"},
		{"no consumer key", `{"key_id":1,"user_id":"s","consumer_secret":"` + cs + `","key_permissions":"read_write"}`, "consumer_key"},
		{"no consumer secret", `{"key_id":1,"user_id":"s","consumer_key":"` + ck + `","key_permissions":"read_write"}`, "consumer_secret"},
		{"keys swapped", `{"key_id":1,"user_id":"s","consumer_key":"` + cs + `","consumer_secret":"` + ck + `","key_permissions":"read_write"}`, "ck_"},
		{"read-only keys", `{"key_id":1,"user_id":"s","consumer_key":"` + ck + `","consumer_secret":"` + cs + `","key_permissions":"read"}`, `"read"`},
		{"no state", `{"key_id":1,"consumer_key":"` + ck + `","consumer_secret":"` + cs + `","key_permissions":"read_write"}`, "user_id"},
		{"no key id", `{"user_id":"s","consumer_key":"` + ck + `","consumer_secret":"` + cs + `","key_permissions":"read_write"}`, "key_id"},
		{"a secret with odd characters", `{"key_id":1,"user_id":"s","consumer_key":"` + ck + `","consumer_secret":"cs_a b","key_permissions":"read_write"}`, "consumer_secret"},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			_, err := ParseConnectCallback([]byte(tt.body))
			if !errors.Is(err, ErrBadCallback) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want ErrBadCallback saying %q", err, tt.says)
			}
			if strings.Contains(err.Error(), cs[3:]) || strings.Contains(err.Error(), ck[3:]) {
				t.Errorf("error %q shows a key", err)
			}
		})
	}
}

// connectRun is one merchant's trip through the fake store's app-connect
// screen: the callback the store posted, and where it sent the merchant.
type connectRun struct {
	callbacks []Keys
	rawBodies []string
	location  *url.URL
	status    int
	page      string
}

func runConnect(t *testing.T, store *woocommercetest.Store, answer int, state string) connectRun {
	t.Helper()
	var run connectRun
	var mu sync.Mutex
	callback := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		keys, err := ParseConnectCallback(body)
		mu.Lock()
		run.rawBodies = append(run.rawBodies, string(body))
		if err == nil {
			run.callbacks = append(run.callbacks, keys)
		}
		mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(answer)
	}))
	t.Cleanup(callback.Close)

	browser := store.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(AuthorizeURL(store.URL, "Loyalty Points", state, "https://app.example/return?from=wc", callback.URL+"/callback"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	run.status, run.page = resp.StatusCode, string(page)
	if loc := resp.Header.Get("Location"); loc != "" {
		run.location, _ = url.Parse(loc)
	}
	return run
}

func TestConnectingAStore(t *testing.T) {
	t.Run("the merchant approves and the app answers 200", func(t *testing.T) {
		store := woocommercetest.New(t)
		run := runConnect(t, store, http.StatusOK, "c0nnect-state_1")
		if run.status != http.StatusFound || run.location == nil {
			t.Fatalf("answer = %d %s", run.status, run.page)
		}
		q := run.location.Query()
		if run.location.Host != "app.example" || q.Get("success") != "1" || q.Get("user_id") != "c0nnect-state_1" || q.Get("from") != "wc" {
			t.Errorf("redirect = %s", run.location)
		}
		if len(run.callbacks) != 1 || !strings.Contains(run.rawBodies[0], `"user_id":"c0nnect-state_1"`) {
			t.Fatalf("callbacks = %v (user_id must come as a string)", run.rawBodies)
		}
		keys := run.callbacks[0]
		stored := store.Keys()
		if len(stored) != 1 || stored[0].ConsumerKey != keys.ConsumerKey || stored[0].Permissions != "read_write" {
			t.Fatalf("store keys = %+v, callback %s", stored, keys)
		}
		// The keys work, which is how the app checks a callback it cannot
		// otherwise authenticate.
		c := NewClient(store.URL, keys.ConsumerKey, keys.ConsumerSecret, ClientOptions{HTTP: store.Client()})
		if _, err := c.SystemStatus(context.Background()); err != nil {
			t.Errorf("SystemStatus with the new keys: %v", err)
		}
	})
	t.Run("an answer other than exactly 200 makes the store delete the keys", func(t *testing.T) {
		store := woocommercetest.New(t)
		run := runConnect(t, store, http.StatusCreated, "s")
		if run.status != http.StatusUnauthorized || !strings.Contains(run.page, "unable to send the consumer data") {
			t.Errorf("answer = %d %s", run.status, run.page)
		}
		if len(run.callbacks) != 1 || len(store.Keys()) != 0 {
			t.Errorf("callbacks %d, keys left %+v", len(run.callbacks), store.Keys())
		}
	})
	t.Run("the merchant refuses", func(t *testing.T) {
		store := woocommercetest.New(t)
		store.DenyConnect(true)
		run := runConnect(t, store, http.StatusOK, "s")
		if run.location == nil || run.location.Query().Get("success") != "0" || run.location.Query().Get("user_id") != "s" {
			t.Errorf("answer = %d, redirect %v", run.status, run.location)
		}
		if len(run.callbacks) != 0 || len(store.Keys()) != 0 {
			t.Errorf("a refusal made keys: %v", store.Keys())
		}
	})
}
