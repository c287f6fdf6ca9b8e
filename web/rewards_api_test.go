package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"loyalty/app"
)

// api calls the embedded admin API with a session token for shop.
func (r *installRig) api(t *testing.T, shop, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, r.app.URL+"/embedded/api"+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+r.shopify.SessionToken(shop, "42", r.now))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func TestRewardsAdminAPI(t *testing.T) {
	r := newInstallRig(t)
	if resp, body, _ := r.install(t, newShop); resp.StatusCode != http.StatusFound {
		t.Fatalf("install: %d %s", resp.StatusCode, body)
	}
	ctx := context.Background()
	shop, _ := r.env.Service.Shop(ctx, app.Shopify, newShop)
	r.env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "7000000000000000001"}, Subtotal: app.MustAmount("700.00")})

	status, created := r.api(t, newShop, http.MethodPost, "/rewards", `{"name":"5.00 off","kind":"fixed_amount","points":500,"amount":"5.00","expiry_days":30}`, nil)
	if status != http.StatusCreated || created["amount"] != "5.00" || created["active"] != true {
		t.Fatalf("add reward: %d %v", status, created)
	}
	id := int64(created["id"].(float64))
	t.Run("an invalid reward is refused with the reason", func(t *testing.T) {
		status, body := r.api(t, newShop, http.MethodPost, "/rewards", `{"name":"x","kind":"percentage","points":100,"percentage":150}`, nil)
		if status != http.StatusUnprocessableEntity || body["error"].(map[string]any)["code"] != app.EInvalid {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("the catalogue lists it", func(t *testing.T) {
		status, body := r.api(t, newShop, http.MethodGet, "/rewards", "", nil)
		if status != http.StatusOK || len(body["data"].([]any)) != 1 {
			t.Fatalf("%d %v", status, body)
		}
	})
	redeem := `{"customer_id":"7000000000000000001","reward_id":` + jsonInt(id) + `}`
	t.Run("staff redeem once per idempotency key", func(t *testing.T) {
		s1, first := r.api(t, newShop, http.MethodPost, "/redemptions", redeem, map[string]string{"Idempotency-Key": "click-1"})
		s2, second := r.api(t, newShop, http.MethodPost, "/redemptions", redeem, map[string]string{"Idempotency-Key": "click-1"})
		if s1 != http.StatusCreated || s2 != http.StatusCreated || first["id"] != second["id"] || first["redeemed_by"] != "shopify user 42" {
			t.Fatalf("%d %v / %d %v", s1, first, s2, second)
		}
		c, _ := r.env.Service.Balance(ctx, shop, "7000000000000000001")
		if c.Balance != 200 {
			t.Fatalf("balance = %d, want 200", c.Balance)
		}
	})
	t.Run("a redemption without an idempotency key is refused", func(t *testing.T) {
		if status, _ := r.api(t, newShop, http.MethodPost, "/redemptions", redeem, nil); status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("more than the balance is refused as insufficient", func(t *testing.T) {
		status, body := r.api(t, newShop, http.MethodPost, "/redemptions", redeem, map[string]string{"Idempotency-Key": "click-2"})
		if status != http.StatusUnprocessableEntity || body["error"].(map[string]any)["code"] != app.EInsufficientPoint {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("a withdrawn reward is no longer redeemable", func(t *testing.T) {
		if status, _ := r.api(t, newShop, http.MethodPatch, "/rewards/"+jsonInt(id), `{"active":false}`, nil); status != http.StatusNoContent {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("a customer's redemptions are listed with their codes", func(t *testing.T) {
		status, body := r.api(t, newShop, http.MethodGet, "/customers/7000000000000000001/redemptions", "", nil)
		list := body["redemptions"].([]any)
		if status != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["code"] == "" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("another shop's staff see none of it", func(t *testing.T) {
		if resp, body, _ := r.install(t, "inny-sklep.myshopify.com"); resp.StatusCode != http.StatusFound {
			t.Fatalf("install: %d %s", resp.StatusCode, body)
		}
		if status, body := r.api(t, "inny-sklep.myshopify.com", http.MethodGet, "/rewards", "", nil); status != http.StatusOK || len(body["data"].([]any)) != 0 {
			t.Fatalf("%d %v", status, body)
		}
		if status, _ := r.api(t, "inny-sklep.myshopify.com", http.MethodGet, "/customers/7000000000000000001/redemptions", "", nil); status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", status)
		}
		if status, _ := r.api(t, "inny-sklep.myshopify.com", http.MethodPost, "/redemptions", redeem, map[string]string{"Idempotency-Key": "x"}); status != http.StatusNotFound {
			t.Fatalf("status %d, want 404 for another shop's reward and customer", status)
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
