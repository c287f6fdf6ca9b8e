package woocommerce

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Webhook topics the app subscribes to, as WooCommerce names them in the
// X-WC-Webhook-Topic header and in the webhook's topic field.
const (
	TopicOrderCreated    = "order.created"
	TopicOrderUpdated    = "order.updated"
	TopicOrderDeleted    = "order.deleted" // the order went to the trash; the body is only {"id":N}
	TopicOrderRestored   = "order.restored"
	TopicCustomerCreated = "customer.created"
)

// Header names of a webhook delivery. The X-WC-* headers are added after
// WooCommerce's woocommerce_webhook_http_args filter runs, so plugins
// cannot remove them.
const (
	HeaderSource    = "X-WC-Webhook-Source" // the store's home URL with a trailing slash
	HeaderTopic     = "X-WC-Webhook-Topic"
	HeaderResource  = "X-WC-Webhook-Resource"
	HeaderEvent     = "X-WC-Webhook-Event"
	HeaderSignature = "X-WC-Webhook-Signature"
	HeaderWebhookID = "X-WC-Webhook-ID"
	// HeaderDeliveryID is what WC_Webhook::deliver sends.
	HeaderDeliveryID = "X-WC-Webhook-Delivery-ID"
	// HeaderDocsDeliveryID is the name the REST API documentation gives
	// the same header; it is read when HeaderDeliveryID is absent.
	HeaderDocsDeliveryID = "X-WC-Delivery-ID"
)

// Errors Verify and DeliveryFromHeader return, wrapped with detail. Intake
// answers ErrMissingSignature and ErrBadSignature with 401.
var (
	// ErrMissingSignature means the delivery carried no
	// X-WC-Webhook-Signature header.
	ErrMissingSignature = errors.New("woocommerce webhook: missing signature")
	// ErrBadSignature means the signature is malformed or does not match.
	ErrBadSignature = errors.New("woocommerce webhook: bad signature")
	// ErrNoSecret means Verify was given an empty secret: a configuration
	// fault, not the sender's, and never a match (anyone can sign with "").
	ErrNoSecret = errors.New("woocommerce webhook: no secret configured")
	// ErrMissingHeader means a header every delivery carries is absent.
	ErrMissingHeader = errors.New("woocommerce webhook: missing header")
)

// Sign returns the X-WC-Webhook-Signature WooCommerce sends for body: base64
// of the raw HMAC-SHA256 of the body keyed with the webhook's secret.
//
// WooCommerce passes the stored secret through wp_specialchars_decode first,
// so a secret holding an HTML entity such as "&amp;" is used decoded; the
// secrets this app generates contain no '&', which keeps the two equal.
func Sign(body []byte, secret string) string {
	return base64.StdEncoding.EncodeToString(mac(body, secret))
}

