package app

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Platform names the commerce platform a shop runs on.
type Platform string

// Platforms the app integrates with.
const (
	Shopify     Platform = "shopify"
	WooCommerce Platform = "woocommerce"
)

// Valid reports whether p is a platform the app supports.
func (p Platform) Valid() bool { return p == Shopify || p == WooCommerce }

// ShopStatus is where a shop is in its life with the app.
type ShopStatus string

// Shop statuses. An uninstalled shop keeps its data until the platform asks
// for it to be erased, but earns nothing and its webhooks are dropped, except
// the privacy requests, which must still be answered.
const (
	ShopActive      ShopStatus = "active"
	ShopUninstalled ShopStatus = "uninstalled"
)

// Shop is one merchant's store.
type Shop struct {
	ID       int64
	Platform Platform
	// Domain identifies the shop on its platform: the myshopify.com domain
	// for Shopify, the site host for WooCommerce.
	Domain    string
	Name      string
	Currency  string
	Status    ShopStatus
	CreatedAt time.Time
}

// Active reports whether the shop's events should still change points.
func (s Shop) Active() bool { return s.Status == ShopActive }

// Program is a shop's loyalty rules. A zero Program earns nothing; use
// DefaultProgram for a new shop.
type Program struct {
	ShopID int64
	// EarnRate is points per whole unit of the shop's currency.
	EarnRate       Rate
	EarnOnShipping bool
	EarnOnTax      bool
	SignupBonus    int64
	Rounding       Rounding
	// AllowNegative lets a reversal take a balance below zero. When false the
	// part that cannot be taken back is recorded on the entry as unrecovered.
	AllowNegative bool
	// PendingDays holds earned points as pending for a return window before
	// they can be spent; 0 makes them available at once.
	PendingDays int
	// ExpiryDays makes each earned lot expire that many days after it was
	// earned; 0 means points never expire.
	ExpiryDays int
	// RestoreExpiredCodes gives back the points of a reward code that
	// expires unused.
	RestoreExpiredCodes bool
	// RestoreOnRefund gives back the points spent on a reward when the
	// order that used it is refunded or cancelled.
	RestoreOnRefund bool
	// RewardPartEarns lets the part of an order paid with a reward earn
	// points too.
	RewardPartEarns bool
	// BirthdayBonus is given once a year on a shopper's birthday; 0 means
	// the program has none, and the widget asks no one for a birthday.
	BirthdayBonus int64
	// InactivityMonths makes the whole balance expire after that many months
	// without activity; 0 means off. A program expires points one way:
	// per lot (ExpiryDays), by inactivity, or never.
	InactivityMonths int
	// WarnDays are how many days ahead a shopper is warned that points
	// expire, once per lot and threshold.
	WarnDays []int
	// AnniversaryBonus is given once a year on the anniversary of joining.
	AnniversaryBonus int64
	// Messages says which messages the shop sends its shoppers.
	Messages Messages
	// Look is how the storefront widget presents the program.
	Look WidgetLook
	// Locale is the shop's language: messages and the widget use it when
	// the shopper's own is unknown or not one the app speaks.
	Locale string
	// AdjustLimits are the points one adjustment may move (either way)
	// without an owner's or admin's approval, per role. A role missing
	// here has DefaultAdjustLimit; roles that approve are never limited.
	AdjustLimits map[Role]int64
}

// Locales are the languages the app speaks to shoppers and merchants.
var Locales = []string{"en", "pl", "lv", "ro", "ru"}

// KnownLocale reports whether the app speaks locale.
func KnownLocale(locale string) bool {
	for _, l := range Locales {
		if l == locale {
			return true
		}
	}
	return false
}

// DefaultAdjustLimit is what a limited role may adjust without approval
// until the merchant sets otherwise.
const DefaultAdjustLimit = 1000

// AdjustLimit is how many points one adjustment by role may move without
// approval; limited is false for roles that approve adjustments.
func (p Program) AdjustLimit(r Role) (limit int64, limited bool) {
	if r.Can(ApproveAdjustments) {
		return 0, false
	}
	if n, ok := p.AdjustLimits[r]; ok {
		return n, true
	}
	return DefaultAdjustLimit, true
}

