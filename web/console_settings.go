package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/platforms/woocommerce"
)

// The console's settings pages: the dashboard, the program's rules, the
// rewards catalogue, staff, one's own account and the audit log. Each
// handler binds a form, calls one service method and renders; a change
// redirects to its page with a notice key, mapped to a fixed text here so
// the query string never puts words on the page.

// settingsNotices are the texts a ?notice= key may show.
var settingsNotices = map[string]string{
	"program-saved":      "Program settings saved. Orders already paid keep the points they earned; new orders earn by the new rules.",
	"program-unchanged":  "Nothing to save: the settings were already as sent.",
	"statuses-saved":     "Earning statuses saved. Orders that reach one of them from now on earn points; orders already paid keep theirs.",
	"reward-added":       "Reward added. It is offered in the widget now.",
	"reward-activated":   "Reward offered again: shoppers can redeem it in the widget.",
	"reward-deactivated": "Reward withdrawn: shoppers can no longer redeem it. Codes already issued stay valid until they expire.",
	"staff-added":        "Staff member added. Give them their password privately; they can change it under Account.",
	"staff-role":         "Role changed. It applies from their next page.",
	"staff-disabled":     "Access removed: they are signed out, cannot sign in and their API tokens stopped working.",
	"password-changed":   "Password changed. Use the new one next time you sign in.",
	"token-revoked":      "API token revoked: it no longer works.",
}

func notice(c echo.Context) string { return settingsNotices[c.QueryParam("notice")] }

func seeOther(c echo.Context, path, key string) error {
	return c.Redirect(http.StatusSeeOther, path+"?notice="+key)
}

// idParam reads a numeric id from the path; anything else is no such thing.
func idParam(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, app.Errorf(app.ENotFound, "no such %s", what)
	}
	return id, nil
}

// ---------------------------------------------------------------- dashboard

// dashboardPage is the dashboard: the period form as sent, the report and
// its charts. Report is nil when the period was refused.
type dashboardPage struct {
	From, To, Bucket string
	Presets          []dashboardPreset
	Report           *app.KPIReport
	Charts           []chart
	Rows             []dashboardRow
}

// dashboardPreset is a link to a common period.
type dashboardPreset struct {
	Label, URL string
	Current    bool
}

// dashboardRow is one bucket of the report as the table under the charts
// shows it.
type dashboardRow struct {
	Label string
	app.KPIFigures
}

const dateForm = "2006-01-02"

// consoleDashboard shows the program's KPIs over a period: last 30 days by
// day unless the form says otherwise. Dates are whole UTC days, both ends
// included, as merchants read "from 1 to 30 November".
func (s *Server) consoleDashboard(c echo.Context) error {
	// The default period follows the wall clock; an explicit from/to does not.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	page := dashboardPage{From: c.QueryParam("from"), To: c.QueryParam("to"), Bucket: c.QueryParam("bucket")}
	if page.From == "" && page.To == "" {
		page.From, page.To = today.AddDate(0, 0, -29).Format(dateForm), today.Format(dateForm)
	}
	if page.Bucket == "" {
		page.Bucket = string(app.BucketDay)
	}
	for _, p := range []struct {
		label  string
		from   time.Time
		bucket app.KPIBucket
	}{
		{"Last 7 days", today.AddDate(0, 0, -6), app.BucketDay},
		{"Last 30 days", today.AddDate(0, 0, -29), app.BucketDay},
		{"Last 90 days", today.AddDate(0, 0, -89), app.BucketWeek},
		{"Last 12 months", time.Date(today.Year()-1, today.Month()+1, 1, 0, 0, 0, 0, time.UTC), app.BucketMonth},
	} {
		from, to := p.from.Format(dateForm), today.Format(dateForm)
		page.Presets = append(page.Presets, dashboardPreset{Label: p.label,
			URL:     "/console/?" + url.Values{"from": {from}, "to": {to}, "bucket": {string(p.bucket)}}.Encode(),
			Current: page.From == from && page.To == to && page.Bucket == string(p.bucket)})
	}
	view := Page{Name: "dashboard", Title: "Dashboard", Notice: notice(c), Data: &page}
	q, err := page.query()
	if err != nil {
		return s.consoleError(c, err, view)
	}
	_, shop := staffOf(c)
	rep, err := s.deps.Service.KPIs(c.Request().Context(), shop, q)
	if err != nil {
		return s.consoleError(c, err, view)
	}
	page.Report = &rep
	page.Charts, page.Rows = dashboardCharts(rep)
	return s.renderConsole(c, http.StatusOK, view)
}

// query turns the form's inclusive dates into the report's [From, To).
func (p dashboardPage) query() (app.KPIQuery, error) {
	from, err := time.Parse(dateForm, strings.TrimSpace(p.From))
	if err != nil {
		return app.KPIQuery{}, app.Errorf(app.EInvalid, "the start date must be a date like 2026-11-01, not %q", p.From)
	}
	to, err := time.Parse(dateForm, strings.TrimSpace(p.To))
	if err != nil {
		return app.KPIQuery{}, app.Errorf(app.EInvalid, "the end date must be a date like 2026-11-30, not %q", p.To)
	}
	if to.Before(from) {
		return app.KPIQuery{}, app.Errorf(app.EInvalid, "the end date (%s) is before the start date (%s)", p.To, p.From)
	}
	q := app.KPIQuery{From: from, To: to.AddDate(0, 0, 1), Bucket: app.KPIBucket(p.Bucket)}
	return q, q.Validate()
}

