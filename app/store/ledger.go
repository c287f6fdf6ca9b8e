package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

type customerRow struct {
	ID             int64
	ShopID         int64
	PlatformID     string
	Email          string
	FirstName      string
	LastName       string
	Locale         string
	Balance        int64
	Pending        int64
	BirthMonth     *int
	BirthDay       *int
	UnsubscribedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Inserted       bool // only from LockCustomer and LockCustomers
}

func (r customerRow) toApp() app.Customer {
	c := app.Customer{ID: r.ID, ShopID: r.ShopID, PlatformID: r.PlatformID, Email: r.Email,
		FirstName: r.FirstName, LastName: r.LastName, Locale: r.Locale, Balance: r.Balance,
		Pending: r.Pending, UnsubscribedAt: r.UnsubscribedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, New: r.Inserted}
	if r.BirthMonth != nil && r.BirthDay != nil {
		c.Birthday = &app.Birthday{Month: time.Month(*r.BirthMonth), Day: *r.BirthDay}
	}
	return c
}

const customerColumns = `id, shop_id, platform_id, email, first_name, last_name, locale, balance, pending,
	birth_month, birth_day, unsubscribed_at, created_at, updated_at`

type orderRow struct {
	ID             int64
	ShopID         int64
	PlatformID     string
	CustomerID     *int64
	Name           string
	Status         string
	Currency       string
	Eligible       int64
	Refunded       int64
	EarnRate       int64
	TaxesIncluded  bool
	PointsEarned   int64
	PointsReversed int64
	SkipReason     string
	PaidAt         *time.Time
	CancelledAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Inserted       bool // only from LockOrder
	RewardPart     int64
	// PlatformUpdatedAt and Reinstated: see app.Order.
	PlatformUpdatedAt *time.Time
	Reinstated        int
}

func (r orderRow) toApp() app.Order {
	o := app.Order{ID: r.ID, ShopID: r.ShopID, PlatformID: r.PlatformID, Name: r.Name,
		Status: app.OrderStatus(r.Status), Currency: r.Currency, Eligible: app.Amount(r.Eligible),
		Refunded: app.Amount(r.Refunded), EarnRate: app.Rate(r.EarnRate), TaxesIncluded: r.TaxesIncluded,
		PointsEarned: r.PointsEarned, PointsReversed: r.PointsReversed, SkipReason: r.SkipReason,
		PaidAt: r.PaidAt, CancelledAt: r.CancelledAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, New: r.Inserted,
		RewardPart: app.Amount(r.RewardPart), PlatformUpdatedAt: r.PlatformUpdatedAt, Reinstated: r.Reinstated}
	if r.CustomerID != nil {
		o.CustomerID = *r.CustomerID
	}
	return o
}

const orderColumns = `id, shop_id, platform_id, customer_id, name, status, currency, eligible, refunded, earn_rate,
	taxes_included, points_earned, points_reversed, skip_reason, paid_at, cancelled_at, created_at, updated_at, reward_part,
	platform_updated_at, reinstated`

type entryRow struct {
	ID             int64
	ShopID         int64
	CustomerID     int64
	Kind           string
	Points         int64
	Unrecovered    int64
	BalanceAfter   int64
	PendingAfter   int64
	CauseOrder     string
	CauseRefund    string
	CauseJob       string
	Staff          string
	Reason         string
	ReasonCode     string
	UndoesEntry    *int64
	IdempotencyKey string
	CreatedAt      time.Time
}

func (r entryRow) toApp() app.Entry {
	e := app.Entry{ID: r.ID, ShopID: r.ShopID, CustomerID: r.CustomerID, Kind: app.EntryKind(r.Kind),
		Points: r.Points, Unrecovered: r.Unrecovered, BalanceAfter: r.BalanceAfter, PendingAfter: r.PendingAfter,
		Cause: app.Cause{OrderID: r.CauseOrder, RefundID: r.CauseRefund, Job: r.CauseJob, Staff: r.Staff, Reason: r.Reason,
			ReasonCode: app.ReasonCode(r.ReasonCode)},
		IdempotencyKey: r.IdempotencyKey, CreatedAt: r.CreatedAt}
	if r.UndoesEntry != nil {
		e.Cause.Undoes = *r.UndoesEntry
	}
	return e
}

