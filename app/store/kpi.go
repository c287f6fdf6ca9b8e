package store

import (
	"context"
	"fmt"
	"time"

	"loyalty/app"
)

type kpiRow struct {
	Start, End time.Time

	Members, ActiveMembers                 int64
	Issued, Redeemed, Expired, Outstanding int64

	MemberOrders, MemberRevenue, MemberCustomers, MemberRepeat             int64
	NonMemberOrders, NonMemberRevenue, NonMemberCustomers, NonMemberRepeat int64
	RewardOrders, RewardRevenue                                            int64
}

// countedOrder is an order that was paid and stands: a member's (status
// paid, whether or not it earned) or a guest's (skipped as a guest, which is
// paid too). Unpaid placeholders and cancelled orders are left out.
const countedOrder = `%[1]s.paid_at IS NOT NULL AND %[1]s.status IN ('paid', 'skipped')`

// KPIFigures computes every figure of every bucket in one statement: the
// buckets come from generate_series, and each figure is a lateral aggregate
// over the bucket, so the work grows with the buckets times the shop's
// rows in them, never with a round trip per bucket.
func (s *Store) KPIFigures(ctx context.Context, shopID int64, from, to, now time.Time, bucket app.KPIBucket) ([]app.KPIFigures, error) {
	buckets := `SELECT CAST(@from AS timestamptz) AS start, CAST(@to AS timestamptz) AS "end"`
	switch bucket {
	case "":
	case app.BucketDay, app.BucketWeek, app.BucketMonth:
		// Truncated in UTC, then clipped to the period.
		buckets = `SELECT greatest(g AT TIME ZONE 'UTC', CAST(@from AS timestamptz)) AS start,
				least((g + CAST(@step AS interval)) AT TIME ZONE 'UTC', CAST(@to AS timestamptz)) AS "end"
			FROM generate_series(date_trunc(@unit, CAST(@from AS timestamptz) AT TIME ZONE 'UTC'),
				CAST(@to AS timestamptz) AT TIME ZONE 'UTC' - interval '1 microsecond', CAST(@step AS interval)) g`
	default:
		return nil, app.Errorf(app.EInvalid, "KPIs are by day, week or month, not %q", bucket)
	}
	// Members, activity and what is held are as of the bucket's end, or
	// now for a bucket that ends in the future.
	query := `WITH b AS (SELECT start, "end", least("end", CAST(@now AS timestamptz)) AS asof FROM (` + buckets + `) b0)
	SELECT b.start, b."end",
		m.members, m.active_members,
		l.issued, l.redeemed, l.expired, lia.outstanding,
		o.member_orders, o.member_revenue, o.member_customers, o.member_repeat,
		o.non_member_orders, o.non_member_revenue, o.non_member_customers, o.non_member_repeat,
		o.reward_orders, o.reward_revenue
	FROM b
	CROSS JOIN LATERAL (
		SELECT count(*) AS members,
			count(*) FILTER (WHERE
				EXISTS (SELECT 1 FROM ledger_entries a WHERE a.customer_id = c.id AND a.kind <> 'expire'
					AND a.created_at >= b.asof - CAST(@window AS interval) AND a.created_at < b.asof)
				OR EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = c.id AND ` + fmt.Sprintf(countedOrder, "p") + `
					AND p.paid_at >= b.asof - CAST(@window AS interval) AND p.paid_at < b.asof)) AS active_members
		FROM customers c
		WHERE c.shop_id = @shop
			AND EXISTS (SELECT 1 FROM ledger_entries e WHERE e.customer_id = c.id AND e.created_at < b.asof)
	) m
	CROSS JOIN LATERAL (
		SELECT coalesce(sum(e.points) FILTER (WHERE e.kind IN ('earn', 'bonus') OR (e.kind = 'adjust' AND e.points > 0)), 0) AS issued,
			coalesce(-sum(e.points) FILTER (WHERE e.kind = 'redeem'), 0)
				- coalesce(sum(e.points) FILTER (WHERE e.kind = 'restore'), 0) AS redeemed,
			coalesce(-sum(e.points) FILTER (WHERE e.kind = 'expire'), 0) AS expired
		FROM ledger_entries e
		WHERE e.shop_id = @shop AND e.created_at >= b.start AND e.created_at < b."end"
	) l
	CROSS JOIN LATERAL (
		-- every entry carries the customer's balance and pending after it,
		-- so what was held at an instant is their last entry's
		SELECT coalesce(sum(x.balance_after + x.pending_after), 0) AS outstanding
		FROM (SELECT DISTINCT ON (e.customer_id) e.balance_after, e.pending_after
			FROM ledger_entries e
			WHERE e.shop_id = @shop AND e.created_at < b.asof
			ORDER BY e.customer_id, e.created_at DESC, e.id DESC) x
	) lia
	CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE y.member) AS member_orders,
			coalesce(sum(y.eligible) FILTER (WHERE y.member), 0) AS member_revenue,
			count(DISTINCT y.customer_id) FILTER (WHERE y.member) AS member_customers,
			count(DISTINCT y.customer_id) FILTER (WHERE y.member AND y.repeat) AS member_repeat,
			count(*) FILTER (WHERE NOT y.member) AS non_member_orders,
			coalesce(sum(y.eligible) FILTER (WHERE NOT y.member), 0) AS non_member_revenue,
			count(DISTINCT y.customer_id) FILTER (WHERE NOT y.member) AS non_member_customers,
			count(DISTINCT y.customer_id) FILTER (WHERE NOT y.member AND y.repeat) AS non_member_repeat,
			count(*) FILTER (WHERE y.rewarded) AS reward_orders,
			coalesce(sum(y.eligible) FILTER (WHERE y.rewarded), 0) AS reward_revenue
		FROM (SELECT o.customer_id, o.eligible,
				(o.customer_id IS NOT NULL AND EXISTS (SELECT 1 FROM ledger_entries e
					WHERE e.customer_id = o.customer_id AND e.created_at < o.paid_at)) AS member,
				(o.customer_id IS NOT NULL AND EXISTS (SELECT 1 FROM orders p
					WHERE p.customer_id = o.customer_id AND p.id <> o.id AND ` + fmt.Sprintf(countedOrder, "p") + `
					AND p.paid_at < b."end")) AS repeat,
				EXISTS (SELECT 1 FROM redemptions r
					WHERE r.shop_id = o.shop_id AND r.status = 'used' AND r.order_id = o.platform_id) AS rewarded
			FROM orders o
			WHERE o.shop_id = @shop AND ` + fmt.Sprintf(countedOrder, "o") + `
				AND o.paid_at >= b.start AND o.paid_at < b."end") y
	) o
	ORDER BY b.start`
	args := map[string]any{
		"shop": shopID, "from": from.UTC(), "to": to.UTC(), "now": now.UTC(),
		"unit": string(bucket), "step": "1 " + string(bucket),
		"window": fmt.Sprintf("%d seconds", int64(app.ActiveWindow/time.Second)),
	}
	var rows []kpiRow
	if err := s.db.WithContext(ctx).Raw(query, args).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("kpi figures: %w", translate(err))
	}
	out := make([]app.KPIFigures, len(rows))
	for i, r := range rows {
		out[i] = app.KPIFigures{
			Start: r.Start.UTC(), End: r.End.UTC(),
			Members: r.Members, ActiveMembers: r.ActiveMembers,
			PointsIssued: r.Issued, PointsRedeemed: r.Redeemed, PointsExpired: r.Expired,
			Outstanding: r.Outstanding,
			MemberOrders: app.OrderFigures{Orders: r.MemberOrders, Revenue: app.Amount(r.MemberRevenue),
				Customers: r.MemberCustomers, Repeat: r.MemberRepeat},
			NonMemberOrders: app.OrderFigures{Orders: r.NonMemberOrders, Revenue: app.Amount(r.NonMemberRevenue),
				Customers: r.NonMemberCustomers, Repeat: r.NonMemberRepeat},
			RewardOrders: r.RewardOrders, RewardRevenue: app.Amount(r.RewardRevenue),
		}
	}
	return out, nil
}

var (
	_ app.KPIStore    = (*Store)(nil)
	_ app.ExportStore = (*Store)(nil)
)
