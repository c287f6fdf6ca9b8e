// Package app is the loyalty domain: shops and their programs, customers,
// orders, and the points ledger.
//
// The story of one order: a platform adapter (platforms/shopify) verifies a
// webhook and webhook intake (webhooks) enqueues it; a job (jobs) decodes the
// payload through the adapter into an app event such as OrderPaid and calls
// one Service method, AccrueOrder. The service applies the shop's Program
// rules to decide how many points the order earns and posts an earn Entry to
// the ledger through the Store, in one transaction that also records the order,
// adds a Lot (so points can later be held as pending or expire oldest-first)
// and updates the customer's balance row. Every entry carries an idempotency
// key that the database holds unique per shop, so an event applied twice
// changes nothing the second time, and the customer row is locked for the
// length of the transaction, so concurrent events never lose an update.
//
// Refunds and cancellations post reverse entries computed from what the order
// earned (never from today's rate); staff adjustments post adjust entries that
// name the staff member and a reason. Nothing in the ledger is ever edited:
// a mistake is undone by another entry.
//
// The package imports only the standard library; storage, HTTP, queues and
// platforms are adapters that implement the interfaces declared here.
package app