const entryColumns = `id, shop_id, customer_id, kind, points, unrecovered, balance_after, pending_after,
	cause_order, cause_refund, cause_job, staff, reason, reason_code, undoes_entry, idempotency_key, created_at`

// CustomerByPlatformID finds a shop's customer by the platform's id.
func (s *Store) CustomerByPlatformID(ctx context.Context, shopID int64, platformID string) (app.Customer, error) {
	var rows []customerRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+customerColumns+` FROM customers WHERE shop_id = ? AND platform_id = ?`,
		shopID, platformID).Scan(&rows).Error
	if err != nil {
		return app.Customer{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Customer{}, app.Errorf(app.ENotFound, "no customer %s in this shop", platformID)
	}
	return rows[0].toApp(), nil
}

// Entries returns a customer's latest entries, newest first.
func (s *Store) Entries(ctx context.Context, shopID, customerID int64, limit int) ([]app.Entry, error) {
	var rows []entryRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+entryColumns+` FROM ledger_entries
		WHERE shop_id = ? AND customer_id = ? ORDER BY id DESC LIMIT ?`, shopID, customerID, limit).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	entries := make([]app.Entry, len(rows))
	for i, r := range rows {
		entries[i] = r.toApp()
	}
	return entries, nil
}

type lotRow struct {
	ID          int64
	CustomerID  int64
	EntryID     int64
	Points      int64
	Remaining   int64
	EarnedAt    time.Time
	AvailableAt time.Time
	ExpiresAt   *time.Time
}

// Lots returns a customer's lots in the order they are spent.
func (s *Store) Lots(ctx context.Context, customerID int64) ([]app.Lot, error) {
	return s.lots(ctx, `customer_id = ?`, lotsBySpendingOrder, customerID)
}

// lotsBySpendingOrder are lots in the order spending takes them.
const lotsBySpendingOrder = `expires_at NULLS LAST, earned_at, id`

