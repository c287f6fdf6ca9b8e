package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"loyalty/app"
)

// rewardJSON is a reward as the admin API shows and takes it. Amounts are
// decimal strings, never floats; ids of platforms are strings.
type rewardJSON struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Points        int64  `json:"points,omitempty"`
	Amount        string `json:"amount,omitempty"`
	PointsPerUnit int64  `json:"points_per_unit,omitempty"`
	MinPoints     int64  `json:"min_points,omitempty"`
	MaxPoints     int64  `json:"max_points,omitempty"`
	Percentage    int    `json:"percentage,omitempty"`
	MinSubtotal   string `json:"min_subtotal,omitempty"`
	ExpiryDays    int    `json:"expiry_days,omitempty"`
	Active        bool   `json:"active"`
}

func rewardOut(r app.Reward) rewardJSON {
	out := rewardJSON{ID: r.ID, Name: r.Name, Kind: string(r.Kind), Points: r.Points, PointsPerUnit: r.PointsPerUnit,
		MinPoints: r.MinPoints, MaxPoints: r.MaxPoints, Percentage: r.Percentage, ExpiryDays: r.ExpiryDays, Active: r.Active}
	if r.Amount > 0 {
		out.Amount = r.Amount.String()
	}
	if r.MinSubtotal > 0 {
		out.MinSubtotal = r.MinSubtotal.String()
	}
	return out
}

type redemptionJSON struct {
	ID         int64      `json:"id"`
	Reward     string     `json:"reward"`
	Kind       string     `json:"kind"`
	Points     int64      `json:"points"`
	Amount     string     `json:"amount,omitempty"`
	Percentage int        `json:"percentage,omitempty"`
	Code       string     `json:"code"`
	Status     string     `json:"status"`
	Detail     string     `json:"detail,omitempty"`
	RedeemedBy string     `json:"redeemed_by,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	OrderID    string     `json:"order_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

func redemptionOut(r app.Redemption) redemptionJSON {
	out := redemptionJSON{ID: r.ID, Reward: r.RewardName, Kind: string(r.Kind), Points: r.Points, Percentage: r.Percentage,
		Code: r.Code, Status: string(r.Status), Detail: r.Detail, RedeemedBy: r.RedeemedBy, ExpiresAt: r.ExpiresAt,
		OrderID: r.OrderID, CreatedAt: r.CreatedAt}
	if r.Amount > 0 {
		out.Amount = r.Amount.String()
	}
	return out
}

// sessionShop is the shop the embedded admin's session token names.
func sessionShop(c echo.Context) app.Shop { return c.Get(sessionShopKey).(app.Shop) }

// sessionStaff names the Shopify staff member behind a session token, for
// the ledger and the audit log.
func sessionStaff(c echo.Context) string {
	return "shopify user " + c.Get("shopify.user").(string)
}

// redeemForCustomer lets staff redeem a reward for a shopper. The
// Idempotency-Key header makes a retried request redeem once.
func (s *Server) redeemForCustomer(c echo.Context) error {
	var in struct {
		CustomerID string `json:"customer_id"`
		RewardID   int64  `json:"reward_id"`
		Points     int64  `json:"points"`
	}
	if err := c.Bind(&in); err != nil {
		return app.Errorf(app.EInvalid, "the body must be JSON with customer_id, reward_id and, for variable rewards, points")
	}
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		return app.Errorf(app.EInvalid, "send an Idempotency-Key header so that a retried request redeems once")
	}
	shop := sessionShop(c)
	r, err := s.deps.Service.Redeem(c.Request().Context(), shop, app.RedeemRequest{CustomerID: in.CustomerID, RewardID: in.RewardID,
		Points: in.Points, IdempotencyKey: "staff:" + key, Staff: sessionStaff(c)})
	if err != nil {
		return err
	}
	s.queueCode(c.Request().Context(), shop, r)
	return c.JSON(http.StatusCreated, redemptionOut(r))
}

// queueCode asks the workers for a pending redemption's code. Best
// effort: their sweep of pending redemptions makes the code within a
// minute if it cannot be queued now.
func (s *Server) queueCode(ctx context.Context, shop app.Shop, r app.Redemption) {
	if s.deps.Codes != nil && r.Status == app.RedemptionPending {
		s.deps.Codes(ctx, shop, r.ID)
	}
}

func (s *Server) customerRedemptions(c echo.Context) error {
	list, err := s.deps.Service.Redemptions(c.Request().Context(), sessionShop(c), c.Param("customer"), 100)
	if err != nil {
		return err
	}
	out := make([]redemptionJSON, len(list))
	for i, r := range list {
		out[i] = redemptionOut(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"redemptions": out})
}

// apiRedeem is redeemForCustomer for the bearer-token admin API: staff
// spend a shopper's points on a reward for them. The Idempotency-Key header
// makes a retried request redeem once; keys belong to the token's staff
// member, as for adjustments.
func (s *Server) apiRedeem(c echo.Context) error {
	m, shop := staffOf(c)
	key, err := apiIdempotencyKey(c, m)
	if err != nil {
		return err
	}
	var in struct {
		RewardID int64 `json:"reward_id"`
		Points   int64 `json:"points"`
	}
	if err := apiBind(c, &in, `{"reward_id": 3, "points": 250}`); err != nil {
		return err
	}
	r, err := s.deps.Service.Redeem(c.Request().Context(), shop, app.RedeemRequest{CustomerID: c.Param("customer"), RewardID: in.RewardID,
		Points: in.Points, IdempotencyKey: fmt.Sprintf("staff:%d:%s", m.ID, key), Staff: app.StaffLabel(m)})
	if err != nil {
		return err
	}
	s.queueCode(c.Request().Context(), shop, r)
	return c.JSON(http.StatusCreated, redemptionOut(r))
}

// apiCustomerRedemptions lists a customer's latest redemptions, newest first.
func (s *Server) apiCustomerRedemptions(c echo.Context) error {
	_, shop := staffOf(c)
	list, err := s.deps.Service.Redemptions(c.Request().Context(), shop, c.Param("customer"), 100)
	if err != nil {
		return err
	}
	out := make([]redemptionJSON, len(list))
	for i, r := range list {
		out[i] = redemptionOut(r)
	}
	// The latest hundred: a shopper's redemptions are few.
	return apiList(c, out, 0)
}
