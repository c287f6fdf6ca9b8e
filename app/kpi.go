package app

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

// KPIBucket is the width of one step of a KPI series. Buckets are cut in
// UTC; weeks start on Monday (ISO 8601).
type KPIBucket string

// The bucket widths a KPI series can have.
const (
	BucketDay   KPIBucket = "day"
	BucketWeek  KPIBucket = "week"
	BucketMonth KPIBucket = "month"
)

// ActiveWindow is how far back a member's activity counts: a member is
// active at an instant when they have a ledger entry other than an expiry,
// or a paid order, in the ActiveWindow before it.
const ActiveWindow = 90 * 24 * time.Hour

// maxKPIBuckets bounds a series so a typo in a date cannot ask the database
// for a million rows.
const maxKPIBuckets = 1000

// KPIQuery asks for a shop's KPIs over [From, To), by Bucket.
type KPIQuery struct {
	From, To time.Time
	Bucket   KPIBucket
}

// OrderFigures describes the orders of one group of shoppers (members or
// non-members) placed in a period.
type OrderFigures struct {
	// Orders counts paid orders (guest orders included for non-members);
	// Revenue sums their eligible amounts.
	Orders  int64
	Revenue Amount
	// Customers counts the identified shoppers who placed them; Repeat
	// those of them with two or more paid orders up to the period's end.
	// Guests cannot be recognised again, so they are in neither.
	Customers int64
	Repeat    int64
}

// AverageOrderValue is Revenue / Orders, rounded down; 0 without orders.
func (f OrderFigures) AverageOrderValue() Amount {
	if f.Orders == 0 {
		return 0
	}
	return f.Revenue / Amount(f.Orders)
}

// RepeatRate is the share of Customers who came back, between 0 and 1.
func (f OrderFigures) RepeatRate() float64 {
	if f.Customers == 0 {
		return 0
	}
	return float64(f.Repeat) / float64(f.Customers)
}

// KPIFigures are the KPIs of one period [Start, End).
type KPIFigures struct {
	Start, End time.Time
	// Members are the customers with a ledger entry before End;
	// ActiveMembers those of them active at End (see ActiveWindow).
	Members       int64
	ActiveMembers int64
	// PointsIssued sums earn, bonus and positive adjust entries in the
	// period; PointsRedeemed the points spent on rewards less the points
	// restored from unused or refunded rewards; PointsExpired the points
	// that expired. A restore is counted as an undone redemption, not as
	// points issued, so a reward redeemed and given back counts in neither.
	PointsIssued   int64
	PointsRedeemed int64
	PointsExpired  int64
	// Outstanding is the points held (spendable plus pending) at End;
	// OutstandingValue their worth at the report's PointValue.
	Outstanding      int64
	OutstandingValue Amount
	// Members' orders are those whose customer had a ledger entry before
	// the order was paid; every other order (guests included) is a
	// non-member's. Orders count when paid in the period.
	MemberOrders    OrderFigures
	NonMemberOrders OrderFigures
	// RewardOrders counts the paid orders that used a reward code;
	// RewardRevenue sums their eligible amounts.
	RewardOrders  int64
	RewardRevenue Amount
}

// RedemptionRate is PointsRedeemed / PointsIssued; 0 when nothing was
// issued.
func (f KPIFigures) RedemptionRate() float64 {
	if f.PointsIssued == 0 {
		return 0
	}
	return float64(f.PointsRedeemed) / float64(f.PointsIssued)
}

// PointValue is what points are worth in the shop currency: Amount for
// every Points points. Zero Points means no reward gives money off, and
// points are valued at nothing.
type PointValue struct {
	Amount Amount
	Points int64
	// RewardID and RewardName tell which reward set the value.
	RewardID   int64
	RewardName string
}

// Of values points, rounded down.
func (v PointValue) Of(points int64) Amount {
	if v.Points == 0 || points == 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(points), big.NewInt(int64(v.Amount)))
	n.Quo(n, big.NewInt(v.Points))
	return Amount(n.Int64())
}

// PerPoint is the value of a single point, rounded down to the Amount unit.
func (v PointValue) PerPoint() Amount { return v.Of(1) }

// more reports whether v gives more money per point than w.
func (v PointValue) more(w PointValue) bool {
	if w.Points == 0 {
		return v.Points != 0
	}
	a := new(big.Int).Mul(big.NewInt(int64(v.Amount)), big.NewInt(w.Points))
	b := new(big.Int).Mul(big.NewInt(int64(w.Amount)), big.NewInt(v.Points))
	return a.Cmp(b) > 0
}

