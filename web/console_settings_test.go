package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/internal/testenv"
)

// The console's settings pages, driven as a browser drives them: signed-in
// sessions, forms with their CSRF token, redirects after changes.

// programValues is the program form as the page would send it for f.
func programValues(f programForm) url.Values {
	v := url.Values{"earn_rate": {f.EarnRate}, "rounding": {f.Rounding}, "signup_bonus": {f.SignupBonus},
		"birthday_bonus": {f.BirthdayBonus}, "anniversary_bonus": {f.AnniversaryBonus}, "pending_days": {f.PendingDays},
		"expiry": {f.Expiry}, "expiry_days": {f.ExpiryDays}, "inactivity_months": {f.InactivityMonths}, "warn_days": {f.WarnDays},
		"locale": {f.Locale}, "color": {f.Color}, "position": {f.Position}, "support_limit": {f.SupportLimit}}
	for name, on := range map[string]bool{"earn_on_shipping": f.EarnOnShipping, "earn_on_tax": f.EarnOnTax,
		"reward_part_earns": f.RewardPartEarns, "allow_negative": f.AllowNegative, "restore_expired_codes": f.RestoreExpiredCodes,
		"restore_on_refund": f.RestoreOnRefund, "msg_welcome": f.Welcome, "msg_earned": f.Earned, "msg_redeemed": f.Redeemed,
		"msg_expiring": f.Expiring, "msg_birthday": f.Birthday} {
		if on {
			v.Set(name, "1")
		}
	}
	return v
}

