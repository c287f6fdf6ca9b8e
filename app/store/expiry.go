package store

import (
	"context"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// The sweeps below change lots, entries and balances of many customers per
// statement, outside tx.Post, under the same rule tx.Post relies on: a
// customer's lots and balances change only while their row is locked. Each
// batch is one transaction of two statements:
//
//  1. lock the batch's customers, FOR UPDATE SKIP LOCKED under the LIMIT:
//     a customer in the middle of a redemption, or taken by another batch,
//     is passed over for the next ones (so parallel batches share the work,
//     and what is passed over is left for a later batch or run), and no
//     sweep ever waits for a lock (so none can deadlock with a ledger
//     transaction, which locks customer then lots);
//  2. do the work in one set-based statement. It is a separate statement
//     because under READ COMMITTED each statement reads from a snapshot
//     taken when it starts: only one that starts after the locks are held
//     sees everything the previous holders committed.
//
// The unique idempotency keys of the entries are the last word: an entry
// that would repeat one is not written, and then neither are its lot and
// balance changes.

// sweepRow is a customer a sweep changed, with what it did to them.
type sweepRow struct {
	ID         int64
	ShopID     int64
	PlatformID string
	Lots       int
	Points     int64
}

// sweepBatch locks the customers pick selects and runs work on them, in one
// transaction, and tells the observers whom it changed.
func (s *Store) sweepBatch(ctx context.Context, pick string, pickArgs []any, work string, workArgs func(ids []int64) []any) (app.Sweep, error) {
	var rows []sweepRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var picked []int64
		if err := tx.Raw(pick, pickArgs...).Scan(&picked).Error; err != nil {
			return err
		}
		if len(picked) == 0 {
			return nil
		}
		// A customer comes once per lot picked (FOR UPDATE rules out
		// DISTINCT); locking them again was free.
		slices.Sort(picked)
		ids := slices.Compact(picked)
		return tx.Raw(work, workArgs(ids)...).Scan(&rows).Error
	})
	changed := make([]CustomerKey, len(rows))
	var out app.Sweep
	for i, r := range rows {
		changed[i] = CustomerKey{ShopID: r.ShopID, CustomerID: r.ID, PlatformID: r.PlatformID}
		out.Customers++
		out.Lots += r.Lots
		out.Points += r.Points
	}
	// After a failed commit too: its outcome may be unknown.
	s.notify(ctx, changed)
	if err != nil {
		return app.Sweep{}, translate(err)
	}
	return out, nil
}

// ExpireLots expires up to about limit lots past their date: one entry per
// lot, the lot emptied, the balance (or, for a pending lot, the pending
// balance) lowered. Lots are taken soonest expiry first; the customers of
// the first limit of them that no one else holds are locked, and all their
// due lots expired. A lot expires on its date whatever its shop's status:
// the date was fixed when it was earned.
func (s *Store) ExpireLots(ctx context.Context, at time.Time, limit int) (app.Sweep, error) {
	// Read in the order of the lots_expiry index, stopping at the limit
	// (inlined, so that even a generic plan knows it is small).
	pick := `
		SELECT c.id FROM lots l
		JOIN customers c ON c.id = l.customer_id
		WHERE l.remaining > 0 AND l.expires_at <= ?
		ORDER BY l.expires_at LIMIT ` + strconv.Itoa(limit) + `
		FOR UPDATE OF c SKIP LOCKED`
	// Entries are numbered in the order the lots would have been spent, and
	// each entry's balances are the customer's after it: a running sum.
	const work = `
		WITH due AS (
			SELECT l.id, l.customer_id, l.remaining, l.pending, l.expires_at, c.shop_id,
			       c.balance - COALESCE(SUM(l.remaining) FILTER (WHERE NOT l.pending) OVER w, 0) AS balance_after,
			       c.pending - COALESCE(SUM(l.remaining) FILTER (WHERE l.pending) OVER w, 0) AS pending_after
			FROM lots l JOIN customers c ON c.id = l.customer_id
			WHERE l.customer_id IN ? AND l.remaining > 0 AND l.expires_at <= ?
			WINDOW w AS (PARTITION BY l.customer_id ORDER BY l.expires_at, l.id)
		), entered AS (
			INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after,
				cause_job, reason, idempotency_key, created_at)
			SELECT shop_id, customer_id, 'expire', -remaining, balance_after, pending_after,
				'expiry sweep', 'points not spent by their expiry date', 'expire:lot:' || id, ?
			FROM due ORDER BY customer_id, expires_at, id
			ON CONFLICT (shop_id, idempotency_key) DO NOTHING
			RETURNING idempotency_key
		), spent AS (
			UPDATE lots SET remaining = 0
			WHERE customer_id IN ? AND remaining > 0 AND expires_at <= ?
			  AND 'expire:lot:' || id IN (SELECT idempotency_key FROM entered)
			RETURNING id
		), per AS (
			SELECT due.customer_id, count(*) AS lots,
			       COALESCE(SUM(due.remaining) FILTER (WHERE NOT due.pending), 0) AS available,
			       COALESCE(SUM(due.remaining) FILTER (WHERE due.pending), 0) AS pending
			FROM due JOIN spent ON spent.id = due.id GROUP BY due.customer_id
		)
		UPDATE customers c SET balance = c.balance - per.available, pending = c.pending - per.pending, updated_at = now()
		FROM per WHERE c.id = per.customer_id
		RETURNING c.id, c.shop_id, c.platform_id, per.lots, per.available + per.pending AS points`
	return s.sweepBatch(ctx, pick, []any{at}, work, func(ids []int64) []any {
		return []any{ids, at, at, ids, at}
	})
}

