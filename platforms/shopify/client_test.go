package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/platforms/shopify/shopifytest"
)

const testShop = "snowdevil.myshopify.com"

// fakeClock is the time shared by a client and the fake Shopify, moved on
// only by the client's waits, so throttling plays out without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeper records the client's waits and advances the clock by them.
type sleeper struct {
	mu    sync.Mutex
	clock *fakeClock
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.Advance(d)
	return nil
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

func testClientOptions(srv *shopifytest.Server, clock *fakeClock, sl *sleeper) ClientOptions {
	if sl == nil {
		sl = &sleeper{clock: clock}
	}
	return ClientOptions{HTTP: srv.Client(), BaseURL: srv.BaseURL, Sleep: sl.Sleep, Now: clock.Now}
}

// fixture of a client test: a fake Shopify and a client of testShop on a
// shared fake clock.
type clientFixture struct {
	srv     *shopifytest.Server
	clock   *fakeClock
	sleeper *sleeper
	token   string
	client  *Client
}

func newClientFixture(t *testing.T, tune func(*ClientOptions)) *clientFixture {
	t.Helper()
	f := &clientFixture{
		srv:   shopifytest.New(t, "client-id", "client-secret"),
		clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
	}
	f.sleeper = &sleeper{clock: f.clock}
	f.srv.SetClock(f.clock.Now)
	f.token = f.srv.IssueToken(testShop)
	opts := testClientOptions(f.srv, f.clock, f.sleeper)
	if tune != nil {
		tune(&opts)
	}
	f.client = NewClient(testShop, f.token, opts)
	return f
}

// shopQuery is answered by a resolver the tests install, which costs 10.
const shopQuery = `query shopName { shop { name } }`

func (f *clientFixture) serveShopName() {
	f.srv.Handle("shop", func(string, map[string]any) any { return map[string]any{"name": "Snow Devil"} })
}

func (f *clientFixture) shopName(t *testing.T) (string, error) {
	t.Helper()
	var data struct {
		Shop struct {
			Name string `json:"name"`
		} `json:"shop"`
	}
	err := f.client.GraphQL(context.Background(), shopQuery, nil, &data)
	return data.Shop.Name, err
}

func statuses(reqs []shopifytest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

func TestGraphQLSendsThePinnedVersionAndDecodesData(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	name, err := f.shopName(t)
	if err != nil || name != "Snow Devil" {
		t.Fatalf("shop name = %q, %v", name, err)
	}
	reqs := f.srv.Requests()
	if len(reqs) != 1 || reqs[0].Version != APIVersion || reqs[0].Path != "/shops/"+testShop+"/admin/api/2026-07/graphql.json" {
		t.Errorf("requests = %+v", reqs)
	}
	if len(f.sleeper.Waits()) != 0 {
		t.Errorf("waits = %v, want none", f.sleeper.Waits())
	}
}

func TestGraphQLRetriesA429AfterRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"whole seconds", "3", 3 * time.Second},
		{"fractional seconds, as Shopify sends them", "1.5", 1500 * time.Millisecond},
		{"zero", "0", 0},
		{"absent means two seconds", "", 2 * time.Second},
		{"unreadable means two seconds", "soon", 2 * time.Second},
		{"absurd values are capped", "86400", maxWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			f.serveShopName()
			f.srv.FailNext(2, http.StatusTooManyRequests, tt.retryAfter)
			if _, err := f.shopName(t); err != nil {
				t.Fatal(err)
			}
			if got := f.sleeper.Waits(); !slices.Equal(got, []time.Duration{tt.want, tt.want}) {
				t.Errorf("waits = %v, want two of %v", got, tt.want)
			}
			if got := statuses(f.srv.Requests()); !slices.Equal(got, []int{429, 429, 200}) {
				t.Errorf("statuses = %v", got)
			}
		})
	}
}

