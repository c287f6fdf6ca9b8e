// Package shopifyfake is a fake Shopify that runs in-process: an
// http.Handler that plays the parts of Shopify the app talks to — the OAuth
// grant screen and token endpoint, and the GraphQL Admin API with webhook
// subscriptions, customer discount codes and a leaky bucket of query cost —
// following the documented protocol.
//
// Tests use it through shopifytest, which serves it with httptest. Outside
// production, the loyalty command serves it through Client (no listener, no
// port) as the Admin API of the local demo shop, which has no real Shopify
// behind it. That is why this package imports neither testing nor
// net/http/httptest: it is linked into the production binary, though only
// development wiring ever calls it.
//
// Every shop domain is served under a path prefix: BaseURL(shop) is an
// origin + "/shops/" + shop, which is what shopify.OAuth.BaseURL and
// shopify.ClientOptions.BaseURL expect. The fake never sleeps; time comes
// from SetClock, so a test that also drives the client's clock sees
// throttling refill deterministically.
//
// It is written independently of the shopify package (it signs queries and
// session tokens itself) so that the package's tests check it against a
// second reading of the protocol, not against itself.
package shopifyfake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultScope is what IssueCode and IssueToken grant when given no scopes.
const DefaultScope = "read_customers,read_orders,write_discounts,write_app_proxy"

// Token lifetimes of expiring offline tokens, as Shopify documents them.
const (
	AccessTokenLifetime  = time.Hour
	RefreshTokenLifetime = 90 * 24 * time.Hour
)

// Messages the fake answers with. The first and the 401 text are Shopify's
// own; the rest follow its style where the documentation gives no wording.
const (
	MsgCodeUsed         = "The authorization code was not found or was already used"
	MsgRefreshTokenUsed = "The refresh token was not found or was already used"
	MsgBadClient        = "The client_id or client_secret is invalid"
	MsgInvalidToken     = "[API] Invalid API key or access token (unrecognized login or wrong password)"
	MsgAddressTaken     = "Address for this topic has already been taken"
	MsgRateLimited      = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	// Shop is the shop domain from the path.
	Shop string
	// Version is the Admin API version of a GraphQL request.
	Version string
	// Field is the root field a GraphQL request asked for, such as
	// "webhookSubscriptionCreate".
	Field string
	// Status is the HTTP status answered.
	Status int
}

// Subscription is a webhook subscription the fake keeps for a shop.
type Subscription struct {
	ID     string
	Topic  string // enum form, "ORDERS_PAID"
	URI    string
	Format string
}

// Resolver answers a GraphQL root field the fake does not know, for tests of
// other features (discount codes, say): it returns the field's value, which
// is marshalled to JSON under data.{field}, and is charged 10 points. It runs
// while the fake is locked, so it must not call the fake's methods.
type Resolver func(shop string, variables map[string]any) any

// Shopify is the fake Shopify, an http.Handler. Its methods are safe for
// concurrent use.
type Shopify struct {
	// APIKey and APISecret are the app credentials it accepts and signs
	// with.
	APIKey, APISecret string

	handler http.Handler

	mu            sync.Mutex
	now           func() time.Time
	serial        int
	codes         map[string]*grant
	accessTokens  map[string]*grant
	refreshTokens map[string]*grant
	shops         map[string]*shopState
	faults        []fault
	throttleNext  int
	refusals      map[string]string // topic enum → user error message
	resolvers     map[string]Resolver
	discounts     discountBook
	requests      []Request
	bucketMax     float64
	bucketRate    float64
}

// grant is an authorization code, access token or refresh token.
type grant struct {
	shop, scope string
	expiresAt   time.Time // zero: never
	used        bool      // codes and refresh tokens are single-use
	revoked     bool
}

type shopState struct {
	name      string
	currency  string
	subs      []Subscription
	available float64
	at        time.Time
	seen      bool
}

