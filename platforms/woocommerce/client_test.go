package woocommerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/woocommerce/woocommercetest"
)

// sleeper records the client's waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// clientFixture is a fake store, read_write keys for it, and a client that
// records its waits.
type clientFixture struct {
	store   *woocommercetest.Store
	keys    woocommercetest.Key
	sleeper *sleeper
	client  *Client
}

func newClientFixture(t *testing.T, tune func(*ClientOptions)) *clientFixture {
	t.Helper()
	f := &clientFixture{store: woocommercetest.New(t), sleeper: &sleeper{}}
	f.keys = f.store.IssueKeys("read_write")
	opts := ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep}
	if tune != nil {
		tune(&opts)
	}
	f.client = NewClient(f.store.URL, f.keys.ConsumerKey, f.keys.ConsumerSecret, opts)
	return f
}

// apiRequests are the REST requests the store received for path (under
// /wp-json/wc/v3), in order.
func (f *clientFixture) apiRequests(method, path string) []woocommercetest.Request {
	var out []woocommercetest.Request
	for _, r := range f.store.Requests() {
		if r.Method == method && r.Path == APIPath+path {
			out = append(out, r)
		}
	}
	return out
}

func statuses(reqs []woocommercetest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

func apiError(t *testing.T, err error) *APIError {
	t.Helper()
	var e *APIError
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *APIError", err)
	}
	return e
}

// receiver is a delivery URL that answers pings and deliveries as told and
// counts them.
type receiver struct {
	*httptest.Server
	pingStatus, deliveryStatus atomic.Int32
	pings, deliveries          atomic.Int32
}

func newReceiver(t *testing.T, pingStatus, deliveryStatus int) *receiver {
	t.Helper()
	r := &receiver{}
	r.pingStatus.Store(int32(pingStatus))
	r.deliveryStatus.Store(int32(deliveryStatus))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if IsPing(req.Header, body) {
			r.pings.Add(1)
			w.WriteHeader(int(r.pingStatus.Load()))
			return
		}
		r.deliveries.Add(1)
		w.WriteHeader(int(r.deliveryStatus.Load()))
	}))
	t.Cleanup(r.Close)
	return r
}

func TestSystemStatusReadsTheStoreCheaply(t *testing.T) {
	f := newClientFixture(t, nil)
	f.store.SetCurrency("PLN")
	info, err := f.client.SystemStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := StoreInfo{Currency: "PLN", WCVersion: woocommercetest.WCVersion, WPVersion: woocommercetest.WPVersion,
		HomeURL: f.store.URL, SiteURL: f.store.URL}
	if info != want {
		t.Errorf("info = %+v, want %+v", info, want)
	}
	// Without _fields the store would test its outbound connections.
	reqs := f.apiRequests("GET", "/system_status")
	if len(reqs) != 1 || !strings.Contains(reqs[0].Query, "_fields=") {
		t.Errorf("requests = %+v, want one asking for _fields", reqs)
	}
}

func TestKeysTheStoreRefusesAreUnauthorized(t *testing.T) {
	f := newClientFixture(t, nil)
	readOnly := f.store.IssueKeys("read")
	tests := []struct {
		name, key, secret string
		call              func(*Client) error
		code, message     string
	}{
		{"an unknown key falls through to the endpoint's check", "ck_unknown", "cs_unknown",
			func(c *Client) error { _, err := c.SystemStatus(context.Background()); return err },
			"woocommerce_rest_cannot_view", "Sorry, you cannot list resources."},
		{"a wrong secret", f.keys.ConsumerKey, "cs_wrong",
			func(c *Client) error { _, err := c.Webhooks(context.Background()); return err },
			"woocommerce_rest_authentication_error", "Consumer secret is invalid."},
		{"a read key cannot create", readOnly.ConsumerKey, readOnly.ConsumerSecret,
			func(c *Client) error {
				_, err := c.CreateWebhook(context.Background(), WebhookInput{Topic: TopicOrderCreated, DeliveryURL: "https://app.example/wc", Secret: "s"})
				return err
			},
			"woocommerce_rest_authentication_error", "The API key provided does not have write permissions."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(f.store.URL, tt.key, tt.secret, ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
			err := tt.call(c)
			e := apiError(t, err)
			if e.Status != http.StatusUnauthorized || e.Code != tt.code || e.Message != tt.message {
				t.Errorf("APIError = %+v, want 401 %s %q", e, tt.code, tt.message)
			}
			if !IsUnauthorized(err) {
				t.Error("IsUnauthorized = false")
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the secret", err)
			}
			if len(f.sleeper.Waits()) != 0 {
				t.Errorf("a 401 was retried: waits %v", f.sleeper.Waits())
			}
		})
	}
	if len(f.store.Webhooks()) != 0 {
		t.Error("a read key created a webhook")
	}
}

