package web_test

import (
	"net/http"
	"testing"

	"loyalty/app"
)

func TestEmbeddedAdminActsAsTheShopsOwner(t *testing.T) {
	r := newInstallRig(t)
	if resp, body, _ := r.install(t, newShop); resp.StatusCode != http.StatusFound {
		t.Fatalf("install: %d %s", resp.StatusCode, body)
	}
	status, me := r.api(t, newShop, http.MethodGet, "/me", "", nil)
	if status != http.StatusOK || me["role"] != "owner" || me["shop"].(map[string]any)["domain"] != newShop ||
		me["staff"].(map[string]any)["email"] != "shopify user 42" || len(me["permissions"].([]any)) != len(app.Permissions) {
		t.Fatalf("%d %v", status, me)
	}
}
