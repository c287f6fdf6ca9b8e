-- +goose Up
-- What the app answers a customer's data request with: one document per
-- request, kept until support hands it to the merchant (or the customer is
-- redacted). The unique key makes a redelivered request find the export made
-- the first time.
CREATE TABLE data_exports (
    id                   bigserial PRIMARY KEY,
    shop_id              bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_platform_id text        NOT NULL CHECK (customer_platform_id <> ''),
    request_id           text        NOT NULL CHECK (request_id <> ''),
    status               text        NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'delivered')),
    document             jsonb       NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, request_id)
);
CREATE INDEX data_exports_customer ON data_exports (shop_id, customer_platform_id);

-- A redacted customer keeps their ledger, lots and balance (so the books
-- still add up) but nothing that identifies them: the platform id becomes
-- redacted:<id>, which no platform event can name.
ALTER TABLE customers ADD COLUMN redacted_at timestamptz;
ALTER TABLE customers ADD CONSTRAINT customers_redacted_anonymous CHECK (
    redacted_at IS NULL
    OR (email = '' AND first_name = '' AND last_name = '' AND locale = '' AND platform_id = 'redacted:' || id)
);

-- +goose Down
ALTER TABLE customers DROP CONSTRAINT customers_redacted_anonymous;
ALTER TABLE customers DROP COLUMN redacted_at;
DROP TABLE data_exports;
