package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of the install and callback checks. The web layer answers both with
// 400 and starts the install again; neither names the secret or the digest.
var (
	// ErrBadQueryHMAC means the hmac parameter is missing, is not hex, or
	// does not match the other parameters.
	ErrBadQueryHMAC = errors.New("shopify oauth: bad query hmac")
	// ErrStaleRequest means the timestamp parameter is missing, unreadable
	// or too far from now, so a captured install link cannot be replayed
	// later.
	ErrStaleRequest = errors.New("shopify oauth: stale request")
)

// DefaultTimestampTolerance is how far a request's timestamp may be from now
// when CheckTimestamp is given no tolerance: Shopify's own library allows 90
// seconds of clock skew and delay.
const DefaultTimestampTolerance = 90 * time.Second

// shopPattern is the strict form of a shop's permanent domain. It is anchored
// at both ends (Shopify's documented regex is not) so that
// "x.myshopify.com.evil.com" and "x.myshopify.com/path" fail.
var shopPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// storeName is a shop name in the admin.shopify.com/store/{name} form.
var storeName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ValidShopDomain returns shop trimmed and lower-cased if it is a shop's
// permanent domain ("snowdevil.myshopify.com"). The shop parameter decides
// which host the app sends its client secret to, so anything else — URLs,
// paths, ports, custom domains, other TLDs — is refused rather than repaired.
// The one form rewritten is the new admin's "admin.shopify.com/store/{name}",
// which Shopify's own library also maps to "{name}.myshopify.com".
func ValidShopDomain(shop string) (string, bool) {
	shop = strings.ToLower(strings.TrimSpace(shop))
	if name, ok := strings.CutPrefix(shop, "admin.shopify.com/store/"); ok {
		name = strings.TrimSuffix(name, "/")
		if !storeName.MatchString(name) {
			return "", false
		}
		shop = name + ".myshopify.com"
	}
	if !shopPattern.MatchString(shop) {
		return "", false
	}
	return shop, true
}

// VerifyQueryHMAC checks the hmac parameter Shopify adds to install requests
// and OAuth callbacks: hex HMAC-SHA256, keyed with the client secret, of the
// other parameters sorted by key and joined as k=v with &. The legacy MD5
// signature parameter is left out as well. A key sent more than once
// (ids[]=1&ids[]=2) is signed once with its values joined by a comma.
//
// Unlike webhooks (base64 over the raw body), the message is rebuilt from the
// decoded parameters, so it can be written two ways: as the documented plain
// k=v text, or with the values form-encoded as Shopify's Node library does.
// Both are accepted; they differ only for values holding characters such as
// spaces or "=", and a digest made with the secret matches either way only
// if Shopify signed these very parameters.
func VerifyQueryHMAC(query url.Values, secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret configured", ErrBadQueryHMAC)
	}
	got, err := hex.DecodeString(strings.TrimSpace(query.Get("hmac")))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: missing or not a hex digest", ErrBadQueryHMAC)
	}
	for _, message := range []string{queryMessage(query), formEncodedMessage(query)} {
		if hmac.Equal(got, mac([]byte(message), secret)) {
			return nil
		}
	}
	return ErrBadQueryHMAC
}

// SignQuery returns the hmac parameter Shopify would add to query. Fakes and
// tests use it; the app itself only verifies.
func SignQuery(query url.Values, secret string) string {
	return hex.EncodeToString(mac([]byte(queryMessage(query)), secret))
}

// queryMessage is the text VerifyQueryHMAC and SignQuery sign: the
// parameters except hmac and signature, sorted by key, as k=v joined by &.
// As Shopify's older documentation asks, "%" and "&" are escaped in keys and
// values and "=" in keys, so that no parameter can pass for two.
func queryMessage(query url.Values) string {
	keyEscaper := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	valueEscaper := strings.NewReplacer("%", "%25", "&", "%26")
	pairs := make([]string, 0, len(query))
	for _, key := range signedKeys(query) {
		pairs = append(pairs, keyEscaper.Replace(key)+"="+valueEscaper.Replace(strings.Join(query[key], ",")))
	}
	return strings.Join(pairs, "&")
}

// formEncodedMessage is the message as Shopify's Node library writes it:
// keys and values form-encoded, with %20 rather than + for a space.
func formEncodedMessage(query url.Values) string {
	pairs := make([]string, 0, len(query))
	for _, key := range signedKeys(query) {
		pairs = append(pairs, formEncode(key)+"="+formEncode(strings.Join(query[key], ",")))
	}
	return strings.Join(pairs, "&")
}

