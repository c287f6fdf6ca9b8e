package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// ShopifyAuth is what the Shopify install flow and the embedded admin need.
type ShopifyAuth struct {
	OAuth     *shopify.OAuth
	APIKey    string
	APISecret string
	Scopes    []string
	// Topics are the webhook topics registered at install, delivered to
	// WebhookURL.
	Topics     []string
	WebhookURL string
	// NewClient builds an Admin API client for a shop (tests point it at a
	// test Shopify).
	NewClient func(shop, accessToken string) *shopify.Client
	States    StateStore
	Now       func() time.Time
}

// StateStore keeps OAuth state nonces until their single use.
type StateStore interface {
	Put(ctx context.Context, nonce, shop string, ttl time.Duration) error
	// Take returns the shop the nonce was issued for and forgets it, so a
	// replayed callback finds nothing.
	Take(ctx context.Context, nonce string) (string, bool, error)
}

// RedisStates keeps OAuth states in Redis.
type RedisStates struct{ Redis redis.UniversalClient }

// Put stores a nonce for ttl.
func (r RedisStates) Put(ctx context.Context, nonce, shop string, ttl time.Duration) error {
	return r.Redis.Set(ctx, "loyalty:oauth-state:"+nonce, shop, ttl).Err()
}

// Take reads and deletes a nonce atomically.
func (r RedisStates) Take(ctx context.Context, nonce string) (string, bool, error) {
	shop, err := r.Redis.GetDel(ctx, "loyalty:oauth-state:"+nonce).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return shop, err == nil, err
}

const (
	stateCookie = "shopify_oauth_state"
	stateTTL    = 10 * time.Minute
	// Shopify's own libraries allow 90 seconds between the signed
	// timestamp and now.
	timestampTolerance = 90 * time.Second
)

// installFailure is an install that went wrong: the merchant sees message on
// an error page, the audit log gets detail.
type installFailure struct {
	status  int
	outcome string
	message string
	detail  string
}

func refused(status int, message, detail string) *installFailure {
	return &installFailure{status, app.AuditRefused, message, detail}
}

func failed(message string, err error) *installFailure {
	return &installFailure{http.StatusBadGateway, app.AuditFailed, message, err.Error()}
}

