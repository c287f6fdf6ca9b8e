package woocommerce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"loyalty/app"
)

// SampleOptions chooses what a sample order is about. Every zero field gets a
// default: a random id, a guest checkout, status processing, the money of
// the documentation's order 727 (29.35 USD with 1.35 tax and 10.00
// shipping), John Doe of the documentation, and the current time.
type SampleOptions struct {
	ID int64
	// CustomerID is the shopper's user id; 0 is a guest checkout.
	CustomerID int64
	Status     string
	// Total is what the shopper paid, tax and shipping included. When
	// Total, Tax, Shipping and ShippingTax are all zero, the documentation
	// order's figures are used, so a sample cannot be a free order.
	Total app.Amount
	// Tax is total_tax, which includes ShippingTax.
	Tax         app.Amount
	Shipping    app.Amount // shipping_total, before its tax
	ShippingTax app.Amount
	Currency    string
	Email       string
	FirstName   string
	LastName    string
	Refunds     []SampleRefund
	// CouponCodes become coupon_lines, one per code, each with a zero
	// discount: the sample's totals do not model discounts.
	CouponCodes []string
	// Modified is date_modified_gmt. Pass it for reproducible output.
	Modified time.Time
	// Paid is date_paid_gmt; by default Modified when the status implies
	// payment (processing, completed, refunded), else null.
	Paid time.Time
	// StoreURL is the store the _links point at; https://example.com by
	// default.
	StoreURL string
}

// SampleRefund is one refund of a sample order.
type SampleRefund struct {
	ID int64
	// Amount is the refunded sum, positive; the order lists it negated.
	Amount app.Amount
	Reason string
}

// sampleSiteOffset is the sample store's time zone (UTC−3, like the
// documentation's examples), so that local and _gmt dates differ and a
// consumer reading the wrong one is caught.
var sampleSiteOffset = time.FixedZone("UTC-3", -3*3600)

// SampleOrder builds an order body the way WooCommerce delivers one for
// order.created or order.updated: the v3 order resource with its fields in
// WooCommerce's order, encoded like wp_json_encode (compact, "/" written as
// "\/", non-ASCII as \uXXXX). It parses with ParseOrder into the options it
// was made from, and Sign of it is what WooCommerce would send.
func SampleOrder(o SampleOptions) []byte {
	o = o.withDefaults()
	return wpJSON(sampleOrder(o))
}

