-- +goose Up
-- Staff sign in to the console and call the admin API. An email is unique
-- within a shop whatever its case; the same person may work for two shops
-- with two accounts. Passwords, session ids and API tokens are stored only
-- as hashes, so a copy of the database signs no one in.
CREATE TABLE staff (
    id            bigserial PRIMARY KEY,
    shop_id       bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    email         text NOT NULL CHECK (email <> '' AND email = lower(email)),
    name          text NOT NULL CHECK (name <> ''),
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'support')),
    password_hash text NOT NULL CHECK (password_hash <> ''),
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX staff_shop_email ON staff (shop_id, lower(email));

-- id is the SHA-256 (hex) of the random token in the cookie.
CREATE TABLE staff_sessions (
    id           text PRIMARY KEY CHECK (length(id) = 64),
    staff_id     bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf         text NOT NULL CHECK (csrf <> ''),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- token_hash is the SHA-256 (hex) of the whole token; prefix its first
-- characters, for telling tokens apart in a list.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    staff_id     bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> ''),
    token_hash   text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_staff ON api_tokens (staff_id);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE staff_sessions;
DROP TABLE staff;
