package woocommerce

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testSecret = "wc-test-secret"

func TestSignReproducesTheTestVectors(t *testing.T) {
	for _, v := range loadSignatureVectors(t) {
		name := v.File
		if name == "" {
			name = v.Body
		}
		t.Run(name, func(t *testing.T) {
			body := vectorBody(t, v)
			if got := Sign(body, v.Secret); got != v.Expected {
				t.Errorf("Sign = %s, want %s", got, v.Expected)
			}
			if err := Verify(body, v.Expected, v.Secret); err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
		})
	}
}

func TestSignMatchesTheDocumentedBodies(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"order 727 as WooCommerce sends it", fixture(t, "order_created_body_as_sent.json"), "kkgTD3USasKugmQclBl2hUxFQu6gJHIIz99dAbMOaVE="},
		{"the body of a deleted event", []byte(`{"id":1}`), "ZMfRjzq+NGumWzwBC6BydGJk8e1VqiE4qN40JelIaeE="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.body, testSecret); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestReencodedBodyNoLongerVerifies(t *testing.T) {
	body := fixture(t, "order_created_body_as_sent.json")
	signature := Sign(body, testSecret)
	if !bytes.Contains(body, []byte(`https:\/\/example.com`)) {
		t.Fatal(`fixture lost its \/ escaping`)
	}

	// What a handler that decodes before verifying would hold: the same
	// JSON, but with "/" unescaped (and, through a map, keys sorted).
	var order map[string]any
	if err := json.Unmarshal(body, &order); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(order)
	if err != nil {
		t.Fatal(err)
	}
	// Even json.RawMessage changes the bytes when marshalled: encoding/json
	// escapes the & of "&ndash;" in a product name as \u0026.
	rawRemarshalled, err := json.Marshal(json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"decoded into a map and marshalled": reencoded,
		"pretty-printed":                    indent(t, body),
		"json.RawMessage marshalled":        rawRemarshalled,
	} {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(b, body) {
				t.Fatal("the re-encoding kept the bytes; the test proves nothing")
			}
			if err := Verify(b, signature, testSecret); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestVerify(t *testing.T) {
	body := fixture(t, "order_created_body_as_sent.json")
	const good = "kkgTD3USasKugmQclBl2hUxFQu6gJHIIz99dAbMOaVE="
	tests := []struct {
		name      string
		body      []byte
		signature string
		secret    string
		want      error // nil, or the sentinel the error must wrap
	}{
		{"the right secret verifies", body, good, testSecret, nil},
		{"surrounding spaces in the header are ignored", body, "  " + good + " ", testSecret, nil},
		{"another secret is rejected", body, good, "other-secret", ErrBadSignature},
		{"one changed byte of body is rejected", append(bytes.Clone(body[:len(body)-1]), ' '), good, testSecret, ErrBadSignature},
		{"a trailing newline is a changed body", append(bytes.Clone(body), '\n'), good, testSecret, ErrBadSignature},
		{"empty header is a missing signature", body, "", testSecret, ErrMissingSignature},
		{"blank header is a missing signature", body, "   ", testSecret, ErrMissingSignature},
		{"bad base64 is rejected", body, "not base64!", testSecret, ErrBadSignature},
		{"a short digest is rejected", body, "YmxhaGJsYWgK", testSecret, ErrBadSignature},
		{"URL-safe base64 is not WooCommerce's encoding", []byte(`{"id":1}`), "ZMfRjzq-NGumWzwBC6BydGJk8e1VqiE4qN40JelIaeE=", testSecret, ErrBadSignature},
		{"hex digest is rejected", body, "9248130f75126ac2ae81a9c8941951854c45a2ee0a3272088bcf7d01b30e6951", testSecret, ErrBadSignature},
		{"an empty secret is a configuration error", body, Sign(body, ""), "", ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.body, tt.signature, tt.secret)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want an error wrapping %v", err, tt.want)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q reveals the secret", err)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("error %q reveals the expected digest", err)
			}
		})
	}
}

