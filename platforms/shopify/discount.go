package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
)

// DiscountKind is what a reward code takes off an order.
type DiscountKind string

// The kinds of reward code.
const (
	// DiscountAmount is a fixed amount off the order.
	DiscountAmount DiscountKind = "amount"
	// DiscountPercentage is a percentage off the order.
	DiscountPercentage DiscountKind = "percentage"
	// DiscountFreeShipping waives shipping to every destination.
	DiscountFreeShipping DiscountKind = "free_shipping"
)

// Discount is a reward code for one customer: usable once, by that customer
// only, on the whole order.
type Discount struct {
	// Title names the discount in the merchant's admin.
	Title string
	// Code is what the customer types at checkout. Shopify compares codes
	// without regard to letter case and refuses one the shop already has.
	Code string
	// CustomerID is the numeric Shopify customer id; the code is sent as
	// restricted to gid://shopify/Customer/{CustomerID}.
	CustomerID string
	Kind       DiscountKind
	// Amount is taken off the order, in the shop's currency
	// (DiscountAmount only).
	Amount app.Amount
	// Percentage, 1 to 100, is taken off the order (DiscountPercentage
	// only).
	Percentage int
	// MinSubtotal is the order subtotal the code needs; 0 means none.
	MinSubtotal app.Amount
	// StartsAt is when the code becomes usable. EndsAt is when it stops;
	// zero means never.
	StartsAt, EndsAt time.Time
}

// ErrInvalidDiscount is returned, wrapped, for a Discount or discount id the
// client refuses before sending anything: sending it again cannot succeed.
var ErrInvalidDiscount = errors.New("invalid discount")

// The discount mutations select userErrors with their code, which
// DiscountUserError has, so that a taken code can be told from other
// refusals without reading messages.
const (
	discountCodeBasicCreateMutation = `mutation discountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}`
	discountCodeFreeShippingCreateMutation = `mutation discountCodeFreeShippingCreate($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}`
	discountCodeDeactivateMutation = `mutation discountCodeDeactivate($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}`
	// Both code discount types have title and context, of the same types,
	// so the two fragments merge into one answer shape.
	codeDiscountNodeByCodeQuery = `query codeDiscountNodeByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { title context { __typename ... on DiscountCustomers { customers { id } } } }
      ... on DiscountCodeFreeShipping { title context { __typename ... on DiscountCustomers { customers { id } } } }
    }
  }
}`
)

// discountNodePrefix starts every code discount id.
const discountNodePrefix = "gid://shopify/DiscountCodeNode/"

// discountPayload is the answer of each discount mutation.
type discountPayload struct {
	CodeDiscountNode *struct {
		ID string `json:"id"`
	} `json:"codeDiscountNode"`
	UserErrors UserErrors `json:"userErrors"`
}

// CreateDiscount creates d in the shop and returns its DiscountCodeNode id
// ("gid://shopify/DiscountCodeNode/…"). Amount and percentage codes are
// basic code discounts on all items; free shipping codes cover every
// destination. Every code is for d's customer only (through context, which
// replaced the deprecated customerSelection), usable once, and combines with
// product discounts; amount and percentage codes also combine with shipping
// discounts but not with other order discounts, and free shipping codes
// combine with neither other shipping nor order discounts.
//
// A Discount that cannot be valid comes back as ErrInvalidDiscount without a
// request. Shopify's refusals come back as UserErrors (IsPermanent);
// IsCodeTaken tells a code the shop already has. One exception makes
// CreateDiscount safe to repeat: when the code is taken by a discount of the
// same kind, title and customer — this one, created by an earlier attempt
// whose answer was lost — its id is returned instead. Other failures are as
// GraphQL returns them; IsPermanent says which are worth retrying.
func (c *Client) CreateDiscount(ctx context.Context, d Discount) (id string, err error) {
	field, query, variable, input, err := discountCreate(d)
	if err != nil {
		return "", fmt.Errorf("shopify %s: create discount: %w", c.shop, err)
	}
	p, err := c.discountMutation(ctx, query, field, map[string]any{variable: input})
	if err != nil {
		return "", err
	}
	if len(p.UserErrors) > 0 {
		if codeTaken(p.UserErrors) {
			id, err := c.sameDiscount(ctx, d, discountType(d.Kind))
			if err != nil {
				return "", err
			}
			if id != "" {
				return id, nil
			}
		}
		return "", fmt.Errorf("shopify %s: %s: %w", c.shop, field, p.UserErrors)
	}
	if p.CodeDiscountNode == nil || p.CodeDiscountNode.ID == "" {
		return "", fmt.Errorf("shopify %s: %s: no discount in the answer", c.shop, field)
	}
	return p.CodeDiscountNode.ID, nil
}

