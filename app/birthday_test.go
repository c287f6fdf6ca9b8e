package app_test

import (
	"strings"
	"testing"
	"time"

	"loyalty/app"
)

func TestParseBirthday(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when refused
	}{
		{"05-17", "05-17"},
		{"--12-24", "12-24"},
		{" 02-29 ", "02-29"},
		{"02-30", ""},
		{"13-01", ""},
		{"00-10", ""},
		{"1990-05-17", ""},
		{"5-17", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b, err := app.ParseBirthday(tc.in)
			switch {
			case tc.want == "" && app.ErrorCode(err) != app.EInvalid:
				t.Fatalf("ParseBirthday(%q) = %v, %v; want it refused", tc.in, b, err)
			case tc.want != "" && (err != nil || b.String() != tc.want):
				t.Fatalf("ParseBirthday(%q) = %v, %v; want %s", tc.in, b, err, tc.want)
			}
		})
	}
}

func TestA29FebruaryBirthdayFallsOn28FebruaryInOtherYears(t *testing.T) {
	b := app.Birthday{Month: time.February, Day: 29}
	if got := b.In(2027, time.UTC).Format("2006-01-02"); got != "2027-02-28" {
		t.Fatalf("in 2027: %s", got)
	}
	if got := b.In(2028, time.UTC).Format("2006-01-02"); got != "2028-02-29" {
		t.Fatalf("in 2028: %s", got)
	}
}

func TestSetBirthday(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.BirthdayBonus = 100 })
	may17 := app.Birthday{Month: time.May, Day: 17}
	c, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: "c1", Birthday: may17})
	if err != nil || c.Birthday == nil || *c.Birthday != may17 {
		t.Fatalf("a shopper with no points yet gives their birthday: %+v, %v", c, err)
	}
	stored, _ := f.svc.Balance(f.ctx, f.shop, "c1")
	if stored.Birthday == nil || *stored.Birthday != may17 {
		t.Fatalf("stored customer %+v", stored)
	}
	tests := []struct {
		name string
		req  app.BirthdayChange
		code string // "" for success
	}{
		{"giving the same day again changes nothing", app.BirthdayChange{CustomerID: "c1", Birthday: may17}, ""},
		{"a shopper cannot move their birthday", app.BirthdayChange{CustomerID: "c1", Birthday: app.Birthday{Month: time.June, Day: 1}}, app.EConflict},
		{"staff need a reason to change it", app.BirthdayChange{CustomerID: "c1", Birthday: app.Birthday{Month: time.June, Day: 1}, Staff: "ola"}, app.EInvalid},
		{"a day that does not exist", app.BirthdayChange{CustomerID: "c2", Birthday: app.Birthday{Month: time.April, Day: 31}}, app.EInvalid},
		{"a guest", app.BirthdayChange{Birthday: may17}, app.EForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.SetBirthday(f.ctx, f.shop, tc.req)
			if app.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	t.Run("staff correct it with a reason, and the change is audited", func(t *testing.T) {
		c, err := f.svc.SetBirthday(f.ctx, f.shop, app.BirthdayChange{CustomerID: "c1", Birthday: app.Birthday{Month: time.June, Day: 1},
			Staff: "ola", Reason: "typo reported by the shopper"})
		if err != nil || c.Birthday.String() != "06-01" {
			t.Fatalf("%+v, %v", c, err)
		}
		log, err := f.svc.AuditLog(f.ctx, f.shop.Domain, 10)
		if err != nil || len(log) == 0 || log[0].Actor != "ola" || !strings.Contains(log[0].Detail, "05-17 → 06-01") {
			t.Fatalf("audit log %+v, %v", log, err)
		}
	})
}
