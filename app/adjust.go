package app

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// ReasonCode classifies why staff changed a balance by hand, so that the
// adjustments report can tell goodwill from corrections.
type ReasonCode string

// Reason codes. Import is set by balance imports only.
const (
	ReasonGoodwill        ReasonCode = "goodwill"
	ReasonMissingPoints   ReasonCode = "missing_points"
	ReasonServiceRecovery ReasonCode = "service_recovery"
	ReasonCorrection      ReasonCode = "correction"
	ReasonOther           ReasonCode = "other"
	ReasonImport          ReasonCode = "import"
	ReasonUndo            ReasonCode = "undo"
)

// ReasonCodes are the codes staff choose from, in the order offered.
var ReasonCodes = []ReasonCode{ReasonGoodwill, ReasonMissingPoints, ReasonServiceRecovery, ReasonCorrection, ReasonOther}

var reasonLabels = map[ReasonCode]string{
	ReasonGoodwill:        "Goodwill gesture",
	ReasonMissingPoints:   "Points missing from an order",
	ReasonServiceRecovery: "Service recovery (late, damaged or wrong item)",
	ReasonCorrection:      "Correction of a mistake",
	ReasonOther:           "Other",
	ReasonImport:          "Imported balance",
	ReasonUndo:            "Undo of an adjustment",
}

// Label is the code in words.
func (r ReasonCode) Label() string {
	if l, ok := reasonLabels[r]; ok {
		return l
	}
	return string(r)
}

// Choosable reports whether staff may pick r for an adjustment.
func (r ReasonCode) Choosable() bool {
	for _, c := range ReasonCodes {
		if c == r {
			return true
		}
	}
	return false
}

// AdjustRequest is a staff member's change of one customer's points.
type AdjustRequest struct {
	CustomerID string // the platform's customer id
	Points     int64
	ReasonCode ReasonCode
	// Note is free text for the ledger; required with ReasonOther.
	Note string
	// IdempotencyKey makes a retried request (a double click) adjust once.
	IdempotencyKey string
}

// RequestStatus is where an adjustment that needs approval stands.
type RequestStatus string

// Request statuses.
const (
	RequestPending  RequestStatus = "pending"
	RequestApproved RequestStatus = "approved"
	RequestRejected RequestStatus = "rejected"
)

// AdjustmentRequest is an adjustment above its requester's limit, waiting
// for an owner or admin; approved, it becomes ledger entry EntryID.
type AdjustmentRequest struct {
	ID                 int64
	ShopID             int64
	CustomerID         int64
	CustomerPlatformID string
	CustomerEmail      string
	Points             int64
	ReasonCode         ReasonCode
	Note               string
	RequestedBy        string // StaffLabel of the requester
	RequestedByID      int64
	Status             RequestStatus
	DecidedBy          string
	DecisionNote       string
	DecidedAt          time.Time
	EntryID            int64
	CreatedAt          time.Time
}

// AdjustResult is what an adjustment did: posted at once (Entry), or
// filed for approval (Request).
type AdjustResult struct {
	Entry   *Entry
	Request *AdjustmentRequest
}

// StaffAdjustments is one staff member's line in the adjustments report.
// Undone counts their adjustments that were later undone (by anyone).
type StaffAdjustments struct {
	Staff       string
	Adjustments int
	Added       int64
	Removed     int64 // a positive number of points
	Undone      int
}

// reasonText is what the ledger's reason says: the code in words and the
// note.
func reasonText(code ReasonCode, note string) string {
	if note == "" {
		return code.Label()
	}
	return code.Label() + ": " + note
}

