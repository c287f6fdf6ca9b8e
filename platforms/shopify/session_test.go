package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"loyalty/platforms/shopify/shopifytest"
)

// sessionVector is the self-generated session token of test_vectors.json:
// the shopify.dev example claims signed with "hush".
func sessionVector(t *testing.T) (token string, claims map[string]any) {
	t.Helper()
	for _, v := range loadOAuthVectors(t).SelfGenerated {
		if v.Kind == "shopify_session_token" {
			if v.Secret != "hush" {
				t.Fatalf("session token vector secret %q, want hush", v.Secret)
			}
			return v.Expected, v.Payload
		}
	}
	t.Fatal("test_vectors.json has no shopify_session_token vector")
	return "", nil
}

// vectorNow is a moment inside the vector's minute (nbf 1591764998, exp
// 1591765058).
var vectorNow = time.Unix(1591765000, 0)

func TestVerifySessionTokenAcceptsTheVector(t *testing.T) {
	token, _ := sessionVector(t)
	got, err := VerifySessionToken(token, "client-id-123", "hush", vectorNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Session{
		Shop:      "exampleshop.myshopify.com",
		UserID:    "42",
		SessionID: "aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685",
		ExpiresAt: time.Unix(1591765058, 0),
	}
	if got.Shop != want.Shop || got.UserID != want.UserID || got.SessionID != want.SessionID || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestVerifySessionToken(t *testing.T) {
	vector, base := sessionVector(t)
	// with returns the vector's claims changed by edits (nil deletes).
	with := func(edits map[string]any) map[string]any {
		c := maps.Clone(base)
		for k, v := range edits {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	signed := func(edits map[string]any) string { return shopifytest.SignSessionToken("hush", with(edits)) }
	exp, nbf := time.Unix(1591765058, 0), time.Unix(1591764998, 0)

	tests := []struct {
		name    string
		token   string
		now     time.Time
		expired bool // wants ErrSessionTokenExpired as well
		valid   bool
	}{
		{"the vector verifies", vector, vectorNow, false, true},
		{"re-signed claims verify", signed(nil), vectorNow, false, true},
		{"surrounding spaces are ignored", " " + vector + "\n", vectorNow, false, true},
		{"expired within the 10 s leeway still verifies", vector, exp.Add(9 * time.Second), false, true},
		{"expired beyond the leeway is refused", vector, exp.Add(11 * time.Second), true, false},
		{"not yet valid within the leeway verifies", vector, nbf.Add(-9 * time.Second), false, true},
		{"not yet valid beyond the leeway is refused", vector, nbf.Add(-11 * time.Second), true, false},
		{"a token without exp is refused", signed(map[string]any{"exp": nil}), vectorNow, false, false},
		{"a token without nbf is refused", signed(map[string]any{"nbf": nil}), vectorNow, false, false},
		{"another app's audience is refused", signed(map[string]any{"aud": "other-client"}), vectorNow, false, false},
		{"an audience list is refused", signed(map[string]any{"aud": []string{"client-id-123", "other-client"}}), vectorNow, false, false},
		{"no audience is refused", signed(map[string]any{"aud": nil}), vectorNow, false, false},
		{"another secret's signature is refused", shopifytest.SignSessionToken("not-hush", base), vectorNow, false, false},
		{"alg none is refused", noneToken(t, base), vectorNow, false, false},
		{"HS512 with the secret is refused", jwtWith(t, jwt.SigningMethodHS512, base), vectorNow, false, false},
		{"RS256 header over an HMAC signature is refused", algConfused(t, "RS256", base), vectorNow, false, false},
		{"a dest outside myshopify.com is refused", signed(map[string]any{"dest": "https://evil.com", "iss": "https://evil.com/admin"}), vectorNow, false, false},
		{"a plain-http dest is refused", signed(map[string]any{"dest": "http://exampleshop.myshopify.com", "iss": "http://exampleshop.myshopify.com/admin"}), vectorNow, false, false},
		{"a bare host dest is refused", signed(map[string]any{"dest": "exampleshop.myshopify.com"}), vectorNow, false, false},
		{"a dest with a port is refused", signed(map[string]any{"dest": "https://exampleshop.myshopify.com:8443", "iss": "https://exampleshop.myshopify.com:8443/admin"}), vectorNow, false, false},
		{"a dest with user info is refused", signed(map[string]any{"dest": "https://evil.com@exampleshop.myshopify.com"}), vectorNow, false, false},
		{"an iss of another shop is refused", signed(map[string]any{"iss": "https://othershop.myshopify.com/admin"}), vectorNow, false, false},
		{"a missing iss is refused", signed(map[string]any{"iss": nil}), vectorNow, false, false},
		{"a missing dest is refused", signed(map[string]any{"dest": nil}), vectorNow, false, false},
		{"garbage is refused", "not.a.jwt", vectorNow, false, false},
		{"an empty token is refused", "", vectorNow, false, false},
		{"a truncated signature is refused", vector[:len(vector)-4], vectorNow, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := VerifySessionToken(tt.token, "client-id-123", "hush", tt.now)
			if tt.valid {
				if err != nil {
					t.Fatalf("VerifySessionToken = %v, want nil", err)
				}
				if s.Shop != "exampleshop.myshopify.com" {
					t.Errorf("Shop = %q", s.Shop)
				}
				return
			}
			if !errors.Is(err, ErrBadSessionToken) {
				t.Fatalf("VerifySessionToken = %v, want ErrBadSessionToken", err)
			}
			if got := errors.Is(err, ErrSessionTokenExpired); got != tt.expired {
				t.Errorf("errors.Is(err, ErrSessionTokenExpired) = %v, want %v (err %v)", got, tt.expired, err)
			}
			if strings.Contains(err.Error(), "hush") {
				t.Errorf("error %q reveals the secret", err)
			}
			if s != (Session{}) {
				t.Errorf("a refused token returned %+v", s)
			}
		})
	}
}

func TestVerifySessionTokenNeedsConfiguration(t *testing.T) {
	token, _ := sessionVector(t)
	for name, args := range map[string][2]string{"no client ID": {"", "hush"}, "no secret": {"client-id-123", ""}} {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifySessionToken(token, args[0], args[1], vectorNow); !errors.Is(err, ErrBadSessionToken) {
				t.Errorf("err = %v, want ErrBadSessionToken", err)
			}
		})
	}
}

func TestVerifySessionTokenAcceptsTheFakesTokens(t *testing.T) {
	srv := shopifytest.New(t, "client-id", "client-secret")
	now := time.Now()
	s, err := VerifySessionToken(srv.SessionToken("snowdevil.myshopify.com", "42", now), "client-id", "client-secret", now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shop != "snowdevil.myshopify.com" || s.UserID != "42" || s.SessionID == "" || !s.ExpiresAt.Equal(now.Add(time.Minute).Truncate(time.Second)) {
		t.Errorf("session = %+v", s)
	}
}

func jwtWith(t *testing.T, method jwt.SigningMethod, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, jwt.MapClaims(claims)).SignedString([]byte("hush"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noneToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// algConfused builds a token whose header names alg but whose signature is
// HS256 with the secret: the classic attack on verifiers that let the token
// choose the algorithm.
func algConfused(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, []byte("hush"))
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}
