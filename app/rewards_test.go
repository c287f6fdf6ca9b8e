package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loyalty/app"
)

func TestRewardQuote(t *testing.T) {
	variable := app.Reward{Name: "Points off", Kind: app.RewardVariable, PointsPerUnit: 100, MinPoints: 100, MaxPoints: 5000}
	odd := app.Reward{Name: "Odd rate", Kind: app.RewardVariable, PointsPerUnit: 30, MinPoints: 30}
	tests := []struct {
		name       string
		reward     app.Reward
		want       int64
		points     int64
		amount     string
		invalidErr bool
	}{
		{"a fixed reward costs its points", app.Reward{Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00")}, 0, 500, "5.00", false},
		{"part of a balance buys its share", variable, 250, 250, "2.50", false},
		{"the whole range is allowed", variable, 5000, 5000, "50.00", false},
		{"below the minimum is refused", variable, 99, 0, "", true},
		{"above the maximum is refused", variable, 5001, 0, "", true},
		{"no fraction of a cent is charged", odd, 100, 100, "3.33", false},
		{"whole points are charged for whole cents", odd, 31, 31, "1.03", false},
		{"points that buy no further cent are not spent", app.Reward{Name: "Fine", Kind: app.RewardVariable, PointsPerUnit: 1000, MinPoints: 1000}, 1005, 1000, "1.00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := tt.reward.Quote(tt.want)
			if tt.invalidErr {
				if app.ErrorCode(err) != app.EInvalid {
					t.Fatalf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil || q.Points != tt.points || q.Amount.String() != tt.amount {
				t.Fatalf("quote = %d points for %s, %v; want %d for %s", q.Points, q.Amount, err, tt.points, tt.amount)
			}
		})
	}
}

func TestRewardValidate(t *testing.T) {
	bad := map[string]app.Reward{
		"no name":                   {Kind: app.RewardFixed, Points: 1, Amount: 1},
		"fixed without an amount":   {Name: "x", Kind: app.RewardFixed, Points: 500},
		"variable without a rate":   {Name: "x", Kind: app.RewardVariable, MinPoints: 100},
		"variable max below min":    {Name: "x", Kind: app.RewardVariable, PointsPerUnit: 100, MinPoints: 500, MaxPoints: 100},
		"variable min buys nothing": {Name: "x", Kind: app.RewardVariable, PointsPerUnit: 1000, MinPoints: 5},
		"percentage over 100":       {Name: "x", Kind: app.RewardPercentage, Points: 100, Percentage: 101},
		"free shipping for nothing": {Name: "x", Kind: app.RewardFreeShipping},
		// WooCommerce refuses such coupons only after the points are spent.
		"an amount finer than a cent":            {Name: "x", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.005")},
		"a minimum subtotal finer than a cent":   {Name: "x", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), MinSubtotal: app.MustAmount("30.0001")},
		"a percentage with a fractional minimum": {Name: "x", Kind: app.RewardPercentage, Points: 100, Percentage: 10, MinSubtotal: app.MustAmount("0.015")},
		"an unknown kind":                        {Name: "x", Kind: "gift"},
	}
	for name, r := range bad {
		if err := r.Validate(); app.ErrorCode(err) != app.EInvalid {
			t.Errorf("%s: Validate = %v, want invalid", name, err)
		}
	}
}

func TestRewardCodesAreUnguessableAndDistinct(t *testing.T) {
	format := regexp.MustCompile(`^LOY(-[2-9A-HJKMNP-Z]{4}){3}$`)
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		c := app.NewRewardCode()
		if !format.MatchString(c) || seen[c] {
			t.Fatalf("code %q: malformed or repeated", c)
		}
		seen[c] = true
	}
}

// rewardFixture is a shop with a 500-points-for-5.00 reward and a variable
// one, and customer c1 holding the given points.
func rewardFixture(t *testing.T, points string) (*fixture, app.Reward, app.Reward) {
	t.Helper()
	f := newFixture(t, nil)
	fixed, err := f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), ExpiryDays: 30, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	variable, err := f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "Spend your points", Kind: app.RewardVariable, PointsPerUnit: 100, MinPoints: 100, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	f.accrue(paid("seed", "c1", points))
	return f, fixed, variable
}

func (f *fixture) redeem(rewardID int64, points int64, key string) (app.Redemption, error) {
	return f.svc.Redeem(f.ctx, f.shop, app.RedeemRequest{CustomerID: "c1", RewardID: rewardID, Points: points, IdempotencyKey: key})
}

func TestRedeem(t *testing.T) {
	f, fixed, variable := rewardFixture(t, "1234.00")

	r, err := f.redeem(fixed.ID, 0, "click-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("points are spent and the redemption waits for its code", func(t *testing.T) {
		if r.Status != app.RedemptionPending || r.Points != 500 || r.Amount != app.MustAmount("5.00") || r.ExpiresAt == nil || r.Code == "" {
			t.Fatalf("redemption = %+v", r)
		}
		f.balance("c1", 734, 0)
		h, _ := f.svc.History(f.ctx, f.shop, "c1", 1)
		if h[0].Kind != app.KindRedeem || h[0].Points != -500 || h[0].Cause.Job != "redeem 5.00 off" {
			t.Fatalf("entry = %+v", h[0])
		}
	})
	t.Run("a double click redeems once", func(t *testing.T) {
		again, err := f.redeem(fixed.ID, 0, "click-1")
		if err != nil || again.ID != r.ID || again.Code != r.Code {
			t.Fatalf("second request = %+v, %v; want the first redemption", again, err)
		}
		f.balance("c1", 734, 0)
	})
	t.Run("a shopper may spend part of a balance", func(t *testing.T) {
		part, err := f.redeem(variable.ID, 250, "slider-1")
		if err != nil || part.Points != 250 || part.Amount != app.MustAmount("2.50") {
			t.Fatalf("partial redemption = %+v, %v", part, err)
		}
		f.balance("c1", 484, 0)
	})
	t.Run("more than the balance is refused", func(t *testing.T) {
		if _, err := f.redeem(fixed.ID, 0, "click-2"); app.ErrorCode(err) != app.EInsufficientPoint {
			t.Fatalf("err = %v, want insufficient points", err)
		}
		f.balance("c1", 484, 0)
	})
	t.Run("a withdrawn reward cannot be redeemed", func(t *testing.T) {
		f.svc.SetRewardActive(f.ctx, f.shop, variable.ID, false)
		if _, err := f.redeem(variable.ID, 100, "slider-2"); app.ErrorCode(err) != app.EInvalid {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
	t.Run("a failed code gives the points back once, saying why", func(t *testing.T) {
		failed, err := f.svc.FailRedemption(f.ctx, f.shop, r.ID, "Code must be unique")
		if err != nil || failed.Status != app.RedemptionFailed {
			t.Fatalf("fail = %+v, %v", failed, err)
		}
		if _, err := f.svc.FailRedemption(f.ctx, f.shop, r.ID, "again"); err != nil {
			t.Fatal(err)
		}
		f.balance("c1", 984, 0)
		h, _ := f.svc.History(f.ctx, f.shop, "c1", 1)
		if h[0].Kind != app.KindRestore || h[0].Points != 500 || h[0].Cause.Reason == "" {
			t.Fatalf("entry = %+v", h[0])
		}
	})
	t.Run("an issued code is not failed later", func(t *testing.T) {
		ok, _ := f.redeem(fixed.ID, 0, "click-3")
		if err := f.svc.IssueRedemption(f.ctx, f.shop, ok.ID, "gid://shopify/DiscountCodeNode/1"); err != nil {
			t.Fatal(err)
		}
		if r, _ := f.svc.FailRedemption(f.ctx, f.shop, ok.ID, "late failure"); r.Status != app.RedemptionIssued {
			t.Fatalf("status = %s, want issued", r.Status)
		}
		f.balance("c1", 484, 0)
	})
}

func TestPendingPointsCannotBeSpent(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.PendingDays = 14 })
	fixed, _ := f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), Active: true})
	f.accrue(paid("1", "c1", "900.00"))
	if _, err := f.redeem(fixed.ID, 0, "k"); app.ErrorCode(err) != app.EInsufficientPoint {
		t.Fatalf("err = %v; points still in the return window must not be spendable", err)
	}
}

