package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store is the persistence the loyalty service needs. app/store implements it
// on PostgreSQL.
type Store interface {
	// InTx runs fn in one database transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(Tx) error) error

	CreateShop(ctx context.Context, s Shop, p Program) (Shop, error)
	ShopByDomain(ctx context.Context, platform Platform, domain string) (Shop, error)
	Shops(ctx context.Context) ([]Shop, error)
	SetShopStatus(ctx context.Context, shopID int64, status ShopStatus) error
	Program(ctx context.Context, shopID int64) (Program, error)
	SaveProgram(ctx context.Context, p Program) error

	CustomerByPlatformID(ctx context.Context, shopID int64, platformID string) (Customer, error)
	Entries(ctx context.Context, shopID, customerID int64, limit int) ([]Entry, error)
	Lots(ctx context.Context, customerID int64) ([]Lot, error)
	// ExpiringLots lists a customer's lots that still hold points and
	// expire between from and until.
	ExpiringLots(ctx context.Context, customerID int64, from, until time.Time) ([]Lot, error)
	Order(ctx context.Context, shopID int64, platformOrderID string) (Order, error)
	// OrderNames maps platform order ids to the names shoppers know them
	// by ("#1001").
	OrderNames(ctx context.Context, shopID int64, platformIDs []string) (map[string]string, error)
	Reconcile(ctx context.Context, shopID int64) ([]Discrepancy, error)

	Installer
	PrivacyStore
	Connector
	RewardStore
	ExpiryStore
	BonusStore
	NotificationStore
	StaffStore
	KPIStore
	ExportStore
	ConsoleStore
}

// Tx is what a ledger transaction can do. Lock order is always order before
// customer, so two events for the same order and customer never deadlock.
type Tx interface {
	// LockOrder returns the order, creating an Unpaid placeholder when it is
	// not known yet, and holds its row lock until the transaction ends.
	LockOrder(ctx context.Context, shopID int64, platformOrderID string) (Order, error)
	SaveOrder(ctx context.Context, o Order) error
	// AddRefund records a refund once; false means it was recorded before.
	AddRefund(ctx context.Context, orderID int64, r OrderRefunded) (bool, error)
	Refunds(ctx context.Context, orderID int64) ([]OrderRefunded, error)
	// EntryByKey finds the shop's entry written under an idempotency key,
	// or returns ENotFound.
	EntryByKey(ctx context.Context, shopID int64, key string) (Entry, error)
	// LockCustomer returns the customer, creating them when new and
	// refreshing their details from ref, and holds their row lock.
	LockCustomer(ctx context.Context, shopID int64, ref CustomerRef) (Customer, error)
	LockCustomerByID(ctx context.Context, customerID int64) (Customer, error)
	SetBirthday(ctx context.Context, customerID int64, b Birthday) error
	// Post appends an entry, adds or consumes lots and moves the balance, or
	// returns ErrDuplicate when the idempotency key was used before.
	Post(ctx context.Context, p Posting) (Entry, error)
	// LockOrders, LockCustomers, PostCredits and SaveOrders do for a
	// batch of orders, each in one statement, what LockOrder,
	// LockCustomer, Post (credits only) and SaveOrder do for one; rows
	// are locked in the order given, and the customers must be distinct.
	LockOrders(ctx context.Context, shopID int64, platformOrderIDs []string) ([]Order, error)
	LockCustomers(ctx context.Context, shopID int64, refs []CustomerRef) ([]Customer, error)
	PostCredits(ctx context.Context, ps []Posting) (map[string]Entry, error)
	SaveOrders(ctx context.Context, os []Order) error
	// RecordDeliveries and AddNotifications are the store's, inside the
	// transaction, so the records commit with what they tell of.
	RecordDeliveries(ctx context.Context, ds []WebhookDelivery) error
	AddNotifications(ctx context.Context, ns []Notification) ([]Notification, error)

	RedemptionTx
	ConsoleTx
}

// Posting is a ledger entry about to be written, with what the store needs
// to move lots and balances.
type Posting struct {
	ShopID         int64
	CustomerID     int64
	OrderID        int64 // internal order id, 0 when not about an order
	Kind           EntryKind
	Points         int64
	Unrecovered    int64
	Cause          Cause
	IdempotencyKey string
	At             time.Time
	// For credits: when the lot becomes spendable and when it expires.
	AvailableAt time.Time
	ExpiresAt   *time.Time
	// For debits: whether pending points may be taken (reversals may,
	// redemptions may not).
	SpendPending bool
}

// Discrepancy is a customer whose balance does not match their ledger.
type Discrepancy struct {
	CustomerID    int64
	PlatformID    string
	Balance       int64
	Pending       int64
	LedgerSum     int64
	LotsRemaining int64
}

