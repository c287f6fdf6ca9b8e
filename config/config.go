// Package config reads the app's settings from environment variables once at
// start-up, fills in working defaults for local use and refuses to start in
// production when a required value is missing or malformed.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config is every setting of the app, grouped by the part that uses it.
type Config struct {
	Env      string // "development" or "production"
	HTTP     HTTP
	Database Database
	Redis    Redis
	Shopify  Shopify
	Worker   Worker
	Log      Log
	Mail     Mail
	Console  Console
	// EncryptionKey is 32 bytes for AES-256-GCM encryption of secrets at rest.
	EncryptionKey []byte
	// PreviousEncryptionKey still decrypts during a key rotation.
	PreviousEncryptionKey []byte
}

// HTTP configures the web server.
type HTTP struct {
	Addr   string
	AppURL string
	// MaxWebhookBody is the largest webhook body accepted; larger ones get
	// 413. Shopify orders with hundreds of lines stay well under 1 MiB.
	MaxWebhookBody int64
	// WidgetPerShopPerMinute and WidgetPerClientPerMinute cap the
	// storefront widget's requests: a shop's on its biggest sale day, and
	// one shopper's (one address) to stop scraping.
	WidgetPerShopPerMinute   int
	WidgetPerClientPerMinute int
}

// Database configures PostgreSQL.
type Database struct {
	URL      string
	MaxConns int
}

// Redis configures the queue's Redis.
type Redis struct {
	URL string
}

// Shopify holds the app's Shopify credentials.
type Shopify struct {
	APIKey    string
	APISecret string
	// PreviousAPISecret is still accepted for webhooks while a secret
	// rotation settles (Shopify may sign with the old one for up to an hour).
	PreviousAPISecret string
	// Scopes are the access scopes the app asks for at install.
	Scopes []string
}

// Worker configures the job workers.
type Worker struct {
	Concurrency int
	// InboxRelayInterval is how often webhooks parked in PostgreSQL while
	// Redis was down are moved to the queue.
	InboxRelayInterval time.Duration
}

// Mail configures the messages shoppers get.
type Mail struct {
	// Transport is "smtp" (send through SMTPURL) or "log" (write each
	// message to the log; local mode).
	Transport string
	// SMTPURL is smtp://user:pass@host:587 (STARTTLS required unless
	// ?starttls=opportunistic|off, or the host is loopback) or
	// smtps://user:pass@host:465.
	SMTPURL string
	// From is the sender address; the shop's name is shown with it.
	From string
	// PerShopPerMinute caps the messages one shop sends a minute; more
	// wait for the next minute.
	PerShopPerMinute int
	// UnsubscribeKey signs unsubscribe links: UNSUBSCRIBE_SECRET, or
	// derived from ENCRYPTION_KEY.
	UnsubscribeKey []byte
	// PreviousUnsubscribeKeys still open links signed before a change of
	// key: shoppers click links in messages sent long before. They are the
	// keys derived from ENCRYPTION_KEY_PREVIOUS (before a rotation of the
	// encryption key) and, once UNSUBSCRIBE_SECRET is set, from
	// ENCRYPTION_KEY (before the secret was).
	PreviousUnsubscribeKeys [][]byte
}

// Console configures the staff console (for now the queue dashboard at
// /console/queues/).
type Console struct {
	// Users are the staff who may sign in; none switches the console off.
	Users []ConsoleUser
}

// ConsoleUser is a staff login: a name and the bcrypt hash of its password.
type ConsoleUser struct {
	Name string
	Hash string
}

// The development console login, printed by scripts/run.sh. Refused in
// production.
const (
	DevConsoleUser     = "staff"
	DevConsolePassword = "staff"
	devConsoleHash     = "$2a$10$m3nR6uELJ6W3ug5oHIj4je7gGdZAgvWSQKUC9/qm0eBYFS7DOFJby"
)

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // json or text
}

// Production reports whether the app runs in production mode.
func (c Config) Production() bool { return c.Env == "production" }

// Development defaults: they match scripts/services.sh so `make run` works
// with no environment at all. None of them is accepted in production.
const (
	devDatabaseURL   = "postgres://loyalty@127.0.0.1:54329/loyalty?sslmode=disable"
	devRedisURL      = "redis://127.0.0.1:63799/0"
	devShopifySecret = "demo-shopify-secret"
	devEncryptionKey = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=" // base64 of 32 dev bytes
)

