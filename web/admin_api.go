package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
	"loyalty/platforms/woocommerce"
)

// The admin API: JSON over bearer tokens (requireAPIToken) and, for the
// embedded Shopify admin, over session tokens. Every response is built from
// the api* structs below, never from app structs, so a field renamed in the
// domain cannot change what integrations read. openapi.yaml describes it all.

// Limits of the admin API.
const (
	// apiDefaultLimit and apiMaxLimit bound a page of a list.
	apiDefaultLimit = 25
	apiMaxLimit     = 100
	// apiMaxImport is the largest CSV an import takes: a few hundred
	// thousand rows, read into memory so that a cut-off upload is refused
	// whole instead of importing its first part.
	apiMaxImport = 20 << 20
	// apiMaxIdempotencyKey keeps keys to what a UUID or a hash needs,
	// with room for the scope the embedded admin adds.
	apiMaxIdempotencyKey = 150
	// apiDefaultPeriod is the period of a report or KPIs asked for
	// without dates.
	apiDefaultPeriod = 30 * 24 * time.Hour
)

// apiPage is every paginated list: data, and the cursor of the next page
// (null on the last one).
type apiPage struct {
	Data       any     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func apiList(c echo.Context, data any, next int64) error {
	page := apiPage{Data: data}
	if next > 0 {
		cur := strconv.FormatInt(next, 10)
		page.NextCursor = &cur
	}
	return c.JSON(http.StatusOK, page)
}

// apiCursor reads the cursor query parameter. Cursors are opaque to
// clients: they pass back what next_cursor said.
func apiCursor(c echo.Context) (int64, error) {
	s := c.QueryParam("cursor")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, app.Errorf(app.EInvalid, "cursor %q is not one this API gave: pass next_cursor back unchanged", s)
	}
	return n, nil
}

// apiLimit reads the limit query parameter: def when absent, at most max.
func apiLimit(c echo.Context, def, max int) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, app.Errorf(app.EInvalid, "limit must be a whole number from 1 to %d, not %q", max, s)
	}
	return n, nil
}

// apiPathID reads a numeric id from the path. An id that is not a number
// names nothing, so it is a 404 like any unknown id.
func apiPathID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, app.Errorf(app.ENotFound, "no %s %q", what, c.Param("id"))
	}
	return id, nil
}

// apiBind decodes a JSON body strictly: an unknown field is most likely a
// typo, and silently ignoring it would change nothing while answering 200.
// An empty body decodes to the zero value.
func apiBind(c echo.Context, v any, example string) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return app.Errorf(app.EInvalid, "the body must be JSON like %s: %v", example, err)
	}
	return nil
}

// apiPeriod reads from and to (dates as 2006-01-02, or RFC 3339 times; to
// is exclusive). Missing ends default to the last 30 days up to now.
func apiPeriod(c echo.Context) (from, to time.Time, err error) {
	to = time.Now().UTC()
	if s := c.QueryParam("to"); s != "" {
		if to, err = apiTime("to", s); err != nil {
			return
		}
	}
	from = to.Add(-apiDefaultPeriod)
	if s := c.QueryParam("from"); s != "" {
		if from, err = apiTime("from", s); err != nil {
			return
		}
	}
	if !from.Before(to) {
		err = app.Errorf(app.EInvalid, "the period must end (to) after it starts (from)")
	}
	return
}

func apiTime(name, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, app.Errorf(app.EInvalid, "%s must be a date (2026-11-01) or an RFC 3339 time, not %q", name, s)
}

// apiTimeOrNil shows a zero time as null.
func apiTimeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func apiIDOrNil(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// Customers

type apiCustomer struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Locale    string    `json:"locale"`
	Balance   int64     `json:"balance"`
	Pending   int64     `json:"pending"`
	Birthday  *string   `json:"birthday"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func apiCustomerOut(cu app.Customer) apiCustomer {
	out := apiCustomer{ID: cu.PlatformID, Email: cu.Email, FirstName: cu.FirstName, LastName: cu.LastName, Locale: cu.Locale,
		Balance: cu.Balance, Pending: cu.Pending, CreatedAt: cu.CreatedAt, UpdatedAt: cu.UpdatedAt}
	if cu.Birthday != nil {
		b := cu.Birthday.String()
		out.Birthday = &b
	}
	return out
}

type apiLot struct {
	ID          int64      `json:"id"`
	Points      int64      `json:"points"`
	Remaining   int64      `json:"remaining"`
	EarnedAt    time.Time  `json:"earned_at"`
	AvailableAt time.Time  `json:"available_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// apiEntry is a ledger entry. Exactly the cause fields that fit are set;
// the others are empty strings (text) or null (ids).
type apiEntry struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Points       int64     `json:"points"`
	Unrecovered  int64     `json:"unrecovered"`
	BalanceAfter int64     `json:"balance_after"`
	PendingAfter int64     `json:"pending_after"`
	OrderID      string    `json:"order_id"`
	RefundID     string    `json:"refund_id"`
	Job          string    `json:"job"`
	Staff        string    `json:"staff"`
	Reason       string    `json:"reason"`
	ReasonCode   string    `json:"reason_code"`
	ReasonLabel  string    `json:"reason_label"`
	Undoes       *int64    `json:"undoes"`
	UndoneBy     *int64    `json:"undone_by"`
	CreatedAt    time.Time `json:"created_at"`
}

