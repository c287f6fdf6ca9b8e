package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// noticeData is what a notification says, kept as jsonb.
type noticeData struct {
	Points     int64      `json:"points,omitempty"`
	Earned     int64      `json:"earned,omitempty"`
	Code       string     `json:"code,omitempty"`
	RewardName string     `json:"reward_name,omitempty"`
	On         *time.Time `json:"on,omitempty"`
}

type notificationRow struct {
	ID         int64
	ShopID     int64
	CustomerID int64
	Kind       string
	Key        string
	Data       []byte
	Email      string
	Locale     string
	Status     string
	Attempts   int
	LastError  string
	CreatedAt  time.Time
	SentAt     *time.Time
}

const notificationColumns = `id, shop_id, customer_id, kind, key, data, email, locale, status, attempts, last_error, created_at, sent_at`

func (r notificationRow) toApp() app.Notification {
	var d noticeData
	_ = json.Unmarshal(r.Data, &d) // written by this file only
	n := app.Notification{ID: r.ID, ShopID: r.ShopID, CustomerID: r.CustomerID,
		Notice: app.Notice{Kind: app.MessageKind(r.Kind), CustomerID: r.CustomerID, Points: d.Points, Earned: d.Earned, Code: d.Code,
			RewardName: d.RewardName, Key: r.Key},
		Email: r.Email, Locale: r.Locale, Status: app.NotificationStatus(r.Status), Attempts: r.Attempts,
		LastError: r.LastError, CreatedAt: r.CreatedAt, SentAt: r.SentAt}
	if d.On != nil {
		n.Notice.On = *d.On
	}
	return n
}

// AddNotification records a notification once per shop and key.
func (s *Store) AddNotification(ctx context.Context, n app.Notification) (app.Notification, bool, error) {
	added, err := s.AddNotifications(ctx, []app.Notification{n})
	if err != nil {
		return app.Notification{}, false, err
	}
	if len(added) == 1 {
		return added[0], true, nil
	}
	var rows []notificationRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+notificationColumns+` FROM notifications WHERE shop_id = ? AND key = ?`,
		n.ShopID, n.Notice.Key).Scan(&rows).Error; err != nil {
		return app.Notification{}, false, translate(err)
	}
	if len(rows) == 0 {
		return app.Notification{}, false, app.Errorf(app.EInternal, "notification %s neither added nor found", n.Notice.Key)
	}
	return rows[0].toApp(), false, nil
}

// AddNotifications records notifications once per shop and key, all in one
// statement, so one round trip and one commit for all the messages a batch
// of paid orders calls for: the rows, and for skipped ones the attempt
// support wants to see (the decision not to send). It returns the ones it
// added, in no particular order.
func (s *Store) AddNotifications(ctx context.Context, ns []app.Notification) ([]app.Notification, error) {
	return addNotifications(s.db.WithContext(ctx), ns)
}

// AddNotifications records notifications in the transaction, so they
// commit with the change they tell of.
func (t *ledgerTx) AddNotifications(ctx context.Context, ns []app.Notification) ([]app.Notification, error) {
	return addNotifications(t.db.WithContext(ctx), ns)
}

