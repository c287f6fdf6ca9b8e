-- +goose Up
-- The part of an order's eligible amount that reward codes paid for (counted
-- only when the program lets it earn). Platforms report refunds after
-- discounts, so a full refund adds up to eligible minus this part, and
-- reversals measure refunds against that paid part.
ALTER TABLE orders
    ADD COLUMN reward_part bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT orders_reward_part_within_eligible CHECK (reward_part BETWEEN 0 AND eligible);

-- +goose Down
ALTER TABLE orders DROP COLUMN reward_part;
