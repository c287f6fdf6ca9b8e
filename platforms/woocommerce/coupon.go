package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"loyalty/app"
)

// CouponKind is what a coupon takes off an order.
type CouponKind string

// Coupon kinds. WooCommerce has no free-shipping discount type: such a
// coupon is a fixed_cart coupon of amount 0 with free_shipping set.
const (
	CouponFixedCart    CouponKind = "fixed_cart"    // Amount off the cart
	CouponPercent      CouponKind = "percent"       // Percentage off the cart
	CouponFreeShipping CouponKind = "free_shipping" // free shipping, nothing else
)

// Coupon is a reward coupon: usable once, by one shopper, alone.
type Coupon struct {
	// Code is what the shopper types. WooCommerce lower-cases every code
	// it stores or looks up, so the code is sent lower-case.
	Code string
	Kind CouponKind
	// Amount is taken off the cart by a CouponFixedCart coupon, in whole
	// cents; zero for the other kinds.
	Amount app.Amount
	// Percentage, 1 to 100, is taken off the cart by a CouponPercent
	// coupon; zero for the other kinds.
	Percentage int
	// FreeShipping adds free shipping to a fixed or percent coupon; a
	// CouponFreeShipping coupon always has it.
	FreeShipping bool
	// MinSubtotal is the cart subtotal the coupon needs; zero for none.
	MinSubtotal app.Amount
	// Email restricts use to this shopper (required). WooCommerce checks
	// it against the billing and account emails at checkout.
	Email string
	// ExpiresAt is when the coupon stops working; zero means never.
	ExpiresAt time.Time
	// Description is the note merchants see in the coupon list.
	Description string
}

// WooCommerce's error codes for coupons.
const (
	codeCouponExists    = "woocommerce_rest_coupon_code_already_exists"
	codeCouponInvalidID = "woocommerce_rest_shop_coupon_invalid_id"
)

// errCodeTaken is wrapped by every error of a create refused because another
// coupon has the code.
var errCodeTaken = app.Errorf(app.EConflict, "coupon code already exists")

// IsCodeTaken reports whether err is a coupon create refused because another
// coupon already has the code (woocommerce_rest_coupon_code_already_exists):
// the caller should try again with a new code.
func IsCodeTaken(err error) bool {
	var e *APIError
	return errors.Is(err, errCodeTaken) || (errors.As(err, &e) && e.Code == codeCouponExists)
}

// IsPermanent reports whether sending the same request again cannot succeed
// without someone changing something: the store refused it with a 3xx or 4xx
// other than 429 (keys revoked or read-only, a code taken, a request it
// rejects, a store URL that redirects), or the coupon itself is invalid.
// Network errors, 429s and 5xx are not permanent, nor is a cancelled context.
func IsPermanent(err error) bool {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status >= 300 && e.Status < 500 && e.Status != http.StatusTooManyRequests
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae *app.Error
	return errors.As(err, &ae) && (ae.Code == app.EInvalid || ae.Code == app.EConflict)
}

// couponRequest is the body of POST /coupons.
//
// The expiry goes in date_expires with an explicit Z, not in
// date_expires_gmt: the coupons controller writes a field by calling
// WC_Coupon::set_<field>, and there is no set_date_expires_gmt, so
// date_expires_gmt is dropped without a word (the coupon would never
// expire). A date_expires without a zone is read in the site's time zone;
// with Z it is UTC.
type couponRequest struct {
	Code              string   `json:"code"`
	DiscountType      string   `json:"discount_type"`
	Amount            string   `json:"amount"`
	IndividualUse     bool     `json:"individual_use"`
	UsageLimit        int      `json:"usage_limit"`
	UsageLimitPerUser int      `json:"usage_limit_per_user"`
	EmailRestrictions []string `json:"email_restrictions"`
	FreeShipping      bool     `json:"free_shipping"`
	MinimumAmount     string   `json:"minimum_amount,omitempty"`
	DateExpires       string   `json:"date_expires,omitempty"`
	Description       string   `json:"description,omitempty"`

	expires time.Time // DateExpires as a time, for comparing with the store's
}

// couponJSON is the part of a coupon resource the client reads.
type couponJSON struct {
	ID                text   `json:"id"`
	Code              text   `json:"code"`
	DiscountType      text   `json:"discount_type"`
	Amount            text   `json:"amount"`
	FreeShipping      flag   `json:"free_shipping"`
	MinimumAmount     text   `json:"minimum_amount"`
	EmailRestrictions []text `json:"email_restrictions"`
	DateExpiresGMT    text   `json:"date_expires_gmt"`
}

func (j couponJSON) id() int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(string(j.ID)), 10, 64)
	return n
}

const cent = app.AmountScale / 100

