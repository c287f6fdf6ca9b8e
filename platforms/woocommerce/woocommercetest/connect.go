package woocommercetest

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// authorize plays /wc-auth/v1/authorize with a merchant who is logged in
// with manage_woocommerce and decides at once, doing in one request what
// WC_Auth spreads over the authorize and access_granted routes:
//
//   - the five parameters are checked as make_validation does (errors are
//     wp_die pages with status 401);
//   - on approval a key pair is created with the scope as its permissions
//     and posted as JSON to callback_url, user_id echoed as a string; an
//     answer other than exactly 200 deletes the key and ends in an error
//     page; otherwise the merchant is redirected to
//     return_url?success=1&user_id=…;
//   - on refusal (DenyConnect) no key is made and the redirect says
//     success=0.
//
// Like WooCommerce it urldecodes return_url and callback_url once more
// after the query was decoded, and adds https:// to a URL without a scheme.
func (s *Store) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	params := map[string]string{}
	for _, name := range []string{"app_name", "user_id", "return_url", "callback_url", "scope"} {
		if q.Get(name) == "" {
			authError(w, "Missing parameter "+name)
			return
		}
		params[name] = q.Get(name)
	}
	if !slices.Contains([]string{"read", "write", "read_write"}, params["scope"]) {
		authError(w, "Invalid scope "+params["scope"])
		return
	}
	returnURL, callbackURL := formattedURL(params["return_url"]), formattedURL(params["callback_url"])
	for _, u := range []string{returnURL, callbackURL} {
		if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Host == "" {
			authError(w, "The "+u+" is not a valid URL")
			return
		}
	}
	if !strings.HasPrefix(strings.ToLower(callbackURL), "https://") {
		authError(w, "The callback_url needs to be over SSL")
		return
	}

	s.mu.Lock()
	deny := s.deny
	var key *Key
	if !deny {
		description := fmt.Sprintf("%s - API (%s)", params["app_name"], s.clock().Format("2006-01-02 15:04:05"))
		key = s.issueKeys(description, params["scope"])
	}
	s.mu.Unlock()

	if !deny {
		data := wpJSON(struct {
			KeyID          int64  `json:"key_id"`
			UserID         string `json:"user_id"`
			ConsumerKey    string `json:"consumer_key"`
			ConsumerSecret string `json:"consumer_secret"`
			KeyPermissions string `json:"key_permissions"`
		}{key.ID, params["user_id"], key.ConsumerKey, key.ConsumerSecret, key.Permissions})
		if status := s.postCallback(callbackURL, data); status != http.StatusOK {
			s.mu.Lock()
			s.keys = slices.DeleteFunc(s.keys, func(k *Key) bool { return k == key })
			s.mu.Unlock()
			authError(w, "An error occurred in the request and at the time were unable to send the consumer data")
			return
		}
	}

	success := "1"
	if deny {
		success = "0"
	}
	target, _ := url.Parse(returnURL)
	rq := target.Query()
	rq.Set("success", success)
	rq.Set("user_id", wcClean(params["user_id"]))
	target.RawQuery = rq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// postCallback posts the keys and returns the status answered, 0 for none.
func (s *Store) postCallback(target string, data []byte) int {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("User-Agent", "WordPress/"+WPVersion+"; "+s.URL)
	resp, err := s.outbound.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// formattedURL is WC_Auth::get_formatted_url: urldecode, then https:// when
// there is no scheme.
func formattedURL(raw string) string {
	if decoded, err := url.QueryUnescape(raw); err == nil {
		raw = decoded
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	return raw
}

var (
	percentOctet = regexp.MustCompile(`%[a-fA-F0-9]{2}`)
	htmlTag      = regexp.MustCompile(`<[^>]*>`)
)

// wcClean approximates sanitize_text_field, which wc_clean applies: tags
// and percent-encoded octets are removed, whitespace collapsed and trimmed.
func wcClean(s string) string {
	s = htmlTag.ReplaceAllString(s, "")
	s = percentOctet.ReplaceAllString(s, "")
	return strings.Join(strings.Fields(s), " ")
}

// authError is wp_die( "Error: …", "Access denied", 401 ).
func authError(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Access denied</title></head><body><p>Error: %s.</p></body></html>", html.EscapeString(message))
}
