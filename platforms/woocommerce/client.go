package woocommerce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// APIPath is the REST API base under a store's URL. v3 is the current
// version of WooCommerce's REST API and the one its webhooks send.
const APIPath = "/wp-json/wc/v3"

// Retry defaults.
const (
	defaultMaxRetries = 5
	backoffBase       = 500 * time.Millisecond
	backoffCap        = 16 * time.Second
	// maxWait bounds one pause, whatever the server says, so that a wrong
	// Retry-After cannot park a job for hours.
	maxWait         = 5 * time.Minute
	defaultTimeout  = 60 * time.Second
	maxResponseBody = 32 << 20
	// perPage is the largest page WooCommerce's collections allow.
	perPage = 100
	// maxPages stops a listing whose store ignores the page parameter.
	maxPages = 10_000
)

// ClientOptions tune a Client. The zero value is ready for production.
type ClientOptions struct {
	// HTTP sends the requests; nil means a client with a 60 s timeout.
	// Redirects are never followed, whatever its CheckRedirect says.
	HTTP *http.Client
	// MaxRetries is how many times one call is retried after a 429, a
	// 5xx or a network error; 0 means 5 and a negative value none.
	MaxRetries int
	// Sleep waits between attempts; nil means a timer that stops when ctx
	// is done. Tests record the waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
	// AllowHTTP lets the store URL be plain http, for local development
	// and tests. WooCommerce itself accepts HTTP Basic auth only over
	// https (over http it expects OAuth 1.0a signatures), and the keys
	// would travel in clear. It is development mode, so it also lets the
	// client reach private addresses, as AllowPrivateHosts does.
	AllowHTTP bool
	// AllowPrivateHosts lets the client reach loopback, private and
	// link-local addresses (a store on localhost or the office network).
	// Without it (production), a store whose name resolves to one is
	// refused at the moment of dialling, whatever the name said when the
	// store was connected: the connect callback needs no sign-in, so
	// anyone could otherwise make the app call its own network (a cloud's
	// metadata service, an admin port). The check is in the dialer, on
	// the address actually dialled, so a name that resolves differently
	// later (DNS rebinding) is caught too. It applies to the transport
	// NewClient provides; an HTTP client with a Transport of its own
	// (tests' fake stores) dials as that Transport does.
	AllowPrivateHosts bool
}

// Client calls one store's WooCommerce REST API with one key pair. It is
// safe for concurrent use.
type Client struct {
	store      string // normalized store URL
	storeErr   error  // why the store URL was refused, if it was
	base       string
	key        string
	secret     string
	http       *http.Client
	maxRetries int
	sleep      func(context.Context, time.Duration) error
	// jitter spreads retries so that many workers hit by one outage do
	// not come back in step.
	jitter func(time.Duration) time.Duration
	// queryAuth is set once the store has shown that the Authorization
	// header does not reach it (see send): from then on the keys go in
	// the query string.
	queryAuth atomic.Bool
}

// NewClient returns a client for the store at storeURL (normalized with
// NormalizeStoreURL) that authenticates with the consumer key and secret by
// HTTP Basic auth. A client for a URL that does not pass (plain http without
// AllowHTTP, say) refuses every call rather than send the keys.
func NewClient(storeURL, consumerKey, consumerSecret string, opts ClientOptions) *Client {
	store, err := NormalizeStoreURL(storeURL, opts.AllowHTTP)
	c := &Client{
		store:      store,
		storeErr:   err,
		base:       store + APIPath,
		key:        consumerKey,
		secret:     consumerSecret,
		maxRetries: opts.MaxRetries,
		sleep:      opts.Sleep,
		jitter:     func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) },
	}
	if err != nil {
		c.store = storeURL
	}
	hc := &http.Client{Timeout: defaultTimeout}
	if opts.HTTP != nil {
		copied := *opts.HTTP
		hc = &copied
	}
	if !opts.AllowHTTP && !opts.AllowPrivateHosts && (hc.Transport == nil || hc.Transport == http.DefaultTransport) {
		hc.Transport = publicTransport()
	}
	// A REST endpoint that redirects is a store whose address is
	// configured differently (http → https, www or not). Following would
	// turn a POST into a GET and may carry the keys elsewhere; saying so
	// lets the merchant fix the URL.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = hc
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	return c
}