// PointValueOf values points at the best rate among the shop's active
// money-off rewards: a fixed reward is worth Amount for Points, a variable
// one 1.00 for PointsPerUnit. The best rate is the one a shopper would pick,
// so the liability it gives is the most the shop can owe for the points.
// Percentage and free-shipping rewards have no fixed money value and are
// left out.
func PointValueOf(rewards []Reward) PointValue {
	var best PointValue
	for _, r := range rewards {
		if !r.Active {
			continue
		}
		var v PointValue
		switch r.Kind {
		case RewardFixed:
			v = PointValue{Amount: r.Amount, Points: r.Points}
		case RewardVariable:
			v = PointValue{Amount: AmountScale, Points: r.PointsPerUnit}
		default:
			continue
		}
		if v.Points <= 0 || v.Amount <= 0 {
			continue
		}
		v.RewardID, v.RewardName = r.ID, r.Name
		if v.more(best) {
			best = v
		}
	}
	return best
}

// KPIReport is a shop's KPIs over a period: Totals for the whole of it and
// Series by bucket. Members, ActiveMembers and Outstanding are at each
// period's end, or now for a period that ends in the future.
type KPIReport struct {
	Query      KPIQuery
	Currency   string
	PointValue PointValue
	Totals     KPIFigures
	Series     []KPIFigures
}

// KPIStore computes KPIs in the database.
type KPIStore interface {
	// KPIFigures returns the figures of [from, to) cut into buckets of
	// width bucket in UTC (the first and last clipped to from and to), or
	// one row for the whole period when bucket is empty. Figures at a
	// bucket's end are taken at now instead when the end is later.
	// Outstanding values are left to the caller.
	KPIFigures(ctx context.Context, shopID int64, from, to, now time.Time, bucket KPIBucket) ([]KPIFigures, error)
}

// Validate reports what is wrong with the query.
func (q KPIQuery) Validate() error {
	if q.From.IsZero() || q.To.IsZero() {
		return Errorf(EInvalid, "a KPI period needs a start and an end")
	}
	if !q.From.Before(q.To) {
		return Errorf(EInvalid, "a KPI period must end after it starts")
	}
	var step time.Duration
	switch q.Bucket {
	case BucketDay:
		step = 24 * time.Hour
	case BucketWeek:
		step = 7 * 24 * time.Hour
	case BucketMonth:
		step = 28 * 24 * time.Hour
	default:
		return Errorf(EInvalid, "KPIs are by day, week or month, not %q", q.Bucket)
	}
	if q.To.Sub(q.From)/step > maxKPIBuckets {
		return Errorf(EInvalid, "a KPI series has at most %d buckets", maxKPIBuckets)
	}
	return nil
}

// KPIs reports how the shop's program is doing over [q.From, q.To).
func (s *Service) KPIs(ctx context.Context, shop Shop, q KPIQuery) (KPIReport, error) {
	if err := q.Validate(); err != nil {
		return KPIReport{}, err
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	now := s.now()
	rewards, err := s.store.Rewards(ctx, shop.ID)
	if err != nil {
		return KPIReport{}, fmt.Errorf("kpis %s: %w", shop.Domain, err)
	}
	rep := KPIReport{Query: q, Currency: shop.Currency, PointValue: PointValueOf(rewards)}
	totals, err := s.store.KPIFigures(ctx, shop.ID, q.From, q.To, now, "")
	if err != nil {
		return KPIReport{}, fmt.Errorf("kpis %s: %w", shop.Domain, err)
	}
	if len(totals) != 1 {
		return KPIReport{}, fmt.Errorf("kpis %s: %d total rows", shop.Domain, len(totals))
	}
	rep.Series, err = s.store.KPIFigures(ctx, shop.ID, q.From, q.To, now, q.Bucket)
	if err != nil {
		return KPIReport{}, fmt.Errorf("kpis %s: %w", shop.Domain, err)
	}
	rep.Totals = totals[0]
	rep.Totals.OutstandingValue = rep.PointValue.Of(rep.Totals.Outstanding)
	for i := range rep.Series {
		rep.Series[i].OutstandingValue = rep.PointValue.Of(rep.Series[i].Outstanding)
	}
	return rep, nil
}
