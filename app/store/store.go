// Package store keeps the loyalty domain in PostgreSQL through gorm. Every
// query and transaction of the app lives here; nothing outside sees gorm.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"loyalty/app"
)

// Options tune the connection pool.
type Options struct {
	MaxOpenConns int
	MaxIdleConns int
	// Keys seal secrets at rest; without them credentials cannot be stored
	// or read (the ledger still works, e.g. for migrations and tests).
	Keys *Keyring
}

// Store is the PostgreSQL implementation of app.Store.
type Store struct {
	db   *gorm.DB
	keys *Keyring
	// observers hear which customers each transaction changed.
	observers []func(ctx context.Context, changed []CustomerKey)
	// programObservers hear which shop's program or rewards changed.
	programObservers []func(ctx context.Context, shopID int64)
}

// CustomerKey names a customer whose records a transaction changed, with
// the shop and platform id the storefront widget asks for them by.
type CustomerKey struct {
	ShopID     int64
	CustomerID int64
	PlatformID string
}

// OnLedgerChange registers f to hear, once a transaction that wrote
// customers' ledger entries, lots, balances, details or redemptions (the
// widget shows their codes) has ended, which customers those were: every
// such write goes through the transaction's Post, LockCustomer or
// LockCustomerByID, a change to a redemption, or a privacy redaction, which
// record the customer, so no change can slip past a cache that listens
// here. f runs on the writer's goroutine after the commit (also after a
// failed one, whose outcome may be unknown: a needless invalidation costs
// one read); it must be quick and cannot fail the write. Register
// observers before the store is used.
func (s *Store) OnLedgerChange(f func(ctx context.Context, changed []CustomerKey)) {
	s.observers = append(s.observers, f)
}

// OnProgramChange registers f to hear of every change to a shop's program,
// rewards (SaveProgram, AddReward, SetRewardActive) or status (install,
// uninstall; a new shop has nothing cached to change), after it is made,
// even when it failed. Like
// OnLedgerChange, f must be quick and cannot fail the write; register
// observers before the store is used.
func (s *Store) OnProgramChange(f func(ctx context.Context, shopID int64)) {
	s.programObservers = append(s.programObservers, f)
}

func (s *Store) programChanged(ctx context.Context, shopID int64) {
	ctx = context.WithoutCancel(ctx)
	for _, f := range s.programObservers {
		f(ctx, shopID)
	}
}

func (s *Store) notify(ctx context.Context, changed []CustomerKey) {
	if len(changed) == 0 {
		return
	}
	// The write is done even if its request is ending: its invalidation
	// must still happen.
	ctx = context.WithoutCancel(ctx)
	for _, f := range s.observers {
		f(ctx, changed)
	}
}

var _ app.Store = (*Store)(nil)

// Open connects to the database at dsn and checks that it answers.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{
		// Each write here is either one statement or an explicit InTx; gorm's
		// implicit transaction around single statements is a wasted round trip.
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if opt.MaxOpenConns <= 0 {
		opt.MaxOpenConns = 20
	}
	if opt.MaxIdleConns <= 0 {
		opt.MaxIdleConns = opt.MaxOpenConns
	}
	sqlDB.SetMaxOpenConns(opt.MaxOpenConns)
	sqlDB.SetMaxIdleConns(opt.MaxIdleConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &Store{db: db, keys: opt.Keys}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// SQL returns the underlying *sql.DB for migrations.
func (s *Store) SQL() *sql.DB {
	sqlDB, _ := s.db.DB()
	return sqlDB
}

// InTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(app.Tx) error) error {
	t := &ledgerTx{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t.db = tx
		return fn(t)
	})
	s.notify(ctx, t.changed())
	return translate(err)
}

// translate maps driver errors to app errors at the store's boundary.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var appErr *app.Error
	if errors.As(err, &appErr) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return app.Errorf(app.ENotFound, "not found")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w (%s)", &app.Error{Code: app.EConflict, Message: "already exists"}, pgErr.ConstraintName)
		case "23514", "23502", "23503": // check, not null, foreign key
			return fmt.Errorf("%w: %s", &app.Error{Code: app.EInvalid, Message: "rejected by a database rule"}, pgErr.Message)
		case "40001", "40P01": // serialization failure, deadlock: the caller retries
			return fmt.Errorf("transient database conflict: %w", err)
		}
	}
	return err
}

// --- shops and programs ---

type shopRow struct {
	ID        int64
	Platform  string
	Domain    string
	Name      string
	Currency  string
	Status    string
	CreatedAt time.Time
}

