package jobs_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/jobs"
)

// A webhook task carries the delivery's body exactly as it arrived, and a
// task queued before the body travelled raw still decodes.
func TestWebhookTaskCarriesTheBodyAsItArrived(t *testing.T) {
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		body []byte
	}{
		{"an order", []byte(`{"id":820982911946154508,"note":"line one\nline two"}`)},
		{"lines and bytes that are not JSON", []byte("not json\n\x00\xff\nwebhook/2\n")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := jobs.Webhook{Platform: app.Shopify, Shop: "a.myshopify.com", Topic: "orders/paid", DeliveryID: "d-1",
				ReceivedAt: at, TriggeredAt: at.Add(-time.Second), Body: tt.body}
			task, err := jobs.NewWebhookTask(w)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(task.Payload(), tt.body) {
				t.Errorf("payload %q does not end with the body as it arrived", task.Payload())
			}
			got, err := jobs.DecodeWebhook(task.Payload())
			if err != nil {
				t.Fatal(err)
			}
			assertSameWebhook(t, got, w)

			// As tasks queued by an earlier version carry it.
			old, err := json.Marshal(w)
			if err != nil {
				t.Fatal(err)
			}
			got, err = jobs.DecodeWebhook(old)
			if err != nil {
				t.Fatalf("a task of the earlier format: %v", err)
			}
			assertSameWebhook(t, got, w)
		})
	}
	for _, bad := range []string{"", "webhook/2\n", "webhook/2\n{\"shop\":", "{"} {
		if _, err := jobs.DecodeWebhook([]byte(bad)); err == nil {
			t.Errorf("payload %q decoded without an error", bad)
		}
	}
}

func assertSameWebhook(t *testing.T, got, want jobs.Webhook) {
	t.Helper()
	if got.Platform != want.Platform || got.Shop != want.Shop || got.Topic != want.Topic || got.DeliveryID != want.DeliveryID ||
		!got.ReceivedAt.Equal(want.ReceivedAt) || !got.TriggeredAt.Equal(want.TriggeredAt) || !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func FuzzDecodeWebhook(f *testing.F) {
	f.Add([]byte("webhook/2\n{\"platform\":\"shopify\",\"shop\":\"a\",\"delivery_id\":\"d\"}\n{}"))
	f.Add([]byte(`{"platform":"shopify","shop":"a","body":"e30="}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w, err := jobs.DecodeWebhook(payload)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to the same delivery (on a route
		// that has a task).
		w.Platform, w.Topic = app.Shopify, "orders/paid"
		task, err := jobs.NewWebhookTask(w)
		if err != nil {
			t.Fatal(err)
		}
		again, err := jobs.DecodeWebhook(task.Payload())
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		assertSameWebhook(t, again, w)
	})
}
