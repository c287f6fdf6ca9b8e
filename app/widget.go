package app

import (
	"context"
	"sort"
	"time"
)

// CustomerView is what the storefront widget shows a shopper, in one
// document: their points, what expires soon, what happened, and what they
// can get. A guest (no customer) sees the program and its rewards.
type CustomerView struct {
	Shop    Shop
	Program Program
	// Customer is nil for a guest. A signed-in shopper the ledger has not
	// met yet is a member with no points, not an error.
	Customer *Customer
	Expiring []ExpiringPoints
	History  []Entry
	Rewards  []RewardOffer
}

// ExpiringPoints is how many points expire on a day.
type ExpiringPoints struct {
	Points int64
	On     time.Time // the day, at midnight UTC
}

// RewardOffer is a reward as one shopper sees it.
type RewardOffer struct {
	Reward
	// Cost is what the reward costs at the least (a variable reward's
	// minimum).
	Cost       int64
	Affordable bool
	// PointsNeeded is how many more points the shopper needs for it.
	PointsNeeded int64
}

// expiringWindow is how far ahead the widget warns about expiring points.
const expiringWindow = 90 * 24 * time.Hour

// historyLength is how many ledger entries the widget shows.
const historyLength = 20

// CustomerView gathers what the widget shows. customerID is the platform's
// id of the signed-in shopper, empty for a guest; the caller must have
// verified it (a signed app proxy request or a signed identity).
func (s *Service) CustomerView(ctx context.Context, shop Shop, customerID string) (CustomerView, error) {
	if !shop.Active() {
		return CustomerView{}, Errorf(EForbidden, "the loyalty program is not available in this shop right now")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return CustomerView{}, err
	}
	rewards, err := s.store.Rewards(ctx, shop.ID)
	if err != nil {
		return CustomerView{}, err
	}
	v := CustomerView{Shop: shop, Program: prog}
	if customerID != "" {
		c, err := s.store.CustomerByPlatformID(ctx, shop.ID, customerID)
		switch {
		case ErrorCode(err) == ENotFound:
			c = Customer{ShopID: shop.ID, PlatformID: customerID}
		case err != nil:
			return CustomerView{}, err
		}
		v.Customer = &c
		if c.ID != 0 {
			if v.History, err = s.store.Entries(ctx, shop.ID, c.ID, historyLength); err != nil {
				return CustomerView{}, err
			}
			now := s.now()
			lots, err := s.store.ExpiringLots(ctx, c.ID, now, now.Add(expiringWindow))
			if err != nil {
				return CustomerView{}, err
			}
			v.Expiring = byExpiryDay(lots)
		}
	}
	for _, r := range rewards {
		if !r.Active {
			continue
		}
		offer := RewardOffer{Reward: r, Cost: r.Points}
		if r.Kind == RewardVariable {
			offer.Cost = r.MinPoints
		}
		if v.Customer != nil {
			offer.Affordable = v.Customer.Balance >= offer.Cost
			offer.PointsNeeded = max(0, offer.Cost-v.Customer.Balance)
		}
		v.Rewards = append(v.Rewards, offer)
	}
	sort.SliceStable(v.Rewards, func(i, j int) bool { return v.Rewards[i].Cost < v.Rewards[j].Cost })
	return v, nil
}

// byExpiryDay sums what expiring lots still hold by the day they expire,
// soonest first.
func byExpiryDay(lots []Lot) []ExpiringPoints {
	byDay := map[time.Time]int64{}
	for _, l := range lots {
		if l.ExpiresAt == nil {
			continue
		}
		day := l.ExpiresAt.UTC().Truncate(24 * time.Hour)
		byDay[day] += l.Remaining
	}
	out := make([]ExpiringPoints, 0, len(byDay))
	for day, n := range byDay {
		out = append(out, ExpiringPoints{Points: n, On: day})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].On.Before(out[j].On) })
	return out
}
