package shopify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors VerifySessionToken returns, wrapped with the reason. The web layer
// answers both with 401; App Bridge then fetches a fresh token and retries.
var (
	// ErrBadSessionToken means the token is not one Shopify issued for this
	// app and shop: malformed, wrongly signed, for another app, or with
	// claims that do not fit together. Expired tokens wrap it too.
	ErrBadSessionToken = errors.New("shopify session token: invalid")
	// ErrSessionTokenExpired additionally marks a token that was valid but
	// has expired or is not valid yet, which is routine (tokens live one
	// minute) rather than suspicious.
	ErrSessionTokenExpired = errors.New("shopify session token: expired or not yet valid")
)

// sessionTokenLeeway absorbs clock skew between Shopify and this server, as
// Shopify's library does; a token only lives a minute, so more would matter.
const sessionTokenLeeway = 10 * time.Second

// Session is what a verified App Bridge session token says about the request.
type Session struct {
	// Shop is the shop's permanent domain, taken from the dest claim.
	Shop string
	// UserID is the staff member (sub claim); empty for tokens not tied to
	// a user.
	UserID string
	// SessionID is Shopify's id of the user's session with the app (sid).
	SessionID string
	// ExpiresAt is when the token stops being valid.
	ExpiresAt time.Time
}

// sessionClaims are the claims Shopify puts in a session token beyond the
// registered ones.
type sessionClaims struct {
	Dest string `json:"dest"`
	SID  string `json:"sid"`
	jwt.RegisteredClaims
}

// VerifySessionToken checks an App Bridge session token (the Bearer token an
// embedded page sends) and returns whom it speaks for. It accepts only
// HS256 signed with the app's client secret — never "none" or an RS*/ES*
// algorithm, which would let a forger pick the key — and requires, with 10 s
// of leeway, exp in the future and nbf in the past at now. aud must be the
// app's client ID (apiKey), dest an https URL of a valid shop domain, and iss
// that shop's admin on the same host, so a token minted for one shop cannot
// act on another.
func VerifySessionToken(token, apiKey, secret string, now time.Time) (Session, error) {
	if apiKey == "" || secret == "" {
		return Session{}, fmt.Errorf("%w: no client ID or secret configured", ErrBadSessionToken)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(sessionTokenLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithAudience(apiKey),
	)
	var claims sessionClaims
	_, err := parser.ParseWithClaims(strings.TrimSpace(token), &claims, func(*jwt.Token) (any, error) {
		return []byte(secret), nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return Session{}, fmt.Errorf("%w: %w", ErrBadSessionToken, ErrSessionTokenExpired)
	case err != nil:
		// jwt's messages name claims and algorithms, never the key.
		return Session{}, fmt.Errorf("%w: %w", ErrBadSessionToken, err)
	}
	// WithAudience accepts a list that merely contains the client ID;
	// Shopify sends exactly one audience.
	if len(claims.Audience) != 1 {
		return Session{}, fmt.Errorf("%w: want exactly one audience", ErrBadSessionToken)
	}
	shop, err := shopFromURL(claims.Dest, "dest")
	if err != nil {
		return Session{}, err
	}
	issuer, err := shopFromURL(claims.Issuer, "iss")
	if err != nil {
		return Session{}, err
	}
	if issuer != shop {
		return Session{}, fmt.Errorf("%w: iss %q is not the admin of dest %q", ErrBadSessionToken, claims.Issuer, claims.Dest)
	}
	return Session{
		Shop:      shop,
		UserID:    claims.Subject,
		SessionID: claims.SID,
		ExpiresAt: claims.ExpiresAt.Time,
	}, nil
}

// shopFromURL returns the shop domain of an https URL such as
// "https://exampleshop.myshopify.com" or ".../admin", refusing ports, user
// info and hosts that are not shop domains.
func shopFromURL(raw, claim string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Host == "" {
		return "", fmt.Errorf("%w: %s %q is not an https shop URL", ErrBadSessionToken, claim, raw)
	}
	shop, ok := ValidShopDomain(u.Hostname())
	if !ok {
		return "", fmt.Errorf("%w: %s %q is not a shop domain", ErrBadSessionToken, claim, raw)
	}
	return shop, nil
}
