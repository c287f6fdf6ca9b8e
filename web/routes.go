package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"loyalty/app"
)

// routes registers every route of the app, so the whole surface reads at once.
func (s *Server) routes() {
	e := s.echo
	e.GET("/", s.home)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})))
	e.GET("/widget/loyalty-widget.js", s.widgetScript)

	// The queue dashboard, for staff only; 404 when the console is off.
	if s.deps.Queues != nil {
		e.Any(QueuesPath, s.deps.Queues.serve)
		e.Any(QueuesPath+"/*", s.deps.Queues.serve)
	}

	// The staff console and admin API: every route states the permission
	// it needs; the shop is the session's or token's, never the client's.
	if s.deps.Console != nil {
		e.GET("/console/login", s.loginPage)
		e.POST("/console/login", s.login)
		e.POST("/console/logout", s.logout, s.requireStaff(""))
		e.GET("/console", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/console/") })
		e.GET("/console/", s.consoleDashboard, s.requireStaff(""))
		e.POST("/console/tokens", s.createToken, s.requireStaff(""))
		e.POST("/console/tokens/:id/revoke", s.revokeToken, s.requireStaff(""))
		e.GET("/console/console.js", s.consoleScript)
		// console: program, rewards, staff, account, audit, dashboard
		e.GET("/console/program", s.consoleProgram, s.requireStaff(app.EditProgram))
		e.POST("/console/program", s.saveProgram, s.requireStaff(app.EditProgram))
		e.POST("/console/program/earn-statuses", s.saveEarnStatuses, s.requireStaff(app.EditProgram))
		e.GET("/console/rewards", s.consoleRewards, s.requireStaff(app.EditRewards))
		e.POST("/console/rewards", s.addConsoleReward, s.requireStaff(app.EditRewards))
		e.POST("/console/rewards/:id/activate", s.setConsoleRewardActive(true), s.requireStaff(app.EditRewards))
		e.POST("/console/rewards/:id/deactivate", s.setConsoleRewardActive(false), s.requireStaff(app.EditRewards))
		e.GET("/console/staff", s.consoleStaff, s.requireStaff(app.ManageStaff))
		e.POST("/console/staff", s.addConsoleStaff, s.requireStaff(app.ManageStaff))
		e.POST("/console/staff/:id/role", s.setConsoleStaffRole, s.requireStaff(app.ManageStaff))
		e.POST("/console/staff/:id/disable", s.disableConsoleStaff, s.requireStaff(app.ManageStaff))
		e.GET("/console/account", s.consoleAccount, s.requireStaff(""))
		e.POST("/console/account/password", s.changePassword, s.requireStaff(""))
		e.GET("/console/audit", s.consoleAudit, s.requireStaff(""))
		// console: customers, adjustments, approvals, reports, import/export
		e.GET("/console/customers", s.consoleCustomers, s.requireStaff(app.ViewCustomers))
		e.GET("/console/customers/:customer", s.consoleCustomer, s.requireStaff(app.ViewCustomers))
		e.POST("/console/customers/:customer/adjust", s.consoleAdjust, s.requireStaff(app.AdjustBalance))
		e.POST("/console/entries/:id/undo", s.consoleUndo, s.requireStaff(app.AdjustBalance))
		e.GET("/console/approvals", s.consoleApprovals, s.requireStaff(app.ApproveAdjustments))
		e.POST("/console/approvals/:id/approve", s.consoleApprove, s.requireStaff(app.ApproveAdjustments))
		e.POST("/console/approvals/:id/reject", s.consoleReject, s.requireStaff(app.ApproveAdjustments))
		e.GET("/console/reports/adjustments", s.consoleAdjustmentReport, s.requireStaff(app.ViewCustomers))
		e.GET("/console/import", s.consoleImportPage, s.requireStaff(app.AdjustBalance))
		e.POST("/console/import", s.consoleImport, s.requireStaff(app.AdjustBalance))
		e.GET("/console/export/members.csv", s.exportMembers, s.requireStaff(app.ExportCustomerData))
		e.GET("/console/export/ledger.csv", s.exportLedger, s.requireStaff(app.ExportCustomerData))
		e.POST("/console/notifications/:id/resend", s.consoleResend, s.requireStaff(app.ResendMessages))
		e.GET("/console/customers/:customer/data.json", s.consoleCustomerData, s.requireStaff(app.ExportCustomerData))
		e.GET("/api/admin/me", s.adminMe, s.requireAPIToken(""))
		e.GET("/api/admin/staff", s.adminStaff, s.requireAPIToken(app.ManageStaff))
		// admin API
		// JSON, bearer tokens; described in openapi.yaml (a test keeps the two in step).
		e.GET("/api/admin/customers", s.apiSearchCustomers, s.requireAPIToken(app.ViewCustomers))
		e.GET("/api/admin/customers/:customer", s.apiCustomerFile, s.requireAPIToken(app.ViewCustomers))
		e.POST("/api/admin/customers/:customer/adjustments", s.apiAdjust, s.requireAPIToken(app.AdjustBalance))
		e.POST("/api/admin/customers/:customer/redemptions", s.apiRedeem, s.requireAPIToken(app.AdjustBalance))
		e.GET("/api/admin/customers/:customer/redemptions", s.apiCustomerRedemptions, s.requireAPIToken(app.ViewCustomers))
		e.POST("/api/admin/entries/:id/undo", s.apiUndo, s.requireAPIToken(app.AdjustBalance))
		e.GET("/api/admin/approvals", s.apiApprovals, s.requireAPIToken(app.ViewCustomers))
		e.POST("/api/admin/approvals/:id/approve", s.apiApprove, s.requireAPIToken(app.ApproveAdjustments))
		e.POST("/api/admin/approvals/:id/reject", s.apiReject, s.requireAPIToken(app.ApproveAdjustments))
		e.GET("/api/admin/reports/adjustments", s.apiAdjustmentReport, s.requireAPIToken(app.ViewCustomers))
		e.GET("/api/admin/program", s.apiGetProgram, s.requireAPIToken(""))
		e.PUT("/api/admin/program", s.apiPutProgram, s.requireAPIToken(app.EditProgram))
		e.GET("/api/admin/rewards", s.apiRewards, s.requireAPIToken(""))
		e.POST("/api/admin/rewards", s.apiAddReward, s.requireAPIToken(app.EditRewards))
		e.PATCH("/api/admin/rewards/:id", s.apiSetRewardActive, s.requireAPIToken(app.EditRewards))
		e.GET("/api/admin/audit", s.apiAudit, s.requireAPIToken(app.ViewCustomers))
		e.GET("/api/admin/kpis", s.apiKPIs, s.requireAPIToken(app.ViewCustomers))
		e.POST("/api/admin/imports", s.apiImport, s.requireAPIToken(app.AdjustBalance))
		e.GET("/api/admin/exports/members.csv", s.apiExportMembers, s.requireAPIToken(app.ExportCustomerData))
		e.GET("/api/admin/exports/ledger.csv", s.apiExportLedger, s.requireAPIToken(app.ExportCustomerData))
		e.POST("/api/admin/staff", s.apiAddStaff, s.requireAPIToken(app.ManageStaff))
		e.PATCH("/api/admin/staff/:id", s.apiSetStaffRole, s.requireAPIToken(app.ManageStaff))
		e.DELETE("/api/admin/staff/:id", s.apiDisableStaff, s.requireAPIToken(app.ManageStaff))
		e.POST("/api/admin/notifications/:id/resend", s.apiResend, s.requireAPIToken(app.ResendMessages))
		e.GET("/api/admin/customers/:customer/data", s.apiCustomerData, s.requireAPIToken(app.ExportCustomerData))
	}

	// The signed link in every message to a shopper: GET shows, POST stops.
	if s.deps.Unsubscribe != nil {
		e.GET("/unsubscribe", s.unsubscribePage)
		e.POST("/unsubscribe", s.unsubscribe)
	}

	// A worker-only process serves just health and metrics.
	if s.deps.Intake != nil {
		e.POST("/webhooks/shopify", s.shopifyWebhook)
		e.POST("/webhooks/woocommerce/:store", s.wooCommerceWebhook)
	}

	// The storefront widget's public endpoints.
	if s.deps.Widget != nil {
		// Shopify: through the app proxy (/apps/loyalty/* on the storefront).
		// The script too, so the theme app extension loads it from the
		// storefront's own origin; it is public and needs no signature.
		e.GET("/proxy/loyalty-widget.js", s.widgetScript)
		proxy := e.Group("/proxy", s.shopifyShopper)
		proxy.GET("/customer", s.widgetCustomerDocument)
		proxy.POST("/redeem", s.widgetRedeem)
		proxy.POST("/birthday", s.widgetBirthday)
		// WooCommerce: straight from the store's pages, cross-origin.
		woo := e.Group("/wc/:store", s.wooShopper)
		woo.GET("/customer", s.widgetCustomerDocument)
		woo.POST("/redeem", s.widgetRedeem)
		woo.POST("/birthday", s.widgetBirthday)
		woo.OPTIONS("/:action", s.widgetPreflight)
	}

	// The demo storefront and its stand-in for Shopify's app proxy, which
	// signs as Shopify: never in production (main leaves Demo nil there).
	if s.deps.Demo != nil && s.deps.Widget != nil {
		e.GET("/demo", s.demoPage)
		e.Any("/demo/apps/loyalty/*", s.demoProxy)
	}

	if s.deps.WooCommerce != nil {
		e.GET("/auth/woocommerce/connect", s.wooConnect)
		e.POST("/auth/woocommerce/callback", s.wooCallback)
		e.GET("/auth/woocommerce/return", s.wooReturn)
	}

	if s.deps.Shopify != nil {
		e.GET("/auth/shopify/install", s.shopifyInstall)
		e.GET("/auth/shopify/callback", s.shopifyCallback)
		// The embedded admin (Shopify App Bridge) authenticates with session
		// tokens; the console's API hangs under this group.
		embedded := e.Group("/embedded/api", s.requireShopifySession)
		embedded.GET("/session", s.embeddedSession)
		embedded.GET("/me", s.adminMe)
		embedded.GET("/rewards", s.apiRewards)
		embedded.POST("/rewards", s.apiAddReward)
		embedded.PATCH("/rewards/:id", s.apiSetRewardActive)
		embedded.POST("/redemptions", s.redeemForCustomer)
		embedded.GET("/customers/:customer/redemptions", s.customerRedemptions)
		// admin API (embedded): the same handlers as /api/admin; Shopify
		// users act as the owner.
		embedded.GET("/customers", s.apiSearchCustomers)
		embedded.GET("/customers/:customer", s.apiCustomerFile)
		embedded.POST("/customers/:customer/adjustments", s.apiAdjust)
		embedded.POST("/entries/:id/undo", s.apiUndo)
		embedded.GET("/approvals", s.apiApprovals)
		embedded.POST("/approvals/:id/approve", s.apiApprove)
		embedded.POST("/approvals/:id/reject", s.apiReject)
		embedded.GET("/reports/adjustments", s.apiAdjustmentReport)
		embedded.GET("/program", s.apiGetProgram)
		embedded.PUT("/program", s.apiPutProgram)
		embedded.GET("/audit", s.apiAudit)
		embedded.GET("/kpis", s.apiKPIs)
		embedded.POST("/imports", s.apiImport)
		embedded.GET("/exports/members.csv", s.apiExportMembers)
		embedded.GET("/exports/ledger.csv", s.apiExportLedger)
		embedded.GET("/staff", s.adminStaff)
		embedded.POST("/staff", s.apiAddStaff)
		embedded.PATCH("/staff/:id", s.apiSetStaffRole)
		embedded.DELETE("/staff/:id", s.apiDisableStaff)
		embedded.POST("/notifications/:id/resend", s.apiResend)
		embedded.GET("/customers/:customer/data", s.apiCustomerData)
	}
}

