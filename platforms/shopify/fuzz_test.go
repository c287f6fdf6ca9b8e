package shopify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func FuzzParseCustomerCreated(f *testing.F) {
	f.Add(fixture(f, "customers_create.json"))
	f.Add(fixture(f, "orders_paid.json"))
	f.Add([]byte(`{"id": "gid://shopify/Customer/7", "email": null, "first_name": 5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCustomerCreated(body)
		checkParsed(t, err, c.Customer.PlatformID)
	})
}

// Headers come from anyone on the internet before any signature is
// checked: whatever they hold, reading them never panics, and a delivery
// without its required headers is refused by name.
func FuzzDeliveryFromHeader(f *testing.F) {
	f.Add("orders/paid", "Acme.myshopify.com", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "2026-07", "2026-11-20T12:00:00.000Z")
	f.Add("", "", "", "", "")
	f.Add(" orders/paid ", "x", "\x00", "v", "not a time")
	f.Fuzz(func(t *testing.T, topic, shop, id, version, triggered string) {
		h := http.Header{}
		for name, v := range map[string]string{HeaderTopic: topic, HeaderShopDomain: shop, HeaderWebhookID: id,
			HeaderAPIVersion: version, HeaderTriggeredAt: triggered} {
			h[strings.ToLower(name)] = []string{v} // as an HTTP/2 frame leaves them
		}
		d, err := DeliveryFromHeader(h)
		if err != nil {
			if !errors.Is(err, ErrMissingHeader) {
				t.Fatalf("err = %v, want ErrMissingHeader", err)
			}
			return
		}
		if d.Topic == "" || d.ShopDomain == "" || d.WebhookID == "" {
			t.Fatalf("accepted a delivery without its required headers: %+v", d)
		}
		if d.ShopDomain != strings.ToLower(d.ShopDomain) {
			t.Fatalf("shop domain %q is not lower-case", d.ShopDomain)
		}
	})
}