func apiEntryOut(e app.Entry, undoneBy int64) apiEntry {
	out := apiEntry{ID: e.ID, Kind: string(e.Kind), Points: e.Points, Unrecovered: e.Unrecovered, BalanceAfter: e.BalanceAfter,
		PendingAfter: e.PendingAfter, OrderID: e.Cause.OrderID, RefundID: e.Cause.RefundID, Job: e.Cause.Job, Staff: e.Cause.Staff,
		Reason: e.Cause.Reason, ReasonCode: string(e.Cause.ReasonCode), Undoes: apiIDOrNil(e.Cause.Undoes), UndoneBy: apiIDOrNil(undoneBy),
		CreatedAt: e.CreatedAt}
	if e.Cause.ReasonCode != "" {
		out.ReasonLabel = e.Cause.ReasonCode.Label()
	}
	return out
}

type apiOrder struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Status         string     `json:"status"`
	Currency       string     `json:"currency"`
	Eligible       string     `json:"eligible"`
	Refunded       string     `json:"refunded"`
	PointsEarned   int64      `json:"points_earned"`
	PointsReversed int64      `json:"points_reversed"`
	PaidAt         *time.Time `json:"paid_at"`
	CancelledAt    *time.Time `json:"cancelled_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

type apiNotification struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Status    string     `json:"status"`
	Email     string     `json:"email"`
	Locale    string     `json:"locale"`
	Points    int64      `json:"points"`
	Earned    int64      `json:"earned,omitempty"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
}

type apiAdjustmentRequest struct {
	ID           int64      `json:"id"`
	CustomerID   string     `json:"customer_id"`
	Email        string     `json:"customer_email"`
	Points       int64      `json:"points"`
	ReasonCode   string     `json:"reason_code"`
	ReasonLabel  string     `json:"reason_label"`
	Note         string     `json:"note"`
	RequestedBy  string     `json:"requested_by"`
	Status       string     `json:"status"`
	DecidedBy    string     `json:"decided_by"`
	DecisionNote string     `json:"decision_note"`
	DecidedAt    *time.Time `json:"decided_at"`
	EntryID      *int64     `json:"entry_id"`
	CreatedAt    time.Time  `json:"created_at"`
}

func apiRequestOut(r app.AdjustmentRequest) apiAdjustmentRequest {
	return apiAdjustmentRequest{ID: r.ID, CustomerID: r.CustomerPlatformID, Email: r.CustomerEmail, Points: r.Points,
		ReasonCode: string(r.ReasonCode), ReasonLabel: r.ReasonCode.Label(), Note: r.Note, RequestedBy: r.RequestedBy,
		Status: string(r.Status), DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, DecidedAt: apiTimeOrNil(r.DecidedAt),
		EntryID: apiIDOrNil(r.EntryID), CreatedAt: r.CreatedAt}
}

func apiRequestsOut(list []app.AdjustmentRequest) []apiAdjustmentRequest {
	out := make([]apiAdjustmentRequest, len(list))
	for i, r := range list {
		out[i] = apiRequestOut(r)
	}
	return out
}

// apiCustomerFile is everything support looks at for one customer.
type apiCustomerFile struct {
	Customer       apiCustomer            `json:"customer"`
	LastActivityAt *time.Time             `json:"last_activity_at"`
	Lots           []apiLot               `json:"lots"`
	Entries        []apiEntry             `json:"entries"`
	Orders         []apiOrder             `json:"orders"`
	Redemptions    []redemptionJSON       `json:"redemptions"`
	Notifications  []apiNotification      `json:"notifications"`
	Requests       []apiAdjustmentRequest `json:"requests"`
}