// formEncode escapes s like the WHATWG URLSearchParams serializer, which
// leaves only ASCII letters, digits and "*-._" alone.
func formEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func signedKeys(query url.Values) []string {
	keys := make([]string, 0, len(query))
	for key := range query {
		if key != "hmac" && key != "signature" {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

// CheckTimestamp refuses a request whose timestamp parameter (Unix seconds)
// is missing, unreadable, or further than tolerance from now in either
// direction. A tolerance of zero or less means DefaultTimestampTolerance.
// The HMAC covers the timestamp, so check it after VerifyQueryHMAC.
func CheckTimestamp(query url.Values, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTimestampTolerance
	}
	raw := strings.TrimSpace(query.Get("timestamp"))
	if raw == "" {
		return fmt.Errorf("%w: no timestamp", ErrStaleRequest)
	}
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not a number", ErrStaleRequest)
	}
	if skew := now.Sub(time.Unix(sec, 0)).Abs(); skew > tolerance {
		return fmt.Errorf("%w: timestamp is %s from now", ErrStaleRequest, skew.Truncate(time.Second))
	}
	return nil
}

// OAuth holds what the authorization code grant needs. It speaks only the
// protocol: the web layer keeps the state nonce in a signed cookie, verifies
// the callback (VerifyQueryHMAC, CheckTimestamp, ValidShopDomain, the state)
// and stores the Token.
type OAuth struct {
	// APIKey is the app's client ID.
	APIKey string
	// APISecret is the app's client secret.
	APISecret string
	// Scopes are the access scopes to ask for, such as "read_orders".
	Scopes []string
	// RedirectURL is the app's callback; it must be on the app's list of
	// allowed redirection URLs.
	RedirectURL string
	// HTTP sends the token requests; nil means http.DefaultClient.
	HTTP *http.Client
	// BaseURL maps a shop domain to the origin its admin is served from;
	// nil means "https://" + shop. Tests point it at a fake Shopify.
	BaseURL func(shop string) string
}

func (o *OAuth) base(shop string) string {
	if o.BaseURL != nil {
		return strings.TrimSuffix(o.BaseURL(shop), "/")
	}
	return "https://" + shop
}

func (o *OAuth) httpClient() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return http.DefaultClient
}

// AuthorizeURL is where to send the merchant to grant the app its scopes.
// shop must already have passed ValidShopDomain; state is the fresh nonce
// the callback must return. No grant_options[] is sent, which asks for an
// offline token: the app works on orders while no one is logged in.
func (o *OAuth) AuthorizeURL(shop, state string) string {
	scopes := make([]string, len(o.Scopes))
	for i, s := range o.Scopes {
		scopes[i] = url.QueryEscape(s)
	}
	// Built by hand to keep Shopify's documented parameter order and the
	// commas between scopes readable.
	return o.base(shop) + "/admin/oauth/authorize" +
		"?client_id=" + url.QueryEscape(o.APIKey) +
		"&scope=" + strings.Join(scopes, ",") +
		"&redirect_uri=" + url.QueryEscape(o.RedirectURL) +
		"&state=" + url.QueryEscape(state)
}

// Token is an Admin API access token as Shopify granted it.
type Token struct {
	// AccessToken goes in the X-Shopify-Access-Token header.
	AccessToken string
	// Scope is the comma-separated list of scopes actually granted, which
	// may differ from those asked for: the merchant can edit the URL.
	Scope string
	// RefreshToken renews an expiring token; empty for one that never
	// expires. It is single-use.
	RefreshToken string
	// ExpiresAt is when AccessToken stops working; zero if it never does.
	ExpiresAt time.Time
	// RefreshExpiresAt is when RefreshToken stops working; zero if there is
	// none.
	RefreshExpiresAt time.Time
}

