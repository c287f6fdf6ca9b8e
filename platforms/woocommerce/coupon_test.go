package woocommerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/woocommerce/woocommercetest"
)

// reward is a valid coupon for the tests to vary.
func reward(code string) Coupon {
	return Coupon{Code: code, Kind: CouponFixedCart, Amount: app.MustAmount("10.00"), Email: "jane@example.com", Description: "Reward"}
}

// onlyCoupon returns the store's one coupon, failing unless there is exactly
// one.
func onlyCoupon(t *testing.T, s *woocommercetest.Store) woocommercetest.Coupon {
	t.Helper()
	coupons := s.Coupons()
	if len(coupons) != 1 {
		t.Fatalf("the store has %d coupons, want exactly one: %+v", len(coupons), coupons)
	}
	return coupons[0]
}

// sentFields decodes the body that created c.
func sentFields(t *testing.T, c woocommercetest.Coupon) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.Body, &m); err != nil {
		t.Fatalf("body %s: %v", c.Body, err)
	}
	return m
}

func TestCreateCouponSendsEachKindAsWooCommerceExpects(t *testing.T) {
	tests := []struct {
		name         string
		coupon       Coupon
		discountType string
		amount       string
		freeShipping bool
		minimum      string
	}{
		{"a fixed amount off the cart",
			Coupon{Code: "fix-10", Kind: CouponFixedCart, Amount: app.MustAmount("10"), Email: "jane@example.com"},
			"fixed_cart", "10.00", false, ""},
		{"a percentage off the cart, above a subtotal",
			Coupon{Code: "pct-15", Kind: CouponPercent, Percentage: 15, MinSubtotal: app.MustAmount("50"), Email: "jane@example.com"},
			"percent", "15.00", false, "50.00"},
		{"free shipping is fixed_cart of 0 with free_shipping",
			Coupon{Code: "ship", Kind: CouponFreeShipping, Email: "jane@example.com"},
			"fixed_cart", "0", true, ""},
		{"a fixed amount with free shipping too",
			Coupon{Code: "fix-ship", Kind: CouponFixedCart, Amount: app.MustAmount("5"), FreeShipping: true, Email: "jane@example.com"},
			"fixed_cart", "5.00", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			id, err := f.client.CreateCoupon(context.Background(), tt.coupon)
			if err != nil {
				t.Fatal(err)
			}
			c := onlyCoupon(t, f.store)
			if c.ID != id {
				t.Errorf("id = %d, the store's is %d", id, c.ID)
			}
			if c.DiscountType != tt.discountType || c.Amount != tt.amount || c.FreeShipping != tt.freeShipping || c.MinimumAmount != tt.minimum {
				t.Errorf("stored %s %q free shipping %v minimum %q, want %s %q %v %q",
					c.DiscountType, c.Amount, c.FreeShipping, c.MinimumAmount, tt.discountType, tt.amount, tt.freeShipping, tt.minimum)
			}
			// One use, by one shopper, alone.
			if !c.IndividualUse || c.UsageLimit != 1 || c.UsageLimitPerUser != 1 {
				t.Errorf("individual use %v, usage limit %d, per user %d; want true, 1, 1", c.IndividualUse, c.UsageLimit, c.UsageLimitPerUser)
			}
			// WooCommerce's schema types amount as a string; a JSON
			// number is refused.
			if _, ok := sentFields(t, c)["amount"].(string); !ok {
				t.Errorf("amount sent as %T, want a string", sentFields(t, c)["amount"])
			}
		})
	}
}

func TestCouponCodesAreSentLowerCase(t *testing.T) {
	f := newClientFixture(t, nil)
	if _, err := f.client.CreateCoupon(context.Background(), reward("  RWD-8F3K2Q ")); err != nil {
		t.Fatal(err)
	}
	c := onlyCoupon(t, f.store)
	if got := sentFields(t, c)["code"]; got != "rwd-8f3k2q" {
		t.Errorf("code sent = %q, want it lower-case and trimmed", got)
	}
}

