package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Privacy requests come from the platform on behalf of a shopper or a
// merchant: a customer asks what the app holds about them, a customer asks to
// be forgotten, and a shop that uninstalled the app is erased. They are
// honoured whatever the shop's status: Shopify sends shop/redact 48 hours
// after the uninstall, and customer requests may arrive in between.

// DataRequest is a customer's request, made through the merchant, for the
// data the app holds about them.
type DataRequest struct {
	CustomerID      string   // the platform's customer id
	Email           string   // as the platform knows it; recorded in the export
	OrdersRequested []string // platform order ids the request covers
	RequestID       string   // the platform's id of the request: one export per request
}

// RedactRequest is a customer's request to be forgotten.
type RedactRequest struct {
	CustomerID     string // the platform's customer id
	Email          string
	OrdersToRedact []string // platform order ids
}

// DataExportStatus is where an export is on its way to the merchant.
type DataExportStatus string

// Data export statuses. The app answers a data request by preparing the
// export; support hands it to the merchant and marks it delivered.
const (
	ExportReady     DataExportStatus = "ready"
	ExportDelivered DataExportStatus = "delivered"
)

// Valid reports whether s is a known export status.
func (s DataExportStatus) Valid() bool { return s == ExportReady || s == ExportDelivered }

// DataExport is the answer to one data request.
type DataExport struct {
	ID         int64
	ShopID     int64
	CustomerID string // the platform's customer id the request named
	RequestID  string
	Status     DataExportStatus
	// Document is the JSON of a CustomerDataDocument. Listings leave it out.
	Document  []byte
	CreatedAt time.Time
}

// CustomerDataDocument is the export a merchant receives: everything the
// app holds about one customer of their shop. A customer the app never heard
// of gets a document that says so, with empty sections.
type CustomerDataDocument struct {
	Shop          string               `json:"shop"`
	Platform      Platform             `json:"platform"`
	RequestID     string               `json:"request_id"`
	GeneratedAt   time.Time            `json:"generated_at"`
	Request       ExportedRequest      `json:"request"`
	CustomerFound bool                 `json:"customer_found"`
	Note          string               `json:"note"`
	Customer      *ExportedCustomer    `json:"customer"`
	LedgerEntries []ExportedEntry      `json:"ledger_entries"`
	Lots          []ExportedLot        `json:"lots"`
	Orders        []ExportedOrder      `json:"orders"`
	Redemptions   []ExportedRedemption `json:"redemptions"`
	// Messages are the emails the app sent or meant to send the customer.
	Messages []ExportedMessage `json:"messages"`
	// UnsubscribedAt is when the customer unsubscribed from its emails.
	UnsubscribedAt *time.Time `json:"unsubscribed_at,omitempty"`
}

// ExportedMessage is one message to the customer and what became of it.
type ExportedMessage struct {
	Kind      MessageKind        `json:"kind"`
	Email     string             `json:"email"`
	Language  string             `json:"language"`
	Status    NotificationStatus `json:"status"`
	CreatedAt time.Time          `json:"created_at"`
	SentAt    *time.Time         `json:"sent_at,omitempty"`
}

