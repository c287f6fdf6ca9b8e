package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/platforms/woocommerce"
	"loyalty/web"
)

// storefront is the app serving its demo storefront for the demo shop,
// whose shopper has a history and whose catalogue has every kind of reward.
type storefront struct {
	env     *testenv.Env
	srv     *httptest.Server
	shop    app.Shop
	rewards map[string]app.Reward
}

func newStorefront(t *testing.T) *storefront {
	t.Helper()
	env := testenv.New(t, nil)
	ctx := context.Background()
	prog := app.DefaultProgram(0)
	prog.SignupBonus, prog.BirthdayBonus, prog.ExpiryDays = 50, 100, 365
	prog.Look = app.WidgetLook{Color: "#0f766e", Position: "bottom-right"}
	shop, err := env.Service.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: web.DemoShop, Name: "Demo Shop", Currency: "USD"}, &prog)
	if err != nil {
		t.Fatal(err)
	}
	ada := app.CustomerRef{PlatformID: web.DemoCustomer, FirstName: "Ada"}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.Service.WelcomeCustomer(ctx, shop, app.CustomerCreated{Customer: ada}))
	for i, subtotal := range []string{"120.00", "45.50", "1000.00"} {
		must(env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: strconv.Itoa(5001 + i), Name: fmt.Sprintf("#%d", 1001+i),
			Customer: &ada, Subtotal: app.MustAmount(subtotal)}))
	}
	must(env.Service.Adjust(ctx, shop, app.Adjustment{CustomerID: web.DemoCustomer, Points: -15, Reason: "test", Staff: "qa", IdempotencyKey: "browser-adjust"}))

	s := &storefront{env: env, shop: shop, rewards: map[string]app.Reward{}}
	for _, r := range []app.Reward{
		{Name: "Free shipping", Kind: app.RewardFreeShipping, Points: 300},
		{Name: "Points off your order", Kind: app.RewardVariable, MinPoints: 200, PointsPerUnit: 100},
		{Name: "5 USD off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), ExpiryDays: 30},
		{Name: "10% off", Kind: app.RewardPercentage, Points: 800, Percentage: 10},
		{Name: "50 USD off", Kind: app.RewardFixed, Points: 5000, Amount: app.MustAmount("50.00"), MinSubtotal: app.MustAmount("100.00")},
	} {
		r.Active = true
		added, err := env.Service.AddReward(ctx, shop, r)
		if err != nil {
			t.Fatalf("add reward %s: %v", r.Name, err)
		}
		s.rewards[r.Name] = added
	}

	srv := web.New(web.Deps{Service: env.Service, Registry: prometheus.NewRegistry(), Postgres: env.Store, Redis: pinger{env.Redis}, Log: env.Log,
		Widget: &web.Widget{ShopifySecrets: []string{testenv.ShopifySecret}, Now: time.Now},
		Demo:   &web.Demo{Now: time.Now},
		// The platform creates codes at once, as a worker would shortly
		// after the answer: the answer says "pending", a reload "issued".
		Codes: func(ctx context.Context, shop app.Shop, id int64) {
			if err := env.Service.IssueRedemption(ctx, shop, id, fmt.Sprint("gid://shopify/DiscountCodeNode/", id)); err != nil {
				t.Errorf("issue redemption %d: %v", id, err)
			}
		}})
	s.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(s.srv.Close)
	return s
}