// Load reads the configuration from the environment.
func Load() (Config, error) { return load(os.Getenv) }

func load(getenv func(string) string) (Config, error) {
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	c := Config{Env: env("APP_ENV", "development")}
	if c.Env != "development" && c.Env != "production" {
		bad("APP_ENV", "must be development or production, not %q", c.Env)
	}
	prod := c.Env == "production"
	// required returns the variable, or in development its default; in
	// production a missing value is a problem.
	required := func(key, devDefault string) string {
		v := strings.TrimSpace(getenv(key))
		if v == "" {
			if prod {
				bad(key, "is required in production")
			}
			return devDefault
		}
		return v
	}
	integer := func(key string, def, min, max int) int {
		s := env(key, strconv.Itoa(def))
		n, err := strconv.Atoi(s)
		if err != nil || n < min || n > max {
			bad(key, "must be a whole number from %d to %d, not %q", min, max, s)
			return def
		}
		return n
	}

	addr := env("HTTP_ADDR", "")
	if addr == "" {
		if port := env("PORT", ""); port != "" {
			addr = ":" + port
		} else {
			addr = "127.0.0.1:8080"
		}
	}
	c.HTTP = HTTP{Addr: addr, AppURL: strings.TrimRight(required("APP_URL", "http://127.0.0.1:8080"), "/")}
	if u, err := url.Parse(c.HTTP.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("APP_URL", "must be an absolute http(s) URL, not %q", c.HTTP.AppURL)
	} else if prod && u.Scheme != "https" {
		bad("APP_URL", "must be https in production (Shopify only delivers webhooks over HTTPS)")
	}
	c.HTTP.MaxWebhookBody = int64(integer("WEBHOOK_MAX_BODY_BYTES", 1<<20, 1<<10, 64<<20))
	c.HTTP.WidgetPerShopPerMinute = integer("WIDGET_REQUESTS_PER_SHOP_PER_MINUTE", 120000, 60, 100000000)
	c.HTTP.WidgetPerClientPerMinute = integer("WIDGET_REQUESTS_PER_CLIENT_PER_MINUTE", 120, 10, 1000000)

	c.Database = Database{URL: required("DATABASE_URL", devDatabaseURL), MaxConns: integer("DATABASE_MAX_CONNS", 20, 2, 500)}
	if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", "must be a postgres:// URL")
	}
	c.Redis = Redis{URL: required("REDIS_URL", devRedisURL)}
	if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		bad("REDIS_URL", "must be a redis:// or rediss:// URL")
	}

	c.Shopify = Shopify{
		APIKey:            required("SHOPIFY_API_KEY", "demo-shopify-api-key"),
		APISecret:         required("SHOPIFY_API_SECRET", devShopifySecret),
		PreviousAPISecret: env("SHOPIFY_API_SECRET_PREVIOUS", ""),
		Scopes:            splitList(env("SHOPIFY_SCOPES", "read_customers,read_orders,write_discounts,write_app_proxy")),
	}
	if len(c.Shopify.Scopes) == 0 {
		bad("SHOPIFY_SCOPES", "must list at least one scope, such as read_orders")
	}
	if prod && c.Shopify.APISecret == devShopifySecret {
		bad("SHOPIFY_API_SECRET", "is the public demo secret; set the app's real client secret")
	}

	key, err := parseKey(required("ENCRYPTION_KEY", devEncryptionKey))
	if err != nil {
		bad("ENCRYPTION_KEY", "%v", err)
	} else if prod && getenv("ENCRYPTION_KEY") == devEncryptionKey {
		bad("ENCRYPTION_KEY", "is the public development key; generate one with `openssl rand -base64 32`")
	}
	c.EncryptionKey = key
	if prev := env("ENCRYPTION_KEY_PREVIOUS", ""); prev != "" {
		if c.PreviousEncryptionKey, err = parseKey(prev); err != nil {
			bad("ENCRYPTION_KEY_PREVIOUS", "%v", err)
		}
	}

	relay, err := time.ParseDuration(env("INBOX_RELAY_INTERVAL", "5s"))
	if err != nil || relay < 100*time.Millisecond {
		bad("INBOX_RELAY_INTERVAL", "must be a duration of at least 100ms such as 5s")
		relay = 5 * time.Second
	}
	// Paid orders waiting for the batch that credits them hold a task slot
	// but no database connection (DATABASE_MAX_CONNS bounds those), and
	// the more wait, the larger the batches and the fewer of them: on the
	// benchmark machine 64 credited a third more orders a second than 20,
	// and 128 about a seventh more than 64 (while one batch commits, the
	// next one's orders are already waiting, where at 64 the worker's
	// single dequeuing loop was still refilling the slots the commit freed).
	c.Worker = Worker{Concurrency: integer("WORKER_CONCURRENCY", 128, 1, 1000), InboxRelayInterval: relay}

	c.Mail = Mail{SMTPURL: env("SMTP_URL", ""), From: env("SMTP_FROM", "rewards@localhost"),
		PerShopPerMinute: integer("MAIL_PER_SHOP_PER_MINUTE", 120, 1, 100000)}
	c.Mail.Transport = env("MAIL_TRANSPORT", "")
	switch {
	case c.Mail.Transport == "" && c.Mail.SMTPURL != "":
		c.Mail.Transport = "smtp"
	case c.Mail.Transport == "" && prod:
		bad("SMTP_URL", "is required in production (or set MAIL_TRANSPORT=log to only log messages)")
	case c.Mail.Transport == "":
		c.Mail.Transport = "log"
	case c.Mail.Transport != "smtp" && c.Mail.Transport != "log":
		bad("MAIL_TRANSPORT", "must be smtp or log, not %q", c.Mail.Transport)
	case c.Mail.Transport == "smtp" && c.Mail.SMTPURL == "":
		bad("SMTP_URL", "is required with MAIL_TRANSPORT=smtp")
	}
	if c.Mail.SMTPURL != "" {
		if err := checkSMTPURL(c.Mail.SMTPURL); err != nil {
			bad("SMTP_URL", "%v", err)
		}
	}
	if a, err := mail.ParseAddress(c.Mail.From); err != nil || a.Name != "" {
		bad("SMTP_FROM", "must be a plain email address such as rewards@example.com, not %q", c.Mail.From)
	} else if prod && c.Mail.Transport == "smtp" && strings.HasSuffix(a.Address, "@localhost") {
		bad("SMTP_FROM", "is required in production: the address messages come from")
	}
	if secret := env("UNSUBSCRIBE_SECRET", ""); secret != "" {
		if len(secret) < 32 {
			bad("UNSUBSCRIBE_SECRET", "must be at least 32 characters")
		}
		c.Mail.UnsubscribeKey = []byte(secret)
		if c.EncryptionKey != nil {
			c.Mail.PreviousUnsubscribeKeys = append(c.Mail.PreviousUnsubscribeKeys, unsubscribeKey(c.EncryptionKey))
		}
	} else if c.EncryptionKey != nil {
		c.Mail.UnsubscribeKey = unsubscribeKey(c.EncryptionKey)
	}
	if c.PreviousEncryptionKey != nil {
		c.Mail.PreviousUnsubscribeKeys = append(c.Mail.PreviousUnsubscribeKeys, unsubscribeKey(c.PreviousEncryptionKey))
	}

	users, err := parseConsoleUsers(env("CONSOLE_USERS", ""))
	if err != nil {
		bad("CONSOLE_USERS", "%v", err)
	}
	for _, u := range users {
		if prod && bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(DevConsolePassword)) == nil {
			bad("CONSOLE_USERS", "%s has the public development password; choose another", u.Name)
		}
	}
	if len(users) == 0 && !prod {
		users = []ConsoleUser{{Name: DevConsoleUser, Hash: devConsoleHash}}
	}
	c.Console = Console{Users: users}

	c.Log = Log{Level: strings.ToLower(env("LOG_LEVEL", "info")), Format: strings.ToLower(env("LOG_FORMAT", "text"))}
	if prod && getenv("LOG_FORMAT") == "" {
		c.Log.Format = "json"
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("LOG_FORMAT", "must be json or text, not %q", c.Log.Format)
	}

	if len(problems) > 0 {
		return c, errors.New("configuration is invalid:\n  " + strings.Join(problems, "\n  "))
	}
	return c, nil
}