// DeactivateDiscount ends the code discount id (as CreateDiscount returned
// it) now, so that it can no longer be used; Shopify keeps it, expired. It
// is idempotent: a discount that has already ended, or no longer exists,
// counts as deactivated.
func (c *Client) DeactivateDiscount(ctx context.Context, id string) error {
	if n, ok := strings.CutPrefix(id, discountNodePrefix); !ok || !isDigits(n) {
		return fmt.Errorf("shopify %s: deactivate discount %q: %w: not a DiscountCodeNode id", c.shop, id, ErrInvalidDiscount)
	}
	p, err := c.discountMutation(ctx, discountCodeDeactivateMutation, "discountCodeDeactivate", map[string]any{"id": id})
	if err != nil {
		return err
	}
	var refused UserErrors
	for _, e := range p.UserErrors {
		if !alreadyInactive(e) {
			refused = append(refused, e)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("shopify %s: discountCodeDeactivate %s: %w", c.shop, id, refused)
	}
	return nil
}

// IsCodeTaken reports whether err is Shopify refusing a discount code the
// shop already has (code TAKEN, or the message saying so).
func IsCodeTaken(err error) bool {
	var ue UserErrors
	return errors.As(err, &ue) && codeTaken(ue)
}

// IsPermanent reports whether repeating the call that returned err cannot
// help, so the caller should give up (and, for a reward, give the points
// back) rather than retry: Shopify's user errors, a Discount the client
// refused, HTTP 4xx other than 429 (bad token, app uninstalled, shop gone)
// and GraphQL errors other than throttling and Shopify's internal errors.
// Network errors, cancellation, 429, THROTTLED and 5xx are not permanent,
// even after the client's own retries ran out.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var ue UserErrors
	if errors.As(err, &ue) || errors.Is(err, ErrInvalidDiscount) {
		return true
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status == http.StatusTooManyRequests, ae.Status >= 500:
		return false
	case ae.Status == http.StatusOK:
		// GraphQL errors: the query or its variables were refused, unless
		// the bucket was empty or Shopify failed on its side.
		return ae.Code != "THROTTLED" && ae.Code != "INTERNAL_SERVER_ERROR"
	}
	return ae.Status >= 400
}

// discountMutation runs one discount mutation and returns its payload.
func (c *Client) discountMutation(ctx context.Context, query, field string, vars map[string]any) (discountPayload, error) {
	var data map[string]*discountPayload
	if err := c.GraphQL(ctx, query, vars, &data); err != nil {
		return discountPayload{}, err
	}
	p := data[field]
	if p == nil {
		return discountPayload{}, fmt.Errorf("shopify %s: %s: no answer", c.shop, field)
	}
	return *p, nil
}

// sameDiscount returns the id of the discount holding d's code when it is
// d itself — same type, title and single customer — and "" when another
// discount has the code.
func (c *Client) sameDiscount(ctx context.Context, d Discount, typename string) (string, error) {
	var data struct {
		Node *struct {
			ID           string `json:"id"`
			CodeDiscount struct {
				Typename string `json:"__typename"`
				Title    string `json:"title"`
				Context  struct {
					Customers []struct {
						ID string `json:"id"`
					} `json:"customers"`
				} `json:"context"`
			} `json:"codeDiscount"`
		} `json:"codeDiscountNodeByCode"`
	}
	if err := c.GraphQL(ctx, codeDiscountNodeByCodeQuery, map[string]any{"code": d.Code}, &data); err != nil {
		return "", fmt.Errorf("discount code taken, and looking up its holder failed: %w", err)
	}
	n := data.Node
	if n == nil || n.CodeDiscount.Typename != typename || n.CodeDiscount.Title != d.Title {
		return "", nil
	}
	customers := n.CodeDiscount.Context.Customers
	if len(customers) != 1 || customers[0].ID != customerGID(d.CustomerID) {
		return "", nil
	}
	return n.ID, nil
}

