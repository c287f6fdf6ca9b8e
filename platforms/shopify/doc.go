// Package shopify is the Shopify adapter: it verifies webhook deliveries and
// turns their payloads into the loyalty domain's events.
//
// A delivery is handled in two steps that must not be swapped. First
// DeliveryFromHeader reads the X-Shopify-* headers and Verify checks the
// X-Shopify-Hmac-Sha256 signature against the raw body bytes; nothing looks
// inside the body before that, because re-encoded JSON no longer matches the
// signature and an unverified body must not reach the parser. Then, usually
// in a job, ParseOrderPaid, ParseRefund, ParseOrderCancelled or
// ParseCustomerCreated decode the body into app.OrderPaid, app.OrderRefunded,
// app.OrderCancelled or app.CustomerCreated.
//
// The parsers keep Shopify's 64-bit ids as exact decimal strings (they exceed
// 2^53, so a float64 would corrupt them) and read money from the shop-currency
// half of each *_set (never the shopper's presentment currency) as decimal
// text, never through float64. A payload the parsers cannot use is reported
// as ErrMalformed, which callers record and do not retry: Shopify would send
// the same bytes again.
//
// SamplePayload builds bodies of the same shape for demos and tests.
//
// The install and the embedded admin are handled by oauth.go (shop-domain,
// query-HMAC and timestamp checks, the authorization code grant with expiring
// offline tokens and their refresh) and session.go (App Bridge session
// tokens). Client calls the GraphQL Admin API at the pinned APIVersion,
// waits out 429s, THROTTLED errors and a short query-cost budget instead of
// failing, and registers webhook subscriptions idempotently. The
// shopifytest package plays Shopify for the tests of this and other
// packages.
package shopify
