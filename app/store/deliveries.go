package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

type deliveryRow struct {
	ID          int64
	Platform    string
	ShopDomain  string
	DeliveryID  string
	Topic       string
	Status      string
	Detail      string
	Payload     []byte
	ReceivedAt  time.Time
	TriggeredAt *time.Time
	ProcessedAt *time.Time
}

func (r deliveryRow) toApp() app.WebhookDelivery {
	d := app.WebhookDelivery{ID: r.ID, Platform: app.Platform(r.Platform), ShopDomain: r.ShopDomain,
		DeliveryID: r.DeliveryID, Topic: r.Topic, Status: app.DeliveryStatus(r.Status), Detail: r.Detail,
		Payload: r.Payload, ReceivedAt: r.ReceivedAt}
	if r.TriggeredAt != nil {
		d.TriggeredAt = *r.TriggeredAt
	}
	if r.ProcessedAt != nil {
		d.ProcessedAt = *r.ProcessedAt
	}
	return d
}

const deliveryColumns = `id, platform, shop_domain, delivery_id, topic, status, detail, payload, received_at, triggered_at, processed_at`

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ParkDelivery writes a delivery to the durable inbox. It returns false when
// the same delivery is already known (a platform retry while parked).
func (s *Store) ParkDelivery(ctx context.Context, d app.WebhookDelivery) (bool, error) {
	res := s.db.WithContext(ctx).Exec(`INSERT INTO webhook_deliveries (platform, shop_domain, delivery_id, topic,
		status, payload, received_at, triggered_at) VALUES (?, ?, ?, ?, 'inbox', ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.Platform, d.ShopDomain, d.DeliveryID, d.Topic, d.Payload, d.ReceivedAt, optionalTime(d.TriggeredAt))
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RelayInbox hands up to limit parked deliveries to relay, oldest first, and
// marks those it accepted as queued. Rows are locked with SKIP LOCKED, so
// several processes can relay at once without handing a row over twice.
// relay returns how many of the batch it took (in order); it stops at the
// first it could not.
func (s *Store) RelayInbox(ctx context.Context, limit int, relay func([]app.WebhookDelivery) int) (int, error) {
	moved := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []deliveryRow
		if err := tx.Raw(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE status = 'inbox'
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, limit).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		batch := make([]app.WebhookDelivery, len(rows))
		for i, r := range rows {
			batch[i] = r.toApp()
		}
		moved = relay(batch)
		if moved == 0 {
			return nil
		}
		ids := make([]int64, moved)
		for i := range ids {
			ids[i] = rows[i].ID
		}
		return tx.Exec(`UPDATE webhook_deliveries SET status = 'queued', payload = NULL WHERE id IN ?`, ids).Error
	})
	return moved, translate(err)
}

// InboxSize counts deliveries waiting in the inbox.
func (s *Store) InboxSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM webhook_deliveries WHERE status = 'inbox'`).Scan(&n).Error
	return n, translate(err)
}

// DeliveryStatus returns what became of a delivery, or "" if it is unknown.
func (s *Store) DeliveryStatus(ctx context.Context, platform app.Platform, shopDomain, deliveryID string) (app.DeliveryStatus, error) {
	got, err := s.DeliveryStatuses(ctx, platform, shopDomain, []string{deliveryID})
	return got[deliveryID], err
}

// DeliveryStatuses returns what became of a shop's deliveries, by delivery
// id; unknown ones are absent.
func (s *Store) DeliveryStatuses(ctx context.Context, platform app.Platform, shopDomain string, deliveryIDs []string) (map[string]app.DeliveryStatus, error) {
	var rows []struct {
		DeliveryID string
		Status     string
	}
	err := s.db.WithContext(ctx).Raw(`SELECT delivery_id, status FROM webhook_deliveries
		WHERE platform = ? AND shop_domain = ? AND delivery_id IN ?`, platform, shopDomain, deliveryIDs).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]app.DeliveryStatus, len(rows))
	for _, r := range rows {
		out[r.DeliveryID] = app.DeliveryStatus(r.Status)
	}
	return out, nil
}

