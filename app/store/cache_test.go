package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loyalty/app"
	"loyalty/app/apptest"
	"loyalty/app/store"
)

// cacheRig is the app wired as main wires it: the store tells the Redis
// view cache about every change, and the service reads views through it.
type cacheRig struct {
	ctx   context.Context
	store *store.Store
	rdb   *redis.Client
	cache *store.ViewCache
	svc   *app.Service
	// later is another process (a worker) running a day later, writing to
	// the same database.
	later *app.Service
	shop  app.Shop
	now   time.Time
}

func newCacheRig(t testing.TB) *cacheRig {
	t.Helper()
	st, _ := apptest.NewDB(t)
	rdb := apptest.NewRedisClient(t)
	r := &cacheRig{ctx: context.Background(), store: st, rdb: rdb, cache: store.NewViewCache(rdb, nil),
		now: time.Now().UTC().Truncate(time.Second)}
	st.OnLedgerChange(r.cache.Invalidate)
	st.OnProgramChange(r.cache.InvalidateShop)
	r.svc = app.NewService(st, func() time.Time { return r.now }).WithViewCache(r.cache)
	r.later = app.NewService(st, func() time.Time { return r.now.Add(48 * time.Hour) })
	prog := app.DefaultProgram(0)
	prog.SignupBonus, prog.ExpiryDays = 50, 60
	var err error
	if r.shop, err = r.svc.AddShop(r.ctx, app.Shop{Platform: app.Shopify, Domain: "cache.myshopify.com", Currency: "USD"}, &prog); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *cacheRig) view(t testing.TB, customer string) app.CustomerView {
	t.Helper()
	v, err := r.svc.CustomerView(r.ctx, r.shop, customer)
	if err != nil {
		t.Fatalf("view of %s: %v", customer, err)
	}
	return v
}

// cached reports whether the cache holds a current snapshot of customer.
func (r *cacheRig) cached(customer string) bool {
	_, _, hit := r.cache.Load(r.ctx, r.shop.ID, customer)
	return hit
}

func (r *cacheRig) accrue(t testing.TB, order, customer, amount string) {
	t.Helper()
	if _, err := r.svc.AccrueOrder(r.ctx, r.shop, app.OrderPaid{OrderID: order, Name: "#" + order,
		Customer: &app.CustomerRef{PlatformID: customer, FirstName: "Ada"}, Subtotal: app.MustAmount(amount)}); err != nil {
		t.Fatal(err)
	}
}

