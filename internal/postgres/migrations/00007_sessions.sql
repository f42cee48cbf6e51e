-- Dashboard sessions: the browser holds a random token, the store its SHA-256.

-- +goose Up
CREATE TABLE sessions (
    id           text        PRIMARY KEY,
    token_hash   bytea       NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    account_id   text        NOT NULL CONSTRAINT sessions_account_fkey REFERENCES accounts (id),
    kind         text        NOT NULL CONSTRAINT sessions_kind_check CHECK (kind IN ('admin_key', 'user')),
    principal_id text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