// RecordDelivery records what became of a delivery. The payload is kept only
// for failed deliveries, for support to look at.
func (s *Store) RecordDelivery(ctx context.Context, d app.WebhookDelivery) error {
	return s.RecordDeliveries(ctx, []app.WebhookDelivery{d})
}

// RecordDeliveries is RecordDelivery for several deliveries in one
// statement; of two records of one delivery the first counts.
func (s *Store) RecordDeliveries(ctx context.Context, ds []app.WebhookDelivery) error {
	return recordDeliveries(s.db.WithContext(ctx), ds)
}

// RecordDeliveries records deliveries in the transaction, so they commit
// with what they did.
func (t *ledgerTx) RecordDeliveries(ctx context.Context, ds []app.WebhookDelivery) error {
	return recordDeliveries(t.db.WithContext(ctx), ds)
}

func recordDeliveries(db *gorm.DB, ds []app.WebhookDelivery) error {
	type key struct{ platform, shop, id string }
	seen := make(map[key]bool, len(ds))
	unique := make([]app.WebhookDelivery, 0, len(ds))
	for _, d := range ds {
		k := key{string(d.Platform), d.ShopDomain, d.DeliveryID}
		if !seen[k] {
			seen[k] = true
			unique = append(unique, d)
		}
	}
	if len(unique) == 0 {
		return nil
	}
	// One array per column (see batch.go): one statement text whatever
	// the number of deliveries.
	return translate(db.Exec(`INSERT INTO webhook_deliveries (platform, shop_domain, delivery_id,
			topic, status, detail, payload, received_at, triggered_at, processed_at)
		SELECT v.platform, v.shop_domain, v.delivery_id, v.topic, v.status, v.detail, v.payload, v.received_at, v.triggered_at, now()
		FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::timestamptz[], ?::timestamptz[])
			AS v(platform, shop_domain, delivery_id, topic, status, detail, payload, received_at, triggered_at)
		ON CONFLICT (platform, shop_domain, delivery_id) DO UPDATE SET status = EXCLUDED.status,
			detail = EXCLUDED.detail, payload = EXCLUDED.payload, processed_at = now()
		-- a finished delivery keeps its first verdict: a concurrent second run
		-- of the same delivery finds it applied and must not relabel it
		WHERE webhook_deliveries.status IN ('inbox', 'queued')
		   OR (EXCLUDED.status = 'failed' AND webhook_deliveries.status = 'failed')`,
		column(unique, func(d app.WebhookDelivery) string { return string(d.Platform) }),
		column(unique, func(d app.WebhookDelivery) string { return d.ShopDomain }),
		column(unique, func(d app.WebhookDelivery) string { return d.DeliveryID }),
		column(unique, func(d app.WebhookDelivery) string { return d.Topic }),
		column(unique, func(d app.WebhookDelivery) string { return string(d.Status) }),
		column(unique, func(d app.WebhookDelivery) string { return d.Detail }),
		column(unique, func(d app.WebhookDelivery) []byte {
			// The payload is kept only for failed deliveries.
			if d.Status == app.DeliveryFailed {
				return d.Payload
			}
			return nil
		}),
		column(unique, func(d app.WebhookDelivery) time.Time { return d.ReceivedAt }),
		column(unique, func(d app.WebhookDelivery) *time.Time { return optionalTime(d.TriggeredAt) })).Error)
}

// Deliveries lists a shop's latest deliveries with the given status (all
// statuses when empty), newest first.
func (s *Store) Deliveries(ctx context.Context, shopDomain string, status app.DeliveryStatus, limit int) ([]app.WebhookDelivery, error) {
	var rows []deliveryRow
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE shop_domain = ?`
	args := []any{shopDomain}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, string(status))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	if err := s.db.WithContext(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}
