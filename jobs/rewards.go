package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
	"loyalty/platforms/shopify"
	"loyalty/platforms/woocommerce"
)

// Reward code task types.
const (
	// TypeIssueCode creates a redemption's code on the shop's platform.
	TypeIssueCode = "loyalty:issue-code"
	// TypeIssuePending queues codes of redemptions still pending: the
	// redemptions table is the outbox, so a redemption whose task could not
	// be queued at the time is not forgotten.
	TypeIssuePending = "loyalty:issue-pending"
)

// IssueCode is the payload of TypeIssueCode.
type IssueCode struct {
	ShopID       int64  `json:"shop_id"`
	Platform     string `json:"platform"`
	Shop         string `json:"shop"`
	RedemptionID int64  `json:"redemption_id"`
}

// issueRetries is how often a code is retried before its points go back:
// with asynq's backoff, about an hour of platform trouble.
const issueRetries = 8

// NewIssueCodeTask makes the task that creates a redemption's code. Its id
// is the redemption's, so a redemption is queued at most once at a time.
func NewIssueCodeTask(shop app.Shop, redemptionID int64) *asynq.Task {
	payload, _ := json.Marshal(IssueCode{ShopID: shop.ID, Platform: string(shop.Platform), Shop: shop.Domain, RedemptionID: redemptionID})
	return asynq.NewTask(TypeIssueCode, payload, asynq.Queue(QueueCritical), asynq.MaxRetry(issueRetries),
		asynq.TaskID(issueCodeTaskID(redemptionID)), asynq.Timeout(time.Minute))
}

func issueCodeTaskID(redemptionID int64) string {
	return fmt.Sprintf("issue-code:%d", redemptionID)
}

// NewIssuePendingTask makes the periodic sweep of pending redemptions.
func NewIssuePendingTask() *asynq.Task {
	return asynq.NewTask(TypeIssuePending, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Unique(50*time.Second))
}

// ShopifyClients builds Admin API clients for installed shops.
type ShopifyClients func(shop, accessToken string) *shopify.Client

// WithShopifyClients lets the handler call the Shopify Admin API.
func (h *Handler) WithShopifyClients(clients ShopifyClients) *Handler {
	h.shopifyClients = clients
	return h
}

// errPermanent marks an issuing failure that no retry will fix.
var errPermanent = errors.New("permanent")

// IssueCode creates a redemption's code on its platform and records it.
// A refusal for good (the platform's validation, revoked access) gives the
// points back at once with the platform's reason; trouble that may pass is
// retried, and when the retries run out the points come back too.
func (h *Handler) IssueCode(ctx context.Context, t *asynq.Task) error {
	var p IssueCode
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task payload: %v: %w", err, asynq.SkipRetry)
	}
	log := h.log.With("platform", p.Platform, "shop", p.Shop, "redemption", p.RedemptionID)
	shop, err := h.svc.Shop(ctx, app.Platform(p.Platform), p.Shop)
	if err != nil {
		return err
	}
	r, err := h.svc.Redemption(ctx, shop, p.RedemptionID)
	if err != nil {
		return err
	}
	if r.Status != app.RedemptionPending {
		return nil // issued or failed already: a re-run changes nothing
	}
	ref, err := h.createCode(ctx, shop, r)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, known := asynq.GetMaxRetry(ctx)
	lastTry := known && retried >= maxRetry
	switch {
	case err == nil:
		if err := h.svc.IssueRedemption(ctx, shop, r.ID, ref); err != nil {
			return err
		}
		h.metrics.jobs.WithLabelValues(TypeIssueCode, "processed").Inc()
		log.Info("reward code issued", "code_ref", ref)
		h.notifyRedeemed(ctx, shop, r)
		return nil
	case errors.Is(err, errPermanent) || lastTry:
		if _, ferr := h.svc.FailRedemption(ctx, shop, r.ID, err.Error()); ferr != nil {
			return ferr
		}
		h.metrics.jobs.WithLabelValues(TypeIssueCode, "failed").Inc()
		log.Error("reward code could not be created; points returned", "error", err)
		return nil
	default:
		h.metrics.jobs.WithLabelValues(TypeIssueCode, "retry").Inc()
		log.Warn("reward code creation will be retried", "error", err)
		return err
	}
}

