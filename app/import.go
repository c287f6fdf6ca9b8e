package app

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Balance imports bring shoppers' points over from another loyalty app.
//
// A file says, per customer, how many points they bring: the row's points
// are the customer's imported total, not an amount to add. Importing sets
// that total: the first import adds the points, importing the same file
// again adds nothing, and a newer export from the old app adds only what
// changed. That makes an import safe to repeat, which an idempotency key per
// file would not be (a corrected file is a new file).

// MaxImportRows bounds one file; larger migrations are split.
const MaxImportRows = 50_000

// ImportOptions say how to run an import.
type ImportOptions struct {
	// DryRun reports what the import would do and changes nothing.
	DryRun bool
	// Filename names the file in the ledger and the audit log.
	Filename string
}

// ImportOutcome is what became of one row.
type ImportOutcome string

// Row outcomes.
const (
	ImportAdd       ImportOutcome = "add"       // points added (or, in a dry run, to be added)
	ImportUnchanged ImportOutcome = "unchanged" // the customer's imported total is already the row's
	ImportNotFound  ImportOutcome = "not_found" // no such customer, and the row cannot create one
	ImportInvalid   ImportOutcome = "invalid"   // the row cannot be read
	ImportRefused   ImportOutcome = "refused"   // the change would take the balance below zero
)

// ImportRow is one row of a file and what became of it. Points is the
// row's total, Delta what it adds (negative when a newer file brings
// fewer points than were imported before).
type ImportRow struct {
	Line       int
	CustomerID string
	Email      string
	Points     int64
	Delta      int64
	Outcome    ImportOutcome
	Message    string
}

// ImportReport is what an import did, or would do in a dry run.
type ImportReport struct {
	DryRun      bool
	Rows        []ImportRow
	Customers   int   // customers whose points change
	PointsAdded int64 // the net of the changes
	Unchanged   int
	Failed      int // rows not found, invalid or refused
}

// importColumns are the columns an import reads; the rest are ignored, so
// this app's own member export (MemberHeader) imports as it is.
type importColumns struct {
	customerID, email, points, firstName, lastName int // -1 when absent
}

func readImportHeader(header []string) (importColumns, error) {
	cols := importColumns{-1, -1, -1, -1, -1}
	for i, name := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))) {
		case "customer_id", "platform_id":
			cols.customerID = i
		case "email":
			cols.email = i
		case "points":
			cols.points = i
		case "balance":
			if cols.points < 0 {
				cols.points = i
			}
		case "first_name":
			cols.firstName = i
		case "last_name":
			cols.lastName = i
		}
	}
	switch {
	case cols.points < 0:
		return cols, Errorf(EInvalid, "the file needs a points (or balance) column: the header row is %s", strings.Join(header, ","))
	case cols.customerID < 0 && cols.email < 0:
		return cols, Errorf(EInvalid, "the file needs a customer_id or an email column to find each customer")
	}
	return cols, nil
}

// cell reads column i of a row, without the quote that CSV exports put
// before cells a spreadsheet would run as a formula.
func cell(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	v := strings.TrimSpace(row[i])
	if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		v = v[1:]
	}
	return v
}

// ImportBalances imports a CSV of balances for staff member m. Rows are
// matched by customer_id (a customer the app has not seen yet is created)
// or else by email. Each row is its own transaction: a bad row is
// reported and the others still apply.
func (s *Service) ImportBalances(ctx context.Context, shop Shop, m Staff, r io.Reader, opt ImportOptions) (ImportReport, error) {
	if !m.Can(AdjustBalance) || m.ShopID != shop.ID {
		return ImportReport{}, Errorf(EForbidden, "your role (%s) may not adjust balances", m.Role)
	}
	opt.Filename = strings.TrimSpace(opt.Filename)
	if opt.Filename == "" {
		opt.Filename = "balances.csv"
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return ImportReport{}, err
	}
	in := csv.NewReader(r)
	in.FieldsPerRecord = -1 // short rows are reported, not fatal
	in.ReuseRecord = true
	header, err := in.Read()
	if err == io.EOF {
		return ImportReport{}, Errorf(EInvalid, "the file is empty")
	}
	if err != nil {
		return ImportReport{}, Errorf(EInvalid, "the file is not CSV: %v", err)
	}
	cols, err := readImportHeader(append([]string(nil), header...))
	if err != nil {
		return ImportReport{}, err
	}
	rep := ImportReport{DryRun: opt.DryRun}
	seen := map[string]int{} // customer key -> line, so one file names a customer once
	for {
		row, err := in.Read()
		if err == io.EOF {
			break
		}
		line, _ := in.FieldPos(0)
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			rep.add(ImportRow{Line: parseErr.Line, Outcome: ImportInvalid, Message: "not valid CSV: " + parseErr.Err.Error()})
			continue
		}
		if err != nil {
			return ImportReport{}, err
		}
		if len(rep.Rows) >= MaxImportRows {
			return ImportReport{}, Errorf(EInvalid, "a file imports at most %d rows: split it", MaxImportRows)
		}
		res := s.importRow(ctx, shop, prog, m, row, cols, line, opt, seen)
		rep.add(res)
	}
	if len(rep.Rows) == 0 {
		return rep, Errorf(EInvalid, "the file has a header row and no customers")
	}
	if !opt.DryRun {
		s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m), Action: "import balances",
			Outcome: AuditOK, Detail: fmt.Sprintf("%s: %d rows, %d customers changed by %+d points, %d unchanged, %d failed",
				opt.Filename, len(rep.Rows), rep.Customers, rep.PointsAdded, rep.Unchanged, rep.Failed)})
	}
	return rep, nil
}

