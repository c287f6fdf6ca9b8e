package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/config"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/web"
)

// demoRig is the demo shop as scripts/run.sh seeds it, with a shopper who
// can afford its reward.
type demoRig struct {
	env    *testenv.Env
	shop   app.Shop
	reward app.Reward
}

func newDemoRig(t *testing.T) *demoRig {
	t.Helper()
	env := testenv.New(t, nil)
	ctx := context.Background()
	prog := app.DefaultProgram(0)
	shop, err := env.Service.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: web.DemoShop, Name: "Demo Shop", Currency: "USD"}, &prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1001", Customer: &app.CustomerRef{PlatformID: web.DemoCustomer},
		Subtotal: app.MustAmount("2000.00")}); err != nil {
		t.Fatal(err)
	}
	reward, err := env.Service.AddReward(ctx, shop, app.Reward{Name: "5 USD off", Kind: app.RewardFixed, Points: 500,
		Amount: app.MustAmount("5.00"), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return &demoRig{env: env, shop: shop, reward: reward}
}

// redeemAndIssue redeems the reward for the demo shopper and runs the
// IssueCode task with clients, as the worker would.
func (r *demoRig) redeemAndIssue(t *testing.T, clients jobs.ShopifyClients, key string) app.Redemption {
	t.Helper()
	ctx := context.Background()
	red, err := r.env.Service.Redeem(ctx, r.shop, app.RedeemRequest{CustomerID: web.DemoCustomer, RewardID: r.reward.ID, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	h := jobs.NewHandler(r.env.Service, r.env.Store, r.env.Log, nil).WithShopifyClients(clients)
	task := jobs.NewIssueCodeTask(r.shop, red.ID)
	if err := h.IssueCode(ctx, asynq.NewTask(task.Type(), task.Payload())); err != nil {
		t.Fatalf("IssueCode: %v", err)
	}
	red, err = r.env.Service.Redemption(ctx, r.shop, red.ID)
	if err != nil {
		t.Fatal(err)
	}
	return red
}

// recordingClients stands for shopifyClients (real Shopify) and records
// which shops it was asked for.
func recordingClients(asked *[]string) jobs.ShopifyClients {
	next := shopifyClients()
	return func(shop, token string) *shopify.Client {
		*asked = append(*asked, shop)
		return next(shop, token)
	}
}

func TestDemoShopCodesAreIssuedOnAnInProcessFakeOutsideProduction(t *testing.T) {
	r := newDemoRig(t)
	ctx := context.Background()
	cfg := config.Config{Env: "development"}

	fake, err := demoShopify(ctx, cfg, r.env.Service, r.env.Log)
	if err != nil || fake == nil {
		t.Fatalf("fake %v, err %v", fake, err)
	}
	var asked []string
	clients := withDemoShop(recordingClients(&asked), fake)

	t.Run("a redemption becomes issued, its discount made on the fake with its code", func(t *testing.T) {
		red := r.redeemAndIssue(t, clients, "demo-1")
		if red.Status != app.RedemptionIssued || !strings.HasPrefix(red.PlatformRef, "gid://shopify/DiscountCodeNode/") {
			t.Fatalf("redemption = %+v", red)
		}
		ds := fake.Discounts(web.DemoShop)
		if len(ds) != 1 || ds[0].ID != red.PlatformRef || ds[0].Code != red.Code || ds[0].Amount != "5.00" ||
			len(ds[0].Customers) != 1 || ds[0].Customers[0] != "gid://shopify/Customer/"+web.DemoCustomer {
			t.Fatalf("discounts on the fake = %+v, redemption %+v", ds, red)
		}
		if len(asked) != 0 {
			t.Fatalf("real Shopify clients were made for %v", asked)
		}
	})
	t.Run("a restart keeps the stored token, and the new fake accepts it", func(t *testing.T) {
		before, err := r.env.Service.Credentials(ctx, r.shop)
		if err != nil {
			t.Fatal(err)
		}
		again, err := demoShopify(ctx, cfg, r.env.Service, r.env.Log)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := r.env.Service.Credentials(ctx, r.shop)
		if after.AccessToken != before.AccessToken {
			t.Fatalf("token replaced: %q → %q", before.AccessToken, after.AccessToken)
		}
		if red := r.redeemAndIssue(t, withDemoShop(shopifyClients(), again), "demo-2"); red.Status != app.RedemptionIssued {
			t.Fatalf("redemption = %+v", red)
		}
	})
	t.Run("every other shop still gets a real Shopify client", func(t *testing.T) {
		asked = nil
		clients(testenv.ShopDomain, "shpat_real")
		if len(asked) != 1 || asked[0] != testenv.ShopDomain {
			t.Fatalf("real clients made for %v", asked)
		}
	})
}

func TestDemoShopifyIsAbsentInProduction(t *testing.T) {
	r := newDemoRig(t)
	ctx := context.Background()

	fake, err := demoShopify(ctx, config.Config{Env: "production"}, r.env.Service, r.env.Log)
	if err != nil || fake != nil {
		t.Fatalf("fake %v, err %v: want none", fake, err)
	}
	if _, err := r.env.Service.Credentials(ctx, r.shop); app.ErrorCode(err) != app.ENotFound {
		t.Fatalf("credentials were stored for the demo shop (err %v)", err)
	}
	var asked []string
	clients := withDemoShop(recordingClients(&asked), fake)
	red := r.redeemAndIssue(t, clients, "prod-1")
	if red.Status != app.RedemptionFailed || !strings.Contains(red.Detail, "no API access") {
		t.Fatalf("redemption = %+v, want it failed as before: no API access", red)
	}
	clients(web.DemoShop, "shpat_real")
	if len(asked) != 1 || asked[0] != web.DemoShop {
		t.Fatalf("real Shopify clients made for %v, want the demo shop's", asked)
	}
}

func TestProductionBinaryLinksNoTestPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || pkg == "net/http/httptest" || strings.HasSuffix(pkg, "test") && strings.HasPrefix(pkg, "loyalty/") {
			t.Errorf("the loyalty binary links %s", pkg)
		}
	}
}

func TestEndToEndDemoShopRedemptionGetsItsCode(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	prog := app.DefaultProgram(0)
	// Added before the app starts, as scripts/run.sh does.
	shop, err := env.Service.AddShop(ctx, app.Shop{Platform: app.Shopify, Domain: web.DemoShop, Name: "Demo Shop", Currency: "USD"}, &prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1001", Customer: &app.CustomerRef{PlatformID: web.DemoCustomer},
		Subtotal: app.MustAmount("800.00")}); err != nil {
		t.Fatal(err)
	}
	reward, err := env.Service.AddReward(ctx, shop, app.Reward{Name: "Free shipping", Kind: app.RewardFreeShipping, Points: 300, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start(t, env, addr, "all")
	waitReady(t, addr)

	out := runCLI(t, env, addr, "points", "redeem", "--shop", web.DemoShop, "--customer", web.DemoCustomer,
		"--reward", fmt.Sprint(reward.ID), "--by", "support@acme.test")
	if !strings.Contains(out, "(pending)") {
		t.Fatalf("points redeem:\n%s", out)
	}
	db := env.Store.SQL()
	var status, ref string
	eventually(t, 20*time.Second, "the redemption issued", func() bool {
		err := db.QueryRow(`SELECT status, platform_ref FROM redemptions WHERE shop_id = $1`, shop.ID).Scan(&status, &ref)
		return err == nil && status != string(app.RedemptionPending)
	})
	if status != string(app.RedemptionIssued) || !strings.HasPrefix(ref, "gid://shopify/DiscountCodeNode/") {
		t.Fatalf("redemption %s, platform ref %q", status, ref)
	}
}