// ExportedRedemption is a reward the customer redeemed, with its code.
type ExportedRedemption struct {
	Reward     string           `json:"reward"`
	Kind       RewardKind       `json:"kind"`
	Points     int64            `json:"points"`
	Amount     string           `json:"amount,omitempty"`
	Percentage int              `json:"percentage,omitempty"`
	Code       string           `json:"code"`
	Status     RedemptionStatus `json:"status"`
	ExpiresAt  *time.Time       `json:"expires_at,omitempty"`
	OrderID    string           `json:"order_id,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
}

// ExportedRequest repeats what the request asked for.
type ExportedRequest struct {
	CustomerID      string   `json:"customer_id"`
	Email           string   `json:"email"`
	OrdersRequested []string `json:"orders_requested"`
}

// ExportedCustomer is the customer as the app stores them.
type ExportedCustomer struct {
	CustomerID string    `json:"customer_id"`
	Email      string    `json:"email"`
	FirstName  string    `json:"first_name"`
	LastName   string    `json:"last_name"`
	Locale     string    `json:"locale"`
	Balance    int64     `json:"points_balance"`
	Pending    int64     `json:"points_pending"`
	Birthday   string    `json:"birthday,omitempty"` // MM-DD
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ExportedEntry is one line of the customer's points ledger.
type ExportedEntry struct {
	ID           int64     `json:"id"`
	Kind         EntryKind `json:"kind"`
	Points       int64     `json:"points"`
	Unrecovered  int64     `json:"unrecovered,omitempty"`
	BalanceAfter int64     `json:"balance_after"`
	PendingAfter int64     `json:"pending_after"`
	OrderID      string    `json:"order_id,omitempty"`
	RefundID     string    `json:"refund_id,omitempty"`
	Job          string    `json:"job,omitempty"`
	Staff        string    `json:"staff,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// ExportedLot is a batch of earned points and what is left of it.
type ExportedLot struct {
	Points      int64      `json:"points"`
	Remaining   int64      `json:"remaining"`
	EarnedAt    time.Time  `json:"earned_at"`
	AvailableAt time.Time  `json:"available_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// ExportedOrder is what the app remembers of one of the customer's orders.
type ExportedOrder struct {
	OrderID        string           `json:"order_id"`
	Name           string           `json:"name"`
	Status         OrderStatus      `json:"status"`
	Currency       string           `json:"currency"`
	Eligible       string           `json:"eligible_amount"`
	Refunded       string           `json:"refunded_amount"`
	PointsEarned   int64            `json:"points_earned"`
	PointsReversed int64            `json:"points_reversed"`
	PaidAt         *time.Time       `json:"paid_at"`
	CancelledAt    *time.Time       `json:"cancelled_at"`
	Refunds        []ExportedRefund `json:"refunds"`
}

// ExportedRefund is a refund of an order as far as points go.
type ExportedRefund struct {
	RefundID    string     `json:"refund_id"`
	Lines       string     `json:"lines"`
	LinesTax    string     `json:"lines_tax"`
	Shipping    string     `json:"shipping"`
	ShippingTax string     `json:"shipping_tax"`
	RefundedAt  *time.Time `json:"refunded_at"`
}

// CustomerRecords is everything the store holds about one customer of a
// shop, read at one instant.
type CustomerRecords struct {
	Customer *Customer // nil when the shop has no such customer
	Entries  []Entry   // oldest first
	Lots     []Lot
	Orders   []OrderRecord
}

// OrderRecord is an order with the refunds recorded against it.
type OrderRecord struct {
	Order
	Refunds []OrderRefunded
}

// Redaction is what redacting a customer changed.
type Redaction struct {
	CustomerID       int64 // the internal id of the customer redacted, 0 when none was found
	ExportsDeleted   int64
	PayloadsScrubbed int64 // stored webhook payloads cleared because they named the customer
	// AuditScrubbed counts audit lines whose detail was replaced because
	// they were about the customer; who did what, and when, stays.
	AuditScrubbed int64
}

// Erasure is what erasing a shop changed.
type Erasure struct {
	// Reinstalled means the shop is active again and nothing was erased.
	Reinstalled bool
	Found       bool // the shop was still there
	Customers   int64
	Orders      int64
	Deliveries  int64
}

// PrivacyStore is the persistence privacy requests need.
type PrivacyStore interface {
	// CustomerRecords reads in one snapshot the shop's customer with the
	// platform id, their entries, lots and orders, and any of the shop's
	// orders among orderIDs.
	CustomerRecords(ctx context.Context, shopID int64, platformID string, orderIDs []string) (CustomerRecords, error)
	// SaveDataExport stores e unless the shop has an export for the same
	// request, and returns the stored export either way.
	SaveDataExport(ctx context.Context, e DataExport) (DataExport, error)
	// DataExportByRequest finds the export made for a request.
	DataExportByRequest(ctx context.Context, shopID int64, requestID string) (DataExport, error)
	// DataExports lists a shop's exports, newest first, without documents.
	DataExports(ctx context.Context, shopID int64) ([]DataExport, error)
	DataExport(ctx context.Context, shopID, id int64) (DataExport, error)
	SetDataExportStatus(ctx context.Context, shopID, id int64, status DataExportStatus) error
	// AuditCustomer writes an audit line about one customer (internal id),
	// so that redacting the customer finds the line whatever its text says.
	AuditCustomer(ctx context.Context, e AuditEntry, customerID int64) error
	// RedactCustomer anonymises the customer, deletes their exports,
	// clears the shop's stored webhook payloads that name them or the
	// orders, and scrubs the details of audit lines about them, in one
	// transaction.
	RedactCustomer(ctx context.Context, shop Shop, r RedactRequest) (Redaction, error)
	// EraseShop deletes everything held for the shop's domain in one
	// transaction, unless the shop is active again.
	EraseShop(ctx context.Context, shop Shop) (Erasure, error)
}

// Reasons a privacy request changes nothing.
const (
	SkipNothingToRedact Skipped = "nothing to redact"
	SkipShopReinstalled Skipped = "shop was reinstalled after asking to be erased"
	SkipShopAlreadyGone Skipped = "shop already erased"
)

// noDataNote is what an export says when the app holds nothing about the
// customer: the merchant must still answer the request.
const noDataNote = "The app holds no data about this customer."

// ExportCustomerData answers a data request with a document of everything
// the app holds about the customer in the shop, and keeps it for the merchant.
// The same request always gets the export it got the first time.
func (s *Service) ExportCustomerData(ctx context.Context, shop Shop, req DataRequest) (DataExport, error) {
	req.CustomerID, req.RequestID = strings.TrimSpace(req.CustomerID), strings.TrimSpace(req.RequestID)
	if req.CustomerID == "" || req.RequestID == "" {
		return DataExport{}, Errorf(EInvalid, "a data request needs a customer id and a request id")
	}
	existing, err := s.store.DataExportByRequest(ctx, shop.ID, req.RequestID)
	if err == nil {
		return readable(existing), nil
	}
	if ErrorCode(err) != ENotFound {
		return DataExport{}, err
	}
	recs, err := s.store.CustomerRecords(ctx, shop.ID, req.CustomerID, req.OrdersRequested)
	if err != nil {
		return DataExport{}, err
	}
	document := customerDataDocument(shop, req, recs, s.now().UTC())
	if recs.Customer != nil {
		redemptions, err := s.store.Redemptions(ctx, shop.ID, recs.Customer.ID, 100000)
		if err != nil {
			return DataExport{}, err
		}
		for _, r := range redemptions {
			er := ExportedRedemption{Reward: r.RewardName, Kind: r.Kind, Points: r.Points, Percentage: r.Percentage,
				Code: r.Code, Status: r.Status, ExpiresAt: r.ExpiresAt, OrderID: r.OrderID, CreatedAt: r.CreatedAt}
			if r.Amount > 0 {
				er.Amount = r.Amount.String()
			}
			document.Redemptions = append(document.Redemptions, er)
		}
		messages, err := s.store.Notifications(ctx, shop.ID, recs.Customer.ID, 100000)
		if err != nil {
			return DataExport{}, err
		}
		for _, n := range messages {
			document.Messages = append(document.Messages, ExportedMessage{Kind: n.Notice.Kind, Email: n.Email,
				Language: n.Locale, Status: n.Status, CreatedAt: n.CreatedAt, SentAt: n.SentAt})
		}
		if document.UnsubscribedAt, err = s.store.Unsubscribed(ctx, shop.ID, recs.Customer.ID); err != nil {
			return DataExport{}, err
		}
	}
	doc, err := json.MarshalIndent(document, "", "  ")
	if err != nil {
		return DataExport{}, fmt.Errorf("encode data export: %w", err)
	}
	// A concurrent delivery of the same request may have saved its export
	// meanwhile; the store then returns that one, so both answer alike.
	saved, err := s.store.SaveDataExport(ctx, DataExport{ShopID: shop.ID, CustomerID: req.CustomerID,
		RequestID: req.RequestID, Status: ExportReady, Document: doc})
	return readable(saved), err
}

// readable lays a stored document out in the order CustomerDataDocument
// declares, indented: the database keeps it as jsonb, which sorts keys by
// length. Documents are only ever written from that type, so nothing is lost.
func readable(e DataExport) DataExport {
	if len(e.Document) == 0 {
		return e
	}
	var doc CustomerDataDocument
	if json.Unmarshal(e.Document, &doc) != nil {
		return e
	}
	if b, err := json.MarshalIndent(doc, "", "  "); err == nil {
		e.Document = b
	}
	return e
}

func customerDataDocument(shop Shop, req DataRequest, recs CustomerRecords, now time.Time) CustomerDataDocument {
	doc := CustomerDataDocument{
		Shop: shop.Domain, Platform: shop.Platform, RequestID: req.RequestID, GeneratedAt: now,
		Request: ExportedRequest{CustomerID: req.CustomerID, Email: req.Email,
			OrdersRequested: append([]string{}, req.OrdersRequested...)},
		LedgerEntries: []ExportedEntry{}, Lots: []ExportedLot{}, Orders: []ExportedOrder{}, Redemptions: []ExportedRedemption{},
		Messages: []ExportedMessage{},
	}
	if c := recs.Customer; c != nil {
		doc.CustomerFound = true
		doc.Customer = &ExportedCustomer{CustomerID: c.PlatformID, Email: c.Email, FirstName: c.FirstName,
			LastName: c.LastName, Locale: c.Locale, Balance: c.Balance, Pending: c.Pending,
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
		if c.Birthday != nil {
			doc.Customer.Birthday = c.Birthday.String()
		}
	}
	for _, e := range recs.Entries {
		doc.LedgerEntries = append(doc.LedgerEntries, ExportedEntry{ID: e.ID, Kind: e.Kind, Points: e.Points,
			Unrecovered: e.Unrecovered, BalanceAfter: e.BalanceAfter, PendingAfter: e.PendingAfter,
			OrderID: e.Cause.OrderID, RefundID: e.Cause.RefundID, Job: e.Cause.Job, Staff: e.Cause.Staff,
			Reason: e.Cause.Reason, CreatedAt: e.CreatedAt})
	}
	for _, l := range recs.Lots {
		doc.Lots = append(doc.Lots, ExportedLot{Points: l.Points, Remaining: l.Remaining, EarnedAt: l.EarnedAt,
			AvailableAt: l.AvailableAt, ExpiresAt: l.ExpiresAt})
	}
	for _, o := range recs.Orders {
		eo := ExportedOrder{OrderID: o.PlatformID, Name: o.Name, Status: o.Status, Currency: o.Currency,
			Eligible: o.Eligible.String(), Refunded: o.Refunded.String(), PointsEarned: o.PointsEarned,
			PointsReversed: o.PointsReversed, PaidAt: o.PaidAt, CancelledAt: o.CancelledAt,
			Refunds: []ExportedRefund{}}
		for _, r := range o.Refunds {
			er := ExportedRefund{RefundID: r.RefundID, Lines: r.Lines.String(), LinesTax: r.LinesTax.String(),
				Shipping: r.Shipping.String(), ShippingTax: r.ShippingTax.String()}
			if !r.RefundedAt.IsZero() {
				at := r.RefundedAt
				er.RefundedAt = &at
			}
			eo.Refunds = append(eo.Refunds, er)
		}
		doc.Orders = append(doc.Orders, eo)
	}
	if !doc.CustomerFound && len(doc.Orders) == 0 {
		doc.Note = noDataNote
	}
	return doc
}

// RedactCustomer forgets a customer: their email, names and locale are
// cleared and their platform id replaced, so nothing left identifies them,
// while their ledger, lots and balance stay and the books still add up.
// Their data exports are deleted, and so are the shop's stored webhook
// payloads that name them or the orders to redact. Audit lines about them
// (staff correcting a birthday, adjusting points, with free-text reasons)
// lose their detail but keep who did what and when, so staff stay
// accountable. A customer the app does not know, or has already redacted,
// is not an error.
func (s *Service) RedactCustomer(ctx context.Context, shop Shop, req RedactRequest) (Outcome, error) {
	req.CustomerID = strings.TrimSpace(req.CustomerID)
	req.Email = strings.TrimSpace(req.Email)
	if req.CustomerID == "" {
		return Outcome{}, Errorf(EInvalid, "a redaction request needs a customer id")
	}
	r, err := s.store.RedactCustomer(ctx, shop, req)
	if err != nil {
		return Outcome{}, err
	}
	var done []string
	if r.CustomerID != 0 {
		// Not the internal id: the detail must not link the platform's id
		// back to the anonymised row.
		done = append(done, "redacted customer "+req.CustomerID)
	}
	if r.ExportsDeleted > 0 {
		done = append(done, plural(r.ExportsDeleted, "data export")+" deleted")
	}
	if r.PayloadsScrubbed > 0 {
		done = append(done, plural(r.PayloadsScrubbed, "stored webhook payload")+" cleared")
	}
	if r.AuditScrubbed > 0 {
		done = append(done, plural(r.AuditScrubbed, "audit line")+" scrubbed")
	}
	if len(done) == 0 {
		return Outcome{Skipped: SkipNothingToRedact,
			Detail: fmt.Sprintf("nothing to redact: customer %s is unknown or already redacted", req.CustomerID)}, nil
	}
	return Outcome{Detail: strings.Join(done, "; ")}, nil
}

// EraseShop deletes everything the app holds for a shop: its program,
// customers, orders, ledger, lots, exports and webhook deliveries. A shop
// that is active again (the merchant reinstalled the app after uninstalling
// it) is not erased; a shop already erased is nothing to do.
func (s *Service) EraseShop(ctx context.Context, shop Shop) (Outcome, error) {
	reinstalled := Outcome{Skipped: SkipShopReinstalled,
		Detail: "not erased: the shop reinstalled the app after uninstalling it"}
	if shop.Active() {
		return reinstalled, nil
	}
	e, err := s.store.EraseShop(ctx, shop)
	switch {
	case err != nil:
		return Outcome{}, err
	case e.Reinstalled:
		return reinstalled, nil
	case !e.Found && e.Deliveries == 0:
		return Outcome{Skipped: SkipShopAlreadyGone, Detail: "nothing to erase: shop already erased"}, nil
	}
	return Outcome{Detail: fmt.Sprintf("erased shop %s: %s, %s, %s", shop.Domain, plural(e.Customers, "customer"),
		plural(e.Orders, "order"), plural(e.Deliveries, "webhook delivery record"))}, nil
}

// DataExports lists a shop's data exports, newest first. The documents are
// left out; DataExport returns one with its document.
func (s *Service) DataExports(ctx context.Context, shop Shop) ([]DataExport, error) {
	return s.store.DataExports(ctx, shop.ID)
}

// DataExport returns one of a shop's data exports with its document.
func (s *Service) DataExport(ctx context.Context, shop Shop, id int64) (DataExport, error) {
	e, err := s.store.DataExport(ctx, shop.ID, id)
	return readable(e), err
}

// MarkDataExportDelivered records that support handed the export to the
// merchant.
func (s *Service) MarkDataExportDelivered(ctx context.Context, shop Shop, id int64) error {
	return s.store.SetDataExportStatus(ctx, shop.ID, id, ExportDelivered)
}

// Mentions reports whether a payload names a customer: holds one of ids
// as a whole number (not as part of a longer one, so customer 12 is not
// named by order 4123) or, ignoring case, the email. Redaction finds with
// it what it must clear, wherever the payload is kept.
func Mentions(payload []byte, ids []string, email string) bool {
	email = strings.ToLower(strings.TrimSpace(email))
	if email != "" && bytes.Contains(bytes.ToLower(payload), []byte(email)) {
		return true
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		for from := 0; ; {
			i := bytes.Index(payload[from:], []byte(id))
			if i < 0 {
				break
			}
			start, end := from+i, from+i+len(id)
			if (start == 0 || !isDigit(payload[start-1])) && (end == len(payload) || !isDigit(payload[end])) {
				return true
			}
			from = start + 1
		}
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
