-- +goose Up
-- Platforms that send whole orders (WooCommerce) send them in no order and
-- more than once, so each order remembers the platform's modification time
-- of the last state applied: an older state arriving later is dropped
-- instead of undoing a newer one.
-- reinstated counts how often an order came back after being cancelled
-- (a late payment, an order restored from the trash): each return earns
-- and each cancellation reverses under its own idempotency keys.
ALTER TABLE orders
    ADD COLUMN platform_updated_at timestamptz,
    ADD COLUMN reinstated integer NOT NULL DEFAULT 0 CHECK (reinstated >= 0);

-- +goose Down
ALTER TABLE orders DROP COLUMN reinstated, DROP COLUMN platform_updated_at;
