package woocommerce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors VerifyIdentity returns, wrapped with the reason. Every rejection
// wraps ErrBadIdentity; an expired token also wraps ErrIdentityExpired, so
// the widget route can ask the shopper to reload the page (the plugin signs
// a fresh token on every page view) rather than treat it as an attack.
var (
	// ErrBadIdentity means the token is not one the store's plugin signed
	// for this store and a real customer: malformed, wrongly signed, for
	// another store, or claiming to live too long.
	ErrBadIdentity = errors.New("woocommerce identity token: invalid")
	// ErrIdentityExpired marks a token that was valid but has expired.
	ErrIdentityExpired = errors.New("woocommerce identity token: expired")
)

const (
	identityVersion = "v1"
	// identityContext starts every signed message: a domain separator, so
	// the widget secret's MACs mean nothing anywhere else.
	identityContext = "loyalty-widget|" + identityVersion + "|"
	// identityClockSkew absorbs the difference between the store's clock
	// and ours, both ways. Store clocks are usually NTP-synced; more leeway
	// would only lengthen a leaked token's life.
	identityClockSkew = 30 * time.Second
	// maxIdentityLifetime is the longest a token may claim to live.
	maxIdentityLifetime = 24 * time.Hour
	// maxStoreKeyLen bounds the store key, and maxIdentityLen the whole
	// token, so junk is refused before any work is done on it.
	maxStoreKeyLen = 64
	maxIdentityLen = 256
	// identitySignatureLen is the length of a base64url-encoded SHA-256
	// MAC without padding.
	identitySignatureLen = 43
)

// Identity is what a verified identity token says: the store's plugin
// vouches that the shopper is logged in as CustomerID until ExpiresAt.
//
// Identity tokens are how the storefront widget on a WooCommerce store
// proves who the shopper is. Shopify vouches for the shopper through its
// signed app proxy; WooCommerce has nothing like it, so the companion
// WordPress plugin (wordpress-plugin/, loyalty_points_sign_identity) signs
// the logged-in shopper's WordPress user id with the store's widget secret,
// which only the plugin and the app know. A token is one line of URL-safe
// characters:
//
//	v1.<store_key>.<customer_id>.<expires>.<signature>
//
//	store_key    1–64 characters of [A-Za-z0-9_-]: the app's key for the store
//	customer_id  the WordPress user id: decimal, no sign, no leading zero, 1 to 2^64-1
//	expires      Unix seconds: decimal, no sign, no leading zero
//	signature    base64url without padding (43 characters) of
//	             HMAC-SHA256(key = widget secret,
//	                         message = "loyalty-widget|v1|" + store_key + "|" + customer_id + "|" + expires)
//
// None of the fields may contain '.' or '|', so the token and the signed
// message each split one way only, and every identity has exactly one
// token per expiry. The "loyalty-widget|v1|" prefix keeps these MACs from
// matching any the same secret might compute for another purpose. The
// store key is signed, so a token minted for one store is useless at
// another. Guests get no token at all.
//
// The plugin issues tokens valid for an hour. VerifyIdentity refuses one
// that claims to live longer than a day, so a token that leaks from a page,
// a cache or a log soon stops working, whatever a buggy signer wrote.
type Identity struct {
	// StoreKey is the app's key for the store that signed the token.
	StoreKey string
	// CustomerID is the shopper's WordPress user id (WooCommerce's
	// customer id), in canonical decimal form.
	CustomerID string
	// ExpiresAt is when the token stops being valid (whole seconds).
	ExpiresAt time.Time
}

// SignIdentity returns the token for id, signed with the store's widget
// secret, exactly as the WordPress plugin's loyalty_points_sign_identity
// does. ExpiresAt is truncated to whole seconds. It does not check id:
// VerifyIdentity refuses a token made from fields outside the format, so
// tests can use it to build bad tokens too.
func SignIdentity(secret string, id Identity) string {
	expires := strconv.FormatInt(id.ExpiresAt.Unix(), 10)
	return identityVersion + "." + id.StoreKey + "." + id.CustomerID + "." + expires + "." +
		identitySignature(secret, id.StoreKey, id.CustomerID, expires)
}

