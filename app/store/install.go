package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// InstallShop creates or reactivates a shop and stores its credentials in
// one transaction, so an install is never half done.
func (s *Store) InstallShop(ctx context.Context, shop app.Shop, p app.Program, c app.Credentials) (app.Shop, bool, error) {
	if s.keys == nil {
		return app.Shop{}, false, fmt.Errorf("install shop: the store has no encryption keys")
	}
	var installed shopRow
	var inserted bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if installed, inserted, err = upsertShop(tx, shop, p); err != nil {
			return err
		}
		c.ShopID = installed.ID
		return s.saveCredentials(tx, c)
	})
	if err != nil {
		return app.Shop{}, false, translate(err)
	}
	s.programChanged(ctx, installed.ID)
	return installed.toApp(), !inserted, nil
}

// upsertShop creates an active shop with program p, or reactivates a shop
// installed before, keeping its program, customers and balances. It
// reports whether the shop is new.
func upsertShop(tx *gorm.DB, shop app.Shop, p app.Program) (shopRow, bool, error) {
	var row struct {
		ID        int64
		Platform  string
		Domain    string
		Name      string
		Currency  string
		Status    string
		CreatedAt time.Time
		Inserted  bool
	}
	// xmax = 0 only for a freshly inserted row: it tells a first install
	// from a reinstall in the same round trip.
	err := tx.Raw(`INSERT INTO shops (platform, domain, name, currency, status, installed_at)
		VALUES (?, ?, ?, ?, 'active', now())
		ON CONFLICT (platform, domain) DO UPDATE SET status = 'active', name = EXCLUDED.name,
			currency = EXCLUDED.currency, installed_at = now(), uninstalled_at = NULL, updated_at = now()
		RETURNING `+shopColumns+`, (xmax = 0) AS inserted`,
		shop.Platform, shop.Domain, shop.Name, shop.Currency).Scan(&row).Error
	if err != nil {
		return shopRow{}, false, err
	}
	if row.Inserted {
		p.ShopID = row.ID
		if err := saveProgram(tx, p); err != nil {
			return shopRow{}, false, err
		}
	}
	return shopRow{ID: row.ID, Platform: row.Platform, Domain: row.Domain, Name: row.Name,
		Currency: row.Currency, Status: row.Status, CreatedAt: row.CreatedAt}, row.Inserted, nil
}

