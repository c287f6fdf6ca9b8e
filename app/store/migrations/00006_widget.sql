-- +goose Up
-- A shopper's birthday, as month and day only (the year is not ours to
-- keep), for the birthday bonus. Both or neither, and a real calendar day
-- (29 February is one: such shoppers celebrate on 28 February in other years).
ALTER TABLE customers
    ADD COLUMN birth_month smallint,
    ADD COLUMN birth_day   smallint,
    ADD CONSTRAINT customers_birthday_whole CHECK ((birth_month IS NULL) = (birth_day IS NULL)),
    ADD CONSTRAINT customers_birthday_real CHECK (birth_month IS NULL OR (birth_month BETWEEN 1 AND 12 AND birth_day BETWEEN 1 AND
        CASE WHEN birth_month = 2 THEN 29 WHEN birth_month IN (4, 6, 9, 11) THEN 30 ELSE 31 END));

ALTER TABLE programs
    -- points given once a year on a shopper's birthday (0: no birthday bonus)
    ADD COLUMN birthday_bonus  bigint NOT NULL DEFAULT 0 CHECK (birthday_bonus >= 0),
    -- the storefront widget's accent colour and where its launcher sits
    ADD COLUMN widget_color    text   NOT NULL DEFAULT '#1f6feb' CHECK (widget_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN widget_position text   NOT NULL DEFAULT 'bottom-right' CHECK (widget_position IN ('bottom-right', 'bottom-left'));

-- +goose Down
ALTER TABLE programs DROP COLUMN widget_position, DROP COLUMN widget_color, DROP COLUMN birthday_bonus;
ALTER TABLE customers DROP CONSTRAINT customers_birthday_real, DROP CONSTRAINT customers_birthday_whole,
    DROP COLUMN birth_day, DROP COLUMN birth_month;