// bucketLabels names a bucket starting at t: short for the axis, long for
// tooltips and the table.
func bucketLabels(b app.KPIBucket, t time.Time) (short, long string) {
	t = t.UTC()
	switch b {
	case app.BucketMonth:
		return t.Format("Jan 2006"), t.Format("January 2006")
	case app.BucketWeek:
		return t.Format("Jan 2"), "Week of " + t.Format("Mon 2 Jan 2006")
	default:
		return t.Format("Jan 2"), t.Format("Mon 2 Jan 2006")
	}
}

// dashboardCharts draws the report's series: points, members, revenue and
// the points outstanding.
func dashboardCharts(rep app.KPIReport) ([]chart, []dashboardRow) {
	n := len(rep.Series)
	short, long := make([]string, n), make([]string, n)
	issued, redeemed, expired := make([]float64, n), make([]float64, n), make([]float64, n)
	members, active, outstanding := make([]float64, n), make([]float64, n), make([]float64, n)
	memberRev, otherRev := make([]float64, n), make([]float64, n)
	rows := make([]dashboardRow, n)
	for i, f := range rep.Series {
		short[i], long[i] = bucketLabels(rep.Query.Bucket, f.Start)
		rows[i] = dashboardRow{Label: long[i], KPIFigures: f}
		issued[i], redeemed[i], expired[i] = float64(f.PointsIssued), float64(f.PointsRedeemed), float64(f.PointsExpired)
		members[i], active[i], outstanding[i] = float64(f.Members), float64(f.ActiveMembers), float64(f.Outstanding)
		memberRev[i] = float64(f.MemberOrders.Revenue) / app.AmountScale
		otherRev[i] = float64(f.NonMemberOrders.Revenue) / app.AmountScale
	}
	pts := func(v float64) string { return groupDigits(int64(v)) + " points" }
	count := func(v float64) string { return groupDigits(int64(v)) }
	money := func(v float64) string { return app.Amount(v*app.AmountScale).String() + " " + rep.Currency }
	charts := []chart{
		newChart("points", "Points issued, redeemed and expired", "Points per "+string(rep.Query.Bucket)+
			": issued by purchases, bonuses and additions; redeemed on rewards (less points given back); expired.",
			"points", short, long, true, pts, []chartSeries{
				{Name: "Issued", Color: colorBlue, Values: issued},
				{Name: "Redeemed", Color: colorOrange, Values: redeemed},
				{Name: "Expired", Color: colorGrey, Values: expired},
			}),
		newChart("members", "Members and active members", "Members at the end of each "+string(rep.Query.Bucket)+
			"; active members had points activity or a paid order in the 90 days before.",
			"members", short, long, true, count, []chartSeries{
				{Name: "Members", Color: colorBlue, Line: true, Values: members},
				{Name: "Active members", Color: colorOrange, Line: true, Values: active},
			}),
		newChart("revenue", "Revenue from members and non-members", "Eligible revenue of paid orders per "+string(rep.Query.Bucket)+
			", in "+rep.Currency+", split by whether the shopper was a program member when they paid.",
			rep.Currency, short, long, false, money, []chartSeries{
				{Name: "Members", Color: colorBlue, Values: memberRev},
				{Name: "Non-members and guests", Color: colorGrey, Values: otherRev},
			}),
		newChart("outstanding", "Points outstanding", "Points held by members (spendable and pending) at the end of each "+
			string(rep.Query.Bucket)+": what the program still owes.",
			"points", short, long, true, pts, []chartSeries{
				{Name: "Outstanding", Color: colorBlue, Line: true, Values: outstanding},
			}),
	}
	return charts, rows
}

// ---------------------------------------------------------------- program

// programForm is the program as its form sends it: text as typed, so a
// refused value comes back to the page unchanged.
type programForm struct {
	EarnRate                                     string
	EarnOnShipping, EarnOnTax, RewardPartEarns   bool
	AllowNegative                                bool
	Rounding                                     string
	SignupBonus, BirthdayBonus, AnniversaryBonus string
	PendingDays                                  string
	// Expiry is how points expire: never, lots (each lot after
	// ExpiryDays) or inactivity (the whole balance after
	// InactivityMonths without activity).
	Expiry                       string
	ExpiryDays, InactivityMonths string
	WarnDays                     string
	RestoreExpiredCodes          bool
	RestoreOnRefund              bool
	Locale                       string
	Welcome, Earned, Redeemed    bool
	Expiring, Birthday           bool
	Color, Position              string
	// SupportLimit is the points a support member may add or remove in one
	// adjustment without an owner's or admin's approval; 0 sends every
	// adjustment of theirs for approval.
	SupportLimit string
}

// programPage is the program page's data.
type programPage struct {
	Form     programForm
	Currency string
	Locales  []option
	Changes  []app.AuditEntry
	// WooCommerce shows the form of EarnStatuses, the order statuses at
	// which orders earn, as typed (comma-separated): a WooCommerce store
	// says what an order is through its status, where Shopify sends an
	// orders/paid event.
	WooCommerce  bool
	EarnStatuses string
}

// option is one choice of a select.
type option struct{ Value, Label string }

// localeNames are the shop languages in their own words.
var localeNames = map[string]string{"en": "English", "pl": "Polski", "lv": "Latviešu", "ro": "Română", "ru": "Русский"}

