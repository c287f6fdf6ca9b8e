package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromeBinary finds a Chromium or Chrome to drive. Without one the browser
// tests skip, unless LOYALTY_REQUIRE_BROWSER=1 (as scripts/test.sh sets it),
// where a missing browser fails the run instead of passing it silently.
func chromeBinary(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CHROME_PATH"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}
	for _, name := range candidates {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("LOYALTY_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium or chrome binary found, and LOYALTY_REQUIRE_BROWSER=1")
	}
	t.Skip("no chromium or chrome binary found (set LOYALTY_REQUIRE_BROWSER=1 to fail instead)")
	return ""
}

// screenshotDir is where the browser tests leave their screenshots for a
// person to look at: $LOYALTY_TEST_OUTPUT, else .data/test-output/widget in
// the repository (git-ignored).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LOYALTY_TEST_OUTPUT")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".data", "test-output", "widget")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromeTab is one headless Chromium tab.
type chromeTab struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newChromeTab(t *testing.T) *chromeTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromeBinary(t)),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &chromeTab{t: t, ctx: ctx, shots: screenshotDir(t)}
	// Start the browser now, so a failure to start reads as such, and with
	// no timeout: the first run's context is the browser's lifetime.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	return b
}

func (b *chromeTab) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// grant lets the page's origin use a permission (the clipboard, say)
// without a prompt.
func (b *chromeTab) grant(origin string, names ...string) {
	b.t.Helper()
	for _, name := range names {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin})
		if err != nil {
			b.t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// beforeLoad runs a script in every page the tab loads from now on, ahead
// of the page's own scripts (to stand in for a failing network, say); the
// returned func stops it.
func (b *chromeTab) beforeLoad(script string) func() {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
	if err != nil {
		b.t.Fatalf("add script: %v", err)
	}
	return func() {
		chromedp.Call(b.ctx, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: res.Identifier})
	}
}

// shadowJS prefixes page scripts with $w, a querySelector inside the
// widget's shadow root, and $$w, its querySelectorAll.
const shadowJS = `const $root = () => document.querySelector('loyalty-widget').shadowRoot;
const $w = (s) => $root().querySelector(s);
const $$w = (s) => [...$root().querySelectorAll(s)];
`

// eval runs a script as the body of an async function and decodes what it
// returns into out.
func (b *chromeTab) eval(script string, out any) {
	b.t.Helper()
	expr := "(async () => {" + shadowJS + script + "})().then((v) => v === undefined ? null : v)"
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: %v\nin %s", err, script)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("decoding %s from %s: %v", raw, script, err)
		}
	}
}

func (b *chromeTab) text(selector string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`return $w(%q)?.textContent.trim() ?? ''`, selector), &s)
	return s
}

func (b *chromeTab) texts(selector string) []string {
	b.t.Helper()
	var s []string
	b.eval(fmt.Sprintf(`return $$w(%q).map((el) => el.textContent.replace(/\s+/g, ' ').trim())`, selector), &s)
	return s
}

// click clicks an element in the shadow root like a shopper would: it is
// scrolled into view and clicked at its centre.
func (b *chromeTab) click(selector string) {
	b.t.Helper()
	var box struct{ X, Y float64 }
	b.eval(fmt.Sprintf(`return (() => { const el = $w(%q); if (!el) return null; el.scrollIntoView({block: 'center'});
		const r = el.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, selector), &box)
	if box.X == 0 && box.Y == 0 {
		b.t.Fatalf("nothing to click at %s", selector)
	}
	b.run(chromedp.MouseClickXY(box.X, box.Y))
}

// waitFor polls a script until it returns true.
func (b *chromeTab) waitFor(what, script string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		b.eval(fmt.Sprintf(`return !!(%s)`, script), &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s)", what, script)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *chromeTab) press(key string) { b.t.Helper(); b.run(chromedp.KeyEvent(key)) }

func (b *chromeTab) shiftTab() {
	b.t.Helper()
	b.run(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
}

// focused is the data-test (or id) of the focused element in the shadow
// root, "" when focus is outside the widget.
func (b *chromeTab) focused() string {
	b.t.Helper()
	var s string
	b.eval(`return (() => { const el = $root().activeElement; return el ? (el.dataset.test || el.id || el.tagName) : ''; })()`, &s)
	return s
}

// screenshot saves the viewport as a PNG for a person to look at.
func (b *chromeTab) screenshot(name string) {
	b.t.Helper()
	// Let the panel's opening animation finish (the skeleton's shimmer
	// loops forever and does not count).
	b.waitFor("animations to settle", `$root().getAnimations().every((a) => a.playState !== 'running' || a.effect.getTiming().iterations === Infinity)`)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(b.shots, "widget-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
