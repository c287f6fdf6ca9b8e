package app

import (
	"context"
	"strings"
	"time"
)

// ConsoleStore is what the staff console reads beyond the ledger itself.
type ConsoleStore interface {
	// SearchCustomers finds a shop's customers by q.Text, newest first,
	// with ids below q.Before when it is set; it returns up to q.Limit+1
	// so the caller can tell whether a page follows.
	SearchCustomers(ctx context.Context, shopID int64, q CustomerQuery) ([]Customer, error)
	// CustomersByEmail lists a shop's customers with an email, compared
	// without regard to case.
	CustomersByEmail(ctx context.Context, shopID int64, email string) ([]Customer, error)
	// LastActivity is when the customer last earned, spent or was adjusted.
	LastActivity(ctx context.Context, customerID int64) (time.Time, error)
	// CustomerOrders lists a customer's orders, newest first.
	CustomerOrders(ctx context.Context, shopID, customerID int64, limit int) ([]Order, error)
	// Entry is one of the shop's ledger entries.
	Entry(ctx context.Context, shopID, entryID int64) (Entry, error)
	// EntryByKey is the shop's entry with an idempotency key.
	EntryByKey(ctx context.Context, shopID int64, key string) (Entry, error)
	// Undos maps those of entryIDs that were undone to the entry that
	// undid them.
	Undos(ctx context.Context, shopID int64, entryIDs []int64) (map[int64]int64, error)
	// CreateAdjustmentRequest stores r, or returns the request stored
	// before under the same key with created false.
	CreateAdjustmentRequest(ctx context.Context, r AdjustmentRequest, key string) (stored AdjustmentRequest, created bool, err error)
	// AdjustmentRequests lists a shop's requests, newest first: all, or one
	// customer's (customerID > 0), or those with a status.
	AdjustmentRequests(ctx context.Context, shopID, customerID int64, status RequestStatus, limit int) ([]AdjustmentRequest, error)
	// AdjustmentReport sums the shop's staff adjustments made in [from, to)
	// by who made them.
	AdjustmentReport(ctx context.Context, shopID int64, from, to time.Time) ([]StaffAdjustments, error)
	// ImportedPoints is the net of a customer's imported points and how
	// many import entries they have.
	ImportedPoints(ctx context.Context, customerID int64) (points int64, entries int, err error)
	// AuditTrail pages a shop's audit lines, newest first, returning up to
	// q.Limit+1 of them.
	AuditTrail(ctx context.Context, shopDomain string, q AuditQuery) ([]AuditEntry, error)
}

// ConsoleTx is what console decisions do inside a ledger transaction.
type ConsoleTx interface {
	// LockAdjustmentRequest returns one of the shop's requests and holds
	// its row lock.
	LockAdjustmentRequest(ctx context.Context, shopID, id int64) (AdjustmentRequest, error)
	// DecideAdjustmentRequest records r's decision (status, decider, note,
	// time and, when approved, the entry).
	DecideAdjustmentRequest(ctx context.Context, r AdjustmentRequest) error
	// ImportedPoints is ConsoleStore.ImportedPoints under the customer's lock.
	ImportedPoints(ctx context.Context, customerID int64) (points int64, entries int, err error)
}

// StaffLabel is how a staff member is named in the ledger and the audit
// log: their name, and their email, which tells apart two of one name.
func StaffLabel(m Staff) string {
	if m.Name == "" {
		return m.Email
	}
	return m.Name + " <" + m.Email + ">"
}

// CustomerQuery asks for a page of customers. Text is an email or its
// beginning, part of a name, or a platform customer id; empty lists all.
type CustomerQuery struct {
	Text   string
	Before int64 // a cursor: the Next of the page before
	Limit  int
}

// CustomerPage is one page of customers; Next is the cursor of the page
// after, 0 on the last.
type CustomerPage struct {
	Customers []Customer
	Next      int64
}