func apiCustomerFileOut(f app.CustomerFile) apiCustomerFile {
	out := apiCustomerFile{Customer: apiCustomerOut(f.Customer), LastActivityAt: apiTimeOrNil(f.LastActivityAt),
		Lots: make([]apiLot, len(f.Lots)), Entries: make([]apiEntry, len(f.Entries)), Orders: make([]apiOrder, len(f.Orders)),
		Redemptions: make([]redemptionJSON, len(f.Redemptions)), Notifications: make([]apiNotification, len(f.Notifications)),
		Requests: apiRequestsOut(f.Requests)}
	for i, l := range f.Lots {
		out.Lots[i] = apiLot{ID: l.ID, Points: l.Points, Remaining: l.Remaining, EarnedAt: l.EarnedAt, AvailableAt: l.AvailableAt, ExpiresAt: l.ExpiresAt}
	}
	for i, e := range f.Entries {
		out.Entries[i] = apiEntryOut(e, f.Undone[e.ID])
	}
	for i, o := range f.Orders {
		out.Orders[i] = apiOrder{ID: o.PlatformID, Name: o.Name, Status: string(o.Status), Currency: o.Currency,
			Eligible: o.Eligible.String(), Refunded: o.Refunded.String(), PointsEarned: o.PointsEarned, PointsReversed: o.PointsReversed,
			PaidAt: o.PaidAt, CancelledAt: o.CancelledAt, CreatedAt: o.CreatedAt}
	}
	for i, r := range f.Redemptions {
		out.Redemptions[i] = redemptionOut(r)
	}
	for i, n := range f.Notifications {
		out.Notifications[i] = apiNotificationOut(n)
	}
	return out
}

func apiNotificationOut(n app.Notification) apiNotification {
	return apiNotification{ID: n.ID, Kind: string(n.Notice.Kind), Status: string(n.Status), Email: n.Email,
		Locale: n.Locale, Points: n.Notice.Points, Earned: n.Notice.Earned, Attempts: n.Attempts, LastError: n.LastError, CreatedAt: n.CreatedAt, SentAt: n.SentAt}
}

// apiSearchCustomers finds customers by email prefix, name or platform id,
// newest first.
func (s *Server) apiSearchCustomers(c echo.Context) error {
	_, shop := staffOf(c)
	before, err := apiCursor(c)
	if err != nil {
		return err
	}
	limit, err := apiLimit(c, apiDefaultLimit, apiMaxLimit)
	if err != nil {
		return err
	}
	page, err := s.deps.Service.SearchCustomers(c.Request().Context(), shop, app.CustomerQuery{Text: c.QueryParam("q"), Before: before, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]apiCustomer, len(page.Customers))
	for i, cu := range page.Customers {
		out[i] = apiCustomerOut(cu)
	}
	return apiList(c, out, page.Next)
}

func (s *Server) apiCustomerFile(c echo.Context) error {
	_, shop := staffOf(c)
	f, err := s.deps.Service.CustomerFile(c.Request().Context(), shop, c.Param("customer"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiCustomerFileOut(f))
}

// Adjustments

type apiAdjustIn struct {
	Points     int64  `json:"points"`
	ReasonCode string `json:"reason_code"`
	Note       string `json:"note"`
}

// apiAdjust adjusts a customer's points. An adjustment within the staff
// member's limit is posted (201, the entry); a larger one waits for an
// owner or admin (202, the request). The Idempotency-Key header is
// required: a retry with the same key gets the first answer back instead
// of moving points twice.
func (s *Server) apiAdjust(c echo.Context) error {
	m, shop := staffOf(c)
	key, err := apiIdempotencyKey(c, m)
	if err != nil {
		return err
	}
	var in apiAdjustIn
	if err := apiBind(c, &in, `{"points": 100, "reason_code": "goodwill", "note": "late delivery"}`); err != nil {
		return err
	}
	res, err := s.deps.Service.AdjustAsStaff(c.Request().Context(), shop, m, app.AdjustRequest{CustomerID: c.Param("customer"),
		Points: in.Points, ReasonCode: app.ReasonCode(in.ReasonCode), Note: in.Note, IdempotencyKey: key})
	if err != nil {
		return err
	}
	if res.Request != nil {
		return c.JSON(http.StatusAccepted, apiRequestOut(*res.Request))
	}
	if res.Entry == nil {
		return fmt.Errorf("adjust %s: neither an entry nor a request", c.Param("customer"))
	}
	return c.JSON(http.StatusCreated, apiEntryOut(*res.Entry, 0))
}

// apiIdempotencyKey reads the Idempotency-Key header. The service scopes
// keys to the staff member, so two integrations that both count from 1
// never get each other's adjustments back; the embedded admin's Shopify
// users are not stored staff (they share id 0), so their keys are scoped
// here by the Shopify user.
func apiIdempotencyKey(c echo.Context, m app.Staff) (string, error) {
	key := strings.TrimSpace(c.Request().Header.Get("Idempotency-Key"))
	switch {
	case key == "":
		return "", app.Errorf(app.EInvalid, "send an Idempotency-Key header (a UUID, say) so that a retried request adjusts once")
	case len(key) > apiMaxIdempotencyKey:
		return "", app.Errorf(app.EInvalid, "the Idempotency-Key header has at most %d characters", apiMaxIdempotencyKey)
	}
	if m.ID == 0 {
		key = m.Email + ":" + key
	}
	return key, nil
}

type apiNoteIn struct {
	Note string `json:"note"`
}

// apiUndo reverses an adjustment with a new entry; the ledger keeps both.
func (s *Server) apiUndo(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "entry")
	if err != nil {
		return err
	}
	var in apiNoteIn
	if err := apiBind(c, &in, `{"note": "entered twice"}`); err != nil {
		return err
	}
	e, err := s.deps.Service.UndoAdjustment(c.Request().Context(), shop, m, id, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, apiEntryOut(e, 0))
}

