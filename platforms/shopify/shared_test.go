package shopify

import (
	"encoding/json"
	"loyalty/internal/shared"
	"testing"
)

func sharedDir(tb testing.TB) string { return shared.Dir(tb) }

func sharedFile(tb testing.TB, rel string) []byte { return shared.File(tb, rel) }

// fixture returns a Shopify sample payload from shared/fixtures/shopify.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	return sharedFile(tb, "fixtures/shopify/"+name)
}

// testVectors is the part of shared/protocols/test_vectors.json these tests
// use.
type testVectors struct {
	WebhookHMAC []struct {
		Source string `json:"source"`
		Secret string `json:"secret"`
		Body   string `json:"body"`
		Header string `json:"header"`
		Valid  bool   `json:"valid"`
	} `json:"shopify_webhook_hmac"`
	SelfGenerated []struct {
		Kind     string `json:"kind"`
		File     string `json:"file"`
		Secret   string `json:"secret"`
		Expected string `json:"expected"`
	} `json:"self_generated"`
}

func loadTestVectors(tb testing.TB) testVectors {
	tb.Helper()
	var v testVectors
	if err := json.Unmarshal(sharedFile(tb, "protocols/test_vectors.json"), &v); err != nil {
		tb.Fatalf("test_vectors.json: %v", err)
	}
	if len(v.WebhookHMAC) == 0 {
		tb.Fatal("test_vectors.json has no shopify_webhook_hmac vectors")
	}
	return v
}