func (r shopRow) toApp() app.Shop {
	return app.Shop{ID: r.ID, Platform: app.Platform(r.Platform), Domain: r.Domain, Name: r.Name,
		Currency: r.Currency, Status: app.ShopStatus(r.Status), CreatedAt: r.CreatedAt}
}

const shopColumns = `id, platform, domain, name, currency, status, created_at`

// CreateShop inserts a shop and its program.
func (s *Store) CreateShop(ctx context.Context, shop app.Shop, p app.Program) (app.Shop, error) {
	var row shopRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`INSERT INTO shops (platform, domain, name, currency, status)
			VALUES (?, ?, ?, ?, ?) RETURNING `+shopColumns,
			shop.Platform, shop.Domain, shop.Name, shop.Currency, shop.Status).Scan(&row).Error; err != nil {
			return err
		}
		p.ShopID = row.ID
		return saveProgram(tx, p)
	})
	if app.ErrorCode(translate(err)) == app.EConflict {
		return app.Shop{}, app.Errorf(app.EConflict, "%s shop %s is already registered", shop.Platform, shop.Domain)
	}
	if err != nil {
		return app.Shop{}, translate(err)
	}
	return row.toApp(), nil
}

// ShopByDomain finds a shop by its platform and domain.
func (s *Store) ShopByDomain(ctx context.Context, platform app.Platform, domain string) (app.Shop, error) {
	var rows []shopRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+shopColumns+` FROM shops WHERE platform = ? AND domain = ?`,
		platform, domain).Scan(&rows).Error
	if err != nil {
		return app.Shop{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Shop{}, app.Errorf(app.ENotFound, "no %s shop %s", platform, domain)
	}
	return rows[0].toApp(), nil
}

// Shops lists all shops, oldest first.
func (s *Store) Shops(ctx context.Context) ([]app.Shop, error) {
	var rows []shopRow
	if err := s.db.WithContext(ctx).Raw(`SELECT ` + shopColumns + ` FROM shops ORDER BY id`).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	shops := make([]app.Shop, len(rows))
	for i, r := range rows {
		shops[i] = r.toApp()
	}
	return shops, nil
}