// Messages are the messages a merchant may switch off one by one.
type Messages struct {
	Welcome  bool
	Earned   bool
	Redeemed bool
	Expiring bool
	Birthday bool
}

// AllMessages sends every message.
var AllMessages = Messages{Welcome: true, Earned: true, Redeemed: true, Expiring: true, Birthday: true}

// DefaultWarnDays warn two weeks ahead and again three days ahead.
var DefaultWarnDays = []int{14, 3}

// WidgetLook is the merchant's choice of how the storefront widget looks.
type WidgetLook struct {
	// Color is the accent colour, #rrggbb in lower case.
	Color string
	// Position is where the launcher sits: bottom-right or bottom-left.
	Position string
}

// DefaultLook is the widget's look until the merchant picks one.
var DefaultLook = WidgetLook{Color: "#1f6feb", Position: "bottom-right"}

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Validate reports the first rule a look breaks.
func (l WidgetLook) Validate() error {
	if !hexColor.MatchString(l.Color) {
		return Errorf(EInvalid, "widget colour must be #rrggbb in hex, not %q", l.Color)
	}
	if l.Position != "bottom-right" && l.Position != "bottom-left" {
		return Errorf(EInvalid, "widget position must be bottom-right or bottom-left, not %q", l.Position)
	}
	return nil
}

// DefaultProgram is the program a new shop starts with: one point per unit of
// currency, on merchandise only, rounded down, available at once.
func DefaultProgram(shopID int64) Program {
	return Program{ShopID: shopID, EarnRate: Rate(AmountScale), Rounding: RoundFloor, RestoreExpiredCodes: true, Look: DefaultLook,
		WarnDays: DefaultWarnDays, Messages: AllMessages, Locale: "en", AdjustLimits: map[Role]int64{RoleSupport: DefaultAdjustLimit}}
}

// Validate reports the first rule a program breaks.
func (p Program) Validate() error {
	switch {
	case p.EarnRate < 0:
		return Errorf(EInvalid, "earn rate must not be negative")
	case p.SignupBonus < 0:
		return Errorf(EInvalid, "signup bonus must not be negative")
	case !p.Rounding.Valid():
		return Errorf(EInvalid, "rounding must be floor, nearest or ceil, not %q", p.Rounding)
	case p.PendingDays < 0 || p.PendingDays > 365:
		return Errorf(EInvalid, "pending days must be between 0 and 365")
	case p.ExpiryDays < 0 || p.ExpiryDays > 3650:
		return Errorf(EInvalid, "expiry days must be between 0 and 3650")
	case p.BirthdayBonus < 0 || p.AnniversaryBonus < 0:
		return Errorf(EInvalid, "birthday and anniversary bonuses must not be negative")
	case p.InactivityMonths < 0 || p.InactivityMonths > 120:
		return Errorf(EInvalid, "inactivity months must be between 0 and 120")
	case p.ExpiryDays > 0 && p.PendingDays >= p.ExpiryDays:
		return Errorf(EInvalid, "points must outlive their pending period: expiry days (%d) must be more than pending days (%d)", p.ExpiryDays, p.PendingDays)
	case p.InactivityMonths > 0 && p.ExpiryDays > 0:
		return Errorf(EInvalid, "points expire one way: per lot after expiry days, or by inactivity, not both")
	case len(p.WarnDays) > 5:
		return Errorf(EInvalid, "at most 5 expiry warnings")
	}
	if p.Locale != "" && !KnownLocale(p.Locale) {
		return Errorf(EInvalid, "the shop's language must be one of %s, not %q", strings.Join(Locales, ", "), p.Locale)
	}
	for r, n := range p.AdjustLimits {
		if !r.Valid() || n < 0 {
			return Errorf(EInvalid, "an adjustment limit is a role and a number of points of 0 or more, not %s: %d", r, n)
		}
	}
	for _, d := range p.WarnDays {
		if d < 1 || d > 365 {
			return Errorf(EInvalid, "an expiry warning comes 1 to 365 days ahead, not %d", d)
		}
	}
	return p.Look.Validate()
}

