package woocommerce

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"loyalty/app"
)

// topKeys lists an object's keys in the order they are written.
func topKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestSampleOrderIsShapedLikeWhatWooCommerceSends(t *testing.T) {
	fixtureBody := fixture(t, "order_created_body_as_sent.json")
	body := SampleOrder(SampleOptions{ID: 727, Modified: time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC)})

	if got, want := topKeys(t, body), topKeys(t, fixtureBody); !slices.Equal(got, want) {
		t.Errorf("fields\n got %v\nwant %v", got, want)
	}
	var compacted bytes.Buffer
	_ = json.Compact(&compacted, body)
	if !bytes.Equal(compacted.Bytes(), body) {
		t.Error("the sample is not compact")
	}
	if !bytes.Contains(body, []byte(`"href":"https:\/\/example.com\/wp-json\/wc\/v3\/orders\/727"`)) {
		t.Errorf("links are not written with \\/: %s", body)
	}
	// The documentation order's figures and dates come out as in the fixture.
	got, want := mustParseOrder(t, body), mustParseOrder(t, fixtureBody)
	assertEqual(t, got, want)
}

func TestSampleOrderParsesIntoItsOptions(t *testing.T) {
	o := SampleOptions{
		ID: 5001, CustomerID: 42, Status: "completed", Currency: "PLN",
		Total: app.MustAmount("123.45"), Tax: app.MustAmount("23.08"),
		Shipping: app.MustAmount("15.00"), ShippingTax: app.MustAmount("3.45"),
		Email: "ola@example.com", FirstName: "Ola", LastName: "Żółć",
		Refunds: []SampleRefund{
			{ID: 5002, Amount: app.MustAmount("10.00"), Reason: "broken"},
			{ID: 5003, Amount: app.MustAmount("0.45")},
		},
		Modified: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
		Paid:     time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	got := mustParseOrder(t, SampleOrder(o))
	want := Order{
		ID: 5001, Number: "5001", Status: "completed", Currency: "PLN", CustomerID: 42,
		Billing: Contact{Email: "ola@example.com", FirstName: "Ola", LastName: "Żółć"},
		Total:   o.Total, TotalTax: o.Tax, ShippingTotal: o.Shipping, ShippingTax: o.ShippingTax,
		DatePaid: o.Paid, DateModified: o.Modified,
		// Newest first, as WooCommerce lists them.
		Refunds: []Refund{
			{ID: 5003, Total: app.MustAmount("-0.45")},
			{ID: 5002, Total: app.MustAmount("-10.00"), Reason: "broken"},
		},
	}
	assertEqual(t, got, want)
}

func TestSampleOrderDefaults(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Second)
	o := mustParseOrder(t, SampleOrder(SampleOptions{}))
	switch {
	case o.ID <= 0, o.Status != "processing", o.CustomerID != 0, o.Currency != "USD":
		t.Errorf("defaults = %+v", o)
	case o.Total != app.MustAmount("29.35") || o.TotalTax != app.MustAmount("1.35") || o.ShippingTotal != app.MustAmount("10.00"):
		t.Errorf("money = %+v, want the documentation order's", o)
	case o.DateModified.Before(before) || !o.DatePaid.Equal(o.DateModified):
		t.Errorf("dates = %v, %v", o.DateModified, o.DatePaid)
	}
	if pending := mustParseOrder(t, SampleOrder(SampleOptions{Status: "pending"})); !pending.DatePaid.IsZero() {
		t.Errorf("a pending sample has date_paid %v", pending.DatePaid)
	}
}

func TestSampleOrderIsSignedLikeADelivery(t *testing.T) {
	body := SampleOrder(SampleOptions{ID: 1, FirstName: "Zoë", LastName: "</script>&"})
	if err := Verify(body, Sign(body, testSecret), testSecret); err != nil {
		t.Fatal(err)
	}
	// wp_json_encode leaves <, > and & alone (no JSON_HEX_* flags).
	if !bytes.Contains(body, []byte(`"last_name":"<\/script>&"`)) || !bytes.Contains(body, []byte(`Zo\u00eb`)) {
		t.Errorf("not encoded like wp_json_encode: %s", body)
	}
}

func TestWPJSONEscapesBeyondTheBMPAsSurrogatePairs(t *testing.T) {
	got := string(wpJSON(map[string]string{"a": "😀/é"}))
	if want := `{"a":"\ud83d\ude00\/\u00e9"}`; got != want {
		t.Errorf("wpJSON = %s, want %s", got, want)
	}
}
