package woocommercetest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/woocommerce"
	"loyalty/platforms/woocommerce/woocommercetest"
)

// received is one request a test server got.
type received struct {
	header http.Header
	body   []byte
}

// endpoint is a delivery URL that answers with status (200 when status is
// nil) and keeps what it received.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status func(received) int
}

func newEndpoint(t *testing.T, status func(received) int) *endpoint {
	t.Helper()
	e := &endpoint{status: status}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{r.Header.Clone(), body}
		e.mu.Lock()
		e.got = append(e.got, rec)
		e.mu.Unlock()
		code := http.StatusOK
		if e.status != nil {
			code = e.status(rec)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

// call makes a REST request to the store and decodes its JSON answer.
func call(t *testing.T, s *woocommercetest.Store, key *woocommercetest.Key, method, path string, body any) (int, http.Header, any) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+"/wp-json/wc/v3"+path, in)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != nil {
		req.SetBasicAuth(key.ConsumerKey, key.ConsumerSecret)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s answered %q: %v", method, path, raw, err)
	}
	return resp.StatusCode, resp.Header, out
}

func code(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["code"].(string)
	return s
}

func TestRESTAuthenticationAsWooCommerceDoesIt(t *testing.T) {
	s := woocommercetest.New(t)
	rw, read := s.IssueKeys("read_write"), s.IssueKeys("read")
	wrong := rw
	wrong.ConsumerSecret = "cs_wrong"
	unknown := woocommercetest.Key{ConsumerKey: "ck_nobody", ConsumerSecret: "cs_nobody"}
	tests := []struct {
		name         string
		key          *woocommercetest.Key
		method, path string
		status       int
		code         string
	}{
		{"no key", nil, "GET", "/webhooks", 401, "woocommerce_rest_cannot_view"},
		{"an unknown key is no key", &unknown, "GET", "/webhooks", 401, "woocommerce_rest_cannot_view"},
		{"an unknown key cannot create", &unknown, "POST", "/webhooks", 401, "woocommerce_rest_cannot_create"},
		{"a wrong secret", &wrong, "GET", "/webhooks", 401, "woocommerce_rest_authentication_error"},
		{"a read key reads", &read, "GET", "/webhooks", 200, ""},
		{"a read key cannot write", &read, "POST", "/webhooks", 401, "woocommerce_rest_authentication_error"},
		{"a read_write key reads", &rw, "GET", "/system_status", 200, ""},
		{"an unknown route", &rw, "GET", "/products", 404, "rest_no_route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = map[string]string{"topic": "order.created", "delivery_url": "https://app.example/wc"}
			}
			status, _, out := call(t, s, tt.key, tt.method, tt.path, body)
			if status != tt.status || code(out) != tt.code {
				t.Errorf("= %d %v, want %d %s", status, out, tt.status, tt.code)
			}
		})
	}
	// Keys in the query string work too, as WooCommerce allows over https.
	resp, err := s.Client().Get(s.URL + "/wp-json/wc/v3/webhooks?" + url.Values{"consumer_key": {rw.ConsumerKey}, "consumer_secret": {rw.ConsumerSecret}}.Encode())
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("query-string keys: %v, %v", resp.Status, err)
	}
	resp.Body.Close()
}

func TestCreatingAWebhookPingsItUnsigned(t *testing.T) {
	s := woocommercetest.New(t)
	key := s.IssueKeys("read_write")
	ep := newEndpoint(t, nil)
	status, header, out := call(t, s, &key, "POST", "/webhooks", map[string]string{
		"name": "Loyalty", "status": "paused", "topic": "order.updated", "delivery_url": ep.URL, "secret": "s3cret",
	})
	if status != http.StatusCreated || header.Get("Location") == "" {
		t.Fatalf("create = %d %v", status, out)
	}
	m := out.(map[string]any)
	if m["status"] != "active" || m["resource"] != "order" || m["event"] != "updated" || m["secret"] != nil {
		t.Errorf("created = %v; want active whatever was asked, and no secret shown", m)
	}
	got := ep.received()
	if len(got) != 1 {
		t.Fatalf("the delivery URL got %d requests", len(got))
	}
	ping := got[0]
	if string(ping.body) != fmt.Sprintf("webhook_id=%v", m["id"]) || !woocommerce.IsPing(ping.header, ping.body) {
		t.Errorf("ping = %q %v", ping.body, ping.header)
	}
	for name := range ping.header {
		if strings.HasPrefix(strings.ToLower(name), "x-wc-") {
			t.Errorf("the ping carries %s", name)
		}
	}
	if h := s.Webhooks()[0]; h.PendingDelivery || h.Secret != "s3cret" {
		t.Errorf("webhook = %+v", h)
	}
}

