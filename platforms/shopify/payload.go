package shopify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"loyalty/app"
)

// ErrMalformed is wrapped by every parse error: the payload is not valid
// JSON, lacks an id the event cannot do without, or holds a value of the
// wrong form. Shopify would redeliver the same bytes, so callers record the
// failure and do not retry.
var ErrMalformed = errors.New("malformed payload")

// ParseOrderPaid decodes an orders/paid body (a REST Order resource) into an
// app.OrderPaid. Money comes from the shop-currency side of each *_set, and
// the customer is nil for a guest checkout.
func ParseOrderPaid(body []byte) (app.OrderPaid, error) {
	var o orderJSON
	if err := unmarshal(body, &o); err != nil {
		return app.OrderPaid{}, err
	}
	var r reader
	e := app.OrderPaid{
		OrderID:       r.id("order id", o.ID, true),
		Name:          o.Name,
		Customer:      r.orderCustomer(o),
		Currency:      firstOf(o.CurrentSubtotalPriceSet.ShopMoney.CurrencyCode, o.Currency),
		TaxesIncluded: o.TaxesIncluded,
		PaidAt:        firstTime(o.ProcessedAt, o.UpdatedAt, o.CreatedAt),
	}
	// The current subtotal already reflects edits made before payment; the
	// original subtotal is the fallback for payloads trimmed without it.
	subtotal := firstOf(o.CurrentSubtotalPriceSet.ShopMoney.Amount, o.CurrentSubtotalPrice,
		o.SubtotalPriceSet.ShopMoney.Amount, o.SubtotalPrice)
	if subtotal == "" {
		r.fail("order subtotal missing")
	}
	e.Subtotal = r.amount("order subtotal", subtotal)
	for i, line := range o.LineItems {
		for j, tax := range line.TaxLines {
			field := fmt.Sprintf("line_items[%d].tax_lines[%d]", i, j)
			e.SubtotalTax = r.add(field, e.SubtotalTax, r.amount(field, tax.PriceSet.ShopMoney.Amount, tax.Price))
		}
	}
	e.Shipping, e.ShippingTax = r.orderShipping(o)
	for _, dc := range o.DiscountCodes {
		if code := strings.TrimSpace(dc.Code); code != "" {
			e.DiscountCodes = append(e.DiscountCodes, code)
			// amount is what the code took off, in shop currency (the REST
			// Order's plain money fields are); the rules use it only to let
			// a reward's part earn, so an unreadable one is left out
			// rather than failing the order.
			if a, err := parseAmount(string(dc.Amount)); dc.Amount != "" && err == nil && a >= 0 && a < maxAmount {
				if e.CodeDiscounts == nil {
					e.CodeDiscounts = map[string]app.Amount{}
				}
				e.CodeDiscounts[strings.ToLower(code)] += a
			}
		}
	}
	if r.err != nil {
		return app.OrderPaid{}, r.err
	}
	return e, nil
}