// createCode makes the code on the shop's platform and returns the
// platform's id for it.
func (h *Handler) createCode(ctx context.Context, shop app.Shop, r app.Redemption) (string, error) {
	if !shop.Active() {
		return "", fmt.Errorf("%w: the shop uninstalled the app", errPermanent)
	}
	customer, err := h.svc.RedemptionCustomer(ctx, r)
	if err != nil {
		return "", err
	}
	creds, err := h.svc.Credentials(ctx, shop)
	if app.ErrorCode(err) == app.ENotFound {
		return "", fmt.Errorf("%w: the shop has no API access", errPermanent)
	}
	if err != nil {
		return "", err
	}
	var expires time.Time
	if r.ExpiresAt != nil {
		expires = *r.ExpiresAt
	}
	switch shop.Platform {
	case app.Shopify:
		if h.shopifyClients == nil {
			return "", fmt.Errorf("%w: no Shopify client configured", errPermanent)
		}
		d := shopify.Discount{Title: r.RewardName + " (loyalty reward)", Code: r.Code, CustomerID: customer.PlatformID,
			Amount: r.Amount, Percentage: r.Percentage, MinSubtotal: r.MinSubtotal, StartsAt: r.CreatedAt, EndsAt: expires}
		switch r.Kind {
		case app.RewardPercentage:
			d.Kind = shopify.DiscountPercentage
		case app.RewardFreeShipping:
			d.Kind = shopify.DiscountFreeShipping
		default:
			d.Kind = shopify.DiscountAmount
		}
		if creds, err = h.shopifyAccess(ctx, shop, creds, false); err != nil {
			return "", shopifyAccessError(err)
		}
		// A retry after a lost answer gets the discount the earlier try made
		// (the client recognises it as ours); a code held by another
		// discount is a refusal like any other.
		id, err := h.shopifyClients(shop.Domain, creds.AccessToken).CreateDiscount(ctx, d)
		if unauthorized(err) && creds.Expiring() {
			// Refused before its time by this clock (skew, or renewed
			// elsewhere): one renewal and one more try before giving up.
			if creds, err = h.shopifyAccess(ctx, shop, creds, true); err != nil {
				return "", shopifyAccessError(err)
			}
			id, err = h.shopifyClients(shop.Domain, creds.AccessToken).CreateDiscount(ctx, d)
		}
		if err != nil && shopify.IsPermanent(err) {
			return "", fmt.Errorf("%w: %w", errPermanent, err)
		}
		return id, err
	case app.WooCommerce:
		if h.wooClients == nil {
			return "", fmt.Errorf("%w: no WooCommerce client configured", errPermanent)
		}
		if creds.APIKey == "" {
			return "", fmt.Errorf("%w: the store has no REST keys (connect it, or add --consumer-key)", errPermanent)
		}
		if customer.Email == "" {
			return "", fmt.Errorf("%w: the shopper has no email to restrict the coupon to", errPermanent)
		}
		conn, err := h.svc.Connection(ctx, shop)
		if err != nil {
			return "", err
		}
		c := woocommerce.Coupon{Code: r.Code, Amount: r.Amount, Percentage: r.Percentage, MinSubtotal: r.MinSubtotal,
			Email: customer.Email, ExpiresAt: expires, Description: r.RewardName + " (loyalty reward)"}
		switch r.Kind {
		case app.RewardPercentage:
			c.Kind = woocommerce.CouponPercent
		case app.RewardFreeShipping:
			c.Kind, c.FreeShipping = woocommerce.CouponFreeShipping, true
		default:
			c.Kind = woocommerce.CouponFixedCart
		}
		id, err := h.wooClients(conn.URL, creds.APIKey, creds.AccessToken).CreateCoupon(ctx, c)
		if woocommerce.IsCodeTaken(err) {
			// Another coupon holds the code (a coupon an earlier try made is
			// recognised as ours): no retry can make it this redemption's,
			// so the points go back, as on Shopify.
			return "", fmt.Errorf("%w: %w", errPermanent, err)
		}
		if err != nil && woocommerce.IsPermanent(err) {
			return "", fmt.Errorf("%w: %w", errPermanent, err)
		}
		return strconv.FormatInt(id, 10), err
	}
	return "", fmt.Errorf("%w: platform %s cannot issue codes", errPermanent, shop.Platform)
}