func TestClientWaitsOutA429ForItsRetryAfter(t *testing.T) {
	f := newClientFixture(t, nil)
	f.store.FailNext(2, http.StatusTooManyRequests)
	if _, err := f.client.SystemStatus(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.sleeper.Waits(); !slices.Equal(got, []time.Duration{3 * time.Second, 3 * time.Second}) {
		t.Errorf("waits = %v, want two of the store's 3 s", got)
	}
	if got := statuses(f.apiRequests("GET", "/system_status")); !slices.Equal(got, []int{429, 429, 200}) {
		t.Errorf("statuses = %v", got)
	}
}

func TestRetryAfterForms(t *testing.T) {
	c := NewClient("https://example.com", "ck_x", "cs_x", ClientOptions{})
	c.jitter = func(d time.Duration) time.Duration { return d }
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name, header string
		min, max     time.Duration
	}{
		{"whole seconds", "3", 3 * time.Second, 3 * time.Second},
		{"fractional seconds", "1.5", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"an HTTP date", date, 28 * time.Second, 30 * time.Second},
		{"absent means the backoff", "", backoffBase, backoffBase},
		{"unreadable means the backoff", "soon", backoffBase, backoffBase},
		{"absurd values are capped", "86400", maxWait, maxWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Retry-After", tt.header)
			}
			if got := c.retryAfter(h, 0); got < tt.min || got > tt.max {
				t.Errorf("retryAfter = %v, want within [%v, %v]", got, tt.min, tt.max)
			}
		})
	}
}

func TestClientBacksOffExponentiallyOn5xx(t *testing.T) {
	f := newClientFixture(t, nil)
	for _, status := range []int{500, 502, 503, 504} {
		f.store.FailNext(1, status)
	}
	if _, err := f.client.Webhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	waits := f.sleeper.Waits()
	if len(waits) != 4 {
		t.Fatalf("waits = %v, want 4", waits)
	}
	for i, w := range waits {
		ceiling := backoffBase << i // 0.5 s, 1 s, 2 s, 4 s
		if w < ceiling/2 || w > ceiling {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, w, ceiling/2, ceiling)
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	c := NewClient("https://example.com", "ck_x", "cs_x", ClientOptions{})
	c.jitter = func(d time.Duration) time.Duration { return d }
	for n, want := range map[int]time.Duration{0: 500 * time.Millisecond, 5: backoffCap, 9: backoffCap, 60: backoffCap} {
		if got := c.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestClientGivesUpAfterMaxRetries(t *testing.T) {
	f := newClientFixture(t, func(o *ClientOptions) { o.MaxRetries = 2 })
	f.store.FailNext(5, http.StatusServiceUnavailable)
	_, err := f.client.Order(context.Background(), 1)
	if e := apiError(t, err); e.Status != 503 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v", err)
	}
	if len(f.sleeper.Waits()) != 2 {
		t.Errorf("waits = %v, want 2", f.sleeper.Waits())
	}
}

func TestCreateIsRetriedOnlyWhenTheStoreCannotHaveActed(t *testing.T) {
	in := WebhookInput{Name: "x", Status: WebhookActive, Topic: TopicOrderCreated, DeliveryURL: "https://app.example/wc", Secret: "s3cret"}
	t.Run("a 500 is not retried", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.store.FailNext(1, http.StatusInternalServerError)
		if _, err := f.client.CreateWebhook(context.Background(), in); apiError(t, err).Status != 500 {
			t.Fatalf("err = %v", err)
		}
		if got := statuses(f.apiRequests("POST", "/webhooks")); !slices.Equal(got, []int{500}) {
			t.Errorf("POSTs = %v, want one", got)
		}
	})
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprintf("a %d is retried", status), func(t *testing.T) {
			f := newClientFixture(t, nil)
			f.store.FailNext(1, status)
			w, err := f.client.CreateWebhook(context.Background(), in)
			if err != nil || w.ID == 0 {
				t.Fatalf("CreateWebhook = %+v, %v", w, err)
			}
			if got := statuses(f.apiRequests("POST", "/webhooks")); !slices.Equal(got, []int{status, 201}) {
				t.Errorf("POSTs = %v", got)
			}
		})
	}
}

