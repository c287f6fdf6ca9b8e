package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// RewardKind is what a reward gives.
type RewardKind string

// Reward kinds.
const (
	// RewardFixed is a fixed amount off for a fixed number of points.
	RewardFixed RewardKind = "fixed_amount"
	// RewardVariable turns any number of points in a range into an amount
	// off, so a shopper can spend part of a balance.
	RewardVariable RewardKind = "variable_amount"
	// RewardPercentage is a percentage off the order.
	RewardPercentage RewardKind = "percentage"
	// RewardFreeShipping waives shipping.
	RewardFreeShipping RewardKind = "free_shipping"
)

// Reward is one item of a shop's rewards catalogue.
type Reward struct {
	ID     int64
	ShopID int64
	Name   string
	Kind   RewardKind
	// Points is what the reward costs (every kind but variable).
	Points int64
	// Amount is the amount off of a fixed reward.
	Amount Amount
	// PointsPerUnit is what 1.00 off costs in a variable reward, which
	// spends between MinPoints and MaxPoints (0: up to the balance).
	PointsPerUnit int64
	MinPoints     int64
	MaxPoints     int64
	Percentage    int
	// MinSubtotal is the order subtotal the code needs (0: none).
	MinSubtotal Amount
	// ExpiryDays is how long a code is valid (0: it does not expire).
	ExpiryDays int
	Active     bool
	CreatedAt  time.Time
}

// Validate reports the first rule a reward breaks.
func (r Reward) Validate() error {
	switch {
	case strings.TrimSpace(r.Name) == "":
		return Errorf(EInvalid, "a reward needs a name")
	case r.MinSubtotal < 0 || r.ExpiryDays < 0 || r.ExpiryDays > 3650:
		return Errorf(EInvalid, "minimum subtotal must not be negative and expiry must be 0 to 3650 days")
	case r.Amount%centUnits != 0 || r.MinSubtotal%centUnits != 0:
		// Checked here, not when the code is made: WooCommerce refuses a
		// coupon finer than a cent after the points are already spent.
		return Errorf(EInvalid, "amounts must be whole cents (%s, %s)", r.Amount, r.MinSubtotal)
	}
	switch r.Kind {
	case RewardFixed:
		if r.Points <= 0 || r.Amount <= 0 {
			return Errorf(EInvalid, "a fixed reward needs a cost in points and an amount off")
		}
	case RewardVariable:
		if r.PointsPerUnit <= 0 || r.MinPoints <= 0 || (r.MaxPoints != 0 && r.MaxPoints < r.MinPoints) {
			return Errorf(EInvalid, "a variable reward needs points per 1.00 off, a minimum, and a maximum of at least the minimum (or 0)")
		}
		if r.MinPoints < r.PointsPerUnit/100 || r.MinPoints*AmountScale/r.PointsPerUnit < 100 {
			return Errorf(EInvalid, "a variable reward's minimum must buy at least 0.01 off")
		}
	case RewardPercentage:
		if r.Points <= 0 || r.Percentage <= 0 || r.Percentage > 100 {
			return Errorf(EInvalid, "a percentage reward needs a cost in points and a percentage from 1 to 100")
		}
	case RewardFreeShipping:
		if r.Points <= 0 {
			return Errorf(EInvalid, "a free shipping reward needs a cost in points")
		}
	default:
		return Errorf(EInvalid, "reward kind must be fixed_amount, variable_amount, percentage or free_shipping, not %q", r.Kind)
	}
	return nil
}

// Quote is what redeeming a reward costs and gives.
type Quote struct {
	Points int64
	Amount Amount // amount off (fixed and variable rewards)
}

// centUnits is 0.01 of a currency unit in Amount units: codes are whole cents.
const centUnits = AmountScale / 100