func TestCouponAmountsAreExactCents(t *testing.T) {
	for _, tt := range []struct{ amount, want string }{
		{"0.5", "0.50"},
		{"10", "10.00"},
		{"1234.56", "1234.56"},
		{"99999999.99", "99999999.99"},
	} {
		t.Run(tt.amount, func(t *testing.T) {
			f := newClientFixture(t, nil)
			cp := reward("amt")
			cp.Amount = app.MustAmount(tt.amount)
			if _, err := f.client.CreateCoupon(context.Background(), cp); err != nil {
				t.Fatal(err)
			}
			if got := onlyCoupon(t, f.store).Amount; got != tt.want {
				t.Errorf("amount sent = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInvalidCouponsAreRefusedBeforeAnythingIsSent(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Coupon)
	}{
		{"no code", func(c *Coupon) { c.Code = "  " }},
		{"a code WordPress would rewrite", func(c *Coupon) { c.Code = "a&b" }},
		{"no shopper", func(c *Coupon) { c.Email = "" }},
		{"a wildcard for a shopper", func(c *Coupon) { c.Email = "*@example.com" }},
		{"two shoppers", func(c *Coupon) { c.Email = "a@example.com,b@example.com" }},
		{"a fixed coupon of nothing", func(c *Coupon) { c.Amount = 0 }},
		{"a fraction of a cent, which would be rounded", func(c *Coupon) { c.Amount = app.MustAmount("10.005") }},
		{"a negative amount", func(c *Coupon) { c.Amount = app.MustAmount("-5") }},
		{"a fixed coupon with a percentage", func(c *Coupon) { c.Percentage = 10 }},
		{"a percent coupon of 0", func(c *Coupon) { c.Kind, c.Amount = CouponPercent, 0 }},
		{"a percent coupon above 100", func(c *Coupon) { c.Kind, c.Amount, c.Percentage = CouponPercent, 0, 101 }},
		{"a percent coupon with an amount", func(c *Coupon) { c.Kind, c.Percentage = CouponPercent, 10 }},
		{"free shipping with an amount", func(c *Coupon) { c.Kind = CouponFreeShipping }},
		{"no kind", func(c *Coupon) { c.Kind = "" }},
		{"a negative minimum", func(c *Coupon) { c.MinSubtotal = app.MustAmount("-1") }},
	}
	f := newClientFixture(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := reward("bad")
			tt.change(&cp)
			_, err := f.client.CreateCoupon(context.Background(), cp)
			if err == nil || !IsPermanent(err) || app.ErrorCode(err) != app.EInvalid {
				t.Errorf("err = %v, want a permanent invalid-coupon error", err)
			}
		})
	}
	if reqs := f.store.Requests(); len(reqs) != 0 {
		t.Errorf("the store got %d requests", len(reqs))
	}
}

func TestCouponIsRestrictedToTheShopper(t *testing.T) {
	f := newClientFixture(t, nil)
	cp := reward("mine")
	cp.Email = " Jane.Doe@Example.COM "
	if _, err := f.client.CreateCoupon(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	if got := onlyCoupon(t, f.store).EmailRestrictions; !slices.Equal(got, []string{"jane.doe@example.com"}) {
		t.Errorf("email restrictions = %q, want the one shopper, lower-case", got)
	}
}

func TestCouponExpiryIsTheInstantGiven(t *testing.T) {
	warsaw := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"a time in another zone", time.Date(2026, 3, 1, 11, 0, 0, 0, warsaw), time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"fractions of a second are dropped", time.Date(2026, 3, 1, 10, 0, 0, 999, time.UTC), time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"zero never expires", time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			cp := reward("exp")
			cp.ExpiresAt = tt.at
			id, err := f.client.CreateCoupon(context.Background(), cp)
			if err != nil {
				t.Fatal(err)
			}
			// The store's site is at UTC−3: an expiry sent without a zone
			// would land three hours late, and one sent only as
			// date_expires_gmt would be dropped.
			if got := onlyCoupon(t, f.store).Expires; !got.Equal(tt.want) {
				t.Errorf("the store expires it at %v, want %v", got, tt.want)
			}
			var read couponJSON
			if _, err := f.client.call(context.Background(), http.MethodGet, fmt.Sprintf("/coupons/%d", id), nil, nil, &read); err != nil {
				t.Fatal(err)
			}
			if got := parseGMT(string(read.DateExpiresGMT)); !got.Equal(tt.want) {
				t.Errorf("date_expires_gmt read back = %q, want %v", read.DateExpiresGMT, tt.want)
			}
		})
	}
}