// StoreURL returns the normalized store URL the client speaks to.
func (c *Client) StoreURL() string { return c.store }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// APIError is an answer other than success from the store: WooCommerce's own
// {"code","message","data":{"status"}} when it sent one. It never holds the
// consumer key or secret.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is WooCommerce's machine-readable code, such as
	// woocommerce_rest_cannot_view or woocommerce_rest_authentication_error.
	Code string
	// Message is WooCommerce's explanation, or a short excerpt of a body
	// that was not WooCommerce's JSON (a proxy's or firewall's page).
	Message string
}

// Error reads "woocommerce api: 401 Unauthorized (woocommerce_rest_cannot_view): Sorry, you cannot list resources.".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "woocommerce api: %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// IsUnauthorized reports whether err is the store refusing the keys: they
// were revoked, their user lost the manage_woocommerce capability, or they
// lack the permission (read or write) the call needs.
func IsUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

func (c *Client) newAPIError(status int, header http.Header, body []byte) *APIError {
	e := &APIError{Status: status}
	var shape struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &shape) == nil && (shape.Code != "" || shape.Message != "") {
		e.Code, e.Message = shape.Code, shape.Message
	} else if status >= 300 && status < 400 {
		e.Message = "the store redirects to " + header.Get("Location") + "; use that address as the store URL"
	} else {
		e.Message = excerpt(body)
	}
	// WooCommerce never echoes the keys, but a plugin or proxy might.
	for _, s := range []string{c.secret, c.key} {
		if s != "" {
			e.Message = strings.ReplaceAll(e.Message, s, "[redacted]")
		}
	}
	return e
}

// excerpt is the first line of a non-JSON body, shortened, for errors.
func excerpt(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 120 {
		line = line[:120] + "…"
	}
	return strings.ToValidUTF8(line, "")
}

// response is what one request came back with.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request and decodes the JSON answer into out (unless out is
// nil), retrying as the package documents: GET and PUT after a 429, a 5xx or
// a network error; POST, which creates, only when the store cannot have
// acted on it (a 429, a 503, a connection that was never made), so a retry
// never makes a second webhook. Errors name the method and path, never the
// keys.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) (http.Header, error) {
	h, err := c.send(ctx, method, path, query, in, out)
	if err != nil {
		return nil, fmt.Errorf("woocommerce %s %s: %w", method, path, err)
	}
	return h, nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, in, out any) (http.Header, error) {
	if c.storeErr != nil {
		return nil, c.storeErr
	}
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
	}
	idempotent := method != http.MethodPost
	failures := 0 // consecutive failures, for the backoff
	for try := 0; ; try++ {
		queryAuth := c.queryAuth.Load()
		resp, err := c.do(ctx, method, c.target(path, query, queryAuth), payload, queryAuth)
		if err == nil && !queryAuth && c.headerStripped(resp) {
			// Some hosts (CGI/FastCGI set-ups, proxies) drop the
			// Authorization header, and WooCommerce answers as if no key
			// was sent. Its documentation's remedy is the keys as query
			// parameters, over https only; the store did nothing, so
			// even a POST can be sent again, once. Whatever the answer,
			// the header is known not to work for this client.
			c.queryAuth.Store(true)
			resp, err = c.do(ctx, method, c.target(path, query, true), payload, true)
		}
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, ErrPrivateAddress):
			return nil, err
		case err != nil:
			if !idempotent && !neverConnected(err) {
				return nil, err
			}
			wait = c.backoff(failures)
			failures++
		case resp.status >= 200 && resp.status < 300:
			if out != nil {
				if err := json.Unmarshal(resp.body, out); err != nil {
					return nil, fmt.Errorf("answer is not the JSON expected: %w", err)
				}
			}
			return resp.header, nil
		case resp.status == http.StatusTooManyRequests:
			err = c.newAPIError(resp.status, resp.header, resp.body)
			wait = c.retryAfter(resp.header, failures)
			failures++
		case resp.status >= 500 && (idempotent || resp.status == http.StatusServiceUnavailable):
			err = c.newAPIError(resp.status, resp.header, resp.body)
			wait = c.retryAfter(resp.header, failures)
			failures++
		default:
			return nil, c.newAPIError(resp.status, resp.header, resp.body)
		}
		if try >= c.maxRetries {
			return nil, fmt.Errorf("gave up after %d attempts: %w", try+1, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// target is the URL of path with query, and the keys in it when queryAuth.
func (c *Client) target(path string, query url.Values, queryAuth bool) string {
	target := c.base + path
	if queryAuth {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("consumer_key", c.key)
		q.Set("consumer_secret", c.secret)
		query = q
	}
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	return target
}

// headerStripped reports whether the store answered as WooCommerce does
// when the Authorization header never reached it: 401 "Consumer key is
// missing." Only https stores get the keys in the query string; over plain
// http (development only) they would travel in clear in every log.
func (c *Client) headerStripped(resp response) bool {
	if resp.status != http.StatusUnauthorized || !strings.HasPrefix(c.store, "https://") {
		return false
	}
	var shape struct {
		Message string `json:"message"`
	}
	return json.Unmarshal(resp.body, &shape) == nil && strings.HasPrefix(shape.Message, "Consumer key is missing")
}

func (c *Client) do(ctx context.Context, method, target string, payload []byte, queryAuth bool) (response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return response{}, err
	}
	if !queryAuth {
		req.SetBasicAuth(c.key, c.secret)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The transport's errors quote the URL, which holds the keys
		// when they travel in the query string.
		var ue *url.Error
		if errors.As(err, &ue) && queryAuth {
			ue.URL, _, _ = strings.Cut(ue.URL, "?")
		}
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return response{}, err
	}
	// Some PHP setups prefix the JSON with a byte-order mark.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// neverConnected reports whether a request failed before any byte reached
// the store (refused, unresolvable), so that even a POST can be sent again.
func neverConnected(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// retryAfter is the pause a 429 or 5xx asks for in its Retry-After header
// (seconds, fractions allowed, or an HTTP date), else the backoff.
func (c *Client) retryAfter(h http.Header, failures int) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsInf(secs, 0) {
			return min(time.Duration(secs*float64(time.Second)), maxWait)
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(time.Until(t), 0), maxWait)
		}
	}
	return c.backoff(failures)
}

