package shopify

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerifyProxyWithShopifysPublishedExamples(t *testing.T) {
	var vectors struct {
		Proxy []struct {
			Source   string `json:"source"`
			Secret   string `json:"secret"`
			Query    string `json:"query"`
			Expected string `json:"expected_signature"`
		} `json:"shopify_app_proxy_signature"`
	}
	if err := json.Unmarshal(sharedFile(t, "protocols/test_vectors.json"), &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Proxy) != 3 {
		t.Fatalf("%d app proxy vectors, want 3", len(vectors.Proxy))
	}
	for _, v := range vectors.Proxy {
		t.Run(v.Source, func(t *testing.T) {
			q, err := url.ParseQuery(v.Query)
			if err != nil {
				t.Fatal(err)
			}
			if got := SignProxy(q, v.Secret); got != v.Expected {
				t.Fatalf("SignProxy = %s, want %s", got, v.Expected)
			}
			req, err := VerifyProxy(q, time.Now(), 0, v.Secret)
			if err != nil || req.Shop != "shop-name.myshopify.com" {
				t.Fatalf("VerifyProxy = %+v, %v", req, err)
			}
		})
	}
}

func TestVerifyProxyRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	signed := func(edit func(url.Values)) url.Values {
		q := url.Values{"shop": {"sklep.myshopify.com"}, "logged_in_customer_id": {"7000000000000000001"},
			"path_prefix": {"/apps/loyalty"}, "timestamp": {"1800000000"}}
		q.Set("signature", SignProxy(q, "hush"))
		if edit != nil {
			edit(q)
		}
		return q
	}
	if req, err := VerifyProxy(signed(nil), now, 90*time.Second, "hush"); err != nil || req.CustomerID != "7000000000000000001" {
		t.Fatalf("a good request: %+v, %v", req, err)
	}
	tests := map[string]url.Values{
		"another customer's id swapped in":    signed(func(q url.Values) { q.Set("logged_in_customer_id", "7000000000000000002") }),
		"a customer id added to a guest call": signed(func(q url.Values) { q.Add("logged_in_customer_id", "2") }),
		"another shop":                        signed(func(q url.Values) { q.Set("shop", "inny.myshopify.com") }),
		"a stale timestamp":                   signed(func(q url.Values) { q.Set("timestamp", "1799999000"); q.Set("signature", SignProxy(q, "hush")) }),
		"a signature with another secret":     signed(func(q url.Values) { q.Set("signature", SignProxy(q, "other")) }),
		"no signature":                        signed(func(q url.Values) { q.Del("signature") }),
		"garbage signature":                   signed(func(q url.Values) { q.Set("signature", "zz") }),
		"a shop that is not myshopify.com":    signed(func(q url.Values) { q.Set("shop", "evil.com"); q.Set("signature", SignProxy(q, "hush")) }),
		"a parameter boundary shifted into the customer id": signed(func(q url.Values) {
			q.Set("logged_in_customer_id", "7000000000000000001path_prefix=/apps/loyalty")
			q.Del("path_prefix")
		}),
	}
	for name, q := range tests {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := VerifyProxy(q, now, 90*time.Second, "hush"); !errors.Is(err, ErrBadProxySignature) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("accepts the previous secret during a rotation", func(t *testing.T) {
		if _, err := VerifyProxy(signed(nil), now, 90*time.Second, "new-secret", "hush"); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzVerifyProxy(f *testing.F) {
	f.Add("extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id=1&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555&signature=4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := VerifyProxy(q, time.Now(), 0, "hush")
		if err != nil {
			return
		}
		// Only a correct signature verifies (hex is case-insensitive), and
		// a verified customer id is always a plain number.
		if !strings.EqualFold(SignProxy(q, "hush"), q.Get("signature")) {
			t.Fatalf("verified a wrong signature: %s", raw)
		}
		if _, err := strconv.ParseUint(req.CustomerID, 10, 64); req.CustomerID != "" && err != nil {
			t.Fatalf("verified a customer id that is not a number: %q", req.CustomerID)
		}
	})
}
