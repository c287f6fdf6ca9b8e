package web

import (
	"bytes"
	"fmt"
	"html/template"

	"loyalty/app"
)

var pages = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#f6f6f7;color:#202223;margin:0}
main{max-width:34rem;margin:12vh auto;background:#fff;border-radius:12px;padding:2rem 2.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 .75rem}p{margin:0}
</style></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p></main></body></html>
`))

var exitIframe = template.Must(template.New("exit").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Redirecting…</title></head>
<body><p>Redirecting to the installation… <a id="go" href="{{.}}" target="_top">Continue</a></p>
<script>window.top.location.href = document.getElementById("go").href;</script></body></html>
`))

// errorPage is a plain, friendly page for a merchant; message is escaped.
func errorPage(title, message string) string {
	var b bytes.Buffer
	pages.Execute(&b, struct{ Title, Message string }{title, message})
	return b.String()
}

// exitIframePage moves the top window to url: the Shopify admin shows apps
// in an iframe, where the install flow cannot set its cookie.
func exitIframePage(url string) string {
	var b bytes.Buffer
	exitIframe.Execute(&b, url)
	return b.String()
}

var home = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="shopify-api-key" content="{{.APIKey}}">
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<title>Loyalty · {{.Shop.Name}}</title>
<style>
body{font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#f6f6f7;color:#202223;margin:0}
main{max-width:44rem;margin:2rem auto;padding:0 1rem}
section{background:#fff;border-radius:12px;padding:1.25rem 1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12);margin-bottom:1rem}
h1{font-size:1.3rem;margin:0 0 1rem}h2{font-size:1rem;margin:0 0 .5rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:0}dt{color:#6d7175}dd{margin:0}
</style></head>
<body><main>
<h1>Loyalty is active on {{.Shop.Name}}</h1>
<section><h2>Your program</h2><dl>
<dt>Earning</dt><dd>{{.Earn}}</dd>
<dt>Signup bonus</dt><dd>{{if .Program.SignupBonus}}{{.Program.SignupBonus}} points{{else}}none{{end}}</dd>
<dt>Points usable</dt><dd>{{if .Program.PendingDays}}{{.Program.PendingDays}} days after payment{{else}}right after payment{{end}}</dd>
<dt>Expiry</dt><dd>{{if .Program.ExpiryDays}}{{.Program.ExpiryDays}} days after they are earned{{else}}never{{end}}</dd>
</dl></section>
{{with .ConsoleURL}}<section><h2>Console</h2>
<p>Customers, balance adjustments, approvals, rewards, program settings, staff, the audit log and KPIs are in the loyalty console,
which opens in its own tab. Staff sign in there with their own email and password: the shop's owner adds them on its Staff page.</p>
<p><a href="{{.}}" target="_blank" rel="noopener">Open the loyalty console</a></p></section>{{end}}
</main></body></html>
`))

// homePage is the app inside the Shopify admin.
func homePage(apiKey string, shop app.Shop, p app.Program, consoleURL string) string {
	earn := fmt.Sprintf("%s point(s) per 1 %s spent on products", p.EarnRate, shop.Currency)
	if p.EarnOnShipping {
		earn += " and shipping"
	}
	var b bytes.Buffer
	home.Execute(&b, struct {
		APIKey     string
		Shop       app.Shop
		Program    app.Program
		Earn       string
		ConsoleURL string
	}{apiKey, shop, p, earn, consoleURL})
	return b.String()
}

var connected = template.Must(template.New("connected").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Store connected</title>
<style>
body{font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#f6f6f7;color:#202223;margin:0}
main{max-width:38rem;margin:10vh auto;background:#fff;border-radius:12px;padding:2rem 2.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 .75rem}code{background:#f1f2f3;padding:.1rem .35rem;border-radius:4px;word-break:break-all}
</style></head>
<body><main><h1>{{.Shop.Domain}} is connected</h1>
<p>Orders now earn points. To show customers their points, install the <strong>Loyalty Points</strong> WordPress plugin and enter, under WooCommerce › Loyalty Points:</p>
<ul><li>App URL: <code>{{.AppURL}}</code></li><li>Store key: <code>{{.StoreKey}}</code></li><li>Widget secret: <code>{{.WidgetSecret}}</code></li></ul>
<p>This page is shown once. Support can show the widget secret again if you lose it.</p></main></body></html>
`))

// connectedPage tells a merchant their store is connected and how to set up
// the companion plugin.
func connectedPage(shop app.Shop, storeKey, widgetSecret, appURL string) string {
	var b bytes.Buffer
	connected.Execute(&b, struct {
		Shop                           app.Shop
		StoreKey, WidgetSecret, AppURL string
	}{shop, storeKey, widgetSecret, appURL})
	return b.String()
}
