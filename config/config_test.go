package config

import (
	"strings"
	"testing"
)

func fromMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var goodProduction = map[string]string{
	"APP_ENV":            "production",
	"APP_URL":            "https://loyalty.example.com",
	"DATABASE_URL":       "postgres://u:p@db:5432/loyalty",
	"REDIS_URL":          "redis://redis:6379/0",
	"SHOPIFY_API_KEY":    "key",
	"SHOPIFY_API_SECRET": "real-secret",
	"ENCRYPTION_KEY":     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	"SMTP_URL":           "smtp://mailer:mail-pass@smtp.example.com:587",
	"SMTP_FROM":          "rewards@example.com",
}

func TestDevelopmentNeedsNoEnvironment(t *testing.T) {
	c, err := load(fromMap(nil))
	if err != nil {
		t.Fatalf("load with no environment: %v", err)
	}
	if c.Production() || c.Database.URL != devDatabaseURL || len(c.EncryptionKey) != 32 || c.Shopify.APISecret == "" {
		t.Fatalf("config = %+v", c)
	}
	// A shop's sale day must not hit the widget's limit: 2,000 reads a second.
	if c.HTTP.WidgetPerShopPerMinute != 120000 || c.HTTP.WidgetPerClientPerMinute != 120 {
		t.Fatalf("widget limits = %d a shop, %d a client, per minute", c.HTTP.WidgetPerShopPerMinute, c.HTTP.WidgetPerClientPerMinute)
	}
}

func TestProductionAcceptsAFullEnvironment(t *testing.T) {
	c, err := load(fromMap(goodProduction))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.Log.Format != "json" {
		t.Errorf("production logs should default to json, got %s", c.Log.Format)
	}
}

func TestProductionNamesTheVariableThatIsWrong(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"missing database", "DATABASE_URL", "", "DATABASE_URL: is required in production"},
		{"missing secret", "SHOPIFY_API_SECRET", "", "SHOPIFY_API_SECRET: is required"},
		{"demo secret", "SHOPIFY_API_SECRET", devShopifySecret, "SHOPIFY_API_SECRET: is the public demo secret"},
		{"short key", "ENCRYPTION_KEY", "abcd", "ENCRYPTION_KEY: must be 32 random bytes"},
		{"dev key", "ENCRYPTION_KEY", devEncryptionKey, "ENCRYPTION_KEY: is the public development key"},
		{"plain http app url", "APP_URL", "http://x.example.com", "APP_URL: must be https"},
		{"redis url that is not redis", "REDIS_URL", "http://redis", "REDIS_URL: must be a redis://"},
		{"bad concurrency", "WORKER_CONCURRENCY", "many", "WORKER_CONCURRENCY: must be a whole number"},
		{"bad log level", "LOG_LEVEL", "loud", "LOG_LEVEL: must be debug"},
		{"widget limit too low for a shop", "WIDGET_REQUESTS_PER_SHOP_PER_MINUTE", "10", "WIDGET_REQUESTS_PER_SHOP_PER_MINUTE: must be a whole number from 60"},
		{"widget limit per client that is not a number", "WIDGET_REQUESTS_PER_CLIENT_PER_MINUTE", "lots", "WIDGET_REQUESTS_PER_CLIENT_PER_MINUTE: must be a whole number"},
		{"no mail server", "SMTP_URL", "", "SMTP_URL: is required in production"},
		{"mail server url that is not smtp", "SMTP_URL", "https://smtp.example.com", "SMTP_URL: must start with smtp://"},
		{"mail server url without a host", "SMTP_URL", "smtp://", "SMTP_URL: must name the mail server's host"},
		{"unknown starttls policy", "SMTP_URL", "smtp://smtp.example.com?starttls=maybe", "SMTP_URL: starttls must be"},
		{"sender that is not an address", "SMTP_FROM", "rewards", "SMTP_FROM: must be a plain email address"},
		{"unknown mail transport", "MAIL_TRANSPORT", "pigeon", "MAIL_TRANSPORT: must be smtp or log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range goodProduction {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := load(fromMap(env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMaskedHidesSecrets(t *testing.T) {
	c, _ := load(fromMap(goodProduction))
	all := strings.Join(c.Masked(), "\n")
	for _, secret := range []string{"real-secret", ":p@", "00112233", "mail-pass"} {
		if strings.Contains(all, secret) {
			t.Errorf("masked config shows %q:\n%s", secret, all)
		}
	}
}

func TestMailTransport(t *testing.T) {
	t.Run("local mode writes mail to the log", func(t *testing.T) {
		c, err := load(fromMap(nil))
		if err != nil || c.Mail.Transport != "log" || len(c.Mail.UnsubscribeKey) != 32 {
			t.Fatalf("mail = %+v, %v", c.Mail, err)
		}
	})
	t.Run("production may choose the log transport explicitly", func(t *testing.T) {
		env := map[string]string{"MAIL_TRANSPORT": "log", "SMTP_URL": ""}
		for k, v := range goodProduction {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
		if c, err := load(fromMap(env)); err != nil || c.Mail.Transport != "log" {
			t.Fatalf("mail = %+v, %v", c.Mail, err)
		}
	})
	t.Run("a URL selects SMTP and the unsubscribe key is not the encryption key", func(t *testing.T) {
		c, err := load(fromMap(goodProduction))
		if err != nil || c.Mail.Transport != "smtp" || string(c.Mail.UnsubscribeKey) == string(c.EncryptionKey) {
			t.Fatalf("mail = %+v, %v", c.Mail, err)
		}
	})
}