// shopifyInstall starts an installation: Shopify sends the merchant here
// with a signed query; we send them on to Shopify's grant screen.
func (s *Server) shopifyInstall(c echo.Context) error {
	a := s.deps.Shopify
	q := c.QueryParams()
	shop, ok := shopify.ValidShopDomain(q.Get("shop"))
	if !ok {
		return s.installError(c, q.Get("shop"), "install", refused(http.StatusBadRequest,
			"This link is not a valid Shopify installation link: the shop must be a name.myshopify.com address.", "invalid shop domain"))
	}
	if f := a.verifySignedQuery(q); f != nil {
		return s.installError(c, shop, "install", f)
	}
	// This is also the App URL Shopify opens whenever the merchant opens the
	// app: an installed shop with every scope it needs gets the app, not
	// another round of OAuth (which would end back here, forever).
	if home, ok := s.installedShop(c.Request().Context(), shop); ok && q.Get("continue") == "" {
		return s.shopifyHome(c, home)
	}
	if q.Get("embedded") == "1" {
		// Inside the admin's iframe the state cookie would be a third-party
		// cookie. Leave the iframe first and start again at the top level,
		// with our own short-lived signature in place of Shopify's.
		return c.HTML(http.StatusOK, exitIframePage(a.continueURL(c, shop)))
	}
	nonce := randomNonce()
	if err := a.States.Put(c.Request().Context(), nonce, shop, stateTTL); err != nil {
		return s.installError(c, shop, "install", failed("We could not start the installation. Please try again in a minute.", err))
	}
	c.SetCookie(&http.Cookie{Name: stateCookie, Value: nonce + "." + a.mac("state", nonce), Path: "/auth/shopify",
		MaxAge: int(stateTTL.Seconds()), HttpOnly: true, Secure: c.Scheme() == "https" || strings.HasPrefix(a.WebhookURL, "https:"),
		SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusFound, a.OAuth.AuthorizeURL(shop, nonce))
}

// verifySignedQuery accepts Shopify's HMAC-signed query with a fresh
// timestamp, or our own continuation signature from the iframe exit.
func (a *ShopifyAuth) verifySignedQuery(q url.Values) *installFailure {
	if cont := q.Get("continue"); cont != "" {
		ts, mac, _ := strings.Cut(cont, ".")
		t, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !hmac.Equal([]byte(mac), []byte(a.mac("continue", q.Get("shop")+":"+ts))) ||
			a.Now().Sub(time.Unix(t, 0)) > stateTTL {
			return refused(http.StatusUnauthorized, "This installation link has expired. Please start the installation again from Shopify.", "bad or stale continuation")
		}
		return nil
	}
	if err := shopify.VerifyQueryHMAC(q, a.APISecret); err != nil {
		return refused(http.StatusUnauthorized, "This installation link was not signed by Shopify. Please start the installation from Shopify.", "query hmac: "+err.Error())
	}
	if err := shopify.CheckTimestamp(q, a.Now(), timestampTolerance); err != nil {
		return refused(http.StatusUnauthorized, "This installation link has expired. Please start the installation again from Shopify.", "timestamp: "+err.Error())
	}
	return nil
}

func (a *ShopifyAuth) continueURL(c echo.Context, shop string) string {
	ts := strconv.FormatInt(a.Now().Unix(), 10)
	u := url.URL{Path: "/auth/shopify/install", RawQuery: url.Values{"shop": {shop}, "continue": {ts + "." + a.mac("continue", shop+":"+ts)}}.Encode()}
	return u.String()
}

// mac signs our own values with a key derived from the app secret, one per
// purpose so that a value signed for one use is worthless for another.
func (a *ShopifyAuth) mac(purpose, value string) string {
	m := hmac.New(sha256.New, []byte("loyalty "+purpose+" "+a.APISecret))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// shopifyCallback finishes an installation: Shopify sends the merchant back
// with an authorization code, which becomes the shop's access token.
func (s *Server) shopifyCallback(c echo.Context) error {
	a := s.deps.Shopify
	ctx := c.Request().Context()
	q := c.QueryParams()
	shop, ok := shopify.ValidShopDomain(q.Get("shop"))
	if !ok {
		return s.installError(c, q.Get("shop"), "install callback", refused(http.StatusBadRequest,
			"This is not a valid Shopify installation: the shop must be a name.myshopify.com address.", "invalid shop domain"))
	}
	if err := shopify.VerifyQueryHMAC(q, a.APISecret); err != nil {
		return s.installError(c, shop, "install callback", refused(http.StatusUnauthorized,
			"This installation was not signed by Shopify. Please start again from Shopify.", "query hmac: "+err.Error()))
	}
	if err := shopify.CheckTimestamp(q, a.Now(), timestampTolerance); err != nil {
		return s.installError(c, shop, "install callback", refused(http.StatusUnauthorized,
			"This installation has expired. Please start again from Shopify.", "timestamp: "+err.Error()))
	}
	if f := a.takeState(c, shop); f != nil {
		return s.installError(c, shop, "install callback", f)
	}
	c.SetCookie(&http.Cookie{Name: stateCookie, Value: "", Path: "/auth/shopify", MaxAge: -1, HttpOnly: true})

	installed, f := a.install(ctx, shop, q.Get("code"), s.deps.Service)
	if f != nil {
		return s.installError(c, shop, "install", f)
	}
	s.deps.Log.Info("shop installed", "platform", app.Shopify, "shop", installed.Domain, "shop_id", installed.ID)
	return c.Redirect(http.StatusFound, "https://"+shop+"/admin/apps/"+url.PathEscape(a.APIKey))
}

// takeState checks that the callback's state is the nonce this browser was
// given (the signed cookie) and that it is used once, for this shop.
func (a *ShopifyAuth) takeState(c echo.Context, shop string) *installFailure {
	state := c.QueryParam("state")
	cookie, err := c.Cookie(stateCookie)
	if err != nil || state == "" {
		return refused(http.StatusForbidden, "We could not confirm that this installation was started from this browser. Please start again from Shopify.", "state cookie missing")
	}
	nonce, mac, _ := strings.Cut(cookie.Value, ".")
	if !hmac.Equal([]byte(mac), []byte(a.mac("state", nonce))) || !hmac.Equal([]byte(nonce), []byte(state)) {
		return refused(http.StatusForbidden, "We could not confirm that this installation was started from this browser. Please start again from Shopify.", "state does not match the browser's cookie")
	}
	issuedFor, found, err := a.States.Take(c.Request().Context(), nonce)
	if err != nil {
		return failed("We could not check this installation. Please try again in a minute.", err)
	}
	if !found {
		return refused(http.StatusForbidden, "This installation link was already used or has expired. Please start again from Shopify.", "state unknown or already used")
	}
	if issuedFor != shop {
		return refused(http.StatusForbidden, "This installation was started for another shop. Please start again from Shopify.", "state issued for "+issuedFor)
	}
	return nil
}

// install exchanges the code, checks the scopes, registers the webhooks
// and only then records the shop, so a failure anywhere leaves no
// half-installed shop behind.
func (a *ShopifyAuth) install(ctx context.Context, shop, code string, svc *app.Service) (app.Shop, *installFailure) {
	if code == "" {
		return app.Shop{}, refused(http.StatusBadRequest, "Shopify did not send an authorization code. Please start again from Shopify.", "code missing")
	}
	token, err := a.OAuth.ExchangeCode(ctx, shop, code, a.Now())
	if err != nil {
		return app.Shop{}, failed("Shopify did not accept the installation. Please start again from Shopify.", fmt.Errorf("exchange code: %w", err))
	}
	if missing := shopify.MissingScopes(token.Scopes(), a.Scopes); len(missing) > 0 {
		return app.Shop{}, refused(http.StatusForbidden, "The app needs these permissions to work: "+strings.Join(missing, ", ")+
			". Please install it again and accept them.", "scopes not granted: "+strings.Join(missing, ","))
	}
	client := a.NewClient(shop, token.AccessToken)
	if err := client.RegisterWebhooks(ctx, a.WebhookURL, a.Topics); err != nil {
		return app.Shop{}, failed("We could not connect to your shop's orders. Please try the installation again.", fmt.Errorf("register webhooks: %w", err))
	}
	info, err := client.ShopInfo(ctx)
	if err != nil {
		return app.Shop{}, failed("We could not read your shop's details. Please try the installation again.", fmt.Errorf("shop info: %w", err))
	}
	installed, _, err := svc.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: shop, Name: info.Name, Currency: info.Currency},
		app.Credentials{AccessToken: token.AccessToken, RefreshToken: token.RefreshToken, Scopes: token.Scopes(),
			ExpiresAt: token.ExpiresAt, RefreshExpiresAt: token.RefreshExpiresAt})
	if err != nil {
		return app.Shop{}, failed("We could not save your installation. Please try again.", err)
	}
	return installed, nil
}

