-- +goose Up
-- Staff adjustments carry a reason code beside the free-text reason, and an
-- undo names the adjustment it reverses: at most once, by a unique index.
ALTER TABLE ledger_entries
    ADD COLUMN reason_code  text   NOT NULL DEFAULT '',
    ADD COLUMN undoes_entry bigint REFERENCES ledger_entries (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX ledger_entries_undo ON ledger_entries (undoes_entry) WHERE undoes_entry IS NOT NULL;
-- The adjustments report reads a shop's staff entries by time.
CREATE INDEX ledger_entries_staff ON ledger_entries (shop_id, created_at) WHERE staff <> '';

-- A shop's default language, and the points an adjustment may move without
-- an owner's or admin's approval, per role (JSON: {"support": 1000}).
ALTER TABLE programs
    ADD COLUMN default_locale text  NOT NULL DEFAULT 'en' CHECK (default_locale IN ('en', 'pl', 'lv', 'ro', 'ru')),
    ADD COLUMN adjust_limits  jsonb NOT NULL DEFAULT '{"support": 1000}' CHECK (jsonb_typeof(adjust_limits) = 'object');

-- An adjustment above the requester's limit waits here for a decision; once
-- approved, entry_id is the ledger entry it became.
CREATE TABLE adjustment_requests (
    id              bigserial PRIMARY KEY,
    shop_id         bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id     bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    points          bigint      NOT NULL CHECK (points <> 0),
    reason_code     text        NOT NULL CHECK (reason_code <> ''),
    note            text        NOT NULL DEFAULT '',
    requested_by    text        NOT NULL CHECK (requested_by <> ''),
    requested_by_id bigint      NOT NULL,
    idempotency_key text        NOT NULL CHECK (idempotency_key <> ''),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      text        NOT NULL DEFAULT '',
    decision_note   text        NOT NULL DEFAULT '',
    decided_at      timestamptz,
    entry_id        bigint      REFERENCES ledger_entries (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, idempotency_key),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (status <> 'approved' OR entry_id IS NOT NULL)
);
CREATE INDEX adjustment_requests_shop ON adjustment_requests (shop_id, status, id DESC);
CREATE INDEX adjustment_requests_customer ON adjustment_requests (customer_id, id DESC);

-- Customer search: email prefixes and platform ids within a shop.
CREATE INDEX customers_email_prefix ON customers (shop_id, lower(email) text_pattern_ops);

-- +goose Down
DROP INDEX customers_email_prefix;
DROP TABLE adjustment_requests;
ALTER TABLE programs DROP COLUMN adjust_limits, DROP COLUMN default_locale;
DROP INDEX ledger_entries_staff;
DROP INDEX ledger_entries_undo;
ALTER TABLE ledger_entries DROP COLUMN undoes_entry, DROP COLUMN reason_code;
