// Package woocommercetest is a fake WooCommerce store for tests: an https
// httptest server that plays the parts of a store the app talks to — the
// REST API (/wp-json/wc/v3: system_status, webhooks, orders, coupons) with
// consumer key authentication, the app-connect endpoint
// /wc-auth/v1/authorize, and webhook delivery — following WooCommerce's code
// where its documentation disagrees.
//
// What it does the way WooCommerce does, and tests can rely on:
//   - Basic auth is taken over https only (the server is TLS); a wrong
//     secret is 401 woocommerce_rest_authentication_error, an unknown or
//     missing key falls through to the endpoint's own 401
//     (woocommerce_rest_cannot_view …), and a read key cannot write.
//   - Creating a webhook makes it active whatever status was asked for,
//     and pings the delivery URL with an unsigned "webhook_id=N" before
//     answering 201; only an exact 200 clears its pending delivery, and
//     activating a webhook whose ping failed pings again.
//   - Deliveries are signed with the webhook's secret over the exact body,
//     carry the X-WC-Webhook-* headers (the delivery id as
//     X-WC-Webhook-Delivery-ID), count 200–302 as success, are never
//     retried, and disable the webhook on the seventh consecutive failure.
//     Re-activating keeps the failure count; only a success resets it.
//   - Orders are listed with modified_after compared strictly, against the
//     local (UTC−3) date unless dates_are_gmt is true, ordered with the id
//     as tie-break, with X-WP-Total and X-WP-TotalPages; trashed orders
//     appear only with status=trash.
//   - A full refund, or setting the status to refunded, leaves the order
//     refunded with refunds adding up to its total.
//   - Coupons (coupons.go) keep their codes lower-case and unique whatever
//     the case, answer an unknown id with 404 on GET and 400 on PUT, and
//     drop date_expires_gmt on write as the coupons controller does.
//
// The store never sleeps; time comes from SetClock. It is written
// independently of the woocommerce package (it signs, encodes and parses
// for itself), so that the package's tests check it against a second
// reading of the protocol.
package woocommercetest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Versions the store reports, in system_status and the User-Agent of its
// deliveries.
const (
	WCVersion = "10.2.2"
	WPVersion = "6.8.3"
)

// RetryAfter is the Retry-After, in seconds, of the 429s FailNext injects.
const RetryAfter = "3"

// SiteZone is the store's time zone: its date_* fields are local to it and
// its date_*_gmt fields are UTC.
var SiteZone = time.FixedZone("UTC-3", -3*3600)

// Key is an API key the store issued.
type Key struct {
	ID          int64
	Description string
	// Permissions is read, write or read_write.
	Permissions    string
	ConsumerKey    string
	ConsumerSecret string
}

// Webhook is a webhook as the store keeps it, secret included.
type Webhook struct {
	ID          int64
	Name        string
	Status      string // active, paused or disabled
	Topic       string
	DeliveryURL string
	Secret      string
	// FailureCount is the consecutive failed deliveries so far.
	FailureCount int
	// PendingDelivery is true until a ping is answered with exactly 200.
	PendingDelivery bool
	// Pings are the statuses the delivery URL answered the pings with, 0
	// for a ping that got no answer.
	Pings    []int
	Created  time.Time
	Modified time.Time
}

// Delivery is one webhook delivery the store attempted.
type Delivery struct {
	WebhookID int64
	Topic     string
	Header    http.Header
	Body      []byte
	// Status is the delivery URL's answer; 0 when there was none.
	Status int
	Err    error
}

// Request is one request the store received.
type Request struct {
	Method string
	Path   string
	Query  string
	// Status is the HTTP status answered.
	Status int
}

// Store is the fake WooCommerce store. Its methods are safe for concurrent
// use.
type Store struct {
	// URL is the store's https origin, "https://127.0.0.1:port", which is
	// also its home URL.
	URL string

	t        testing.TB
	srv      *httptest.Server
	outbound *http.Client

	mu         sync.Mutex
	now        func() time.Time
	currency   string
	keys       []*Key
	nextKeyID  int64
	webhooks   []*Webhook
	nextHookID int64
	orders     map[int64]*order
	customers  map[int64]*object
	maxPostID  int64
	faults     []int
	lose       int
	coupons    []*Coupon
	deny       bool
	stripAuth  bool
	requests   []Request
	deliveries []Delivery
}

// New starts a fake store and stops it when the test ends.
func New(t testing.TB) *Store {
	t.Helper()
	s := &Store{
		t:          t,
		now:        time.Now,
		currency:   "USD",
		orders:     map[int64]*order{},
		customers:  map[int64]*object{},
		nextKeyID:  1,
		nextHookID: 1,
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.srv = httptest.NewTLSServer(s.record(mux))
	s.URL = s.srv.URL
	// The store reaches delivery and callback URLs with a client that
	// trusts httptest's certificate, follows no redirects (WooCommerce
	// sends with redirection 0) and waits up to its 60 s.
	transport := s.srv.Client().Transport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: transport.TLSClientConfig.RootCAs}
	s.outbound = &http.Client{
		Transport:     transport,
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		s.srv.Close()
		transport.CloseIdleConnections()
	})
	return s
}

// Client returns an HTTP client that trusts the store's certificate; each
// call returns a new one, so a test may change it freely.
func (s *Store) Client() *http.Client {
	c := *s.srv.Client()
	return &c
}