// ParseRefund decodes a refunds/create body (a REST Refund resource) into an
// app.OrderRefunded. The refund names no customer, so Customer is nil.
//
// Refunded shipping is read from refund_shipping_lines, where API versions
// since 2024-10 report it. Older versions reported it only as an order
// adjustment of kind shipping_refund, whose amount is negative; those are read
// only when there are no refund shipping lines, so that a payload carrying
// both never counts the same shipping twice. Other adjustments (refund
// discrepancies) change the money returned, not the goods, and are ignored.
func ParseRefund(body []byte) (app.OrderRefunded, error) {
	var f refundJSON
	if err := unmarshal(body, &f); err != nil {
		return app.OrderRefunded{}, err
	}
	var r reader
	e := app.OrderRefunded{
		OrderID:    r.id("refund order_id", f.OrderID, true),
		RefundID:   r.id("refund id", f.ID, true),
		RefundedAt: firstTime(f.ProcessedAt, f.CreatedAt),
	}
	for i, line := range f.RefundLineItems {
		field := fmt.Sprintf("refund_line_items[%d]", i)
		// subtotal_set is the refunded merchandise after discounts.
		e.Lines = r.add(field, e.Lines, r.amount(field+".subtotal", line.SubtotalSet.ShopMoney.Amount, line.Subtotal))
		e.LinesTax = r.add(field, e.LinesTax, r.amount(field+".total_tax", line.TotalTaxSet.ShopMoney.Amount, line.TotalTax))
	}
	for i, line := range f.RefundShippingLines {
		field := fmt.Sprintf("refund_shipping_lines[%d]", i)
		e.Shipping = r.add(field, e.Shipping, r.amount(field+".subtotal_amount_set", line.SubtotalAmountSet.ShopMoney.Amount))
		e.ShippingTax = r.add(field, e.ShippingTax, r.amount(field+".tax_amount_set", line.TaxAmountSet.ShopMoney.Amount))
	}
	if len(f.RefundShippingLines) == 0 {
		for i, adj := range f.OrderAdjustments {
			if adj.Kind != "shipping_refund" {
				continue
			}
			field := fmt.Sprintf("order_adjustments[%d]", i)
			e.Shipping = r.add(field, e.Shipping, abs(r.amount(field+".amount", adj.AmountSet.ShopMoney.Amount, adj.Amount)))
			e.ShippingTax = r.add(field, e.ShippingTax, abs(r.amount(field+".tax_amount", adj.TaxAmountSet.ShopMoney.Amount, adj.TaxAmount)))
		}
	}
	if r.err != nil {
		return app.OrderRefunded{}, r.err
	}
	return e, nil
}

// ParseOrderCancelled decodes an orders/cancelled body (the full Order
// resource) into an app.OrderCancelled. Only the order and its customer
// matter: what the order earned is undone from the ledger's own record.
func ParseOrderCancelled(body []byte) (app.OrderCancelled, error) {
	var o orderJSON
	if err := unmarshal(body, &o); err != nil {
		return app.OrderCancelled{}, err
	}
	var r reader
	e := app.OrderCancelled{
		OrderID:  r.id("order id", o.ID, true),
		Customer: r.orderCustomer(o),
		// A cancelled order always has cancelled_at; updated_at is only
		// for payloads trimmed without it.
		CancelledAt: firstTime(o.CancelledAt, o.UpdatedAt),
	}
	if r.err != nil {
		return app.OrderCancelled{}, r.err
	}
	return e, nil
}

// ParseCustomerCreated decodes a customers/create body (a REST Customer
// resource) into an app.CustomerCreated.
func ParseCustomerCreated(body []byte) (app.CustomerCreated, error) {
	var c customerJSON
	if err := unmarshal(body, &c); err != nil {
		return app.CustomerCreated{}, err
	}
	var r reader
	e := app.CustomerCreated{
		Customer: app.CustomerRef{
			PlatformID: r.id("customer id", c.ID, true),
			Email:      strings.TrimSpace(c.Email),
			FirstName:  c.FirstName,
			LastName:   c.LastName,
			Locale:     c.Locale,
		},
		CreatedAt: parseTime(c.CreatedAt),
	}
	if r.err != nil {
		return app.CustomerCreated{}, r.err
	}
	return e, nil
}

// The JSON shapes below declare only the fields the events need; Shopify
// sends many more, and they are skipped unread.

type orderJSON struct {
	ID             text   `json:"id"`
	Name           string `json:"name"`
	Email          string `json:"email"`
	ContactEmail   string `json:"contact_email"`
	Currency       string `json:"currency"`
	CustomerLocale string `json:"customer_locale"`
	TaxesIncluded  bool   `json:"taxes_included"`

	CurrentSubtotalPriceSet moneyBag `json:"current_subtotal_price_set"`
	CurrentSubtotalPrice    text     `json:"current_subtotal_price"`
	SubtotalPriceSet        moneyBag `json:"subtotal_price_set"`
	SubtotalPrice           text     `json:"subtotal_price"`
	TotalShippingPriceSet   moneyBag `json:"total_shipping_price_set"`

	LineItems []struct {
		TaxLines []taxLineJSON `json:"tax_lines"`
	} `json:"line_items"`
	ShippingLines []struct {
		Price              text          `json:"price"`
		PriceSet           moneyBag      `json:"price_set"`
		DiscountedPrice    text          `json:"discounted_price"`
		DiscountedPriceSet moneyBag      `json:"discounted_price_set"`
		IsRemoved          bool          `json:"is_removed"`
		TaxLines           []taxLineJSON `json:"tax_lines"`
	} `json:"shipping_lines"`
	DiscountCodes []struct {
		Code   string `json:"code"`
		Amount text   `json:"amount"`
	} `json:"discount_codes"`

	ProcessedAt string `json:"processed_at"`
	UpdatedAt   string `json:"updated_at"`
	CreatedAt   string `json:"created_at"`
	CancelledAt string `json:"cancelled_at"`

	Customer *customerJSON `json:"customer"`
}