func (r *consoleRig) program(t *testing.T) app.Program {
	t.Helper()
	p, err := r.svc.Program(context.Background(), r.env.Shop)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *consoleRig) auditLines(t *testing.T, action string) []app.AuditEntry {
	t.Helper()
	page, err := r.svc.AuditTrail(context.Background(), r.env.Shop, app.AuditQuery{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

func (r *consoleRig) staffID(t *testing.T, shop app.Shop, email string) string {
	t.Helper()
	m, err := r.svc.StaffByEmail(context.Background(), shop, email)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(m.ID, 10)
}

// with returns v with the pairs set, for a form that differs in a few fields.
func with(v url.Values, pairs ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		out.Set(pairs[i], pairs[i+1])
	}
	return out
}

// hasValue reports whether the page has a form field showing value.
func hasValue(page, name, value string) bool {
	return regexp.MustCompile(`name="`+regexp.QuoteMeta(name)+`"[^>]*value="`+regexp.QuoteMeta(html.EscapeString(value))+`"`).MatchString(page) ||
		regexp.MustCompile(`value="`+regexp.QuoteMeta(html.EscapeString(value))+`"[^>]*name="`+regexp.QuoteMeta(name)+`"`).MatchString(page)
}

func TestConsoleSettingsAccess(t *testing.T) {
	r := newConsoleRig(t, false)
	everyone := map[app.Role]bool{app.RoleOwner: true, app.RoleAdmin: true, app.RoleSupport: true}
	managers := map[app.Role]bool{app.RoleOwner: true, app.RoleAdmin: true}
	pages := []struct {
		path, heading string
		allowed       map[app.Role]bool
	}{
		{"/console/", "<h1>Dashboard</h1>", everyone},
		{"/console/program", "<h1>Program settings</h1>", managers},
		{"/console/rewards", "<h1>Rewards</h1>", managers},
		{"/console/staff", "<h1>Staff</h1>", managers},
		{"/console/account", "<h1>Your account</h1>", everyone},
		{"/console/audit", "<h1>Audit log</h1>", everyone},
	}
	for _, email := range []string{"owner@acme.test", "admin@acme.test", "support@acme.test"} {
		b, csrf := r.signedIn(t, email)
		m, _ := r.svc.StaffByEmail(context.Background(), r.env.Shop, email)
		for _, p := range pages {
			want := http.StatusForbidden
			if p.allowed[m.Role] {
				want = http.StatusOK
			}
			t.Run(fmt.Sprintf("%s opening %s gets %d", m.Role, p.path, want), func(t *testing.T) {
				resp, page := r.get(t, b, p.path, nil)
				if resp.StatusCode != want || (want == http.StatusOK && !strings.Contains(page, p.heading)) {
					t.Fatalf("%d %s", resp.StatusCode, page)
				}
			})
		}
		if m.Role != app.RoleSupport {
			continue
		}
		for _, path := range []string{"/console/program", "/console/rewards", "/console/rewards/1/deactivate",
			"/console/rewards/1/activate", "/console/staff", "/console/staff/1/role", "/console/staff/1/disable"} {
			t.Run("support posting to "+path+" is refused with 403", func(t *testing.T) {
				if resp, body := r.post(t, b, path, url.Values{"csrf": {csrf}, "name": {"x"}}, nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			})
		}
	}
	t.Run("the menu shows each role only the pages it may open", func(t *testing.T) {
		b, _ := r.signedIn(t, "support@acme.test")
		_, page := r.get(t, b, "/console/account", nil)
		if strings.Contains(page, `href="/console/program"`) || strings.Contains(page, `href="/console/staff"`) || !strings.Contains(page, `href="/console/audit"`) {
			t.Fatalf("%s", page)
		}
	})
}

func TestConsoleSettingsCSRF(t *testing.T) {
	r := newConsoleRig(t, false)
	b, csrf := r.signedIn(t, "owner@acme.test")
	before := r.program(t)
	form := programValues(programFormOf(before))
	supportID := r.staffID(t, r.env.Shop, "support@acme.test")
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/console/program", with(form, "earn_rate", "7")},
		{"/console/rewards", url.Values{"name": {"Forged"}, "kind": {"free_shipping"}, "points": {"10"}}},
		{"/console/staff", url.Values{"name": {"Mallory"}, "email": {"mallory@evil.test"}, "role": {"owner"}, "password": {"mallory's password"}}},
		{"/console/staff/" + supportID + "/role", url.Values{"role": {"owner"}}},
		{"/console/staff/" + supportID + "/disable", nil},
		{"/console/account/password", url.Values{"current_password": {staffPassword}, "new_password": {"a new long password"}, "confirm_password": {"a new long password"}}},
		{"/console/tokens", url.Values{"name": {"forged"}}},
	} {
		for name, token := range map[string]string{"no": "", "a forged": "forged-" + csrf} {
			t.Run("a post to "+c.path+" with "+name+" CSRF token is refused", func(t *testing.T) {
				f := with(c.form)
				if token != "" {
					f.Set("csrf", token)
				}
				if resp, body := r.post(t, b, c.path, f, nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			})
		}
	}
	t.Run("and nothing changed", func(t *testing.T) {
		ctx := context.Background()
		rewards, _ := r.svc.Rewards(ctx, r.env.Shop)
		staff, _ := r.svc.StaffList(ctx, r.env.Shop)
		support, _ := r.svc.StaffByEmail(ctx, r.env.Shop, "support@acme.test")
		owner, _ := r.svc.StaffByEmail(ctx, r.env.Shop, "owner@acme.test")
		tokens, _ := r.svc.APITokens(ctx, owner)
		if r.program(t).EarnRate != before.EarnRate || len(rewards) != 0 || len(staff) != 3 || support.Role != app.RoleSupport ||
			!support.DisabledAt.IsZero() || len(tokens) != 0 {
			t.Fatalf("rewards %v, staff %v, support %+v, tokens %v", rewards, staff, support, tokens)
		}
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "owner@acme.test", staffPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("the password changed")
		}
	})
}

func TestConsoleSettingsProgram(t *testing.T) {
	r := newConsoleRig(t, false)
	owner, csrf := r.signedIn(t, "owner@acme.test")
	_, page := r.get(t, owner, "/console/program", nil)
	start := programFormOf(r.program(t))
	t.Run("the form shows the program as it is", func(t *testing.T) {
		if !hasValue(page, "earn_rate", "1") || !hasValue(page, "support_limit", strconv.Itoa(app.DefaultAdjustLimit)) ||
			!strings.Contains(page, "points per 1 USD spent") {
			t.Fatalf("%s", page)
		}
	})
	t.Run("a change persists, shows on the page and is in the audit log in words with who made it", func(t *testing.T) {
		f := with(programValues(start), "csrf", csrf, "earn_rate", "2.5", "signup_bonus", "100", "locale", "pl",
			"support_limit", "250", "expiry", "lots", "expiry_days", "365")
		resp, body := r.post(t, owner, "/console/program", f, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/program?notice=program-saved" {
			t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		p := r.program(t)
		limit, _ := p.AdjustLimit(app.RoleSupport)
		if p.EarnRate != app.Rate(25000) || p.SignupBonus != 100 || p.Locale != "pl" || limit != 250 || p.ExpiryDays != 365 {
			t.Fatalf("%+v", p)
		}
		_, page := r.get(t, owner, "/console/program?notice=program-saved", nil)
		if !hasValue(page, "earn_rate", "2.5") || !strings.Contains(page, "Program settings saved.") {
			t.Fatalf("%s", page)
		}
		lines := r.auditLines(t, "change program")
		if len(lines) != 1 {
			t.Fatalf("%+v", lines)
		}
		for _, want := range []string{"Earn rate: 1 points per USD → 2.5 points per USD", "Signup bonus: 0 points → 100 points",
			"Language: en → pl", "Support adjustment limit: 1\u202f000 points → 250 points", "Points expire: never → 365 days after earning"} {
			if !strings.Contains(lines[0].Detail, want) {
				t.Errorf("detail %q lacks %q", lines[0].Detail, want)
			}
		}
		if lines[0].Actor != "Name of Owner@Acme.test <owner@acme.test>" || strings.Contains(lines[0].Detail, "Birthday") {
			t.Fatalf("%+v", lines[0])
		}
		_, audit := r.get(t, owner, "/console/audit?action=change+program", nil)
		if !strings.Contains(audit, "Earn rate: 1 points per USD → 2.5 points per USD") {
			t.Fatalf("%s", audit)
		}
	})
	t.Run("sending the settings unchanged records no change", func(t *testing.T) {
		f := with(programValues(programFormOf(r.program(t))), "csrf", csrf)
		resp, _ := r.post(t, owner, "/console/program", f, nil)
		if resp.Header.Get("Location") != "/console/program?notice=program-unchanged" || len(r.auditLines(t, "change program")) != 1 {
			t.Fatalf("%s", resp.Header.Get("Location"))
		}
	})
	t.Run("an admin may change the program too", func(t *testing.T) {
		admin, adminCSRF := r.signedIn(t, "admin@acme.test")
		f := with(programValues(programFormOf(r.program(t))), "csrf", adminCSRF, "msg_birthday", "")
		if resp, body := r.post(t, admin, "/console/program", f, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if r.program(t).Messages.Birthday {
			t.Fatal("birthday message still on")
		}
	})
	saved := r.program(t)
	for _, c := range []struct {
		rule   string
		edit   []string
		errMsg string
	}{
		{"an earn rate that is not a number is refused", []string{"earn_rate", "lots"}, "the earn rate must be a number"},
		{"a negative bonus is refused", []string{"signup_bonus", "-5"}, "the signup bonus must be a whole number of 0 or more"},
		{"points must outlive their pending period", []string{"pending_days", "30", "expiry", "lots", "expiry_days", "14"}, "expiry days (14) must be more than pending days (30)"},
		{"expiry after 0 days is refused", []string{"expiry", "lots", "expiry_days", "0"}, "enter after how many days points expire"},
		{"expiry warnings are numbers", []string{"warn_days", "soon"}, "expiry warnings are days ahead"},
		{"an expiry warning is 1 to 365 days ahead", []string{"warn_days", "14, 400"}, "an expiry warning comes 1 to 365 days ahead"},
		{"the widget colour is a hex colour", []string{"color", "red"}, "widget colour must be #rrggbb"},
		{"the language is one the app speaks", []string{"locale", "de"}, "choose the shop&#39;s language from the list"},
		{"the support limit is required", []string{"support_limit", ""}, "enter the points support staff may adjust"},
		{"the rounding is one of three", []string{"rounding", "up"}, "rounding must be floor, nearest or ceil"},
	} {
		t.Run(c.rule+", shown on the page with the form as sent", func(t *testing.T) {
			f := with(programValues(programFormOf(saved)), append([]string{"csrf", csrf}, c.edit...)...)
			resp, page := r.post(t, owner, "/console/program", f, nil)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `class="error"`) || !strings.Contains(page, c.errMsg) {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			for i := 0; i+1 < len(c.edit); i += 2 {
				name, value := c.edit[i], c.edit[i+1]
				if name == "expiry" || name == "rounding" || name == "locale" || value == "" {
					continue
				}
				if !hasValue(page, name, value) {
					t.Errorf("the form lost %s=%q", name, value)
				}
			}
			if p := r.program(t); p.EarnRate != saved.EarnRate || p.SignupBonus != saved.SignupBonus || p.PendingDays != saved.PendingDays {
				t.Fatalf("saved anyway: %+v", p)
			}
		})
	}
}

func TestConsoleSettingsRewards(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	b, csrf := r.signedIn(t, "admin@acme.test")
	t.Run("an empty catalogue says so", func(t *testing.T) {
		if _, page := r.get(t, b, "/console/rewards", nil); !strings.Contains(page, "No rewards yet") {
			t.Fatalf("%s", page)
		}
	})
	t.Run("a reward added is offered and listed with its cost and value", func(t *testing.T) {
		resp, body := r.post(t, b, "/console/rewards", url.Values{"csrf": {csrf}, "name": {"5 USD off"}, "kind": {"fixed_amount"},
			"points": {"500"}, "amount": {"5"}, "min_subtotal": {"20"}, "expiry_days": {"30"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/rewards?notice=reward-added" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		list, _ := r.svc.Rewards(ctx, r.env.Shop)
		if len(list) != 1 || !list[0].Active || list[0].Points != 500 || list[0].Amount != app.MustAmount("5") || list[0].MinSubtotal != app.MustAmount("20") {
			t.Fatalf("%+v", list)
		}
		_, page := r.get(t, b, "/console/rewards?notice=reward-added", nil)
		for _, want := range []string{"5 USD off", "500 points", "5.00 USD off, on orders of 20.00 USD or more", "30 days", "Offered", "Reward added."} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
	for _, c := range []struct {
		rule   string
		form   url.Values
		errMsg string
	}{
		{"a fixed reward needs an amount off", url.Values{"name": {"Half off"}, "kind": {"fixed_amount"}, "points": {"100"}}, "a fixed reward needs a cost in points and an amount off"},
		{"an amount is a decimal sum", url.Values{"name": {"Half off"}, "kind": {"fixed_amount"}, "points": {"100"}, "amount": {"five"}}, "the amount off must be a sum"},
		{"a percentage is 1 to 100", url.Values{"name": {"Half off"}, "kind": {"percentage"}, "points": {"100"}, "percentage": {"150"}}, "a percentage from 1 to 100"},
		{"a reward needs a name", url.Values{"name": {" "}, "kind": {"free_shipping"}, "points": {"100"}}, "a reward needs a name"},
	} {
		t.Run(c.rule+", shown with the form kept", func(t *testing.T) {
			c.form.Set("csrf", csrf)
			resp, page := r.post(t, b, "/console/rewards", c.form, nil)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, c.errMsg) {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			for _, field := range []string{"points", "amount", "percentage"} {
				if v := c.form.Get(field); v != "" && !hasValue(page, field, v) {
					t.Errorf("the form lost %s=%q", field, v)
				}
			}
			if n := strings.TrimSpace(c.form.Get("name")); n != "" && !hasValue(page, "name", n) {
				t.Error("the form lost the name")
			}
			if list, _ := r.svc.Rewards(ctx, r.env.Shop); len(list) != 1 {
				t.Fatalf("added anyway: %+v", list)
			}
		})
	}
	list, _ := r.svc.Rewards(ctx, r.env.Shop)
	id := strconv.FormatInt(list[0].ID, 10)
	t.Run("a reward withdrawn is no longer offered, and can be offered again", func(t *testing.T) {
		resp, _ := r.post(t, b, "/console/rewards/"+id+"/deactivate", url.Values{"csrf": {csrf}}, nil)
		if got, _ := r.svc.Rewards(ctx, r.env.Shop); resp.StatusCode != http.StatusSeeOther || got[0].Active {
			t.Fatalf("%d %+v", resp.StatusCode, got)
		}
		if _, page := r.get(t, b, "/console/rewards?notice=reward-deactivated", nil); !strings.Contains(page, "Withdrawn") || !strings.Contains(page, "/console/rewards/"+id+"/activate") {
			t.Fatalf("%s", page)
		}
		r.post(t, b, "/console/rewards/"+id+"/activate", url.Values{"csrf": {csrf}}, nil)
		if got, _ := r.svc.Rewards(ctx, r.env.Shop); !got[0].Active {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("another shop's reward cannot be withdrawn from here", func(t *testing.T) {
		other, err := r.svc.AddReward(ctx, r.shopB, app.Reward{Name: "B's", Kind: app.RewardFreeShipping, Points: 10, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := r.post(t, b, "/console/rewards/"+strconv.FormatInt(other.ID, 10)+"/deactivate", url.Values{"csrf": {csrf}}, nil)
		got, _ := r.svc.Rewards(ctx, r.shopB)
		if resp.StatusCode != http.StatusNotFound || !got[0].Active {
			t.Fatalf("%d %+v", resp.StatusCode, got)
		}
	})
}

func TestConsoleSettingsStaff(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	admin, adminCSRF := r.signedIn(t, "admin@acme.test")
	owner, ownerCSRF := r.signedIn(t, "owner@acme.test")
	t.Run("the list shows everyone of the shop and no one else", func(t *testing.T) {
		_, page := r.get(t, admin, "/console/staff", nil)
		if !strings.Contains(page, "support@acme.test") || strings.Contains(page, "owner@other.test") || !strings.Contains(page, `<span class="badge">you</span>`) {
			t.Fatalf("%s", page)
		}
	})
	t.Run("an admin adds a support member, who can then sign in", func(t *testing.T) {
		resp, body := r.post(t, admin, "/console/staff", url.Values{"csrf": {adminCSRF}, "name": {"Ana"}, "email": {"ana@acme.test"},
			"role": {"support"}, "password": {"ana's long password"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/staff?notice=staff-added" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "ana@acme.test", "ana's long password"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		if lines := r.auditLines(t, "staff add"); len(lines) == 0 || lines[0].Actor != "Name of admin@acme.test <admin@acme.test>" {
			t.Fatalf("%+v", lines)
		}
	})
	for _, c := range []struct {
		rule   string
		b      string
		form   url.Values
		status int
		errMsg string
	}{
		{"an admin cannot make an owner", "admin", url.Values{"name": {"Eve"}, "email": {"eve@acme.test"}, "role": {"owner"}, "password": {"eve's long password"}},
			http.StatusForbidden, "only an owner may make someone an owner"},
		{"a short password is refused", "owner", url.Values{"name": {"Eve"}, "email": {"eve@acme.test"}, "role": {"support"}, "password": {"short pw"}},
			http.StatusUnprocessableEntity, "a password needs at least 12 characters"},
		{"an email already on the staff is refused", "owner", url.Values{"name": {"Eve"}, "email": {"Support@acme.test"}, "role": {"support"}, "password": {"eve's long password"}},
			http.StatusConflict, "is already staff of"},
	} {
		t.Run(c.rule+", shown with the form kept but not the password", func(t *testing.T) {
			b, csrf := admin, adminCSRF
			if c.b == "owner" {
				b, csrf = owner, ownerCSRF
			}
			c.form.Set("csrf", csrf)
			resp, page := r.post(t, b, "/console/staff", c.form, nil)
			if resp.StatusCode != c.status || !strings.Contains(page, c.errMsg) || !hasValue(page, "name", "Eve") ||
				!hasValue(page, "email", c.form.Get("email")) || strings.Contains(page, c.form.Get("password")) {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			if _, err := r.svc.StaffByEmail(ctx, r.env.Shop, "eve@acme.test"); app.ErrorCode(err) != app.ENotFound {
				t.Fatalf("added anyway: %v", err)
			}
		})
	}
	supportID := r.staffID(t, r.env.Shop, "support@acme.test")
	ownerID := r.staffID(t, r.env.Shop, "owner@acme.test")
	t.Run("an owner changes a role, and it is audited", func(t *testing.T) {
		resp, _ := r.post(t, owner, "/console/staff/"+supportID+"/role", url.Values{"csrf": {ownerCSRF}, "role": {"admin"}}, nil)
		m, _ := r.svc.StaffByEmail(ctx, r.env.Shop, "support@acme.test")
		if resp.StatusCode != http.StatusSeeOther || m.Role != app.RoleAdmin {
			t.Fatalf("%d %+v", resp.StatusCode, m)
		}
		if lines := r.auditLines(t, "staff role"); len(lines) != 1 || lines[0].Detail != "support@acme.test: support → admin" {
			t.Fatalf("%+v", lines)
		}
		r.post(t, owner, "/console/staff/"+supportID+"/role", url.Values{"csrf": {ownerCSRF}, "role": {"support"}}, nil)
	})
	t.Run("an admin cannot change an owner's role", func(t *testing.T) {
		resp, page := r.post(t, admin, "/console/staff/"+ownerID+"/role", url.Values{"csrf": {adminCSRF}, "role": {"support"}}, nil)
		m, _ := r.svc.StaffByEmail(ctx, r.env.Shop, "owner@acme.test")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "only an owner") || m.Role != app.RoleOwner {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
	t.Run("no one removes their own access", func(t *testing.T) {
		resp, page := r.post(t, owner, "/console/staff/"+ownerID+"/disable", url.Values{"csrf": {ownerCSRF}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "you cannot disable your own account") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
	t.Run("another shop's staff cannot be touched from here", func(t *testing.T) {
		otherID := r.staffID(t, r.shopB, "owner@other.test")
		for _, path := range []string{"/console/staff/" + otherID + "/role", "/console/staff/" + otherID + "/disable"} {
			if resp, _ := r.post(t, owner, path, url.Values{"csrf": {ownerCSRF}, "role": {"support"}}, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
		}
	})
	t.Run("removing access signs the member out and shows on the list", func(t *testing.T) {
		support, _ := r.signedIn(t, "support@acme.test")
		resp, _ := r.post(t, admin, "/console/staff/"+supportID+"/disable", url.Values{"csrf": {adminCSRF}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/staff?notice=staff-disabled" {
			t.Fatalf("%d", resp.StatusCode)
		}
		if resp, _ := r.get(t, support, "/console/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("session after removal: %d", resp.StatusCode)
		}
		if _, page := r.get(t, admin, "/console/staff", nil); !strings.Contains(page, "Access removed") {
			t.Fatalf("%s", page)
		}
	})
}

func TestConsoleSettingsAccount(t *testing.T) {
	r := newConsoleRig(t, false)
	b, csrf := r.signedIn(t, "support@acme.test")
	const next = "a new and longer password"
	change := func(current, newPW, confirm string) (*http.Response, string) {
		return r.post(t, b, "/console/account/password", url.Values{"csrf": {csrf}, "current_password": {current},
			"new_password": {newPW}, "confirm_password": {confirm}}, nil)
	}
	t.Run("the page says who you are and what you may do", func(t *testing.T) {
		_, page := r.get(t, b, "/console/account", nil)
		if !strings.Contains(page, "support@acme.test") || !strings.Contains(page, permissionLabels[app.AdjustBalance]) ||
			strings.Contains(page, permissionLabels[app.EditProgram]) {
			t.Fatalf("%s", page)
		}
	})
	for _, c := range []struct {
		rule                   string
		current, next, confirm string
		status                 int
		errMsg                 string
	}{
		{"a wrong current password changes nothing", "not my password", next, next, http.StatusForbidden, "the current password is wrong"},
		{"the confirmation must match", staffPassword, next, next + "!", http.StatusUnprocessableEntity, "the new password and its confirmation differ"},
		{"a short password is refused", staffPassword, "short", "short", http.StatusUnprocessableEntity, "at least 12 characters"},
	} {
		t.Run(c.rule, func(t *testing.T) {
			resp, page := change(c.current, c.next, c.confirm)
			if resp.StatusCode != c.status || !strings.Contains(page, c.errMsg) || strings.Contains(page, c.next) {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "support@acme.test", staffPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatal("the old password no longer works")
			}
		})
	}
	t.Run("a changed password is the one that signs in", func(t *testing.T) {
		resp, _ := change(staffPassword, next, next)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/account?notice=password-changed" {
			t.Fatalf("%d", resp.StatusCode)
		}
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "support@acme.test", staffPassword); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("old password: %d", resp.StatusCode)
		}
		if resp, _ := r.signIn(t, r.browser(), testenv.ShopDomain, "support@acme.test", next); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("new password: %d", resp.StatusCode)
		}
	})
	t.Run("a token is shown once on the account page, listed after, and revoked from it", func(t *testing.T) {
		resp, page := r.post(t, b, "/console/tokens", url.Values{"csrf": {csrf}, "name": {"helpdesk"}}, nil)
		token := regexp.MustCompile(`<span class="token"><code>(lyt_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || token == nil || !strings.Contains(page, "<h1>Your account</h1>") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
		me := func() int {
			resp, _ := r.get(t, http.DefaultClient, "/api/admin/me", map[string]string{"Authorization": "Bearer " + token[1]})
			return resp.StatusCode
		}
		if me() != http.StatusOK {
			t.Fatal("the new token does not work")
		}
		_, again := r.get(t, b, "/console/account", nil)
		id := regexp.MustCompile(`/console/tokens/(\d+)/revoke`).FindStringSubmatch(again)
		if strings.Contains(again, token[1]) || !strings.Contains(again, "helpdesk") || id == nil {
			t.Fatalf("%s", again)
		}
		resp, _ = r.post(t, b, "/console/tokens/"+id[1]+"/revoke", url.Values{"csrf": {csrf}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/account?notice=token-revoked" || me() != http.StatusUnauthorized {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("another member's token cannot be revoked from one's account", func(t *testing.T) {
		owner, _ := r.svc.StaffByEmail(context.Background(), r.env.Shop, "owner@acme.test")
		tok, secret, err := r.svc.CreateAPIToken(context.Background(), r.env.Shop, owner, "owner's")
		if err != nil {
			t.Fatal(err)
		}
		resp, page := r.post(t, b, "/console/tokens/"+strconv.FormatInt(tok.ID, 10)+"/revoke", url.Values{"csrf": {csrf}}, nil)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, `class="error"`) {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
		if resp, _ := r.get(t, http.DefaultClient, "/api/admin/me", map[string]string{"Authorization": "Bearer " + secret}); resp.StatusCode != http.StatusOK {
			t.Fatalf("the owner's token: %d", resp.StatusCode)
		}
	})
	t.Run("a token needs a name", func(t *testing.T) {
		resp, page := r.post(t, b, "/console/tokens", url.Values{"csrf": {csrf}, "name": {"  "}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "an API token needs a name") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
}

func TestConsoleSettingsAudit(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	for i := 1; i <= 60; i++ {
		if err := r.svc.Audit(ctx, app.AuditEntry{ShopID: r.env.Shop.ID, ShopDomain: r.env.Shop.Domain, Actor: "robot@acme.test",
			Action: fmt.Sprintf("test line %02d", i), Outcome: app.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.svc.Audit(ctx, app.AuditEntry{ShopID: r.shopB.ID, ShopDomain: r.shopB.Domain, Actor: "robot@other.test",
		Action: "test line of B", Outcome: app.AuditOK}); err != nil {
		t.Fatal(err)
	}
	b, _ := r.signedIn(t, "support@acme.test")
	rows := func(page string) int { return strings.Count(page, `<tr><td style="white-space:nowrap">`) }
	t.Run("the newest come first, a page at a time, with a link to older ones", func(t *testing.T) {
		_, page := r.get(t, b, "/console/audit?actor=robot", nil)
		next := regexp.MustCompile(`href="(/console/audit\?[^"]+)" rel="next"`).FindStringSubmatch(page)
		if rows(page) != auditPageSize || !strings.Contains(page, "test line 60") || strings.Contains(page, "test line 10<") || next == nil {
			t.Fatalf("%d rows %s", rows(page), page)
		}
		_, older := r.get(t, b, html.UnescapeString(next[1]), nil)
		if rows(older) != 10 || !strings.Contains(older, "test line 01") || strings.Contains(older, "test line 11") ||
			strings.Contains(older, `rel="next"`) || !strings.Contains(older, "Newest") {
			t.Fatalf("%d rows %s", rows(older), older)
		}
	})
	t.Run("filters keep the matching lines", func(t *testing.T) {
		_, page := r.get(t, b, "/console/audit?action=sign-in", nil)
		if !strings.Contains(page, "support@acme.test") || strings.Contains(page, "test line") || !hasValue(page, "action", "sign-in") {
			t.Fatalf("%s", page)
		}
		if _, page := r.get(t, b, "/console/audit?actor=nobody", nil); !strings.Contains(page, "No lines match these filters.") {
			t.Fatalf("%s", page)
		}
	})
	t.Run("another shop's lines never show", func(t *testing.T) {
		if _, page := r.get(t, b, "/console/audit?action=test+line", nil); strings.Contains(page, "of B") {
			t.Fatalf("%s", page)
		}
	})
	t.Run("a made-up page cursor is refused on the page", func(t *testing.T) {
		if resp, page := r.get(t, b, "/console/audit?before=abc", nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "start from the newest") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
}

func TestConsoleDashboard(t *testing.T) {
	r := newConsoleRig(t, false)
	ctx := context.Background()
	paid := r.now
	// Ada's first order, two days ago, makes her a member: her order
	// today is a member's order; Bob's first order today is not.
	for _, o := range []struct {
		id, customer string
		subtotal     string
		at           time.Time
	}{
		{"9000", "77", "80.00", paid.AddDate(0, 0, -2)},
		{"9001", "77", "120.00", paid},
		{"9002", "78", "30.00", paid},
	} {
		r.now = o.at
		if _, err := r.svc.AccrueOrder(ctx, r.env.Shop, app.OrderPaid{OrderID: o.id, Name: "#" + o.id, Currency: "USD",
			Customer: &app.CustomerRef{PlatformID: o.customer}, Subtotal: app.MustAmount(o.subtotal), PaidAt: o.at}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := r.signedIn(t, "support@acme.test")
	today := paid.UTC().Format(dateForm)
	from := paid.UTC().AddDate(0, 0, -6).Format(dateForm)
	t.Run("the period's figures and an SVG chart per series, with titles", func(t *testing.T) {
		resp, page := r.get(t, b, "/console/?from="+from+"&to="+today+"&bucket=day", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
		_, long := bucketLabels(app.BucketDay, paid)
		for _, want := range []string{
			`<svg viewBox="0 0 720 280" role="img" aria-labelledby="chart-points-title chart-points-desc"`,
			`<title id="chart-points-title">Points issued, redeemed and expired</title>`,
			`<title>` + long + ` · Issued: 150 points</title>`,
			`<title>` + long + ` · Members: 120.00 USD</title>`,
			`<title>` + long + ` · Non-members and guests: 30.00 USD</title>`,
			`Points issued<b>230</b>`,
			`id="chart-members"`, `id="chart-revenue"`, `id="chart-outstanding"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		if n := strings.Count(page, `<tr><th scope="row">`); n != 2+7 {
			t.Errorf("%d table rows, want 2 order rows and 7 days", n)
		}
	})
	for _, c := range []struct {
		bucket app.KPIBucket
		label  string
	}{{app.BucketWeek, "Week of "}, {app.BucketMonth, paid.UTC().Format("January 2006")}} {
		t.Run("by "+string(c.bucket)+", buckets are named so", func(t *testing.T) {
			resp, page := r.get(t, b, "/console/?from="+from+"&to="+today+"&bucket="+string(c.bucket), nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<title>"+c.label) || !strings.Contains(page, `<option value="`+string(c.bucket)+`" selected>`) {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
		})
	}
	t.Run("without a period, the last 30 days by day", func(t *testing.T) {
		_, page := r.get(t, b, "/console/", nil)
		if !regexp.MustCompile(`aria-current="true">Last 30 days<`).MatchString(page) || !hasValue(page, "to", today) {
			t.Fatalf("%s", page)
		}
	})
	for _, c := range []struct {
		rule, query, errMsg, kept string
	}{
		{"a start that is not a date is refused", "from=2026-13-01&to=" + today, "the start date must be a date like", "2026-13-01"},
		{"an end before the start is refused", "from=" + today + "&to=" + from, "is before the start date", from},
		{"buckets are days, weeks or months", "from=" + from + "&to=" + today + "&bucket=year", "KPIs are by day, week or month", today},
		{"a series has at most 1000 buckets", "from=2000-01-01&to=" + today + "&bucket=day", "at most 1000 buckets", "2000-01-01"},
	} {
		t.Run(c.rule+", on the page with the period kept", func(t *testing.T) {
			resp, page := r.get(t, b, "/console/?"+c.query, nil)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, c.errMsg) || !strings.Contains(page, `value="`+c.kept+`"`) ||
				strings.Contains(page, "<svg") {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
		})
	}
}

func TestConsoleDashboardChartScale(t *testing.T) {
	for _, c := range []struct {
		in, want float64
	}{{0.3, 0.5}, {1, 1}, {3, 5}, {7, 10}, {12, 20}, {450, 500}, {2600, 5000}} {
		t.Run(fmt.Sprintf("a step of %g rounds up to %g", c.in, c.want), func(t *testing.T) {
			if got := niceStep(c.in); got != c.want {
				t.Fatalf("niceStep(%g) = %g", c.in, got)
			}
		})
	}
	t.Run("the y axis covers the largest value and starts at 0", func(t *testing.T) {
		ch := newChart("x", "X", "", "points", []string{"a", "b"}, []string{"A", "B"}, true, func(v float64) string { return "" },
			[]chartSeries{{Name: "s", Values: []float64{3, 130}}})
		top := ch.YTicks[len(ch.YTicks)-1]
		if ch.YTicks[0].Label != "0" || top.Label != "150" || top.At != ch.Top || len(ch.Bars) != 2 || ch.Bars[1].Y < ch.Top {
			t.Fatalf("%+v", ch)
		}
	})
	t.Run("counts never get fractional ticks", func(t *testing.T) {
		ch := newChart("x", "X", "", "members", []string{"a"}, []string{"A"}, true, func(v float64) string { return "" },
			[]chartSeries{{Name: "s", Line: true, Values: []float64{1}}})
		for _, tk := range ch.YTicks {
			if strings.Contains(tk.Label, ".") {
				t.Fatalf("%+v", ch.YTicks)
			}
		}
	})
}
