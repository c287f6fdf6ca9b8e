package woocommercetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// userAgent is the User-Agent of deliveries and pings.
var userAgent = fmt.Sprintf("WooCommerce/%s Hookshot (WordPress/%s)", WCVersion, WPVersion)

// maxFailures is the woocommerce_max_webhook_delivery_failures default: a
// failure that finds more than this many before it disables the webhook.
const maxFailures = 5

// ping is WC_Webhook::deliver_ping: a form-style "webhook_id=N" POST with
// no X-WC-Webhook-* headers and no signature. Only an exact 200 clears the
// pending delivery; the result changes nothing else.
func (s *Store) ping(id int64) {
	s.mu.Lock()
	h := s.webhookByID(id)
	if h == nil {
		s.mu.Unlock()
		return
	}
	target := h.DeliveryURL
	s.mu.Unlock()

	status := 0
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader("webhook_id="+strconv.FormatInt(id, 10)))
	if err == nil {
		req.Header.Set("User-Agent", userAgent)
		// WordPress's transport labels a string body as a form.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		if resp, err := s.outbound.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.webhookByID(id); h != nil {
		h.Pings = append(h.Pings, status)
		if status == http.StatusOK {
			h.PendingDelivery = false
		}
	}
}

func (s *Store) webhookByID(id int64) *Webhook {
	for _, h := range s.webhooks {
		if h.ID == id {
			return h
		}
	}
	return nil
}

// Deliver sends topic for resource id to every active webhook of that topic,
// as WooCommerce's queued delivery does when it runs: the body is the
// resource as the REST API shows it now ({"id":N} for a deleted event),
// encoded like wp_json_encode and signed with each webhook's secret. Each
// delivery is attempted once; 200–302 counts as success and resets the
// webhook's failure count, anything else (no answer included) counts as a
// failure, and the seventh consecutive failure disables the webhook.
//
// It returns the status the last webhook answered (0 for no answer) and an
// error when no webhook is active for the topic, the resource is unknown,
// or the last delivery got no answer.
func (s *Store) Deliver(topic string, id int64) (status int, err error) {
	s.mu.Lock()
	resource, event, _ := strings.Cut(topic, ".")
	var payload any = map[string]int64{"id": id}
	if event != "deleted" {
		switch resource {
		case "order":
			o := s.orders[id]
			if o == nil {
				s.mu.Unlock()
				return 0, fmt.Errorf("woocommercetest: no order %d", id)
			}
			payload = s.render(o)
		case "customer":
			c := s.customers[id]
			if c == nil {
				s.mu.Unlock()
				return 0, fmt.Errorf("woocommercetest: no customer %d", id)
			}
			payload = c
		default:
			s.mu.Unlock()
			return 0, fmt.Errorf("woocommercetest: no %s resources", resource)
		}
	}
	body := bytes.TrimSpace(wpJSON(payload))
	type target struct {
		id          int64
		url, secret string
	}
	var targets []target
	for _, h := range s.webhooks {
		if h.Status == "active" && h.Topic == topic {
			targets = append(targets, target{h.ID, h.DeliveryURL, h.Secret})
		}
	}
	now := s.clock()
	s.mu.Unlock()
	if len(targets) == 0 {
		return 0, fmt.Errorf("woocommercetest: no active webhook for %s", topic)
	}

	for _, t := range targets {
		// wp_hash(id . strtotime('now')) is an HMAC-MD5 keyed with the
		// site's salt; a plain MD5 has the same shape.
		sum := md5.Sum([]byte(strconv.FormatInt(t.id, 10) + strconv.FormatInt(now.Unix(), 10)))
		header := http.Header{}
		header.Set("User-Agent", userAgent)
		header.Set("Content-Type", "application/json")
		header.Set("X-WC-Webhook-Source", s.URL+"/")
		header.Set("X-WC-Webhook-Topic", topic)
		header.Set("X-WC-Webhook-Resource", resource)
		header.Set("X-WC-Webhook-Event", event)
		header.Set("X-WC-Webhook-Signature", sign(body, t.secret))
		header.Set("X-WC-Webhook-ID", strconv.FormatInt(t.id, 10))
		header.Set("X-WC-Webhook-Delivery-ID", hex.EncodeToString(sum[:]))

		status, err = 0, nil
		req, reqErr := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(body))
		if reqErr != nil {
			err = reqErr
		} else {
			req.Header = header.Clone()
			resp, doErr := s.outbound.Do(req)
			if doErr != nil {
				err = doErr
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
		}
		s.logDelivery(Delivery{WebhookID: t.id, Topic: topic, Header: header, Body: body, Status: status, Err: err})
	}
	if err != nil {
		return status, errors.Join(errors.New("woocommercetest: delivery got no answer"), err)
	}
	return status, nil
}

// logDelivery records a delivery and tracks failures as
// WC_Webhook::log_delivery and failed_delivery do.
func (s *Store) logDelivery(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	h := s.webhookByID(d.WebhookID)
	if h == nil {
		return
	}
	switch {
	case d.Status >= 200 && d.Status < 303:
		h.FailureCount = 0
	case h.FailureCount > maxFailures:
		h.Status = "disabled"
	default:
		h.FailureCount++
	}
}

// sign is WC_Webhook::generate_signature with the default sha256.
func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
