// Command loyalty is the loyalty-points app for Shopify and WooCommerce
// stores: one binary for the web server, the workers and the support tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/app/store"
	"loyalty/config"
	"loyalty/internal/password"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
	"loyalty/web"
	"loyalty/webhooks"
)

const usage = `loyalty: points for Shopify and WooCommerce shops

Usage:
  loyalty all                      web server and workers in one process (migrates first; the default)
  loyalty serve                    web server: webhooks, health, metrics
  loyalty worker                   workers and the scheduler of periodic jobs
  loyalty migrate up|down|status   database schema
  loyalty shops add|list|show|configure   register, inspect and configure shops
  loyalty points show|history|adjust|redeem   a customer's balance, history, manual adjustments and redemptions
  loyalty rewards add|list|enable|disable     a shop's rewards catalogue
  loyalty deliveries list          what became of a shop's webhook deliveries
  loyalty notifications list       messages sent to a shop's shoppers: what, to whom, when, and how it went
  loyalty reconcile                check that every balance matches its ledger
  loyalty keys rotate              re-encrypt stored secrets with ENCRYPTION_KEY (old key in ENCRYPTION_KEY_PREVIOUS)
  loyalty staff add|list|disable|tokens   console staff (the first owner) and their API tokens
  loyalty audit --shop DOMAIN      installs, uninstalls, erasures and staff actions of a shop
  loyalty privacy exports|export   customer data exports made for Shopify data requests
  loyalty export members|ledger    a shop's members or ledger as CSV (format in README.md)
  loyalty kpis --shop DOMAIN       members, points and orders by day, week or month
  loyalty import balances          shoppers' balances from another loyalty app's CSV (--dry-run first)
  loyalty simulate TOPIC           send a correctly signed sample webhook to a running server

Run "loyalty COMMAND -h" for a command's flags. Configuration comes from the
environment; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// serverGCPercent is the garbage collector's target for the long-running
// processes when GOGC is not set. Their live heaps are small and a busy
// process allocates fast (a widget read or a webhook is mostly short-lived
// buffers), so at Go's default of 100 the collector took a tenth of a busy
// serve process's CPU; at 400 the heap may grow to five times what is live
// (tens of megabytes here) and widget reads went 12% faster. GOGC and
// GOMEMLIMIT in the environment still decide.
const serverGCPercent = 400

func collectGarbageLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "all"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "all", "serve", "worker":
		err = runServers(ctx, cmd, stderr)
	case "migrate":
		err = migrateCmd(ctx, args, stdout)
	case "shops":
		err = shopsCmd(ctx, args, stdout)
	case "points":
		err = pointsCmd(ctx, args, stdout)
	case "deliveries":
		err = deliveriesCmd(ctx, args, stdout)
	case "notifications":
		err = notificationsCmd(ctx, args, stdout)
	case "reconcile":
		err = reconcileCmd(ctx, args, stdout)
	case "simulate":
		err = simulateCmd(ctx, args, stdout)
	case "keys":
		err = keysCmd(ctx, args, stdout)
	case "audit":
		err = auditCmd(ctx, args, stdout)
	case "privacy":
		err = privacyCmd(ctx, args, stdout)
	case "rewards":
		err = rewardsCmd(ctx, args, stdout)
	case "export":
		err = exportCmd(ctx, args, stdout)
	case "kpis":
		err = kpisCmd(ctx, args, stdout)
	case "import":
		err = importCmd(ctx, args, stdout)
	case "staff":
		err = staffCmd(ctx, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// deps are the connections every command shares.
type deps struct {
	cfg   config.Config
	store *store.Store
	svc   *app.Service
}

func open(ctx context.Context) (*deps, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	if cfg.PreviousEncryptionKey != nil {
		previous = append(previous, cfg.PreviousEncryptionKey)
	}
	keys, err := store.NewKeyring(cfg.EncryptionKey, previous...)
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTION_KEY: %w", err)
	}
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxOpenConns: cfg.Database.MaxConns, Keys: keys})
	if err != nil {
		return nil, err
	}
	// The widget's balance reads come from a Redis cache that every ledger
	// change invalidates, whichever process makes it (server, worker or a
	// support command): so every process listens to its store.
	rdb, err := redisClient(ctx, cfg.Redis.URL, true)
	if err != nil {
		st.Close()
		return nil, err
	}
	views := store.NewViewCache(rdb, newLogger(cfg.Log, os.Stderr))
	st.OnLedgerChange(views.Invalidate)
	st.OnProgramChange(views.InvalidateShop)
	return &deps{cfg: cfg, store: st, svc: app.NewService(st, time.Now).WithViewCache(views).WithPasswordHasher(password.Bcrypt{})}, nil
}

// redisClient connects to Redis. Intake's client fails fast, so that a
// Redis outage sends deliveries to the inbox well within the platform's
// time-out instead of hanging.
func redisClient(ctx context.Context, url string, failFast bool) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if failFast {
		opt.DialTimeout = 300 * time.Millisecond
		opt.ReadTimeout = 500 * time.Millisecond
		opt.WriteTimeout = 500 * time.Millisecond
		opt.MaxRetries = 1
		opt.PoolSize = 100
	}
	return redis.NewClient(opt), nil
}

// shopifyTopics are the webhook topics the install registers: every topic
// the app handles except the privacy ones, which only shopify.app.toml can
// declare.
var shopifyTopics = []string{shopify.TopicOrdersPaid, shopify.TopicOrdersCancelled, shopify.TopicRefundsCreate,
	shopify.TopicCustomersCreate, shopify.TopicAppUninstalled}

func shopifyOAuth(cfg config.Config) *shopify.OAuth {
	return &shopify.OAuth{APIKey: cfg.Shopify.APIKey, APISecret: cfg.Shopify.APISecret, Scopes: cfg.Shopify.Scopes,
		RedirectURL: cfg.HTTP.AppURL + "/auth/shopify/callback", HTTP: &http.Client{Timeout: 15 * time.Second}}
}

// shopifyClients builds Admin API clients for installed shops.
func shopifyClients() jobs.ShopifyClients {
	httpClient := &http.Client{Timeout: 30 * time.Second}
	return func(shop, token string) *shopify.Client {
		return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: httpClient})
	}
}

func shopifyAuth(cfg config.Config, rdb *redis.Client) *web.ShopifyAuth {
	return &web.ShopifyAuth{
		OAuth: shopifyOAuth(cfg), APIKey: cfg.Shopify.APIKey, APISecret: cfg.Shopify.APISecret, Scopes: cfg.Shopify.Scopes,
		Topics: shopifyTopics, WebhookURL: cfg.HTTP.AppURL + "/webhooks/shopify",
		NewClient: shopifyClients(),
		States:    web.RedisStates{Redis: rdb}, Now: time.Now,
	}
}

// wooClients builds REST clients for connected WooCommerce stores. Plain
// http is refused in production: the keys travel in every request.
func wooClients(cfg config.Config) jobs.WooClients {
	httpClient := &http.Client{Timeout: 30 * time.Second}
	return func(storeURL, key, secret string) *woocommerce.Client {
		return woocommerce.NewClient(storeURL, key, secret, woocommerce.ClientOptions{HTTP: httpClient, AllowHTTP: !cfg.Production()})
	}
}

// wooWebhookURL is where a WooCommerce store delivers its webhooks.
func wooWebhookURL(cfg config.Config, webhookKey string) string {
	return cfg.HTTP.AppURL + "/webhooks/woocommerce/" + webhookKey
}

// redisPinger adapts a Redis client to web.Pinger.
type redisPinger struct{ c *redis.Client }

func (p redisPinger) Ping(ctx context.Context) error { return p.c.Ping(ctx).Err() }

// queueDashboard is the staff queue dashboard, or nil when no staff is
// configured (the console is then off).
func queueDashboard(cfg config.Config, log *slog.Logger) (*web.Queues, error) {
	opt, err := asynq.ParseRedisURI(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("queue dashboard redis: %w", err)
	}
	staff := make([]web.StaffLogin, len(cfg.Console.Users))
	for i, u := range cfg.Console.Users {
		staff[i] = web.StaffLogin{Name: u.Name, Hash: u.Hash}
	}
	return web.NewQueues(opt, staff, log), nil
}

func runServers(ctx context.Context, mode string, stderr io.Writer) error {
	collectGarbageLessOften()
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	log := newLogger(d.cfg.Log, stderr)
	log.Info("starting", "mode", mode, "config", d.cfg.Masked())
	if mode == "all" {
		if err := store.Migrate(ctx, d.store.SQL(), "up", io.Discard); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- err
				cancel()
			}
		}()
	}

	if mode == "all" || mode == "serve" {
		rdb, err := redisClient(ctx, d.cfg.Redis.URL, true)
		if err != nil {
			return err
		}
		defer rdb.Close()
		secrets := []string{d.cfg.Shopify.APISecret}
		if d.cfg.Shopify.PreviousAPISecret != "" {
			secrets = append(secrets, d.cfg.Shopify.PreviousAPISecret)
		}
		metrics := webhooks.NewMetrics(reg)
		intake := webhooks.New(webhooks.Config{ShopifySecrets: secrets}, d.svc, rdb, d.store, log, metrics)
		relay := webhooks.NewRelay(d.store, rdb, d.cfg.Worker.InboxRelayInterval, log, metrics)
		woo := &web.WooConnect{AppURL: d.cfg.HTTP.AppURL, Clients: wooClients(d.cfg), Topics: jobs.WooTopics,
			DeliveryURL: func(key string) string { return wooWebhookURL(d.cfg, key) },
			States:      web.RedisStates{Redis: rdb}, AllowHTTP: !d.cfg.Production(), Now: time.Now}
		codes := asynq.NewClientFromRedisClient(rdb)
		queueCode := func(ctx context.Context, shop app.Shop, id int64) {
			if _, err := codes.EnqueueContext(ctx, jobs.NewIssueCodeTask(shop, id)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				log.Warn("reward code not queued; the pending sweep will make it", "shop", shop.Domain, "redemption", id, "error", err)
			}
		}
		widget := &web.Widget{ShopifySecrets: secrets, Now: time.Now,
			Limiter: &web.RateLimiter{Redis: rdb, PerShop: int64(d.cfg.HTTP.WidgetPerShopPerMinute),
				PerClient: int64(d.cfg.HTTP.WidgetPerClientPerMinute), Window: time.Minute, ShareEvery: 100 * time.Millisecond}}
		// The demo storefront signs app proxy requests for anyone who asks:
		// only ever outside production.
		var demo *web.Demo
		if !d.cfg.Production() {
			demo = &web.Demo{Shop: web.DemoShop, Customer: web.DemoCustomer, Now: time.Now}
		}
		queues, err := queueDashboard(d.cfg, log)
		if err != nil {
			return err
		}
		if queues != nil {
			defer queues.Close()
		}
		srv := web.New(web.Deps{Service: d.svc, Intake: intake, Shopify: shopifyAuth(d.cfg, rdb), WooCommerce: woo, Widget: widget, Demo: demo, Queues: queues, Codes: queueCode, Registry: reg,
			Postgres: d.store, Redis: redisPinger{rdb}, MaxWebhookBody: d.cfg.HTTP.MaxWebhookBody, Log: log,
			Unsubscribe: &web.Unsubscribe{Key: d.cfg.Mail.UnsubscribeKey, Previous: d.cfg.Mail.PreviousUnsubscribeKeys},
			Console: &web.Console{Secure: strings.HasPrefix(d.cfg.HTTP.AppURL, "https://"),
				SignIns: &web.RateLimiter{Redis: rdb, PerClient: 20, Window: 15 * time.Minute}}})
		goRun(func() error { return srv.Run(ctx, d.cfg.HTTP.Addr) })
		goRun(func() error { relay.Run(ctx); return nil })
	}
	if mode == "all" || mode == "worker" {
		rdb, err := redisClient(ctx, d.cfg.Redis.URL, false)
		if err != nil {
			return err
		}
		defer rdb.Close()
		reg.MustRegister(jobs.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb), 2*time.Second))
		// Outside production the demo shop's codes are made on an
		// in-process fake Shopify; in production fake is nil and every
		// shop's client is shopifyClients'.
		fake, err := demoShopify(ctx, d.cfg, d.svc, log)
		if err != nil {
			return err
		}
		h := jobs.NewHandler(d.svc, d.store, log, jobs.NewMetrics(reg)).WithShopifyOAuth(shopifyOAuth(d.cfg)).
			WithWooCommerce(wooClients(d.cfg), func(key string) string { return wooWebhookURL(d.cfg, key) }).
			WithShopifyClients(withDemoShop(shopifyClients(), fake)).WithQueue(asynq.NewClientFromRedisClient(rdb)).
			WithInspector(asynq.NewInspectorFromRedisClient(rdb))
		mailRate := &jobs.ShopRateLimit{Redis: rdb, PerMinute: d.cfg.Mail.PerShopPerMinute}
		notices := jobs.NewNoticeQueue(asynq.NewClientFromRedisClient(rdb), log).WithRateLimit(mailRate)
		d.svc.WithNoticeQueue(notices)
		mailer, err := newMailer(d.cfg, log)
		if err != nil {
			return err
		}
		h.WithMail(mailer, mailRate, notices)
		workers, err := jobs.NewServer(rdb, jobs.ServerConfig{Concurrency: d.cfg.Worker.Concurrency}, h, log)
		if err != nil {
			return err
		}
		goRun(func() error { return workers.Run(ctx) })
		if mode == "worker" {
			// Workers have their own metrics (queue latency, job outcomes)
			// and orchestrators probe them like the web process.
			srv := web.New(web.Deps{Registry: reg, Postgres: d.store, Redis: redisPinger{rdb}, Log: log})
			goRun(func() error { return srv.Run(ctx, d.cfg.HTTP.Addr) })
		}
	}
	wg.Wait()
	close(errc)
	return <-errc
}
