package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// widgetFiles are the storefront widget's sources: the element and one
// message catalogue per language.
//
//go:embed widget/loyalty-widget.js widget/locales/*.json
var widgetFiles embed.FS

// cataloguesPlaceholder marks where the served script receives every
// catalogue, so the widget needs no build step and no request for messages.
const cataloguesPlaceholder = "/*__CATALOGUES__*/{}"

// widgetBundle is the served widget script, built once: the element with all
// catalogues spliced in, precompressed, with a strong validator.
type widgetBundle struct {
	Plain   []byte
	Gzipped []byte
	ETag    string // of Plain; the gzip representation's tag adds "-gz"
}

// widgetAsset is built at startup: the embedded files cannot change while
// the process runs, and a broken catalogue must fail loudly and early.
var widgetAsset = mustBuildWidgetBundle()

func mustBuildWidgetBundle() *widgetBundle {
	a, err := buildWidgetBundle()
	if err != nil {
		panic(err)
	}
	return a
}

// buildWidgetBundle assembles the served script from the embedded sources.
func buildWidgetBundle() (*widgetBundle, error) {
	script, err := widgetFiles.ReadFile("widget/loyalty-widget.js")
	if err != nil {
		return nil, err
	}
	catalogues, err := widgetCatalogues()
	if err != nil {
		return nil, err
	}
	if n := bytes.Count(script, []byte(cataloguesPlaceholder)); n != 1 {
		return nil, fmt.Errorf("widget script has %d catalogue placeholders, want 1", n)
	}
	plain := bytes.Replace(compactScript(script), []byte(cataloguesPlaceholder), catalogues, 1)

	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(plain)
	if err := w.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(plain)
	return &widgetBundle{Plain: plain, Gzipped: gz.Bytes(), ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// compactScript drops comment lines, indentation and blank lines: a tenth
// of the gzipped size, with no minifier to depend on. It relies on a house
// rule of loyalty-widget.js: no template literal holds a line that starts
// with "//" or whose leading spaces matter (HTML and CSS collapse them).
func compactScript(src []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(src, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || bytes.HasPrefix(line, []byte("//")) {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// widgetCatalogues returns {"en": {...}, "pl": {...}, ...} compacted, in a
// stable order so the ETag changes only when a message does.
func widgetCatalogues() ([]byte, error) {
	names, err := fs.Glob(widgetFiles, "widget/locales/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out bytes.Buffer
	out.WriteByte('{')
	for k, name := range names {
		raw, err := widgetFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, fmt.Errorf("widget catalogue %s: %w", name, err)
		}
		if k > 0 {
			out.WriteByte(',')
		}
		out.WriteString(strconv.Quote(strings.TrimSuffix(path.Base(name), ".json")))
		out.WriteByte(':')
		out.Write(compact.Bytes())
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// widgetScript serves the storefront widget. Any origin may load it (it is
// public code); caches keep it five minutes and then revalidate cheaply with
// the ETag, so a release reaches every storefront within minutes.
func (s *Server) widgetScript(c echo.Context) error {
	a := widgetAsset
	h := c.Response().Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Vary", "Accept-Encoding")
	body, etag := a.Plain, a.ETag
	gzipped := acceptsGzip(c.Request().Header.Get("Accept-Encoding"))
	if gzipped {
		// Each content coding is its own representation with its own tag.
		body, etag = a.Gzipped, strings.TrimSuffix(a.ETag, `"`)+`-gz"`
	}
	h.Set("ETag", etag)
	if etagMatches(c.Request().Header.Get("If-None-Match"), a.ETag, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if gzipped {
		h.Set("Content-Encoding", "gzip")
	}
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", body)
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) not refused with q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			q, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		return q > 0
	}
	return false
}

// etagMatches reports whether If-None-Match names any of the tags (weakly
// compared, as RFC 9110 asks for If-None-Match).
func etagMatches(header string, tags ...string) bool {
	for _, cand := range strings.Split(header, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == "*" {
			return true
		}
		for _, t := range tags {
			if cand == t {
				return true
			}
		}
	}
	return false
}
