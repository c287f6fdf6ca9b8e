package woocommercetest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"loyalty/app"
)

// order is a stored order: the resource as it was put, plus what the store
// changes in it.
type order struct {
	base      *object
	id        int64
	status    string
	total     app.Amount
	created   time.Time
	modified  time.Time
	paid      time.Time
	completed time.Time
	refunds   []refund // oldest first
}

type refund struct {
	id     int64
	amount app.Amount
	reason string
}

// paidStatuses are WooCommerce's wc_get_is_paid_statuses(): moving an order
// into one sets date_paid if it is not set.
var paidStatuses = []string{"processing", "completed"}

// PutOrder stores an order resource (woocommerce.SampleOrder's output, or a
// fixture) as the store's current state of that order, replacing any
// earlier one, and dates its modification now. The body must have an id, a
// status and a total; its refunds are kept. It returns the id.
func (s *Store) PutOrder(body []byte) int64 {
	s.t.Helper()
	obj, err := parseObject(body)
	if err != nil {
		s.t.Fatalf("woocommercetest: PutOrder: %v", err)
	}
	id, err := strconv.ParseInt(obj.num("id"), 10, 64)
	if err != nil || id <= 0 {
		s.t.Fatalf("woocommercetest: PutOrder: id %q", obj.num("id"))
	}
	total, err := app.ParseAmount(obj.num("total"))
	if err != nil || obj.str("status") == "" {
		s.t.Fatalf("woocommercetest: PutOrder: order %d needs a status and a total (%v)", id, err)
	}
	var listed []struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
		Refund string `json:"refund"`
		Total  string `json:"total"`
	}
	_ = json.Unmarshal(obj.vals["refunds"], &listed)

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	o := &order{
		base:     obj,
		id:       id,
		status:   obj.str("status"),
		total:    total,
		created:  parseTime(obj.str("date_created_gmt"), now),
		modified: now,
		paid:     parseTime(obj.str("date_paid_gmt"), time.Time{}),
	}
	o.completed = parseTime(obj.str("date_completed_gmt"), time.Time{})
	for _, f := range slices.Backward(listed) {
		amount, err := app.ParseAmount(f.Total)
		if err != nil {
			s.t.Fatalf("woocommercetest: PutOrder: refund %d total %q", f.ID, f.Total)
		}
		if amount < 0 {
			amount = -amount
		}
		o.refunds = append(o.refunds, refund{id: f.ID, amount: amount, reason: cmp.Or(f.Reason, f.Refund)})
		s.maxPostID = max(s.maxPostID, f.ID)
	}
	s.maxPostID = max(s.maxPostID, id)
	s.orders[id] = o
	return id
}

// SetStatus moves order id to status, as the merchant or a payment gateway
// would, with WooCommerce's side effects: a paid status sets date_paid,
// completed sets date_completed, and refunded refunds what is left
// (wc_order_fully_refunded).
func (s *Store) SetStatus(id int64, status string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		s.t.Fatalf("woocommercetest: SetStatus: no order %d", id)
	}
	now := s.clock()
	o.status = status
	if slices.Contains(paidStatuses, status) && o.paid.IsZero() {
		o.paid = now
	}
	if status == "completed" {
		o.completed = now
	}
	if left := o.total - o.refunded(); status == "refunded" && left > 0 {
		s.maxPostID++
		o.refunds = append(o.refunds, refund{id: s.maxPostID, amount: left, reason: "Order fully refunded."})
	}
	o.modified = now
}

// AddRefund refunds amount (positive) of order id with reason, as the
// merchant would, and returns the refund's id. A refund that brings the
// refunded sum to the order's total moves it to refunded. More than is left
// to refund fails the test, as WooCommerce refuses it.
func (s *Store) AddRefund(id int64, amount app.Amount, reason string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		s.t.Fatalf("woocommercetest: AddRefund: no order %d", id)
	}
	if amount <= 0 || amount > o.total-o.refunded() {
		s.t.Fatalf("woocommercetest: AddRefund: invalid refund amount %s for order %d", amount, id)
	}
	s.maxPostID++
	o.refunds = append(o.refunds, refund{id: s.maxPostID, amount: amount, reason: reason})
	if o.refunded() == o.total {
		o.status = "refunded"
	}
	o.modified = s.clock()
	return s.maxPostID
}

// Order returns the order resource as the REST API would.
func (s *Store) Order(id int64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		return nil
	}
	return wpJSON(s.render(o))
}

func (o *order) refunded() app.Amount {
	var sum app.Amount
	for _, f := range o.refunds {
		sum += f.amount
	}
	return sum
}