// checkSMTPURL accepts smtp:// and smtps:// URLs with a host, an optional
// port and an optional starttls=required|opportunistic|off.
func checkSMTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("must be a URL such as smtp://user:pass@mail.example.com:587")
	case u.Scheme != "smtp" && u.Scheme != "smtps":
		return fmt.Errorf("must start with smtp:// or smtps://, not %q", u.Scheme+"://")
	case u.Hostname() == "":
		return errors.New("must name the mail server's host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port must be 1 to 65535, not %q", p)
		}
	}
	switch v := u.Query().Get("starttls"); v {
	case "", "required", "opportunistic", "off":
	default:
		return fmt.Errorf("starttls must be required, opportunistic or off, not %q", v)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseConsoleUsers reads "name:bcrypt-hash,name:bcrypt-hash" (make a hash
// with `htpasswd -nbBC 12 name password`, or any bcrypt tool).
func parseConsoleUsers(s string) ([]ConsoleUser, error) {
	var users []ConsoleUser
	seen := map[string]bool{}
	for _, entry := range splitList(s) {
		name, hash, ok := strings.Cut(entry, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("each entry must be name:bcrypt-hash, not %q", entry)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s is listed twice", name)
		}
		seen[name] = true
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("the password of %s must be a bcrypt hash ($2a$, $2b$ or $2y$…): %v", name, err)
		}
		users = append(users, ConsoleUser{Name: name, Hash: hash})
	}
	return users, nil
}

// parseKey accepts 32 bytes written as base64 (44 characters) or hex (64).
func parseKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("must be 32 random bytes as base64 (44 characters) or hex (64 characters)")
}