// SetClock makes the store tell time with now, for dates and delivery ids.
func (s *Store) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetCurrency sets the store currency system_status reports (USD unset).
func (s *Store) SetCurrency(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.currency = code
}

// FailNext makes the next n REST API requests fail with status before any
// other check, as a proxy or host in front of the store would: 429 with
// Retry-After RetryAfter, or a 5xx.
func (s *Store) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, status)
	}
}

// LoseNextAnswer makes the store carry out the next n REST API requests as
// usual and then answer each with a proxy's 502 page, as when a gateway
// times out while the store is still working: the client cannot tell
// whether anything was done.
func (s *Store) LoseNextAnswer(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// loseAnswers replaces the answer of a request LoseNextAnswer chose.
func (s *Store) loseAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		lose := s.lose > 0
		if lose {
			s.lose--
		}
		s.mu.Unlock()
		if !lose {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"))
	})
}

// DenyConnect makes the merchant refuse (deny true) or approve (false, the
// default) the app at /wc-auth/v1/authorize.
func (s *Store) DenyConnect(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// StripAuthorization makes the store's host drop the Authorization header
// before WordPress sees it (strip true), as some CGI and FastCGI set-ups and
// proxies do. WooCommerce then finds no key in the request and answers 401
// "Consumer key is missing."; keys sent as the consumer_key and
// consumer_secret query parameters still work.
func (s *Store) StripAuthorization(strip bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stripAuth = strip
}

// IssueKeys creates an API key pair with permissions (read, write or
// read_write), as the merchant could under Settings › Advanced › REST API.
func (s *Store) IssueKeys(permissions string) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.issueKeys("Test key", permissions)
}

func (s *Store) issueKeys(description, permissions string) *Key {
	k := &Key{
		ID:          s.nextKeyID,
		Description: description,
		Permissions: permissions,
		// wc_rand_hash is 40 hex digits.
		ConsumerKey:    "ck_" + randomHex(20),
		ConsumerSecret: "cs_" + randomHex(20),
	}
	s.nextKeyID++
	s.keys = append(s.keys, k)
	return k
}

// Keys returns the keys the store holds, oldest first.
func (s *Store) Keys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = *k
	}
	return out
}

// Webhooks returns the store's webhooks in creation order.
func (s *Store) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, len(s.webhooks))
	for i, w := range s.webhooks {
		out[i] = *w
		out[i].Pings = slices.Clone(w.Pings)
	}
	return out
}

// AddWebhook adds a webhook as an earlier install, or the merchant, would
// have, without pinging it.
func (s *Store) AddWebhook(topic, deliveryURL, secret, status string) Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.newWebhook("Webhook added by the test", topic, deliveryURL, secret)
	w.Status = status
	return *w
}

// Deliveries returns every delivery attempted so far, oldest first.
func (s *Store) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// Requests returns every request received so far, oldest first.
func (s *Store) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// record logs every request with the status it was answered.
func (s *Store) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status})
		s.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// caller is who a REST request authenticated as.
type caller struct {
	key *Key // nil: anonymous
}

type callerKey struct{}

// authenticate plays WC_REST_Authentication over https: injected faults
// first, then the consumer key from Basic auth (or the consumer_key and
// consumer_secret query parameters), then the key's read or write
// permission for the method. An unknown key authenticates nobody, so the
// endpoint's own permission check answers.
func (s *Store) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fault := 0
		if len(s.faults) > 0 {
			fault, s.faults = s.faults[0], s.faults[1:]
		}
		s.mu.Unlock()
		switch {
		case fault == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", RetryAfter)
			restError(w, fault, "too_many_requests", "Too many requests.")
			return
		case fault != 0:
			restError(w, fault, "internal_server_error", "There has been a critical error on this website.")
			return
		}

		s.mu.Lock()
		strip := s.stripAuth
		s.mu.Unlock()
		ck, cs := r.URL.Query().Get("consumer_key"), r.URL.Query().Get("consumer_secret")
		if ck == "" || cs == "" {
			if strip {
				restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer key is missing.")
				return
			}
			ck, cs, _ = r.BasicAuth()
		}
		var who caller
		if ck != "" && cs != "" {
			s.mu.Lock()
			for _, k := range s.keys {
				if k.ConsumerKey == ck {
					who.key = k
				}
			}
			s.mu.Unlock()
			if who.key != nil && who.key.ConsumerSecret != cs {
				w.Header().Set("WWW-Authenticate", `Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field."`)
				restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
				return
			}
		}
		if who.key != nil {
			p := who.key.Permissions
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				if p != "read" && p != "read_write" {
					restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "The API key provided does not have read permissions.")
					return
				}
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				if p != "write" && p != "read_write" {
					restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
					return
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, who)))
	})
}

// allowed answers the endpoint's permission check: any authenticated key
// belongs to the store's administrator, who may do everything.
func allowed(w http.ResponseWriter, r *http.Request, code, message string) bool {
	who, _ := r.Context().Value(callerKey{}).(caller)
	if who.key == nil {
		restError(w, http.StatusUnauthorized, code, message)
		return false
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mysqlTime formats a time as WooCommerce's REST API writes dates: no zone,
// in UTC for *_gmt fields and in SiteZone for the others.
func mysqlTime(t time.Time) string { return t.Format("2006-01-02T15:04:05") }

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Second) }