// installError shows the merchant what went wrong and writes the audit log.
func (s *Server) installError(c echo.Context, shop, action string, f *installFailure) error {
	ctx := context.WithoutCancel(c.Request().Context())
	if len(shop) > 100 {
		shop = shop[:100] // the audit log records what was asked, not a flood
	}
	level := slog.LevelWarn
	if f.outcome == app.AuditFailed {
		level = slog.LevelError
	}
	s.deps.Log.Log(ctx, level, "shopify "+action+" "+f.outcome, "platform", app.Shopify, "shop", shop, "detail", f.detail,
		"remote", c.RealIP())
	entry := app.AuditEntry{ShopDomain: shop, Actor: "shopify oauth", Action: action, Outcome: f.outcome, Detail: f.detail}
	if existing, err := s.deps.Service.Shop(ctx, app.Shopify, shop); err == nil {
		entry.ShopID = existing.ID
	}
	if err := s.deps.Service.Audit(ctx, entry); err != nil {
		s.deps.Log.Error("audit log write failed", "shop", shop, "error", err)
	}
	return c.HTML(f.status, errorPage("The installation could not be completed", f.message))
}

// installedShop returns the shop when it is installed, active and holds
// every scope the app asks for now.
func (s *Server) installedShop(ctx context.Context, domain string) (app.Shop, bool) {
	shop, err := s.deps.Service.Shop(ctx, app.Shopify, domain)
	if err != nil || !shop.Active() {
		return app.Shop{}, false
	}
	creds, err := s.deps.Service.Credentials(ctx, shop)
	if err != nil || len(shopify.MissingScopes(creds.Scopes, s.deps.Shopify.Scopes)) > 0 {
		return app.Shop{}, false
	}
	return shop, true
}

// shopifyHome is the app's page inside the Shopify admin: the program as the
// shop's customers experience it.
func (s *Server) shopifyHome(c echo.Context, shop app.Shop) error {
	p, err := s.deps.Service.Program(c.Request().Context(), shop)
	if err != nil {
		return err
	}
	console := ""
	if s.deps.Console != nil {
		console = "/console/login?shop=" + url.QueryEscape(shop.Domain)
	}
	return c.HTML(http.StatusOK, homePage(s.deps.Shopify.APIKey, shop, p, console))
}

func randomNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
