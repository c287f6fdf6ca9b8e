package main

import (
	"errors"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/hibiken/asynq"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"loyalty/app"
	"loyalty/app/store"
	"loyalty/config"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// newFlags returns a flag set that prints its usage to out and reports
// errUsage for bad flags instead of exiting.
func newFlags(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: loyalty %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return nil
}

func sub(args []string, out io.Writer, synopsis string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(out, "Usage: loyalty %s\n", synopsis)
		return "", nil, errUsage
	}
	return args[0], args[1:], nil
}

func migrateCmd(ctx context.Context, args []string, out io.Writer) error {
	command, _, err := sub(args, out, "migrate up|down|status")
	if err != nil {
		return err
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	return store.Migrate(ctx, d.store.SQL(), command, out)
}

func shopsCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "shops add|list|show|configure")
	if err != nil {
		return err
	}
	switch command {
	case "add":
		fs := newFlags("shops add", "shops add --platform shopify --domain NAME.myshopify.com [flags]", out)
		platform := fs.String("platform", "shopify", "shopify or woocommerce")
		domain := fs.String("domain", "", "the shop's domain (NAME.myshopify.com for Shopify)")
		name := fs.String("name", "", "the shop's display name")
		currency := fs.String("currency", "USD", "the shop's currency (ISO 4217)")
		rate := fs.String("earn-rate", "1", "points per whole unit of the shop's currency")
		bonus := fs.Int64("signup-bonus", 0, "points for joining")
		pending := fs.Int("pending-days", 0, "days earned points stay pending (return window)")
		expiry := fs.Int("expiry-days", 0, "days after which earned points expire (0: never)")
		ifMissing := fs.Bool("if-missing", false, "succeed and show the shop when it is already registered")
		storeURL := fs.String("url", "", "WooCommerce: the store's address, e.g. https://store.example")
		webhookSecret := fs.String("webhook-secret", "", "WooCommerce: the secret its webhooks are signed with (default: a new random one, printed)")
		consumerKey := fs.String("consumer-key", "", "WooCommerce: REST API consumer key (ck_…), for reconciliation and webhook health")
		consumerSecret := fs.String("consumer-secret", "", "WooCommerce: REST API consumer secret (cs_…)")
		earnStatuses := fs.String("earn-statuses", "processing,completed", "WooCommerce: order statuses at which an order earns points")
		if err := parse(fs, args); err != nil {
			return err
		}
		if app.Platform(*platform) == app.WooCommerce {
			return addWooStore(ctx, out, wooStoreFlags{url: *storeURL, name: *name, currency: *currency, webhookSecret: *webhookSecret,
				consumerKey: *consumerKey, consumerSecret: *consumerSecret, earnStatuses: *earnStatuses, rate: *rate,
				bonus: *bonus, pending: *pending, expiry: *expiry, ifMissing: *ifMissing})
		}
		if *domain == "" {
			fs.Usage()
			return fmt.Errorf("--domain is required")
		}
		earn, err := app.ParseRate(*rate)
		if err != nil {
			return fmt.Errorf("--earn-rate: %w", err)
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.store.Close()
		prog := app.DefaultProgram(0)
		prog.EarnRate, prog.SignupBonus, prog.PendingDays, prog.ExpiryDays = earn, *bonus, *pending, *expiry
		shop, err := d.svc.AddShop(ctx, app.Shop{Platform: app.Platform(*platform), Domain: *domain, Name: *name, Currency: *currency}, &prog)
		if app.ErrorCode(err) == app.EConflict && *ifMissing {
			shop, err = d.svc.Shop(ctx, app.Platform(*platform), *domain)
		}
		if err != nil {
			return err
		}
		return printShop(ctx, d, shop, out)
	case "list":
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.store.Close()
		shops, err := d.svc.Shops(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPLATFORM\tDOMAIN\tNAME\tCURRENCY\tSTATUS\tWEBHOOK URL")
		for _, s := range shops {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Platform, s.Domain, s.Name, s.Currency, s.Status, webhookURL(ctx, d, s))
		}
		return tw.Flush()
	case "show":
		fs := newFlags("shops show", "shops show --shop DOMAIN [--platform shopify]", out)
		platform := fs.String("platform", "shopify", "shopify or woocommerce")
		domain := fs.String("shop", "", "the shop's domain")
		if err := parse(fs, args); err != nil {
			return err
		}
		d, shop, err := openShop(ctx, fs, *platform, *domain)
		if err != nil {
			return err
		}
		defer d.store.Close()
		return printShop(ctx, d, shop, out)
	case "configure":
		return configureShop(ctx, args, out)
	}
	return fmt.Errorf("unknown shops command %q: use add, list, show or configure", command)
}

