// Package shopifytest is a fake Shopify for tests: the in-process fake of
// shopifyfake served by an httptest server that stops when the test ends.
// It plays the OAuth grant screen and token endpoint and the GraphQL Admin
// API (webhook subscriptions, customer discount codes, a leaky bucket of
// query cost) following the documented protocol, so that the shopify
// package and the web layer can run a whole install against it.
//
// Every shop domain is served by the one server under a path prefix:
// BaseURL("snowdevil.myshopify.com") is URL + "/shops/snowdevil.myshopify.com",
// which is what shopify.OAuth.BaseURL and shopify.ClientOptions.BaseURL
// expect. Everything else (SetClock, FailNext, Discounts...) is the
// embedded shopifyfake.Shopify's.
package shopifytest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"loyalty/platforms/shopify/shopifyfake"
)

// Names of the fake, kept here so that tests need import only this package.
const (
	DefaultScope         = shopifyfake.DefaultScope
	AccessTokenLifetime  = shopifyfake.AccessTokenLifetime
	RefreshTokenLifetime = shopifyfake.RefreshTokenLifetime
	SessionTokenLifetime = shopifyfake.SessionTokenLifetime

	MsgCodeUsed         = shopifyfake.MsgCodeUsed
	MsgRefreshTokenUsed = shopifyfake.MsgRefreshTokenUsed
	MsgBadClient        = shopifyfake.MsgBadClient
	MsgInvalidToken     = shopifyfake.MsgInvalidToken
	MsgAddressTaken     = shopifyfake.MsgAddressTaken
	MsgRateLimited      = shopifyfake.MsgRateLimited
	MsgCodeTaken        = shopifyfake.MsgCodeTaken
	MsgDiscountNotFound = shopifyfake.MsgDiscountNotFound
)

type (
	// Request is one request the fake received.
	Request = shopifyfake.Request
	// Subscription is a webhook subscription the fake keeps for a shop.
	Subscription = shopifyfake.Subscription
	// Resolver answers a GraphQL root field the fake does not know.
	Resolver = shopifyfake.Resolver
	// Discount is a code discount the fake keeps for a shop.
	Discount = shopifyfake.Discount
	// CombinesWith is the combinesWith input of a discount.
	CombinesWith = shopifyfake.CombinesWith
)

// Host is the host parameter Shopify sends for shop.
func Host(shop string) string { return shopifyfake.Host(shop) }

// SignQuery signs an install or callback query as Shopify does.
func SignQuery(query url.Values, secret string) string { return shopifyfake.SignQuery(query, secret) }

// SignSessionToken signs claims as an HS256 JWT with secret, for tests that
// need a token Shopify would not issue.
func SignSessionToken(secret string, claims map[string]any) string {
	return shopifyfake.SignSessionToken(secret, claims)
}

// Server is the fake Shopify on an httptest server. Its methods are safe
// for concurrent use.
type Server struct {
	*shopifyfake.Shopify
	// URL is the server's origin, "http://127.0.0.1:port".
	URL string

	srv *httptest.Server
}

// New starts a fake Shopify that accepts the app apiKey/apiSecret and stops
// it when the test ends. Its bucket holds 2000 points and restores 100 per
// second, Shopify's Standard plan figures.
func New(t testing.TB, apiKey, apiSecret string) *Server {
	t.Helper()
	fake := shopifyfake.New(apiKey, apiSecret)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &Server{Shopify: fake, URL: srv.URL, srv: srv}
}

// BaseURL is the origin the app should use for shop.
func (s *Server) BaseURL(shop string) string { return s.URL + "/shops/" + shop }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }
