package store

import (
	"context"
	"fmt"
	"time"

	"loyalty/app"
)

type exportMemberRow struct {
	ID             int64
	PlatformID     string
	Email          string
	FirstName      string
	LastName       string
	Balance        int64
	Pending        int64
	CreatedAt      time.Time
	LastActivityAt time.Time
	BirthMonth     *int
	BirthDay       *int
	RedactedAt     *time.Time
}

// ExportMembers reads one page of the shop's customers: a range of the
// primary key from after, so each page costs the same however deep it is.
func (s *Store) ExportMembers(ctx context.Context, shopID, after int64, limit int) ([]app.MemberRecord, error) {
	var rows []exportMemberRow
	err := s.db.WithContext(ctx).Raw(`SELECT id, platform_id, email, first_name, last_name, balance, pending,
			created_at, last_activity_at, birth_month, birth_day, redacted_at
		FROM customers WHERE shop_id = ? AND id > ? ORDER BY id LIMIT ?`, shopID, after, limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("export members: %w", translate(err))
	}
	out := make([]app.MemberRecord, len(rows))
	for i, r := range rows {
		out[i] = app.MemberRecord{ID: r.ID, CustomerID: r.PlatformID, Email: r.Email, FirstName: r.FirstName,
			LastName: r.LastName, Balance: r.Balance, Pending: r.Pending, JoinedAt: r.CreatedAt,
			LastActivityAt: r.LastActivityAt, Redacted: r.RedactedAt != nil}
		if r.BirthMonth != nil && r.BirthDay != nil {
			out[i].Birthday = &app.Birthday{Month: time.Month(*r.BirthMonth), Day: *r.BirthDay}
		}
	}
	return out, nil
}

type exportEntryRow struct {
	ID           int64
	PlatformID   string
	Email        string
	Kind         string
	Points       int64
	BalanceAfter int64
	PendingAfter int64
	CauseOrder   string
	Reason       string
	Staff        string
	CreatedAt    time.Time
	RedactedAt   *time.Time
}

// ExportLedger reads one page of the shop's ledger by entry id. The ledger
// has no (shop_id, id) index: the primary key range is walked and other
// shops' entries filtered out, which is bounded by the limit of matches.
func (s *Store) ExportLedger(ctx context.Context, shopID, after int64, limit int) ([]app.LedgerRecord, error) {
	var rows []exportEntryRow
	err := s.db.WithContext(ctx).Raw(`SELECT e.id, c.platform_id, c.email, e.kind, e.points, e.balance_after,
			e.pending_after, e.cause_order, e.reason, e.staff, e.created_at, c.redacted_at
		FROM ledger_entries e JOIN customers c ON c.id = e.customer_id
		WHERE e.shop_id = ? AND e.id > ? ORDER BY e.id LIMIT ?`, shopID, after, limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("export ledger: %w", translate(err))
	}
	out := make([]app.LedgerRecord, len(rows))
	for i, r := range rows {
		out[i] = app.LedgerRecord{EntryID: r.ID, CustomerID: r.PlatformID, Email: r.Email, Kind: app.EntryKind(r.Kind),
			Points: r.Points, BalanceAfter: r.BalanceAfter, PendingAfter: r.PendingAfter, Order: r.CauseOrder,
			Reason: r.Reason, Staff: r.Staff, CreatedAt: r.CreatedAt, Redacted: r.RedactedAt != nil}
	}
	return out, nil
}