// Customer is a shopper of one shop, with their balance. Balance is spendable
// points; Pending is points earned but still held for the return window.
type Customer struct {
	ID         int64
	ShopID     int64
	PlatformID string // the platform's id as text: Shopify's exceed 2^53
	Email      string
	FirstName  string
	LastName   string
	Locale     string
	Balance    int64
	Pending    int64
	// Birthday is nil until the shopper (or support) gives it.
	Birthday *Birthday
	// UnsubscribedAt is when the shopper stopped all messages; nil while
	// they get them.
	UnsubscribedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// New says LockCustomer created the customer in this transaction: the
	// shopper joined with the event being applied, and nothing was sent to
	// them before.
	New bool
}

// Birthday is a day of the year: the year of birth is not ours to keep.
type Birthday struct {
	Month time.Month
	Day   int
}

// ParseBirthday reads "MM-DD" (also "--MM-DD", ISO 8601's form without a
// year) and accepts only real days; 29 February is one.
func ParseBirthday(s string) (Birthday, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "--")
	t, err := time.Parse("01-02-2006", s+"-2000") // 2000 is a leap year
	if err != nil || len(s) != 5 {
		return Birthday{}, Errorf(EInvalid, "a birthday is a month and a day as MM-DD, like 05-17, not %q", s)
	}
	return Birthday{Month: t.Month(), Day: t.Day()}, nil
}

