package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	// Shops name their time zone; the zone database is built in so the
	// bonus job does not depend on the host having one (distroless has
	// one, a scratch image would not).
	_ "time/tzdata"
)

// YearlyBonus is a bonus given once a year on a day of the customer's.
type YearlyBonus string

// Yearly bonuses.
const (
	// BonusBirthday is Program.BirthdayBonus, on the customer's birthday.
	BonusBirthday YearlyBonus = "birthday"
	// BonusAnniversary is Program.AnniversaryBonus, on the anniversary of
	// joining (customers.created_at); the first is a year after joining.
	BonusAnniversary YearlyBonus = "anniversary"
)

// YearlyBonuses lists the yearly bonuses in the order the job grants them.
var YearlyBonuses = []YearlyBonus{BonusBirthday, BonusAnniversary}

// BonusGraceDays is how late a yearly bonus may still be given when the job
// missed the day (an outage, a deploy at midnight): the next run within a
// week catches up. Later than that a bonus is not given: "happy birthday"
// a month late is worse than none. The idempotency key is per year, so
// catching up never gives a bonus twice.
const BonusGraceDays = 7

// BonusCandidate is a customer whose day may be near, as the store picks
// them out: by month and day only, over a window a day wider either side
// than the rule's, so that every shop's time zone is covered.
type BonusCandidate struct {
	Shop     Shop
	Timezone string
	Customer Customer
}

// LedgerKey is an idempotency key of a shop's ledger.
type LedgerKey struct {
	ShopID int64
	Key    string
}

// BonusStore finds the customers due a yearly bonus.
type BonusStore interface {
	// BonusCandidates lists, in id order, up to limit customers with an id
	// above after, of active shops whose program gives the bonus, who are
	// not redacted, and whose birthday (for birthdays) or joining day in UTC
	// (for anniversaries) is day; for anniversaries only those who joined
	// before joinedBefore.
	BonusCandidates(ctx context.Context, kind YearlyBonus, day Birthday, joinedBefore time.Time, after int64, limit int) ([]BonusCandidate, error)
	// UsedKeys reports which of the keys are already in their shop's ledger.
	UsedKeys(ctx context.Context, keys []LedgerKey) (map[LedgerKey]bool, error)
	// ShopTimezone returns the IANA name of the shop's time zone.
	ShopTimezone(ctx context.Context, shopID int64) (string, error)
	SetShopTimezone(ctx context.Context, shopID int64, name string) error
}

// BonusGrant is a yearly bonus given.
type BonusGrant struct {
	Kind  YearlyBonus
	Shop  Shop
	Entry Entry
	// Day is the birthday or anniversary the bonus is for (midnight in the
	// shop's zone); its year is the year in the idempotency key.
	Day time.Time
}

// BonusKey is the idempotency key of a customer's yearly bonus for a year:
// one bonus of each kind per customer and year, whatever happens to the
// birthday in between (support correcting it does not give a second).
func BonusKey(kind YearlyBonus, customerID int64, year int) string {
	return fmt.Sprintf("%s:%d:%d", kind, customerID, year)
}

// GrantYearlyBonuses gives every bonus of kind that is due now, reading the
// candidates day by day in batches of up to batch customers, and calls
// granted after each bonus is committed (the birthday message goes out
// from there). Each bonus is its own ledger transaction, so a crash loses
// nothing and the next run carries on; running it twice, or on two workers
// at once, gives each bonus once. It returns how many it gave.
func (s *Service) GrantYearlyBonuses(ctx context.Context, kind YearlyBonus, batch int, granted func(BonusGrant)) (int, error) {
	if kind != BonusBirthday && kind != BonusAnniversary {
		return 0, Errorf(EInvalid, "no yearly bonus %q", kind)
	}
	if batch <= 0 {
		batch = 500
	}
	now := s.now()
	var joinedBefore time.Time
	if kind == BonusAnniversary {
		// A cheap bound: nobody who joined within the last 360 days has an
		// anniversary yet.
		joinedBefore = now.AddDate(0, 0, -360)
	}
	programs := map[int64]Program{}
	n := 0
	for _, day := range bonusDays(kind, now) {
		for after := int64(0); ; {
			cands, err := s.store.BonusCandidates(ctx, kind, day, joinedBefore, after, batch)
			if err != nil {
				return n, fmt.Errorf("%s bonuses: %w", kind, err)
			}
			grants, err := s.grantBatch(ctx, kind, cands, programs, now)
			for _, g := range grants {
				granted(g)
			}
			n += len(grants)
			if err != nil {
				return n, fmt.Errorf("%s bonuses: %w", kind, err)
			}
			if len(cands) < batch {
				break
			}
			after = cands[len(cands)-1].Customer.ID
		}
	}
	return n, nil
}