func (s *Server) apiApprovals(c echo.Context) error {
	_, shop := staffOf(c)
	status := app.RequestStatus(c.QueryParam("status"))
	switch status {
	case "", app.RequestPending, app.RequestApproved, app.RequestRejected:
	default:
		return app.Errorf(app.EInvalid, "status must be pending, approved or rejected (or left out for all), not %q", status)
	}
	limit, err := apiLimit(c, apiMaxLimit, apiMaxLimit)
	if err != nil {
		return err
	}
	list, err := s.deps.Service.AdjustmentRequests(c.Request().Context(), shop, status, limit)
	if err != nil {
		return err
	}
	// The queue is short by nature (requests are decided): one page.
	return apiList(c, apiRequestsOut(list), 0)
}

func (s *Server) apiApprove(c echo.Context) error { return s.apiDecide(c, true) }
func (s *Server) apiReject(c echo.Context) error  { return s.apiDecide(c, false) }

func (s *Server) apiDecide(c echo.Context, approve bool) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "adjustment request")
	if err != nil {
		return err
	}
	var in apiNoteIn
	if err := apiBind(c, &in, `{"note": "checked the order"}`); err != nil {
		return err
	}
	r, err := s.deps.Service.DecideAdjustment(c.Request().Context(), shop, m, id, approve, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiRequestOut(r))
}

type apiStaffAdjustments struct {
	Staff       string `json:"staff"`
	Adjustments int    `json:"adjustments"`
	Added       int64  `json:"added"`
	Removed     int64  `json:"removed"`
	Undone      int    `json:"undone"`
}

type apiAdjustmentReport struct {
	From time.Time             `json:"from"`
	To   time.Time             `json:"to"`
	Data []apiStaffAdjustments `json:"data"`
}

func (s *Server) apiAdjustmentReport(c echo.Context) error {
	_, shop := staffOf(c)
	from, to, err := apiPeriod(c)
	if err != nil {
		return err
	}
	rows, err := s.deps.Service.AdjustmentReport(c.Request().Context(), shop, from, to)
	if err != nil {
		return err
	}
	out := apiAdjustmentReport{From: from, To: to, Data: make([]apiStaffAdjustments, len(rows))}
	for i, r := range rows {
		out.Data[i] = apiStaffAdjustments{Staff: r.Staff, Adjustments: r.Adjustments, Added: r.Added, Removed: r.Removed, Undone: r.Undone}
	}
	return c.JSON(http.StatusOK, out)
}

// Program

type apiMessages struct {
	Welcome  bool `json:"welcome"`
	Earned   bool `json:"earned"`
	Redeemed bool `json:"redeemed"`
	Expiring bool `json:"expiring"`
	Birthday bool `json:"birthday"`
}

type apiWidgetLook struct {
	Color    string `json:"color"`
	Position string `json:"position"`
}

// apiProgram is a shop's program as the API shows and takes it. The earn
// rate is a decimal string (points per whole currency unit), never a float.
type apiProgram struct {
	EarnRate            string           `json:"earn_rate"`
	EarnOnShipping      bool             `json:"earn_on_shipping"`
	EarnOnTax           bool             `json:"earn_on_tax"`
	Rounding            string           `json:"rounding"`
	AllowNegative       bool             `json:"allow_negative"`
	SignupBonus         int64            `json:"signup_bonus"`
	BirthdayBonus       int64            `json:"birthday_bonus"`
	AnniversaryBonus    int64            `json:"anniversary_bonus"`
	PendingDays         int              `json:"pending_days"`
	ExpiryDays          int              `json:"expiry_days"`
	InactivityMonths    int              `json:"inactivity_months"`
	WarnDays            []int            `json:"warn_days"`
	RestoreExpiredCodes bool             `json:"restore_expired_codes"`
	RestoreOnRefund     bool             `json:"restore_on_refund"`
	RewardPartEarns     bool             `json:"reward_part_earns"`
	Locale              string           `json:"locale"`
	Messages            apiMessages      `json:"messages"`
	Widget              apiWidgetLook    `json:"widget"`
	AdjustLimits        map[string]int64 `json:"adjust_limits"`
	// EarnStatuses are a WooCommerce store's order statuses that earn;
	// absent for other platforms. They live with the store's connection,
	// not the program, and are saved apart (apiPutProgram).
	EarnStatuses []string `json:"earn_statuses,omitempty"`
}