// configureShop changes a shop's program; only the flags given change.
func configureShop(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("shops configure", "shops configure --shop DOMAIN --by STAFF [--earn-rate 2 --signup-bonus 50 …]", out)
	platform, domain := shopFlag(fs)
	by := fs.String("by", "", "who makes the change (recorded in the audit log)")
	rate := fs.String("earn-rate", "", "points per whole unit of the shop's currency")
	bonus := fs.Int64("signup-bonus", 0, "points for joining")
	rounding := fs.String("rounding", "", "floor, nearest or ceil")
	shipping := fs.Bool("earn-on-shipping", false, "shipping earns points")
	tax := fs.Bool("earn-on-tax", false, "tax earns points")
	negative := fs.Bool("allow-negative", false, "reversals may take a balance below zero")
	pending := fs.Int("pending-days", 0, "days earned points stay pending (return window)")
	expiry := fs.Int("expiry-days", 0, "days after which earned points expire (0: never)")
	statuses := fs.String("earn-statuses", "", "WooCommerce: order statuses at which an order earns, e.g. completed")
	birthday := fs.Int64("birthday-bonus", 0, "points on a shopper's birthday, once a year (0: none, and no birthday field)")
	color := fs.String("widget-color", "", "the storefront widget's accent colour, #rrggbb")
	position := fs.String("widget-position", "", "where the widget's launcher sits: bottom-right or bottom-left")
	inactivity := fs.Int("inactivity-months", 0, "the whole balance expires after this many months without activity (0: off)")
	warnDays := fs.String("warn-days", "", "days before points expire to warn the shopper, e.g. 14,3 (\"none\": no warnings)")
	anniversary := fs.Int64("anniversary-bonus", 0, "points on the anniversary of joining, once a year")
	timezone := fs.String("timezone", "", "the shop's IANA time zone, e.g. Europe/Warsaw: birthdays and anniversaries fall on its calendar days")
	messages := fs.String("messages", "", "messages the shop sends: any of welcome,earned,redeemed,expiring,birthday, or none")
	locale := fs.String("locale", "", "the shop's language when a shopper's is unknown: en, pl, lv, ro or ru")
	supportLimit := fs.Int64("support-adjust-limit", 0, "points one adjustment by support staff may move without an owner's or admin's approval")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *domain == "" || *by == "" {
		fs.Usage()
		return fmt.Errorf("--shop and --by are required")
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	prog, err := d.svc.Program(ctx, shop)
	if err != nil {
		return err
	}
	var changes []string
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "earn-rate":
			r, err := app.ParseRate(*rate)
			if err != nil {
				flagErr = fmt.Errorf("--earn-rate: %w", err)
			}
			prog.EarnRate = r
		case "signup-bonus":
			prog.SignupBonus = *bonus
		case "rounding":
			prog.Rounding = app.Rounding(*rounding)
		case "earn-on-shipping":
			prog.EarnOnShipping = *shipping
		case "earn-on-tax":
			prog.EarnOnTax = *tax
		case "allow-negative":
			prog.AllowNegative = *negative
		case "pending-days":
			prog.PendingDays = *pending
		case "expiry-days":
			prog.ExpiryDays = *expiry
		case "birthday-bonus":
			prog.BirthdayBonus = *birthday
		case "widget-color":
			prog.Look.Color = strings.ToLower(*color)
		case "widget-position":
			prog.Look.Position = *position
		case "inactivity-months":
			prog.InactivityMonths = *inactivity
		case "anniversary-bonus":
			prog.AnniversaryBonus = *anniversary
		case "warn-days":
			days, err := parseWarnDays(*warnDays)
			if err != nil {
				flagErr = fmt.Errorf("--warn-days: %w", err)
			}
			prog.WarnDays = days
		case "locale":
			prog.Locale = *locale
		case "support-adjust-limit":
			if prog.AdjustLimits == nil {
				prog.AdjustLimits = map[app.Role]int64{}
			}
			prog.AdjustLimits[app.RoleSupport] = *supportLimit
		case "messages":
			m, err := parseMessages(*messages)
			if err != nil {
				flagErr = fmt.Errorf("--messages: %w", err)
			}
			prog.Messages = m
		default:
			return
		}
		changes = append(changes, f.Name+"="+f.Value.String())
	})
	if flagErr != nil {
		return flagErr
	}
	if len(changes) > 0 {
		if err := d.svc.SetProgram(ctx, shop, prog, *by, strings.Join(changes, ", ")); err != nil {
			return err
		}
	}
	if *timezone != "" {
		if err := d.svc.SetTimezone(ctx, shop, *timezone, *by); err != nil {
			return err
		}
	}
	if *statuses != "" {
		if shop.Platform != app.WooCommerce {
			return fmt.Errorf("--earn-statuses: only WooCommerce stores choose the order statuses that earn")
		}
		earn, err := woocommerce.ParseEarnStatuses(*statuses)
		if err != nil {
			return fmt.Errorf("--earn-statuses: %w", err)
		}
		if err := d.svc.SetEarnStatuses(ctx, shop, earn, *by); err != nil {
			return err
		}
	}
	return printShop(ctx, d, shop, out)
}

