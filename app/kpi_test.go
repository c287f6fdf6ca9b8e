package app_test

import (
	"testing"
	"time"

	"loyalty/app"
)

func nov(day int) time.Time { return time.Date(2026, 11, day, 12, 0, 0, 0, time.UTC) }

// exec runs seeding SQL, failing the test on error.
func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.store.SQL().Exec(query, args...); err != nil {
		f.t.Fatalf("seed %q: %v", query, err)
	}
}

func (f *fixture) seedCustomer(platformID string, joined time.Time) int64 {
	f.t.Helper()
	var id int64
	err := f.store.SQL().QueryRow(`INSERT INTO customers (shop_id, platform_id, email, created_at, last_activity_at)
		VALUES ($1, $2, $3, $4, $4) RETURNING id`, f.shop.ID, platformID, platformID+"@example.com", joined).Scan(&id)
	if err != nil {
		f.t.Fatalf("seed customer %s: %v", platformID, err)
	}
	return id
}

func (f *fixture) seedEntry(customerID int64, kind app.EntryKind, points, balanceAfter, pendingAfter int64, at time.Time) {
	f.t.Helper()
	f.exec(`INSERT INTO ledger_entries (shop_id, customer_id, kind, points, balance_after, pending_after, staff, reason, idempotency_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'ola', 'seed', gen_random_uuid()::text, $7)`,
		f.shop.ID, customerID, string(kind), points, balanceAfter, pendingAfter, at)
}

