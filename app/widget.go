package app

import (
	"context"
	"sort"
	"sync"
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
	// Releasing are the pending points by the day they become spendable,
	// soonest first.
	Releasing []ReleasingPoints
	History   []Entry
	Rewards   []RewardOffer
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
	// Releasing are the pending lots with points left, soonest release
	// first.
	Releasing []LotRelease
	ReadAt    time.Time
}

// LotExpiry is what a lot still holds and when it expires.
type LotExpiry struct {
	Points    int64
	ExpiresAt time.Time
}

// ViewToken is what a shopper's records, or a shop's program and rewards,
// were when a read of them began; only the ViewCache that issued it reads
// it. Empty means the cache could not say: do not keep what is read.
type ViewToken string

// ViewTokens are the tokens of one widget view's read.
type ViewTokens struct {
	// Customer is the shopper's, for Save; empty for a guest.
	Customer ViewToken
	// Shop is the shop's program and rewards': it changes whenever they do.
	Shop ViewToken
}

// ViewCache keeps what widget views show between changes, so that showing
// the widget costs no database queries. The store tells the cache about
// every change to a customer's ledger, lots, balance or details, and to a
// shop's program or rewards, once it is committed; a snapshot read while a
// change lands is refused by Save, so a stale one is never kept. A cache
// that cannot be reached reports misses and empty tokens: the store stays
// the truth.
type ViewCache interface {
	// Load returns the snapshot kept for a shop's shopper (by the platform's
	// id) and whether there was one, with the tokens of the read; a guest
	// (platformID "") gets only the shop's token.
	Load(ctx context.Context, shopID int64, platformID string) (CustomerSnapshot, ViewTokens, bool)
	// Save keeps a snapshot read from the store after Load returned token,
	// unless the shopper's records changed since.
	Save(ctx context.Context, shopID int64, platformID string, token ViewToken, snap CustomerSnapshot)
}

// viewCaching is a ViewCache with this process's copies of shops' programs
// and rewards, each kept with the shop's token it was read under: the same
// for every shopper and cheap to keep in memory, they need no trip to the
// cache beyond the token that Load fetches with the shopper's snapshot.
type viewCaching struct {
	cache ViewCache
	mu    sync.Mutex
	shops map[int64]shopOffer
}

// shopOffer is a shop's program and rewards as read under token.
type shopOffer struct {
	token   ViewToken
	program Program
	rewards []Reward
	readAt  time.Time
}

// shopOfferLife bounds how long a copy of a shop's program and rewards
// serves, however its token looks.
const shopOfferLife = 10 * time.Minute

// WithViewCache makes CustomerView read through c; nil (the default) reads
// the store every time.
func (s *Service) WithViewCache(c ViewCache) *Service {
	s.views = nil
	if c != nil {
		s.views = &viewCaching{cache: c, shops: map[int64]shopOffer{}}
	}
	return s
}

// CustomerView gathers what the widget shows. customerID is the platform's
// id of the signed-in shopper, empty for a guest; the caller must have
// verified it (a signed app proxy request or a signed identity).
func (s *Service) CustomerView(ctx context.Context, shop Shop, customerID string) (CustomerView, error) {
	if !shop.Active() {
		return CustomerView{}, Errorf(EForbidden, "the loyalty program is not available in this shop right now")
	}
	now := s.now()
	var (
		cached CustomerSnapshot
		tokens ViewTokens
		hit    bool
	)
	if s.views != nil {
		cached, tokens, hit = s.views.cache.Load(ctx, shop.ID, customerID)
	}
	prog, rewards, err := s.shopOffer(ctx, shop.ID, tokens.Shop, now)
	if err != nil {
		return CustomerView{}, err
	}
	v := CustomerView{Shop: shop, Program: prog}
	if customerID != "" {
		snap := cached
		if !hit || now.Before(snap.ReadAt) || now.Sub(snap.ReadAt) >= snapshotLife {
			if snap, err = s.readSnapshot(ctx, shop, customerID, now); err != nil {
				return CustomerView{}, err
			}
			if tokens.Customer != "" {
				s.views.cache.Save(ctx, shop.ID, customerID, tokens.Customer, snap)
			}
		}
		c := snap.Customer
		v.Customer = &c
		v.History = snap.History
		v.Expiring = byExpiryDay(snap.Expiring, now, now.Add(expiringWindow))
		v.Releasing = byReleaseDay(snap.Releasing)
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

// shopOffer returns a shop's program and rewards: this process's copy when
// it was read under the shop's current token, otherwise the store's, kept
// for the next view.
func (s *Service) shopOffer(ctx context.Context, shopID int64, token ViewToken, now time.Time) (Program, []Reward, error) {
	if s.views != nil && token != "" {
		s.views.mu.Lock()
		o, ok := s.views.shops[shopID]
		s.views.mu.Unlock()
		if ok && o.token == token && !now.Before(o.readAt) && now.Sub(o.readAt) < shopOfferLife {
			return o.program, o.rewards, nil
		}
	}
	prog, err := s.store.Program(ctx, shopID)
	if err != nil {
		return Program{}, nil, err
	}
	rewards, err := s.store.Rewards(ctx, shopID)
	if err != nil {
		return Program{}, nil, err
	}
	if s.views != nil && token != "" {
		s.views.mu.Lock()
		s.views.shops[shopID] = shopOffer{token: token, program: prog, rewards: rewards, readAt: now}
		s.views.mu.Unlock()
	}
	return prog, rewards, nil
}

// readSnapshot reads the shopper's part of the view from the store.
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
	if snap.Releasing, err = s.pendingReleases(ctx, c); err != nil {
		return CustomerSnapshot{}, err
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