func TestConcurrentRedemptionsNeverDoubleSpend(t *testing.T) {
	f, fixed, _ := rewardFixture(t, "1700.00") // covers 3 redemptions of 500
	const attempts = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded, refused := 0, 0
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := f.redeem(fixed.ID, 0, fmt.Sprint("concurrent-", i))
			mu.Lock()
			defer mu.Unlock()
			switch app.ErrorCode(err) {
			case "":
				succeeded++
			case app.EInsufficientPoint:
				refused++
			default:
				t.Errorf("redemption %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if succeeded != 3 || refused != attempts-3 {
		t.Fatalf("%d succeeded and %d were refused; want exactly 3 and %d", succeeded, refused, attempts-3)
	}
	f.balance("c1", 200, 0)
	var lowest int64
	f.store.SQL().QueryRow(`SELECT min(balance_after) FROM ledger_entries`).Scan(&lowest)
	if lowest < 0 {
		t.Fatalf("the balance went down to %d", lowest)
	}
}

func TestRedeemRefusesStrangers(t *testing.T) {
	f, fixed, _ := rewardFixture(t, "1000.00")
	if _, err := f.svc.Redeem(context.Background(), f.shop, app.RedeemRequest{CustomerID: "nobody", RewardID: fixed.ID, IdempotencyKey: "k", Staff: "ola"}); app.ErrorCode(err) != app.ENotFound {
		t.Fatalf("staff redeeming for an unknown customer: err = %v, want not found", err)
	}
	if _, err := f.svc.Redeem(context.Background(), f.shop, app.RedeemRequest{CustomerID: "new-shopper", RewardID: fixed.ID, IdempotencyKey: "k"}); app.ErrorCode(err) != app.EInsufficientPoint {
		t.Fatalf("a shopper with no points yet: err = %v, want insufficient points", err)
	}
	if _, err := f.svc.Redeem(context.Background(), f.shop, app.RedeemRequest{CustomerID: "c1", RewardID: 99999, IdempotencyKey: "k2"}); app.ErrorCode(err) != app.ENotFound {
		t.Fatalf("err = %v, want not found", err)
	}
}

func TestAnOrderUsingACodeSpendsTheRedemption(t *testing.T) {
	tests := []struct {
		name         string
		partEarns    bool
		wantEarnedOn string
	}{
		{"by default the part paid with the reward earns nothing", false, "95.00"},
		{"the merchant may let the reward part earn too", true, "100.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fixed, _ := rewardFixture(t, "1000.00")
			prog, _ := f.svc.Program(f.ctx, f.shop)
			prog.RewardPartEarns = tt.partEarns
			f.store.SaveProgram(f.ctx, prog)
			r, err := f.redeem(fixed.ID, 0, "k")
			if err != nil {
				t.Fatal(err)
			}
			f.svc.IssueRedemption(f.ctx, f.shop, r.ID, "ref")
			// The platform reports the subtotal after the 5.00 discount, and
			// the code as the shopper typed it.
			order := paid("2001", "c1", "95.00")
			order.DiscountCodes = []string{strings.ToLower(r.Code)}
			f.accrue(order)
			used, _ := f.svc.Redemption(f.ctx, f.shop, r.ID)
			if used.Status != app.RedemptionUsed || used.OrderID != "2001" {
				t.Fatalf("redemption = %+v, want used by order 2001", used)
			}
			o, _ := f.store.Order(f.ctx, f.shop.ID, "2001")
			if o.Eligible.String() != tt.wantEarnedOn {
				t.Fatalf("order earned on %s, want %s", o.Eligible, tt.wantEarnedOn)
			}
			f.reconciles()
		})
	}
}

