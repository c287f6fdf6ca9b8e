package shopifyfake

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SessionTokenLifetime is how long Shopify's session tokens are valid.
const SessionTokenLifetime = time.Minute

// SessionClaims are the claims of an App Bridge session token, as Shopify
// fills them for shop and user.
func (s *Shopify) SessionClaims(shop, userID string, now time.Time) map[string]any {
	s.mu.Lock()
	jti := s.secret("jti", 32)
	sid := s.secret("sid", 64)
	s.mu.Unlock()
	return map[string]any{
		"iss":  "https://" + shop + "/admin",
		"dest": "https://" + shop,
		"aud":  s.APIKey,
		"sub":  userID,
		"exp":  now.Add(SessionTokenLifetime).Unix(),
		"nbf":  now.Unix(),
		"iat":  now.Unix(),
		"jti":  jti[:8] + "-" + jti[8:12] + "-" + jti[12:16] + "-" + jti[16:20] + "-" + jti[20:32],
		"sid":  sid,
	}
}

// SessionToken is the session token App Bridge would hand the app's page
// for shop and the staff member userID at now: HS256, signed with the
// client secret, valid for a minute.
func (s *Shopify) SessionToken(shop, userID string, now time.Time) string {
	return SignSessionToken(s.APISecret, s.SessionClaims(shop, userID, now))
}

// SignSessionToken signs claims as an HS256 JWT with secret, for tests that
// need a token Shopify would not issue (expired, for another app, with
// claims out of step).
func SignSessionToken(secret string, claims map[string]any) string {
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte(secret))
	if err != nil {
		// HS256 with a []byte key cannot fail.
		panic("shopifyfake: sign session token: " + err.Error())
	}
	return token
}