func (s *storefront) shopper(t *testing.T) app.Customer {
	t.Helper()
	c, err := s.env.Service.Balance(context.Background(), s.shop, web.DemoCustomer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *storefront) history(t *testing.T) []app.Entry {
	t.Helper()
	h, err := s.env.Service.History(context.Background(), s.shop, web.DemoCustomer, 20)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var nonDigits = regexp.MustCompile(`\D`)

// digits reads a formatted number ("1,215", "1 215", "+120") back.
func digits(s string) int64 {
	n, _ := strconv.ParseInt(nonDigits.ReplaceAllString(s, ""), 10, 64)
	if strings.ContainsAny(s, "-−") {
		return -n
	}
	return n
}

// pluralForm is CLDR's rule for whole numbers in Polish and Russian: the
// forms the catalogues must pick.
func pluralForm(lang string, n int64) string {
	switch m10, m100 := n%10, n%100; {
	case lang == "pl" && n == 1, lang == "ru" && m10 == 1 && m100 != 11:
		return "one"
	case m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14):
		return "few"
	default:
		return "many"
	}
}

func TestBrowserWidget(t *testing.T) {
	s := newStorefront(t)
	b := newChromeTab(t)
	b.grant(s.srv.URL, "clipboard-write", "clipboard-read")
	load := func(path string) {
		t.Helper()
		b.run(chromedp.Navigate(s.srv.URL + path))
		b.waitFor("the widget to load", `$root() && ($w('[data-test=balance]') || $w('[data-test=join]') || $w('[data-test=error]'))`)
	}
	open := func() {
		t.Helper()
		b.click("[data-test=launcher]")
		b.waitFor("the panel to open", `!$w('[data-test=panel]').hidden`)
	}

	load("/demo")
	t.Run("the launcher shows the balance in its badge and its name", func(t *testing.T) {
		want := s.shopper(t).Balance
		if want != 1200 {
			t.Fatalf("seeded balance %d, want 1200", want)
		}
		if got := digits(b.text(".badge")); got != want {
			t.Errorf("badge %d, want %d", got, want)
		}
		var label, expanded string
		b.eval(`return $w('[data-test=launcher]').getAttribute('aria-label')`, &label)
		b.eval(`return $w('[data-test=launcher]').getAttribute('aria-expanded')`, &expanded)
		if label != "Rewards: 1,200 points" || expanded != "false" {
			t.Errorf("aria-label %q, aria-expanded %s", label, expanded)
		}
		var requests int
		b.eval(`return performance.getEntriesByType('resource').filter((e) => e.name.includes('/apps/loyalty/')).length`, &requests)
		if requests != 1 {
			t.Errorf("the widget made %d requests to render, want 1", requests)
		}
	})

	t.Run("the panel shows the ledger's balance and history", func(t *testing.T) {
		open()
		b.screenshot("en-open")
		if got, want := digits(b.text("[data-test=balance]")), s.shopper(t).Balance; got != want {
			t.Errorf("balance %d, want %d", got, want)
		}
		ledger := s.history(t)
		rows := b.texts("[data-test=history-row]")
		if len(rows) != len(ledger) {
			t.Fatalf("%d history rows, ledger has %d entries: %q", len(rows), len(ledger), rows)
		}
		labels := map[app.EntryKind]string{app.KindEarn: "Points for an order", app.KindBonus: "Bonus", app.KindAdjust: "Adjustment"}
		for i, e := range ledger {
			points := b.texts("[data-test=history-row] .pts")[i]
			if digits(points) != e.Points || (e.Points > 0) != strings.HasPrefix(points, "+") {
				t.Errorf("row %d shows %q, the ledger %+d", i, points, e.Points)
			}
			if !strings.HasPrefix(rows[i], labels[e.Kind]) {
				t.Errorf("row %d reads %q, want it to start with %q", i, rows[i], labels[e.Kind])
			}
		}
		// Shoppers know their orders by name (#1001), not the platform's id.
		for i, e := range ledger {
			if e.Cause.OrderID == "" {
				continue
			}
			names, err := s.env.Service.OrderNames(context.Background(), s.shop, []string{e.Cause.OrderID})
			if name := names[e.Cause.OrderID]; err != nil || name == "" || !strings.Contains(rows[i], "Order "+name) {
				t.Errorf("row %d %q does not name order %s by its name %q (%v)", i, rows[i], e.Cause.OrderID, name, err)
			}
		}
		earn := strings.Join(b.texts(".earn li"), " | ")
		for _, want := range []string{"1 point for every $1 spent", "50 points for joining", "100 points on your birthday"} {
			if !strings.Contains(earn, want) {
				t.Errorf("ways to earn %q lack %q", earn, want)
			}
		}
		locked := b.text(fmt.Sprintf("[data-reward-id=\"%d\"]", s.rewards["50 USD off"].ID))
		if !strings.Contains(locked, "3,800 more points needed") || strings.Contains(locked, "Redeem") {
			t.Errorf("an unaffordable reward reads %q", locked)
		}
	})

	t.Run("Escape closes the panel and gives focus back to the launcher", func(t *testing.T) {
		if f := b.focused(); f != "close" {
			t.Errorf("focus on opening is on %q, want the close button", f)
		}
		b.press(kb.Escape)
		b.waitFor("the panel to close", `$w('[data-test=panel]').hidden`)
		if f := b.focused(); f != "launcher" {
			t.Errorf("focus after Escape is on %q, want the launcher", f)
		}
	})

	t.Run("Tab and Shift-Tab stay inside the open panel", func(t *testing.T) {
		b.press(kb.Enter) // the focused launcher opens the panel
		b.waitFor("the panel to open", `!$w('[data-test=panel]').hidden`)
		b.shiftTab()
		var inside bool
		b.eval(`return $w('[data-test=panel]').contains($root().activeElement) && $root().activeElement.dataset.test !== 'close'`, &inside)
		if !inside {
			t.Fatalf("Shift-Tab from the first control left the panel (focus on %q)", b.focused())
		}
		b.press(kb.Tab)
		if f := b.focused(); f != "close" {
			t.Errorf("Tab from the last control went to %q, want the close button", f)
		}
	})

	t.Run("redeeming a variable reward shows its code and spends the chosen points", func(t *testing.T) {
		before := s.shopper(t).Balance
		reward := s.rewards["Points off your order"]
		b.click(fmt.Sprintf(`[data-reward-id="%d"] [data-test=redeem]`, reward.ID))
		b.waitFor("the redeem view", `$w('[data-test=points-input]')`)
		var bounds struct{ Min, Max, Step string }
		b.eval(`return (() => { const el = $w('[data-test=points-input]'); return {Min: el.min, Max: el.max, Step: el.step}; })()`, &bounds)
		if bounds.Min != "200" || bounds.Max != "1200" || bounds.Step != "100" {
			t.Errorf("points input bounds %+v, want 200..1200 step 100", bounds)
		}
		b.eval(`return (() => { const el = $w('[data-test=points-input]'); el.value = '300'; el.dispatchEvent(new Event('input', {bubbles: true})); })()`, nil)
		if got := b.text("#lw-amount"); got != "You get $3 off" {
			t.Errorf("amount off reads %q, want %q", got, "You get $3 off")
		}
		b.screenshot("en-redeem-variable")
		b.click("[data-test=confirm-redeem]")
		b.waitFor("the code", `$w('[data-test=code]')`)
		code := b.text("[data-test=code]")
		if !regexp.MustCompile(`^[A-Z0-9]+(-[A-Z0-9]+)+$`).MatchString(code) {
			t.Errorf("code %q", code)
		}
		if after := s.shopper(t).Balance; after != before-300 {
			t.Errorf("balance %d after redeeming 300 of %d", after, before)
		}
		b.waitFor("the announcement", `$w('[aria-live]').textContent === 'Reward redeemed! Here is your code.'`)
		b.click("[data-test=copy]")
		b.waitFor("copy feedback", `$w('[data-test=copy]').textContent === 'Copied!'`)
		b.screenshot("en-code")
		b.click("[data-action=back]")
		b.waitFor("home", `$w('[data-test=balance]')`)
		if got := digits(b.text("[data-test=balance]")); got != before-300 {
			t.Errorf("the widget shows %d after redeeming, want %d", got, before-300)
		}
		if got := b.texts("[data-test=code-row] .code"); len(got) != 1 || got[0] != code {
			t.Errorf("your codes %q, want [%s]", got, code)
		}
	})

	t.Run("a confirmation retried after a lost answer spends once", func(t *testing.T) {
		before := s.shopper(t).Balance
		reward := s.rewards["5 USD off"]
		// The first answer to a redeem is lost on the way back, as on a
		// flaky connection; the server has already spent the points.
		b.eval(`return (() => { const real = window.fetch; let lost = false;
			window.fetch = async (url, opts) => { const res = await real(url, opts);
				if (opts?.method === 'POST' && !lost) { lost = true; throw new TypeError('connection reset'); }
				return res; }; })()`, nil)
		b.click(fmt.Sprintf(`[data-reward-id="%d"] [data-test=redeem]`, reward.ID))
		b.waitFor("the confirm step", `$w('[data-test=confirm-redeem]')`)
		b.click("[data-test=confirm-redeem]")
		b.waitFor("the error", `$w('[data-test=error]')`)
		if msg := b.text("[data-test=error]"); !strings.Contains(msg, "couldn't reach") {
			t.Errorf("error reads %q", msg)
		}
		b.click("[data-test=confirm-redeem]")
		b.waitFor("the code", `$w('[data-test=code]')`)
		if after := s.shopper(t).Balance; after != before-500 {
			t.Errorf("balance %d after a retried 500-point redemption from %d: spent %d", after, before, before-after)
		}
		b.click("[data-action=back]")
		b.waitFor("home", `$w('[data-test=balance]')`)
		if got := digits(b.text(".badge")); got != before-500 {
			t.Errorf("badge %d, want %d", got, before-500)
		}
	})

	t.Run("a birthday is asked once and then shown", func(t *testing.T) {
		b.eval(`return (() => { for (const [id, v] of [['#lw-month', '5'], ['#lw-day', '17']]) {
			const el = $w(id); el.value = v; el.dispatchEvent(new Event('change', {bubbles: true})); } })()`, nil)
		b.click("[data-test=birthday-save]")
		b.waitFor("the saved birthday", `$w('[data-test=birthday]')`)
		if got := b.text("[data-test=birthday]"); got != "Your birthday: May 17" {
			t.Errorf("birthday reads %q", got)
		}
		if c := s.shopper(t); c.Birthday == nil || c.Birthday.Month != time.May || c.Birthday.Day != 17 {
			t.Errorf("the ledger's birthday is %v", c.Birthday)
		}
	})

	t.Run("switching to Polish re-renders without a request", func(t *testing.T) {
		balance := s.shopper(t).Balance
		b.eval(`return document.querySelector('loyalty-widget').setAttribute('data-locale', 'pl-PL')`, nil)
		b.waitFor("Polish", `$w('#lw-title').textContent === 'Nagrody'`)
		b.screenshot("pl")
		var requests int
		b.eval(`return performance.getEntriesByType('resource').filter((e) => e.name.includes('/customer')).length`, &requests)
		if requests != 1 {
			t.Errorf("%d customer requests after switching language, want 1", requests)
		}
		word := map[string]string{"one": "punkt", "few": "punkty", "many": "punktów"}[pluralForm("pl", balance)]
		if got := b.text(".big small"); got != word {
			t.Errorf("%d is followed by %q, want %q", balance, got, word)
		}
		var intl struct{ Balance, Rate, Date string }
		b.eval(`return ({Balance: new Intl.NumberFormat('pl-PL').format(`+strconv.FormatInt(balance, 10)+`),
			Rate: new Intl.NumberFormat('pl-PL', {style: 'currency', currency: 'USD', minimumFractionDigits: 0, maximumFractionDigits: 0}).format(1),
			Date: new Intl.DateTimeFormat('pl-PL', {dateStyle: 'medium'}).format(new Date())})`, &intl)
		if got := b.text("[data-test=balance]"); got != intl.Balance {
			t.Errorf("balance %q, want Intl's %q", got, intl.Balance)
		}
		// texts() folds Intl's no-break spaces into plain ones.
		intl.Rate = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(intl.Rate)
		if earn := strings.Join(b.texts(".earn li"), " | "); !strings.Contains(earn, "1 punkt za każde "+intl.Rate+" zakupów") || strings.Contains(earn, "$1") {
			t.Errorf("ways to earn %q, want the rate in Polish with %q", earn, intl.Rate)
		}
		if rows := b.texts("[data-test=history-row]"); !strings.HasPrefix(rows[0], "Odebrana nagroda") || !strings.Contains(rows[0], intl.Date) {
			t.Errorf("the newest history row %q, want a Polish redemption dated %q", rows[0], intl.Date)
		}
	})

	t.Run("every language renders without a missing message", func(t *testing.T) {
		for _, lang := range []string{"lv", "ro", "ru", "pl", "en"} {
			b.eval(`return document.querySelector('loyalty-widget').setAttribute('data-locale', '`+lang+`')`, nil)
			cat := loadCatalogue(t, lang)
			b.waitFor(lang, `$w('#lw-title').textContent === `+strconv.Quote(cat["title"].(string)))
			var leaks []string
			b.eval(`return $w('[data-test=panel]').textContent.match(/\b[a-z]+_[a-z_]+\b/g) || []`, &leaks)
			if len(leaks) > 0 {
				t.Errorf("%s shows message keys %q", lang, leaks)
			}
			var form string
			b.eval(`return new Intl.PluralRules('`+lang+`').select(`+strconv.FormatInt(s.shopper(t).Balance, 10)+`)`, &form)
			if got, want := b.text(".big small"), cat["points_word"].(map[string]any)[form]; got != want {
				t.Errorf("%s: the balance is followed by %q, want %q", lang, got, want)
			}
		}
	})

	t.Run("Russian from the page's locale", func(t *testing.T) {
		load("/demo?locale=ru")
		open()
		balance := s.shopper(t).Balance
		if got := b.text("#lw-title"); got != "Бонусы" {
			t.Errorf("title %q", got)
		}
		word := map[string]string{"one": "балл", "few": "балла", "many": "баллов"}[pluralForm("ru", balance)]
		if got := b.text(".big small"); got != word {
			t.Errorf("%d is followed by %q, want %q", balance, got, word)
		}
		if got := digits(b.text("[data-test=balance]")); got != balance {
			t.Errorf("balance %d, want %d", got, balance)
		}
		// The codes were issued meanwhile: no longer activating, and the
		// fixed reward's code says until when it is valid.
		if codes := strings.Join(b.texts("[data-test=code-row]"), " | "); strings.Contains(codes, "Активация") || !strings.Contains(codes, "Действует до") {
			t.Errorf("your codes read %q", codes)
		}
		b.screenshot("ru")
	})

	t.Run("at 360px the panel is a full-width sheet", func(t *testing.T) {
		b.run(chromedp.EmulateViewport(360, 740))
		load("/demo")
		open()
		var box struct{ Left, Width, Scroll, Client float64 }
		b.eval(`return (() => { const p = $w('[data-test=panel]'); const r = p.getBoundingClientRect();
			return {Left: r.left, Width: r.width, Scroll: p.scrollWidth, Client: p.clientWidth}; })()`, &box)
		if box.Left != 0 || box.Width != 360 || box.Scroll > box.Client {
			t.Errorf("panel at 360px: %+v", box)
		}
		b.screenshot("360px")
		b.run(chromedp.EmulateViewport(1280, 860))
	})

	t.Run("inline on the account page", func(t *testing.T) {
		load("/demo?layout=inline")
		var launchers int
		b.eval(`return $$w('[data-test=launcher]').length`, &launchers)
		if launchers != 0 || digits(b.text("[data-test=balance]")) != s.shopper(t).Balance {
			t.Errorf("inline layout: %d launchers, balance %q", launchers, b.text("[data-test=balance]"))
		}
		b.eval(`return document.querySelector('loyalty-widget').scrollIntoView()`, nil)
		b.screenshot("inline")
	})

	t.Run("a guest sees how the program works and how to join", func(t *testing.T) {
		load("/demo?guest=1")
		open()
		if href := b.text("[data-test=join]"); href != "Join now" {
			t.Errorf("join reads %q", href)
		}
		var redeemButtons, rewards int
		b.eval(`return $$w('[data-test=redeem]').length`, &redeemButtons)
		b.eval(`return $$w('[data-test=reward]').length`, &rewards)
		if redeemButtons != 0 || rewards != len(s.rewards) {
			t.Errorf("a guest sees %d rewards and %d redeem buttons", rewards, redeemButtons)
		}
		b.screenshot("guest")
	})

	t.Run("while loading the panel shows a skeleton", func(t *testing.T) {
		stop := b.beforeLoad(`const real = window.fetch;
			window.fetch = (url, opts) => String(url).includes('/customer') ? new Promise(() => {}) : real(url, opts);`)
		defer stop()
		b.run(chromedp.Navigate(s.srv.URL + "/demo?layout=inline"))
		b.waitFor("the widget", `$root() && $w('[aria-busy=true]')`)
		b.eval(`return document.querySelector('loyalty-widget').scrollIntoView()`, nil)
		if n := len(b.texts(".sk")); n < 3 {
			t.Errorf("%d skeleton bars", n)
		}
		b.screenshot("loading")
	})

	t.Run("a load that fails offers a retry that works", func(t *testing.T) {
		stop := b.beforeLoad(`const real = window.fetch; let failed = false;
			window.fetch = (url, opts) => {
				if (!failed && String(url).includes('/customer')) { failed = true; return Promise.reject(new TypeError('offline')); }
				return real(url, opts);
			};`)
		defer stop()
		load("/demo")
		open()
		if got := b.text("[data-test=error]"); !strings.HasPrefix(got, "We couldn't reach the rewards program.") {
			t.Errorf("error reads %q", got)
		}
		b.screenshot("error-network")
		b.click("[data-action=retry]")
		b.waitFor("the balance", `$w('[data-test=balance]')`)
		if f := b.focused(); f == "" {
			t.Error("focus left the panel when the retry button went away")
		}
	})

	t.Run("an expired session asks for a reload", func(t *testing.T) {
		stop := b.beforeLoad(`const real = window.fetch;
			window.fetch = (url, opts) => String(url).includes('/customer')
				? Promise.resolve(new Response('{"error":{"code":"Unauthorized","message":"this request was not signed by the shop"}}', {status: 401, headers: {'Content-Type': 'application/json'}}))
				: real(url, opts);`)
		defer stop()
		load("/demo")
		open()
		if got := b.text("[data-test=error]"); got != "Your session has expired. Reload the page to see your points.Reload the page" {
			t.Errorf("error reads %q", got)
		}
	})

	t.Run("an uninstalled shop's widget says so", func(t *testing.T) {
		if err := s.env.Service.Uninstall(context.Background(), s.shop); err != nil {
			t.Fatal(err)
		}
		load("/demo")
		open()
		if got := b.text("[data-test=error]"); got != "The rewards program isn't available in this shop right now." {
			t.Errorf("error reads %q", got)
		}
		b.screenshot("unavailable")
	})
}

// TestBrowserWidgetOnWooCommerce runs the widget as a WooCommerce store
// embeds it: a page on the store's own origin, calling the app cross-origin
// with the companion plugin's signed token.
func TestBrowserWidgetOnWooCommerce(t *testing.T) {
	s := newStorefront(t)
	ctx := context.Background()
	const key, secret = "wc_browserstore0001", "widget-secret-0123456789"
	token := woocommerce.SignIdentity(secret, woocommerce.Identity{StoreKey: key, CustomerID: "25", ExpiresAt: time.Now().Add(time.Hour)})
	// The store: a page with what the companion plugin prints, the element
	// and the app's script.
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="pl-PL"><title>Sklep</title><body><h1>Sklep</h1>
<loyalty-widget data-platform="woocommerce" data-api="%s" data-store="%s" data-token="%s"></loyalty-widget>
<script type="module" src="%s/widget/loyalty-widget.js"></script>`, s.srv.URL, key, token, s.srv.URL)
	}))
	t.Cleanup(shop.Close)
	storeOrigin := shop.URL
	store, _, err := s.env.Service.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: "localhost", Name: "Sklep", Currency: "PLN"},
		app.Connection{URL: storeOrigin, WebhookKey: key}, app.Credentials{WebhookSecret: "webhook-secret", WidgetSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Service.AccrueOrder(ctx, store, app.OrderPaid{OrderID: "727", Customer: &app.CustomerRef{PlatformID: "25", FirstName: "Ewa"}, Subtotal: app.MustAmount("250.00")}); err != nil {
		t.Fatal(err)
	}
	reward, err := s.env.Service.AddReward(ctx, store, app.Reward{Name: "10 zł rabatu", Kind: app.RewardFixed, Points: 100, Amount: app.MustAmount("10.00"), Active: true})
	if err != nil {
		t.Fatal(err)
	}

	b := newChromeTab(t)
	b.run(chromedp.Navigate(storeOrigin))
	b.waitFor("the widget to load", `$root() && ($w('[data-test=balance]') || $w('[data-test=error]'))`)
	if msg := b.text("[data-test=error]"); msg != "" {
		t.Fatalf("the widget could not load: %s", msg)
	}
	b.click("[data-test=launcher]")
	b.waitFor("the panel to open", `!$w('[data-test=panel]').hidden`)
	if got, title := digits(b.text("[data-test=balance]")), b.text("#lw-title"); got != 250 || title != "Nagrody" {
		t.Fatalf("balance %d, title %q: want 250 in Polish (the page's language)", got, title)
	}
	var zloty string
	b.eval(`return new Intl.NumberFormat('pl-PL', {style: 'currency', currency: 'PLN', minimumFractionDigits: 0, maximumFractionDigits: 0}).format(1)`, &zloty)
	if earn := b.text(".earn li"); !strings.Contains(earn, zloty) {
		t.Errorf("earn rate %q, want it in złoty (%q)", earn, zloty)
	}
	b.click(fmt.Sprintf(`[data-reward-id="%d"] [data-test=redeem]`, reward.ID))
	b.waitFor("the confirm step", `$w('[data-test=confirm-redeem]')`)
	b.click("[data-test=confirm-redeem]")
	b.waitFor("the code", `$w('[data-test=code]') || $w('[data-test=error]')`)
	if msg := b.text("[data-test=error]"); msg != "" {
		t.Fatalf("redeeming cross-origin failed: %s", msg)
	}
	c, err := s.env.Service.Balance(ctx, store, "25")
	if err != nil || c.Balance != 150 {
		t.Fatalf("balance after redeeming 100 of 250: %d (%v)", c.Balance, err)
	}
	b.screenshot("woocommerce-code")
}
