package shopify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"loyalty/app"
	"loyalty/platforms/shopify/shopifytest"
)

const rewardCustomer = "7000000000001"

// reward is a valid discount of kind for rewardCustomer, running from the
// fixture clock's day for three months.
func reward(kind DiscountKind) Discount {
	d := Discount{
		Title:      "Reward for customer " + rewardCustomer,
		Code:       "RWD-8F3K2Q",
		CustomerID: rewardCustomer,
		Kind:       kind,
		StartsAt:   time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		EndsAt:     time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	switch kind {
	case DiscountAmount:
		d.Amount = app.MustAmount("5")
	case DiscountPercentage:
		d.Percentage = 15
	}
	return d
}

// createOne creates d and returns the one discount the fake then holds.
func (f *clientFixture) createOne(t *testing.T, d Discount) (string, shopifytest.Discount) {
	t.Helper()
	id, err := f.client.CreateDiscount(context.Background(), d)
	if err != nil {
		t.Fatalf("CreateDiscount: %v", err)
	}
	got := f.srv.Discounts(testShop)
	if len(got) != 1 {
		t.Fatalf("the fake holds %d discounts, want 1: %+v", len(got), got)
	}
	if got[0].ID != id {
		t.Errorf("id = %q, the fake's is %q", id, got[0].ID)
	}
	return id, got[0]
}

func TestCreateDiscountAmountIsAFixedAmountOffTheOrderForOneCustomerOnce(t *testing.T) {
	f := newClientFixture(t, nil)
	d := reward(DiscountAmount)
	d.MinSubtotal = app.MustAmount("50")
	id, got := f.createOne(t, d)

	if !strings.HasPrefix(id, "gid://shopify/DiscountCodeNode/") {
		t.Errorf("id = %q, want a DiscountCodeNode gid", id)
	}
	want := shopifytest.Discount{
		ID:                     id,
		Type:                   "DiscountCodeBasic",
		Status:                 "ACTIVE",
		Title:                  "Reward for customer 7000000000001",
		Code:                   "RWD-8F3K2Q",
		StartsAt:               "2026-03-01T00:00:00Z",
		EndsAt:                 "2026-06-01T00:00:00Z",
		Customers:              []string{"gid://shopify/Customer/7000000000001"},
		UsageLimit:             1,
		AppliesOncePerCustomer: true,
		Amount:                 "5.00",
		AppliesOnEachItem:      false,
		AllItems:               true,
		MinSubtotal:            "50.00",
		CombinesWith:           shopifytest.CombinesWith{OrderDiscounts: false, ProductDiscounts: true, ShippingDiscounts: true},
	}
	got.Input = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("discount =\n%+v\nwant\n%+v", got, want)
	}
	if n := f.srv.Calls("discountCodeBasicCreate"); n != 1 {
		t.Errorf("discountCodeBasicCreate calls = %d, want 1", n)
	}
}

func TestCreateDiscountPercentageIsAFractionAndOpenEndedWithoutMinimum(t *testing.T) {
	f := newClientFixture(t, nil)
	d := reward(DiscountPercentage)
	d.EndsAt = time.Time{}
	_, got := f.createOne(t, d)

	if got.Type != "DiscountCodeBasic" || got.Percentage != 0.15 || got.Amount != "" || !got.AllItems {
		t.Errorf("type %s, percentage %v, amount %q, all items %v; want DiscountCodeBasic 0.15 on all items", got.Type, got.Percentage, got.Amount, got.AllItems)
	}
	if endsAt, sent := got.Input["endsAt"]; !sent || endsAt != nil || got.EndsAt != "" {
		t.Errorf("endsAt = %v (sent %v), want an explicit null", endsAt, sent)
	}
	if _, sent := got.Input["minimumRequirement"]; sent {
		t.Errorf("minimumRequirement sent without a minimum: %v", got.Input["minimumRequirement"])
	}
	if got.UsageLimit != 1 || !got.AppliesOncePerCustomer || !reflect.DeepEqual(got.Customers, []string{"gid://shopify/Customer/" + rewardCustomer}) {
		t.Errorf("usage %d once %v customers %v", got.UsageLimit, got.AppliesOncePerCustomer, got.Customers)
	}
}

