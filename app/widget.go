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
	// OrderNames are the names shoppers know the history's orders by
	// (#1001), by the platform's order id.
	OrderNames map[string]string
	// Codes are the shopper's latest codes not used yet (pending or
	// issued), newest first.
	Codes   []Redemption
	Rewards []RewardOffer
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
	// OrderNames names History's orders; an order's name never changes
	// once it earned.
	OrderNames map[string]string
	// Codes are the customer's unused codes among their latest
	// codesShown redemptions; the store reports every change to a
	// redemption as a change to its customer.
	Codes  []Redemption
	ReadAt time.Time
}

// codesShown is how many of a shopper's latest redemptions the widget
// looks through for unused codes.
const codesShown = 10

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
	// active are the active shops widget requests named lately, by
	// platform and domain: the one read every widget request would make
	// otherwise.
	active map[shopName]activeShop
}

type shopName struct {
	platform Platform
	domain   string
}

type activeShop struct {
	shop   Shop
	readAt time.Time
	// token is the shop's view token when the shop was last read; a
	// view whose Load sees another one reads the shop again, so an
	// uninstall reaches every process's widget at once.
	token ViewToken
}

// activeShopLife is how long a widget request may take a shop for active
// without asking the store, when the view cache cannot say whether it
// changed. Only active shops are kept, so an install reaches it at once.
const activeShopLife = 10 * time.Second

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
		s.views = &viewCaching{cache: c, shops: map[int64]shopOffer{}, active: map[shopName]activeShop{}}
	}
	return s
}

// WidgetShop returns the shop a storefront widget request names. With a
// view cache, an active shop is remembered for activeShopLife, so the
// widget's reads cost no database query for it.
func (s *Service) WidgetShop(ctx context.Context, platform Platform, domain string) (Shop, error) {
	if s.views == nil {
		return s.Shop(ctx, platform, domain)
	}
	key, now := shopName{platform, domain}, s.now()
	s.views.mu.Lock()
	a, ok := s.views.active[key]
	s.views.mu.Unlock()
	if ok && !now.Before(a.readAt) && now.Sub(a.readAt) < activeShopLife {
		return a.shop, nil
	}
	shop, err := s.Shop(ctx, platform, domain)
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	if err == nil && shop.Active() {
		if len(s.views.active) >= maxActiveShops {
			clear(s.views.active)
		}
		s.views.active[key] = activeShop{shop: shop, readAt: now, token: a.token}
	} else {
		delete(s.views.active, key)
	}
	return shop, err
}

// confirmShop checks a shop a widget view began with against its view
// token: one read under the same token is still the shop's state;
// otherwise it is read again, and a shop no longer active is refused.
func (s *Service) confirmShop(ctx context.Context, shop Shop, token ViewToken, now time.Time) (Shop, error) {
	key := shopName{shop.Platform, shop.Domain}
	s.views.mu.Lock()
	a, ok := s.views.active[key]
	s.views.mu.Unlock()
	if ok && token != "" && a.token == token && a.shop.ID == shop.ID {
		return a.shop, nil
	}
	fresh, err := s.Shop(ctx, shop.Platform, shop.Domain)
	if ErrorCode(err) == ENotFound || (err == nil && !fresh.Active()) {
		s.views.mu.Lock()
		delete(s.views.active, key)
		s.views.mu.Unlock()
		return Shop{}, Errorf(EForbidden, "the loyalty program is not available in this shop right now")
	}
	if err != nil {
		return Shop{}, err
	}
	s.views.mu.Lock()
	s.views.active[key] = activeShop{shop: fresh, readAt: now, token: token}
	s.views.mu.Unlock()
	return fresh, nil
}

// maxActiveShops bounds the memory WidgetShop keeps; a process serving
// more shops than this reads some of them again.
const maxActiveShops = 100_000

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
		var err error
		if shop, err = s.confirmShop(ctx, shop, tokens.Shop, now); err != nil {
			return CustomerView{}, err
		}
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
		v.OrderNames = snap.OrderNames
		v.Codes = snap.Codes
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
	latest, err := s.store.Redemptions(ctx, shop.ID, c.ID, codesShown)
	if err != nil {
		return CustomerSnapshot{}, err
	}
	for _, r := range latest {
		if r.Status == RedemptionPending || r.Status == RedemptionIssued {
			snap.Codes = append(snap.Codes, r)
		}
	}
	var orderIDs []string
	for _, e := range snap.History {
		if e.Cause.OrderID != "" {
			orderIDs = append(orderIDs, e.Cause.OrderID)
		}
	}
	if len(orderIDs) > 0 {
		if snap.OrderNames, err = s.store.OrderNames(ctx, shop.ID, orderIDs); err != nil {
			return CustomerSnapshot{}, err
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
