package app_test

import (
	"testing"
	"time"

	"loyalty/app"
)

func TestCustomerView(t *testing.T) {
	f := newFixture(t, func(p *app.Program) { p.ExpiryDays = 60; p.SignupBonus = 25 })
	f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "20.00 off", Kind: app.RewardFixed, Points: 2000, Amount: app.MustAmount("20.00"), Active: true})
	f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 500, Amount: app.MustAmount("5.00"), Active: true})
	f.svc.AddReward(f.ctx, f.shop, app.Reward{Name: "Old", Kind: app.RewardFixed, Points: 10, Amount: app.MustAmount("1.00"), Active: false})
	f.accrue(paid("1", "c1", "620.00"))

	v, err := f.svc.CustomerView(f.ctx, f.shop, "c1")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("shows the shopper's points and history", func(t *testing.T) {
		if v.Customer == nil || v.Customer.Balance != 620 || len(v.History) != 1 || v.History[0].Points != 620 {
			t.Fatalf("view = %+v", v)
		}
	})
	t.Run("warns of points expiring within the window, by day", func(t *testing.T) {
		want := testNow.AddDate(0, 0, 60).Truncate(24 * time.Hour)
		if len(v.Expiring) != 1 || v.Expiring[0].Points != 620 || !v.Expiring[0].On.Equal(want) {
			t.Fatalf("expiring = %+v, want 620 on %s", v.Expiring, want)
		}
	})
	t.Run("points expiring beyond the window are not listed yet", func(t *testing.T) {
		prog, _ := f.svc.Program(f.ctx, f.shop)
		prog.ExpiryDays = 365
		f.store.SaveProgram(f.ctx, prog)
		f.accrue(paid("2", "c1", "10.00"))
		later, _ := f.svc.CustomerView(f.ctx, f.shop, "c1")
		if len(later.Expiring) != 1 || later.Expiring[0].Points != 620 {
			t.Fatalf("expiring = %+v, want only the 620 due within 90 days", later.Expiring)
		}
	})
	t.Run("offers active rewards, cheapest first, with what is still needed", func(t *testing.T) {
		if len(v.Rewards) != 2 || v.Rewards[0].Name != "5.00 off" || !v.Rewards[0].Affordable ||
			v.Rewards[1].Affordable || v.Rewards[1].PointsNeeded != 1380 {
			t.Fatalf("rewards = %+v", v.Rewards)
		}
	})
	t.Run("a guest sees the program and its rewards", func(t *testing.T) {
		g, err := f.svc.CustomerView(f.ctx, f.shop, "")
		if err != nil || g.Customer != nil || len(g.Rewards) != 2 || g.Program.SignupBonus != 25 {
			t.Fatalf("guest view = %+v, %v", g, err)
		}
	})
	t.Run("a signed-in shopper new to the program has no points yet", func(t *testing.T) {
		n, err := f.svc.CustomerView(f.ctx, f.shop, "new")
		if err != nil || n.Customer == nil || n.Customer.Balance != 0 || n.Rewards[0].PointsNeeded != 500 {
			t.Fatalf("view = %+v, %v", n, err)
		}
	})
	t.Run("an uninstalled shop says so", func(t *testing.T) {
		gone := f.shop
		gone.Status = app.ShopUninstalled
		if _, err := f.svc.CustomerView(f.ctx, gone, "c1"); app.ErrorCode(err) != app.EForbidden {
			t.Fatalf("err = %v", err)
		}
	})
}
