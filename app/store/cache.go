package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"loyalty/app"
)

// ViewCache is app.ViewCache on Redis: the shopper's part of the storefront
// widget's view, kept between changes to their records. For a shop's
// shopper (the shop's id and the platform's customer id) it keeps two keys:
//
//	loyalty:view:gen:SHOP:CUSTOMER       their generation: a new random value at every change
//	loyalty:view:SCHEMA:SHOP:CUSTOMER    the snapshot (JSON), with the generation it was read at
//
// and for each shop loyalty:view:shopgen:SHOP, the generation of its program
// and rewards, which InvalidateShop renews at every change to them; the
// service keeps its own copy of those and compares generations (it gets
// the shop's with the shopper's, in the same round trip).
//
// A read takes the generation before it asks PostgreSQL (Load), and Save
// writes the snapshot only if the generation is still the same, checked
// and written by one Lua script. Invalidate, which the store calls after
// every transaction that changed a customer, sets a new generation and
// deletes the snapshot in one MULTI. So a change that commits while a read
// is under way replaces the generation the read took, and the read's Save
// is refused: a stale snapshot is never kept. Load also compares the
// snapshot's generation with the current one, so a snapshot that outlived
// its invalidation some other way is a miss.
//
// Generations are random rather than counted so that one can never come
// back: a counter whose key expired would start again and could match a
// token taken before. SCHEMA is a hash of the snapshot's Go type, so a
// deploy that changes it never decodes the old format; the generation keys
// have no schema, so an old process's invalidation also reaches the new
// processes' snapshots during a rolling deploy.
//
// Each process also keeps the snapshots it decoded lately, by the
// generation they were read at (decoding was a fifth of a widget read's
// CPU). Load then asks Redis for the generations alone and takes the
// process's copy when the shopper's generation is still the one it was
// read at; the snapshot itself crosses the wire only when it changed. A
// copy is only ever used after that check, so it is exactly as fresh as
// the shared one.
//
// Snapshots live at most viewTTL, a safety net for an invalidation that
// could not reach Redis. When Redis cannot be reached, Load misses and Save
// does nothing (logged at debug level) for a short rest, and the view is
// read from PostgreSQL: the widget never fails for the cache's sake.
type ViewCache struct {
	rdb redis.UniversalClient
	log *slog.Logger
	// restUntil (unix nanoseconds) is when Load and Save try Redis again
	// after it failed, so an outage costs each request no time-out.
	restUntil atomic.Int64

	mu    sync.Mutex
	local map[localKey]localView

	loads *mgetBatcher
	// now is time.Now; tests move it.
	now func() time.Time
}

// localView is a snapshot this process decoded or saved, at keptAt.
type localView struct {
	cachedView
	keptAt time.Time
}

type localKey struct {
	shopID     int64
	platformID string
}

var _ app.ViewCache = (*ViewCache)(nil)

const (
	// viewTTL bounds how long a snapshot may be served.
	viewTTL = 10 * time.Minute
	// generationTTL outlives every snapshot, so a snapshot never outlives
	// the generation it was saved under.
	generationTTL = 24 * time.Hour
	// viewTimeout bounds a read's wait for Redis; a slow cache is a miss.
	viewTimeout = 200 * time.Millisecond
	// invalidateTimeout is more patient: a lost invalidation leaves a
	// stale view for up to viewTTL.
	invalidateTimeout = time.Second
	// viewRest is how long Load and Save leave Redis alone after a failure.
	viewRest = 2 * time.Second
	// maxLocalViews bounds the decoded snapshots a process keeps (a few
	// kilobytes each); past it they are dropped and decoded again.
	maxLocalViews = 20_000
)

// viewSchema changes whenever the snapshot's Go type does.
var viewSchema = func() string {
	var b strings.Builder
	typeShape(&b, reflect.TypeOf(app.CustomerSnapshot{}), map[reflect.Type]bool{})
	h := fnv.New32a()
	h.Write([]byte(b.String()))
	return fmt.Sprintf("%08x", h.Sum32())
}()

