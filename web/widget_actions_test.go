package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/woocommerce"
)

func (r *widgetRig) post(t *testing.T, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Post(r.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	return resp.StatusCode, doc, resp.Header
}

// rewardID is the id of the rig's "5.00 off" reward.
func (r *widgetRig) rewardID(t *testing.T) int64 {
	t.Helper()
	rewards, err := r.env.Service.Rewards(context.Background(), r.env.Shop)
	if err != nil || len(rewards) == 0 {
		t.Fatalf("rewards: %v %v", rewards, err)
	}
	return rewards[0].ID
}

func (r *widgetRig) balance(t *testing.T, customer string) int64 {
	t.Helper()
	c, err := r.env.Service.Balance(context.Background(), r.env.Shop, customer)
	if err != nil {
		t.Fatal(err)
	}
	return c.Balance
}

func errorCode(doc map[string]any) string {
	e, _ := doc["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestShopperRedeemsFromTheStorefront(t *testing.T) {
	r := newWidgetRig(t, nil)
	const ewa, piotr = "7000000000000000001", "7000000000000000002"
	reward := r.rewardID(t)
	redeem := func(customer, body string) (int, map[string]any) {
		status, doc, _ := r.post(t, "/proxy/redeem?"+r.proxied(customer, r.now, nil).Encode(), body)
		return status, doc
	}
	body := func(key string) string {
		raw, _ := json.Marshal(map[string]any{"reward_id": reward, "key": key})
		return string(raw)
	}

	status, doc := redeem(piotr, body("click-1"))
	if status != http.StatusCreated {
		t.Fatalf("redeem: %d %v", status, doc)
	}
	code := doc["redemption"].(map[string]any)
	if !strings.HasPrefix(code["code"].(string), "LOY-") || code["status"] != "pending" || code["amount"] != "5.00" || doc["balance"] != 499.0 {
		t.Fatalf("redeem answered %v", doc)
	}

	t.Run("the same key spends once", func(t *testing.T) {
		status, again := redeem(piotr, body("click-1"))
		if status != http.StatusCreated || again["redemption"].(map[string]any)["code"] != code["code"] || r.balance(t, piotr) != 499 {
			t.Fatalf("%d %v, balance %d", status, again, r.balance(t, piotr))
		}
	})
	t.Run("a double click sent at once spends once", func(t *testing.T) {
		if _, err := r.env.Service.Adjust(context.Background(), r.env.Shop, app.Adjustment{CustomerID: piotr, Points: 1000,
			Staff: "support", Reason: "goodwill", IdempotencyKey: "goodwill-1"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		codes := make([]any, 5)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, doc := redeem(piotr, body("click-2"))
				if red, ok := doc["redemption"].(map[string]any); ok {
					codes[i] = red["code"]
				}
			}()
		}
		wg.Wait()
		for _, c := range codes {
			if c == nil || c != codes[0] {
				t.Fatalf("codes %v", codes)
			}
		}
		if got := r.balance(t, piotr); got != 999 {
			t.Fatalf("balance %d, want 499 + 1000 - 500", got)
		}
	})
	t.Run("the document lists the shopper's unused codes", func(t *testing.T) {
		_, doc, _ := r.get(t, "/proxy/customer?"+r.proxied(piotr, r.now, nil).Encode())
		codes := doc["codes"].([]any)
		if len(codes) == 0 || codes[len(codes)-1].(map[string]any)["code"] != code["code"] {
			t.Fatalf("codes %v", codes)
		}
	})
	t.Run("another shopper's key never reveals their code", func(t *testing.T) {
		status, doc := redeem(ewa, body("click-1"))
		if red, ok := doc["redemption"].(map[string]any); ok && red["code"] == code["code"] {
			t.Fatalf("ewa got piotr's code: %d %v", status, doc)
		}
	})

	refusals := []struct {
		name     string
		customer string
		body     string
		status   int
		code     string
	}{
		{"a guest", "", body("guest-1"), http.StatusForbidden, app.EForbidden},
		{"more points than the shopper has", ewa, body("ewa-1"), http.StatusUnprocessableEntity, app.EInsufficientPoint},
		{"no request key", piotr, `{"reward_id": 1}`, http.StatusUnprocessableEntity, app.EInvalid},
		{"a body that is not JSON", piotr, `reward=1`, http.StatusUnprocessableEntity, app.EInvalid},
		{"a body too large", piotr, `{"key": "` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge, "Request Entity Too Large"},
		{"a reward of another shop", piotr, `{"reward_id": 999999, "key": "k"}`, http.StatusNotFound, app.ENotFound},
	}
	for _, tc := range refusals {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			before := r.balance(t, ewa) + r.balance(t, piotr)
			status, doc := redeem(tc.customer, tc.body)
			if status != tc.status || errorCode(doc) != tc.code {
				t.Fatalf("%d %v, want %d %s", status, doc, tc.status, tc.code)
			}
			if after := r.balance(t, ewa) + r.balance(t, piotr); after != before {
				t.Fatalf("balances moved from %d to %d", before, after)
			}
		})
	}
	t.Run("refuses an unsigned request", func(t *testing.T) {
		status, _ := redeem(piotr, body("forged"))
		q := r.proxied(piotr, r.now, func(q url.Values) { q.Set("logged_in_customer_id", ewa) })
		if s, _, _ := r.post(t, "/proxy/redeem?"+q.Encode(), body("forged")); s != http.StatusUnauthorized || status != http.StatusCreated {
			t.Fatalf("forged customer id: %d", s)
		}
	})
}

