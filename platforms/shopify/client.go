package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the Admin API version every request names. It is pinned, not
// "latest", because Shopify changes field shapes between versions (2025-10
// replaced the webhook callbackUrl with uri, for one) and a version stays
// supported for twelve months: moving it is a deliberate change with its
// tests, made at least once a year.
const APIVersion = "2026-07"

// Retry defaults. Shopify's own client waits a second between throttled
// retries; 429 answers without a Retry-After are given two.
const (
	defaultMaxRetries = 5
	defaultRetryAfter = 2 * time.Second
	minThrottleWait   = time.Second
	backoffBase       = 500 * time.Millisecond
	backoffCap        = 16 * time.Second
	// maxWait bounds one pause, whatever the server says, so that a wrong
	// header cannot park a job for hours; a too-early retry is answered
	// 429 again and costs nothing.
	maxWait = 5 * time.Minute
	// defaultQueryCost is the estimate for a query before any has been
	// answered: Shopify's mutations commonly cost 10.
	defaultQueryCost = 10
	maxResponseBody  = 32 << 20
)

// ClientOptions tune a Client. The zero value is ready for production.
type ClientOptions struct {
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// BaseURL maps a shop domain to the origin its Admin API is served
	// from; nil means "https://" + shop. Tests point it at a fake Shopify.
	BaseURL func(shop string) string
	// MaxRetries is how many times one call is retried after throttling,
	// a 5xx or a network error; 0 means 5 and a negative value none.
	MaxRetries int
	// Sleep waits between attempts; nil means a timer that stops when ctx
	// is done. Tests record the waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now tells the time for the query-cost bucket; nil means time.Now.
	Now func() time.Time
}

// Client calls one shop's GraphQL Admin API with one access token. It is
// safe for concurrent use; calls share the shop's query-cost budget.
type Client struct {
	shop       string
	validShop  bool
	token      string
	endpoint   string
	http       *http.Client
	maxRetries int
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	// jitter spreads 5xx retries so that many workers hit by one outage do
	// not come back in step.
	jitter func(time.Duration) time.Duration

	mu     sync.Mutex
	bucket costBucket
}

