package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
)

// The console's customer pages: search, a customer's file, adjustments
// with their guardrails (reason codes, approval above a role's limit,
// undo), the approvals queue, the per-staff report, and CSV import and
// export.

// customerNotices are the fixed messages a redirect may ask for by key:
// the query names one, never supplies its text.
var customerNotices = map[string]string{
	"adjusted":  "The adjustment is posted to the ledger.",
	"requested": "The adjustment is above your limit: it waits for an owner or admin to approve it.",
	"undone":    "The adjustment is undone: a reversing entry is in the ledger.",
	"approved":  "Approved: the points are posted to the customer's ledger.",
	"rejected":  "Rejected: the customer's points are unchanged.",
	"resent":    "The message is queued to be sent again.",
	"imported":  "Import done: the balances are updated as the preview showed. Each change is in the customer's ledger and in the audit log.",
}

func noticeOf(c echo.Context) string { return customerNotices[c.QueryParam("notice")] }

// customersView is the search page.
type customersView struct {
	Query     string
	Customers []app.Customer
	Next      int64
}

func (s *Server) consoleCustomers(c echo.Context) error {
	_, shop := staffOf(c)
	q := app.CustomerQuery{Text: strings.TrimSpace(c.QueryParam("q"))}
	q.Before, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	res, err := s.deps.Service.SearchCustomers(c.Request().Context(), shop, q)
	p := Page{Name: "customers", Title: "Customers", Data: customersView{Query: q.Text, Customers: res.Customers, Next: res.Next}}
	if err != nil {
		return s.consoleError(c, err, p)
	}
	return s.renderConsole(c, http.StatusOK, p)
}

// customerView is a customer's page: their file, and what the signed-in
// member may do about it.
type customerView struct {
	File            app.CustomerFile
	Name            string
	NextExpiry      *app.Lot
	Entries         []entryRow
	MoreEntries     bool
	PendingRequests []app.AdjustmentRequest
	DecidedRequests []app.AdjustmentRequest
	CanAdjust       bool
	CanApprove      bool
	CanResend       bool
	CanExportData   bool
	Limit           int64
	Limited         bool
	Form            adjustForm
	Reasons         []reasonOption
}

// entryRow is a ledger entry as the page shows it.
type entryRow struct {
	app.Entry
	What        string
	ReasonLabel string
	Note        string
	UndoneBy    int64
	CanUndo     bool
}

type reasonOption struct {
	Code     app.ReasonCode
	Label    string
	Selected bool
}

// adjustForm is the adjust form's fields, kept when a post is refused.
type adjustForm struct {
	Points, Direction, Reason, Note, Key string
}

// entryLimit is how many ledger entries CustomerFile returns; a page that
// shows that many says the export has the rest.
const entryLimit = 200

func (s *Server) consoleCustomer(c echo.Context) error {
	p, err := s.customerPage(c, adjustForm{Key: newFormKey()})
	if app.ErrorCode(err) == app.ENotFound {
		// A mistyped or stale link lands on the search, ready for another try.
		return s.consoleError(c, err, Page{Name: "customers", Title: "Customer not found", Data: customersView{}})
	}
	if err != nil {
		return err
	}
	p.Notice = noticeOf(c)
	return s.renderConsole(c, http.StatusOK, p)
}