// seedOrder adds a paid order; customerID 0 is a guest's (skipped) order.
func (f *fixture) seedOrder(platformID string, customerID int64, status, eligible string, paidAt time.Time) {
	f.t.Helper()
	var cust any
	if customerID != 0 {
		cust = customerID
	}
	f.exec(`INSERT INTO orders (shop_id, platform_id, customer_id, status, eligible, paid_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		f.shop.ID, platformID, cust, status, int64(app.MustAmount(eligible)), paidAt)
}

// seedKPIShop builds the shop the KPI tests compute by hand:
//
//	A joined Oct 1: earn 100 (order oa0, Oct 10), earn 50 (oa1, Nov 3), redeem 80 (Nov 10), restore 30 (Nov 20)
//	B: order ob1 Nov 4 before any entry, bonus 20 (Nov 5), adjust -5 and +10 (Nov 12, 20 spendable and 5 pending after), order ob2 Nov 25 with a reward
//	C: earn 10 (oc0, Jul 1), all of it expired Nov 15: a member, but inactive
//	D: no entries, orders od1 (Nov 6) and od2 (Nov 7); E: no entries, one order oe1 (Nov 20)
//	a guest order Nov 8, a cancelled order Nov 9, an order after the period
//	rewards: 10.00 for 500 points, variable 1.00 per 40 points (the best),
//	an inactive 10.00 for 100 points, and a percentage
func seedKPIShop(t *testing.T) *fixture {
	f := newFixture(t, nil)
	a := f.seedCustomer("a", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	b := f.seedCustomer("b", nov(1))
	c := f.seedCustomer("c", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	d := f.seedCustomer("d", nov(1))
	e := f.seedCustomer("e", nov(1))

	f.seedOrder("oa0", a, "paid", "100", time.Date(2026, 10, 10, 10, 0, 0, 0, time.UTC))
	f.seedEntry(a, app.KindEarn, 100, 100, 0, time.Date(2026, 10, 10, 11, 0, 0, 0, time.UTC))
	f.seedOrder("oa1", a, "paid", "50", nov(3))
	f.seedEntry(a, app.KindEarn, 50, 150, 0, nov(3).Add(time.Minute))
	f.seedEntry(a, app.KindRedeem, -80, 70, 0, nov(10))
	f.seedEntry(a, "restore", 30, 100, 0, nov(20))

	f.seedOrder("ob1", b, "paid", "40", nov(4))
	f.seedEntry(b, app.KindBonus, 20, 20, 0, nov(5))
	f.seedEntry(b, app.KindAdjust, -5, 15, 0, nov(12))
	f.seedEntry(b, app.KindAdjust, 10, 20, 5, nov(12))
	f.seedOrder("ob2", b, "paid", "60", nov(25))
	f.exec(`INSERT INTO redemptions (shop_id, customer_id, reward_name, kind, points, code, status, idempotency_key, order_id)
		VALUES ($1, $2, 'Ten off', 'fixed_amount', 500, 'LOYALTY-ABCDEF', 'used', 'r1', 'ob2')`, f.shop.ID, b)

	f.seedOrder("oc0", c, "paid", "10", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	f.seedEntry(c, app.KindEarn, 10, 10, 0, time.Date(2026, 7, 1, 1, 0, 0, 0, time.UTC))
	f.seedEntry(c, app.KindExpire, -10, 0, 0, nov(15))

	f.seedOrder("od1", d, "paid", "30", nov(6))
	f.seedOrder("od2", d, "paid", "20", nov(7))
	f.seedOrder("oe1", e, "paid", "15", nov(20))
	f.seedOrder("og1", 0, "skipped", "25", nov(8))
	f.seedOrder("oz", d, "cancelled", "999", nov(9))
	f.seedOrder("late", e, "paid", "999", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))

	f.exec(`INSERT INTO rewards (shop_id, name, kind, points, amount) VALUES ($1, 'Ten off', 'fixed_amount', 500, 100000)`, f.shop.ID)
	f.exec(`INSERT INTO rewards (shop_id, name, kind, points_per_unit, min_points) VALUES ($1, 'Any amount', 'variable_amount', 40, 40)`, f.shop.ID)
	f.exec(`INSERT INTO rewards (shop_id, name, kind, points, amount, active) VALUES ($1, 'Old deal', 'fixed_amount', 100, 100000, false)`, f.shop.ID)
	f.exec(`INSERT INTO rewards (shop_id, name, kind, points, percentage) VALUES ($1, 'Tenth off', 'percentage', 100, 10)`, f.shop.ID)
	return f
}

func TestKPIs(t *testing.T) {
	f := seedKPIShop(t)
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	later := app.NewService(f.store, func() time.Time { return time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC) })
	rep, err := later.KPIs(f.ctx, f.shop, app.KPIQuery{From: from, To: to, Bucket: app.BucketWeek})
	if err != nil {
		t.Fatalf("kpis: %v", err)
	}
	t.Run("a period not over yet is measured now", func(t *testing.T) {
		// the fixture's clock is Nov 20, 12:00, when A's restore of 30 is not in yet
		now, err := f.svc.KPIs(f.ctx, f.shop, app.KPIQuery{From: from, To: to, Bucket: app.BucketWeek})
		if err != nil {
			t.Fatal(err)
		}
		if now.Totals.Outstanding != 95 || now.Series[3].Outstanding != 95 || now.Series[5].Outstanding != 95 {
			t.Errorf("outstanding now %d, want 95", now.Totals.Outstanding)
		}
		if now.Series[1].Outstanding != 180 {
			t.Errorf("a past bucket's outstanding %d, want 180", now.Series[1].Outstanding)
		}
	})
	if rep.PointValue.RewardName != "Any amount" || rep.PointValue.PerPoint() != app.MustAmount("0.025") {
		t.Fatalf("points are valued at %+v, want the variable reward's 0.025 a point", rep.PointValue)
	}
	tot := rep.Totals
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"members are the customers with a ledger entry by the end (D and E only ordered)", tot.Members, int64(3)},
		{"active members did something but expire in the last 90 days (C only expired)", tot.ActiveMembers, int64(2)},
		{"points issued are earn, bonus and positive adjust in the period", tot.PointsIssued, int64(80)},
		{"points redeemed are net of restores", tot.PointsRedeemed, int64(50)},
		{"points expired", tot.PointsExpired, int64(10)},
		{"outstanding is balance plus pending at the end", tot.Outstanding, int64(125)},
		{"outstanding is valued at the best active money-off rate", tot.OutstandingValue, app.MustAmount("3.125")},
		{"redemption rate is redeemed over issued", tot.RedemptionRate(), 0.625},
		{"member orders had an entry before they were paid", tot.MemberOrders.Orders, int64(2)},
		{"member revenue", tot.MemberOrders.Revenue, app.MustAmount("110")},
		{"member average order value", tot.MemberOrders.AverageOrderValue(), app.MustAmount("55")},
		{"member repeat rate counts orders before the period", tot.MemberOrders.RepeatRate(), 1.0},
		{"non-member orders include guests, not cancelled or later orders", tot.NonMemberOrders.Orders, int64(5)},
		{"non-member average order value", tot.NonMemberOrders.AverageOrderValue(), app.MustAmount("26")},
		{"non-member customers leave guests out", tot.NonMemberOrders.Customers, int64(3)},
		{"non-member repeat rate", tot.NonMemberOrders.RepeatRate(), 2.0 / 3},
		{"orders that used a reward", tot.RewardOrders, int64(1)},
		{"revenue from orders that used a reward", tot.RewardRevenue, app.MustAmount("60")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}

	t.Run("weeks start on Monday in UTC, clipped to the period", func(t *testing.T) {
		want := []time.Time{from, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), to}
		if len(rep.Series) != len(want)-1 {
			t.Fatalf("%d buckets, want %d", len(rep.Series), len(want)-1)
		}
		for i, b := range rep.Series {
			if !b.Start.Equal(want[i]) || !b.End.Equal(want[i+1]) {
				t.Errorf("bucket %d is [%s, %s), want [%s, %s)", i, b.Start, b.End, want[i], want[i+1])
			}
		}
	})
	if len(rep.Series) != 6 {
		return
	}
	for _, tc := range []struct {
		name string
		b    int
		got  func(app.KPIFigures) any
		want any
	}{
		{"members grow as customers get entries", 0, func(k app.KPIFigures) any { return k.Members }, int64(2)},
		{"members grow as customers get entries", 1, func(k app.KPIFigures) any { return k.Members }, int64(3)},
		{"C is already inactive on Nov 2", 0, func(k app.KPIFigures) any { return k.ActiveMembers }, int64(1)},
		{"issued in the week", 1, func(k app.KPIFigures) any { return k.PointsIssued }, int64(70)},
		{"issued in the week", 2, func(k app.KPIFigures) any { return k.PointsIssued }, int64(10)},
		{"redeemed in the week", 2, func(k app.KPIFigures) any { return k.PointsRedeemed }, int64(80)},
		{"a restore in a week without redemptions redeems less than nothing", 3, func(k app.KPIFigures) any { return k.PointsRedeemed }, int64(-30)},
		{"outstanding at the first bucket's end", 0, func(k app.KPIFigures) any { return k.Outstanding }, int64(110)},
		{"outstanding at the second", 1, func(k app.KPIFigures) any { return k.Outstanding }, int64(180)},
		{"outstanding counts pending", 2, func(k app.KPIFigures) any { return k.Outstanding }, int64(95)},
		{"outstanding value", 0, func(k app.KPIFigures) any { return k.OutstandingValue }, app.MustAmount("2.75")},
		{"a shopper who joins later was a non-member before", 1, func(k app.KPIFigures) any { return k.NonMemberOrders.Orders }, int64(4)},
		{"repeat looks only up to the bucket's end", 1, func(k app.KPIFigures) any { return k.NonMemberOrders.Repeat }, int64(1)},
		{"reward revenue falls in the week the order was paid", 4, func(k app.KPIFigures) any { return k.RewardRevenue }, app.MustAmount("60")},
		{"an empty last day", 5, func(k app.KPIFigures) any { return k.PointsIssued + k.MemberOrders.Orders + k.NonMemberOrders.Orders }, int64(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(rep.Series[tc.b]); got != tc.want {
				t.Errorf("bucket %d: got %v, want %v", tc.b, got, tc.want)
			}
		})
	}
}

func TestKPIBuckets(t *testing.T) {
	f := newFixture(t, nil)
	from := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		bucket app.KPIBucket
		to     time.Time
		want   int
	}{
		{app.BucketDay, from.AddDate(0, 0, 3), 3},
		{app.BucketMonth, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), 3},
		{app.BucketMonth, time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC), 4},
	} {
		t.Run(string(tc.bucket)+" buckets cover the period", func(t *testing.T) {
			rep, err := f.svc.KPIs(f.ctx, f.shop, app.KPIQuery{From: from, To: tc.to, Bucket: tc.bucket})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Series) != tc.want {
				t.Fatalf("%d buckets, want %d", len(rep.Series), tc.want)
			}
			if rep.Totals.Members != 0 || rep.Totals.RedemptionRate() != 0 || rep.Totals.MemberOrders.AverageOrderValue() != 0 {
				t.Errorf("an empty shop has figures: %+v", rep.Totals)
			}
		})
	}
	for name, q := range map[string]app.KPIQuery{
		"an unknown bucket is refused":        {From: from, To: from.AddDate(0, 1, 0), Bucket: "year"},
		"a period that ends first is refused": {From: from, To: from, Bucket: app.BucketDay},
		"too many buckets are refused":        {From: from, To: from.AddDate(10, 0, 0), Bucket: app.BucketDay},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.svc.KPIs(f.ctx, f.shop, q); app.ErrorCode(err) != app.EInvalid {
				t.Errorf("got %v, want invalid", err)
			}
		})
	}
}
