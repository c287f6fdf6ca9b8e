package shopify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVerifyAcceptsExactlyThePublishedVectors(t *testing.T) {
	for _, v := range loadTestVectors(t).WebhookHMAC {
		name := v.Source
		if v.Valid {
			name = "valid: " + name
		} else {
			name = "invalid: " + name
		}
		t.Run(name, func(t *testing.T) {
			err := Verify([]byte(v.Body), v.Header, v.Secret)
			if v.Valid && err != nil {
				t.Errorf("Verify(%q, %q) = %v, want nil", v.Body, v.Header, err)
			}
			if !v.Valid && !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify(%q, %q) = %v, want ErrBadSignature", v.Body, v.Header, err)
			}
		})
	}
}

func TestVerifyAcceptsSignaturesOfTheFixtureFiles(t *testing.T) {
	files := 0
	for _, v := range loadTestVectors(t).SelfGenerated {
		if v.Kind != "shopify_webhook_file" {
			continue
		}
		files++
		// The vectors name the files samples/…; they are stored under fixtures/.
		rel := "fixtures/" + strings.TrimPrefix(v.File, "samples/")
		t.Run(rel, func(t *testing.T) {
			body := sharedFile(t, rel)
			if got := Sign(body, v.Secret); got != v.Expected {
				t.Errorf("Sign = %s, want %s", got, v.Expected)
			}
			if err := Verify(body, v.Expected, v.Secret); err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
		})
	}
	if files == 0 {
		t.Fatal("no shopify_webhook_file vectors")
	}
}

