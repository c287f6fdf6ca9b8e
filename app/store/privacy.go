package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"loyalty/app"
)

// CustomerRecords reads everything held about one customer of a shop in one
// REPEATABLE READ snapshot, so the ledger, lots and balances in an export
// agree with each other even while events keep arriving.
func (s *Store) CustomerRecords(ctx context.Context, shopID int64, platformID string, orderIDs []string) (app.CustomerRecords, error) {
	var recs app.CustomerRecords
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		recs = app.CustomerRecords{}
		var customers []customerRow
		if err := tx.Raw(`SELECT `+customerColumns+` FROM customers WHERE shop_id = ? AND platform_id = ?`,
			shopID, platformID).Scan(&customers).Error; err != nil {
			return err
		}
		var customerID int64 // 0 matches no customer below
		if len(customers) > 0 {
			c := customers[0].toApp()
			recs.Customer, customerID = &c, c.ID
			var entries []entryRow
			if err := tx.Raw(`SELECT `+entryColumns+` FROM ledger_entries WHERE shop_id = ? AND customer_id = ? ORDER BY id`,
				shopID, customerID).Scan(&entries).Error; err != nil {
				return err
			}
			for _, r := range entries {
				recs.Entries = append(recs.Entries, r.toApp())
			}
			var lots []lotRow
			if err := tx.Raw(`SELECT id, customer_id, entry_id, points, remaining, earned_at, available_at, expires_at
				FROM lots WHERE customer_id = ? ORDER BY id`, customerID).Scan(&lots).Error; err != nil {
				return err
			}
			for _, r := range lots {
				recs.Lots = append(recs.Lots, app.Lot{ID: r.ID, CustomerID: r.CustomerID, EntryID: r.EntryID, Points: r.Points,
					Remaining: r.Remaining, EarnedAt: r.EarnedAt, AvailableAt: r.AvailableAt, ExpiresAt: r.ExpiresAt})
			}
		}
		// The customer's orders, and the requested ones the app knows only
		// as placeholders (a refund that arrived before its order).
		orderIDs = nonEmpty(orderIDs)
		if orderIDs == nil {
			orderIDs = []string{""} // IN () is not SQL; '' is no order's id
		}
		var orders []orderRow
		if err := tx.Raw(`SELECT `+orderColumns+` FROM orders WHERE shop_id = ? AND (customer_id = ? OR platform_id IN ?)
			ORDER BY id`, shopID, customerID, orderIDs).Scan(&orders).Error; err != nil {
			return err
		}
		if len(orders) == 0 {
			return nil
		}
		ids := make([]int64, len(orders))
		for i, o := range orders {
			ids[i] = o.ID
		}
		var refunds []struct {
			OrderID     int64
			PlatformID  string
			Lines       int64
			LinesTax    int64
			Shipping    int64
			ShippingTax int64
			RefundedAt  *time.Time
		}
		if err := tx.Raw(`SELECT order_id, platform_id, lines, lines_tax, shipping, shipping_tax, refunded_at
			FROM order_refunds WHERE order_id IN ? ORDER BY id`, ids).Scan(&refunds).Error; err != nil {
			return err
		}
		byOrder := map[int64][]app.OrderRefunded{}
		for _, r := range refunds {
			e := app.OrderRefunded{RefundID: r.PlatformID, Lines: app.Amount(r.Lines), LinesTax: app.Amount(r.LinesTax),
				Shipping: app.Amount(r.Shipping), ShippingTax: app.Amount(r.ShippingTax)}
			if r.RefundedAt != nil {
				e.RefundedAt = *r.RefundedAt
			}
			byOrder[r.OrderID] = append(byOrder[r.OrderID], e)
		}
		for _, o := range orders {
			order := o.toApp()
			recs.Orders = append(recs.Orders, app.OrderRecord{Order: order, Refunds: byOrder[order.ID]})
		}
		return nil
	}, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	return recs, translate(err)
}

type dataExportRow struct {
	ID                 int64
	ShopID             int64
	CustomerPlatformID string
	RequestID          string
	Status             string
	Document           []byte
	CreatedAt          time.Time
}

func (r dataExportRow) toApp() app.DataExport {
	return app.DataExport{ID: r.ID, ShopID: r.ShopID, CustomerID: r.CustomerPlatformID, RequestID: r.RequestID,
		Status: app.DataExportStatus(r.Status), Document: r.Document, CreatedAt: r.CreatedAt}
}

const dataExportColumns = `id, shop_id, customer_platform_id, request_id, status, document::text AS document, created_at`

