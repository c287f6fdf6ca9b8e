package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MessageKind is which message a shopper is sent.
type MessageKind string

// The messages a shop sends. Each can be switched off in Program.Messages.
const (
	MessageWelcome  MessageKind = "welcome"
	MessageEarned   MessageKind = "earned"
	MessageRedeemed MessageKind = "redeemed"
	MessageExpiring MessageKind = "expiring"
	MessageBirthday MessageKind = "birthday"
)

// MessageKinds lists every kind of message, in the order support reads them.
var MessageKinds = []MessageKind{MessageWelcome, MessageEarned, MessageRedeemed, MessageExpiring, MessageBirthday}

// Valid reports whether k is a message the app knows how to write.
func (k MessageKind) Valid() bool {
	for _, m := range MessageKinds {
		if k == m {
			return true
		}
	}
	return false
}

// On reports whether the shop's switches let this kind of message go out.
func (m Messages) On(k MessageKind) bool {
	switch k {
	case MessageWelcome:
		return m.Welcome
	case MessageEarned:
		return m.Earned
	case MessageRedeemed:
		return m.Redeemed
	case MessageExpiring:
		return m.Expiring
	case MessageBirthday:
		return m.Birthday
	}
	return false
}

// Notice asks for one message to a shopper. It carries what the message
// says; who it goes to, in which language and with which look is settled
// when it is recorded and sent.
type Notice struct {
	Kind       MessageKind
	CustomerID int64 // internal customer id
	Points     int64 // earned / expiring / bonus points, when it applies
	// Earned is, in a welcome, what the order the shopper joined with
	// earned: the welcome tells of it instead of a second message.
	Earned     int64
	Code       string // redeemed: the reward code
	RewardName string
	On         time.Time // expiring: the day points expire
	// Key makes the notice once-only: the same key never sends twice, e.g.
	// "expiring:<lot id>:14", "earned:<entry id>", "birthday:<customer>:<year>",
	// "welcome:<customer>".
	Key string
}

// NotificationStatus is where a recorded message is in its life.
type NotificationStatus string

// Notification statuses. Queued messages are waiting for (another) try;
// the others are final.
const (
	NotificationQueued NotificationStatus = "queued"
	NotificationSent   NotificationStatus = "sent"
	// NotificationFailed: temporary trouble outlasted every retry.
	NotificationFailed NotificationStatus = "failed"
	// NotificationArchived: the mail server refused it for good (a bad
	// address, a rejected recipient); it is kept for support, never retried.
	NotificationArchived NotificationStatus = "archived"
	// NotificationSkipped: it was never to be sent (switched off by the
	// merchant, the shopper unsubscribed, no email address).
	NotificationSkipped NotificationStatus = "skipped"
)

// Notification is a notice as recorded: the outbox row and, for support,
// what was sent to whom, when, and how it went.
type Notification struct {
	ID         int64
	ShopID     int64
	CustomerID int64
	Notice     Notice
	// Email and Locale are the customer's at the time the notice was made.
	Email     string
	Locale    string
	Status    NotificationStatus
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}

// NotificationAttempt is one try at sending a notification, or the
// decision not to.
type NotificationAttempt struct {
	NotificationID int64
	At             time.Time
	Status         NotificationStatus // the status the attempt left it in
	Detail         string
}