func (s *Server) home(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"app": "loyalty", "status": "ok"})
}

// healthz says the process is up; it checks nothing else, so an orchestrator
// never restarts the app for a database outage it cannot fix.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz says whether PostgreSQL and Redis answer.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status := http.StatusOK
	for name, p := range map[string]Pinger{"postgres": s.deps.Postgres, "redis": s.deps.Redis} {
		if err := p.Ping(ctx); err != nil {
			checks[name] = "unreachable: " + err.Error()
			status = http.StatusServiceUnavailable
		} else {
			checks[name] = "ok"
		}
	}
	return c.JSON(status, checks)
}

// shopifyWebhook reads the raw body (within the size limit) and hands it to
// intake untouched: the signature covers the exact bytes.
func (s *Server) shopifyWebhook(c echo.Context) error {
	body, err := s.readBody(c)
	if errors.Is(err, errTooLarge) {
		r := s.deps.Intake.TooLarge(app.Shopify, c.Request().Header)
		return c.String(r.Status, r.Message)
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the request body")
	}
	r := s.deps.Intake.Shopify(c.Request().Context(), c.Request().Header, body)
	return c.String(r.Status, r.Message)
}

// wooCommerceWebhook is shopifyWebhook for a WooCommerce store, which signs
// with a secret of its own: the path names the store.
func (s *Server) wooCommerceWebhook(c echo.Context) error {
	body, err := s.readBody(c)
	if errors.Is(err, errTooLarge) {
		r := s.deps.Intake.TooLarge(app.WooCommerce, c.Request().Header)
		return c.String(r.Status, r.Message)
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the request body")
	}
	r := s.deps.Intake.WooCommerce(c.Request().Context(), c.Param("store"), c.Request().Header, body)
	if r.Message == "" {
		// WooCommerce activates a webhook only when its ping gets exactly
		// 200; nothing else is needed.
		return c.NoContent(r.Status)
	}
	return c.String(r.Status, r.Message)
}

var errTooLarge = errors.New("body too large")

func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > s.deps.MaxWebhookBody {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.deps.MaxWebhookBody))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, errTooLarge
	}
	return body, err
}