func TestRetryAfterReadsAnHTTPDate(t *testing.T) {
	f := newClientFixture(t, nil)
	h := http.Header{}
	h.Set("Retry-After", f.clock.Now().Add(7*time.Second).Format(http.TimeFormat))
	if got := f.client.retryAfter(attempt{status: 429, header: h}); got != 7*time.Second {
		t.Errorf("retryAfter = %v, want 7s", got)
	}
}

func TestGraphQLBacksOffExponentiallyOn5xx(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.srv.FailNext(1, http.StatusInternalServerError, "")
	f.srv.FailNext(1, http.StatusBadGateway, "")
	f.srv.FailNext(1, http.StatusServiceUnavailable, "")
	f.srv.FailNext(1, http.StatusGatewayTimeout, "")
	if _, err := f.shopName(t); err != nil {
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
	c := NewClient(testShop, "t", ClientOptions{})
	for _, n := range []int{5, 6, 20, 1000} {
		if d := c.backoff(n); d > backoffCap || d < backoffCap/2 {
			t.Errorf("backoff(%d) = %v, want within [%v, %v]", n, d, backoffCap/2, backoffCap)
		}
	}
}

func TestGraphQLGivesUpAfterMaxRetries(t *testing.T) {
	f := newClientFixture(t, func(o *ClientOptions) { o.MaxRetries = 2 })
	f.serveShopName()
	f.srv.FailNext(5, http.StatusServiceUnavailable, "")
	_, err := f.shopName(t)
	if !isAPIError(err, http.StatusServiceUnavailable) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v, want a 503 APIError after 3 attempts", err)
	}
	if n := len(f.srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestGraphQLNegativeMaxRetriesMeansNoRetry(t *testing.T) {
	f := newClientFixture(t, func(o *ClientOptions) { o.MaxRetries = -1 })
	f.serveShopName()
	f.srv.FailNext(1, http.StatusTooManyRequests, "1")
	if _, err := f.shopName(t); !isAPIError(err, http.StatusTooManyRequests) {
		t.Fatalf("err = %v, want 429", err)
	}
	if n := len(f.srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestGraphQLWaitsOutThrottledForTheRequestedCost(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.srv.ThrottleNext() // empties the 2000-point bucket, which restores 100/s
	name, err := f.shopName(t)
	if err != nil || name != "Snow Devil" {
		t.Fatalf("shop name = %q, %v", name, err)
	}
	// (requestedQueryCost 10 - currentlyAvailable 0) / restoreRate 100.
	if got := f.sleeper.Waits(); !slices.Equal(got, []time.Duration{100 * time.Millisecond}) {
		t.Errorf("waits = %v, want [100ms]", got)
	}
	if n := f.srv.Calls("shop"); n != 2 {
		t.Errorf("%d answered calls, want 2 (throttled, then served)", n)
	}
}

func TestGraphQLWaitsForBudgetBeforeSending(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.srv.SetBucket(100, 10)
	f.srv.SetAvailable(testShop, 13)
	if _, err := f.shopName(t); err != nil { // leaves 3 points
		t.Fatal(err)
	}
	if len(f.sleeper.Waits()) != 0 {
		t.Fatalf("first call waited %v", f.sleeper.Waits())
	}
	if _, err := f.shopName(t); err != nil {
		t.Fatal(err)
	}
	// The last call cost 10 and 3 are left: (10 - 3) / 10 per second.
	if got := f.sleeper.Waits(); !slices.Equal(got, []time.Duration{700 * time.Millisecond}) {
		t.Errorf("waits = %v, want [700ms]", got)
	}
	if got := statuses(f.srv.Requests()); !slices.Equal(got, []int{200, 200}) {
		t.Errorf("statuses = %v: the second call should have waited instead of being throttled", got)
	}
}

func TestGraphQLSpacesConcurrentCallsByTheirCost(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.srv.SetBucket(20, 10)
	f.srv.SetAvailable(testShop, 20)
	if _, err := f.shopName(t); err != nil { // leaves 10 points, cost 10
		t.Fatal(err)
	}
	// Two calls reserved back to back: the first fits, the second waits a
	// full second for its 10 points.
	if w := f.client.bucketWait(); w != 0 {
		t.Errorf("first reservation waits %v", w)
	}
	if w := f.client.bucketWait(); w != time.Second {
		t.Errorf("second reservation waits %v, want 1s", w)
	}
}

func (c *Client) bucketWait() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bucket.reserve(c.now())
}

func TestGraphQLDoesNotRetryClientErrors(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.srv.RevokeToken(testShop)
	_, err := f.shopName(t)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Message != shopifytest.MsgInvalidToken {
		t.Fatalf("err = %v, want 401 carrying Shopify's message", err)
	}
	if !strings.Contains(err.Error(), testShop) || !strings.Contains(err.Error(), "shopName") || strings.Contains(err.Error(), f.token) {
		t.Errorf("error %q must name the shop and operation, never the token", err)
	}
	if n := len(f.srv.Requests()); n != 1 || len(f.sleeper.Waits()) != 0 {
		t.Errorf("%d requests and waits %v, want 1 and none", n, f.sleeper.Waits())
	}
}

func TestGraphQLReturnsGraphQLErrorsAsAPIError(t *testing.T) {
	f := newClientFixture(t, nil)
	err := f.client.GraphQL(context.Background(), `query { nosuchfield { id } }`, nil, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusOK || apiErr.Code != "undefinedField" ||
		apiErr.Message != "Field 'nosuchfield' doesn't exist on type 'QueryRoot'" {
		t.Fatalf("err = %v, want Shopify's undefinedField error", err)
	}
	if n := len(f.srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestGraphQLRespectsCancellation(t *testing.T) {
	t.Run("while waiting to retry", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.serveShopName()
		f.srv.FailNext(1, http.StatusServiceUnavailable, "")
		ctx, cancel := context.WithCancel(context.Background())
		f.client.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return sleep(ctx, d)
		}
		err := f.client.GraphQL(ctx, shopQuery, nil, nil)
		if !errors.Is(err, context.Canceled) || len(f.srv.Requests()) != 1 {
			t.Fatalf("err = %v after %d requests, want context.Canceled after 1", err, len(f.srv.Requests()))
		}
	})
	t.Run("before sending", func(t *testing.T) {
		f := newClientFixture(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := f.client.GraphQL(ctx, shopQuery, nil, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := len(f.srv.Requests()); n != 0 {
			t.Errorf("%d requests, want 0", n)
		}
	})
	t.Run("the default sleep stops at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
			t.Fatalf("sleep = %v after %v", err, time.Since(start))
		}
	})
}

// flakyTransport fails the first n round trips as a dropped connection would.
type flakyTransport struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (t *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	fail := t.n > 0
	t.n--
	t.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return t.next.RoundTrip(r)
}

func TestGraphQLRetriesNetworkErrors(t *testing.T) {
	f := newClientFixture(t, nil)
	f.serveShopName()
	f.client.http = &http.Client{Transport: &flakyTransport{n: 2, next: f.srv.Client().Transport}}
	if _, err := f.shopName(t); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sleeper.Waits()); n != 2 {
		t.Errorf("waits = %v, want 2", f.sleeper.Waits())
	}
}

func TestOperationName(t *testing.T) {
	for query, want := range map[string]string{
		shopQuery:                           "shopName",
		webhookSubscriptionCreateMutation:   "webhookSubscriptionCreate",
		"{ shop { id } }":                   "shop",
		"query { orders(first: 1) { id } }": "orders",
		"":                                  "graphql",
	} {
		if got := operationName(query); got != want {
			t.Errorf("operationName(%q) = %q, want %q", query, got, want)
		}
	}
}

const callback = "https://app.example.com/webhooks/shopify"

func subscribed(srv *shopifytest.Server) []string {
	var out []string
	for _, s := range srv.Subscriptions(testShop) {
		out = append(out, s.Topic+" "+s.URI)
	}
	slices.Sort(out)
	return out
}

func TestRegisterWebhooks(t *testing.T) {
	ctx := context.Background()
	both := []string{TopicOrdersPaid, TopicAppUninstalled}
	wantBoth := []string{"APP_UNINSTALLED " + callback, "ORDERS_PAID " + callback}

	t.Run("creates each topic with uri and JSON format", func(t *testing.T) {
		f := newClientFixture(t, nil)
		if err := f.client.RegisterWebhooks(ctx, callback, both); err != nil {
			t.Fatal(err)
		}
		if got := subscribed(f.srv); !slices.Equal(got, wantBoth) {
			t.Errorf("subscriptions = %q, want %q", got, wantBoth)
		}
		for _, s := range f.srv.Subscriptions(testShop) {
			if s.Format != "JSON" {
				t.Errorf("format = %q", s.Format)
			}
		}
		for _, r := range f.srv.Requests() {
			if r.Version != APIVersion {
				t.Errorf("request on version %q", r.Version)
			}
		}
	})

	t.Run("is idempotent: a second run creates nothing", func(t *testing.T) {
		f := newClientFixture(t, nil)
		for range 2 {
			if err := f.client.RegisterWebhooks(ctx, callback, both); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.srv.Calls("webhookSubscriptionCreate"); n != 2 {
			t.Errorf("%d creates over two runs, want 2", n)
		}
		if got := subscribed(f.srv); !slices.Equal(got, wantBoth) {
			t.Errorf("subscriptions = %q", got)
		}
	})

	t.Run("creates only the missing topics", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.srv.AddSubscription(testShop, TopicOrdersPaid, callback)
		if err := f.client.RegisterWebhooks(ctx, callback, both); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.Calls("webhookSubscriptionCreate"); n != 1 {
			t.Errorf("%d creates, want 1", n)
		}
		if got := subscribed(f.srv); !slices.Equal(got, wantBoth) {
			t.Errorf("subscriptions = %q", got)
		}
	})

	t.Run("a subscription to another address does not count", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.srv.AddSubscription(testShop, TopicOrdersPaid, "https://old.example.com/hooks")
		if err := f.client.RegisterWebhooks(ctx, callback, []string{TopicOrdersPaid}); err != nil {
			t.Fatal(err)
		}
		want := []string{"ORDERS_PAID " + callback, "ORDERS_PAID https://old.example.com/hooks"}
		if got := subscribed(f.srv); !slices.Equal(got, want) {
			t.Errorf("subscriptions = %q, want %q", got, want)
		}
	})

	t.Run("finds an existing subscription past the first page", func(t *testing.T) {
		f := newClientFixture(t, nil)
		for i := range 150 {
			f.srv.AddSubscription(testShop, TopicOrdersPaid, fmt.Sprintf("https://other.example.com/%d", i))
		}
		f.srv.AddSubscription(testShop, TopicOrdersPaid, callback)
		if err := f.client.RegisterWebhooks(ctx, callback, []string{TopicOrdersPaid}); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.Calls("webhookSubscriptions"); n != 2 {
			t.Errorf("%d list pages, want 2", n)
		}
		if n := f.srv.Calls("webhookSubscriptionCreate"); n != 0 {
			t.Errorf("%d creates, want 0", n)
		}
	})

	t.Run("already taken counts as success", func(t *testing.T) {
		f := newClientFixture(t, nil)
		// As when a concurrent install created it between list and create.
		f.srv.RefuseTopic(TopicOrdersPaid, shopifytest.MsgAddressTaken)
		if err := f.client.RegisterWebhooks(ctx, callback, both); err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
	})

	t.Run("other user errors are returned after the other topics are done", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.srv.RefuseTopic(TopicOrdersPaid, "Address is an invalid domain")
		err := f.client.RegisterWebhooks(ctx, callback, both)
		var ue UserErrors
		if !errors.As(err, &ue) || len(ue) != 1 || ue[0].Message != "Address is an invalid domain" ||
			!slices.Equal(ue[0].Field, []string{"webhookSubscription", "topic"}) {
			t.Fatalf("err = %v, want the user error", err)
		}
		if !strings.Contains(err.Error(), testShop) || !strings.Contains(err.Error(), TopicOrdersPaid) {
			t.Errorf("error %q must name the shop and topic", err)
		}
		if got := subscribed(f.srv); !slices.Equal(got, []string{"APP_UNINSTALLED " + callback}) {
			t.Errorf("subscriptions = %q", got)
		}
	})

	t.Run("compliance topics are refused before any request", func(t *testing.T) {
		f := newClientFixture(t, nil)
		err := f.client.RegisterWebhooks(ctx, callback, []string{TopicOrdersPaid, TopicShopRedact})
		if err == nil || !strings.Contains(err.Error(), "compliance") || len(f.srv.Requests()) != 0 {
			t.Fatalf("err = %v after %d requests", err, len(f.srv.Requests()))
		}
	})

	t.Run("a revoked token fails with Shopify's message", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.srv.RevokeToken(testShop)
		err := f.client.RegisterWebhooks(ctx, callback, both)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || strings.Contains(err.Error(), f.token) {
			t.Fatalf("err = %v, want a 401 without the token", err)
		}
	})

	t.Run("survives throttling and 5xx on the way", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.srv.FailNext(1, http.StatusServiceUnavailable, "")
		f.srv.ThrottleNext()
		if err := f.client.RegisterWebhooks(ctx, callback, both); err != nil {
			t.Fatal(err)
		}
		if got := subscribed(f.srv); !slices.Equal(got, wantBoth) {
			t.Errorf("subscriptions = %q", got)
		}
	})
}

