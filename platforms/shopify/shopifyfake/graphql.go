package shopifyfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Query costs the fake charges. Shopify reserves the requested cost (a
// connection costs its page size plus two) and refunds what the answer did
// not use; mutations commonly cost 10.
const (
	mutationCost   = 10
	connectionCost = 2
	objectCost     = 1
)

var versionPattern = regexp.MustCompile(`^(\d{4}-(01|04|07|10)|unstable)$`)

// graphQL is POST /admin/api/{version}/graphql.json. It answers the root
// fields shop, webhookSubscriptions and webhookSubscriptionCreate, the
// discount fields of discount.go, and those given to Handle (which take
// precedence), reading their arguments from the variables (the only way the
// app passes them); it does not parse the selection, so answers carry a
// fixed set of fields.
func (s *Shopify) graphQL(w http.ResponseWriter, r *http.Request) {
	shop, version := r.PathValue("shop"), r.PathValue("version")
	rec := requestRecord(r)
	rec.Shop, rec.Version = shop, version

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		msg := http.StatusText(f.status)
		if f.status == http.StatusTooManyRequests {
			msg = MsgRateLimited
		}
		writeJSON(w, f.status, map[string]string{"errors": msg})
		return
	}
	if !versionPattern.MatchString(version) {
		writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	token := s.accessTokens[r.Header.Get("X-Shopify-Access-Token")]
	now := s.now()
	if token == nil || token.revoked || token.shop != shop || (!token.expiresAt.IsZero() && !now.Before(token.expiresAt)) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"errors": MsgInvalidToken})
		return
	}
	var body struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	// Shopify reads a JSON body only when the request says it is JSON
	// (application/graphql carries a bare query, which the app never sends).
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
		json.NewDecoder(r.Body).Decode(&body) != nil || strings.TrimSpace(body.Query) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]any{"query": "Required parameter missing or invalid"}})
		return
	}
	w.Header().Set("X-Shopify-API-Version", version)
	mutation, field := rootField(body.Query)
	rec.Field = field
	if body.Variables == nil {
		body.Variables = map[string]any{}
	}

	resolver := s.resolvers[field]
	requested := float64(mutationCost)
	switch {
	case resolver != nil:
	case field == "webhookSubscriptions":
		requested = connectionCost + float64(pageSize(body.Query, body.Variables))
	case field == "shop" && !mutation:
		requested = objectCost
	}

	st := s.shop(shop)
	s.refill(st)
	if s.throttleNext > 0 || requested > st.available+1e-9 {
		if s.throttleNext > 0 {
			s.throttleNext--
			st.available = 0
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"errors": []any{map[string]any{
				"message":    "Throttled",
				"extensions": map[string]any{"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
			}},
			"extensions": s.cost(st, requested, nil),
		})
		return
	}

	if need, ok := fieldScopes[field]; ok && !hasScope(token.scope, need) {
		// An access check refuses the field with HTTP 200, like every
		// GraphQL error, and leaves its data null.
		writeJSON(w, http.StatusOK, map[string]any{
			"data": map[string]any{field: nil},
			"errors": []any{map[string]any{
				"message": fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", field, need[0]),
				"path":    []any{field},
				"extensions": map[string]any{"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes",
					"requiredAccess": fmt.Sprintf("`%s` access scope.", need[0])},
			}},
			"extensions": s.cost(st, requested, nil),
		})
		return
	}

	actual := requested
	var value any
	var errs []any
	switch {
	case resolver != nil:
		// Resolvers run under the lock, so they must not call the fake.
		value = resolver(shop, body.Variables)
		if e, ok := value.(topLevelErrors); ok {
			errs = e
		}
	case field == "webhookSubscriptions" && !mutation:
		var n int
		value, n = s.listSubscriptions(shop, body.Query, body.Variables)
		actual = connectionCost + float64(n)
	case field == "webhookSubscriptionCreate" && mutation:
		value, errs = s.createSubscription(shop, body.Variables)
	case field == "shop" && !mutation:
		value = s.shopJSON(shop)
	default:
		root := "QueryRoot"
		if mutation {
			root = "Mutation"
		}
		errs = []any{map[string]any{
			"message":    fmt.Sprintf("Field '%s' doesn't exist on type '%s'", field, root),
			"extensions": map[string]any{"code": "undefinedField", "typeName": root, "fieldName": field},
		}}
	}
	if errs != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": errs, "extensions": s.cost(st, requested, nil)})
		return
	}
	st.available -= actual
	writeJSON(w, http.StatusOK, map[string]any{
		"data":       map[string]any{field: value},
		"extensions": s.cost(st, requested, &actual),
	})
}