func TestUnusedCodesExpire(t *testing.T) {
	tests := []struct {
		name        string
		restore     bool
		wantBalance int64
	}{
		{"an expired code gives its points back by default", true, 1000},
		{"unless the merchant turned that off", false, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fixed, _ := rewardFixture(t, "1000.00") // fixed codes are valid 30 days
			prog, _ := f.svc.Program(f.ctx, f.shop)
			prog.RestoreExpiredCodes = tt.restore
			f.store.SaveProgram(f.ctx, prog)
			unused, _ := f.redeem(fixed.ID, 0, "unused")
			f.svc.IssueRedemption(f.ctx, f.shop, unused.ID, "ref-1")

			later := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 31) })
			shops, expired, err := later.ExpireCodes(f.ctx, 100)
			if err != nil || len(expired) != 1 || expired[0].ID != unused.ID || shops[0].ID != f.shop.ID || expired[0].PlatformRef != "ref-1" {
				t.Fatalf("expired = %+v, %v", expired, err)
			}
			if _, again, _ := later.ExpireCodes(f.ctx, 100); len(again) != 0 {
				t.Fatalf("a second sweep expired %d more", len(again))
			}
			r, _ := f.svc.Redemption(f.ctx, f.shop, unused.ID)
			if r.Status != app.RedemptionExpired {
				t.Fatalf("status = %s", r.Status)
			}
			f.balance("c1", tt.wantBalance, 0)
		})
	}
	t.Run("a used code does not expire", func(t *testing.T) {
		f, fixed, _ := rewardFixture(t, "1000.00")
		r, _ := f.redeem(fixed.ID, 0, "used")
		order := paid("3001", "c1", "20.00")
		order.DiscountCodes = []string{r.Code}
		f.accrue(order)
		later := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 31) })
		if _, expired, _ := later.ExpireCodes(f.ctx, 100); len(expired) != 0 {
			t.Fatalf("a used code expired: %+v", expired)
		}
	})
}