// flakyTransport fails requests chosen by fail, either before sending them
// (err) or by replacing the store's answer after it acted (status).
type flakyTransport struct {
	next http.RoundTripper
	fail func(*http.Request) (status int, err error)
}

func (t flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	status, err := t.fail(req)
	if err != nil {
		return nil, err
	}
	resp, rerr := t.next.RoundTrip(req)
	if rerr != nil || status == 0 {
		return resp, rerr
	}
	resp.Body.Close()
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("<html>Bad gateway</html>")), Request: req}, nil
}

func TestNetworkErrorsAreRetriedWhereSafe(t *testing.T) {
	reset := errors.New("connection reset by peer")
	var failures atomic.Int32
	f := newClientFixture(t, func(o *ClientOptions) {
		base := o.HTTP.Transport
		o.HTTP = &http.Client{Transport: flakyTransport{base, func(*http.Request) (int, error) {
			if failures.Add(-1) >= 0 {
				return 0, reset
			}
			return 0, nil
		}}}
	})
	failures.Store(2)
	if _, err := f.client.Webhooks(context.Background()); err != nil {
		t.Fatalf("a GET after two resets: %v", err)
	}
	failures.Store(1)
	_, err := f.client.CreateWebhook(context.Background(), WebhookInput{Topic: TopicOrderCreated, DeliveryURL: "https://app.example/wc", Secret: "s"})
	if !errors.Is(err, reset) {
		t.Errorf("a POST after a reset: err = %v, want the reset, not retried", err)
	}
}

func TestRegisterWebhooksFindsACreateWhoseAnswerWasLost(t *testing.T) {
	rcv := newReceiver(t, 200, 200)
	var lost atomic.Bool
	f := newClientFixture(t, func(o *ClientOptions) {
		base := o.HTTP.Transport
		o.HTTP = &http.Client{Transport: flakyTransport{base, func(r *http.Request) (int, error) {
			if r.Method == "POST" && lost.CompareAndSwap(false, true) {
				return http.StatusBadGateway, nil // the store made it; the proxy lost the answer
			}
			return 0, nil
		}}}
	})
	if _, err := f.client.RegisterWebhooks(context.Background(), rcv.URL, "s3cret", []string{TopicOrderUpdated}); err != nil {
		t.Fatal(err)
	}
	if hooks := f.store.Webhooks(); len(hooks) != 1 || hooks[0].Status != "active" {
		t.Errorf("webhooks = %+v, want exactly one, active", hooks)
	}
}

func TestPlainHTTPIsRefusedUnlessAllowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if user, _, _ := r.BasicAuth(); user != "ck_local" {
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `{"settings":{"currency":"EUR"},"environment":{"version":"9.9.0"}}`)
	}))
	defer srv.Close()

	_, err := NewClient(srv.URL, "ck_local", "cs_local", ClientOptions{}).SystemStatus(context.Background())
	if err == nil || !strings.Contains(err.Error(), "https") || hits.Load() != 0 {
		t.Errorf("err = %v after %d requests, want a refusal before any", err, hits.Load())
	}
	info, err := NewClient(srv.URL, "ck_local", "cs_local", ClientOptions{AllowHTTP: true}).SystemStatus(context.Background())
	if err != nil || info.Currency != "EUR" {
		t.Errorf("with AllowHTTP: %+v, %v", info, err)
	}
}

func TestRedirectsAreReportedNotFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "https://www.shop.example"+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "ck_x", "cs_x", ClientOptions{AllowHTTP: true, HTTP: srv.Client()})
	_, err := c.Webhooks(context.Background())
	e := apiError(t, err)
	if e.Status != 301 || !strings.Contains(e.Message, "https://www.shop.example/wp-json/wc/v3/webhooks") || hits.Load() != 1 {
		t.Errorf("err = %v after %d requests", err, hits.Load())
	}
}

func TestAnswersThatAreNotWooCommercesJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			w.Header().Set("X-WP-TotalPages", "1")
			fmt.Fprint(w, "\xef\xbb\xbf[]") // a byte-order mark from a misconfigured PHP
		default:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<html><title>Access denied by the firewall for ck_secretkey</title>\n<body>…")
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "ck_secretkey", "cs_x", ClientOptions{AllowHTTP: true})
	if hooks, err := c.Webhooks(context.Background()); err != nil || len(hooks) != 0 {
		t.Errorf("Webhooks = %v, %v; want none", hooks, err)
	}
	_, err := c.Order(context.Background(), 1)
	e := apiError(t, err)
	if e.Status != 403 || !strings.Contains(e.Message, "Access denied") || strings.Contains(err.Error(), "ck_secretkey") {
		t.Errorf("err = %v", err)
	}
}

