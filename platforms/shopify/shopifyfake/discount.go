package shopifyfake

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MsgCodeTaken is Shopify's user error for a discount code the shop already
// has, in any letter case.
const MsgCodeTaken = "Code must be unique. Please try a different code."

// MsgDiscountNotFound is the fake's user error for deactivating a discount
// the shop does not have. The reference does not give Shopify's wording.
const MsgDiscountNotFound = "Discount does not exist"

// Discount is a code discount the fake keeps for a shop: the fields of the
// create input as the app sent them, and the id and status Shopify adds.
type Discount struct {
	// ID is the DiscountCodeNode gid, "gid://shopify/DiscountCodeNode/…".
	ID string
	// Type is DiscountCodeBasic (amount or percentage off) or
	// DiscountCodeFreeShipping.
	Type string
	// Status is ACTIVE, SCHEDULED or EXPIRED at the fake's clock.
	Status string

	Title, Code string
	// StartsAt is the startsAt sent. EndsAt is the endsAt sent ("" for
	// null or absent: open-ended), or the deactivation time.
	StartsAt, EndsAt string
	// Customers is context.customers.add: the customer gids that may use
	// the code.
	Customers []string
	// UsageLimit is usageLimit, 0 when absent (unlimited).
	UsageLimit             int
	AppliesOncePerCustomer bool

	// Percentage is customerGets.value.percentage, a fraction (0.15 is
	// 15 %), 0 when absent.
	Percentage float64
	// Amount is customerGets.value.discountAmount.amount as sent, "" when
	// absent; AppliesOnEachItem is its appliesOnEachItem.
	Amount            string
	AppliesOnEachItem bool
	// AllItems is customerGets.items.all.
	AllItems bool
	// MinSubtotal is
	// minimumRequirement.subtotal.greaterThanOrEqualToSubtotal as sent, ""
	// when there is no minimum.
	MinSubtotal string
	// AllDestinations is destination.all of a free shipping discount.
	AllDestinations bool
	CombinesWith    CombinesWith

	// Input is the whole create input as decoded from the request.
	Input map[string]any
}

// CombinesWith is the combinesWith input of a discount.
type CombinesWith struct {
	OrderDiscounts, ProductDiscounts, ShippingDiscounts bool
}

// discountBook holds the discounts of every shop.
type discountBook struct {
	byShop  map[string][]*Discount
	refusal string
}

// Discounts returns shop's code discounts in creation order, with their
// status as of the fake's clock.
func (s *Shopify) Discounts(shop string) []Discount {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]Discount, 0, len(s.discounts.byShop[shop]))
	for _, d := range s.discounts.byShop[shop] {
		c := *d
		c.Status = discountStatus(d, now)
		c.Customers = slices.Clone(d.Customers)
		c.Input, _ = deepCopy(d.Input).(map[string]any)
		out = append(out, c)
	}
	return out
}

// RefuseDiscounts makes discountCodeBasicCreate and
// discountCodeFreeShippingCreate answer every create that is otherwise valid
// with a user error carrying message, until it is called with "". (FailNext
// covers HTTP failures.)
func (s *Shopify) RefuseDiscounts(message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discounts.refusal = message
}

// handleDiscounts registers the discount root fields. Handle can still
// replace any of them.
func (s *Shopify) handleDiscounts() {
	s.resolvers["discountCodeBasicCreate"] = func(shop string, vars map[string]any) any {
		return s.createDiscount(shop, vars, "basicCodeDiscount", "DiscountCodeBasicInput", "DiscountCodeBasic")
	}
	s.resolvers["discountCodeFreeShippingCreate"] = func(shop string, vars map[string]any) any {
		return s.createDiscount(shop, vars, "freeShippingCodeDiscount", "DiscountCodeFreeShippingInput", "DiscountCodeFreeShipping")
	}
	s.resolvers["discountCodeDeactivate"] = s.deactivateDiscount
	s.resolvers["codeDiscountNodeByCode"] = s.discountByCode
}

// topLevelErrors is what a built-in resolver answers instead of a value
// when Shopify would refuse the request before running it (a variable that
// does not fit the schema): they become the answer's "errors", with no data.
type topLevelErrors []any

