package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/internal/testenv"
	"loyalty/jobs"
	"loyalty/platforms/shopify"
	"loyalty/platforms/shopify/shopifytest"
	"loyalty/platforms/woocommerce"
	"loyalty/platforms/woocommerce/woocommercetest"
)

// issueRig is a shop with a reward, a customer who can afford it, and a
// handler that reaches the shop's platform (a fake).
type issueRig struct {
	env  *testenv.Env
	h    *jobs.Handler
	shop app.Shop
	fix  app.Reward
}

func (r *issueRig) redeemAndIssue(t *testing.T, key string) app.Redemption {
	t.Helper()
	ctx := context.Background()
	red, err := r.env.Service.Redeem(ctx, r.shop, app.RedeemRequest{CustomerID: "25", RewardID: r.fix.ID, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	task := jobs.NewIssueCodeTask(r.shop, red.ID)
	if err := r.h.IssueCode(ctx, asynq.NewTask(task.Type(), task.Payload())); err != nil {
		return red // a retryable failure: the caller checks
	}
	red, _ = r.env.Service.Redemption(ctx, r.shop, red.ID)
	return red
}

func newIssueRig(t *testing.T, env *testenv.Env, shop app.Shop, h *jobs.Handler) *issueRig {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Service.AccrueOrder(ctx, shop, app.OrderPaid{OrderID: "1", Customer: &app.CustomerRef{PlatformID: "25", Email: "Jan.Kowalski@example.pl"},
		Subtotal: app.MustAmount("1200.00")}); err != nil {
		t.Fatal(err)
	}
	fix, err := env.Service.AddReward(ctx, shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"),
		MinSubtotal: app.MustAmount("30.00"), ExpiryDays: 30, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return &issueRig{env: env, h: h, shop: shop, fix: fix}
}

func TestIssueShopifyDiscountCodes(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	fake := shopifytest.New(t, "key", testenv.ShopifySecret)
	shop, _, err := env.Service.InstallShop(ctx, app.Shop{Platform: app.Shopify, Domain: "kod.myshopify.com"},
		app.Credentials{AccessToken: fake.IssueToken("kod.myshopify.com")})
	if err != nil {
		t.Fatal(err)
	}
	h := jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithShopifyClients(func(shop, token string) *shopify.Client {
		return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL,
			Sleep: func(context.Context, time.Duration) error { return nil }})
	})
	r := newIssueRig(t, env, shop, h)

	red := r.redeemAndIssue(t, "a")
	t.Run("the code is created for that customer only, once, until it expires", func(t *testing.T) {
		if red.Status != app.RedemptionIssued || !strings.HasPrefix(red.PlatformRef, "gid://shopify/DiscountCodeNode/") {
			t.Fatalf("redemption = %+v", red)
		}
		ds := fake.Discounts("kod.myshopify.com")
		if len(ds) != 1 || ds[0].Code != red.Code || len(ds[0].Customers) != 1 || ds[0].Customers[0] != "gid://shopify/Customer/25" ||
			ds[0].UsageLimit != 1 || ds[0].EndsAt == "" {
			t.Fatalf("discount = %+v", ds)
		}
	})
	t.Run("a re-run of the task changes nothing", func(t *testing.T) {
		task := jobs.NewIssueCodeTask(shop, red.ID)
		if err := h.IssueCode(ctx, asynq.NewTask(task.Type(), task.Payload())); err != nil || len(fake.Discounts("kod.myshopify.com")) != 1 {
			t.Fatalf("err %v, %d discounts", err, len(fake.Discounts("kod.myshopify.com")))
		}
	})
	t.Run("an expired code is disabled on Shopify and its points come back", func(t *testing.T) {
		before, _ := env.Service.Balance(ctx, shop, "25")
		later := app.NewService(env.Store, func() time.Time { return time.Now().AddDate(0, 0, 31) })
		hl := jobs.NewHandler(later, env.Store, env.Log, nil).WithShopifyClients(func(shop, token string) *shopify.Client {
			return shopify.NewClient(shop, token, shopify.ClientOptions{HTTP: fake.Client(), BaseURL: fake.BaseURL})
		})
		if err := hl.ExpireCodes(ctx, nil); err != nil {
			t.Fatal(err)
		}
		after, _ := env.Service.Balance(ctx, shop, "25")
		if after.Balance != before.Balance+500 {
			t.Fatalf("balance %d → %d, want the 500 points back", before.Balance, after.Balance)
		}
		if ds := fake.Discounts("kod.myshopify.com"); ds[0].Status != "EXPIRED" {
			t.Fatalf("discount on Shopify is %s, want EXPIRED", ds[0].Status)
		}
		env.Reconciles(t)
	})
	t.Run("a refusal gives the points back with Shopify's reason", func(t *testing.T) {
		fake.RefuseDiscounts("Minimum subtotal is not valid")
		defer fake.RefuseDiscounts("")
		before, _ := env.Service.Balance(ctx, shop, "25")
		failed := r.redeemAndIssue(t, "b")
		after, _ := env.Service.Balance(ctx, shop, "25")
		if failed.Status != app.RedemptionFailed || !strings.Contains(failed.Detail, "Minimum subtotal") || after.Balance != before.Balance {
			t.Fatalf("redemption %+v; balance %d → %d", failed, before.Balance, after.Balance)
		}
		env.Reconciles(t)
	})
	t.Run("platform trouble is retried and keeps the points spent", func(t *testing.T) {
		fake.FailNext(20, http.StatusServiceUnavailable, "")
		pending := r.redeemAndIssue(t, "c")
		if pending.Status != app.RedemptionPending {
			t.Fatalf("status = %s, want pending for a retry", pending.Status)
		}
		shops, list, err := env.Service.PendingRedemptions(ctx, time.Now().Add(time.Minute), 10)
		if err != nil || len(list) != 1 || list[0].ID != pending.ID || shops[0].ID != shop.ID {
			t.Fatalf("pending redemptions = %+v, %v", list, err)
		}
	})
}

func TestIssueWooCommerceCoupons(t *testing.T) {
	env := testenv.New(t, nil)
	ctx := context.Background()
	fake := woocommercetest.New(t)
	key := fake.IssueKeys("read_write")
	u := strings.TrimPrefix(fake.URL, "https://")
	shop, _, err := env.Service.ConnectStore(ctx, app.Shop{Platform: app.WooCommerce, Domain: u},
		app.Connection{URL: fake.URL, WebhookKey: "wc_0123456789abcdef"},
		app.Credentials{APIKey: key.ConsumerKey, AccessToken: key.ConsumerSecret, WebhookSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	h := jobs.NewHandler(env.Service, env.Store, env.Log, nil).WithWooCommerce(func(url, k, s string) *woocommerce.Client {
		return woocommerce.NewClient(url, k, s, woocommerce.ClientOptions{HTTP: fake.Client(), Sleep: func(context.Context, time.Duration) error { return nil }})
	}, func(string) string { return "" })
	r := newIssueRig(t, env, shop, h)

	red := r.redeemAndIssue(t, "a")
	if red.Status != app.RedemptionIssued {
		t.Fatalf("redemption = %+v", red)
	}
	coupons := fake.Coupons()
	if len(coupons) != 1 {
		t.Fatalf("coupons = %+v", coupons)
	}
	c := coupons[0]
	raw, _ := json.Marshal(c)
	if c.Code != strings.ToLower(red.Code) || c.DiscountType != "fixed_cart" || c.Amount != "5.00" || c.UsageLimit != 1 ||
		len(c.EmailRestrictions) != 1 || c.EmailRestrictions[0] != "jan.kowalski@example.pl" || strconv.FormatInt(c.ID, 10) != red.PlatformRef {
		t.Fatalf("coupon = %s", raw)
	}

	t.Run("a code another coupon holds fails and gives the points back, saying why", func(t *testing.T) {
		before, _ := env.Service.Balance(ctx, shop, "25")
		pending, err := env.Service.Redeem(ctx, shop, app.RedeemRequest{CustomerID: "25", RewardID: r.fix.ID, IdempotencyKey: "taken"})
		if err != nil {
			t.Fatal(err)
		}
		// The merchant made a coupon of their own under the same code.
		wc := woocommerce.NewClient(fake.URL, key.ConsumerKey, key.ConsumerSecret, woocommerce.ClientOptions{HTTP: fake.Client()})
		if _, err := wc.CreateCoupon(ctx, woocommerce.Coupon{Code: pending.Code, Kind: woocommerce.CouponFixedCart, Amount: app.MustAmount("50.00"),
			Email: "staff@example.pl", Description: "staff discount"}); err != nil {
			t.Fatal(err)
		}
		task := jobs.NewIssueCodeTask(shop, pending.ID)
		if err := h.IssueCode(ctx, asynq.NewTask(task.Type(), task.Payload())); err != nil {
			t.Fatal(err)
		}
		failed, _ := env.Service.Redemption(ctx, shop, pending.ID)
		after, _ := env.Service.Balance(ctx, shop, "25")
		if failed.Status != app.RedemptionFailed || failed.PlatformRef != "" || !strings.Contains(failed.Detail, "already") || after.Balance != before.Balance {
			t.Fatalf("redemption %+v; balance %d → %d; want failed with the points back", failed, before.Balance, after.Balance)
		}
		if n := len(fake.Coupons()); n != 2 {
			t.Fatalf("%d coupons, want the first and the merchant's", n)
		}
		env.Reconciles(t)
	})
}
