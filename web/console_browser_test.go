package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"loyalty/app"
	"loyalty/internal/password"
	"loyalty/internal/testenv"
	"loyalty/web"
)

// consoleShots is where the console's browser test leaves screenshots:
// $LOYALTY_TEST_OUTPUT/console, else .data/test-output/console.
func consoleShots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LOYALTY_TEST_OUTPUT")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".data", "test-output")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (b *chromeTab) consoleShot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Quality 100 makes a PNG; below that, Chromium sends a JPEG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// pageText is the text of the first element matching selector on the
// page (not in the widget), with white space collapsed.
func (b *chromeTab) pageText(selector string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`return document.querySelector(%q)?.textContent.replace(/\s+/g, ' ').trim() ?? ''`, selector), &s)
	return s
}

// TestBrowserConsoleCustomers signs in as support, finds a customer,
// adjusts their points with a reason, and sees the adjustment in the
// ledger and in the audit log.
func TestBrowserConsoleCustomers(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	svc := app.NewService(env.Store, time.Now).WithPasswordHasher(password.Bcrypt{Cost: bcrypt.MinCost})
	const pw = "correct horse battery"
	if _, err := svc.AddStaff(ctx, env.Shop, "test", "support@acme.test", "Sam Support", app.RoleSupport, pw); err != nil {
		t.Fatal(err)
	}
	for i, c := range []app.CustomerRef{
		{PlatformID: "7100000000000000001", Email: "ewa@example.com", FirstName: "Ewa", LastName: "Kowalska"},
		{PlatformID: "7100000000000000002", Email: "jan@example.com", FirstName: "Jan", LastName: "Nowak"},
	} {
		c := c
		if _, err := svc.AccrueOrder(ctx, env.Shop, app.OrderPaid{OrderID: fmt.Sprint(5001 + i), Name: fmt.Sprint("#", 1001+i), Customer: &c, Subtotal: app.MustAmount("320.00")}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(web.New(web.Deps{Service: svc, Registry: prometheus.NewRegistry(), Log: env.Log, Console: &web.Console{}}).Handler())
	t.Cleanup(srv.Close)
	shots := consoleShots(t)
	b := newChromeTab(t)

	b.run(chromedp.Navigate(srv.URL+"/console/login"),
		chromedp.SendKeys("#shop", testenv.ShopDomain), chromedp.SendKeys("#email", "support@acme.test"), chromedp.SendKeys("#password", pw),
		chromedp.Submit("#password"))
	b.waitFor("the console", `document.querySelector('nav.main')`)

	t.Run("support finds the customer by the start of her email", func(t *testing.T) {
		b.act(chromedp.Click(`nav.main a[href="/console/customers"]`))
		b.waitFor("the customers page", `location.pathname === '/console/customers' && document.querySelector('#q')`)
		b.act(chromedp.SendKeys("#q", "ewa@"), chromedp.Submit("#q"))
		b.waitFor("the search results", `location.search.includes('q=ewa') && document.querySelector('tr[data-test=customer-row]')`)
		var rows int
		b.eval(`return document.querySelectorAll('tr[data-test=customer-row]').length`, &rows)
		if got := b.pageText("tr[data-test=customer-row]"); rows != 1 || !strings.Contains(got, "Ewa Kowalska") {
			t.Fatalf("%d rows, first %q", rows, got)
		}
		b.consoleShot(shots, "1-search")
		b.act(chromedp.Click(`tr[data-test=customer-row] a`))
		b.waitFor("the customer page", `document.querySelector('[data-test=adjust-form]')`)
		if got := b.pageText("[data-test=balance]"); got != "320" {
			t.Fatalf("balance %q", got)
		}
		b.consoleShot(shots, "2-customer")
	})

	t.Run("every field of the customer page has a label", func(t *testing.T) {
		var unlabelled []string
		b.eval(`return [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
			.filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.name)`, &unlabelled)
		if len(unlabelled) != 0 {
			t.Fatalf("fields without a label: %v", unlabelled)
		}
	})

	t.Run("an adjustment with a reason shows in the ledger at once", func(t *testing.T) {
		b.act(chromedp.SendKeys("#points", "40"), chromedp.SetValue("#reason", "service_recovery"),
			chromedp.SendKeys("#note", "parcel arrived late"), chromedp.Click(`[data-test=adjust-form] button[type=submit]`))
		b.waitFor("the notice", `document.querySelector('p.notice')`)
		if got := b.pageText("p.notice"); got != "The adjustment is posted to the ledger." {
			t.Fatalf("notice %q", got)
		}
		if got := b.pageText("[data-test=balance]"); got != "360" {
			t.Fatalf("balance %q", got)
		}
		row := b.pageText("tr[data-test=entry]")
		for _, want := range []string{"+40", "Service recovery (late, damaged or wrong item)", "parcel arrived late", "Sam Support <support@acme.test>", "Undo"} {
			if !strings.Contains(row, want) {
				t.Fatalf("no %q in the ledger's newest row %q", want, row)
			}
		}
		b.consoleShot(shots, "3-adjusted")
	})

	t.Run("the adjustment is in the audit log", func(t *testing.T) {
		b.act(chromedp.Click(`nav.main a[href="/console/audit"]`))
		b.waitFor("the audit log", `location.pathname === '/console/audit' && document.querySelector('main table')`)
		var lines []string
		b.eval(`return [...document.querySelectorAll('main table tbody tr')].map((tr) => tr.textContent.replace(/\s+/g, ' ').trim())`, &lines)
		var found bool
		for _, l := range lines {
			found = found || (strings.Contains(l, "adjust balance") && strings.Contains(l, "Sam Support <support@acme.test>") &&
				strings.Contains(l, "+40 points") && strings.Contains(l, "parcel arrived late"))
		}
		if !found {
			t.Fatalf("no adjustment in the audit log: %q", lines)
		}
		b.consoleShot(shots, "4-audit")
	})

	t.Run("an import shows a preview before anything changes", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "old-app.csv")
		csv := "customer_id,email,points\n7100000000000000001,,1000\n,jan@example.com,450\n,nobody@example.com,10\n"
		if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		b.act(chromedp.Click(`nav.main a[href="/console/import"]`))
		b.waitFor("the import page", `location.pathname === '/console/import' && document.querySelector('#file')`)
		b.act(chromedp.SetUploadFiles("#file", []string{file}), chromedp.Submit("#file"))
		b.waitFor("the preview", `document.querySelector('[data-test=preview]')`)
		if got := b.pageText("[data-test=confirm-import]"); !strings.Contains(got, "Import 2 customers") {
			t.Fatalf("confirm button %q", got)
		}
		b.consoleShot(shots, "5-import-preview")
		if c, _ := svc.Balance(ctx, env.Shop, "7100000000000000002"); c.Balance != 320 {
			t.Fatalf("the preview changed Jan's balance to %d", c.Balance)
		}
	})
}

// act runs actions one at a time, each retried while it meets a node
// that a page just replaced: a link or form (not chromedp) navigated, and
// chromedp may resolve a selector in the old document before it hears of
// the new one. Each action is retried whole, so none is half done twice.
func (b *chromeTab) act(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for _, a := range actions {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
			err := chromedp.Do(ctx, a)
			cancel()
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "node with given id") || time.Now().After(deadline) {
				b.t.Fatalf("browser: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