// discountInputs is the part of the 2026-07 schema the fake checks
// variables against: input type → field → type. Lists are written [T],
// non-null types are not marked (every field here is nullable).
var discountInputs = map[string]map[string]string{
	"DiscountCodeBasicInput": {
		"title": "String", "code": "String", "startsAt": "DateTime", "endsAt": "DateTime",
		"context": "DiscountContextInput", "customerSelection": "DiscountCustomerSelectionInput",
		"customerGets": "DiscountCustomerGetsInput", "minimumRequirement": "DiscountMinimumRequirementInput",
		"usageLimit": "Int", "appliesOncePerCustomer": "Boolean", "combinesWith": "DiscountCombinesWithInput",
		"recurringCycleLimit": "Int", "tags": "[String]",
	},
	"DiscountCodeFreeShippingInput": {
		"title": "String", "code": "String", "startsAt": "DateTime", "endsAt": "DateTime",
		"context": "DiscountContextInput", "customerSelection": "DiscountCustomerSelectionInput",
		"destination": "DiscountShippingDestinationSelectionInput", "maximumShippingPrice": "Decimal",
		"minimumRequirement": "DiscountMinimumRequirementInput", "usageLimit": "Int",
		"appliesOncePerCustomer": "Boolean", "appliesOnOneTimePurchase": "Boolean", "appliesOnSubscription": "Boolean",
		"combinesWith": "DiscountCombinesWithInput", "recurringCycleLimit": "Int", "tags": "[String]",
	},
	"DiscountContextInput": {
		"all": "DiscountBuyerSelection", "customers": "DiscountCustomersInput",
		"customerSegments": "DiscountCustomerSegmentsInput", "markets": "DiscountMarketsInput",
	},
	"DiscountCustomerSelectionInput": {
		"all": "Boolean", "customers": "DiscountCustomersInput", "customerSegments": "DiscountCustomerSegmentsInput",
	},
	"DiscountCustomersInput":         {"add": "[ID]", "remove": "[ID]"},
	"DiscountCustomerSegmentsInput":  {"add": "[ID]", "remove": "[ID]"},
	"DiscountMarketsInput":           {"add": "[ID]", "remove": "[ID]"},
	"DiscountCustomerGetsInput":      {"value": "DiscountCustomerGetsValueInput", "items": "DiscountItemsInput", "appliesOnOneTimePurchase": "Boolean", "appliesOnSubscription": "Boolean"},
	"DiscountCustomerGetsValueInput": {"percentage": "Float", "discountAmount": "DiscountAmountInput", "discountOnQuantity": "DiscountOnQuantityInput"},
	"DiscountAmountInput":            {"amount": "Decimal", "appliesOnEachItem": "Boolean"},
	"DiscountOnQuantityInput":        {"quantity": "String", "effect": "DiscountEffectInput"},
	"DiscountEffectInput":            {"percentage": "Float", "amount": "Decimal"},
	"DiscountItemsInput":             {"all": "Boolean", "products": "DiscountProductsInput", "collections": "DiscountCollectionsInput"},
	"DiscountProductsInput": {
		"productsToAdd": "[ID]", "productsToRemove": "[ID]", "productVariantsToAdd": "[ID]", "productVariantsToRemove": "[ID]",
	},
	"DiscountCollectionsInput":        {"add": "[ID]", "remove": "[ID]"},
	"DiscountMinimumRequirementInput": {"subtotal": "DiscountMinimumSubtotalInput", "quantity": "DiscountMinimumQuantityInput"},
	"DiscountMinimumSubtotalInput":    {"greaterThanOrEqualToSubtotal": "Decimal"},
	"DiscountMinimumQuantityInput":    {"greaterThanOrEqualToQuantity": "UnsignedInt64"},
	"DiscountCombinesWithInput": {
		"orderDiscounts": "Boolean", "productDiscounts": "Boolean", "shippingDiscounts": "Boolean",
		"productDiscountsWithTagsOnSameCartLine": "JSON",
	},
	"DiscountShippingDestinationSelectionInput": {"all": "Boolean", "countries": "DiscountCountriesInput"},
	"DiscountCountriesInput":                    {"add": "[String]", "remove": "[String]", "includeRestOfWorld": "Boolean"},
}

var decimalPattern = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

