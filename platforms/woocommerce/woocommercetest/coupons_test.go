package woocommercetest_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"loyalty/platforms/woocommerce/woocommercetest"
)

func field(v any, name string) any {
	m, _ := v.(map[string]any)
	return m[name]
}

func TestCouponsAreValidatedAsWooCommerceDoes(t *testing.T) {
	s := woocommercetest.New(t)
	rw := s.IssueKeys("read_write")
	status, _, body := call(t, s, &rw, "POST", "/coupons", map[string]any{"code": "Summer10", "amount": "10", "discount_type": "percent"})
	if status != 201 || field(body, "code") != "summer10" || field(body, "amount") != "10.00" {
		t.Fatalf("create = %d %v, want 201 with the code lower-cased and the amount to two decimals", status, body)
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"no code", map[string]any{"amount": "5"}, 400, "rest_missing_callback_param"},
		{"a blank code", map[string]any{"code": "  "}, 400, "woocommerce_rest_empty_coupon_code"},
		{"a code taken in another case", map[string]any{"code": "SUMMER10"}, 400, "woocommerce_rest_coupon_code_already_exists"},
		{"an amount that is a JSON number", map[string]any{"code": "n", "amount": 10}, 400, "rest_invalid_param"},
		{"an amount that is not a number", map[string]any{"code": "n", "amount": "ten"}, 400, "coupon_invalid_amount"},
		{"a negative amount", map[string]any{"code": "n", "amount": "-1"}, 400, "coupon_invalid_amount"},
		{"an unknown discount type", map[string]any{"code": "n", "discount_type": "bogo"}, 400, "rest_invalid_param"},
		{"an invalid email", map[string]any{"code": "n", "email_restrictions": []string{"not an email"}}, 400, "coupon_invalid_email_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := call(t, s, &rw, "POST", "/coupons", tt.body)
			if status != tt.status || code(body) != tt.code {
				t.Errorf("= %d %s, want %d %s", status, code(body), tt.status, tt.code)
			}
		})
	}
	if n := len(s.Coupons()); n != 1 {
		t.Errorf("%d coupons stored, want only the valid one", n)
	}
}