// idleSince is the last activity before which a customer of a program with
// an inactivity limit is idle at the first argument: that many calendar
// months earlier, in UTC (31 March less a month is 28 or 29 February).
const idleSince = `((?::timestamptz AT TIME ZONE 'UTC') - make_interval(months => p.inactivity_months)) AT TIME ZONE 'UTC'`

// ExpireInactive expires the whole balance, pending points included, of up
// to limit idle customers: one entry per customer, keyed by their last
// activity, so each idle period expires once and new activity starts a new
// one. A negative balance (points owed) is not forgiven.
func (s *Store) ExpireInactive(ctx context.Context, at time.Time, limit int) (app.Sweep, error) {
	// Driven by the (few) programs with a limit, so customers of the other
	// shops, however idle, are never read.
	pick := `
		SELECT c.id FROM programs p
		JOIN shops s ON s.id = p.shop_id AND s.status = 'active'
		JOIN customers c ON c.shop_id = p.shop_id
		WHERE p.inactivity_months > 0 AND (c.balance > 0 OR c.pending > 0) AND c.last_activity_at <= ` + idleSince + `
		LIMIT ` + strconv.Itoa(limit) + `
		FOR UPDATE OF c SKIP LOCKED`
	const work = `
		WITH idle AS (
			SELECT c.id, c.shop_id, c.platform_id, c.balance, c.pending, p.inactivity_months,
			       'expire:inactive:' || c.id || ':' ||
			           to_char(c.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS key
			FROM customers c JOIN programs p ON p.shop_id = c.shop_id AND p.inactivity_months > 0
			WHERE c.id IN ? AND c.last_activity_at <= ` + idleSince + `
		), due AS (
			SELECT l.id, l.customer_id, l.remaining, l.pending FROM lots l
			WHERE l.customer_id IN (SELECT id FROM idle) AND l.remaining > 0
		), held AS (
			SELECT customer_id, count(*) AS lots,
			       COALESCE(SUM(remaining) FILTER (WHERE NOT pending), 0) AS available,
			       COALESCE(SUM(remaining) FILTER (WHERE pending), 0) AS pending
			FROM due GROUP BY customer_id
		), entered AS (
			INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after,
				cause_job, reason, idempotency_key, created_at)
			SELECT i.shop_id, i.id, 'expire', -(h.available + h.pending), i.balance - h.available, i.pending - h.pending,
				'expiry sweep', 'no activity for ' || i.inactivity_months || ' months', i.key, ?
			FROM idle i JOIN held h ON h.customer_id = i.id
			ORDER BY i.id
			ON CONFLICT (shop_id, idempotency_key) DO NOTHING
			RETURNING customer_id
		), spent AS (
			UPDATE lots SET remaining = 0
			WHERE customer_id IN (SELECT customer_id FROM entered) AND remaining > 0
		)
		UPDATE customers c SET balance = c.balance - h.available, pending = c.pending - h.pending, updated_at = now()
		FROM held h
		WHERE c.id = h.customer_id AND h.customer_id IN (SELECT customer_id FROM entered)
		RETURNING c.id, c.shop_id, c.platform_id, h.lots, h.available + h.pending AS points`
	return s.sweepBatch(ctx, pick, []any{at}, work, func(ids []int64) []any {
		return []any{ids, at, at}
	})
}

// ReleasePending makes up to about limit pending lots spendable, soonest
// release first, for the customers who hold them. No entry is written: the
// points move from pending to balance, and the ledger explains their sum.
//
// A customer who owes points (a negative balance, after a reversal of
// points already spent) repays the debt from what is released, as a credit
// would: the released lots give up that much, soonest expiry first, so the
// lots still hold exactly the positive part of the balance.
func (s *Store) ReleasePending(ctx context.Context, at time.Time, limit int) (app.Sweep, error) {
	pick := `
		SELECT c.id FROM lots l
		JOIN customers c ON c.id = l.customer_id
		WHERE l.pending AND l.remaining > 0 AND l.available_at <= ?
		ORDER BY l.available_at LIMIT ` + strconv.Itoa(limit) + `
		FOR UPDATE OF c SKIP LOCKED`
	const work = `
		WITH due AS (
			SELECT l.id, l.customer_id, l.remaining, GREATEST(-c.balance, 0) AS debt,
			       SUM(l.remaining) OVER (PARTITION BY l.customer_id
			                              ORDER BY l.expires_at NULLS LAST, l.earned_at, l.id) - l.remaining AS before
			FROM lots l JOIN customers c ON c.id = l.customer_id
			WHERE l.customer_id IN ? AND l.pending AND l.remaining > 0 AND l.available_at <= ?
		), freed AS (
			UPDATE lots SET pending = false,
			       remaining = lots.remaining - LEAST(due.remaining, GREATEST(due.debt - due.before, 0))
			FROM due
			WHERE lots.id = due.id AND lots.customer_id IN ? AND lots.pending AND lots.remaining > 0 AND lots.available_at <= ?
			RETURNING due.customer_id, due.remaining
		), per AS (
			SELECT customer_id, count(*) AS lots, SUM(remaining) AS points FROM freed GROUP BY customer_id
		)
		UPDATE customers c SET pending = c.pending - per.points, balance = c.balance + per.points, updated_at = now()
		FROM per WHERE c.id = per.customer_id
		RETURNING c.id, c.shop_id, c.platform_id, per.lots, per.points`
	return s.sweepBatch(ctx, pick, []any{at}, work, func(ids []int64) []any {
		return []any{ids, at, ids, at}
	})
}

// PendingLots lists a customer's pending lots that still hold points,
// soonest release first.
func (s *Store) PendingLots(ctx context.Context, customerID int64) ([]app.Lot, error) {
	return s.lots(ctx, `customer_id = ? AND pending AND remaining > 0`, `available_at, id`, customerID)
}