func (r *cacheRig) redeem(t testing.TB, customer string, reward app.Reward, key string) app.Redemption {
	t.Helper()
	red, err := r.svc.Redeem(r.ctx, r.shop, app.RedeemRequest{CustomerID: customer, RewardID: reward.ID, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return red
}

// truth is the customer's balance, pending points and latest entry as
// PostgreSQL has them.
func (r *cacheRig) truth(t testing.TB, customer string) (int64, int64, app.Entry) {
	t.Helper()
	c, err := r.store.CustomerByPlatformID(r.ctx, r.shop.ID, customer)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := r.store.Entries(r.ctx, r.shop.ID, c.ID, 1)
	if err != nil || len(entries) == 0 {
		t.Fatalf("entries: %v %v", entries, err)
	}
	return c.Balance, c.Pending, entries[0]
}

// unusedCodes are the customer's codes not used yet, as PostgreSQL has them.
func (r *cacheRig) unusedCodes(t testing.TB, customer string) []app.Redemption {
	t.Helper()
	c, err := r.store.CustomerByPlatformID(r.ctx, r.shop.ID, customer)
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.store.Redemptions(r.ctx, r.shop.ID, c.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var unused []app.Redemption
	for _, red := range all {
		if red.Status == app.RedemptionPending || red.Status == app.RedemptionIssued {
			unused = append(unused, red)
		}
	}
	return unused
}

func codeStates(rs []app.Redemption) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s:%s ", r.Code, r.Status)
	}
	return b.String()
}

func TestCachedViewShowsEveryChangeAtOnce(t *testing.T) {
	r := newCacheRig(t)
	reward, err := r.svc.AddReward(r.ctx, r.shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 100,
		Amount: app.MustAmount("5.00"), ExpiryDays: 1, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	const shopper = "7001"
	r.accrue(t, "1000", shopper, "900.00")

	changes := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"an order paid", func(t *testing.T) { r.accrue(t, "1001", shopper, "120.00") }},
		{"a refund", func(t *testing.T) {
			if _, err := r.svc.ReverseRefund(r.ctx, r.shop, app.OrderRefunded{OrderID: "1001", RefundID: "r1", Lines: app.MustAmount("20.00")}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a cancellation", func(t *testing.T) {
			if _, err := r.svc.CancelOrder(r.ctx, r.shop, app.OrderCancelled{OrderID: "1001"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a staff adjustment", func(t *testing.T) {
			if _, err := r.svc.Adjust(r.ctx, r.shop, app.Adjustment{CustomerID: shopper, Points: -7, Reason: "goodwill undone", Staff: "anna", IdempotencyKey: "a1"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"the signup bonus", func(t *testing.T) {
			if _, err := r.svc.WelcomeCustomer(r.ctx, r.shop, app.CustomerCreated{Customer: app.CustomerRef{PlatformID: shopper}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a redemption", func(t *testing.T) { r.redeem(t, shopper, reward, "k1") }},
		{"a code that could not be created gives the points back", func(t *testing.T) {
			red := r.redeem(t, shopper, reward, "k2")
			if _, err := r.svc.FailRedemption(r.ctx, r.shop, red.ID, "platform said no"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a code made on the platform", func(t *testing.T) {
			red := r.redeem(t, shopper, reward, "k4")
			r.view(t, shopper) // cached while the code is pending
			if err := r.svc.IssueRedemption(r.ctx, r.shop, red.ID, "gid://shopify/DiscountCodeNode/4"); err != nil {
				t.Fatal(err)
			}
		}},
		{"an order that used the code", func(t *testing.T) {
			codes := r.unusedCodes(t, shopper)
			if len(codes) == 0 {
				t.Fatal("no code to use")
			}
			if _, err := r.svc.AccrueOrder(r.ctx, r.shop, app.OrderPaid{OrderID: "1002", Customer: &app.CustomerRef{PlatformID: "7003"},
				Subtotal: app.MustAmount("30.00"), DiscountCodes: []string{codes[0].Code}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a code that expired unused gives the points back, from another process", func(t *testing.T) {
			red := r.redeem(t, shopper, reward, "k3")
			if err := r.svc.IssueRedemption(r.ctx, r.shop, red.ID, "gid://shopify/DiscountCodeNode/1"); err != nil {
				t.Fatal(err)
			}
			r.view(t, shopper) // cached while the code is out
			if _, done, err := r.later.ExpireCodes(r.ctx, 10); err != nil || len(done) == 0 {
				t.Fatalf("expired %v, %v", done, err)
			}
		}},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			r.view(t, shopper)
			if !r.cached(shopper) {
				t.Fatal("the view was not cached")
			}
			c.change(t)
			v := r.view(t, shopper)
			balance, pending, latest := r.truth(t, shopper)
			if v.Customer.Balance != balance || v.Customer.Pending != pending || v.History[0].ID != latest.ID {
				t.Fatalf("cached view shows balance %d, pending %d, latest entry %d; the ledger has %d, %d, %d",
					v.Customer.Balance, v.Customer.Pending, v.History[0].ID, balance, pending, latest.ID)
			}
			if got, want := codeStates(v.Codes), codeStates(r.unusedCodes(t, shopper)); got != want {
				t.Fatalf("cached view shows the codes %s; the store has %s", got, want)
			}
		})
	}

	t.Run("a shopper new to the program, then their first order", func(t *testing.T) {
		if v := r.view(t, "7002"); v.Customer.Balance != 0 || !r.cached("7002") {
			t.Fatalf("view = %+v, cached %t", v.Customer, r.cached("7002"))
		}
		r.accrue(t, "2001", "7002", "42.00")
		if v := r.view(t, "7002"); v.Customer.Balance != 42 || v.Customer.FirstName != "Ada" {
			t.Fatalf("customer = %+v", v.Customer)
		}
	})
	t.Run("a redacted shopper's view is gone at once", func(t *testing.T) {
		r.view(t, shopper)
		if _, err := r.svc.RedactCustomer(r.ctx, r.shop, app.RedactRequest{CustomerID: shopper}); err != nil {
			t.Fatal(err)
		}
		if v := r.view(t, shopper); v.Customer.ID != 0 || v.Customer.Balance != 0 || v.Customer.FirstName != "" || len(v.History) != 0 {
			t.Fatalf("the redacted shopper's view survived: %+v", v)
		}
	})
}

func TestCachedViewShowsProgramAndRewardChangesAtOnce(t *testing.T) {
	r := newCacheRig(t)
	r.accrue(t, "1", "7001", "100.00")
	// Another process (a replica, a support command) with its own copies,
	// sharing the database and Redis.
	other := app.NewService(r.store, func() time.Time { return r.now }).WithViewCache(store.NewViewCache(r.rdb, nil))
	var reward app.Reward
	changes := []struct {
		name  string
		apply func(t *testing.T)
		check func(v app.CustomerView) bool
	}{
		{"a reward added", func(t *testing.T) {
			var err error
			if reward, err = other.AddReward(r.ctx, r.shop, app.Reward{Name: "5.00 off", Kind: app.RewardFixed, Points: 50,
				Amount: app.MustAmount("5.00"), Active: true}); err != nil {
				t.Fatal(err)
			}
		}, func(v app.CustomerView) bool { return len(v.Rewards) == 1 && v.Rewards[0].Points == 50 }},
		{"a reward withdrawn", func(t *testing.T) {
			if err := other.SetRewardActive(r.ctx, r.shop, reward.ID, false); err != nil {
				t.Fatal(err)
			}
		}, func(v app.CustomerView) bool { return len(v.Rewards) == 0 }},
		{"the program changed", func(t *testing.T) {
			prog, err := other.Program(r.ctx, r.shop)
			if err != nil {
				t.Fatal(err)
			}
			prog.SignupBonus = 75
			if err := r.store.SaveProgram(r.ctx, prog); err != nil {
				t.Fatal(err)
			}
		}, func(v app.CustomerView) bool { return v.Program.SignupBonus == 75 }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			for _, who := range []string{"7001", ""} {
				r.view(t, who)
				r.view(t, who)
			}
			c.apply(t)
			for _, who := range []string{"7001", ""} {
				if v := r.view(t, who); !c.check(v) {
					t.Fatalf("view of %q = program %+v, rewards %+v", who, v.Program, v.Rewards)
				}
			}
		})
	}
}

func TestCacheNeverKeepsAViewAChangeOvertook(t *testing.T) {
	r := newCacheRig(t)
	r.accrue(t, "1", "7001", "100.00")

	// A reader takes the generation and reads PostgreSQL...
	_, token, hit := r.cache.Load(r.ctx, r.shop.ID, "7001")
	if hit {
		t.Fatal("nothing was cached yet")
	}
	stale := r.view(t, "7001") // (served without the cache's help below)
	r.rdb.FlushDB(r.ctx)
	_, token, _ = r.cache.Load(r.ctx, r.shop.ID, "7001")
	before := app.CustomerSnapshot{Customer: *stale.Customer, History: stale.History, ReadAt: r.now}

	// ...a writer commits and invalidates...
	r.accrue(t, "2", "7001", "30.00")

	// ...and the reader's save, of what it read before the change, is refused.
	r.cache.Save(r.ctx, r.shop.ID, "7001", token.Customer, before)
	if r.cached("7001") {
		t.Fatal("a snapshot read before a change was kept after it")
	}
	if v := r.view(t, "7001"); v.Customer.Balance != 130 {
		t.Fatalf("balance %d, want 130", v.Customer.Balance)
	}

	t.Run("a save with no change in between is kept", func(t *testing.T) {
		r.rdb.FlushDB(r.ctx)
		_, token, _ := r.cache.Load(r.ctx, r.shop.ID, "7001")
		fresh := r.view(t, "7001")
		r.rdb.FlushDB(r.ctx)
		r.cache.Save(r.ctx, r.shop.ID, "7001", token.Customer, app.CustomerSnapshot{Customer: *fresh.Customer, ReadAt: r.now})
		if !r.cached("7001") {
			t.Fatal("the snapshot was not kept")
		}
	})

	t.Run("readers racing writers end with the ledger's balance", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for j := 0; j < 20; j++ {
					r.svc.CustomerView(r.ctx, r.shop, "7001")
				}
			}()
			go func() {
				defer wg.Done()
				for j := 0; j < 5; j++ {
					r.svc.AccrueOrder(r.ctx, r.shop, app.OrderPaid{OrderID: fmt.Sprintf("race-%d-%d", i, j),
						Customer: &app.CustomerRef{PlatformID: "7001"}, Subtotal: app.MustAmount("1.00")})
				}
			}()
		}
		wg.Wait()
		if v := r.view(t, "7001"); v.Customer.Balance != 130+40 {
			t.Fatalf("balance %d after the race, want 170", v.Customer.Balance)
		}
	})
}

// Each process keeps the snapshots it decoded; another process's change
// reaches it at its next read all the same.
func TestProcessCopiesFollowOtherProcessesChanges(t *testing.T) {
	r := newCacheRig(t)
	r.accrue(t, "1", "7001", "100.00")
	base := r.view(t, "7001").Customer.Balance
	// Another serve process on the same Redis and database.
	other := store.NewViewCache(r.rdb, nil)
	otherSvc := app.NewService(r.store, func() time.Time { return r.now }).WithViewCache(other)
	read := func(svc *app.Service) int64 {
		t.Helper()
		v, err := svc.CustomerView(r.ctx, r.shop, "7001")
		if err != nil {
			t.Fatal(err)
		}
		return v.Customer.Balance
	}
	if a, b := read(r.svc), read(otherSvc); a != base || b != base {
		t.Fatalf("balances %d and %d, want %d in both processes", a, b, base)
	}

	// A change made through the first process's store reaches the other,
	// whose copy was read under the old generation.
	r.accrue(t, "2", "7001", "30.00")
	if got := read(otherSvc); got != base+30 {
		t.Fatalf("the other process shows %d after a change, want %d", got, base+30)
	}
	if got := read(r.svc); got != base+30 {
		t.Fatalf("the first process shows %d, want %d", got, base+30)
	}
	// The other process now serves its copy; the first one's copy, read
	// before the change, is not used: it takes the shared snapshot the
	// other saved.
	r.accrue(t, "3", "7001", "20.00")
	_ = read(otherSvc)
	if got := read(r.svc); got != base+50 {
		t.Fatalf("the first process shows %d after the other saved a newer view, want %d", got, base+50)
	}
	if _, _, hit := other.Load(r.ctx, r.shop.ID, "7001"); !hit {
		t.Fatal("the other process's current copy was not used")
	}
	// Redis restarted without its data: the generations the copies were
	// kept under are gone, and no copy is served.
	r.rdb.FlushDB(r.ctx)
	if _, _, hit := other.Load(r.ctx, r.shop.ID, "7001"); hit {
		t.Fatal("a process's copy was served after Redis lost the generation it was kept under")
	}
}

// Loads that arrive together share one pipeline; each gets its own
// shopper's snapshot.
func TestConcurrentLoadsGetTheirOwnViews(t *testing.T) {
	r := newCacheRig(t)
	const shoppers = 200
	for i := range shoppers {
		id := strconv.Itoa(8000 + i)
		_, tokens, _ := r.cache.Load(r.ctx, r.shop.ID, id)
		r.cache.Save(r.ctx, r.shop.ID, id, tokens.Customer, app.CustomerSnapshot{
			Customer: app.Customer{ShopID: r.shop.ID, PlatformID: id, Balance: int64(i)}, ReadAt: r.now})
	}
	// A process that has decoded none of them yet, and then has them all.
	other := store.NewViewCache(r.rdb, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				i := (g*31 + j*7) % shoppers
				snap, _, hit := other.Load(r.ctx, r.shop.ID, strconv.Itoa(8000+i))
				if !hit || snap.Customer.Balance != int64(i) {
					errs <- fmt.Errorf("shopper %d: hit %v, balance %d", 8000+i, hit, snap.Customer.Balance)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A process's copy stands in for the shared snapshot no longer than the
// shared one lives, the safety net for an invalidation that never reached
// Redis.
func TestProcessCopyLivesNoLongerThanTheSharedView(t *testing.T) {
	r := newCacheRig(t)
	r.accrue(t, "1", "7001", "100.00")
	clock := time.Now()
	store.SetViewCacheClock(r.cache, func() time.Time { return clock })
	r.view(t, "7001") // read from PostgreSQL, saved, kept
	if !r.cached("7001") {
		t.Fatal("the view was not kept")
	}
	// The shared snapshot expires (its TTL), the generation stays: no
	// change was announced.
	if err := r.rdb.Del(r.ctx, "loyalty:view:"+store.ViewSchema()+":"+strconv.FormatInt(r.shop.ID, 10)+":7001").Err(); err != nil {
		t.Fatal(err)
	}
	if !r.cached("7001") {
		t.Fatal("a fresh copy was not used while the generation stood")
	}
	clock = clock.Add(11 * time.Minute)
	if r.cached("7001") {
		t.Fatal("a copy older than a shared view may live was served")
	}
}

func TestCacheDownFallsBackToPostgres(t *testing.T) {
	r := newCacheRig(t)
	r.accrue(t, "1", "7001", "100.00")
	r.view(t, "7001")

	t.Run("when Redis cannot be reached", func(t *testing.T) {
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
		defer down.Close()
		cache := store.NewViewCache(down, nil)
		svc := app.NewService(r.store, func() time.Time { return r.now }).WithViewCache(cache)
		for i := 0; i < 3; i++ {
			v, err := svc.CustomerView(r.ctx, r.shop, "7001")
			if err != nil || v.Customer.Balance != 100 {
				t.Fatalf("view = %+v, %v", v.Customer, err)
			}
		}
		// Invalidating through it fails without failing the write.
		r.store.OnLedgerChange(cache.Invalidate)
		r.accrue(t, "2", "7001", "5.00")
		if v, err := svc.CustomerView(r.ctx, r.shop, "7001"); err != nil || v.Customer.Balance != 105 {
			t.Fatalf("view = %+v, %v", v.Customer, err)
		}
	})
	t.Run("when the connection is gone", func(t *testing.T) {
		opt := *r.rdb.Options()
		gone := redis.NewClient(&opt)
		cache := store.NewViewCache(gone, nil)
		svc := app.NewService(r.store, func() time.Time { return r.now }).WithViewCache(cache)
		svc.CustomerView(r.ctx, r.shop, "7001")
		gone.Close()
		if v, err := svc.CustomerView(r.ctx, r.shop, "7001"); err != nil || v.Customer.Balance != 105 {
			t.Fatalf("view = %+v, %v", v.Customer, err)
		}
	})
}

func TestCachedViewExpiringWindowSlides(t *testing.T) {
	r := newCacheRig(t) // points expire 60 days after they are earned
	r.accrue(t, "1", "7001", "100.00")
	r.view(t, "7001")
	start := r.now
	defer func() { r.now = start }()

	r.now = start.Add(59 * time.Minute)
	if v := r.view(t, "7001"); !r.cached("7001") || len(v.Expiring) != 1 || v.Expiring[0].Points != 100 {
		t.Fatalf("expiring = %+v", v.Expiring)
	}
	// Past the snapshot's life the store is read again, and its lots
	// are the ones of the new window.
	r.now = start.Add(61 * 24 * time.Hour)
	if v := r.view(t, "7001"); len(v.Expiring) != 0 {
		t.Fatalf("points that expired yesterday still show: %+v", v.Expiring)
	}
}

// BenchmarkCustomerView reads the widget views of 200 shoppers with 30
// entries each, at random, and a guest's view (the program and rewards
// alone): from PostgreSQL every time, and through the Redis view cache.
func BenchmarkCustomerView(b *testing.B) {
	r := newCacheRig(b)
	for i, points := range []int64{100, 300, 500, 800, 2000} {
		r.svc.AddReward(r.ctx, r.shop, app.Reward{Name: "reward " + strconv.Itoa(i), Kind: app.RewardFixed, Points: points,
			Amount: app.MustAmount("5.00"), Active: true})
	}
	const shoppers, orders = 200, 30
	var wg sync.WaitGroup
	for c := 0; c < shoppers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := 0; o < orders; o++ {
				r.svc.AccrueOrder(r.ctx, r.shop, app.OrderPaid{OrderID: fmt.Sprintf("%d-%d", c, o),
					Customer: &app.CustomerRef{PlatformID: strconv.Itoa(9000 + c)}, Subtotal: app.MustAmount("12.00")})
			}
		}()
	}
	wg.Wait()
	services := []struct {
		name string
		svc  *app.Service
	}{{"uncached", app.NewService(r.store, func() time.Time { return r.now })}, {"cached", r.svc}}
	for _, shopper := range []string{"signed-in", "guest"} {
		for _, s := range services {
			b.Run(shopper+"/"+s.name, func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						i++
						id, want := strconv.Itoa(9000+i*7%shoppers), int64(12*orders)
						if shopper == "guest" {
							id, want = "", 0
						}
						v, err := s.svc.CustomerView(r.ctx, r.shop, id)
						if err != nil || len(v.Rewards) != 5 || (v.Customer != nil) != (id != "") || (v.Customer != nil && v.Customer.Balance != want) {
							b.Fatalf("view = %+v, %v", v, err)
						}
					}
				})
			})
		}
	}
}