func (o SampleOptions) withDefaults() SampleOptions {
	if o.ID == 0 {
		o.ID = 100 + rand.Int64N(900_000)
	}
	if o.Status == "" {
		o.Status = "processing"
	}
	if o.Total == 0 && o.Tax == 0 && o.Shipping == 0 && o.ShippingTax == 0 {
		o.Total, o.Tax, o.Shipping = app.MustAmount("29.35"), app.MustAmount("1.35"), app.MustAmount("10.00")
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if o.FirstName == "" && o.LastName == "" {
		o.FirstName, o.LastName = "John", "Doe"
	}
	if o.Email == "" {
		o.Email = "john.doe@example.com"
		if o.CustomerID != 0 {
			o.Email = fmt.Sprintf("customer.%d@example.com", o.CustomerID)
		}
	}
	if o.Modified.IsZero() {
		o.Modified = time.Now()
	}
	o.Modified = o.Modified.UTC().Truncate(time.Second)
	if o.Paid.IsZero() && slices.Contains([]string{"processing", "completed", "refunded"}, o.Status) {
		o.Paid = o.Modified
	}
	o.Paid = o.Paid.UTC().Truncate(time.Second)
	if o.StoreURL == "" {
		o.StoreURL = "https://example.com"
	}
	o.StoreURL = strings.TrimSuffix(o.StoreURL, "/")
	return o
}

// The structs below list the fields of a v3 order in the order WooCommerce
// writes them, so samples read like real deliveries.

type sampleOrderJSON struct {
	ID                 int64             `json:"id"`
	ParentID           int64             `json:"parent_id"`
	Number             string            `json:"number"`
	OrderKey           string            `json:"order_key"`
	CreatedVia         string            `json:"created_via"`
	Version            string            `json:"version"`
	Status             string            `json:"status"`
	Currency           string            `json:"currency"`
	DateCreated        string            `json:"date_created"`
	DateCreatedGMT     string            `json:"date_created_gmt"`
	DateModified       string            `json:"date_modified"`
	DateModifiedGMT    string            `json:"date_modified_gmt"`
	DiscountTotal      string            `json:"discount_total"`
	DiscountTax        string            `json:"discount_tax"`
	ShippingTotal      string            `json:"shipping_total"`
	ShippingTax        string            `json:"shipping_tax"`
	CartTax            string            `json:"cart_tax"`
	Total              string            `json:"total"`
	TotalTax           string            `json:"total_tax"`
	PricesIncludeTax   bool              `json:"prices_include_tax"`
	CustomerID         int64             `json:"customer_id"`
	CustomerIPAddress  string            `json:"customer_ip_address"`
	CustomerUserAgent  string            `json:"customer_user_agent"`
	CustomerNote       string            `json:"customer_note"`
	Billing            sampleAddress     `json:"billing"`
	Shipping           sampleShipAddress `json:"shipping"`
	PaymentMethod      string            `json:"payment_method"`
	PaymentMethodTitle string            `json:"payment_method_title"`
	TransactionID      string            `json:"transaction_id"`
	DatePaid           *string           `json:"date_paid"`
	DatePaidGMT        *string           `json:"date_paid_gmt"`
	DateCompleted      *string           `json:"date_completed"`
	DateCompletedGMT   *string           `json:"date_completed_gmt"`
	CartHash           string            `json:"cart_hash"`
	MetaData           []sampleMeta      `json:"meta_data"`
	LineItems          []sampleLine      `json:"line_items"`
	TaxLines           []sampleTaxLine   `json:"tax_lines"`
	ShippingLines      []sampleShipLine  `json:"shipping_lines"`
	FeeLines           []struct{}        `json:"fee_lines"`
	CouponLines        []sampleCoupon    `json:"coupon_lines"`
	Refunds            []sampleRefund    `json:"refunds"`
	Links              sampleLinks       `json:"_links"`
}

type sampleLinks struct {
	Self       []href `json:"self"`
	Collection []href `json:"collection"`
	Customer   []href `json:"customer,omitempty"`
}

type sampleAddress struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type sampleShipAddress struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
}