func apiProgramOut(p app.Program) apiProgram {
	out := apiProgram{EarnRate: p.EarnRate.String(), EarnOnShipping: p.EarnOnShipping, EarnOnTax: p.EarnOnTax,
		Rounding: string(p.Rounding), AllowNegative: p.AllowNegative, SignupBonus: p.SignupBonus, BirthdayBonus: p.BirthdayBonus,
		AnniversaryBonus: p.AnniversaryBonus, PendingDays: p.PendingDays, ExpiryDays: p.ExpiryDays, InactivityMonths: p.InactivityMonths,
		WarnDays: append([]int{}, p.WarnDays...), RestoreExpiredCodes: p.RestoreExpiredCodes, RestoreOnRefund: p.RestoreOnRefund,
		RewardPartEarns: p.RewardPartEarns, Locale: p.Locale,
		Messages: apiMessages{Welcome: p.Messages.Welcome, Earned: p.Messages.Earned, Redeemed: p.Messages.Redeemed,
			Expiring: p.Messages.Expiring, Birthday: p.Messages.Birthday},
		Widget:       apiWidgetLook{Color: p.Look.Color, Position: p.Look.Position},
		AdjustLimits: map[string]int64{}}
	// Only limited roles appear: a role left out may adjust any amount.
	for _, r := range []app.Role{app.RoleOwner, app.RoleAdmin, app.RoleSupport} {
		if limit, limited := p.AdjustLimit(r); limited {
			out.AdjustLimits[string(r)] = limit
		}
	}
	return out
}

// program applies the API's fields over p, keeping what the API does not
// show (the shop id).
func (in apiProgram) program(p app.Program) (app.Program, error) {
	rate, err := app.ParseRate(in.EarnRate)
	if err != nil {
		return app.Program{}, app.Errorf(app.EInvalid, "earn_rate must be a decimal like \"1\" or \"2.5\", not %q", in.EarnRate)
	}
	p.EarnRate, p.EarnOnShipping, p.EarnOnTax, p.Rounding, p.AllowNegative = rate, in.EarnOnShipping, in.EarnOnTax, app.Rounding(in.Rounding), in.AllowNegative
	p.SignupBonus, p.BirthdayBonus, p.AnniversaryBonus = in.SignupBonus, in.BirthdayBonus, in.AnniversaryBonus
	p.PendingDays, p.ExpiryDays, p.InactivityMonths, p.WarnDays = in.PendingDays, in.ExpiryDays, in.InactivityMonths, in.WarnDays
	p.RestoreExpiredCodes, p.RestoreOnRefund, p.RewardPartEarns, p.Locale = in.RestoreExpiredCodes, in.RestoreOnRefund, in.RewardPartEarns, in.Locale
	p.Messages = app.Messages{Welcome: in.Messages.Welcome, Earned: in.Messages.Earned, Redeemed: in.Messages.Redeemed,
		Expiring: in.Messages.Expiring, Birthday: in.Messages.Birthday}
	p.Look = app.WidgetLook{Color: strings.ToLower(in.Widget.Color), Position: in.Widget.Position}
	p.AdjustLimits = map[app.Role]int64{}
	for role, limit := range in.AdjustLimits {
		r := app.Role(role)
		if !r.Valid() {
			return app.Program{}, app.Errorf(app.EInvalid, "adjust_limits: %q is not a role (owner, admin, support)", role)
		}
		if limit < 0 {
			return app.Program{}, app.Errorf(app.EInvalid, "adjust_limits: the limit of %s must not be negative", role)
		}
		p.AdjustLimits[r] = limit
	}
	return p, nil
}