// Quote prices a redemption. want is the points a shopper chose to spend
// on a variable reward (ignored otherwise). A variable reward never charges
// for a fraction of a cent: the amount is rounded down to whole cents and
// only the points that buy it are spent.
func (r Reward) Quote(want int64) (Quote, error) {
	if r.Kind != RewardVariable {
		return Quote{Points: r.Points, Amount: r.Amount}, nil
	}
	if want < r.MinPoints {
		return Quote{}, Errorf(EInvalid, "spend at least %d points on %s", r.MinPoints, r.Name)
	}
	if r.MaxPoints > 0 && want > r.MaxPoints {
		return Quote{}, Errorf(EInvalid, "spend at most %d points on %s", r.MaxPoints, r.Name)
	}
	// value = want / PointsPerUnit currency units, in whole cents.
	cents := want * 100 / r.PointsPerUnit
	amount := Amount(cents * centUnits)
	// points = ceil(cents × PointsPerUnit / 100): the least that buys it.
	points := (cents*r.PointsPerUnit + 99) / 100
	return Quote{Points: points, Amount: amount}, nil
}

// RedemptionStatus is where a redemption's code is in its life.
type RedemptionStatus string

// Redemption statuses.
const (
	// RedemptionPending: points are spent, the code is being created.
	RedemptionPending RedemptionStatus = "pending"
	// RedemptionIssued: the code exists on the platform and can be used.
	RedemptionIssued RedemptionStatus = "issued"
	// RedemptionUsed: an order used the code.
	RedemptionUsed RedemptionStatus = "used"
	// RedemptionExpired: the code expired unused.
	RedemptionExpired RedemptionStatus = "expired"
	// RedemptionFailed: the platform would not create the code; the
	// points came back.
	RedemptionFailed RedemptionStatus = "failed"
)

// Redemption is points spent on a reward, and the code that carries it.
type Redemption struct {
	ID          int64
	ShopID      int64
	CustomerID  int64
	RewardID    int64
	RewardName  string
	Kind        RewardKind
	Points      int64
	Amount      Amount
	Percentage  int
	MinSubtotal Amount
	Code        string
	Status      RedemptionStatus
	PlatformRef string // the platform's id of the code
	Detail      string // why it failed, or what happened
	RedeemedBy  string // a staff member's name; empty when the shopper redeemed
	// IdempotencyKey is the key of the request that made it.
	IdempotencyKey string
	ExpiresAt      *time.Time
	OrderID        string // the order that used the code
	CreatedAt      time.Time
}

// RedeemRequest asks to spend points on a reward.
type RedeemRequest struct {
	CustomerID string // the platform's customer id
	RewardID   int64
	// Points is what the shopper spends on a variable reward.
	Points int64
	// IdempotencyKey makes a retried request (a double click) redeem once.
	IdempotencyKey string
	// Staff names the staff member redeeming for the shopper; empty when
	// the shopper redeems.
	Staff string
}

// RewardStore is the persistence of rewards and redemptions.
type RewardStore interface {
	AddReward(ctx context.Context, r Reward) (Reward, error)
	SetRewardActive(ctx context.Context, shopID, rewardID int64, active bool) error
	Reward(ctx context.Context, shopID, rewardID int64) (Reward, error)
	Rewards(ctx context.Context, shopID int64) ([]Reward, error)
	RedemptionByKey(ctx context.Context, shopID int64, key string) (Redemption, error)
	Redemption(ctx context.Context, shopID, id int64) (Redemption, error)
	Redemptions(ctx context.Context, shopID, customerID int64, limit int) ([]Redemption, error)
	// MarkRedemption moves a redemption from one of the from statuses to
	// to, and reports false when it was in none of them.
	MarkRedemption(ctx context.Context, shopID, id int64, from []RedemptionStatus, to RedemptionStatus, platformRef, detail string) (bool, error)
	// PendingRedemptions lists redemptions still waiting for their code,
	// made before the given time, oldest first, with their shops.
	PendingRedemptions(ctx context.Context, before time.Time, limit int) ([]Shop, []Redemption, error)
	// ExpiredRedemptions lists unused redemptions whose code expired before
	// the given time, with their shops.
	ExpiredRedemptions(ctx context.Context, before time.Time, limit int) ([]Shop, []Redemption, error)
	CustomerByID(ctx context.Context, shopID, customerID int64) (Customer, error)
}