// backoff is the pause before retry n+1: 0.5 s doubling up to 16 s, each
// drawn from its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := backoffCap
	if n < 10 {
		d = min(backoffBase<<n, backoffCap)
	}
	return c.jitter(d)
}

// list pages through a collection, handing each page's raw items to fn. It
// stops after the page X-WP-TotalPages names as the last, or at an empty
// page, whichever comes first.
func (c *Client) list(ctx context.Context, path string, query url.Values, fn func([]json.RawMessage) error) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("per_page", strconv.Itoa(perPage))
	for page := 1; page <= maxPages; page++ {
		q.Set("page", strconv.Itoa(page))
		var items []json.RawMessage
		h, err := c.call(ctx, http.MethodGet, path, q, nil, &items)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		if err := fn(items); err != nil {
			return err
		}
		if total, err := strconv.Atoi(strings.TrimSpace(h.Get("X-WP-TotalPages"))); err == nil && page >= total {
			return nil
		}
	}
	return fmt.Errorf("woocommerce GET %s: more than %d pages", path, maxPages)
}

// StoreInfo is what the app records about a store when it connects.
type StoreInfo struct {
	// Currency is the ISO 4217 code of the store's currency, the one
	// order amounts are in.
	Currency string
	// WCVersion and WPVersion are the WooCommerce and WordPress versions.
	WCVersion string
	WPVersion string
	// HomeURL is the site's public address (the X-WC-Webhook-Source of
	// its deliveries, without the trailing slash); SiteURL is where
	// WordPress itself lives, which can differ.
	HomeURL string
	SiteURL string
}

// systemStatusFields asks only for what StoreInfo holds. Without _fields
// the store builds its whole status report, which posts to paypal.com and
// fetches from woocommerce.com to test its outbound connections, and lists
// every database table.
const systemStatusFields = "environment.home_url,environment.site_url,environment.version,environment.wp_version,settings.currency"

