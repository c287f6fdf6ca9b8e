package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"loyalty/app"
)

type rewardRow struct {
	ID            int64
	ShopID        int64
	Name          string
	Kind          string
	Points        int64
	Amount        int64
	PointsPerUnit int64
	MinPoints     int64
	MaxPoints     int64
	Percentage    int
	MinSubtotal   int64
	ExpiryDays    int
	Active        bool
	CreatedAt     time.Time
}

func (r rewardRow) toApp() app.Reward {
	return app.Reward{ID: r.ID, ShopID: r.ShopID, Name: r.Name, Kind: app.RewardKind(r.Kind), Points: r.Points,
		Amount: app.Amount(r.Amount), PointsPerUnit: r.PointsPerUnit, MinPoints: r.MinPoints, MaxPoints: r.MaxPoints,
		Percentage: r.Percentage, MinSubtotal: app.Amount(r.MinSubtotal), ExpiryDays: r.ExpiryDays, Active: r.Active, CreatedAt: r.CreatedAt}
}

const rewardColumns = `id, shop_id, name, kind, points, amount, points_per_unit, min_points, max_points, percentage,
	min_subtotal, expiry_days, active, created_at`

// AddReward adds a reward to a shop's catalogue.
func (s *Store) AddReward(ctx context.Context, r app.Reward) (app.Reward, error) {
	defer s.programChanged(ctx, r.ShopID)
	var row rewardRow
	err := s.db.WithContext(ctx).Raw(`INSERT INTO rewards (shop_id, name, kind, points, amount, points_per_unit, min_points,
			max_points, percentage, min_subtotal, expiry_days, active)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+rewardColumns,
		r.ShopID, r.Name, string(r.Kind), r.Points, int64(r.Amount), r.PointsPerUnit, r.MinPoints, r.MaxPoints, r.Percentage,
		int64(r.MinSubtotal), r.ExpiryDays, r.Active).Scan(&row).Error
	if err != nil {
		return app.Reward{}, translate(err)
	}
	return row.toApp(), nil
}

// SetRewardActive offers or withdraws a reward.
func (s *Store) SetRewardActive(ctx context.Context, shopID, rewardID int64, active bool) error {
	defer s.programChanged(ctx, shopID)
	res := s.db.WithContext(ctx).Exec(`UPDATE rewards SET active = ?, updated_at = now() WHERE shop_id = ? AND id = ?`, active, shopID, rewardID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no reward %d in this shop", rewardID)
	}
	return nil
}

// Reward returns one of a shop's rewards.
func (s *Store) Reward(ctx context.Context, shopID, rewardID int64) (app.Reward, error) {
	var rows []rewardRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+rewardColumns+` FROM rewards WHERE shop_id = ? AND id = ?`, shopID, rewardID).Scan(&rows).Error; err != nil {
		return app.Reward{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Reward{}, app.Errorf(app.ENotFound, "no reward %d in this shop", rewardID)
	}
	return rows[0].toApp(), nil
}

// Rewards lists a shop's catalogue, cheapest first.
func (s *Store) Rewards(ctx context.Context, shopID int64) ([]app.Reward, error) {
	var rows []rewardRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+rewardColumns+` FROM rewards WHERE shop_id = ?
		ORDER BY active DESC, GREATEST(points, min_points), id`, shopID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.Reward, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

type redemptionRow struct {
	ID          int64
	ShopID      int64
	CustomerID  int64
	RewardID    *int64
	RewardName  string
	Kind        string
	Points      int64
	Amount      int64
	Percentage  int
	MinSubtotal int64
	Code        string
	Status      string
	PlatformRef string
	Detail      string
	RedeemedBy  string
	ExpiresAt   *time.Time
	OrderID     string
	CreatedAt   time.Time
}

func (r redemptionRow) toApp() app.Redemption {
	out := app.Redemption{ID: r.ID, ShopID: r.ShopID, CustomerID: r.CustomerID, RewardName: r.RewardName,
		Kind: app.RewardKind(r.Kind), Points: r.Points, Amount: app.Amount(r.Amount), Percentage: r.Percentage,
		MinSubtotal: app.Amount(r.MinSubtotal), Code: r.Code, Status: app.RedemptionStatus(r.Status), PlatformRef: r.PlatformRef,
		Detail: r.Detail, RedeemedBy: r.RedeemedBy, ExpiresAt: r.ExpiresAt, OrderID: r.OrderID, CreatedAt: r.CreatedAt}
	if r.RewardID != nil {
		out.RewardID = *r.RewardID
	}
	return out
}

const redemptionColumns = `id, shop_id, customer_id, reward_id, reward_name, kind, points, amount, percentage, min_subtotal,
	code, status, platform_ref, detail, redeemed_by, expires_at, order_id, created_at`

func (s *Store) redemption(ctx context.Context, where string, args ...any) (app.Redemption, error) {
	var rows []redemptionRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+redemptionColumns+` FROM redemptions WHERE `+where, args...).Scan(&rows).Error; err != nil {
		return app.Redemption{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Redemption{}, app.Errorf(app.ENotFound, "no such redemption")
	}
	return rows[0].toApp(), nil
}

// RedemptionByKey finds the redemption made with an idempotency key.
func (s *Store) RedemptionByKey(ctx context.Context, shopID int64, key string) (app.Redemption, error) {
	return s.redemption(ctx, `shop_id = ? AND idempotency_key = ?`, shopID, key)
}

// Redemption returns one of a shop's redemptions.
func (s *Store) Redemption(ctx context.Context, shopID, id int64) (app.Redemption, error) {
	return s.redemption(ctx, `shop_id = ? AND id = ?`, shopID, id)
}

// Redemptions lists a customer's latest redemptions.
func (s *Store) Redemptions(ctx context.Context, shopID, customerID int64, limit int) ([]app.Redemption, error) {
	var rows []redemptionRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+redemptionColumns+` FROM redemptions
		WHERE shop_id = ? AND customer_id = ? ORDER BY id DESC LIMIT ?`, shopID, customerID, limit).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.Redemption, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// MarkRedemption moves a redemption between statuses, only from the ones
// given: a status never goes backwards.
func (s *Store) MarkRedemption(ctx context.Context, shopID, id int64, from []app.RedemptionStatus, to app.RedemptionStatus, platformRef, detail string) (bool, error) {
	statuses := make([]string, len(from))
	for i, f := range from {
		statuses[i] = string(f)
	}
	var owners []CustomerKey
	err := s.db.WithContext(ctx).Raw(`WITH r AS (UPDATE redemptions SET status = ?, platform_ref = COALESCE(NULLIF(?, ''), platform_ref),
			detail = ?, updated_at = now() WHERE shop_id = ? AND id = ? AND status IN ? RETURNING customer_id)
		SELECT c.shop_id, c.id AS customer_id, c.platform_id FROM r JOIN customers c ON c.id = r.customer_id`,
		string(to), platformRef, detail, shopID, id, statuses).Scan(&owners).Error
	if err != nil {
		return false, translate(err)
	}
	// The widget shows a shopper's codes: they changed.
	s.notify(ctx, owners)
	return len(owners) == 1, nil
}

// touchOwners records the customers whose redemptions the transaction
// changed: the widget shows a shopper's codes.
func (t *ledgerTx) touchOwners(ctx context.Context, rows []redemptionRow) error {
	var ids []int64
	for _, r := range rows {
		if _, known := t.wrote[r.CustomerID]; !known {
			ids = append(ids, r.CustomerID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var owners []CustomerKey
	if err := t.db.WithContext(ctx).Raw(`SELECT shop_id, id AS customer_id, platform_id FROM customers WHERE id IN ?`,
		ids).Scan(&owners).Error; err != nil {
		return translate(err)
	}
	for _, o := range owners {
		t.touch(o.ShopID, o.CustomerID, o.PlatformID)
	}
	return nil
}

// InsertRedemption records a redemption. A code that collides with an
// existing one is reported as app.ErrCodeTaken, so a new one is drawn.
func (t *ledgerTx) InsertRedemption(ctx context.Context, r app.Redemption) (app.Redemption, error) {
	var row redemptionRow
	var rewardID *int64
	if r.RewardID != 0 {
		rewardID = &r.RewardID
	}
	err := t.db.WithContext(ctx).Raw(`INSERT INTO redemptions (shop_id, customer_id, reward_id, reward_name, kind, points,
			amount, percentage, min_subtotal, code, status, redeemed_by, idempotency_key, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+redemptionColumns,
		r.ShopID, r.CustomerID, rewardID, r.RewardName, string(r.Kind), r.Points, int64(r.Amount), r.Percentage, int64(r.MinSubtotal),
		r.Code, string(r.Status), r.RedeemedBy, r.IdempotencyKey, r.ExpiresAt, r.CreatedAt).Scan(&row).Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "redemptions_code" {
		return app.Redemption{}, app.ErrCodeTaken
	}
	if err != nil {
		return app.Redemption{}, translate(err)
	}
	if err := t.touchOwners(ctx, []redemptionRow{row}); err != nil {
		return app.Redemption{}, err
	}
	return row.toApp(), nil
}

// FailRedemption marks a pending redemption failed, under its row lock.
func (t *ledgerTx) FailRedemption(ctx context.Context, shopID, id int64, detail string) (app.Redemption, bool, error) {
	var rows []redemptionRow
	err := t.db.WithContext(ctx).Raw(`UPDATE redemptions SET status = 'failed', detail = ?, updated_at = now()
		WHERE shop_id = ? AND id = ? AND status = 'pending' RETURNING `+redemptionColumns, detail, shopID, id).Scan(&rows).Error
	if err != nil {
		return app.Redemption{}, false, translate(err)
	}
	if len(rows) == 1 {
		return rows[0].toApp(), true, t.touchOwners(ctx, rows)
	}
	var current []redemptionRow
	if err := t.db.WithContext(ctx).Raw(`SELECT `+redemptionColumns+` FROM redemptions WHERE shop_id = ? AND id = ?`, shopID, id).Scan(&current).Error; err != nil {
		return app.Redemption{}, false, translate(err)
	}
	if len(current) == 0 {
		return app.Redemption{}, false, app.Errorf(app.ENotFound, "no redemption %d in this shop", id)
	}
	return current[0].toApp(), false, nil
}

// PendingRedemptions lists redemptions still waiting for their code.
func (s *Store) PendingRedemptions(ctx context.Context, before time.Time, limit int) ([]app.Shop, []app.Redemption, error) {
	return s.redemptionsWithShops(ctx, `status = 'pending' AND created_at < ?`, before, limit)
}

// redemptionsWithShops lists redemptions matching where (whose one
// parameter is a time), oldest first, each with its shop.
func (s *Store) redemptionsWithShops(ctx context.Context, where string, at time.Time, limit int) ([]app.Shop, []app.Redemption, error) {
	var rows []redemptionRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+redemptionColumns+` FROM redemptions
		WHERE `+where+` ORDER BY id LIMIT ?`, at, limit).Scan(&rows).Error; err != nil {
		return nil, nil, translate(err)
	}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ShopID)
	}
	var shopRows []shopRow
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Raw(`SELECT `+shopColumns+` FROM shops WHERE id IN ?`, ids).Scan(&shopRows).Error; err != nil {
			return nil, nil, translate(err)
		}
	}
	byID := make(map[int64]app.Shop, len(shopRows))
	for _, sr := range shopRows {
		byID[sr.ID] = sr.toApp()
	}
	shops := make([]app.Shop, len(rows))
	out := make([]app.Redemption, len(rows))
	for i, r := range rows {
		shops[i], out[i] = byID[r.ShopID], r.toApp()
	}
	return shops, out, nil
}