// RedemptionTx is what a ledger Tx offers for redemptions.
type RedemptionTx interface {
	InsertRedemption(ctx context.Context, r Redemption) (Redemption, error)
	// FailRedemption marks a pending redemption failed and returns it, or
	// reports false when it is not pending (already issued, or failed).
	FailRedemption(ctx context.Context, shopID, id int64, detail string) (Redemption, bool, error)
	// UseRedemptions marks the shop's redemptions with these codes (in any
	// case) used by an order and returns those it marked. An expired code
	// is claimed too: the platform took it, so it was used.
	UseRedemptions(ctx context.Context, shopID int64, codes []string, orderID string, at time.Time) ([]Redemption, error)
	// ExpireRedemption marks an unused redemption expired, or reports false
	// when it was used (or expired) meanwhile.
	ExpireRedemption(ctx context.Context, shopID, id int64) (Redemption, bool, error)
	// RedemptionsUsedBy lists the redemptions an order used.
	RedemptionsUsedBy(ctx context.Context, shopID int64, orderID string) ([]Redemption, error)
}

// AddReward adds a reward to a shop's catalogue.
func (s *Service) AddReward(ctx context.Context, shop Shop, r Reward) (Reward, error) {
	r.ShopID = shop.ID
	r.Name = strings.TrimSpace(r.Name)
	if err := r.Validate(); err != nil {
		return Reward{}, err
	}
	return s.store.AddReward(ctx, r)
}

// SetRewardActive offers or withdraws a reward. Codes already issued stay valid.
func (s *Service) SetRewardActive(ctx context.Context, shop Shop, rewardID int64, active bool) error {
	return s.store.SetRewardActive(ctx, shop.ID, rewardID, active)
}

// AddRewardAs is AddReward by a staff member (actor), recorded in the
// audit log.
func (s *Service) AddRewardAs(ctx context.Context, shop Shop, actor string, r Reward) (Reward, error) {
	added, err := s.AddReward(ctx, shop, r)
	if err != nil {
		return Reward{}, err
	}
	return added, s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: actor, Action: "reward add",
		Outcome: AuditOK, Detail: fmt.Sprintf("reward %d %q (%s)", added.ID, added.Name, added.Kind)})
}

// SetRewardActiveAs is SetRewardActive by a staff member (actor), recorded
// in the audit log.
func (s *Service) SetRewardActiveAs(ctx context.Context, shop Shop, actor string, rewardID int64, active bool) error {
	if err := s.SetRewardActive(ctx, shop, rewardID, active); err != nil {
		return err
	}
	action := "reward withdraw"
	if active {
		action = "reward offer"
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: actor, Action: action,
		Outcome: AuditOK, Detail: fmt.Sprintf("reward %d", rewardID)})
}

// Rewards lists a shop's catalogue.
func (s *Service) Rewards(ctx context.Context, shop Shop) ([]Reward, error) {
	return s.store.Rewards(ctx, shop.ID)
}

// Redemptions lists a customer's latest redemptions.
func (s *Service) Redemptions(ctx context.Context, shop Shop, customerID string, limit int) ([]Redemption, error) {
	c, err := s.store.CustomerByPlatformID(ctx, shop.ID, customerID)
	if err != nil {
		return nil, err
	}
	return s.store.Redemptions(ctx, shop.ID, c.ID, limit)
}

// CustomerRedemptions is Redemptions for a customer already in hand (by
// the app's own id): one query fewer on every widget read.
func (s *Service) CustomerRedemptions(ctx context.Context, shop Shop, customerID int64, limit int) ([]Redemption, error) {
	return s.store.Redemptions(ctx, shop.ID, customerID, limit)
}

// PendingRedemptions lists redemptions whose code is not made yet, for the
// job that makes them: the database is the outbox, so a redemption whose
// task was never queued (Redis down) is still picked up.
func (s *Service) PendingRedemptions(ctx context.Context, before time.Time, limit int) ([]Shop, []Redemption, error) {
	return s.store.PendingRedemptions(ctx, before, limit)
}

// RedemptionCustomer returns the customer a redemption belongs to.
func (s *Service) RedemptionCustomer(ctx context.Context, r Redemption) (Customer, error) {
	return s.store.CustomerByID(ctx, r.ShopID, r.CustomerID)
}