// NotificationStore keeps notifications, their attempts and who
// unsubscribed.
type NotificationStore interface {
	// AddNotification records a notification, or reports false and the
	// earlier one when the shop already has one with the same key.
	AddNotification(ctx context.Context, n Notification) (Notification, bool, error)
	// AddNotifications records several notifications at once, each once
	// per shop and key, and returns the ones it added.
	AddNotifications(ctx context.Context, ns []Notification) ([]Notification, error)
	// Notification returns a notification with its shop.
	Notification(ctx context.Context, id int64) (Shop, Notification, error)
	// RecordAttempt appends an attempt and moves the notification to the
	// attempt's status, counting tries that reached the mail server.
	RecordAttempt(ctx context.Context, a NotificationAttempt) error
	// QueuedNotifications lists notifications still queued that were made
	// before the given time, after the id afterID, in id order, with their
	// shops.
	QueuedNotifications(ctx context.Context, before time.Time, afterID int64, limit int) ([]Shop, []Notification, error)
	// Notifications lists a shop's latest notifications, of one customer
	// when customerID is not 0.
	Notifications(ctx context.Context, shopID, customerID int64, limit int) ([]Notification, error)
	NotificationAttempts(ctx context.Context, notificationID int64) ([]NotificationAttempt, error)
	// Unsubscribe stops all messages to a customer; it keeps the first date.
	Unsubscribe(ctx context.Context, shopID, customerID int64, at time.Time) error
	// Unsubscribed returns when a customer unsubscribed, or nil.
	Unsubscribed(ctx context.Context, shopID, customerID int64) (*time.Time, error)
	ShopByID(ctx context.Context, shopID int64) (Shop, error)
	// ExpiringByDay sums, per customer and day (UTC), the points of a
	// shop's lots that still hold points and expire after from and before
	// until.
	ExpiringByDay(ctx context.Context, shopID int64, from, until time.Time) ([]ExpiringDay, error)
	// InactiveByDay sums, per customer, the points of a shop's customers
	// whose whole balance expires by inactivity after from and before
	// until, with the day (UTC) it expires.
	InactiveByDay(ctx context.Context, shopID int64, from, until time.Time) ([]ExpiringDay, error)
}

// ExpiringDay is what one customer has expiring on one day.
type ExpiringDay struct {
	CustomerID int64
	Day        time.Time // midnight UTC
	Points     int64
}

// NoticeQueue hands recorded notifications of one shop to the workers that
// send them: several at once, as a batch of orders records them. It may
// fail (Redis down): the notifications stay queued in the database and the
// outbox sweep hands them over later.
type NoticeQueue interface {
	QueueNotices(ctx context.Context, shop Shop, ns []Notification) error
}

// Mail is everything a message needs to be written and sent.
type Mail struct {
	Notification Notification
	Shop         Shop
	Customer     Customer
	Look         WidgetLook
	// Locale is the shop's language, for shoppers whose own is unknown or
	// not one the app speaks.
	Locale string
}

// Mailer writes and sends messages. It wraps ErrUndeliverable around
// refusals no retry will fix.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// ErrUndeliverable marks a message the mail server refused for good.
var ErrUndeliverable = errors.New("undeliverable")

// WithNoticeQueue makes Notify hand new notifications to q at once.
// Without one they wait for the outbox sweep.
func (s *Service) WithNoticeQueue(q NoticeQueue) *Service {
	s.notices = q
	return s
}

// Skip reasons recorded on notifications that are not sent.
const (
	skipSwitchedOff = "the shop does not send this message"
	skipUnsub       = "the shopper unsubscribed"
	skipNoEmail     = "the shopper has no email address"
	skipInactive    = "the shop is not active"
)

// Notify records a message to a customer once per key and queues it. It
// reports false when nothing is to be sent: the key was used before, the
// shop switched this message off, the customer unsubscribed or has no
// email address (those are recorded as skipped, so support can see why).
// Callers call it after their own work committed; a failure here never
// undoes theirs, and calling again with the same key is always safe.
func (s *Service) Notify(ctx context.Context, shop Shop, n Notice) (queued bool, err error) {
	row, added, err := s.notify(ctx, shop, n)
	return added && row.Status == NotificationQueued, err
}