func (d Discrepancy) String() string {
	return fmt.Sprintf("customer %s: balance %d + pending %d, ledger sums to %d, lots hold %d",
		d.PlatformID, d.Balance, d.Pending, d.LedgerSum, d.LotsRemaining)
}

// Service applies platform events and staff actions to the ledger.
type Service struct {
	store Store
	now   func() time.Time
	views *viewCaching // nil: widget views are read from the store every time

	// notices hands new notifications to the workers; nil: they wait for
	// the outbox sweep.
	notices NoticeQueue

	// passwords hashes staff passwords; decoy is a hash checked for
	// unknown emails, so that a wrong email costs as long as a wrong
	// password.
	passwords PasswordHasher
	decoyOnce sync.Once
	decoy     string
}

// NewService returns a service over store; now is the clock (time.Now in
// production, a fixed clock in tests).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

var shopifyDomain = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// AddShop registers a shop with the default program (or the one given).
func (s *Service) AddShop(ctx context.Context, shop Shop, program *Program) (Shop, error) {
	shop.Domain = strings.ToLower(strings.TrimSpace(shop.Domain))
	if !shop.Platform.Valid() {
		return Shop{}, Errorf(EInvalid, "platform must be shopify or woocommerce, not %q", shop.Platform)
	}
	if shop.Platform == Shopify && !shopifyDomain.MatchString(shop.Domain) {
		return Shop{}, Errorf(EInvalid, "shopify domain must look like name.myshopify.com, not %q", shop.Domain)
	}
	if shop.Domain == "" {
		return Shop{}, Errorf(EInvalid, "domain is required")
	}
	shop.Currency = strings.ToUpper(strings.TrimSpace(shop.Currency))
	if shop.Currency == "" {
		shop.Currency = "USD"
	}
	if len(shop.Currency) != 3 {
		return Shop{}, Errorf(EInvalid, "currency must be a 3-letter ISO code, not %q", shop.Currency)
	}
	if shop.Name == "" {
		shop.Name = shop.Domain
	}
	shop.Status = ShopActive
	p := DefaultProgram(0)
	if program != nil {
		p = *program
	}
	if err := p.Validate(); err != nil {
		return Shop{}, err
	}
	return s.store.CreateShop(ctx, shop, p)
}

// AccrueOrder credits a paid order's points to its customer. Applying the
// same order twice, or after it was cancelled, changes nothing; refunds that
// arrived before the order was paid are taken back at once.
func (s *Service) AccrueOrder(ctx context.Context, shop Shop, e OrderPaid) (Outcome, error) {
	outs, err := s.AccrueOrders(ctx, shop, []OrderPaid{e})
	if err != nil {
		return Outcome{}, err
	}
	return outs[0], nil
}

// AccrueOrders credits several paid orders of one shop in one transaction,
// each exactly as AccrueOrder would, and returns their outcomes in the
// order given. On a busy shop this is what makes accrual cheap: one program
// read and one commit for the lot. Either all are applied or, on an error,
// none; callers then apply them one by one to find the one that fails.
func (s *Service) AccrueOrders(ctx context.Context, shop Shop, events []OrderPaid) ([]Outcome, error) {
	return s.accrueOrders(ctx, shop, events, nil)
}

