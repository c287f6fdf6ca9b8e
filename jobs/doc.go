// Package jobs runs the loyalty work on asynq.
//
// Webhook intake turns each accepted delivery into one task: orders/paid
// becomes a TypeAccrue task on the critical queue, refunds/create and
// orders/cancelled become TypeReverse, customers/create TypeBonus, app
// lifecycle topics TypeShop, and the mandatory privacy topics
// (customers/data_request, customers/redact, shop/redact) TypePrivacy.
// The task's payload is the delivery itself (the raw, already verified body
// and its headers), and its id is derived from the delivery id, so the same
// delivery cannot sit in the queue twice. Periodic jobs (reconciliation,
// token refresh, points expiry and release, expiry warnings, bonuses) come
// from the Schedule that every worker process runs: each period of each
// job is enqueued and run once among all of them.
//
// A worker's Handler decodes the body through the platform adapter into an
// app event, calls the one app.Service method for it, and records what became
// of the delivery in PostgreSQL, where support can see it. Handlers are safe
// to run twice: a delivery already recorded as done is skipped, and the
// ledger's idempotency keys make a re-run after a crash (kill -9 between the
// ledger commit and asynq's acknowledgement) change nothing. A malformed
// payload is recorded as failed and not retried; any other error is retried
// with backoff and, after the last try, archived by asynq with its reason.
package jobs