// coerce checks value against type typ the way GraphQL coerces variables,
// and returns the first problem as "at path: reason".
func coerce(value any, typ, path string) string {
	if value == nil {
		return "" // every field checked here is nullable
	}
	if inner, ok := strings.CutPrefix(typ, "["); ok {
		list, ok := value.([]any)
		if !ok {
			list = []any{value} // GraphQL coerces a single value to a list
		}
		for i, v := range list {
			if v == nil {
				return fmt.Sprintf("%s[%d] (Expected value to not be null)", path, i)
			}
			if msg := coerce(v, strings.TrimSuffix(inner, "]"), fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
		}
		return ""
	}
	if fields, ok := discountInputs[typ]; ok {
		obj, ok := value.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s (Expected %s to be a key-value object)", path, typ)
		}
		for _, k := range sortedKeys(obj) {
			ft, known := fields[k]
			if !known {
				return fmt.Sprintf("%s (Field is not defined on %s)", join(path, k), typ)
			}
			if msg := coerce(obj[k], ft, join(path, k)); msg != "" {
				return msg
			}
		}
		return ""
	}
	bad := func() string { return fmt.Sprintf("%s (Could not coerce value %v to %s)", path, value, typ) }
	switch typ {
	case "String", "ID":
		if _, ok := value.(string); !ok {
			return bad()
		}
	case "Boolean":
		if _, ok := value.(bool); !ok {
			return bad()
		}
	case "Int":
		if f, ok := value.(float64); !ok || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return bad()
		}
	case "Float":
		if _, ok := value.(float64); !ok {
			return bad()
		}
	case "Decimal", "UnsignedInt64":
		// The reference serialises both as strings; the fake holds the app
		// to that rather than guess how Shopify coerces a JSON number.
		if s, ok := value.(string); !ok || !decimalPattern.MatchString(s) {
			return bad()
		}
	case "DateTime":
		if s, ok := value.(string); !ok || parseTime(s).IsZero() {
			return bad()
		}
	case "DiscountBuyerSelection":
		if value != "ALL" {
			return bad()
		}
	}
	return ""
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

var customerGID = regexp.MustCompile(`^gid://shopify/Customer/[1-9][0-9]*$`)

// userErrors collects DiscountUserErrors with field paths under one input.
type userErrors struct {
	input string
	list  []any
}

func (u *userErrors) add(code, message string, path ...string) {
	e := map[string]any{
		"field":   append([]string{u.input}, path...),
		"code":    code,
		"message": message,
	}
	if code == "" {
		e["code"] = nil
	}
	u.list = append(u.list, e)
}

// createDiscount answers discountCodeBasicCreate and
// discountCodeFreeShippingCreate: top-level errors for an input that does
// not fit the schema, user errors for one Shopify would refuse, and
// otherwise the new discount.
func (s *Shopify) createDiscount(shop string, vars map[string]any, inputName, inputType, objectType string) any {
	input, ok := vars[inputName].(map[string]any)
	if !ok {
		return invalidVariable(inputName, inputType, "(Expected value to not be null)")
	}
	if msg := coerce(input, inputType, ""); msg != "" {
		return invalidVariable(inputName, inputType, "for "+msg)
	}
	u := &userErrors{input: inputName}
	if s.discounts.refusal != "" {
		u.add("INVALID", s.discounts.refusal)
		return createPayload(nil, u)
	}
	str := func(k string) string { v, _ := input[k].(string); return v }
	title, code := strings.TrimSpace(str("title")), strings.TrimSpace(str("code"))
	if title == "" {
		u.add("BLANK", "Title can't be blank", "title")
	}
	if code == "" {
		u.add("BLANK", "Code can't be blank", "code")
	}
	starts, ends := parseTime(str("startsAt")), parseTime(str("endsAt"))
	if starts.IsZero() {
		u.add("BLANK", "Starts at can't be blank", "startsAt")
	} else if !ends.IsZero() && !ends.After(starts) {
		u.add("END_DATE_BEFORE_START_DATE", "Ends at needs to be after starts_at", "endsAt")
	}
	customers := checkContext(u, input)
	d := &Discount{
		Type:     objectType,
		Title:    title,
		Code:     code,
		StartsAt: str("startsAt"),
		EndsAt:   str("endsAt"),
		Input:    input,
	}
	d.Customers = customers
	if objectType == "DiscountCodeBasic" {
		checkCustomerGets(u, input, d)
	} else {
		dest, _ := input["destination"].(map[string]any)
		d.AllDestinations, _ = dest["all"].(bool)
	}
	if v, ok := input["usageLimit"].(float64); ok {
		if v < 1 {
			u.add("GREATER_THAN_OR_EQUAL_TO", "Usage limit must be greater than or equal to 1", "usageLimit")
		}
		d.UsageLimit = int(v)
	}
	d.AppliesOncePerCustomer, _ = input["appliesOncePerCustomer"].(bool)
	checkMinimum(u, input, d)
	cw, _ := input["combinesWith"].(map[string]any)
	d.CombinesWith.OrderDiscounts, _ = cw["orderDiscounts"].(bool)
	d.CombinesWith.ProductDiscounts, _ = cw["productDiscounts"].(bool)
	d.CombinesWith.ShippingDiscounts, _ = cw["shippingDiscounts"].(bool)
	if code != "" && s.discountWithCode(shop, code) != nil {
		u.add("TAKEN", MsgCodeTaken, "code")
	}
	if len(u.list) > 0 {
		return createPayload(nil, u)
	}
	s.serial++
	d.ID = "gid://shopify/DiscountCodeNode/" + strconv.Itoa(1000000+s.serial)
	if s.discounts.byShop == nil {
		s.discounts.byShop = map[string][]*Discount{}
	}
	s.discounts.byShop[shop] = append(s.discounts.byShop[shop], d)
	return createPayload(s.discountNodeJSON(d), u)
}