func (s *Server) apiGetProgram(c echo.Context) error {
	_, shop := staffOf(c)
	p, err := s.deps.Service.Program(c.Request().Context(), shop)
	if err != nil {
		return err
	}
	out := apiProgramOut(p)
	if out.EarnStatuses, err = s.apiEarnStatuses(c.Request().Context(), shop); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiEarnStatuses are the order statuses a WooCommerce store earns at (its
// platform's default when it never chose); nil for other platforms.
func (s *Server) apiEarnStatuses(ctx context.Context, shop app.Shop) ([]string, error) {
	if shop.Platform != app.WooCommerce {
		return nil, nil
	}
	conn, err := s.deps.Service.Connection(ctx, shop)
	if err != nil {
		return nil, err
	}
	if len(conn.EarnStatuses) == 0 {
		return slices.Clone(woocommerce.DefaultEarnStatuses), nil
	}
	return conn.EarnStatuses, nil
}

// apiPutProgram changes the program. The body is laid over the current
// program, so fields left out keep their value (adjust_limits and
// messages merge by key; warn_days is replaced whole). The audit log gets
// a line per field that changed.
func (s *Server) apiPutProgram(c echo.Context) error {
	m, shop := staffOf(c)
	ctx := c.Request().Context()
	cur, err := s.deps.Service.Program(ctx, shop)
	if err != nil {
		return err
	}
	statuses, err := s.apiEarnStatuses(ctx, shop)
	if err != nil {
		return err
	}
	before := apiProgramOut(cur)
	before.EarnStatuses = statuses
	in := apiProgramOut(cur)
	in.EarnStatuses = slices.Clone(statuses)
	if err := apiBind(c, &in, `{"earn_rate": "2", "signup_bonus": 50}`); err != nil {
		return err
	}
	p, err := in.program(cur)
	if err != nil {
		return err
	}
	// Earning statuses are checked before anything is saved, so a body
	// with a bad status changes nothing.
	newStatuses := statuses
	if !slices.Equal(in.EarnStatuses, statuses) {
		if shop.Platform != app.WooCommerce {
			return app.Errorf(app.EInvalid, "earn_statuses: only WooCommerce stores choose the order statuses that earn; %s orders earn when paid", shop.Platform)
		}
		if newStatuses, err = woocommerce.NormalizeEarnStatuses(in.EarnStatuses); err != nil {
			return app.Errorf(app.EInvalid, "earn_statuses: %s", app.ErrorMessage(err))
		}
	}
	after := apiProgramOut(p)
	after.EarnStatuses = statuses
	change := apiProgramChange(before, after)
	if change != "" {
		if err := s.deps.Service.SetProgram(ctx, shop, p, app.StaffLabel(m), change); err != nil {
			return err
		}
	}
	if !slices.Equal(newStatuses, statuses) {
		if err := s.deps.Service.SetEarnStatuses(ctx, shop, newStatuses, app.StaffLabel(m)); err != nil {
			return err
		}
		after.EarnStatuses = newStatuses
	}
	return c.JSON(http.StatusOK, after)
}

// apiProgramChange describes for the audit log what changed between two
// programs, field by field in JSON names: "earn_rate 1 → 2; messages.welcome true → false".
func apiProgramChange(before, after apiProgram) string {
	flat := func(p apiProgram) map[string]string {
		var m map[string]any
		b, _ := json.Marshal(p)
		json.Unmarshal(b, &m)
		out := map[string]string{}
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				for sk, sv := range sub {
					out[k+"."+sk] = fmt.Sprint(sv)
				}
				continue
			}
			vb, _ := json.Marshal(v)
			out[k] = strings.Trim(string(vb), `"`)
		}
		return out
	}
	a, b := flat(before), flat(after)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var changed []string
	for k := range keys {
		if a[k] != b[k] {
			from, to := a[k], b[k]
			if from == "" {
				from = "none"
			}
			if to == "" {
				to = "none"
			}
			changed = append(changed, k+" "+from+" → "+to)
		}
	}
	sort.Strings(changed)
	return strings.Join(changed, "; ")
}

// Rewards

func (s *Server) apiRewards(c echo.Context) error {
	_, shop := staffOf(c)
	list, err := s.deps.Service.Rewards(c.Request().Context(), shop)
	if err != nil {
		return err
	}
	out := make([]rewardJSON, len(list))
	for i, r := range list {
		out[i] = rewardOut(r)
	}
	// A catalogue holds a handful of rewards: one page.
	return apiList(c, out, 0)
}

func (s *Server) apiAddReward(c echo.Context) error {
	m, shop := staffOf(c)
	var in rewardJSON
	if err := apiBind(c, &in, `{"name": "5.00 off", "kind": "fixed_amount", "points": 500, "amount": "5.00"}`); err != nil {
		return err
	}
	amount, err := app.ParseAmount(in.Amount)
	if err != nil {
		return app.Errorf(app.EInvalid, "amount: %v", err)
	}
	minSubtotal, err := app.ParseAmount(in.MinSubtotal)
	if err != nil {
		return app.Errorf(app.EInvalid, "min_subtotal: %v", err)
	}
	r, err := s.deps.Service.AddRewardAs(c.Request().Context(), shop, app.StaffLabel(m), app.Reward{Name: in.Name, Kind: app.RewardKind(in.Kind),
		Points: in.Points, Amount: amount, PointsPerUnit: in.PointsPerUnit, MinPoints: in.MinPoints, MaxPoints: in.MaxPoints,
		Percentage: in.Percentage, MinSubtotal: minSubtotal, ExpiryDays: in.ExpiryDays, Active: true})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, rewardOut(r))
}

func (s *Server) apiSetRewardActive(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "reward")
	if err != nil {
		return err
	}
	var in struct {
		Active *bool `json:"active"`
	}
	if err := apiBind(c, &in, `{"active": false}`); err != nil {
		return err
	}
	if in.Active == nil {
		return app.Errorf(app.EInvalid, `the body must be {"active": true} or {"active": false}`)
	}
	if err := s.deps.Service.SetRewardActiveAs(c.Request().Context(), shop, app.StaffLabel(m), id, *in.Active); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// Audit