func TestOrderReturnsTheOrderAsTheStoreHasIt(t *testing.T) {
	f := newClientFixture(t, nil)
	id := f.store.PutOrder(SampleOrder(SampleOptions{ID: 812, CustomerID: 4, Status: "processing"}))
	f.store.AddRefund(id, app.MustAmount("5.00"), "scratched")
	raw, err := f.client.Order(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	o := mustParseOrder(t, raw)
	if o.ID != 812 || len(o.Refunds) != 1 || o.Refunds[0].Reason != "scratched" {
		t.Errorf("order = %+v", o)
	}
	_, err = f.client.Order(context.Background(), 999)
	if e := apiError(t, err); e.Status != 404 || e.Code != "woocommerce_rest_shop_order_invalid_id" {
		t.Errorf("err = %v", err)
	}
}

// clock is a settable time for the fake store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestOrdersModifiedAfterPagesThroughEveryChange(t *testing.T) {
	f := newClientFixture(t, nil)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{}
	f.store.SetClock(clk.Now)
	// 250 orders, one a second, put in reverse id order so that time and
	// id disagree; then order 7 is trashed last.
	for i := range 250 {
		clk.Set(start.Add(time.Duration(i) * time.Second))
		f.store.PutOrder(SampleOrder(SampleOptions{ID: int64(1000 - i), Status: "processing"}))
	}
	clk.Set(start.Add(300 * time.Second))
	f.store.PutOrder(SampleOrder(SampleOptions{ID: 7, Status: "processing"}))
	f.store.SetStatus(7, "trash")

	var ids []int64
	latest, err := f.client.OrdersModifiedAfter(context.Background(), start.Add(-time.Second), func(raw json.RawMessage) error {
		ids = append(ids, mustParseOrder(t, raw).ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 251 || ids[0] != 1000 || ids[249] != 751 || ids[250] != 7 {
		t.Errorf("got %d orders (%v … %v), want 1000 down to 751, then the trashed 7", len(ids), ids[:min(3, len(ids))], ids[max(0, len(ids)-3):])
	}
	if !latest.Equal(start.Add(300 * time.Second)) {
		t.Errorf("latest = %v", latest)
	}
	reqs := f.apiRequests("GET", "/orders")
	if len(reqs) != 4 { // pages 1–3, then the trash pass's one page
		t.Fatalf("requests = %+v", reqs)
	}
	for _, want := range []string{"dates_are_gmt=true", "orderby=modified", "order=asc", "per_page=100", "modified_after=2026-03-01T11%3A59%3A59Z"} {
		if !strings.Contains(reqs[0].Query, want) {
			t.Errorf("query %s lacks %s", reqs[0].Query, want)
		}
	}
	if !strings.Contains(reqs[2].Query, "page=3") || !strings.Contains(reqs[3].Query, "status=trash") {
		t.Errorf("queries = %+v", reqs)
	}

	t.Run("strictly after the time given", func(t *testing.T) {
		n := 0
		_, err := f.client.OrdersModifiedAfter(context.Background(), start.Add(100*time.Second), func(json.RawMessage) error { n++; return nil })
		if err != nil || n != 149+1 {
			t.Errorf("n = %d, %v; want 149 and the trashed one", n, err)
		}
	})
	t.Run("fn's error stops the listing", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		latest, err := f.client.OrdersModifiedAfter(context.Background(), start.Add(-time.Second), func(json.RawMessage) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || !latest.Equal(start.Add(time.Second)) {
			t.Errorf("= %v, %v; want the second order's time and the error", latest, err)
		}
	})
}

func TestListingStopsAtAnEmptyPage(t *testing.T) {
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		w.Header().Set("X-WP-TotalPages", "99") // wrong, as a caching plugin might leave it
		if r.URL.Query().Get("page") == "1" {
			fmt.Fprint(w, `[{"id":1,"name":"a","status":"active","topic":"order.created","delivery_url":"https://app.example/wc"}]`)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	hooks, err := NewClient(srv.URL, "ck_x", "cs_x", ClientOptions{AllowHTTP: true}).Webhooks(context.Background())
	if err != nil || len(hooks) != 1 || pages.Load() != 2 {
		t.Errorf("Webhooks = %v, %v after %d pages", hooks, err, pages.Load())
	}
}

var appTopics = []string{TopicOrderCreated, TopicOrderUpdated, TopicOrderDeleted, TopicOrderRestored, TopicCustomerCreated}

func TestRegisterWebhooksIsIdempotent(t *testing.T) {
	f := newClientFixture(t, nil)
	rcv := newReceiver(t, 200, 200)
	other := f.store.AddWebhook(TopicOrderCreated, "https://someone-else.example/hook", "theirs", "active")
	ctx := context.Background()

	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "first-secret", appTopics); err != nil {
		t.Fatal(err)
	}
	hooks := f.store.Webhooks()
	if len(hooks) != 6 {
		t.Fatalf("webhooks = %+v, want the other app's and 5 of ours", hooks)
	}
	for _, h := range hooks[1:] {
		if h.Status != "active" || h.Secret != "first-secret" || h.DeliveryURL != rcv.URL || h.PendingDelivery || !slices.Equal(h.Pings, []int{200}) {
			t.Errorf("webhook = %+v, want active with our secret and one good ping", h)
		}
	}

	// The merchant pauses one; WooCommerce disables another.
	if _, err := f.client.UpdateWebhook(ctx, hooks[1].ID, WebhookInput{Status: WebhookPaused}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.UpdateWebhook(ctx, hooks[2].ID, WebhookInput{Status: WebhookDisabled}); err != nil {
		t.Fatal(err)
	}
	posts := len(f.apiRequests("POST", "/webhooks"))
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "second-secret", appTopics); err != nil {
		t.Fatal(err)
	}
	if n := len(f.apiRequests("POST", "/webhooks")); n != posts {
		t.Errorf("the second run created %d webhooks", n-posts)
	}
	again := f.store.Webhooks()
	if len(again) != 6 || !reflect.DeepEqual(again[0], other) {
		t.Fatalf("webhooks = %+v", again)
	}
	for _, h := range again[1:] {
		if h.Status != "active" || h.Secret != "second-secret" {
			t.Errorf("webhook %d = %s with %q, want active with the new secret", h.ID, h.Status, h.Secret)
		}
	}
	if rcv.pings.Load() != 5 {
		t.Errorf("pings = %d, want one per created webhook", rcv.pings.Load())
	}
}

func TestRegisterWebhooksPingsAgainUntilThePingSucceeds(t *testing.T) {
	f := newClientFixture(t, nil)
	rcv := newReceiver(t, http.StatusNoContent, 200) // 204 is not the exact 200 WooCommerce wants
	ctx := context.Background()
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "s", []string{TopicOrderUpdated}); err != nil {
		t.Fatal(err)
	}
	if h := f.store.Webhooks()[0]; !h.PendingDelivery || !slices.Equal(h.Pings, []int{204}) {
		t.Errorf("webhook = %+v, want pending after the create's ping", h)
	}
	// Each later run re-activates it, and WooCommerce pings a pending
	// webhook again when it is saved active.
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "s", []string{TopicOrderUpdated}); err != nil {
		t.Fatal(err)
	}
	rcv.pingStatus.Store(200)
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "s", []string{TopicOrderUpdated}); err != nil {
		t.Fatal(err)
	}
	if h := f.store.Webhooks()[0]; h.PendingDelivery || !slices.Equal(h.Pings, []int{204, 204, 200}) {
		t.Errorf("webhook = %+v, want no longer pending", h)
	}
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "s", []string{TopicOrderUpdated}); err != nil {
		t.Fatal(err)
	}
	if h := f.store.Webhooks()[0]; len(h.Pings) != 3 {
		t.Errorf("pings = %v: a webhook whose ping succeeded is not pinged again", h.Pings)
	}
}

