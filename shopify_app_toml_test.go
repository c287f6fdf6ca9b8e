package main

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/config"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/web"
	"loyalty/webhooks"
)

// appConfig is the part of shopify.app.toml the app depends on.
type appConfig struct {
	ApplicationURL string `toml:"application_url"`
	Embedded       bool   `toml:"embedded"`
	AccessScopes   struct {
		Scopes string `toml:"scopes"`
	} `toml:"access_scopes"`
	Auth struct {
		RedirectURLs []string `toml:"redirect_urls"`
	} `toml:"auth"`
	Webhooks struct {
		APIVersion    string `toml:"api_version"`
		Subscriptions []struct {
			Topics           []string `toml:"topics"`
			ComplianceTopics []string `toml:"compliance_topics"`
			URI              string   `toml:"uri"`
		} `toml:"subscriptions"`
	} `toml:"webhooks"`
	AppProxy struct {
		URL     string `toml:"url"`
		Subpath string `toml:"subpath"`
		Prefix  string `toml:"prefix"`
	} `toml:"app_proxy"`
}

// servedRoutes are the method and path of every route a full web process
// registers. The deps only switch route groups on; nothing is called.
func servedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	srv := web.New(web.Deps{Intake: &webhooks.Intake{}, Shopify: &web.ShopifyAuth{}, Widget: &web.Widget{},
		Registry: prometheus.NewRegistry()})
	e, ok := srv.Handler().(*echo.Echo)
	if !ok {
		t.Fatalf("the server's handler is a %T, not an echo server", srv.Handler())
	}
	routes := map[string]bool{}
	for _, r := range e.Routes() {
		routes[r.Method+" "+r.Path] = true
	}
	return routes
}

// resolve is where Shopify sends a configured URI: an absolute one as is, a
// relative one appended to application_url, as Shopify CLI does.
func resolve(t *testing.T, applicationURL, uri string) *url.URL {
	t.Helper()
	if !strings.Contains(uri, "://") {
		uri = strings.TrimSuffix(applicationURL, "/") + "/" + strings.TrimPrefix(uri, "/")
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("uri %q: %v", uri, err)
	}
	return u
}

