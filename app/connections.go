package app

import (
	"context"
	"strings"
	"time"
)

// Connection is how the app reaches a shop whose platform has no app
// installation of its own (WooCommerce): the store's address, the path its
// webhooks arrive on, which order statuses earn, and how far reconciliation
// has read the store's orders.
type Connection struct {
	ShopID     int64
	URL        string
	WebhookKey string
	// EarnStatuses are the order statuses at which an order earns points,
	// as the platform names them; empty means the platform's default. The
	// platform's adapter checks them: the loyalty rules do not know what a
	// status means.
	EarnStatuses []string
	// SyncedUntil: every order modified up to here is known to the ledger.
	SyncedUntil       time.Time
	LastSyncAt        time.Time
	LastSyncError     string
	WebhooksCheckedAt time.Time
}

// Connector is the persistence of store connections; app/store implements it.
type Connector interface {
	// ConnectStore creates the shop (or reactivates it, keeping its
	// program and balances), its connection and its credentials, in one
	// transaction.
	ConnectStore(ctx context.Context, s Shop, p Program, conn Connection, c Credentials) (Shop, bool, error)
	ConnectionByWebhookKey(ctx context.Context, key string) (Shop, Connection, error)
	Connection(ctx context.Context, shopID int64) (Connection, error)
	ActiveConnections(ctx context.Context, platform Platform) ([]Shop, []Connection, error)
	SaveSyncProgress(ctx context.Context, shopID int64, syncedUntil time.Time, syncErr string) error
	MarkWebhooksChecked(ctx context.Context, shopID int64) error
	SetEarnStatuses(ctx context.Context, shopID int64, statuses []string) error
}

// ConnectStore records a store the merchant connected: its shop (with the
// default program when new), how to reach it and its sealed secrets.
func (s *Service) ConnectStore(ctx context.Context, shop Shop, conn Connection, c Credentials) (Shop, bool, error) {
	shop.Domain = strings.ToLower(strings.TrimSpace(shop.Domain))
	switch {
	case !shop.Platform.Valid() || shop.Domain == "":
		return Shop{}, false, Errorf(EInvalid, "a store needs a platform and a domain")
	case conn.URL == "" || len(conn.WebhookKey) < 16:
		return Shop{}, false, Errorf(EInvalid, "a store connection needs the store's URL and a webhook key")
	case c.WebhookSecret == "":
		return Shop{}, false, Errorf(EInvalid, "a store connection needs a webhook secret")
	}
	shop.Currency = strings.ToUpper(shop.Currency)
	if len(shop.Currency) != 3 {
		shop.Currency = "USD"
	}
	if shop.Name == "" {
		shop.Name = shop.Domain
	}
	if conn.SyncedUntil.IsZero() {
		conn.SyncedUntil = s.now()
	}
	shop.Status = ShopActive
	connected, again, err := s.store.ConnectStore(ctx, shop, DefaultProgram(0), conn, c)
	if err != nil {
		return Shop{}, false, err
	}
	action := "connect"
	if again {
		action = "reconnect"
	}
	return connected, again, s.store.Audit(ctx, AuditEntry{ShopID: connected.ID, ShopDomain: connected.Domain,
		Actor: string(shop.Platform) + " connect", Action: action, Outcome: AuditOK, Detail: conn.URL})
}

// StoreByWebhookKey finds the shop whose webhooks arrive under key, with
// its webhook secret.
func (s *Service) StoreByWebhookKey(ctx context.Context, key string) (Shop, Connection, Credentials, error) {
	shop, conn, err := s.store.ConnectionByWebhookKey(ctx, key)
	if err != nil {
		return Shop{}, Connection{}, Credentials{}, err
	}
	c, err := s.store.Credentials(ctx, shop.ID)
	return shop, conn, c, err
}

// Connection returns how the app reaches a shop.
func (s *Service) Connection(ctx context.Context, shop Shop) (Connection, error) {
	return s.store.Connection(ctx, shop.ID)
}

// ActiveConnections lists the active shops of a platform with their
// connections, for reconciliation and webhook health jobs.
func (s *Service) ActiveConnections(ctx context.Context, platform Platform) ([]Shop, []Connection, error) {
	return s.store.ActiveConnections(ctx, platform)
}

// SaveSyncProgress records how far reconciliation has read a store, or why
// it could not.
func (s *Service) SaveSyncProgress(ctx context.Context, shop Shop, syncedUntil time.Time, syncErr error) error {
	msg := ""
	if syncErr != nil {
		msg = syncErr.Error()
	}
	return s.store.SaveSyncProgress(ctx, shop.ID, syncedUntil, msg)
}

// MarkWebhooksChecked records that the store's webhooks were checked.
func (s *Service) MarkWebhooksChecked(ctx context.Context, shop Shop) error {
	return s.store.MarkWebhooksChecked(ctx, shop.ID)
}

// SetEarnStatuses changes the order statuses at which a store's orders
// earn. The statuses are the platform's own names, checked by its adapter
// before they get here (woocommerce.NormalizeEarnStatuses); the change is
// recorded in the audit log like any change to the program's rules.
func (s *Service) SetEarnStatuses(ctx context.Context, shop Shop, statuses []string, staff string) error {
	if len(statuses) == 0 {
		return Errorf(EInvalid, "name at least one order status that earns points")
	}
	before, err := s.store.Connection(ctx, shop.ID)
	if err != nil {
		return err
	}
	if err := s.store.SetEarnStatuses(ctx, shop.ID, statuses); err != nil {
		return err
	}
	detail := strings.Join(statuses, ",")
	if len(before.EarnStatuses) > 0 {
		detail = strings.Join(before.EarnStatuses, ",") + " → " + detail
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: staff, Action: "change earning statuses",
		Outcome: AuditOK, Detail: detail})
}