// SystemStatus reads the store's currency and versions from
// GET /system_status. It needs read permission on the store's system status
// (the keys' user must manage WooCommerce), so it is also how the app checks
// keys it has just been given.
//
// The status report has no store name or time zone (its default_timezone is
// PHP's, which WordPress always sets to UTC), so StoreInfo has neither.
func (c *Client) SystemStatus(ctx context.Context) (StoreInfo, error) {
	var status struct {
		Environment struct {
			HomeURL   string `json:"home_url"`
			SiteURL   string `json:"site_url"`
			Version   string `json:"version"`
			WPVersion string `json:"wp_version"`
		} `json:"environment"`
		Settings struct {
			Currency string `json:"currency"`
		} `json:"settings"`
	}
	q := url.Values{"_fields": {systemStatusFields}}
	if _, err := c.call(ctx, http.MethodGet, "/system_status", q, nil, &status); err != nil {
		return StoreInfo{}, err
	}
	if status.Settings.Currency == "" {
		return StoreInfo{}, fmt.Errorf("woocommerce GET /system_status: no currency in the answer")
	}
	return StoreInfo{
		Currency:  status.Settings.Currency,
		WCVersion: status.Environment.Version,
		WPVersion: status.Environment.WPVersion,
		HomeURL:   strings.TrimSuffix(status.Environment.HomeURL, "/"),
		SiteURL:   strings.TrimSuffix(status.Environment.SiteURL, "/"),
	}, nil
}

// Webhook statuses. WooCommerce sets disabled itself after failed deliveries;
// a merchant sets paused.
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// Webhook is a webhook as the REST API lists it. The secret is write-only
// and never read back.
type Webhook struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Topic       string `json:"topic"`
	DeliveryURL string `json:"delivery_url"`
}

// WebhookInput creates or updates a webhook. Empty fields are left out, and
// an update leaves out fields keep their values.
type WebhookInput struct {
	Name        string `json:"name,omitempty"`
	Status      string `json:"status,omitempty"`
	Topic       string `json:"topic,omitempty"`
	DeliveryURL string `json:"delivery_url,omitempty"`
	// Secret signs the deliveries. Always set one: WooCommerce otherwise
	// makes up a random one that it never reveals.
	Secret string `json:"secret,omitempty"`
}

// Webhooks lists every webhook of the store, whatever its status, page by
// page.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var all []Webhook
	q := url.Values{"status": {"all"}, "orderby": {"id"}, "order": {"asc"}}
	err := c.list(ctx, "/webhooks", q, func(items []json.RawMessage) error {
		for _, raw := range items {
			var w Webhook
			if err := json.Unmarshal(raw, &w); err != nil {
				return fmt.Errorf("woocommerce GET /webhooks: %w", err)
			}
			all = append(all, w)
		}
		return nil
	})
	return all, err
}

// CreateWebhook creates a webhook. WooCommerce creates it active whatever
// status is asked for, and pings the delivery URL before answering (see
// IsPing); the answer does not say whether the ping succeeded.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (Webhook, error) {
	var w Webhook
	_, err := c.call(ctx, http.MethodPost, "/webhooks", nil, in, &w)
	return w, err
}

// UpdateWebhook changes the fields of in that are set. Activating a
// webhook whose ping never succeeded pings again.
func (c *Client) UpdateWebhook(ctx context.Context, id int64, in WebhookInput) (Webhook, error) {
	var w Webhook
	_, err := c.call(ctx, http.MethodPut, "/webhooks/"+strconv.FormatInt(id, 10), nil, in, &w)
	return w, err
}

// WebhookName is the name the app gives its webhooks in the store's
// settings, followed by the topic.
const WebhookName = "Loyalty points"

