// Package web is the HTTP side of the app: webhook endpoints, health and
// metrics. Every route is registered in routes.go.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"loyalty/app"
	"loyalty/webhooks"
)

// Pinger is a dependency whose reachability /readyz reports.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the web side needs.
type Deps struct {
	Service     *app.Service
	Intake      *webhooks.Intake // nil in a worker-only process
	Shopify     *ShopifyAuth     // nil in a worker-only process
	WooCommerce *WooConnect      // nil in a worker-only process
	Widget      *Widget          // nil in a worker-only process
	// Demo is the local demo storefront; nil in production and in a
	// worker-only process.
	Demo *Demo
	// Queues is the staff queue dashboard; nil when no staff is configured.
	Queues *Queues
	// Unsubscribe serves the links in messages; nil in a worker-only process.
	Unsubscribe *Unsubscribe
	// Console is the staff sign-in of the console and the admin API; nil
	// turns both off.
	Console *Console
	// Codes asks a worker to create a redemption's code now (best effort).
	Codes          func(ctx context.Context, shop app.Shop, redemptionID int64)
	Registry       *prometheus.Registry
	Postgres       Pinger
	Redis          Pinger
	MaxWebhookBody int64
	Log            *slog.Logger
}

// Server is the HTTP server.
type Server struct {
	echo *echo.Echo
	deps Deps
}

// New builds the server and its routes.
func New(deps Deps) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Server.ReadHeaderTimeout = 5 * time.Second
	e.Server.ReadTimeout = 30 * time.Second
	e.Server.WriteTimeout = 30 * time.Second
	e.Server.IdleTimeout = 2 * time.Minute
	// A client's address is the peer's, or what a proxy on a private or
	// loopback address says it is: a client cannot name its own address in
	// X-Forwarded-For to slip past a rate limit.
	e.IPExtractor = echo.ExtractIPFromXFFHeader()
	e.Use(middleware.Recover())
	s := &Server{echo: e, deps: deps}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
}

// Handler returns the server's http.Handler, for tests.
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on addr until ctx is cancelled, then drains connections.
func (s *Server) Run(ctx context.Context, addr string) error {
	errc := make(chan error, 1)
	go func() {
		s.deps.Log.Info("http server listening", "addr", addr)
		if err := s.echo.Start(addr); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(errc)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.echo.Shutdown(shutdownCtx)
}

// errorBody is the one error format of every JSON response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var statusOf = map[string]int{
	app.ENotFound:          http.StatusNotFound,
	app.EConflict:          http.StatusConflict,
	app.EInvalid:           http.StatusUnprocessableEntity,
	app.EInsufficientPoint: http.StatusUnprocessableEntity,
	app.EForbidden:         http.StatusForbidden,
	app.EInternal:          http.StatusInternalServerError,
}

// handleError maps errors to statuses, logs internal errors once and shows
// users only safe messages.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var body errorBody
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		body.Error.Code = http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok {
			body.Error.Message = msg
		} else {
			body.Error.Message = http.StatusText(he.Code)
		}
	default:
		code := app.ErrorCode(err)
		status = statusOf[code]
		body.Error.Code, body.Error.Message = code, app.ErrorMessage(err)
	}
	if status >= 500 {
		s.deps.Log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.JSON(status, body)
}