// Uninstall marks a shop uninstalled and forgets its access, which the
// platform revokes on uninstall.
func (s *Store) Uninstall(ctx context.Context, shopID int64) error {
	defer s.programChanged(ctx, shopID) // the widget stops at once
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE shops SET status = 'uninstalled', uninstalled_at = now(), updated_at = now() WHERE id = ?`, shopID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return app.Errorf(app.ENotFound, "no shop %d", shopID)
		}
		return tx.Exec(`DELETE FROM shop_credentials WHERE shop_id = ?`, shopID).Error
	}))
}

// MarkUninstalled marks an active shop uninstalled by an uninstall that
// happened at the given time, in one statement. A shop installed after that
// time came back since (a reinstall wins) and is left alone, as is a shop
// already uninstalled. It reports whether the shop changed.
func (s *Store) MarkUninstalled(ctx context.Context, shopID int64, at time.Time) (bool, error) {
	defer s.programChanged(ctx, shopID) // the widget stops at once
	res := s.db.WithContext(ctx).Exec(`UPDATE shops SET status = 'uninstalled', uninstalled_at = now(), updated_at = now()
		WHERE id = ? AND status = 'active' AND COALESCE(installed_at, created_at) <= ?`, shopID, at)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// CompleteUninstall finishes the uninstall that happened at the given
// time: the shop is marked uninstalled if intake did not do it already and
// its access is forgotten. The shop's row is locked, so a reinstall cannot
// slip in between; a shop installed after that time came back and keeps
// its new credentials. It returns the shop as it now is and whether there
// were credentials to forget, i.e. whether this completed the uninstall.
func (s *Store) CompleteUninstall(ctx context.Context, shopID int64, at time.Time) (app.Shop, bool, error) {
	defer s.programChanged(ctx, shopID)
	var shop shopRow
	var forgot bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []struct {
			ID                                       int64
			Platform, Domain, Name, Currency, Status string
			CreatedAt                                time.Time
			Reinstalled                              bool
		}
		if err := tx.Raw(`SELECT `+shopColumns+`, COALESCE(installed_at, created_at) > ? AS reinstalled
			FROM shops WHERE id = ? FOR UPDATE`, at, shopID).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return app.Errorf(app.ENotFound, "no shop %d", shopID)
		}
		r := rows[0]
		shop = shopRow{ID: r.ID, Platform: r.Platform, Domain: r.Domain, Name: r.Name, Currency: r.Currency,
			Status: r.Status, CreatedAt: r.CreatedAt}
		if app.ShopStatus(shop.Status) == app.ShopActive {
			if r.Reinstalled {
				return nil // installed again after the uninstall: the reinstall wins
			}
			if err := tx.Exec(`UPDATE shops SET status = 'uninstalled', uninstalled_at = now(), updated_at = now()
				WHERE id = ?`, shopID).Error; err != nil {
				return err
			}
			shop.Status = string(app.ShopUninstalled)
		}
		res := tx.Exec(`DELETE FROM shop_credentials WHERE shop_id = ?`, shopID)
		forgot = res.RowsAffected > 0
		return res.Error
	})
	if err != nil {
		return app.Shop{}, false, translate(err)
	}
	return shop.toApp(), forgot, nil
}

func credentialContext(shopID int64, field string) string {
	return "shop:" + strconv.FormatInt(shopID, 10) + ":" + field
}

// seal seals a secret for one field of a shop's credentials; an empty
// secret stays empty.
func (s *Store) seal(shopID int64, field, secret string) string {
	if secret == "" {
		return ""
	}
	return s.keys.Seal(secret, credentialContext(shopID, field))
}

func (s *Store) unseal(shopID int64, field, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	plain, err := s.keys.Open(sealed, credentialContext(shopID, field))
	if err != nil {
		return "", fmt.Errorf("%s of shop %d: %w", field, shopID, err)
	}
	return plain, nil
}

func (s *Store) saveCredentials(db *gorm.DB, c app.Credentials) error {
	return db.Exec(`INSERT INTO shop_credentials (shop_id, access_token, refresh_token, api_key, webhook_secret,
			widget_secret, scopes, expires_at, refresh_expires_at, key_id, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())
		ON CONFLICT (shop_id) DO UPDATE SET access_token = EXCLUDED.access_token,
			refresh_token = EXCLUDED.refresh_token, api_key = EXCLUDED.api_key,
			webhook_secret = EXCLUDED.webhook_secret, widget_secret = EXCLUDED.widget_secret,
			scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at,
			refresh_expires_at = EXCLUDED.refresh_expires_at, key_id = EXCLUDED.key_id, updated_at = now()`,
		c.ShopID, s.seal(c.ShopID, "access_token", c.AccessToken), s.seal(c.ShopID, "refresh_token", c.RefreshToken),
		s.seal(c.ShopID, "api_key", c.APIKey), s.seal(c.ShopID, "webhook_secret", c.WebhookSecret),
		s.seal(c.ShopID, "widget_secret", c.WidgetSecret),
		strings.Join(c.Scopes, ","), optionalTime(c.ExpiresAt), optionalTime(c.RefreshExpiresAt), s.keys.CurrentKeyID()).Error
}

// SaveCredentials replaces a shop's credentials.
func (s *Store) SaveCredentials(ctx context.Context, c app.Credentials) error {
	if s.keys == nil {
		return fmt.Errorf("save credentials: the store has no encryption keys")
	}
	return translate(s.saveCredentials(s.db.WithContext(ctx), c))
}

type credentialRow struct {
	ShopID           int64
	ShopDomain       string
	AccessToken      string
	RefreshToken     string
	APIKey           string
	WebhookSecret    string
	WidgetSecret     string
	Scopes           string
	ExpiresAt        *time.Time
	RefreshExpiresAt *time.Time
	KeyID            string
	UpdatedAt        time.Time
}

func (s *Store) open(r credentialRow) (app.Credentials, error) {
	if s.keys == nil {
		return app.Credentials{}, fmt.Errorf("read credentials: the store has no encryption keys")
	}
	c := app.Credentials{ShopID: r.ShopID, ShopDomain: r.ShopDomain, UpdatedAt: r.UpdatedAt}
	for _, f := range []struct {
		field  string
		sealed string
		plain  *string
	}{
		{"access_token", r.AccessToken, &c.AccessToken},
		{"refresh_token", r.RefreshToken, &c.RefreshToken},
		{"api_key", r.APIKey, &c.APIKey},
		{"webhook_secret", r.WebhookSecret, &c.WebhookSecret},
		{"widget_secret", r.WidgetSecret, &c.WidgetSecret},
	} {
		plain, err := s.unseal(r.ShopID, f.field, f.sealed)
		if err != nil {
			return app.Credentials{}, err
		}
		*f.plain = plain
	}
	if r.Scopes != "" {
		c.Scopes = strings.Split(r.Scopes, ",")
	}
	if r.ExpiresAt != nil {
		c.ExpiresAt = *r.ExpiresAt
	}
	if r.RefreshExpiresAt != nil {
		c.RefreshExpiresAt = *r.RefreshExpiresAt
	}
	return c, nil
}

const credentialColumns = `shop_id, access_token, refresh_token, api_key, webhook_secret, widget_secret, scopes,
	expires_at, refresh_expires_at, key_id, updated_at`

// Credentials returns a shop's credentials, decrypted.
func (s *Store) Credentials(ctx context.Context, shopID int64) (app.Credentials, error) {
	var rows []credentialRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+credentialColumns+` FROM shop_credentials WHERE shop_id = ?`, shopID).Scan(&rows).Error; err != nil {
		return app.Credentials{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Credentials{}, app.Errorf(app.ENotFound, "shop %d has no credentials (not installed)", shopID)
	}
	return s.open(rows[0])
}

// ExpiringCredentials lists refreshable credentials of active shops whose
// access token expires before the given time, soonest first.
func (s *Store) ExpiringCredentials(ctx context.Context, before time.Time, limit int) ([]app.Credentials, error) {
	var rows []credentialRow
	err := s.db.WithContext(ctx).Raw(`SELECT c.shop_id, s.domain AS shop_domain, c.access_token, c.refresh_token,
			c.api_key, c.webhook_secret, c.widget_secret, c.scopes, c.expires_at, c.refresh_expires_at, c.key_id, c.updated_at
		FROM shop_credentials c JOIN shops s ON s.id = c.shop_id
		WHERE s.status = 'active' AND c.expires_at < ? AND c.refresh_token <> ''
		ORDER BY c.expires_at LIMIT ?`, before, limit).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.Credentials, 0, len(rows))
	for _, r := range rows {
		c, err := s.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RotateKeys re-seals every secret that is not sealed with the current key
// and returns how many rows it changed. Run it after putting the new key in
// ENCRYPTION_KEY and the old one in ENCRYPTION_KEY_PREVIOUS; afterwards the
// old key can be dropped.
func (s *Store) RotateKeys(ctx context.Context) (int, error) {
	if s.keys == nil {
		return 0, fmt.Errorf("rotate keys: the store has no encryption keys")
	}
	total := 0
	for {
		n := 0
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var rows []credentialRow
			if err := tx.Raw(`SELECT `+credentialColumns+` FROM shop_credentials WHERE key_id <> ?
				ORDER BY shop_id LIMIT 100 FOR UPDATE SKIP LOCKED`, s.keys.CurrentKeyID()).Scan(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				c, err := s.open(r)
				if err != nil {
					return err
				}
				if err := s.saveCredentials(tx, c); err != nil {
					return err
				}
			}
			n = len(rows)
			return nil
		})
		if err != nil {
			return total, translate(err)
		}
		total += n
		if n < 100 {
			return total, nil
		}
	}
}

// Audit writes a line to the audit log.
func (s *Store) Audit(ctx context.Context, e app.AuditEntry) error {
	var shopID *int64
	if e.ShopID != 0 {
		shopID = &e.ShopID
	}
	return translate(s.db.WithContext(ctx).Exec(`INSERT INTO audit_log (shop_id, shop_domain, actor, action, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?)`, shopID, e.ShopDomain, e.Actor, e.Action, e.Outcome, e.Detail).Error)
}

// AuditLog returns a shop's latest audit lines, newest first.
func (s *Store) AuditLog(ctx context.Context, shopDomain string, limit int) ([]app.AuditEntry, error) {
	var rows []auditRow
	err := s.db.WithContext(ctx).Raw(`SELECT id, shop_id, shop_domain, actor, action, outcome, detail, created_at
		FROM audit_log WHERE shop_domain = ? ORDER BY id DESC LIMIT ?`, shopDomain, limit).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return auditEntries(rows), nil
}

type auditRow struct {
	ID         int64
	ShopID     *int64
	ShopDomain string
	Actor      string
	Action     string
	Outcome    string
	Detail     string
	CreatedAt  time.Time
}

func auditEntries(rows []auditRow) []app.AuditEntry {
	out := make([]app.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = app.AuditEntry{ID: r.ID, ShopDomain: r.ShopDomain, Actor: r.Actor, Action: r.Action,
			Outcome: r.Outcome, Detail: r.Detail, CreatedAt: r.CreatedAt}
		if r.ShopID != nil {
			out[i].ShopID = *r.ShopID
		}
	}
	return out
}