// notify is Notify, returning the notification recorded for the key and
// whether this call recorded it.
func (s *Service) notify(ctx context.Context, shop Shop, n Notice) (Notification, bool, error) {
	n.Key = strings.TrimSpace(n.Key)
	switch {
	case !n.Kind.Valid():
		return Notification{}, false, Errorf(EInvalid, "unknown message kind %q", n.Kind)
	case n.Key == "":
		return Notification{}, false, Errorf(EInvalid, "a notice needs a key")
	case n.CustomerID == 0:
		return Notification{}, false, Errorf(EInvalid, "a notice needs a customer")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Notification{}, false, fmt.Errorf("notify %s: %w", n.Key, err)
	}
	c, err := s.store.CustomerByID(ctx, shop.ID, n.CustomerID)
	if err != nil {
		return Notification{}, false, fmt.Errorf("notify %s: %w", n.Key, err)
	}
	return s.record(ctx, shop, prog, c, n)
}

// record is notify with the program and customer read: a caller with
// several notices for one customer reads them once.
func (s *Service) record(ctx context.Context, shop Shop, prog Program, c Customer, n Notice) (Notification, bool, error) {
	skip := whyNotSend(shop, prog, c, n.Kind)
	row := Notification{ShopID: shop.ID, CustomerID: c.ID, Notice: n, Email: c.Email, Locale: c.Locale,
		Status: NotificationQueued, LastError: skip, CreatedAt: s.now()}
	if skip != "" {
		row.Status = NotificationSkipped
	}
	row, added, err := s.store.AddNotification(ctx, row)
	if err != nil {
		return Notification{}, false, fmt.Errorf("notify %s: %w", n.Key, err)
	}
	if !added || row.Status != NotificationQueued {
		return row, added, nil
	}
	if s.notices != nil {
		// The row is the outbox: if the queue is down, the sweep sends it.
		_ = s.notices.QueueNotices(ctx, shop, []Notification{row})
	}
	return row, true, nil
}

// whyNotSend says why a message must not go out, or "" when it may.
func whyNotSend(shop Shop, prog Program, c Customer, kind MessageKind) string {
	switch {
	case !shop.Active():
		return skipInactive
	case !prog.Messages.On(kind):
		return skipSwitchedOff
	case strings.TrimSpace(c.Email) == "":
		return skipNoEmail
	case c.UnsubscribedAt != nil:
		return skipUnsub
	}
	return ""
}

// DeliverNotice sends a queued notification and records the attempt. The
// rules are checked again at sending time (the merchant or the shopper may
// have changed their mind since). A temporary failure is returned so the
// caller retries, and recorded as failed for good when lastTry; a refusal
// for good archives the notification and returns nil. A notification no
// longer queued is left alone, so running it twice sends once.
func (s *Service) DeliverNotice(ctx context.Context, id int64, mailer Mailer, lastTry bool) (Notification, error) {
	shop, n, err := s.store.Notification(ctx, id)
	if err != nil {
		return Notification{}, err
	}
	if n.Status != NotificationQueued {
		return n, nil
	}
	record := func(status NotificationStatus, detail string) (Notification, error) {
		n.Status, n.LastError = status, detail
		return n, s.store.RecordAttempt(ctx, NotificationAttempt{NotificationID: n.ID, At: s.now(), Status: status, Detail: detail})
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return n, err
	}
	c, err := s.store.CustomerByID(ctx, shop.ID, n.CustomerID)
	if err != nil {
		return n, err
	}
	skip := whyNotSend(shop, prog, c, n.Notice.Kind)
	if skip == "" && strings.TrimSpace(n.Email) == "" {
		skip = skipNoEmail
	}
	if skip != "" {
		return record(NotificationSkipped, skip)
	}
	err = mailer.Send(ctx, Mail{Notification: n, Shop: shop, Customer: c, Look: prog.Look, Locale: prog.Locale})
	switch {
	case err == nil:
		return record(NotificationSent, "accepted by the mail server")
	case errors.Is(err, ErrUndeliverable):
		return record(NotificationArchived, err.Error())
	case lastTry:
		return record(NotificationFailed, "gave up after retries: "+err.Error())
	}
	if _, rerr := record(NotificationQueued, err.Error()); rerr != nil {
		return n, errors.Join(err, rerr)
	}
	return n, err
}

