package app

import (
	"context"
	"fmt"
)

// BirthdayChange asks to record a shopper's birthday.
type BirthdayChange struct {
	CustomerID string // the platform's customer id
	Birthday   Birthday
	// Staff names the staff member who changes it, with Reason; empty when
	// the shopper gives it from the storefront.
	Staff  string
	Reason string
}

// SetBirthday records a shopper's birthday for the birthday bonus. A
// shopper gives it once: letting them change it at will would let them
// move their birthday to collect the bonus again, so a different day from
// the storefront is a conflict and only staff (with a reason, audited) may
// correct it. Giving the same day again changes nothing.
func (s *Service) SetBirthday(ctx context.Context, shop Shop, req BirthdayChange) (Customer, error) {
	if !shop.Active() {
		return Customer{}, Errorf(EForbidden, "the loyalty program is not available in this shop right now")
	}
	if req.CustomerID == "" {
		return Customer{}, Errorf(EForbidden, "sign in to save your birthday")
	}
	if !req.Birthday.Valid() {
		return Customer{}, Errorf(EInvalid, "%s is not a day of the year", req.Birthday)
	}
	if req.Staff != "" && req.Reason == "" {
		return Customer{}, Errorf(EInvalid, "a staff change of a birthday needs a reason")
	}
	var (
		out     Customer
		changed bool
		before  string
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.LockCustomer(ctx, shop.ID, CustomerRef{PlatformID: req.CustomerID})
		if err != nil {
			return err
		}
		out = c
		switch {
		case c.Birthday != nil && *c.Birthday == req.Birthday:
			return nil
		case c.Birthday != nil && req.Staff == "":
			return Errorf(EConflict, "your birthday is already saved as %s; ask the shop to correct it", c.Birthday)
		case c.Birthday != nil:
			before = c.Birthday.String()
		}
		if err := tx.SetBirthday(ctx, c.ID, req.Birthday); err != nil {
			return err
		}
		b := req.Birthday
		out.Birthday, changed = &b, true
		return nil
	})
	if err != nil {
		return Customer{}, err
	}
	if changed && req.Staff != "" {
		detail := fmt.Sprintf("customer %s: birthday %s → %s: %s", req.CustomerID, orNone(before), req.Birthday, req.Reason)
		// Tied to the customer: the line holds their birthday and staff's
		// free text, which redacting them must scrub.
		if err := s.store.AuditCustomer(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: req.Staff,
			Action: "change birthday", Outcome: AuditOK, Detail: detail}, out.ID); err != nil {
			return Customer{}, err
		}
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