func addNotifications(db *gorm.DB, ns []app.Notification) ([]app.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	data := make(array[string], len(ns))
	created := make(array[time.Time], len(ns))
	for i, n := range ns {
		d := noticeData{Points: n.Notice.Points, Earned: n.Notice.Earned, Code: n.Notice.Code, RewardName: n.Notice.RewardName}
		if !n.Notice.On.IsZero() {
			on := n.Notice.On
			d.On = &on
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encode notice: %w", err)
		}
		data[i], created[i] = string(raw), n.CreatedAt
		if n.CreatedAt.IsZero() {
			created[i] = time.Now()
		}
	}
	var rows []notificationRow
	// One array per column (see batch.go): one statement text whatever
	// the number of messages.
	if err := db.Raw(`WITH n AS (
			INSERT INTO notifications (shop_id, customer_id, kind, key, data, email, locale, status, last_error, created_at)
			SELECT v.shop_id, v.customer_id, v.kind, v.key, v.data::jsonb, v.email, v.locale, v.status, v.last_error, v.created_at
			FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
				AS v(shop_id, customer_id, kind, key, data, email, locale, status, last_error, created_at)
			ON CONFLICT (shop_id, key) DO NOTHING RETURNING `+notificationColumns+`
		), a AS (
			INSERT INTO notification_attempts (notification_id, at, status, detail)
			SELECT id, created_at, 'skipped', last_error FROM n WHERE status = 'skipped'
		)
		SELECT * FROM n`,
		column(ns, func(n app.Notification) int64 { return n.ShopID }),
		column(ns, func(n app.Notification) int64 { return n.CustomerID }),
		column(ns, func(n app.Notification) string { return string(n.Notice.Kind) }),
		column(ns, func(n app.Notification) string { return n.Notice.Key }),
		data,
		column(ns, func(n app.Notification) string { return n.Email }),
		column(ns, func(n app.Notification) string { return n.Locale }),
		column(ns, func(n app.Notification) string { return string(n.Status) }),
		column(ns, func(n app.Notification) string { return n.LastError }),
		created).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// Notification returns a notification with its shop, in one read: every
// message a worker sends starts here.
func (s *Store) Notification(ctx context.Context, id int64) (app.Shop, app.Notification, error) {
	var rows []struct {
		N notificationRow `gorm:"embedded"`
		S shopRow         `gorm:"embedded;embeddedPrefix:s_"`
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT n.id, n.shop_id, n.customer_id, n.kind, n.key, n.data, n.email,
			n.locale, n.status, n.attempts, n.last_error, n.created_at, n.sent_at,
			s.id AS s_id, s.platform AS s_platform, s.domain AS s_domain, s.name AS s_name,
			s.currency AS s_currency, s.status AS s_status, s.created_at AS s_created_at
		FROM notifications n JOIN shops s ON s.id = n.shop_id WHERE n.id = ?`, id).Scan(&rows).Error; err != nil {
		return app.Shop{}, app.Notification{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Shop{}, app.Notification{}, app.Errorf(app.ENotFound, "no notification %d", id)
	}
	return rows[0].S.toApp(), rows[0].N.toApp(), nil
}

// ShopByID returns a shop by the app's own id.
func (s *Store) ShopByID(ctx context.Context, id int64) (app.Shop, error) {
	var rows []shopRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+shopColumns+` FROM shops WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return app.Shop{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Shop{}, app.Errorf(app.ENotFound, "no shop %d", id)
	}
	return rows[0].toApp(), nil
}

// RecordAttempt appends an attempt and moves its notification to the
// attempt's status. Only a queued notification moves: an attempt that lost
// a race with another worker is still recorded, but cannot undo a send.
func (s *Store) RecordAttempt(ctx context.Context, a app.NotificationAttempt) error {
	counts := 1
	if a.Status == app.NotificationSkipped {
		counts = 0 // nothing reached for the mail server
	}
	var sentAt *time.Time
	if a.Status == app.NotificationSent {
		sentAt = &a.At
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO notification_attempts (notification_id, at, status, detail) VALUES (?, ?, ?, ?)`,
			a.NotificationID, a.At, string(a.Status), a.Detail).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE notifications SET status = ?, attempts = attempts + ?, last_error = ?, sent_at = ?, updated_at = now()
			WHERE id = ? AND status = 'queued'`, string(a.Status), counts, lastError(a), sentAt, a.NotificationID).Error
	})
	return translate(err)
}

// lastError keeps the reason a notification was not sent; a sent one has none.
func lastError(a app.NotificationAttempt) string {
	if a.Status == app.NotificationSent {
		return ""
	}
	return a.Detail
}

// QueuedNotifications lists notifications still waiting, in id order.
func (s *Store) QueuedNotifications(ctx context.Context, before time.Time, afterID int64, limit int) ([]app.Shop, []app.Notification, error) {
	var rows []notificationRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+notificationColumns+` FROM notifications
		WHERE status = 'queued' AND created_at < ? AND id > ? ORDER BY id LIMIT ?`, before, afterID, limit).Scan(&rows).Error; err != nil {
		return nil, nil, translate(err)
	}
	shops := make([]app.Shop, len(rows))
	out := make([]app.Notification, len(rows))
	byID := map[int64]app.Shop{}
	for i, r := range rows {
		shop, ok := byID[r.ShopID]
		if !ok {
			var err error
			if shop, err = s.ShopByID(ctx, r.ShopID); err != nil {
				return nil, nil, err
			}
			byID[r.ShopID] = shop
		}
		shops[i], out[i] = shop, r.toApp()
	}
	return shops, out, nil
}

