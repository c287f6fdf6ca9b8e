package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// Widget is what the storefront widget's public endpoints need.
type Widget struct {
	// ShopifySecrets sign app proxy requests (current, then previous).
	ShopifySecrets []string
	Limiter        *RateLimiter
	Now            func() time.Time
}

// proxyTolerance is how old a signed app proxy request may be.
const proxyTolerance = 90 * time.Second

// widgetLocales are the languages the widget speaks.
var widgetLocales = []string{"en", "pl", "lv", "ro", "ru"}

// widgetLocale picks the widget's language from the storefront's locale
// (pl, pl-PL, pl_PL), English when it speaks none of them.
func widgetLocale(raw string) string {
	lang := strings.ToLower(raw)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	for _, l := range widgetLocales {
		if l == lang {
			return l
		}
	}
	return "en"
}

// proxyCustomer serves the widget on Shopify. Every request comes through
// the app proxy, signed by Shopify; only a valid signature makes
// logged_in_customer_id trustworthy, so a shopper sees only their points.
func (s *Server) proxyCustomer(c echo.Context) error {
	w := s.deps.Widget
	q := c.QueryParams()
	req, err := shopify.VerifyProxy(q, w.Now(), proxyTolerance, w.ShopifySecrets...)
	if err != nil {
		s.deps.Log.Warn("widget request refused", "platform", app.Shopify, "shop", q.Get("shop"), "error", err, "remote", c.RealIP())
		return echo.NewHTTPError(http.StatusUnauthorized, "this request was not signed by the shop")
	}
	if err := w.Limiter.allow(c, "shopify:"+req.Shop); err != nil {
		return err
	}
	shop, err := s.deps.Service.Shop(c.Request().Context(), app.Shopify, req.Shop)
	if app.ErrorCode(err) == app.ENotFound {
		return app.Errorf(app.EForbidden, "the loyalty program is not available in this shop right now")
	}
	if err != nil {
		return err
	}
	return s.renderCustomer(c, shop, req.CustomerID)
}

// wooCustomer serves the widget on WooCommerce: the companion plugin signs
// the signed-in shopper's id with the store's widget secret; no token is a
// guest.
func (s *Server) wooCustomer(c echo.Context) error {
	w := s.deps.Widget
	ctx := c.Request().Context()
	storeKey := c.Param("store")
	shop, conn, creds, err := s.deps.Service.StoreByWebhookKey(ctx, storeKey)
	if app.ErrorCode(err) == app.ENotFound {
		return app.Errorf(app.ENotFound, "no such store")
	}
	if err != nil {
		return err
	}
	// The widget calls from the store's own pages.
	if u, err := url.Parse(conn.URL); err == nil {
		c.Response().Header().Set("Access-Control-Allow-Origin", u.Scheme+"://"+u.Host)
		c.Response().Header().Set("Vary", "Origin")
	}
	if err := w.Limiter.allow(c, "woocommerce:"+storeKey); err != nil {
		return err
	}
	customerID := ""
	if token := c.QueryParam("token"); token != "" {
		id, err := woocommerce.VerifyIdentity(token, creds.WidgetSecret, storeKey, w.Now())
		if err != nil {
			s.deps.Log.Warn("widget request refused", "platform", app.WooCommerce, "shop", shop.Domain, "error", err, "remote", c.RealIP())
			return echo.NewHTTPError(http.StatusUnauthorized, "your session has expired; reload the page")
		}
		customerID = id.CustomerID
	}
	return s.renderCustomer(c, shop, customerID)
}

// customerDocument is the widget's one JSON document. Platform ids are
// strings (Shopify's exceed 2^53); money is decimal strings.
type customerDocument struct {
	Shop     string          `json:"shop"`
	ShopName string          `json:"shop_name"`
	Platform string          `json:"platform"`
	Locale   string          `json:"locale"`
	Currency string          `json:"currency"`
	Customer *widgetCustomer `json:"customer"`
	Balance  int64           `json:"balance"`
	Pending  int64           `json:"pending"`
	Expiring []widgetExpiry  `json:"expiring"`
	History  []widgetEntry   `json:"history"`
	Rewards  []widgetReward  `json:"rewards"`
	Program  widgetProgram   `json:"program"`
}

type widgetCustomer struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name,omitempty"`
}

type widgetExpiry struct {
	Points int64  `json:"points"`
	Date   string `json:"date"`
}

type widgetEntry struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Points int64     `json:"points"`
	Order  string    `json:"order,omitempty"`
	Note   string    `json:"note,omitempty"`
}

