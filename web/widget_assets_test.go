package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"loyalty/internal/testenv"
	"loyalty/web"
)

const widgetPath = "/widget/loyalty-widget.js"

// widgetLanguages are the widget's languages with the plural categories
// Intl.PluralRules selects for each (CLDR), which their catalogues must
// cover: a missing form would print English or a wrong ending.
var widgetLanguages = map[string][]string{
	"en": {"one", "other"},
	"pl": {"few", "many", "one", "other"},
	"ru": {"few", "many", "one", "other"},
	"lv": {"one", "other", "zero"},
	"ro": {"few", "one", "other"},
}

// assetServer is the app's HTTP server with no dependencies: the widget
// script needs none.
func assetServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := web.New(web.Deps{Registry: prometheus.NewRegistry(), Log: testenv.Logger(t)})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// fetchWidget GETs the script as it travels: the transport neither asks
// for nor undoes compression by itself.
func fetchWidget(t *testing.T, ts *httptest.Server, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+widgetPath, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWidgetAssetIsServed(t *testing.T) {
	ts := assetServer(t)
	resp, plain := fetchWidget(t, ts, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	t.Run("as a cacheable script any storefront may load", func(t *testing.T) {
		want := map[string]string{
			"Content-Type":                "text/javascript; charset=utf-8",
			"Access-Control-Allow-Origin": "*",
			"Cache-Control":               "public, max-age=300",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if etag := resp.Header.Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
			t.Errorf("ETag = %q, want a strong tag", etag)
		}
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("a client that did not ask for gzip got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
	})

	t.Run("with every catalogue spliced in", func(t *testing.T) {
		if bytes.Contains(plain, []byte("__CATALOGUES__")) {
			t.Fatal("the catalogue placeholder is still in the served script")
		}
		for lang := range widgetLanguages {
			if !bytes.Contains(plain, []byte(`"`+lang+`":{"title":`)) {
				t.Errorf("the served script lacks the %s catalogue", lang)
			}
		}
		if !bytes.Contains(plain, []byte("customElements.define('loyalty-widget'")) {
			t.Error("the served script does not define <loyalty-widget>")
		}
	})

	t.Run("gzipped, when the client accepts it, to the same script", func(t *testing.T) {
		resp, body := fetchWidget(t, ts, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
		}
		if !bytes.Equal(gunzip(t, body), plain) {
			t.Fatal("the gzipped body is not the plain script")
		}
	})

	t.Run("not gzipped when the client refuses gzip", func(t *testing.T) {
		resp, body := fetchWidget(t, ts, map[string]string{"Accept-Encoding": "gzip;q=0, identity"})
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain) {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
	})

	t.Run("under 20 KB gzipped with all languages", func(t *testing.T) {
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(plain)
		w.Close()
		t.Logf("served script: %d bytes, %d gzipped", len(plain), gz.Len())
		if gz.Len() >= 20*1024 {
			t.Fatalf("the widget is %d bytes gzipped; the budget is 20 KB", gz.Len())
		}
	})

	t.Run("answers 304 to a cache that holds it", func(t *testing.T) {
		for _, enc := range []string{"", "gzip"} {
			first, _ := fetchWidget(t, ts, map[string]string{"Accept-Encoding": enc})
			etag := first.Header.Get("ETag")
			again, body := fetchWidget(t, ts, map[string]string{"Accept-Encoding": enc, "If-None-Match": `"stale", ` + etag})
			if again.StatusCode != http.StatusNotModified || len(body) != 0 || again.Header.Get("ETag") != etag {
				t.Errorf("encoding %q: status %d, %d bytes, ETag %q", enc, again.StatusCode, len(body), again.Header.Get("ETag"))
			}
		}
		if stale, _ := fetchWidget(t, ts, map[string]string{"If-None-Match": `"0123"`}); stale.StatusCode != http.StatusOK {
			t.Errorf("a stale ETag got %d, want 200", stale.StatusCode)
		}
	})

	t.Run("parses as an ES module", func(t *testing.T) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node is not installed; the browser tests still load the script")
		}
		file := filepath.Join(t.TempDir(), "loyalty-widget.mjs")
		os.WriteFile(file, plain, 0o600)
		if out, err := exec.Command(node, "--check", file).CombinedOutput(); err != nil {
			t.Fatalf("node --check: %v\n%s", err, out)
		}
	})
}

// catalogue is one language's messages: a string, or plural forms keyed
// by Intl.PluralRules category.
type catalogue map[string]any

func loadCatalogue(t *testing.T, lang string) catalogue {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("widget", "locales", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c catalogue
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return c
}

var placeholder = regexp.MustCompile(`\{\w+\}`)

func placeholders(s string) []string {
	p := placeholder.FindAllString(s, -1)
	sort.Strings(p)
	return slices.Compact(p)
}

func TestWidgetCatalogues(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("widget", "locales", "*.json"))
	if len(files) != len(widgetLanguages) {
		t.Fatalf("%d catalogues on disk, want one per language %v", len(files), widgetLanguages)
	}
	en := loadCatalogue(t, "en")
	for lang, categories := range widgetLanguages {
		c := loadCatalogue(t, lang)
		t.Run(lang+" has exactly the English keys", func(t *testing.T) {
			for key := range en {
				if _, ok := c[key]; !ok {
					t.Errorf("missing %q", key)
				}
			}
			for key := range c {
				if _, ok := en[key]; !ok {
					t.Errorf("%q is not an English key", key)
				}
			}
		})
		t.Run(lang+" messages are complete and keep their placeholders", func(t *testing.T) {
			for key, enValue := range en {
				want := placeholders(englishOther(enValue))
				switch v := c[key].(type) {
				case string:
					if _, plural := enValue.(map[string]any); plural {
						t.Errorf("%s is a plural message in English but a plain string", key)
					}
					if strings.TrimSpace(v) == "" {
						t.Errorf("%s is empty", key)
					}
					if got := placeholders(v); !slices.Equal(got, want) {
						t.Errorf("%s has placeholders %v, want %v", key, got, want)
					}
				case map[string]any:
					forms := make([]string, 0, len(v))
					for form, text := range v {
						forms = append(forms, form)
						s, _ := text.(string)
						if strings.TrimSpace(s) == "" {
							t.Errorf("%s.%s is empty", key, form)
						}
						if got := placeholders(s); !slices.Equal(got, want) {
							t.Errorf("%s.%s has placeholders %v, want %v", key, form, got, want)
						}
					}
					sort.Strings(forms)
					if !slices.Equal(forms, categories) {
						t.Errorf("%s has plural forms %v; %s needs exactly %v", key, forms, lang, categories)
					}
				case nil:
					// reported as a missing key
				default:
					t.Errorf("%s is a %T", key, v)
				}
			}
		})
	}
}

// englishOther is an English message, or its "other" form when plural.
func englishOther(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["other"].(string)
		return s
	}
	s, _ := v.(string)
	return s
}