func TestShopperSavesTheirBirthday(t *testing.T) {
	r := newWidgetRig(t, nil)
	ctx := context.Background()
	prog, _ := r.env.Service.Program(ctx, r.env.Shop)
	prog.BirthdayBonus = 100
	if err := r.env.Service.SetProgram(ctx, r.env.Shop, prog, "owner", "birthday bonus"); err != nil {
		t.Fatal(err)
	}
	const ewa = "7000000000000000001"
	save := func(customer, birthday string) (int, map[string]any) {
		status, doc, _ := r.post(t, "/proxy/birthday?"+r.proxied(customer, r.now, nil).Encode(), `{"birthday":"`+birthday+`"}`)
		return status, doc
	}
	if status, doc := save(ewa, "02-29"); status != http.StatusOK || doc["birthday"] != "02-29" {
		t.Fatalf("%d %v", status, doc)
	}
	_, doc, _ := r.get(t, "/proxy/customer?"+r.proxied(ewa, r.now, nil).Encode())
	if doc["customer"].(map[string]any)["birthday"] != "02-29" || doc["program"].(map[string]any)["birthday_bonus"] != 100.0 {
		t.Fatalf("document %v", doc)
	}
	tests := []struct {
		name     string
		customer string
		birthday string
		status   int
	}{
		{"the same day again is fine", ewa, "02-29", http.StatusOK},
		{"another day is for support to change", ewa, "03-01", http.StatusConflict},
		{"a day that does not exist", "7000000000000000002", "02-30", http.StatusUnprocessableEntity},
		{"a year is not asked for", "7000000000000000002", "1990-05-17", http.StatusUnprocessableEntity},
		{"a guest has no birthday to save", "", "05-17", http.StatusForbidden},
		{"a new shopper with no points yet", "7000000000000000099", "--12-24", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, doc := save(tc.customer, tc.birthday); status != tc.status {
				t.Fatalf("%d %v, want %d", status, doc, tc.status)
			}
		})
	}
}