// Masked returns the settings as name=value lines with secrets hidden, for
// printing at start-up.
func (c Config) Masked() []string {
	mask := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "****"
	}
	return []string{
		"APP_ENV=" + c.Env,
		"HTTP_ADDR=" + c.HTTP.Addr,
		"APP_URL=" + c.HTTP.AppURL,
		"DATABASE_URL=" + redactURL(c.Database.URL),
		"REDIS_URL=" + redactURL(c.Redis.URL),
		"SHOPIFY_API_KEY=" + c.Shopify.APIKey,
		"SHOPIFY_API_SECRET=" + mask(c.Shopify.APISecret),
		"SHOPIFY_API_SECRET_PREVIOUS=" + mask(c.Shopify.PreviousAPISecret),
		"SHOPIFY_SCOPES=" + strings.Join(c.Shopify.Scopes, ","),
		"ENCRYPTION_KEY=" + mask(string(c.EncryptionKey)),
		"ENCRYPTION_KEY_PREVIOUS=" + mask(string(c.PreviousEncryptionKey)),
		"WORKER_CONCURRENCY=" + strconv.Itoa(c.Worker.Concurrency),
		"CONSOLE_USERS=" + consoleUsers(c.Console.Users),
		"WEBHOOK_MAX_BODY_BYTES=" + strconv.FormatInt(c.HTTP.MaxWebhookBody, 10),
		"WIDGET_REQUESTS_PER_SHOP_PER_MINUTE=" + strconv.Itoa(c.HTTP.WidgetPerShopPerMinute),
		"WIDGET_REQUESTS_PER_CLIENT_PER_MINUTE=" + strconv.Itoa(c.HTTP.WidgetPerClientPerMinute),
		"MAIL_TRANSPORT=" + c.Mail.Transport,
		"SMTP_URL=" + redactURL(c.Mail.SMTPURL),
		"SMTP_FROM=" + c.Mail.From,
		"MAIL_PER_SHOP_PER_MINUTE=" + strconv.Itoa(c.Mail.PerShopPerMinute),
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// consoleUsers names the staff logins, without their hashes.
func consoleUsers(users []ConsoleUser) string {
	if len(users) == 0 {
		return "(none: console off)"
	}
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name + ":****"
	}
	return strings.Join(names, ",")
}

// unsubscribeKey derives the key that signs unsubscribe links from an
// encryption key: a key of its own, so the encryption key never signs
// anything shoppers can see.
func unsubscribeKey(encryptionKey []byte) []byte {
	m := hmac.New(sha256.New, encryptionKey)
	m.Write([]byte("loyalty unsubscribe links v1"))
	return m.Sum(nil)
}
