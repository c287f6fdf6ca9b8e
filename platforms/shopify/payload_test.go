package shopify

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

// newYork2021 is the instant Shopify's sample payloads are dated with.
var newYork2021 = time.Date(2021, 12, 31, 19, 0, 0, 0, time.FixedZone("", -5*3600))

func TestParseOrderPaidReadsShopifysSample(t *testing.T) {
	got, err := ParseOrderPaid(fixture(t, "orders_paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.OrderPaid{
		// 820982911946154508 > 2^53: a float64 would read 820982911946154496.
		OrderID: "820982911946154508",
		Name:    "#9999",
		Customer: &app.CustomerRef{
			PlatformID: "115310627314723954",
			Email:      "john@example.com",
			FirstName:  "John",
			LastName:   "Smith",
			Locale:     "en",
		},
		Currency: "USD",
		// current_subtotal_price_set (414.95), not subtotal_price (404.95):
		// the sample's figures disagree with each other.
		Subtotal:    app.MustAmount("414.95"),
		SubtotalTax: 0,
		// The one shipping line's discounted price is 0.00 although its
		// price and the order's total shipping are 10.00.
		Shipping:      0,
		ShippingTax:   0,
		TaxesIncluded: false,
		DiscountCodes: nil,
		PaidAt:        newYork2021,
	}
	assertEvent(t, got, want)
}

// TestParseOrderPaidReadsWhatEachCodeTookOff uses Shopify's sample order
// with codes applied: discount_codes[].amount is the calculated amount off
// in shop currency, whatever the code's type (a percentage, free shipping).
func TestParseOrderPaidReadsWhatEachCodeTookOff(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(string(fixture(t, "orders_paid.json"))))
	dec.UseNumber() // the sample's ids exceed 2^53
	var order map[string]any
	if err := dec.Decode(&order); err != nil {
		t.Fatal(err)
	}
	order["discount_codes"] = []map[string]any{
		{"code": "LOY-ABCD-EFGH-JKMN", "amount": "41.50", "type": "percentage"},
		{"code": "FREESHIP", "amount": "10.00", "type": "shipping"},
		{"code": "NOAMOUNT", "type": "fixed_amount"},
		{"code": "BROKEN", "amount": "ten", "type": "fixed_amount"},
	}
	body, _ := json.Marshal(order)
	got, err := ParseOrderPaid(body)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]app.Amount{"loy-abcd-efgh-jkmn": app.MustAmount("41.50"), "freeship": app.MustAmount("10.00")}
	if !reflect.DeepEqual(got.CodeDiscounts, want) || len(got.DiscountCodes) != 4 || got.OrderID != "820982911946154508" {
		t.Fatalf("codes %v, discounts %v; want all four codes and the amounts of the two that report one, %v", got.DiscountCodes, got.CodeDiscounts, want)
	}
}