// refill brings st's bucket up to date: it leaks back restoreRate points a
// second up to the maximum.
func (s *Shopify) refill(st *shopState) {
	now := s.now()
	if !st.seen {
		st.available, st.at, st.seen = s.bucketMax, now, true
		return
	}
	elapsed := math.Max(now.Sub(st.at).Seconds(), 0)
	st.available = math.Min(s.bucketMax, st.available+elapsed*s.bucketRate)
	st.at = now
}

func (s *Shopify) cost(st *shopState, requested float64, actual *float64) map[string]any {
	return map[string]any{"cost": map[string]any{
		"requestedQueryCost": requested,
		"actualQueryCost":    actual,
		"throttleStatus": map[string]any{
			"maximumAvailable":   s.bucketMax,
			"currentlyAvailable": st.available,
			"restoreRate":        s.bucketRate,
		},
	}}
}

// listSubscriptions answers webhookSubscriptions(first, after, topics, uri)
// with both the nodes and the edges shape, and the deprecated endpoint
// beside uri. It returns the number of subscriptions on the page.
func (s *Shopify) listSubscriptions(shop, query string, vars map[string]any) (any, int) {
	topics := map[string]bool{}
	if list, ok := vars["topics"].([]any); ok {
		for _, t := range list {
			topics[fmt.Sprint(t)] = true
		}
	}
	uri, _ := vars["uri"].(string)
	var matching []Subscription
	for _, sub := range s.shop(shop).subs {
		if (len(topics) == 0 || topics[sub.Topic]) && (uri == "" || sub.URI == uri) {
			matching = append(matching, sub)
		}
	}
	start := 0
	if after, ok := vars["after"].(string); ok {
		if n, err := strconv.Atoi(strings.TrimPrefix(after, "cursor:")); err == nil {
			start = min(n, len(matching))
		}
	}
	end := min(start+pageSize(query, vars), len(matching))
	page := matching[start:end]
	nodes := make([]any, len(page))
	edges := make([]any, len(page))
	for i, sub := range page {
		nodes[i] = subscriptionJSON(sub)
		edges[i] = map[string]any{"cursor": "cursor:" + strconv.Itoa(start+i+1), "node": nodes[i]}
	}
	endCursor := any(nil)
	if len(page) > 0 {
		endCursor = "cursor:" + strconv.Itoa(end)
	}
	return map[string]any{
		"nodes": nodes,
		"edges": edges,
		"pageInfo": map[string]any{
			"hasNextPage":     end < len(matching),
			"hasPreviousPage": start > 0,
			"endCursor":       endCursor,
		},
	}, len(page)
}

// createSubscription answers webhookSubscriptionCreate(topic,
// webhookSubscription: {uri | callbackUrl, format}). Top-level errors come
// back for variables the schema would refuse; user errors for an address
// already subscribed to the topic and for refused topics.
func (s *Shopify) createSubscription(shop string, vars map[string]any) (any, []any) {
	topic, _ := vars["topic"].(string)
	input, _ := vars["webhookSubscription"].(map[string]any)
	if !topicPattern.MatchString(topic) || complianceTopic(topic) {
		return nil, []any{map[string]any{
			"message":    fmt.Sprintf("Variable $topic of type WebhookSubscriptionTopic! was provided invalid value %q", topic),
			"extensions": map[string]any{"code": "INVALID_VARIABLE"},
		}}
	}
	if input == nil {
		return nil, []any{map[string]any{
			"message":    "Variable $webhookSubscription of type WebhookSubscriptionInput! was provided invalid value",
			"extensions": map[string]any{"code": "INVALID_VARIABLE"},
		}}
	}
	uri, _ := input["uri"].(string)
	if uri == "" {
		uri, _ = input["callbackUrl"].(string) // deprecated since 2025-10, still read
	}
	userError := func(field, message string) (any, []any) {
		return map[string]any{
			"webhookSubscription": nil,
			"userErrors":          []any{map[string]any{"field": []string{"webhookSubscription", field}, "message": message}},
		}, nil
	}
	if msg := s.refusals[topic]; msg != "" {
		return userError("topic", msg)
	}
	if uri == "" {
		return userError("callbackUrl", "Address can't be blank")
	}
	for _, sub := range s.shop(shop).subs {
		if sub.Topic == topic && sub.URI == uri {
			return userError("callbackUrl", MsgAddressTaken)
		}
	}
	sub := s.subscribe(shop, topic, uri)
	return map[string]any{"webhookSubscription": subscriptionJSON(sub), "userErrors": []any{}}, nil
}