// Valid reports whether the birthday is a real day of some year.
func (b Birthday) Valid() bool {
	return b.Month >= time.January && b.Month <= time.December && b.Day >= 1 &&
		b.Day <= time.Date(2000, b.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String is the birthday as MM-DD.
func (b Birthday) String() string { return fmt.Sprintf("%02d-%02d", int(b.Month), b.Day) }

// In is the birthday's date in a year: 29 February falls on 28 February
// when the year has none.
func (b Birthday) In(year int, loc *time.Location) time.Time {
	t := time.Date(year, b.Month, b.Day, 0, 0, 0, 0, loc)
	if t.Month() != b.Month {
		t = time.Date(year, b.Month, b.Day-1, 0, 0, 0, 0, loc)
	}
	return t
}

// CustomerRef identifies a customer as a platform event describes them. The
// details refresh the stored customer when present.
type CustomerRef struct {
	PlatformID string
	Email      string
	FirstName  string
	LastName   string
	Locale     string
}

// OrderStatus is where an order is in its life as far as points go.
type OrderStatus string

// Order statuses. An order we heard of only through a refund or cancellation
// (webhooks arrive out of order) is Unpaid until its paid event arrives.
const (
	OrderStatusUnpaid    OrderStatus = "unpaid"
	OrderStatusPaid      OrderStatus = "paid"
	OrderStatusCancelled OrderStatus = "cancelled"
	OrderStatusSkipped   OrderStatus = "skipped" // guest checkout: nobody to credit
)

// Order is what the ledger remembers of a platform order.
type Order struct {
	ID         int64
	ShopID     int64
	PlatformID string
	CustomerID int64 // 0 for a guest order
	Name       string
	Status     OrderStatus
	Currency   string
	// Eligible is the part of the order that earned points, in shop currency.
	Eligible Amount
	// EarnRate and Rounding are the program's at the time the order earned,
	// so reversals take back at the rate it was earned at.
	EarnRate      Rate
	TaxesIncluded bool
	PointsEarned  int64
	// PointsReversed is what reversals meant to take back, including any
	// part that could not be recovered from the balance.
	PointsReversed int64
	Refunded       Amount // eligible amount refunded so far
	SkipReason     string
	PaidAt         *time.Time
	CancelledAt    *time.Time
	// PlatformUpdatedAt is the platform's modification time of the last
	// whole-order state applied (see ApplyOrderState); nil for platforms
	// that send events.
	PlatformUpdatedAt *time.Time
	// Reinstated counts the times the order came back after it was
	// cancelled; each return earns, and each later cancellation
	// reverses, under keys of its own.
	Reinstated int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// New says LockOrder created the order in this transaction, so no
	// refund or cancellation refers to it yet.
	New bool
	// RewardPart is the part of Eligible that reward codes paid for,
	// counted in only when the program lets it earn. Platforms measure
	// refunds after discounts, so a refund is compared with PaidPart.
	RewardPart Amount
}

// PaidPart is the part of Eligible the shopper paid for (not with a reward
// code): what refunds, measured after discounts, add up to at most.
func (o Order) PaidPart() Amount { return o.Eligible - o.RewardPart }

// Held is what the order still holds: earned and not yet reversed.
func (o Order) Held() int64 { return o.PointsEarned - o.PointsReversed }

// EntryKind is the kind of a ledger entry.
type EntryKind string

// Ledger entry kinds.
const (
	KindEarn    EntryKind = "earn"
	KindReverse EntryKind = "reverse"
	KindAdjust  EntryKind = "adjust"
	KindRedeem  EntryKind = "redeem"
	KindExpire  EntryKind = "expire"
	KindBonus   EntryKind = "bonus"
	// KindRestore gives back points whose reward could not be delivered
	// (a code the platform refused, or one that expired unused).
	KindRestore EntryKind = "restore"
)

// Cause says who or what made a ledger entry. Exactly the fields that fit
// the cause are set: an order id, a refund id, a job name, or a staff member
// with a reason.
type Cause struct {
	OrderID  string // platform order id
	RefundID string // platform refund id
	Job      string // the job or webhook delivery that made it
	Staff    string // the staff member who made it
	Reason   string
	// ReasonCode classifies a staff adjustment, for reports.
	ReasonCode ReasonCode
	// Undoes is the id of the adjustment this entry reverses.
	Undoes int64
}

// Entry is one immutable line of the ledger.
type Entry struct {
	ID         int64
	ShopID     int64
	CustomerID int64
	Kind       EntryKind
	Points     int64
	// Unrecovered is the part of a reversal that could not be taken back
	// because the balance would have gone below zero.
	Unrecovered    int64
	BalanceAfter   int64
	PendingAfter   int64
	Cause          Cause
	IdempotencyKey string
	CreatedAt      time.Time
}

// Lot is a batch of earned points, spent oldest-first and expiring on its
// own date.
type Lot struct {
	ID          int64
	CustomerID  int64
	EntryID     int64
	Points      int64
	Remaining   int64
	EarnedAt    time.Time
	AvailableAt time.Time
	ExpiresAt   *time.Time
}

// Skipped explains why an event changed no points; it is not an error.
type Skipped string

// Reasons an event changes nothing.
const (
	SkipNone          Skipped = ""
	SkipDuplicate     Skipped = "already applied"
	SkipGuest         Skipped = "guest checkout: no customer to credit"
	SkipCancelled     Skipped = "order was cancelled"
	SkipNothingToDo   Skipped = "nothing to reverse"
	SkipZeroPoints    Skipped = "earns no points"
	SkipShopInactive  Skipped = "shop is not active"
	SkipNoSignupBonus Skipped = "program has no signup bonus"
	// SkipStale is an order state older than the one already applied.
	SkipStale Skipped = "older than the order state already applied"
	// SkipOtherCurrency is an order whose amounts are not in the shop's
	// currency, so the program's rate cannot apply to them.
	SkipOtherCurrency Skipped = "order is not in the shop's currency"
)

// Outcome is the result of applying an event to the ledger.
type Outcome struct {
	Entries []Entry
	Skipped Skipped
	// Detail says what was done when that is not ledger entries (a privacy
	// request), or which case of Skipped this was.
	Detail string

	// seen is what applying the event read, as it committed, so that
	// NotifyOutcome need not read it again after every paid order.
	seen *seenState
}

// seenState is the program and customer an event was applied with.
type seenState struct {
	program  Program
	customer Customer
}

// Points is the sum of the points of the outcome's entries.
func (o Outcome) Points() int64 {
	var n int64
	for _, e := range o.Entries {
		n += e.Points
	}
	return n
}