func TestParseRefundReadsShopifysSample(t *testing.T) {
	body := fixture(t, "refunds_create.json")
	got, err := ParseRefund(body)
	if err != nil {
		t.Fatal(err)
	}
	want := app.OrderRefunded{
		OrderID:  "820982911946154508",
		RefundID: "890088186047892319",
		Customer: nil,
		// Every line of the order: 89.99 + 19.99 + 24.99 + 159.99 + 119.99.
		// The sample's transactions return only 85.00; points follow goods.
		Lines:      app.MustAmount("414.95"),
		LinesTax:   0,
		RefundedAt: newYork2021,
	}
	assertEvent(t, got, want)

	// Cross-check against the fixture read independently of the parser.
	var raw struct {
		Lines []struct {
			SubtotalSet struct {
				ShopMoney struct {
					Amount string `json:"amount"`
				} `json:"shop_money"`
			} `json:"subtotal_set"`
		} `json:"refund_line_items"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	var sum app.Amount
	for _, l := range raw.Lines {
		sum += app.MustAmount(l.SubtotalSet.ShopMoney.Amount)
	}
	if got.Lines != sum {
		t.Errorf("Lines = %s, the fixture's refund lines add up to %s", got.Lines, sum)
	}
}

func TestParseOrderCancelledReadsShopifysSample(t *testing.T) {
	// Shopify's order sample is cancelled (cancel_reason "customer"), so it
	// serves for orders/cancelled too.
	got, err := ParseOrderCancelled(fixture(t, "orders_paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.OrderCancelled{
		OrderID: "820982911946154508",
		Customer: &app.CustomerRef{PlatformID: "115310627314723954", Email: "john@example.com",
			FirstName: "John", LastName: "Smith", Locale: "en"},
		CancelledAt: newYork2021,
	}
	assertEvent(t, got, want)
}

func TestParseCustomerCreatedReadsShopifysSample(t *testing.T) {
	got, err := ParseCustomerCreated(fixture(t, "customers_create.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.CustomerCreated{
		Customer: app.CustomerRef{PlatformID: "706405506930370084", Email: "bob@biller.com",
			FirstName: "Bob", LastName: "Biller"},
		CreatedAt: newYork2021,
	}
	assertEvent(t, got, want)
}

func TestParseOrderPaid(t *testing.T) {
	tests := []struct {
		name string
		body string
		want app.OrderPaid
	}{
		{
			name: "shop money is used, not the shopper's presentment currency",
			body: `{"id": 5001, "name": "#1001", "currency": "PLN", "presentment_currency": "EUR",
				"current_subtotal_price": "430.00",
				"current_subtotal_price_set": {"shop_money": {"amount": "430.00", "currency_code": "PLN"},
					"presentment_money": {"amount": "100.00", "currency_code": "EUR"}},
				"line_items": [{"tax_lines": [{"price": "80.41",
					"price_set": {"shop_money": {"amount": "80.41", "currency_code": "PLN"},
						"presentment_money": {"amount": "18.70", "currency_code": "EUR"}}}]}],
				"shipping_lines": [{"price": "21.50", "discounted_price": "21.50",
					"discounted_price_set": {"shop_money": {"amount": "21.50", "currency_code": "PLN"},
						"presentment_money": {"amount": "5.00", "currency_code": "EUR"}}}],
				"taxes_included": true, "customer": {"id": 7}}`,
			want: app.OrderPaid{OrderID: "5001", Name: "#1001", Currency: "PLN",
				Customer: &app.CustomerRef{PlatformID: "7"}, TaxesIncluded: true,
				Subtotal: app.MustAmount("430.00"), SubtotalTax: app.MustAmount("80.41"),
				Shipping: app.MustAmount("21.50")},
		},
		{
			name: "currency falls back to the order's shop currency",
			body: `{"id": 5002, "currency": "JPY", "current_subtotal_price": "1500"}`,
			want: app.OrderPaid{OrderID: "5002", Currency: "JPY", Subtotal: app.MustAmount("1500")},
		},
		{
			name: "subtotal falls back to subtotal_price_set, then subtotal_price",
			body: `{"id": 5003, "subtotal_price_set": {"shop_money": {"amount": "12.30"}}, "subtotal_price": "99.99"}`,
			want: app.OrderPaid{OrderID: "5003", Subtotal: app.MustAmount("12.30")},
		},
		{
			name: "taxes-included order sums its lines' tax",
			body: `{"id": 5004, "taxes_included": true, "current_subtotal_price": "123.00",
				"line_items": [
					{"tax_lines": [{"price": "18.70", "price_set": {"shop_money": {"amount": "18.70"}}},
					               {"price": "1.00", "price_set": {"shop_money": {"amount": "1.00"}}}]},
					{"tax_lines": [{"price": "4.60"}]},
					{"tax_lines": []}]}`,
			want: app.OrderPaid{OrderID: "5004", TaxesIncluded: true,
				Subtotal: app.MustAmount("123.00"), SubtotalTax: app.MustAmount("24.30")},
		},
		{
			name: "shipping is charged after discounts, removed lines skipped, tax summed",
			body: `{"id": 5005, "current_subtotal_price": "50.00",
				"total_shipping_price_set": {"shop_money": {"amount": "999.00"}},
				"shipping_lines": [
					{"price": "15.00", "price_set": {"shop_money": {"amount": "15.00"}},
					 "discounted_price": "10.00", "discounted_price_set": {"shop_money": {"amount": "10.00"}},
					 "tax_lines": [{"price": "2.30", "price_set": {"shop_money": {"amount": "2.30"}}}]},
					{"price": "4.99", "tax_lines": [{"price": "0.50"}]},
					{"price": "30.00", "discounted_price": "30.00", "is_removed": true,
					 "tax_lines": [{"price": "6.90"}]}]}`,
			want: app.OrderPaid{OrderID: "5005", Subtotal: app.MustAmount("50.00"),
				Shipping: app.MustAmount("14.99"), ShippingTax: app.MustAmount("2.80")},
		},
		{
			name: "without shipping lines the total shipping price is used",
			body: `{"id": 5006, "current_subtotal_price": "50.00",
				"total_shipping_price_set": {"shop_money": {"amount": "7.50"}, "presentment_money": {"amount": "2.00"}}}`,
			want: app.OrderPaid{OrderID: "5006", Subtotal: app.MustAmount("50.00"), Shipping: app.MustAmount("7.50")},
		},
		{
			name: "discount codes are listed in order, blanks dropped",
			body: `{"id": 5007, "current_subtotal_price": "1.00",
				"discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "percentage"}, {"code": ""}, {"code": "LOYALTY-5"}]}`,
			want: app.OrderPaid{OrderID: "5007", Subtotal: app.MustAmount("1.00"), DiscountCodes: []string{"WELCOME10", "LOYALTY-5"},
				CodeDiscounts: map[string]app.Amount{"welcome10": app.MustAmount("10.00")}},
		},
		{
			name: "guest checkout without a customer has a nil customer",
			body: `{"id": 5008, "current_subtotal_price": "1.00", "email": "guest@example.com"}`,
			want: app.OrderPaid{OrderID: "5008", Subtotal: app.MustAmount("1.00")},
		},
		{
			name: "null customer is a guest",
			body: `{"id": 5009, "current_subtotal_price": "1.00", "customer": null}`,
			want: app.OrderPaid{OrderID: "5009", Subtotal: app.MustAmount("1.00")},
		},
		{
			name: "customer without an id is a guest",
			body: `{"id": 5010, "current_subtotal_price": "1.00", "customer": {"email": "x@example.com", "id": null}}`,
			want: app.OrderPaid{OrderID: "5010", Subtotal: app.MustAmount("1.00")},
		},
		{
			name: "customer email falls back to the order's email",
			body: `{"id": 5011, "current_subtotal_price": "1.00", "email": "order@example.com",
				"customer": {"id": 8, "email": null}}`,
			want: app.OrderPaid{OrderID: "5011", Subtotal: app.MustAmount("1.00"),
				Customer: &app.CustomerRef{PlatformID: "8", Email: "order@example.com"}},
		},
		{
			name: "non-Latin names come through unchanged",
			body: `{"id": 5012, "current_subtotal_price": "1.00", "customer_locale": "uk",
				"customer": {"id": 9, "email": "дмитро@приклад.укр", "first_name": "Дмитро", "last_name": "Łukasiewicz-Bērziņš"}}`,
			want: app.OrderPaid{OrderID: "5012", Subtotal: app.MustAmount("1.00"),
				Customer: &app.CustomerRef{PlatformID: "9", Email: "дмитро@приклад.укр",
					FirstName: "Дмитро", LastName: "Łukasiewicz-Bērziņš", Locale: "uk"}},
		},
		{
			name: "ids as strings are read like numbers",
			body: `{"id": "820982911946154508", "current_subtotal_price": "1.00", "customer": {"id": "115310627314723954"}}`,
			want: app.OrderPaid{OrderID: "820982911946154508", Subtotal: app.MustAmount("1.00"),
				Customer: &app.CustomerRef{PlatformID: "115310627314723954"}},
		},
		{
			name: "GraphQL global ids and leading zeros are canonicalised",
			body: `{"id": "gid://shopify/Order/820982911946154508", "current_subtotal_price": "1.00", "customer": {"id": "007"}}`,
			want: app.OrderPaid{OrderID: "820982911946154508", Subtotal: app.MustAmount("1.00"),
				Customer: &app.CustomerRef{PlatformID: "7"}},
		},
		{
			name: "money as JSON numbers is read exactly",
			body: `{"id": 5013, "current_subtotal_price_set": {"shop_money": {"amount": 0.30}},
				"line_items": [{"tax_lines": [{"price_set": {"shop_money": {"amount": 1e-2}}}]}]}`,
			want: app.OrderPaid{OrderID: "5013", Subtotal: app.MustAmount("0.30"), SubtotalTax: app.MustAmount("0.01")},
		},
		{
			name: "paid-at falls back to updated_at, then created_at",
			body: `{"id": 5014, "current_subtotal_price": "1.00", "processed_at": null,
				"updated_at": "not a time", "created_at": "2024-03-01T10:00:00.123+01:00"}`,
			want: app.OrderPaid{OrderID: "5014", Subtotal: app.MustAmount("1.00"),
				PaidAt: time.Date(2024, 3, 1, 10, 0, 0, 123e6, time.FixedZone("", 3600))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOrderPaid([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			assertEvent(t, got, tt.want)
		})
	}
}

func TestParseRefund(t *testing.T) {
	tests := []struct {
		name string
		body string
		want app.OrderRefunded
	}{
		{
			name: "shop money is used for lines and their tax",
			body: `{"id": 1, "order_id": 2, "refund_line_items": [
				{"subtotal": 10.99, "total_tax": 2.67,
				 "subtotal_set": {"shop_money": {"amount": 10.99, "currency_code": "CAD"}, "presentment_money": {"amount": 8.95, "currency_code": "USD"}},
				 "total_tax_set": {"shop_money": {"amount": 1.67, "currency_code": "CAD"}, "presentment_money": {"amount": 1.32, "currency_code": "USD"}}},
				{"subtotal": 5, "total_tax": 0.5}]}`,
			want: app.OrderRefunded{RefundID: "1", OrderID: "2",
				Lines: app.MustAmount("15.99"), LinesTax: app.MustAmount("2.17")},
		},
		{
			name: "refunded shipping comes from refund shipping lines",
			body: `{"id": 1, "order_id": 2, "refund_shipping_lines": [
				{"subtotal_amount_set": {"shop_money": {"amount": 5, "currency_code": "CAD"}, "presentment_money": {"amount": 3.65}},
				 "tax_amount_set": {"shop_money": {"amount": "0.65"}}},
				{"subtotal_amount_set": {"shop_money": {"amount": "2.50"}}}]}`,
			want: app.OrderRefunded{RefundID: "1", OrderID: "2",
				Shipping: app.MustAmount("7.50"), ShippingTax: app.MustAmount("0.65")},
		},
		{
			name: "legacy shipping_refund adjustments count as positive shipping",
			body: `{"id": 1, "order_id": 2, "order_adjustments": [
				{"kind": "shipping_refund", "amount": "-8.00", "tax_amount": "-1.60",
				 "amount_set": {"shop_money": {"amount": "-8.00"}}, "tax_amount_set": {"shop_money": {"amount": "-1.60"}}},
				{"kind": "shipping_refund", "amount": "-2.00", "tax_amount": "0.00"},
				{"kind": "refund_discrepancy", "amount": "10.00", "tax_amount": "0.00"}]}`,
			want: app.OrderRefunded{RefundID: "1", OrderID: "2",
				Shipping: app.MustAmount("10.00"), ShippingTax: app.MustAmount("1.60")},
		},
		{
			name: "shipping listed both ways is counted once, from the shipping lines",
			body: `{"id": 1, "order_id": 2,
				"refund_shipping_lines": [{"subtotal_amount_set": {"shop_money": {"amount": "8.00"}}}],
				"order_adjustments": [{"kind": "shipping_refund", "amount": "-8.00"}]}`,
			want: app.OrderRefunded{RefundID: "1", OrderID: "2", Shipping: app.MustAmount("8.00")},
		},
		{
			name: "refunded-at falls back to created_at",
			body: `{"id": "1", "order_id": "gid://shopify/Order/2", "created_at": "2021-12-31T19:00:00-05:00"}`,
			want: app.OrderRefunded{RefundID: "1", OrderID: "2", RefundedAt: newYork2021},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRefund([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			assertEvent(t, got, tt.want)
		})
	}
}

func TestParseOrderCancelled(t *testing.T) {
	tests := []struct {
		name string
		body string
		want app.OrderCancelled
	}{
		{"guest order cancels without a customer",
			`{"id": 3, "cancelled_at": "2021-12-31T19:00:00-05:00", "customer": null}`,
			app.OrderCancelled{OrderID: "3", CancelledAt: newYork2021}},
		{"cancelled-at falls back to updated_at",
			`{"id": 3, "updated_at": "2021-12-31T19:00:00-05:00", "customer": {"id": 4, "email": "a@example.com"}}`,
			app.OrderCancelled{OrderID: "3", CancelledAt: newYork2021, Customer: &app.CustomerRef{PlatformID: "4", Email: "a@example.com"}}},
		{"no subtotal is needed to cancel",
			`{"id": 3}`,
			app.OrderCancelled{OrderID: "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOrderCancelled([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			assertEvent(t, got, tt.want)
		})
	}
}

func TestParseCustomerCreated(t *testing.T) {
	got, err := ParseCustomerCreated([]byte(`{"id": "706405506930370084", "email": " jānis@piemērs.lv ",
		"first_name": "Jānis", "last_name": "Bērziņš", "locale": "lv", "created_at": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := app.CustomerCreated{Customer: app.CustomerRef{PlatformID: "706405506930370084",
		Email: "jānis@piemērs.lv", FirstName: "Jānis", LastName: "Bērziņš", Locale: "lv"}}
	assertEvent(t, got, want)
}

func TestParsersRejectMalformedPayloads(t *testing.T) {
	type parser struct {
		name  string
		parse func([]byte) error
	}
	var (
		orderPaid = parser{"ParseOrderPaid", func(b []byte) error { _, err := ParseOrderPaid(b); return err }}
		refund    = parser{"ParseRefund", func(b []byte) error { _, err := ParseRefund(b); return err }}
		cancelled = parser{"ParseOrderCancelled", func(b []byte) error { _, err := ParseOrderCancelled(b); return err }}
		customer  = parser{"ParseCustomerCreated", func(b []byte) error { _, err := ParseCustomerCreated(b); return err }}
		all       = []parser{orderPaid, refund, cancelled, customer}
	)
	tests := []struct {
		name    string
		parsers []parser
		body    string
		mention string // what the error message must name
	}{
		{"empty body is malformed", all, ``, ""},
		{"invalid JSON is malformed", all, `{"id": 1,`, ""},
		{"trailing garbage is malformed", all, `{"id": 1} x`, ""},
		{"a top-level array is malformed", all, `[{"id": 1}]`, ""},
		{"null body lacks its id", all, `null`, "id missing"},
		{"order without an id is malformed", []parser{orderPaid, cancelled}, `{"current_subtotal_price": "1.00"}`, "order id missing"},
		{"order id zero is missing", []parser{orderPaid, cancelled}, `{"id": 0, "current_subtotal_price": "1.00"}`, "order id missing"},
		{"negative order id is malformed", []parser{orderPaid, cancelled}, `{"id": -5, "current_subtotal_price": "1.00"}`, "order id"},
		{"fractional order id is malformed", []parser{orderPaid, cancelled}, `{"id": 8.2098291194615450e17, "current_subtotal_price": "1.00"}`, "order id"},
		{"object as order id is malformed", []parser{orderPaid, cancelled}, `{"id": {"value": 1}, "current_subtotal_price": "1.00"}`, "order id"},
		{"paid order without a subtotal is malformed", []parser{orderPaid}, `{"id": 1}`, "subtotal missing"},
		{"subtotal with a decimal comma is malformed", []parser{orderPaid}, `{"id": 1, "current_subtotal_price": "12,50"}`, "order subtotal"},
		{"subtotal beyond four decimals is malformed", []parser{orderPaid}, `{"id": 1, "current_subtotal_price": "0.00001"}`, "order subtotal"},
		{"huge exponent is malformed, not expanded", []parser{orderPaid}, `{"id": 1, "current_subtotal_price_set": {"shop_money": {"amount": 1e999999999}}}`, "order subtotal"},
		{"bad tax line names its place", []parser{orderPaid}, `{"id": 1, "current_subtotal_price": "1", "line_items": [{}, {"tax_lines": [{"price": "x"}]}]}`, "line_items[1].tax_lines[0]"},
		{"amounts adding up beyond range are malformed", []parser{orderPaid}, `{"id": 1, "current_subtotal_price": "1", "line_items": [{"tax_lines": [{"price": "461168601842738"}, {"price": "461168601842738"}]}]}`, "beyond range"},
		{"customer with a non-numeric id is malformed", []parser{orderPaid, cancelled}, `{"id": 1, "current_subtotal_price": "1", "customer": {"id": "abc"}}`, "customer id"},
		{"string where a name belongs is malformed", []parser{orderPaid}, `{"id": 1, "current_subtotal_price": "1", "name": 1001}`, "name"},
		{"refund without an id is malformed", []parser{refund}, `{"order_id": 2}`, "refund id missing"},
		{"refund without an order id is malformed", []parser{refund}, `{"id": 1}`, "order_id missing"},
		{"bad refund line subtotal names its place", []parser{refund}, `{"id": 1, "order_id": 2, "refund_line_items": [{"subtotal": true}]}`, "refund_line_items[0].subtotal"},
		{"customer without an id is malformed", []parser{customer}, `{"email": "bob@biller.com"}`, "customer id missing"},
	}
	for _, tt := range tests {
		for _, p := range tt.parsers {
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				err := p.parse([]byte(tt.body))
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("err = %q, want it to mention %q", err, tt.mention)
				}
			})
		}
	}
}

func FuzzParseOrderPaid(f *testing.F) {
	f.Add(fixture(f, "orders_paid.json"))
	f.Add(fixture(f, "customers_create.json"))
	f.Add([]byte(`{"id": "gid://shopify/Order/1", "current_subtotal_price_set": {"shop_money": {"amount": 1e-2}}}`))
	for _, topic := range []string{TopicOrdersPaid, TopicOrdersCancelled} {
		body, err := SamplePayload(topic, SampleOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		paid, err := ParseOrderPaid(body)
		checkParsed(t, err, paid.OrderID)
		if err == nil && paid.Customer != nil {
			checkID(t, paid.Customer.PlatformID)
		}
		cancelled, err := ParseOrderCancelled(body)
		checkParsed(t, err, cancelled.OrderID)
	})
}

func FuzzParseRefund(f *testing.F) {
	f.Add(fixture(f, "refunds_create.json"))
	f.Add([]byte(`{"id": 1, "order_id": 2, "order_adjustments": [{"kind": "shipping_refund", "amount": "-8.00"}]}`))
	f.Add([]byte(`{"id": 1, "order_id": 2, "refund_shipping_lines": [{"subtotal_amount_set": {"shop_money": {"amount": 5}}}]}`))
	body, err := SamplePayload(TopicRefundsCreate, SampleOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRefund(body)
		checkParsed(t, err, r.OrderID)
		if err == nil {
			checkID(t, r.RefundID)
		}
	})
}

// checkParsed states what every parse result promises: either an error
// wrapping ErrMalformed, or an event with a canonical id.
func checkParsed(t *testing.T, err error, id string) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	checkID(t, id)
}

func checkID(t *testing.T, id string) {
	t.Helper()
	if id == "" || id[0] == '0' || strings.Trim(id, "0123456789") != "" {
		t.Fatalf("id %q is not canonical decimal digits", id)
	}
}

// assertEvent compares events field by field, with times compared as
// instants so that a location does not make equal times differ.
func assertEvent[E any](t *testing.T, got, want E) {
	t.Helper()
	g, w := reflect.ValueOf(&got).Elem(), reflect.ValueOf(&want).Elem()
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if gt, ok := gf.(time.Time); ok {
			if !gt.Equal(wf.(time.Time)) {
				t.Errorf("%s = %v, want %v", name, gt, wf)
			}
			continue
		}
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s = %s, want %s", name, show(gf), show(wf))
		}
	}
}

func show(v any) string {
	if r, ok := v.(*app.CustomerRef); ok && r != nil {
		return fmt.Sprintf("&%+v", *r)
	}
	return fmt.Sprintf("%v", v)
}
