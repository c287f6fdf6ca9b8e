package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Webhook topics the app subscribes to, as Shopify names them in the
// X-Shopify-Topic header.
const (
	TopicOrdersPaid      = "orders/paid"
	TopicRefundsCreate   = "refunds/create"
	TopicOrdersCancelled = "orders/cancelled"
	TopicCustomersCreate = "customers/create"
	TopicAppUninstalled  = "app/uninstalled"

	// The mandatory privacy topics every App Store app must answer.
	TopicCustomersDataRequest = "customers/data_request"
	TopicCustomersRedact      = "customers/redact"
	TopicShopRedact           = "shop/redact"
)

// Errors Verify and DeliveryFromHeader return, wrapped with detail. Intake
// answers ErrMissingSignature and ErrBadSignature with 401, as Shopify
// requires for the privacy topics.
var (
	// ErrMissingSignature means the delivery carried no
	// X-Shopify-Hmac-Sha256 header.
	ErrMissingSignature = errors.New("shopify webhook: missing signature")
	// ErrBadSignature means the signature is malformed or matches none of
	// the secrets.
	ErrBadSignature = errors.New("shopify webhook: bad signature")
	// ErrNoSecret means Verify was given no non-empty secret: a
	// configuration fault, not the sender's, so it is kept apart from
	// ErrBadSignature.
	ErrNoSecret = errors.New("shopify webhook: no secret configured")
	// ErrMissingHeader means a header every delivery carries is absent.
	ErrMissingHeader = errors.New("shopify webhook: missing header")
)

// Sign returns the X-Shopify-Hmac-Sha256 value Shopify would send for body:
// base64 of HMAC-SHA256 keyed with the app's client secret.
func Sign(body []byte, secret string) string {
	return base64.StdEncoding.EncodeToString(mac(body, secret))
}

func mac(body []byte, secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks signature, the X-Shopify-Hmac-Sha256 header value, against
// the raw request body. It accepts a match with any non-empty secret because
// Shopify keeps signing with the old secret for up to an hour after a
// rotation, so callers pass the current secret and then the previous one.
//
// body must be the bytes exactly as received: decoding and re-encoding the
// JSON changes them. Errors name no secret and no expected digest.
func Verify(body []byte, signature string, secrets ...string) error {
	if !slices.ContainsFunc(secrets, func(s string) bool { return s != "" }) {
		return ErrNoSecret
	}
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return ErrMissingSignature
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrBadSignature)
	}
	if len(got) != sha256.Size {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(got), sha256.Size)
	}
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(got, mac(body, secret)) {
			return nil
		}
	}
	return ErrBadSignature
}

// Delivery is what the headers of one webhook request say about it. None of
// it is covered by the signature, which signs only the body.
type Delivery struct {
	Topic string
	// ShopDomain is the shop's myshopify.com domain, lower-cased.
	ShopDomain string
	// WebhookID is unique per delivery and repeated on retries of it: with
	// ShopDomain it is the key to deduplicate deliveries on.
	WebhookID  string
	APIVersion string
	// EventID is shared by the deliveries that one merchant action caused
	// across several subscriptions.
	EventID string
	// TriggeredAt is when Shopify first triggered the delivery (retries keep
	// it), so stale payloads can be told apart; zero when absent or
	// unreadable.
	TriggeredAt time.Time
	// Signature is the X-Shopify-Hmac-Sha256 value to pass to Verify.
	Signature string
}

// Header names Shopify sends with every webhook delivery.
const (
	HeaderTopic       = "X-Shopify-Topic"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderHMAC        = "X-Shopify-Hmac-Sha256"
	HeaderAPIVersion  = "X-Shopify-API-Version"
	HeaderEventID     = "X-Shopify-Event-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
)

// DeliveryFromHeader reads a delivery's X-Shopify-* headers. A missing topic,
// shop domain or webhook id is an error wrapping ErrMissingHeader that names
// the header, and the Delivery returned with it holds what was read, for
// logging; a missing signature is left for Verify to report. Header names
// match in any case, as HTTP/2 lower-cases them, and the unprefixed
// shopify-* names of Shopify's newer event deliveries are read when the
// X-Shopify-* ones are absent.
func DeliveryFromHeader(h http.Header) (Delivery, error) {
	d := Delivery{
		Topic:       header(h, HeaderTopic),
		ShopDomain:  strings.ToLower(header(h, HeaderShopDomain)),
		WebhookID:   header(h, HeaderWebhookID),
		APIVersion:  header(h, HeaderAPIVersion),
		EventID:     header(h, HeaderEventID),
		TriggeredAt: parseTime(header(h, HeaderTriggeredAt)),
		Signature:   header(h, HeaderHMAC),
	}
	for _, required := range []struct{ name, value string }{
		{HeaderTopic, d.Topic},
		{HeaderShopDomain, d.ShopDomain},
		{HeaderWebhookID, d.WebhookID},
	} {
		if required.value == "" {
			return d, fmt.Errorf("%w: %s", ErrMissingHeader, required.name)
		}
	}
	return d, nil
}

// header returns the trimmed value of name, falling back to the same name
// without the "X-" prefix.
func header(h http.Header, name string) string {
	if v := headerValue(h, name); v != "" {
		return v
	}
	return headerValue(h, strings.TrimPrefix(name, "X-"))
}

// headerValue is h.Get(name), also for keys that were put into the map
// without canonicalisation (such as "x-shopify-topic" copied from an HTTP/2
// frame or another framework), which h.Get cannot see.
func headerValue(h http.Header, name string) string {
	if v := strings.TrimSpace(h.Get(name)); v != "" {
		return v
	}
	for key, values := range h {
		if len(values) > 0 && strings.EqualFold(key, name) {
			if v := strings.TrimSpace(values[0]); v != "" {
				return v
			}
		}
	}
	return ""
}

// parseTime reads an RFC 3339 timestamp with or without fractional seconds
// (Shopify sends both: "2025-07-10T16:15:47.000000Z" in headers,
// "2021-12-31T19:00:00-05:00" in payloads). Anything else is the zero time:
// the timestamps order and date events but never decide whether one counts.
func parseTime(s string) time.Time {
	// time.RFC3339 also accepts fractional seconds when parsing.
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t
}