// SetShopStatus marks a shop active or uninstalled.
func (s *Store) SetShopStatus(ctx context.Context, shopID int64, status app.ShopStatus) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE shops SET status = ?, updated_at = now(),
		uninstalled_at = CASE WHEN ? = 'uninstalled' THEN now() ELSE NULL END WHERE id = ?`, status, status, shopID)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no shop %d", shopID)
	}
	return nil
}

type programRow struct {
	ShopID              int64
	EarnRate            int64
	EarnOnShipping      bool
	EarnOnTax           bool
	SignupBonus         int64
	Rounding            string
	AllowNegative       bool
	PendingDays         int
	ExpiryDays          int
	RestoreExpiredCodes bool
	RestoreOnRefund     bool
	RewardPartEarns     bool
	BirthdayBonus       int64
	WidgetColor         string
	WidgetPosition      string
	InactivityMonths    int
	ExpiryWarningDays   string
	AnniversaryBonus    int64
	NotifyWelcome       bool
	NotifyEarned        bool
	NotifyRedeemed      bool
	NotifyExpiring      bool
	NotifyBirthday      bool
	DefaultLocale       string
	AdjustLimits        string // JSON object: role -> points
}

func (r programRow) toApp() app.Program {
	return app.Program{ShopID: r.ShopID, EarnRate: app.Rate(r.EarnRate), EarnOnShipping: r.EarnOnShipping,
		EarnOnTax: r.EarnOnTax, SignupBonus: r.SignupBonus, Rounding: app.Rounding(r.Rounding),
		AllowNegative: r.AllowNegative, PendingDays: r.PendingDays, ExpiryDays: r.ExpiryDays,
		RestoreExpiredCodes: r.RestoreExpiredCodes, RestoreOnRefund: r.RestoreOnRefund, RewardPartEarns: r.RewardPartEarns,
		BirthdayBonus: r.BirthdayBonus, Look: app.WidgetLook{Color: r.WidgetColor, Position: r.WidgetPosition},
		InactivityMonths: r.InactivityMonths, WarnDays: parseDays(r.ExpiryWarningDays), AnniversaryBonus: r.AnniversaryBonus,
		Messages: app.Messages{Welcome: r.NotifyWelcome, Earned: r.NotifyEarned, Redeemed: r.NotifyRedeemed,
			Expiring: r.NotifyExpiring, Birthday: r.NotifyBirthday},
		Locale: r.DefaultLocale, AdjustLimits: parseLimits(r.AdjustLimits)}
}

// parseLimits reads the adjust_limits object; the CHECK constraint keeps it one.
func parseLimits(s string) map[app.Role]int64 {
	limits := map[app.Role]int64{}
	json.Unmarshal([]byte(s), &limits)
	return limits
}

func formatLimits(limits map[app.Role]int64) string {
	if limits == nil {
		limits = map[app.Role]int64{app.RoleSupport: app.DefaultAdjustLimit}
	}
	b, _ := json.Marshal(limits)
	return string(b)
}

// parseDays reads the "14,3" the CHECK constraint admits.
func parseDays(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(part); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func formatDays(days []int) string {
	parts := make([]string, len(days))
	for i, d := range days {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

// programColumns are read and written in this order.
const programColumns = `shop_id, earn_rate, earn_on_shipping, earn_on_tax, signup_bonus,
	rounding, allow_negative, pending_days, expiry_days, restore_expired_codes, restore_on_refund, reward_part_earns,
	birthday_bonus, widget_color, widget_position, inactivity_months, expiry_warning_days, anniversary_bonus,
	notify_welcome, notify_earned, notify_redeemed, notify_expiring, notify_birthday, default_locale, adjust_limits`

// Program returns a shop's loyalty rules.
func (s *Store) Program(ctx context.Context, shopID int64) (app.Program, error) {
	var rows []programRow
	err := s.db.WithContext(ctx).Raw(`SELECT `+programColumns+` FROM programs WHERE shop_id = ?`, shopID).Scan(&rows).Error
	if err != nil {
		return app.Program{}, translate(err)
	}
	if len(rows) == 0 {
		return app.Program{}, app.Errorf(app.ENotFound, "shop %d has no program", shopID)
	}
	return rows[0].toApp(), nil
}

// SaveProgram stores a shop's loyalty rules.
func (s *Store) SaveProgram(ctx context.Context, p app.Program) error {
	defer s.programChanged(ctx, p.ShopID)
	return translate(saveProgram(s.db.WithContext(ctx), p))
}

func saveProgram(db *gorm.DB, p app.Program) error {
	look := p.Look
	if look == (app.WidgetLook{}) {
		look = app.DefaultLook
	}
	m := p.Messages
	locale := p.Locale
	if locale == "" {
		locale = "en"
	}
	return db.Exec(`INSERT INTO programs (`+programColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (shop_id) DO UPDATE SET earn_rate = EXCLUDED.earn_rate,
			earn_on_shipping = EXCLUDED.earn_on_shipping, earn_on_tax = EXCLUDED.earn_on_tax,
			signup_bonus = EXCLUDED.signup_bonus, rounding = EXCLUDED.rounding,
			allow_negative = EXCLUDED.allow_negative, pending_days = EXCLUDED.pending_days,
			expiry_days = EXCLUDED.expiry_days, restore_expired_codes = EXCLUDED.restore_expired_codes,
			restore_on_refund = EXCLUDED.restore_on_refund, reward_part_earns = EXCLUDED.reward_part_earns,
			birthday_bonus = EXCLUDED.birthday_bonus, widget_color = EXCLUDED.widget_color,
			widget_position = EXCLUDED.widget_position, inactivity_months = EXCLUDED.inactivity_months,
			expiry_warning_days = EXCLUDED.expiry_warning_days, anniversary_bonus = EXCLUDED.anniversary_bonus,
			notify_welcome = EXCLUDED.notify_welcome, notify_earned = EXCLUDED.notify_earned,
			notify_redeemed = EXCLUDED.notify_redeemed, notify_expiring = EXCLUDED.notify_expiring,
			notify_birthday = EXCLUDED.notify_birthday, default_locale = EXCLUDED.default_locale,
			adjust_limits = EXCLUDED.adjust_limits, updated_at = now()`,
		p.ShopID, int64(p.EarnRate), p.EarnOnShipping, p.EarnOnTax, p.SignupBonus,
		string(p.Rounding), p.AllowNegative, p.PendingDays, p.ExpiryDays, p.RestoreExpiredCodes, p.RestoreOnRefund, p.RewardPartEarns,
		p.BirthdayBonus, look.Color, look.Position, p.InactivityMonths, formatDays(p.WarnDays), p.AnniversaryBonus,
		m.Welcome, m.Earned, m.Redeemed, m.Expiring, m.Birthday, locale, formatLimits(p.AdjustLimits)).Error
}