func mac(body []byte, secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks signature, the X-WC-Webhook-Signature value, against the raw
// request body in constant time.
//
// body must be the bytes exactly as received. WooCommerce signs the output of
// wp_json_encode, which writes "/" as "\/" and non-ASCII as \uXXXX; decoding
// and re-encoding the JSON changes those bytes and the signature with them.
// Errors name neither the secret nor the expected digest.
func Verify(body []byte, signature, secret string) error {
	if secret == "" {
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
	if !hmac.Equal(got, mac(body, secret)) {
		return ErrBadSignature
	}
	return nil
}

var pingBody = regexp.MustCompile(`^webhook_id=[0-9]+$`)

// IsPing reports whether a request is the ping WooCommerce posts to a
// webhook's delivery URL when the webhook is created or activated: a
// form-style body "webhook_id=N" with no X-WC-Webhook-* headers and no
// signature. WooCommerce records the webhook as reachable only when the
// ping is answered with exactly 200, so intake answers it 200 at once and
// treats it as nothing more: it is unsigned, and anyone can send one.
//
// A request that carries a topic is never a ping, whatever its body, so a
// signed delivery is always verified.
func IsPing(h http.Header, body []byte) bool {
	if headerValue(h, HeaderTopic) != "" {
		return false
	}
	return pingBody.Match(bytes.TrimSpace(body))
}

// Delivery is what the headers of one webhook request say about it. None of
// it is covered by the signature, which signs only the body.
type Delivery struct {
	Topic    string // "order.updated"
	Resource string // "order"
	Event    string // "updated"
	// Source is the store's home URL as WooCommerce reports it
	// ("https://example.com/"); with WebhookID it names the webhook.
	Source    string
	WebhookID string
	// DeliveryID is a hash of the webhook id and the second of sending:
	// it tells deliveries apart in logs but is no event id. WooCommerce
	// never retries, and the same order state can arrive in several
	// deliveries, so deduplicate on ResourceState instead.
	DeliveryID string
	// Signature is the X-WC-Webhook-Signature value to pass to Verify.
	Signature string
}

// DeliveryFromHeader reads a delivery's X-WC-Webhook-* headers, matching
// names in any case. The delivery id is read from X-WC-Webhook-Delivery-ID,
// which WooCommerce's code sends, or else X-WC-Delivery-ID, which its
// documentation names. Resource and Event, when absent, are taken from the
// topic ("order.updated" → "order", "updated").
//
// A missing topic or delivery id is an error wrapping ErrMissingHeader that
// names the header, and the Delivery returned with it holds what was read,
// for logging; a missing signature is left for Verify to report.
func DeliveryFromHeader(h http.Header) (Delivery, error) {
	d := Delivery{
		Topic:      strings.ToLower(headerValue(h, HeaderTopic)),
		Resource:   headerValue(h, HeaderResource),
		Event:      headerValue(h, HeaderEvent),
		Source:     headerValue(h, HeaderSource),
		WebhookID:  headerValue(h, HeaderWebhookID),
		DeliveryID: headerValue(h, HeaderDeliveryID),
		Signature:  headerValue(h, HeaderSignature),
	}
	if d.DeliveryID == "" {
		d.DeliveryID = headerValue(h, HeaderDocsDeliveryID)
	}
	if resource, event, ok := strings.Cut(d.Topic, "."); ok {
		if d.Resource == "" {
			d.Resource = resource
		}
		if d.Event == "" {
			d.Event = event
		}
	}
	switch {
	case d.Topic == "":
		return d, fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTopic)
	case d.DeliveryID == "":
		return d, fmt.Errorf("%w: %s", ErrMissingHeader, HeaderDeliveryID)
	}
	return d, nil
}

// headerValue is h.Get(name), also for keys that were put into the map
// without canonicalisation (such as "x-wc-webhook-topic" copied from an
// HTTP/2 frame or another framework), which h.Get cannot see.
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

// ResourceState extracts the resource id and date_modified_gmt of a
// delivery body without parsing the rest, for intake to deduplicate on.
//
// WooCommerce sends the resource's current state, built when the queued
// delivery runs rather than when the event happened, so one state can
// arrive several times (once per hook that fired, once per webhook) and an
// older state can arrive after a newer one. (source, webhook id, id,
// modifiedGMT) identifies a state. modifiedGMT is returned as sent,
// "2017-03-22T19:28:08" in UTC without a zone, so comparing two of them as
// text orders them in time; it is "" for the {"id":N} body of a deleted
// event.
//
// The id must be a positive integer (a JSON number, or a string of digits
// as some hooks pass it); anything else is an error wrapping ErrMalformed.
func ResourceState(body []byte) (id, modifiedGMT string, err error) {
	var state struct {
		ID       text `json:"id"`
		Modified text `json:"date_modified_gmt"`
	}
	if err := unmarshal(body, &state); err != nil {
		return "", "", err
	}
	var r reader
	n := r.id("id", state.ID, true)
	if r.err != nil {
		return "", "", r.err
	}
	return fmt.Sprint(n), strings.TrimSpace(string(state.Modified)), nil
}

// text holds a JSON scalar as its literal text: a string's contents, or a
// number as written (so ids and money never pass through float64). null is
// "", the same as absent; an object or array is kept as written, so the
// check of the field that holds it can name the field in its error.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	default:
		*t = text(b)
	}
	return nil
}
