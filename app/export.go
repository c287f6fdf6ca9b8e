package app

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// exportBatch is how many rows an export reads at a time: exports stream,
// so a shop with millions of entries never sits in memory at once.
const exportBatch = 1000

// MemberHeader and LedgerHeader are the first rows of the CSV exports. The
// columns are a contract with whatever imports the files: add new ones at
// the end, never rename or reorder.
var (
	MemberHeader = []string{"customer_id", "email", "first_name", "last_name", "balance", "pending",
		"joined_at", "last_activity_at", "birthday"}
	LedgerHeader = []string{"entry_id", "customer_id", "email", "kind", "points", "balance_after",
		"pending_after", "order", "reason", "staff", "created_at"}
)

// MemberRecord is one customer as exported.
type MemberRecord struct {
	ID             int64  // internal id, the pagination key
	CustomerID     string // the platform's customer id
	Email          string
	FirstName      string
	LastName       string
	Balance        int64
	Pending        int64
	JoinedAt       time.Time
	LastActivityAt time.Time
	Birthday       *Birthday
	Redacted       bool
}

// LedgerRecord is one ledger entry as exported.
type LedgerRecord struct {
	EntryID      int64
	CustomerID   string // the platform's customer id
	Email        string
	Kind         EntryKind
	Points       int64
	BalanceAfter int64
	PendingAfter int64
	Order        string // the platform's order id, empty when not about an order
	Reason       string
	Staff        string
	CreatedAt    time.Time
	Redacted     bool
}

// ExportStore reads a shop's members and ledger in pages by id.
type ExportStore interface {
	// ExportMembers returns up to limit of the shop's customers with an id
	// above after, in id order.
	ExportMembers(ctx context.Context, shopID, after int64, limit int) ([]MemberRecord, error)
	// ExportLedger returns up to limit of the shop's ledger entries with an
	// id above after, in id order.
	ExportLedger(ctx context.Context, shopID, after int64, limit int) ([]LedgerRecord, error)
}

// ExportMembers writes the shop's customers to w as CSV (RFC 4180, UTF-8,
// a header row of MemberHeader). Redacted customers keep their row, so
// totals still add up, but without personal data.
func (s *Service) ExportMembers(ctx context.Context, shop Shop, w io.Writer) error {
	cw := newCSV(w)
	if err := cw.Write(MemberHeader); err != nil {
		return fmt.Errorf("export members: %w", err)
	}
	var after int64
	for {
		page, err := s.store.ExportMembers(ctx, shop.ID, after, exportBatch)
		if err != nil {
			return fmt.Errorf("export members of %s: %w", shop.Domain, err)
		}
		for _, m := range page {
			if m.Redacted {
				m.Email, m.FirstName, m.LastName, m.Birthday = "", "", "", nil
			}
			birthday := ""
			if m.Birthday != nil {
				birthday = fmt.Sprintf("%02d-%02d", int(m.Birthday.Month), m.Birthday.Day)
			}
			if err := cw.Write([]string{
				safeCell(m.CustomerID), safeCell(m.Email), safeCell(m.FirstName), safeCell(m.LastName),
				strconv.FormatInt(m.Balance, 10), strconv.FormatInt(m.Pending, 10),
				csvTime(m.JoinedAt), csvTime(m.LastActivityAt), birthday,
			}); err != nil {
				return fmt.Errorf("export members: %w", err)
			}
			after = m.ID
		}
		// Flushing per batch hands rows on while the next batch is read.
		if cw.Flush(); cw.Error() != nil {
			return fmt.Errorf("export members: %w", cw.Error())
		}
		if len(page) < exportBatch {
			return nil
		}
	}
}

// ExportLedger writes the shop's ledger to w as CSV (RFC 4180, UTF-8, a
// header row of LedgerHeader), oldest entry first. Entries of redacted
// customers are kept without their email.
func (s *Service) ExportLedger(ctx context.Context, shop Shop, w io.Writer) error {
	cw := newCSV(w)
	if err := cw.Write(LedgerHeader); err != nil {
		return fmt.Errorf("export ledger: %w", err)
	}
	var after int64
	for {
		page, err := s.store.ExportLedger(ctx, shop.ID, after, exportBatch)
		if err != nil {
			return fmt.Errorf("export ledger of %s: %w", shop.Domain, err)
		}
		for _, e := range page {
			if e.Redacted {
				e.Email = ""
			}
			if err := cw.Write([]string{
				strconv.FormatInt(e.EntryID, 10), safeCell(e.CustomerID), safeCell(e.Email), string(e.Kind),
				strconv.FormatInt(e.Points, 10), strconv.FormatInt(e.BalanceAfter, 10), strconv.FormatInt(e.PendingAfter, 10),
				safeCell(e.Order), safeCell(e.Reason), safeCell(e.Staff), csvTime(e.CreatedAt),
			}); err != nil {
				return fmt.Errorf("export ledger: %w", err)
			}
			after = e.EntryID
		}
		if cw.Flush(); cw.Error() != nil {
			return fmt.Errorf("export ledger: %w", cw.Error())
		}
		if len(page) < exportBatch {
			return nil
		}
	}
}

// newCSV writes RFC 4180 records: CRLF line ends, fields quoted when they
// hold a comma, quote or line break.
func newCSV(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return cw
}

// safeCell defuses CSV formula injection (OWASP): a spreadsheet runs a cell
// that starts with = + - or @ (or a tab or carriage return that hides one)
// as a formula, so such a text cell gets a leading apostrophe, which
// spreadsheets show as text. Only free-text columns go through it; numbers
// (a negative points value starts with -) are written as they are.
func safeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// csvTime writes an instant in RFC 3339 in UTC, to the second.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