func typeShape(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	b.WriteString(t.String())
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		b.WriteString("<")
		typeShape(b, t.Elem(), seen)
		b.WriteString(">")
	case reflect.Struct:
		if seen[t] || t == reflect.TypeOf(time.Time{}) {
			return
		}
		seen[t] = true
		b.WriteString("{")
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() {
				b.WriteString(f.Name + " ")
				typeShape(b, f.Type, seen)
				b.WriteString(";")
			}
		}
		b.WriteString("}")
	}
}

// NewViewCache returns a cache of widget views on rdb. Wire it to the
// store with st.OnLedgerChange(cache.Invalidate).
func NewViewCache(rdb redis.UniversalClient, log *slog.Logger) *ViewCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ViewCache{rdb: rdb, log: log, local: map[localKey]localView{},
		loads: &mgetBatcher{rdb: rdb, timeout: viewTimeout}, now: time.Now}
}

func generationKey(shopID int64, platformID string) string {
	return "loyalty:view:gen:" + strconv.FormatInt(shopID, 10) + ":" + platformID
}

func shopGenerationKey(shopID int64) string {
	return "loyalty:view:shopgen:" + strconv.FormatInt(shopID, 10)
}

func viewKey(shopID int64, platformID string) string {
	return "loyalty:view:" + viewSchema + ":" + strconv.FormatInt(shopID, 10) + ":" + platformID
}

// cachedView is a snapshot with the generation it was read at.
type cachedView struct {
	Generation string               `json:"gen"`
	Snapshot   app.CustomerSnapshot `json:"snap"`
}

// A token is "g:" and the generation ("" while the shopper has none), so
// that the empty token can mean "do not save".
const tokenPrefix = "g:"

// Load returns the shopper's snapshot when one is kept under their current
// generation, with the shop's generation and, on a miss, the shopper's
// token to save a fresh snapshot with. A guest gets the shop's alone. The
// snapshot may be shared with other reads: callers must not change it.
func (c *ViewCache) Load(ctx context.Context, shopID int64, platformID string) (app.CustomerSnapshot, app.ViewTokens, bool) {
	if c.resting() {
		return app.CustomerSnapshot{}, app.ViewTokens{}, false
	}
	key := localKey{shopID, platformID}
	var mine localView
	haveMine := false
	keys := []string{shopGenerationKey(shopID)}
	if platformID != "" {
		c.mu.Lock()
		mine, haveMine = c.local[key]
		c.mu.Unlock()
		keys = append(keys, generationKey(shopID, platformID))
		if !haveMine {
			keys = append(keys, viewKey(shopID, platformID))
		}
	}
	opCtx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	// Loads arriving together share a pipeline.
	vals, err := c.loads.mget(opCtx, keys)
	if err != nil {
		c.rest(ctx, "load", err)
		return app.CustomerSnapshot{}, app.ViewTokens{}, false
	}
	shopGen, _ := vals[0].(string)
	tokens := app.ViewTokens{Shop: app.ViewToken(tokenPrefix + shopGen)}
	if platformID == "" {
		return app.CustomerSnapshot{}, tokens, false
	}
	gen, _ := vals[1].(string)
	tokens.Customer = app.ViewToken(tokenPrefix + gen)
	// A copy stands in for the shared snapshot for no longer than a shared
	// one lives (viewTTL), the safety net for a lost invalidation.
	if haveMine && gen != "" && mine.Generation == gen && c.now().Sub(mine.keptAt) < viewTTL {
		return mine.Snapshot, tokens, true
	}
	var raw string
	if haveMine {
		// The shopper changed since this process read them: the shared
		// snapshot, if there is one yet, is newer.
		if raw, err = c.rdb.Get(opCtx, viewKey(shopID, platformID)).Result(); err != nil && err != redis.Nil {
			c.rest(ctx, "load", err)
			return app.CustomerSnapshot{}, tokens, false
		}
	} else {
		raw, _ = vals[2].(string)
	}
	if raw == "" {
		return app.CustomerSnapshot{}, tokens, false
	}
	var v cachedView
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v.Generation != gen ||
		v.Snapshot.Customer.ShopID != shopID || v.Snapshot.Customer.PlatformID != platformID {
		return app.CustomerSnapshot{}, tokens, false
	}
	c.keep(key, v)
	return v.Snapshot, tokens, true
}

