package woocommerce

import (
	"encoding/json"
	"loyalty/internal/shared"
	"path/filepath"
	"testing"
)

func sharedDir(tb testing.TB) string { return shared.Dir(tb) }

func sharedFile(tb testing.TB, rel string) []byte { return shared.File(tb, rel) }

// fixture returns a WooCommerce sample payload from shared/fixtures/woocommerce.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	return sharedFile(tb, "fixtures/woocommerce/"+name)
}

// signatureVector is one WooCommerce entry of test_vectors.json's
// self_generated list: a file (named samples/…, stored under fixtures/) or
// an inline body, its secret and the expected X-WC-Webhook-Signature.
type signatureVector struct {
	Kind     string `json:"kind"`
	File     string `json:"file"`
	Body     string `json:"body"`
	Secret   string `json:"secret"`
	Expected string `json:"expected"`
}

func loadSignatureVectors(tb testing.TB) []signatureVector {
	tb.Helper()
	var v struct {
		SelfGenerated []signatureVector `json:"self_generated"`
	}
	if err := json.Unmarshal(sharedFile(tb, "protocols/test_vectors.json"), &v); err != nil {
		tb.Fatalf("test_vectors.json: %v", err)
	}
	var out []signatureVector
	for _, s := range v.SelfGenerated {
		if s.Kind == "woocommerce_webhook_file" || s.Kind == "woocommerce_webhook_inline" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		tb.Fatal("test_vectors.json has no woocommerce signature vectors")
	}
	return out
}

// vectorBody is the exact body a signature vector signs.
func vectorBody(tb testing.TB, v signatureVector) []byte {
	tb.Helper()
	if v.Kind == "woocommerce_webhook_inline" {
		return []byte(v.Body)
	}
	return sharedFile(tb, "fixtures/"+filepath.ToSlash(v.File[len("samples/"):]))
}
