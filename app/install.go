package app

import (
	"context"
	"strings"
	"time"
)

// Credentials are a shop's API access on its platform: an access token and,
// for expiring tokens, the refresh token that renews it.
type Credentials struct {
	ShopID     int64
	ShopDomain string // filled by ExpiringCredentials, for the refresh call
	// APIKey is the public half of a key pair (WooCommerce's consumer key);
	// AccessToken is then its secret half.
	APIKey       string
	AccessToken  string
	RefreshToken string
	// WebhookSecret signs the shop's webhooks when the platform signs each
	// shop's with a secret of its own (WooCommerce); Shopify uses the app's.
	WebhookSecret string
	// WidgetSecret signs shopper identities for the storefront widget where
	// the platform has no signed proxy (the WooCommerce companion plugin).
	WidgetSecret     string
	Scopes           []string
	ExpiresAt        time.Time // zero for a token that does not expire
	RefreshExpiresAt time.Time
	UpdatedAt        time.Time
}

// Expiring reports whether the access token has an expiry and can be renewed.
func (c Credentials) Expiring() bool { return !c.ExpiresAt.IsZero() && c.RefreshToken != "" }

// AuditEntry is one line of the audit log: who did what to a shop, and how
// it went.
type AuditEntry struct {
	ID         int64
	ShopID     int64 // 0 when the shop is not (or no longer) registered
	ShopDomain string
	Actor      string
	Action     string
	Outcome    string // ok, failed or refused
	Detail     string
	CreatedAt  time.Time
}

// Audit outcomes.
const (
	AuditOK      = "ok"
	AuditFailed  = "failed"
	AuditRefused = "refused"
)

// Installer is the persistence installation needs; app/store implements it.
type Installer interface {
	// InstallShop creates the shop with program p, or reactivates it when it
	// was installed before (keeping its program, customers and balances),
	// and stores its credentials, all in one transaction. It reports
	// whether the shop was installed before.
	InstallShop(ctx context.Context, s Shop, p Program, c Credentials) (Shop, bool, error)
	Uninstall(ctx context.Context, shopID int64) error
	// MarkUninstalled marks an active shop installed no later than at
	// uninstalled, and reports whether it did.
	MarkUninstalled(ctx context.Context, shopID int64, at time.Time) (bool, error)
	// CompleteUninstall marks the shop uninstalled by an uninstall at the
	// given time if it is not yet, unless it was installed after that time,
	// and forgets its credentials; it returns the shop as it now is and
	// whether there were credentials to forget.
	CompleteUninstall(ctx context.Context, shopID int64, at time.Time) (Shop, bool, error)
	Credentials(ctx context.Context, shopID int64) (Credentials, error)
	SaveCredentials(ctx context.Context, c Credentials) error
	ExpiringCredentials(ctx context.Context, before time.Time, limit int) ([]Credentials, error)
	Audit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, shopDomain string, limit int) ([]AuditEntry, error)
}

// InstallShop records that a merchant installed the app: a new shop starts
// with the default program; a shop that comes back after an uninstall gets
// its program and balances back, as long as they were not erased.
func (s *Service) InstallShop(ctx context.Context, shop Shop, c Credentials) (Shop, bool, error) {
	shop.Domain = strings.ToLower(strings.TrimSpace(shop.Domain))
	if !shop.Platform.Valid() || shop.Domain == "" {
		return Shop{}, false, Errorf(EInvalid, "a shop needs a platform and a domain")
	}
	if c.AccessToken == "" {
		return Shop{}, false, Errorf(EInvalid, "an installation needs an access token")
	}
	shop.Currency = strings.ToUpper(shop.Currency)
	if len(shop.Currency) != 3 {
		shop.Currency = "USD"
	}
	if shop.Name == "" {
		shop.Name = shop.Domain
	}
	shop.Status = ShopActive
	installed, reinstalled, err := s.store.InstallShop(ctx, shop, DefaultProgram(0), c)
	if err != nil {
		return Shop{}, false, err
	}
	action := "install"
	if reinstalled {
		action = "reinstall"
	}
	return installed, reinstalled, s.store.Audit(ctx, AuditEntry{ShopID: installed.ID, ShopDomain: installed.Domain,
		Actor: string(shop.Platform) + " oauth", Action: action, Outcome: AuditOK, Detail: "scopes: " + strings.Join(c.Scopes, ",")})
}

// Uninstall marks a shop uninstalled: from now on its events change no
// points and its access token, revoked by the platform, is forgotten. Its
// data stays until the platform asks for it to be erased.
func (s *Service) Uninstall(ctx context.Context, shop Shop) error {
	if err := s.store.Uninstall(ctx, shop.ID); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: string(shop.Platform),
		Action: "uninstall", Outcome: AuditOK, Detail: "app uninstalled by the merchant"})
}

// SkipReinstalled is why an uninstall is not completed: the merchant
// reinstalled the app after uninstalling it, and the new installation wins.
const SkipReinstalled Skipped = "shop reinstalled the app since"

// MarkUninstalled stops a shop earning the moment the platform says the app
// was uninstalled at the given time; CompleteUninstall does the rest later.
// A shop installed after that time was reinstalled since and stays active.
// It reports whether the shop was marked.
func (s *Service) MarkUninstalled(ctx context.Context, shop Shop, at time.Time) (bool, error) {
	return s.store.MarkUninstalled(ctx, shop.ID, at)
}

// CompleteUninstall finishes the uninstall that happened at the given
// time, which MarkUninstalled usually began: the shop is uninstalled, its
// access token, revoked by the platform, is forgotten and the audit log
// says so, once. A shop installed after that time was reinstalled in
// between and keeps its new access.
func (s *Service) CompleteUninstall(ctx context.Context, shop Shop, at time.Time) (Outcome, error) {
	now, forgot, err := s.store.CompleteUninstall(ctx, shop.ID, at)
	switch {
	case ErrorCode(err) == ENotFound:
		return Outcome{Skipped: SkipShopAlreadyGone}, nil
	case err != nil:
		return Outcome{}, err
	case now.Active():
		return Outcome{Skipped: SkipReinstalled}, nil
	case !forgot:
		return Outcome{Skipped: SkipDuplicate}, nil
	}
	err = s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: string(shop.Platform),
		Action: "uninstall", Outcome: AuditOK, Detail: "app uninstalled by the merchant"})
	return Outcome{Detail: "uninstalled: access forgotten"}, err
}

// Credentials returns a shop's API access.
func (s *Service) Credentials(ctx context.Context, shop Shop) (Credentials, error) {
	return s.store.Credentials(ctx, shop.ID)
}

// SaveCredentials replaces a shop's API access, e.g. after a token refresh.
func (s *Service) SaveCredentials(ctx context.Context, c Credentials) error {
	return s.store.SaveCredentials(ctx, c)
}

// ExpiringCredentials lists credentials whose access token expires before
// the given time and can be refreshed.
func (s *Service) ExpiringCredentials(ctx context.Context, before time.Time, limit int) ([]Credentials, error) {
	return s.store.ExpiringCredentials(ctx, before, limit)
}

// Audit writes a line to the audit log.
func (s *Service) Audit(ctx context.Context, e AuditEntry) error { return s.store.Audit(ctx, e) }

// AuditLog returns a shop's latest audit lines, newest first.
func (s *Service) AuditLog(ctx context.Context, shopDomain string, limit int) ([]AuditEntry, error) {
	return s.store.AuditLog(ctx, strings.ToLower(shopDomain), limit)
}