// Notifications lists a shop's latest notifications, newest first.
func (s *Store) Notifications(ctx context.Context, shopID, customerID int64, limit int) ([]app.Notification, error) {
	q := s.db.WithContext(ctx)
	var rows []notificationRow
	var err error
	if customerID != 0 {
		err = q.Raw(`SELECT `+notificationColumns+` FROM notifications WHERE shop_id = ? AND customer_id = ?
			ORDER BY id DESC LIMIT ?`, shopID, customerID, limit).Scan(&rows).Error
	} else {
		err = q.Raw(`SELECT `+notificationColumns+` FROM notifications WHERE shop_id = ?
			ORDER BY id DESC LIMIT ?`, shopID, limit).Scan(&rows).Error
	}
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// NotificationAttempts lists a notification's attempts, oldest first.
func (s *Store) NotificationAttempts(ctx context.Context, notificationID int64) ([]app.NotificationAttempt, error) {
	var rows []struct {
		NotificationID int64
		At             time.Time
		Status         string
		Detail         string
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT notification_id, at, status, detail FROM notification_attempts
		WHERE notification_id = ? ORDER BY id`, notificationID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.NotificationAttempt, len(rows))
	for i, r := range rows {
		out[i] = app.NotificationAttempt{NotificationID: r.NotificationID, At: r.At, Status: app.NotificationStatus(r.Status), Detail: r.Detail}
	}
	return out, nil
}

// Unsubscribe records that a customer wants no more messages; the first
// date is kept.
func (s *Store) Unsubscribe(ctx context.Context, shopID, customerID int64, at time.Time) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE customers SET unsubscribed_at = coalesce(unsubscribed_at, ?)
		WHERE shop_id = ? AND id = ?`, at, shopID, customerID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no customer %d in this shop", customerID)
	}
	return nil
}

// Unsubscribed returns when a customer unsubscribed, or nil.
func (s *Store) Unsubscribed(ctx context.Context, shopID, customerID int64) (*time.Time, error) {
	var rows []struct{ UnsubscribedAt *time.Time }
	if err := s.db.WithContext(ctx).Raw(`SELECT unsubscribed_at FROM customers WHERE shop_id = ? AND id = ?`,
		shopID, customerID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, app.Errorf(app.ENotFound, "no customer %d in this shop", customerID)
	}
	return rows[0].UnsubscribedAt, nil
}

// expiringDayRow is a customer's points that expire on a UTC day.
type expiringDayRow struct {
	CustomerID int64
	Day        time.Time
	Points     int64
}

func expiringDays(rows []expiringDayRow) []app.ExpiringDay {
	out := make([]app.ExpiringDay, len(rows))
	for i, r := range rows {
		out[i] = app.ExpiringDay{CustomerID: r.CustomerID, Points: r.Points,
			Day: time.Date(r.Day.Year(), r.Day.Month(), r.Day.Day(), 0, 0, 0, 0, time.UTC)}
	}
	return out
}

// ExpiringByDay sums the open lots of a shop that expire in [from, until)
// per customer and UTC day. Pending lots count: their points expire too.
func (s *Store) ExpiringByDay(ctx context.Context, shopID int64, from, until time.Time) ([]app.ExpiringDay, error) {
	var rows []expiringDayRow
	err := s.db.WithContext(ctx).Raw(`SELECT l.customer_id, date_trunc('day', l.expires_at AT TIME ZONE 'UTC') AS day,
			sum(l.remaining) AS points
		FROM lots l JOIN customers c ON c.id = l.customer_id
		WHERE c.shop_id = ? AND l.remaining > 0 AND l.expires_at >= ? AND l.expires_at < ?
		GROUP BY 1, 2 ORDER BY 1, 2`, shopID, from, until).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return expiringDays(rows), nil
}

// redactNotifications forgets what a customer's messages said about them:
// their address, the texts of the tries (a server's refusal may quote the
// address), and what the messages said; messages not sent yet never will
// be. The rows stay, so support still sees that messages went out and when.
func redactNotifications(tx *gorm.DB, customerID int64) error {
	if err := tx.Exec(`UPDATE notification_attempts SET detail = '' WHERE notification_id IN
		(SELECT id FROM notifications WHERE customer_id = ?)`, customerID).Error; err != nil {
		return err
	}
	return tx.Exec(`UPDATE notifications SET email = '', locale = '', data = '{}', last_error = '',
			status = CASE WHEN status = 'queued' THEN 'skipped' ELSE status END, updated_at = now()
		WHERE customer_id = ?`, customerID).Error
}

// InactiveByDay finds the customers whose balance expires by inactivity in
// [from, until): their last activity plus the program's months, in UTC,
// as the expiry sweep counts it. The points are what their lots hold.
func (s *Store) InactiveByDay(ctx context.Context, shopID int64, from, until time.Time) ([]app.ExpiringDay, error) {
	// The expiry moment of a customer; the coarse range on last_activity_at
	// (months are 28 to 31 days) lets the index narrow the rows first.
	const expires = `((c.last_activity_at AT TIME ZONE 'UTC') + make_interval(months => p.inactivity_months)) AT TIME ZONE 'UTC'`
	var rows []expiringDayRow
	err := s.db.WithContext(ctx).Raw(`SELECT c.id AS customer_id, date_trunc('day', `+expires+` AT TIME ZONE 'UTC') AS day,
			sum(l.remaining) AS points
		FROM customers c
		JOIN programs p ON p.shop_id = c.shop_id AND p.inactivity_months > 0
		JOIN lots l ON l.customer_id = c.id AND l.remaining > 0
		WHERE c.shop_id = ? AND (c.balance > 0 OR c.pending > 0)
		  AND c.last_activity_at >= ?::timestamptz - make_interval(months => p.inactivity_months, days => 3)
		  AND c.last_activity_at < ?::timestamptz - make_interval(months => p.inactivity_months) + interval '3 days'
		  AND `+expires+` >= ? AND `+expires+` < ?
		GROUP BY 1, 2 ORDER BY 1, 2`, shopID, from, until, from, until).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return expiringDays(rows), nil
}