// QueuedNotifications lists notifications waiting to be sent that were made
// before the given time, for the outbox sweep, a page after afterID at a time.
func (s *Service) QueuedNotifications(ctx context.Context, before time.Time, afterID int64, limit int) ([]Shop, []Notification, error) {
	return s.store.QueuedNotifications(ctx, before, afterID, limit)
}

// Notification returns a recorded notification with its shop.
func (s *Service) Notification(ctx context.Context, id int64) (Shop, Notification, error) {
	return s.store.Notification(ctx, id)
}

// joinedRecently is how new a customer who earns on their first order must
// be to be welcomed then: a shopper who was already here before the app
// sent messages is not welcomed out of the blue.
const joinedRecently = 24 * time.Hour

// NotifyOutcome sends the messages an applied event calls for: a welcome to
// a shopper who just joined (the signup bonus, or points from a first
// order) and points earned for each earn entry. The keys make it safe to
// call again for the same outcome.
func (s *Service) NotifyOutcome(ctx context.Context, shop Shop, out Outcome) error {
	return s.NotifyOutcomes(ctx, shop, []Outcome{out})
}

// NotifyOutcomes is NotifyOutcome for the outcomes of several events of a
// shop, such as a batch of paid orders: their messages are recorded with
// one statement, then queued.
func (s *Service) NotifyOutcomes(ctx context.Context, shop Shop, outs []Outcome) error {
	rows, err := s.messagesFor(ctx, shop, outs)
	added, aerr := s.store.AddNotifications(ctx, rows)
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("record messages: %w", aerr))
	}
	queueMessages(ctx, s.notices, shop, added)
	return err
}

// queueMessages hands recorded messages to the workers through q (nil:
// none, the outbox sweep sends them). The rows are the outbox: if the
// queue is down, the sweep sends them.
func queueMessages(ctx context.Context, q NoticeQueue, shop Shop, added []Notification) {
	if q == nil {
		return
	}
	var queued []Notification
	for _, row := range added {
		if row.Status == NotificationQueued {
			queued = append(queued, row)
		}
	}
	if len(queued) > 0 {
		_ = q.QueueNotices(ctx, shop, queued)
	}
}

// messagesFor builds the messages outcomes call for: a welcome to a
// shopper who just joined (the signup bonus, or points from a first order)
// and points earned for each earn entry. It reads one program and each
// customer once, and none that applying the events read already. The
// messages it could build come back with the error of those it could not.
func (s *Service) messagesFor(ctx context.Context, shop Shop, outs []Outcome) ([]Notification, error) {
	customers := map[int64]Customer{}
	var prog *Program
	var rows []Notification
	var errs []error
	add := func(c Customer, n Notice) {
		skip := whyNotSend(shop, *prog, c, n.Kind)
		row := Notification{ShopID: shop.ID, CustomerID: c.ID, Notice: n, Email: c.Email, Locale: c.Locale,
			Status: NotificationQueued, LastError: skip, CreatedAt: s.now()}
		if skip != "" {
			row.Status = NotificationSkipped
		}
		rows = append(rows, row)
	}
	for _, out := range outs {
		var notices []Notice
		for _, e := range out.Entries {
			switch {
			case e.Kind == KindBonus && strings.HasSuffix(e.IdempotencyKey, ":signup"):
				notices = append(notices, welcome(e.CustomerID, e.Points))
			case e.Kind == KindEarn:
				notices = append(notices, Notice{Kind: MessageEarned, CustomerID: e.CustomerID, Points: e.Points,
					Key: fmt.Sprintf("earned:%d", e.ID)})
			}
		}
		if len(notices) == 0 {
			continue
		}
		if out.seen != nil {
			if prog == nil {
				p := out.seen.program
				prog = &p
			}
			c := out.seen.customer
			if _, known := customers[c.ID]; !known {
				customers[c.ID] = c
				notices = s.firstOrder(*prog, c, notices)
			}
		} else if prog == nil {
			p, err := s.store.Program(ctx, shop.ID)
			if err != nil {
				return rows, errors.Join(append(errs, err)...)
			}
			prog = &p
		}
		for _, n := range notices {
			c, ok := customers[n.CustomerID]
			if !ok {
				var err error
				if c, err = s.store.CustomerByID(ctx, shop.ID, n.CustomerID); err != nil {
					errs = append(errs, err)
					continue
				}
				customers[n.CustomerID] = c
				// Points from a first order welcome a shopper who just joined.
				if n.Kind == MessageEarned && s.now().Sub(c.CreatedAt) < joinedRecently {
					add(c, welcome(c.ID, 0))
				}
			}
			add(c, n)
		}
	}
	return rows, errors.Join(errs...)
}