func TestATakenCodeIsCodeTaken(t *testing.T) {
	f := newClientFixture(t, nil)
	first, err := f.client.CreateCoupon(context.Background(), reward("Summer"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("another shopper's coupon has the code, whatever its case", func(t *testing.T) {
		other := reward("SUMMER")
		other.Email = "john@example.com"
		_, err := f.client.CreateCoupon(context.Background(), other)
		if !IsCodeTaken(err) || !IsPermanent(err) {
			t.Fatalf("err = %v, want IsCodeTaken and IsPermanent", err)
		}
		if e := apiError(t, err); e.Status != 400 || e.Code != "woocommerce_rest_coupon_code_already_exists" {
			t.Errorf("APIError = %+v", e)
		}
	})
	t.Run("the same coupon again is the one already made", func(t *testing.T) {
		// A job that created the coupon and died before recording the
		// id runs again with the same code.
		id, err := f.client.CreateCoupon(context.Background(), reward("summer"))
		if err != nil || id != first {
			t.Errorf("CreateCoupon = %d, %v; want the first coupon, %d", id, err, first)
		}
	})
	if n := len(f.store.Coupons()); n != 1 {
		t.Errorf("the store has %d coupons, want 1", n)
	}
	if IsCodeTaken(errors.New("woocommerce_rest_coupon_code_already_exists")) {
		t.Error("IsCodeTaken reads error text")
	}
}

func TestALostAnswerCreatesExactlyOneCoupon(t *testing.T) {
	t.Run("the store made the coupon and a proxy lost the answer", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.store.LoseNextAnswer(1)
		id, err := f.client.CreateCoupon(context.Background(), reward("lost"))
		if err != nil {
			t.Fatal(err)
		}
		if c := onlyCoupon(t, f.store); c.ID != id {
			t.Errorf("id = %d, the store's coupon is %d", id, c.ID)
		}
		if got := statuses(f.apiRequests("POST", "/coupons")); !slices.Equal(got, []int{502}) {
			t.Errorf("POSTs = %v, want the one whose answer was lost", got)
		}
		if gets := f.apiRequests("GET", "/coupons"); len(gets) != 1 || gets[0].Query != "code=lost" {
			t.Errorf("lookups = %+v, want one by code", gets)
		}
	})
	t.Run("the store failed before making it", func(t *testing.T) {
		f := newClientFixture(t, nil)
		f.store.FailNext(1, http.StatusInternalServerError)
		id, err := f.client.CreateCoupon(context.Background(), reward("retry"))
		if err != nil || id != onlyCoupon(t, f.store).ID {
			t.Fatalf("CreateCoupon = %d, %v", id, err)
		}
		if got := statuses(f.apiRequests("POST", "/coupons")); !slices.Equal(got, []int{500, 201}) {
			t.Errorf("POSTs = %v, want a second only after the lookup found nothing", got)
		}
		if len(f.sleeper.Waits()) != 1 {
			t.Errorf("waits = %v, want one backoff", f.sleeper.Waits())
		}
	})
	t.Run("the connection dropped after the store made it", func(t *testing.T) {
		var dropped atomic.Bool
		f := newClientFixture(t, func(o *ClientOptions) {
			base := o.HTTP.Transport
			o.HTTP = &http.Client{Transport: afterTransport{base, func(r *http.Request) error {
				if r.Method == "POST" && dropped.CompareAndSwap(false, true) {
					return errors.New("unexpected EOF")
				}
				return nil
			}}}
		})
		if _, err := f.client.CreateCoupon(context.Background(), reward("eof")); err != nil {
			t.Fatal(err)
		}
		onlyCoupon(t, f.store)
	})
	t.Run("a lookup that fails stops the create", func(t *testing.T) {
		f := newClientFixture(t, func(o *ClientOptions) {
			o.MaxRetries = -1
			base := o.HTTP.Transport
			o.HTTP = &http.Client{Transport: flakyTransport{base, func(r *http.Request) (int, error) {
				if r.Method == "GET" {
					return 0, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
				}
				return 0, nil
			}}}
		})
		f.store.LoseNextAnswer(1)
		_, err := f.client.CreateCoupon(context.Background(), reward("unsure"))
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want a temporary error", err)
		}
		onlyCoupon(t, f.store)
		if n := len(f.apiRequests("POST", "/coupons")); n != 1 {
			t.Errorf("%d POSTs, want no second while the first may have worked", n)
		}
	})
	t.Run("a lost answer and another coupon under the code", func(t *testing.T) {
		f := newClientFixture(t, nil)
		other := reward("clash")
		other.Email = "john@example.com"
		if _, err := f.client.CreateCoupon(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		f.store.FailNext(1, http.StatusBadGateway)
		_, err := f.client.CreateCoupon(context.Background(), reward("clash"))
		if !IsCodeTaken(err) {
			t.Errorf("err = %v, want IsCodeTaken", err)
		}
	})
	t.Run("retries are bounded", func(t *testing.T) {
		f := newClientFixture(t, func(o *ClientOptions) {
			o.MaxRetries = 2
			base := o.HTTP.Transport
			o.HTTP = &http.Client{Transport: flakyTransport{base, func(r *http.Request) (int, error) {
				if r.Method == "POST" {
					return 0, errors.New("connection reset by peer") // before sending: nothing made
				}
				return 0, nil
			}}}
		})
		_, err := f.client.CreateCoupon(context.Background(), reward("never"))
		if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
			t.Errorf("err = %v", err)
		}
		if len(f.store.Coupons()) != 0 || len(f.apiRequests("GET", "/coupons")) != 3 {
			t.Errorf("coupons %d, lookups %d; want 0 and 3", len(f.store.Coupons()), len(f.apiRequests("GET", "/coupons")))
		}
	})
}

