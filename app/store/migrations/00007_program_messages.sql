-- +goose Up
-- The rest of a program's settings for expiry, warnings, bonuses and the
-- messages a shop sends.
ALTER TABLE programs
    -- the whole balance expires after this many months without activity
    -- (0: off); exclusive with per-lot expiry_days
    ADD COLUMN inactivity_months   integer NOT NULL DEFAULT 0 CHECK (inactivity_months BETWEEN 0 AND 120),
    -- days before points expire on which the shopper is warned, e.g. '14,3'
    ADD COLUMN expiry_warning_days text    NOT NULL DEFAULT '14,3' CHECK (expiry_warning_days ~ '^([0-9]{1,3}(,[0-9]{1,3}){0,4})?$'),
    -- points on the anniversary of joining, once a year (0: none)
    ADD COLUMN anniversary_bonus   bigint  NOT NULL DEFAULT 0 CHECK (anniversary_bonus >= 0),
    -- which messages the shop sends its shoppers
    ADD COLUMN notify_welcome      boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_earned       boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_redeemed     boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_expiring     boolean NOT NULL DEFAULT true,
    ADD COLUMN notify_birthday     boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT programs_one_expiry_policy CHECK (expiry_days = 0 OR inactivity_months = 0);

-- +goose Down
ALTER TABLE programs DROP CONSTRAINT programs_one_expiry_policy,
    DROP COLUMN notify_birthday, DROP COLUMN notify_expiring, DROP COLUMN notify_redeemed,
    DROP COLUMN notify_earned, DROP COLUMN notify_welcome, DROP COLUMN anniversary_bonus,
    DROP COLUMN expiry_warning_days, DROP COLUMN inactivity_months;