// request checks the coupon and builds the body that creates it.
func (cp Coupon) request() (couponRequest, error) {
	code := strings.ToLower(strings.TrimSpace(cp.Code))
	email := strings.ToLower(strings.TrimSpace(cp.Email))
	invalid := func(format string, args ...any) (couponRequest, error) {
		return couponRequest{}, app.Errorf(app.EInvalid, "coupon %q: "+format, append([]any{code}, args...)...)
	}
	switch {
	case code == "":
		return invalid("no code")
	case strings.ContainsFunc(code, func(r rune) bool { return unicode.IsControl(r) || strings.ContainsRune("<>&", r) }):
		// WordPress strips tags and decodes entities in post titles,
		// so the store would keep, and look up, another code.
		return invalid("the code has characters WordPress would change")
	case email == "" || strings.Count(email, "@") != 1 || strings.ContainsAny(email, " ,*"):
		// A * in a restriction is a wildcard at checkout.
		return invalid("email %q does not name one shopper", cp.Email)
	case cp.MinSubtotal < 0 || cp.MinSubtotal%cent != 0:
		return invalid("minimum subtotal %s is not whole cents", cp.MinSubtotal)
	}
	r := couponRequest{
		Code:              code,
		DiscountType:      string(CouponFixedCart),
		IndividualUse:     true,
		UsageLimit:        1,
		UsageLimitPerUser: 1,
		EmailRestrictions: []string{email},
		FreeShipping:      cp.FreeShipping,
		Description:       cp.Description,
	}
	switch cp.Kind {
	case CouponFixedCart:
		if cp.Amount <= 0 || cp.Amount%cent != 0 || cp.Percentage != 0 {
			return invalid("a fixed coupon needs a positive amount in whole cents and no percentage")
		}
		r.Amount = cents(cp.Amount)
	case CouponPercent:
		if cp.Percentage < 1 || cp.Percentage > 100 || cp.Amount != 0 {
			return invalid("a percent coupon needs a percentage from 1 to 100 and no amount")
		}
		r.DiscountType = string(CouponPercent)
		r.Amount = strconv.Itoa(cp.Percentage) + ".00"
	case CouponFreeShipping:
		if cp.Amount != 0 || cp.Percentage != 0 {
			return invalid("a free-shipping coupon takes no amount or percentage")
		}
		r.Amount, r.FreeShipping = "0", true
	default:
		return invalid("unknown kind %q", cp.Kind)
	}
	if cp.MinSubtotal > 0 {
		r.MinimumAmount = cents(cp.MinSubtotal)
	}
	if !cp.ExpiresAt.IsZero() {
		// WooCommerce keeps whole seconds.
		r.expires = cp.ExpiresAt.UTC().Truncate(time.Second)
		r.DateExpires = r.expires.Format("2006-01-02T15:04:05Z")
	}
	return r, nil
}

// cents formats a non-negative amount of whole cents with two decimals.
func cents(a app.Amount) string {
	return fmt.Sprintf("%d.%02d", a/app.AmountScale, a%app.AmountScale/cent)
}

// CreateCoupon creates the coupon in the store, for one use by one shopper
// (individual_use, usage limits of 1, email_restrictions), and returns its
// id. The code is sent lower-case.
//
// A create is never blindly sent twice. When its answer is lost (a 5xx, the
// connection dropped after sending, an answer that cannot be read) the store
// may have made the coupon anyway, so the code is looked up with
// GET /coupons?code= before the create is tried again. A coupon found with
// the same terms (kind, amount, free shipping, minimum, shopper, expiry) is
// this coupon, made by this call or by an earlier run of the same job whose
// answer never came back, and its id is returned; so a job that creates a
// coupon under a code of its own can run twice and make one coupon.
//
// When another coupon has the code, the error satisfies IsCodeTaken. An
// invalid coupon, and a store's refusal, satisfy IsPermanent.
func (c *Client) CreateCoupon(ctx context.Context, cp Coupon) (id int64, err error) {
	req, err := cp.request()
	if err != nil {
		return 0, fmt.Errorf("woocommerce create coupon: %w", err)
	}
	if c.storeErr != nil {
		return 0, fmt.Errorf("woocommerce create coupon %q: %w", req.Code, c.storeErr)
	}
	for attempt := 0; ; attempt++ {
		var created couponJSON
		_, err := c.call(ctx, http.MethodPost, "/coupons", nil, req, &created)
		if err == nil {
			if id := created.id(); id > 0 {
				return id, nil
			}
			err = errors.New("woocommerce POST /coupons: the answer has no coupon id")
		}
		var e *APIError
		existing := errors.As(err, &e) && e.Code == codeCouponExists
		if !existing && !answerLost(ctx, err) {
			return 0, fmt.Errorf("woocommerce create coupon %q: %w", req.Code, err)
		}
		id, ours, lookErr := c.findCoupon(ctx, req)
		switch {
		case lookErr != nil:
			return 0, fmt.Errorf("woocommerce create coupon %q: %w (looking for it: %v)", req.Code, err, lookErr)
		case ours:
			return id, nil
		case existing || id != 0:
			return 0, fmt.Errorf("woocommerce create coupon %q: %w: %w", req.Code, errCodeTaken, err)
		case attempt >= c.maxRetries:
			return 0, fmt.Errorf("woocommerce create coupon %q: gave up after %d attempts: %w", req.Code, attempt+1, err)
		}
		if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
			return 0, err
		}
	}
}

