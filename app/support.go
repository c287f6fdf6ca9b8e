package app

import (
	"context"
	"strconv"
	"strings"
)

// ResendNotification sends a message to a shopper again, as support does
// when a shopper says it never arrived: a new notification with the same
// content, to the customer's current address. key makes a double click
// send once. A message the shopper must not get (unsubscribed, switched off,
// no address) is refused with the reason, not recorded as skipped.
func (s *Service) ResendNotification(ctx context.Context, shop Shop, m Staff, notificationID int64, key string) (Notification, error) {
	key = strings.TrimSpace(key)
	switch {
	case !m.Can(ResendMessages) || m.ShopID != shop.ID:
		return Notification{}, Errorf(EForbidden, "your role (%s) may not resend messages", m.Role)
	case key == "" || len(key) > 200:
		return Notification{}, Errorf(EInvalid, "a resend needs an idempotency key of at most 200 characters")
	}
	owner, n, err := s.store.Notification(ctx, notificationID)
	if err != nil || owner.ID != shop.ID {
		return Notification{}, Errorf(ENotFound, "no message %d in this shop", notificationID)
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Notification{}, err
	}
	c, err := s.store.CustomerByID(ctx, shop.ID, n.CustomerID)
	if err != nil {
		return Notification{}, err
	}
	if skip := whyNotSend(shop, prog, c, n.Notice.Kind); skip != "" {
		return Notification{}, Errorf(EInvalid, "the message cannot be sent again: %s", skip)
	}
	again := n.Notice
	again.Key = "resend:" + strconv.FormatInt(n.ID, 10) + ":" + strconv.FormatInt(m.ID, 10) + ":" + key
	sent, added, err := s.notify(ctx, shop, again)
	if err != nil {
		return Notification{}, err
	}
	if added {
		s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m), Action: "message resend",
			Outcome: AuditOK, Detail: string(n.Notice.Kind) + " message " + strconv.FormatInt(n.ID, 10) + " to customer " + c.PlatformID +
				" as message " + strconv.FormatInt(sent.ID, 10)})
	}
	return sent, nil
}

// StaffDataExport is a customer's data export made by support (a shopper
// asked them, not Shopify): everything the app holds about the customer,
// kept like the platform's requests and audited with who made it.
func (s *Service) StaffDataExport(ctx context.Context, shop Shop, m Staff, customerID string) (DataExport, error) {
	if !m.Can(ExportCustomerData) || m.ShopID != shop.ID {
		return DataExport{}, Errorf(EForbidden, "your role (%s) may not export a customer's data", m.Role)
	}
	if _, err := s.store.CustomerByPlatformID(ctx, shop.ID, customerID); err != nil {
		return DataExport{}, err
	}
	requestID := "staff:" + strconv.FormatInt(m.ID, 10) + ":" + s.now().UTC().Format("20060102T150405.000000000")
	e, err := s.ExportCustomerData(ctx, shop, DataRequest{CustomerID: customerID, RequestID: requestID})
	if err != nil {
		return DataExport{}, err
	}
	return e, s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m), Action: "customer data export",
		Outcome: AuditOK, Detail: "customer " + customerID + ", export " + strconv.FormatInt(e.ID, 10)})
}
