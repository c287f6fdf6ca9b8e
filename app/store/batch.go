package store

import (
	"context"
	"strings"

	"loyalty/app"
)

// The statements below do for many orders at once what LockOrder,
// LockCustomer, Post and SaveOrder do for one: a batch of paid orders costs
// a handful of round trips instead of four per order.

// values builds a VALUES list of n rows of the given placeholders, the
// first row typed by casts (the later rows take its types).
func values(n int, firstRow, row string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
			b.WriteString(row)
		} else {
			b.WriteString(firstRow)
		}
	}
	return b.String()
}

// LockOrders is LockOrder for several orders, taking their row locks in the
// order given (callers sort them, so batches lock alike). The ids must be
// distinct.
func (t *ledgerTx) LockOrders(ctx context.Context, shopID int64, platformOrderIDs []string) ([]app.Order, error) {
	if len(platformOrderIDs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2*len(platformOrderIDs))
	for i, id := range platformOrderIDs {
		args = append(args, i, id)
	}
	var rows []orderRow
	// Rows are inserted, and locked, in the order of the list.
	err := t.db.WithContext(ctx).Raw(`INSERT INTO orders (shop_id, platform_id)
		SELECT ?, v.platform_id FROM (VALUES `+values(len(platformOrderIDs), "(?::int, ?::text)", "(?, ?)")+`) AS v(ord, platform_id)
		ORDER BY v.ord
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET shop_id = EXCLUDED.shop_id
		RETURNING `+orderColumns+`, xmax = 0 AS inserted`, append([]any{shopID}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	byID := make(map[string]app.Order, len(rows))
	for _, r := range rows {
		byID[r.PlatformID] = r.toApp()
	}
	out := make([]app.Order, len(platformOrderIDs))
	for i, id := range platformOrderIDs {
		o, ok := byID[id]
		if !ok {
			return nil, app.Errorf(app.EInternal, "order %s was not locked", id)
		}
		out[i] = o
	}
	return out, nil
}

// LockCustomers is LockCustomer for several customers, locked in the order
// given (callers sort them). The platform ids must be distinct.
func (t *ledgerTx) LockCustomers(ctx context.Context, shopID int64, refs []app.CustomerRef) ([]app.Customer, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 6*len(refs))
	for i, r := range refs {
		args = append(args, i, r.PlatformID, r.Email, r.FirstName, r.LastName, r.Locale)
	}
	var rows []customerRow
	err := t.db.WithContext(ctx).Raw(`INSERT INTO customers (shop_id, platform_id, email, first_name, last_name, locale)
		SELECT ?, v.platform_id, v.email, v.first_name, v.last_name, v.locale
		FROM (VALUES `+values(len(refs), "(?::int, ?::text, ?::text, ?::text, ?::text, ?::text)", "(?, ?, ?, ?, ?, ?)")+`)
			AS v(ord, platform_id, email, first_name, last_name, locale)
		ORDER BY v.ord
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET
			email = COALESCE(NULLIF(EXCLUDED.email, ''), customers.email),
			first_name = COALESCE(NULLIF(EXCLUDED.first_name, ''), customers.first_name),
			last_name = COALESCE(NULLIF(EXCLUDED.last_name, ''), customers.last_name),
			locale = COALESCE(NULLIF(EXCLUDED.locale, ''), customers.locale)
		RETURNING `+customerColumns, append([]any{shopID}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	byID := make(map[string]app.Customer, len(rows))
	for _, r := range rows {
		t.touch(r.ShopID, r.ID, r.PlatformID)
		byID[r.PlatformID] = r.toApp()
	}
	out := make([]app.Customer, len(refs))
	for i, r := range refs {
		c, ok := byID[r.PlatformID]
		if !ok {
			return nil, app.Errorf(app.EInternal, "customer %s was not locked", r.PlatformID)
		}
		out[i] = c
	}
	return out, nil
}

// PostCredits is Post for several earn postings of one shop, in one
// statement: balances, entries and lots, as credit writes them. The
// customers must be distinct and locked by the caller, the postings
// credits of orders (positive points, no staff or refund cause), all at
// the same time. A posting whose key was used before is left out: the
// entries come back by idempotency key.
func (t *ledgerTx) PostCredits(ctx context.Context, ps []app.Posting) (map[string]app.Entry, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	at := ps[0].At
	args := make([]any, 0, 8*len(ps)+5)
	for _, p := range ps {
		if p.Points <= 0 || !p.At.Equal(at) {
			return nil, app.Errorf(app.EInternal, "PostCredits takes credits made at one time")
		}
		args = append(args, p.CustomerID, nullID(p.OrderID), p.Points, p.IdempotencyKey, p.Cause.OrderID,
			p.AvailableAt, p.ExpiresAt, p.AvailableAt.After(p.At))
	}
	shopID := ps[0].ShopID
	args = append(args, at, shopID, shopID, at, at)
	var rows []entryRow
	err := t.db.WithContext(ctx).Raw(`WITH v (customer_id, order_id, points, key, cause_order, available_at, expires_at, pending) AS (
			VALUES `+values(len(ps), "(?::bigint, ?::bigint, ?::bigint, ?::text, ?::text, ?::timestamptz, ?::timestamptz, ?::boolean)",
		"(?, ?, ?, ?, ?, ?, ?, ?)")+`
		), b AS (
			UPDATE customers c SET balance = c.balance + CASE WHEN v.pending THEN 0 ELSE v.points END,
				pending = c.pending + CASE WHEN v.pending THEN v.points ELSE 0 END,
				last_activity_at = ?, updated_at = now()
			FROM v WHERE c.id = v.customer_id
				AND NOT EXISTS (SELECT 1 FROM ledger_entries le WHERE le.shop_id = ? AND le.idempotency_key = v.key)
			RETURNING c.id AS customer_id, c.balance, c.pending, v.order_id, v.points, v.key, v.cause_order,
				v.available_at, v.expires_at, v.pending AS is_pending
		), e AS (
			INSERT INTO ledger_entries (shop_id, customer_id, order_id, kind, points, unrecovered, balance_after,
				pending_after, cause_order, cause_refund, cause_job, staff, reason, reason_code, undoes_entry, idempotency_key, created_at)
			SELECT ?, b.customer_id, b.order_id, 'earn', b.points, 0, b.balance, b.pending, b.cause_order, '', '', '', '', '',
				NULL, b.key, ? FROM b
			RETURNING `+entryColumns+`
		), l AS (
			INSERT INTO lots (customer_id, entry_id, order_id, points, remaining, pending, earned_at, available_at, expires_at)
			SELECT e.customer_id, e.id, b.order_id, e.points,
				CASE WHEN b.is_pending THEN e.points ELSE LEAST(e.points, GREATEST(b.balance, 0)) END,
				b.is_pending, ?, b.available_at, b.expires_at
			FROM e JOIN b ON b.key = e.idempotency_key
		)
		SELECT * FROM e`, args...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]app.Entry, len(rows))
	for _, r := range rows {
		out[r.IdempotencyKey] = r.toApp()
	}
	return out, nil
}

// SaveOrders is SaveOrder for several orders, in one statement.
func (t *ledgerTx) SaveOrders(ctx context.Context, os []app.Order) error {
	if len(os) == 0 {
		return nil
	}
	args := make([]any, 0, 17*len(os))
	for _, o := range os {
		args = append(args, o.ID, nullID(o.CustomerID), o.Name, string(o.Status), o.Currency, int64(o.Eligible),
			int64(o.Refunded), int64(o.EarnRate), o.TaxesIncluded, o.PointsEarned, o.PointsReversed, o.SkipReason,
			o.PaidAt, o.CancelledAt, int64(o.RewardPart), o.PlatformUpdatedAt, o.Reinstated)
	}
	// A paid order is activity (for expiry by inactivity) even when it
	// earned nothing, as in SaveOrder.
	return translate(t.db.WithContext(ctx).Exec(`WITH v (id, customer_id, name, status, currency, eligible, refunded,
			earn_rate, taxes_included, points_earned, points_reversed, skip_reason, paid_at, cancelled_at, reward_part,
			platform_updated_at, reinstated) AS (
			VALUES `+values(len(os), "(?::bigint, ?::bigint, ?::text, ?::text, ?::text, ?::bigint, ?::bigint, ?::bigint, ?::boolean, "+
		"?::bigint, ?::bigint, ?::text, ?::timestamptz, ?::timestamptz, ?::bigint, ?::timestamptz, ?::int)",
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")+`
		), saved AS (
			UPDATE orders o SET customer_id = v.customer_id, name = v.name, status = v.status, currency = v.currency,
				eligible = v.eligible, refunded = v.refunded, earn_rate = v.earn_rate, taxes_included = v.taxes_included,
				points_earned = v.points_earned, points_reversed = v.points_reversed, skip_reason = v.skip_reason,
				paid_at = v.paid_at, cancelled_at = v.cancelled_at, reward_part = v.reward_part,
				platform_updated_at = v.platform_updated_at, reinstated = v.reinstated, updated_at = now()
			FROM v WHERE o.id = v.id
			RETURNING o.customer_id, o.status, o.paid_at
		)
		UPDATE customers c SET last_activity_at = s.paid_at
		FROM (SELECT customer_id, max(paid_at) AS paid_at FROM saved WHERE status = 'paid' GROUP BY customer_id) s
		WHERE c.id = s.customer_id AND s.paid_at > c.last_activity_at`, args...).Error)
}