type fault struct {
	status     int
	retryAfter string
}

// New makes a fake Shopify that accepts the app apiKey/apiSecret. Its
// bucket holds 2000 points and restores 100 per second, Shopify's Standard
// plan figures.
func New(apiKey, apiSecret string) *Shopify {
	s := &Shopify{
		APIKey:        apiKey,
		APISecret:     apiSecret,
		now:           time.Now,
		codes:         map[string]*grant{},
		accessTokens:  map[string]*grant{},
		refreshTokens: map[string]*grant{},
		shops:         map[string]*shopState{},
		refusals:      map[string]string{},
		resolvers:     map[string]Resolver{},
		bucketMax:     2000,
		bucketRate:    100,
	}
	s.handleDiscounts()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shops/{shop}/admin/oauth/authorize", s.authorize)
	mux.HandleFunc("POST /shops/{shop}/admin/oauth/access_token", s.accessToken)
	mux.HandleFunc("POST /shops/{shop}/admin/api/{version}/graphql.json", s.graphQL)
	s.handler = s.record(mux)
	return s
}

// ServeHTTP answers a request as Shopify would.
func (s *Shopify) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// origin is the origin of BaseURL. Client answers every request
// in-process whatever its host, so it only has to be a valid URL.
const origin = "http://shopify.fake"

// BaseURL is the origin the app should use for shop with Client.
func (s *Shopify) BaseURL(shop string) string { return origin + "/shops/" + shop }

// Client returns an HTTP client whose requests s answers in-process.
func (s *Shopify) Client() *http.Client { return &http.Client{Transport: inProcess{s}} }

// SetClock makes the server tell time with now, for token expiry, the query
// cost bucket and the timestamps of the queries it signs.
func (s *Shopify) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetBucket sets the size and restore rate (points per second) of every
// shop's query-cost bucket, and fills the buckets.
func (s *Shopify) SetBucket(maximum, restoreRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucketMax, s.bucketRate = maximum, restoreRate
	for _, st := range s.shops {
		st.seen = false
	}
}

// SetAvailable sets how many points shop's bucket holds now.
func (s *Shopify) SetAvailable(shop string, points float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.shop(shop)
	st.available, st.at, st.seen = points, s.now(), true
}

// FailNext makes the next n GraphQL requests fail with status, before any
// other check: 429 (with a Retry-After header if retryAfter is not empty)
// or a 5xx.
func (s *Shopify) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status, retryAfter})
	}
}

// ThrottleNext makes the next authenticated GraphQL request fail with a
// THROTTLED error, as if the shop's bucket were empty: it is emptied, and the
// answer reports 0 points available.
func (s *Shopify) ThrottleNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleNext++
}

// RefuseTopic makes webhookSubscriptionCreate answer every create of topic
// (either form, "orders/paid" or "ORDERS_PAID") with a user error carrying
// message. An empty message lifts the refusal.
func (s *Shopify) RefuseTopic(topic, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	enum := topicEnum(topic)
	if message == "" {
		delete(s.refusals, enum)
		return
	}
	s.refusals[enum] = message
}

// Handle makes the GraphQL API answer root field with r.
func (s *Shopify) Handle(field string, r Resolver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolvers[field] = r
}

// Requests returns every request received so far, oldest first.
func (s *Shopify) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls counts the GraphQL requests for root field that were answered 200.
func (s *Shopify) Calls(field string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Field == field && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// SetShopInfo sets the name and ISO 4217 currency the shop query answers
// for shop. Unset, the name is the domain's first label and the currency
// USD.
func (s *Shopify) SetShopInfo(shop, name, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.shop(shop)
	st.name, st.currency = name, currency
}

// Subscriptions returns shop's webhook subscriptions in creation order.
func (s *Shopify) Subscriptions(shop string) []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Subscription(nil), s.shop(shop).subs...)
}