// render is the order resource: the stored object with the fields the store
// maintains written over it.
func (s *Store) render(o *order) *object {
	obj := o.base.clone()
	obj.set("status", o.status)
	obj.set("date_created", mysqlTime(o.created.In(SiteZone)))
	obj.set("date_created_gmt", mysqlTime(o.created))
	obj.set("date_modified", mysqlTime(o.modified.In(SiteZone)))
	obj.set("date_modified_gmt", mysqlTime(o.modified))
	for _, d := range []struct {
		key string
		t   time.Time
	}{{"date_paid", o.paid}, {"date_completed", o.completed}} {
		if d.t.IsZero() {
			obj.set(d.key, nil)
			obj.set(d.key+"_gmt", nil)
		} else {
			obj.set(d.key, mysqlTime(d.t.In(SiteZone)))
			obj.set(d.key+"_gmt", mysqlTime(d.t))
		}
	}
	// Newest first, as WC_Order::get_refunds sorts them, keys in its order.
	type refundJSON struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
		Total  string `json:"total"`
	}
	refunds := make([]refundJSON, 0, len(o.refunds))
	for _, f := range slices.Backward(o.refunds) {
		refunds = append(refunds, refundJSON{f.id, f.reason, "-" + f.amount.String()})
	}
	obj.set("refunds", refunds)
	return obj
}

// listOrders is GET /orders with the collection parameters the app uses.
func (s *Store) listOrders(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.") {
		return
	}
	q := r.URL.Query()
	page, perPage, ok := pagination(w, q)
	if !ok {
		return
	}
	useGMT := q.Get("dates_are_gmt") == "true" || q.Get("dates_are_gmt") == "1"
	var after, before time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"modified_after", &after}, {"modified_before", &before}} {
		if v := q.Get(p.name); v != "" {
			t, ok := wallClock(v)
			if !ok {
				restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): "+p.name)
				return
			}
			*p.dst = t
		}
	}
	orderby := cmp.Or(q.Get("orderby"), "date")
	if !slices.Contains([]string{"date", "id", "include", "title", "slug", "modified"}, orderby) {
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): orderby")
		return
	}
	desc := q.Get("order") != "asc"
	statuses := strings.Split(cmp.Or(q.Get("status"), "any"), ",")

	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*order
	for _, o := range s.orders {
		modified := o.modified
		if !useGMT {
			// The comparison is between wall clocks: without
			// dates_are_gmt the column is the site's local time.
			modified = wallIn(o.modified, SiteZone)
		}
		switch {
		case !after.IsZero() && !modified.After(after):
			continue
		case !before.IsZero() && !modified.Before(before):
			continue
		case !statusMatches(o.status, statuses):
			continue
		}
		matched = append(matched, o)
	}
	slices.SortFunc(matched, func(a, b *order) int {
		c := 0
		switch orderby {
		case "modified":
			c = a.modified.Compare(b.modified)
		case "date":
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = cmp.Compare(a.id, b.id) // the ID tie-break WooCommerce adds
		}
		if desc {
			c = -c
		}
		return c
	})
	items := make([]any, 0, perPage)
	for i := (page - 1) * perPage; i < len(matched) && i < page*perPage; i++ {
		items = append(items, s.render(matched[i]))
	}
	setPages(w, len(matched), perPage)
	writeJSON(w, http.StatusOK, items)
}

func statusMatches(status string, wanted []string) bool {
	for _, want := range wanted {
		switch want = strings.TrimSpace(want); {
		case want == "any" && status != "trash" && status != "checkout-draft":
			return true
		case want == status:
			return true
		}
	}
	return false
}

// getOrder is GET /orders/{id}; trashed orders are still found.
func (s *Store) getOrder(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.") {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		restError(w, http.StatusNotFound, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
		return
	}
	writeJSON(w, http.StatusOK, s.render(o))
}

// pagination reads page and per_page (1 to 100, 10 by default).
func pagination(w http.ResponseWriter, q map[string][]string) (page, perPage int, ok bool) {
	get := func(name string, def int) (int, bool) {
		v := ""
		if vs := q[name]; len(vs) > 0 {
			v = vs[0]
		}
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	page, okPage := get("page", 1)
	perPage, okPer := get("per_page", 10)
	switch {
	case !okPage || page < 1:
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): page")
		return 0, 0, false
	case !okPer || perPage < 1 || perPage > 100:
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): per_page")
		return 0, 0, false
	}
	return page, perPage, true
}

func setPages(w http.ResponseWriter, total, perPage int) {
	w.Header().Set("X-WP-Total", strconv.Itoa(total))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa((total+perPage-1)/perPage))
}

// wallClock reads a date-time parameter the way WordPress's date query
// does: a zone, when given, converts the time to UTC; the wall-clock time
// that results is then compared with a column's wall-clock time.
func wallClock(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// wallIn is t's wall-clock time in zone, labelled UTC, for comparing with
// wallClock's results.
func wallIn(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

func parseTime(v string, def time.Time) time.Time {
	if t, err := time.Parse("2006-01-02T15:04:05", v); err == nil {
		return t
	}
	return def
}

// PutCustomer stores a customer resource (the body of customer.created) and
// returns its id.
func (s *Store) PutCustomer(body []byte) int64 {
	s.t.Helper()
	obj, err := parseObject(body)
	if err != nil {
		s.t.Fatalf("woocommercetest: PutCustomer: %v", err)
	}
	id, err := strconv.ParseInt(obj.num("id"), 10, 64)
	if err != nil || id <= 0 {
		s.t.Fatalf("woocommercetest: PutCustomer: id %q", obj.num("id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[id] = obj
	return id
}