func invalidVariable(name, typ, detail string) topLevelErrors {
	return topLevelErrors{map[string]any{
		"message":    fmt.Sprintf("Variable $%s of type %s! was provided invalid value %s", name, typ, detail),
		"extensions": map[string]any{"code": "INVALID_VARIABLE"},
	}}
}

func createPayload(node any, u *userErrors) map[string]any {
	list := u.list
	if list == nil {
		list = []any{}
	}
	return map[string]any{"codeDiscountNode": node, "userErrors": list}
}

// checkContext checks who may use the code and returns the customer gids.
// The deprecated customerSelection is refused: the app pins 2026-07, where
// context replaces it.
func checkContext(u *userErrors, input map[string]any) []string {
	if _, ok := input["customerSelection"]; ok {
		u.add("INVALID", "customerSelection is deprecated: use context", "customerSelection")
	}
	ctx, _ := input["context"].(map[string]any)
	if ctx == nil {
		if _, ok := input["customerSelection"]; !ok {
			u.add("BLANK", "Context can't be blank", "context")
		}
		return nil
	}
	set := 0
	for _, k := range []string{"all", "customers", "customerSegments", "markets"} {
		if ctx[k] != nil {
			set++
		}
	}
	if set != 1 {
		u.add("TOO_MANY_ARGUMENTS", "Only one of all, customers, customerSegments or markets can be given", "context")
		return nil
	}
	c, _ := ctx["customers"].(map[string]any)
	if c == nil {
		return nil
	}
	add, _ := c["add"].([]any)
	if len(add) == 0 {
		u.add("BLANK", "Customers can't be blank", "context", "customers", "add")
		return nil
	}
	var gids []string
	for _, v := range add {
		id, _ := v.(string)
		if !customerGID.MatchString(id) {
			u.add("INVALID", fmt.Sprintf("Customer %q is not a valid customer id", id), "context", "customers", "add")
			continue
		}
		gids = append(gids, id)
	}
	return gids
}

// checkCustomerGets checks the value and items of an amount-off discount.
func checkCustomerGets(u *userErrors, input map[string]any, d *Discount) {
	gets, _ := input["customerGets"].(map[string]any)
	if gets == nil {
		u.add("BLANK", "Customer gets can't be blank", "customerGets")
		return
	}
	items, _ := gets["items"].(map[string]any)
	if items == nil {
		u.add("BLANK", "Items can't be blank", "customerGets", "items")
	} else {
		d.AllItems, _ = items["all"].(bool)
	}
	value, _ := gets["value"].(map[string]any)
	set := 0
	for _, v := range value {
		if v != nil {
			set++
		}
	}
	switch {
	case set == 0:
		u.add("BLANK", "Value can't be blank", "customerGets", "value")
		return
	case set > 1:
		u.add("TOO_MANY_ARGUMENTS", "Only one of percentage, discountAmount or discountOnQuantity can be given", "customerGets", "value")
		return
	}
	if p, ok := value["percentage"].(float64); ok {
		if p <= 0 || p > 1 {
			u.add("VALUE_OUTSIDE_RANGE", "Value must be between 0.0 and 1.0", "customerGets", "value", "percentage")
		}
		d.Percentage = p
	}
	if amt, ok := value["discountAmount"].(map[string]any); ok {
		s, _ := amt["amount"].(string)
		if f, err := strconv.ParseFloat(s, 64); err != nil || f <= 0 {
			u.add("GREATER_THAN", "Value must be greater than 0", "customerGets", "value", "discountAmount", "amount")
		}
		d.Amount = s
		d.AppliesOnEachItem, _ = amt["appliesOnEachItem"].(bool)
	}
}