func TestRegisterWebhooksNeedsAnAddressAndASecret(t *testing.T) {
	c := NewClient("https://example.com", "ck_x", "cs_x", ClientOptions{})
	for _, args := range [][2]string{{"", "s"}, {"https://app.example/wc", ""}} {
		if _, err := c.RegisterWebhooks(context.Background(), args[0], args[1], appTopics); err == nil {
			t.Errorf("RegisterWebhooks(%q, %q) = nil", args[0], args[1])
		}
	}
}

func TestRepairWebhooksAfterTheStoreDisabledOne(t *testing.T) {
	f := newClientFixture(t, nil)
	rcv := newReceiver(t, 200, http.StatusInternalServerError)
	ctx := context.Background()
	topics := []string{TopicOrderUpdated, TopicOrderCreated}
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "s", topics); err != nil {
		t.Fatal(err)
	}
	created := f.store.Webhooks()[1]
	f.store.AddWebhook(TopicOrderUpdated, "https://someone-else.example/hook", "theirs", "disabled")
	id := f.store.PutOrder(SampleOrder(SampleOptions{ID: 55}))
	updated := func() woocommercetest.Webhook { return f.store.Webhooks()[0] }

	for i := 1; i <= 7; i++ {
		status, err := f.store.Deliver(TopicOrderUpdated, id)
		if err != nil || status != 500 {
			t.Fatalf("delivery %d: %d, %v", i, status, err)
		}
		if want := i < 7; (updated().Status == "active") != want {
			t.Fatalf("after %d failures the webhook is %s", i, updated().Status)
		}
	}
	if _, err := f.store.Deliver(TopicOrderUpdated, id); err == nil {
		t.Error("a disabled webhook still gets deliveries")
	}
	if _, err := f.client.UpdateWebhook(ctx, created.ID, WebhookInput{Status: WebhookPaused}); err != nil {
		t.Fatal(err)
	}

	repair, err := f.client.RepairWebhooks(ctx, rcv.URL, "s", topics)
	if err != nil {
		t.Fatal(err)
	}
	if len(repair.Reactivated) != 1 || repair.Reactivated[0].Topic != TopicOrderUpdated || repair.Reactivated[0].Status != WebhookDisabled {
		t.Errorf("reactivated = %+v, want order.updated, found disabled", repair.Reactivated)
	}
	if len(repair.Paused) != 1 || repair.Paused[0].ID != created.ID || len(repair.Recreated) != 0 {
		t.Errorf("repair = %+v, want order.created reported paused and nothing recreated", repair)
	}
	hooks := f.store.Webhooks()
	if hooks[0].Status != "active" || hooks[1].Status != "paused" || hooks[2].Status != "disabled" {
		t.Errorf("statuses = %s, %s, %s; want ours disabled by failures active, the merchant's pause kept, the other app's left alone",
			hooks[0].Status, hooks[1].Status, hooks[2].Status)
	}

	// WooCommerce keeps the failure count: one more failure disables again,
	if _, err := f.store.Deliver(TopicOrderUpdated, id); err != nil || updated().Status != "disabled" {
		t.Errorf("after one more failure: %+v, %v", updated(), err)
	}
	// and only a success resets it.
	if _, err := f.client.RepairWebhooks(ctx, rcv.URL, "s", topics); err != nil {
		t.Fatal(err)
	}
	rcv.deliveryStatus.Store(200)
	if _, err := f.store.Deliver(TopicOrderUpdated, id); err != nil || updated().FailureCount != 0 || updated().Status != "active" {
		t.Errorf("after a success: %+v, %v", updated(), err)
	}
	if again, err := f.client.RepairWebhooks(ctx, rcv.URL, "s", topics); err != nil || again.Changed() {
		t.Errorf("nothing to repair, got %+v, %v", again, err)
	}
}

