package store

import (
	"context"
	"database/sql/driver"
	"time"

	"loyalty/app"
)

// The statements below do for many orders at once what LockOrder,
// LockCustomer, Post and SaveOrder do for one: a batch of paid orders costs
// a handful of round trips instead of four per order.
//
// Their rows travel as arrays, one per column, unnested by the statement:
// the text of each statement is the same whatever the batch's size, so
// each connection prepares it once and PostgreSQL plans it once, where a
// VALUES list made a new statement for every size, parsed and planned
// again (a tenth of the batches' time in the database).

// array passes a slice as one array parameter: gorm would spread a bare
// slice into a list of parameters.
type array[T any] []T

func (a array[T]) Value() (driver.Value, error) { return []T(a), nil }

// column gathers one column of rows as an array parameter.
func column[R, T any](rows []R, f func(R) T) array[T] {
	out := make(array[T], len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// LockOrders is LockOrder for several orders, taking their row locks in the
// order given (callers sort them, so batches lock alike). The ids must be
// distinct.
func (t *ledgerTx) LockOrders(ctx context.Context, shopID int64, platformOrderIDs []string) ([]app.Order, error) {
	if len(platformOrderIDs) == 0 {
		return nil, nil
	}
	var rows []orderRow
	// Rows are inserted, and locked, in the order of the list.
	err := t.db.WithContext(ctx).Raw(`INSERT INTO orders (shop_id, platform_id)
		SELECT ?, v.platform_id FROM unnest(?::text[]) WITH ORDINALITY AS v(platform_id, ord)
		ORDER BY v.ord
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET shop_id = EXCLUDED.shop_id
		RETURNING `+orderColumns+`, xmax = 0 AS inserted`, shopID, array[string](platformOrderIDs)).Scan(&rows).Error
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
	var rows []customerRow
	err := t.db.WithContext(ctx).Raw(`INSERT INTO customers (shop_id, platform_id, email, first_name, last_name, locale)
		SELECT ?, v.platform_id, v.email, v.first_name, v.last_name, v.locale
		FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY
			AS v(platform_id, email, first_name, last_name, locale, ord)
		ORDER BY v.ord
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET
			email = COALESCE(NULLIF(EXCLUDED.email, ''), customers.email),
			first_name = COALESCE(NULLIF(EXCLUDED.first_name, ''), customers.first_name),
			last_name = COALESCE(NULLIF(EXCLUDED.last_name, ''), customers.last_name),
			locale = COALESCE(NULLIF(EXCLUDED.locale, ''), customers.locale)
		RETURNING `+customerColumns+`, xmax = 0 AS inserted`, shopID,
		column(refs, func(r app.CustomerRef) string { return r.PlatformID }),
		column(refs, func(r app.CustomerRef) string { return r.Email }),
		column(refs, func(r app.CustomerRef) string { return r.FirstName }),
		column(refs, func(r app.CustomerRef) string { return r.LastName }),
		column(refs, func(r app.CustomerRef) string { return r.Locale })).Scan(&rows).Error
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
	for _, p := range ps {
		if p.Points <= 0 || !p.At.Equal(at) {
			return nil, app.Errorf(app.EInternal, "PostCredits takes credits made at one time")
		}
	}
	shopID := ps[0].ShopID
	args := []any{
		column(ps, func(p app.Posting) int64 { return p.CustomerID }),
		column(ps, func(p app.Posting) *int64 { return nullID(p.OrderID) }),
		column(ps, func(p app.Posting) int64 { return p.Points }),
		column(ps, func(p app.Posting) string { return p.IdempotencyKey }),
		column(ps, func(p app.Posting) string { return p.Cause.OrderID }),
		column(ps, func(p app.Posting) time.Time { return p.AvailableAt }),
		column(ps, func(p app.Posting) *time.Time { return p.ExpiresAt }),
		column(ps, func(p app.Posting) bool { return p.AvailableAt.After(p.At) }),
		at, shopID, shopID, at, at}
	var rows []entryRow
	err := t.db.WithContext(ctx).Raw(`WITH v AS (
			SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::boolean[])
				AS v(customer_id, order_id, points, key, cause_order, available_at, expires_at, pending)
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
	args := []any{
		column(os, func(o app.Order) int64 { return o.ID }),
		column(os, func(o app.Order) *int64 { return nullID(o.CustomerID) }),
		column(os, func(o app.Order) string { return o.Name }),
		column(os, func(o app.Order) string { return string(o.Status) }),
		column(os, func(o app.Order) string { return o.Currency }),
		column(os, func(o app.Order) int64 { return int64(o.Eligible) }),
		column(os, func(o app.Order) int64 { return int64(o.Refunded) }),
		column(os, func(o app.Order) int64 { return int64(o.EarnRate) }),
		column(os, func(o app.Order) bool { return o.TaxesIncluded }),
		column(os, func(o app.Order) int64 { return o.PointsEarned }),
		column(os, func(o app.Order) int64 { return o.PointsReversed }),
		column(os, func(o app.Order) string { return o.SkipReason }),
		column(os, func(o app.Order) *time.Time { return o.PaidAt }),
		column(os, func(o app.Order) *time.Time { return o.CancelledAt }),
		column(os, func(o app.Order) int64 { return int64(o.RewardPart) }),
		column(os, func(o app.Order) *time.Time { return o.PlatformUpdatedAt }),
		column(os, func(o app.Order) int64 { return int64(o.Reinstated) })}
	// A paid order is activity (for expiry by inactivity) even when it
	// earned nothing, as in SaveOrder.
	return translate(t.db.WithContext(ctx).Exec(`WITH v AS (
			SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[],
				?::boolean[], ?::bigint[], ?::bigint[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::bigint[], ?::timestamptz[], ?::int[])
				AS v(id, customer_id, name, status, currency, eligible, refunded, earn_rate, taxes_included, points_earned,
					points_reversed, skip_reason, paid_at, cancelled_at, reward_part, platform_updated_at, reinstated)
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
