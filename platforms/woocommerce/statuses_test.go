package woocommerce

import (
	"slices"
	"strings"
	"testing"

	"loyalty/app"
)

func TestNormalizeEarnStatuses(t *testing.T) {
	accepted := []struct {
		name string
		in   []string
		want []string
	}{
		{"the defaults as they are", []string{"processing", "completed"}, []string{"processing", "completed"}},
		{"the wc- prefix of the database is dropped", []string{"wc-completed"}, []string{"completed"}},
		{"case and spaces do not matter", []string{" Processing ", "COMPLETED"}, []string{"processing", "completed"}},
		{"blanks and repeats are left out", []string{"", "completed", "wc-completed", " "}, []string{"completed"}},
		{"on-hold is a paid order waiting for stock", []string{"on-hold"}, []string{"on-hold"}},
		{"a plugin's own status is accepted", []string{"shipped", "ready_to_ship"}, []string{"shipped", "ready_to_ship"}},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeEarnStatuses(tt.in)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("NormalizeEarnStatuses(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}

	refused := []struct {
		name, list, says string
	}{
		{"nothing at all", " , ", "at least one"},
		{"cancelled is not paid", "processing,cancelled", `"cancelled"`},
		{"refunded is not paid", "refunded", `"refunded"`},
		{"failed is not paid", "wc-failed", `"failed"`},
		{"trash is not paid", "trash", `"trash"`},
		{"pending waits for payment", "pending", `"pending"`},
		{"a checkout draft is a cart", "checkout-draft", `"checkout-draft"`},
		{"a status cannot hold spaces", "on hold", "not a WooCommerce order status"},
		{"a status cannot hold a comma's neighbours", "completed;shipped", "not a WooCommerce order status"},
		{"a status is short", "processing-and-then-some", "not a WooCommerce order status"},
	}
	for _, tt := range refused {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			got, err := ParseEarnStatuses(tt.list)
			if app.ErrorCode(err) != app.EInvalid || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("ParseEarnStatuses(%q) = %q, %v; want an invalid error saying %s", tt.list, got, err, tt.says)
			}
		})
	}
}