type apiAuditEntry struct {
	ID        int64     `json:"id"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) apiAudit(c echo.Context) error {
	_, shop := staffOf(c)
	before, err := apiCursor(c)
	if err != nil {
		return err
	}
	limit, err := apiLimit(c, apiDefaultLimit, apiMaxLimit)
	if err != nil {
		return err
	}
	page, err := s.deps.Service.AuditTrail(c.Request().Context(), shop, app.AuditQuery{Actor: c.QueryParam("actor"),
		Action: c.QueryParam("action"), Before: before, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]apiAuditEntry, len(page.Entries))
	for i, e := range page.Entries {
		out[i] = apiAuditEntry{ID: e.ID, Actor: e.Actor, Action: e.Action, Outcome: e.Outcome, Detail: e.Detail, CreatedAt: e.CreatedAt}
	}
	return apiList(c, out, page.Next)
}

// KPIs

type apiOrderFigures struct {
	Orders            int64   `json:"orders"`
	Revenue           string  `json:"revenue"`
	AverageOrderValue string  `json:"average_order_value"`
	Customers         int64   `json:"customers"`
	Repeat            int64   `json:"repeat_customers"`
	RepeatRate        float64 `json:"repeat_rate"`
}

func apiOrderFiguresOut(f app.OrderFigures) apiOrderFigures {
	return apiOrderFigures{Orders: f.Orders, Revenue: f.Revenue.String(), AverageOrderValue: f.AverageOrderValue().String(),
		Customers: f.Customers, Repeat: f.Repeat, RepeatRate: f.RepeatRate()}
}

type apiKPIFigures struct {
	Start            time.Time       `json:"start"`
	End              time.Time       `json:"end"`
	Members          int64           `json:"members"`
	ActiveMembers    int64           `json:"active_members"`
	PointsIssued     int64           `json:"points_issued"`
	PointsRedeemed   int64           `json:"points_redeemed"`
	PointsExpired    int64           `json:"points_expired"`
	RedemptionRate   float64         `json:"redemption_rate"`
	Outstanding      int64           `json:"outstanding"`
	OutstandingValue string          `json:"outstanding_value"`
	MemberOrders     apiOrderFigures `json:"member_orders"`
	NonMemberOrders  apiOrderFigures `json:"non_member_orders"`
	RewardOrders     int64           `json:"reward_orders"`
	RewardRevenue    string          `json:"reward_revenue"`
}

func apiKPIFiguresOut(f app.KPIFigures) apiKPIFigures {
	return apiKPIFigures{Start: f.Start, End: f.End, Members: f.Members, ActiveMembers: f.ActiveMembers, PointsIssued: f.PointsIssued,
		PointsRedeemed: f.PointsRedeemed, PointsExpired: f.PointsExpired, RedemptionRate: f.RedemptionRate(), Outstanding: f.Outstanding,
		OutstandingValue: f.OutstandingValue.String(), MemberOrders: apiOrderFiguresOut(f.MemberOrders),
		NonMemberOrders: apiOrderFiguresOut(f.NonMemberOrders), RewardOrders: f.RewardOrders, RewardRevenue: f.RewardRevenue.String()}
}

type apiPointValue struct {
	Amount     string `json:"amount"`
	Points     int64  `json:"points"`
	RewardID   *int64 `json:"reward_id"`
	RewardName string `json:"reward_name"`
}

type apiKPIReport struct {
	From       time.Time       `json:"from"`
	To         time.Time       `json:"to"`
	Bucket     string          `json:"bucket"`
	Currency   string          `json:"currency"`
	PointValue apiPointValue   `json:"point_value"`
	Totals     apiKPIFigures   `json:"totals"`
	Series     []apiKPIFigures `json:"series"`
}

func (s *Server) apiKPIs(c echo.Context) error {
	_, shop := staffOf(c)
	from, to, err := apiPeriod(c)
	if err != nil {
		return err
	}
	bucket := app.KPIBucket(c.QueryParam("bucket"))
	if bucket == "" {
		bucket = app.BucketDay
	}
	rep, err := s.deps.Service.KPIs(c.Request().Context(), shop, app.KPIQuery{From: from, To: to, Bucket: bucket})
	if err != nil {
		return err
	}
	out := apiKPIReport{From: rep.Query.From, To: rep.Query.To, Bucket: string(rep.Query.Bucket), Currency: rep.Currency,
		PointValue: apiPointValue{Amount: rep.PointValue.Amount.String(), Points: rep.PointValue.Points,
			RewardID: apiIDOrNil(rep.PointValue.RewardID), RewardName: rep.PointValue.RewardName},
		Totals: apiKPIFiguresOut(rep.Totals), Series: make([]apiKPIFigures, len(rep.Series))}
	for i, f := range rep.Series {
		out.Series[i] = apiKPIFiguresOut(f)
	}
	return c.JSON(http.StatusOK, out)
}

// Import and export

type apiImportRow struct {
	Line       int    `json:"line"`
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Points     int64  `json:"points"`
	Delta      int64  `json:"delta"`
	Outcome    string `json:"outcome"`
	Message    string `json:"message"`
}

type apiImportReport struct {
	DryRun      bool           `json:"dry_run"`
	Customers   int            `json:"customers"`
	PointsAdded int64          `json:"points_added"`
	Unchanged   int            `json:"unchanged"`
	Failed      int            `json:"failed"`
	Rows        []apiImportRow `json:"rows"`
}

// apiImport imports balances from a CSV body. With dry_run=true it only
// reports what an import would do.
func (s *Server) apiImport(c echo.Context) error {
	m, shop := staffOf(c)
	dryRun := false
	if q := c.QueryParam("dry_run"); q != "" {
		var err error
		if dryRun, err = strconv.ParseBool(q); err != nil {
			return app.Errorf(app.EInvalid, "dry_run must be true or false, not %q", q)
		}
	}
	// Read it all before importing: a body cut off at the limit must not
	// import its first rows.
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, apiMaxImport))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("an import takes at most %d MB of CSV", apiMaxImport>>20))
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the request body")
	}
	filename := c.QueryParam("filename")
	if filename == "" {
		filename = "admin-api.csv"
	}
	rep, err := s.deps.Service.ImportBalances(c.Request().Context(), shop, m, bytes.NewReader(body), app.ImportOptions{DryRun: dryRun, Filename: filename})
	if err != nil {
		return err
	}
	out := apiImportReport{DryRun: rep.DryRun, Customers: rep.Customers, PointsAdded: rep.PointsAdded, Unchanged: rep.Unchanged,
		Failed: rep.Failed, Rows: make([]apiImportRow, len(rep.Rows))}
	for i, r := range rep.Rows {
		out.Rows[i] = apiImportRow{Line: r.Line, CustomerID: r.CustomerID, Email: r.Email, Points: r.Points, Delta: r.Delta,
			Outcome: string(r.Outcome), Message: r.Message}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiExportMembers(c echo.Context) error {
	_, shop := staffOf(c)
	return s.apiCSV(c, "members", func(w io.Writer) error { return s.deps.Service.ExportMembers(c.Request().Context(), shop, w) })
}

func (s *Server) apiExportLedger(c echo.Context) error {
	_, shop := staffOf(c)
	return s.apiCSV(c, "ledger", func(w io.Writer) error { return s.deps.Service.ExportLedger(c.Request().Context(), shop, w) })
}

// apiCSV streams an export as a download. The headers go out with the
// first bytes, so an export that fails before writing anything still gets
// a JSON error; one that fails later can only be cut short (and logged).
func (s *Server) apiCSV(c echo.Context, name string, export func(io.Writer) error) error {
	_, shop := staffOf(c)
	w := &apiLazyCSV{c: c, filename: fmt.Sprintf("%s-%s-%s.csv", name, shop.Domain, time.Now().UTC().Format(time.DateOnly))}
	err := export(w)
	if err != nil && w.started {
		s.deps.Log.Error("export cut short", "export", name, "shop", shop.Domain, "error", err)
		return nil
	}
	if err != nil {
		return err
	}
	if !w.started {
		w.start()
	}
	return nil
}

type apiLazyCSV struct {
	c        echo.Context
	filename string
	started  bool
}

func (w *apiLazyCSV) start() {
	h := w.c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+w.filename+`"`)
	h.Set("Cache-Control", "no-store")
	w.c.Response().WriteHeader(http.StatusOK)
	w.started = true
}