// afterTransport sends each request and then, for those fail chooses,
// throws the answer away and reports err, as a connection dropped while the
// answer was on its way.
type afterTransport struct {
	next http.RoundTripper
	fail func(*http.Request) error
}

func (t afterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if ferr := t.fail(req); ferr != nil {
		resp.Body.Close()
		return nil, ferr
	}
	return resp, nil
}

func TestExpireCoupon(t *testing.T) {
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	newCoupon := func(t *testing.T, f *clientFixture, expires time.Time) int64 {
		t.Helper()
		cp := reward("withdraw")
		cp.ExpiresAt = expires
		id, err := f.client.CreateCoupon(context.Background(), cp)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Run("it sets the expiry and is idempotent", func(t *testing.T) {
		f := newClientFixture(t, nil)
		id := newCoupon(t, f, time.Time{})
		for range 2 {
			if err := f.client.ExpireCoupon(context.Background(), id, at.In(time.FixedZone("X", 5*3600))); err != nil {
				t.Fatal(err)
			}
			if got := onlyCoupon(t, f.store).Expires; !got.Equal(at) {
				t.Fatalf("expires %v, want %v", got, at)
			}
		}
		if n := len(f.apiRequests("PUT", fmt.Sprintf("/coupons/%d", id))); n != 1 {
			t.Errorf("%d PUTs, want one: the second call finds it done", n)
		}
	})
	t.Run("it never moves an expiry later", func(t *testing.T) {
		f := newClientFixture(t, nil)
		earlier := at.Add(-24 * time.Hour)
		id := newCoupon(t, f, earlier)
		if err := f.client.ExpireCoupon(context.Background(), id, at); err != nil {
			t.Fatal(err)
		}
		if got := onlyCoupon(t, f.store).Expires; !got.Equal(earlier) {
			t.Errorf("expires %v, want it left at %v", got, earlier)
		}
	})
	t.Run("it brings a later expiry forward", func(t *testing.T) {
		f := newClientFixture(t, nil)
		id := newCoupon(t, f, at.Add(30*24*time.Hour))
		if err := f.client.ExpireCoupon(context.Background(), id, at); err != nil {
			t.Fatal(err)
		}
		if got := onlyCoupon(t, f.store).Expires; !got.Equal(at) {
			t.Errorf("expires %v, want %v", got, at)
		}
	})
	t.Run("a coupon that does not exist is done", func(t *testing.T) {
		f := newClientFixture(t, nil)
		if err := f.client.ExpireCoupon(context.Background(), 424242, at); err != nil {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a coupon deleted between the read and the write is done", func(t *testing.T) {
		var f *clientFixture
		f = newClientFixture(t, func(o *ClientOptions) {
			base := o.HTTP.Transport
			o.HTTP = &http.Client{Transport: flakyTransport{base, func(r *http.Request) (int, error) {
				if r.Method == "PUT" {
					deleteCoupon(t, f, strings.TrimPrefix(r.URL.Path, "/wp-json/wc/v3/coupons/"))
				}
				return 0, nil
			}}}
		})
		id := newCoupon(t, f, time.Time{})
		if err := f.client.ExpireCoupon(context.Background(), id, at); err != nil {
			t.Errorf("err = %v", err)
		}
		if got := statuses(f.apiRequests("PUT", fmt.Sprintf("/coupons/%d", id))); !slices.Equal(got, []int{400}) {
			t.Errorf("PUTs = %v, want WooCommerce's 400 for an unknown id", got)
		}
	})
	t.Run("a read key cannot", func(t *testing.T) {
		f := newClientFixture(t, nil)
		id := newCoupon(t, f, time.Time{})
		read := f.store.IssueKeys("read")
		c := NewClient(f.store.URL, read.ConsumerKey, read.ConsumerSecret, ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
		if err := c.ExpireCoupon(context.Background(), id, at); !IsUnauthorized(err) || !IsPermanent(err) {
			t.Errorf("err = %v, want unauthorized", err)
		}
	})
	t.Run("no time is refused", func(t *testing.T) {
		f := newClientFixture(t, nil)
		if err := f.client.ExpireCoupon(context.Background(), 1, time.Time{}); !IsPermanent(err) {
			t.Errorf("err = %v", err)
		}
	})
}

// deleteCoupon deletes a coupon for good, as the merchant could.
func deleteCoupon(t *testing.T, f *clientFixture, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, f.store.URL+APIPath+"/coupons/"+id+"?force=true", nil)
	req.SetBasicAuth(f.keys.ConsumerKey, f.keys.ConsumerSecret)
	resp, err := f.store.Client().Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("DELETE coupon %s: %d", id, resp.StatusCode)
	}
}

func TestIsPermanent(t *testing.T) {
	api := func(status int) error {
		return fmt.Errorf("woocommerce POST /coupons: %w", &APIError{Status: status})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"400, a request the store rejects", api(400), true},
		{"401, keys revoked or read-only", api(401), true},
		{"403, no capability", api(403), true},
		{"404, no such route", api(404), true},
		{"422", api(422), true},
		{"a redirect to another address", api(301), true},
		{"a taken code", fmt.Errorf("x: %w", errCodeTaken), true},
		{"an invalid coupon", app.Errorf(app.EInvalid, "no code"), true},
		{"429, throttled", api(429), false},
		{"500", api(500), false},
		{"502", api(502), false},
		{"503", api(503), false},
		{"a network error", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, false},
		{"a cancelled context", fmt.Errorf("x: %w", context.Canceled), false},
		{"a deadline", context.DeadlineExceeded, false},
		{"an internal error", app.Errorf(app.EInternal, "boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestAReadKeyCannotCreateCoupons(t *testing.T) {
	f := newClientFixture(t, nil)
	read := f.store.IssueKeys("read")
	c := NewClient(f.store.URL, read.ConsumerKey, read.ConsumerSecret, ClientOptions{HTTP: f.store.Client(), Sleep: f.sleeper.Sleep})
	_, err := c.CreateCoupon(context.Background(), reward("nope"))
	e := apiError(t, err)
	if e.Status != 401 || e.Code != "woocommerce_rest_authentication_error" || e.Message != "The API key provided does not have write permissions." {
		t.Errorf("APIError = %+v", e)
	}
	if !IsUnauthorized(err) || !IsPermanent(err) || IsCodeTaken(err) {
		t.Errorf("IsUnauthorized %v, IsPermanent %v, IsCodeTaken %v", IsUnauthorized(err), IsPermanent(err), IsCodeTaken(err))
	}
	if len(f.store.Coupons()) != 0 || len(f.apiRequests("GET", "/coupons")) != 0 || len(f.sleeper.Waits()) != 0 {
		t.Error("a refusal was looked up, retried or made a coupon")
	}
}

func TestParseOrderReadsTheCouponCodes(t *testing.T) {
	t.Run("codes as the store keeps them", func(t *testing.T) {
		o := mustParseOrder(t, SampleOrder(SampleOptions{ID: 5, CouponCodes: []string{"rwd-8f3k2q", "Summer "}}))
		if !slices.Equal(o.CouponCodes, []string{"rwd-8f3k2q", "summer"}) {
			t.Errorf("CouponCodes = %q", o.CouponCodes)
		}
	})
	t.Run("the documentation's orders have none", func(t *testing.T) {
		for _, name := range []string{"order_v3_retrieve_example.json", "order_created_body_as_sent.json"} {
			if o := mustParseOrder(t, fixture(t, name)); o.CouponCodes != nil {
				t.Errorf("%s: CouponCodes = %q", name, o.CouponCodes)
			}
		}
	})
	t.Run("coupon_lines that are not a list read as none", func(t *testing.T) {
		body := strings.Replace(string(SampleOrder(SampleOptions{ID: 6})), `"coupon_lines":[]`, `"coupon_lines":{}`, 1)
		if !strings.Contains(body, `"coupon_lines":{}`) {
			t.Fatal("the sample has no empty coupon_lines to replace")
		}
		if o := mustParseOrder(t, []byte(body)); o.CouponCodes != nil {
			t.Errorf("CouponCodes = %q", o.CouponCodes)
		}
	})
}

// TestParseOrderReadsWhatEachCouponTookOff uses the documentation's order
// with coupon lines as WooCommerce writes them: discount is the amount off
// without its tax (discount_tax), in the order's currency.
func TestParseOrderReadsWhatEachCouponTookOff(t *testing.T) {
	lines := `"coupon_lines": [
		{"id": 320, "code": "LOY-ABCD-EFGH-JKMN", "discount": "4.07", "discount_tax": "0.93", "meta_data": []},
		{"id": 321, "code": "freeship", "discount": "0.00", "discount_tax": "0.00", "meta_data": []},
		{"id": 322, "code": "broken", "discount": "ten", "meta_data": []},
		{"id": 323, "code": "nodiscount", "meta_data": []}
	],`
	body := strings.Replace(string(fixture(t, "order_v3_retrieve_example.json")), `"coupon_lines": [],`, lines, 1)
	if !strings.Contains(body, "LOY-ABCD") {
		t.Fatal("the fixture has no empty coupon_lines to replace")
	}
	ev := mustParseOrder(t, []byte(body)).Events(nil)
	want := map[string]app.Amount{"loy-abcd-efgh-jkmn": app.MustAmount("4.07"), "freeship": 0}
	if ev.Paid == nil || !maps.Equal(ev.Paid.CodeDiscounts, want) || len(ev.Paid.DiscountCodes) != 4 {
		t.Fatalf("paid event = %+v; want the four codes and the discounts %v", ev.Paid, want)
	}
}
