package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"loyalty/app"
)

// consoleResend sends a shopper's message again and goes back to their
// page. The form's key (made when the page rendered) keeps a double click
// to one message.
func (s *Server) consoleResend(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such message")
	}
	customer := c.FormValue("customer")
	if _, err := s.deps.Service.ResendNotification(c.Request().Context(), shop, m, id, c.FormValue("key")); err != nil {
		return s.customerPageError(c, customer, err)
	}
	if customer == "" {
		return c.Redirect(http.StatusSeeOther, "/console/customers?notice=resent")
	}
	return c.Redirect(http.StatusSeeOther, customerPath(customer)+"?notice=resent#msg-h")
}

// customerPageError shows err on the customer's page a form came from
// (the form names the customer only to come back to it), or passes it to
// the error handler when there is no such page to show.
func (s *Server) customerPageError(c echo.Context, customer string, err error) error {
	if customer == "" {
		return err
	}
	c.SetParamNames("customer")
	c.SetParamValues(customer)
	p, perr := s.customerPage(c, adjustForm{Key: newFormKey()})
	if perr != nil {
		return err
	}
	return s.consoleError(c, err, p)
}

// consoleCustomerData downloads everything the app holds about a customer
// as JSON, for a shopper who asked support for their data.
func (s *Server) consoleCustomerData(c echo.Context) error {
	m, shop := staffOf(c)
	e, err := s.deps.Service.StaffDataExport(c.Request().Context(), shop, m, c.Param("customer"))
	if err != nil {
		return err
	}
	return sendDataExport(c, shop, e)
}

// sendDataExport answers with an export's document as a JSON download.
func sendDataExport(c echo.Context, shop app.Shop, e app.DataExport) error {
	name := "customer-" + safeFilePart(e.CustomerID) + "-" + safeFilePart(shop.Domain) + ".json"
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSONCharsetUTF8, e.Document)
}

// apiResend sends a message again (201, the new message). The
// Idempotency-Key header makes a retry send once.
func (s *Server) apiResend(c echo.Context) error {
	m, shop := staffOf(c)
	id, err := apiPathID(c, "message")
	if err != nil {
		return err
	}
	key, err := apiIdempotencyKey(c, m)
	if err != nil {
		return err
	}
	n, err := s.deps.Service.ResendNotification(c.Request().Context(), shop, m, id, key)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, apiNotificationOut(n))
}

// apiCustomerData is everything the app holds about a customer, as the
// JSON document a Shopify data request gets.
func (s *Server) apiCustomerData(c echo.Context) error {
	m, shop := staffOf(c)
	e, err := s.deps.Service.StaffDataExport(c.Request().Context(), shop, m, c.Param("customer"))
	if err != nil {
		return err
	}
	return sendDataExport(c, shop, e)
}