// Page sizes of the console's lists.
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// cut makes a page of the up to limit+1 items a store returned: the
// first limit, and the cursor of the next page (the last item's id), 0
// when no item is left over.
func cut[T any](items []T, limit int, id func(T) int64) ([]T, int64) {
	if len(items) <= limit {
		return items, 0
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

func pageSize(n int) int {
	if n <= 0 {
		return DefaultPageSize
	}
	return min(n, MaxPageSize)
}

// SearchCustomers finds the shop's customers for support staff.
func (s *Service) SearchCustomers(ctx context.Context, shop Shop, q CustomerQuery) (CustomerPage, error) {
	q.Text, q.Limit = strings.TrimSpace(q.Text), pageSize(q.Limit)
	if len(q.Text) > 200 {
		return CustomerPage{}, Errorf(EInvalid, "a search is at most 200 characters")
	}
	found, err := s.store.SearchCustomers(ctx, shop.ID, q)
	if err != nil {
		return CustomerPage{}, err
	}
	var page CustomerPage
	page.Customers, page.Next = cut(found, q.Limit, func(c Customer) int64 { return c.ID })
	return page, nil
}

// CustomerFile is everything support needs on one customer's page.
type CustomerFile struct {
	Customer       Customer
	LastActivityAt time.Time
	// Lots still holding points, soonest expiry first.
	Lots []Lot
	// Entries are the latest ledger entries, newest first.
	Entries []Entry
	// Undone maps each undone adjustment to the entry that undid it.
	Undone        map[int64]int64
	Orders        []Order
	Redemptions   []Redemption
	Notifications []Notification
	Requests      []AdjustmentRequest
}

// How much of a customer's history the customer page shows.
const (
	fileEntries = 200
	fileOthers  = 50
)

// CustomerFile reads a customer's page.
func (s *Service) CustomerFile(ctx context.Context, shop Shop, platformID string) (CustomerFile, error) {
	c, err := s.store.CustomerByPlatformID(ctx, shop.ID, platformID)
	if err != nil {
		return CustomerFile{}, err
	}
	f := CustomerFile{Customer: c}
	if f.LastActivityAt, err = s.store.LastActivity(ctx, c.ID); err != nil {
		return CustomerFile{}, err
	}
	lots, err := s.store.Lots(ctx, c.ID)
	if err != nil {
		return CustomerFile{}, err
	}
	for _, l := range lots {
		if l.Remaining > 0 {
			f.Lots = append(f.Lots, l)
		}
	}
	if f.Entries, err = s.store.Entries(ctx, shop.ID, c.ID, fileEntries); err != nil {
		return CustomerFile{}, err
	}
	var adjustments []int64
	for _, e := range f.Entries {
		if e.Kind == KindAdjust {
			adjustments = append(adjustments, e.ID)
		}
	}
	if f.Undone, err = s.store.Undos(ctx, shop.ID, adjustments); err != nil {
		return CustomerFile{}, err
	}
	if f.Orders, err = s.store.CustomerOrders(ctx, shop.ID, c.ID, fileOthers); err != nil {
		return CustomerFile{}, err
	}
	if f.Redemptions, err = s.store.Redemptions(ctx, shop.ID, c.ID, fileOthers); err != nil {
		return CustomerFile{}, err
	}
	if f.Notifications, err = s.store.Notifications(ctx, shop.ID, c.ID, fileOthers); err != nil {
		return CustomerFile{}, err
	}
	if f.Requests, err = s.store.AdjustmentRequests(ctx, shop.ID, c.ID, "", fileOthers); err != nil {
		return CustomerFile{}, err
	}
	return f, nil
}

// AuditQuery asks for a page of a shop's audit log. Actor and Action keep
// the lines whose actor or action contain them.
type AuditQuery struct {
	Actor, Action string
	Before        int64 // a cursor: the Next of the page before
	Limit         int
}

// AuditPage is one page of the audit log; Next is the cursor of the page
// after, 0 on the last.
type AuditPage struct {
	Entries []AuditEntry
	Next    int64
}

// AuditTrail pages through a shop's audit log.
func (s *Service) AuditTrail(ctx context.Context, shop Shop, q AuditQuery) (AuditPage, error) {
	q.Actor, q.Action, q.Limit = strings.TrimSpace(q.Actor), strings.TrimSpace(q.Action), pageSize(q.Limit)
	lines, err := s.store.AuditTrail(ctx, shop.Domain, q)
	if err != nil {
		return AuditPage{}, err
	}
	var page AuditPage
	page.Entries, page.Next = cut(lines, q.Limit, func(e AuditEntry) int64 { return e.ID })
	return page, nil
}