// grantBatch gives the candidates who are due their bonus. The rule decides
// who is due; one read of the ledger's keys then leaves out those given it
// already, so the hourly runs over a week's grace cost a query, not a
// transaction per customer.
func (s *Service) grantBatch(ctx context.Context, kind YearlyBonus, cands []BonusCandidate, programs map[int64]Program, now time.Time) ([]BonusGrant, error) {
	type due struct {
		cand BonusCandidate
		loc  *time.Location
	}
	var dues []due
	var keys []LedgerKey
	for _, c := range cands {
		loc := location(c.Timezone)
		day, ok := yearlyDay(kind, c.Customer, now, loc)
		if !ok {
			continue
		}
		dues = append(dues, due{c, loc})
		keys = append(keys, LedgerKey{c.Shop.ID, BonusKey(kind, c.Customer.ID, day.Year())})
	}
	if len(dues) == 0 {
		return nil, nil
	}
	used, err := s.store.UsedKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	var grants []BonusGrant
	for i, d := range dues {
		if used[keys[i]] {
			continue
		}
		shop := d.cand.Shop
		prog, ok := programs[shop.ID]
		if !ok {
			if prog, err = s.store.Program(ctx, shop.ID); err != nil {
				return grants, err
			}
			programs[shop.ID] = prog
		}
		g, err := s.grantYearly(ctx, kind, shop, prog, d.cand.Customer.ID, d.loc, now)
		if err != nil {
			return grants, fmt.Errorf("customer %d: %w", d.cand.Customer.ID, err)
		}
		if g != nil {
			grants = append(grants, *g)
		}
	}
	return grants, nil
}

// grantYearly gives one customer their bonus if it is (still) due, under
// the customer's lock: the birthday is read again there, as support may
// have just corrected it or the customer been redacted.
func (s *Service) grantYearly(ctx context.Context, kind YearlyBonus, shop Shop, prog Program, customerID int64, loc *time.Location, now time.Time) (*BonusGrant, error) {
	points, job := prog.BirthdayBonus, "birthday bonus"
	if kind == BonusAnniversary {
		points, job = prog.AnniversaryBonus, "anniversary bonus"
	}
	if points <= 0 {
		return nil, nil // switched off since the candidates were read
	}
	var grant *BonusGrant
	err := s.store.InTx(ctx, func(tx Tx) error {
		grant = nil
		c, err := tx.LockCustomerByID(ctx, customerID)
		if err != nil {
			return err
		}
		if c.redacted() {
			return nil
		}
		day, ok := yearlyDay(kind, c, now, loc)
		if !ok {
			return nil
		}
		entry, err := tx.Post(ctx, Posting{
			ShopID: shop.ID, CustomerID: c.ID, Kind: KindBonus, Points: points,
			Cause:          Cause{Job: job, Reason: fmt.Sprintf("%s on %s", kind, day.Format(time.DateOnly))},
			IdempotencyKey: BonusKey(kind, c.ID, day.Year()),
			At:             now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays),
		})
		if errors.Is(err, ErrDuplicate) {
			return nil // another worker gave it a moment ago
		}
		if err != nil {
			return err
		}
		grant = &BonusGrant{Kind: kind, Shop: shop, Entry: entry, Day: day}
		return nil
	})
	return grant, err
}