// AddSubscription subscribes topic to uri for shop, as an earlier install
// would have.
func (s *Shopify) AddSubscription(shop, topic, uri string) Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribe(shop, topicEnum(topic), uri)
}

// IssueCode returns the authorization code the grant screen would hand the
// app for shop, granting scopes (DefaultScope if none).
func (s *Shopify) IssueCode(shop string, scopes ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.secret("code", 32)
	s.codes[code] = &grant{shop: shop, scope: scopeOrDefault(scopes)}
	return code
}

// IssueToken returns a valid non-expiring offline access token for shop, for
// tests that need an installed shop without going through OAuth.
func (s *Shopify) IssueToken(shop string, scopes ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := "shpua_" + s.secret("access", 32)
	s.accessTokens[token] = &grant{shop: shop, scope: scopeOrDefault(scopes)}
	return token
}

// AddToken makes s accept token as a non-expiring offline access token for
// shop, as if an earlier install had granted it: an in-process fake forgets
// the tokens it issued when the process ends, the app's database does not.
func (s *Shopify) AddToken(shop, token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTokens[token] = &grant{shop: shop, scope: scopeOrDefault(scopes)}
}

// RevokeToken revokes every access and refresh token of shop, as
// uninstalling the app does.
func (s *Shopify) RevokeToken(shop string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*grant{s.accessTokens, s.refreshTokens} {
		for _, g := range m {
			if g.shop == shop {
				g.revoked = true
			}
		}
	}
}

// InstallQuery is the query of the request Shopify sends to the app URL when
// a merchant installs the app: host, shop, timestamp and their hmac.
func (s *Shopify) InstallQuery(shop string, now time.Time) url.Values {
	q := url.Values{
		"host":      {Host(shop)},
		"shop":      {shop},
		"timestamp": {strconv.FormatInt(now.Unix(), 10)},
	}
	q.Set("hmac", SignQuery(q, s.APISecret))
	return q
}

// CallbackQuery is the query Shopify appends to the redirect_uri after the
// merchant approves: code, host, shop, state, timestamp and their hmac.
func (s *Shopify) CallbackQuery(shop, code, state string, now time.Time) url.Values {
	q := url.Values{
		"code":      {code},
		"host":      {Host(shop)},
		"shop":      {shop},
		"state":     {state},
		"timestamp": {strconv.FormatInt(now.Unix(), 10)},
	}
	q.Set("hmac", SignQuery(q, s.APISecret))
	return q
}

// Host is the host parameter Shopify sends for shop: base64 of the shop's
// admin address in the unified admin, without padding (as the Shopify CLI
// builds it).
func Host(shop string) string {
	name := strings.TrimSuffix(shop, ".myshopify.com")
	return base64.RawStdEncoding.EncodeToString([]byte("admin.shopify.com/store/" + name))
}

// SignQuery returns the hex HMAC-SHA256 of query's parameters other than
// hmac and signature, sorted by key and joined as k=v with &, multiple
// values joined by commas: Shopify's install and callback signature.
func SignQuery(query url.Values, secret string) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + strings.Join(query[k], ",")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(pairs, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

// record logs every request with the status it was answered.
func (s *Shopify) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &Request{Method: r.Method, Path: r.URL.Path}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestKey{}, rec)))
		rec.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, *rec)
		s.mu.Unlock()
	})
}

type requestKey struct{}

