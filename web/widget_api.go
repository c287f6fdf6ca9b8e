package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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
// (pl, pl-PL, pl_PL), the shop's own (fallback) when it speaks none of them.
func widgetLocale(raw, fallback string) string {
	lang := strings.ToLower(raw)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	for _, l := range widgetLocales {
		if l == lang {
			return l
		}
	}
	if fallback != "" {
		return fallback
	}
	return "en"
}

// shopper is who a widget request speaks for: a shop, and the platform's
// id of the signed-in shopper (empty for a guest), both verified.
type shopper struct {
	shop       app.Shop
	customerID string
}

const shopperKey = "widget.shopper"

func currentShopper(c echo.Context) shopper { return c.Get(shopperKey).(shopper) }

// shopifyShopper verifies a request that came through Shopify's app proxy.
// Only a valid signature makes logged_in_customer_id trustworthy, so a
// shopper reads and spends only their own points.
func (s *Server) shopifyShopper(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
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
		// Reads may take a shop remembered as active a few seconds ago;
		// spending asks the store.
		lookup := s.deps.Service.Shop
		if c.Request().Method == http.MethodGet {
			lookup = s.deps.Service.WidgetShop
		}
		shop, err := lookup(c.Request().Context(), app.Shopify, req.Shop)
		if app.ErrorCode(err) == app.ENotFound {
			return app.Errorf(app.EForbidden, "the loyalty program is not available in this shop right now")
		}
		if err != nil {
			return err
		}
		c.Set(shopperKey, shopper{shop: shop, customerID: req.CustomerID})
		return next(c)
	}
}

// wooShopper verifies a WooCommerce widget request: the path names the
// store, and the companion plugin signs the signed-in shopper's id with the
// store's widget secret; no token is a guest. The widget calls from the
// store's own pages, so only that origin may read the answers.
func (s *Server) wooShopper(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
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
		if u, err := url.Parse(conn.URL); err == nil {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", u.Scheme+"://"+u.Host)
			h.Add("Vary", "Origin")
		}
		if c.Request().Method == http.MethodOptions {
			// The preflight of a JSON POST from the store's pages.
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
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
		c.Set(shopperKey, shopper{shop: shop, customerID: customerID})
		return next(c)
	}
}

// widgetPreflight answers CORS preflights; wooShopper does the work.
func (s *Server) widgetPreflight(c echo.Context) error { return c.NoContent(http.StatusNoContent) }

// maxWidgetBody bounds what the widget may post: a few small fields.
const maxWidgetBody = 4 << 10

// bindWidget decodes a small JSON body from the widget.
func bindWidget(c echo.Context, into any) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxWidgetBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(into); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the request is too large")
		}
		return app.Errorf(app.EInvalid, "the request is not valid JSON")
	}
	return nil
}

// widgetRedeem spends the signed-in shopper's points on a reward. The
// widget sends a fresh key per confirmation and the same key when it
// retries, so a double click or a lost answer spends once.
func (s *Server) widgetRedeem(c echo.Context) error {
	who := currentShopper(c)
	if who.customerID == "" {
		return app.Errorf(app.EForbidden, "sign in to redeem your points")
	}
	var in struct {
		RewardID int64  `json:"reward_id"`
		Points   int64  `json:"points"`
		Key      string `json:"key"`
	}
	if err := bindWidget(c, &in); err != nil {
		return err
	}
	if in.Key == "" || len(in.Key) > 100 {
		return app.Errorf(app.EInvalid, "a redemption needs a request key of at most 100 characters")
	}
	ctx := c.Request().Context()
	r, err := s.deps.Service.Redeem(ctx, who.shop, app.RedeemRequest{CustomerID: who.customerID, RewardID: in.RewardID,
		Points: in.Points, IdempotencyKey: "storefront:" + who.customerID + ":" + in.Key})
	if err != nil {
		return err
	}
	s.queueCode(ctx, who.shop, r)
	customer, err := s.deps.Service.Balance(ctx, who.shop, who.customerID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.JSON(http.StatusCreated, map[string]any{"redemption": widgetCodeOf(r), "balance": customer.Balance})
}

// widgetBirthday saves the signed-in shopper's birthday for the birthday
// bonus.
func (s *Server) widgetBirthday(c echo.Context) error {
	who := currentShopper(c)
	if who.customerID == "" {
		return app.Errorf(app.EForbidden, "sign in to save your birthday")
	}
	var in struct {
		Birthday string `json:"birthday"`
	}
	if err := bindWidget(c, &in); err != nil {
		return err
	}
	b, err := app.ParseBirthday(in.Birthday)
	if err != nil {
		return err
	}
	customer, err := s.deps.Service.SetBirthday(c.Request().Context(), who.shop, app.BirthdayChange{CustomerID: who.customerID, Birthday: b})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.JSON(http.StatusOK, map[string]string{"birthday": customer.Birthday.String()})
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
	// Releasing are pending points by the day they become spendable.
	Releasing []widgetExpiry `json:"releasing"`
	History   []widgetEntry  `json:"history"`
	Rewards   []widgetReward `json:"rewards"`
	// Codes are the shopper's reward codes that are still to be used.
	Codes      []widgetCode     `json:"codes"`
	Program    widgetProgram    `json:"program"`
	Appearance widgetAppearance `json:"appearance"`
}

type widgetCustomer struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name,omitempty"`
	Birthday  string `json:"birthday,omitempty"` // MM-DD
}

