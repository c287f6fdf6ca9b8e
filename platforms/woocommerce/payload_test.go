package woocommerce

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

func assertEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func mustParseOrder(t testing.TB, body []byte) Order {
	t.Helper()
	o, err := ParseOrder(body)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// order727 is the documentation's order 727, a guest's processing order.
var order727 = Order{
	ID: 727, Number: "727", Status: "processing", Currency: "USD", CustomerID: 0,
	Billing:       Contact{Email: "john.doe@example.com", FirstName: "John", LastName: "Doe"},
	Total:         app.MustAmount("29.35"),
	TotalTax:      app.MustAmount("1.35"),
	ShippingTotal: app.MustAmount("10.00"),
	ShippingTax:   0,
	DiscountTotal: 0,
	DatePaid:      time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC),
	DateModified:  time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC),
}

func TestParseOrderReadsTheDocumentationsOrder727(t *testing.T) {
	for _, name := range []string{"order_v3_retrieve_example.json", "order_created_body_as_sent.json"} {
		t.Run(name, func(t *testing.T) {
			assertEqual(t, mustParseOrder(t, fixture(t, name)), order727)
		})
	}
}

func TestParseOrderReadsOrder723WithRefundsUnderTheLegacyKey(t *testing.T) {
	got := mustParseOrder(t, fixture(t, "order_v3_with_refunds_from_list_example.json"))
	want := Order{
		ID: 723, Number: "723", Status: "completed", Currency: "USD", CustomerID: 26,
		// "Jo\u00e3o" in the file.
		Billing:       Contact{Email: "joao.silva@example.com", FirstName: "João", LastName: "Silva"},
		Total:         app.MustAmount("39.00"),
		ShippingTotal: app.MustAmount("10.00"),
		// date_paid is null although the order is completed.
		DateModified: time.Date(2017, 3, 21, 19, 54, 51, 0, time.UTC),
		Refunds: []Refund{
			{ID: 726, Total: app.MustAmount("-10.00")},
			{ID: 724, Total: app.MustAmount("-9.00")},
		},
	}
	assertEqual(t, got, want)
}

func TestParseOrderReadsTheRefundReasonUnderEitherKey(t *testing.T) {
	body := []byte(`{"id":9,"status":"completed","total":"50.00","refunds":[` +
		`{"id":12,"reason":"Damaged in transit","total":"-5.00"},` +
		`{"id":11,"refund":"Wrong size","total":"-6.00"},` +
		`{"id":10,"reason":"","refund":"legacy only","total":"-7.00"}]}`)
	got := mustParseOrder(t, body).Refunds
	want := []Refund{
		{ID: 12, Total: app.MustAmount("-5.00"), Reason: "Damaged in transit"},
		{ID: 11, Total: app.MustAmount("-6.00"), Reason: "Wrong size"},
		{ID: 10, Total: app.MustAmount("-7.00"), Reason: "legacy only"},
	}
	assertEqual(t, got, want)
}

func TestParseOrderToleratesWhatPHPWrites(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(Order) bool
	}{
		{"an empty billing address written as []", `{"id":1,"status":"pending","billing":[]}`,
			func(o Order) bool { return o.Billing == Contact{} }},
		{"prices_include_tax as \"1\"", `{"id":1,"status":"pending","prices_include_tax":"1"}`,
			func(o Order) bool { return o.PricesIncludeTax }},
		{"ids as strings", `{"id":"31","status":"pending","customer_id":"4"}`,
			func(o Order) bool { return o.ID == 31 && o.CustomerID == 4 }},
		{"money as JSON numbers", `{"id":1,"status":"pending","total":12.5,"total_tax":0}`,
			func(o Order) bool { return o.Total == app.MustAmount("12.50") }},
		{"a zero-decimal currency", `{"id":1,"status":"pending","currency":"jpy","total":"1200"}`,
			func(o Order) bool { return o.Total == app.MustAmount("1200") && o.Currency == "JPY" }},
		{"the internal wc- status prefix", `{"id":1,"status":"wc-processing"}`,
			func(o Order) bool { return o.Status == "processing" }},
		{"null dates", `{"id":1,"status":"pending","date_paid_gmt":null,"date_modified_gmt":null}`,
			func(o Order) bool { return o.DatePaid.IsZero() && o.DateModified.IsZero() }},
		{"a date with a zone", `{"id":1,"status":"pending","date_modified_gmt":"2017-03-22T16:28:08-03:00"}`,
			func(o Order) bool { return o.DateModified.Equal(time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParseOrder(t, []byte(tt.body))
			if !tt.check(o) {
				t.Errorf("parsed as %+v", o)
			}
		})
	}
}