// NewClient returns a client for shop, a domain that passed ValidShopDomain,
// authenticated with accessToken. A client for anything else refuses every
// call rather than send the token to an unknown host.
func NewClient(shop, accessToken string, opts ClientOptions) *Client {
	_, valid := ValidShopDomain(shop)
	c := &Client{
		shop:       shop,
		validShop:  valid,
		token:      accessToken,
		http:       opts.HTTP,
		maxRetries: opts.MaxRetries,
		sleep:      opts.Sleep,
		now:        opts.Now,
		jitter:     func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) },
	}
	base := "https://" + shop
	if opts.BaseURL != nil {
		base = strings.TrimSuffix(opts.BaseURL(shop), "/")
	}
	c.endpoint = base + "/admin/api/" + APIVersion + "/graphql.json"
	if c.http == nil {
		c.http = http.DefaultClient
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Shop returns the shop domain the client speaks to.
func (c *Client) Shop() string { return c.shop }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GraphQL runs one query or mutation and decodes its data into out (unless
// out is nil). variables may be nil.
//
// It waits out Shopify's rate limits instead of failing: before sending, if
// the last answer's throttle status shows too little budget for a query like
// the last one; after a 429, for the Retry-After seconds; after a THROTTLED
// error, for as long as the bucket needs to refill to the requested cost.
// 5xx answers and network errors are retried with jittered exponential
// backoff, so mutations sent through GraphQL must be safe to repeat (create
// with a fixed code, tolerate "already taken"). Other HTTP errors and
// GraphQL errors come back at once as *APIError with Shopify's message.
// Errors name the shop and the operation, never the token.
func (c *Client) GraphQL(ctx context.Context, query string, variables any, out any) error {
	if err := c.graphQL(ctx, query, variables, out); err != nil {
		return fmt.Errorf("shopify %s: %s: %w", c.shop, operationName(query), err)
	}
	return nil
}

type graphQLRequest struct {
	Query     string `json:"query"`
	Variables any    `json:"variables,omitempty"`
}

type graphQLResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     json.RawMessage `json:"errors"`
	Extensions struct {
		Cost *queryCost `json:"cost"`
	} `json:"extensions"`
}

// queryCost is extensions.cost, which Shopify adds to every answer.
type queryCost struct {
	RequestedQueryCost float64  `json:"requestedQueryCost"`
	ActualQueryCost    *float64 `json:"actualQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

type graphQLError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

type graphQLErrors []graphQLError

func (es graphQLErrors) throttled() bool {
	for _, e := range es {
		if e.Extensions.Code == "THROTTLED" {
			return true
		}
	}
	return false
}

func (es graphQLErrors) codeAndMessage() (code, message string) {
	msgs := make([]string, 0, len(es))
	for _, e := range es {
		if code == "" {
			code = e.Extensions.Code
		}
		msgs = append(msgs, e.Message)
	}
	return code, strings.Join(msgs, "; ")
}

// attempt is what one request came back with.
type attempt struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) graphQL(ctx context.Context, query string, variables any, out any) error {
	if !c.validShop {
		return errors.New("not a valid shop domain")
	}
	payload, err := json.Marshal(graphQLRequest{Query: query, Variables: variables})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	failures := 0 // consecutive 5xx and network errors, for the backoff
	for try := 0; ; try++ {
		if err := c.awaitBudget(ctx); err != nil {
			return err
		}
		a, err := c.post(ctx, payload)
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			wait = c.backoff(failures)
			failures++
		case a.status == http.StatusOK:
			var done bool
			wait, done, err = c.answer(a, out)
			if done {
				return err
			}
		case a.status == http.StatusTooManyRequests:
			err = newAPIError(a.status, a.body)
			wait = c.retryAfter(a)
		case a.status >= 500:
			err = newAPIError(a.status, a.body)
			wait = c.backoff(failures)
			failures++
		default:
			return newAPIError(a.status, a.body)
		}
		if try >= c.maxRetries {
			return fmt.Errorf("gave up after %d attempts: %w", try+1, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (c *Client) post(ctx context.Context, payload []byte) (attempt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return attempt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return attempt{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return attempt{}, err
	}
	return attempt{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// answer handles a 200: data, GraphQL errors, or THROTTLED (done is false
// and wait says how long to let the bucket refill).
func (c *Client) answer(a attempt, out any) (wait time.Duration, done bool, err error) {
	var r graphQLResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		return 0, true, fmt.Errorf("response is not JSON: %w", err)
	}
	c.record(r.Extensions.Cost)
	if hasErrors(r.Errors) {
		var list graphQLErrors
		if json.Unmarshal(r.Errors, &list) == nil && list.throttled() {
			return throttleWait(r.Extensions.Cost), false, &APIError{Status: a.status, Code: "THROTTLED", Message: "Throttled"}
		}
		e := &APIError{Status: a.status}
		e.Code, e.Message = errorsText(r.Errors)
		return 0, true, e
	}
	if out != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return 0, true, fmt.Errorf("decode data: %w", err)
		}
	}
	return 0, true, nil
}

// hasErrors reports whether an "errors" member holds anything: absent, null
// and an empty list all mean success.
func hasErrors(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "[]", `""`:
		return false
	}
	return true
}

// retryAfter is the pause a 429 asks for: its Retry-After header (seconds,
// fractions allowed, or an HTTP date), else the refill time its cost
// extension implies, else two seconds.
func (c *Client) retryAfter(a attempt) time.Duration {
	if h := strings.TrimSpace(a.header.Get("Retry-After")); h != "" {
		if secs, err := strconv.ParseFloat(h, 64); err == nil && secs >= 0 && !math.IsInf(secs, 0) {
			return min(time.Duration(secs*float64(time.Second)), maxWait)
		}
		if t, err := http.ParseTime(h); err == nil {
			return min(max(t.Sub(c.now()), 0), maxWait)
		}
	}
	var r graphQLResponse
	if json.Unmarshal(a.body, &r) == nil && r.Extensions.Cost != nil {
		c.record(r.Extensions.Cost)
		return throttleWait(r.Extensions.Cost)
	}
	return defaultRetryAfter
}

// backoff is the pause before retry n+1 after a 5xx or network error:
// 0.5 s doubling up to 16 s, each drawn from its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := backoffCap
	if n < 10 {
		d = min(backoffBase<<n, backoffCap)
	}
	return c.jitter(d)
}

// throttleWait is how long the bucket needs to refill to the requested cost:
// (requested - currentlyAvailable) / restoreRate, and at least a second when
// the figures are missing or already allow the query.
func throttleWait(cost *queryCost) time.Duration {
	if cost == nil || cost.ThrottleStatus.RestoreRate <= 0 {
		return minThrottleWait
	}
	need := cost.RequestedQueryCost - cost.ThrottleStatus.CurrentlyAvailable
	if need <= 0 {
		return minThrottleWait
	}
	return seconds(need / cost.ThrottleStatus.RestoreRate)
}

// seconds converts a float number of seconds to a Duration rounded up to the
// millisecond, so that waiting it always refills at least what was needed.
func seconds(s float64) time.Duration {
	return min(time.Duration(math.Ceil(s*1000))*time.Millisecond, maxWait)
}

// costBucket is the client's picture of the shop's leaky bucket of query
// cost, from the last throttle status Shopify reported.
type costBucket struct {
	known                         bool
	maximum, available, restoreAt float64 // restoreAt: points per second
	at                            time.Time
	lastCost                      float64
}

func (c *Client) record(cost *queryCost) {
	if cost == nil || cost.ThrottleStatus.MaximumAvailable <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bucket = costBucket{
		known:     true,
		maximum:   cost.ThrottleStatus.MaximumAvailable,
		available: cost.ThrottleStatus.CurrentlyAvailable,
		restoreAt: cost.ThrottleStatus.RestoreRate,
		at:        c.now(),
		lastCost:  cost.RequestedQueryCost,
	}
}

// awaitBudget waits, before a request is sent, until the bucket as last
// reported (plus what it has refilled since) holds the cost of a query like
// the last one. The cost is taken from the estimate at once, so concurrent
// calls queue behind each other instead of all going out and being
// throttled together.
func (c *Client) awaitBudget(ctx context.Context) error {
	c.mu.Lock()
	wait := c.bucket.reserve(c.now())
	c.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	return c.sleep(ctx, wait)
}

func (b *costBucket) reserve(now time.Time) time.Duration {
	if !b.known || b.restoreAt <= 0 {
		return 0
	}
	elapsed := max(now.Sub(b.at).Seconds(), 0)
	available := min(b.maximum, b.available+elapsed*b.restoreAt)
	cost := b.lastCost
	if cost <= 0 {
		cost = defaultQueryCost
	}
	// A query dearer than the whole bucket is refused by Shopify with
	// MAX_COST_EXCEEDED; waiting for more than a full bucket cannot help.
	cost = min(cost, b.maximum)
	var wait time.Duration
	if cost > available {
		wait = seconds((cost - available) / b.restoreAt)
	}
	b.available, b.at = available-cost, now
	return wait
}

var (
	namedOperation = regexp.MustCompile(`^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)`)
	firstField     = regexp.MustCompile(`\{\s*([_A-Za-z][_0-9A-Za-z]*)`)
)

// operationName names a query in errors: its operation name, else its first
// field.
func operationName(query string) string {
	if m := namedOperation.FindStringSubmatch(query); m != nil {
		return m[1]
	}
	if m := firstField.FindStringSubmatch(query); m != nil {
		return m[1]
	}
	return "graphql"
}

// UserError is one entry of a mutation's userErrors: Shopify's answer when
// the request was well formed but the input was refused (HTTP 200).
type UserError struct {
	// Field is the path to the input field at fault, such as
	// ["webhookSubscription", "callbackUrl"]; empty for the whole input.
	Field []string `json:"field"`
	// Code is the machine-readable reason, for the mutations whose error
	// type has one (DiscountUserError does; the webhook UserError does not).
	Code string `json:"code"`
	// Message is Shopify's explanation.
	Message string `json:"message"`
}

// String is the message, prefixed with the field path when there is one.
func (e UserError) String() string {
	if len(e.Field) == 0 {
		return e.Message
	}
	return strings.Join(e.Field, ".") + ": " + e.Message
}

// UserErrors is a mutation's non-empty userErrors, returned as an error by
// the mutation helpers.
type UserErrors []UserError

// Error joins every entry's field and message.
func (es UserErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.String()
	}
	return "shopify user errors: " + strings.Join(msgs, "; ")
}

// complianceTopics cannot be subscribed through the API: they are declared
// in the app's TOML or the Partner Dashboard.
var complianceTopics = map[string]bool{
	"CUSTOMERS_DATA_REQUEST": true,
	"CUSTOMERS_REDACT":       true,
	"SHOP_REDACT":            true,
}

var topicEnumPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// topicEnum turns a topic as webhook headers name it ("orders/paid") into
// the GraphQL WebhookSubscriptionTopic value ("ORDERS_PAID"). The enum form
// passes through.
func topicEnum(topic string) (string, error) {
	enum := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(topic), "/", "_"))
	if !topicEnumPattern.MatchString(enum) {
		return "", fmt.Errorf("webhook topic %q is not a topic name", topic)
	}
	if complianceTopics[enum] {
		return "", fmt.Errorf("webhook topic %q is a compliance topic, set in the app configuration, not through the API", topic)
	}
	return enum, nil
}

// The webhook operations use uri, the field that replaced callbackUrl (and
// the Pub/Sub and EventBridge variants) in 2025-10. The webhook UserError
// type has no code field, so none is asked for.
const (
	webhookSubscriptionsQuery = `query webhookSubscriptions($topics: [WebhookSubscriptionTopic!], $after: String) {
  webhookSubscriptions(first: 100, after: $after, topics: $topics) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}`
	webhookSubscriptionCreateMutation = `mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`
)

// RegisterWebhooks makes sure the shop sends each topic ("orders/paid",
// "app/uninstalled") to callbackURL. It is idempotent, so it runs on every
// install and re-install: it lists the app's subscriptions for those topics
// and creates only the missing ones, and a create refused as "already
// taken" (a concurrent run won) counts as done. Subscriptions of the same
// topic to other addresses are left alone. Topics refused with other user
// errors are reported together as UserErrors after the rest are tried.
func (c *Client) RegisterWebhooks(ctx context.Context, callbackURL string, topics []string) error {
	if callbackURL == "" {
		return fmt.Errorf("shopify %s: register webhooks: no callback URL", c.shop)
	}
	enums := make([]string, 0, len(topics))
	for _, t := range topics {
		enum, err := topicEnum(t)
		if err != nil {
			return fmt.Errorf("shopify %s: register webhooks: %w", c.shop, err)
		}
		enums = append(enums, enum)
	}
	if len(enums) == 0 {
		return nil
	}
	existing, err := c.subscribedTopics(ctx, enums, callbackURL)
	if err != nil {
		return fmt.Errorf("register webhooks: %w", err)
	}
	var refused []error
	for i, enum := range enums {
		if existing[enum] {
			continue
		}
		existing[enum] = true // a topic listed twice is created once
		err := c.createWebhook(ctx, enum, callbackURL)
		var ue UserErrors
		switch {
		case errors.As(err, &ue):
			refused = append(refused, fmt.Errorf("shopify %s: register webhook %s: %w", c.shop, topics[i], err))
		case err != nil:
			return fmt.Errorf("register webhook %s: %w", topics[i], err)
		}
	}
	return errors.Join(refused...)
}

// subscribedTopics returns which of topics already go to uri.
func (c *Client) subscribedTopics(ctx context.Context, topics []string, uri string) (map[string]bool, error) {
	found := make(map[string]bool, len(topics))
	vars := map[string]any{"topics": topics}
	for range 100 { // 10,000 subscriptions is far past any real shop
		var data struct {
			WebhookSubscriptions struct {
				Nodes []struct {
					Topic string `json:"topic"`
					URI   string `json:"uri"`
				} `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"webhookSubscriptions"`
		}
		if err := c.GraphQL(ctx, webhookSubscriptionsQuery, vars, &data); err != nil {
			return nil, err
		}
		for _, n := range data.WebhookSubscriptions.Nodes {
			if n.URI == uri {
				found[n.Topic] = true
			}
		}
		page := data.WebhookSubscriptions.PageInfo
		if !page.HasNextPage || page.EndCursor == "" {
			return found, nil
		}
		vars["after"] = page.EndCursor
	}
	return nil, fmt.Errorf("shopify %s: webhookSubscriptions: too many pages", c.shop)
}

func (c *Client) createWebhook(ctx context.Context, topic, uri string) error {
	vars := map[string]any{
		"topic":               topic,
		"webhookSubscription": map[string]any{"uri": uri, "format": "JSON"},
	}
	var data struct {
		WebhookSubscriptionCreate struct {
			UserErrors UserErrors `json:"userErrors"`
		} `json:"webhookSubscriptionCreate"`
	}
	if err := c.GraphQL(ctx, webhookSubscriptionCreateMutation, vars, &data); err != nil {
		return err
	}
	var refused UserErrors
	for _, e := range data.WebhookSubscriptionCreate.UserErrors {
		if !alreadySubscribed(e.Message) {
			refused = append(refused, e)
		}
	}
	if len(refused) > 0 {
		return refused
	}
	return nil
}

// alreadySubscribed recognises the user error Shopify gives for a topic and
// address that are already subscribed ("Address for this topic has already
// been taken").
func alreadySubscribed(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "already been taken") || strings.Contains(m, "already exists")
}

// ShopInfo is what the app records about a shop when it is installed.
type ShopInfo struct {
	// Name is the shop's name as the merchant set it.
	Name string `json:"name"`
	// Currency is the ISO 4217 code of the shop's currency, the one the
	// shop-money side of order amounts is in.
	Currency string `json:"currencyCode"`
	// Domain is the shop's permanent myshopify.com domain.
	Domain string `json:"myshopifyDomain"`
	// Timezone is the shop's IANA time zone, for dating birthdays and
	// expiries in the merchant's days.
	Timezone string `json:"ianaTimezone"`
}

const shopInfoQuery = `query shopInfo { shop { name currencyCode myshopifyDomain ianaTimezone } }`

// ShopInfo reads the shop's name, currency, domain and time zone.
func (c *Client) ShopInfo(ctx context.Context) (ShopInfo, error) {
	var data struct {
		Shop ShopInfo `json:"shop"`
	}
	if err := c.GraphQL(ctx, shopInfoQuery, nil, &data); err != nil {
		return ShopInfo{}, err
	}
	if data.Shop.Currency == "" {
		return ShopInfo{}, fmt.Errorf("shopify %s: shopInfo: no shop in the answer", c.shop)
	}
	return data.Shop, nil
}