// Redemption returns one of a shop's redemptions.
func (s *Service) Redemption(ctx context.Context, shop Shop, id int64) (Redemption, error) {
	return s.store.Redemption(ctx, shop.ID, id)
}

// Redeem spends a customer's points on a reward. In one transaction, under
// the customer's lock, it checks the spendable balance, writes the redeem
// entry and records the redemption as pending with a new code; a job then
// creates the code on the platform. The same idempotency key returns the
// first redemption instead of spending twice.
func (s *Service) Redeem(ctx context.Context, shop Shop, req RedeemRequest) (Redemption, error) {
	if !shop.Active() {
		return Redemption{}, Errorf(EForbidden, "the loyalty program of this shop is not active")
	}
	if req.IdempotencyKey == "" {
		return Redemption{}, Errorf(EInvalid, "a redemption needs an idempotency key")
	}
	existing, err := s.store.CustomerByPlatformID(ctx, shop.ID, req.CustomerID)
	if ErrorCode(err) == ENotFound && req.Staff == "" {
		// A signed-in shopper the ledger has not met yet has no points.
		return Redemption{}, Errorf(EInsufficientPoint, "no points yet: earn some with a purchase first")
	}
	if err != nil {
		return Redemption{}, err
	}
	if earlier, err := s.store.RedemptionByKey(ctx, shop.ID, req.IdempotencyKey); err == nil {
		return sameCustomer(earlier, existing)
	} else if ErrorCode(err) != ENotFound {
		return Redemption{}, err
	}
	reward, err := s.store.Reward(ctx, shop.ID, req.RewardID)
	if err != nil {
		return Redemption{}, err
	}
	if !reward.Active {
		return Redemption{}, Errorf(EInvalid, "%s is no longer offered", reward.Name)
	}
	quote, err := reward.Quote(req.Points)
	if err != nil {
		return Redemption{}, err
	}
	now := s.now()
	var expires *time.Time
	if reward.ExpiryDays > 0 {
		t := now.AddDate(0, 0, reward.ExpiryDays)
		expires = &t
	}
	var out Redemption
	for attempt := 0; ; attempt++ {
		err = s.store.InTx(ctx, func(tx Tx) error {
			c, err := tx.LockCustomerByID(ctx, existing.ID)
			if err != nil {
				return err
			}
			// Only spendable points: pending points may still be refunded.
			if c.Balance < quote.Points {
				return Errorf(EInsufficientPoint, "%s costs %d points; %d are available", reward.Name, quote.Points, max(c.Balance, 0))
			}
			cause := Cause{Job: "redeem " + reward.Name, Staff: req.Staff}
			if req.Staff != "" {
				cause.Reason = "redeemed by staff for the shopper"
			}
			if _, err := tx.Post(ctx, Posting{ShopID: shop.ID, CustomerID: c.ID, Kind: KindRedeem, Points: -quote.Points,
				Cause: cause, IdempotencyKey: "redeem:" + req.IdempotencyKey, At: now}); err != nil {
				return err
			}
			out, err = tx.InsertRedemption(ctx, Redemption{ShopID: shop.ID, CustomerID: c.ID, RewardID: reward.ID,
				RewardName: reward.Name, Kind: reward.Kind, Points: quote.Points, Amount: quote.Amount, Percentage: reward.Percentage,
				MinSubtotal: reward.MinSubtotal, Code: NewRewardCode(), Status: RedemptionPending, RedeemedBy: req.Staff,
				IdempotencyKey: req.IdempotencyKey, ExpiresAt: expires, CreatedAt: now})
			if err != nil {
				return err
			}
			return nil
		})
		switch {
		case errors.Is(err, ErrDuplicate):
			// A concurrent request with the same key won the race.
			earlier, err := s.store.RedemptionByKey(ctx, shop.ID, req.IdempotencyKey)
			if err != nil {
				return Redemption{}, err
			}
			return sameCustomer(earlier, existing)
		case errors.Is(err, ErrCodeTaken) && attempt < 3:
			continue // 60 random bits collided: draw again
		}
		break
	}
	if err != nil {
		return Redemption{}, err
	}
	return out, nil
}