// answerLost reports whether a failed call may have been carried out by the
// store without the client learning of it: a 5xx, or an error that is not
// the store's answer at all (the connection dropped, the body was cut off or
// unreadable). A call cut short by ctx is not looked into, since nothing
// more can be sent under it; the caller's next run finds the coupon by its
// code.
func answerLost(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *APIError
	if errors.As(err, &e) {
		return e.Status >= 500
	}
	return true
}

// findCoupon looks for the coupon holding req's code. It returns its id (0
// when there is none) and whether it has req's terms.
func (c *Client) findCoupon(ctx context.Context, req couponRequest) (id int64, ours bool, err error) {
	var found []couponJSON
	if _, err := c.call(ctx, http.MethodGet, "/coupons", url.Values{"code": {req.Code}}, nil, &found); err != nil {
		return 0, false, err
	}
	for _, f := range found {
		// A store that ignores the code parameter lists every coupon.
		if strings.ToLower(strings.TrimSpace(string(f.Code))) == req.Code {
			return f.id(), f.sameTerms(req), nil
		}
	}
	return 0, false, nil
}

// sameTerms reports whether the stored coupon gives what req asks for.
func (j couponJSON) sameTerms(req couponRequest) bool {
	amount := func(t text) app.Amount {
		a, err := app.ParseAmount(string(t))
		if err != nil {
			return -1
		}
		return a
	}
	emails := make([]string, len(j.EmailRestrictions))
	for i, e := range j.EmailRestrictions {
		emails[i] = strings.ToLower(strings.TrimSpace(string(e)))
	}
	return string(j.DiscountType) == req.DiscountType &&
		amount(j.Amount) == amount(text(req.Amount)) &&
		bool(j.FreeShipping) == req.FreeShipping &&
		amount(j.MinimumAmount) == amount(text(req.MinimumAmount)) &&
		slices.Equal(emails, req.EmailRestrictions) &&
		parseGMT(string(j.DateExpiresGMT)).Equal(req.expires)
}

// ExpireCoupon stops coupon id from working at time at (now, or any time),
// as the way to withdraw a reward that was not used: WooCommerce has no
// switch to disable a coupon, and deleting it would lose the record of what
// was issued. It only ever brings an expiry forward, so it is idempotent and
// never revives a coupon that already expires earlier; a coupon that no
// longer exists is not an error. The store's answer is checked, so a store
// that does not keep the date is an error rather than a live coupon.
func (c *Client) ExpireCoupon(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("woocommerce expire coupon %d: %w", id, app.Errorf(app.EInvalid, "no expiry time"))
	}
	at = at.UTC().Truncate(time.Second)
	path := "/coupons/" + strconv.FormatInt(id, 10)
	var current couponJSON
	_, err := c.call(ctx, http.MethodGet, path, nil, nil, &current)
	switch {
	case couponGone(err):
		return nil
	case err != nil:
		return fmt.Errorf("woocommerce expire coupon %d: %w", id, err)
	}
	if t := parseGMT(string(current.DateExpiresGMT)); !t.IsZero() && !t.After(at) {
		return nil
	}
	// date_expires with a Z, not date_expires_gmt: see couponRequest.
	in := map[string]string{"date_expires": at.Format("2006-01-02T15:04:05Z")}
	var updated couponJSON
	_, err = c.call(ctx, http.MethodPut, path, nil, in, &updated)
	switch {
	case couponGone(err):
		return nil
	case err != nil:
		return fmt.Errorf("woocommerce expire coupon %d: %w", id, err)
	}
	if got := parseGMT(string(updated.DateExpiresGMT)); !got.Equal(at) {
		return fmt.Errorf("woocommerce expire coupon %d: the store kept the expiry %q, not %s", id, updated.DateExpiresGMT, at.Format(time.RFC3339))
	}
	return nil
}

// couponGone reports whether err is the store saying the coupon does not
// exist: 404 from GET, 400 from PUT, both woocommerce_rest_shop_coupon_invalid_id.
func couponGone(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == codeCouponInvalidID
}