func TestCancellingAnOrderThatUsedACode(t *testing.T) {
	tests := []struct {
		name    string
		restore bool
		want    int64
	}{
		{"keeps the spent points by default", false, 500},
		{"returns them when the merchant says so", true, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fixed, _ := rewardFixture(t, "1000.00")
			prog, _ := f.svc.Program(f.ctx, f.shop)
			prog.RestoreOnRefund = tt.restore
			f.store.SaveProgram(f.ctx, prog)
			r, _ := f.redeem(fixed.ID, 0, "k")
			order := paid("4001", "c1", "50.00")
			order.DiscountCodes = []string{r.Code}
			f.accrue(order) // +50
			f.cancel("4001")
			f.cancel("4001") // a repeat changes nothing
			f.balance("c1", tt.want, 0)
		})
	}
}

func TestADataRequestIncludesRedemptions(t *testing.T) {
	f, fixed, _ := rewardFixture(t, "1000.00")
	r, _ := f.redeem(fixed.ID, 0, "k")
	export, err := f.svc.ExportCustomerData(f.ctx, f.shop, app.DataRequest{CustomerID: "c1", RequestID: "9999"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(export.Document), r.Code) || !strings.Contains(string(export.Document), `"redemptions"`) {
		t.Fatalf("the export lacks the customer's reward code:\n%s", export.Document)
	}
}

func TestRewardValidateAcceptsWholeCents(t *testing.T) {
	r := app.Reward{Name: "x", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.01"), MinSubtotal: app.MustAmount("30.10")}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate = %v, want whole cents accepted", err)
	}
}

// setProgram changes the fixture shop's program in place.
func (f *fixture) setProgram(edit func(*app.Program)) {
	f.t.Helper()
	prog, err := f.svc.Program(f.ctx, f.shop)
	if err != nil {
		f.t.Fatal(err)
	}
	edit(&prog)
	if err := f.store.SaveProgram(f.ctx, prog); err != nil {
		f.t.Fatal(err)
	}
}