func TestIsPing(t *testing.T) {
	ping := fixture(t, "webhook_ping_body.txt")
	signed := http.Header{}
	signed.Set(HeaderTopic, TopicOrderCreated)
	signed.Set(HeaderSignature, Sign(ping, testSecret))
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   bool
	}{
		{"the documented ping body", form, string(ping), true},
		{"without a content type", http.Header{}, "webhook_id=142", true},
		{"with surrounding whitespace", form, "\nwebhook_id=7\r\n", true},
		{"a signed delivery is never a ping", signed, string(ping), false},
		{"a topic in lower case still counts", http.Header{"x-wc-webhook-topic": {"order.updated"}}, "webhook_id=1", false},
		{"an order body", http.Header{}, string(fixture(t, "order_created_body_as_sent.json")), false},
		{"no id", form, "webhook_id=", false},
		{"not a number", form, "webhook_id=abc", false},
		{"more fields", form, "webhook_id=1&x=2", false},
		{"empty body", form, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPing(tt.header, []byte(tt.body)); got != tt.want {
				t.Errorf("IsPing = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeliveryFromHeader(t *testing.T) {
	full := func() http.Header {
		h := http.Header{}
		h.Set("X-WC-Webhook-Source", "https://example.com/")
		h.Set("X-WC-Webhook-Topic", "order.updated")
		h.Set("X-WC-Webhook-Resource", "order")
		h.Set("X-WC-Webhook-Event", "updated")
		h.Set("X-WC-Webhook-Signature", "kkgTD3USasKugmQclBl2hUxFQu6gJHIIz99dAbMOaVE=")
		h.Set("X-WC-Webhook-ID", "142")
		h.Set("X-WC-Webhook-Delivery-ID", "a1b2c3d4e5f60718293a4b5c6d7e8f90")
		return h
	}
	want := Delivery{
		Topic: "order.updated", Resource: "order", Event: "updated",
		Source: "https://example.com/", WebhookID: "142",
		DeliveryID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		Signature:  "kkgTD3USasKugmQclBl2hUxFQu6gJHIIz99dAbMOaVE=",
	}
	docsName := full()
	docsName.Del("X-WC-Webhook-Delivery-ID")
	docsName.Set("X-WC-Delivery-ID", "a1b2c3d4e5f60718293a4b5c6d7e8f90")
	lowercased := http.Header{}
	for k, v := range full() {
		lowercased[strings.ToLower(k)] = v
	}
	noResource := full()
	noResource.Del("X-WC-Webhook-Resource")
	noResource.Del("X-WC-Webhook-Event")

	for name, h := range map[string]http.Header{
		"the headers WooCommerce's code sends":         full(),
		"X-WC-Delivery-ID, as the documentation names": docsName,
		"names in lower case, as HTTP/2 carries them":  lowercased,
		"resource and event taken from the topic":      noResource,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DeliveryFromHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Delivery = %+v\nwant       %+v", got, want)
			}
		})
	}

	for _, missing := range []string{"X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID"} {
		t.Run("missing "+missing, func(t *testing.T) {
			h := full()
			h.Del(missing)
			got, err := DeliveryFromHeader(h)
			if !errors.Is(err, ErrMissingHeader) || !strings.Contains(err.Error(), missing) {
				t.Fatalf("err = %v, want ErrMissingHeader naming %s", err, missing)
			}
			if got.WebhookID != "142" {
				t.Errorf("the Delivery returned with the error lost what was read: %+v", got)
			}
		})
	}
	t.Run("a missing signature is left for Verify", func(t *testing.T) {
		h := full()
		h.Del("X-WC-Webhook-Signature")
		d, err := DeliveryFromHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify([]byte("{}"), d.Signature, testSecret); !errors.Is(err, ErrMissingSignature) {
			t.Errorf("Verify = %v, want ErrMissingSignature", err)
		}
	})
}

func TestResourceState(t *testing.T) {
	tests := []struct {
		name         string
		body         []byte
		id, modified string
	}{
		{"an order as delivered", fixture(t, "order_created_body_as_sent.json"), "727", "2017-03-22T19:28:08"},
		{"a pretty-printed order", fixture(t, "order_v3_with_refunds_from_list_example.json"), "723", "2017-03-21T19:54:51"},
		{"a customer", fixture(t, "customer_v3_retrieve_example.json"), "25", "2017-03-21T19:09:30"},
		{"a deleted event has no modified date", []byte(`{"id":1}`), "1", ""},
		{"an id passed as a string by a hook", []byte(`{"id":"88"}`), "88", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, modified, err := ResourceState(tt.body)
			if err != nil || id != tt.id || modified != tt.modified {
				t.Errorf("ResourceState = %q, %q, %v; want %q, %q", id, modified, err, tt.id, tt.modified)
			}
		})
	}
	for _, body := range []string{``, `[]`, `{}`, `{"id":0}`, `{"id":-1}`, `{"id":1.5}`, `{"id":"abc"}`, `{"id":99999999999999999999}`} {
		t.Run("malformed "+body, func(t *testing.T) {
			if _, _, err := ResourceState([]byte(body)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestModifiedDatesCompareAsText(t *testing.T) {
	older := SampleOrder(SampleOptions{ID: 5, Modified: mustTime(t, "2026-03-01T09:59:59Z")})
	newer := SampleOrder(SampleOptions{ID: 5, Modified: mustTime(t, "2026-03-01T10:00:00Z")})
	_, a, _ := ResourceState(older)
	_, b, _ := ResourceState(newer)
	if !(a < b) {
		t.Errorf("%q should sort before %q", a, b)
	}
}

func FuzzVerify(f *testing.F) {
	for _, name := range []string{"order_created_body_as_sent.json", "webhook_ping_body.txt"} {
		body := fixture(f, name)
		f.Add(body, Sign(body, testSecret), testSecret)
	}
	f.Add([]byte(`{"id":1}`), "ZMfRjzq+NGumWzwBC6BydGJk8e1VqiE4qN40JelIaeE=", testSecret)
	f.Add([]byte(`{}`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, signature, secret string) {
		err := Verify(body, signature, secret)
		switch {
		case secret == "":
			if !errors.Is(err, ErrNoSecret) {
				t.Fatalf("empty secret: %v", err)
			}
		case err == nil:
			if !bytes.Equal(mustDecode(t, signature), mac(body, secret)) {
				t.Fatal("Verify accepted a signature that is not the body's HMAC")
			}
		case !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMissingSignature):
			t.Fatalf("unexpected error %v", err)
		}
		if secret != "" && Verify(body, Sign(body, secret), secret) != nil {
			t.Fatal("Verify rejected Sign's own signature")
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