// AdjustAsStaff changes a customer's points for staff member m. Within
// their role's limit it posts at once; above it, it files a request that
// an owner or admin decides.
func (s *Service) AdjustAsStaff(ctx context.Context, shop Shop, m Staff, r AdjustRequest) (AdjustResult, error) {
	r.Note = strings.TrimSpace(r.Note)
	switch {
	case !m.Can(AdjustBalance) || m.ShopID != shop.ID:
		return AdjustResult{}, Errorf(EForbidden, "your role (%s) may not adjust balances", m.Role)
	case r.Points == 0:
		return AdjustResult{}, Errorf(EInvalid, "an adjustment must add or remove at least one point")
	case r.Points > MaxAdjustment || r.Points < -MaxAdjustment:
		return AdjustResult{}, Errorf(EInvalid, "one adjustment moves at most %d points", MaxAdjustment)
	case !r.ReasonCode.Choosable():
		return AdjustResult{}, Errorf(EInvalid, "choose a reason for the adjustment")
	case r.ReasonCode == ReasonOther && r.Note == "":
		return AdjustResult{}, Errorf(EInvalid, "say in the note why you adjust the balance")
	case len([]rune(r.Note)) > 500:
		return AdjustResult{}, Errorf(EInvalid, "the note is at most 500 characters")
	case strings.TrimSpace(r.IdempotencyKey) == "" || len(r.IdempotencyKey) > 200:
		return AdjustResult{}, Errorf(EInvalid, "an adjustment needs an idempotency key of at most 200 characters")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return AdjustResult{}, err
	}
	c, err := s.store.CustomerByPlatformID(ctx, shop.ID, r.CustomerID)
	if err != nil {
		return AdjustResult{}, err
	}
	// Keys are the staff member's own: two colleagues' keys never collide.
	key := "staff:" + strconv.FormatInt(m.ID, 10) + ":" + r.IdempotencyKey
	if limit, limited := prog.AdjustLimit(m.Role); limited && abs(r.Points) > limit {
		// A removal the balance cannot cover is refused now, not filed
		// for an approver to find impossible later.
		if r.Points < 0 && -r.Points > c.Balance+c.Pending {
			return AdjustResult{}, Errorf(EInsufficientPoint, "the customer has %d points; cannot remove %d", c.Balance+c.Pending, -r.Points)
		}
		req, created, err := s.store.CreateAdjustmentRequest(ctx, AdjustmentRequest{ShopID: shop.ID, CustomerID: c.ID,
			Points: r.Points, ReasonCode: r.ReasonCode, Note: r.Note, RequestedBy: StaffLabel(m), RequestedByID: m.ID,
			Status: RequestPending, CreatedAt: s.now()}, key)
		if err != nil {
			return AdjustResult{}, err
		}
		if !created && (req.CustomerID != c.ID || req.Points != r.Points) {
			return AdjustResult{}, Errorf(EConflict, "this idempotency key was used for a different adjustment")
		}
		req.CustomerPlatformID, req.CustomerEmail = c.PlatformID, c.Email
		if created {
			s.store.AuditCustomer(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m),
				Action: "adjustment requested", Outcome: AuditOK, Detail: adjustDetail(c, r.Points, reasonText(r.ReasonCode, r.Note)) +
					"; above the " + strconv.FormatInt(limit, 10) + "-point limit of " + string(m.Role)}, c.ID)
		}
		return AdjustResult{Request: &req}, nil
	}
	entry, err := s.postAdjustment(ctx, shop, prog, c.ID, r.Points, Cause{Staff: StaffLabel(m),
		Reason: reasonText(r.ReasonCode, r.Note), ReasonCode: r.ReasonCode}, key)
	if err != nil {
		return AdjustResult{}, err
	}
	return AdjustResult{Entry: &entry}, nil
}

// MaxAdjustment bounds one adjustment: a typo of a few extra zeros is
// refused, not approved by a tired owner.
const MaxAdjustment = 10_000_000

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func adjustDetail(c Customer, points int64, reason string) string {
	sign := "+"
	if points < 0 {
		sign = ""
	}
	return "customer " + c.PlatformID + ": " + sign + strconv.FormatInt(points, 10) + " points (" + reason + ")"
}

