package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"loyalty/platforms/shopify"
)

func TestPlanRepeatsDeliveriesAsShopifyDoes(t *testing.T) {
	orders, deliveries, err := plan("t", 400, "secret", 0.5, 0.25, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 400 {
		t.Fatalf("%d orders", len(orders))
	}
	firsts := map[string]*delivery{}
	kinds := map[string]int{}
	for _, d := range deliveries {
		kinds[d.kind]++
		if d.kind == "first" {
			firsts[d.webhookID] = d
		}
		if err := shopify.Verify(d.body, d.signature, "secret"); err != nil {
			t.Fatalf("%s: %v", d.webhookID, err)
		}
	}
	if kinds["first"] != 400 || kinds["duplicate"] == 0 || kinds["new id"] == 0 {
		t.Fatalf("kinds = %v", kinds)
	}
	for _, d := range deliveries {
		switch d.kind {
		case "duplicate":
			if f := firsts[d.webhookID]; f == nil || f.order != d.order || string(f.body) != string(d.body) {
				t.Fatalf("duplicate %s is not a copy of its first delivery", d.webhookID)
			}
		case "new id":
			if firsts[d.webhookID] != nil {
				t.Fatalf("redelivery %s reuses a first delivery's id", d.webhookID)
			}
		}
	}
}

func TestSenderRetriesFailuresWithTheSameIDAndBody(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // webhook id → bodies received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(shopify.HeaderWebhookID)
		mu.Lock()
		seen[id] = append(seen[id], string(body))
		n := len(seen[id])
		mu.Unlock()
		if shopify.Verify(body, r.Header.Get(shopify.HeaderHMAC), "secret") != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n < 3 { // the first two attempts of every delivery fail
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	orders, deliveries, err := plan("t", 50, "secret", 0, 0, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	s := newSender([]string{srv.URL}, "drill.myshopify.com", 1000, 8)
	s.backoff = 1 // nanosecond: the test checks the shape, not the timing
	s.run(context.Background(), deliveries, nil)

	if got := s.requests.Load(); got != 150 {
		t.Errorf("requests = %d, want 150 (3 per delivery)", got)
	}
	if got := s.retries.Load(); got != 100 {
		t.Errorf("retries = %d, want 100", got)
	}
	for _, o := range orders {
		if !o.acked.Load() {
			t.Errorf("order %s not acknowledged", o.ID)
		}
	}
	for id, bodies := range seen {
		if len(bodies) != 3 || bodies[0] != bodies[1] || bodies[1] != bodies[2] {
			t.Errorf("delivery %s: %d attempts, bodies equal: %v", id, len(bodies), len(bodies) == 3 && bodies[0] == bodies[2])
		}
	}
	if line := s.statusLine(); line != "200×50 503×100" {
		t.Errorf("status line %q", line)
	}
}

func TestSenderGivesUpAfterEightRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, deliveries, err := plan("t", 3, "secret", 0, 0, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	s := newSender([]string{srv.URL}, "drill.myshopify.com", 1000, 2)
	s.backoff = 1
	s.run(context.Background(), deliveries, nil)
	for _, d := range deliveries {
		if !d.gaveUp || d.acked || d.attempts != 9 {
			t.Errorf("%s: gave up %v, acked %v, attempts %d; want given up after 1 + 8 attempts", d.webhookID, d.gaveUp, d.acked, d.attempts)
		}
	}
}
