package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/app/apptest"
)

// bonusClock is a test's controllable time.
type bonusClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *bonusClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *bonusClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// newBonusFixture is newFixture on a clock the test moves.
func newBonusFixture(t *testing.T, edit func(*app.Program)) (*fixture, *bonusClock) {
	t.Helper()
	st, _ := apptest.NewDB(t)
	clk := &bonusClock{now: testNow}
	svc := app.NewService(st, clk.Now)
	prog := app.DefaultProgram(0)
	if edit != nil {
		edit(&prog)
	}
	shop, err := svc.AddShop(context.Background(), app.Shop{Platform: app.Shopify, Domain: "acme.myshopify.com", Currency: "PLN"}, &prog)
	if err != nil {
		t.Fatalf("add shop: %v", err)
	}
	return &fixture{t: t, ctx: context.Background(), store: st, svc: svc, shop: shop}, clk
}

func utcTime(s string) time.Time {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		panic(err)
	}
	return t
}

// memberSince makes a customer who joined at the given time, with a birthday
// ("MM-DD") unless it is empty.
func (f *fixture) memberSince(id string, joined time.Time, birthday string) app.Customer {
	f.t.Helper()
	f.shopper(id, id+"@example.com", "en")
	if birthday != "" {
		b, err := app.ParseBirthday(birthday)
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: id, Birthday: b}); err != nil {
			f.t.Fatalf("birthday of %s: %v", id, err)
		}
	}
	if _, err := f.store.SQL().Exec(`UPDATE customers SET created_at = $1 WHERE shop_id = $2 AND platform_id = $3`,
		joined, f.shop.ID, id); err != nil {
		f.t.Fatal(err)
	}
	c, err := f.svc.Balance(f.ctx, f.shop, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// bonuses runs the job's work for one kind, in small batches, and returns
// what it gave.
func (f *fixture) bonuses(kind app.YearlyBonus) []app.BonusGrant {
	f.t.Helper()
	var all []app.BonusGrant
	n, err := f.svc.GrantYearlyBonuses(f.ctx, kind, 2, func(g app.BonusGrant) { all = append(all, g) })
	if err != nil {
		f.t.Fatalf("%s bonuses: %v", kind, err)
	}
	if n != len(all) {
		f.t.Fatalf("%s bonuses: %d given, %d reported", kind, n, len(all))
	}
	return all
}

func (f *fixture) held(id string) int64 {
	f.t.Helper()
	c, err := f.svc.Balance(f.ctx, f.shop, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Balance + c.Pending
}

func TestBirthdayBonusRule(t *testing.T) {
	f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
	tests := []struct {
		name     string
		birthday string
		joined   string
		now      string
		want     int64
	}{
		{"on the birthday", "05-17", "2024-01-01 10:00:00", "2026-05-17 00:10:00", 100},
		{"late on the birthday", "05-18", "2024-01-01 10:00:00", "2026-05-18 23:59:00", 100},
		{"not the day before", "05-19", "2024-01-01 10:00:00", "2026-05-18 23:59:00", 0},
		{"a missed day is caught up the next day", "05-20", "2024-01-01 10:00:00", "2026-05-21 03:00:00", 100},
		{"and up to a week late", "05-21", "2024-01-01 10:00:00", "2026-05-28 23:00:00", 100},
		{"but not eight days late", "05-22", "2024-01-01 10:00:00", "2026-05-30 01:00:00", 0},
		{"a late-December birthday is caught up in January", "12-30", "2024-01-01 10:00:00", "2027-01-03 08:00:00", 100},
		{"29 February falls on 28 February in a common year", "02-29", "2024-01-01 10:00:00", "2027-02-28 06:00:00", 100},
		{"29 February is on 29 February in a leap year", "02-29", "2024-01-01 10:00:00", "2028-02-28 06:00:00", 0},
		{"... and given then", "02-29", "2024-01-01 10:00:00", "2028-02-29 06:00:00", 100},
		{"a birthday on the joining day counts", "06-01", "2026-06-01 09:00:00", "2026-06-01 09:30:00", 100},
		{"a birthday before joining is not owed", "06-02", "2026-06-04 09:00:00", "2026-06-04 09:30:00", 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			id := fmt.Sprintf("b%d", i)
			f.memberSince(id, utcTime(tc.joined), tc.birthday)
			clk.Set(utcTime(tc.now))
			f.bonuses(app.BonusBirthday)
			if got := f.held(id); got != tc.want {
				t.Fatalf("birthday %s, joined %s, job at %s: %d points, want %d", tc.birthday, tc.joined, tc.now, got, tc.want)
			}
		})
	}
	f.t = t
	f.reconciles()
}

func TestBirthdayBonus(t *testing.T) {
	t.Run("once a year however often the job runs, with a ledger entry keyed by the year", func(t *testing.T) {
		f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
		c := f.memberSince("c1", utcTime("2025-01-10 12:00:00"), "05-17")
		for _, now := range []string{"2026-05-17 00:05:00", "2026-05-17 01:05:00", "2026-05-18 00:05:00", "2026-05-24 00:05:00"} {
			clk.Set(utcTime(now))
			f.bonuses(app.BonusBirthday)
		}
		if got := f.held("c1"); got != 100 {
			t.Fatalf("%d points after a week of runs, want 100", got)
		}
		entries, err := f.svc.History(f.ctx, f.shop, "c1", 10)
		if err != nil {
			t.Fatal(err)
		}
		e := entries[0]
		if e.Kind != app.KindBonus || e.IdempotencyKey != fmt.Sprintf("birthday:%d:2026", c.ID) || e.Cause.Job != "birthday bonus" {
			t.Fatalf("entry %+v", e)
		}
		clk.Set(utcTime("2027-05-17 00:05:00"))
		if g := f.bonuses(app.BonusBirthday); len(g) != 1 || g[0].Day.Format(time.DateOnly) != "2027-05-17" || g[0].Shop.ID != f.shop.ID {
			t.Fatalf("next year's run gave %+v", g)
		}
		if got := f.held("c1"); got != 200 {
			t.Fatalf("%d points after the next birthday, want 200", got)
		}
		f.reconciles()
	})

	t.Run("two workers at once give it once", func(t *testing.T) {
		f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
		for i := range 20 {
			f.memberSince(fmt.Sprintf("c%d", i), utcTime("2025-01-10 12:00:00"), "05-17")
		}
		clk.Set(utcTime("2026-05-17 08:00:00"))
		var wg sync.WaitGroup
		granted := make([]int, 4)
		for w := range granted {
			wg.Go(func() {
				n, err := f.svc.GrantYearlyBonuses(f.ctx, app.BonusBirthday, 3, func(app.BonusGrant) {})
				if err != nil {
					t.Error(err)
				}
				granted[w] = n
			})
		}
		wg.Wait()
		if total := granted[0] + granted[1] + granted[2] + granted[3]; total != 20 {
			t.Fatalf("workers granted %v, %d in all, want 20", granted, total)
		}
		for i := range 20 {
			if got := f.held(fmt.Sprintf("c%d", i)); got != 100 {
				t.Fatalf("c%d has %d points", i, got)
			}
		}
		f.reconciles()
	})

	t.Run("nothing when the program has no birthday bonus", func(t *testing.T) {
		f, clk := newBonusFixture(t, nil)
		f.memberSince("c1", utcTime("2025-01-10 12:00:00"), "05-17")
		clk.Set(utcTime("2026-05-17 08:00:00"))
		if g := f.bonuses(app.BonusBirthday); len(g) != 0 || f.held("c1") != 0 {
			t.Fatalf("granted %+v", g)
		}
	})

	t.Run("nothing in a shop that uninstalled the app", func(t *testing.T) {
		f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
		f.memberSince("c1", utcTime("2025-01-10 12:00:00"), "05-17")
		f.uninstall()
		clk.Set(utcTime("2026-05-17 08:00:00"))
		if g := f.bonuses(app.BonusBirthday); len(g) != 0 || f.held("c1") != 0 {
			t.Fatalf("granted %+v", g)
		}
	})

	t.Run("nothing for a redacted customer", func(t *testing.T) {
		f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100; p.AnniversaryBonus = 50 })
		c := f.memberSince("c1", utcTime("2025-05-17 12:00:00"), "05-17")
		if _, err := f.svc.RedactCustomer(f.ctx, f.shop, app.RedactRequest{CustomerID: "c1"}); err != nil {
			t.Fatal(err)
		}
		clk.Set(utcTime("2026-05-17 18:00:00"))
		if g := append(f.bonuses(app.BonusBirthday), f.bonuses(app.BonusAnniversary)...); len(g) != 0 {
			t.Fatalf("granted %+v", g)
		}
		if n := f.count(`SELECT count(*) FROM ledger_entries WHERE customer_id = $1`, c.ID); n != 0 {
			t.Fatalf("%d entries for the redacted customer", n)
		}
	})

	t.Run("the day begins in the shop's time zone", func(t *testing.T) {
		f, clk := newBonusFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
		f.memberSince("c1", utcTime("2025-01-10 12:00:00"), "05-17")
		if err := f.svc.SetTimezone(f.ctx, f.shop, "America/New_York", "ops@example.com"); err != nil {
			t.Fatal(err)
		}
		clk.Set(utcTime("2026-05-17 02:00:00")) // 16 May, 22:00 in New York
		if g := f.bonuses(app.BonusBirthday); len(g) != 0 {
			t.Fatalf("granted the evening before in New York: %+v", g)
		}
		clk.Set(utcTime("2026-05-17 04:30:00")) // 17 May, 00:30 in New York
		g := f.bonuses(app.BonusBirthday)
		if len(g) != 1 || g[0].Day.Format(time.DateOnly) != "2026-05-17" || g[0].Day.Location().String() != "America/New_York" {
			t.Fatalf("granted %+v", g)
		}
		if err := f.svc.SetTimezone(f.ctx, f.shop, "Mars/Olympus_Mons", "ops@example.com"); app.ErrorCode(err) != app.EInvalid {
			t.Fatalf("an unknown zone: %v", err)
		}
		if loc, err := f.svc.Timezone(f.ctx, f.shop); err != nil || loc.String() != "America/New_York" {
			t.Fatalf("time zone %v, %v", loc, err)
		}
	})
}