// SaveDataExport stores an export unless the shop already has one for the
// request (the unique key decides between concurrent deliveries), and
// returns the stored export either way.
func (s *Store) SaveDataExport(ctx context.Context, e app.DataExport) (app.DataExport, error) {
	var row dataExportRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO data_exports (shop_id, customer_platform_id, request_id, status, document)
			VALUES (?, ?, ?, ?, ?::jsonb) ON CONFLICT (shop_id, request_id) DO NOTHING`,
			e.ShopID, e.CustomerID, e.RequestID, string(e.Status), string(e.Document))
		if res.Error != nil {
			return res.Error
		}
		if err := tx.Raw(`SELECT `+dataExportColumns+` FROM data_exports WHERE shop_id = ? AND request_id = ?`,
			e.ShopID, e.RequestID).Scan(&row).Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return audit(tx, e.ShopID, "", "", "export_customer_data",
			fmt.Sprintf("data export %d prepared for request %s", row.ID, e.RequestID))
	})
	if err != nil {
		return app.DataExport{}, translate(err)
	}
	return row.toApp(), nil
}

// DataExportByRequest finds the export made for a shop's data request.
func (s *Store) DataExportByRequest(ctx context.Context, shopID int64, requestID string) (app.DataExport, error) {
	return s.dataExport(ctx, `shop_id = ? AND request_id = ?`, shopID, requestID)
}

// DataExport finds one of a shop's exports, with its document.
func (s *Store) DataExport(ctx context.Context, shopID, id int64) (app.DataExport, error) {
	return s.dataExport(ctx, `shop_id = ? AND id = ?`, shopID, id)
}

func (s *Store) dataExport(ctx context.Context, where string, args ...any) (app.DataExport, error) {
	var rows []dataExportRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+dataExportColumns+` FROM data_exports WHERE `+where,
		args...).Scan(&rows).Error; err != nil {
		return app.DataExport{}, translate(err)
	}
	if len(rows) == 0 {
		return app.DataExport{}, app.Errorf(app.ENotFound, "no such data export")
	}
	return rows[0].toApp(), nil
}

// DataExports lists a shop's exports, newest first, without their documents.
func (s *Store) DataExports(ctx context.Context, shopID int64) ([]app.DataExport, error) {
	var rows []dataExportRow
	if err := s.db.WithContext(ctx).Raw(`SELECT id, shop_id, customer_platform_id, request_id, status, created_at
		FROM data_exports WHERE shop_id = ? ORDER BY id DESC`, shopID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]app.DataExport, len(rows))
	for i, r := range rows {
		out[i] = r.toApp()
	}
	return out, nil
}

// SetDataExportStatus moves one of a shop's exports to status.
func (s *Store) SetDataExportStatus(ctx context.Context, shopID, id int64, status app.DataExportStatus) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE data_exports SET status = ? WHERE shop_id = ? AND id = ?`,
		string(status), shopID, id)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return app.Errorf(app.ENotFound, "no data export %d in this shop", id)
	}
	return nil
}

