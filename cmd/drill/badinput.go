package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// ledgerTotals is a whole-database fingerprint of every balance.
type ledgerTotals struct {
	customers, entries, redemptions int64
	balance, pending                int64
}

func readTotals(ctx context.Context, db *sql.DB) (ledgerTotals, error) {
	var t ledgerTotals
	err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT coalesce(sum(balance), 0) FROM customers),
		(SELECT coalesce(sum(pending), 0) FROM customers), (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM redemptions)`).
		Scan(&t.customers, &t.balance, &t.pending, &t.entries, &t.redemptions)
	return t, err
}

func (t ledgerTotals) String() string {
	return fmt.Sprintf("%d customers, balances %d, pending %d, %d ledger entries, %d redemptions", t.customers, t.balance, t.pending, t.entries, t.redemptions)
}

// badCase is one hostile or broken request and the answer it must get.
type badCase struct {
	name   string
	req    func() (*http.Request, error)
	want   int
	record string // for accepted deliveries: the delivery id and, after "=", the status the worker must record
}

// badInput is drill 2.
func (d *drill) badInput(ctx context.Context) error {
	fmt.Fprintf(d.out, "\n== drill 2: bad input is refused and changes no balance\n")
	var serve *proc
	if serves := live(d.serves); len(serves) > 0 {
		serve = serves[0]
	} else {
		p, err := d.startServe("serve-1", "")
		if err != nil {
			return err
		}
		serve = p
	}
	if len(live(d.workers)) == 0 {
		if _, err := d.startWorker("worker-1"); err != nil {
			return err
		}
	}
	base := "http://" + serve.addr
	secret := d.app.shopifySecret

	// Two WooCommerce stores, each signing with a secret of its own.
	wooKey := func(domain, secret string) (string, error) {
		out, err := d.app.cli("shops", "add", "--platform", "woocommerce", "--url", "https://"+domain, "--currency", "USD", "--webhook-secret", secret, "--if-missing")
		if err != nil {
			return "", err
		}
		m := regexp.MustCompile(`/webhooks/woocommerce/(\S+)`).FindStringSubmatch(out)
		if m == nil {
			return "", fmt.Errorf("no webhook URL in:\n%s", out)
		}
		return m[1], nil
	}
	wooA, err := wooKey("store-a.drill.example", "store-a-secret-0123456789")
	if err != nil {
		return err
	}
	if _, err := wooKey("store-b.drill.example", "store-b-secret-0123456789"); err != nil {
		return err
	}

	// One real order first: a customer with points whose balance the bad
	// requests must leave alone, and an order whose copies must earn nothing.
	const customer = "9100000000001"
	orderBody, err := shopify.SamplePayload(shopify.TopicOrdersPaid, shopify.SampleOptions{OrderID: "9200000000001", CustomerID: customer,
		Amount: app.Amount(50 * app.AmountScale), Currency: "USD", At: time.Now().Add(-time.Hour)})
	if err != nil {
		return err
	}
	webhook := func(body []byte, shop, id, signature, contentType string) func() (*http.Request, error) {
		return func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, base+"/webhooks/shopify", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", contentType)
			req.Header.Set(shopify.HeaderTopic, shopify.TopicOrdersPaid)
			req.Header.Set(shopify.HeaderShopDomain, shop)
			if id != "" {
				req.Header.Set(shopify.HeaderWebhookID, id)
			}
			if signature != "" {
				req.Header.Set(shopify.HeaderHMAC, signature)
			}
			return req, nil
		}
	}
	const jsonType = "application/json"
	first, _ := webhook(orderBody, shopBad, "bad-baseline", shopify.Sign(orderBody, secret), jsonType)()
	if status, err := do(first); err != nil || status != http.StatusOK {
		return fmt.Errorf("the baseline order got %d, %v", status, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var balance int64
		err := d.db.QueryRowContext(ctx, `SELECT balance FROM customers c JOIN shops s ON s.id = c.shop_id WHERE s.domain = $1 AND c.platform_id = $2`, shopBad, customer).Scan(&balance)
		if err == nil && balance == 50 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the baseline order was not credited within a minute (balance %d, %v)", balance, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before, err := readTotals(ctx, d.db)
	if err != nil {
		return err
	}

	huge := append([]byte(`{"id":9200000000002,"note":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	huge = append(huge, `"}`...)
	over := append(append([]byte(`{"id":9200000000002,"note":"`), bytes.Repeat([]byte("y"), 1<<20+100<<10)...), `"}`...)
	invalidJSON := []byte(`{"id": 9200000000003, "customer": {"id": 9100000000001`)
	notAnOrder := []byte(`{"hello":"world"}`)
	form := []byte("id=9200000000004&customer=9100000000001&subtotal_price=1000000")

	proxy := func(method, path string, shop, customerID string, at time.Time, key string, mutate func(url.Values)) func() (*http.Request, error) {
		return func() (*http.Request, error) {
			q := url.Values{"shop": {shop}, "logged_in_customer_id": {customerID}, "path_prefix": {"/apps/loyalty"},
				"timestamp": {strconv.FormatInt(at.Unix(), 10)}}
			if key != "" {
				q.Set("signature", shopify.SignProxy(q, key))
			}
			if mutate != nil {
				mutate(q)
			}
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader(`{"reward_id":1,"points":50,"key":"drill-replay"}`)
			}
			req, err := http.NewRequest(method, base+path+"?"+q.Encode(), body)
			if err == nil && body != nil {
				req.Header.Set("Content-Type", jsonType)
			}
			return req, err
		}
	}
	now := time.Now()
	cases := []badCase{
		{name: "webhook without a signature", req: webhook(orderBody, shopBad, "bad-1", "", jsonType), want: 401},
		{name: "webhook with a wrong signature", req: webhook(orderBody, shopBad, "bad-2", shopify.Sign([]byte("another body"), secret), jsonType), want: 401},
		{name: "webhook with a signature that is not base64", req: webhook(orderBody, shopBad, "bad-3", "not base64!", jsonType), want: 401},
		{name: "webhook signed with another app's secret", req: webhook(orderBody, shopBad, "bad-4", shopify.Sign(orderBody, "another-apps-secret"), jsonType), want: 401},
		{name: "truncated body, signature of the full body", req: webhook(orderBody[:len(orderBody)/2], shopBad, "bad-5", shopify.Sign(orderBody, secret), jsonType), want: 401},
		// Expect: 100-continue, so the client reads the early 413 instead
		// of racing the server's close with the rest of its upload.
		{name: "2 MiB body (limit 1 MiB), signed, Expect: 100-continue", req: func() (*http.Request, error) {
			req, err := webhook(huge, shopBad, "bad-6", shopify.Sign(huge, secret), jsonType)()
			if err == nil {
				req.Header.Set("Expect", "100-continue")
			}
			return req, err
		}, want: 413},
		// A little over the limit: the server reads up to the limit and
		// drains the rest, so the answer arrives cleanly.
		{name: "1.1 MiB body sent chunked (no Content-Length), signed", req: func() (*http.Request, error) {
			req, err := webhook(over, shopBad, "bad-7", shopify.Sign(over, secret), jsonType)()
			if err == nil {
				req.Body, req.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(over))), 0
				req.GetBody = nil
			}
			return req, err
		}, want: 413},
		{name: "invalid JSON, validly signed", req: webhook(invalidJSON, shopBad, "bad-8", shopify.Sign(invalidJSON, secret), jsonType), want: 200, record: "bad-8=failed"},
		{name: "JSON that is not an order, validly signed", req: webhook(notAnOrder, shopBad, "bad-9", shopify.Sign(notAnOrder, secret), jsonType), want: 200, record: "bad-9=failed"},
		{name: "form-encoded body, unsigned", req: webhook(form, shopBad, "bad-10", "", "application/x-www-form-urlencoded"), want: 401},
		{name: "text/plain copy of the credited order, new id, signed", req: webhook(orderBody, shopBad, "bad-11", shopify.Sign(orderBody, secret), "text/plain"), want: 200, record: "bad-11=skipped"},
		{name: "validly signed, no X-Shopify-Webhook-Id", req: webhook(orderBody, shopBad, "", shopify.Sign(orderBody, secret), jsonType), want: 400},
		{name: "validly signed for a shop that is not installed", req: webhook(orderBody, "not-installed.myshopify.com", "bad-13", shopify.Sign(orderBody, secret), jsonType), want: 200},
		{name: "WooCommerce store A's URL, signed with store B's secret", req: func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, base+"/webhooks/woocommerce/"+wooA, bytes.NewReader(orderBody))
			if err == nil {
				req.Header.Set("Content-Type", jsonType)
				req.Header.Set("X-WC-Webhook-Topic", "order.updated")
				req.Header.Set("X-WC-Webhook-Resource", "order")
				req.Header.Set("X-WC-Webhook-Event", "updated")
				req.Header.Set("X-WC-Webhook-Delivery-ID", "bad-14")
				req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(orderBody, "store-b-secret-0123456789"))
			}
			return req, err
		}, want: 401},
		{name: "WooCommerce delivery to an unknown store key", req: func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, base+"/webhooks/woocommerce/wc_unknown", bytes.NewReader(orderBody))
			if err == nil {
				req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(orderBody, "store-b-secret-0123456789"))
			}
			return req, err
		}, want: 401},
		{name: "app proxy, correctly signed (control)", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now, secret, nil), want: 200},
		{name: "app proxy without a signature", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now, "", nil), want: 401},
		{name: "app proxy signed with another app's secret", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now, "another-apps-secret", nil), want: 401},
		{name: "app proxy signature replayed for another customer", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now, secret,
			func(q url.Values) { q.Set("logged_in_customer_id", "9100000000002") }), want: 401},
		{name: "app proxy signature replayed for another shop", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now, secret,
			func(q url.Values) { q.Set("shop", shopFaults) }), want: 401},
		{name: "app proxy replayed 10 minutes later (expired timestamp)", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now.Add(-10*time.Minute), secret, nil), want: 401},
		{name: "app proxy timestamp 10 minutes in the future", req: proxy(http.MethodGet, "/proxy/customer", shopBad, customer, now.Add(10*time.Minute), secret, nil), want: 401},
		{name: "redeem replayed 10 minutes later (expired timestamp)", req: proxy(http.MethodPost, "/proxy/redeem", shopBad, customer, now.Add(-10*time.Minute), secret, nil), want: 401},
		{name: "redeem with a tampered signature", req: proxy(http.MethodPost, "/proxy/redeem", shopBad, customer, now, secret,
			func(q url.Values) { q.Set("signature", strings.Repeat("0", 64)) }), want: 401},
	}

	type result struct {
		status   string
		recorded string
		ok       bool
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		req, err := c.req()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		status, err := do(req)
		results[i].status = fmt.Sprint(status)
		if err != nil {
			results[i].status = "error: " + err.Error()
		}
		results[i].ok = err == nil && status == c.want
	}
	// Let the worker finish whatever intake accepted before looking.
	settleDeadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(settleDeadline) {
		if b, err := readBacklog(ctx, d.db, d.insp); err == nil && b.tasks == 0 && b.inbox == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	for i, c := range cases {
		if c.record == "" {
			continue
		}
		id, want, _ := strings.Cut(c.record, "=")
		var status, detail string
		err := d.db.QueryRowContext(ctx, `SELECT status, detail FROM webhook_deliveries WHERE platform = 'shopify' AND shop_domain = $1 AND delivery_id = $2`, shopBad, id).Scan(&status, &detail)
		if err != nil {
			status = "not recorded"
		}
		results[i].recorded = status
		if detail != "" {
			results[i].recorded += " (" + truncate(detail, 40) + ")"
		}
		if status != want {
			results[i].ok = false
		}
	}
	after, err := readTotals(ctx, d.db)
	if err != nil {
		return err
	}

	fmt.Fprintf(d.out, "  %-58s %-7s %-9s %s\n", "case", "status", "expected", "recorded by the worker")
	for i, c := range cases {
		expected := fmt.Sprint(c.want)
		if c.record != "" {
			_, w, _ := strings.Cut(c.record, "=")
			expected += " " + w
		}
		mark := "ok"
		if !results[i].ok {
			mark = "WRONG"
			d.fail("bad input %q: got %s, want %s (recorded %q)", c.name, results[i].status, expected, results[i].recorded)
		}
		fmt.Fprintf(d.out, "  %-58s %-7s %-9s %-4s %s\n", c.name, results[i].status, expected, mark, results[i].recorded)
	}
	fmt.Fprintf(d.out, "  before: %s\n  after:  %s\n", before, after)
	if before != after {
		d.fail("bad input changed the ledger: before %s, after %s", before, after)
	} else {
		fmt.Fprintln(d.out, "  no balance changed")
	}
	return nil
}

// do sends a request on a fresh connection and returns the status.
func do(req *http.Request) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