// yearlyDay is the day whose bonus is due at now for the customer: the
// latest occurrence of their day on or before today in the shop's zone, if
// it is at most BonusGraceDays ago. A birthday before the customer joined
// is not owed; an anniversary is due from the first year after joining.
// 29 February falls on 28 February in other years (Birthday.In), for
// birthdays and joining days alike.
func yearlyDay(kind YearlyBonus, c Customer, now time.Time, loc *time.Location) (time.Time, bool) {
	today := midnight(now.In(loc))
	joined := midnight(c.CreatedAt.In(loc))
	var day Birthday
	switch {
	case kind == BonusBirthday && c.Birthday != nil:
		day = *c.Birthday
	case kind == BonusAnniversary:
		day = Birthday{Month: joined.Month(), Day: joined.Day()}
	default:
		return time.Time{}, false
	}
	on := day.In(today.Year(), loc)
	if on.After(today) {
		on = day.In(today.Year()-1, loc)
	}
	switch {
	case daysBetween(on, today) > BonusGraceDays:
		return time.Time{}, false
	case kind == BonusBirthday && on.Before(joined):
		return time.Time{}, false
	case kind == BonusAnniversary && on.Year() <= joined.Year():
		return time.Time{}, false
	}
	return on, true
}

// bonusDays are the days of the year whose customers may be due at now in
// some time zone: the grace window in UTC, widened by a day either side
// for the zones (UTC-12 to UTC+14), and by one more for anniversaries,
// whose joining day the store reads in UTC while the rule reads it in the
// shop's zone. 29 February joins 28 February, where it falls in other years.
func bonusDays(kind YearlyBonus, now time.Time) []Birthday {
	margin := 1
	if kind == BonusAnniversary {
		margin = 2
	}
	today := midnight(now.UTC())
	var days []Birthday
	for d := -BonusGraceDays - margin; d <= margin; d++ {
		t := today.AddDate(0, 0, d)
		days = append(days, Birthday{Month: t.Month(), Day: t.Day()})
		if t.Month() == time.February && t.Day() == 28 {
			days = append(days, Birthday{Month: time.February, Day: 29})
		}
	}
	return days
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// daysBetween counts calendar days from a to b, whatever daylight saving
// does to the hours in between.
func daysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// location loads a shop's zone. Names are checked when they are set, so a
// failure here means the zone database lost one: UTC gives the bonus a few
// hours off rather than not at all.
func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" {
		return time.UTC
	}
	return loc
}

// redacted reports whether a privacy request erased the customer: the
// database gives a redacted row the platform id "redacted:<id>", which no
// platform uses.
func (c Customer) redacted() bool { return strings.HasPrefix(c.PlatformID, "redacted:") }

// Timezone is the shop's time zone, in which its customers' birthdays and
// anniversaries begin.
func (s *Service) Timezone(ctx context.Context, shop Shop) (*time.Location, error) {
	name, err := s.store.ShopTimezone(ctx, shop.ID)
	if err != nil {
		return nil, err
	}
	return location(name), nil
}

// SetTimezone sets the shop's time zone by its IANA name (Europe/Warsaw,
// America/New_York, UTC); the change is audited with who made it.
func (s *Service) SetTimezone(ctx context.Context, shop Shop, name, staff string) error {
	name = strings.TrimSpace(name)
	if strings.TrimSpace(staff) == "" {
		return Errorf(EInvalid, "a time zone change needs the name of the staff member making it")
	}
	if _, err := time.LoadLocation(name); err != nil || name == "" || name == "Local" {
		return Errorf(EInvalid, "%q is not a time zone; use an IANA name such as Europe/Warsaw or America/New_York", name)
	}
	if err := s.store.SetShopTimezone(ctx, shop.ID, name); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: staff,
		Action: "change time zone", Outcome: AuditOK, Detail: "time zone " + name})
}
