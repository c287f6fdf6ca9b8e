package app

import "time"

// The events below are what platform adapters turn webhooks into. Amounts are
// in the shop's currency, never the shopper's presentment currency.

// OrderPaid says an order has been paid.
type OrderPaid struct {
	OrderID  string
	Name     string
	Customer *CustomerRef // nil for a guest checkout
	Currency string
	// Subtotal is merchandise after discounts, before shipping, and
	// including tax when TaxesIncluded.
	Subtotal Amount
	// SubtotalTax is the tax on merchandise; only meaningful when
	// TaxesIncluded, as otherwise it is not part of Subtotal.
	SubtotalTax   Amount
	Shipping      Amount // shipping charged, after shipping discounts
	ShippingTax   Amount
	TaxesIncluded bool
	DiscountCodes []string
	// CodeDiscounts is what each discount code took off the order, in shop
	// currency, keyed by the code in lower case; a code the platform gave
	// no amount for is missing.
	CodeDiscounts map[string]Amount
	PaidAt        time.Time
}

// OrderRefunded says part or all of an order was refunded.
type OrderRefunded struct {
	OrderID  string
	RefundID string
	Customer *CustomerRef // may be nil: refunds do not always name the customer
	// Lines is the refunded merchandise after discounts (tax-inclusive when
	// the order's prices include tax); LinesTax the tax on it.
	Lines       Amount
	LinesTax    Amount
	Shipping    Amount
	ShippingTax Amount
	RefundedAt  time.Time
}

// OrderCancelled says an order was cancelled: what it still holds goes back.
type OrderCancelled struct {
	OrderID     string
	Customer    *CustomerRef
	CancelledAt time.Time
}

// OrderState is one state of an order, from a platform that sends the whole
// order on every change rather than events: what its status and refunds
// imply. See Service.ApplyOrderState.
type OrderState struct {
	OrderID string
	// Version orders the states of one order: the platform's modification
	// time. Zero when the platform gave none; such a state is never taken
	// as older or newer than another.
	Version   time.Time
	Paid      *OrderPaid // set when the order is in a status that earns
	Refunds   []OrderRefunded
	Cancelled *OrderCancelled // set when the order is in a status that ends it
}

// CustomerCreated says a shopper joined the shop.
type CustomerCreated struct {
	Customer  CustomerRef
	CreatedAt time.Time
}
