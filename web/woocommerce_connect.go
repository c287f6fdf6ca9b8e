package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/jobs"
	"loyalty/platforms/woocommerce"
)

// WooConnect is what connecting a WooCommerce store needs.
type WooConnect struct {
	AppURL string
	// Clients builds a REST client for a store (tests point it at a fake).
	Clients jobs.WooClients
	// DeliveryURL is where a store with this webhook key delivers.
	DeliveryURL func(webhookKey string) string
	Topics      []string
	States      StateStore
	// AllowHTTP accepts stores without TLS (local development only).
	AllowHTTP bool
	Now       func() time.Time
}

const wooStateTTL = 30 * time.Minute

// wooConnect starts connecting a store: the merchant names it and is sent
// to the store's own approval screen (wc-auth), which creates REST keys
// for the app and posts them to our callback.
func (s *Server) wooConnect(c echo.Context) error {
	w := s.deps.WooCommerce
	storeURL, err := woocommerce.NormalizeStoreURL(c.QueryParam("store"), w.AllowHTTP)
	if err != nil {
		return c.HTML(http.StatusBadRequest, errorPage("This store address cannot be connected",
			"Enter your store's address as it appears in the browser, for example https://shop.example.com ("+err.Error()+")."))
	}
	nonce := randomNonce()
	if err := w.States.Put(c.Request().Context(), nonce, storeURL, wooStateTTL); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, woocommerce.AuthorizeURL(storeURL, "Loyalty Points", nonce,
		w.AppURL+"/auth/woocommerce/return", w.AppURL+"/auth/woocommerce/callback"))
}

// wooCallback receives the REST keys WooCommerce created. Anything but
// exactly 200 makes WooCommerce delete the keys, which is what a failed
// connection should leave behind: nothing.
func (s *Server) wooCallback(c echo.Context) error {
	w := s.deps.WooCommerce
	ctx := c.Request().Context()
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return c.String(http.StatusBadRequest, "unreadable body")
	}
	keys, err := woocommerce.ParseConnectCallback(body)
	if err != nil {
		s.auditWoo(ctx, "", app.AuditRefused, "connect callback: "+err.Error())
		return c.String(http.StatusBadRequest, "invalid key data")
	}
	storeURL, found, err := w.States.Take(ctx, keys.State)
	if err != nil {
		return c.String(http.StatusServiceUnavailable, "try again")
	}
	if !found {
		s.auditWoo(ctx, "", app.AuditRefused, "connect callback with an unknown or used state")
		return c.String(http.StatusForbidden, "unknown or expired connection request")
	}
	shop, err := w.connect(ctx, s.deps.Service, storeURL, keys)
	if err != nil {
		s.auditWoo(ctx, storeDomain(storeURL), app.AuditFailed, err.Error())
		s.deps.Log.Error("woocommerce connect failed", "platform", app.WooCommerce, "store", storeURL, "error", err)
		return c.String(http.StatusBadGateway, "connection failed")
	}
	w.States.Put(ctx, "connected:"+keys.State, shop.Domain, wooStateTTL)
	s.deps.Log.Info("store connected", "platform", app.WooCommerce, "shop", shop.Domain, "shop_id", shop.ID)
	return c.String(http.StatusOK, "ok")
}

// connect checks the keys, registers the webhooks and records the store,
// in that order, so a failure anywhere leaves no half-connected store: the
// webhooks this attempt created are deleted again, since the keys they
// would be checked with are about to be deleted by the store and nothing
// would ever read their deliveries. A store connected before keeps its
// webhook address, secret and earning statuses, so webhooks it already has
// go on working and are left alone.
func (w *WooConnect) connect(ctx context.Context, svc *app.Service, storeURL string, keys woocommerce.Keys) (shop app.Shop, err error) {
	client := w.Clients(storeURL, keys.ConsumerKey, keys.ConsumerSecret)
	info, err := client.SystemStatus(ctx)
	if err != nil {
		return app.Shop{}, fmt.Errorf("check the new keys: %w", err)
	}
	domain := storeDomain(storeURL)
	webhookKey, secret, widget := "wc_"+randomHex(12), randomHex(24), randomHex(24)
	earnStatuses := woocommerce.DefaultEarnStatuses
	if existing, err := svc.Shop(ctx, app.WooCommerce, domain); err == nil {
		if conn, err := svc.Connection(ctx, existing); err == nil {
			webhookKey = conn.WebhookKey
			if len(conn.EarnStatuses) > 0 {
				earnStatuses = conn.EarnStatuses
			}
		}
		if creds, err := svc.Credentials(ctx, existing); err == nil && creds.WebhookSecret != "" {
			secret, widget = creds.WebhookSecret, creds.WidgetSecret
		}
	}
	created, err := client.RegisterWebhooks(ctx, w.DeliveryURL(webhookKey), secret, w.Topics)
	defer func() {
		if err == nil || len(created) == 0 {
			return
		}
		// The request may be what was cancelled; the clean-up still runs.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := client.DeleteWebhooks(cleanup, created); derr != nil {
			err = fmt.Errorf("%w (and the webhooks it created could not be deleted: %v)", err, derr)
		}
	}()
	if err != nil {
		return app.Shop{}, fmt.Errorf("register webhooks: %w", err)
	}
	// Orders from a little before the connection are read by the first
	// reconciliation, so a purchase made while connecting is not missed.
	shop, _, err = svc.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: domain, Name: domain, Currency: info.Currency},
		app.Connection{URL: storeURL, WebhookKey: webhookKey, EarnStatuses: earnStatuses, SyncedUntil: w.Now().Add(-time.Hour)},
		app.Credentials{APIKey: keys.ConsumerKey, AccessToken: keys.ConsumerSecret, WebhookSecret: secret, WidgetSecret: widget})
	return shop, err
}

// wooReturn is where WooCommerce sends the merchant back after approving or
// denying.
func (s *Server) wooReturn(c echo.Context) error {
	w := s.deps.WooCommerce
	ctx := c.Request().Context()
	if c.QueryParam("success") != "1" {
		return c.HTML(http.StatusOK, errorPage("The store was not connected",
			"Access was not granted in WooCommerce. You can start again whenever you are ready."))
	}
	domain, found, err := w.States.Take(ctx, "connected:"+c.QueryParam("user_id"))
	if err != nil || !found {
		return c.HTML(http.StatusOK, errorPage("The store could not be connected",
			"WooCommerce granted access, but the app could not finish connecting to your store. Please start again; if it happens again, contact support."))
	}
	shop, err := s.deps.Service.Shop(ctx, app.WooCommerce, domain)
	if err != nil {
		return err
	}
	conn, err := s.deps.Service.Connection(ctx, shop)
	if err != nil {
		return err
	}
	creds, err := s.deps.Service.Credentials(ctx, shop)
	if err != nil {
		return err
	}
	return c.HTML(http.StatusOK, connectedPage(shop, conn.WebhookKey, creds.WidgetSecret, w.AppURL))
}

func (s *Server) auditWoo(ctx context.Context, domain, outcome, detail string) {
	entry := app.AuditEntry{ShopDomain: domain, Actor: "woocommerce connect", Action: "connect", Outcome: outcome, Detail: detail}
	if err := s.deps.Service.Audit(context.WithoutCancel(ctx), entry); err != nil {
		s.deps.Log.Error("audit log write failed", "error", err)
	}
}

// storeDomain names a store by its host and path: WordPress sites may live
// in a sub-folder.
func storeDomain(storeURL string) string {
	u, err := url.Parse(storeURL)
	if err != nil {
		return storeURL
	}
	return strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