func programFormOf(p app.Program) programForm {
	f := programForm{
		EarnRate: p.EarnRate.String(), EarnOnShipping: p.EarnOnShipping, EarnOnTax: p.EarnOnTax, RewardPartEarns: p.RewardPartEarns,
		AllowNegative: p.AllowNegative, Rounding: string(p.Rounding), SignupBonus: itoa(p.SignupBonus),
		BirthdayBonus: itoa(p.BirthdayBonus), AnniversaryBonus: itoa(p.AnniversaryBonus), PendingDays: strconv.Itoa(p.PendingDays),
		Expiry: "never", WarnDays: joinInts(p.WarnDays), RestoreExpiredCodes: p.RestoreExpiredCodes,
		RestoreOnRefund: p.RestoreOnRefund, Locale: p.Locale, Welcome: p.Messages.Welcome, Earned: p.Messages.Earned,
		Redeemed: p.Messages.Redeemed, Expiring: p.Messages.Expiring, Birthday: p.Messages.Birthday,
		Color: p.Look.Color, Position: p.Look.Position,
	}
	switch {
	case p.ExpiryDays > 0:
		f.Expiry, f.ExpiryDays = "lots", strconv.Itoa(p.ExpiryDays)
	case p.InactivityMonths > 0:
		f.Expiry, f.InactivityMonths = "inactivity", strconv.Itoa(p.InactivityMonths)
	}
	limit, _ := p.AdjustLimit(app.RoleSupport)
	f.SupportLimit = itoa(limit)
	if f.Locale == "" {
		f.Locale = "en"
	}
	return f
}

func bindProgramForm(c echo.Context) programForm {
	on := func(name string) bool { return c.FormValue(name) != "" }
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	return programForm{
		EarnRate: v("earn_rate"), EarnOnShipping: on("earn_on_shipping"), EarnOnTax: on("earn_on_tax"),
		RewardPartEarns: on("reward_part_earns"), AllowNegative: on("allow_negative"), Rounding: v("rounding"),
		SignupBonus: v("signup_bonus"), BirthdayBonus: v("birthday_bonus"), AnniversaryBonus: v("anniversary_bonus"),
		PendingDays: v("pending_days"), Expiry: v("expiry"), ExpiryDays: v("expiry_days"), InactivityMonths: v("inactivity_months"),
		WarnDays: v("warn_days"), RestoreExpiredCodes: on("restore_expired_codes"), RestoreOnRefund: on("restore_on_refund"),
		Locale: v("locale"), Welcome: on("msg_welcome"), Earned: on("msg_earned"), Redeemed: on("msg_redeemed"),
		Expiring: on("msg_expiring"), Birthday: on("msg_birthday"), Color: strings.ToLower(v("color")),
		Position: v("position"), SupportLimit: v("support_limit"),
	}
}

// program applies the form to the current program, so settings the form
// does not show stay as they are. The rules themselves are the program's
// Validate; here only the text becomes numbers.
func (f programForm) program(cur app.Program) (app.Program, error) {
	p := cur
	rate, err := app.ParseRate(f.EarnRate)
	if err != nil || f.EarnRate == "" {
		return p, app.Errorf(app.EInvalid, "the earn rate must be a number of points like 1, 0.5 or 2.5, not %q", f.EarnRate)
	}
	p.EarnRate, p.EarnOnShipping, p.EarnOnTax, p.RewardPartEarns = rate, f.EarnOnShipping, f.EarnOnTax, f.RewardPartEarns
	p.AllowNegative, p.Rounding = f.AllowNegative, app.Rounding(f.Rounding)
	if p.SignupBonus, err = wholeNumber("the signup bonus", f.SignupBonus); err != nil {
		return p, err
	}
	if p.BirthdayBonus, err = wholeNumber("the birthday bonus", f.BirthdayBonus); err != nil {
		return p, err
	}
	if p.AnniversaryBonus, err = wholeNumber("the anniversary bonus", f.AnniversaryBonus); err != nil {
		return p, err
	}
	pending, err := wholeNumber("the pending period", f.PendingDays)
	if err != nil {
		return p, err
	}
	p.PendingDays = int(pending)
	p.ExpiryDays, p.InactivityMonths = 0, 0
	switch f.Expiry {
	case "never":
	case "lots":
		n, err := wholeNumber("the expiry period", f.ExpiryDays)
		if err != nil {
			return p, err
		}
		if n == 0 {
			return p, app.Errorf(app.EInvalid, "enter after how many days points expire, or choose that points never expire")
		}
		p.ExpiryDays = int(n)
	case "inactivity":
		n, err := wholeNumber("the inactivity period", f.InactivityMonths)
		if err != nil {
			return p, err
		}
		if n == 0 {
			return p, app.Errorf(app.EInvalid, "enter after how many months without activity points expire, or choose that points never expire")
		}
		p.InactivityMonths = int(n)
	default:
		return p, app.Errorf(app.EInvalid, "choose how points expire")
	}
	p.WarnDays = nil
	for _, part := range strings.FieldsFunc(f.WarnDays, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		d, err := strconv.Atoi(part)
		if err != nil {
			return p, app.Errorf(app.EInvalid, "expiry warnings are days ahead separated by commas, like 14, 3 — not %q", f.WarnDays)
		}
		p.WarnDays = append(p.WarnDays, d)
	}
	p.RestoreExpiredCodes, p.RestoreOnRefund = f.RestoreExpiredCodes, f.RestoreOnRefund
	if !slices.Contains(app.Locales, f.Locale) {
		return p, app.Errorf(app.EInvalid, "choose the shop's language from the list")
	}
	p.Locale = f.Locale
	p.Messages = app.Messages{Welcome: f.Welcome, Earned: f.Earned, Redeemed: f.Redeemed, Expiring: f.Expiring, Birthday: f.Birthday}
	p.Look = app.WidgetLook{Color: f.Color, Position: f.Position}
	limits := map[app.Role]int64{}
	for r, n := range cur.AdjustLimits {
		limits[r] = n
	}
	if f.SupportLimit == "" {
		return p, app.Errorf(app.EInvalid, "enter the points support staff may adjust without approval (0: every adjustment needs approval)")
	}
	n, err := wholeNumber("the support adjustment limit", f.SupportLimit)
	if err != nil {
		return p, err
	}
	limits[app.RoleSupport] = n
	p.AdjustLimits = limits
	return p, nil
}