// customerPage loads the customer of the URL in the session's shop (so
// another shop's customer id is simply not found) and lays out the page.
func (s *Server) customerPage(c echo.Context, form adjustForm) (Page, error) {
	m, shop := staffOf(c)
	ctx := c.Request().Context()
	f, err := s.deps.Service.CustomerFile(ctx, shop, c.Param("customer"))
	if err != nil {
		return Page{}, err
	}
	// The limit is only a hint on the form: AdjustAsStaff decides.
	prog, err := s.deps.Service.Program(ctx, shop)
	if err != nil {
		return Page{}, err
	}
	v := customerView{File: f, Name: customerName(f.Customer), CanAdjust: m.Can(app.AdjustBalance),
		CanApprove: m.Can(app.ApproveAdjustments), CanResend: m.Can(app.ResendMessages), CanExportData: m.Can(app.ExportCustomerData), Form: form, MoreEntries: len(f.Entries) >= entryLimit}
	v.Limit, v.Limited = prog.AdjustLimit(m.Role)
	for i := range f.Lots {
		if f.Lots[i].ExpiresAt != nil && (v.NextExpiry == nil || f.Lots[i].ExpiresAt.Before(*v.NextExpiry.ExpiresAt)) {
			v.NextExpiry = &f.Lots[i]
		}
	}
	orders := map[string]string{}
	for _, o := range f.Orders {
		orders[o.PlatformID] = o.Name
	}
	for _, e := range f.Entries {
		row := entryRow{Entry: e, What: entryWhat(e, orders), UndoneBy: f.Undone[e.ID], Note: e.Cause.Reason}
		if e.Cause.ReasonCode != "" {
			// The ledger's reason starts with the code's label: shown apart,
			// the label is not repeated in the note.
			row.ReasonLabel = e.Cause.ReasonCode.Label()
			row.Note = strings.TrimPrefix(strings.TrimPrefix(row.Note, row.ReasonLabel), ": ")
		}
		// Undo is offered where UndoAdjustment would allow it: an
		// adjustment not yet undone, within the member's limit.
		row.CanUndo = v.CanAdjust && e.Kind == app.KindAdjust && e.Cause.Undoes == 0 && row.UndoneBy == 0 &&
			(!v.Limited || abs64(e.Points) <= v.Limit)
		v.Entries = append(v.Entries, row)
	}
	for _, r := range f.Requests {
		if r.Status == app.RequestPending {
			v.PendingRequests = append(v.PendingRequests, r)
		} else {
			v.DecidedRequests = append(v.DecidedRequests, r)
		}
	}
	for _, code := range app.ReasonCodes {
		v.Reasons = append(v.Reasons, reasonOption{Code: code, Label: code.Label(), Selected: string(code) == form.Reason})
	}
	return Page{Name: "customer", Title: v.Name, Data: v}, nil
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// customerName is how staff recognise a customer: the name, else the
// email, else the platform's id.
func customerName(cu app.Customer) string {
	if name := strings.TrimSpace(cu.FirstName + " " + cu.LastName); name != "" {
		return name
	}
	if cu.Email != "" {
		return cu.Email
	}
	return "Customer " + cu.PlatformID
}

// entryWhat says in words what made a ledger entry.
func entryWhat(e app.Entry, orders map[string]string) string {
	order := e.Cause.OrderID
	if name := orders[order]; name != "" {
		order = name
	}
	switch e.Kind {
	case app.KindEarn:
		if order != "" {
			return "Earned on order " + order
		}
		return "Earned"
	case app.KindReverse:
		if order != "" {
			return "Taken back: order " + order + " refunded or cancelled"
		}
		return "Taken back"
	case app.KindAdjust:
		if e.Cause.Undoes != 0 {
			return "Undo of adjustment #" + strconv.FormatInt(e.Cause.Undoes, 10)
		}
		return "Adjustment #" + strconv.FormatInt(e.ID, 10)
	case app.KindRedeem:
		return "Spent on a reward"
	case app.KindExpire:
		return "Expired"
	case app.KindBonus:
		return "Bonus"
	case app.KindRestore:
		return "Given back"
	}
	return string(e.Kind)
}

// newFormKey is the idempotency key a form carries from the moment it is
// rendered, so a double click or a re-sent post adjusts once.
func newFormKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func (s *Server) consoleAdjust(c echo.Context) error {
	m, shop := staffOf(c)
	form := adjustForm{Points: strings.TrimSpace(c.FormValue("points")), Direction: c.FormValue("direction"),
		Reason: c.FormValue("reason"), Note: strings.TrimSpace(c.FormValue("note")), Key: c.FormValue("key")}
	req := app.AdjustRequest{CustomerID: c.Param("customer"), ReasonCode: app.ReasonCode(form.Reason), Note: form.Note, IdempotencyKey: form.Key}
	var err error
	req.Points, err = strconv.ParseInt(form.Points, 10, 64)
	switch {
	case err != nil || req.Points <= 0:
		err = app.Errorf(app.EInvalid, "enter the number of points as a whole number above zero, and choose to add or remove them")
	case form.Direction == "remove":
		req.Points = -req.Points
	case form.Direction != "add":
		err = app.Errorf(app.EInvalid, "choose whether to add or remove the points")
	}
	var res app.AdjustResult
	if err == nil {
		res, err = s.deps.Service.AdjustAsStaff(c.Request().Context(), shop, m, req)
	}
	if err != nil {
		p, perr := s.customerPage(c, form)
		if perr != nil {
			return err
		}
		return s.consoleError(c, err, p)
	}
	notice := "adjusted"
	if res.Request != nil {
		notice = "requested"
	}
	return c.Redirect(http.StatusSeeOther, customerPath(req.CustomerID)+"?notice="+notice)
}

func customerPath(platformID string) string {
	return "/console/customers/" + url.PathEscape(platformID)
}

// consoleUndo reverses an adjustment. The form names the customer only to
// come back to their page: the entry is looked up in the session's shop.
func (s *Server) consoleUndo(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such entry")
	}
	customer := c.FormValue("customer")
	if _, err := s.deps.Service.UndoAdjustment(c.Request().Context(), shop, m, id, strings.TrimSpace(c.FormValue("note"))); err != nil {
		return s.customerPageError(c, customer, err)
	}
	if customer == "" {
		return c.Redirect(http.StatusSeeOther, "/console/customers?notice=undone")
	}
	return c.Redirect(http.StatusSeeOther, customerPath(customer)+"?notice=undone#ledger-h")
}