func (rep *ImportReport) add(r ImportRow) {
	rep.Rows = append(rep.Rows, r)
	switch r.Outcome {
	case ImportAdd:
		rep.Customers++
		rep.PointsAdded += r.Delta
	case ImportUnchanged:
		rep.Unchanged++
	default:
		rep.Failed++
	}
}

func (s *Service) importRow(ctx context.Context, shop Shop, prog Program, m Staff, row []string, cols importColumns,
	line int, opt ImportOptions, seen map[string]int) ImportRow {
	res := ImportRow{Line: line, CustomerID: cell(row, cols.customerID), Email: NormalizeEmail(cell(row, cols.email))}
	raw := cell(row, cols.points)
	points, err := strconv.ParseInt(strings.ReplaceAll(raw, " ", ""), 10, 64)
	switch {
	case err != nil || points < 0 || points > MaxAdjustment:
		res.Outcome, res.Message = ImportInvalid, fmt.Sprintf("points must be a whole number from 0 to %d, not %q", MaxAdjustment, raw)
		return res
	case res.CustomerID == "" && res.Email == "":
		res.Outcome, res.Message = ImportInvalid, "the row has neither a customer id nor an email"
		return res
	case len(res.CustomerID) > 64 || !utf8.ValidString(res.CustomerID+res.Email):
		res.Outcome, res.Message = ImportInvalid, "the customer id or email is not valid text"
		return res
	}
	res.Points = points
	key := "id:" + res.CustomerID
	if res.CustomerID == "" {
		key = "email:" + res.Email
	}
	if earlier, dup := seen[key]; dup {
		res.Outcome, res.Message = ImportInvalid, fmt.Sprintf("the same customer is on line %d already", earlier)
		return res
	}
	seen[key] = line

	c, err := s.importCustomer(ctx, shop, res)
	switch {
	case ErrorCode(err) == ENotFound && res.CustomerID != "":
		// A shopper the app has not heard of yet: their platform id is
		// enough to open their account.
		if opt.DryRun {
			res.Delta, res.Outcome, res.Message = points, ImportAdd, "new customer"
			if points == 0 {
				res.Outcome, res.Message = ImportUnchanged, "new customer with no points"
			}
			return res
		}
	case err != nil:
		res.Outcome, res.Message = ImportNotFound, ErrorMessage(err)
		if ErrorCode(err) == EInvalid {
			res.Outcome = ImportInvalid
		}
		return res
	}

	if opt.DryRun {
		imported, _, err := s.store.ImportedPoints(ctx, c.ID)
		if err != nil {
			res.Outcome, res.Message = ImportInvalid, ErrorMessage(err)
			return res
		}
		return judgeImport(res, c, imported)
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if c.ID == 0 {
			c, err = tx.LockCustomer(ctx, shop.ID, CustomerRef{PlatformID: res.CustomerID, Email: res.Email,
				FirstName: cell(row, cols.firstName), LastName: cell(row, cols.lastName)})
		} else {
			c, err = tx.LockCustomerByID(ctx, c.ID)
		}
		if err != nil {
			return err
		}
		imported, entries, err := tx.ImportedPoints(ctx, c.ID)
		if err != nil {
			return err
		}
		if res = judgeImport(res, c, imported); res.Outcome != ImportAdd {
			return nil
		}
		_, err = tx.Post(ctx, Posting{
			ShopID: shop.ID, CustomerID: c.ID, Kind: KindAdjust, Points: res.Delta,
			Cause: Cause{Staff: StaffLabel(m), ReasonCode: ReasonImport,
				Reason: fmt.Sprintf("%s from %s, line %d (imported total %d)", ReasonImport.Label(), opt.Filename, line, points)},
			// The count of earlier imports makes the key unique; the
			// customer's lock makes it stable.
			IdempotencyKey: fmt.Sprintf("import:%d:%d", c.ID, entries+1),
			At:             now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays), SpendPending: true,
		})
		return err
	})
	if err != nil {
		res.Outcome, res.Message, res.Delta = ImportInvalid, ErrorMessage(err), 0
	}
	return res
}

// importCustomer finds a row's customer: by id when the row has one, else
// by an email that names exactly one customer.
func (s *Service) importCustomer(ctx context.Context, shop Shop, row ImportRow) (Customer, error) {
	if row.CustomerID != "" {
		return s.store.CustomerByPlatformID(ctx, shop.ID, row.CustomerID)
	}
	found, err := s.store.CustomersByEmail(ctx, shop.ID, row.Email)
	switch {
	case err != nil:
		return Customer{}, err
	case len(found) == 0:
		return Customer{}, Errorf(ENotFound, "no customer with the email %s: add a customer_id column to create them", row.Email)
	case len(found) > 1:
		return Customer{}, Errorf(EInvalid, "%d customers have the email %s: use the customer_id column", len(found), row.Email)
	}
	return found[0], nil
}

// judgeImport decides a row for a customer who has imported points before.
func judgeImport(res ImportRow, c Customer, imported int64) ImportRow {
	res.CustomerID, res.Delta = c.PlatformID, res.Points-imported
	switch {
	case res.Delta == 0:
		res.Outcome, res.Message = ImportUnchanged, "already imported"
	case res.Delta < 0 && -res.Delta > c.Balance+c.Pending:
		res.Outcome, res.Message = ImportRefused, fmt.Sprintf("the file brings %d fewer points than imported before, and the customer has only %d left",
			-res.Delta, c.Balance+c.Pending)
	default:
		res.Outcome = ImportAdd
	}
	return res
}