// checkMinimum checks minimumRequirement: a subtotal or a quantity, not both.
func checkMinimum(u *userErrors, input map[string]any, d *Discount) {
	minimum, _ := input["minimumRequirement"].(map[string]any)
	if minimum == nil {
		return
	}
	subtotal, _ := minimum["subtotal"].(map[string]any)
	if subtotal != nil && minimum["quantity"] != nil {
		u.add("MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT", "Minimum subtotal and quantity can't both be set", "minimumRequirement")
		return
	}
	if subtotal == nil {
		return
	}
	s, _ := subtotal["greaterThanOrEqualToSubtotal"].(string)
	if f, err := strconv.ParseFloat(s, 64); err != nil || f <= 0 {
		u.add("GREATER_THAN", "Minimum subtotal must be greater than 0", "minimumRequirement", "subtotal", "greaterThanOrEqualToSubtotal")
	}
	d.MinSubtotal = s
}

// deactivateDiscount answers discountCodeDeactivate(id): it ends the
// discount now. An already ended discount is answered as it is.
func (s *Shopify) deactivateDiscount(shop string, vars map[string]any) any {
	id, ok := vars["id"].(string)
	if !ok {
		return topLevelErrors{map[string]any{
			"message":    "Variable $id of type ID! was provided invalid value",
			"extensions": map[string]any{"code": "INVALID_VARIABLE"},
		}}
	}
	var d *Discount
	for _, c := range s.discounts.byShop[shop] {
		if c.ID == id {
			d = c
		}
	}
	if d == nil {
		u := &userErrors{}
		u.list = []any{map[string]any{"field": []string{"id"}, "code": nil, "message": MsgDiscountNotFound}}
		return createPayload(nil, u)
	}
	now := s.now()
	if discountStatus(d, now) != "EXPIRED" {
		d.EndsAt = now.UTC().Format(time.RFC3339)
	}
	return createPayload(s.discountNodeJSON(d), &userErrors{})
}

// discountByCode answers codeDiscountNodeByCode(code), matched without
// regard to letter case; null when no discount has the code.
func (s *Shopify) discountByCode(shop string, vars map[string]any) any {
	code, _ := vars["code"].(string)
	if d := s.discountWithCode(shop, code); d != nil {
		return s.discountNodeJSON(d)
	}
	return nil
}

func (s *Shopify) discountWithCode(shop, code string) *Discount {
	for _, d := range s.discounts.byShop[shop] {
		if strings.EqualFold(d.Code, strings.TrimSpace(code)) {
			return d
		}
	}
	return nil
}

// discountStatus is ACTIVE between startsAt and endsAt, SCHEDULED before,
// EXPIRED from endsAt on.
func discountStatus(d *Discount, now time.Time) string {
	if ends := parseTime(d.EndsAt); !ends.IsZero() && !now.Before(ends) {
		return "EXPIRED"
	}
	if now.Before(parseTime(d.StartsAt)) {
		return "SCHEDULED"
	}
	return "ACTIVE"
}

// discountNodeJSON is a DiscountCodeNode with the fields an app commonly
// selects.
func (s *Shopify) discountNodeJSON(d *Discount) map[string]any {
	var context map[string]any
	if len(d.Customers) > 0 {
		customers := make([]any, len(d.Customers))
		for i, id := range d.Customers {
			customers[i] = map[string]any{"id": id}
		}
		context = map[string]any{"__typename": "DiscountCustomers", "customers": customers}
	} else {
		context = map[string]any{"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
	}
	var endsAt any
	if d.EndsAt != "" {
		endsAt = d.EndsAt
	}
	var usageLimit any
	if d.UsageLimit > 0 {
		usageLimit = d.UsageLimit
	}
	return map[string]any{
		"id": d.ID,
		"codeDiscount": map[string]any{
			"__typename":             d.Type,
			"title":                  d.Title,
			"status":                 discountStatus(d, s.now()),
			"startsAt":               d.StartsAt,
			"endsAt":                 endsAt,
			"usageLimit":             usageLimit,
			"appliesOncePerCustomer": d.AppliesOncePerCustomer,
			"context":                context,
			"codes":                  map[string]any{"nodes": []any{map[string]any{"code": d.Code}}},
		},
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