func (s *Shopify) subscribe(shop, topic, uri string) Subscription {
	s.serial++
	sub := Subscription{
		ID:     "gid://shopify/WebhookSubscription/" + strconv.Itoa(1000000+s.serial),
		Topic:  topic,
		URI:    uri,
		Format: "JSON",
	}
	st := s.shop(shop)
	st.subs = append(st.subs, sub)
	return sub
}

func subscriptionJSON(sub Subscription) map[string]any {
	return map[string]any{
		"id":     sub.ID,
		"topic":  sub.Topic,
		"uri":    sub.URI,
		"format": sub.Format,
		"endpoint": map[string]any{
			"__typename":  "WebhookHttpEndpoint",
			"callbackUrl": sub.URI,
		},
	}
}

func complianceTopic(topic string) bool {
	switch topic {
	case "CUSTOMERS_DATA_REQUEST", "CUSTOMERS_REDACT", "SHOP_REDACT":
		return true
	}
	return false
}

var (
	identifier = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]*`)
	firstArg   = regexp.MustCompile(`first:\s*(\$?[_0-9A-Za-z]+)`)
	comment    = regexp.MustCompile(`#[^\n]*`)
)

// rootField finds the operation type and the first root field of a query
// without a GraphQL parser: the first name inside the operation's selection
// set, skipping an alias.
func rootField(query string) (mutation bool, field string) {
	q := strings.TrimSpace(comment.ReplaceAllString(query, ""))
	mutation = strings.HasPrefix(q, "mutation")
	depth := 0
	for i, c := range q {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case '{':
			if depth != 0 {
				continue
			}
			rest := strings.TrimSpace(q[i+1:])
			name := identifier.FindString(rest)
			if after := strings.TrimSpace(rest[len(name):]); strings.HasPrefix(after, ":") {
				name = identifier.FindString(strings.TrimSpace(after[1:]))
			}
			return mutation, name
		}
	}
	return mutation, ""
}

// pageSize reads a connection's first argument, literal or variable; 50 if
// absent.
func pageSize(query string, vars map[string]any) int {
	m := firstArg.FindStringSubmatch(query)
	if m == nil {
		return 50
	}
	if name, ok := strings.CutPrefix(m[1], "$"); ok {
		if f, ok := vars[name].(float64); ok && f > 0 {
			return int(f)
		}
		return 50
	}
	if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
		return n
	}
	return 50
}

// shopJSON answers the shop query.
func (s *Shopify) shopJSON(shop string) map[string]any {
	st := s.shop(shop)
	name, currency := st.name, st.currency
	if name == "" {
		name, _, _ = strings.Cut(shop, ".")
	}
	if currency == "" {
		currency = "USD"
	}
	return map[string]any{
		"id":              "gid://shopify/Shop/" + strconv.Itoa(1000+len(shop)),
		"name":            name,
		"currencyCode":    currency,
		"myshopifyDomain": shop,
		"ianaTimezone":    "America/New_York",
	}
}

// fieldScopes are the access scopes that grant a root field: any one of
// them will do (a write scope implies its read scope).
var fieldScopes = map[string][]string{
	"discountCodeBasicCreate":        {"write_discounts"},
	"discountCodeFreeShippingCreate": {"write_discounts"},
	"discountCodeDeactivate":         {"write_discounts"},
	"codeDiscountNodeByCode":         {"read_discounts", "write_discounts"},
}

// hasScope reports whether a grant's comma-separated scopes include one of
// need.
func hasScope(granted string, need []string) bool {
	for _, g := range strings.Split(granted, ",") {
		if slices.Contains(need, strings.TrimSpace(g)) {
			return true
		}
	}
	return false
}