type taxLineJSON struct {
	Price    text     `json:"price"`
	PriceSet moneyBag `json:"price_set"`
}

type customerJSON struct {
	ID        text   `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Locale    string `json:"locale"`
	CreatedAt string `json:"created_at"`
}

type refundJSON struct {
	ID          text   `json:"id"`
	OrderID     text   `json:"order_id"`
	ProcessedAt string `json:"processed_at"`
	CreatedAt   string `json:"created_at"`

	RefundLineItems []struct {
		Subtotal    text     `json:"subtotal"`
		SubtotalSet moneyBag `json:"subtotal_set"`
		TotalTax    text     `json:"total_tax"`
		TotalTaxSet moneyBag `json:"total_tax_set"`
	} `json:"refund_line_items"`
	RefundShippingLines []struct {
		SubtotalAmountSet moneyBag `json:"subtotal_amount_set"`
		TaxAmountSet      moneyBag `json:"tax_amount_set"`
	} `json:"refund_shipping_lines"`
	OrderAdjustments []struct {
		Kind         string   `json:"kind"`
		Amount       text     `json:"amount"`
		AmountSet    moneyBag `json:"amount_set"`
		TaxAmount    text     `json:"tax_amount"`
		TaxAmountSet moneyBag `json:"tax_amount_set"`
	} `json:"order_adjustments"`
}

// moneyBag is a *_set: the same sum in the shop's currency and in the
// shopper's presentment currency. Only shop money is read, because points
// are earned and reversed in the shop's currency.
type moneyBag struct {
	ShopMoney struct {
		Amount       text   `json:"amount"`
		CurrencyCode string `json:"currency_code"`
	} `json:"shop_money"`
}

// text holds a JSON scalar as its decimal text, whatever its JSON type:
// Shopify sends ids as numbers beyond float64's exact range (or as strings
// in some clients), and money as strings ("89.99") except in a few places
// where it is a number (a refund line's subtotal: 89.99). Keeping the
// literal avoids float64 entirely. null is "", the same as absent. Any other
// JSON value is kept as written, so that the check of the field that holds
// it can name the field in its error.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	default:
		*t = text(b)
	}
	return nil
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// reader converts the decoded JSON into app values, keeping the first
// problem it meets so the conversions read as a list of assignments.
type reader struct {
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// id returns a Shopify id in canonical form: decimal digits without leading
// zeros, whether it came as a JSON number, a string, or a GraphQL global id
// such as "gid://shopify/Order/820982911946154508". An absent, null or zero
// id is "" (Shopify ids start at 1), which is an error when required.
func (r *reader) id(field string, t text, required bool) string {
	s := strings.TrimSpace(string(t))
	if strings.HasPrefix(s, "gid://") {
		s, _, _ = strings.Cut(s[strings.LastIndexByte(s, '/')+1:], "?")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			r.fail("%s %.40q is not a numeric id", field, string(t))
			return ""
		}
	}
	s = strings.TrimLeft(s, "0")
	if s == "" && required {
		r.fail("%s missing", field)
	}
	return s
}

// amount parses the first present candidate; none present is zero.
func (r *reader) amount(field string, candidates ...text) app.Amount {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		a, err := parseAmount(string(c))
		if err != nil {
			r.fail("%s: %v", field, err)
			return 0
		}
		return a
	}
	return 0
}

// maxAmount bounds every amount and sum, well inside int64, so that adding
// up the lines of a hostile payload cannot overflow.
const maxAmount = app.Amount(1 << 62)

func (r *reader) add(field string, sum, a app.Amount) app.Amount {
	total := sum + a
	if total > maxAmount || total < -maxAmount {
		r.fail("%s: amounts add up beyond range", field)
		return sum
	}
	return total
}

// orderCustomer is the order's customer, or nil for a guest checkout: no
// customer object, null, or one without an id.
func (r *reader) orderCustomer(o orderJSON) *app.CustomerRef {
	if o.Customer == nil {
		return nil
	}
	id := r.id("customer id", o.Customer.ID, false)
	if id == "" {
		return nil
	}
	return &app.CustomerRef{
		PlatformID: id,
		// Newer API versions may leave the customer's email out of the
		// customer object unless the app has access to protected customer
		// data; the order's own email is the same shopper's.
		Email:     strings.TrimSpace(firstOf(o.Customer.Email, o.Email, o.ContactEmail)),
		FirstName: o.Customer.FirstName,
		LastName:  o.Customer.LastName,
		Locale:    firstOf(o.CustomerLocale, o.Customer.Locale),
	}
}

// orderShipping is the shipping charged after shipping discounts, and its
// tax. Shipping lines removed by an order edit were not charged and are
// skipped. Without shipping lines (a trimmed payload), the order's total
// shipping is the best figure left; its tax is then unknown and zero.
func (r *reader) orderShipping(o orderJSON) (shipping, tax app.Amount) {
	if len(o.ShippingLines) == 0 {
		return r.amount("total_shipping_price_set", o.TotalShippingPriceSet.ShopMoney.Amount), 0
	}
	for i, line := range o.ShippingLines {
		if line.IsRemoved {
			continue
		}
		field := fmt.Sprintf("shipping_lines[%d]", i)
		price := r.amount(field, line.DiscountedPriceSet.ShopMoney.Amount, line.DiscountedPrice,
			line.PriceSet.ShopMoney.Amount, line.Price)
		shipping = r.add(field, shipping, price)
		for j, t := range line.TaxLines {
			field := fmt.Sprintf("shipping_lines[%d].tax_lines[%d]", i, j)
			tax = r.add(field, tax, r.amount(field, t.PriceSet.ShopMoney.Amount, t.Price))
		}
	}
	return shipping, tax
}

// parseAmount reads a decimal such as "414.95" or 89.99 exactly. Exponent
// forms (1e2), which some JSON encoders write for numbers, go through exact
// rational arithmetic rather than float64.
func parseAmount(s string) (app.Amount, error) {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "eE") {
		a, err := app.ParseAmount(s)
		if err == nil && (a > maxAmount || a < -maxAmount) {
			return 0, fmt.Errorf("amount %.40q: out of range", s)
		}
		return a, err
	}
	// Bound the exponent before big.Rat expands it: 1e999999999 would
	// otherwise allocate a number with a billion digits.
	if len(s) > 40 {
		return 0, fmt.Errorf("amount %.40q: not a decimal number", s)
	}
	_, exp, _ := strings.Cut(strings.ToLower(s), "e")
	if len(strings.TrimLeft(exp, "+-")) > 2 {
		return 0, fmt.Errorf("amount %q: out of range", s)
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("amount %q: not a decimal number", s)
	}
	v.Mul(v, big.NewRat(app.AmountScale, 1))
	if !v.IsInt() {
		return 0, fmt.Errorf("amount %q: more than 4 decimal places", s)
	}
	n := v.Num()
	if !n.IsInt64() || app.Amount(n.Int64()) > maxAmount || app.Amount(n.Int64()) < -maxAmount {
		return 0, fmt.Errorf("amount %q: out of range", s)
	}
	return app.Amount(n.Int64()), nil
}

func abs(a app.Amount) app.Amount {
	if a < 0 {
		return -a
	}
	return a
}

// firstOf returns the first non-empty value.
func firstOf[T ~string](values ...T) T {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// firstTime returns the first value that reads as a timestamp. One that does
// not read is passed over rather than failing the event: the time orders and
// dates the event but never decides whether it counts.
func firstTime(values ...string) time.Time {
	for _, v := range values {
		if t := parseTime(v); !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
