-- +goose Up
-- WooCommerce has no app installation of its own: the app reaches a store
-- through REST keys the merchant grants, and the store signs each webhook
-- with a secret of its own. Both are sealed like every secret.
ALTER TABLE shop_credentials DROP CONSTRAINT shop_credentials_access_token_check;
ALTER TABLE shop_credentials
    ADD CONSTRAINT shop_credentials_access_token_check CHECK (access_token = '' OR access_token LIKE 'v1:%'),
    ADD COLUMN api_key text NOT NULL DEFAULT '' CHECK (api_key = '' OR api_key LIKE 'v1:%'),
    ADD COLUMN webhook_secret text NOT NULL DEFAULT '' CHECK (webhook_secret = '' OR webhook_secret LIKE 'v1:%'),
    ADD COLUMN widget_secret text NOT NULL DEFAULT '' CHECK (widget_secret = '' OR widget_secret LIKE 'v1:%');

-- How the app reaches a WooCommerce store and how far it has read it.
CREATE TABLE store_connections (
    shop_id             bigint      PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    url                 text        NOT NULL CHECK (url LIKE 'http%'),
    -- the {store} of /webhooks/woocommerce/{store}: random, so the path
    -- tells nothing about the store and cannot be guessed
    webhook_key         text        NOT NULL UNIQUE CHECK (length(webhook_key) >= 16),
    earn_statuses       text        NOT NULL DEFAULT 'processing,completed',
    -- orders modified up to here are known to the ledger
    synced_until        timestamptz NOT NULL,
    last_sync_at        timestamptz,
    last_sync_error     text        NOT NULL DEFAULT '',
    webhooks_checked_at timestamptz
);

-- +goose Down
DROP TABLE store_connections;
ALTER TABLE shop_credentials DROP COLUMN widget_secret, DROP COLUMN webhook_secret, DROP COLUMN api_key;
ALTER TABLE shop_credentials DROP CONSTRAINT shop_credentials_access_token_check;
ALTER TABLE shop_credentials ADD CONSTRAINT shop_credentials_access_token_check CHECK (access_token LIKE 'v1:%');
