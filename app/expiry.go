package app

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Points expire one of three ways, chosen per shop by its Program:
//
//   - per lot (ExpiryDays): each earned lot carries the date it expires,
//     fixed when it is earned; spending takes the lots that expire soonest
//     first, so what expires is what the shopper did not get round to using.
//     A lot keeps the date it was earned with (the one the widget showed and
//     warned about) even if the program changes later.
//   - by inactivity (InactivityMonths): the whole balance expires after that
//     many months in which the customer had no ledger entry other than an
//     expiry, and no order.
//   - never: lots carry no date and the program no inactivity limit.
//
// Pending points follow the same rules. A pending lot that reaches its
// expiry before its release expires from the pending balance: expiry counts
// from earning, so a return window longer than the expiry (or a release
// job that is late) must not keep points alive, and a lot released already
// expired would only expire at the next sweep anyway.
//
// Expiry writes `expire` entries: one per lot ("expire:lot:<lot id>") for
// per-lot expiry, one per customer and period of inactivity
// ("expire:inactive:<customer id>:<last activity>") for inactivity. The
// unique idempotency key is the last word: a lot or an idle period can
// expire once, however many sweeps run.

// SweepOptions size a sweep; zero values take the defaults.
type SweepOptions struct {
	// Batch is how many lots (customers, for inactivity) one transaction
	// takes on at most: SweepBatch by default.
	Batch int
	// Workers is how many transactions run at once: SweepWorkers by
	// default. They share the work through the row locks: each batch takes
	// customers no other batch holds.
	Workers int
}

// SweepBatch is how many lots a sweep's transaction takes on by default:
// a few hundred milliseconds of work, so locks are held briefly.
const SweepBatch = 5000

// SweepWorkers is how many batches a sweep runs at once by default.
const SweepWorkers = 2

func (o SweepOptions) withDefaults() SweepOptions {
	if o.Batch <= 0 {
		o.Batch = SweepBatch
	}
	if o.Workers <= 0 {
		o.Workers = SweepWorkers
	}
	return o
}

// Sweep counts what a sweep did.
type Sweep struct {
	Batches   int   // transactions that changed something
	Lots      int   // lots expired or released
	Customers int   // customer balances changed (a customer may count once per batch)
	Points    int64 // points expired or released
}

func (s *Sweep) add(b Sweep) {
	s.Batches += b.Batches
	s.Lots += b.Lots
	s.Customers += b.Customers
	s.Points += b.Points
}

func (s Sweep) String() string {
	return fmt.Sprintf("%d points in %d lots of %d customers, %d batches", s.Points, s.Lots, s.Customers, s.Batches)
}

// ExpiryStore expires and releases points in set-based batches. Each call
// is one transaction: it locks the customers it works on (skipping those
// another transaction holds, which a later batch or run picks up), changes
// their lots, entries and balances, and reports the customers to the
// store's observers. A batch that changed nothing returns a zero Sweep.
type ExpiryStore interface {
	// ExpireLots expires up to about limit lots whose expiry is at or before
	// at, whatever their shop's status: a lot's date was fixed when it was
	// earned.
	ExpireLots(ctx context.Context, at time.Time, limit int) (Sweep, error)
	// ExpireInactive expires the whole balance of up to limit customers of
	// active shops with an inactivity limit whose last activity is that
	// many months before at. An uninstalled shop's balances wait: its
	// shoppers cannot see or use them, and once it is back the time since
	// each one's last activity counts as before.
	ExpireInactive(ctx context.Context, at time.Time, limit int) (Sweep, error)
	// ReleasePending makes pending lots whose release is at or before at
	// spendable, for up to about limit lots. A customer who owes points (a
	// negative balance) repays them from the released lots first.
	ReleasePending(ctx context.Context, at time.Time, limit int) (Sweep, error)
	// PendingLots lists a customer's pending lots that still hold points,
	// soonest release first.
	PendingLots(ctx context.Context, customerID int64) ([]Lot, error)
}

// ExpirePoints expires every lot past its date and the balances of inactive
// customers, in batches of one transaction each. It is safe to run twice,
// or on two workers at once, and a run cut short (a crash, a cancelled
// context) leaves whole batches done and the rest for the next run.
func (s *Service) ExpirePoints(ctx context.Context, opt SweepOptions) (Sweep, error) {
	opt = opt.withDefaults()
	at := s.now()
	total, err := sweep(ctx, opt, at, s.store.ExpireLots)
	if err != nil {
		return total, fmt.Errorf("expire lots: %w", err)
	}
	idle, err := sweep(ctx, opt, at, s.store.ExpireInactive)
	total.add(idle)
	if err != nil {
		return total, fmt.Errorf("expire inactive balances: %w", err)
	}
	return total, nil
}

// ReleasePending makes pending points whose release date has come
// spendable, batch lots (SweepBatch when 0) per transaction. A release
// writes no ledger entry: it moves points from pending to balance, whose sum
// the ledger explains, so the ledger still adds up to balance plus pending.
func (s *Service) ReleasePending(ctx context.Context, opt SweepOptions) (Sweep, error) {
	total, err := sweep(ctx, opt.withDefaults(), s.now(), s.store.ReleasePending)
	if err != nil {
		return total, fmt.Errorf("release pending points: %w", err)
	}
	return total, nil
}

// sweep runs batches on opt.Workers goroutines, each until a batch changes
// nothing: all due work is done, or what is left belongs to customers
// another transaction holds right now. A worker that fails stops the
// others after their current batch.
func sweep(ctx context.Context, opt SweepOptions, at time.Time, run func(context.Context, time.Time, int) (Sweep, error)) (Sweep, error) {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		mu    sync.Mutex
		total Sweep
		wg    sync.WaitGroup
	)
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b, err := run(ctx, at, opt.Batch)
				if err != nil {
					stop(err)
					return
				}
				if b.Lots == 0 && b.Customers == 0 {
					return
				}
				b.Batches = 1
				mu.Lock()
				total.add(b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return total, context.Cause(ctx)
}

// ReleasingPoints is how many pending points become spendable on a day.
type ReleasingPoints struct {
	Points int64
	On     time.Time // the day, at midnight UTC
}

// LotRelease is what a pending lot holds and when it becomes spendable.
type LotRelease struct {
	Points      int64
	AvailableAt time.Time
}

// pendingReleases reads a customer's pending lots for the widget.
func (s *Service) pendingReleases(ctx context.Context, c Customer) ([]LotRelease, error) {
	if c.ID == 0 || c.Pending <= 0 {
		return nil, nil
	}
	lots, err := s.store.PendingLots(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]LotRelease, 0, len(lots))
	for _, l := range lots {
		if l.Remaining > 0 {
			out = append(out, LotRelease{Points: l.Remaining, AvailableAt: l.AvailableAt})
		}
	}
	return out, nil
}

// byReleaseDay sums pending lots by the day they become spendable, soonest
// first. A lot whose release is due but not yet done shows under its own
// day: the release job is minutes away.
func byReleaseDay(lots []LotRelease) []ReleasingPoints {
	byDay := map[time.Time]int64{}
	for _, l := range lots {
		byDay[l.AvailableAt.UTC().Truncate(24*time.Hour)] += l.Points
	}
	out := make([]ReleasingPoints, 0, len(byDay))
	for day, n := range byDay {
		out = append(out, ReleasingPoints{Points: n, On: day})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].On.Before(out[j].On) })
	return out
}