func TestAnniversaryBonus(t *testing.T) {
	f, clk := newBonusFixture(t, func(p *app.Program) { p.AnniversaryBonus = 50 })
	tests := []struct {
		name   string
		joined string
		now    string
		want   int64
	}{
		{"not on the joining day itself", "2026-03-10 09:00:00", "2026-03-10 10:00:00", 0},
		{"not the day before the first anniversary", "2025-03-10 09:00:00", "2026-03-09 23:00:00", 0},
		{"on the first anniversary", "2025-03-11 09:00:00", "2026-03-11 00:30:00", 50},
		{"a missed anniversary is caught up within a week", "2025-03-12 09:00:00", "2026-03-19 00:30:00", 50},
		{"a 29 February joiner has it on 28 February in a common year", "2024-02-29 09:00:00", "2025-02-28 00:30:00", 50},
		{"a late-December joiner is not given one in the January after", "2025-12-31 09:00:00", "2026-01-02 00:30:00", 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			id := fmt.Sprintf("a%d", i)
			f.memberSince(id, utcTime(tc.joined), "")
			clk.Set(utcTime(tc.now))
			f.bonuses(app.BonusAnniversary)
			if got := f.held(id); got != tc.want {
				t.Fatalf("joined %s, job at %s: %d points, want %d", tc.joined, tc.now, got, tc.want)
			}
		})
	}
	t.Run("once per year, keyed by the year", func(t *testing.T) {
		f.t = t
		c := f.memberSince("x", utcTime("2024-07-01 09:00:00"), "")
		for _, now := range []string{"2025-07-01 00:10:00", "2025-07-02 00:10:00", "2026-07-01 00:10:00", "2026-07-01 05:10:00"} {
			clk.Set(utcTime(now))
			f.bonuses(app.BonusAnniversary)
		}
		if got := f.held("x"); got != 100 {
			t.Fatalf("%d points after two anniversaries, want 100", got)
		}
		n := f.count(`SELECT count(*) FROM ledger_entries WHERE customer_id = $1 AND kind = 'bonus'
			AND idempotency_key IN ($2, $3) AND cause_job = 'anniversary bonus'`,
			c.ID, fmt.Sprintf("anniversary:%d:2025", c.ID), fmt.Sprintf("anniversary:%d:2026", c.ID))
		if n != 2 {
			t.Fatalf("%d anniversary entries, want 2", n)
		}
	})
	f.t = t
	f.reconciles()
}

func TestAnniversaryFollowsTheShopsCalendar(t *testing.T) {
	// Kiritimati is UTC+14: the customer joined on 17 May there, which was
	// still 16 May in UTC, and their anniversary is 17 May there.
	f, clk := newBonusFixture(t, func(p *app.Program) { p.AnniversaryBonus = 50 })
	if err := f.svc.SetTimezone(f.ctx, f.shop, "Pacific/Kiritimati", "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	f.memberSince("c1", utcTime("2025-05-16 10:30:00"), "")
	clk.Set(utcTime("2026-05-16 09:00:00")) // 16 May, 23:00 there
	if g := f.bonuses(app.BonusAnniversary); len(g) != 0 {
		t.Fatalf("granted the day before: %+v", g)
	}
	clk.Set(utcTime("2026-05-16 10:10:00")) // 17 May, 00:10 there
	if g := f.bonuses(app.BonusAnniversary); len(g) != 1 || g[0].Day.Format(time.DateOnly) != "2026-05-17" {
		t.Fatalf("granted %+v", g)
	}
	f.reconciles()
}
