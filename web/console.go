package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
)

// The console's pages: layout.html wraps every other file, each of which
// defines "content" and is rendered by its name without ".html".
//
//go:embed console/*.html console/console.js
var consoleFiles embed.FS

var consolePages = parseConsolePages()

func parseConsolePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(consoleFuncs).ParseFS(consoleFiles, "console/layout.html"))
	names, err := fs.Glob(consoleFiles, "console/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		if name == "console/layout.html" {
			continue
		}
		page := template.Must(template.Must(layout.Clone()).ParseFS(consoleFiles, name))
		pages[strings.TrimSuffix(strings.TrimPrefix(name, "console/"), ".html")] = page
	}
	return pages
}

// consoleFuncs are the helpers every console template may use.
var consoleFuncs = template.FuncMap{
	// points prints a point count with thin groups: 12 345.
	"points": func(n int64) string { return groupDigits(n) },
	// signed prints a change of points with its sign: +50, −20.
	"signed": func(n int64) string {
		if n > 0 {
			return "+" + groupDigits(n)
		}
		if n < 0 {
			return "−" + groupDigits(-n)
		}
		return "0"
	},
	"money": func(a app.Amount, currency string) string { return groupAmount(a.String()) + " " + currency },
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"datep": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02")
	},
	"percent": func(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) },
}

// groupDigits writes n with a thin space between groups of three digits,
// readable in every language the console's users speak.
func groupDigits(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

// groupAmount groups the whole part of a decimal amount as groupDigits
// does: 12646.50 → 12 646.50.
func groupAmount(s string) string {
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return s
	}
	out := groupDigits(n)
	if strings.HasPrefix(whole, "-") && n == 0 {
		out = "−" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

// Page is one console page to render: the template's name, the title, an
// optional notice (after a change) or error, and the page's own data.
type Page struct {
	Name   string
	Title  string
	Notice string
	Error  string
	Data   any
}

// consoleView is what the layout sees.
type consoleView struct {
	Page
	Staff app.Staff
	Shop  app.Shop
	CSRF  string
	Nav   []navItem
}

type navItem struct {
	Path, Label string
	Current     bool
}

// consoleNav is the console's menu: each item shows only to staff whose
// role grants its permission (empty: everyone).
var consoleNav = []struct {
	Path, Label string
	Perm        app.Permission
}{
	{"/console/", "Dashboard", ""},
	{"/console/customers", "Customers", app.ViewCustomers},
	{"/console/approvals", "Approvals", app.ApproveAdjustments},
	{"/console/reports/adjustments", "Adjustments", app.ViewCustomers},
	{"/console/program", "Program", app.EditProgram},
	{"/console/rewards", "Rewards", app.EditRewards},
	{"/console/import", "Import & export", app.AdjustBalance},
	{"/console/staff", "Staff", app.ManageStaff},
	{"/console/audit", "Audit log", ""},
	{"/console/account", "Account", ""},
}

// renderConsole renders a console page inside the layout, for the
// signed-in staff member.
func (s *Server) renderConsole(c echo.Context, status int, p Page) error {
	t, ok := consolePages[p.Name]
	if !ok {
		return fmt.Errorf("no console page %q", p.Name)
	}
	m, shop := staffOf(c)
	view := consoleView{Page: p, Staff: m, Shop: shop, CSRF: sessionOf(c).CSRF}
	path := c.Request().URL.Path
	if strings.HasPrefix(path, "/console/tokens") {
		path = "/console/account" // a new token is shown on the account page
	}
	for _, item := range consoleNav {
		if item.Perm != "" && !m.Can(item.Perm) {
			continue
		}
		current := path == item.Path || (item.Path != "/console/" && strings.HasPrefix(path, item.Path))
		view.Nav = append(view.Nav, navItem{Path: item.Path, Label: item.Label, Current: current})
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	c.Response().WriteHeader(status)
	return t.ExecuteTemplate(c.Response(), "layout", view)
}

// consoleScript is the console's bit of JavaScript (confirmations, the
// chart's tooltips): a file of its own, so the pages' CSP forbids inline
// scripts.
func (s *Server) consoleScript(c echo.Context) error {
	b, err := consoleFiles.ReadFile("console/console.js")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", b)
}

// consoleError renders a domain error on a console page (a 4xx with the
// form kept), or passes anything else to the error handler.
func (s *Server) consoleError(c echo.Context, err error, p Page) error {
	code := app.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || status >= 500 {
		return err
	}
	p.Error = app.ErrorMessage(err)
	return s.renderConsole(c, status, p)
}