// AccrueAndRecord is AccrueOrders for orders that came as webhook
// deliveries: in the same transaction it records what became of each
// delivery (record turns the outcomes into the deliveries' records) and the
// messages the outcomes call for, so a batch costs one commit. It returns
// queue, which hands the recorded messages to the workers: callers release
// what waits for the commit first, as the messages' rows are their outbox.
// A shop that is not active earns nothing and gets no transaction: record
// is not called.
func (s *Service) AccrueAndRecord(ctx context.Context, shop Shop, events []OrderPaid, record func([]Outcome) []WebhookDelivery) (outs []Outcome, queue func(context.Context), err error) {
	var added []Notification
	outs, err = s.accrueOrders(ctx, shop, events, func(tx Tx, outs []Outcome) error {
		if err := tx.RecordDeliveries(ctx, record(outs)); err != nil {
			return err
		}
		// Messages are best effort: one that cannot be built is not worth
		// the batch's points.
		rows, _ := s.messagesFor(ctx, shop, outs)
		var err error
		added, err = tx.AddNotifications(ctx, rows)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	// The queue as it is now, before the caller releases anything: the
	// caller queues later, on its own goroutine.
	q := s.notices
	return outs, func(ctx context.Context) { queueMessages(ctx, q, shop, added) }, nil
}

func (s *Service) accrueOrders(ctx context.Context, shop Shop, events []OrderPaid, then func(Tx, []Outcome) error) ([]Outcome, error) {
	outs := make([]Outcome, len(events))
	if !shop.Active() {
		for i := range outs {
			outs[i].Skipped = SkipShopInactive
		}
		return outs, nil
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		// The lock order of every transaction is orders, then customers;
		// a batch takes its orders by id and then its customers by
		// platform id, so batches, refunds and cancellations running at
		// once never wait for each other in a circle.
		var ids []string
		for _, i := range sortedBy(events, func(e OrderPaid) string { return e.OrderID }) {
			if id := events[i].OrderID; len(ids) == 0 || ids[len(ids)-1] != id {
				ids = append(ids, id)
			}
		}
		orders, err := tx.LockOrders(ctx, shop.ID, ids)
		if err != nil {
			return err
		}
		locked := make(map[string]Order, len(orders))
		for _, o := range orders {
			locked[o.PlatformID] = o
		}
		if plain(events, locked) {
			if err := s.accruePlain(ctx, tx, shop, prog, events, locked, outs, now); err != nil {
				return err
			}
		} else if err := s.accrueEach(ctx, tx, shop, prog, events, locked, outs, now); err != nil {
			return err
		}
		if then != nil {
			return then(tx, outs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// accrueEach is accrue for each order of a batch, its customers in
// platform id order.
func (s *Service) accrueEach(ctx context.Context, tx Tx, shop Shop, prog Program, events []OrderPaid, locked map[string]Order, outs []Outcome, now time.Time) error {
	first := make(map[string]int, len(events))
	for _, i := range sortedBy(events, customerKey) {
		e := events[i]
		if j, seen := first[e.OrderID]; seen {
			// A second delivery of an order in the same batch finds
			// it as the first left it, as it would one by one.
			outs[i].Skipped = SkipDuplicate
			if outs[j].Skipped == SkipCancelled {
				outs[i].Skipped = SkipCancelled
			}
			continue
		}
		first[e.OrderID] = i
		out, err := s.accrue(ctx, tx, shop, prog, e, locked[e.OrderID], now)
		if err != nil {
			return fmt.Errorf("order %s: %w", e.OrderID, err)
		}
		outs[i] = out
	}
	return nil
}

// plain reports whether a batch is the common case that accruePlain
// credits with a few statements for all its orders: orders new to the
// ledger (so nothing refers to them), each once, of distinct signed-in
// customers, using no reward codes. Anything else goes one order at a time.
func plain(events []OrderPaid, locked map[string]Order) bool {
	orders := make(map[string]bool, len(events))
	customers := make(map[string]bool, len(events))
	for _, e := range events {
		c := customerKey(e)
		if c == "" || len(e.DiscountCodes) > 0 || orders[e.OrderID] || customers[c] || !locked[e.OrderID].New {
			return false
		}
		orders[e.OrderID], customers[c] = true, true
	}
	return true
}

// accruePlain is accrue for a plain batch (see plain), set-based: its
// customers locked with one statement, its credits posted with one, its
// orders saved with one.
func (s *Service) accruePlain(ctx context.Context, tx Tx, shop Shop, prog Program, events []OrderPaid, locked map[string]Order, outs []Outcome, now time.Time) error {
	byCustomer := sortedBy(events, customerKey)
	refs := make([]CustomerRef, len(byCustomer))
	for k, i := range byCustomer {
		refs[k] = *events[i].Customer
	}
	customers, err := tx.LockCustomers(ctx, shop.ID, refs)
	if err != nil {
		return err
	}
	orders := make([]Order, len(events))
	var postings []Posting
	for k, i := range byCustomer {
		e := events[i]
		paidAt := e.PaidAt
		if paidAt.IsZero() {
			paidAt = now
		}
		o := locked[e.OrderID]
		o.Name, o.Currency, o.PaidAt, o.TaxesIncluded = e.Name, e.Currency, &paidAt, e.TaxesIncluded
		var posting *Posting
		orders[k], posting = settlePaid(shop, prog, e, o, customers[k], nil, paidAt, now)
		if posting == nil {
			outs[i].Skipped = SkipZeroPoints
			continue
		}
		postings = append(postings, *posting)
		outs[i].seen = &seenState{program: prog, customer: customers[k]}
	}
	entries, err := tx.PostCredits(ctx, postings)
	if err != nil {
		return err
	}
	for _, i := range byCustomer {
		if outs[i].Skipped != SkipNone {
			continue
		}
		entry, ok := entries["order:"+events[i].OrderID+":earn"]
		if !ok {
			// A new order's key cannot have been used: something is off,
			// and the one-by-one path will say what.
			return Errorf(EInternal, "order %s earned no entry", events[i].OrderID)
		}
		outs[i].Entries = []Entry{entry}
	}
	return tx.SaveOrders(ctx, orders)
}

// sortedBy returns the indexes of events in the order of key, stable.
func sortedBy(events []OrderPaid, key func(OrderPaid) string) []int {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return key(events[order[a]]) < key(events[order[b]]) })
	return order
}

func customerKey(e OrderPaid) string {
	if e.Customer == nil {
		return ""
	}
	return e.Customer.PlatformID
}

// accrue is AccrueOrder inside a transaction, on the order it locked.
func (s *Service) accrue(ctx context.Context, tx Tx, shop Shop, prog Program, e OrderPaid, o Order, now time.Time) (Outcome, error) {
	var out Outcome
	paidAt := e.PaidAt
	if paidAt.IsZero() {
		paidAt = now
	}
	switch o.Status {
	case OrderStatusPaid, OrderStatusSkipped:
		out.Skipped = SkipDuplicate
		return out, nil
	case OrderStatusCancelled:
		out.Skipped = SkipCancelled
		return out, nil
	}
	o.Name, o.Currency, o.PaidAt = e.Name, e.Currency, &paidAt
	o.TaxesIncluded = e.TaxesIncluded
	// Reward codes the order used are spent now, whoever placed it.
	used, err := tx.UseRedemptions(ctx, shop.ID, e.DiscountCodes, e.OrderID, paidAt)
	if err != nil {
		return out, err
	}
	if err := s.respendLateCodes(ctx, tx, shop, prog, used, e.OrderID, now); err != nil {
		return out, err
	}
	if e.Customer == nil || e.Customer.PlatformID == "" {
		// Nobody earns, but the KPIs count what guests spend as
		// non-members' revenue.
		o.Eligible = prog.EligibleOnPaid(e)
		o.Status, o.SkipReason = OrderStatusSkipped, string(SkipGuest)
		out.Skipped = SkipGuest
		return out, tx.SaveOrder(ctx, o)
	}
	c, err := tx.LockCustomer(ctx, shop.ID, *e.Customer)
	if err != nil {
		return out, err
	}
	o, posting := settlePaid(shop, prog, e, o, c, used, paidAt, now)
	if posting == nil {
		out.Skipped = SkipZeroPoints
		return out, tx.SaveOrder(ctx, o)
	}
	out.seen = &seenState{program: prog, customer: c}
	entry, err := tx.Post(ctx, *posting)
	if err != nil {
		return out, err
	}
	out.Entries = append(out.Entries, entry)

	if !o.New {
		// Refunds that overtook the paid event; an order this
		// transaction created has none.
		refunds, err := tx.Refunds(ctx, o.ID)
		if err != nil {
			return out, err
		}
		for _, r := range refunds {
			o.Refunded += prog.EligibleOnRefund(r, o.TaxesIncluded)
		}
	}
	if o.Refunded > 0 {
		c.Balance, c.Pending = entry.BalanceAfter, entry.PendingAfter
		rev, err := s.reverse(ctx, tx, prog, &o, c, "order:"+e.OrderID+":early-refunds", Cause{OrderID: e.OrderID, Reason: "refunded before the payment was processed"}, Proportion(o.PointsEarned, o.Refunded, o.PaidPart()), now)
		if err != nil {
			return out, err
		}
		if rev != nil {
			out.Entries = append(out.Entries, *rev)
		}
	}
	return out, tx.SaveOrder(ctx, o)
}

// settlePaid makes o the paid order of customer c, as the program says,
// and returns it with the posting of its points (nil when it earns none).
func settlePaid(shop Shop, prog Program, e OrderPaid, o Order, c Customer, used []Redemption, paidAt, now time.Time) (Order, *Posting) {
	o.CustomerID = c.ID
	o.Status = OrderStatusPaid
	o.Eligible = prog.EligibleOnPaid(e)
	o.RewardPart = 0
	if prog.RewardPartEarns {
		// Platforms report the subtotal after discounts: the part paid
		// with points earns only when the merchant wants it to.
		o.RewardPart = rewardPart(e, used)
		o.Eligible += o.RewardPart
	}
	o.EarnRate = prog.EarnRate
	o.PointsEarned = prog.PointsForOrder(o.Eligible)
	if o.PointsEarned == 0 {
		return o, nil
	}
	return o, &Posting{
		ShopID: shop.ID, CustomerID: c.ID, OrderID: o.ID,
		Kind: KindEarn, Points: o.PointsEarned,
		Cause:          Cause{OrderID: e.OrderID},
		IdempotencyKey: "order:" + e.OrderID + ":earn",
		At:             now,
		AvailableAt:    paidAt.AddDate(0, 0, prog.PendingDays),
		ExpiresAt:      expiry(paidAt, prog.ExpiryDays),
	}
}

// ReverseRefund takes back the share of an order's points that a refund
// covers. Refunds are remembered even before the order is paid, so
// out-of-order deliveries end in the same balance.
func (s *Service) ReverseRefund(ctx context.Context, shop Shop, e OrderRefunded) (Outcome, error) {
	if !shop.Active() {
		return Outcome{Skipped: SkipShopInactive}, nil
	}
	if e.RefundID == "" || e.OrderID == "" {
		return Outcome{}, Errorf(EInvalid, "refund needs a refund id and an order id")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.now()
	var out Outcome
	err = s.store.InTx(ctx, func(tx Tx) error {
		out = Outcome{}
		o, err := tx.LockOrder(ctx, shop.ID, e.OrderID)
		if err != nil {
			return err
		}
		added, err := tx.AddRefund(ctx, o.ID, e)
		if err != nil {
			return err
		}
		if !added {
			out.Skipped = SkipDuplicate
			return nil
		}
		if o.Status != OrderStatusPaid {
			// Remembered for when (if ever) the paid event arrives.
			out.Skipped = SkipNothingToDo
			return nil
		}
		o.Refunded += prog.EligibleOnRefund(e, o.TaxesIncluded)
		c, err := tx.LockCustomerByID(ctx, o.CustomerID)
		if err != nil {
			return err
		}
		rev, err := s.reverse(ctx, tx, prog, &o, c, "refund:"+e.RefundID, Cause{OrderID: e.OrderID, RefundID: e.RefundID}, Proportion(o.PointsEarned, o.Refunded, o.PaidPart()), now)
		if err != nil {
			return err
		}
		if rev != nil {
			out.Entries = append(out.Entries, *rev)
		}
		// Refunds are measured after discounts, so the paid part is the
		// whole of what can be refunded.
		if o.Refunded >= o.PaidPart() {
			restored, err := s.restoreSpentPoints(ctx, tx, prog, o, "refunded", now)
			if err != nil {
				return err
			}
			out.Entries = append(out.Entries, restored...)
		}
		if len(out.Entries) == 0 {
			out.Skipped = SkipNothingToDo
		}
		return tx.SaveOrder(ctx, o)
	})
	return out, err
}

// CancelOrder takes back everything the order still holds and makes sure a
// late paid event for it earns nothing.
func (s *Service) CancelOrder(ctx context.Context, shop Shop, e OrderCancelled) (Outcome, error) {
	if !shop.Active() {
		return Outcome{Skipped: SkipShopInactive}, nil
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.now()
	at := e.CancelledAt
	if at.IsZero() {
		at = now
	}
	var out Outcome
	err = s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, shop.ID, e.OrderID)
		if err != nil {
			return err
		}
		out, err = s.cancel(ctx, tx, prog, o, at, now)
		return err
	})
	return out, err
}

// cancel is CancelOrder inside a transaction, on the order it locked.
func (s *Service) cancel(ctx context.Context, tx Tx, prog Program, o Order, at, now time.Time) (Outcome, error) {
	var out Outcome
	if o.Status == OrderStatusCancelled {
		out.Skipped = SkipDuplicate
		return out, nil
	}
	wasPaid := o.Status == OrderStatusPaid
	o.Status, o.CancelledAt = OrderStatusCancelled, &at
	if !wasPaid {
		out.Skipped = SkipNothingToDo
		return out, tx.SaveOrder(ctx, o)
	}
	c, err := tx.LockCustomerByID(ctx, o.CustomerID)
	if err != nil {
		return out, err
	}
	rev, err := s.reverse(ctx, tx, prog, &o, c, cancelKey(o.PlatformID, o.Reinstated), Cause{OrderID: o.PlatformID, Reason: "order cancelled"}, o.PointsEarned, now)
	if err != nil {
		return out, err
	}
	if rev != nil {
		out.Entries = append(out.Entries, *rev)
	}
	restored, err := s.restoreSpentPoints(ctx, tx, prog, o, "cancelled", now)
	if err != nil {
		return out, err
	}
	out.Entries = append(out.Entries, restored...)
	if len(out.Entries) == 0 {
		out.Skipped = SkipNothingToDo
	}
	return out, tx.SaveOrder(ctx, o)
}

// cancelKey is the idempotency key of an order's cancellation: each return
// of a reinstated order can be cancelled once more.
func cancelKey(orderID string, reinstated int) string {
	if reinstated == 0 {
		return "order:" + orderID + ":cancel"
	}
	return fmt.Sprintf("order:%s:cancel:%d", orderID, reinstated)
}

// ApplyOrderState applies one state of an order, for platforms that send the
// whole order on every change rather than events. States of one order come
// repeated and in any order, so Version (the platform's modification time)
// decides: a state older than the one already applied is dropped, as it
// would undo what the newer one did. A newer state that earns, for an order
// that was cancelled (paid after the cancellation, restored from the trash),
// reinstates it: the order earns again, once per return. Then the state's
// payment, refunds and cancellation are applied as AccrueOrder,
// ReverseRefund and CancelOrder apply them.
func (s *Service) ApplyOrderState(ctx context.Context, shop Shop, st OrderState) (Outcome, error) {
	if !shop.Active() {
		return Outcome{Skipped: SkipShopInactive}, nil
	}
	if st.OrderID == "" {
		return Outcome{}, Errorf(EInvalid, "an order state needs an order id")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.now()
	var out Outcome
	var skipped []string
	add := func(o Outcome) {
		out.Entries = append(out.Entries, o.Entries...)
		if len(o.Entries) > 0 {
			// What the payment read is out of date once more entries
			// follow it; notifications then read afresh.
			out.seen = o.seen
		}
		if len(o.Entries) == 0 && o.Skipped != SkipNone {
			skipped = append(skipped, string(o.Skipped))
		}
	}
	// The version check, the reinstatement and the payment share one
	// transaction, which holds the order's lock: two states of one order
	// applied at once are serialized, and the older loses.
	err = s.store.InTx(ctx, func(tx Tx) error {
		out, skipped = Outcome{}, nil
		o, err := tx.LockOrder(ctx, shop.ID, st.OrderID)
		if err != nil {
			return err
		}
		if staleState(o, st.Version) {
			out = staleOutcome(o, st.Version)
			return nil
		}
		newer := !st.Version.IsZero() && (o.PlatformUpdatedAt == nil || st.Version.After(*o.PlatformUpdatedAt))
		if newer {
			v := st.Version
			o.PlatformUpdatedAt = &v
		}
		if st.Paid != nil && o.Status == OrderStatusCancelled && newer {
			entries, err := s.reinstate(ctx, tx, prog, &o, now)
			if err != nil {
				return err
			}
			out.Entries = append(out.Entries, entries...)
		}
		if err := tx.SaveOrder(ctx, o); err != nil {
			return err
		}
		if st.Paid != nil {
			paid, err := s.accrue(ctx, tx, shop, prog, *st.Paid, o, now)
			if err != nil {
				return err
			}
			add(paid)
		}
		return nil
	})
	if err != nil || out.Skipped == SkipStale {
		return out, err
	}
	// Refunds only ever add up: one from an older state is in every newer
	// one, so applying them apart from the version check is safe.
	for _, r := range st.Refunds {
		o, err := s.ReverseRefund(ctx, shop, r)
		if err != nil {
			return Outcome{}, err
		}
		add(o)
	}
	if st.Cancelled != nil {
		at := st.Cancelled.CancelledAt
		if at.IsZero() {
			at = now
		}
		var cancelled Outcome
		err = s.store.InTx(ctx, func(tx Tx) error {
			o, err := tx.LockOrder(ctx, shop.ID, st.OrderID)
			if err != nil {
				return err
			}
			if staleState(o, st.Version) {
				// A newer state was applied since the check above.
				cancelled = staleOutcome(o, st.Version)
				return nil
			}
			cancelled, err = s.cancel(ctx, tx, prog, o, at, now)
			return err
		})
		if err != nil {
			return Outcome{}, err
		}
		add(cancelled)
	}
	if len(out.Entries) == 0 {
		out.Skipped = SkipNothingToDo
		if len(skipped) > 0 {
			out.Skipped = Skipped(skipped[len(skipped)-1])
			out.Detail = strings.Join(skipped, "; ")
		}
	}
	return out, nil
}

// staleState reports whether a state of version v is older than the one the
// order last applied. A state without a version is never stale.
func staleState(o Order, v time.Time) bool {
	return !v.IsZero() && o.PlatformUpdatedAt != nil && v.Before(*o.PlatformUpdatedAt)
}

func staleOutcome(o Order, v time.Time) Outcome {
	return Outcome{Skipped: SkipStale, Detail: fmt.Sprintf("%s: this state is of %s, the one applied of %s; dropped",
		SkipStale, v.UTC().Format(time.RFC3339), o.PlatformUpdatedAt.UTC().Format(time.RFC3339))}
}

// reinstate brings back a cancelled order, for a state newer than its
// cancellation that earns again. An order cancelled before it was paid
// becomes unpaid, so its payment earns as any would. A paid one gets back
// what the cancellation took (what it could not take, the customer kept),
// and then gives up the share of the refunds recorded so far, including
// those that arrived while it was cancelled. Every entry is keyed by the
// return, so each return earns once and the next cancellation reverses
// under a key of its own. The ledger only grows: nothing is deleted.
func (s *Service) reinstate(ctx context.Context, tx Tx, prog Program, o *Order, now time.Time) ([]Entry, error) {
	round := o.Reinstated
	o.Reinstated++
	o.CancelledAt = nil
	switch {
	case o.PaidAt == nil:
		o.Status = OrderStatusUnpaid
		return nil, nil
	case o.CustomerID == 0:
		o.Status = OrderStatusSkipped
		return nil, nil
	}
	o.Status = OrderStatusPaid
	key := fmt.Sprintf("order:%s:reinstate:%d", o.PlatformID, o.Reinstated)
	var entries []Entry
	cancelled, err := tx.EntryByKey(ctx, o.ShopID, cancelKey(o.PlatformID, round))
	if err != nil && ErrorCode(err) != ENotFound {
		return nil, err
	}
	if err == nil {
		o.PointsReversed -= -cancelled.Points + cancelled.Unrecovered
		if taken := -cancelled.Points; taken > 0 {
			if _, err := tx.LockCustomerByID(ctx, o.CustomerID); err != nil {
				return nil, err
			}
			e, err := tx.Post(ctx, Posting{
				ShopID: o.ShopID, CustomerID: o.CustomerID, OrderID: o.ID,
				Kind: KindEarn, Points: taken,
				Cause:          Cause{OrderID: o.PlatformID, Reason: "order reinstated after it was cancelled"},
				IdempotencyKey: key, At: now,
				AvailableAt: o.PaidAt.AddDate(0, 0, prog.PendingDays),
				ExpiresAt:   expiry(*o.PaidAt, prog.ExpiryDays),
			})
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
	}
	refunds, err := tx.Refunds(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	var refunded Amount
	for _, r := range refunds {
		refunded += prog.EligibleOnRefund(r, o.TaxesIncluded)
	}
	o.Refunded = max(o.Refunded, refunded)
	c, err := tx.LockCustomerByID(ctx, o.CustomerID)
	if err != nil {
		return nil, err
	}
	rev, err := s.reverse(ctx, tx, prog, o, c, key+":refunds", Cause{OrderID: o.PlatformID, Reason: "refunded while the order was cancelled"},
		Proportion(o.PointsEarned, o.Refunded, o.PaidPart()), now)
	if err != nil {
		return nil, err
	}
	if rev != nil {
		entries = append(entries, *rev)
	}
	return entries, nil
}

// reverse posts a reverse entry that brings what the order has reversed up to
// target, and records it on the order. It returns nil when nothing is due.
func (s *Service) reverse(ctx context.Context, tx Tx, prog Program, o *Order, c Customer, key string, cause Cause, target int64, now time.Time) (*Entry, error) {
	due := target - o.PointsReversed
	if due <= 0 {
		return nil, nil
	}
	take, unrecovered := recoverable(due, c, prog.AllowNegative)
	entry, err := tx.Post(ctx, Posting{
		ShopID: o.ShopID, CustomerID: c.ID, OrderID: o.ID,
		Kind: KindReverse, Points: -take, Unrecovered: unrecovered,
		Cause: cause, IdempotencyKey: key, At: now, SpendPending: true,
	})
	if err != nil {
		return nil, err
	}
	o.PointsReversed += due
	return &entry, nil
}

// WelcomeCustomer records a new customer and grants the program's signup
// bonus once.
func (s *Service) WelcomeCustomer(ctx context.Context, shop Shop, e CustomerCreated) (Outcome, error) {
	if !shop.Active() {
		return Outcome{Skipped: SkipShopInactive}, nil
	}
	if e.Customer.PlatformID == "" {
		return Outcome{}, Errorf(EInvalid, "customer has no id")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.now()
	var out Outcome
	err = s.store.InTx(ctx, func(tx Tx) error {
		out = Outcome{}
		c, err := tx.LockCustomer(ctx, shop.ID, e.Customer)
		if err != nil {
			return err
		}
		if prog.SignupBonus == 0 {
			out.Skipped = SkipNoSignupBonus
			return nil
		}
		entry, err := tx.Post(ctx, Posting{
			ShopID: shop.ID, CustomerID: c.ID, Kind: KindBonus, Points: prog.SignupBonus,
			Cause:          Cause{Job: "signup bonus", Reason: "welcome to the program"},
			IdempotencyKey: "customer:" + e.Customer.PlatformID + ":signup",
			At:             now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays),
		})
		if errors.Is(err, ErrDuplicate) {
			out.Skipped = SkipDuplicate
			return nil
		}
		if err != nil {
			return err
		}
		out.Entries = append(out.Entries, entry)
		return nil
	})
	return out, err
}

// Adjustment is a manual change of a customer's points by a staff member.
type Adjustment struct {
	CustomerID string // the platform's customer id
	Points     int64
	Reason     string
	Staff      string
	// IdempotencyKey makes a retried request (a double click, a re-run
	// command) adjust once.
	IdempotencyKey string
}

// Adjust changes a customer's points by hand. It needs a reason and the name
// of who made it, and may not take more points than the customer has.
func (s *Service) Adjust(ctx context.Context, shop Shop, a Adjustment) (Entry, error) {
	a.Reason, a.Staff = strings.TrimSpace(a.Reason), strings.TrimSpace(a.Staff)
	switch {
	case a.Points == 0:
		return Entry{}, Errorf(EInvalid, "an adjustment must add or remove at least one point")
	case a.Reason == "":
		return Entry{}, Errorf(EInvalid, "an adjustment needs a reason")
	case a.Staff == "":
		return Entry{}, Errorf(EInvalid, "an adjustment needs the name of the staff member making it")
	case a.IdempotencyKey == "":
		return Entry{}, Errorf(EInvalid, "an adjustment needs an idempotency key")
	}
	prog, err := s.store.Program(ctx, shop.ID)
	if err != nil {
		return Entry{}, err
	}
	existing, err := s.store.CustomerByPlatformID(ctx, shop.ID, a.CustomerID)
	if err != nil {
		return Entry{}, err
	}
	now := s.now()
	var entry Entry
	err = s.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.LockCustomerByID(ctx, existing.ID)
		if err != nil {
			return err
		}
		if a.Points < 0 && -a.Points > c.Balance+c.Pending {
			return Errorf(EInsufficientPoint, "customer %s has %d points; cannot remove %d", a.CustomerID, c.Balance+c.Pending, -a.Points)
		}
		entry, err = tx.Post(ctx, Posting{
			ShopID: shop.ID, CustomerID: c.ID, Kind: KindAdjust, Points: a.Points,
			Cause:          Cause{Staff: a.Staff, Reason: a.Reason},
			IdempotencyKey: "adjust:" + a.IdempotencyKey,
			At:             now, AvailableAt: now, ExpiresAt: expiry(now, prog.ExpiryDays),
			SpendPending: true,
		})
		return err
	})
	return entry, err
}

// Balance returns a customer with their balance.
func (s *Service) Balance(ctx context.Context, shop Shop, customerID string) (Customer, error) {
	return s.store.CustomerByPlatformID(ctx, shop.ID, customerID)
}

// History returns a customer's most recent ledger entries, newest first.
func (s *Service) History(ctx context.Context, shop Shop, customerID string, limit int) ([]Entry, error) {
	c, err := s.store.CustomerByPlatformID(ctx, shop.ID, customerID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.Entries(ctx, shop.ID, c.ID, limit)
}

// Reconcile lists the shop's customers whose balance row disagrees with the
// sum of their ledger entries or with their lots. An empty list is healthy.
func (s *Service) Reconcile(ctx context.Context, shop Shop) ([]Discrepancy, error) {
	return s.store.Reconcile(ctx, shop.ID)
}

func expiry(from time.Time, days int) *time.Time {
	if days <= 0 {
		return nil
	}
	t := from.AddDate(0, 0, days)
	return &t
}

// Shop finds a shop by platform and domain.
func (s *Service) Shop(ctx context.Context, platform Platform, domain string) (Shop, error) {
	return s.store.ShopByDomain(ctx, platform, strings.ToLower(strings.TrimSpace(domain)))
}

// OrderNames maps platform order ids to the names shoppers know them by.
func (s *Service) OrderNames(ctx context.Context, shop Shop, platformIDs []string) (map[string]string, error) {
	return s.store.OrderNames(ctx, shop.ID, platformIDs)
}

// Shops lists every registered shop.
func (s *Service) Shops(ctx context.Context) ([]Shop, error) { return s.store.Shops(ctx) }

// Program returns a shop's loyalty rules.
func (s *Service) Program(ctx context.Context, shop Shop) (Program, error) {
	return s.store.Program(ctx, shop.ID)
}

// SetProgram changes a shop's loyalty rules. Orders already paid keep the
// rate they earned at; the change is audited with who made it.
func (s *Service) SetProgram(ctx context.Context, shop Shop, p Program, staff, change string) error {
	p.ShopID = shop.ID
	if err := p.Validate(); err != nil {
		return err
	}
	if strings.TrimSpace(staff) == "" {
		return Errorf(EInvalid, "a program change needs the name of the staff member making it")
	}
	if err := s.store.SaveProgram(ctx, p); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: staff, Action: "change program",
		Outcome: AuditOK, Detail: change})
}