// discountCreate checks d and builds its mutation: the root field, the
// query, the name of its input variable and the input.
func discountCreate(d Discount) (field, query, variable string, input map[string]any, err error) {
	if err := d.validate(); err != nil {
		return "", "", "", nil, err
	}
	var endsAt any // null: open-ended
	if !d.EndsAt.IsZero() {
		endsAt = d.EndsAt.UTC().Format(time.RFC3339)
	}
	input = map[string]any{
		"title":    d.Title,
		"code":     d.Code,
		"startsAt": d.StartsAt.UTC().Format(time.RFC3339),
		"endsAt":   endsAt,
		"context": map[string]any{
			"customers": map[string]any{"add": []string{customerGID(d.CustomerID)}},
		},
		"usageLimit":             1,
		"appliesOncePerCustomer": true,
	}
	if d.MinSubtotal > 0 {
		input["minimumRequirement"] = map[string]any{
			"subtotal": map[string]any{"greaterThanOrEqualToSubtotal": d.MinSubtotal.String()},
		}
	}
	if d.Kind == DiscountFreeShipping {
		input["destination"] = map[string]any{"all": true}
		// A shipping discount does not stack with another one.
		input["combinesWith"] = map[string]any{"orderDiscounts": false, "productDiscounts": true, "shippingDiscounts": false}
		return "discountCodeFreeShippingCreate", discountCodeFreeShippingCreateMutation, "freeShippingCodeDiscount", input, nil
	}
	var value map[string]any
	if d.Kind == DiscountAmount {
		// appliesOnEachItem false splits the amount across the items: a
		// fixed amount off the order, not off every line.
		value = map[string]any{"discountAmount": map[string]any{"amount": d.Amount.String(), "appliesOnEachItem": false}}
	} else {
		value = map[string]any{"percentage": fraction(app.Amount(d.Percentage) * app.AmountScale)}
	}
	input["customerGets"] = map[string]any{"value": value, "items": map[string]any{"all": true}}
	input["combinesWith"] = map[string]any{"orderDiscounts": false, "productDiscounts": true, "shippingDiscounts": true}
	return "discountCodeBasicCreate", discountCodeBasicCreateMutation, "basicCodeDiscount", input, nil
}

func (d Discount) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidDiscount, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(d.Title) == "":
		return bad("no title")
	case strings.TrimSpace(d.Code) == "":
		return bad("no code")
	case !isDigits(d.CustomerID):
		return bad("customer id %q is not a numeric Shopify id", d.CustomerID)
	case d.StartsAt.IsZero():
		return bad("no start time")
	case !d.EndsAt.IsZero() && !d.EndsAt.After(d.StartsAt):
		return bad("ends at %s, not after it starts at %s", d.EndsAt.Format(time.RFC3339), d.StartsAt.Format(time.RFC3339))
	case d.MinSubtotal < 0:
		return bad("negative minimum subtotal %s", d.MinSubtotal)
	}
	switch d.Kind {
	case DiscountAmount:
		if d.Amount <= 0 {
			return bad("amount %s is not positive", d.Amount)
		}
	case DiscountPercentage:
		if d.Percentage < 1 || d.Percentage > 100 {
			return bad("percentage %d is not between 1 and 100", d.Percentage)
		}
	case DiscountFreeShipping:
	default:
		return bad("unknown kind %q", d.Kind)
	}
	return nil
}

// discountType is the GraphQL type a discount of kind is created as.
func discountType(kind DiscountKind) string {
	if kind == DiscountFreeShipping {
		return "DiscountCodeFreeShipping"
	}
	return "DiscountCodeBasic"
}

func customerGID(id string) string { return "gid://shopify/Customer/" + id }

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// fraction turns a percentage into the fraction Shopify's percentage field
// takes (15 → 0.15, 12.5 → 0.125), as decimal text so that no binary
// rounding reaches the request. percent holds ten-thousandths of a percent,
// so the fraction, a hundredth of it, is in millionths.
func fraction(percent app.Amount) json.Number {
	const millionths = 1_000_000
	v := int64(percent)
	s := strconv.FormatInt(v/millionths, 10)
	if rest := v % millionths; rest != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", rest), "0")
	}
	return json.Number(s)
}

// codeTaken recognises the user error for a code the shop already has:
// code TAKEN, or, should the code be missing, Shopify's wording ("Code must
// be unique. Please try a different code.") or Rails' ("has already been
// taken").
func codeTaken(ue UserErrors) bool {
	return slices.ContainsFunc(ue, func(e UserError) bool {
		m := strings.ToLower(e.Message)
		return e.Code == "TAKEN" || strings.Contains(m, "must be unique") || strings.Contains(m, "already been taken")
	})
}

// alreadyInactive recognises the user errors discountCodeDeactivate gives
// when there is nothing left to deactivate: the discount is gone, or has
// already ended. The reference documents no wording, so the common ones are
// accepted.
func alreadyInactive(e UserError) bool {
	m := strings.ToLower(e.Message)
	for _, gone := range []string{"does not exist", "doesn't exist", "not found", "could not find", "couldn't find"} {
		if strings.Contains(m, gone) {
			return true
		}
	}
	if strings.Contains(m, "already") {
		for _, ended := range []string{"expired", "inactive", "deactivated", "ended"} {
			if strings.Contains(m, ended) {
				return true
			}
		}
	}
	return false
}
