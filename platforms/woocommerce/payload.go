package woocommerce

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
)

// ErrMalformed is wrapped by every parse error: the payload is not valid
// JSON, lacks an id the event cannot do without, or holds a value of the
// wrong form. Parsing the same bytes again cannot succeed, so callers record
// the failure and do not retry.
var ErrMalformed = errors.New("woocommerce: malformed payload")

// Order is what the ledger needs from a WooCommerce order resource, the body
// of order.created, order.updated and order.restored deliveries and of
// GET /wc/v3/orders/{id}. Money is exact; ids are WooCommerce's integers.
type Order struct {
	ID int64
	// Number is the order number shoppers see; plugins can make it differ
	// from ID ("WC-1001").
	Number string
	// Status is the order status without WooCommerce's internal "wc-"
	// prefix: pending, processing, on-hold, completed, cancelled,
	// refunded, failed, trash, or a plugin's own.
	Status   string
	Currency string
	// CustomerID is the WordPress user id of the shopper; 0 for a guest
	// checkout.
	CustomerID int64
	Billing    Contact
	// PricesIncludeTax records how the shop entered its prices. It does
	// not change the figures below: total always includes tax.
	PricesIncludeTax bool
	// Total is what the shopper paid: line items after discounts, fees,
	// shipping and all taxes. Refunds do not change it.
	Total         app.Amount
	TotalTax      app.Amount // tax on everything, shipping tax included
	ShippingTotal app.Amount // shipping after discounts, without its tax
	ShippingTax   app.Amount
	DiscountTotal app.Amount // discounts, without the tax they took off
	// DatePaid is when payment completed; zero while unpaid.
	DatePaid time.Time
	// DateModified is when the order last changed: the version of the
	// state this payload describes.
	DateModified time.Time
	Refunds      []Refund
	// CouponCodes are the codes of the coupons applied, from coupon_lines,
	// lower-case as WooCommerce stores them.
	CouponCodes []string
	// CouponDiscounts is what each coupon took off, by code: the coupon
	// line's discount, net of the tax it took off (discount_tax), as the
	// goods the default rules earn on are net. Codes whose line has no
	// readable discount are missing.
	CouponDiscounts map[string]app.Amount
}

// Contact is the billing name and email on an order.
type Contact struct {
	Email     string
	FirstName string
	LastName  string
}

// Refund is one refund as an order payload lists it.
type Refund struct {
	ID int64
	// Total is negative, as WooCommerce writes it ("-10.00").
	Total app.Amount
	// Reason is the merchant's note, from "reason" or the older key
	// "refund" that earlier controllers and the documentation use.
	Reason string
}

// ParseOrder decodes an order resource. The id and status are required;
// money is read from WooCommerce's decimal strings (numbers are accepted too)
// without passing through float64.
func ParseOrder(body []byte) (Order, error) {
	var o orderJSON
	if err := unmarshal(body, &o); err != nil {
		return Order{}, err
	}
	var r reader
	order := Order{
		ID:               r.id("id", o.ID, true),
		Number:           strings.TrimSpace(string(o.Number)),
		Status:           normalizeStatus(string(o.Status)),
		Currency:         strings.ToUpper(strings.TrimSpace(string(o.Currency))),
		CustomerID:       r.id("customer_id", o.CustomerID, false),
		Billing:          Contact{Email: strings.TrimSpace(string(o.Billing.Email)), FirstName: string(o.Billing.FirstName), LastName: string(o.Billing.LastName)},
		PricesIncludeTax: bool(o.PricesIncludeTax),
		Total:            r.amount("total", o.Total),
		TotalTax:         r.amount("total_tax", o.TotalTax),
		ShippingTotal:    r.amount("shipping_total", o.ShippingTotal),
		ShippingTax:      r.amount("shipping_tax", o.ShippingTax),
		DiscountTotal:    r.amount("discount_total", o.DiscountTotal),
		DatePaid:         parseGMT(string(o.DatePaidGMT)),
		DateModified:     parseGMT(string(o.DateModifiedGMT)),
	}
	if order.Status == "" && r.err == nil {
		r.fail("status missing")
	}
	for i, f := range o.Refunds {
		field := fmt.Sprintf("refunds[%d]", i)
		reason := string(f.Reason)
		if reason == "" {
			reason = string(f.Refund)
		}
		order.Refunds = append(order.Refunds, Refund{
			ID:     r.id(field+".id", f.ID, true),
			Total:  r.amount(field+".total", f.Total),
			Reason: reason,
		})
	}
	for _, line := range o.CouponLines {
		if code := strings.ToLower(strings.TrimSpace(string(line.Code))); code != "" {
			order.CouponCodes = append(order.CouponCodes, code)
			// Only informs how much a reward's part earns: an unreadable
			// discount is left out rather than failing the order.
			if a, err := app.ParseAmount(string(line.Discount)); line.Discount != "" && err == nil && a >= 0 && a < maxAmount {
				if order.CouponDiscounts == nil {
					order.CouponDiscounts = map[string]app.Amount{}
				}
				order.CouponDiscounts[code] += a
			}
		}
	}
	if r.err != nil {
		return Order{}, r.err
	}
	return order, nil
}