func TestParseOrderRejectsWhatItCannotUse(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", `webhook_id=142`},
		{"an array", `[]`},
		{"no id", `{"status":"processing"}`},
		{"id zero", `{"id":0,"status":"processing"}`},
		{"a negative id", `{"id":-3,"status":"processing"}`},
		{"a fractional id", `{"id":3.5,"status":"processing"}`},
		{"an id beyond int64", `{"id":92233720368547758070,"status":"processing"}`},
		{"no status (a deleted event's body)", `{"id":1}`},
		{"money that is not a number", `{"id":1,"status":"processing","total":"twelve"}`},
		{"money with five decimals", `{"id":1,"status":"processing","total":"1.00001"}`},
		{"money in exponent form", `{"id":1,"status":"processing","total":1e3}`},
		{"money beyond range", `{"id":1,"status":"processing","total":"99999999999999999"}`},
		{"a refund without an id", `{"id":1,"status":"processing","refunds":[{"total":"-1.00"}]}`},
		{"refunds that are not a list", `{"id":1,"status":"processing","refunds":{"id":2}}`},
		{"a customer id that is not a number", `{"id":1,"status":"processing","customer_id":"guest"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrder([]byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEventsOfOrder727(t *testing.T) {
	ev := order727.Events(nil)
	want := &app.OrderPaid{
		OrderID: "727", Name: "#727", Customer: nil, Currency: "USD",
		Subtotal:      app.MustAmount("19.35"), // 29.35 − 10.00 shipping
		SubtotalTax:   app.MustAmount("1.35"),
		Shipping:      app.MustAmount("10.00"),
		ShippingTax:   0,
		TaxesIncluded: true,
		PaidAt:        time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC),
	}
	assertEqual(t, ev.Paid, want)
	if ev.Refunds != nil || ev.Cancelled != nil {
		t.Errorf("events = %+v, want only Paid", ev)
	}
	// The two line items: 6.00 + 12.00, before tax and shipping.
	if got := app.DefaultProgram(1).EligibleOnPaid(*ev.Paid); got != app.MustAmount("18.00") {
		t.Errorf("eligible = %s, want the line items' 18.00", got)
	}
}

func TestStateIsVersionedByTheModificationTime(t *testing.T) {
	st := order727.State(nil)
	ev := order727.Events(nil)
	want := app.OrderState{OrderID: "727", Version: order727.DateModified, Paid: ev.Paid, Refunds: ev.Refunds, Cancelled: ev.Cancelled}
	assertEqual(t, st, want)
	if st.Version.IsZero() {
		t.Fatal("the state of order 727 has no version: an older state could undo it")
	}
}

func TestEventsOfOrder723SplitItsRefunds(t *testing.T) {
	ev := mustParseOrder(t, fixture(t, "order_v3_with_refunds_from_list_example.json")).Events(nil)
	joao := &app.CustomerRef{PlatformID: "26", Email: "joao.silva@example.com", FirstName: "João", LastName: "Silva"}
	wantPaid := &app.OrderPaid{
		OrderID: "723", Name: "#723", Customer: joao, Currency: "USD",
		Subtotal: app.MustAmount("29.00"), Shipping: app.MustAmount("10.00"), TaxesIncluded: true,
		// date_paid is null: the state's own date stands in.
		PaidAt: time.Date(2017, 3, 21, 19, 54, 51, 0, time.UTC),
	}
	assertEqual(t, ev.Paid, wantPaid)
	// In refund id order; 9.00 and then 10.00 of 39.00, split over goods
	// (29.00) and shipping (10.00) and rounded down cumulatively.
	wantRefunds := []app.OrderRefunded{
		{OrderID: "723", RefundID: "724", Customer: joao, Lines: 66923, Shipping: 23076},
		{OrderID: "723", RefundID: "726", Customer: joao, Lines: 141282 - 66923, Shipping: 48717 - 23076},
	}
	assertEqual(t, ev.Refunds, wantRefunds)
	if ev.Cancelled != nil {
		t.Errorf("a partly refunded completed order is not cancelled: %+v", ev.Cancelled)
	}
}

func TestEventsFollowAnOrderThroughItsStatuses(t *testing.T) {
	base := SampleOptions{ID: 4100, CustomerID: 7, Total: app.MustAmount("50.00"), Tax: app.MustAmount("5.00"),
		Shipping: app.MustAmount("5.00"), Modified: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	steps := []struct {
		status    string
		refunds   []SampleRefund
		paid      bool
		refundIDs []string
		cancelled bool
	}{
		{status: "pending"},
		{status: "on-hold"},
		{status: "processing", paid: true},
		{status: "completed", paid: true},
		{status: "completed", refunds: []SampleRefund{{ID: 4101, Amount: app.MustAmount("20.00")}}, paid: true, refundIDs: []string{"4101"}},
		{status: "refunded", refunds: []SampleRefund{{ID: 4101, Amount: app.MustAmount("20.00")}, {ID: 4102, Amount: app.MustAmount("30.00")}},
			refundIDs: []string{"4101", "4102"}, cancelled: true},
	}
	var firstRefund *app.OrderRefunded
	for i, step := range steps {
		t.Run(fmt.Sprintf("%d %s", i, step.status), func(t *testing.T) {
			o := base
			o.Status, o.Refunds = step.status, step.refunds
			o.Modified = o.Modified.Add(time.Duration(i) * time.Minute)
			ev := mustParseOrder(t, SampleOrder(o)).Events(nil)
			if (ev.Paid != nil) != step.paid {
				t.Errorf("Paid = %+v, want paid %v", ev.Paid, step.paid)
			}
			var ids []string
			for _, r := range ev.Refunds {
				ids = append(ids, r.RefundID)
			}
			assertEqual(t, ids, step.refundIDs)
			if (ev.Cancelled != nil) != step.cancelled {
				t.Errorf("Cancelled = %+v, want cancelled %v", ev.Cancelled, step.cancelled)
			}
			// A refund's figures do not change as later refunds come.
			if len(ev.Refunds) > 0 {
				if firstRefund == nil {
					firstRefund = &ev.Refunds[0]
				} else {
					assertEqual(t, ev.Refunds[0], *firstRefund)
				}
			}
		})
	}
}

func TestEventsCancelOnlyTheEndingStatuses(t *testing.T) {
	for _, status := range []string{"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash", "checkout-draft", "shipped"} {
		ending := status == "cancelled" || status == "refunded" || status == "failed" || status == "trash"
		// A failed order counts as ended only once it had been paid: a
		// failed first payment can still be retried (see below).
		ev := Order{ID: 1, Status: status, DateModified: time.Unix(1e9, 0).UTC(), DatePaid: time.Unix(1e9-60, 0).UTC()}.Events(nil)
		if (ev.Cancelled != nil) != ending {
			t.Errorf("%s: Cancelled = %+v", status, ev.Cancelled)
		}
		if ev.Cancelled != nil && (ev.Cancelled.OrderID != "1" || !ev.Cancelled.CancelledAt.Equal(time.Unix(1e9, 0))) {
			t.Errorf("%s: Cancelled = %+v", status, ev.Cancelled)
		}
	}
}

func TestEventsAFailedFirstPaymentDoesNotEndTheOrder(t *testing.T) {
	ev := Order{ID: 1, Status: "failed", DateModified: time.Unix(1e9, 0).UTC()}.Events(nil)
	if ev.Cancelled != nil || ev.Paid != nil {
		t.Fatalf("events of an unpaid failed order = %+v; want none, so that a retried payment still earns", ev)
	}
}

func TestEventsEarnInTheStatusesTheShopNames(t *testing.T) {
	o := Order{ID: 1, Status: "processing", Total: app.MustAmount("10.00")}
	tests := []struct {
		name     string
		statuses []string
		paid     bool
	}{
		{"processing earns by default", nil, true},
		{"an empty list is the default", []string{}, true},
		{"only completed", []string{"completed"}, false},
		{"a status given with its wc- prefix", []string{"wc-processing"}, true},
		{"a plugin's status", []string{"shipped"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := o.Events(tt.statuses).Paid != nil; got != tt.paid {
				t.Errorf("paid = %v, want %v", got, tt.paid)
			}
		})
	}
	shipped := Order{ID: 1, Status: "shipped"}
	if shipped.Events([]string{"completed", "shipped"}).Paid == nil {
		t.Error("a plugin's status named by the shop does not earn")
	}
}

func TestEventsOfAGuestNameNobody(t *testing.T) {
	body := SampleOrder(SampleOptions{ID: 300, CustomerID: 0, Status: "refunded",
		Refunds: []SampleRefund{{ID: 301, Amount: app.MustAmount("29.35")}}})
	ev := mustParseOrder(t, body).Events([]string{"refunded"})
	if ev.Paid == nil || ev.Paid.Customer != nil {
		t.Errorf("Paid = %+v, want a paid event without customer", ev.Paid)
	}
	if len(ev.Refunds) != 1 || ev.Refunds[0].Customer != nil {
		t.Errorf("Refunds = %+v, want one without customer", ev.Refunds)
	}
	if ev.Cancelled == nil || ev.Cancelled.Customer != nil {
		t.Errorf("Cancelled = %+v, want one without customer", ev.Cancelled)
	}
}

func TestEventsKeepNonLatinNamesExactly(t *testing.T) {
	names := []struct{ first, last string }{
		{"João", "Conceição"},
		{"Юлия", "Соколова"},
		{"山田", "太郎"},
		{"محمد", "الفارسي"},
		{"Zoë 😀", "O'Brien & Søn </b>"},
	}
	for _, n := range names {
		t.Run(n.first, func(t *testing.T) {
			body := SampleOrder(SampleOptions{ID: 9, CustomerID: 3, FirstName: n.first, LastName: n.last})
			if strings.ContainsFunc(string(body), func(r rune) bool { return r > 127 }) {
				t.Fatal("the sample holds raw non-ASCII; WooCommerce writes \\uXXXX")
			}
			paid := mustParseOrder(t, body).Events(nil).Paid
			if paid.Customer.FirstName != n.first || paid.Customer.LastName != n.last {
				t.Errorf("customer = %q %q, want %q %q", paid.Customer.FirstName, paid.Customer.LastName, n.first, n.last)
			}
		})
	}
}

// taxedOrder has tax on both goods and shipping: 80.00 goods + 8.00 tax,
// 20.00 shipping + 2.00 tax.
var taxedOrder = Order{ID: 50, Status: "completed", Currency: "EUR",
	Total: app.MustAmount("110.00"), TotalTax: app.MustAmount("10.00"),
	ShippingTotal: app.MustAmount("20.00"), ShippingTax: app.MustAmount("2.00")}

var programs = []struct {
	name          string
	shipping, tax bool
	eligible      string // of taxedOrder
}{
	{"goods only (the default)", false, false, "80.00"},
	{"goods and shipping", true, false, "100.00"},
	{"goods with their tax", false, true, "88.00"},
	{"everything", true, true, "110.00"},
}

func program(shipping, tax bool) app.Program {
	p := app.DefaultProgram(1)
	p.EarnOnShipping, p.EarnOnTax = shipping, tax
	return p
}

func TestPaidEarnsWhatTheProgramRulesSay(t *testing.T) {
	paid := *taxedOrder.Events(nil).Paid
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			if got := program(p.shipping, p.tax).EligibleOnPaid(paid); got != app.MustAmount(p.eligible) {
				t.Errorf("eligible = %s, want %s", got, p.eligible)
			}
		})
	}
}

// ledger replays what app.Service does with a paid order and its refunds:
// points for the eligible amount, and after each refund the proportion of
// the eligible amount refunded so far.
func reversedAfter(prog app.Program, paid app.OrderPaid, refunds []app.OrderRefunded) (earned, reversed int64) {
	eligible := prog.EligibleOnPaid(paid)
	earned = prog.PointsForOrder(eligible)
	var refunded app.Amount
	for _, r := range refunds {
		refunded += prog.EligibleOnRefund(r, paid.TaxesIncluded)
	}
	return earned, app.Proportion(earned, refunded, eligible)
}

func TestRefundsAddingUpToTheTotalTakeBackEverything(t *testing.T) {
	splits := map[string][]string{
		"one full refund":         {"110.00"},
		"two halves":              {"55.00", "55.00"},
		"uneven thirds":           {"36.67", "36.67", "36.66"},
		"cents first":             {"0.01", "0.01", "109.98"},
		"many small":              strings.Split(strings.Repeat("1.00,", 109)+"1.00", ","),
		"a refund of odd amounts": {"33.33", "44.44", "32.23"},
	}
	for splitName, amounts := range splits {
		for _, p := range programs {
			t.Run(splitName+", "+p.name, func(t *testing.T) {
				o := taxedOrder
				for i, a := range amounts {
					o.Refunds = append(o.Refunds, Refund{ID: int64(100 + i), Total: -app.MustAmount(a)})
				}
				ev := o.Events(nil)
				prog := program(p.shipping, p.tax)
				earned, reversed := reversedAfter(prog, *ev.Paid, ev.Refunds)
				if earned == 0 || reversed != earned {
					t.Errorf("earned %d, reversed %d: want all of it back", earned, reversed)
				}
				// Every part comes back to the cent, not only the points.
				var lines, linesTax, shipping, shippingTax app.Amount
				for _, r := range ev.Refunds {
					lines, linesTax = lines+r.Lines, linesTax+r.LinesTax
					shipping, shippingTax = shipping+r.Shipping, shippingTax+r.ShippingTax
				}
				got := []app.Amount{lines, linesTax, shipping, shippingTax}
				want := []app.Amount{ev.Paid.Subtotal, ev.Paid.SubtotalTax, ev.Paid.Shipping, ev.Paid.ShippingTax}
				assertEqual(t, got, want)
				// Before the last refund, something is still held.
				if _, partly := reversedAfter(prog, *ev.Paid, ev.Refunds[:len(ev.Refunds)-1]); len(ev.Refunds) > 1 && partly >= earned {
					t.Errorf("all points reversed before the last refund")
				}
			})
		}
	}
}

func TestRefundSplittingAddsUpForRandomOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cents := func(max int64) app.Amount { return app.Amount(rng.Int64N(max+1) * 100) }
	for i := range 2000 {
		goodsTax, shipping, shippingTax := cents(5_000), cents(3_000), cents(600)
		o := Order{ID: 1, Status: "completed", ShippingTotal: shipping, ShippingTax: shippingTax}
		o.Total = cents(100_000) + goodsTax + shipping + shippingTax + 1
		o.TotalTax = goodsTax + shippingTax
		left := o.Total
		for id := int64(10); left > 0; id++ {
			r := min(left, app.Amount(rng.Int64N(int64(o.Total)))+1)
			o.Refunds = append(o.Refunds, Refund{ID: id, Total: -r})
			left -= r
		}
		rng.Shuffle(len(o.Refunds), func(a, b int) { o.Refunds[a], o.Refunds[b] = o.Refunds[b], o.Refunds[a] })
		ev := o.Events(nil)
		var sum app.Amount
		for _, r := range ev.Refunds {
			if r.Lines < 0 || r.Shipping < 0 || r.LinesTax < 0 || r.ShippingTax < 0 {
				t.Fatalf("order %d: negative part in %+v", i, r)
			}
			sum += r.Lines + r.Shipping
		}
		if sum != o.Total {
			t.Fatalf("order %d: refunded parts add up to %s, total %s", i, sum, o.Total)
		}
		for _, p := range programs {
			if earned, reversed := reversedAfter(program(p.shipping, p.tax), *ev.Paid, ev.Refunds); reversed != earned {
				t.Fatalf("order %d, %s: earned %d, reversed %d", i, p.name, earned, reversed)
			}
		}
	}
}

func TestRefundsOfAFreeOrderSplitNothing(t *testing.T) {
	o := Order{ID: 1, Status: "completed", Refunds: []Refund{{ID: 2, Total: app.MustAmount("-1.00")}}}
	ev := o.Events(nil)
	assertEqual(t, ev.Refunds, []app.OrderRefunded{{OrderID: "1", RefundID: "2"}})
}

func TestParseDeleted(t *testing.T) {
	for body, want := range map[string]string{`{"id":1}`: "1", `{"id":"727"}`: "727", `{"id": 723, "extra": true}`: "723"} {
		got, err := ParseDeleted([]byte(body))
		if err != nil || got != (app.OrderCancelled{OrderID: want}) {
			t.Errorf("ParseDeleted(%s) = %+v, %v", body, got, err)
		}
	}
	for _, body := range []string{``, `{}`, `{"id":0}`, `{"id":"x"}`, `[1]`} {
		if _, err := ParseDeleted([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseDeleted(%s) err = %v, want ErrMalformed", body, err)
		}
	}
}

func TestParseCustomerReadsTheDocumentationsCustomer(t *testing.T) {
	got, err := ParseCustomer(fixture(t, "customer_v3_retrieve_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.CustomerCreated{
		Customer:  app.CustomerRef{PlatformID: "25", Email: "john.doe@example.com", FirstName: "John", LastName: "Doe"},
		CreatedAt: time.Date(2017, 3, 21, 19, 9, 28, 0, time.UTC),
	}
	assertEqual(t, got, want)
}

func TestParseCustomer(t *testing.T) {
	got, err := ParseCustomer([]byte(`{"id":"8","email":"","first_name":"Ana","billing":{"email":" ana@example.com "}}`))
	if err != nil || got.Customer != (app.CustomerRef{PlatformID: "8", Email: "ana@example.com", FirstName: "Ana"}) {
		t.Errorf("the billing email stands in for a missing one: %+v, %v", got, err)
	}
	for _, body := range []string{`{"email":"a@example.com"}`, `{"id":-1}`, `nope`} {
		if _, err := ParseCustomer([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCustomer(%s) err = %v, want ErrMalformed", body, err)
		}
	}
}

func FuzzParseOrder(f *testing.F) {
	for _, name := range []string{"order_v3_retrieve_example.json", "order_created_body_as_sent.json",
		"order_v3_with_refunds_from_list_example.json", "customer_v3_retrieve_example.json", "order_refund_v3_retrieve_example.json"} {
		f.Add(fixture(f, name))
	}
	f.Add(SampleOrder(SampleOptions{ID: 1, CustomerID: 2, Status: "refunded", Refunds: []SampleRefund{{ID: 3, Amount: 100}}}))
	f.Add([]byte(`{"id":"1","status":"wc-completed","total":1e2,"billing":[],"refunds":[{"id":2,"total":"-99999999999999.9999"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOrder(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if o.ID <= 0 || o.Status == "" {
			t.Fatalf("parsed an order without id or status: %+v", o)
		}
		ev := o.Events(nil)
		var refunded, lines, shipping app.Amount
		for _, r := range o.Refunds {
			refunded = min(refunded+abs(r.Total), maxAmount)
		}
		for _, r := range ev.Refunds {
			lines, shipping = lines+r.Lines, shipping+r.Shipping
		}
		p := o.parts()
		if o.Total > 0 && (lines != cumulative(p.goods, refunded, o.Total) || shipping != cumulative(p.shipping, refunded, o.Total)) {
			t.Fatalf("refund parts %s + %s do not add up to the share of %s refunded of %s", lines, shipping, refunded, o.Total)
		}
		if _, _, err := ResourceState(body); err != nil {
			t.Fatalf("ParseOrder accepted what ResourceState refuses: %v", err)
		}
	})
}

func TestEventsCarryTheCouponsAnOrderUsed(t *testing.T) {
	body := SampleOrder(SampleOptions{ID: 5, CustomerID: 7, Status: "processing", Total: app.MustAmount("20.00"), CouponCodes: []string{"LOY-ABCD-EFGH-JKMN"}})
	o, err := ParseOrder(body)
	if err != nil {
		t.Fatal(err)
	}
	ev := o.Events(nil)
	if ev.Paid == nil || len(ev.Paid.DiscountCodes) != 1 || ev.Paid.DiscountCodes[0] != "loy-abcd-efgh-jkmn" {
		t.Fatalf("paid event = %+v; want the coupon as WooCommerce stores it", ev.Paid)
	}
}
