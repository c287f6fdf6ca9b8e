package shopify

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
)

// SampleOptions chooses what a sample payload is about. Every zero field gets
// a default: fresh random 18-digit ids (beyond 2^53, like Shopify's, so
// samples exercise exact id handling), an email derived from the customer
// id, 120.00 USD, and the current time.
type SampleOptions struct {
	OrderID    string
	CustomerID string
	RefundID   string
	Email      string
	// Amount is the order's merchandise subtotal, or the amount a refund
	// gives back; it must not be negative.
	Amount   app.Amount
	Currency string
	// At is when the event happened; samples otherwise carry the time they
	// were made, so pass it for reproducible output.
	At time.Time
}

// Defaults used for an empty SampleOptions.
const (
	SampleAmount   = app.Amount(120 * app.AmountScale)
	SampleCurrency = "USD"
)

// SamplePayload builds a webhook body for topic in the shape Shopify sends:
// 64-bit numeric ids, money as decimal strings with shop and presentment
// *_set twins, and an order's customer, lines and shipping. It knows
// orders/paid, orders/cancelled (an order paid and then cancelled),
// refunds/create (the whole amount back, as one line) and customers/create;
// other topics are an error. Each sample parses with this package's parser
// for its topic into the options it was made from.
func SamplePayload(topic string, o SampleOptions) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var body any
	switch topic {
	case TopicOrdersPaid:
		body = sampleOrder(o, false)
	case TopicOrdersCancelled:
		body = sampleOrder(o, true)
	case TopicRefundsCreate:
		body = sampleRefund(o)
	case TopicCustomersCreate:
		body = sampleCustomer(o, true)
	default:
		return nil, fmt.Errorf("shopify sample: no sample for topic %q", topic)
	}
	return json.MarshalIndent(body, "", "  ")
}

func (o SampleOptions) withDefaults() (SampleOptions, error) {
	for _, id := range []struct {
		name  string
		value *string
	}{{"order id", &o.OrderID}, {"customer id", &o.CustomerID}, {"refund id", &o.RefundID}} {
		if *id.value == "" {
			*id.value = randomID()
			continue
		}
		// The id goes into the JSON as a number, as Shopify's do.
		if !isID(*id.value) {
			return o, fmt.Errorf("shopify sample: %s %q is not a positive decimal id", id.name, *id.value)
		}
	}
	if o.Amount < 0 {
		return o, fmt.Errorf("shopify sample: negative amount %s", o.Amount)
	}
	if o.Amount == 0 {
		o.Amount = SampleAmount
	}
	o.Currency = strings.ToUpper(strings.TrimSpace(o.Currency))
	if o.Currency == "" {
		o.Currency = SampleCurrency
	}
	if len(o.Currency) != 3 || strings.Trim(o.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return o, fmt.Errorf("shopify sample: currency %q is not a three-letter code", o.Currency)
	}
	if o.Email == "" {
		o.Email = "shopper." + o.CustomerID + "@example.com"
	}
	if o.At.IsZero() {
		o.At = time.Now()
	}
	o.At = o.At.Truncate(time.Second)
	return o, nil
}

