-- Accounts and the bearer tokens that authenticate them.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lowercased by the store, so UNIQUE is case-insensitive without citext.
    username      text NOT NULL UNIQUE CONSTRAINT users_username_charset CHECK (username ~ '^[a-z0-9_]{3,32}$'),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- sha256 of the token: a leaked database does not leak usable tokens.
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX auth_tokens_user_id_idx ON auth_tokens (user_id);
