package woocommercetest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func (s *Store) routes(mux *http.ServeMux) {
	api := http.NewServeMux()
	api.HandleFunc("GET /wp-json/wc/v3/system_status", s.systemStatus)
	api.HandleFunc("GET /wp-json/wc/v3/webhooks", s.listWebhooks)
	api.HandleFunc("POST /wp-json/wc/v3/webhooks", s.createWebhook)
	api.HandleFunc("GET /wp-json/wc/v3/webhooks/{id}", s.getWebhook)
	// WP_REST_Server::EDITABLE is POST, PUT and PATCH.
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		api.HandleFunc(method+" /wp-json/wc/v3/webhooks/{id}", s.updateWebhook)
	}
	api.HandleFunc("DELETE /wp-json/wc/v3/webhooks/{id}", s.deleteWebhook)
	api.HandleFunc("GET /wp-json/wc/v3/orders", s.listOrders)
	api.HandleFunc("GET /wp-json/wc/v3/orders/{id}", s.getOrder)
	s.couponRoutes(api)
	api.HandleFunc("/wp-json/", func(w http.ResponseWriter, r *http.Request) {
		restError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
	})
	mux.Handle("/wp-json/", s.loseAnswers(s.authenticate(api)))
	mux.HandleFunc("GET /wc-auth/v1/authorize", s.authorize)
}

