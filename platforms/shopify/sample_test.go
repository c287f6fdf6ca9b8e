package shopify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

func TestSamplePayloadRoundTripsThroughTheParsers(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	chosen := SampleOptions{
		OrderID:    "820982911946154508",
		CustomerID: "115310627314723954",
		RefundID:   "890088186047892319",
		Email:      "zofia.zolkiewska@example.pl",
		Amount:     app.MustAmount("414.95"),
		Currency:   "pln",
		At:         at,
	}
	customer := &app.CustomerRef{PlatformID: chosen.CustomerID, Email: chosen.Email,
		FirstName: "Ada", LastName: "Lovelace", Locale: "en"}

	t.Run("orders/paid carries the order, its customer and its amount", func(t *testing.T) {
		got, err := ParseOrderPaid(mustSample(t, TopicOrdersPaid, chosen))
		if err != nil {
			t.Fatal(err)
		}
		assertEvent(t, got, app.OrderPaid{OrderID: chosen.OrderID, Name: "#5509", Customer: customer,
			Currency: "PLN", Subtotal: chosen.Amount, PaidAt: at})
	})
	t.Run("orders/cancelled carries the order, its customer and when", func(t *testing.T) {
		got, err := ParseOrderCancelled(mustSample(t, TopicOrdersCancelled, chosen))
		if err != nil {
			t.Fatal(err)
		}
		assertEvent(t, got, app.OrderCancelled{OrderID: chosen.OrderID, Customer: customer, CancelledAt: at})
	})
	t.Run("refunds/create gives back the whole amount as lines", func(t *testing.T) {
		got, err := ParseRefund(mustSample(t, TopicRefundsCreate, chosen))
		if err != nil {
			t.Fatal(err)
		}
		assertEvent(t, got, app.OrderRefunded{OrderID: chosen.OrderID, RefundID: chosen.RefundID,
			Lines: chosen.Amount, RefundedAt: at})
	})
	t.Run("customers/create carries the customer", func(t *testing.T) {
		got, err := ParseCustomerCreated(mustSample(t, TopicCustomersCreate, chosen))
		if err != nil {
			t.Fatal(err)
		}
		want := *customer
		want.Locale = "" // a customer resource has no order locale
		assertEvent(t, got, app.CustomerCreated{Customer: want, CreatedAt: at})
	})
}

func TestSamplePayloadDefaults(t *testing.T) {
	before := time.Now().Add(-time.Second)
	paid, err := ParseOrderPaid(mustSample(t, TopicOrdersPaid, SampleOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"amount defaults to 120.00", paid.Subtotal == app.MustAmount("120.00")},
		{"currency defaults to USD", paid.Currency == "USD"},
		{"order id has 18 digits, beyond 2^53 (16 digits)", len(paid.OrderID) == 18 && paid.OrderID[0] != '0'},
		{"customer id is an 18-digit id", paid.Customer != nil && len(paid.Customer.PlatformID) == 18},
		{"email is derived from the customer id", paid.Customer != nil && paid.Customer.Email == "shopper."+paid.Customer.PlatformID+"@example.com"},
		{"time defaults to now", !paid.PaidAt.Before(before) && !paid.PaidAt.After(time.Now())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("got %+v", paid)
			}
		})
	}

	other, err := ParseOrderPaid(mustSample(t, TopicOrdersPaid, SampleOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("each sample gets fresh ids so demos do not collide", func(t *testing.T) {
		if other.OrderID == paid.OrderID {
			t.Errorf("two samples share order id %s", paid.OrderID)
		}
	})
}

func TestSamplePayloadLineItemsAddUpToTheAmount(t *testing.T) {
	tests := []struct {
		name   string
		amount string
		lines  int
	}{
		{"a round amount splits into two lines", "120.00", 2},
		{"an odd cent goes to the second line", "0.03", 2},
		{"sub-cent precision is kept", "10.0005", 2},
		{"one cent cannot split", "0.01", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mustSample(t, TopicOrdersPaid, SampleOptions{Amount: app.MustAmount(tt.amount)})
			var order struct {
				LineItems []struct {
					PriceSet struct {
						ShopMoney struct {
							Amount string `json:"amount"`
						} `json:"shop_money"`
					} `json:"price_set"`
				} `json:"line_items"`
			}
			if err := json.Unmarshal(body, &order); err != nil {
				t.Fatal(err)
			}
			if len(order.LineItems) != tt.lines {
				t.Fatalf("%d line items, want %d", len(order.LineItems), tt.lines)
			}
			var sum app.Amount
			for _, l := range order.LineItems {
				sum += app.MustAmount(l.PriceSet.ShopMoney.Amount)
			}
			if sum != app.MustAmount(tt.amount) {
				t.Errorf("line items add up to %s, want %s", sum, tt.amount)
			}
		})
	}
}

func TestSamplePayloadKeepsShopifysShape(t *testing.T) {
	body := mustSample(t, TopicOrdersPaid, SampleOptions{OrderID: "820982911946154508"})
	// Ids go out as JSON numbers, as Shopify's do, not strings.
	if !bytes.Contains(body, []byte(`"id": 820982911946154508`)) {
		t.Errorf("order id is not a bare JSON number:\n%s", body)
	}
	for _, key := range []string{`"admin_graphql_api_id"`, `"presentment_money"`, `"shop_money"`,
		`"customer_locale"`, `"line_items"`, `"shipping_lines"`, `"customer"`} {
		if !bytes.Contains(body, []byte(key)) {
			t.Errorf("sample lacks %s", key)
		}
	}
}

func TestSamplePayloadRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		o     SampleOptions
	}{
		{"unknown topic", TopicAppUninstalled, SampleOptions{}},
		{"non-numeric order id", TopicOrdersPaid, SampleOptions{OrderID: "ORDER-1"}},
		{"order id with a leading zero", TopicOrdersPaid, SampleOptions{OrderID: "0123"}},
		{"non-numeric customer id", TopicCustomersCreate, SampleOptions{CustomerID: "gid://shopify/Customer/1"}},
		{"non-numeric refund id", TopicRefundsCreate, SampleOptions{RefundID: "1e5"}},
		{"negative amount", TopicOrdersPaid, SampleOptions{Amount: -1}},
		{"currency that is not a code", TopicOrdersPaid, SampleOptions{Currency: "dollars"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if body, err := SamplePayload(tt.topic, tt.o); err == nil {
				t.Errorf("SamplePayload succeeded:\n%.200s", body)
			} else if !strings.HasPrefix(err.Error(), "shopify sample: ") {
				t.Errorf("err = %q, want it to say where it came from", err)
			}
		})
	}
}

func mustSample(t *testing.T, topic string, o SampleOptions) []byte {
	t.Helper()
	body, err := SamplePayload(topic, o)
	if err != nil {
		t.Fatalf("SamplePayload(%s): %v", topic, err)
	}
	return body
}
