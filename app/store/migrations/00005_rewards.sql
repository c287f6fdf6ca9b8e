-- +goose Up
-- Points that come back to a shopper (a reward code that could not be made,
-- or expired unused) are a credit of their own kind, never an edit.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('earn', 'reverse', 'adjust', 'redeem', 'expire', 'bonus', 'restore')),
    ADD CONSTRAINT ledger_entries_restore_is_credit CHECK (kind <> 'restore' OR points > 0);

ALTER TABLE programs
    -- an unused reward code that expires gives its points back
    ADD COLUMN restore_expired_codes boolean NOT NULL DEFAULT true,
    -- refunding an order paid with a reward gives the spent points back
    ADD COLUMN restore_on_refund boolean NOT NULL DEFAULT false,
    -- the part of an order paid with a reward earns no points
    ADD COLUMN reward_part_earns boolean NOT NULL DEFAULT false;

CREATE TABLE rewards (
    id              bigserial PRIMARY KEY,
    shop_id         bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (name <> ''),
    kind            text        NOT NULL CHECK (kind IN ('fixed_amount', 'variable_amount', 'percentage', 'free_shipping')),
    -- what the reward costs (every kind but variable)
    points          bigint      NOT NULL DEFAULT 0 CHECK (points >= 0),
    -- fixed_amount: the amount off, in ten-thousandths of the shop currency
    amount          bigint      NOT NULL DEFAULT 0 CHECK (amount >= 0),
    -- variable_amount: points per 1.00 off, and the range a shopper may spend
    points_per_unit bigint      NOT NULL DEFAULT 0 CHECK (points_per_unit >= 0),
    min_points      bigint      NOT NULL DEFAULT 0 CHECK (min_points >= 0),
    max_points      bigint      NOT NULL DEFAULT 0 CHECK (max_points >= 0),
    percentage      integer     NOT NULL DEFAULT 0 CHECK (percentage BETWEEN 0 AND 100),
    min_subtotal    bigint      NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
    expiry_days     integer     NOT NULL DEFAULT 0 CHECK (expiry_days BETWEEN 0 AND 3650),
    active          boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'fixed_amount' OR (points > 0 AND amount > 0)),
    CHECK (kind <> 'variable_amount' OR (points_per_unit > 0 AND min_points > 0 AND (max_points = 0 OR max_points >= min_points))),
    CHECK (kind <> 'percentage' OR (points > 0 AND percentage > 0)),
    CHECK (kind <> 'free_shipping' OR points > 0)
);
CREATE INDEX rewards_shop ON rewards (shop_id, id);

CREATE TABLE redemptions (
    id              bigserial PRIMARY KEY,
    shop_id         bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id     bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    reward_id       bigint      REFERENCES rewards (id) ON DELETE SET NULL,
    reward_name     text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('fixed_amount', 'variable_amount', 'percentage', 'free_shipping')),
    points          bigint      NOT NULL CHECK (points > 0),
    amount          bigint      NOT NULL DEFAULT 0 CHECK (amount >= 0),
    percentage      integer     NOT NULL DEFAULT 0,
    min_subtotal    bigint      NOT NULL DEFAULT 0,
    code            text        NOT NULL CHECK (length(code) >= 12),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'issued', 'used', 'expired', 'failed')),
    platform_ref    text        NOT NULL DEFAULT '',
    detail          text        NOT NULL DEFAULT '',
    redeemed_by     text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL CHECK (idempotency_key <> ''),
    expires_at      timestamptz,
    order_id        text        NOT NULL DEFAULT '',
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, idempotency_key)
);
-- Codes are never reused, compared as platforms compare them (WooCommerce
-- lower-cases coupon codes).
CREATE UNIQUE INDEX redemptions_code ON redemptions (shop_id, lower(code));
CREATE INDEX redemptions_customer ON redemptions (customer_id, id DESC);
CREATE INDEX redemptions_open ON redemptions (expires_at) WHERE status IN ('pending', 'issued');

-- +goose Down
DROP TABLE redemptions;
DROP TABLE rewards;
ALTER TABLE programs DROP COLUMN reward_part_earns, DROP COLUMN restore_on_refund, DROP COLUMN restore_expired_codes;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_restore_is_credit;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('earn', 'reverse', 'adjust', 'redeem', 'expire', 'bonus'));