// sameCustomer returns an earlier redemption made with the same key, but
// only to the shopper it belongs to: a key is not a way to read another
// shopper's code.
func sameCustomer(earlier Redemption, c Customer) (Redemption, error) {
	if earlier.CustomerID != c.ID {
		return Redemption{}, Errorf(EConflict, "this request key was already used; try again")
	}
	return earlier, nil
}

// ErrCodeTaken is what the store reports when a new code collides with an
// existing one; Redeem then draws another.
var ErrCodeTaken = &Error{Code: EConflict, Message: "reward code already used"}

// IssueRedemption records that the platform created the redemption's code.
func (s *Service) IssueRedemption(ctx context.Context, shop Shop, id int64, platformRef string) error {
	_, err := s.store.MarkRedemption(ctx, shop.ID, id, []RedemptionStatus{RedemptionPending}, RedemptionIssued, platformRef, "")
	return err
}

// FailRedemption gives the points of a redemption back when its code could
// not be created, with a ledger entry that says why. It does so once: a
// redemption already issued or failed is left as it is.
func (s *Service) FailRedemption(ctx context.Context, shop Shop, id int64, reason string) (Redemption, error) {
	now := s.now()
	var out Redemption
	err := s.store.InTx(ctx, func(tx Tx) error {
		r, failed, err := tx.FailRedemption(ctx, shop.ID, id, reason)
		if err != nil || !failed {
			out = r
			return err
		}
		c, err := tx.LockCustomerByID(ctx, r.CustomerID)
		if err != nil {
			return err
		}
		prog, err := s.store.Program(ctx, shop.ID)
		if err != nil {
			return err
		}
		_, err = tx.Post(ctx, Posting{ShopID: shop.ID, CustomerID: c.ID, Kind: KindRestore, Points: r.Points,
			Cause:          Cause{Job: "reward code creation", Reason: "code for " + r.RewardName + " could not be created: " + reason},
			IdempotencyKey: fmt.Sprintf("redemption:%d:restore", r.ID), At: now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays)})
		out = r
		return err
	})
	return out, err
}

// ExpireCodes ends the redemptions whose code expired unused: each is
// marked expired and, when the program says so (the default), its points
// come back with a ledger entry. It returns those it expired, so their
// codes can be disabled on the platform too. Safe to run twice or on two
// workers at once: a redemption expires once.
func (s *Service) ExpireCodes(ctx context.Context, limit int) ([]Shop, []Redemption, error) {
	now := s.now()
	shops, due, err := s.store.ExpiredRedemptions(ctx, now.Add(-CodeExpiryGrace), limit)
	if err != nil {
		return nil, nil, err
	}
	var doneShops []Shop
	var done []Redemption
	for i, r := range due {
		shop := shops[i]
		prog, err := s.store.Program(ctx, shop.ID)
		if err != nil {
			return doneShops, done, err
		}
		var expired Redemption
		var changed bool
		err = s.store.InTx(ctx, func(tx Tx) error {
			expired, changed, err = tx.ExpireRedemption(ctx, shop.ID, r.ID)
			if err != nil || !changed || !prog.RestoreExpiredCodes {
				return err
			}
			c, err := tx.LockCustomerByID(ctx, expired.CustomerID)
			if err != nil {
				return err
			}
			_, err = tx.Post(ctx, Posting{ShopID: shop.ID, CustomerID: c.ID, Kind: KindRestore, Points: expired.Points,
				Cause:          Cause{Job: "reward code expiry", Reason: "code " + expired.Code + " for " + expired.RewardName + " expired unused"},
				IdempotencyKey: expiredRestoreKey(expired.ID), At: now, AvailableAt: now,
				ExpiresAt: expiry(now, prog.ExpiryDays)})
			return err
		})
		if err != nil {
			return doneShops, done, err
		}
		if changed {
			doneShops, done = append(doneShops, shop), append(done, expired)
		}
	}
	return doneShops, done, nil
}

// CodeExpiryGrace is how long after its end an unused code waits before the
// sweep expires it: a checkout that began while the code was valid is
// usually paid within it, and its order then simply uses the code. Orders
// paid later still claim the code (see respendLateCodes).
const CodeExpiryGrace = time.Hour