// shopifyAccessError classifies a failed renewal: Shopify refusing the
// refresh token (spent, expired, the app uninstalled) is access lost for
// good; anything else may pass.
func shopifyAccessError(err error) error {
	if shopify.IsPermanent(err) {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	return err
}

// IssuePending queues the codes of redemptions left pending for more than
// a minute.
func (h *Handler) IssuePending(ctx context.Context, _ *asynq.Task) error {
	if h.queue == nil {
		return nil
	}
	shops, pending, err := h.svc.PendingRedemptions(ctx, h.now().Add(-time.Minute), 500)
	if err != nil {
		return err
	}
	for i, r := range pending {
		task := NewIssueCodeTask(shops[i], r.ID)
		_, err := h.queue.EnqueueContext(ctx, task)
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			err = h.requeueArchived(ctx, task, r.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// requeueArchived queues a redemption's task again when the one holding its
// id gave up: a last try whose FailRedemption failed (the database was
// down) leaves the redemption pending and the task archived, and the
// archived task's id would refuse every later sweep, so the points would
// stay spent on a code that never comes. A task still waiting or retrying
// is left alone.
func (h *Handler) requeueArchived(ctx context.Context, task *asynq.Task, redemptionID int64) error {
	if h.inspector == nil {
		return nil
	}
	id := issueCodeTaskID(redemptionID)
	info, err := h.inspector.GetTaskInfo(QueueCritical, id)
	if errors.Is(err, asynq.ErrTaskNotFound) {
		return nil // finished meanwhile: the next sweep queues it if need be
	}
	if err != nil || info.State != asynq.TaskStateArchived {
		return err
	}
	if err := h.inspector.DeleteTask(QueueCritical, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return err
	}
	_, err = h.queue.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil // another sweep queued it first
	}
	return err
}

// WithQueue lets handlers queue follow-up tasks.
func (h *Handler) WithQueue(q *asynq.Client) *Handler {
	h.queue = q
	return h
}

// TypeExpireCodes expires unused reward codes.
const TypeExpireCodes = "loyalty:expire-codes"

// NewExpireCodesTask makes the periodic sweep of expired codes.
func NewExpireCodesTask() *asynq.Task {
	return asynq.NewTask(TypeExpireCodes, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Unique(10*time.Minute))
}

// ExpireCodes ends unused codes past their date (giving points back when
// the shop says so) and disables them on the platform. The platforms were
// told the end date when the codes were made, so disabling is a second
// guard: a failure is logged, not retried.
func (h *Handler) ExpireCodes(ctx context.Context, _ *asynq.Task) error {
	for {
		shops, expired, err := h.svc.ExpireCodes(ctx, 200)
		if err != nil {
			return err
		}
		for i, r := range expired {
			if err := h.disableCode(ctx, shops[i], r); err != nil {
				h.log.Warn("expired reward code could not be disabled on the platform", "platform", shops[i].Platform,
					"shop", shops[i].Domain, "redemption", r.ID, "error", err)
			}
		}
		h.metrics.jobs.WithLabelValues(TypeExpireCodes, "processed").Add(float64(len(expired)))
		if len(expired) < 200 {
			return nil
		}
	}
}

func (h *Handler) disableCode(ctx context.Context, shop app.Shop, r app.Redemption) error {
	if r.PlatformRef == "" || !shop.Active() {
		return nil
	}
	creds, err := h.svc.Credentials(ctx, shop)
	if err != nil {
		return err
	}
	switch shop.Platform {
	case app.Shopify:
		if h.shopifyClients == nil {
			return nil
		}
		if creds, err = h.shopifyAccess(ctx, shop, creds, false); err != nil {
			return err
		}
		return h.shopifyClients(shop.Domain, creds.AccessToken).DeactivateDiscount(ctx, r.PlatformRef)
	case app.WooCommerce:
		if h.wooClients == nil || creds.APIKey == "" {
			return nil
		}
		id, err := strconv.ParseInt(r.PlatformRef, 10, 64)
		if err != nil {
			return err
		}
		conn, err := h.svc.Connection(ctx, shop)
		if err != nil {
			return err
		}
		return h.wooClients(conn.URL, creds.APIKey, creds.AccessToken).ExpireCoupon(ctx, id, h.now())
	}
	return nil
}