// approvalsView is the approvals queue, filtered by status.
type approvalsView struct {
	Status   app.RequestStatus
	Filters  []approvalFilter
	Requests []app.AdjustmentRequest
	Me       string // the member's StaffLabel, to tell their own requests
}

type approvalFilter struct {
	Status  string
	Label   string
	Current bool
}

func (s *Server) approvalsPage(c echo.Context) (Page, error) {
	m, shop := staffOf(c)
	status := app.RequestStatus(c.QueryParam("status"))
	switch status {
	case app.RequestPending, app.RequestApproved, app.RequestRejected:
	case "all":
		status = ""
	default:
		status = app.RequestPending
	}
	list, err := s.deps.Service.AdjustmentRequests(c.Request().Context(), shop, status, app.MaxPageSize)
	v := approvalsView{Status: status, Requests: list, Me: app.StaffLabel(m)}
	for _, f := range []approvalFilter{{"pending", "Waiting", false}, {"approved", "Approved", false}, {"rejected", "Rejected", false}, {"all", "All", false}} {
		f.Current = f.Status == string(status) || (status == "" && f.Status == "all")
		v.Filters = append(v.Filters, f)
	}
	return Page{Name: "approvals", Title: "Approvals", Data: v}, err
}

func (s *Server) consoleApprovals(c echo.Context) error {
	p, err := s.approvalsPage(c)
	if err != nil {
		return s.consoleError(c, err, p)
	}
	p.Notice = noticeOf(c)
	return s.renderConsole(c, http.StatusOK, p)
}

func (s *Server) consoleApprove(c echo.Context) error { return s.decide(c, true) }
func (s *Server) consoleReject(c echo.Context) error  { return s.decide(c, false) }

func (s *Server) decide(c echo.Context, approve bool) error {
	m, shop := staffOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such request")
	}
	if _, err := s.deps.Service.DecideAdjustment(c.Request().Context(), shop, m, id, approve, strings.TrimSpace(c.FormValue("note"))); err != nil {
		p, perr := s.approvalsPage(c)
		if perr != nil {
			return err
		}
		return s.consoleError(c, err, p)
	}
	notice := "rejected"
	if approve {
		notice = "approved"
	}
	return c.Redirect(http.StatusSeeOther, "/console/approvals?notice="+notice)
}

// reportView is the adjustments-per-staff report over whole UTC days.
type reportView struct {
	From, To string
	Rows     []reportRow
	Total    reportRow
}

type reportRow struct {
	Staff               string
	Adjustments, Undone int
	Added, Removed, Net int64
}

// reportDays is the report's default span, ending today.
const reportDays = 30

func (s *Server) consoleAdjustmentReport(c echo.Context) error {
	_, shop := staffOf(c)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -reportDays+1), today
	var bad bool
	if v := c.QueryParam("from"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		from, bad = t, bad || err != nil
	}
	if v := c.QueryParam("to"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		to, bad = t, bad || err != nil
	}
	v := reportView{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	p := Page{Name: "adjustments", Title: "Adjustments by staff", Data: &v}
	switch {
	case bad:
		return s.consoleError(c, app.Errorf(app.EInvalid, "dates are YYYY-MM-DD, like %s", today.Format(time.DateOnly)), p)
	case to.Before(from):
		return s.consoleError(c, app.Errorf(app.EInvalid, "the report ends before it starts: pick a To date on or after From"), p)
	}
	// To is inclusive on the page, so the report runs to the end of it.
	rows, err := s.deps.Service.AdjustmentReport(c.Request().Context(), shop, from, to.AddDate(0, 0, 1))
	if err != nil {
		return s.consoleError(c, err, p)
	}
	for _, r := range rows {
		removed := r.Removed
		if removed > 0 {
			removed = -removed
		}
		row := reportRow{Staff: r.Staff, Adjustments: r.Adjustments, Undone: r.Undone, Added: r.Added, Removed: removed, Net: r.Added + removed}
		v.Rows = append(v.Rows, row)
		v.Total.Adjustments += row.Adjustments
		v.Total.Undone += row.Undone
		v.Total.Added += row.Added
		v.Total.Removed += row.Removed
		v.Total.Net += row.Net
	}
	return s.renderConsole(c, http.StatusOK, p)
}