// RedactCustomer anonymises a customer in place (the CHECK
// customers_redacted_anonymous holds what that means), deletes their
// exports, clears the shop's stored webhook payloads that name the
// customer, their email or the orders to redact, and scrubs the audit lines
// about them (scrubAudit), in one transaction.
// Deliveries still parked in the inbox keep their payload: the relay needs it
// and drops it once it has queued them.
func (s *Store) RedactCustomer(ctx context.Context, shop app.Shop, req app.RedactRequest) (app.Redaction, error) {
	var r app.Redaction
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) (err error) {
		r = app.Redaction{}
		var ids []int64
		if err := tx.Raw(`UPDATE customers SET email = '', first_name = '', last_name = '', locale = '',
				birth_month = NULL, birth_day = NULL, platform_id = 'redacted:' || id, redacted_at = now(), updated_at = now()
			WHERE shop_id = ? AND platform_id = ? RETURNING id`, shop.ID, req.CustomerID).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			r.CustomerID = ids[0]
			if err := redactNotifications(tx, ids[0]); err != nil {
				return err
			}
		}
		res := tx.Exec(`DELETE FROM data_exports WHERE shop_id = ? AND customer_platform_id = ?`, shop.ID, req.CustomerID)
		if res.Error != nil {
			return res.Error
		}
		r.ExportsDeleted = res.RowsAffected

		terms := append(nonEmpty(req.OrdersToRedact), req.CustomerID)
		email := strings.ToLower(strings.TrimSpace(req.Email))
		// SQL narrows the payloads down to those holding a term anywhere;
		// app.Mentions then keeps those where an id stands on its own, so
		// customer 12 does not clear a payload about order 4123.
		conds, args := []string{}, []any{shop.Platform, shop.Domain}
		for _, id := range terms {
			conds = append(conds, `position(convert_to(?, 'UTF8') IN payload) > 0`)
			args = append(args, id)
		}
		if email != "" {
			conds = append(conds, `strpos(lower(encode(payload, 'escape')), ?) > 0`)
			args = append(args, email)
		}
		var stored []struct {
			ID      int64
			Payload []byte
		}
		if err := tx.Raw(`SELECT id, payload FROM webhook_deliveries
			WHERE platform = ? AND shop_domain = ? AND payload IS NOT NULL AND status <> 'inbox'
			  AND (`+strings.Join(conds, " OR ")+`) FOR UPDATE`, args...).Scan(&stored).Error; err != nil {
			return err
		}
		var scrub []int64
		for _, d := range stored {
			if app.Mentions(d.Payload, terms, email) {
				scrub = append(scrub, d.ID)
			}
		}
		if len(scrub) > 0 {
			res := tx.Exec(`UPDATE webhook_deliveries SET payload = NULL WHERE id IN ?`, scrub)
			if res.Error != nil {
				return res.Error
			}
			r.PayloadsScrubbed = res.RowsAffected
		}
		if r.AuditScrubbed, err = scrubAudit(tx, shop.ID, r.CustomerID, terms, email); err != nil {
			return err
		}
		if r == (app.Redaction{}) {
			return nil
		}
		// The audit line names no customer: it must not undo the redaction.
		return audit(tx, shop.ID, shop.Platform, shop.Domain, "redact_customer", fmt.Sprintf(
			"customer found: %t; data exports deleted: %d; webhook payloads cleared: %d",
			r.CustomerID != 0, r.ExportsDeleted, r.PayloadsScrubbed))
	})
	if r.CustomerID != 0 {
		// Under the id the shopper was known by: their cached view must go.
		s.notify(ctx, []CustomerKey{{ShopID: shop.ID, CustomerID: r.CustomerID, PlatformID: req.CustomerID}})
	}
	return r, translate(err)
}

// redactedDetail replaces the detail of an audit line about a redacted
// customer.
const redactedDetail = "redacted"

// scrubAudit replaces the detail of the shop's audit lines about a
// customer with redactedDetail: the lines written with their internal id
// (AuditCustomer), and, for lines written before audit lines carried one or
// by actions that only name them in the text, those whose detail names
// them as app.Mentions does. Actor, action, outcome and time stay: the
// redaction must not let a staff member's action go unaccounted for.
func scrubAudit(tx *gorm.DB, shopID, customerID int64, terms []string, email string) (int64, error) {
	conds, args := []string{`customer_id = ?`}, []any{customerID} // 0 is no customer's id
	for _, id := range terms {
		conds = append(conds, `strpos(detail, ?) > 0`)
		args = append(args, id)
	}
	if email != "" {
		conds = append(conds, `strpos(lower(detail), ?) > 0`)
		args = append(args, email)
	}
	var lines []struct {
		ID         int64
		CustomerID *int64
		Detail     string
	}
	if err := tx.Raw(`SELECT id, customer_id, detail FROM audit_log WHERE shop_id = ? AND detail <> ?
		AND (`+strings.Join(conds, " OR ")+`) FOR UPDATE`, append([]any{shopID, redactedDetail}, args...)...).Scan(&lines).Error; err != nil {
		return 0, err
	}
	var scrub []int64
	for _, l := range lines {
		if (customerID != 0 && l.CustomerID != nil && *l.CustomerID == customerID) || app.Mentions([]byte(l.Detail), terms, email) {
			scrub = append(scrub, l.ID)
		}
	}
	if len(scrub) == 0 {
		return 0, nil
	}
	res := tx.Exec(`UPDATE audit_log SET detail = ? WHERE id IN ?`, redactedDetail, scrub)
	return res.RowsAffected, res.Error
}