func (w *apiLazyCSV) Write(p []byte) (int, error) {
	if !w.started {
		w.start()
	}
	return w.c.Response().Write(p)
}

// Staff

type apiStaffMember struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
	Locked    bool      `json:"locked"`
}

type apiStaffIn struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (s *Server) apiAddStaff(c echo.Context) error {
	m, shop := staffOf(c)
	var in apiStaffIn
	if err := apiBind(c, &in, `{"email": "ana@acme.test", "name": "Ana", "role": "support", "password": "at least 12 characters"}`); err != nil {
		return err
	}
	added, err := s.deps.Service.AddStaffAs(c.Request().Context(), shop, m, in.Email, in.Name, app.Role(in.Role), in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, apiStaffMember{ID: added.ID, Email: added.Email, Name: added.Name, Role: string(added.Role),
		CreatedAt: added.CreatedAt, Disabled: !added.DisabledAt.IsZero(), Locked: added.LockedUntil.After(time.Now())})
}

func (s *Server) apiSetStaffRole(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "staff member")
	if err != nil {
		return err
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := apiBind(c, &in, `{"role": "admin"}`); err != nil {
		return err
	}
	if err := s.deps.Service.SetStaffRole(c.Request().Context(), shop, m, id, app.Role(in.Role)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiDisableStaff(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "staff member")
	if err != nil {
		return err
	}
	if err := s.deps.Service.DisableStaffByID(c.Request().Context(), shop, m, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
