package store

import (
	"context"
	"time"

	"loyalty/app"
)

// joinedDay is a customer's joining day in UTC as month * 100 + day: the
// expression of the customers_joined_day index, which the planner matches
// only when the query says the same.
const joinedDay = `CAST(EXTRACT(MONTH FROM c.created_at AT TIME ZONE 'UTC') * 100 + EXTRACT(DAY FROM c.created_at AT TIME ZONE 'UTC') AS integer)`

type bonusCandidateRow struct {
	ID            int64
	ShopID        int64
	PlatformID    string
	BirthMonth    *int
	BirthDay      *int
	CreatedAt     time.Time
	ShopPlatform  string
	ShopDomain    string
	ShopName      string
	ShopCurrency  string
	ShopStatus    string
	ShopCreatedAt time.Time
	Timezone      string
}

// BonusCandidates picks out the customers whose birthday or joining day is
// day, in bounded batches by id: one range of the customers_birthday or
// customers_joined_day index, (day, id) onwards.
func (s *Store) BonusCandidates(ctx context.Context, kind app.YearlyBonus, day app.Birthday, joinedBefore time.Time, after int64, limit int) ([]app.BonusCandidate, error) {
	mmdd := int(day.Month)*100 + day.Day
	var filter string
	args := []any{after}
	switch kind {
	case app.BonusBirthday:
		filter = `p.birthday_bonus > 0 AND c.birth_month IS NOT NULL AND (c.birth_month * 100 + c.birth_day) = ?`
		args = append(args, mmdd)
	case app.BonusAnniversary:
		filter = `p.anniversary_bonus > 0 AND ` + joinedDay + ` = ? AND c.created_at < ?`
		args = append(args, mmdd, joinedBefore)
	default:
		return nil, app.Errorf(app.EInvalid, "no yearly bonus %q", kind)
	}
	args = append(args, limit)
	var rows []bonusCandidateRow
	err := s.db.WithContext(ctx).Raw(`SELECT c.id, c.shop_id, c.platform_id, c.birth_month, c.birth_day, c.created_at,
			s.platform AS shop_platform, s.domain AS shop_domain, s.name AS shop_name, s.currency AS shop_currency,
			s.status AS shop_status, s.created_at AS shop_created_at, s.timezone
		FROM customers c
		JOIN shops s ON s.id = c.shop_id
		JOIN programs p ON p.shop_id = c.shop_id
		WHERE s.status = 'active' AND c.redacted_at IS NULL AND c.id > ? AND `+filter+`
		ORDER BY c.id LIMIT ?`, args...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]app.BonusCandidate, len(rows))
	for i, r := range rows {
		c := customerRow{ID: r.ID, ShopID: r.ShopID, PlatformID: r.PlatformID, BirthMonth: r.BirthMonth,
			BirthDay: r.BirthDay, CreatedAt: r.CreatedAt}
		shop := shopRow{ID: r.ShopID, Platform: r.ShopPlatform, Domain: r.ShopDomain, Name: r.ShopName,
			Currency: r.ShopCurrency, Status: r.ShopStatus, CreatedAt: r.ShopCreatedAt}
		out[i] = app.BonusCandidate{Shop: shop.toApp(), Timezone: r.Timezone, Customer: c.toApp()}
	}
	return out, nil
}

// UsedKeys looks the keys up in one query on the ledger's unique key.
func (s *Store) UsedKeys(ctx context.Context, keys []app.LedgerKey) (map[app.LedgerKey]bool, error) {
	used := map[app.LedgerKey]bool{}
	if len(keys) == 0 {
		return used, nil
	}
	pairs := make([][]any, len(keys))
	for i, k := range keys {
		pairs[i] = []any{k.ShopID, k.Key}
	}
	var rows []struct {
		ShopID         int64
		IdempotencyKey string
	}
	err := s.db.WithContext(ctx).Raw(`SELECT shop_id, idempotency_key FROM ledger_entries
		WHERE (shop_id, idempotency_key) IN ?`, pairs).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		used[app.LedgerKey{ShopID: r.ShopID, Key: r.IdempotencyKey}] = true
	}
	return used, nil
}

// ShopTimezone returns the shop's time zone name.
func (s *Store) ShopTimezone(ctx context.Context, shopID int64) (string, error) {
	var names []string
	if err := s.db.WithContext(ctx).Raw(`SELECT timezone FROM shops WHERE id = ?`, shopID).Scan(&names).Error; err != nil {
		return "", translate(err)
	}
	if len(names) == 0 {
		return "", app.Errorf(app.ENotFound, "no shop %d", shopID)
	}
	return names[0], nil
}

// SetShopTimezone records the shop's time zone name.
func (s *Store) SetShopTimezone(ctx context.Context, shopID int64, name string) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE shops SET timezone = ?, updated_at = now() WHERE id = ?`, name, shopID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no shop %d", shopID)
	}
	return nil
}