// DefaultEarnStatuses are the statuses in which an order earns points when
// the shop names none: WooCommerce moves an order to processing when its
// payment completes, and to completed when it is fulfilled.
var DefaultEarnStatuses = []string{"processing", "completed"}

// cancelStatuses end an order: whatever it earned goes back.
var cancelStatuses = []string{"cancelled", "refunded", "failed", "trash"}

// OrderEvents is what one state of an order implies for the ledger. Each
// field is nil or empty when the state implies nothing of that kind.
type OrderEvents struct {
	Paid      *app.OrderPaid
	Refunds   []app.OrderRefunded
	Cancelled *app.OrderCancelled
}

// Events returns the events the order's current state implies. WooCommerce
// sends state, not events: a delivery carries the order as it is when the
// queued delivery runs, deliveries are never retried and may repeat, and
// nothing orders them. The ledger applies each event once (by order id and
// refund id), so applying the events of the same state twice changes
// nothing; State versions them, so that an older state after a newer one
// is dropped.
//
//   - Paid, when Status is one of earnStatuses (DefaultEarnStatuses when
//     empty).
//   - Refunds, one per refund listed, whatever the status: the ledger keeps
//     refunds that arrive before the order counts as paid.
//   - Cancelled, when Status is cancelled, refunded, failed or trash.
//
// # Money
//
// WooCommerce's total includes tax, shipping and fees after discounts, and
// total_tax includes the shipping tax. The paid event therefore says
// TaxesIncluded and splits the total into two tax-inclusive parts that add
// up to it exactly:
//
//	Subtotal    = total − shipping_total − shipping_tax   goods and fees, with their tax
//	SubtotalTax = total_tax − shipping_tax                the tax in Subtotal
//	Shipping    = shipping_total + shipping_tax           shipping, with its tax
//	ShippingTax = shipping_tax                            the tax in Shipping
//
// so that app.Program's rules earn on total − shipping_total − total_tax by
// default, and add shipping, tax or both exactly when the program says so.
// (Shipping carries its tax because the rules take ShippingTax out of it
// when prices include tax; a net Shipping would lose its tax twice.)
//
// # Refunds
//
// The order lists each refund only as a total, so a refund takes back the
// same share R/T of every part, R being the refunded amount and T the
// order's total. The shares are rounded down cumulatively, in refund id
// order (WooCommerce's ids grow): refund k gets floor(part×(R1+…+Rk)/T) −
// floor(part×(R1+…+Rk−1)/T). Each refund's figures stay the same as later
// refunds are added, and refunds that add up to the total take back every
// part exactly, so the ledger reverses all the points the order earned.
// With T zero or negative there is nothing to split and the parts are zero.
func (o Order) Events(earnStatuses []string) OrderEvents {
	if len(earnStatuses) == 0 {
		earnStatuses = DefaultEarnStatuses
	}
	var ev OrderEvents
	orderID := strconv.FormatInt(o.ID, 10)
	customer := o.customer()
	p := o.parts()

	for _, s := range earnStatuses {
		if normalizeStatus(s) == o.Status {
			paidAt := o.DatePaid
			if paidAt.IsZero() {
				paidAt = o.DateModified
			}
			ev.Paid = &app.OrderPaid{
				OrderID:       orderID,
				Name:          o.name(),
				Customer:      customer,
				Currency:      o.Currency,
				Subtotal:      p.goods,
				SubtotalTax:   p.goodsTax,
				Shipping:      p.shipping,
				ShippingTax:   p.shippingTax,
				TaxesIncluded: true,
				DiscountCodes: o.CouponCodes,
				CodeDiscounts: o.CouponDiscounts,
				PaidAt:        paidAt,
			}
			break
		}
	}

	refunds := slices.Clone(o.Refunds)
	slices.SortStableFunc(refunds, func(a, b Refund) int { return cmpInt64(a.ID, b.ID) })
	var before app.Amount // refunded by the refunds with lower ids
	for _, f := range refunds {
		amount := f.Total
		if amount < 0 {
			amount = -amount
		}
		// Capped so that a hostile list of refunds cannot overflow; any
		// sum beyond the total takes back no more than the total.
		after := min(before+amount, maxAmount)
		e := app.OrderRefunded{
			OrderID:     orderID,
			RefundID:    strconv.FormatInt(f.ID, 10),
			Customer:    customer,
			Lines:       share(p.goods, before, after, o.Total),
			LinesTax:    share(p.goodsTax, before, after, o.Total),
			Shipping:    share(p.shipping, before, after, o.Total),
			ShippingTax: share(p.shippingTax, before, after, o.Total),
			// The order payload does not date its refunds.
		}
		ev.Refunds = append(ev.Refunds, e)
		before = after
	}

	// A failed payment that was never made is not the end of an order:
	// WooCommerce lets the shopper pay again (failed → processing), and
	// there is nothing to take back. Only a failed order that had been
	// paid gives its points back. (A later paid state would reinstate a
	// cancelled order anyway; this keeps the order's record unpaid.)
	unpaidFailure := o.Status == "failed" && o.DatePaid.IsZero()
	if slices.Contains(cancelStatuses, o.Status) && !unpaidFailure {
		ev.Cancelled = &app.OrderCancelled{
			OrderID:     orderID,
			Customer:    customer,
			CancelledAt: o.DateModified,
		}
	}
	return ev
}

