-- +goose Up
ALTER TABLE shops ADD COLUMN installed_at timestamptz;
UPDATE shops SET installed_at = created_at;

-- A shop's API access. Tokens are sealed (AES-256-GCM, see store.Keyring):
-- the database never holds them in the clear. key_id names the sealing key,
-- so `loyalty keys rotate` finds the rows still sealed with an old one.
CREATE TABLE shop_credentials (
    shop_id            bigint      PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    access_token       text        NOT NULL CHECK (access_token LIKE 'v1:%'),
    refresh_token      text        NOT NULL DEFAULT '' CHECK (refresh_token = '' OR refresh_token LIKE 'v1:%'),
    scopes             text        NOT NULL DEFAULT '',
    expires_at         timestamptz,
    refresh_expires_at timestamptz,
    key_id             text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shop_credentials_expiring ON shop_credentials (expires_at) WHERE expires_at IS NOT NULL;

-- What was done to a shop and by whom: installs, uninstalls, failed install
-- attempts, erasures and (later) every staff action. Rows outlive the shop
-- (shop_id becomes NULL) so that an erasure itself stays accountable.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    shop_id     bigint      REFERENCES shops (id) ON DELETE SET NULL,
    shop_domain text        NOT NULL DEFAULT '',
    actor       text        NOT NULL,
    action      text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('ok', 'failed', 'refused')),
    detail      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_shop ON audit_log (shop_domain, id DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE shop_credentials;
ALTER TABLE shops DROP COLUMN installed_at;
