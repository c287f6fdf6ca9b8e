package web

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/platforms/shopify"
)

// Demo is the local demo storefront: GET /demo is a shop's page with the
// widget on it, and /demo/apps/loyalty/* stands in for Shopify's app proxy.
// main sets it only outside production: the emulation signs requests with
// the app's own Shopify secret for whoever asks, so in production it would
// let anyone act as the demo shopper of any shop it names.
type Demo struct {
	// Shop is the demo shop's myshopify.com domain.
	Shop string
	// Customer is the Shopify id of the shopper the page signs in.
	Customer string
	Now      func() time.Time
}

// The demo's defaults, as scripts/run.sh seeds them.
const (
	DemoShop     = "demo-shop.myshopify.com"
	DemoCustomer = "7770001"
)

// demoProxyPrefix is where the demo mounts its app proxy; Shopify's real
// one lives at the storefront's /apps/loyalty.
const demoProxyPrefix = "/demo/apps/loyalty"

// demoGuestCookie marks the demo's storefront session as signed out, the way
// a real storefront's session cookie tells Shopify who is signed in: the
// widget's requests carry it to the emulated proxy without the widget
// knowing about it.
const demoGuestCookie = "loyalty_demo_guest"

// shopifyProxyParams are the parameters Shopify's app proxy sets itself; a
// shopper's own values for them never reach the app.
var shopifyProxyParams = []string{"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}

func (d *Demo) shop() string {
	if d.Shop == "" {
		return DemoShop
	}
	return d.Shop
}

func (d *Demo) customer() string {
	if d.Customer == "" {
		return DemoCustomer
	}
	return d.Customer
}

func (d *Demo) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// demoProxy forwards a widget request as Shopify's app proxy would: the
// storefront path /apps/loyalty/<rest> becomes the app's /proxy/<rest>, with
// the shopper's query less anything Shopify sets itself, plus shop,
// logged_in_customer_id (empty for a guest), path_prefix and timestamp,
// signed with the app's current secret. Like Shopify's proxy it keeps the
// method and body, drops cookies on the way in and Set-Cookie on the way out.
// The request is served by this same server, so it meets every check a real
// proxied request meets.
func (s *Server) demoProxy(c echo.Context) error {
	d := s.deps.Demo
	in := c.Request()
	rest := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
	q := in.URL.Query()
	for _, k := range shopifyProxyParams {
		q.Del(k)
	}
	customer := d.customer()
	if demoGuest(in) {
		customer = ""
	}
	q.Set("shop", d.shop())
	q.Set("logged_in_customer_id", customer)
	q.Set("path_prefix", "/apps/loyalty")
	q.Set("timestamp", strconv.FormatInt(d.now().Unix(), 10))
	q.Set("signature", shopify.SignProxy(q, s.deps.Widget.ShopifySecrets[0]))

	out := in.Clone(in.Context())
	out.URL = &url.URL{Path: "/proxy/" + rest, RawQuery: q.Encode()}
	out.RequestURI = out.URL.RequestURI()
	out.Header.Del("Cookie")
	out.Body = in.Body
	s.echo.ServeHTTP(noSetCookie{c.Response()}, out)
	return nil
}

// noSetCookie drops the cookies a proxied response sets, as Shopify's app
// proxy does.
type noSetCookie struct{ http.ResponseWriter }

func (w noSetCookie) WriteHeader(status int) {
	w.Header().Del("Set-Cookie")
	w.ResponseWriter.WriteHeader(status)
}

func (w noSetCookie) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func demoGuest(r *http.Request) bool {
	ck, err := r.Cookie(demoGuestCookie)
	return err == nil && ck.Value == "1"
}

// demoPage renders the storefront: ?locale= picks the widget's language,
// ?layout=inline puts it in the account area instead of the launcher, and
// ?guest=1 signs the shopper out (remembered in a cookie for the proxy).
func (s *Server) demoPage(c echo.Context) error {
	d := s.deps.Demo
	ctx := c.Request().Context()
	locale := widgetLocale(c.QueryParam("locale"), "")
	inline := c.QueryParam("layout") == "inline"
	guest := c.QueryParam("guest") == "1"

	if guest {
		c.SetCookie(&http.Cookie{Name: demoGuestCookie, Value: "1", Path: "/demo", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	} else {
		c.SetCookie(&http.Cookie{Name: demoGuestCookie, Value: "", Path: "/demo", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}

	page := demoPageData{Domain: d.shop(), ShopName: "Demo Shop", Currency: "USD", Customer: d.customer(),
		Locale: locale, Inline: inline, Guest: guest, API: demoProxyPrefix}
	shop, err := s.deps.Service.Shop(ctx, app.Shopify, d.shop())
	switch {
	case err == nil:
		page.Registered = true
		page.ShopName, page.Currency = shop.Name, shop.Currency
		if !guest {
			if cust, err := s.deps.Service.Balance(ctx, shop, d.customer()); err == nil {
				page.FirstName = cust.FirstName
			}
		}
	case app.ErrorCode(err) != app.ENotFound:
		return err
	}
	if page.FirstName == "" {
		page.FirstName = "shopper " + d.customer()
	}
	for _, p := range demoProducts {
		page.Products = append(page.Products, demoProduct{Name: p.Name, Blurb: p.Blurb, Price: p.Price + " " + page.Currency, Hue: p.Hue})
	}
	link := func(locale string, inline, guest bool) string {
		v := url.Values{}
		if locale != "en" {
			v.Set("locale", locale)
		}
		if inline {
			v.Set("layout", "inline")
		}
		if guest {
			v.Set("guest", "1")
		}
		if len(v) == 0 {
			return "/demo"
		}
		return "/demo?" + v.Encode()
	}
	for _, l := range widgetLocales {
		page.Locales = append(page.Locales, demoLocale{Code: l, Name: demoLocaleNames[l], URL: link(l, inline, guest), Current: l == locale})
	}
	page.SignInURL = link(locale, inline, false)
	page.SignOutURL = link(locale, inline, true)
	page.LauncherURL = link(locale, false, guest)
	page.InlineURL = link(locale, true, guest)

	var b bytes.Buffer
	if err := demoTemplate.Execute(&b, page); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, b.Bytes())
}

type demoPageData struct {
	Domain, ShopName, Currency string
	Registered                 bool
	Customer, FirstName        string
	Guest, Inline              bool
	Locale, API                string
	Locales                    []demoLocale
	Products                   []demoProduct
	SignInURL, SignOutURL      string
	LauncherURL, InlineURL     string
}

type demoLocale struct {
	Code, Name, URL string
	Current         bool
}

type demoProduct struct {
	Name, Blurb, Price string
	Hue                int
}

var demoLocaleNames = map[string]string{"en": "English", "pl": "Polski", "lv": "Latviešu", "ro": "Română", "ru": "Русский"}

var demoProducts = []demoProduct{
	{Name: "Merino Beanie", Blurb: "Soft, warm, machine washable.", Price: "32.00", Hue: 212},
	{Name: "Canvas Tote", Blurb: "Heavy cotton canvas, inner pocket.", Price: "24.00", Hue: 32},
	{Name: "Stoneware Mug", Blurb: "Hand-glazed, 350 ml.", Price: "18.00", Hue: 160},
	{Name: "Trail Socks, 3 pairs", Blurb: "Cushioned sole, wool blend.", Price: "21.00", Hue: 340},
}

var demoTemplate = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="{{.Locale}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.ShopName}} · loyalty widget demo</title>
<script type="module" src="/widget/loyalty-widget.js"></script>
<style>
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#fafaf9;color:#1c1917;margin:0}
a{color:inherit}
.bar{background:#1c1917;color:#fafaf9;font-size:.8rem;text-align:center;padding:.4rem 1rem}
header{background:#fff;border-bottom:1px solid #e7e5e4}
header .in{max-width:68rem;margin:0 auto;padding:1rem 1.25rem;display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap}
.logo{font-weight:700;font-size:1.25rem;letter-spacing:-.02em;text-decoration:none}
nav{display:flex;gap:1.1rem;flex:1}nav a{text-decoration:none;color:#57534e}
.who{font-size:.9rem;color:#57534e}.who a{margin-left:.5rem}
main{max-width:68rem;margin:0 auto;padding:1.5rem 1.25rem 6rem}
.hero{background:linear-gradient(120deg,#fde68a,#fca5a5);border-radius:16px;padding:2rem;margin-bottom:1.75rem}
.hero h1{margin:0 0 .35rem;font-size:1.8rem;letter-spacing:-.02em}.hero p{margin:0;max-width:36rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1.1rem}
.card{background:#fff;border:1px solid #e7e5e4;border-radius:12px;overflow:hidden}
.card .img{height:9rem}.card .body{padding:.8rem 1rem 1rem}
.card h3{margin:0;font-size:1rem}.card p{margin:.15rem 0 .6rem;color:#78716c;font-size:.85rem}
.card .row{display:flex;justify-content:space-between;align-items:center}
button.add{border:1px solid #1c1917;background:#fff;border-radius:999px;padding:.3rem .8rem;font:inherit;font-size:.85rem;cursor:pointer}
section.account{margin-top:2rem;background:#fff;border:1px solid #e7e5e4;border-radius:12px;padding:1.25rem 1.5rem}
section.account h2{margin:0 0 .75rem;font-size:1.15rem}
.muted{color:#78716c}
aside.tools{margin-top:2rem;border:1px dashed #a8a29e;border-radius:12px;padding:1rem 1.25rem;font-size:.9rem;background:#f5f5f4}
aside.tools h2{font-size:.95rem;margin:0 0 .5rem}
aside.tools .links a{margin-right:.75rem}
aside.tools .current{font-weight:700;text-decoration:none}
code{background:#e7e5e4;border-radius:4px;padding:.05rem .3rem;font-size:.85em}
.warn{background:#fef3c7;border:1px solid #f59e0b;border-radius:8px;padding:.6rem .9rem;margin-bottom:1rem}
</style></head>
<body>
<div class="bar">Free shipping on orders over 50.00 {{.Currency}} · Earn points on every order</div>
<header><div class="in">
<a class="logo" href="/demo">{{.ShopName}}</a>
<nav><a href="#shop">Shop</a><a href="#account">Account</a></nav>
<div class="who" data-test="demo-who">{{if .Guest}}Not signed in<a href="{{.SignInURL}}">Sign in</a>{{else}}Signed in as <strong>{{.FirstName}}</strong> (customer {{.Customer}})<a href="{{.SignOutURL}}">Sign out</a>{{end}}</div>
</div></header>
<main>
{{if not .Registered}}<p class="warn">The shop {{.Domain}} is not registered in this app yet; <code>make run</code> registers and seeds it.</p>{{end}}
<div class="hero"><h1>Made to last, rewarded every time</h1>
<p>Every 1.00 {{.Currency}} you spend earns points. Trade them for discounts and free shipping.</p></div>
<div class="grid" id="shop">
{{range .Products}}<div class="card"><div class="img" style="background:linear-gradient(135deg,hsl({{.Hue}} 70% 82%),hsl({{.Hue}} 60% 62%))"></div>
<div class="body"><h3>{{.Name}}</h3><p>{{.Blurb}}</p><div class="row"><strong>{{.Price}}</strong><button class="add" type="button">Add to cart</button></div></div></div>
{{end}}</div>
<section class="account" id="account"><h2>Your account</h2>
{{if .Guest}}<p class="muted">Sign in to see your orders and points.</p>{{else}}<p class="muted">Orders, addresses and your points{{if not .Inline}} (open them with the button in the corner){{end}}.</p>{{end}}
{{if .Inline}}<loyalty-widget data-platform="shopify" data-api="{{.API}}" data-locale="{{.Locale}}" data-currency="{{.Currency}}" data-layout="inline" data-login-url="{{.SignInURL}}" data-register-url="{{.SignInURL}}"></loyalty-widget>{{end}}
</section>
<aside class="tools"><h2>Demo controls (not part of a real shop)</h2>
<p class="links">Language:
<select id="demo-locale" aria-label="Widget language">{{range .Locales}}<option value="{{.Code}}"{{if .Current}} selected{{end}}>{{.Name}}</option>{{end}}</select>
{{range .Locales}}<a href="{{.URL}}" data-demo-locale="{{.Code}}"{{if .Current}} class="current"{{end}}>{{.Code}}</a>{{end}}</p>
<p class="links">Widget: <a href="{{.LauncherURL}}"{{if not .Inline}} class="current"{{end}}>launcher</a><a href="{{.InlineURL}}"{{if .Inline}} class="current"{{end}}>inline in the account</a>
Shopper: <a href="{{.SignInURL}}"{{if not .Guest}} class="current"{{end}}>signed in</a><a href="{{.SignOutURL}}"{{if .Guest}} class="current"{{end}}>guest</a></p>
<p>The widget calls <code>{{.API}}/…</code>, an emulation of Shopify's app proxy that signs each request as Shopify would and hands it to <code>/proxy/…</code>.
Earn points from another terminal: <code>bin/loyalty simulate orders/paid --shop {{.Domain}} --customer {{.Customer}} --amount 120.00</code>, then reload.</p>
</aside>
</main>
{{if not .Inline}}<loyalty-widget data-platform="shopify" data-api="{{.API}}" data-locale="{{.Locale}}" data-currency="{{.Currency}}" data-layout="launcher" data-login-url="{{.SignInURL}}" data-register-url="{{.SignInURL}}"></loyalty-widget>{{end}}
<script>
// Switch the widget's language in place (it re-renders without a request)
// and keep the address and links in step.
document.getElementById("demo-locale").addEventListener("change", function (ev) {
  var locale = ev.target.value;
  document.querySelectorAll("loyalty-widget").forEach(function (w) { w.setAttribute("data-locale", locale); });
  document.documentElement.lang = locale;
  var u = new URL(location.href);
  if (locale === "en") { u.searchParams.delete("locale"); } else { u.searchParams.set("locale", locale); }
  history.replaceState(null, "", u);
  document.querySelectorAll("a[href^='/demo']").forEach(function (a) {
    if (a.dataset.demoLocale) {
      a.classList.toggle("current", a.dataset.demoLocale === locale);
      return;
    }
    var l = new URL(a.href);
    if (locale === "en") { l.searchParams.delete("locale"); } else { l.searchParams.set("locale", locale); }
    a.href = l.pathname + l.search;
  });
});
</script>
</body></html>
`))
