package app

// EligibleOnPaid returns the part of a paid order that earns points under the
// program: merchandise after discounts, plus shipping and tax only when the
// program says they earn. Never negative.
func (p Program) EligibleOnPaid(e OrderPaid) Amount {
	return p.eligible(e.TaxesIncluded, e.Subtotal, e.SubtotalTax, e.Shipping, e.ShippingTax)
}

// EligibleOnRefund returns the part of a refund that counts against what the
// order earned, by the same rules as EligibleOnPaid, so a refund of the whole
// order adds up to exactly the order's eligible amount.
func (p Program) EligibleOnRefund(r OrderRefunded, taxesIncluded bool) Amount {
	return p.eligible(taxesIncluded, r.Lines, r.LinesTax, r.Shipping, r.ShippingTax)
}

func (p Program) eligible(taxesIncluded bool, goods, goodsTax, shipping, shippingTax Amount) Amount {
	base := goods
	if p.EarnOnShipping {
		base += shipping
	}
	switch {
	case taxesIncluded && !p.EarnOnTax:
		// Prices already contain tax: take it out.
		base -= goodsTax
		if p.EarnOnShipping {
			base -= shippingTax
		}
	case !taxesIncluded && p.EarnOnTax:
		// Tax is charged on top: add it in.
		base += goodsTax
		if p.EarnOnShipping {
			base += shippingTax
		}
	}
	if base < 0 {
		return 0
	}
	return base
}

// PointsForOrder is what an eligible amount earns under the program.
func (p Program) PointsForOrder(eligible Amount) int64 {
	return PointsFor(eligible, p.EarnRate, p.Rounding)
}

// recoverable splits a reversal of want points into what the customer's
// points can cover and what stays unrecovered. Pending points count: a refund
// inside the return window takes back held points first.
func recoverable(want int64, c Customer, allowNegative bool) (take, unrecovered int64) {
	if allowNegative {
		return want, 0
	}
	have := c.Pending
	if c.Balance > 0 {
		have += c.Balance
	}
	if want <= have {
		return want, 0
	}
	return have, want - have
}