type sampleMeta struct {
	ID    int64  `json:"id"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

type sampleTax struct {
	ID       int64  `json:"id"`
	Total    string `json:"total"`
	Subtotal string `json:"subtotal"`
}

type sampleLine struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	ProductID   int64        `json:"product_id"`
	VariationID int64        `json:"variation_id"`
	Quantity    int          `json:"quantity"`
	TaxClass    string       `json:"tax_class"`
	Subtotal    string       `json:"subtotal"`
	SubtotalTax string       `json:"subtotal_tax"`
	Total       string       `json:"total"`
	TotalTax    string       `json:"total_tax"`
	Taxes       []sampleTax  `json:"taxes"`
	MetaData    []sampleMeta `json:"meta_data"`
	SKU         string       `json:"sku"`
	Price       json.Number  `json:"price"`
}

type sampleTaxLine struct {
	ID               int64        `json:"id"`
	RateCode         string       `json:"rate_code"`
	RateID           int64        `json:"rate_id"`
	Label            string       `json:"label"`
	Compound         bool         `json:"compound"`
	TaxTotal         string       `json:"tax_total"`
	ShippingTaxTotal string       `json:"shipping_tax_total"`
	MetaData         []sampleMeta `json:"meta_data"`
}

type sampleShipLine struct {
	ID          int64        `json:"id"`
	MethodTitle string       `json:"method_title"`
	MethodID    string       `json:"method_id"`
	Total       string       `json:"total"`
	TotalTax    string       `json:"total_tax"`
	Taxes       []sampleTax  `json:"taxes"`
	MetaData    []sampleMeta `json:"meta_data"`
}

type sampleCoupon struct {
	ID          int64        `json:"id"`
	Code        string       `json:"code"`
	Discount    string       `json:"discount"`
	DiscountTax string       `json:"discount_tax"`
	MetaData    []sampleMeta `json:"meta_data"`
}

type sampleRefund struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Total  string `json:"total"`
}

type href struct {
	Href string `json:"href"`
}

const sampleTaxRateID = 75

func sampleOrder(o SampleOptions) sampleOrderJSON {
	cartTax := o.Tax - o.ShippingTax
	goods := o.Total - o.Shipping - o.Tax // line items after discounts, without tax
	local := func(t time.Time) string { return t.In(sampleSiteOffset).Format("2006-01-02T15:04:05") }
	gmt := func(t time.Time) string { return t.Format("2006-01-02T15:04:05") }
	optional := func(t time.Time, f func(time.Time) string) *string {
		if t.IsZero() {
			return nil
		}
		s := f(t)
		return &s
	}
	created := o.Modified.Add(-6 * time.Second)
	var completed time.Time
	if o.Status == "completed" {
		completed = o.Modified
	}
	id := o.ID
	order := sampleOrderJSON{
		ID:                 id,
		Number:             strconv.FormatInt(id, 10),
		OrderKey:           fmt.Sprintf("wc_order_%013x", uint64(id)*0x9e3779b97f4a7c15>>12),
		CreatedVia:         "checkout",
		Version:            "10.2.2",
		Status:             o.Status,
		Currency:           o.Currency,
		DateCreated:        local(created),
		DateCreatedGMT:     gmt(created),
		DateModified:       local(o.Modified),
		DateModifiedGMT:    gmt(o.Modified),
		DiscountTotal:      "0.00",
		DiscountTax:        "0.00",
		ShippingTotal:      o.Shipping.String(),
		ShippingTax:        o.ShippingTax.String(),
		CartTax:            cartTax.String(),
		Total:              o.Total.String(),
		TotalTax:           o.Tax.String(),
		CustomerID:         o.CustomerID,
		CustomerIPAddress:  "203.0.113.7",
		CustomerUserAgent:  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		Billing:            sampleAddress{o.FirstName, o.LastName, "", "969 Market", "", "San Francisco", "CA", "94103", "US", o.Email, "(555) 555-5555"},
		Shipping:           sampleShipAddress{o.FirstName, o.LastName, "", "969 Market", "", "San Francisco", "CA", "94103", "US"},
		PaymentMethod:      "bacs",
		PaymentMethodTitle: "Direct Bank Transfer",
		DatePaid:           optional(o.Paid, local),
		DatePaidGMT:        optional(o.Paid, gmt),
		DateCompleted:      optional(completed, local),
		DateCompletedGMT:   optional(completed, gmt),
		MetaData:           []sampleMeta{{ID: id*100 + 1, Key: "_download_permissions_granted", Value: "yes"}},
		LineItems:          sampleLines(id, goods, cartTax),
		TaxLines: []sampleTaxLine{{
			ID: id*100 + 30, RateCode: "US-CA-STATE TAX", RateID: sampleTaxRateID, Label: "State Tax",
			TaxTotal: cartTax.String(), ShippingTaxTotal: o.ShippingTax.String(), MetaData: []sampleMeta{},
		}},
		ShippingLines: []sampleShipLine{{
			ID: id*100 + 20, MethodTitle: "Flat Rate", MethodID: "flat_rate",
			Total: o.Shipping.String(), TotalTax: o.ShippingTax.String(),
			Taxes: sampleTaxes(o.ShippingTax), MetaData: []sampleMeta{},
		}},
		FeeLines:    []struct{}{},
		CouponLines: []sampleCoupon{},
		Refunds:     []sampleRefund{},
		Links: sampleLinks{
			Self:       []href{{o.StoreURL + APIPath + "/orders/" + strconv.FormatInt(id, 10)}},
			Collection: []href{{o.StoreURL + APIPath + "/orders"}},
		},
	}
	if o.CustomerID != 0 {
		order.Links.Customer = []href{{o.StoreURL + APIPath + "/customers/" + strconv.FormatInt(o.CustomerID, 10)}}
	}
	for i, code := range o.CouponCodes {
		order.CouponLines = append(order.CouponLines, sampleCoupon{
			ID: id*100 + 40 + int64(i), Code: code, Discount: "0.00", DiscountTax: "0.00", MetaData: []sampleMeta{},
		})
	}
	// WooCommerce lists refunds newest first.
	refunds := slices.Clone(o.Refunds)
	slices.SortStableFunc(refunds, func(a, b SampleRefund) int { return cmpInt64(b.ID, a.ID) })
	for _, f := range refunds {
		order.Refunds = append(order.Refunds, sampleRefund{ID: f.ID, Reason: f.Reason, Total: (-abs(f.Amount)).String()})
	}
	return order
}

// sampleLines splits the goods into two lines, as the documentation's order
// has, when there are at least two cents to split.
func sampleLines(orderID int64, goods, tax app.Amount) []sampleLine {
	const cent = app.AmountScale / 100
	totals, taxes := []app.Amount{goods}, []app.Amount{tax}
	if goods >= 2*cent {
		first := goods / 2 / cent * cent
		firstTax := tax / 2 / cent * cent
		totals = []app.Amount{first, goods - first}
		taxes = []app.Amount{firstTax, tax - firstTax}
	}
	products := []struct {
		name string
		sku  string
	}{{"Woo Single #1", ""}, {"Ship Your Idea", "Bar3"}}
	lines := make([]sampleLine, len(totals))
	for i, total := range totals {
		lines[i] = sampleLine{
			ID:          orderID*100 + 10 + int64(i),
			Name:        products[i].name,
			ProductID:   93 - int64(i)*71,
			Quantity:    1,
			Subtotal:    total.String(),
			SubtotalTax: taxes[i].String(),
			Total:       total.String(),
			TotalTax:    taxes[i].String(),
			Taxes:       sampleTaxes(taxes[i]),
			MetaData:    []sampleMeta{},
			SKU:         products[i].sku,
			// PHP writes the unit price as a float: 12, 12.5.
			Price: json.Number(strings.TrimSuffix(strings.TrimRight(total.String(), "0"), ".")),
		}
	}
	return lines
}

func sampleTaxes(tax app.Amount) []sampleTax {
	if tax == 0 {
		return []sampleTax{}
	}
	return []sampleTax{{ID: sampleTaxRateID, Total: tax.String(), Subtotal: tax.String()}}
}

func abs(a app.Amount) app.Amount {
	if a < 0 {
		return -a
	}
	return a
}

// wpJSON encodes v the way WordPress's wp_json_encode does with its default
// flags: compact, "/" escaped as "\/", every non-ASCII character as \uXXXX
// (UTF-16 surrogate pairs beyond the BMP), and <, >, & left alone.
func wpJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("woocommerce sample: %v", err)) // only fixed shapes are encoded
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// In JSON text '/' and non-ASCII bytes occur only inside strings, so
	// they can be escaped without tracking where strings begin and end.
	out := make([]byte, 0, len(b)+len(b)/8)
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			b = b[1:]
		case c < utf8.RuneSelf:
			out = append(out, c)
			b = b[1:]
		default:
			r, size := utf8.DecodeRune(b)
			b = b[size:]
			if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		}
	}
	return out
}