func TestRepairWebhooksRecreatesDeletedOnes(t *testing.T) {
	f := newClientFixture(t, nil)
	rcv := newReceiver(t, 200, 200)
	ctx := context.Background()
	if _, err := f.client.RegisterWebhooks(ctx, rcv.URL, "the-secret", appTopics); err != nil {
		t.Fatal(err)
	}
	gone := f.store.Webhooks()[0]
	if err := f.client.DeleteWebhooks(ctx, []Webhook{{ID: gone.ID}}); err != nil {
		t.Fatal(err)
	}
	repair, err := f.client.RepairWebhooks(ctx, rcv.URL, "the-secret", appTopics)
	if err != nil {
		t.Fatal(err)
	}
	if len(repair.Recreated) != 1 || repair.Recreated[0].Topic != gone.Topic {
		t.Fatalf("recreated = %+v, want %s", repair.Recreated, gone.Topic)
	}
	hooks := f.store.Webhooks()
	if len(hooks) != len(appTopics) {
		t.Fatalf("%d webhooks, want %d", len(hooks), len(appTopics))
	}
	back := hooks[len(hooks)-1]
	if back.Topic != gone.Topic || back.Secret != "the-secret" || back.Status != "active" {
		t.Fatalf("recreated webhook %+v, want %s active and signed with the stored secret", back, gone.Topic)
	}
	t.Run("deleting one already gone is not an error", func(t *testing.T) {
		if err := f.client.DeleteWebhooks(ctx, []Webhook{{ID: gone.ID}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKeysMoveToTheQueryWhenTheHostDropsTheAuthorizationHeader(t *testing.T) {
	f := newClientFixture(t, nil)
	f.store.StripAuthorization(true)
	ctx := context.Background()

	info, err := f.client.SystemStatus(ctx)
	if err != nil || info.Currency != "USD" {
		t.Fatalf("system status = %+v, %v; want it read with the keys in the query", info, err)
	}
	reqs := f.apiRequests(http.MethodGet, "/system_status")
	if got := statuses(reqs); !slices.Equal(got, []int{401, 200}) {
		t.Fatalf("answers %v, want 401 (header dropped) then 200 (query)", got)
	}
	if strings.Contains(reqs[0].Query, "consumer_secret") || !strings.Contains(reqs[1].Query, "consumer_key="+f.keys.ConsumerKey) {
		t.Fatalf("queries %q, %q: the keys go in the query only after the store showed the header does not reach it", reqs[0].Query, reqs[1].Query)
	}

	t.Run("the client remembers, so later calls go straight to the query", func(t *testing.T) {
		if _, err := f.client.Webhooks(ctx); err != nil {
			t.Fatal(err)
		}
		if got := statuses(f.apiRequests(http.MethodGet, "/webhooks")); !slices.Equal(got, []int{200}) {
			t.Fatalf("answers %v, want a single 200", got)
		}
	})
	t.Run("a POST refused for a missing key is sent again once", func(t *testing.T) {
		c := NewClient(f.store.URL, f.keys.ConsumerKey, f.keys.ConsumerSecret, ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
		rcv := newReceiver(t, 200, 200)
		if _, err := c.CreateWebhook(ctx, WebhookInput{Topic: TopicOrderUpdated, DeliveryURL: rcv.URL, Secret: "s"}); err != nil {
			t.Fatal(err)
		}
		if n := len(f.store.Webhooks()); n != 1 {
			t.Fatalf("%d webhooks, want exactly one", n)
		}
	})
	t.Run("other refusals are not retried and keep the keys out of the query", func(t *testing.T) {
		f := newClientFixture(t, nil)
		c := NewClient(f.store.URL, f.keys.ConsumerKey, "cs_wrong", ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
		if _, err := c.SystemStatus(ctx); !IsUnauthorized(err) {
			t.Fatalf("err = %v, want 401", err)
		}
		reqs := f.apiRequests(http.MethodGet, "/system_status")
		if len(reqs) != 1 || strings.Contains(reqs[0].Query, "consumer_") {
			t.Fatalf("requests %+v: a wrong secret is not a dropped header", reqs)
		}
	})
	t.Run("a store whose keys are missing even from the query gives up after one more try", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.store.StripAuthorization(true)
		c := NewClient(f.store.URL, "", "", ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
		if _, err := c.SystemStatus(ctx); !IsUnauthorized(err) {
			t.Fatalf("err = %v, want 401", err)
		}
		if n := len(f.apiRequests(http.MethodGet, "/system_status")); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
}

func TestProductionClientsRefusePrivateAddresses(t *testing.T) {
	f := newClientFixture(t, nil)
	ctx := context.Background()
	for _, storeURL := range []string{f.store.URL, strings.Replace(f.store.URL, "127.0.0.1", "localhost", 1)} {
		t.Run(storeURL+" is refused when dialled", func(t *testing.T) {
			s := &sleeper{}
			// No Transport of its own: the production client.
			c := NewClient(storeURL, f.keys.ConsumerKey, f.keys.ConsumerSecret, ClientOptions{HTTP: &http.Client{}, Sleep: s.Sleep})
			_, err := c.SystemStatus(ctx)
			if !errors.Is(err, ErrPrivateAddress) {
				t.Fatalf("err = %v, want ErrPrivateAddress", err)
			}
			if len(s.Waits()) != 0 {
				t.Fatalf("retried %d times: a refused address does not become public by waiting", len(s.Waits()))
			}
		})
	}
	if n := len(f.store.Requests()); n != 0 {
		t.Fatalf("the store received %d requests", n)
	}

	t.Run("the dialer checks each resolved address", func(t *testing.T) {
		for addr, refused := range map[string]bool{
			"127.0.0.1:443": true, "10.1.2.3:443": true, "172.16.0.1:443": true, "192.168.1.1:443": true,
			"169.254.169.254:80": true, "100.100.100.200:80": true, "0.0.0.0:443": true, "[::1]:443": true,
			"[fd00::1]:443": true, "[fe80::1]:443": true, "[::ffff:127.0.0.1]:443": true, "224.0.0.1:443": true,
			"93.184.216.34:443": false, "[2606:4700::6810:84e5]:443": false,
		} {
			if err := refusePrivate("tcp", addr, nil); (err != nil) != refused {
				t.Errorf("%s: err = %v, want refused %t", addr, err, refused)
			}
		}
	})
	t.Run("development and tests may reach private addresses", func(t *testing.T) {
		c := NewClient(f.store.URL, f.keys.ConsumerKey, f.keys.ConsumerSecret, ClientOptions{HTTP: f.store.Client(), AllowPrivateHosts: true})
		if _, err := c.SystemStatus(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
