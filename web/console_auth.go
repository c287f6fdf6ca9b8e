package web

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
)

// Console is the staff console's sign-in: email and password, a session
// cookie, CSRF tokens on every form. The admin API takes bearer tokens
// instead.
type Console struct {
	// Secure marks the session cookie Secure: on whenever APP_URL is https.
	Secure bool
	// SignIns throttles sign-in attempts per client address (PerClient in
	// Window), above the per-account lockout: one address guessing across
	// many accounts is stopped too. Nil: no throttle.
	SignIns *RateLimiter
}

// Names of the console's cookie, form field and header.
const (
	SessionCookie = "loyalty_session"
	CSRFField     = "csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// Keys of what the auth middleware puts in an echo context.
const (
	ctxStaff   = "loyalty.staff"
	ctxShop    = "loyalty.shop"
	ctxSession = "loyalty.session"
)

// staffOf returns the signed-in staff member and their shop: the only shop
// the request may touch.
func staffOf(c echo.Context) (app.Staff, app.Shop) {
	m, _ := c.Get(ctxStaff).(app.Staff)
	shop, _ := c.Get(ctxShop).(app.Shop)
	return m, shop
}

// shopifyStaff is the staff member a Shopify admin user acts as in the
// embedded admin: not stored, named after their Shopify user id.
func shopifyStaff(shop app.Shop, userID string) app.Staff {
	return app.Staff{ShopID: shop.ID, Email: "shopify user " + userID, Name: "Shopify user " + userID, Role: app.RoleOwner}
}

func sessionOf(c echo.Context) app.StaffSession {
	sess, _ := c.Get(ctxSession).(app.StaffSession)
	return sess
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Loyalty console</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00;border:1px solid #a00;padding:.5rem;border-radius:4px}</style>
</head><body>
<h1>Loyalty console</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/console/login">
<label for="shop">Shop domain</label><input id="shop" name="shop" value="{{.Shop}}" placeholder="example.myshopify.com" required autocomplete="organization">
<label for="email">Email</label><input id="email" name="email" type="email" value="{{.Email}}" required autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit">Sign in</button>
</form>
</body></html>
`))

type loginForm struct {
	Shop, Email, Error string
}

func (s *Server) loginPage(c echo.Context) error {
	// The Shopify admin's link names the shop, so staff type only their
	// own email and password.
	return renderPage(c, http.StatusOK, loginTemplate, loginForm{Shop: strings.ToLower(strings.TrimSpace(c.QueryParam("shop")))})
}

// login signs a staff member in. The shop comes from the form here only:
// after this, it comes from the session.
func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	form := loginForm{Shop: strings.ToLower(strings.TrimSpace(c.FormValue("shop"))), Email: strings.TrimSpace(c.FormValue("email"))}
	password := c.FormValue("password")
	if s.deps.Console.SignIns.allow(c, "sign-in") != nil {
		form.Error = "Too many sign-in attempts from your network. Wait a few minutes, then try again."
		return renderPage(c, http.StatusTooManyRequests, loginTemplate, form)
	}
	if form.Shop == "" || form.Email == "" || password == "" {
		form.Error = "Enter the shop's domain, your email and your password."
		return renderPage(c, http.StatusUnprocessableEntity, loginTemplate, form)
	}
	// An unknown shop signs in as to no shop, which takes as long and
	// answers as a wrong password does.
	shop, err := s.shopByDomain(c, form.Shop)
	if err != nil && app.ErrorCode(err) != app.ENotFound {
		return err
	}
	m, err := s.deps.Service.SignIn(ctx, shop, form.Email, password)
	switch {
	case err == app.ErrBadCredentials:
		form.Error = "The email or password is wrong."
		return renderPage(c, http.StatusUnauthorized, loginTemplate, form)
	case err == app.ErrLockedOut:
		form.Error = "Too many failed sign-ins: this account is locked for 15 minutes. Try again later or ask the shop's owner."
		return renderPage(c, http.StatusTooManyRequests, loginTemplate, form)
	case err != nil:
		return err
	}
	_, token, err := s.deps.Service.NewSession(ctx, m)
	if err != nil {
		return err
	}
	c.SetCookie(s.sessionCookie(token, 0))
	return c.Redirect(http.StatusSeeOther, "/console/")
}

// shopByDomain finds a shop by its domain on either platform.
func (s *Server) shopByDomain(c echo.Context, domain string) (app.Shop, error) {
	ctx := c.Request().Context()
	shop, err := s.deps.Service.Shop(ctx, app.Shopify, domain)
	if app.ErrorCode(err) == app.ENotFound {
		shop, err = s.deps.Service.Shop(ctx, app.WooCommerce, domain)
	}
	return shop, err
}

func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(SessionCookie); err == nil {
		if err := s.deps.Service.EndSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	c.SetCookie(s.sessionCookie("", -1))
	return c.Redirect(http.StatusSeeOther, "/console/login")
}

func (s *Server) sessionCookie(value string, maxAge int) *http.Cookie {
	// No Expires: the cookie ends with the browser; the server ends the
	// session after 12 idle hours whatever the browser keeps.
	return &http.Cookie{Name: SessionCookie, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: s.deps.Console.Secure, SameSite: http.SameSiteLaxMode}
}

// The dashboard at /console/ and the API tokens' page (createToken,
// revokeToken) are in console_settings.go.

// requireStaff lets through a signed-in staff member whose role grants
// perm (any signed-in staff member when perm is empty), and checks the
// CSRF token of every request that may change something.
func (s *Server) requireStaff(perm app.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			safe := req.Method == http.MethodGet || req.Method == http.MethodHead
			ck, err := c.Cookie(SessionCookie)
			if err != nil {
				return s.notSignedIn(c, safe)
			}
			sess, m, shop, err := s.deps.Service.SessionByToken(req.Context(), ck.Value)
			if err == app.ErrUnauthenticated {
				return s.notSignedIn(c, safe)
			}
			if err != nil {
				return err
			}
			if !safe {
				token := req.Header.Get(CSRFHeader)
				if token == "" {
					token = c.FormValue(CSRFField)
				}
				if subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
					return echo.NewHTTPError(http.StatusForbidden, "the form is stale or was not sent from the console: reload the page and try again")
				}
			}
			if err := s.authorize(c, m, shop, perm); err != nil {
				return err
			}
			c.Set(ctxSession, sess)
			return next(c)
		}
	}
}

// notSignedIn sends a browser to the sign-in page; anything else gets 401.
func (s *Server) notSignedIn(c echo.Context, safe bool) error {
	if safe {
		return c.Redirect(http.StatusSeeOther, "/console/login")
	}
	return echo.NewHTTPError(http.StatusUnauthorized, "not signed in")
}

// requireAPIToken is requireStaff for the admin API: a bearer token
// ("Authorization: Bearer lyt_…") instead of a cookie, so no CSRF.
func (s *Server) requireAPIToken(perm app.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="loyalty"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "an API token is required: Authorization: Bearer lyt_…")
			}
			m, shop, err := s.deps.Service.AuthenticateAPIToken(c.Request().Context(), strings.TrimSpace(token))
			if err == app.ErrUnauthenticated {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="loyalty", error="invalid_token"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "the API token is unknown or revoked")
			}
			if err != nil {
				return err
			}
			if err := s.authorize(c, m, shop, perm); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// authorize puts the staff member and shop in the context, or refuses
// (and records the refusal) when their role does not grant perm.
func (s *Server) authorize(c echo.Context, m app.Staff, shop app.Shop, perm app.Permission) error {
	if perm != "" && !m.Can(perm) {
		s.deps.Service.Audit(c.Request().Context(), app.AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: m.Email,
			Action: c.Request().Method + " " + c.Path(), Outcome: app.AuditRefused, Detail: "role " + string(m.Role) + " lacks " + string(perm)})
		return app.Errorf(app.EForbidden, "your role (%s) does not allow this (%s)", m.Role, perm)
	}
	c.Set(ctxStaff, m)
	c.Set(ctxShop, shop)
	return nil
}

// adminMe says who a token belongs to and what it may do.
func (s *Server) adminMe(c echo.Context) error {
	m, shop := staffOf(c)
	perms := m.Role.Permissions()
	if !m.DisabledAt.IsZero() {
		perms = nil
	}
	return c.JSON(http.StatusOK, map[string]any{
		"staff":       map[string]any{"id": m.ID, "email": m.Email, "name": m.Name},
		"role":        m.Role,
		"shop":        map[string]any{"domain": shop.Domain, "platform": shop.Platform, "name": shop.Name},
		"permissions": perms,
	})
}

// adminStaff lists the shop's staff, for those who manage them.
func (s *Server) adminStaff(c echo.Context) error {
	_, shop := staffOf(c)
	list, err := s.deps.Service.StaffList(c.Request().Context(), shop)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, m := range list {
		out[i] = map[string]any{"id": m.ID, "email": m.Email, "name": m.Name, "role": m.Role,
			"created_at": m.CreatedAt, "disabled": !m.DisabledAt.IsZero(), "locked": m.LockedUntil.After(time.Now())}
	}
	return c.JSON(http.StatusOK, map[string]any{"staff": out})
}

func renderPage(c echo.Context, status int, t *template.Template, data any) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	c.Response().WriteHeader(status)
	return t.Execute(c.Response(), data)
}