func TestShopifyAppTOMLMatchesTheApp(t *testing.T) {
	var cfg appConfig
	if _, err := toml.DecodeFile("shopify.app.toml", &cfg); err != nil {
		t.Fatalf("shopify.app.toml does not parse: %v", err)
	}
	routes := servedRoutes(t)
	origin, err := url.Parse(cfg.ApplicationURL)
	if err != nil || origin.Scheme != "https" || origin.Host == "" {
		t.Fatalf("application_url %q is not an https URL", cfg.ApplicationURL)
	}
	// onOrigin checks that u is on the app's own origin and that the app
	// serves method on its path.
	onOrigin := func(t *testing.T, what string, u *url.URL, method string) {
		t.Helper()
		if u.Scheme != "https" || u.Host != origin.Host {
			t.Errorf("%s %s is not on the app's origin https://%s", what, u, origin.Host)
		}
		if !routes[method+" "+u.Path] {
			t.Errorf("%s %s: the app serves no %s %s", what, u, method, u.Path)
		}
	}

	t.Run("the application URL and the OAuth redirect are routes the app serves", func(t *testing.T) {
		onOrigin(t, "application_url", origin, http.MethodGet)
		if len(cfg.Auth.RedirectURLs) == 0 {
			t.Fatal("no redirect_urls")
		}
		for _, r := range cfg.Auth.RedirectURLs {
			onOrigin(t, "redirect_url", resolve(t, cfg.ApplicationURL, r), http.MethodGet)
		}
	})

	t.Run("every subscription URI resolves to the webhook route", func(t *testing.T) {
		if len(cfg.Webhooks.Subscriptions) == 0 {
			t.Fatal("no webhook subscriptions")
		}
		for _, s := range cfg.Webhooks.Subscriptions {
			u := resolve(t, cfg.ApplicationURL, s.URI)
			onOrigin(t, "subscription uri", u, http.MethodPost)
			if u.Path != "/webhooks/shopify" {
				t.Errorf("subscription uri %s reaches %s, not the Shopify webhook intake", s.URI, u.Path)
			}
		}
	})

	t.Run("the subscribed topics are the topics the app handles", func(t *testing.T) {
		var topics, compliance []string
		for _, s := range cfg.Webhooks.Subscriptions {
			topics = append(topics, s.Topics...)
			compliance = append(compliance, s.ComplianceTopics...)
		}
		slices.Sort(topics)
		slices.Sort(compliance)
		// What the install registers through the Admin API, and what only
		// the TOML can declare.
		wantTopics := slices.Sorted(slices.Values(shopifyTopics))
		wantCompliance := []string{shopify.TopicCustomersDataRequest, shopify.TopicCustomersRedact, shopify.TopicShopRedact}
		slices.Sort(wantCompliance)
		if !slices.Equal(topics, wantTopics) {
			t.Errorf("topics = %v, want what the install registers: %v", topics, wantTopics)
		}
		if !slices.Equal(compliance, wantCompliance) {
			t.Errorf("compliance_topics = %v, want %v", compliance, wantCompliance)
		}
		for _, topic := range topics {
			if !jobs.Handles(app.Shopify, topic) || jobs.ForUninstalledShops(app.Shopify, topic) {
				t.Errorf("%s is subscribed as an ordinary topic, but the app does not handle it as one", topic)
			}
		}
		for _, topic := range compliance {
			if !jobs.Handles(app.Shopify, topic) || !jobs.ForUninstalledShops(app.Shopify, topic) {
				t.Errorf("%s is subscribed as a compliance topic, but the app does not handle it as a privacy request", topic)
			}
		}
		// And nothing the app handles is left unsubscribed.
		for _, topic := range []string{shopify.TopicOrdersPaid, shopify.TopicRefundsCreate, shopify.TopicOrdersCancelled,
			shopify.TopicCustomersCreate, shopify.TopicAppUninstalled, shopify.TopicCustomersDataRequest,
			shopify.TopicCustomersRedact, shopify.TopicShopRedact} {
			if jobs.Handles(app.Shopify, topic) && !slices.Contains(topics, topic) && !slices.Contains(compliance, topic) {
				t.Errorf("the app handles %s but the TOML does not subscribe to it", topic)
			}
		}
		if cfg.Webhooks.APIVersion != shopify.APIVersion {
			t.Errorf("webhooks api_version = %q, the Admin API client pins %q", cfg.Webhooks.APIVersion, shopify.APIVersion)
		}
	})

	t.Run("the scopes are the ones the install asks for by default", func(t *testing.T) {
		t.Setenv("SHOPIFY_SCOPES", "")
		defaults, _ := config.Load() // only the Shopify defaults are read; other problems do not matter here
		got := strings.Split(cfg.AccessScopes.Scopes, ",")
		for i := range got {
			got[i] = strings.TrimSpace(got[i])
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(defaults.Shopify.Scopes))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("scopes = %v, SHOPIFY_SCOPES defaults to %v", got, want)
		}
	})

	t.Run("the app proxy reaches the proxy routes from the path the widget calls", func(t *testing.T) {
		proxy := resolve(t, cfg.ApplicationURL, cfg.AppProxy.URL)
		proxy.Path = strings.TrimSuffix(proxy.Path, "/")
		// The theme blocks load the script and call the API through the
		// storefront path prefix/subpath, which Shopify forwards to url.
		for _, leaf := range []struct{ method, path string }{
			{http.MethodGet, "/loyalty-widget.js"},
			{http.MethodGet, "/customer"},
			{http.MethodPost, "/redeem"},
			{http.MethodPost, "/birthday"},
		} {
			u := *proxy
			u.Path += leaf.path
			onOrigin(t, "app proxy", &u, leaf.method)
		}
		storefront := "/" + cfg.AppProxy.Prefix + "/" + cfg.AppProxy.Subpath
		for _, block := range []string{"extensions/loyalty-widget/blocks/launcher.liquid", "extensions/loyalty-widget/blocks/account-points.liquid"} {
			b, err := os.ReadFile(block)
			if err != nil {
				t.Fatal(err)
			}
			api := ""
			if m := regexp.MustCompile(`data-api="([^"]*)"`).FindSubmatch(b); m != nil {
				api = string(m[1])
			}
			if api != storefront {
				t.Errorf("%s calls %q, the app proxy is mounted at %s", block, api, storefront)
			}
		}
	})
}
