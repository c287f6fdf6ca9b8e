package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"loyalty/app"
)

// SMTPOptions tune the SMTP transport beyond what its URL says.
type SMTPOptions struct {
	// TLSConfig replaces the default TLS settings (tests trust their own
	// certificate with it).
	TLSConfig *tls.Config
	Timeout   time.Duration
}

// SMTP sends messages to a mail server with go-mail, one connection per
// message (the rate of loyalty mail does not call for a pool).
type SMTP struct {
	client *gomail.Client
	addr   string
}

// ParseSMTPURL checks an SMTP_URL without connecting:
//
//	smtp://user:pass@host:587   STARTTLS, required (the default)
//	smtps://user:pass@host:465  TLS from the first byte
//	smtp://host:1025?starttls=opportunistic|off
//
// STARTTLS is required unless the URL says otherwise, except on a loopback
// host (a local mail sink), where it is used when offered.
func ParseSMTPURL(raw string) (host string, port int, policy gomail.TLSPolicy, implicitTLS bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, 0, false, fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "smtp":
		port = 587
	case "smtps":
		port, implicitTLS = 465, true
	default:
		return "", 0, 0, false, fmt.Errorf("scheme must be smtp or smtps, not %q", u.Scheme)
	}
	host = u.Hostname()
	if host == "" {
		return "", 0, 0, false, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return "", 0, 0, false, fmt.Errorf("bad port %q", p)
		}
	}
	policy = gomail.TLSMandatory
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		policy = gomail.TLSOpportunistic
	}
	switch v := u.Query().Get("starttls"); v {
	case "":
	case "required":
		policy = gomail.TLSMandatory
	case "opportunistic":
		policy = gomail.TLSOpportunistic
	case "off":
		policy = gomail.NoTLS
	default:
		return "", 0, 0, false, fmt.Errorf("starttls must be required, opportunistic or off, not %q", v)
	}
	return host, port, policy, implicitTLS, nil
}

// NewSMTP returns a transport for the server at rawURL (see ParseSMTPURL);
// credentials in the URL are used with the best mechanism the server offers.
func NewSMTP(rawURL string, opt SMTPOptions) (*SMTP, error) {
	host, port, policy, implicitTLS, err := ParseSMTPURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	if opt.Timeout == 0 {
		opt.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(opt.Timeout), gomail.WithTLSPolicy(policy)}
	if implicitTLS {
		opts = append(opts, gomail.WithSSL())
	}
	if opt.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(opt.TLSConfig))
	}
	u, _ := url.Parse(rawURL)
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client: %w", err)
	}
	return &SMTP{client: c, addr: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// Send delivers one message. The server's 5xx answer to the recipient or
// the message archives it (app.ErrUndeliverable); anything else (4xx,
// network trouble, a refused login or sender, which are our own
// configuration) is retried.
func (t *SMTP) Send(ctx context.Context, out *Outgoing) error {
	err := t.client.DialAndSendWithContext(ctx, out.Msg)
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() {
		switch se.Reason {
		case gomail.ErrGetRcpts, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			if se.Reason == gomail.ErrGetRcpts || se.ErrorCode() >= 500 {
				return fmt.Errorf("%w: %w", app.ErrUndeliverable, err)
			}
		}
	}
	return fmt.Errorf("smtp %s: %w", t.addr, err)
}

// Log is the transport of local mode: it writes each message to the log
// instead of sending it, so a developer reads the mail in the app's output.
type Log struct{ log *slog.Logger }

// NewLog returns the log transport.
func NewLog(log *slog.Logger) *Log { return &Log{log: log} }

// Send writes the message to the log.
func (t *Log) Send(_ context.Context, out *Outgoing) error {
	t.log.Info("email (log transport: not sent)", "to", out.To, "subject", out.Rendered.Subject,
		"lang", out.Rendered.Lang, "unsubscribe", out.Unsubscribe, "text", strings.TrimSpace(out.Rendered.Text))
	return nil
}
