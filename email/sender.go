package email

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"loyalty/app"
)

// Outgoing is a message ready for a transport: the MIME message, and the
// rendered parts for transports that show rather than send it.
type Outgoing struct {
	Msg         *gomail.Msg
	To          string
	Rendered    Message
	Unsubscribe string // the unsubscribe link
}

// Transport delivers a message. It wraps app.ErrUndeliverable around
// refusals no retry will fix.
type Transport interface {
	Send(ctx context.Context, out *Outgoing) error
}

// Sender writes notifications and hands them to a transport. It is the
// app's Mailer.
type Sender struct {
	transport Transport
	from      string
	appURL    string
	host      string
	key       []byte
}

var _ app.Mailer = (*Sender)(nil)

// NewSender returns a sender that mails from the address from (the shop's
// name is shown with it), links to appURL and signs unsubscribe links with
// key.
func NewSender(t Transport, from, appURL string, key []byte) (*Sender, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender address %q: %w", from, err)
	}
	u, err := url.Parse(appURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("app URL %q is not absolute", appURL)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("unsubscribe key must have at least 16 bytes")
	}
	return &Sender{transport: t, from: addr.Address, appURL: strings.TrimRight(appURL, "/"), host: u.Hostname(), key: key}, nil
}

// UnsubscribeURL is the signed link that unsubscribes a shop's customer.
func (s *Sender) UnsubscribeURL(shopID, customerID int64) string {
	return s.appURL + "/unsubscribe?t=" + url.QueryEscape(app.UnsubscribeToken(s.key, shopID, customerID))
}

// Send renders a notification and delivers it.
func (s *Sender) Send(ctx context.Context, m app.Mail) error {
	n := m.Notification
	unsub := s.UnsubscribeURL(m.Shop.ID, n.CustomerID)
	r, err := Render(m, unsub)
	if err != nil {
		return err
	}
	msg := gomail.NewMsg()
	shopName := m.Shop.Name
	if shopName == "" {
		shopName = m.Shop.Domain
	}
	if err := msg.FromFormat(shopName, s.from); err != nil {
		return fmt.Errorf("sender address: %w", err)
	}
	if err := msg.To(n.Email); err != nil {
		return fmt.Errorf("%w: recipient %q: %w", app.ErrUndeliverable, n.Email, err)
	}
	msg.Subject(r.Subject)
	// The same notification always has the same id, so a message resent
	// after a lost answer from the server can be recognised as a copy.
	msg.SetMessageIDWithValue(fmt.Sprintf("notification-%d@%s", n.ID, s.host))
	msg.SetDate()
	// RFC 8058 one-click unsubscribe: mail clients POST to the link.
	msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+unsub+">")
	msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderContentLang, r.Lang)
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return s.transport.Send(ctx, &Outgoing{Msg: msg, To: n.Email, Rendered: r, Unsubscribe: unsub})
}