// RegisterWebhooks makes sure the store sends each topic to deliveryURL,
// signed with secret, and is idempotent, so it runs on every connect: a
// webhook with the topic and delivery URL already there is updated (made
// active, and given the secret again, since WooCommerce never reveals the
// one it holds); only missing ones are created, active. Webhooks to other
// addresses are left alone.
//
// A create whose answer was lost to a 5xx or a network error is looked for
// before it is reported, since the store may have made it anyway.
//
// It returns the webhooks it created, also when it fails part-way, so that
// a connect that goes no further can take them away (DeleteWebhooks).
func (c *Client) RegisterWebhooks(ctx context.Context, deliveryURL, secret string, topics []string) (created []Webhook, err error) {
	if deliveryURL == "" {
		return nil, errors.New("woocommerce register webhooks: no delivery URL")
	}
	if secret == "" {
		return nil, errors.New("woocommerce register webhooks: no secret")
	}
	existing, err := c.Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("register webhooks: %w", err)
	}
	done := map[string]bool{}
	for _, topic := range topics {
		topic = strings.ToLower(strings.TrimSpace(topic))
		if topic == "" || done[topic] {
			continue
		}
		done[topic] = true
		in := WebhookInput{
			Name:        WebhookName + ": " + topic,
			Status:      WebhookActive,
			Topic:       topic,
			DeliveryURL: deliveryURL,
			Secret:      secret,
		}
		ours := matching(existing, deliveryURL, topic)
		if len(ours) == 0 {
			w, err := c.CreateWebhook(ctx, in)
			if err == nil {
				created = append(created, w)
				continue
			}
			if !maybeApplied(err) {
				return created, fmt.Errorf("register webhook %s: %w", topic, err)
			}
			// The store may have created it before failing to answer.
			if existing, _ = c.Webhooks(ctx); len(matching(existing, deliveryURL, topic)) == 0 {
				return created, fmt.Errorf("register webhook %s: %w", topic, err)
			}
			ours = matching(existing, deliveryURL, topic)
			created = append(created, ours...)
		}
		// Every match is updated, so a duplicate left by an earlier run
		// signs with the same secret.
		for _, w := range ours {
			if _, err := c.UpdateWebhook(ctx, w.ID, in); err != nil {
				return created, fmt.Errorf("register webhook %s: %w", topic, err)
			}
		}
	}
	return created, nil
}

// DeleteWebhooks deletes the webhooks, for good (WooCommerce cannot trash
// them). One already gone counts as deleted. It tries every webhook and
// reports the first failure.
func (c *Client) DeleteWebhooks(ctx context.Context, webhooks []Webhook) error {
	var first error
	for _, w := range webhooks {
		_, err := c.call(ctx, http.MethodDelete, "/webhooks/"+strconv.FormatInt(w.ID, 10), url.Values{"force": {"true"}}, nil, nil)
		var e *APIError
		if err != nil && !(errors.As(err, &e) && e.Status == http.StatusNotFound) && first == nil {
			first = fmt.Errorf("delete webhook %d: %w", w.ID, err)
		}
	}
	return first
}