func TestWooCommerceShopperRedeems(t *testing.T) {
	r := newWidgetRig(t, nil)
	ctx := context.Background()
	store, _, err := r.env.Service.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: "sklep.example.pl", Currency: "PLN"},
		app.Connection{URL: "https://sklep.example.pl", WebhookKey: "wc_storekey0000001"}, app.Credentials{WebhookSecret: "s", WidgetSecret: "widget-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	r.env.Service.AccrueOrder(ctx, store, app.OrderPaid{OrderID: "727", Customer: &app.CustomerRef{PlatformID: "25"}, Subtotal: app.MustAmount("450.00")})
	reward, err := r.env.Service.AddReward(ctx, store, app.Reward{Name: "Rabat", Kind: app.RewardVariable, PointsPerUnit: 10, MinPoints: 100, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	token := woocommerce.SignIdentity("widget-secret-0123456789", woocommerce.Identity{StoreKey: "wc_storekey0000001", CustomerID: "25", ExpiresAt: r.now.Add(time.Hour)})

	t.Run("the browser may post from the store's origin", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, r.srv.URL+"/wc/wc_storekey0000001/redeem", nil)
		req.Header.Set("Origin", "https://sklep.example.pl")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://sklep.example.pl" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight %d %v", resp.StatusCode, h)
		}
	})
	t.Run("part of the balance buys an amount off", func(t *testing.T) {
		status, doc, _ := r.post(t, "/wc/wc_storekey0000001/redeem?token="+url.QueryEscape(token),
			`{"reward_id": `+jsonInt(reward.ID)+`, "points": 255, "key": "k1"}`)
		if status != http.StatusCreated || doc["balance"] != 195.0 || doc["redemption"].(map[string]any)["amount"] != "25.50" {
			t.Fatalf("%d %v", status, doc)
		}
	})
	t.Run("a guest cannot redeem", func(t *testing.T) {
		status, doc, _ := r.post(t, "/wc/wc_storekey0000001/redeem", `{"reward_id": 1, "key": "k2"}`)
		if status != http.StatusForbidden {
			t.Fatalf("%d %v", status, doc)
		}
	})
}

func TestTheScriptLoadsThroughTheAppProxyWithoutASignature(t *testing.T) {
	r := newWidgetRig(t, nil)
	resp, err := http.Get(r.srv.URL + "/proxy/loyalty-widget.js?shop=acme.myshopify.com&path_prefix=%2Fapps%2Floyalty")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		!strings.Contains(string(body), "customElements.define") {
		t.Fatalf("status %d, %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if status, _, _ := r.post(t, "/proxy/redeem", `{}`); status != http.StatusUnauthorized {
		t.Fatalf("the rest of /proxy still needs a signature: %d", status)
	}
}

func TestHistoryNamesOrdersAsTheShopperKnowsThem(t *testing.T) {
	r := newWidgetRig(t, nil)
	const ewa = "7000000000000000001"
	if _, err := r.env.Service.AccrueOrder(context.Background(), r.env.Shop, app.OrderPaid{OrderID: "5551234567", Name: "#1042",
		Customer: &app.CustomerRef{PlatformID: ewa}, Subtotal: app.MustAmount("10.00")}); err != nil {
		t.Fatal(err)
	}
	_, doc, _ := r.get(t, "/proxy/customer?"+r.proxied(ewa, r.now, nil).Encode())
	history := doc["history"].([]any)
	if len(history) != 2 || history[0].(map[string]any)["order"] != "#1042" || history[1].(map[string]any)["order"] != "1" {
		t.Fatalf("history %v: want the named order by its name and the unnamed one by its id", history)
	}
}

func TestPendingPointsComeWithTheDayTheyBecomeSpendable(t *testing.T) {
	r := newWidgetRig(t, nil)
	ctx := context.Background()
	prog, _ := r.env.Service.Program(ctx, r.env.Shop)
	prog.PendingDays = 14
	if err := r.env.Service.SetProgram(ctx, r.env.Shop, prog, "owner", "return window"); err != nil {
		t.Fatal(err)
	}
	const ewa = "7000000000000000001"
	if _, err := r.env.Service.AccrueOrder(ctx, r.env.Shop, app.OrderPaid{OrderID: "77", Name: "#1077",
		Customer: &app.CustomerRef{PlatformID: ewa}, Subtotal: app.MustAmount("40.00")}); err != nil {
		t.Fatal(err)
	}
	_, doc, _ := r.get(t, "/proxy/customer?"+r.proxied(ewa, r.now, nil).Encode())
	releasing, _ := doc["releasing"].([]any)
	if doc["pending"] != 40.0 || len(releasing) != 1 || releasing[0].(map[string]any)["points"] != 40.0 {
		t.Fatalf("pending %v, releasing %v", doc["pending"], doc["releasing"])
	}
	day, err := time.Parse("2006-01-02", releasing[0].(map[string]any)["date"].(string))
	if want := time.Now().UTC().AddDate(0, 0, 14); err != nil || day.Sub(want) > 24*time.Hour || want.Sub(day) > 24*time.Hour {
		t.Fatalf("release day %v, want about %v", day, want)
	}
}