func TestACodeUsedByAnOrderPaidAfterItExpired(t *testing.T) {
	tests := []struct {
		name        string
		restore     bool
		wantBalance int64
	}{
		// 1000 − 500 spent, +500 back at expiry, −500 spent again, +95 earned.
		{"the points the expiry gave back are spent again", true, 595},
		// Nothing came back, so nothing is taken: 1000 − 500 + 95.
		{"nothing is taken when the expiry gave nothing back", false, 595},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fixed, _ := rewardFixture(t, "1000.00") // codes are valid 30 days
			f.setProgram(func(p *app.Program) { p.RestoreExpiredCodes = tt.restore })
			r, _ := f.redeem(fixed.ID, 0, "late")
			f.svc.IssueRedemption(f.ctx, f.shop, r.ID, "ref-1")
			later := app.NewService(f.store, func() time.Time { return testNow.AddDate(0, 0, 31) })
			if _, expired, err := later.ExpireCodes(f.ctx, 100); err != nil || len(expired) != 1 {
				t.Fatalf("expired = %+v, %v", expired, err)
			}
			// The order was placed on day 29 and its bank transfer arrived on day 31.
			order := paid("5001", "c1", "95.00")
			order.DiscountCodes = []string{r.Code}
			order.PaidAt = testNow.AddDate(0, 0, 31)
			for i := 0; i < 2; i++ { // a repeated delivery changes nothing
				if _, err := later.AccrueOrder(f.ctx, f.shop, order); err != nil {
					t.Fatal(err)
				}
			}
			used, _ := f.svc.Redemption(f.ctx, f.shop, r.ID)
			if used.Status != app.RedemptionUsed || used.OrderID != "5001" {
				t.Fatalf("redemption = %+v, want used by order 5001", used)
			}
			f.balance("c1", tt.wantBalance, 0)
			h, _ := f.svc.History(f.ctx, f.shop, "c1", 10)
			respent := 0
			for _, e := range h {
				if e.Kind == app.KindRedeem && e.Cause.OrderID == "5001" {
					respent++
					if e.Points != -500 || !strings.Contains(e.Cause.Reason, "after it expired") {
						t.Fatalf("entry = %+v", e)
					}
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tt.restore]; respent != want {
				t.Fatalf("%d redeem entries for the late order, want %d", respent, want)
			}
		})
	}
	t.Run("a code is not expired within the grace period after its end", func(t *testing.T) {
		f, fixed, _ := rewardFixture(t, "1000.00")
		r, _ := f.redeem(fixed.ID, 0, "grace")
		justAfter := app.NewService(f.store, func() time.Time { return r.ExpiresAt.Add(app.CodeExpiryGrace / 2) })
		if _, expired, _ := justAfter.ExpireCodes(f.ctx, 100); len(expired) != 0 {
			t.Fatalf("expired %d codes within the grace period", len(expired))
		}
		after := app.NewService(f.store, func() time.Time { return r.ExpiresAt.Add(app.CodeExpiryGrace + time.Minute) })
		if _, expired, _ := after.ExpireCodes(f.ctx, 100); len(expired) != 1 {
			t.Fatalf("expired %d codes after the grace period, want 1", len(expired))
		}
	})
}

