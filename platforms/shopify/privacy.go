package shopify

import (
	"encoding/json"
	"fmt"
	"strings"

	"loyalty/app"
)

// The mandatory compliance topics carry the shop as shop_id and shop_domain
// in the body, but the shop a delivery is about is the one in its verified
// X-Shopify-Shop-Domain header; the body's shop fields are only checked for
// form.

// ParseDataRequest decodes a customers/data_request body into an
// app.DataRequest. The customer id and the request id are required: without
// them there is nothing to answer, or no way to answer it once.
func ParseDataRequest(body []byte) (app.DataRequest, error) {
	p, err := parsePrivacy(body)
	if err != nil {
		return app.DataRequest{}, err
	}
	var r reader
	r.id("shop_id", p.ShopID, false)
	e := app.DataRequest{
		CustomerID:      r.id("customer id", p.Customer.ID, true),
		Email:           strings.TrimSpace(p.Customer.Email),
		OrdersRequested: r.ids("orders_requested", p.OrdersRequested),
		RequestID:       r.id("data_request id", p.DataRequest.ID, true),
	}
	if r.err != nil {
		return app.DataRequest{}, r.err
	}
	return e, nil
}

// ParseCustomerRedact decodes a customers/redact body into an
// app.RedactRequest. The customer id is required.
func ParseCustomerRedact(body []byte) (app.RedactRequest, error) {
	p, err := parsePrivacy(body)
	if err != nil {
		return app.RedactRequest{}, err
	}
	var r reader
	r.id("shop_id", p.ShopID, false)
	e := app.RedactRequest{
		CustomerID:     r.id("customer id", p.Customer.ID, true),
		Email:          strings.TrimSpace(p.Customer.Email),
		OrdersToRedact: r.ids("orders_to_redact", p.OrdersToRedact),
	}
	if r.err != nil {
		return app.RedactRequest{}, r.err
	}
	return e, nil
}

// ParseShopRedact checks a shop/redact body. It carries nothing the erasure
// needs beyond the shop, which comes from the delivery's header, so it only
// has to be a JSON object of the documented form.
func ParseShopRedact(body []byte) error {
	p, err := parsePrivacy(body)
	if err != nil {
		return err
	}
	var r reader
	r.id("shop_id", p.ShopID, false)
	return r.err
}

type privacyJSON struct {
	ShopID     text   `json:"shop_id"`
	ShopDomain string `json:"shop_domain"`
	Customer   struct {
		ID    text   `json:"id"`
		Email string `json:"email"`
	} `json:"customer"`
	OrdersRequested []text `json:"orders_requested"`
	OrdersToRedact  []text `json:"orders_to_redact"`
	DataRequest     struct {
		ID text `json:"id"`
	} `json:"data_request"`
}

// parsePrivacy decodes a compliance body, which must be a JSON object: null
// or a scalar would otherwise decode into an empty request.
func parsePrivacy(body []byte) (privacyJSON, error) {
	var p *privacyJSON
	if err := json.Unmarshal(body, &p); err != nil {
		return privacyJSON{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p == nil {
		return privacyJSON{}, fmt.Errorf("%w: body is null, not a JSON object", ErrMalformed)
	}
	return *p, nil
}

// ids reads a list of optional ids, leaving out null and zero entries.
func (r *reader) ids(field string, list []text) []string {
	var out []string
	for i, t := range list {
		if id := r.id(fmt.Sprintf("%s[%d]", field, i), t, false); id != "" {
			out = append(out, id)
		}
	}
	return out
}
