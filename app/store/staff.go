package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// staffRow is a staff row as read by staffColumns.
type staffRow struct {
	ID           int64
	ShopID       int64
	Email        string
	Name         string
	Role         string
	PasswordHash string
	FailedLogins int
	LockedUntil  *time.Time
	CreatedAt    time.Time
	DisabledAt   *time.Time
}

const staffColumns = `staff.id, staff.shop_id, staff.email, staff.name, staff.role, staff.password_hash,
	staff.failed_logins, staff.locked_until, staff.created_at, staff.disabled_at`

func (r staffRow) toApp() app.Staff {
	m := app.Staff{ID: r.ID, ShopID: r.ShopID, Email: r.Email, Name: r.Name, Role: app.Role(r.Role),
		PasswordHash: r.PasswordHash, FailedLogins: r.FailedLogins, CreatedAt: r.CreatedAt}
	if r.LockedUntil != nil {
		m.LockedUntil = *r.LockedUntil
	}
	if r.DisabledAt != nil {
		m.DisabledAt = *r.DisabledAt
	}
	return m
}

// oneStaff runs a query that returns at most one staff row.
func (s *Store) oneStaff(ctx context.Context, what, query string, args ...any) (app.Staff, error) {
	var rows []staffRow
	if err := s.db.WithContext(ctx).Raw(query, args...).Scan(&rows).Error; err != nil {
		return app.Staff{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Staff{}, app.Errorf(app.ENotFound, "no staff %s", what)
	}
	return rows[0].toApp(), nil
}

// CreateStaff stores a staff member; a taken email is a conflict.
func (s *Store) CreateStaff(ctx context.Context, m app.Staff) (app.Staff, error) {
	return s.oneStaff(ctx, m.Email, `INSERT INTO staff (shop_id, email, name, role, password_hash)
		VALUES (?, ?, ?, ?, ?) RETURNING `+staffColumns, m.ShopID, m.Email, m.Name, string(m.Role), m.PasswordHash)
}

// StaffByEmail returns a shop's staff member by email, whatever its case.
func (s *Store) StaffByEmail(ctx context.Context, shopID int64, email string) (app.Staff, error) {
	return s.oneStaff(ctx, email, `SELECT `+staffColumns+` FROM staff WHERE shop_id = ? AND lower(email) = lower(?)`, shopID, email)
}

// FailedLogin counts a wrong password in one statement, so that parallel
// guesses cannot each read a count below the limit.
func (s *Store) FailedLogin(ctx context.Context, staffID int64, max int, lockUntil time.Time) (app.Staff, error) {
	return s.oneStaff(ctx, "", `UPDATE staff SET
		locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
		failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END
		WHERE id = ? RETURNING `+staffColumns, max, lockUntil, max, staffID)
}

// SucceededLogin clears the failure count and any expired lock.
func (s *Store) SucceededLogin(ctx context.Context, staffID int64) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE staff SET failed_logins = 0, locked_until = NULL WHERE id = ?`, staffID).Error)
}

// CreateSession stores a signed-in session, and drops the staff member's
// sessions that have expired: each sign-in tidies up after its owner, so
// the table needs no sweeper.
func (s *Store) CreateSession(ctx context.Context, sess app.StaffSession) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM staff_sessions WHERE staff_id = ? AND expires_at <= ?`, sess.StaffID, sess.CreatedAt).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO staff_sessions (id, staff_id, csrf, created_at, expires_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?)`, sess.ID, sess.StaffID, sess.CSRF, sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt).Error
	}))
}

// TouchSession extends a live session and returns it with its staff member.
func (s *Store) TouchSession(ctx context.Context, id string, now, expires time.Time) (app.StaffSession, app.Staff, error) {
	var rows []struct {
		ID         string
		StaffID    int64
		CSRF       string `gorm:"column:csrf"`
		CreatedAt  time.Time
		ExpiresAt  time.Time
		LastSeenAt time.Time
	}
	err := s.db.WithContext(ctx).Raw(`UPDATE staff_sessions SET expires_at = ?, last_seen_at = ?
		WHERE id = ? AND expires_at > ? RETURNING id, staff_id, csrf, created_at, expires_at, last_seen_at`,
		expires, now, id, now).Scan(&rows).Error
	if err != nil {
		return app.StaffSession{}, app.Staff{}, translate(err)
	}
	if len(rows) == 0 {
		return app.StaffSession{}, app.Staff{}, app.Errorf(app.ENotFound, "no live session")
	}
	r := rows[0]
	m, err := s.staffByID(ctx, r.StaffID)
	return app.StaffSession{ID: r.ID, StaffID: r.StaffID, CSRF: r.CSRF, CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt, LastSeenAt: r.LastSeenAt}, m, err
}

func (s *Store) staffByID(ctx context.Context, id int64) (app.Staff, error) {
	return s.oneStaff(ctx, "", `SELECT `+staffColumns+` FROM staff WHERE id = ?`, id)
}

// DeleteSession ends a session; ending an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate(s.db.WithContext(ctx).Exec(`DELETE FROM staff_sessions WHERE id = ?`, id).Error)
}

type apiTokenRow struct {
	ID         int64
	StaffID    int64
	Name       string
	Prefix     string
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

func (r apiTokenRow) toApp() app.APIToken {
	t := app.APIToken{ID: r.ID, StaffID: r.StaffID, Name: r.Name, Prefix: r.Prefix, CreatedAt: r.CreatedAt}
	if r.RevokedAt != nil {
		t.RevokedAt = *r.RevokedAt
	}
	if r.LastUsedAt != nil {
		t.LastUsedAt = *r.LastUsedAt
	}
	return t
}

// CreateAPIToken stores a token by its hash.
func (s *Store) CreateAPIToken(ctx context.Context, t app.APIToken, hash string) (app.APIToken, error) {
	var rows []apiTokenRow
	err := s.db.WithContext(ctx).Raw(`INSERT INTO api_tokens (staff_id, name, token_hash, prefix) VALUES (?, ?, ?, ?)
		RETURNING id, staff_id, name, prefix, created_at, revoked_at, last_used_at`, t.StaffID, t.Name, hash, t.Prefix).Scan(&rows).Error
	if err != nil {
		return app.APIToken{}, translate(err)
	}
	return rows[0].toApp(), nil
}

// RevokeAPIToken revokes a token of one of the shop's staff: a token of
// another shop is not found.
func (s *Store) RevokeAPIToken(ctx context.Context, shopID, tokenID int64, at time.Time) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? AND staff_id IN (SELECT id FROM staff WHERE shop_id = ?)`, at, tokenID, shopID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no API token %d", tokenID)
	}
	return nil
}