// importView is the import and export page, with an import's report.
type importView struct {
	CanImport, CanExport bool
	MaxMB                int
	Report               *app.ImportReport
	Rows                 []app.ImportRow
	HiddenRows           int
	Filename, Content    string
}

// Import limits: a file of this size holds some hundred thousand rows; the
// preview lists the first rows only, its totals count them all.
const (
	maxImportBytes = 8 << 20
	maxPreviewRows = 500
)

func (s *Server) importView(c echo.Context) *importView {
	m, _ := staffOf(c)
	return &importView{CanImport: m.Can(app.AdjustBalance), CanExport: m.Can(app.ExportCustomerData), MaxMB: maxImportBytes >> 20}
}

func (s *Server) consoleImportPage(c echo.Context) error {
	return s.renderConsole(c, http.StatusOK, Page{Name: "import", Title: "Import & export", Notice: noticeOf(c), Data: s.importView(c)})
}

// consoleImport previews an uploaded CSV (dry run), or imports it. The
// preview's confirm button posts the same content back in a hidden field,
// so the file is not uploaded twice and the import is what was previewed.
func (s *Server) consoleImport(c echo.Context) error {
	m, shop := staffOf(c)
	v := s.importView(c)
	p := Page{Name: "import", Title: "Import & export", Data: v}
	content, filename, err := importContent(c)
	if err != nil {
		return s.consoleError(c, err, p)
	}
	dryRun := c.FormValue("dry_run") != "0"
	rep, err := s.deps.Service.ImportBalances(c.Request().Context(), shop, m, strings.NewReader(content), app.ImportOptions{DryRun: dryRun, Filename: filename})
	if err != nil {
		return s.consoleError(c, err, p)
	}
	if !dryRun {
		return c.Redirect(http.StatusSeeOther, "/console/import?notice=imported")
	}
	v.Report, v.Filename, v.Content, v.Rows = &rep, filename, content, rep.Rows
	if len(v.Rows) > maxPreviewRows {
		v.Rows, v.HiddenRows = v.Rows[:maxPreviewRows], len(rep.Rows)-maxPreviewRows
	}
	p.Title = "Import preview"
	return s.renderConsole(c, http.StatusOK, p)
}

// importContent reads the CSV from the confirm form's field or from the
// uploaded file, refusing more than maxImportBytes.
func importContent(c echo.Context) (content, filename string, err error) {
	tooBig := app.Errorf(app.EInvalid, "the file is larger than %d MB: split it and import the parts one by one", maxImportBytes>>20)
	if content = c.FormValue("content"); content != "" {
		if len(content) > maxImportBytes {
			return "", "", tooBig
		}
		return content, c.FormValue("filename"), nil
	}
	fh, err := c.FormFile("file")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return "", "", app.Errorf(app.EInvalid, "choose a CSV file to import")
	}
	if err != nil {
		return "", "", app.Errorf(app.EInvalid, "the upload could not be read: try again")
	}
	f, err := fh.Open()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImportBytes+1))
	if err != nil {
		return "", "", err
	}
	if len(b) > maxImportBytes {
		return "", "", tooBig
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return "", "", app.Errorf(app.EInvalid, "the file is empty")
	}
	return string(b), fh.Filename, nil
}

func (s *Server) exportMembers(c echo.Context) error {
	return s.sendCSV(c, "members", s.deps.Service.ExportMembers)
}

func (s *Server) exportLedger(c echo.Context) error {
	return s.sendCSV(c, "ledger", s.deps.Service.ExportLedger)
}

// sendCSV streams one of the shop's exports as a download named after the
// shop and the day.
func (s *Server) sendCSV(c echo.Context, kind string, export func(context.Context, app.Shop, io.Writer) error) error {
	_, shop := staffOf(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+kind+"-"+safeFilePart(shop.Domain)+"-"+time.Now().UTC().Format(time.DateOnly)+`.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusOK)
	if err := export(c.Request().Context(), shop, c.Response()); err != nil {
		// Past the header the status cannot change and the error handler
		// ignores a committed response: log here, and the download ends
		// short.
		s.deps.Log.Error("export failed", "export", kind, "shop", shop.Domain, "error", err)
	}
	return nil
}

// safeFilePart keeps a shop domain's letters, digits, dots and dashes for
// a download's name.
func safeFilePart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, s)
}