func (s *Store) lots(ctx context.Context, where, orderBy string, args ...any) ([]app.Lot, error) {
	var rows []lotRow
	err := s.db.WithContext(ctx).Raw(`SELECT id, customer_id, entry_id, points, remaining, earned_at, available_at, expires_at
		FROM lots WHERE `+where+` ORDER BY `+orderBy, args...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	lots := make([]app.Lot, len(rows))
	for i, r := range rows {
		lots[i] = app.Lot{ID: r.ID, CustomerID: r.CustomerID, EntryID: r.EntryID, Points: r.Points,
			Remaining: r.Remaining, EarnedAt: r.EarnedAt, AvailableAt: r.AvailableAt, ExpiresAt: r.ExpiresAt}
	}
	return lots, nil
}

// ExpiringLots lists a customer's lots that still hold points and expire
// in [from, until), soonest first: the widget's warning, read through the
// lots_open index rather than the customer's whole history.
func (s *Store) ExpiringLots(ctx context.Context, customerID int64, from, until time.Time) ([]app.Lot, error) {
	return s.lots(ctx, `customer_id = ? AND remaining > 0 AND expires_at >= ? AND expires_at < ?`, lotsBySpendingOrder, customerID, from, until)
}

// Order finds a shop's order by the platform's id.
func (s *Store) Order(ctx context.Context, shopID int64, platformOrderID string) (app.Order, error) {
	var rows []orderRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+orderColumns+` FROM orders WHERE shop_id = ? AND platform_id = ?`,
		shopID, platformOrderID).Scan(&rows).Error
	if err != nil {
		return app.Order{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Order{}, app.Errorf(app.ENotFound, "no order %s in this shop", platformOrderID)
	}
	return rows[0].toApp(), nil
}

type discrepancyRow struct {
	CustomerID    int64
	PlatformID    string
	Balance       int64
	Pending       int64
	LedgerSum     int64
	LotsAvailable int64
	LotsPending   int64
}

// Reconcile compares every customer's balance row with the sum of their
// ledger entries and with what their lots still hold.
func (s *Store) Reconcile(ctx context.Context, shopID int64) ([]app.Discrepancy, error) {
	var rows []discrepancyRow
	err := s.db.WithContext(ctx).Raw(`
		WITH sums AS (
			SELECT customer_id, SUM(points) AS ledger_sum FROM ledger_entries WHERE shop_id = ? GROUP BY customer_id
		), held AS (
			SELECT l.customer_id,
			       SUM(l.remaining) FILTER (WHERE NOT l.pending) AS lots_available,
			       SUM(l.remaining) FILTER (WHERE l.pending) AS lots_pending
			FROM lots l JOIN customers c ON c.id = l.customer_id
			WHERE c.shop_id = ? GROUP BY l.customer_id
		)
		SELECT c.id AS customer_id, c.platform_id, c.balance, c.pending,
		       COALESCE(s.ledger_sum, 0) AS ledger_sum,
		       COALESCE(h.lots_available, 0) AS lots_available,
		       COALESCE(h.lots_pending, 0) AS lots_pending
		FROM customers c
		LEFT JOIN sums s ON s.customer_id = c.id
		LEFT JOIN held h ON h.customer_id = c.id
		WHERE c.shop_id = ?
		  AND (c.balance + c.pending <> COALESCE(s.ledger_sum, 0)
		       OR GREATEST(c.balance, 0) <> COALESCE(h.lots_available, 0)
		       OR c.pending <> COALESCE(h.lots_pending, 0))
		ORDER BY c.id`, shopID, shopID, shopID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = app.Discrepancy{CustomerID: r.CustomerID, PlatformID: r.PlatformID, Balance: r.Balance,
			Pending: r.Pending, LedgerSum: r.LedgerSum, LotsRemaining: r.LotsAvailable + r.LotsPending}
	}
	return out, nil
}

// ledgerTx is app.Tx on one gorm transaction.
type ledgerTx struct {
	db *gorm.DB
	// wrote are the customers whose rows, lots or entries the transaction
	// wrote (or locked to write), for the store's observers.
	wrote map[int64]CustomerKey
}

// touch records that the transaction changes a customer's records.
func (t *ledgerTx) touch(shopID, customerID int64, platformID string) {
	if t.wrote == nil {
		t.wrote = map[int64]CustomerKey{}
	}
	t.wrote[customerID] = CustomerKey{ShopID: shopID, CustomerID: customerID, PlatformID: platformID}
}

func (t *ledgerTx) changed() []CustomerKey {
	out := make([]CustomerKey, 0, len(t.wrote))
	for _, k := range t.wrote {
		out = append(out, k)
	}
	return out
}

func (t *ledgerTx) LockOrder(ctx context.Context, shopID int64, platformOrderID string) (app.Order, error) {
	var row orderRow
	// An upsert both creates the placeholder for an order first heard of
	// through a refund or cancellation, and takes the row lock, in one trip.
	// A row the upsert inserted has no xmax; one it updated has ours.
	err := t.db.WithContext(ctx).Raw(`INSERT INTO orders (shop_id, platform_id) VALUES (?, ?)
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET shop_id = EXCLUDED.shop_id
		RETURNING `+orderColumns+`, xmax = 0 AS inserted`, shopID, platformOrderID).Scan(&row).Error
	if err != nil {
		return app.Order{}, translate(err)
	}
	return row.toApp(), nil
}

func (t *ledgerTx) SaveOrder(ctx context.Context, o app.Order) error {
	var customerID *int64
	if o.CustomerID != 0 {
		customerID = &o.CustomerID
	}
	// A paid order is activity (for expiry by inactivity) even when it
	// earned nothing; one that earned already moved it through Post.
	return translate(t.db.WithContext(ctx).Exec(`WITH saved AS (UPDATE orders SET customer_id = ?, name = ?, status = ?,
		currency = ?, eligible = ?, refunded = ?, earn_rate = ?, taxes_included = ?, points_earned = ?,
		points_reversed = ?, skip_reason = ?, paid_at = ?, cancelled_at = ?, reward_part = ?, platform_updated_at = ?,
		reinstated = ?, updated_at = now() WHERE id = ?
		RETURNING customer_id, status, paid_at)
		UPDATE customers c SET last_activity_at = saved.paid_at FROM saved
		WHERE c.id = saved.customer_id AND saved.status = 'paid' AND saved.paid_at > c.last_activity_at`,
		customerID, o.Name, string(o.Status), o.Currency, int64(o.Eligible), int64(o.Refunded), int64(o.EarnRate),
		o.TaxesIncluded, o.PointsEarned, o.PointsReversed, o.SkipReason, o.PaidAt, o.CancelledAt, int64(o.RewardPart),
		o.PlatformUpdatedAt, o.Reinstated, o.ID).Error)
}

// EntryByKey finds the shop's entry written under an idempotency key.
func (t *ledgerTx) EntryByKey(ctx context.Context, shopID int64, key string) (app.Entry, error) {
	var rows []entryRow
	err := t.db.WithContext(ctx).Raw(`SELECT `+entryColumns+` FROM ledger_entries WHERE shop_id = ? AND idempotency_key = ?`,
		shopID, key).Scan(&rows).Error
	if err != nil {
		return app.Entry{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Entry{}, app.Errorf(app.ENotFound, "no entry %s", key)
	}
	return rows[0].toApp(), nil
}

func (t *ledgerTx) AddRefund(ctx context.Context, orderID int64, r app.OrderRefunded) (bool, error) {
	var refundedAt *time.Time
	if !r.RefundedAt.IsZero() {
		refundedAt = &r.RefundedAt
	}
	res := t.db.WithContext(ctx).Exec(`INSERT INTO order_refunds (order_id, platform_id, lines, lines_tax,
		shipping, shipping_tax, refunded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		orderID, r.RefundID, int64(r.Lines), int64(r.LinesTax), int64(r.Shipping), int64(r.ShippingTax), refundedAt)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (t *ledgerTx) Refunds(ctx context.Context, orderID int64) ([]app.OrderRefunded, error) {
	var rows []struct {
		PlatformID  string
		Lines       int64
		LinesTax    int64
		Shipping    int64
		ShippingTax int64
		RefundedAt  *time.Time
	}
	err := t.db.WithContext(ctx).Raw(`SELECT platform_id, lines, lines_tax, shipping, shipping_tax, refunded_at
		FROM order_refunds WHERE order_id = ? ORDER BY id`, orderID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.OrderRefunded, len(rows))
	for i, r := range rows {
		out[i] = app.OrderRefunded{RefundID: r.PlatformID, Lines: app.Amount(r.Lines), LinesTax: app.Amount(r.LinesTax),
			Shipping: app.Amount(r.Shipping), ShippingTax: app.Amount(r.ShippingTax)}
		if r.RefundedAt != nil {
			out[i].RefundedAt = *r.RefundedAt
		}
	}
	return out, nil
}

func (t *ledgerTx) LockCustomer(ctx context.Context, shopID int64, ref app.CustomerRef) (app.Customer, error) {
	var row customerRow
	// Details refresh only when the event carries them: a refund that names
	// no email must not erase the one we have.
	err := t.db.WithContext(ctx).Raw(`INSERT INTO customers (shop_id, platform_id, email, first_name, last_name, locale)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (shop_id, platform_id) DO UPDATE SET
			email = COALESCE(NULLIF(EXCLUDED.email, ''), customers.email),
			first_name = COALESCE(NULLIF(EXCLUDED.first_name, ''), customers.first_name),
			last_name = COALESCE(NULLIF(EXCLUDED.last_name, ''), customers.last_name),
			locale = COALESCE(NULLIF(EXCLUDED.locale, ''), customers.locale)
		RETURNING `+customerColumns+`, xmax = 0 AS inserted`,
		shopID, ref.PlatformID, ref.Email, ref.FirstName, ref.LastName, ref.Locale).Scan(&row).Error
	if err != nil {
		return app.Customer{}, translate(err)
	}
	t.touch(row.ShopID, row.ID, row.PlatformID)
	return row.toApp(), nil
}

func (t *ledgerTx) SetBirthday(ctx context.Context, customerID int64, b app.Birthday) error {
	var who []customerRow
	err := t.db.WithContext(ctx).Raw(`UPDATE customers SET birth_month = ?, birth_day = ?, updated_at = now() WHERE id = ?
		RETURNING shop_id, platform_id`, int(b.Month), b.Day, customerID).Scan(&who).Error
	if len(who) > 0 {
		t.touch(who[0].ShopID, customerID, who[0].PlatformID)
	}
	return translate(err)
}

func (t *ledgerTx) LockCustomerByID(ctx context.Context, customerID int64) (app.Customer, error) {
	var rows []customerRow
	err := t.db.WithContext(ctx).Raw(`SELECT `+customerColumns+` FROM customers WHERE id = ? FOR UPDATE`,
		customerID).Scan(&rows).Error
	if err != nil {
		return app.Customer{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Customer{}, app.Errorf(app.ENotFound, "no customer %d", customerID)
	}
	t.touch(rows[0].ShopID, rows[0].ID, rows[0].PlatformID)
	return rows[0].toApp(), nil
}

// Post writes one entry with its effect on lots and the balance. The caller
// holds the customer's row lock, so no other transaction touches this
// customer's lots or balance until commit.
func (t *ledgerTx) Post(ctx context.Context, p app.Posting) (app.Entry, error) {
	db := t.db.WithContext(ctx)
	if p.Points > 0 {
		return t.credit(db, p)
	}
	// The read is the fast path under the customer lock; the unique key on
	// (shop_id, idempotency_key) remains the last word.
	var seen []int64
	if err := db.Raw(`SELECT id FROM ledger_entries WHERE shop_id = ? AND idempotency_key = ?`,
		p.ShopID, p.IdempotencyKey).Scan(&seen).Error; err != nil {
		return app.Entry{}, translate(err)
	}
	if len(seen) > 0 {
		return app.Entry{}, app.ErrDuplicate
	}
	return t.debit(db, p)
}

// balances are a customer's after an entry, with who they are: every
// balance move records the customer for the store's observers.
type balances struct {
	Balance    int64
	Pending    int64
	ShopID     int64
	PlatformID string
}

// credit adds points in one statement, so one round trip for every paid
// order: the idempotency check, the balance (or pending) move, the entry
// and its lot. A repeated key moves nothing and returns no row. A lot holds
// what the credit leaves after repaying points the customer owed (a
// reversal that took the balance below zero); a pending lot holds it all.
func (t *ledgerTx) credit(db *gorm.DB, p app.Posting) (app.Entry, error) {
	pending := p.AvailableAt.After(p.At)
	toBalance, toPending := p.Points, int64(0)
	if pending {
		toBalance, toPending = 0, p.Points
	}
	var rows []entryRow
	err := db.Raw(`WITH b AS (
			UPDATE customers SET balance = balance + ?, pending = pending + ?,
				last_activity_at = COALESCE(?, last_activity_at), updated_at = now()
			WHERE id = ? AND NOT EXISTS (SELECT 1 FROM ledger_entries WHERE shop_id = ? AND idempotency_key = ?)
			RETURNING balance, pending
		), e AS (
			INSERT INTO ledger_entries (shop_id, customer_id, order_id, kind, points, unrecovered, balance_after,
				pending_after, cause_order, cause_refund, cause_job, staff, reason, reason_code, undoes_entry, idempotency_key, created_at)
			SELECT ?, ?, ?, ?, ?, ?, b.balance, b.pending, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM b
			RETURNING `+entryColumns+`
		), l AS (
			INSERT INTO lots (customer_id, entry_id, order_id, points, remaining, pending, earned_at, available_at, expires_at)
			SELECT e.customer_id, e.id, ?, e.points, CASE WHEN ? THEN e.points ELSE LEAST(e.points, GREATEST(b.balance, 0)) END,
				?, ?, ?, ? FROM e, b
		)
		SELECT * FROM e`,
		toBalance, toPending, activityAt(p), p.CustomerID, p.ShopID, p.IdempotencyKey,
		p.ShopID, p.CustomerID, nullID(p.OrderID), string(p.Kind), p.Points, p.Unrecovered,
		p.Cause.OrderID, p.Cause.RefundID, p.Cause.Job, p.Cause.Staff, p.Cause.Reason,
		string(p.Cause.ReasonCode), nullID(p.Cause.Undoes), p.IdempotencyKey, p.At,
		nullID(p.OrderID), pending, pending, p.At, p.AvailableAt, p.ExpiresAt).Scan(&rows).Error
	if err != nil {
		return app.Entry{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Entry{}, app.ErrDuplicate
	}
	if _, locked := t.wrote[p.CustomerID]; !locked {
		// Callers lock the customer first, which records them; this is
		// the rare path of one who did not.
		var platformID string
		if err := db.Raw(`SELECT platform_id FROM customers WHERE id = ?`, p.CustomerID).Scan(&platformID).Error; err != nil {
			return app.Entry{}, translate(err)
		}
		t.touch(p.ShopID, p.CustomerID, platformID)
	}
	return rows[0].toApp(), nil
}

func (t *ledgerTx) debit(db *gorm.DB, p app.Posting) (app.Entry, error) {
	want := -p.Points
	var fromPending, fromAvailable int64
	if want > 0 {
		// Spend order: the order's own lots first (a refund takes back what
		// that order earned), then available lots by soonest expiry, then
		// pending lots when allowed. One set-based statement.
		var taken []struct {
			Pending bool
			N       int64
		}
		err := db.Raw(`WITH open AS (
				SELECT id, remaining, pending,
				       SUM(remaining) OVER (ORDER BY COALESCE(order_id = ?, false) DESC, pending,
				                            expires_at NULLS LAST, earned_at, id) - remaining AS before
				FROM lots WHERE customer_id = ? AND remaining > 0 AND (NOT pending OR ?)
			), take AS (
				SELECT id, pending, LEAST(remaining, ? - before) AS n FROM open WHERE before < ?
			)
			UPDATE lots SET remaining = lots.remaining - take.n FROM take WHERE lots.id = take.id
			RETURNING take.pending, take.n`,
			nullID(p.OrderID), p.CustomerID, p.SpendPending, want, want).Scan(&taken).Error
		if err != nil {
			return app.Entry{}, translate(err)
		}
		for _, tk := range taken {
			if tk.Pending {
				fromPending += tk.N
			} else {
				fromAvailable += tk.N
			}
		}
	}
	// Whatever lots could not cover comes off the available balance, which
	// the service only lets go below zero when the program allows it.
	var after balances
	if err := db.Raw(`UPDATE customers SET balance = balance - ?, pending = pending - ?,
		last_activity_at = COALESCE(?, last_activity_at), updated_at = now()
		WHERE id = ? RETURNING balance, pending, shop_id, platform_id`, want-fromPending, fromPending, activityAt(p), p.CustomerID).Scan(&after).Error; err != nil {
		return app.Entry{}, translate(err)
	}
	t.touch(after.ShopID, p.CustomerID, after.PlatformID)
	var row entryRow
	err := db.Raw(`INSERT INTO ledger_entries (shop_id, customer_id, order_id, kind, points, unrecovered, balance_after,
			pending_after, cause_order, cause_refund, cause_job, staff, reason, reason_code, undoes_entry, idempotency_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+entryColumns,
		p.ShopID, p.CustomerID, nullID(p.OrderID), string(p.Kind), p.Points, p.Unrecovered, after.Balance, after.Pending,
		p.Cause.OrderID, p.Cause.RefundID, p.Cause.Job, p.Cause.Staff, p.Cause.Reason,
		string(p.Cause.ReasonCode), nullID(p.Cause.Undoes), p.IdempotencyKey, p.At).Scan(&row).Error
	if err != nil {
		return app.Entry{}, translate(err)
	}
	return row.toApp(), nil
}

// activityAt is when an entry shows the customer active, for expiry by
// inactivity: every entry but an expiry, at its time (the service's clock,
// as the entry's; the customer's entries are serialized by their row lock).
// Nil leaves the last activity as it was.
func activityAt(p app.Posting) *time.Time {
	if p.Kind == app.KindExpire {
		return nil
	}
	return &p.At
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
