package woocommerce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// NormalizeStoreURL turns the address a merchant types into the store URL
// the app records and calls: https (or http when allowHTTP, for local
// development), a lower-case host without a default port, no user info,
// query or fragment, and a sub-path kept (WordPress installed under /shop)
// without its trailing slash. A scheme-less address gets https. A pasted
// admin or API address (…/wp-admin/…, …/wp-json/…) is cut back to the site.
func NormalizeStoreURL(raw string, allowHTTP bool) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("store URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("store URL %q is not a URL", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowHTTP {
			return "", fmt.Errorf("store URL %q must use https: WooCommerce takes API keys only over https", raw)
		}
	default:
		return "", fmt.Errorf("store URL %q must be an https address", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("store URL %q must not hold a user name or password", raw)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, " \t") {
		return "", fmt.Errorf("store URL %q has no host", raw)
	}
	port := u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	p := u.EscapedPath()
	for _, marker := range []string{"/wp-admin", "/wp-json", "/wc-auth", "/wp-login.php"} {
		if i := strings.Index(strings.ToLower(p+"/"), marker+"/"); i >= 0 {
			p = p[:i]
		}
	}
	if p != "" {
		p = path.Clean("/" + p)
	}
	p = strings.TrimSuffix(p, "/")
	return strings.ToLower(u.Scheme) + "://" + host + p, nil
}

// AuthorizeURL is the address to send a merchant to so that their store
// creates read_write API keys for the app (WooCommerce's /wc-auth/v1/authorize
// endpoint). After the merchant approves, the store POSTs the keys to
// callbackURL (see ParseConnectCallback) and then sends the merchant to
// returnURL with success=1&user_id=<state>; after a refusal, success=0.
//
// state comes back as user_id in both: use an opaque token of letters,
// digits, '-' and '_'. WooCommerce runs the URLs through urldecode a second
// time and cleans user_id before it redirects, so '%' and '+' in any of
// them would not survive. callbackURL must be https; WooCommerce refuses
// anything else.
func AuthorizeURL(storeURL, appName, state, returnURL, callbackURL string) string {
	q := url.Values{
		"app_name":     {appName},
		"scope":        {"read_write"},
		"user_id":      {state},
		"return_url":   {returnURL},
		"callback_url": {callbackURL},
	}
	return strings.TrimSuffix(storeURL, "/") + "/wc-auth/v1/authorize?" + q.Encode()
}

// ErrBadCallback is wrapped by every ParseConnectCallback error. The
// callback handler answers it with anything but 200, which makes WooCommerce
// delete the keys it just made and show the merchant an error.
var ErrBadCallback = errors.New("woocommerce connect: unusable callback")

// Keys are the API keys a store posts to the callback URL after the merchant
// approves the app.
type Keys struct {
	// KeyID is the key's row id in the store.
	KeyID int64
	// State is the user_id the app put in AuthorizeURL, echoed back: the
	// only thing binding the callback, which carries no signature, to the
	// app's own record of the connect request.
	State          string
	ConsumerKey    string
	ConsumerSecret string
	Permissions    string
}

// String shows the keys without the secret, for logs.
func (k Keys) String() string {
	return fmt.Sprintf("woocommerce keys %d (%s, key …%s, state %q)", k.KeyID, k.Permissions, tail(k.ConsumerKey, 7), k.State)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// ParseConnectCallback decodes the JSON a store posts to the callback URL:
// {"key_id":1,"user_id":"state","consumer_key":"ck_…","consumer_secret":"cs_…","key_permissions":"read_write"}.
// user_id may be a string (current WooCommerce) or a number (its docs). The
// keys must look like WooCommerce's (ck_, cs_) and allow read_write; errors
// wrap ErrBadCallback, say what is wrong, and never contain the secret.
//
// Nothing in the callback proves it came from the store: match State with
// the connect request the app started, and check the keys with a call to
// the store (Client.SystemStatus) before trusting them.
func ParseConnectCallback(body []byte) (Keys, error) {
	var cb struct {
		KeyID          text `json:"key_id"`
		UserID         text `json:"user_id"`
		ConsumerKey    text `json:"consumer_key"`
		ConsumerSecret text `json:"consumer_secret"`
		Permissions    text `json:"key_permissions"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return Keys{}, fmt.Errorf("%w: not the JSON object WooCommerce sends", ErrBadCallback)
	}
	k := Keys{
		State:          strings.TrimSpace(string(cb.UserID)),
		ConsumerKey:    strings.TrimSpace(string(cb.ConsumerKey)),
		ConsumerSecret: strings.TrimSpace(string(cb.ConsumerSecret)),
		Permissions:    strings.TrimSpace(string(cb.Permissions)),
	}
	var problems []string
	if id, err := strconv.ParseInt(strings.TrimSpace(string(cb.KeyID)), 10, 64); err == nil && id > 0 {
		k.KeyID = id
	} else {
		problems = append(problems, "key_id is missing or not a positive integer")
	}
	if k.State == "" {
		problems = append(problems, "user_id (the state) is missing")
	}
	if !validKey(k.ConsumerKey, "ck_") {
		problems = append(problems, "consumer_key is missing or does not start with ck_")
	}
	if !validKey(k.ConsumerSecret, "cs_") {
		problems = append(problems, "consumer_secret is missing or does not start with cs_")
	}
	if k.Permissions != "read_write" {
		problems = append(problems, fmt.Sprintf("key_permissions is %.20q, want \"read_write\"", k.Permissions))
	}
	if len(problems) > 0 {
		return Keys{}, fmt.Errorf("%w: %s", ErrBadCallback, strings.Join(problems, "; "))
	}
	return k, nil
}

// validKey reports whether s is prefix followed by a token of letters and
// digits, as WooCommerce makes them (ck_ + 40 hex digits).
func validKey(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" || len(rest) > 200 {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
