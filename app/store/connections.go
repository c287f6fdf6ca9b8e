package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

type connectionRow struct {
	ShopID            int64
	URL               string
	WebhookKey        string
	EarnStatuses      string
	SyncedUntil       time.Time
	LastSyncAt        *time.Time
	LastSyncError     string
	WebhooksCheckedAt *time.Time
}

func (r connectionRow) toApp() app.Connection {
	c := app.Connection{ShopID: r.ShopID, URL: r.URL, WebhookKey: r.WebhookKey, SyncedUntil: r.SyncedUntil,
		LastSyncError: r.LastSyncError}
	if r.EarnStatuses != "" {
		c.EarnStatuses = strings.Split(r.EarnStatuses, ",")
	}
	if r.LastSyncAt != nil {
		c.LastSyncAt = *r.LastSyncAt
	}
	if r.WebhooksCheckedAt != nil {
		c.WebhooksCheckedAt = *r.WebhooksCheckedAt
	}
	return c
}

const connectionColumns = `c.shop_id, c.url, c.webhook_key, c.earn_statuses, c.synced_until, c.last_sync_at,
	c.last_sync_error, c.webhooks_checked_at`

// ConnectStore creates or reactivates a shop with its connection and
// credentials in one transaction.
func (s *Store) ConnectStore(ctx context.Context, shop app.Shop, p app.Program, conn app.Connection, c app.Credentials) (app.Shop, bool, error) {
	if s.keys == nil {
		return app.Shop{}, false, fmt.Errorf("connect store: the store has no encryption keys")
	}
	var connected shopRow
	var inserted bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if connected, inserted, err = upsertShop(tx, shop, p); err != nil {
			return err
		}
		// A reconnect keeps how far the store was read: orders changed while
		// it was disconnected are still picked up.
		if err := tx.Exec(`INSERT INTO store_connections (shop_id, url, webhook_key, earn_statuses, synced_until)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (shop_id) DO UPDATE SET url = EXCLUDED.url, webhook_key = EXCLUDED.webhook_key,
				earn_statuses = EXCLUDED.earn_statuses,
				synced_until = LEAST(store_connections.synced_until, EXCLUDED.synced_until)`,
			connected.ID, conn.URL, conn.WebhookKey, strings.Join(conn.EarnStatuses, ","), conn.SyncedUntil).Error; err != nil {
			return err
		}
		c.ShopID = connected.ID
		return s.saveCredentials(tx, c)
	})
	if err != nil {
		return app.Shop{}, false, translate(err)
	}
	return connected.toApp(), !inserted, nil
}

// shopConnectionRow is a shop joined with its connection.
type shopConnectionRow struct {
	ID                int64
	Platform          string
	Domain            string
	Name              string
	Currency          string
	Status            string
	CreatedAt         time.Time
	ShopID            int64
	URL               string
	WebhookKey        string
	EarnStatuses      string
	SyncedUntil       time.Time
	LastSyncAt        *time.Time
	LastSyncError     string
	WebhooksCheckedAt *time.Time
}

func (r shopConnectionRow) toApp() (app.Shop, app.Connection) {
	shop := shopRow{ID: r.ID, Platform: r.Platform, Domain: r.Domain, Name: r.Name, Currency: r.Currency, Status: r.Status, CreatedAt: r.CreatedAt}
	conn := connectionRow{ShopID: r.ShopID, URL: r.URL, WebhookKey: r.WebhookKey, EarnStatuses: r.EarnStatuses, SyncedUntil: r.SyncedUntil,
		LastSyncAt: r.LastSyncAt, LastSyncError: r.LastSyncError, WebhooksCheckedAt: r.WebhooksCheckedAt}
	return shop.toApp(), conn.toApp()
}

const shopConnectionQuery = `SELECT s.id, s.platform, s.domain, s.name, s.currency, s.status, s.created_at, ` +
	connectionColumns + ` FROM store_connections c JOIN shops s ON s.id = c.shop_id`

// ConnectionByWebhookKey finds a shop by the key its webhooks arrive under.
func (s *Store) ConnectionByWebhookKey(ctx context.Context, key string) (app.Shop, app.Connection, error) {
	var rows []shopConnectionRow
	if err := s.db.WithContext(ctx).Raw(shopConnectionQuery+` WHERE c.webhook_key = ?`, key).Scan(&rows).Error; err != nil {
		return app.Shop{}, app.Connection{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Shop{}, app.Connection{}, app.Errorf(app.ENotFound, "no store receives webhooks under this key")
	}
	shop, conn := rows[0].toApp()
	return shop, conn, nil
}

// Connection returns a shop's connection.
func (s *Store) Connection(ctx context.Context, shopID int64) (app.Connection, error) {
	var rows []connectionRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+connectionColumns+` FROM store_connections c WHERE c.shop_id = ?`, shopID).Scan(&rows).Error; err != nil {
		return app.Connection{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Connection{}, app.Errorf(app.ENotFound, "shop %d is not connected", shopID)
	}
	return rows[0].toApp(), nil
}

// ActiveConnections lists a platform's active shops and their connections.
func (s *Store) ActiveConnections(ctx context.Context, platform app.Platform) ([]app.Shop, []app.Connection, error) {
	var rows []shopConnectionRow
	if err := s.db.WithContext(ctx).Raw(shopConnectionQuery+` WHERE s.platform = ? AND s.status = 'active' ORDER BY s.id`,
		platform).Scan(&rows).Error; err != nil {
		return nil, nil, translate(err)
	}
	shops, conns := make([]app.Shop, len(rows)), make([]app.Connection, len(rows))
	for i, r := range rows {
		shops[i], conns[i] = r.toApp()
	}
	return shops, conns, nil
}

// SaveSyncProgress records how far reconciliation read a store. It never
// moves backwards: two reconciliations racing cannot undo each other.
func (s *Store) SaveSyncProgress(ctx context.Context, shopID int64, syncedUntil time.Time, syncErr string) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE store_connections SET
		synced_until = GREATEST(synced_until, ?), last_sync_at = now(), last_sync_error = ? WHERE shop_id = ?`,
		syncedUntil, syncErr, shopID).Error)
}

// MarkWebhooksChecked records when a store's webhooks were last checked.
func (s *Store) MarkWebhooksChecked(ctx context.Context, shopID int64) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE store_connections SET webhooks_checked_at = now() WHERE shop_id = ?`, shopID).Error)
}

// SetEarnStatuses changes the order statuses at which a store's orders earn.
func (s *Store) SetEarnStatuses(ctx context.Context, shopID int64, statuses []string) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE store_connections SET earn_statuses = ? WHERE shop_id = ?`, strings.Join(statuses, ","), shopID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "shop %d is not a connected store", shopID)
	}
	return nil
}