// CustomerByID returns one of a shop's customers by the app's own id.
func (s *Store) CustomerByID(ctx context.Context, shopID, customerID int64) (app.Customer, error) {
	var rows []customerRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+customerColumns+` FROM customers WHERE shop_id = ? AND id = ?`, shopID, customerID).Scan(&rows).Error; err != nil {
		return app.Customer{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Customer{}, app.Errorf(app.ENotFound, "no customer %d in this shop", customerID)
	}
	return rows[0].toApp(), nil
}

// UseRedemptions marks redemptions used by an order. A code is matched
// case-insensitively, as WooCommerce lower-cases coupon codes. An expired
// code is claimed as well: an order placed while it was valid may be paid
// after the sweep ended it, and the platform took the code all the same.
func (t *ledgerTx) UseRedemptions(ctx context.Context, shopID int64, codes []string, orderID string, at time.Time) ([]app.Redemption, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	lower := make([]string, len(codes))
	for i, c := range codes {
		lower[i] = strings.ToLower(strings.TrimSpace(c))
	}
	var rows []redemptionRow
	err := t.db.WithContext(ctx).Raw(`UPDATE redemptions SET status = 'used', order_id = ?, used_at = ?, updated_at = now()
		WHERE shop_id = ? AND lower(code) IN ? AND status IN ('pending', 'issued', 'expired')
		RETURNING `+redemptionColumns, orderID, at, shopID, lower).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if err := t.touchOwners(ctx, rows); err != nil {
		return nil, err
	}
	out := make([]app.Redemption, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// ExpiredRedemptions lists unused redemptions whose code expired.
func (s *Store) ExpiredRedemptions(ctx context.Context, before time.Time, limit int) ([]app.Shop, []app.Redemption, error) {
	return s.redemptionsWithShops(ctx, `status IN ('pending', 'issued') AND expires_at < ?`, before, limit)
}

// ExpireRedemption marks an unused redemption expired.
func (t *ledgerTx) ExpireRedemption(ctx context.Context, shopID, id int64) (app.Redemption, bool, error) {
	var rows []redemptionRow
	err := t.db.WithContext(ctx).Raw(`UPDATE redemptions SET status = 'expired', updated_at = now()
		WHERE shop_id = ? AND id = ? AND status IN ('pending', 'issued') RETURNING `+redemptionColumns, shopID, id).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return app.Redemption{}, false, translate(err)
	}
	return rows[0].toApp(), true, t.touchOwners(ctx, rows)
}

// RedemptionsUsedBy lists the redemptions an order used.
func (t *ledgerTx) RedemptionsUsedBy(ctx context.Context, shopID int64, orderID string) ([]app.Redemption, error) {
	var rows []redemptionRow
	if err := t.db.WithContext(ctx).Raw(`SELECT `+redemptionColumns+` FROM redemptions
		WHERE shop_id = ? AND order_id = ? AND status = 'used' ORDER BY id`, shopID, orderID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.Redemption, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}