func TestDeliveriesAreSignedOverTheExactBody(t *testing.T) {
	s := woocommercetest.New(t)
	ep := newEndpoint(t, nil)
	s.AddWebhook("order.updated", ep.URL, "wc-test-secret", "active")
	s.AddWebhook("order.deleted", ep.URL, "wc-test-secret", "active")
	s.AddWebhook("customer.created", ep.URL, "wc-test-secret", "active")
	id := s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 727, CustomerID: 3, FirstName: "Zoë"}))
	s.PutCustomer([]byte(`{"id":3,"email":"zoe@example.com","first_name":"Zoë","last_name":"K"}`))

	for _, topic := range []string{"order.updated", "order.deleted", "customer.created"} {
		t.Run(topic, func(t *testing.T) {
			rid := id
			if topic == "customer.created" {
				rid = 3
			}
			if status, err := s.Deliver(topic, rid); err != nil || status != 200 {
				t.Fatalf("Deliver = %d, %v", status, err)
			}
			got := ep.received()
			last := got[len(got)-1]
			d, err := woocommerce.DeliveryFromHeader(last.header)
			if err != nil || d.Topic != topic || d.Source != s.URL+"/" || len(d.DeliveryID) != 32 {
				t.Errorf("delivery = %+v, %v", d, err)
			}
			if err := woocommerce.Verify(last.body, d.Signature, "wc-test-secret"); err != nil {
				t.Errorf("Verify = %v", err)
			}
			if last.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(last.header.Get("User-Agent"), "WooCommerce/") {
				t.Errorf("headers = %v", last.header)
			}
			switch topic {
			case "order.deleted":
				if string(last.body) != `{"id":727}` {
					t.Errorf("body = %s", last.body)
				}
			default:
				if bytes.ContainsRune(last.body, 'ë') || !bytes.Contains(last.body, []byte(`Zo\u00eb`)) {
					t.Errorf("body not written like wp_json_encode: %s", last.body)
				}
			}
		})
	}
	if _, err := s.Deliver("order.created", id); err == nil {
		t.Error("a topic with no webhook was delivered")
	}
}

func TestFailedDeliveriesDisableAWebhookOnTheSeventh(t *testing.T) {
	tests := []struct {
		status int
		counts bool
	}{
		{200, false}, {204, false}, {301, false}, {302, false}, {303, true}, {404, true}, {500, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s := woocommercetest.New(t)
			ep := newEndpoint(t, func(received) int { return tt.status })
			s.AddWebhook("order.updated", ep.URL, "x", "active")
			id := s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 1}))
			for range 7 {
				s.Deliver("order.updated", id)
			}
			h := s.Webhooks()[0]
			if disabled := h.Status == "disabled"; disabled != tt.counts {
				t.Errorf("after 7 answers of %d: %+v", tt.status, h)
			}
		})
	}
	t.Run("no answer is a failure too", func(t *testing.T) {
		s := woocommercetest.New(t)
		ep := newEndpoint(t, nil)
		ep.Close()
		s.AddWebhook("order.updated", ep.URL, "x", "active")
		id := s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 1}))
		for i := range 7 {
			if _, err := s.Deliver("order.updated", id); err == nil {
				t.Fatalf("delivery %d to a closed server succeeded", i)
			}
		}
		if h := s.Webhooks()[0]; h.Status != "disabled" || h.FailureCount != 6 {
			t.Errorf("webhook = %+v", h)
		}
	})
}