// postAdjustment posts an adjustment entry under key, once: a repeated key
// returns the entry posted the first time. The balance may not go below
// zero. The entry is audited with its cause's staff member.
func (s *Service) postAdjustment(ctx context.Context, shop Shop, prog Program, customerID, points int64, cause Cause, key string) (Entry, error) {
	now := s.now()
	var entry Entry
	var c Customer
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.LockCustomerByID(ctx, customerID); err != nil {
			return err
		}
		if points < 0 && -points > c.Balance+c.Pending {
			return Errorf(EInsufficientPoint, "the customer has %d points; cannot remove %d", c.Balance+c.Pending, -points)
		}
		entry, err = tx.Post(ctx, Posting{
			ShopID: shop.ID, CustomerID: c.ID, Kind: KindAdjust, Points: points, Cause: cause,
			IdempotencyKey: key, At: now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays), SpendPending: true,
		})
		return err
	})
	if err == ErrDuplicate {
		earlier, err := s.store.EntryByKey(ctx, shop.ID, key)
		if err != nil {
			return Entry{}, err
		}
		if earlier.CustomerID != customerID || earlier.Points != points {
			return Entry{}, Errorf(EConflict, "this idempotency key was used for a different adjustment")
		}
		return earlier, nil
	}
	if err != nil {
		return Entry{}, err
	}
	action := "adjust balance"
	if cause.Undoes != 0 {
		action = "undo adjustment"
	}
	// Tied to the customer: staff's free-text reason may say anything about
	// them, and redacting them must scrub it.
	return entry, s.store.AuditCustomer(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: cause.Staff,
		Action: action, Outcome: AuditOK, Detail: adjustDetail(c, points, cause.Reason) + "; entry " + strconv.FormatInt(entry.ID, 10)}, c.ID)
}

// UndoAdjustment reverses a staff adjustment with a new entry of the
// opposite sign: history is never edited. An adjustment is undone once;
// an undo is not itself undone (adjust again instead).
func (s *Service) UndoAdjustment(ctx context.Context, shop Shop, m Staff, entryID int64, note string) (Entry, error) {
	note = strings.TrimSpace(note)
	if !m.Can(AdjustBalance) || m.ShopID != shop.ID {
		return Entry{}, Errorf(EForbidden, "your role (%s) may not adjust balances", m.Role)
	}
	if len([]rune(note)) > 500 {
		return Entry{}, Errorf(EInvalid, "the note is at most 500 characters")
	}
	e, err := s.store.Entry(ctx, shop.ID, entryID)
	if err != nil {
		return Entry{}, err
	}
	if e.Kind != KindAdjust || e.Cause.Undoes != 0 || e.Points == 0 {
		return Entry{}, Errorf(EInvalid, "only a staff adjustment can be undone, and an undo is not undone: adjust again instead")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Entry{}, err
	}
	if limit, limited := prog.AdjustLimit(m.Role); limited && abs(e.Points) > limit {
		return Entry{}, Errorf(EForbidden, "undoing %d points is above your role's limit of %d: ask an owner or admin", abs(e.Points), limit)
	}
	reason := "undo of entry " + strconv.FormatInt(e.ID, 10) + " (" + e.Cause.Reason + ")"
	if note != "" {
		reason += ": " + note
	}
	entry, err := s.postAdjustment(ctx, shop, prog, e.CustomerID, -e.Points,
		Cause{Staff: StaffLabel(m), Reason: reason, ReasonCode: ReasonUndo, Undoes: e.ID}, "undo:"+strconv.FormatInt(e.ID, 10))
	if err != nil {
		return Entry{}, err
	}
	if entry.Cause.Undoes != e.ID || entry.Cause.Staff != StaffLabel(m) {
		// The key found an undo made before, by someone else or earlier.
		return Entry{}, Errorf(EConflict, "entry %d was already undone by entry %d", e.ID, entry.ID)
	}
	return entry, nil
}

