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

// snapshotLife is how long a cached snapshot may stand in for the store.
// Its lots reach this far past the expiring window, so the window slides
// over them as time passes without a new read.
const snapshotLife = time.Hour

// CustomerSnapshot is the shopper's own part of a widget view, as read from
// the store at ReadAt: what a ViewCache keeps between changes.
type CustomerSnapshot struct {
	// Customer has ID 0 for a signed-in shopper the ledger has not met.
	Customer Customer
	// History is the latest entries, newest first.
	History []Entry
	// Expiring are the lots with points left that expire within
	// expiringWindow+snapshotLife of ReadAt, soonest first.
	Expiring []LotExpiry
	ReadAt   time.Time
}

// LotExpiry is what a lot still holds and when it expires.
type LotExpiry struct {
	Points    int64
	ExpiresAt time.Time
}

// ViewToken is what a shopper's records were when a read of them began;
// only the ViewCache that issued it reads it. Empty means do not save.
type ViewToken string

// ViewCache keeps customer snapshots between changes, so that showing the
// widget costs no ledger queries. The store tells the cache about every
// change to a customer's ledger, lots, balance or details once it is
// committed; a snapshot read while a change lands is refused by Save, so a
// stale one is never kept. A cache that cannot be reached reports misses
// and drops saves: the store stays the truth.
type ViewCache interface {
	// Load returns the snapshot kept for a shop's shopper (by the platform's
	// id) and whether there was one. On a miss, the token is what Save needs.
	Load(ctx context.Context, shopID int64, platformID string) (CustomerSnapshot, ViewToken, bool)
	// Save keeps a snapshot read from the store after Load returned token,
	// unless the shopper's records changed since.
	Save(ctx context.Context, shopID int64, platformID string, token ViewToken, snap CustomerSnapshot)
}

// WithViewCache makes CustomerView read shoppers' snapshots through c; nil
// (the default) reads the store every time.
func (s *Service) WithViewCache(c ViewCache) *Service {
	s.views = c
	return s
}

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
		now := s.now()
		snap, err := s.customerSnapshot(ctx, shop, customerID, now)
		if err != nil {
			return CustomerView{}, err
		}
		c := snap.Customer
		v.Customer = &c
		v.History = snap.History
		v.Expiring = byExpiryDay(snap.Expiring, now, now.Add(expiringWindow))
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

// customerSnapshot serves the shopper's part of the view from the cache
// when it holds a recent one, otherwise from the store, saving what it read.
func (s *Service) customerSnapshot(ctx context.Context, shop Shop, platformID string, now time.Time) (CustomerSnapshot, error) {
	var token ViewToken
	if s.views != nil {
		snap, tok, hit := s.views.Load(ctx, shop.ID, platformID)
		if hit && !now.Before(snap.ReadAt) && now.Sub(snap.ReadAt) < snapshotLife {
			return snap, nil
		}
		token = tok
	}
	snap, err := s.readSnapshot(ctx, shop, platformID, now)
	if err != nil {
		return CustomerSnapshot{}, err
	}
	if s.views != nil && token != "" {
		s.views.Save(ctx, shop.ID, platformID, token, snap)
	}
	return snap, nil
}

func (s *Service) readSnapshot(ctx context.Context, shop Shop, platformID string, now time.Time) (CustomerSnapshot, error) {
	c, err := s.store.CustomerByPlatformID(ctx, shop.ID, platformID)
	switch {
	case ErrorCode(err) == ENotFound:
		c = Customer{ShopID: shop.ID, PlatformID: platformID}
	case err != nil:
		return CustomerSnapshot{}, err
	}
	snap := CustomerSnapshot{Customer: c, ReadAt: now}
	if c.ID == 0 {
		return snap, nil
	}
	if snap.History, err = s.store.Entries(ctx, shop.ID, c.ID, historyLength); err != nil {
		return CustomerSnapshot{}, err
	}
	lots, err := s.store.ExpiringLots(ctx, c.ID, now, now.Add(expiringWindow+snapshotLife))
	if err != nil {
		return CustomerSnapshot{}, err
	}
	for _, l := range lots {
		if l.ExpiresAt != nil && l.Remaining > 0 {
			snap.Expiring = append(snap.Expiring, LotExpiry{Points: l.Remaining, ExpiresAt: *l.ExpiresAt})
		}
	}
	return snap, nil
}

// byExpiryDay sums what the lots expiring in [from, until) still hold by
// the day they expire, soonest first.
func byExpiryDay(lots []LotExpiry, from, until time.Time) []ExpiringPoints {
	byDay := map[time.Time]int64{}
	for _, l := range lots {
		if l.ExpiresAt.Before(from) || !l.ExpiresAt.Before(until) {
			continue
		}
		day := l.ExpiresAt.UTC().Truncate(24 * time.Hour)
		byDay[day] += l.Points
	}
	out := make([]ExpiringPoints, 0, len(byDay))
	for day, n := range byDay {
		out = append(out, ExpiringPoints{Points: n, On: day})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].On.Before(out[j].On) })
	return out
}