func TestRefundsAndStatuses(t *testing.T) {
	s := woocommercetest.New(t)
	id := s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 40, Status: "pending", Total: app.MustAmount("30.00")}))
	order := func() woocommerce.Order {
		o, err := woocommerce.ParseOrder(s.Order(id))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := order(); !o.DatePaid.IsZero() {
		t.Fatalf("a pending order is paid: %+v", o)
	}
	s.SetStatus(id, "processing")
	if o := order(); o.DatePaid.IsZero() {
		t.Errorf("processing did not set date_paid")
	}
	first := s.AddRefund(id, app.MustAmount("10.00"), "one back")
	if o := order(); o.Status != "processing" || len(o.Refunds) != 1 || o.Refunds[0] != (woocommerce.Refund{ID: first, Total: app.MustAmount("-10.00"), Reason: "one back"}) {
		t.Errorf("after a partial refund: %+v", o)
	}
	s.AddRefund(id, app.MustAmount("20.00"), "")
	if o := order(); o.Status != "refunded" || len(o.Refunds) != 2 || o.Refunds[0].ID <= o.Refunds[1].ID {
		t.Errorf("after refunding the rest: %+v (newest first)", o)
	}

	other := s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 41, Status: "completed", Total: app.MustAmount("12.00"),
		Refunds: []woocommerce.SampleRefund{{ID: 42, Amount: app.MustAmount("2.00")}}}))
	s.SetStatus(other, "refunded")
	o, _ := woocommerce.ParseOrder(s.Order(other))
	var sum app.Amount
	for _, r := range o.Refunds {
		sum -= r.Total
	}
	if o.Status != "refunded" || sum != app.MustAmount("12.00") || o.Refunds[0].Reason != "Order fully refunded." {
		t.Errorf("setting refunded by hand: %+v", o)
	}
}

func TestModifiedAfterIsComparedInTheSitesTimeUnlessDatesAreGMT(t *testing.T) {
	s := woocommercetest.New(t)
	key := s.IssueKeys("read")
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return noon })
	s.PutOrder(woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 1}))
	count := func(query string) int {
		status, header, out := call(t, s, &key, "GET", "/orders?"+query, nil)
		if status != 200 || header.Get("X-WP-Total") == "" {
			t.Fatalf("%s: %d %v", query, status, out)
		}
		return len(out.([]any))
	}
	// At 12:00 UTC the site's clock says 09:00.
	tests := []struct {
		query string
		want  int
	}{
		{"modified_after=2026-03-01T11:00:00Z&dates_are_gmt=true", 1},
		{"modified_after=2026-03-01T12:00:00Z&dates_are_gmt=true", 0}, // strictly after
		{"modified_after=2026-03-01T11:00:00Z", 0},                    // 09:00 local is not after 11:00
		{"modified_after=2026-03-01T08:59:59Z", 1},
	}
	for _, tt := range tests {
		if got := count(tt.query); got != tt.want {
			t.Errorf("%s: %d orders, want %d", tt.query, got, tt.want)
		}
	}
	if status, _, _ := call(t, s, &key, "GET", "/orders?per_page=101", nil); status != 400 {
		t.Errorf("per_page=101 answered %d, want 400", status)
	}
	if status, _, _ := call(t, s, &key, "GET", "/orders?modified_after=yesterday", nil); status != 400 {
		t.Errorf("a bad date answered %d, want 400", status)
	}
}

func TestAuthorizeValidatesLikeWooCommerce(t *testing.T) {
	s := woocommercetest.New(t)
	full := url.Values{"app_name": {"A"}, "scope": {"read_write"}, "user_id": {"s"},
		"return_url": {"https://app.example/r"}, "callback_url": {"https://app.example/c"}}
	tests := []struct {
		name, drop, key, value, says string
	}{
		{"a missing parameter", "app_name", "", "", "Missing parameter app_name"},
		{"an unknown scope", "", "scope", "admin", "Invalid scope admin"},
		{"a plain-http callback", "", "callback_url", "http://app.example/c", "The callback_url needs to be over SSL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range full {
				q[k] = v
			}
			if tt.drop != "" {
				q.Del(tt.drop)
			}
			if tt.key != "" {
				q.Set(tt.key, tt.value)
			}
			resp, err := s.Client().Get(s.URL + "/wc-auth/v1/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.Contains(string(page), tt.says) {
				t.Errorf("= %d %s", resp.StatusCode, page)
			}
		})
	}
	if len(s.Keys()) != 0 {
		t.Error("a refused request made keys")
	}
}