func requestRecord(r *http.Request) *Request {
	rec, _ := r.Context().Value(requestKey{}).(*Request)
	if rec == nil {
		rec = &Request{}
	}
	return rec
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// authorize plays the grant screen with a merchant who approves at once: it
// checks the request and redirects to redirect_uri with a signed callback
// query granting the scopes asked for.
func (s *Shopify) authorize(w http.ResponseWriter, r *http.Request) {
	shop := r.PathValue("shop")
	requestRecord(r).Shop = shop
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != s.APIKey:
		http.Error(w, "Oauth error invalid_request: The client_id is not valid", http.StatusBadRequest)
		return
	case q.Get("redirect_uri") == "" || err != nil || !redirect.IsAbs():
		http.Error(w, "Oauth error invalid_request: The redirect_uri is missing or not valid", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "Oauth error invalid_request: The state is missing", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	code := s.secret("code", 32)
	s.codes[code] = &grant{shop: shop, scope: q.Get("scope")}
	now := s.now()
	s.mu.Unlock()
	callback := s.CallbackQuery(shop, code, q.Get("state"), now)
	redirect.RawQuery = callback.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// accessToken is POST /admin/oauth/access_token: the code exchange and, with
// grant_type=refresh_token, the refresh of an expiring token. Both the form
// encoding of Shopify's curl example and the JSON of its Node library are
// accepted.
func (s *Shopify) accessToken(w http.ResponseWriter, r *http.Request) {
	shop := r.PathValue("shop")
	requestRecord(r).Shop = shop
	params, ok := readParams(r)
	if !ok {
		oauthError(w, "invalid_request", "The request body could not be read")
		return
	}
	if params["client_id"] != s.APIKey || params["client_secret"] != s.APISecret {
		oauthError(w, "invalid_client", MsgBadClient)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var scope string
	expiring := params["expiring"] == "1"
	switch params["grant_type"] {
	case "", "authorization_code":
		g := s.codes[params["code"]]
		if g == nil || g.used || g.shop != shop {
			oauthError(w, "invalid_request", MsgCodeUsed)
			return
		}
		g.used = true
		scope = g.scope
	case "refresh_token":
		g := s.refreshTokens[params["refresh_token"]]
		if g == nil || g.used || g.revoked || g.shop != shop || !now.Before(g.expiresAt) {
			oauthError(w, "invalid_request", MsgRefreshTokenUsed)
			return
		}
		g.used = true
		scope, expiring = g.scope, true
	default:
		oauthError(w, "unsupported_grant_type", "The grant_type is not supported")
		return
	}
	access := "shpua_" + s.secret("access", 32)
	body := map[string]any{"access_token": access, "scope": scope}
	g := &grant{shop: shop, scope: scope}
	if expiring {
		refresh := "shprt_" + s.secret("refresh", 32)
		g.expiresAt = now.Add(AccessTokenLifetime)
		s.refreshTokens[refresh] = &grant{shop: shop, scope: scope, expiresAt: now.Add(RefreshTokenLifetime)}
		body["expires_in"] = int(AccessTokenLifetime.Seconds())
		body["refresh_token"] = refresh
		body["refresh_token_expires_in"] = int(RefreshTokenLifetime.Seconds())
	}
	s.accessTokens[access] = g
	writeJSON(w, http.StatusOK, body)
}

func readParams(r *http.Request) (map[string]string, bool) {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var raw map[string]any
		if json.NewDecoder(r.Body).Decode(&raw) != nil {
			return nil, false
		}
		for k, v := range raw {
			out[k] = fmt.Sprint(v)
		}
		return out, true
	}
	if r.ParseForm() != nil {
		return nil, false
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out, true
}

func oauthError(w http.ResponseWriter, code, description string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// secret makes a deterministic, unguessable-looking hex string: the fake
// need not be secure, but tests and golden files stay stable.
func (s *Shopify) secret(kind string, n int) string {
	s.serial++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d", s.APISecret, kind, s.serial)))
	return hex.EncodeToString(sum[:])[:n]
}

func scopeOrDefault(scopes []string) string {
	if len(scopes) == 0 {
		return DefaultScope
	}
	return strings.Join(scopes, ",")
}

func (s *Shopify) shop(shop string) *shopState {
	st := s.shops[shop]
	if st == nil {
		st = &shopState{}
		s.shops[shop] = st
	}
	return st
}

var topicPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func topicEnum(topic string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(topic), "/", "_"))
}