func TestSignMatchesTheDocumentedVectors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"quoted go-shopify message", `"my secret message"`, "hMTq0K2x7oyOjoBwGYeTj5oxfnaVYXzbanUG9aajpKI="},
		{"bare message differs from the quoted one", `my secret message`, "7/WDe43pNWxHoCMD7ukeWbZMtWEMfYQy8wPrdA6jiwc="},
		{"two-byte empty JSON string", `""`, "ZAZ6P4c14f6v798OCPYCodtdf9g8Z+GfthdfCgyhUYg="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign([]byte(tt.body), "hush"); got != tt.want {
				t.Errorf("Sign(%q, hush) = %s, want %s", tt.body, got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := fixture(t, "orders_paid.json")
	const ordersPaidHMAC = "vzceRpjYyqJGenPaDJzDMKUPemGJ6t+Tkovs5++dx2Y="
	tests := []struct {
		name      string
		body      []byte
		signature string
		secrets   []string
		want      error // nil, or the sentinel the error must wrap
	}{
		{"current secret verifies", body, ordersPaidHMAC, []string{"hush"}, nil},
		{"previous secret still verifies during rotation", body, ordersPaidHMAC, []string{"new-secret", "hush"}, nil},
		{"empty secrets are skipped, not matched", body, Sign(body, ""), []string{"", "hush"}, ErrBadSignature},
		{"unrelated secret is rejected", body, ordersPaidHMAC, []string{"new-secret", "other"}, ErrBadSignature},
		{"one changed byte of body is rejected", append(bytes.Clone(body[:len(body)-1]), ' '), ordersPaidHMAC, []string{"hush"}, ErrBadSignature},
		{"empty header is a missing signature", body, "", []string{"hush"}, ErrMissingSignature},
		{"blank header is a missing signature", body, "   ", []string{"hush"}, ErrMissingSignature},
		{"9-byte HMAC is rejected", body, "YmxhaGJsYWgK", []string{"hush"}, ErrBadSignature},
		{"bad base64 is rejected", body, "XXXXXaGVsbG8=", []string{"hush"}, ErrBadSignature},
		{"URL-safe base64 is not Shopify's encoding", body, strings.NewReplacer("+", "-", "/", "_").Replace(ordersPaidHMAC), []string{"hush"}, ErrBadSignature},
		{"hex digest is rejected", body, "ac3560a67dd9ed3f46cf1807856b78f27c9543b5ae98f5292d8eccf6252254f0", []string{"hush"}, ErrBadSignature},
		{"no secret is a configuration error", body, ordersPaidHMAC, nil, ErrNoSecret},
		{"only empty secrets is a configuration error", body, ordersPaidHMAC, []string{"", ""}, ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.body, tt.signature, tt.secrets...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want an error wrapping %v", err, tt.want)
			}
			for _, s := range tt.secrets {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestDeliveryFromHeader(t *testing.T) {
	full := func() http.Header {
		h := http.Header{}
		h.Set("X-Shopify-Topic", "orders/paid")
		h.Set("X-Shopify-Hmac-Sha256", "vzceRpjYyqJGenPaDJzDMKUPemGJ6t+Tkovs5++dx2Y=")
		h.Set("X-Shopify-Shop-Domain", "SnowDevil.myshopify.com")
		h.Set("X-Shopify-API-Version", "2026-07")
		h.Set("X-Shopify-Webhook-Id", "545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9")
		h.Set("X-Shopify-Triggered-At", "2025-07-10T16:15:47.000000Z")
		h.Set("X-Shopify-Event-Id", "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f")
		return h
	}
	want := Delivery{
		Topic:       "orders/paid",
		ShopDomain:  "snowdevil.myshopify.com",
		WebhookID:   "545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9",
		APIVersion:  "2026-07",
		EventID:     "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
		TriggeredAt: time.Date(2025, 7, 10, 16, 15, 47, 0, time.UTC),
		Signature:   "vzceRpjYyqJGenPaDJzDMKUPemGJ6t+Tkovs5++dx2Y=",
	}
	lowercased := http.Header{}
	for k, v := range full() {
		lowercased[strings.ToLower(k)] = v // as an HTTP/2 frame carries them
	}
	unprefixed := http.Header{}
	for k, v := range full() {
		unprefixed.Set(strings.TrimPrefix(k, "X-"), v[0])
	}
	with := func(key, value string) http.Header {
		h := full()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	withTime := func(ts time.Time) Delivery {
		d := want
		d.TriggeredAt = ts
		return d
	}

	tests := []struct {
		name    string
		header  http.Header
		want    Delivery
		missing string // the header a missing-header error must name
	}{
		{"canonical headers are all read", full(), want, ""},
		{"lower-cased names (HTTP/2) are read", lowercased, want, ""},
		{"unprefixed shopify-* names of event deliveries are read", unprefixed, want, ""},
		{"shop domain is lower-cased", with("X-Shopify-Shop-Domain", "SNOWDEVIL.MYSHOPIFY.COM"), want, ""},
		{"triggered-at without fractional seconds", with("X-Shopify-Triggered-At", "2025-07-10T16:15:47Z"), want, ""},
		{"triggered-at with an offset", with("X-Shopify-Triggered-At", "2025-07-10T12:15:47-04:00"), withTime(time.Date(2025, 7, 10, 12, 15, 47, 0, time.FixedZone("", -4*3600))), ""},
		{"unreadable triggered-at is the zero time", with("X-Shopify-Triggered-At", "yesterday"), withTime(time.Time{}), ""},
		{"absent triggered-at is the zero time", with("X-Shopify-Triggered-At", ""), withTime(time.Time{}), ""},
		{"missing signature is left to Verify", with("X-Shopify-Hmac-Sha256", ""), func() Delivery { d := want; d.Signature = ""; return d }(), ""},
		{"missing topic is an error", with("X-Shopify-Topic", ""), Delivery{}, "X-Shopify-Topic"},
		{"missing shop domain is an error", with("X-Shopify-Shop-Domain", ""), Delivery{}, "X-Shopify-Shop-Domain"},
		{"missing webhook id is an error", with("X-Shopify-Webhook-Id", ""), Delivery{}, "X-Shopify-Webhook-Id"},
		{"blank webhook id is an error", with("X-Shopify-Webhook-Id", "  "), Delivery{}, "X-Shopify-Webhook-Id"},
		{"no headers at all is an error", http.Header{}, Delivery{}, "X-Shopify-Topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeliveryFromHeader(tt.header)
			if tt.missing != "" {
				if !errors.Is(err, ErrMissingHeader) || !strings.Contains(err.Error(), tt.missing) {
					t.Fatalf("err = %v, want ErrMissingHeader naming %s", err, tt.missing)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !got.TriggeredAt.Equal(tt.want.TriggeredAt) {
				t.Errorf("TriggeredAt = %v, want %v", got.TriggeredAt, tt.want.TriggeredAt)
			}
			got.TriggeredAt, tt.want.TriggeredAt = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`"my secret message"`), "hush", "hMTq0K2x7oyOjoBwGYeTj5oxfnaVYXzbanUG9aajpKI=", uint(0))
	f.Add([]byte(`""`), "hush", "YmxhaGJsYWgK", uint(1))
	f.Add([]byte{}, "", "XXXXXaGVsbG8=", uint(7))
	f.Add(fixture(f, "orders_paid.json"), "hush", "vzceRpjYyqJGenPaDJzDMKUPemGJ6t+Tkovs5++dx2Y=", uint(1000))
	f.Fuzz(func(t *testing.T, body []byte, secret, signature string, pos uint) {
		// Whatever arrives, Verify answers without panicking.
		_ = Verify(body, signature, secret)
		_ = Verify(body, signature, secret, "previous")
		if secret == "" {
			return
		}
		good := Sign(body, secret)
		if err := Verify(body, good, secret); err != nil {
			t.Fatalf("Verify(body, Sign(body, secret)) = %v", err)
		}
		if err := Verify(body, good, "rotated", secret); err != nil {
			t.Fatalf("Verify with the secret second = %v", err)
		}
		if len(body) > 0 {
			flipped := bytes.Clone(body)
			flipped[pos%uint(len(body))] ^= 0x01
			if err := Verify(flipped, good, secret); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify accepted a body with a flipped byte: %v", err)
			}
		}
		digest, _ := base64.StdEncoding.DecodeString(good)
		digest[pos%uint(len(digest))] ^= 0x80
		if err := Verify(body, base64.StdEncoding.EncodeToString(digest), secret); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify accepted a signature with a flipped byte: %v", err)
		}
	})
}