// DecideAdjustment approves or rejects a pending request. Approving posts
// the adjustment, attributed to the requester with the approver named; a
// request is decided once, and not by who made it.
func (s *Service) DecideAdjustment(ctx context.Context, shop Shop, m Staff, requestID int64, approve bool, note string) (AdjustmentRequest, error) {
	note = strings.TrimSpace(note)
	switch {
	case !m.Can(ApproveAdjustments) || m.ShopID != shop.ID:
		return AdjustmentRequest{}, Errorf(EForbidden, "your role (%s) may not approve adjustments", m.Role)
	case !approve && note == "":
		return AdjustmentRequest{}, Errorf(EInvalid, "say why you reject the adjustment: the requester sees it")
	case len([]rune(note)) > 500:
		return AdjustmentRequest{}, Errorf(EInvalid, "the note is at most 500 characters")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return AdjustmentRequest{}, err
	}
	now := s.now()
	var req AdjustmentRequest
	var c Customer
	err = s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if req, err = tx.LockAdjustmentRequest(ctx, shop.ID, requestID); err != nil {
			return err
		}
		switch {
		case req.Status != RequestPending:
			return Errorf(EConflict, "request %d was already %s by %s", req.ID, req.Status, req.DecidedBy)
		case req.RequestedByID == m.ID:
			return Errorf(EForbidden, "an adjustment needs someone else's approval than its requester's")
		}
		req.DecidedBy, req.DecisionNote, req.DecidedAt = StaffLabel(m), note, now
		req.Status = RequestRejected
		if approve {
			req.Status = RequestApproved
			if c, err = tx.LockCustomerByID(ctx, req.CustomerID); err != nil {
				return err
			}
			if req.Points < 0 && -req.Points > c.Balance+c.Pending {
				return Errorf(EInsufficientPoint, "the customer now has %d points; cannot remove %d: reject the request", c.Balance+c.Pending, -req.Points)
			}
			reason := reasonText(req.ReasonCode, req.Note) + " (approved by " + StaffLabel(m) + ")"
			entry, err := tx.Post(ctx, Posting{
				ShopID: shop.ID, CustomerID: c.ID, Kind: KindAdjust, Points: req.Points,
				Cause:          Cause{Staff: req.RequestedBy, Reason: reason, ReasonCode: req.ReasonCode},
				IdempotencyKey: "request:" + strconv.FormatInt(req.ID, 10),
				At:             now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays), SpendPending: true,
			})
			if err != nil {
				return err
			}
			req.EntryID = entry.ID
		}
		return tx.DecideAdjustmentRequest(ctx, req)
	})
	if err != nil {
		return AdjustmentRequest{}, err
	}
	detail := "request " + strconv.FormatInt(req.ID, 10) + " by " + req.RequestedBy + ": " + strconv.FormatInt(req.Points, 10) + " points"
	if note != "" {
		detail += "; " + note
	}
	return req, s.store.AuditCustomer(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m),
		Action: "adjustment " + string(req.Status), Outcome: AuditOK, Detail: detail}, req.CustomerID)
}

// AdjustmentRequests lists a shop's adjustment requests, newest first,
// with one status or all ("").
func (s *Service) AdjustmentRequests(ctx context.Context, shop Shop, status RequestStatus, limit int) ([]AdjustmentRequest, error) {
	switch status {
	case "", RequestPending, RequestApproved, RequestRejected:
	default:
		return nil, Errorf(EInvalid, "status must be pending, approved or rejected, not %q", status)
	}
	return s.store.AdjustmentRequests(ctx, shop.ID, 0, status, pageSize(limit))
}

// AdjustmentReport is who adjusted how many points in [from, to).
func (s *Service) AdjustmentReport(ctx context.Context, shop Shop, from, to time.Time) ([]StaffAdjustments, error) {
	if !from.Before(to) {
		return nil, Errorf(EInvalid, "the report's start must come before its end")
	}
	if to.Sub(from) > 3700*24*time.Hour {
		return nil, Errorf(EInvalid, "a report covers at most ten years")
	}
	return s.store.AdjustmentReport(ctx, shop.ID, from, to)
}
