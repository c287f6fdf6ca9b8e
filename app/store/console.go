package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// likeEscaper makes text match itself literally in a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchCustomers matches what support staff type: a platform id exactly,
// the beginning of an email (served by customers_email_prefix), or any
// part of a name (customers_name_trgm). Text with an @ is an email and
// nothing else.
func (s *Store) SearchCustomers(ctx context.Context, shopID int64, q app.CustomerQuery) ([]app.Customer, error) {
	where := []string{"shop_id = ?"}
	args := []any{shopID}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	if text := strings.ToLower(q.Text); text != "" {
		prefix := likeEscaper.Replace(text) + "%"
		if strings.Contains(text, "@") {
			where, args = append(where, `lower(email) LIKE ?`), append(args, prefix)
		} else {
			// Each branch has its index (the shop's platform ids, email
			// prefixes, name trigrams), so the planner ORs three bitmaps.
			where = append(where, `(platform_id = ? OR lower(email) LIKE ? OR lower(first_name || ' ' || last_name) LIKE ?)`)
			args = append(args, q.Text, prefix, "%"+prefix)
		}
	}
	args = append(args, q.Limit+1)
	var rows []customerRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+customerColumns+` FROM customers WHERE `+strings.Join(where, " AND ")+`
		ORDER BY id DESC LIMIT ?`, args...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return customers(rows), nil
}

func customers(rows []customerRow) []app.Customer {
	out := make([]app.Customer, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out
}

// CustomersByEmail lists a shop's customers with an email.
func (s *Store) CustomersByEmail(ctx context.Context, shopID int64, email string) ([]app.Customer, error) {
	var rows []customerRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+customerColumns+` FROM customers
		WHERE shop_id = ? AND lower(email) LIKE ? ORDER BY id LIMIT 10`, shopID, likeEscaper.Replace(strings.ToLower(email))).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return customers(rows), nil
}

// LastActivity is the customer's last_activity_at, zero when never active.
func (s *Store) LastActivity(ctx context.Context, customerID int64) (time.Time, error) {
	var at []*time.Time
	if err := s.db.WithContext(ctx).Raw(`SELECT last_activity_at FROM customers WHERE id = ?`, customerID).Scan(&at).Error; err != nil {
		return time.Time{}, translate(err)
	}
	if len(at) == 0 || at[0] == nil {
		return time.Time{}, nil
	}
	return *at[0], nil
}

// CustomerOrders lists a customer's orders, newest first.
func (s *Store) CustomerOrders(ctx context.Context, shopID, customerID int64, limit int) ([]app.Order, error) {
	var rows []orderRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+orderColumns+` FROM orders WHERE shop_id = ? AND customer_id = ?
		ORDER BY id DESC LIMIT ?`, shopID, customerID, limit).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.Order, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// Entry is one of the shop's ledger entries.
func (s *Store) Entry(ctx context.Context, shopID, entryID int64) (app.Entry, error) {
	return s.oneEntry(ctx, `shop_id = ? AND id = ?`, shopID, entryID)
}

// EntryByKey is the shop's entry with an idempotency key.
func (s *Store) EntryByKey(ctx context.Context, shopID int64, key string) (app.Entry, error) {
	return s.oneEntry(ctx, `shop_id = ? AND idempotency_key = ?`, shopID, key)
}

func (s *Store) oneEntry(ctx context.Context, where string, args ...any) (app.Entry, error) {
	var rows []entryRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+entryColumns+` FROM ledger_entries WHERE `+where, args...).Scan(&rows).Error; err != nil {
		return app.Entry{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Entry{}, app.Errorf(app.ENotFound, "no such ledger entry in this shop")
	}
	return rows[0].toApp(), nil
}

// Undos maps the undone among entryIDs to the entries that undid them.
func (s *Store) Undos(ctx context.Context, shopID int64, entryIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(entryIDs) == 0 {
		return out, nil
	}
	var rows []struct{ ID, UndoesEntry int64 }
	err := s.db.WithContext(ctx).Raw(`SELECT id, undoes_entry FROM ledger_entries
		WHERE shop_id = ? AND undoes_entry IN ?`, shopID, entryIDs).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		out[r.UndoesEntry] = r.ID
	}
	return out, nil
}

type adjustmentRequestRow struct {
	ID                 int64
	ShopID             int64
	CustomerID         int64
	CustomerPlatformID string
	CustomerEmail      string
	Points             int64
	ReasonCode         string
	Note               string
	RequestedBy        string
	RequestedByID      int64
	Status             string
	DecidedBy          string
	DecisionNote       string
	DecidedAt          *time.Time
	EntryID            *int64
	CreatedAt          time.Time
}