func TestRefundingAnOrderThatUsedACode(t *testing.T) {
	// c1 holds 1000, spends 500 on a 5.00 code and pays 95.00 for a
	// 100.00 order with it; the platform refunds what was paid.
	tests := []struct {
		name      string
		partEarns bool
		restore   bool
		refunded  string
		want      int64
	}{
		{"a full refund takes back the points and keeps the spent ones", false, false, "95.00", 500},
		{"a full refund returns the spent points when the merchant says so", false, true, "95.00", 1000},
		{"a full refund takes back what the reward part earned too", true, false, "95.00", 500},
		{"a full refund returns the spent points when the reward part earned", true, true, "95.00", 1000},
		{"half the paid part takes back half of all it earned", true, true, "47.50", 550},
		{"a partial refund returns no spent points", false, true, "47.50", 548},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fixed, _ := rewardFixture(t, "1000.00")
			f.setProgram(func(p *app.Program) { p.RewardPartEarns, p.RestoreOnRefund = tt.partEarns, tt.restore })
			r, _ := f.redeem(fixed.ID, 0, "k")
			order := paid("6001", "c1", "95.00")
			order.DiscountCodes = []string{r.Code}
			order.CodeDiscounts = map[string]app.Amount{strings.ToLower(r.Code): app.MustAmount("5.00")}
			f.accrue(order)
			f.refund(refund("6001", "r1", tt.refunded))
			f.refund(refund("6001", "r1", tt.refunded)) // a repeat changes nothing
			f.balance("c1", tt.want, 0)
		})
	}
	t.Run("a refund that overtook the payment is measured against the paid part", func(t *testing.T) {
		f, fixed, _ := rewardFixture(t, "1000.00")
		f.setProgram(func(p *app.Program) { p.RewardPartEarns = true })
		r, _ := f.redeem(fixed.ID, 0, "k")
		f.refund(refund("6002", "r1", "95.00"))
		order := paid("6002", "c1", "95.00")
		order.DiscountCodes = []string{r.Code}
		f.accrue(order)
		f.balance("c1", 500, 0)
	})
}

func TestTheRewardPartIsWhatTheCodeTookOff(t *testing.T) {
	tests := []struct {
		name     string
		reward   app.Reward
		subtotal string
		reported map[string]string // by code; "" for the redemption's code
		want     string
	}{
		{"a percentage code earns on the discount it gave", app.Reward{Name: "10% off", Kind: app.RewardPercentage, Points: 300, Percentage: 10},
			"90.00", map[string]string{"": "10.00"}, "100.00"},
		{"a free shipping code earns on the shipping it waived", app.Reward{Name: "Free shipping", Kind: app.RewardFreeShipping, Points: 200},
			"90.00", map[string]string{"": "12.50"}, "102.50"},
		{"a fixed code the platform reports no amount for earns on its own amount", app.Reward{Name: "7.00 off", Kind: app.RewardFixed, Points: 700, Amount: app.MustAmount("7.00")},
			"93.00", nil, "100.00"},
		{"another shop's discount code adds nothing", app.Reward{Name: "7.00 off", Kind: app.RewardFixed, Points: 700, Amount: app.MustAmount("7.00")},
			"83.00", map[string]string{"": "7.00", "summer10": "10.00"}, "90.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(p *app.Program) { p.RewardPartEarns = true })
			tt.reward.Active = true
			reward, err := f.svc.AddReward(f.ctx, f.shop, tt.reward)
			if err != nil {
				t.Fatal(err)
			}
			f.accrue(paid("seed", "c1", "1000.00"))
			r, err := f.redeem(reward.ID, 0, "k")
			if err != nil {
				t.Fatal(err)
			}
			order := paid("7001", "c1", tt.subtotal)
			order.DiscountCodes = []string{r.Code, "SUMMER10"}
			for code, amount := range tt.reported {
				if code == "" {
					code = strings.ToLower(r.Code)
				}
				if order.CodeDiscounts == nil {
					order.CodeDiscounts = map[string]app.Amount{}
				}
				order.CodeDiscounts[code] = app.MustAmount(amount)
			}
			f.accrue(order)
			o, _ := f.store.Order(f.ctx, f.shop.ID, "7001")
			if o.Eligible.String() != tt.want || o.PaidPart().String() != tt.subtotal {
				t.Fatalf("order earned on %s (paid %s), want %s (paid %s)", o.Eligible, o.PaidPart(), tt.want, tt.subtotal)
			}
		})
	}
}
