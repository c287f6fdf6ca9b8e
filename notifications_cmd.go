package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"loyalty/app"
	"loyalty/config"
	"loyalty/email"
)

// notificationsCmd shows support what was sent to whom, when, and how it
// went: every message a shop's shoppers were sent, or were not sent and why.
func notificationsCmd(ctx context.Context, args []string, out io.Writer) error {
	command, args, err := sub(args, out, "notifications list --shop DOMAIN [--customer ID] [--attempts]")
	if err != nil {
		return err
	}
	if command != "list" {
		return fmt.Errorf("unknown notifications command %q: use list", command)
	}
	fs := newFlags("notifications list", "notifications list --shop DOMAIN [--customer ID] [--attempts]", out)
	platform, domain := shopFlag(fs)
	customer := fs.String("customer", "", "only this customer's messages (the platform's customer id)")
	limit := fs.Int("limit", 50, "messages to show, newest first")
	attempts := fs.Bool("attempts", false, "list every try under each message")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *domain == "" {
		fs.Usage()
		return fmt.Errorf("--shop is required")
	}
	d, shop, err := openShop(ctx, fs, *platform, *domain)
	if err != nil {
		return err
	}
	defer d.store.Close()
	list, err := d.svc.Notifications(ctx, shop, *customer, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED\tID\tMESSAGE\tTO\tLANG\tSTATUS\tTRIES\tSENT\tDETAIL")
	for _, n := range list {
		sent := "-"
		if n.SentAt != nil {
			sent = n.SentAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.CreatedAt.Local().Format("2006-01-02 15:04:05"), n.ID,
			describeNotice(n.Notice), orDash(n.Email), email.For(n.Locale).Code, n.Status, n.Attempts, sent, orDash(n.LastError))
		if !*attempts {
			continue
		}
		tries, err := d.svc.NotificationAttempts(ctx, n.ID)
		if err != nil {
			return err
		}
		for _, a := range tries {
			fmt.Fprintf(tw, "  %s\t\ttry\t\t\t%s\t\t\t%s\n", a.At.Local().Format("2006-01-02 15:04:05"), a.Status, orDash(a.Detail))
		}
	}
	return tw.Flush()
}

// describeNotice says in a few words what a message was about.
func describeNotice(n app.Notice) string {
	parts := []string{string(n.Kind)}
	if n.Points != 0 {
		parts = append(parts, fmt.Sprintf("%d points", n.Points))
	}
	if n.Earned != 0 {
		parts = append(parts, fmt.Sprintf("%d points earned by the first order", n.Earned))
	}
	if n.RewardName != "" {
		parts = append(parts, n.RewardName)
	}
	if n.Code != "" {
		parts = append(parts, n.Code)
	}
	if !n.On.IsZero() {
		parts = append(parts, n.On.UTC().Format("2006-01-02"))
	}
	return strings.Join(parts, " ")
}

// newMailer builds the mail sender the configuration asks for: SMTP, or in
// local mode the log transport, which writes every message to the log.
func newMailer(cfg config.Config, log *slog.Logger) (*email.Sender, error) {
	var tr email.Transport
	switch cfg.Mail.Transport {
	case "smtp":
		smtp, err := email.NewSMTP(cfg.Mail.SMTPURL, email.SMTPOptions{})
		if err != nil {
			return nil, err
		}
		tr = smtp
	default:
		tr = email.NewLog(log.With("component", "mail"))
	}
	return email.NewSender(tr, cfg.Mail.From, cfg.HTTP.AppURL, cfg.Mail.UnsubscribeKey)
}
