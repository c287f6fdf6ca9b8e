package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBadProxySignature means an app proxy request was not signed by Shopify
// with the app's secret, or was signed too long ago.
var ErrBadProxySignature = errors.New("invalid app proxy signature")

// ProxyRequest is what a verified app proxy request tells the app.
type ProxyRequest struct {
	Shop string
	// CustomerID is logged_in_customer_id: empty for a guest. Only a
	// verified signature makes it trustworthy.
	CustomerID string
	PathPrefix string
	Timestamp  time.Time
}

// proxyMessage is the string Shopify signs: every parameter but signature,
// as key=value with repeated values joined by commas, sorted, concatenated
// with no separator.
func proxyMessage(q url.Values) string {
	parts := make([]string, 0, len(q))
	for k, vs := range q {
		if k == "signature" {
			continue
		}
		parts = append(parts, k+"="+strings.Join(vs, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, "")
}

// SignProxy computes the app proxy signature of a query, as Shopify does.
func SignProxy(q url.Values, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(proxyMessage(q)))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyProxy checks an app proxy request's signature in constant time
// against each secret (current, then previous during a rotation) and that
// its timestamp is within tolerance of now (tolerance 0 skips the check,
// for Shopify's published examples from 2011).
func VerifyProxy(q url.Values, now time.Time, tolerance time.Duration, secrets ...string) (ProxyRequest, error) {
	if len(q["signature"]) != 1 || len(q["shop"]) != 1 || len(q["timestamp"]) != 1 || len(q["logged_in_customer_id"]) > 1 {
		return ProxyRequest{}, fmt.Errorf("%w: signature, shop and timestamp must appear exactly once, logged_in_customer_id at most once", ErrBadProxySignature)
	}
	got, err := hex.DecodeString(q.Get("signature"))
	if err != nil || len(got) != sha256.Size {
		return ProxyRequest{}, fmt.Errorf("%w: not a hex SHA-256", ErrBadProxySignature)
	}
	message := []byte(proxyMessage(q))
	valid := false
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(message)
		if hmac.Equal(m.Sum(nil), got) {
			valid = true
		}
	}
	if !valid {
		return ProxyRequest{}, ErrBadProxySignature
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return ProxyRequest{}, fmt.Errorf("%w: timestamp is not a number", ErrBadProxySignature)
	}
	at := time.Unix(ts, 0).UTC()
	if tolerance > 0 && (now.Sub(at) > tolerance || at.Sub(now) > tolerance) {
		return ProxyRequest{}, fmt.Errorf("%w: timestamp %s is too far from now", ErrBadProxySignature, at.Format(time.RFC3339))
	}
	shop, ok := ValidShopDomain(q.Get("shop"))
	if !ok {
		return ProxyRequest{}, fmt.Errorf("%w: shop is not a myshopify.com domain", ErrBadProxySignature)
	}
	// Shopify's message joins key=value pairs with no separator, so moving
	// the boundary between two parameters keeps a signature valid:
	// "logged_in_customer_id=1" + "path_prefix=/apps/x" signs the same as a
	// customer id of "1path_prefix=/apps/x". A customer id is digits or
	// nothing, so a shifted boundary can never name a customer.
	if id := q.Get("logged_in_customer_id"); !allDigits(id) {
		return ProxyRequest{}, fmt.Errorf("%w: logged_in_customer_id is not a number", ErrBadProxySignature)
	}
	return ProxyRequest{Shop: shop, CustomerID: q.Get("logged_in_customer_id"), PathPrefix: q.Get("path_prefix"), Timestamp: at}, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