// keep remembers a decoded snapshot in this process.
func (c *ViewCache) keep(key localKey, v cachedView) {
	if v.Generation == "" {
		return // snapshots saved before generations were given on save
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.local) >= maxLocalViews {
		clear(c.local)
	}
	c.local[key] = localView{cachedView: v, keptAt: c.now()}
}

// saveView writes the snapshot only if the generation is the one the read
// began at. A shopper with no generation yet gets one (ARGV[4], the one
// the snapshot names), so every kept snapshot names a generation that a
// change replaces, and one that Redis lost (a restart without its data)
// matches no copy a process kept.
var saveView = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then
	return 0
end
if ARGV[1] == '' then
	redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`)

// Save keeps a snapshot read after Load returned token, unless the
// shopper's records changed since.
func (c *ViewCache) Save(ctx context.Context, shopID int64, platformID string, token app.ViewToken, snap app.CustomerSnapshot) {
	gen, ok := strings.CutPrefix(string(token), tokenPrefix)
	if !ok || c.resting() {
		return
	}
	view := cachedView{Generation: gen, Snapshot: snap}
	if gen == "" {
		view.Generation = newGeneration()
	}
	raw, err := json.Marshal(view)
	if err != nil {
		c.log.Debug("widget view not cached", "error", err)
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	saved, err := saveView.Run(opCtx, c.rdb, []string{generationKey(shopID, platformID), viewKey(shopID, platformID)},
		gen, raw, viewTTL.Milliseconds(), view.Generation, generationTTL.Milliseconds()).Int()
	if err != nil {
		c.rest(ctx, "save", err)
		return
	}
	if saved == 1 {
		c.keep(localKey{shopID, platformID}, view)
	}
}

// Invalidate forgets the snapshots of changed customers and refuses every
// save begun before it. The store calls it after each transaction that
// changed customers' records (store.OnLedgerChange).
func (c *ViewCache) Invalidate(ctx context.Context, changed []CustomerKey) {
	if len(changed) == 0 {
		return
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = c.invalidate(ctx, changed); err == nil {
			return
		}
	}
	c.log.Warn("cached widget views not invalidated; they may be stale for up to "+viewTTL.String(),
		"customers", len(changed), "error", err)
}

// InvalidateShop renews the generation of a shop's program and rewards, so
// every process reads them again. The store calls it after each change to
// them (store.OnProgramChange).
func (c *ViewCache) InvalidateShop(ctx context.Context, shopID int64) {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		ctx, cancel := context.WithTimeout(ctx, invalidateTimeout)
		err = c.rdb.Set(ctx, shopGenerationKey(shopID), newGeneration(), generationTTL).Err()
		cancel()
		if err == nil {
			return
		}
	}
	c.log.Warn("a shop's cached program and rewards not invalidated; widget views may show the old ones for up to "+viewTTL.String(),
		"shop", shopID, "error", err)
}

func (c *ViewCache) invalidate(ctx context.Context, changed []CustomerKey) error {
	ctx, cancel := context.WithTimeout(ctx, invalidateTimeout)
	defer cancel()
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range changed {
			p.Set(ctx, generationKey(k.ShopID, k.PlatformID), newGeneration(), generationTTL)
			p.Del(ctx, viewKey(k.ShopID, k.PlatformID))
		}
		return nil
	})
	return err
}

// newGeneration returns a generation no key had before.
func newGeneration() string { return strconv.FormatUint(rand.Uint64(), 36) }

func (c *ViewCache) resting() bool {
	until := c.restUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// rest makes Load and Save skip Redis for a while after it failed: the
// widget reads PostgreSQL meanwhile, at no cost of waiting. A request that
// ended (its shopper left) says nothing about Redis.
func (c *ViewCache) rest(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	c.restUntil.Store(time.Now().Add(viewRest).UnixNano())
	c.log.Debug("widget view cache unavailable; reading PostgreSQL", "op", op, "error", err)
}