// firstOrder welcomes a shopper whose first order earned the notices'
// points, if they joined recently. One who joined with the order (so was
// sent nothing yet) gets one message, the welcome telling what the order
// earned, instead of two at the same moment; one who joined before (a
// welcome may be on its way) or whose merchant switched welcomes off gets
// the earned message, after a welcome that is sent only if none was.
func (s *Service) firstOrder(prog Program, c Customer, notices []Notice) []Notice {
	n := notices[0]
	switch {
	case n.Kind != MessageEarned || n.CustomerID != c.ID || s.now().Sub(c.CreatedAt) >= joinedRecently:
		return notices
	case c.New && prog.Messages.On(MessageWelcome):
		w := welcome(c.ID, 0)
		w.Earned = n.Points
		return append([]Notice{w}, notices[1:]...)
	}
	return append([]Notice{welcome(c.ID, 0)}, notices...)
}

// welcome is the welcome notice of a customer, once per customer.
func welcome(customerID, points int64) Notice {
	return Notice{Kind: MessageWelcome, CustomerID: customerID, Points: points, Key: fmt.Sprintf("welcome:%d", customerID)}
}

// NotifyWelcome welcomes a customer to the program once, with the points
// they joined with (0: none).
func (s *Service) NotifyWelcome(ctx context.Context, shop Shop, customerID, points int64) error {
	_, err := s.Notify(ctx, shop, welcome(customerID, points))
	return err
}