// webhookURL is where a shop's webhooks go: one address for every Shopify
// shop (they share the app's secret), one per WooCommerce store.
func webhookURL(ctx context.Context, d *deps, s app.Shop) string {
	if s.Platform == app.WooCommerce {
		conn, err := d.svc.Connection(ctx, s)
		if err != nil {
			return "(not connected)"
		}
		return wooWebhookURL(d.cfg, conn.WebhookKey)
	}
	return d.cfg.HTTP.AppURL + "/webhooks/" + string(s.Platform)
}

type wooStoreFlags struct {
	url, name, currency, webhookSecret, consumerKey, consumerSecret, earnStatuses, rate string
	bonus                                                                               int64
	pending, expiry                                                                     int
	ifMissing                                                                           bool
}

// addWooStore registers a WooCommerce store by hand: the merchant creates
// the webhooks in WooCommerce's settings with the printed address and secret.
func addWooStore(ctx context.Context, out io.Writer, f wooStoreFlags) error {
	storeURL, err := woocommerce.NormalizeStoreURL(f.url, true)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if (f.consumerKey == "") != (f.consumerSecret == "") {
		return fmt.Errorf("--consumer-key and --consumer-secret go together")
	}
	earnStatuses, err := woocommerce.ParseEarnStatuses(f.earnStatuses)
	if err != nil {
		return fmt.Errorf("--earn-statuses: %w", err)
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	if d.cfg.Production() && strings.HasPrefix(storeURL, "http:") {
		return fmt.Errorf("--url: the store must use https in production (its REST keys travel in every request)")
	}
	domain := strings.TrimPrefix(strings.TrimPrefix(storeURL, "https://"), "http://")
	if existing, err := d.svc.Shop(ctx, app.WooCommerce, domain); err == nil {
		if f.ifMissing {
			return printShop(ctx, d, existing, out)
		}
		return app.Errorf(app.EConflict, "woocommerce store %s is already registered", domain)
	}
	generated := f.webhookSecret == ""
	if generated {
		f.webhookSecret = randomSecret()
	}
	shop, _, err := d.svc.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: domain, Name: f.name, Currency: f.currency},
		app.Connection{URL: storeURL, WebhookKey: "wc_" + randomSecret()[:24], EarnStatuses: earnStatuses},
		app.Credentials{APIKey: f.consumerKey, AccessToken: f.consumerSecret, WebhookSecret: f.webhookSecret, WidgetSecret: randomSecret()})
	if err != nil {
		return err
	}
	earn, err := app.ParseRate(f.rate)
	if err != nil {
		return fmt.Errorf("--earn-rate: %w", err)
	}
	prog, err := d.svc.Program(ctx, shop)
	if err != nil {
		return err
	}
	prog.EarnRate, prog.SignupBonus, prog.PendingDays, prog.ExpiryDays = earn, f.bonus, f.pending, f.expiry
	if err := d.store.SaveProgram(ctx, prog); err != nil {
		return err
	}
	if err := printShop(ctx, d, shop, out); err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(out, "  webhook secret: %s   (give it to each webhook in WooCommerce › Settings › Advanced › Webhooks)\n", f.webhookSecret)
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func randomSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func printShop(ctx context.Context, d *deps, s app.Shop, out io.Writer) error {
	p, err := d.svc.Program(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shop %d: %s %s (%s)\n", s.ID, s.Platform, s.Domain, s.Name)
	fmt.Fprintf(out, "  status:       %s\n  currency:     %s\n  webhook URL:  %s\n", s.Status, s.Currency, webhookURL(ctx, d, s))
	fmt.Fprintf(out, "  program:      %s point(s) per 1 %s, rounding %s, shipping earns: %t, tax earns: %t\n",
		p.EarnRate, s.Currency, p.Rounding, p.EarnOnShipping, p.EarnOnTax)
	fmt.Fprintf(out, "                signup bonus %d, pending %d days, expiry %s, negative balances allowed: %t\n",
		p.SignupBonus, p.PendingDays, days(p.ExpiryDays), p.AllowNegative)
	fmt.Fprintf(out, "                birthday bonus %d, anniversary bonus %d, inactivity expiry %s, warnings %v days ahead\n",
		p.BirthdayBonus, p.AnniversaryBonus, months(p.InactivityMonths), p.WarnDays)
	fmt.Fprintf(out, "  messages:     %s\n  widget:       colour %s, launcher %s\n", messageList(p.Messages), p.Look.Color, p.Look.Position)
	if tz, err := d.svc.Timezone(ctx, s); err == nil {
		fmt.Fprintf(out, "  time zone:    %s\n", tz)
	}
	if s.Platform != app.WooCommerce {
		return nil
	}
	conn, err := d.svc.Connection(ctx, s)
	if err != nil {
		return err
	}
	creds, err := d.svc.Credentials(ctx, s)
	if err != nil {
		return err
	}
	sync := "not yet"
	if !conn.LastSyncAt.IsZero() {
		sync = "at " + conn.LastSyncAt.Local().Format("2006-01-02 15:04") + ", orders up to " + conn.SyncedUntil.Local().Format("2006-01-02 15:04")
	}
	if conn.LastSyncError != "" {
		sync += " (last error: " + conn.LastSyncError + ")"
	}
	earnsAt := strings.Join(conn.EarnStatuses, ", ")
	if earnsAt == "" {
		earnsAt = strings.Join(woocommerce.DefaultEarnStatuses, ", ") + " (the default)"
	}
	fmt.Fprintf(out, "  store URL:    %s\n  earns at:     %s\n  REST keys:    %t (reconciliation and webhook health need them)\n  last sync:    %s\n",
		conn.URL, earnsAt, creds.APIKey != "", sync)
	fmt.Fprintf(out, "  plugin:       store key %s; widget secret %s\n", conn.WebhookKey, creds.WidgetSecret)
	return nil
}

func days(n int) string {
	if n == 0 {
		return "never"
	}
	return fmt.Sprintf("after %d days", n)
}

// shopFlag adds the flags that pick a shop.
func shopFlag(fs *flag.FlagSet) (platform, domain *string) {
	return fs.String("platform", "shopify", "shopify or woocommerce"), fs.String("shop", "", "the shop's domain")
}

func pointsCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "points show|history|adjust|redeem|birthday")
	if err != nil {
		return err
	}
	fs := newFlags("points "+command, "points "+command+" --shop DOMAIN --customer ID [flags]", out)
	platform, domain := shopFlag(fs)
	customer := fs.String("customer", "", "the platform's customer id")
	limit := fs.Int("limit", 50, "entries to show (history)")
	points := fs.Int64("points", 0, "points to add (positive) or remove (negative) (adjust)")
	reason := fs.String("reason", "", "why the balance is adjusted; shown in the ledger (adjust)")
	by := fs.String("by", "", "who makes the adjustment (adjust)")
	key := fs.String("idempotency-key", "", "makes a re-run adjust or redeem once (default: a new random key)")
	rewardID := fs.Int64("reward", 0, "the reward's id (redeem)")
	birthday := fs.String("set", "", "the shopper's birthday as MM-DD (birthday; needs --by and --reason)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *domain == "" || *customer == "" {
		fs.Usage()
		return fmt.Errorf("--shop and --customer are required")
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	switch command {
	case "show":
		c, err := d.svc.Balance(ctx, shop, *customer)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "customer %s (%s) at %s\n  balance: %d points\n  pending: %d points\n", c.PlatformID, orDash(c.Email), shop.Domain, c.Balance, c.Pending)
		if c.Birthday != nil {
			fmt.Fprintf(out, "  birthday: %s\n", c.Birthday)
		}
		return nil
	case "birthday":
		if *by == "" || *reason == "" {
			return fmt.Errorf("--by and --reason are required: a birthday changed by staff is audited")
		}
		b, err := app.ParseBirthday(*birthday)
		if err != nil {
			return fmt.Errorf("--set: %w", err)
		}
		c, err := d.svc.SetBirthday(ctx, shop, app.BirthdayChange{CustomerID: *customer, Birthday: b, Staff: *by, Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "customer %s: birthday %s\n", c.PlatformID, c.Birthday)
		return nil
	case "history":
		entries, err := d.svc.History(ctx, shop, *customer, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tKIND\tPOINTS\tBALANCE\tPENDING\tCAUSE")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%+d\t%d\t%d\t%s\n", e.CreatedAt.Local().Format("2006-01-02 15:04"), e.Kind, e.Points, e.BalanceAfter, e.PendingAfter, cause(e))
		}
		return tw.Flush()
	case "adjust":
		if *key == "" {
			*key = randomKey()
		}
		e, err := d.svc.Adjust(ctx, shop, app.Adjustment{CustomerID: *customer, Points: *points, Reason: *reason, Staff: *by, IdempotencyKey: *key})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "adjusted customer %s by %+d points (entry %d); balance now %d\n", *customer, e.Points, e.ID, e.BalanceAfter)
		return nil
	case "redeem":
		if *by == "" {
			return fmt.Errorf("--by is required: name the staff member redeeming for the shopper")
		}
		if *key == "" {
			*key = randomKey()
		}
		r, err := d.svc.Redeem(ctx, shop, app.RedeemRequest{CustomerID: *customer, RewardID: *rewardID, Points: *points,
			IdempotencyKey: *key, Staff: *by})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "redeemed %d points for %s: code %s (%s)\n", r.Points, r.RewardName, r.Code, r.Status)
		if r.Status == app.RedemptionPending {
			queueCode(ctx, d, shop, r, out)
		}
		return nil
	}
	return fmt.Errorf("unknown points command %q: use show, history, adjust, redeem or birthday", command)
}