func expiredRestoreKey(redemptionID int64) string {
	return fmt.Sprintf("redemption:%d:expired", redemptionID)
}

// respendLateCodes spends again the points of codes an order used after the
// expiry sweep had ended them and given their points back. The platform
// accepted the code (the checkout began while it was valid), so the shopper
// had the discount and the points are spent after all. The ledger is
// append-only: a redeem entry of its own, once per redemption, takes back
// what the expiry returned (down to zero, unless the program allows a
// negative balance; the rest is recorded as unrecovered).
func (s *Service) respendLateCodes(ctx context.Context, tx Tx, shop Shop, prog Program, used []Redemption, orderID string, now time.Time) error {
	for _, r := range used {
		if r.ExpiresAt == nil {
			continue // a code without an end never expired
		}
		// The expiry and its restore entry commit together, before the
		// order could claim the expired code, so the entry is visible here.
		returned, err := s.store.EntryByKey(ctx, shop.ID, expiredRestoreKey(r.ID))
		if ErrorCode(err) == ENotFound {
			continue // not expired, or expired without giving points back
		}
		if err != nil {
			return err
		}
		c, err := tx.LockCustomerByID(ctx, r.CustomerID)
		if err != nil {
			return err
		}
		take, unrecovered := recoverable(returned.Points, c, prog.AllowNegative)
		_, err = tx.Post(ctx, Posting{ShopID: shop.ID, CustomerID: c.ID, Kind: KindRedeem, Points: -take, Unrecovered: unrecovered,
			Cause: Cause{OrderID: orderID, Job: "redeem " + r.RewardName,
				Reason: "code " + r.Code + " was used by an order paid after it expired: the points it gave back are spent again"},
			IdempotencyKey: fmt.Sprintf("redemption:%d:used-after-expiry", r.ID), At: now, SpendPending: true})
		if err != nil && !errors.Is(err, ErrDuplicate) {
			return err
		}
	}
	return nil
}

// rewardPart is what the reward codes an order used took off it: the
// discount the platform reports for each code (a percentage or free
// shipping reward has no amount of its own), or the redemption's amount
// where the platform reports none.
func rewardPart(e OrderPaid, used []Redemption) Amount {
	var part Amount
	for _, r := range used {
		if d, ok := e.CodeDiscounts[strings.ToLower(strings.TrimSpace(r.Code))]; ok {
			part += max(d, 0)
			continue
		}
		part += r.Amount
	}
	return part
}

// restoreSpentPoints gives back the points of the rewards an order used,
// once each, when the merchant's program says a refunded or cancelled
// order returns them.
func (s *Service) restoreSpentPoints(ctx context.Context, tx Tx, prog Program, o Order, why string, now time.Time) ([]Entry, error) {
	if !prog.RestoreOnRefund {
		return nil, nil
	}
	used, err := tx.RedemptionsUsedBy(ctx, o.ShopID, o.PlatformID)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, r := range used {
		e, err := tx.Post(ctx, Posting{ShopID: o.ShopID, CustomerID: r.CustomerID, Kind: KindRestore, Points: r.Points,
			Cause:          Cause{OrderID: o.PlatformID, Reason: "order " + why + ": points spent on " + r.RewardName + " returned"},
			IdempotencyKey: fmt.Sprintf("redemption:%d:order-returned", r.ID), At: now, AvailableAt: now,
			ExpiresAt: expiry(now, prog.ExpiryDays)})
		if errors.Is(err, ErrDuplicate) {
			continue
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// rewardCodeAlphabet has no look-alike characters (0/O, 1/I/L).
const rewardCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// NewRewardCode draws an unguessable code: 12 symbols from a 31-letter
// alphabet is about 59 bits from crypto/rand, grouped for reading aloud.
func NewRewardCode() string {
	var b strings.Builder
	b.WriteString("LOY")
	n := big.NewInt(int64(len(rewardCodeAlphabet)))
	for i := 0; i < 12; i++ {
		if i%4 == 0 {
			b.WriteByte('-')
		}
		k, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b.WriteByte(rewardCodeAlphabet[k.Int64()])
	}
	return b.String()
}