func (r adjustmentRequestRow) toApp() app.AdjustmentRequest {
	out := app.AdjustmentRequest{ID: r.ID, ShopID: r.ShopID, CustomerID: r.CustomerID, CustomerPlatformID: r.CustomerPlatformID,
		CustomerEmail: r.CustomerEmail, Points: r.Points, ReasonCode: app.ReasonCode(r.ReasonCode), Note: r.Note,
		RequestedBy: r.RequestedBy, RequestedByID: r.RequestedByID, Status: app.RequestStatus(r.Status),
		DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, CreatedAt: r.CreatedAt}
	if r.DecidedAt != nil {
		out.DecidedAt = *r.DecidedAt
	}
	if r.EntryID != nil {
		out.EntryID = *r.EntryID
	}
	return out
}

// requestSelect reads requests with their customer's ids, as r.
const requestSelect = `SELECT r.id, r.shop_id, r.customer_id, c.platform_id AS customer_platform_id, c.email AS customer_email,
	r.points, r.reason_code, r.note, r.requested_by, r.requested_by_id, r.status, r.decided_by, r.decision_note,
	r.decided_at, r.entry_id, r.created_at
	FROM adjustment_requests r JOIN customers c ON c.id = r.customer_id`

// CreateAdjustmentRequest stores r once per key.
func (s *Store) CreateAdjustmentRequest(ctx context.Context, r app.AdjustmentRequest, key string) (app.AdjustmentRequest, bool, error) {
	db := s.db.WithContext(ctx)
	res := db.Exec(`INSERT INTO adjustment_requests (shop_id, customer_id, points, reason_code, note, requested_by,
			requested_by_id, idempotency_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop_id, idempotency_key) DO NOTHING`,
		r.ShopID, r.CustomerID, r.Points, string(r.ReasonCode), r.Note, r.RequestedBy, r.RequestedByID, key, r.CreatedAt)
	if res.Error != nil {
		return app.AdjustmentRequest{}, false, translate(res.Error)
	}
	var rows []adjustmentRequestRow
	if err := db.Raw(requestSelect+` WHERE r.shop_id = ? AND r.idempotency_key = ?`, r.ShopID, key).Scan(&rows).Error; err != nil {
		return app.AdjustmentRequest{}, false, translate(err)
	}
	if len(rows) == 0 {
		return app.AdjustmentRequest{}, false, app.Errorf(app.EInternal, "adjustment request vanished after insert")
	}
	return rows[0].toApp(), res.RowsAffected == 1, nil
}