// identitySignature is the base64url (unpadded) HMAC-SHA256 of the signed
// message, the fields given exactly as they appear in the token.
func identitySignature(secret, storeKey, customerID, expires string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(identityContext + storeKey + "|" + customerID + "|" + expires))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyIdentity checks an identity token the widget sends from a store's
// page and returns the shopper it vouches for. secret is the store's widget
// secret and storeKey the store the request is for (from the route). It
// refuses, wrapping ErrBadIdentity: a token not in the v1 format, with any
// field out of its form (see the format above), a zero customer id, a
// signature that does not match (compared in constant time), a store key
// other than storeKey, and an expiry more than 24 h (plus clock skew) after
// now. A token whose expiry is more than 30 s before now also wraps
// ErrIdentityExpired. The signature is checked before any claim is believed.
func VerifyIdentity(token, secret, storeKey string, now time.Time) (Identity, error) {
	if secret == "" {
		return Identity{}, fmt.Errorf("%w: no widget secret configured", ErrBadIdentity)
	}
	if len(token) > maxIdentityLen {
		return Identity{}, fmt.Errorf("%w: longer than %d bytes", ErrBadIdentity, maxIdentityLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return Identity{}, fmt.Errorf("%w: want 5 dot-separated parts, got %d", ErrBadIdentity, len(parts))
	}
	version, key, customerID, expires, signature := parts[0], parts[1], parts[2], parts[3], parts[4]
	if version != identityVersion {
		return Identity{}, fmt.Errorf("%w: unknown version %.8q", ErrBadIdentity, version)
	}
	if !validStoreKey(key) {
		return Identity{}, fmt.Errorf("%w: malformed store key", ErrBadIdentity)
	}
	customer, ok := parseCanonicalUint(customerID)
	if !ok {
		return Identity{}, fmt.Errorf("%w: customer id is not a canonical decimal number", ErrBadIdentity)
	}
	if customer == 0 {
		// WordPress user ids start at 1; 0 is what get_current_user_id()
		// returns for a guest.
		return Identity{}, fmt.Errorf("%w: customer id 0 is a guest", ErrBadIdentity)
	}
	exp, ok := parseCanonicalUint(expires)
	if !ok || exp > 1<<62 { // far beyond any real date, and safe from overflow below
		return Identity{}, fmt.Errorf("%w: expiry is not a canonical Unix time", ErrBadIdentity)
	}
	if len(signature) != identitySignatureLen {
		return Identity{}, fmt.Errorf("%w: signature is not %d base64url characters", ErrBadIdentity, identitySignatureLen)
	}
	// Compare the encoded forms, not decoded bytes: base64 decoders may
	// ignore the unused low bits of the last character, which would let a
	// changed token still verify.
	want := identitySignature(secret, key, customerID, expires)
	if !hmac.Equal([]byte(signature), []byte(want)) {
		return Identity{}, fmt.Errorf("%w: signature does not match", ErrBadIdentity)
	}

	// Signed, so the claims are the plugin's own; now check what they say.
	if key != storeKey {
		return Identity{}, fmt.Errorf("%w: token is for store %q, not %q", ErrBadIdentity, key, storeKey)
	}
	expiresAt := time.Unix(int64(exp), 0).UTC()
	if now.After(expiresAt.Add(identityClockSkew)) {
		return Identity{}, fmt.Errorf("%w: %w at %s", ErrBadIdentity, ErrIdentityExpired, expiresAt.Format(time.RFC3339))
	}
	if expiresAt.After(now.Add(maxIdentityLifetime + identityClockSkew)) {
		return Identity{}, fmt.Errorf("%w: expiry %s is more than %s away", ErrBadIdentity, expiresAt.Format(time.RFC3339), maxIdentityLifetime)
	}
	return Identity{StoreKey: key, CustomerID: customerID, ExpiresAt: expiresAt}, nil
}

// validStoreKey reports whether key is 1–64 characters of [A-Za-z0-9_-],
// the characters that need no escaping in a URL path and cannot be
// confused with the token's or the message's separators.
func validStoreKey(key string) bool {
	if key == "" || len(key) > maxStoreKeyLen {
		return false
	}
	for _, c := range []byte(key) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// parseCanonicalUint parses s as an unsigned decimal that has exactly one
// spelling: digits only, no sign, no leading zero (except "0" itself), and
// within uint64. One spelling per number means one token per identity.
func parseCanonicalUint(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