type widgetReward struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Points        int64  `json:"points"`
	Amount        string `json:"amount,omitempty"`
	PointsPerUnit int64  `json:"points_per_unit,omitempty"`
	MaxPoints     int64  `json:"max_points,omitempty"`
	Percentage    int    `json:"percentage,omitempty"`
	MinSubtotal   string `json:"min_subtotal,omitempty"`
	Affordable    bool   `json:"affordable"`
	PointsNeeded  int64  `json:"points_needed"`
}

type widgetProgram struct {
	EarnRate    string `json:"earn_rate"`
	SignupBonus int64  `json:"signup_bonus"`
	PendingDays int    `json:"pending_days"`
	ExpiryDays  int    `json:"expiry_days"`
}

func (s *Server) renderCustomer(c echo.Context, shop app.Shop, customerID string) error {
	v, err := s.deps.Service.CustomerView(c.Request().Context(), shop, customerID)
	if err != nil {
		return err
	}
	doc := customerDocument{Shop: shop.Domain, ShopName: shop.Name, Platform: string(shop.Platform),
		Locale: widgetLocale(c.QueryParam("locale")), Currency: shop.Currency,
		Expiring: []widgetExpiry{}, History: []widgetEntry{}, Rewards: []widgetReward{},
		Program: widgetProgram{EarnRate: v.Program.EarnRate.String(), SignupBonus: v.Program.SignupBonus,
			PendingDays: v.Program.PendingDays, ExpiryDays: v.Program.ExpiryDays}}
	if v.Customer != nil {
		doc.Customer = &widgetCustomer{ID: v.Customer.PlatformID, FirstName: v.Customer.FirstName}
		doc.Balance, doc.Pending = v.Customer.Balance, v.Customer.Pending
	}
	for _, e := range v.Expiring {
		doc.Expiring = append(doc.Expiring, widgetExpiry{Points: e.Points, Date: e.On.Format("2006-01-02")})
	}
	for _, e := range v.History {
		// The reason a staff member typed is theirs to read in the console;
		// the shopper sees what happened, not internal notes.
		doc.History = append(doc.History, widgetEntry{At: e.CreatedAt, Kind: string(e.Kind), Points: e.Points, Order: e.Cause.OrderID})
	}
	for _, r := range v.Rewards {
		wr := widgetReward{ID: r.ID, Name: r.Name, Kind: string(r.Kind), Points: r.Cost, PointsPerUnit: r.PointsPerUnit,
			MaxPoints: r.MaxPoints, Percentage: r.Percentage, Affordable: r.Affordable, PointsNeeded: r.PointsNeeded}
		if r.Amount > 0 {
			wr.Amount = r.Amount.String()
		}
		if r.MinSubtotal > 0 {
			wr.MinSubtotal = r.MinSubtotal.String()
		}
		doc.Rewards = append(doc.Rewards, wr)
	}
	// Balances are personal: no shared cache may keep them.
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.JSON(http.StatusOK, doc)
}

// RateLimiter bounds the public widget endpoints per shop and per client
// within a fixed window, counted in Redis so every app process shares the
// count. When Redis cannot count, requests pass: the endpoints only read.
type RateLimiter struct {
	Redis     redis.UniversalClient
	PerShop   int64
	PerClient int64
	Window    time.Duration
}

func (l *RateLimiter) allow(c echo.Context, shopKey string) error {
	if l == nil || l.Redis == nil {
		return nil
	}
	window := l.Window
	if window <= 0 {
		window = time.Minute
	}
	slot := strconv.FormatInt(time.Now().UnixNano()/int64(window), 10)
	shopCounter := "loyalty:rate:" + shopKey + ":" + slot
	clientCounter := "loyalty:rate:" + shopKey + ":" + c.RealIP() + ":" + slot
	ctx, cancel := context.WithTimeout(c.Request().Context(), 200*time.Millisecond)
	defer cancel()
	pipe := l.Redis.Pipeline()
	shopCount := pipe.Incr(ctx, shopCounter)
	pipe.Expire(ctx, shopCounter, window)
	clientCount := pipe.Incr(ctx, clientCounter)
	pipe.Expire(ctx, clientCounter, window)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil
	}
	if (l.PerShop > 0 && shopCount.Val() > l.PerShop) || (l.PerClient > 0 && clientCount.Val() > l.PerClient) {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(window.Seconds())))
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests; try again in a minute")
	}
	return nil
}