// wholeNumber reads a count of points, days or months; blank is 0.
func wholeNumber(what, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "\u202f", ""), 10, 64)
	if err != nil || n < 0 {
		return 0, app.Errorf(app.EInvalid, "%s must be a whole number of 0 or more, like 100, not %q", what, s)
	}
	return n, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// programChange describes in words what a program change changes, for the
// audit log: "Earn rate: 1 → 2 points per USD; Signup bonus: 0 → 100 points".
func programChange(old, p app.Program, currency string) string {
	yes := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	points := func(n int64) string { return groupDigits(n) + " points" }
	expiry := func(p app.Program) string {
		switch {
		case p.ExpiryDays > 0:
			return strconv.Itoa(p.ExpiryDays) + " days after earning"
		case p.InactivityMonths > 0:
			return "after " + strconv.Itoa(p.InactivityMonths) + " months without activity"
		}
		return "never"
	}
	limit := func(p app.Program) string {
		n, _ := p.AdjustLimit(app.RoleSupport)
		return points(n)
	}
	warn := func(p app.Program) string {
		if len(p.WarnDays) == 0 {
			return "none"
		}
		return joinInts(p.WarnDays) + " days ahead"
	}
	var changes []string
	for _, c := range []struct{ label, old, new string }{
		{"Earn rate", old.EarnRate.String() + " points per " + currency, p.EarnRate.String() + " points per " + currency},
		{"Earn on shipping", yes(old.EarnOnShipping), yes(p.EarnOnShipping)},
		{"Earn on tax", yes(old.EarnOnTax), yes(p.EarnOnTax)},
		{"Reward part earns", yes(old.RewardPartEarns), yes(p.RewardPartEarns)},
		{"Rounding", string(old.Rounding), string(p.Rounding)},
		{"Negative balances", yes(old.AllowNegative), yes(p.AllowNegative)},
		{"Signup bonus", points(old.SignupBonus), points(p.SignupBonus)},
		{"Birthday bonus", points(old.BirthdayBonus), points(p.BirthdayBonus)},
		{"Anniversary bonus", points(old.AnniversaryBonus), points(p.AnniversaryBonus)},
		{"Pending period", strconv.Itoa(old.PendingDays) + " days", strconv.Itoa(p.PendingDays) + " days"},
		{"Points expire", expiry(old), expiry(p)},
		{"Expiry warnings", warn(old), warn(p)},
		{"Restore expired codes", yes(old.RestoreExpiredCodes), yes(p.RestoreExpiredCodes)},
		{"Restore on refund", yes(old.RestoreOnRefund), yes(p.RestoreOnRefund)},
		{"Language", old.Locale, p.Locale},
		{"Welcome message", yes(old.Messages.Welcome), yes(p.Messages.Welcome)},
		{"Points earned message", yes(old.Messages.Earned), yes(p.Messages.Earned)},
		{"Reward redeemed message", yes(old.Messages.Redeemed), yes(p.Messages.Redeemed)},
		{"Expiry warning message", yes(old.Messages.Expiring), yes(p.Messages.Expiring)},
		{"Birthday message", yes(old.Messages.Birthday), yes(p.Messages.Birthday)},
		{"Widget colour", old.Look.Color, p.Look.Color},
		{"Widget position", old.Look.Position, p.Look.Position},
		{"Support adjustment limit", limit(old), limit(p)},
	} {
		if c.old != c.new {
			changes = append(changes, c.label+": "+c.old+" → "+c.new)
		}
	}
	return strings.Join(changes, "; ")
}

func (s *Server) programPage(c echo.Context, f *programForm) (Page, error) {
	_, shop := staffOf(c)
	ctx := c.Request().Context()
	page := &programPage{Currency: shop.Currency}
	for _, l := range app.Locales {
		name := localeNames[l]
		if name == "" {
			name = l
		}
		page.Locales = append(page.Locales, option{Value: l, Label: name})
	}
	if f == nil {
		p, err := s.deps.Service.Program(ctx, shop)
		if err != nil {
			return Page{}, err
		}
		page.Form = programFormOf(p)
	} else {
		page.Form = *f
	}
	trail, err := s.deps.Service.AuditTrail(ctx, shop, app.AuditQuery{Action: "change program", Limit: 5})
	if err != nil {
		return Page{}, err
	}
	page.Changes = trail.Entries
	if shop.Platform == app.WooCommerce {
		conn, err := s.deps.Service.Connection(ctx, shop)
		if err != nil {
			return Page{}, err
		}
		statuses := conn.EarnStatuses
		if len(statuses) == 0 {
			statuses = woocommerce.DefaultEarnStatuses
		}
		page.WooCommerce, page.EarnStatuses = true, strings.Join(statuses, ", ")
	}
	return Page{Name: "program", Title: "Program settings", Notice: notice(c), Data: page}, nil
}

