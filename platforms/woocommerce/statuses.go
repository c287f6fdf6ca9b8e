package woocommerce

import (
	"slices"
	"strings"

	"loyalty/app"
)

// unpaidStatuses are the statuses of an order that is not, or no longer,
// paid: earning there would give points for nothing. cancelStatuses end an
// order; pending waits for payment; the drafts are carts the block checkout
// keeps and WooCommerce never delivers.
var unpaidStatuses = append([]string{"pending", "checkout-draft", "draft", "auto-draft"}, cancelStatuses...)

// maxStatusLength is WordPress's 20 characters for a post status, less the
// "wc-" prefix WooCommerce stores order statuses under.
const maxStatusLength = 17

// NormalizeEarnStatuses checks and cleans the order statuses a merchant
// chose to earn at, as typed in the console, the API or the CLI: lower
// case, without the "wc-" prefix the database (and some plugins) use,
// without blanks or repeats, in the order given. Statuses of unpaid orders
// (pending, cancelled, refunded, failed, trash, drafts) are refused, so are
// names WooCommerce could not have (a status is a slug of letters, digits,
// '-' and '_'); statuses a plugin adds, such as "shipped", are accepted.
// Errors are app.EInvalid, worded for the merchant.
func NormalizeEarnStatuses(statuses []string) ([]string, error) {
	var clean []string
	for _, s := range statuses {
		s = normalizeStatus(s)
		if s == "" || slices.Contains(clean, s) {
			continue
		}
		if len(s) > maxStatusLength || strings.TrimFunc(s, slugRune) != "" {
			return nil, app.Errorf(app.EInvalid, "%q is not a WooCommerce order status: statuses are short names like processing or completed", s)
		}
		if slices.Contains(unpaidStatuses, s) {
			return nil, app.Errorf(app.EInvalid, "orders cannot earn at %q: an order in that status is not paid", s)
		}
		clean = append(clean, s)
	}
	if len(clean) == 0 {
		return nil, app.Errorf(app.EInvalid, "name at least one order status that earns points, such as processing or completed")
	}
	return clean, nil
}

// ParseEarnStatuses is NormalizeEarnStatuses for a comma-separated list, as
// a form field or a command-line flag holds it.
func ParseEarnStatuses(list string) ([]string, error) {
	return NormalizeEarnStatuses(strings.Split(list, ","))
}

func slugRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}