// systemStatus is GET /system_status, honouring _fields as WordPress does
// (top-level names and one level of "section.field").
func (s *Store) systemStatus(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.") {
		return
	}
	s.mu.Lock()
	currency := s.currency
	s.mu.Unlock()
	sections := map[string]map[string]any{
		"environment": {
			"home_url": s.URL, "site_url": s.URL, "version": WCVersion, "wp_version": WPVersion,
			"wp_multisite": false, "language": "en_US", "php_version": "8.3.14",
			"default_timezone": "UTC", // PHP's, which WordPress always sets to UTC
		},
		"settings": {
			"api_enabled": true, "force_ssl": false, "currency": currency, "currency_symbol": "&#36;",
			"currency_position": "left", "thousand_separator": ",", "decimal_separator": ".", "number_of_decimals": 2,
		},
		"security": {"secure_connection": true, "hide_errors": true},
	}
	out := map[string]map[string]any{}
	fields := r.URL.Query().Get("_fields")
	if fields == "" {
		out = sections
	}
	for _, f := range strings.Split(fields, ",") {
		section, field, nested := strings.Cut(strings.TrimSpace(f), ".")
		values, ok := sections[section]
		switch {
		case !ok:
		case !nested:
			out[section] = values
		default:
			if v, ok := values[field]; ok {
				if out[section] == nil {
					out[section] = map[string]any{}
				}
				out[section][field] = v
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

var (
	webhookResources = []string{"coupon", "customer", "order", "product"}
	webhookEvents    = []string{"created", "updated", "deleted", "restored"}
	webhookStatuses  = []string{"active", "paused", "disabled"}
	actionTopic      = regexp.MustCompile(`^action\.(woocommerce|wc)_[a-z0-9_]+$`)
)

// validTopic is wc_is_webhook_valid_topic.
func validTopic(topic string) bool {
	if actionTopic.MatchString(topic) {
		return true
	}
	resource, event, ok := strings.Cut(topic, ".")
	return ok && slices.Contains(webhookResources, resource) && slices.Contains(webhookEvents, event)
}

// validURL is wc_is_valid_url: an absolute http or https URL with a host.
func validURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (s *Store) newWebhook(name, topic, deliveryURL, secret string) *Webhook {
	now := s.clock()
	w := &Webhook{
		ID:              s.nextHookID,
		Name:            name,
		Status:          "active",
		Topic:           topic,
		DeliveryURL:     deliveryURL,
		Secret:          secret,
		PendingDelivery: true,
		Created:         now,
		Modified:        now,
	}
	s.nextHookID++
	s.webhooks = append(s.webhooks, w)
	return w
}

func (s *Store) webhook(id string) *Webhook {
	n, _ := strconv.ParseInt(id, 10, 64)
	for _, w := range s.webhooks {
		if w.ID == n {
			return w
		}
	}
	return nil
}

// webhookJSON is a webhook as the v3 controller prepares it; the secret is
// never included.
func (s *Store) webhookJSON(w *Webhook) *object {
	resource, event, _ := strings.Cut(w.Topic, ".")
	o := &object{vals: map[string]json.RawMessage{}}
	o.set("id", w.ID)
	o.set("name", w.Name)
	o.set("status", w.Status)
	o.set("topic", w.Topic)
	o.set("resource", resource)
	o.set("event", event)
	o.set("hooks", hooks[w.Topic])
	o.set("delivery_url", w.DeliveryURL)
	o.set("date_created", mysqlTime(w.Created.In(SiteZone)))
	o.set("date_created_gmt", mysqlTime(w.Created))
	o.set("date_modified", mysqlTime(w.Modified.In(SiteZone)))
	o.set("date_modified_gmt", mysqlTime(w.Modified))
	self := s.URL + "/wp-json/wc/v3/webhooks/" + strconv.FormatInt(w.ID, 10)
	o.set("_links", map[string]any{
		"self":       []map[string]string{{"href": self}},
		"collection": []map[string]string{{"href": s.URL + "/wp-json/wc/v3/webhooks"}},
	})
	return o
}

// hooks are the actions behind the topics the app uses.
var hooks = map[string][]string{
	"order.created":    {"woocommerce_new_order"},
	"order.updated":    {"woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"},
	"order.deleted":    {"wp_trash_post", "woocommerce_trash_order"},
	"order.restored":   {"untrashed_post", "woocommerce_untrash_order"},
	"customer.created": {"user_register", "woocommerce_created_customer", "woocommerce_new_customer"},
}

// listWebhooks is GET /webhooks: status all by default, newest first by
// default, pages as the webhook data store counts them.
func (s *Store) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.") {
		return
	}
	q := r.URL.Query()
	page, perPage, ok := pagination(w, q)
	if !ok {
		return
	}
	status := cmp.Or(q.Get("status"), "all")
	if status != "all" && !slices.Contains(webhookStatuses, status) {
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): status")
		return
	}
	orderby := cmp.Or(q.Get("orderby"), "date")
	if !slices.Contains([]string{"date", "id", "title"}, orderby) {
		restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): orderby")
		return
	}
	desc := q.Get("order") != "asc"

	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*Webhook
	for _, h := range s.webhooks {
		if status == "all" || h.Status == status {
			matched = append(matched, h)
		}
	}
	slices.SortStableFunc(matched, func(a, b *Webhook) int {
		c := cmp.Compare(a.ID, b.ID) // ids follow creation
		if orderby == "title" {
			c = cmp.Compare(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
	items := make([]any, 0, perPage)
	for i := (page - 1) * perPage; i < len(matched) && i < page*perPage; i++ {
		items = append(items, s.webhookJSON(matched[i]))
	}
	setPages(w, len(matched), perPage)
	writeJSON(w, http.StatusOK, items)
}

func (s *Store) getWebhook(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.webhook(r.PathValue("id"))
	if h == nil {
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
		return
	}
	writeJSON(w, http.StatusOK, s.webhookJSON(h))
}

// webhookParams reads a webhook request's parameters from a JSON body or a
// form, as the REST server accepts both.
func webhookParams(r *http.Request) (map[string]string, bool) {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var raw map[string]any
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return nil, false
		}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out, true
	}
	if r.ParseForm() != nil {
		return nil, false
	}
	for k := range r.Form {
		out[k] = r.Form.Get(k)
	}
	return out, true
}

// createWebhook is POST /webhooks, as WC_REST_Webhooks_V1_Controller does
// it: the webhook is active whatever status was sent, gets a random secret
// when none was, and is pinged before the 201 goes out.
func (s *Store) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.") {
		return
	}
	p, ok := webhookParams(r)
	if !ok {
		restError(w, http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return
	}
	topic := strings.ToLower(p["topic"])
	switch {
	case p["topic"] == "" || p["delivery_url"] == "":
		restError(w, http.StatusBadRequest, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url")
		return
	case !validTopic(topic):
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.")
		return
	case !validURL(p["delivery_url"]):
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
		return
	}
	s.mu.Lock()
	name := cmp.Or(p["name"], "Webhook created on "+s.clock().In(SiteZone).Format("Jan 02, 2006 @ 03:04 PM"))
	secret := cmp.Or(p["secret"], randomHex(25)) // wp_generate_password(50)
	h := s.newWebhook(name, topic, p["delivery_url"], secret)
	body := s.webhookJSON(h)
	s.mu.Unlock()

	s.ping(h.ID)
	w.Header().Set("Location", s.URL+"/wp-json/wc/v3/webhooks/"+strconv.FormatInt(h.ID, 10))
	writeJSON(w, http.StatusCreated, body)
}

// updateWebhook is PUT /webhooks/{id}: each parameter sent and not empty is
// changed; saving an active webhook pings it when its delivery URL changed
// or its ping has not yet succeeded. The failure count is left as it is.
func (s *Store) updateWebhook(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.") {
		return
	}
	p, ok := webhookParams(r)
	if !ok {
		restError(w, http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return
	}
	s.mu.Lock()
	h := s.webhook(r.PathValue("id"))
	if code, message := invalidUpdate(h, p); code != "" {
		s.mu.Unlock()
		restError(w, http.StatusBadRequest, code, message)
		return
	}
	urlChanged := p["delivery_url"] != "" && p["delivery_url"] != h.DeliveryURL
	if p["topic"] != "" {
		h.Topic = strings.ToLower(p["topic"])
	}
	if p["delivery_url"] != "" {
		h.DeliveryURL = p["delivery_url"]
	}
	if p["secret"] != "" {
		h.Secret = p["secret"]
	}
	if p["status"] != "" {
		h.Status = strings.ToLower(p["status"])
	}
	if p["name"] != "" {
		h.Name = p["name"]
	}
	h.Modified = s.clock()
	ping := h.Status == "active" && (urlChanged || h.PendingDelivery)
	id := h.ID
	s.mu.Unlock()

	if ping {
		s.ping(id)
	}
	s.mu.Lock()
	body := s.webhookJSON(h)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// invalidUpdate is the error code and message WooCommerce answers an update
// of h with p with, or "" when it is valid.
func invalidUpdate(h *Webhook, p map[string]string) (code, message string) {
	switch {
	case h == nil:
		return "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid."
	case p["topic"] != "" && !validTopic(strings.ToLower(p["topic"])):
		return "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid."
	case p["delivery_url"] != "" && !validURL(p["delivery_url"]):
		return "woocommerce_rest_shop_webhook_invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://."
	case p["status"] != "" && !slices.Contains(webhookStatuses, strings.ToLower(p["status"])):
		return "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid."
	}
	return "", ""
}

// deleteWebhook is DELETE /webhooks/{id}?force=true; webhooks cannot be
// trashed.
func (s *Store) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.") {
		return
	}
	if f := r.URL.Query().Get("force"); f != "true" && f != "1" {
		restError(w, http.StatusNotImplemented, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.webhook(r.PathValue("id"))
	if h == nil {
		restError(w, http.StatusNotFound, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
		return
	}
	body := s.webhookJSON(h)
	s.webhooks = slices.DeleteFunc(s.webhooks, func(x *Webhook) bool { return x == h })
	writeJSON(w, http.StatusOK, body)
}
