package web

import (
	"bytes"
	"html/template"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/email"
)

// Unsubscribe serves the page a message's unsubscribe link opens. Opening
// the link only shows the page (mail scanners follow links); the shopper's
// button, or a mail client's RFC 8058 one-click POST, unsubscribes.
type Unsubscribe struct {
	// Key checks the links' signatures: the key the mailer signs with.
	Key []byte
	// Previous are keys links were signed with before a change of key:
	// messages sent before it still carry them.
	Previous [][]byte
}

// parse reads a link's token under the current key, then the previous ones.
func (u *Unsubscribe) parse(token string) (shopID, customerID int64, err error) {
	shopID, customerID, err = app.ParseUnsubscribeToken(u.Key, token)
	for _, key := range u.Previous {
		if err == nil {
			break
		}
		if s, c, perr := app.ParseUnsubscribeToken(key, token); perr == nil {
			return s, c, nil
		}
	}
	return shopID, customerID, err
}

var unsubscribeTmpl = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#f6f6f7;color:#202223;margin:0}
main{max-width:34rem;margin:12vh auto;background:#fff;border-radius:12px;padding:2rem 2.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 .75rem}p{margin:0 0 1.25rem}
button{font:inherit;font-weight:600;border:0;border-radius:6px;padding:.7rem 1.4rem;cursor:pointer;background:{{.Color}};color:{{.OnColor}}}
</style></head>
<body><main><h1>{{.Title}}</h1>
{{- if .Done}}<p>{{.Done}}</p>
{{- else if .Question}}<p>{{.Question}}</p>
<form method="post" action="unsubscribe"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">{{.Button}}</button></form>
{{- else}}<p>{{.Invalid}}</p>{{end}}
</main></body></html>
`))

type unsubscribeView struct {
	Lang, Title, Question, Button, Done, Invalid, Token string
	Color, OnColor                                      template.CSS
}

var pageColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// unsubscribePage asks the shopper to confirm.
func (s *Server) unsubscribePage(c echo.Context) error {
	return s.unsubscribeRespond(c, false)
}

// unsubscribe stops a shopper's messages: from the page's button, or a
// mail client's one-click request (body List-Unsubscribe=One-Click), which
// gets a plain 200.
func (s *Server) unsubscribe(c echo.Context) error {
	return s.unsubscribeRespond(c, true)
}

func (s *Server) unsubscribeRespond(c echo.Context, confirm bool) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the link is the shopper's key
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	token := c.QueryParam("t")
	if token == "" {
		token = c.FormValue("t")
	}
	ctx := c.Request().Context()
	lang := email.For(acceptLanguage(c.Request()))
	view := unsubscribeView{Lang: lang.Code, Title: lang.T("unsubscribe", 0, nil), Invalid: lang.T("unsub.invalid", 0, nil),
		Color: template.CSS(app.DefaultLook.Color), OnColor: "#ffffff"}
	shopID, customerID, err := s.deps.Unsubscribe.parse(token)
	if err != nil {
		return s.unsubscribeHTML(c, http.StatusBadRequest, view)
	}
	shop, customer, unsubscribed, err := s.deps.Service.Recipient(ctx, shopID, customerID)
	if app.ErrorCode(err) == app.ENotFound {
		// Erased since the message went out: there is nothing left to stop.
		return s.unsubscribeHTML(c, http.StatusNotFound, view)
	}
	if err != nil {
		return err
	}
	if customer.Locale != "" {
		lang = email.For(customer.Locale)
	}
	name := shop.Name
	if name == "" {
		name = shop.Domain
	}
	vars := email.Vars{"shop": name}
	view = unsubscribeView{Lang: lang.Code, Title: lang.T("unsub.title", 0, vars), Question: lang.T("unsub.question", 0, vars),
		Button: lang.T("unsub.button", 0, vars), Token: token, Color: view.Color, OnColor: view.OnColor}
	if p, err := s.deps.Service.Program(ctx, shop); err == nil && pageColor.MatchString(p.Look.Color) {
		view.Color, view.OnColor = template.CSS(p.Look.Color), template.CSS(email.TextOn(p.Look.Color))
	}
	done := unsubscribed != nil
	if confirm {
		if !done {
			if err := s.deps.Service.Unsubscribe(ctx, shopID, customerID); err != nil {
				return err
			}
			s.deps.Log.Info("shopper unsubscribed", "shop", shop.Domain, "customer", customer.PlatformID)
		}
		if c.FormValue("List-Unsubscribe") == "One-Click" {
			return c.String(http.StatusOK, lang.T("unsub.done", 0, vars)+"\n")
		}
		done = true
	}
	if done {
		view.Done = lang.T("unsub.done", 0, vars)
	}
	return s.unsubscribeHTML(c, http.StatusOK, view)
}

func (s *Server) unsubscribeHTML(c echo.Context, status int, v unsubscribeView) error {
	var b bytes.Buffer
	if err := unsubscribeTmpl.Execute(&b, v); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

// acceptLanguage is the browser's first language, for a page that knows no
// shopper.
func acceptLanguage(r *http.Request) string {
	first, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
	first, _, _ = strings.Cut(first, ";")
	return strings.TrimSpace(first)
}
