package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/woocommerce"
)

type wooStore struct {
	key, secret, domain string
}

// connectStores adds WooCommerce stores to env, each with its own secret.
func connectStores(t *testing.T, env *testenv.Env, stores ...wooStore) {
	t.Helper()
	for _, s := range stores {
		_, _, err := env.Service.ConnectStore(context.Background(), app.Shop{Platform: app.WooCommerce, Domain: s.domain},
			app.Connection{URL: "https://" + s.domain, WebhookKey: s.key}, app.Credentials{WebhookSecret: s.secret})
		if err != nil {
			t.Fatal(err)
		}
	}
}

var (
	storeA = wooStore{key: "wc_aaaaaaaaaaaaaaaa", secret: "wc-test-secret", domain: "a.example"}
	storeB = wooStore{key: "wc_bbbbbbbbbbbbbbbb", secret: "another-stores-secret", domain: "b.example"}
)

type wooDelivery struct {
	storeKey, topic, deliveryHeader, deliveryID, signature string
	body                                                   []byte
	contentType                                            string
}

func (h *harness) postWoo(t *testing.T, d wooDelivery) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/webhooks/woocommerce/"+d.storeKey, bytes.NewReader(d.body))
	if d.topic != "" {
		resource, event, _ := strings.Cut(d.topic, ".")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-WC-Webhook-Topic", d.topic)
		req.Header.Set("X-WC-Webhook-Resource", resource)
		req.Header.Set("X-WC-Webhook-Event", event)
		req.Header.Set("X-WC-Webhook-Source", "https://a.example/")
		req.Header.Set("X-WC-Webhook-ID", "142")
		header := d.deliveryHeader
		if header == "" {
			header = "X-WC-Webhook-Delivery-ID"
		}
		req.Header.Set(header, d.deliveryID)
		req.Header.Set("X-WC-Webhook-Signature", d.signature)
	} else if d.contentType != "" {
		req.Header.Set("Content-Type", d.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWooCommerceIntake(t *testing.T) {
	env := testenv.New(t, nil)
	connectStores(t, env, storeA, storeB)
	h := newHarness(t, env, nil)
	order := testenv.Fixture(t, "woocommerce/order_created_body_as_sent.json")
	signedA := woocommerce.Sign(order, storeA.secret)

	t.Run("the creation ping gets exactly 200 and an empty body", func(t *testing.T) {
		ping := testenv.Fixture(t, "woocommerce/webhook_ping_body.txt")
		status, body := h.postWoo(t, wooDelivery{storeKey: storeA.key, body: ping, contentType: "application/x-www-form-urlencoded"})
		if status != http.StatusOK || body != "" {
			t.Fatalf("ping answered %d %q", status, body)
		}
	})
	t.Run("a ping to a store we do not know still gets 200", func(t *testing.T) {
		if status, _ := h.postWoo(t, wooDelivery{storeKey: "wc_unknown_store_000", body: []byte("webhook_id=142")}); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("the published signature of the sample order is accepted", func(t *testing.T) {
		if signedA != "kkgTD3USasKugmQclBl2hUxFQu6gJHIIz99dAbMOaVE=" {
			t.Fatalf("signature of the sample = %s, not the published vector", signedA)
		}
		status, body := h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.created", deliveryID: "d1", signature: signedA, body: order})
		if status != http.StatusOK {
			t.Fatalf("status %d %q", status, body)
		}
	})
	t.Run("one store's secret never validates another store's webhooks", func(t *testing.T) {
		status, _ := h.postWoo(t, wooDelivery{storeKey: storeB.key, topic: "order.created", deliveryID: "d2", signature: signedA, body: order})
		if status != http.StatusUnauthorized {
			t.Fatalf("store B accepted store A's signature: %d", status)
		}
	})
	t.Run("a body re-encoded after signing is refused", func(t *testing.T) {
		reencoded := bytes.ReplaceAll(order, []byte(`\/`), []byte(`/`))
		status, _ := h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.created", deliveryID: "d3", signature: signedA, body: reencoded})
		if status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", status)
		}
	})
	t.Run("an unknown store is refused", func(t *testing.T) {
		status, _ := h.postWoo(t, wooDelivery{storeKey: "wc_unknown_store_000", topic: "order.created", deliveryID: "d4", signature: signedA, body: order})
		if status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", status)
		}
	})
	t.Run("the documented delivery header is accepted too", func(t *testing.T) {
		customer := testenv.Fixture(t, "woocommerce/customer_v3_retrieve_example.json")
		status, body := h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "customer.created", deliveryHeader: "X-WC-Delivery-ID",
			deliveryID: "d5", signature: woocommerce.Sign(customer, storeA.secret), body: customer})
		if status != http.StatusOK {
			t.Fatalf("status %d %q", status, body)
		}
	})
	t.Run("the same order state is queued once, whatever its delivery ids", func(t *testing.T) {
		before := len(h.queued(t, jobs.QueueCritical))
		for i := 0; i < 3; i++ {
			h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.updated", deliveryID: fmt.Sprint("again-", i), signature: signedA, body: order})
		}
		if got := len(h.queued(t, jobs.QueueCritical)) - before; got != 0 {
			t.Fatalf("%d more tasks queued for a state already queued", got)
		}
		sameSecond := bytes.Replace(order, []byte(`"status":"processing"`), []byte(`"status":"cancelled"`), 1)
		if bytes.Equal(sameSecond, order) {
			t.Fatal("the sample order has no processing status to change")
		}
		h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.updated", deliveryID: "same-second", signature: woocommerce.Sign(sameSecond, storeA.secret), body: sameSecond})
		if got := len(h.queued(t, jobs.QueueCritical)) - before; got != 1 {
			t.Fatalf("another state saved within the same second queued %d tasks, want 1", got)
		}
		newer := woocommerce.SampleOrder(woocommerce.SampleOptions{ID: 727, Status: "completed", Modified: time.Now()})
		h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.updated", deliveryID: "newer", signature: woocommerce.Sign(newer, storeA.secret), body: newer})
		if got := len(h.queued(t, jobs.QueueCritical)) - before; got != 2 {
			t.Fatalf("a newer state of the order queued %d tasks, want 2 in all", got)
		}
	})
	t.Run("a body over the limit is 413", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), maxBody+1)
		status, _ := h.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.created", deliveryID: "big", signature: woocommerce.Sign(big, storeA.secret), body: big})
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", status)
		}
	})
}

func TestWooCommerceQueueDownParksInTheInbox(t *testing.T) {
	env := testenv.New(t, nil)
	connectStores(t, env, storeA)
	down := newHarness(t, env, deadRedis(t))
	order := testenv.Fixture(t, "woocommerce/order_created_body_as_sent.json")
	status, _ := down.postWoo(t, wooDelivery{storeKey: storeA.key, topic: "order.created", deliveryID: "p1", signature: woocommerce.Sign(order, storeA.secret), body: order})
	if n, _ := env.Store.InboxSize(context.Background()); status != http.StatusOK || n != 1 {
		t.Fatalf("status %d, inbox %d; want 200 and the delivery parked", status, n)
	}
}