// State is the order's current state for app.Service.ApplyOrderState: the
// events of Events, versioned by date_modified_gmt so that a state older
// than one already applied is dropped rather than undoing it.
func (o Order) State(earnStatuses []string) app.OrderState {
	ev := o.Events(earnStatuses)
	return app.OrderState{OrderID: strconv.FormatInt(o.ID, 10), Version: o.DateModified,
		Paid: ev.Paid, Refunds: ev.Refunds, Cancelled: ev.Cancelled}
}

// parts is the order's total split as Events documents.
type parts struct {
	goods, goodsTax, shipping, shippingTax app.Amount
}

func (o Order) parts() parts {
	// Amounts are bounded by maxAmount, so these cannot overflow.
	shipping := o.ShippingTotal + o.ShippingTax
	return parts{
		goods:       o.Total - shipping,
		goodsTax:    o.TotalTax - o.ShippingTax,
		shipping:    shipping,
		shippingTax: o.ShippingTax,
	}
}

// share is the part of amount that the refunds between cumulative refunded
// sums before and after take back: floor(amount×after/total) −
// floor(amount×before/total), with both sums capped at total.
func share(amount, before, after, total app.Amount) app.Amount {
	if total <= 0 {
		return 0
	}
	return cumulative(amount, after, total) - cumulative(amount, before, total)
}

func cumulative(amount, refunded, total app.Amount) app.Amount {
	refunded = min(refunded, total)
	n := new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(int64(refunded)))
	// Div rounds towards negative infinity for a positive divisor.
	n.Div(n, big.NewInt(int64(total)))
	return app.Amount(n.Int64()) // |result| ≤ |amount|
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// name is the order's name as shoppers see it, "#727".
func (o Order) name() string {
	if o.Number != "" {
		return "#" + o.Number
	}
	return "#" + strconv.FormatInt(o.ID, 10)
}

// customer is the order's shopper, or nil for a guest checkout.
func (o Order) customer() *app.CustomerRef {
	if o.CustomerID == 0 {
		return nil
	}
	return &app.CustomerRef{
		PlatformID: strconv.FormatInt(o.CustomerID, 10),
		Email:      o.Billing.Email,
		FirstName:  o.Billing.FirstName,
		LastName:   o.Billing.LastName,
	}
}

// normalizeStatus lower-cases a status and drops the "wc-" prefix
// WooCommerce uses internally, which the REST API strips.
func normalizeStatus(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.TrimPrefix(s, "wc-")
}

// ParseDeleted decodes an order.deleted body, {"id":N}: the order went to the
// trash, so whatever it earned goes back. WooCommerce sends nothing else, so
// the customer is nil and the time is left for the ledger to fill in.
func ParseDeleted(body []byte) (app.OrderCancelled, error) {
	var d struct {
		ID text `json:"id"`
	}
	if err := unmarshal(body, &d); err != nil {
		return app.OrderCancelled{}, err
	}
	var r reader
	id := r.id("id", d.ID, true)
	if r.err != nil {
		return app.OrderCancelled{}, r.err
	}
	return app.OrderCancelled{OrderID: strconv.FormatInt(id, 10)}, nil
}