func TestCreateDiscountFreeShippingGoesEverywhereForOneCustomerOnce(t *testing.T) {
	f := newClientFixture(t, nil)
	d := reward(DiscountFreeShipping)
	d.MinSubtotal = app.MustAmount("25.5")
	_, got := f.createOne(t, d)

	if got.Type != "DiscountCodeFreeShipping" || !got.AllDestinations {
		t.Errorf("type %s, all destinations %v", got.Type, got.AllDestinations)
	}
	if got.UsageLimit != 1 || !got.AppliesOncePerCustomer || got.MinSubtotal != "25.50" || got.EndsAt != "2026-06-01T00:00:00Z" {
		t.Errorf("usage %d once %v minimum %q ends %q", got.UsageLimit, got.AppliesOncePerCustomer, got.MinSubtotal, got.EndsAt)
	}
	if !reflect.DeepEqual(got.Customers, []string{"gid://shopify/Customer/" + rewardCustomer}) {
		t.Errorf("customers = %v", got.Customers)
	}
	if _, sent := got.Input["customerGets"]; sent {
		t.Error("customerGets sent for free shipping")
	}
	if want := (shopifytest.CombinesWith{ProductDiscounts: true}); got.CombinesWith != want {
		t.Errorf("combinesWith = %+v, want %+v", got.CombinesWith, want)
	}
	if f.srv.Calls("discountCodeFreeShippingCreate") != 1 || f.srv.Calls("discountCodeBasicCreate") != 0 {
		t.Errorf("requests = %+v", f.srv.Requests())
	}
}

func TestCreateDiscountNeverSendsTheDeprecatedCustomerSelection(t *testing.T) {
	for _, kind := range []DiscountKind{DiscountAmount, DiscountPercentage, DiscountFreeShipping} {
		t.Run(string(kind), func(t *testing.T) {
			f := newClientFixture(t, nil)
			_, got := f.createOne(t, reward(kind))
			if _, sent := got.Input["customerSelection"]; sent {
				t.Error("customerSelection sent")
			}
			if _, sent := got.Input["context"]; !sent {
				t.Error("context not sent")
			}
		})
	}
}

func TestCreateDiscountSendsAmountsAsExactDecimalText(t *testing.T) {
	tests := []struct{ amount, sent string }{
		{"5", "5.00"},
		{"12.5", "12.50"},
		{"0.99", "0.99"},
		{"1000", "1000.00"},
		{"2.125", "2.125"}, // three-decimal currencies (KWD, BHD) keep their mils
	}
	for _, tt := range tests {
		t.Run(tt.amount+" is sent as "+tt.sent, func(t *testing.T) {
			f := newClientFixture(t, nil)
			d := reward(DiscountAmount)
			d.Amount = app.MustAmount(tt.amount)
			d.MinSubtotal = app.MustAmount(tt.amount)
			_, got := f.createOne(t, d)
			if got.Amount != tt.sent || got.MinSubtotal != tt.sent {
				t.Errorf("amount %q, minimum %q; want %q", got.Amount, got.MinSubtotal, tt.sent)
			}
		})
	}
}

func TestCreateDiscountSendsThePercentageAsAFraction(t *testing.T) {
	for _, tt := range []struct {
		percent int
		want    float64
	}{{15, 0.15}, {1, 0.01}, {7, 0.07}, {33, 0.33}, {100, 1}} {
		t.Run(fmt.Sprintf("%d%% is %v", tt.percent, tt.want), func(t *testing.T) {
			f := newClientFixture(t, nil)
			d := reward(DiscountPercentage)
			d.Percentage = tt.percent
			_, got := f.createOne(t, d)
			if got.Percentage != tt.want {
				t.Errorf("percentage = %v, want %v", got.Percentage, tt.want)
			}
		})
	}
}

