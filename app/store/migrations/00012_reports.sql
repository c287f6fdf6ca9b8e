-- +goose Up
-- KPIs and exports read a shop's ledger by time: an index-only range scan
-- instead of a pass over every shop's entries.
CREATE INDEX ledger_entries_shop_time ON ledger_entries (shop_id, created_at) INCLUDE (customer_id, kind, points);

-- +goose Down
DROP INDEX ledger_entries_shop_time;