func TestCouponExpiryIsWrittenOnlyThroughDateExpires(t *testing.T) {
	s := woocommercetest.New(t)
	rw := s.IssueKeys("read_write")
	tests := []struct {
		name string
		body map[string]any
		want time.Time
	}{
		{"date_expires_gmt is dropped", map[string]any{"date_expires_gmt": "2026-03-01T10:00:00"}, time.Time{}},
		{"date_expires with Z is UTC", map[string]any{"date_expires": "2026-03-01T10:00:00Z"}, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"date_expires with an offset", map[string]any{"date_expires": "2026-03-01T12:00:00+02:00"}, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"date_expires without a zone is the site's time", map[string]any{"date_expires": "2026-03-01T10:00:00"}, time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
		{"a +0000 zone is not read as one", map[string]any{"date_expires": "2026-03-01T10:00:00+0000"}, time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
		{"a number is a Unix time", map[string]any{"date_expires": 1772359200}, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["code"] = "exp" + string(rune('a'+i))
			status, _, body := call(t, s, &rw, "POST", "/coupons", tt.body)
			if status != 201 {
				t.Fatalf("create = %d %v", status, body)
			}
			coupons := s.Coupons()
			if got := coupons[len(coupons)-1].Expires; !got.Equal(tt.want) {
				t.Errorf("expires %v, want %v", got, tt.want)
			}
			want := any(nil)
			if !tt.want.IsZero() {
				want = tt.want.Format("2006-01-02T15:04:05")
			}
			if got := field(body, "date_expires_gmt"); got != want {
				t.Errorf("date_expires_gmt = %v, want %v", got, want)
			}
		})
	}
}

func TestCouponsAreFoundByCodeAndID(t *testing.T) {
	s := woocommercetest.New(t)
	rw := s.IssueKeys("read_write")
	_, _, created := call(t, s, &rw, "POST", "/coupons", map[string]any{"code": "find-me", "amount": "5"})
	id := int64(field(created, "id").(float64))
	path := "/coupons/" + strconv.FormatInt(id, 10)

	if status, h, list := call(t, s, &rw, "GET", "/coupons?code=FIND-ME", nil); status != 200 || len(list.([]any)) != 1 || h.Get("X-WP-Total") != "1" {
		t.Errorf("GET ?code= in another case = %d %v", status, list)
	}
	if _, _, list := call(t, s, &rw, "GET", "/coupons?code=nothing", nil); len(list.([]any)) != 0 {
		t.Errorf("GET ?code= of an unknown code = %v, want []", list)
	}
	if status, _, body := call(t, s, &rw, "GET", "/coupons/999", nil); status != 404 || code(body) != "woocommerce_rest_shop_coupon_invalid_id" {
		t.Errorf("GET an unknown id = %d %v", status, body)
	}
	if status, _, body := call(t, s, &rw, "PUT", "/coupons/999", map[string]any{"description": "x"}); status != 400 || code(body) != "woocommerce_rest_shop_coupon_invalid_id" {
		t.Errorf("PUT an unknown id = %d %v, want WooCommerce's 400", status, body)
	}
	if status, _, body := call(t, s, &rw, "PUT", path, map[string]any{"date_expires": "2026-01-01T00:00:00Z"}); status != 200 || field(body, "date_expires_gmt") != "2026-01-01T00:00:00" {
		t.Errorf("PUT = %d %v", status, body)
	}

	// A trashed coupon keeps its id but gives up its code.
	if status, _, body := call(t, s, &rw, "DELETE", path, nil); status != 200 || field(body, "status") != "trash" {
		t.Fatalf("DELETE = %d %v", status, body)
	}
	if status, _, _ := call(t, s, &rw, "GET", path, nil); status != 200 {
		t.Errorf("GET a trashed coupon = %d, want 200", status)
	}
	if _, _, list := call(t, s, &rw, "GET", "/coupons?code=find-me", nil); len(list.([]any)) != 0 {
		t.Errorf("a trashed coupon was found by code")
	}
	if status, _, _ := call(t, s, &rw, "POST", "/coupons", map[string]any{"code": "find-me"}); status != 201 {
		t.Errorf("a trashed coupon's code could not be reused: %d", status)
	}
	if status, _, _ := call(t, s, &rw, "DELETE", path+"?force=true", nil); status != 200 {
		t.Errorf("DELETE ?force=true = %d", status)
	}
	if status, _, _ := call(t, s, &rw, "GET", path, nil); status != 404 {
		t.Errorf("GET a deleted coupon = %d, want 404", status)
	}
}

func TestCouponPermissions(t *testing.T) {
	s := woocommercetest.New(t)
	read := s.IssueKeys("read")
	if status, _, body := call(t, s, &read, "POST", "/coupons", map[string]any{"code": "x"}); status != 401 || code(body) != "woocommerce_rest_authentication_error" {
		t.Errorf("a read key creating = %d %v", status, body)
	}
	if status, _, body := call(t, s, nil, "POST", "/coupons", map[string]any{"code": "x"}); status != 401 || code(body) != "woocommerce_rest_cannot_create" {
		t.Errorf("no key creating = %d %v", status, body)
	}
	if status, _, _ := call(t, s, &read, "GET", "/coupons", nil); status != 200 {
		t.Errorf("a read key listing = %d", status)
	}
	if len(s.Coupons()) != 0 {
		t.Error("a coupon was made")
	}
}

func TestLoseNextAnswerCarriesTheRequestOut(t *testing.T) {
	s := woocommercetest.New(t)
	rw := s.IssueKeys("read_write")
	s.LoseNextAnswer(1)
	req, _ := http.NewRequest("POST", s.URL+"/wp-json/wc/v3/coupons", strings.NewReader(`{"code":"made"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(rw.ConsumerKey, rw.ConsumerSecret)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || strings.Contains(string(body), "made") {
		t.Errorf("answer = %d %q, want a proxy's 502", resp.StatusCode, body)
	}
	if c := s.Coupons(); len(c) != 1 || c[0].Code != "made" {
		t.Errorf("coupons = %+v, want the one made", c)
	}
	if reqs := s.Requests(); reqs[len(reqs)-1].Status != 502 {
		t.Errorf("recorded status %d, want 502", reqs[len(reqs)-1].Status)
	}
	if status, _, _ := call(t, s, &rw, "GET", "/coupons", nil); status != 200 {
		t.Errorf("the next answer was lost too: %d", status)
	}
}