func TestTopicEnum(t *testing.T) {
	tests := []struct{ in, want string }{
		{"orders/paid", "ORDERS_PAID"},
		{"app/uninstalled", "APP_UNINSTALLED"},
		{"refunds/create", "REFUNDS_CREATE"},
		{"ORDERS_CANCELLED", "ORDERS_CANCELLED"},
		{"orders paid", ""},
		{"", ""},
		{"customers/redact", ""},
		{"customers/data_request", ""},
		{"shop/redact", ""},
	}
	for _, tt := range tests {
		got, err := topicEnum(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("topicEnum(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUserErrorsJoinTheirMessages(t *testing.T) {
	err := UserErrors{
		{Field: []string{"webhookSubscription", "callbackUrl"}, Message: "Address for this topic has already been taken"},
		{Message: "Something else"},
	}
	want := "shopify user errors: webhookSubscription.callbackUrl: Address for this topic has already been taken; Something else"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestShopInfo(t *testing.T) {
	f := newClientFixture(t, nil)
	f.srv.SetShopInfo(testShop, "Snow Devil", "CAD")
	info, err := f.client.ShopInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := ShopInfo{Name: "Snow Devil", Currency: "CAD", Domain: testShop, Timezone: "America/New_York"}
	if info != want {
		t.Errorf("ShopInfo = %+v, want %+v", info, want)
	}
	if reqs := f.srv.Requests(); len(reqs) != 1 || reqs[0].Field != "shop" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestClientRefusesAnInvalidShopWithoutSendingTheToken(t *testing.T) {
	f := newClientFixture(t, nil)
	c := NewClient("evil.com", f.token, testClientOptions(f.srv, f.clock, f.sleeper))
	err := c.GraphQL(context.Background(), shopQuery, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not a valid shop domain") || len(f.srv.Requests()) != 0 {
		t.Fatalf("err = %v after %d requests", err, len(f.srv.Requests()))
	}
}

func TestGraphQLTreatsEmptyErrorsAsSuccess(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`} {
		if hasErrors([]byte(raw)) {
			t.Errorf("hasErrors(%q) = true", raw)
		}
	}
	if !hasErrors([]byte(`"Not Found"`)) || !hasErrors([]byte(`[{"message":"x"}]`)) {
		t.Error("real errors were not seen")
	}
}