func isID(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// randomID returns an 18-digit id, above 2^53 like Shopify's.
func randomID() string {
	return fmt.Sprint(100_000_000_000_000_000 + rand.Int64N(800_000_000_000_000_000))
}

// object is a JSON object; the samples use maps because they only ever go
// out as JSON.
type object = map[string]any

func moneySet(a app.Amount, currency string) object {
	m := object{"amount": a.String(), "currency_code": currency}
	return object{"shop_money": m, "presentment_money": m}
}

func gid(kind, id string) string { return "gid://shopify/" + kind + "/" + id }

func timestamp(t time.Time) string { return t.Format(time.RFC3339) }

// sampleLines splits amount into one or two line items; two when it is at
// least two cents, so consumers meet an order with several lines.
func sampleLines(amount app.Amount, currency string) []object {
	const cent = app.AmountScale / 100
	prices := []app.Amount{amount}
	if amount >= 2*cent {
		first := amount / 2 / cent * cent
		prices = []app.Amount{first, amount - first}
	}
	products := []struct{ title, sku string }{
		{"Aviator sunglasses", "SKU2006-001"},
		{"Premium Leather Case", "CASE-LEATHER-PREM"},
	}
	lines := make([]object, len(prices))
	for i, price := range prices {
		id := randomID()
		lines[i] = object{
			"id":                   json.Number(id),
			"admin_graphql_api_id": gid("LineItem", id),
			"name":                 products[i].title,
			"title":                products[i].title,
			"sku":                  products[i].sku,
			"product_id":           json.Number(randomID()),
			"variant_id":           json.Number(randomID()),
			"quantity":             1,
			"current_quantity":     1,
			"fulfillable_quantity": 1,
			"fulfillment_service":  "manual",
			"fulfillment_status":   nil,
			"gift_card":            false,
			"requires_shipping":    true,
			"taxable":              true,
			"price":                price.String(),
			"price_set":            moneySet(price, currency),
			"total_discount":       "0.00",
			"total_discount_set":   moneySet(0, currency),
			"tax_lines":            []object{},
			"discount_allocations": []object{},
			"duties":               []object{},
		}
	}
	return lines
}

func sampleCustomer(o SampleOptions, withAddresses bool) object {
	c := object{
		"id":                   json.Number(o.CustomerID),
		"admin_graphql_api_id": gid("Customer", o.CustomerID),
		"email":                o.Email,
		"first_name":           "Ada",
		"last_name":            "Lovelace",
		"state":                "enabled",
		"verified_email":       true,
		"tax_exempt":           false,
		"tax_exemptions":       []string{},
		"phone":                nil,
		"note":                 nil,
		"currency":             o.Currency,
		"created_at":           timestamp(o.At),
		"updated_at":           timestamp(o.At),
	}
	if withAddresses {
		c["addresses"] = []object{}
	}
	return c
}

func sampleOrder(o SampleOptions, cancelled bool) object {
	zero := moneySet(0, o.Currency)
	subtotal := moneySet(o.Amount, o.Currency)
	order := object{
		"id":                         json.Number(o.OrderID),
		"admin_graphql_api_id":       gid("Order", o.OrderID),
		"name":                       sampleOrderName(o.OrderID),
		"email":                      o.Email,
		"contact_email":              o.Email,
		"created_at":                 timestamp(o.At),
		"updated_at":                 timestamp(o.At),
		"processed_at":               timestamp(o.At),
		"cancelled_at":               nil,
		"cancel_reason":              nil,
		"closed_at":                  nil,
		"currency":                   o.Currency,
		"presentment_currency":       o.Currency,
		"customer_locale":            "en",
		"financial_status":           "paid",
		"fulfillment_status":         nil,
		"taxes_included":             false,
		"tax_exempt":                 false,
		"test":                       true,
		"source_name":                "web",
		"subtotal_price":             o.Amount.String(),
		"subtotal_price_set":         subtotal,
		"current_subtotal_price":     o.Amount.String(),
		"current_subtotal_price_set": subtotal,
		"total_line_items_price":     o.Amount.String(),
		"total_line_items_price_set": subtotal,
		"total_price":                o.Amount.String(),
		"total_price_set":            subtotal,
		"current_total_price":        o.Amount.String(),
		"current_total_price_set":    subtotal,
		"total_tax":                  "0.00",
		"total_tax_set":              zero,
		"current_total_tax":          "0.00",
		"current_total_tax_set":      zero,
		"total_discounts":            "0.00",
		"total_discounts_set":        zero,
		"total_shipping_price_set":   zero,
		"discount_codes":             []object{},
		"tax_lines":                  []object{},
		"line_items":                 sampleLines(o.Amount, o.Currency),
		"shipping_lines": []object{{
			"id":                   json.Number(randomID()),
			"title":                "Standard",
			"code":                 "Standard",
			"source":               "shopify",
			"price":                "0.00",
			"price_set":            zero,
			"discounted_price":     "0.00",
			"discounted_price_set": zero,
			"is_removed":           false,
			"tax_lines":            []object{},
			"discount_allocations": []object{},
		}},
		"customer": sampleCustomer(o, false),
		"refunds":  []object{},
	}
	if cancelled {
		order["cancelled_at"] = timestamp(o.At)
		order["cancel_reason"] = "customer"
		order["financial_status"] = "refunded"
	}
	return order
}

// sampleOrderName is a shop-style order name such as "#1042", derived from
// the id so that the same order always gets the same name.
func sampleOrderName(orderID string) string {
	n, _ := strconv.Atoi(orderID[max(0, len(orderID)-4):])
	return fmt.Sprintf("#%d", 1001+n%9000)
}

func sampleRefund(o SampleOptions) object {
	lineID, transactionID := randomID(), randomID()
	return object{
		"id":                    json.Number(o.RefundID),
		"admin_graphql_api_id":  gid("Refund", o.RefundID),
		"order_id":              json.Number(o.OrderID),
		"created_at":            timestamp(o.At),
		"processed_at":          timestamp(o.At),
		"note":                  "Sample refund",
		"user_id":               nil,
		"restock":               false,
		"return":                nil,
		"duties":                []object{},
		"total_duties_set":      moneySet(0, o.Currency),
		"refund_shipping_lines": []object{},
		"order_adjustments":     []object{},
		"refund_line_items": []object{{
			"id":           json.Number(randomID()),
			"line_item_id": json.Number(lineID),
			"quantity":     1,
			"location_id":  nil,
			"restock_type": "no_restock",
			// Shopify writes these two as JSON numbers, unlike the
			// strings everywhere else.
			"subtotal":      json.Number(o.Amount.String()),
			"total_tax":     json.Number("0.0"),
			"subtotal_set":  moneySet(o.Amount, o.Currency),
			"total_tax_set": moneySet(0, o.Currency),
			"line_item": object{
				"id":                   json.Number(lineID),
				"admin_graphql_api_id": gid("LineItem", lineID),
				"title":                "Aviator sunglasses",
				"name":                 "Aviator sunglasses",
				"quantity":             1,
				"price":                o.Amount.String(),
				"price_set":            moneySet(o.Amount, o.Currency),
				"total_discount":       "0.00",
				"total_discount_set":   moneySet(0, o.Currency),
				"tax_lines":            []object{},
				"discount_allocations": []object{},
			},
		}},
		"transactions": []object{{
			"id":                   json.Number(transactionID),
			"order_id":             json.Number(o.OrderID),
			"kind":                 "refund",
			"gateway":              "bogus",
			"status":               "success",
			"amount":               o.Amount.String(),
			"currency":             o.Currency,
			"created_at":           timestamp(o.At),
			"processed_at":         timestamp(o.At),
			"test":                 true,
			"admin_graphql_api_id": gid("OrderTransaction", transactionID),
		}},
	}
}
