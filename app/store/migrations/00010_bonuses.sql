-- +goose Up
-- Birthday and anniversary bonuses are due on the shop's calendar day, not
-- UTC's: a shopper in New York should not get "happy birthday" the evening
-- before. An IANA zone name such as Europe/Warsaw; every shop starts on UTC.
ALTER TABLE shops ADD COLUMN timezone text NOT NULL DEFAULT 'UTC' CHECK (timezone <> '');

-- The bonus job reads the customers whose day is near one day of the year at
-- a time (month * 100 + day), in batches by id, rather than every customer.
-- Joining days are taken in UTC here; the job allows a day either side for
-- the shop's zone.
CREATE INDEX customers_birthday ON customers ((birth_month * 100 + birth_day), id)
    WHERE birth_month IS NOT NULL AND redacted_at IS NULL;
CREATE INDEX customers_joined_day ON customers (
    (CAST(EXTRACT(MONTH FROM created_at AT TIME ZONE 'UTC') * 100 + EXTRACT(DAY FROM created_at AT TIME ZONE 'UTC') AS integer)), id)
    WHERE redacted_at IS NULL;

-- +goose Down
DROP INDEX customers_joined_day;
DROP INDEX customers_birthday;
ALTER TABLE shops DROP COLUMN timezone;
