-- +goose Up
-- Messages to shoppers. The table is the outbox: a notice is recorded here
-- first (once per shop and key) and a job sends it; a periodic sweep picks up
-- queued rows whose task could not be queued. Rows stay as the record of what
-- was sent to whom, for support.
CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    shop_id     bigint      NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('welcome', 'earned', 'redeemed', 'expiring', 'birthday')),
    -- the same key never sends twice, e.g. 'expiring:<lot>:14'
    key         text        NOT NULL CHECK (key <> ''),
    -- what the message says: points, code, reward name, expiry day
    data        jsonb       NOT NULL DEFAULT '{}',
    -- the customer's address and language when the notice was made
    email       text        NOT NULL DEFAULT '',
    locale      text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sent', 'failed', 'archived', 'skipped')),
    -- tries that reached for the mail server
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    UNIQUE (shop_id, key),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notifications_customer ON notifications (shop_id, customer_id, id DESC);
-- the outbox sweep reads only what is still waiting
CREATE INDEX notifications_queued ON notifications (created_at) WHERE status = 'queued';

-- Every try, and every decision not to send, with its outcome.
CREATE TABLE notification_attempts (
    id              bigserial PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'archived', 'skipped')),
    detail          text        NOT NULL DEFAULT ''
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, id);

-- A shopper who followed the unsubscribe link gets no more messages from
-- the shop.
ALTER TABLE customers ADD COLUMN unsubscribed_at timestamptz;

-- +goose Down
ALTER TABLE customers DROP COLUMN unsubscribed_at;
DROP TABLE notification_attempts;
DROP TABLE notifications;