// saveEarnStatuses changes the order statuses at which a WooCommerce
// store's orders earn. The store's adapter says which statuses make sense
// (a paid order's, including a plugin's own); the change is audited.
func (s *Server) saveEarnStatuses(c echo.Context) error {
	m, shop := staffOf(c)
	if shop.Platform != app.WooCommerce {
		return app.Errorf(app.ENotFound, "earning statuses are a WooCommerce setting")
	}
	typed := strings.TrimSpace(c.FormValue("earn_statuses"))
	statuses, err := woocommerce.ParseEarnStatuses(typed)
	if err == nil {
		err = s.deps.Service.SetEarnStatuses(c.Request().Context(), shop, statuses, app.StaffLabel(m))
	}
	if err != nil {
		page, perr := s.programPage(c, nil)
		if perr != nil {
			return perr
		}
		page.Notice = ""
		page.Data.(*programPage).EarnStatuses = typed
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/program", "statuses-saved")
}

func (s *Server) consoleProgram(c echo.Context) error {
	page, err := s.programPage(c, nil)
	if err != nil {
		return err
	}
	return s.renderConsole(c, http.StatusOK, page)
}

// saveProgram changes the program's rules and records in words what
// changed.
func (s *Server) saveProgram(c echo.Context) error {
	m, shop := staffOf(c)
	ctx := c.Request().Context()
	form := bindProgramForm(c)
	page, err := s.programPage(c, &form)
	if err != nil {
		return err
	}
	page.Notice = ""
	cur, err := s.deps.Service.Program(ctx, shop)
	if err != nil {
		return err
	}
	p, err := form.program(cur)
	if err != nil {
		return s.consoleError(c, err, page)
	}
	change := programChange(cur, p, shop.Currency)
	if change == "" {
		return seeOther(c, "/console/program", "program-unchanged")
	}
	if err := s.deps.Service.SetProgram(ctx, shop, p, app.StaffLabel(m), change); err != nil {
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/program", "program-saved")
}

// ---------------------------------------------------------------- rewards

// rewardForm is a new reward as its form sends it.
type rewardForm struct {
	Name, Kind, Points, Amount, PointsPerUnit, MinPoints, MaxPoints, Percentage, MinSubtotal, ExpiryDays string
}

// rewardRow is a reward with what it costs and gives in words.
type rewardRow struct {
	app.Reward
	Cost, Gives string
}

type rewardsPage struct {
	Rewards  []rewardRow
	Form     rewardForm
	Currency string
	Kinds    []option
}

var rewardKinds = []option{
	{string(app.RewardFixed), "Fixed amount off"},
	{string(app.RewardVariable), "Amount off, shopper chooses the points"},
	{string(app.RewardPercentage), "Percentage off"},
	{string(app.RewardFreeShipping), "Free shipping"},
}

func rewardRowOf(r app.Reward, currency string) rewardRow {
	row := rewardRow{Reward: r, Cost: groupDigits(r.Points) + " points"}
	switch r.Kind {
	case app.RewardFixed:
		row.Gives = r.Amount.String() + " " + currency + " off"
	case app.RewardVariable:
		row.Cost = groupDigits(r.PointsPerUnit) + " points per 1.00 " + currency
		row.Gives = "Amount off for " + groupDigits(r.MinPoints) + " points or more"
		if r.MaxPoints > 0 {
			row.Gives = "Amount off for " + groupDigits(r.MinPoints) + " to " + groupDigits(r.MaxPoints) + " points"
		}
	case app.RewardPercentage:
		row.Gives = strconv.Itoa(r.Percentage) + " % off the order"
	case app.RewardFreeShipping:
		row.Gives = "Free shipping"
	}
	if r.MinSubtotal > 0 {
		row.Gives += ", on orders of " + r.MinSubtotal.String() + " " + currency + " or more"
	}
	return row
}

func (f rewardForm) reward() (app.Reward, error) {
	r := app.Reward{Name: f.Name, Kind: app.RewardKind(f.Kind), Active: true}
	var err error
	for _, n := range []struct {
		what string
		in   string
		out  *int64
	}{
		{"the cost in points", f.Points, &r.Points},
		{"the points per 1.00 off", f.PointsPerUnit, &r.PointsPerUnit},
		{"the minimum points", f.MinPoints, &r.MinPoints},
		{"the maximum points", f.MaxPoints, &r.MaxPoints},
	} {
		if *n.out, err = wholeNumber(n.what, n.in); err != nil {
			return r, err
		}
	}
	pct, err := wholeNumber("the percentage", f.Percentage)
	if err != nil {
		return r, err
	}
	days, err := wholeNumber("the code's validity", f.ExpiryDays)
	if err != nil {
		return r, err
	}
	r.Percentage, r.ExpiryDays = int(pct), int(days)
	if r.Amount, err = app.ParseAmount(f.Amount); err != nil {
		return r, app.Errorf(app.EInvalid, "the amount off must be a sum like 10 or 7.50, not %q", f.Amount)
	}
	if r.MinSubtotal, err = app.ParseAmount(f.MinSubtotal); err != nil {
		return r, app.Errorf(app.EInvalid, "the minimum order must be a sum like 50 or 49.99, not %q", f.MinSubtotal)
	}
	return r, nil
}

func (s *Server) rewardsPage(c echo.Context, form rewardForm) (Page, error) {
	_, shop := staffOf(c)
	list, err := s.deps.Service.Rewards(c.Request().Context(), shop)
	if err != nil {
		return Page{}, err
	}
	page := &rewardsPage{Form: form, Currency: shop.Currency, Kinds: rewardKinds}
	for _, r := range list {
		page.Rewards = append(page.Rewards, rewardRowOf(r, shop.Currency))
	}
	return Page{Name: "rewards", Title: "Rewards", Notice: notice(c), Data: page}, nil
}

func (s *Server) consoleRewards(c echo.Context) error {
	page, err := s.rewardsPage(c, rewardForm{Kind: string(app.RewardFixed), ExpiryDays: "30"})
	if err != nil {
		return err
	}
	return s.renderConsole(c, http.StatusOK, page)
}

func (s *Server) addConsoleReward(c echo.Context) error {
	m, shop := staffOf(c)
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	form := rewardForm{Name: v("name"), Kind: v("kind"), Points: v("points"), Amount: v("amount"),
		PointsPerUnit: v("points_per_unit"), MinPoints: v("min_points"), MaxPoints: v("max_points"),
		Percentage: v("percentage"), MinSubtotal: v("min_subtotal"), ExpiryDays: v("expiry_days")}
	page, err := s.rewardsPage(c, form)
	if err != nil {
		return err
	}
	page.Notice = ""
	r, err := form.reward()
	if err == nil {
		_, err = s.deps.Service.AddRewardAs(c.Request().Context(), shop, app.StaffLabel(m), r)
	}
	if err != nil {
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/rewards", "reward-added")
}

// setConsoleRewardActive offers (active) or withdraws a reward.
func (s *Server) setConsoleRewardActive(active bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		m, shop := staffOf(c)
		id, err := idParam(c, "reward")
		if err != nil {
			return err
		}
		if err := s.deps.Service.SetRewardActiveAs(c.Request().Context(), shop, app.StaffLabel(m), id, active); err != nil {
			page, perr := s.rewardsPage(c, rewardForm{Kind: string(app.RewardFixed)})
			if perr != nil {
				return perr
			}
			page.Notice = ""
			return s.consoleError(c, err, page)
		}
		if active {
			return seeOther(c, "/console/rewards", "reward-activated")
		}
		return seeOther(c, "/console/rewards", "reward-deactivated")
	}
}

// ---------------------------------------------------------------- staff

// staffForm is a new staff member as the form sends them; the password is
// never sent back to the page.
type staffForm struct{ Name, Email, Role string }

type staffRow struct {
	app.Staff
	Self, Locked bool
	// Managed says whether the signed-in member may change this one:
	// only owners touch owners, and no one their own account here.
	Managed bool
}

type staffPage struct {
	Staff       []staffRow
	Form        staffForm
	Roles       []roleInfo
	Assignable  []option
	MinPassword int
}

// roleInfo explains a role to whoever assigns it.
type roleInfo struct {
	Role        app.Role
	Summary     string
	Permissions []string
}

// permissionLabels say in words what each permission lets staff do.
var permissionLabels = map[app.Permission]string{
	app.ViewCustomers:      "See customers, their points and history",
	app.AdjustBalance:      "Add or remove points, import balances",
	app.ResendMessages:     "Resend messages to shoppers",
	app.ExportCustomerData: "Export customers' data (lists and privacy requests)",
	app.EditProgram:        "Change the program's rules",
	app.EditRewards:        "Change the rewards catalogue",
	app.ManageStaff:        "Add staff, change their roles, remove access",
	app.ApproveAdjustments: "Approve or reject large point adjustments",
}

var roleSummaries = map[app.Role]string{
	app.RoleOwner:   "Everything, including adding other owners.",
	app.RoleAdmin:   "Runs the program: rules, rewards, staff and approvals; sees customers but does not change balances.",
	app.RoleSupport: "Looks after shoppers: balances (within the limit set under Program), messages and data requests; changes no settings.",
}

func permissionNames(r app.Role) []string {
	var out []string
	for _, p := range r.Permissions() {
		if l, ok := permissionLabels[p]; ok {
			out = append(out, l)
		} else {
			out = append(out, string(p))
		}
	}
	return out
}

func (s *Server) staffPage(c echo.Context, form staffForm) (Page, error) {
	me, shop := staffOf(c)
	list, err := s.deps.Service.StaffList(c.Request().Context(), shop)
	if err != nil {
		return Page{}, err
	}
	now := time.Now()
	page := &staffPage{Form: form, MinPassword: app.MinPasswordLength}
	for _, m := range list {
		self := m.ID == me.ID
		page.Staff = append(page.Staff, staffRow{Staff: m, Self: self, Locked: m.LockedUntil.After(now),
			Managed: !self && m.DisabledAt.IsZero() && (m.Role != app.RoleOwner || me.Role == app.RoleOwner)})
	}
	for _, r := range []app.Role{app.RoleOwner, app.RoleAdmin, app.RoleSupport} {
		page.Roles = append(page.Roles, roleInfo{Role: r, Summary: roleSummaries[r], Permissions: permissionNames(r)})
		if r != app.RoleOwner || me.Role == app.RoleOwner {
			page.Assignable = append(page.Assignable, option{Value: string(r), Label: string(r)})
		}
	}
	return Page{Name: "staff", Title: "Staff", Notice: notice(c), Data: page}, nil
}

func (s *Server) consoleStaff(c echo.Context) error {
	page, err := s.staffPage(c, staffForm{Role: string(app.RoleSupport)})
	if err != nil {
		return err
	}
	return s.renderConsole(c, http.StatusOK, page)
}

func (s *Server) addConsoleStaff(c echo.Context) error {
	me, shop := staffOf(c)
	form := staffForm{Name: strings.TrimSpace(c.FormValue("name")), Email: strings.TrimSpace(c.FormValue("email")),
		Role: c.FormValue("role")}
	page, err := s.staffPage(c, form)
	if err != nil {
		return err
	}
	page.Notice = ""
	if _, err := s.deps.Service.AddStaffAs(c.Request().Context(), shop, me, form.Email, form.Name, app.Role(form.Role),
		c.FormValue("password")); err != nil {
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/staff", "staff-added")
}

func (s *Server) setConsoleStaffRole(c echo.Context) error {
	return s.changeStaff(c, "staff-role", func(ctx context.Context, shop app.Shop, me app.Staff, id int64) error {
		return s.deps.Service.SetStaffRole(ctx, shop, me, id, app.Role(c.FormValue("role")))
	})
}

func (s *Server) disableConsoleStaff(c echo.Context) error {
	return s.changeStaff(c, "staff-disabled", func(ctx context.Context, shop app.Shop, me app.Staff, id int64) error {
		return s.deps.Service.DisableStaffByID(ctx, shop, me, id)
	})
}

// changeStaff applies a change to the staff member the path names and
// goes back to the staff page with notice; a refused change shows the page
// again with the reason, which is the only time the page is read here.
func (s *Server) changeStaff(c echo.Context, notice string, change func(ctx context.Context, shop app.Shop, me app.Staff, id int64) error) error {
	me, shop := staffOf(c)
	id, err := idParam(c, "staff member")
	if err != nil {
		return err
	}
	if err := change(c.Request().Context(), shop, me, id); err != nil {
		page, perr := s.staffPage(c, staffForm{Role: string(app.RoleSupport)})
		if perr != nil {
			return perr
		}
		page.Notice = ""
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/staff", notice)
}

// ---------------------------------------------------------------- account

type accountPage struct {
	// NewToken is a token just made, shown this once: it is kept nowhere.
	NewToken    string
	TokenName   string
	Tokens      []app.APIToken
	Role        roleInfo
	MinPassword int
}

func (s *Server) accountPage(c echo.Context, newToken, tokenName string) (Page, error) {
	m, _ := staffOf(c)
	tokens, err := s.deps.Service.APITokens(c.Request().Context(), m)
	if err != nil {
		return Page{}, err
	}
	page := &accountPage{NewToken: newToken, TokenName: tokenName, Tokens: tokens, MinPassword: app.MinPasswordLength,
		Role: roleInfo{Role: m.Role, Summary: roleSummaries[m.Role], Permissions: permissionNames(m.Role)}}
	return Page{Name: "account", Title: "Your account", Notice: notice(c), Data: page}, nil
}

func (s *Server) consoleAccount(c echo.Context) error {
	page, err := s.accountPage(c, "", "")
	if err != nil {
		return err
	}
	return s.renderConsole(c, http.StatusOK, page)
}

// changePassword changes the signed-in member's own password.
func (s *Server) changePassword(c echo.Context) error {
	m, shop := staffOf(c)
	page, err := s.accountPage(c, "", "")
	if err != nil {
		return err
	}
	page.Notice = ""
	next := c.FormValue("new_password")
	if next != c.FormValue("confirm_password") {
		return s.consoleError(c, app.Errorf(app.EInvalid, "the new password and its confirmation differ: type the same password twice"), page)
	}
	if err := s.deps.Service.ChangePassword(c.Request().Context(), shop, m, c.FormValue("current_password"), next); err != nil {
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/account", "password-changed")
}

// createToken makes an API token for the signed-in member and shows it,
// once, on the account page (not after a redirect: it is kept nowhere).
func (s *Server) createToken(c echo.Context) error {
	m, shop := staffOf(c)
	name := strings.TrimSpace(c.FormValue("name"))
	_, token, err := s.deps.Service.CreateAPIToken(c.Request().Context(), shop, m, name)
	if err != nil {
		page, perr := s.accountPage(c, "", name)
		if perr != nil {
			return perr
		}
		page.Notice = ""
		return s.consoleError(c, err, page)
	}
	page, err := s.accountPage(c, token, "")
	if err != nil {
		return err
	}
	page.Notice = ""
	return s.renderConsole(c, http.StatusOK, page)
}

func (s *Server) revokeToken(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := idParam(c, "token")
	if err != nil {
		return err
	}
	if err := s.deps.Service.RevokeOwnAPIToken(c.Request().Context(), shop, m, id); err != nil {
		page, perr := s.accountPage(c, "", "")
		if perr != nil {
			return perr
		}
		page.Notice = ""
		return s.consoleError(c, err, page)
	}
	return seeOther(c, "/console/account", "token-revoked")
}

// ---------------------------------------------------------------- audit

// auditPageSize is how many lines the audit page shows at a time.
const auditPageSize = 50

type auditPage struct {
	Actor, Action string
	Entries       []app.AuditEntry
	// NextURL is the link to older lines; empty on the last page.
	NextURL string
	// Paged says this is not the first page, so a link back to the
	// newest is worth showing.
	Paged bool
}

func (s *Server) consoleAudit(c echo.Context) error {
	_, shop := staffOf(c)
	page := &auditPage{Actor: strings.TrimSpace(c.QueryParam("actor")), Action: strings.TrimSpace(c.QueryParam("action"))}
	view := Page{Name: "audit", Title: "Audit log", Notice: notice(c), Data: page}
	q := app.AuditQuery{Actor: page.Actor, Action: page.Action, Limit: auditPageSize}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return s.consoleError(c, app.Errorf(app.EInvalid, "that page of the audit log does not exist: start from the newest"), view)
		}
		q.Before, page.Paged = n, true
	}
	trail, err := s.deps.Service.AuditTrail(c.Request().Context(), shop, q)
	if err != nil {
		return s.consoleError(c, err, view)
	}
	page.Entries = trail.Entries
	if trail.Next != 0 {
		v := url.Values{"before": {itoa(trail.Next)}}
		if page.Actor != "" {
			v.Set("actor", page.Actor)
		}
		if page.Action != "" {
			v.Set("action", page.Action)
		}
		page.NextURL = "/console/audit?" + v.Encode()
	}
	return s.renderConsole(c, http.StatusOK, view)
}

// ---------------------------------------------------------------- charts

// Chart colours: blue, orange and grey tell apart for every common kind
// of colour blindness.
const (
	colorBlue   = "#1f6feb"
	colorOrange = "#d97706"
	colorGrey   = "#6b7280"
)

// chart is an SVG chart laid out in Go, so the page needs no script: the
// template only places what is computed here. Every bar and point has a
// <title> with its exact value, and the table under the charts has them all.
type chart struct {
	ID, Title, Desc, Unit string
	Width, Height         float64
	// Left, Right, Top and Bottom are the plot area's edges; YLabelX is
	// where the y axis' labels end, XLabelY where the x axis' sit; MidX and
	// MidY the plot's centre, for the note of an empty chart.
	Left, Right, Top, Bottom float64
	YLabelX, XLabelY         float64
	MidX, MidY               float64
	YTicks, XTicks           []chartTick
	Bars                     []chartBar
	Lines                    []chartLine
	Legend                   []chartSeries
	Empty                    bool
}

type chartTick struct {
	At    float64
	Label string
}

type chartBar struct {
	X, Y, W, H   float64
	Color, Title string
}

type chartLine struct {
	Color, Points string
	Dots          []chartDot
}

type chartDot struct {
	X, Y         float64
	Color, Title string
}

// chartSeries is one series to draw: bars unless Line.
type chartSeries struct {
	Name, Color string
	Line        bool
	Values      []float64
}

// newChart lays out series over buckets. short labels the x axis, long
// names each bucket in titles; whole says the values are counts, so the
// y axis needs no fractions; value formats one value for a title.
func newChart(id, title, desc, unit string, short, long []string, whole bool, value func(float64) string, series []chartSeries) chart {
	ch := chart{ID: "chart-" + id, Title: title, Desc: desc, Unit: unit, Width: 720, Height: 280,
		Left: 64, Right: 708, Top: 30, Bottom: 240, Legend: series}
	ch.YLabelX, ch.XLabelY = ch.Left-8, ch.Bottom+22
	ch.MidX, ch.MidY = (ch.Left+ch.Right)/2, (ch.Top+ch.Bottom)/2
	n := len(short)
	top := 0.0
	for _, s := range series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	ch.Empty = top == 0
	step := niceStep(top / 4)
	if whole {
		step = max(step, 1)
	}
	if top == 0 {
		top = 4 * step
	} else {
		top = step * float64(int(top/step+0.999999))
	}
	y := func(v float64) float64 { return ch.Bottom - v/top*(ch.Bottom-ch.Top) }
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		ch.YTicks = append(ch.YTicks, chartTick{At: y(v), Label: compact(v)})
	}
	if n == 0 {
		return ch
	}
	band := (ch.Right - ch.Left) / float64(n)
	// At most about a dozen x labels, evenly spaced, fit under the axis.
	every := (n + 11) / 12
	for i := 0; i < n; i += every {
		ch.XTicks = append(ch.XTicks, chartTick{At: ch.Left + band*(float64(i)+0.5), Label: short[i]})
	}
	var bars []chartSeries
	for _, s := range series {
		if !s.Line {
			bars = append(bars, s)
		}
	}
	if len(bars) > 0 {
		w := band * 0.8 / float64(len(bars))
		for i := 0; i < n; i++ {
			for j, s := range bars {
				v := s.Values[i]
				ch.Bars = append(ch.Bars, chartBar{X: ch.Left + band*float64(i) + band*0.1 + w*float64(j), Y: y(v), W: w,
					H: ch.Bottom - y(v), Color: s.Color, Title: long[i] + " · " + s.Name + ": " + value(v)})
			}
		}
	}
	for _, s := range series {
		if !s.Line {
			continue
		}
		l := chartLine{Color: s.Color}
		pts := make([]string, n)
		for i, v := range s.Values {
			x := ch.Left + band*(float64(i)+0.5)
			pts[i] = strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y(v), 'f', 1, 64)
			l.Dots = append(l.Dots, chartDot{X: x, Y: y(v), Color: s.Color, Title: long[i] + " · " + s.Name + ": " + value(v)})
		}
		l.Points = strings.Join(pts, " ")
		ch.Lines = append(ch.Lines, l)
	}
	return ch
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten: axis steps a
// reader can add up.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= x {
		p *= 10
	}
	for p > x {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// compact writes an axis value short: 950, 12k, 3.5M, 0.5.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(strconv.FormatFloat(v/1e6, 'f', 1, 64), ".0") + "M"
	case v >= 1e4:
		return strings.TrimSuffix(strconv.FormatFloat(v/1e3, 'f', 1, 64), ".0") + "k"
	case v == float64(int64(v)):
		return groupDigits(int64(v))
	}
	// Steps below 1 are 0.5, 0.2, 0.01…: two decimals show them all
	// without the float's noise.
	return strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0")
}