func months(n int) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprintf("after %d months", n)
}

func messageList(m app.Messages) string {
	var on []string
	for _, msg := range []struct {
		name string
		on   bool
	}{{"welcome", m.Welcome}, {"earned", m.Earned}, {"redeemed", m.Redeemed}, {"expiring", m.Expiring}, {"birthday", m.Birthday}} {
		if msg.on {
			on = append(on, msg.name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}

func parseWarnDays(s string) ([]int, error) {
	if s == "none" {
		return nil, nil
	}
	var days []int
	for _, part := range splitComma(s) {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number of days", part)
		}
		days = append(days, n)
	}
	return days, nil
}

func parseMessages(s string) (app.Messages, error) {
	var m app.Messages
	if s == "none" {
		return m, nil
	}
	for _, name := range splitComma(s) {
		switch name {
		case "welcome":
			m.Welcome = true
		case "earned":
			m.Earned = true
		case "redeemed":
			m.Redeemed = true
		case "expiring":
			m.Expiring = true
		case "birthday":
			m.Birthday = true
		default:
			return m, fmt.Errorf("unknown message %q: use welcome, earned, redeemed, expiring, birthday or none", name)
		}
	}
	return m, nil
}

func cause(e app.Entry) string {
	var parts []string
	if e.Cause.OrderID != "" {
		parts = append(parts, "order "+e.Cause.OrderID)
	}
	if e.Cause.RefundID != "" {
		parts = append(parts, "refund "+e.Cause.RefundID)
	}
	if e.Cause.Job != "" {
		parts = append(parts, e.Cause.Job)
	}
	if e.Cause.Staff != "" {
		parts = append(parts, "by "+e.Cause.Staff)
	}
	if e.Cause.Reason != "" {
		parts = append(parts, "“"+e.Cause.Reason+"”")
	}
	if e.Unrecovered > 0 {
		parts = append(parts, fmt.Sprintf("%d unrecovered", e.Unrecovered))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func randomKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

func deliveriesCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "deliveries list --shop DOMAIN [--status failed]")
	if err != nil {
		return err
	}
	if command != "list" {
		return fmt.Errorf("unknown deliveries command %q: use list", command)
	}
	fs := newFlags("deliveries list", "deliveries list --shop DOMAIN [--status failed] [--payload]", out)
	domain := fs.String("shop", "", "the shop's domain")
	status := fs.String("status", "", "only deliveries with this status: inbox, queued, processed, skipped or failed")
	limit := fs.Int("limit", 50, "deliveries to show")
	payload := fs.Bool("payload", false, "print the payload of failed deliveries")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	list, err := d.store.Deliveries(ctx, strings.ToLower(*domain), app.DeliveryStatus(*status), *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tTOPIC\tDELIVERY ID\tSTATUS\tDETAIL")
	for _, x := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ReceivedAt.Local().Format("2006-01-02 15:04:05"), x.Topic, x.DeliveryID, x.Status, x.Detail)
		if *payload && len(x.Payload) > 0 {
			fmt.Fprintf(tw, "\tpayload:\t%s\n", x.Payload)
		}
	}
	return tw.Flush()
}

func reconcileCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("reconcile", "reconcile [--shop DOMAIN]", out)
	platform, domain := shopFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	shops, err := d.svc.Shops(ctx)
	if err != nil {
		return err
	}
	bad := 0
	for _, s := range shops {
		if *domain != "" && (s.Domain != strings.ToLower(*domain) || s.Platform != app.Platform(*platform)) {
			continue
		}
		list, err := d.svc.Reconcile(ctx, s)
		if err != nil {
			return err
		}
		for _, x := range list {
			fmt.Fprintf(out, "%s: %s\n", s.Domain, x)
		}
		bad += len(list)
		if len(list) == 0 {
			fmt.Fprintf(out, "%s: every balance matches its ledger\n", s.Domain)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d balance(s) disagree with the ledger", bad)
	}
	return nil
}

// simulatedAPIVersion is the payload version simulate claims to send.
const simulatedAPIVersion = "2026-07"

func simulateCmd(ctx context.Context, args []string, out io.Writer) error {
	topic, args, err := sub(args, out, "simulate TOPIC [flags]   (Shopify: orders/paid, refunds/create, orders/cancelled, customers/create;\n"+
		"                           WooCommerce with --platform woocommerce: order.created, order.updated, order.deleted, customer.created)")
	if err != nil {
		return err
	}
	fs := newFlags("simulate "+topic, "simulate "+topic+" [flags]", out)
	platform := fs.String("platform", "shopify", "shopify or woocommerce")
	url := fs.String("url", "", "the app's webhook URL (default: APP_URL/webhooks/shopify, or the WooCommerce store's own)")
	domain := fs.String("shop", "demo-shop.myshopify.com", "the shop the webhook comes from")
	customer := fs.String("customer", "7770001", "the customer id")
	order := fs.String("order", "", "the order id (default: a new one; give the paid order's id to refund or cancel it)")
	refundID := fs.String("refund", "", "the refund id (default: a new one)")
	amount := fs.String("amount", "120.00", "the order (or refund) amount in the shop's currency")
	currency := fs.String("currency", "", "the order's currency (default: the shop's; USD for Shopify samples)")
	status := fs.String("status", "processing", "WooCommerce: the order's status")
	email := fs.String("email", "", "the customer's email")
	deliveryID := fs.String("delivery-id", "", "the delivery id (default: a new one; repeat one to see deduplication)")
	secret := fs.String("secret", "", "the secret to sign with (default: SHOPIFY_API_SECRET, or the WooCommerce store's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	amt, err := app.ParseAmount(*amount)
	if err != nil {
		return fmt.Errorf("--amount: %w", err)
	}
	if *deliveryID == "" {
		*deliveryID = "sim-" + randomKey()[4:]
	}
	var req *http.Request
	if app.Platform(*platform) == app.WooCommerce {
		if *order == "" {
			*order = strconv.FormatInt(time.Now().Unix()%100000000, 10)
		}
		req, err = wooSimulation(ctx, topic, *domain, *url, *secret, *order, *customer, *status, *email, *currency, *deliveryID, amt)
	} else {
		if *order == "" {
			*order = randomDigits()
		}
		req, err = shopifySimulation(ctx, topic, *domain, *url, *secret, *deliveryID, shopify.SampleOptions{OrderID: *order,
			CustomerID: *customer, RefundID: *refundID, Email: *email, Amount: amt, Currency: *currency})
	}
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("send webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	about := "customer " + *customer
	if strings.HasPrefix(topic, "order") || strings.HasPrefix(topic, "refunds/") {
		about = "order " + *order + ", " + about
	}
	fmt.Fprintf(out, "sent %s for shop %s (%s, delivery %s)\n%s %s\n",
		topic, *domain, about, *deliveryID, resp.Status, strings.TrimSpace(string(answer)))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the app answered %s", resp.Status)
	}
	return nil
}

// shopifySimulation builds a delivery signed like Shopify's.
func shopifySimulation(ctx context.Context, topic, domain, url, secret, deliveryID string, sample shopify.SampleOptions) (*http.Request, error) {
	if secret == "" || url == "" {
		cfg, err := config.Load()
		if err != nil {
			return nil, err
		}
		if secret == "" {
			secret = cfg.Shopify.APISecret
		}
		if url == "" {
			url = cfg.HTTP.AppURL + "/webhooks/shopify"
		}
	}
	body, err := shopify.SamplePayload(topic, sample)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Shop-Domain", domain)
	req.Header.Set("X-Shopify-Webhook-Id", deliveryID)
	req.Header.Set("X-Shopify-API-Version", simulatedAPIVersion)
	req.Header.Set("X-Shopify-Triggered-At", time.Now().UTC().Format(time.RFC3339Nano))
	req.Header.Set("X-Shopify-Event-Id", "sim-event-"+deliveryID)
	req.Header.Set("X-Shopify-Hmac-Sha256", shopify.Sign(body, secret))
	return req, nil
}

// wooSimulation builds a delivery signed like WooCommerce's, for a store
// registered here: its webhook address and secret come from the database.
func wooSimulation(ctx context.Context, topic, domain, url, secret, order, customer, status, email, currency, deliveryID string, amount app.Amount) (*http.Request, error) {
	d, err := open(ctx)
	if err != nil {
		return nil, err
	}
	defer d.store.Close()
	shop, err := d.svc.Shop(ctx, app.WooCommerce, domain)
	if err != nil {
		return nil, err
	}
	conn, err := d.svc.Connection(ctx, shop)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		creds, err := d.svc.Credentials(ctx, shop)
		if err != nil {
			return nil, err
		}
		secret = creds.WebhookSecret
	}
	if url == "" {
		url = wooWebhookURL(d.cfg, conn.WebhookKey)
	}
	if currency == "" {
		// Orders in another currency earn nothing: a sample is in the
		// store's unless asked otherwise.
		currency = shop.Currency
	}
	orderID, err1 := strconv.ParseInt(order, 10, 64)
	customerID, err2 := strconv.ParseInt(customer, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("WooCommerce order and customer ids are whole numbers")
	}
	var body []byte
	resource, event, _ := strings.Cut(topic, ".")
	switch {
	case topic == woocommerce.TopicCustomerCreated:
		if email == "" {
			email = "shopper." + customer + "@example.com"
		}
		body, _ = json.Marshal(map[string]any{"id": customerID, "email": email, "first_name": "Shopper", "last_name": customer})
	case topic == woocommerce.TopicOrderDeleted:
		body = []byte(fmt.Sprintf(`{"id":%d}`, orderID))
	case resource == "order":
		body = woocommerce.SampleOrder(woocommerce.SampleOptions{ID: orderID, CustomerID: customerID, Status: status,
			Total: amount, Currency: currency, Email: email, Modified: time.Now().UTC(), StoreURL: conn.URL})
	default:
		return nil, fmt.Errorf("cannot simulate WooCommerce topic %q", topic)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WooCommerce/9.0 Hookshot (loyalty simulate)")
	req.Header.Set("X-WC-Webhook-Source", conn.URL+"/")
	req.Header.Set("X-WC-Webhook-Topic", topic)
	req.Header.Set("X-WC-Webhook-Resource", resource)
	req.Header.Set("X-WC-Webhook-Event", event)
	req.Header.Set("X-WC-Webhook-ID", "1")
	req.Header.Set("X-WC-Webhook-Delivery-ID", deliveryID)
	req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(body, secret))
	return req, nil
}

func randomDigits() string {
	b := make([]byte, 8)
	rand.Read(b)
	n := uint64(0)
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	// 18 digits like Shopify's ids, beyond 2^53 on purpose.
	return fmt.Sprintf("%d", 100000000000000000+n%800000000000000000)
}

func keysCmd(ctx context.Context, args []string, out io.Writer) error {
	command, _, err := sub(args, out, "keys rotate")
	if err != nil {
		return err
	}
	if command != "rotate" {
		return fmt.Errorf("unknown keys command %q: use rotate", command)
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	if d.cfg.PreviousEncryptionKey == nil {
		fmt.Fprintln(out, "note: ENCRYPTION_KEY_PREVIOUS is not set; only secrets already readable with ENCRYPTION_KEY can be re-sealed")
	}
	n, err := d.store.RotateKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate keys (%d re-sealed before the error): %w", n, err)
	}
	fmt.Fprintf(out, "re-sealed %d secret(s) with the current key; ENCRYPTION_KEY_PREVIOUS can now be removed\n", n)
	if d.cfg.PreviousEncryptionKey != nil {
		// The stored secrets no longer need the old key, but links already
		// mailed may have been signed with a key derived from it.
		fmt.Fprintln(out, "note: unsubscribe links mailed before the rotation without UNSUBSCRIBE_SECRET open only while ENCRYPTION_KEY_PREVIOUS is set (see README)")
	}
	return nil
}

func auditCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit", "audit --shop DOMAIN [--limit N]", out)
	domain := fs.String("shop", "", "the shop's domain")
	limit := fs.Int("limit", 50, "lines to show")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *domain == "" {
		fs.Usage()
		return fmt.Errorf("--shop is required")
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.store.Close()
	lines, err := d.svc.AuditLog(ctx, *domain, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tACTOR\tACTION\tOUTCOME\tDETAIL")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.CreatedAt.Local().Format("2006-01-02 15:04:05"), l.Actor, l.Action, l.Outcome, l.Detail)
	}
	return tw.Flush()
}

func privacyCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "privacy exports|export --shop DOMAIN [--id N --out FILE]")
	if err != nil {
		return err
	}
	fs := newFlags("privacy "+command, "privacy "+command+" --shop DOMAIN [--id N] [--out FILE] [--delivered]", out)
	platform, domain := shopFlag(fs)
	id := fs.Int64("id", 0, "the export's id (export)")
	file := fs.String("out", "", "write the export's JSON to this file instead of standard output (export)")
	delivered := fs.Bool("delivered", false, "record that the export was handed to the merchant (export)")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	switch command {
	case "exports":
		list, err := d.svc.DataExports(ctx, shop)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tCUSTOMER\tREQUEST\tSTATUS")
		for _, e := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.CreatedAt.Local().Format("2006-01-02 15:04"), e.CustomerID, e.RequestID, e.Status)
		}
		return tw.Flush()
	case "export":
		if *id == 0 {
			fs.Usage()
			return fmt.Errorf("--id is required")
		}
		e, err := d.svc.DataExport(ctx, shop, *id)
		if err != nil {
			return err
		}
		if *file != "" {
			if err := os.WriteFile(*file, append(e.Document, '\n'), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote export %d of customer %s to %s\n", e.ID, e.CustomerID, *file)
		} else {
			fmt.Fprintf(out, "%s\n", e.Document)
		}
		if *delivered {
			return d.svc.MarkDataExportDelivered(ctx, shop, e.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown privacy command %q: use exports or export", command)
}

func rewardsCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "rewards add|list|enable|disable --shop DOMAIN [flags]")
	if err != nil {
		return err
	}
	fs := newFlags("rewards "+command, "rewards "+command+" --shop DOMAIN [flags]", out)
	platform, domain := shopFlag(fs)
	id := fs.Int64("id", 0, "the reward's id (enable, disable)")
	name := fs.String("name", "", "what shoppers see, e.g. \"5.00 off\"")
	kind := fs.String("kind", "fixed_amount", "fixed_amount, variable_amount, percentage or free_shipping")
	points := fs.Int64("points", 0, "what the reward costs (all kinds but variable_amount)")
	amount := fs.String("amount", "0", "fixed_amount: the amount off")
	perUnit := fs.Int64("points-per-unit", 0, "variable_amount: points per 1.00 off")
	minPoints := fs.Int64("min-points", 0, "variable_amount: the least a shopper may spend")
	maxPoints := fs.Int64("max-points", 0, "variable_amount: the most a shopper may spend (0: the whole balance)")
	percentage := fs.Int("percentage", 0, "percentage: percent off")
	minSubtotal := fs.String("min-subtotal", "0", "the order subtotal the code needs")
	expiry := fs.Int("expiry-days", 0, "days a code stays valid (0: no expiry)")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	switch command {
	case "add":
		amt, err := app.ParseAmount(*amount)
		if err != nil {
			return fmt.Errorf("--amount: %w", err)
		}
		min, err := app.ParseAmount(*minSubtotal)
		if err != nil {
			return fmt.Errorf("--min-subtotal: %w", err)
		}
		r, err := d.svc.AddRewardAs(ctx, shop, "cli", app.Reward{Name: *name, Kind: app.RewardKind(*kind), Points: *points, Amount: amt,
			PointsPerUnit: *perUnit, MinPoints: *minPoints, MaxPoints: *maxPoints, Percentage: *percentage, MinSubtotal: min,
			ExpiryDays: *expiry, Active: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "added reward %d: %s\n", r.ID, describeReward(r, shop.Currency))
		return nil
	case "list":
		list, err := d.svc.Rewards(ctx, shop)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACTIVE\tNAME\tWHAT")
		for _, r := range list {
			fmt.Fprintf(tw, "%d\t%t\t%s\t%s\n", r.ID, r.Active, r.Name, describeReward(r, shop.Currency))
		}
		return tw.Flush()
	case "enable", "disable":
		if err := d.svc.SetRewardActiveAs(ctx, shop, "cli", *id, command == "enable"); err != nil {
			return err
		}
		fmt.Fprintf(out, "reward %d %sd\n", *id, command)
		return nil
	}
	return fmt.Errorf("unknown rewards command %q: use add, list, enable or disable", command)
}

func describeReward(r app.Reward, currency string) string {
	var s string
	switch r.Kind {
	case app.RewardFixed:
		s = fmt.Sprintf("%d points → %s %s off", r.Points, r.Amount, currency)
	case app.RewardVariable:
		s = fmt.Sprintf("%d points per 1.00 %s off, spend %d", r.PointsPerUnit, currency, r.MinPoints)
		if r.MaxPoints > 0 {
			s += fmt.Sprintf(" to %d", r.MaxPoints)
		} else {
			s += " or more"
		}
	case app.RewardPercentage:
		s = fmt.Sprintf("%d points → %d%% off", r.Points, r.Percentage)
	case app.RewardFreeShipping:
		s = fmt.Sprintf("%d points → free shipping", r.Points)
	}
	if r.MinSubtotal > 0 {
		s += fmt.Sprintf(", orders from %s %s", r.MinSubtotal, currency)
	}
	if r.ExpiryDays > 0 {
		s += fmt.Sprintf(", code valid %d days", r.ExpiryDays)
	}
	return s
}

// queueCode asks a worker to create the code now. When Redis cannot be
// reached, the workers' sweep of pending redemptions creates it within a
// minute anyway.
func queueCode(ctx context.Context, d *deps, shop app.Shop, r app.Redemption, out io.Writer) {
	rdb, err := redisClient(ctx, d.cfg.Redis.URL, true)
	if err == nil {
		defer rdb.Close()
		_, err = asynq.NewClientFromRedisClient(rdb).EnqueueContext(ctx, jobs.NewIssueCodeTask(shop, r.ID))
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		fmt.Fprintf(out, "the code will be created on %s within a minute (queue unavailable: %v)\n", shop.Platform, err)
		return
	}
	fmt.Fprintf(out, "the code is being created on %s\n", shop.Platform)
}

// openShop opens the app's connections and finds the shop a command is
// about (its --shop flag is required); the caller closes d.store.
func openShop(ctx context.Context, fs *flag.FlagSet, platform, domain string) (*deps, app.Shop, error) {
	if domain == "" {
		fs.Usage()
		return nil, app.Shop{}, fmt.Errorf("--shop is required")
	}
	d, err := open(ctx)
	if err != nil {
		return nil, app.Shop{}, err
	}
	shop, err := d.svc.Shop(ctx, app.Platform(platform), domain)
	if err != nil {
		d.store.Close()
		return nil, app.Shop{}, err
	}
	return d, shop, nil
}
