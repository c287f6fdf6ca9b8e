-- +goose Up
-- When the customer last did something, for expiry by inactivity: any ledger
-- entry of theirs other than an expiry, or an order. tx.Post keeps it in the
-- same transaction as the entry; SaveOrder for an order that earned nothing.
-- Existing customers start from their history (or their joining).
ALTER TABLE customers ADD COLUMN last_activity_at timestamptz;
UPDATE customers c SET last_activity_at = GREATEST(c.created_at,
    (SELECT max(e.created_at) FROM ledger_entries e WHERE e.customer_id = c.id AND e.kind <> 'expire'),
    (SELECT max(COALESCE(o.paid_at, o.created_at)) FROM orders o WHERE o.customer_id = c.id));
ALTER TABLE customers
    ALTER COLUMN last_activity_at SET DEFAULT now(),
    ALTER COLUMN last_activity_at SET NOT NULL;

-- The inactivity sweep reads, in each shop with an inactivity limit, only
-- the customers who still hold points and have been idle that long.
CREATE INDEX customers_inactive ON customers (shop_id, last_activity_at) WHERE balance > 0 OR pending > 0;

-- +goose Down
DROP INDEX customers_inactive;
ALTER TABLE customers DROP COLUMN last_activity_at;