// AuditCustomer writes an audit line about one customer, remembering which
// by internal id, so that redacting the customer finds the line even when
// staff's free text does not name them the way a search would.
func (s *Store) AuditCustomer(ctx context.Context, e app.AuditEntry, customerID int64) error {
	var shopID, about *int64
	if e.ShopID != 0 {
		shopID = &e.ShopID
	}
	if customerID != 0 {
		about = &customerID
	}
	return translate(s.db.WithContext(ctx).Exec(`INSERT INTO audit_log (shop_id, shop_domain, customer_id, actor, action, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, shopID, e.ShopDomain, about, e.Actor, e.Action, e.Outcome, e.Detail).Error)
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// EraseShop deletes everything held for a shop's domain in one transaction:
// the shop row, from which programs, credentials, customers, orders, refunds,
// ledger entries, lots and data exports cascade, and the webhook deliveries,
// which are keyed by domain. The ledger's append-only rule lets the delete
// through because the transaction declares itself an erasure. The shop's
// audit lines go too: staff wrote customers' names, birthdays and reasons
// into them. Only the erasure records stay, detached from the shop, so the
// erasure itself remains accountable.
//
// The shop is looked up by domain under a row lock, so a reinstall racing
// the erasure either comes first (the shop is active: nothing is erased) or
// waits and then installs afresh.
//
// Observers are not told about the erased customers: a shop is erased only
// once uninstalled, and no widget view of an uninstalled shop is read or
// cached, so the last cached ones expired long before; their keys hold the
// shop's id, which is never reused.
func (s *Store) EraseShop(ctx context.Context, shop app.Shop) (app.Erasure, error) {
	var e app.Erasure
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		e = app.Erasure{}
		if err := tx.Exec(`SET LOCAL loyalty.erasure = 'on'`).Error; err != nil {
			return err
		}
		var shops []struct {
			ID     int64
			Status string
		}
		if err := tx.Raw(`SELECT id, status FROM shops WHERE platform = ? AND domain = ? FOR UPDATE`,
			shop.Platform, shop.Domain).Scan(&shops).Error; err != nil {
			return err
		}
		if len(shops) > 0 {
			if app.ShopStatus(shops[0].Status) == app.ShopActive {
				e.Reinstalled = true
				return nil
			}
			e.Found = true
			id := shops[0].ID
			var held struct{ Customers, Orders int64 }
			if err := tx.Raw(`SELECT (SELECT count(*) FROM customers WHERE shop_id = ?) AS customers,
				(SELECT count(*) FROM orders WHERE shop_id = ?) AS orders`, id, id).Scan(&held).Error; err != nil {
				return err
			}
			e.Customers, e.Orders = held.Customers, held.Orders
			// Before the shop goes, while its lines still carry its id.
			if err := tx.Exec(`DELETE FROM audit_log WHERE shop_id = ? AND action <> 'erase'`, id).Error; err != nil {
				return err
			}
			if err := tx.Exec(`DELETE FROM shops WHERE id = ?`, id).Error; err != nil {
				return err
			}
		}
		res := tx.Exec(`DELETE FROM webhook_deliveries WHERE platform = ? AND shop_domain = ?`, shop.Platform, shop.Domain)
		if res.Error != nil {
			return res.Error
		}
		e.Deliveries = res.RowsAffected
		if !e.Found && e.Deliveries == 0 {
			return nil
		}
		// Lines of the domain that name no shop: install attempts refused
		// before the shop existed, and lines of the shop's earlier life.
		if err := tx.Exec(`DELETE FROM audit_log WHERE shop_id IS NULL AND shop_domain = ? AND action <> 'erase'`,
			shop.Domain).Error; err != nil {
			return err
		}
		return audit(tx, 0, shop.Platform, shop.Domain, "erase", fmt.Sprintf("erased on the platform's request: %d customers, %d orders, %d webhook deliveries",
			e.Customers, e.Orders, e.Deliveries))
	})
	return e, translate(err)
}

// audit writes an audit line for a privacy action inside its transaction,
// so the line exists exactly when the action happened. A shopID of 0 (the
// shop is gone) leaves the line detached from any shop; an empty domain is
// looked up from the shop.
func audit(tx *gorm.DB, shopID int64, platform app.Platform, domain, action, detail string) error {
	var id *int64
	if shopID != 0 {
		id = &shopID
		if domain == "" {
			var shops []struct{ Platform, Domain string }
			if err := tx.Raw(`SELECT platform, domain FROM shops WHERE id = ?`, shopID).Scan(&shops).Error; err != nil {
				return err
			}
			if len(shops) > 0 {
				platform, domain = app.Platform(shops[0].Platform), shops[0].Domain
			}
		}
	}
	return tx.Exec(`INSERT INTO audit_log (shop_id, shop_domain, actor, action, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		id, domain, string(platform)+" privacy request", action, app.AuditOK, detail).Error
}
