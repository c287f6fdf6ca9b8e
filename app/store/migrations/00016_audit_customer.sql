-- +goose Up
-- Which customer a staff action was about (a birthday corrected, points
-- adjusted). Staff write free text in these lines, so the text alone cannot
-- be trusted to name the customer the way a search would find it: redacting
-- a customer scrubs the lines that carry their id here. The internal id, not
-- the platform's, because redaction replaces the platform's.
ALTER TABLE audit_log ADD COLUMN customer_id bigint REFERENCES customers (id) ON DELETE SET NULL;
CREATE INDEX audit_log_customer ON audit_log (customer_id) WHERE customer_id IS NOT NULL;
-- Redaction and erasure find a shop's lines by its id, and so does the
-- foreign key when a shop row is deleted.
CREATE INDEX audit_log_shop_id ON audit_log (shop_id) WHERE shop_id IS NOT NULL;

-- +goose Down
DROP INDEX audit_log_shop_id;
DROP INDEX audit_log_customer;
ALTER TABLE audit_log DROP COLUMN customer_id;
