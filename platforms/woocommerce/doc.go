// Package woocommerce is the WooCommerce adapter: it verifies webhook
// deliveries, turns order and customer payloads into the loyalty domain's
// events, connects a store through WooCommerce's app-connect endpoint, and
// calls the store's REST API.
//
// A delivery is handled in steps that must not be swapped. IsPing first
// recognises the unsigned "webhook_id=N" ping WooCommerce posts when a
// webhook is created, which must be answered with exactly 200 and nothing
// else. Otherwise DeliveryFromHeader reads the X-WC-Webhook-* headers and
// Verify checks the signature against the raw body bytes: WooCommerce signs
// wp_json_encode output ("\/", \uXXXX), which re-encoded JSON no longer
// matches. ResourceState then gives intake the (id, date_modified_gmt) pair
// to deduplicate on.
//
// WooCommerce delivers state, not events: each order delivery carries the
// order as it is when the queued delivery runs, deliveries are attempted
// once and never retried, and nothing orders them. So ParseOrder reads the
// order and Order.Events derives what that state implies (paid, refunded,
// cancelled); the ledger applies each event once, which makes repeated and
// stale states harmless. ParseDeleted and ParseCustomer read the
// order.deleted and customer.created bodies. Money is read from
// WooCommerce's decimal strings into exact app.Amounts, never float64; a
// payload that cannot be used is ErrMalformed.
//
// Client speaks to the REST API (/wp-json/wc/v3) with the store's consumer
// key and secret over https, retries throttling, 5xx and network errors
// where that is safe, registers and re-activates the app's webhooks
// idempotently, and lists orders modified since a time, to reconcile what
// lost deliveries missed. NormalizeStoreURL, AuthorizeURL and
// ParseConnectCallback carry the app-connect flow that gets those keys.
// SampleOrder builds order bodies as WooCommerce sends them, and the
// woocommercetest package plays a store for the tests of this and other
// packages.
package woocommerce