// maybeApplied reports whether a failed call may still have taken effect on
// the store: it answered 5xx, or the answer was lost.
func maybeApplied(err error) bool {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// matching returns the webhooks of topic that deliver to deliveryURL.
func matching(webhooks []Webhook, deliveryURL, topic string) []Webhook {
	var out []Webhook
	for _, w := range webhooks {
		if (topic == "" || strings.EqualFold(w.Topic, topic)) && sameURL(w.DeliveryURL, deliveryURL) {
			out = append(out, w)
		}
	}
	return out
}

// sameURL compares delivery URLs as WooCommerce stores them: scheme and host
// in any case, the rest exactly, a trailing slash aside.
func sameURL(a, b string) bool {
	ua, errA := url.Parse(strings.TrimSpace(a))
	ub, errB := url.Parse(strings.TrimSpace(b))
	if errA != nil || errB != nil {
		return a == b
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/") && ua.RawQuery == ub.RawQuery
}

// WebhookRepair is what RepairWebhooks found and did.
type WebhookRepair struct {
	// Recreated are the webhooks made again for topics that had none:
	// the merchant (or a plugin) deleted them.
	Recreated []Webhook
	// Reactivated are the webhooks WooCommerce had disabled after failed
	// deliveries, as they were found (Status disabled), now active again.
	Reactivated []Webhook
	// Paused are webhooks the merchant paused, left as they are: that is
	// the merchant's decision, and only they should undo it.
	Paused []Webhook
}

// Changed reports whether the repair changed anything on the store.
func (r WebhookRepair) Changed() bool { return len(r.Recreated)+len(r.Reactivated) > 0 }

// RepairWebhooks makes the store deliver topics to deliveryURL again where
// it stopped without the merchant asking: a topic with no webhook left
// gets one again (signed with secret, through RegisterWebhooks), and a
// webhook WooCommerce disabled after failed deliveries is made active. A
// paused webhook is only reported. Webhooks to other addresses are left
// alone.
//
// WooCommerce keeps the failure count of a webhook it re-activates, so
// one more failure disables it again at once; only a successful delivery
// resets the count.
func (c *Client) RepairWebhooks(ctx context.Context, deliveryURL, secret string, topics []string) (WebhookRepair, error) {
	var out WebhookRepair
	existing, err := c.Webhooks(ctx)
	if err != nil {
		return out, fmt.Errorf("repair webhooks: %w", err)
	}
	ours := matching(existing, deliveryURL, "")
	var missing []string
	for _, topic := range topics {
		if len(matching(ours, deliveryURL, strings.ToLower(strings.TrimSpace(topic)))) == 0 {
			missing = append(missing, topic)
		}
	}
	if len(missing) > 0 {
		out.Recreated, err = c.RegisterWebhooks(ctx, deliveryURL, secret, missing)
		if err != nil {
			return out, fmt.Errorf("repair webhooks: %w", err)
		}
	}
	for _, w := range ours {
		switch w.Status {
		case WebhookPaused:
			out.Paused = append(out.Paused, w)
		case WebhookDisabled:
			if _, err := c.UpdateWebhook(ctx, w.ID, WebhookInput{Status: WebhookActive}); err != nil {
				return out, fmt.Errorf("reactivate webhook %d: %w", w.ID, err)
			}
			out.Reactivated = append(out.Reactivated, w)
		}
	}
	return out, nil
}

// OrdersModifiedAfter hands fn the raw JSON of every order modified after
// the given time, oldest change first, for the reconciliation that makes up
// for deliveries WooCommerce never retries. Each body is what a webhook
// would carry, so it goes through ParseOrder the same way. Trashed orders,
// which the default listing leaves out, come in a second pass with their
// status "trash".
//
// It returns the latest date_modified_gmt among the orders fn accepted; it
// stops at fn's first error. WooCommerce compares modified_after strictly
// and to the second, and an order changed while the pages are read moves
// to the end of the listing, so pass the next call a time a little before
// the latest returned: the ledger ignores orders seen twice.
func (c *Client) OrdersModifiedAfter(ctx context.Context, after time.Time, fn func(raw json.RawMessage) error) (latest time.Time, err error) {
	for _, status := range []string{"", "trash"} {
		q := url.Values{
			"modified_after": {after.UTC().Format(time.RFC3339)},
			// Without it WooCommerce compares modified_after with the
			// order's local (site time zone) date.
			"dates_are_gmt": {"true"},
			"orderby":       {"modified"},
			"order":         {"asc"},
		}
		if status != "" {
			q.Set("status", status)
		}
		err := c.list(ctx, "/orders", q, func(items []json.RawMessage) error {
			for _, raw := range items {
				if err := fn(raw); err != nil {
					return err
				}
				if _, modified, err := ResourceState(raw); err == nil {
					if t := parseGMT(modified); t.After(latest) {
						latest = t
					}
				}
			}
			return nil
		})
		if err != nil {
			return latest, err
		}
	}
	return latest, nil
}

// Order returns the raw JSON of one order, for ParseOrder.
func (c *Client) Order(ctx context.Context, id int64) (json.RawMessage, error) {
	var raw json.RawMessage
	_, err := c.call(ctx, http.MethodGet, "/orders/"+strconv.FormatInt(id, 10), nil, nil, &raw)
	return raw, err
}

// ErrPrivateAddress is why a production client refuses to dial a store:
// its name resolved to a loopback, private or link-local address.
var ErrPrivateAddress = errors.New("the store's address is a loopback, private or link-local one, which the app does not call")

// publicTransport is the transport of production clients: the default one,
// dialling only public addresses, shared so connections are reused. The
// store is dialled directly, never through a proxy from the environment:
// the guard would then check the proxy's address, not the store's.
var publicTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refusePrivate}
	t.DialContext = d.DialContext
	return t
})

// sharedAddressSpace is 100.64.0.0/10 (carrier-grade NAT), where some
// clouds keep internal services such as their metadata endpoint.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// refusePrivate is a net.Dialer Control hook: it runs after name
// resolution, on each address about to be dialled.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrPrivateAddress)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrPrivateAddress)
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		sharedAddressSpace.Contains(ip) || (ip.Is4() && ip.As4()[0] == 0) {
		return fmt.Errorf("dial %s: %w", address, ErrPrivateAddress)
	}
	return nil
}
