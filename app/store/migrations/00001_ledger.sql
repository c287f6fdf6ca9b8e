-- +goose Up
CREATE TABLE shops (
    id             bigserial PRIMARY KEY,
    platform       text        NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    domain         text        NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    name           text        NOT NULL DEFAULT '',
    currency       char(3)     NOT NULL DEFAULT 'USD',
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'uninstalled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    uninstalled_at timestamptz,
    UNIQUE (platform, domain)
);

CREATE TABLE programs (
    shop_id          bigint   PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    -- points per whole currency unit, in ten-thousandths of a point
    earn_rate        bigint   NOT NULL DEFAULT 10000 CHECK (earn_rate >= 0),
    earn_on_shipping boolean  NOT NULL DEFAULT false,
    earn_on_tax      boolean  NOT NULL DEFAULT false,
    signup_bonus     bigint   NOT NULL DEFAULT 0 CHECK (signup_bonus >= 0),
    rounding         text     NOT NULL DEFAULT 'floor' CHECK (rounding IN ('floor', 'nearest', 'ceil')),
    allow_negative   boolean  NOT NULL DEFAULT false,
    pending_days     integer  NOT NULL DEFAULT 0 CHECK (pending_days BETWEEN 0 AND 365),
    expiry_days      integer  NOT NULL DEFAULT 0 CHECK (expiry_days BETWEEN 0 AND 3650),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    shop_id     bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    -- platform ids are text: Shopify's exceed 2^53 and WooCommerce's are site-local
    platform_id text        NOT NULL CHECK (platform_id <> ''),
    email       text        NOT NULL DEFAULT '',
    first_name  text        NOT NULL DEFAULT '',
    last_name   text        NOT NULL DEFAULT '',
    locale      text        NOT NULL DEFAULT '',
    balance     bigint      NOT NULL DEFAULT 0,
    pending     bigint      NOT NULL DEFAULT 0 CHECK (pending >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, platform_id)
);
CREATE INDEX customers_shop_email ON customers (shop_id, lower(email)) WHERE email <> '';

CREATE TABLE orders (
    id              bigserial PRIMARY KEY,
    shop_id         bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    platform_id     text        NOT NULL CHECK (platform_id <> ''),
    customer_id     bigint      REFERENCES customers (id) ON DELETE CASCADE,
    name            text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paid', 'cancelled', 'skipped')),
    currency        text        NOT NULL DEFAULT '',
    -- money in ten-thousandths of the shop currency unit
    eligible        bigint      NOT NULL DEFAULT 0 CHECK (eligible >= 0),
    refunded        bigint      NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    earn_rate       bigint      NOT NULL DEFAULT 0,
    taxes_included  boolean     NOT NULL DEFAULT false,
    points_earned   bigint      NOT NULL DEFAULT 0 CHECK (points_earned >= 0),
    points_reversed bigint      NOT NULL DEFAULT 0 CHECK (points_reversed BETWEEN 0 AND points_earned),
    skip_reason     text        NOT NULL DEFAULT '',
    paid_at         timestamptz,
    cancelled_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, platform_id),
    CHECK (status <> 'paid' OR customer_id IS NOT NULL)
);
CREATE INDEX orders_customer ON orders (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE order_refunds (
    id           bigserial PRIMARY KEY,
    order_id     bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    platform_id  text        NOT NULL CHECK (platform_id <> ''),
    lines        bigint      NOT NULL DEFAULT 0,
    lines_tax    bigint      NOT NULL DEFAULT 0,
    shipping     bigint      NOT NULL DEFAULT 0,
    shipping_tax bigint      NOT NULL DEFAULT 0,
    refunded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, platform_id)
);

CREATE TABLE ledger_entries (
    id              bigserial PRIMARY KEY,
    shop_id         bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id     bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    order_id        bigint      REFERENCES orders (id) ON DELETE CASCADE,
    kind            text        NOT NULL CHECK (kind IN ('earn', 'reverse', 'adjust', 'redeem', 'expire', 'bonus')),
    points          bigint      NOT NULL,
    unrecovered     bigint      NOT NULL DEFAULT 0 CHECK (unrecovered >= 0),
    balance_after   bigint      NOT NULL,
    pending_after   bigint      NOT NULL,
    cause_order     text        NOT NULL DEFAULT '',
    cause_refund    text        NOT NULL DEFAULT '',
    cause_job       text        NOT NULL DEFAULT '',
    staff           text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL CHECK (idempotency_key <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, idempotency_key),
    CHECK (points <> 0 OR unrecovered <> 0),
    -- credits and debits go the right way for their kind
    CHECK (kind NOT IN ('earn', 'bonus') OR points > 0),
    CHECK (kind NOT IN ('reverse', 'redeem', 'expire') OR points <= 0),
    -- every entry is attributable
    CHECK (kind <> 'adjust' OR (staff <> '' AND reason <> '')),
    CHECK (cause_order <> '' OR cause_job <> '' OR staff <> '')
);
CREATE INDEX ledger_entries_customer ON ledger_entries (customer_id, id DESC);
CREATE INDEX ledger_entries_order ON ledger_entries (order_id) WHERE order_id IS NOT NULL;

-- The ledger is append-only: history is never edited. A mistake is undone by
-- another entry. Deleting is allowed only for a privacy erasure, which sets
-- loyalty.erasure = 'on' in its own transaction.
-- +goose StatementBegin
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('loyalty.erasure', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TABLE lots (
    id           bigserial PRIMARY KEY,
    customer_id  bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    entry_id     bigint      NOT NULL REFERENCES ledger_entries (id) ON DELETE CASCADE,
    order_id     bigint      REFERENCES orders (id) ON DELETE CASCADE,
    points       bigint      NOT NULL CHECK (points > 0),
    remaining    bigint      NOT NULL CHECK (remaining BETWEEN 0 AND points),
    pending      boolean     NOT NULL DEFAULT false,
    earned_at    timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    expires_at   timestamptz
);
-- the spend order: the customer's open lots, oldest expiry first
CREATE INDEX lots_open ON lots (customer_id, expires_at NULLS LAST, earned_at, id) WHERE remaining > 0;
CREATE INDEX lots_pending_release ON lots (available_at) WHERE pending AND remaining > 0;
CREATE INDEX lots_expiry ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- Every webhook delivery that reached a worker, or that was parked in the
-- inbox while the queue was down. The unique key is the final guard against
-- processing a delivery twice; failed rows keep the payload for support.
CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    platform     text        NOT NULL,
    shop_domain  text        NOT NULL,
    delivery_id  text        NOT NULL,
    topic        text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('inbox', 'queued', 'processed', 'skipped', 'failed')),
    detail       text        NOT NULL DEFAULT '',
    payload      bytea,
    received_at  timestamptz NOT NULL,
    triggered_at timestamptz,
    processed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, shop_domain, delivery_id)
);
CREATE INDEX webhook_deliveries_inbox ON webhook_deliveries (id) WHERE status = 'inbox';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (shop_domain, id DESC) WHERE status = 'failed';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE lots;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE order_refunds;
DROP TABLE orders;
DROP TABLE customers;
DROP TABLE programs;
DROP TABLE shops;
