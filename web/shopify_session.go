package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// sessionShopKey is where requireShopifySession leaves the shop.
const sessionShopKey = "shopify.shop"

// requireShopifySession admits requests from the app embedded in the
// Shopify admin: App Bridge sends a session token (a JWT signed with the
// app secret) as a bearer token. The token names the shop; only an active
// installation is let in.
func (s *Server) requireShopifySession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a := s.deps.Shopify
		token, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "missing session token")
		}
		session, err := shopify.VerifySessionToken(token, a.APIKey, a.APISecret, a.Now())
		if err != nil {
			s.deps.Log.Warn("session token refused", "error", err, "remote", c.RealIP())
			return echo.NewHTTPError(http.StatusUnauthorized, "invalid session token")
		}
		shop, err := s.deps.Service.Shop(c.Request().Context(), app.Shopify, session.Shop)
		if app.ErrorCode(err) == app.ENotFound || (err == nil && !shop.Active()) {
			return echo.NewHTTPError(http.StatusForbidden, "the app is not installed on this shop")
		}
		if err != nil {
			return err
		}
		c.Set(sessionShopKey, shop)
		c.Set("shopify.user", session.UserID)
		// Inside the Shopify admin, Shopify decides who may open the app
		// (its own staff permissions), so its users act as the shop's
		// owner; console handlers read them like any signed-in staff.
		c.Set(ctxStaff, shopifyStaff(shop, session.UserID))
		c.Set(ctxShop, shop)
		return next(c)
	}
}

// embeddedSession tells the embedded admin who it is talking to.
func (s *Server) embeddedSession(c echo.Context) error {
	shop := c.Get(sessionShopKey).(app.Shop)
	return c.JSON(http.StatusOK, map[string]string{
		"shop":     shop.Domain,
		"name":     shop.Name,
		"currency": shop.Currency,
		"user_id":  c.Get("shopify.user").(string),
	})
}