// AdjustmentRequests lists requests, newest first.
func (s *Store) AdjustmentRequests(ctx context.Context, shopID, customerID int64, status app.RequestStatus, limit int) ([]app.AdjustmentRequest, error) {
	where, args := []string{"r.shop_id = ?"}, []any{shopID}
	if customerID > 0 {
		where, args = append(where, "r.customer_id = ?"), append(args, customerID)
	}
	if status != "" {
		where, args = append(where, "r.status = ?"), append(args, string(status))
	}
	var rows []adjustmentRequestRow
	err := s.db.WithContext(ctx).Raw(requestSelect+` WHERE `+strings.Join(where, " AND ")+` ORDER BY r.id DESC LIMIT ?`,
		append(args, limit)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.AdjustmentRequest, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// LockAdjustmentRequest reads a request and locks its row.
func (t *ledgerTx) LockAdjustmentRequest(ctx context.Context, shopID, id int64) (app.AdjustmentRequest, error) {
	var rows []adjustmentRequestRow
	err := t.db.WithContext(ctx).Raw(requestSelect+` WHERE r.shop_id = ? AND r.id = ? FOR UPDATE OF r`, shopID, id).Scan(&rows).Error
	if err != nil {
		return app.AdjustmentRequest{}, translate(err)
	}
	if len(rows) == 0 {
		return app.AdjustmentRequest{}, app.Errorf(app.ENotFound, "no adjustment request %d in this shop", id)
	}
	return rows[0].toApp(), nil
}

// DecideAdjustmentRequest records a decision.
func (t *ledgerTx) DecideAdjustmentRequest(ctx context.Context, r app.AdjustmentRequest) error {
	return translate(t.db.WithContext(ctx).Exec(`UPDATE adjustment_requests
		SET status = ?, decided_by = ?, decision_note = ?, decided_at = ?, entry_id = ? WHERE id = ? AND shop_id = ?`,
		string(r.Status), r.DecidedBy, r.DecisionNote, r.DecidedAt, nullID(r.EntryID), r.ID, r.ShopID).Error)
}

// AdjustmentReport sums staff adjustments by who made them. Undos count
// against the adjustment they undo (Undone), not as adjustments.
func (s *Store) AdjustmentReport(ctx context.Context, shopID int64, from, to time.Time) ([]app.StaffAdjustments, error) {
	var rows []struct {
		Staff       string
		Adjustments int
		Added       int64
		Removed     int64
		Undone      int
	}
	err := s.db.WithContext(ctx).Raw(`SELECT e.staff,
			count(*) AS adjustments,
			coalesce(sum(e.points) FILTER (WHERE e.points > 0), 0) AS added,
			coalesce(-sum(e.points) FILTER (WHERE e.points < 0), 0) AS removed,
			count(u.id) AS undone
		FROM ledger_entries e
		LEFT JOIN ledger_entries u ON u.undoes_entry = e.id
		WHERE e.shop_id = ? AND e.kind = 'adjust' AND e.staff <> '' AND e.undoes_entry IS NULL
			AND e.created_at >= ? AND e.created_at < ?
		GROUP BY e.staff ORDER BY e.staff`, shopID, from, to).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.StaffAdjustments, len(rows))
	for i, r := range rows {
		out[i] = app.StaffAdjustments{Staff: r.Staff, Adjustments: r.Adjustments, Added: r.Added, Removed: r.Removed, Undone: r.Undone}
	}
	return out, nil
}

// ImportedPoints is the net of a customer's import entries.
func (s *Store) ImportedPoints(ctx context.Context, customerID int64) (int64, int, error) {
	return importedPoints(s.db.WithContext(ctx), customerID)
}

// ImportedPoints reads the net under the transaction's customer lock.
func (t *ledgerTx) ImportedPoints(ctx context.Context, customerID int64) (int64, int, error) {
	return importedPoints(t.db.WithContext(ctx), customerID)
}

func importedPoints(db *gorm.DB, customerID int64) (int64, int, error) {
	var sum struct {
		Points  int64
		Entries int
	}
	err := db.Raw(`SELECT coalesce(sum(points), 0) AS points, count(*) AS entries FROM ledger_entries
		WHERE customer_id = ? AND reason_code = ?`, customerID, string(app.ReasonImport)).Scan(&sum).Error
	return sum.Points, sum.Entries, translate(err)
}

// AuditTrail pages a shop's audit log.
func (s *Store) AuditTrail(ctx context.Context, shopDomain string, q app.AuditQuery) ([]app.AuditEntry, error) {
	where, args := []string{"shop_domain = ?"}, []any{strings.ToLower(shopDomain)}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	if q.Actor != "" {
		where, args = append(where, "actor ILIKE ?"), append(args, "%"+likeEscaper.Replace(q.Actor)+"%")
	}
	if q.Action != "" {
		where, args = append(where, "action ILIKE ?"), append(args, "%"+likeEscaper.Replace(q.Action)+"%")
	}
	var rows []auditRow
	err := s.db.WithContext(ctx).Raw(`SELECT id, shop_id, shop_domain, actor, action, outcome, detail, created_at
		FROM audit_log WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit+1)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return auditEntries(rows), nil
}

// StaffByID returns one of the shop's staff.
func (s *Store) StaffByID(ctx context.Context, shopID, staffID int64) (app.Staff, error) {
	return s.oneStaff(ctx, "member in this shop", `SELECT `+staffColumns+` FROM staff WHERE shop_id = ? AND id = ?`, shopID, staffID)
}

// SetStaffRole changes a role in one statement that also checks, under
// the shop's staff row locks, that an active owner remains.
func (s *Store) SetStaffRole(ctx context.Context, shopID, staffID int64, role app.Role) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var owners []int64
		if err := tx.Raw(`SELECT id FROM staff WHERE shop_id = ? AND role = 'owner' AND disabled_at IS NULL FOR UPDATE`,
			shopID).Scan(&owners).Error; err != nil {
			return err
		}
		if role != app.RoleOwner && len(owners) == 1 && owners[0] == staffID {
			return app.Errorf(app.EConflict, "the shop needs an owner: make someone else owner first")
		}
		res := tx.Exec(`UPDATE staff SET role = ? WHERE shop_id = ? AND id = ?`, string(role), shopID, staffID)
		if res.Error == nil && res.RowsAffected == 0 {
			return app.Errorf(app.ENotFound, "no staff member %d in this shop", staffID)
		}
		return res.Error
	}))
}

// SetPassword stores a new password hash.
func (s *Store) SetPassword(ctx context.Context, shopID, staffID int64, hash string) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE staff SET password_hash = ? WHERE shop_id = ? AND id = ?`, hash, shopID, staffID)
	if res.Error == nil && res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no staff member %d in this shop", staffID)
	}
	return translate(res.Error)
}