// Scopes returns the granted scopes as a list.
func (t Token) Scopes() []string {
	var out []string
	for s := range strings.SplitSeq(t.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Expiring reports whether the token expires and must be refreshed.
func (t Token) Expiring() bool { return !t.ExpiresAt.IsZero() }

// String masks both tokens so that logging a Token, even with %+v, never
// leaks a credential.
func (t Token) String() string {
	return fmt.Sprintf("shopify.Token{AccessToken:%s Scope:%q RefreshToken:%s ExpiresAt:%s RefreshExpiresAt:%s}",
		mask(t.AccessToken), t.Scope, mask(t.RefreshToken), t.ExpiresAt.Format(time.RFC3339), t.RefreshExpiresAt.Format(time.RFC3339))
}

// GoString masks the tokens for %#v as String does for %v.
func (t Token) GoString() string { return t.String() }

func mask(secret string) string {
	if secret == "" {
		return `""`
	}
	return "***"
}

// ExchangeCode trades the authorization code from the callback for an access
// token. It asks for an expiring offline token (expiring=1): public apps
// created from April 2026 must use them and older ones must move by January
// 2027, so a non-expiring token is never the goal. now dates the expiries.
func (o *OAuth) ExchangeCode(ctx context.Context, shop, code string, now time.Time) (Token, error) {
	form := url.Values{
		"client_id":     {o.APIKey},
		"client_secret": {o.APISecret},
		"code":          {code},
		"expiring":      {"1"},
	}
	t, err := o.tokenRequest(ctx, shop, form, now)
	if err != nil {
		return Token{}, fmt.Errorf("shopify %s: exchange authorization code: %w", shop, err)
	}
	return t, nil
}

// Refresh trades a refresh token for a new access token and a new refresh
// token. The old refresh token is spent, so the caller must store the new
// pair before anything else can fail.
func (o *OAuth) Refresh(ctx context.Context, shop, refreshToken string, now time.Time) (Token, error) {
	form := url.Values{
		"client_id":     {o.APIKey},
		"client_secret": {o.APISecret},
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	t, err := o.tokenRequest(ctx, shop, form, now)
	if err != nil {
		return Token{}, fmt.Errorf("shopify %s: refresh access token: %w", shop, err)
	}
	return t, nil
}

// tokenResponse is the body of a successful access_token request.
type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	Scope                 string `json:"scope"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
}

func (o *OAuth) tokenRequest(ctx context.Context, shop string, form url.Values, now time.Time) (Token, error) {
	shop, ok := ValidShopDomain(shop)
	if !ok {
		// The client secret is about to be posted to this host.
		return Token{}, errors.New("not a valid shop domain")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base(shop)+"/admin/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := o.httpClient().Do(req)
	if err != nil {
		return Token{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOAuthBody))
	if err != nil {
		return Token{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Token{}, newAPIError(resp.StatusCode, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return Token{}, fmt.Errorf("token response is not JSON: %w", err)
	}
	if tr.AccessToken == "" {
		return Token{}, errors.New("token response has no access_token")
	}
	t := Token{AccessToken: tr.AccessToken, Scope: tr.Scope, RefreshToken: tr.RefreshToken}
	if tr.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	if tr.RefreshToken != "" && tr.RefreshTokenExpiresIn > 0 {
		t.RefreshExpiresAt = now.Add(time.Duration(tr.RefreshTokenExpiresIn) * time.Second)
	}
	return t, nil
}

// maxOAuthBody bounds what is read from a token response.
const maxOAuthBody = 1 << 20

// MissingScopes returns the required scopes that granted does not cover, in
// the order required lists them. A write scope covers its read scope
// (write_orders grants read_orders), as Shopify documents; the merchant can
// edit the scope list in the authorize URL, so the app checks before it
// relies on a token.
func MissingScopes(granted, required []string) []string {
	have := make(map[string]bool, 2*len(granted))
	for _, s := range granted {
		s = strings.TrimSpace(s)
		have[s] = true
		// unauthenticated_write_x implies unauthenticated_read_x too.
		if prefix, rest, ok := strings.Cut(s, "write_"); ok && (prefix == "" || prefix == "unauthenticated_") {
			have[prefix+"read_"+rest] = true
		}
	}
	var missing []string
	for _, s := range required {
		s = strings.TrimSpace(s)
		if s != "" && !have[s] && !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// APIError is a non-success answer from Shopify: an HTTP error status, or
// GraphQL errors in a 200 answer. Message is Shopify's own text, which never
// holds the app's secret or token.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is Shopify's machine-readable code when it gives one: the OAuth
	// "error" (invalid_request) or a GraphQL extensions.code
	// (ACCESS_DENIED, MAX_COST_EXCEEDED).
	Code string
	// Message is Shopify's error text.
	Message string
}

// Error reads "shopify api: 401 Unauthorized: [API] Invalid API key …".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shopify api: %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// newAPIError reads Shopify's error body, whose shape differs by endpoint:
// OAuth answers {"error","error_description"}, the Admin API answers
// {"errors": "text"}, {"errors": {"field": ["text"]}} or GraphQL's
// {"errors": [{"message"}]}.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var shape struct {
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Errors           json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &shape) != nil {
		return e
	}
	e.Code = shape.Error
	switch {
	case shape.ErrorDescription != "":
		e.Message = shape.ErrorDescription
	case len(shape.Errors) > 0:
		e.Code, e.Message = errorsText(shape.Errors)
	default:
		e.Message = shape.Error
	}
	return e
}

// errorsText flattens an "errors" value of any of Shopify's shapes into one
// line, with the first GraphQL error code found.
func errorsText(raw json.RawMessage) (code, message string) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return "", text
	}
	var list []graphQLError
	if json.Unmarshal(raw, &list) == nil {
		return graphQLErrors(list).codeAndMessage()
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		var parts []string
		for _, key := range slices.Sorted(maps.Keys(fields)) {
			var msgs []string
			if json.Unmarshal(fields[key], &msgs) != nil {
				var one string
				if json.Unmarshal(fields[key], &one) != nil {
					continue
				}
				msgs = []string{one}
			}
			parts = append(parts, key+": "+strings.Join(msgs, ", "))
		}
		return "", strings.Join(parts, "; ")
	}
	return "", ""
}