func TestFractionIsExactDecimalText(t *testing.T) {
	for _, tt := range []struct{ percent, want string }{
		{"15", "0.15"},
		{"12.5", "0.125"},
		{"1", "0.01"},
		{"100", "1"},
		{"33.3333", "0.333333"},
		{"0.5", "0.005"},
	} {
		if got := fraction(app.MustAmount(tt.percent)); string(got) != tt.want {
			t.Errorf("fraction(%s%%) = %s, want %s", tt.percent, got, tt.want)
		}
	}
}

func TestCreateDiscountRefusesAnImpossibleDiscountWithoutARequest(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Discount)
	}{
		{"no title", func(d *Discount) { d.Title = " " }},
		{"no code", func(d *Discount) { d.Code = "" }},
		{"no customer", func(d *Discount) { d.CustomerID = "" }},
		{"customer id not numeric", func(d *Discount) { d.CustomerID = "gid://shopify/Customer/1" }},
		{"no start", func(d *Discount) { d.StartsAt = time.Time{} }},
		{"ends before it starts", func(d *Discount) { d.EndsAt = d.StartsAt.Add(-time.Hour) }},
		{"ends as it starts", func(d *Discount) { d.EndsAt = d.StartsAt }},
		{"negative minimum", func(d *Discount) { d.MinSubtotal = -1 }},
		{"zero amount", func(d *Discount) { d.Amount = 0 }},
		{"unknown kind", func(d *Discount) { d.Kind = "bogo" }},
		{"percentage 0", func(d *Discount) { d.Kind, d.Percentage = DiscountPercentage, 0 }},
		{"percentage 101", func(d *Discount) { d.Kind, d.Percentage = DiscountPercentage, 101 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			d := reward(DiscountAmount)
			tt.change(&d)
			id, err := f.client.CreateDiscount(context.Background(), d)
			if !errors.Is(err, ErrInvalidDiscount) || id != "" {
				t.Fatalf("CreateDiscount = %q, %v; want ErrInvalidDiscount", id, err)
			}
			if !IsPermanent(err) {
				t.Error("IsPermanent = false")
			}
			if n := len(f.srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestCreateDiscountReportsATakenCodeAsPermanentAndDistinct(t *testing.T) {
	f := newClientFixture(t, nil)
	f.createOne(t, reward(DiscountAmount))

	other := reward(DiscountAmount)
	other.CustomerID = "7000000000002"
	other.Title = "Reward for customer 7000000000002"
	other.Code = strings.ToLower(other.Code) // codes are unique whatever their case
	id, err := f.client.CreateDiscount(context.Background(), other)
	if err == nil || id != "" {
		t.Fatalf("CreateDiscount = %q, %v; want the code refused", id, err)
	}
	var ue UserErrors
	if !errors.As(err, &ue) || len(ue) != 1 || ue[0].Code != "TAKEN" || ue[0].Message != shopifytest.MsgCodeTaken ||
		!reflect.DeepEqual(ue[0].Field, []string{"basicCodeDiscount", "code"}) {
		t.Fatalf("err = %v, want the TAKEN user error", err)
	}
	if !IsCodeTaken(err) || !IsPermanent(err) {
		t.Errorf("IsCodeTaken %v, IsPermanent %v; want both", IsCodeTaken(err), IsPermanent(err))
	}
	if !strings.Contains(err.Error(), testShop) || !strings.Contains(err.Error(), "discountCodeBasicCreate") {
		t.Errorf("err = %q, want the shop and the mutation named", err)
	}
	if n := len(f.srv.Discounts(testShop)); n != 1 {
		t.Errorf("the fake holds %d discounts, want 1", n)
	}
}

func TestCreateDiscountAgainReturnsTheDiscountAnEarlierAttemptMade(t *testing.T) {
	// An attempt whose answer was lost (a 502 after Shopify committed, a
	// job killed before it saved the id) leaves the code taken by this
	// very discount; the repeat returns it instead of failing.
	for _, kind := range []DiscountKind{DiscountAmount, DiscountFreeShipping} {
		t.Run(string(kind), func(t *testing.T) {
			f := newClientFixture(t, nil)
			first, _ := f.createOne(t, reward(kind))
			again, err := f.client.CreateDiscount(context.Background(), reward(kind))
			if err != nil || again != first {
				t.Fatalf("second CreateDiscount = %q, %v; want %q", again, err, first)
			}
			if n := len(f.srv.Discounts(testShop)); n != 1 {
				t.Errorf("the fake holds %d discounts, want 1", n)
			}
		})
	}
}

func TestCreateDiscountTreatsTheCodeAsTakenWhenTheHolderDiffers(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Discount)
	}{
		{"another title", func(d *Discount) { d.Title = "Birthday gift" }},
		{"another customer", func(d *Discount) { d.CustomerID = "7000000000002" }},
		{"another type", func(d *Discount) { d.Kind = DiscountFreeShipping }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			f.createOne(t, reward(DiscountAmount))
			d := reward(DiscountAmount)
			tt.change(&d)
			if _, err := f.client.CreateDiscount(context.Background(), d); !IsCodeTaken(err) {
				t.Fatalf("err = %v, want the code taken", err)
			}
		})
	}
}

func TestCreateDiscountReturnsOtherRefusalsAsPermanentUserErrors(t *testing.T) {
	f := newClientFixture(t, nil)
	f.srv.RefuseDiscounts("Customer is not eligible")
	_, err := f.client.CreateDiscount(context.Background(), reward(DiscountPercentage))
	var ue UserErrors
	if !errors.As(err, &ue) || ue[0].Message != "Customer is not eligible" {
		t.Fatalf("err = %v, want the refusal as UserErrors", err)
	}
	if !IsPermanent(err) || IsCodeTaken(err) {
		t.Errorf("IsPermanent %v, IsCodeTaken %v; want permanent, not taken", IsPermanent(err), IsCodeTaken(err))
	}
	if n := len(f.srv.Discounts(testShop)); n != 0 {
		t.Errorf("the fake holds %d discounts, want 0", n)
	}

	f.srv.RefuseDiscounts("")
	f.createOne(t, reward(DiscountPercentage))
}

func TestCreateDiscountRetriesA5xxAndCreatesOnce(t *testing.T) {
	f := newClientFixture(t, nil)
	f.srv.FailNext(2, http.StatusBadGateway, "")
	f.createOne(t, reward(DiscountAmount))
	if got, want := statuses(f.srv.Requests()), []int{502, 502, 200}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func TestCreateDiscountLeavesAnOutageRetryable(t *testing.T) {
	f := newClientFixture(t, func(o *ClientOptions) { o.MaxRetries = 2 })
	f.srv.FailNext(3, http.StatusServiceUnavailable, "")
	_, err := f.client.CreateDiscount(context.Background(), reward(DiscountAmount))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable failure", err)
	}
	if n := len(f.srv.Discounts(testShop)); n != 0 {
		t.Errorf("the fake holds %d discounts, want 0", n)
	}
}

func TestIsPermanentSeparatesGivingUpFromRetrying(t *testing.T) {
	taken := UserErrors{{Field: []string{"basicCodeDiscount", "code"}, Code: "TAKEN", Message: shopifytest.MsgCodeTaken}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"user errors", taken, true},
		{"wrapped user errors", fmt.Errorf("shopify x: discountCodeBasicCreate: %w", taken), true},
		{"invalid discount", fmt.Errorf("create discount: %w: no code", ErrInvalidDiscount), true},
		{"400 bad request", &APIError{Status: 400}, true},
		{"401 token revoked", &APIError{Status: 401, Message: shopifytest.MsgInvalidToken}, true},
		{"402 shop frozen", &APIError{Status: 402}, true},
		{"403 forbidden", &APIError{Status: 403}, true},
		{"404 shop gone", &APIError{Status: 404}, true},
		{"graphql access denied", &APIError{Status: 200, Code: "ACCESS_DENIED"}, true},
		{"graphql invalid variable", &APIError{Status: 200, Code: "INVALID_VARIABLE"}, true},
		{"429 after retries", fmt.Errorf("gave up after 6 attempts: %w", &APIError{Status: 429}), false},
		{"THROTTLED after retries", fmt.Errorf("gave up after 6 attempts: %w", &APIError{Status: 200, Code: "THROTTLED"}), false},
		{"graphql internal error", &APIError{Status: 200, Code: "INTERNAL_SERVER_ERROR"}, false},
		{"500", &APIError{Status: 500}, false},
		{"502 after retries", fmt.Errorf("gave up after 6 attempts: %w", &APIError{Status: 502}), false},
		{"503", &APIError{Status: 503}, false},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestIsCodeTakenKnowsShopifysWordings(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"code TAKEN", UserErrors{{Code: "TAKEN", Message: "whatever"}}, true},
		{"must be unique", UserErrors{{Message: shopifytest.MsgCodeTaken}}, true},
		{"already been taken", fmt.Errorf("x: %w", UserErrors{{Field: []string{"code"}, Message: "Code has already been taken"}}), true},
		{"another user error", UserErrors{{Code: "INVALID", Message: "Customer is not eligible"}}, false},
		{"an API error", &APIError{Status: 422, Message: "Code must be unique"}, false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsCodeTaken(tt.err); got != tt.want {
				t.Errorf("IsCodeTaken(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestDeactivateDiscountEndsItAndIsIdempotent(t *testing.T) {
	f := newClientFixture(t, nil)
	id, _ := f.createOne(t, reward(DiscountAmount))
	ctx := context.Background()

	if err := f.client.DeactivateDiscount(ctx, id); err != nil {
		t.Fatalf("DeactivateDiscount: %v", err)
	}
	got := f.srv.Discounts(testShop)[0]
	if got.Status != "EXPIRED" || got.EndsAt != "2026-03-01T12:00:00Z" {
		t.Errorf("after deactivation: status %s, ends %s; want EXPIRED now", got.Status, got.EndsAt)
	}
	f.clock.Advance(time.Hour)
	if err := f.client.DeactivateDiscount(ctx, id); err != nil {
		t.Errorf("deactivating again: %v", err)
	}
	if got := f.srv.Discounts(testShop)[0]; got.EndsAt != "2026-03-01T12:00:00Z" {
		t.Errorf("deactivating again moved the end to %s", got.EndsAt)
	}
	if err := f.client.DeactivateDiscount(ctx, "gid://shopify/DiscountCodeNode/999999999"); err != nil {
		t.Errorf("deactivating a discount that does not exist: %v", err)
	}
	if n := f.srv.Calls("discountCodeDeactivate"); n != 3 {
		t.Errorf("discountCodeDeactivate calls = %d, want 3", n)
	}
}

func TestDeactivateDiscountAcceptsEveryWayOfSayingItIsAlreadyOver(t *testing.T) {
	tests := []struct {
		message string
		ok      bool
	}{
		{shopifytest.MsgDiscountNotFound, true},
		{"Code discount not found", true},
		{"Discount doesn't exist", true},
		{"Discount is already expired", true},
		{"Discount has already been deactivated", true},
		{"Discount is already inactive", true},
		{"Something went wrong", false},
		{"Discount is already active", false},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			f := newClientFixture(t, nil)
			f.srv.Handle("discountCodeDeactivate", func(string, map[string]any) any {
				return map[string]any{
					"codeDiscountNode": nil,
					"userErrors":       []any{map[string]any{"field": []string{"id"}, "code": nil, "message": tt.message}},
				}
			})
			err := f.client.DeactivateDiscount(context.Background(), "gid://shopify/DiscountCodeNode/1")
			if tt.ok && err != nil {
				t.Errorf("err = %v, want success", err)
			}
			var ue UserErrors
			if !tt.ok && (!errors.As(err, &ue) || !IsPermanent(err)) {
				t.Errorf("err = %v, want permanent UserErrors", err)
			}
		})
	}
}

func TestDeactivateDiscountRefusesAnIDThatIsNotADiscountCodeNode(t *testing.T) {
	f := newClientFixture(t, nil)
	for _, id := range []string{"", "123", "gid://shopify/DiscountAutomaticNode/1", "gid://shopify/DiscountCodeNode/", "gid://shopify/DiscountCodeNode/1x"} {
		if err := f.client.DeactivateDiscount(context.Background(), id); !errors.Is(err, ErrInvalidDiscount) {
			t.Errorf("DeactivateDiscount(%q) = %v, want ErrInvalidDiscount", id, err)
		}
	}
	if n := len(f.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDeactivateDiscountLeavesAnOutageRetryable(t *testing.T) {
	f := newClientFixture(t, func(o *ClientOptions) { o.MaxRetries = 1 })
	f.srv.FailNext(2, http.StatusInternalServerError, "")
	err := f.client.DeactivateDiscount(context.Background(), "gid://shopify/DiscountCodeNode/1")
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable failure", err)
	}
}

// The fake refuses what Shopify's schema and validations refuse, so that the
// tests above would catch a client that sent it.

// sendDiscountInput sends input as the variable of mutation's create and
// returns its user errors, or the top-level error.
func (f *clientFixture) sendDiscountInput(t *testing.T, field string, input map[string]any) (UserErrors, error) {
	t.Helper()
	query, variable := discountCodeBasicCreateMutation, "basicCodeDiscount"
	if field == "discountCodeFreeShippingCreate" {
		query, variable = discountCodeFreeShippingCreateMutation, "freeShippingCodeDiscount"
	}
	p, err := f.client.discountMutation(context.Background(), query, field, map[string]any{variable: input})
	return p.UserErrors, err
}

func validInput(t *testing.T, kind DiscountKind) (field string, input map[string]any) {
	t.Helper()
	field, _, _, input, err := discountCreate(reward(kind))
	if err != nil {
		t.Fatal(err)
	}
	return field, input
}

func TestFakeShopifyRefusesDiscountInputsShopifyWouldRefuse(t *testing.T) {
	tests := []struct {
		name   string
		kind   DiscountKind
		change func(in map[string]any)
		code   string
		field  string
	}{
		{"the deprecated customerSelection", DiscountAmount, func(in map[string]any) {
			in["customerSelection"] = in["context"]
			delete(in, "context")
		}, "INVALID", "basicCodeDiscount.customerSelection"},
		{"no title", DiscountAmount, func(in map[string]any) { delete(in, "title") }, "BLANK", "basicCodeDiscount.title"},
		{"no code", DiscountFreeShipping, func(in map[string]any) { in["code"] = "" }, "BLANK", "freeShippingCodeDiscount.code"},
		{"no startsAt", DiscountAmount, func(in map[string]any) { delete(in, "startsAt") }, "BLANK", "basicCodeDiscount.startsAt"},
		{"no context", DiscountAmount, func(in map[string]any) { delete(in, "context") }, "BLANK", "basicCodeDiscount.context"},
		{"a customer that is not a gid", DiscountAmount, func(in map[string]any) {
			in["context"] = map[string]any{"customers": map[string]any{"add": []any{"7000000000001"}}}
		}, "INVALID", "basicCodeDiscount.context.customers.add"},
		{"no customerGets", DiscountAmount, func(in map[string]any) { delete(in, "customerGets") }, "BLANK", "basicCodeDiscount.customerGets"},
		{"a percentage over 1", DiscountPercentage, func(in map[string]any) {
			in["customerGets"].(map[string]any)["value"] = map[string]any{"percentage": 15}
		}, "VALUE_OUTSIDE_RANGE", "basicCodeDiscount.customerGets.value.percentage"},
		{"a usage limit of 0", DiscountAmount, func(in map[string]any) { in["usageLimit"] = 0 }, "GREATER_THAN_OR_EQUAL_TO", "basicCodeDiscount.usageLimit"},
		{"an end before the start", DiscountAmount, func(in map[string]any) { in["endsAt"] = "2026-02-01T00:00:00Z" }, "END_DATE_BEFORE_START_DATE", "basicCodeDiscount.endsAt"},
		{"a minimum subtotal and quantity", DiscountAmount, func(in map[string]any) {
			in["minimumRequirement"] = map[string]any{
				"subtotal": map[string]any{"greaterThanOrEqualToSubtotal": "50.00"},
				"quantity": map[string]any{"greaterThanOrEqualToQuantity": "2"},
			}
		}, "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT", "basicCodeDiscount.minimumRequirement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			field, input := validInput(t, tt.kind)
			tt.change(input)
			ue, err := f.sendDiscountInput(t, field, input)
			if err != nil {
				t.Fatalf("err = %v, want user errors", err)
			}
			found := false
			for _, e := range ue {
				found = found || (e.Code == tt.code && strings.Join(e.Field, ".") == tt.field)
			}
			if !found {
				t.Errorf("user errors = %+v, want %s at %s", ue, tt.code, tt.field)
			}
			if n := len(f.srv.Discounts(testShop)); n != 0 {
				t.Errorf("the fake stored %d discounts", n)
			}
		})
	}
}

func TestFakeShopifyRefusesDiscountVariablesTheSchemaRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(in map[string]any)
		want   string
	}{
		{"an amount sent as a number", func(in map[string]any) {
			in["customerGets"].(map[string]any)["value"] = map[string]any{"discountAmount": map[string]any{"amount": 5}}
		}, "customerGets.value.discountAmount.amount"},
		{"an unknown field", func(in map[string]any) { in["customerGet"] = in["customerGets"] }, "customerGet (Field is not defined on DiscountCodeBasicInput)"},
		{"a date that is not a DateTime", func(in map[string]any) { in["startsAt"] = "yesterday" }, "startsAt"},
		{"a usage limit that is not an Int", func(in map[string]any) { in["usageLimit"] = 1.5 }, "usageLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFixture(t, nil)
			field, input := validInput(t, DiscountAmount)
			tt.change(input)
			_, err := f.sendDiscountInput(t, field, input)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "INVALID_VARIABLE" || !strings.Contains(ae.Message, tt.want) {
				t.Fatalf("err = %v, want INVALID_VARIABLE naming %s", err, tt.want)
			}
			if !IsPermanent(err) {
				t.Error("IsPermanent = false")
			}
		})
	}
}

func TestFakeShopifyCountsDiscountStatusByItsClock(t *testing.T) {
	f := newClientFixture(t, nil)
	d := reward(DiscountAmount)
	d.StartsAt = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	f.createOne(t, d)
	for _, step := range []struct {
		to   time.Duration
		want string
	}{{0, "SCHEDULED"}, {31 * 24 * time.Hour, "ACTIVE"}, {62 * 24 * time.Hour, "EXPIRED"}} {
		f.clock.Advance(step.to)
		if got := f.srv.Discounts(testShop)[0].Status; got != step.want {
			t.Errorf("at %s status = %s, want %s", f.clock.Now().Format(time.RFC3339), got, step.want)
		}
	}
}
