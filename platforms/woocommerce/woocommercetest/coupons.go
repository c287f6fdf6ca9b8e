package woocommercetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
)

// Coupon is a coupon as the store keeps it: the fields as they were sent,
// except where WooCommerce changes them on the way in (the code and the
// emails are lower-cased, the expiry is a time).
type Coupon struct {
	ID int64
	// Code is lower-case: core filters woocommerce_coupon_code through
	// wc_strtolower.
	Code string
	// Status is publish, or trash after a DELETE without force.
	Status        string
	DiscountType  string // fixed_cart, percent or fixed_product
	Amount        string // as sent
	IndividualUse bool
	// UsageLimit and UsageLimitPerUser are 0 for no limit.
	UsageLimit        int
	UsageLimitPerUser int
	UsageCount        int
	// EmailRestrictions are lower-cased, as WC_Coupon stores them.
	EmailRestrictions []string
	FreeShipping      bool
	ExcludeSaleItems  bool
	MinimumAmount     string // as sent, "" when never set
	MaximumAmount     string
	Description       string
	// Expires is when the coupon stops working, in UTC; zero for never.
	Expires  time.Time
	Created  time.Time
	Modified time.Time
	// Body is the request body that created the coupon, exactly as sent.
	Body []byte
}

// Coupons returns the store's coupons in creation order, trashed ones
// included.
func (s *Store) Coupons() []Coupon {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Coupon, len(s.coupons))
	for i, c := range s.coupons {
		out[i] = c.clone()
	}
	return out
}

func (c *Coupon) clone() Coupon {
	out := *c
	out.EmailRestrictions = slices.Clone(c.EmailRestrictions)
	out.Body = slices.Clone(c.Body)
	return out
}

func (s *Store) couponRoutes(api *http.ServeMux) {
	api.HandleFunc("GET /wp-json/wc/v3/coupons", s.listCoupons)
	api.HandleFunc("POST /wp-json/wc/v3/coupons", s.createCoupon)
	api.HandleFunc("GET /wp-json/wc/v3/coupons/{id}", s.getCoupon)
	// WP_REST_Server::EDITABLE is POST, PUT and PATCH.
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		api.HandleFunc(method+" /wp-json/wc/v3/coupons/{id}", s.updateCoupon)
	}
	api.HandleFunc("DELETE /wp-json/wc/v3/coupons/{id}", s.deleteCoupon)
}

func (s *Store) coupon(id string) *Coupon {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, c := range s.coupons {
		if c.ID == n {
			return c
		}
	}
	return nil
}

// couponByCode is wc_get_coupon_id_by_code: the newest published coupon
// with the code, whatever its case, other than exclude.
func (s *Store) couponByCode(code string, exclude int64) *Coupon {
	code = strings.ToLower(code)
	for _, c := range slices.Backward(s.coupons) {
		if c.Status == "publish" && c.ID != exclude && c.Code == code {
			return c
		}
	}
	return nil
}

// couponJSON is the coupon resource as WC_REST_Coupons_V2_Controller
// formats it.
func (s *Store) couponJSON(c *Coupon) *object {
	o := &object{vals: map[string]json.RawMessage{}}
	o.set("id", c.ID)
	o.set("code", c.Code)
	o.set("amount", decimal2(c.Amount))
	o.set("status", c.Status)
	o.set("date_created", mysqlTime(c.Created.In(SiteZone)))
	o.set("date_created_gmt", mysqlTime(c.Created))
	o.set("date_modified", mysqlTime(c.Modified.In(SiteZone)))
	o.set("date_modified_gmt", mysqlTime(c.Modified))
	o.set("discount_type", c.DiscountType)
	o.set("description", c.Description)
	if c.Expires.IsZero() {
		o.set("date_expires", nil)
		o.set("date_expires_gmt", nil)
	} else {
		o.set("date_expires", mysqlTime(c.Expires.In(SiteZone)))
		o.set("date_expires_gmt", mysqlTime(c.Expires))
	}
	o.set("usage_count", c.UsageCount)
	o.set("individual_use", c.IndividualUse)
	o.set("product_ids", []int{})
	o.set("excluded_product_ids", []int{})
	o.set("usage_limit", nullIfZero(c.UsageLimit))
	o.set("usage_limit_per_user", nullIfZero(c.UsageLimitPerUser))
	o.set("limit_usage_to_x_items", nil)
	o.set("free_shipping", c.FreeShipping)
	o.set("product_categories", []int{})
	o.set("excluded_product_categories", []int{})
	o.set("exclude_sale_items", c.ExcludeSaleItems)
	o.set("minimum_amount", decimal2(c.MinimumAmount))
	o.set("maximum_amount", decimal2(c.MaximumAmount))
	o.set("email_restrictions", append([]string{}, c.EmailRestrictions...))
	o.set("used_by", []string{})
	o.set("meta_data", []struct{}{})
	self := s.URL + "/wp-json/wc/v3/coupons/" + strconv.FormatInt(c.ID, 10)
	o.set("_links", map[string]any{
		"self":       []map[string]string{{"href": self}},
		"collection": []map[string]string{{"href": s.URL + "/wp-json/wc/v3/coupons"}},
	})
	return o
}

func nullIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// decimal2 is wc_format_decimal(v, 2): two decimals, rounded half up; ""
// is "0.00".
func decimal2(v string) string {
	a, err := app.ParseAmount(v)
	if err != nil {
		return "0.00"
	}
	neg := a < 0
	if neg {
		a = -a
	}
	const cent = app.AmountScale / 100
	c := (a + cent/2) / cent
	s := strconv.FormatInt(int64(c/100), 10) + "." + strconv.FormatInt(int64(c%100+100), 10)[1:]
	if neg && c != 0 {
		s = "-" + s
	}
	return s
}

// listCoupons is GET /coupons: published coupons, newest first, or only the
// one wc_get_coupon_id_by_code finds when code is given.
func (s *Store) listCoupons(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.") {
		return
	}
	q := r.URL.Query()
	page, perPage, ok := pagination(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*Coupon
	if code := strings.TrimSpace(q.Get("code")); code != "" {
		if c := s.couponByCode(code, 0); c != nil {
			matched = append(matched, c)
		}
	} else {
		for _, c := range slices.Backward(s.coupons) {
			if c.Status == "publish" {
				matched = append(matched, c)
			}
		}
	}
	items := make([]any, 0, perPage)
	for i := (page - 1) * perPage; i < len(matched) && i < page*perPage; i++ {
		items = append(items, s.couponJSON(matched[i]))
	}
	setPages(w, len(matched), perPage)
	writeJSON(w, http.StatusOK, items)
}

// getCoupon is GET /coupons/{id}; a trashed coupon is still found. As in
// WC_REST_CRUD_Controller, an unknown id passes the permission check.
func (s *Store) getCoupon(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coupon(r.PathValue("id"))
	if c == nil {
		restError(w, http.StatusNotFound, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
		return
	}
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.") {
		return
	}
	writeJSON(w, http.StatusOK, s.couponJSON(c))
}

