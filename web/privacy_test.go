package web_test

import (
	"context"
	"net/http"
	"testing"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
)

func TestPrivacyRequestsOfAnUninstalledShopGetThrough(t *testing.T) {
	env := testenv.New(t, nil)
	if err := env.Service.Uninstall(context.Background(), env.Shop); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, env, nil)
	tests := []struct{ fixture, topic string }{
		{"shopify/customers_data_request.json", "customers/data_request"},
		{"shopify/customers_redact.json", "customers/redact"},
		{"shopify/shop_redact.json", "shop/redact"}, // sent 48 hours after the uninstall
	}
	for i, tt := range tests {
		t.Run(tt.topic+" is queued as a privacy task", func(t *testing.T) {
			id := "privacy-" + string(rune('a'+i))
			status, answer := h.post(t, delivery{topic: tt.topic, id: id, body: testenv.Fixture(t, tt.fixture)})
			if status != http.StatusOK {
				t.Fatalf("status = %d %q, want 200", status, answer)
			}
			var found bool
			for _, task := range h.queued(t, jobs.QueueDefault) {
				found = found || task.ID == jobs.TaskID(app.Shopify, testenv.ShopDomain, id) && task.Type == jobs.TypePrivacy
			}
			if !found {
				t.Fatalf("no %s task for %s in the %s queue", jobs.TypePrivacy, id, jobs.QueueDefault)
			}
		})
	}
	t.Run("other topics of the uninstalled shop are still dropped", func(t *testing.T) {
		status, _ := h.post(t, delivery{topic: "orders/paid", id: "order", body: testenv.Fixture(t, "shopify/orders_paid.json")})
		if status != http.StatusOK || len(h.queued(t, jobs.QueueCritical)) != 0 {
			t.Fatalf("status = %d; the order was queued", status)
		}
	})
	t.Run("a shop the app does not know is still dropped", func(t *testing.T) {
		before := len(h.queued(t, jobs.QueueDefault))
		status, _ := h.post(t, delivery{topic: "shop/redact", shop: "stranger.myshopify.com", id: "stranger",
			body: testenv.Fixture(t, "shopify/shop_redact.json")})
		if status != http.StatusOK || len(h.queued(t, jobs.QueueDefault)) != before {
			t.Fatalf("status = %d; the delivery was queued", status)
		}
	})
	t.Run("a bad signature is 401, as for every webhook", func(t *testing.T) {
		for _, tt := range tests {
			status, _ := h.post(t, delivery{topic: tt.topic, id: "forged", body: testenv.Fixture(t, tt.fixture), signature: "Zm9yZ2Vk"})
			if status != http.StatusUnauthorized {
				t.Errorf("%s: status = %d, want 401", tt.topic, status)
			}
		}
	})
}