// WarnExpiring warns shoppers whose points expire soon, once per customer,
// day and threshold of the shop's WarnDays: lots that reach their expiry
// date, and whole balances that expire by inactivity (a warning names the
// day; activity since moves the day, and the new day is warned about
// again). A threshold of N days covers
// points expiring in more days than the next smaller threshold and at most
// N days: so a run that was missed (the workers were down that day) is
// caught up by the next one, and each day's points are warned about once
// per threshold as the day comes closer. It returns how many warnings it
// queued.
func (s *Service) WarnExpiring(ctx context.Context) (int, error) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	shops, err := s.store.Shops(ctx)
	if err != nil {
		return 0, err
	}
	queued := 0
	var errs []error
	for _, shop := range shops {
		if !shop.Active() {
			continue
		}
		prog, err := s.store.Program(ctx, shop.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Lots keep the expiry date they were earned with, whatever the
		// program says now: they are always looked at.
		if !prog.Messages.Expiring || len(prog.WarnDays) == 0 {
			continue
		}
		days := slices.Clone(prog.WarnDays)
		slices.Sort(days)
		days = slices.Compact(days)
		for i, n := range days {
			from := now
			if i > 0 {
				from = today.AddDate(0, 0, days[i-1]+1)
			}
			until := today.AddDate(0, 0, n+1)
			due, err := s.store.ExpiringByDay(ctx, shop.ID, from, until)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			keyed := make([]string, len(due))
			for i, d := range due {
				keyed[i] = fmt.Sprintf("expiring:%d:%s:%d", d.CustomerID, d.Day.Format(time.DateOnly), n)
			}
			if prog.InactivityMonths > 0 {
				idle, err := s.store.InactiveByDay(ctx, shop.ID, from, until)
				if err != nil {
					errs = append(errs, err)
				}
				for _, d := range idle {
					due = append(due, d)
					keyed = append(keyed, fmt.Sprintf("expiring:inactive:%d:%s:%d", d.CustomerID, d.Day.Format(time.DateOnly), n))
				}
			}
			for i, d := range due {
				ok, err := s.Notify(ctx, shop, Notice{Kind: MessageExpiring, CustomerID: d.CustomerID, Points: d.Points, On: d.Day,
					Key: keyed[i]})
				if ok {
					queued++
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return queued, errors.Join(errs...)
}

// Notifications lists a shop's latest notifications for support, of one
// customer (by platform id) when customerID is not empty.
func (s *Service) Notifications(ctx context.Context, shop Shop, customerID string, limit int) ([]Notification, error) {
	var id int64
	if customerID != "" {
		c, err := s.store.CustomerByPlatformID(ctx, shop.ID, customerID)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.Notifications(ctx, shop.ID, id, limit)
}

// NotificationAttempts lists every try at sending a notification, oldest first.
func (s *Service) NotificationAttempts(ctx context.Context, id int64) ([]NotificationAttempt, error) {
	return s.store.NotificationAttempts(ctx, id)
}

// Unsubscribe stops every message of a shop to one of its customers.
func (s *Service) Unsubscribe(ctx context.Context, shopID, customerID int64) error {
	return s.store.Unsubscribe(ctx, shopID, customerID, s.now())
}

// unsubscribeVersion leads every unsubscribe token, so a new scheme can be
// introduced while links already in inboxes keep working.
const unsubscribeVersion = "1"

// UnsubscribeToken signs a shop and one of its customers for the link in
// every message. Tokens do not expire: a link in an old message must still
// work.
func UnsubscribeToken(key []byte, shopID, customerID int64) string {
	ids := strconv.FormatInt(shopID, 36) + "." + strconv.FormatInt(customerID, 36)
	return unsubscribeVersion + "." + ids + "." + unsubscribeMAC(key, ids)
}

// ParseUnsubscribeToken checks a token's signature and returns the shop and
// customer it names.
func ParseUnsubscribeToken(key []byte, token string) (shopID, customerID int64, err error) {
	invalid := Errorf(EInvalid, "this unsubscribe link is not valid")
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != unsubscribeVersion {
		return 0, 0, invalid
	}
	ids := parts[1] + "." + parts[2]
	if !hmac.Equal([]byte(parts[3]), []byte(unsubscribeMAC(key, ids))) {
		return 0, 0, invalid
	}
	shopID, err1 := strconv.ParseInt(parts[1], 36, 64)
	customerID, err2 := strconv.ParseInt(parts[2], 36, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, invalid
	}
	return shopID, customerID, nil
}

func unsubscribeMAC(key []byte, ids string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("unsubscribe:" + unsubscribeVersion + ":" + ids))
	// 128 bits are plenty against forgery and keep the link short.
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Recipient returns a shop and one of its customers, for the unsubscribe
// page, with when the customer unsubscribed (nil: still subscribed).
func (s *Service) Recipient(ctx context.Context, shopID, customerID int64) (Shop, Customer, *time.Time, error) {
	shop, err := s.store.ShopByID(ctx, shopID)
	if err != nil {
		return Shop{}, Customer{}, nil, err
	}
	c, err := s.store.CustomerByID(ctx, shopID, customerID)
	if err != nil {
		return Shop{}, Customer{}, nil, err
	}
	at, err := s.store.Unsubscribed(ctx, shopID, customerID)
	return shop, c, at, err
}