// createCoupon is POST /coupons: WordPress validates the parameters against
// the schema, then the controller refuses an empty or taken code and sets
// each field through WC_Coupon's setters.
func (s *Store) createCoupon(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.") {
		return
	}
	body, p, ok := couponParams(w, r)
	if !ok {
		return
	}
	if _, ok := p["code"]; !ok {
		restError(w, http.StatusBadRequest, "rest_missing_callback_param", "Missing parameter(s): code")
		return
	}
	if _, ok := p["id"]; ok {
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_coupon_exists", "Cannot create existing shop_coupon.")
		return
	}
	var code string
	if json.Unmarshal(p["code"], &code) == nil && strings.TrimSpace(code) == "" {
		restError(w, http.StatusBadRequest, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Coupon{Status: "publish", DiscountType: "fixed_cart", Body: body}
	if status, code, message := s.applyCoupon(c, p); code != "" {
		restError(w, status, code, message)
		return
	}
	s.maxPostID++ // coupons are posts
	c.ID = s.maxPostID
	c.Created = s.clock()
	c.Modified = c.Created
	s.coupons = append(s.coupons, c)
	w.Header().Set("Location", s.URL+"/wp-json/wc/v3/coupons/"+strconv.FormatInt(c.ID, 10))
	writeJSON(w, http.StatusCreated, s.couponJSON(c))
}

// updateCoupon is PUT /coupons/{id}: an unknown id is 400 (not the 404 of a
// GET), and each parameter sent is set as on create.
func (s *Store) updateCoupon(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coupon(r.PathValue("id"))
	if c == nil {
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
		return
	}
	if !allowed(w, r, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.") {
		return
	}
	_, p, ok := couponParams(w, r)
	if !ok {
		return
	}
	changed := c.clone()
	if status, code, message := s.applyCoupon(&changed, p); code != "" {
		restError(w, status, code, message)
		return
	}
	changed.Modified = s.clock()
	*c = changed
	writeJSON(w, http.StatusOK, s.couponJSON(c))
}

// deleteCoupon is DELETE /coupons/{id}: to the trash, or for good with
// force=true.
func (s *Store) deleteCoupon(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coupon(r.PathValue("id"))
	if c == nil {
		restError(w, http.StatusNotFound, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
		return
	}
	if !allowed(w, r, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.") {
		return
	}
	body := s.couponJSON(c)
	if f := r.URL.Query().Get("force"); f == "true" || f == "1" {
		s.coupons = slices.DeleteFunc(s.coupons, func(x *Coupon) bool { return x == c })
		writeJSON(w, http.StatusOK, body)
		return
	}
	if c.Status == "trash" {
		restError(w, http.StatusGone, "woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.")
		return
	}
	c.Status = "trash"
	c.Modified = s.clock()
	writeJSON(w, http.StatusOK, s.couponJSON(c))
}

// couponParams reads a JSON body and checks each known parameter's type as
// WordPress checks it against the schema, answering the error itself. A
// null parameter counts as not sent, as in WP_REST_Request.
func couponParams(w http.ResponseWriter, r *http.Request) ([]byte, map[string]json.RawMessage, bool) {
	var body bytes.Buffer
	var raw map[string]json.RawMessage
	if _, err := body.ReadFrom(r.Body); err != nil || json.Unmarshal(body.Bytes(), &raw) != nil {
		restError(w, http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return nil, nil, false
	}
	p := map[string]json.RawMessage{}
	var invalid []string
	for _, key := range couponFields {
		v, ok := raw[key.name]
		if !ok || string(v) == "null" {
			continue
		}
		if !key.valid(v) {
			invalid = append(invalid, key.name)
		}
		p[key.name] = v
	}
	if v, ok := raw["id"]; ok && string(v) != "null" {
		p["id"] = v
	}
	if len(invalid) > 0 {
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): "+strings.Join(invalid, ", "))
		return nil, nil, false
	}
	return body.Bytes(), p, true
}

// couponFields are the writable fields of the coupon schema, in its order,
// which is the order the controller sets them in. date_expires_gmt is in the
// schema but WC_Coupon has no setter for it, so the controller drops it.
var couponFields = []struct {
	name  string
	valid func(json.RawMessage) bool
}{
	{"code", isString},
	{"amount", isString},
	{"status", isString},
	{"discount_type", func(v json.RawMessage) bool {
		var s string
		return json.Unmarshal(v, &s) == nil && slices.Contains([]string{"percent", "fixed_cart", "fixed_product"}, s)
	}},
	{"description", isString},
	{"date_expires", anything}, // its schema type, date-time, is not one WordPress checks
	{"date_expires_gmt", anything},
	{"individual_use", isBoolean},
	{"usage_limit", isInteger},
	{"usage_limit_per_user", isInteger},
	{"limit_usage_to_x_items", isInteger},
	{"free_shipping", isBoolean},
	{"exclude_sale_items", isBoolean},
	{"minimum_amount", isString},
	{"maximum_amount", isString},
	{"email_restrictions", isStringList},
}

func isString(v json.RawMessage) bool { return len(v) > 0 && v[0] == '"' }

func anything(json.RawMessage) bool { return true }

// isBoolean is rest_is_boolean: true, false, 0, 1 and their strings.
func isBoolean(v json.RawMessage) bool {
	_, ok := boolean(v)
	return ok
}

func boolean(v json.RawMessage) (bool, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	switch strings.ToLower(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// isInteger is rest_is_integer: an integral number, or a string of one.
func isInteger(v json.RawMessage) bool {
	_, ok := integer(v)
	return ok
}

func integer(v json.RawMessage) (int, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// isStringList accepts an array of strings, or a comma- or space-separated
// string, which wp_parse_list splits.
func isStringList(v json.RawMessage) bool {
	_, ok := stringList(v)
	return ok
}

func stringList(v json.RawMessage) ([]string, bool) {
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return list, true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil, false
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }), true
}

var emailPattern = regexp.MustCompile(`^[a-z0-9!#$%&'*+/=?^_{|}~.-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)

// applyCoupon sets the parameters p on c as the controller does, field by
// field in schema order, and returns the error WooCommerce would answer
// with, if any. Two departures, so that client bugs show: an amount that is
// not a number is refused (WooCommerce quietly stores 0), and so is an
// unreadable date_expires (WooCommerce stores 1970-01-01).
func (s *Store) applyCoupon(c *Coupon, p map[string]json.RawMessage) (status int, code, message string) {
	str := func(key string) string {
		var v string
		_ = json.Unmarshal(p[key], &v)
		return v
	}
	for _, f := range couponFields {
		v, ok := p[f.name]
		if !ok {
			continue
		}
		switch f.name {
		case "code":
			code := strings.ToLower(strings.TrimSpace(str("code")))
			if s.couponByCode(code, c.ID) != nil {
				return http.StatusBadRequest, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists"
			}
			c.Code = code
		case "amount":
			a, err := app.ParseAmount(str("amount"))
			switch {
			case err != nil:
				return http.StatusBadRequest, "coupon_invalid_amount", "Invalid discount amount"
			case a < 0:
				return http.StatusBadRequest, "coupon_invalid_amount", "Invalid discount amount"
			// The type is set after the amount, so this sees the
			// coupon's type before this request.
			case c.DiscountType == "percent" && a > 100*app.AmountScale:
				return http.StatusBadRequest, "coupon_invalid_amount", "Invalid discount amount"
			}
			c.Amount = str("amount")
		case "status":
			c.Status = str("status")
		case "discount_type":
			c.DiscountType = str("discount_type")
		case "description":
			c.Description = str("description")
		case "date_expires":
			t, ok := dateProp(v)
			if !ok {
				return http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): date_expires"
			}
			c.Expires = t
		case "individual_use":
			c.IndividualUse, _ = boolean(v)
		case "usage_limit":
			n, _ := integer(v)
			c.UsageLimit = max(n, -n) // absint
		case "usage_limit_per_user":
			n, _ := integer(v)
			c.UsageLimitPerUser = max(n, -n)
		case "free_shipping":
			c.FreeShipping, _ = boolean(v)
		case "exclude_sale_items":
			c.ExcludeSaleItems, _ = boolean(v)
		case "minimum_amount":
			c.MinimumAmount = str("minimum_amount")
		case "maximum_amount":
			c.MaximumAmount = str("maximum_amount")
		case "email_restrictions":
			list, _ := stringList(v)
			var emails []string
			for _, e := range list {
				if e = strings.ToLower(strings.TrimSpace(e)); e == "" {
					continue
				}
				if !emailPattern.MatchString(e) {
					return http.StatusBadRequest, "coupon_invalid_email_address", "Invalid email address restriction"
				}
				emails = append(emails, e)
			}
			c.EmailRestrictions = emails
		}
	}
	return 0, "", ""
}

var isoWithZone = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$`)

// dateProp reads a date as WC_Data::set_date_prop does: empty is no date, a
// number is a Unix timestamp, an ISO 8601 time with Z or ±hh:mm is taken
// at its offset, and anything else is the wall-clock time it names read in
// the site's time zone (even when it has a zone of another form, such as
// +0000).
func dateProp(v json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "0000-00-00 00:00:00" {
		return time.Time{}, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	if isoWithZone.MatchString(s) {
		t, err := time.Parse(time.RFC3339, s)
		return t.UTC(), err == nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			u := t.UTC()
			local := time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), 0, SiteZone)
			return local.UTC(), true
		}
	}
	return time.Time{}, false
}