// ParseCustomer decodes a customer.created body (a customer resource) into
// an app.CustomerCreated. The email falls back to the billing email.
func ParseCustomer(body []byte) (app.CustomerCreated, error) {
	var c struct {
		ID             text        `json:"id"`
		Email          text        `json:"email"`
		FirstName      text        `json:"first_name"`
		LastName       text        `json:"last_name"`
		DateCreatedGMT text        `json:"date_created_gmt"`
		Billing        contactJSON `json:"billing"`
	}
	if err := unmarshal(body, &c); err != nil {
		return app.CustomerCreated{}, err
	}
	var r reader
	id := r.id("id", c.ID, true)
	if r.err != nil {
		return app.CustomerCreated{}, r.err
	}
	email := strings.TrimSpace(string(c.Email))
	if email == "" {
		email = strings.TrimSpace(string(c.Billing.Email))
	}
	return app.CustomerCreated{
		Customer: app.CustomerRef{
			PlatformID: strconv.FormatInt(id, 10),
			Email:      email,
			FirstName:  string(c.FirstName),
			LastName:   string(c.LastName),
		},
		CreatedAt: parseGMT(string(c.DateCreatedGMT)),
	}, nil
}

// The JSON shapes below declare only the fields the events need; WooCommerce
// sends many more, and they are skipped unread.

type orderJSON struct {
	ID               text        `json:"id"`
	Number           text        `json:"number"`
	Status           text        `json:"status"`
	Currency         text        `json:"currency"`
	CustomerID       text        `json:"customer_id"`
	Billing          contactJSON `json:"billing"`
	PricesIncludeTax flag        `json:"prices_include_tax"`
	Total            text        `json:"total"`
	TotalTax         text        `json:"total_tax"`
	ShippingTotal    text        `json:"shipping_total"`
	ShippingTax      text        `json:"shipping_tax"`
	DiscountTotal    text        `json:"discount_total"`
	DatePaidGMT      text        `json:"date_paid_gmt"`
	DateModifiedGMT  text        `json:"date_modified_gmt"`
	Refunds          []struct {
		ID     text `json:"id"`
		Total  text `json:"total"`
		Reason text `json:"reason"`
		Refund text `json:"refund"`
	} `json:"refunds"`
	CouponLines couponLinesJSON `json:"coupon_lines"`
}

// couponLinesJSON is an order's coupon lines; anything but an array reads as
// none rather than failing the whole order.
type couponLinesJSON []struct {
	Code     text `json:"code"`
	Discount text `json:"discount"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *couponLinesJSON) UnmarshalJSON(b []byte) error {
	*c = nil
	if len(b) == 0 || b[0] != '[' {
		return nil
	}
	type plain couponLinesJSON
	return json.Unmarshal(b, (*plain)(c))
}

// contactJSON is a billing address. PHP encodes an empty associative array
// as [], so anything but an object reads as empty rather than failing the
// whole order.
type contactJSON struct {
	Email     text `json:"email"`
	FirstName text `json:"first_name"`
	LastName  text `json:"last_name"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *contactJSON) UnmarshalJSON(b []byte) error {
	*c = contactJSON{}
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	type plain contactJSON
	return json.Unmarshal(b, (*plain)(c))
}

// flag is a JSON boolean that reads PHP's other spellings of one ("1",
// "yes", 1) too, and anything else as false.
type flag bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *flag) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(b), `"`)) {
	case "true", "1", "yes":
		*f = true
	default:
		*f = false
	}
	return nil
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// reader converts the decoded JSON into Go values, keeping the first problem
// it meets so the conversions read as a list of assignments.
type reader struct {
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// id reads a WooCommerce id: decimal digits, as a JSON number or a string.
// Absent, null and 0 are 0, which is an error when required.
func (r *reader) id(field string, t text, required bool) int64 {
	s := strings.TrimSpace(string(t))
	if s == "" {
		if required {
			r.fail("%s missing", field)
		}
		return 0
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			r.fail("%s %.40q is not a numeric id", field, string(t))
			return 0
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.fail("%s %.40q is out of range", field, string(t))
		return 0
	}
	if n == 0 && required {
		r.fail("%s missing", field)
	}
	return n
}

// maxAmount bounds every amount, far above any real order and far enough
// inside int64 that the sums and differences Events takes cannot overflow.
const maxAmount = app.Amount(1 << 60)

// amount parses a decimal such as "29.35" or "-10.00"; absent is zero.
// WooCommerce formats money to the shop's decimals, so more than app's four
// decimal places is an error rather than a rounding.
func (r *reader) amount(field string, t text) app.Amount {
	if t == "" {
		return 0
	}
	a, err := app.ParseAmount(string(t))
	if err != nil {
		r.fail("%s: %v", field, err)
		return 0
	}
	if a > maxAmount || a < -maxAmount {
		r.fail("%s %.40q: out of range", field, string(t))
		return 0
	}
	return a
}

// parseGMT reads one of WooCommerce's *_gmt timestamps, which carry no zone
// ("2017-03-22T19:28:08") and are UTC. A zone, when present, is honoured.
// Anything else is the zero time: timestamps date events but never decide
// whether one counts.
func parseGMT(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