// UseAPIToken finds an unrevoked token by hash and records its use.
func (s *Store) UseAPIToken(ctx context.Context, hash string, now time.Time) (app.APIToken, app.Staff, error) {
	var rows []apiTokenRow
	err := s.db.WithContext(ctx).Raw(`UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ? AND revoked_at IS NULL
		RETURNING id, staff_id, name, prefix, created_at, revoked_at, last_used_at`, now, hash).Scan(&rows).Error
	if err != nil {
		return app.APIToken{}, app.Staff{}, translate(err)
	}
	if len(rows) == 0 {
		return app.APIToken{}, app.Staff{}, app.Errorf(app.ENotFound, "no live API token")
	}
	m, err := s.staffByID(ctx, rows[0].StaffID)
	return rows[0].toApp(), m, err
}

// StaffList lists a shop's staff by email.
func (s *Store) StaffList(ctx context.Context, shopID int64) ([]app.Staff, error) {
	var rows []staffRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+staffColumns+` FROM staff WHERE shop_id = ? ORDER BY email`, shopID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.Staff, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// DisableStaff disables a staff member of the shop and deletes their
// sessions in one transaction.
func (s *Store) DisableStaff(ctx context.Context, shopID, staffID int64, at time.Time) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE staff SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ? AND shop_id = ?`, at, staffID, shopID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return app.Errorf(app.ENotFound, "no staff %d", staffID)
		}
		return tx.Exec(`DELETE FROM staff_sessions WHERE staff_id = ?`, staffID).Error
	}))
}

// APITokens lists a staff member's tokens, newest first.
func (s *Store) APITokens(ctx context.Context, staffID int64) ([]app.APIToken, error) {
	var rows []apiTokenRow
	if err := s.db.WithContext(ctx).Raw(`SELECT id, staff_id, name, prefix, created_at, revoked_at, last_used_at
		FROM api_tokens WHERE staff_id = ? ORDER BY id DESC`, staffID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.APIToken, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}
