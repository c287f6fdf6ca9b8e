package shopify

import (
	"errors"
	"reflect"
	"testing"

	"loyalty/app"
)

func TestParseDataRequestReadsShopifysSample(t *testing.T) {
	got, err := ParseDataRequest(fixture(t, "customers_data_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.DataRequest{CustomerID: "191167", Email: "john@example.com",
		OrdersRequested: []string{"299938", "280263", "220458"}, RequestID: "9999"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseCustomerRedactReadsShopifysSample(t *testing.T) {
	got, err := ParseCustomerRedact(fixture(t, "customers_redact.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := app.RedactRequest{CustomerID: "191167", Email: "john@example.com",
		OrdersToRedact: []string{"299938", "280263", "220458"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseShopRedactReadsShopifysSample(t *testing.T) {
	if err := ParseShopRedact(fixture(t, "shop_redact.json")); err != nil {
		t.Fatal(err)
	}
}

func TestParsePrivacy(t *testing.T) {
	t.Run("ids may be strings, numbers beyond 2^53 or global ids", func(t *testing.T) {
		got, err := ParseDataRequest([]byte(`{"customer": {"id": "gid://shopify/Customer/115310627314723954"},
			"orders_requested": ["820982911946154508", 9007199254740993], "data_request": {"id": "77"}}`))
		if err != nil {
			t.Fatal(err)
		}
		want := app.DataRequest{CustomerID: "115310627314723954",
			OrdersRequested: []string{"820982911946154508", "9007199254740993"}, RequestID: "77"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("null and absent order lists are empty, null entries are left out", func(t *testing.T) {
		got, err := ParseCustomerRedact([]byte(`{"customer": {"id": 5, "email": " a@b.c "}, "orders_to_redact": [null, 7]}`))
		if err != nil {
			t.Fatal(err)
		}
		want := app.RedactRequest{CustomerID: "5", Email: "a@b.c", OrdersToRedact: []string{"7"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		got2, err := ParseDataRequest([]byte(`{"customer": {"id": 5}, "orders_requested": null, "data_request": {"id": 1}}`))
		if err != nil || got2.OrdersRequested != nil {
			t.Fatalf("got %+v, %v", got2, err)
		}
	})
	t.Run("an empty object is a valid shop/redact: the shop is in the header", func(t *testing.T) {
		if err := ParseShopRedact([]byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPrivacyParsersRejectMalformedPayloads(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) error
		body  string
	}{
		{"data request without a request id", dataRequest, `{"customer": {"id": 1}}`},
		{"data request without a customer", dataRequest, `{"data_request": {"id": 1}}`},
		{"data request with a null customer", dataRequest, `{"customer": null, "data_request": {"id": 1}}`},
		{"data request with a zero customer id", dataRequest, `{"customer": {"id": 0}, "data_request": {"id": 1}}`},
		{"data request with a word for an order id", dataRequest, `{"customer": {"id": 1}, "orders_requested": ["abc"], "data_request": {"id": 1}}`},
		{"data request with orders as an object", dataRequest, `{"customer": {"id": 1}, "orders_requested": {"id": 1}, "data_request": {"id": 1}}`},
		{"redact without a customer id", customerRedact, `{"customer": {"email": "john@example.com"}}`},
		{"redact with a fractional customer id", customerRedact, `{"customer": {"id": 1.5}}`},
		{"redact with a negative order id", customerRedact, `{"customer": {"id": 1}, "orders_to_redact": [-3]}`},
		{"shop redact with a word for a shop id", ParseShopRedact, `{"shop_id": "acme"}`},
		{"a null body", ParseShopRedact, `null`},
		{"a JSON string", ParseShopRedact, `"my secret message"`},
		{"an array", customerRedact, `[{"customer": {"id": 1}}]`},
		{"invalid JSON", dataRequest, `{"customer": {"id": 1}`},
		{"an empty body", ParseShopRedact, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.parse([]byte(tt.body)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func dataRequest(body []byte) error {
	_, err := ParseDataRequest(body)
	return err
}

func customerRedact(body []byte) error {
	_, err := ParseCustomerRedact(body)
	return err
}

func FuzzParsePrivacy(f *testing.F) {
	for _, name := range []string{"customers_data_request.json", "customers_redact.json", "shop_redact.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"customer": {"id": "gid://shopify/Customer/1"}, "orders_requested": [null, "0", 2], "data_request": {"id": 9}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseDataRequest(body)
		checkParsed(t, err, req.CustomerID)
		if err == nil {
			checkID(t, req.RequestID)
			for _, id := range req.OrdersRequested {
				checkID(t, id)
			}
		}
		red, err := ParseCustomerRedact(body)
		checkParsed(t, err, red.CustomerID)
		if err == nil {
			for _, id := range red.OrdersToRedact {
				checkID(t, id)
			}
		}
		if err := ParseShopRedact(body); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}