type widgetCode struct {
	ID          int64      `json:"id"`
	Code        string     `json:"code"`
	Status      string     `json:"status"`
	RewardName  string     `json:"reward_name"`
	Kind        string     `json:"kind"`
	Points      int64      `json:"points"`
	Amount      string     `json:"amount,omitempty"`
	Percentage  int        `json:"percentage,omitempty"`
	MinSubtotal string     `json:"min_subtotal,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

func widgetCodeOf(r app.Redemption) widgetCode {
	out := widgetCode{ID: r.ID, Code: r.Code, Status: string(r.Status), RewardName: r.RewardName, Kind: string(r.Kind),
		Points: r.Points, Percentage: r.Percentage, ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt}
	if r.Amount > 0 {
		out.Amount = r.Amount.String()
	}
	if r.MinSubtotal > 0 {
		out.MinSubtotal = r.MinSubtotal.String()
	}
	return out
}

type widgetAppearance struct {
	Color    string `json:"color"`
	Position string `json:"position"`
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
	EarnRate      string `json:"earn_rate"`
	SignupBonus   int64  `json:"signup_bonus"`
	BirthdayBonus int64  `json:"birthday_bonus"`
	PendingDays   int    `json:"pending_days"`
	ExpiryDays    int    `json:"expiry_days"`
}

// widgetCustomerDocument renders the widget's one document for the shopper.
func (s *Server) widgetCustomerDocument(c echo.Context) error {
	who := currentShopper(c)
	ctx := c.Request().Context()
	v, err := s.deps.Service.CustomerView(ctx, who.shop, who.customerID)
	if err != nil {
		return err
	}
	shop, prog := v.Shop, v.Program
	doc := customerDocument{Shop: shop.Domain, ShopName: shop.Name, Platform: string(shop.Platform),
		Locale: widgetLocale(c.QueryParam("locale"), prog.Locale), Currency: shop.Currency,
		Expiring: []widgetExpiry{}, Releasing: []widgetExpiry{}, History: []widgetEntry{}, Rewards: []widgetReward{}, Codes: []widgetCode{},
		Program: widgetProgram{EarnRate: prog.EarnRate.String(), SignupBonus: prog.SignupBonus, BirthdayBonus: prog.BirthdayBonus,
			PendingDays: prog.PendingDays, ExpiryDays: prog.ExpiryDays},
		Appearance: widgetAppearance{Color: prog.Look.Color, Position: prog.Look.Position}}
	if v.Customer != nil {
		doc.Customer = &widgetCustomer{ID: v.Customer.PlatformID, FirstName: v.Customer.FirstName}
		if v.Customer.Birthday != nil {
			doc.Customer.Birthday = v.Customer.Birthday.String()
		}
		doc.Balance, doc.Pending = v.Customer.Balance, v.Customer.Pending
		for _, r := range v.Codes {
			doc.Codes = append(doc.Codes, widgetCodeOf(r))
		}
	}
	for _, e := range v.Expiring {
		doc.Expiring = append(doc.Expiring, widgetExpiry{Points: e.Points, Date: e.On.Format("2006-01-02")})
	}
	for _, r := range v.Releasing {
		doc.Releasing = append(doc.Releasing, widgetExpiry{Points: r.Points, Date: r.On.Format("2006-01-02")})
	}
	for _, e := range v.History {
		// Shoppers know their orders by name (#1001), not by the
		// platform's id.
		order := e.Cause.OrderID
		if name, ok := v.OrderNames[order]; ok {
			order = name
		}
		// The reason a staff member typed is theirs to read in the console;
		// the shopper sees what happened, not internal notes.
		doc.History = append(doc.History, widgetEntry{At: e.CreatedAt, Kind: string(e.Kind), Points: e.Points, Order: order})
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
