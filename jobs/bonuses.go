package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"loyalty/app"
)

// TypeYearlyBonuses gives the birthday and anniversary bonuses that are due.
const TypeYearlyBonuses = "loyalty:yearly-bonuses"

// YearlyBonusesSchedule runs the bonuses every hour although each is given
// once a year: a shop's day begins at its own midnight, so an hourly run
// reaches every time zone within an hour of its day beginning, and a run
// that finds everyone served costs a few index reads.
const YearlyBonusesSchedule = "@hourly"

// bonusBatch is how many candidates the job reads at a time.
const bonusBatch = 500

// NewYearlyBonusesTask makes the periodic run of yearly bonuses. The
// Schedule runs it once an hour among all workers; a run still retrying
// does not hold up the next hour's, which gives nothing twice either.
func NewYearlyBonusesTask() *asynq.Task {
	return asynq.NewTask(TypeYearlyBonuses, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(3),
		asynq.Timeout(30*time.Minute))
}

// YearlyBonuses gives every birthday and anniversary bonus due now and
// records the birthday message of each birthday bonus. The ledger's
// idempotency keys make a second run, or one on another worker at the same
// time, give nothing twice; a run cut short is finished by the next one.
func (h *Handler) YearlyBonuses(ctx context.Context, _ *asynq.Task) error {
	for _, kind := range app.YearlyBonuses {
		n, err := h.svc.GrantYearlyBonuses(ctx, kind, bonusBatch, func(g app.BonusGrant) { h.bonusGiven(ctx, g) })
		h.metrics.jobs.WithLabelValues(TypeYearlyBonuses, "processed").Add(float64(n))
		if err != nil {
			h.metrics.jobs.WithLabelValues(TypeYearlyBonuses, "failed").Inc()
			return err
		}
	}
	return nil
}

// bonusGiven logs a bonus committed to the ledger and, for a birthday,
// records the message (once per key: the message's key is the ledger's).
// A message that cannot be recorded is logged, not retried through the
// job: the bonus itself is given, and giving it is what the job is for.
func (h *Handler) bonusGiven(ctx context.Context, g app.BonusGrant) {
	log := h.log.With("shop", g.Shop.Domain, "customer", g.Entry.CustomerID, "key", g.Entry.IdempotencyKey)
	log.Info("yearly bonus given", "kind", g.Kind, "points", g.Entry.Points, "day", g.Day.Format(time.DateOnly))
	if g.Kind != app.BonusBirthday {
		return
	}
	_, err := h.svc.Notify(ctx, g.Shop, app.Notice{Kind: app.MessageBirthday, CustomerID: g.Entry.CustomerID,
		Points: g.Entry.Points, Key: g.Entry.IdempotencyKey})
	if err != nil {
		log.Error("birthday message could not be recorded", "error", err)
	}
}
