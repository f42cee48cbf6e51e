-- Times are INTEGER unix microseconds in UTC, so that comparisons in SQL are numeric and exact.
-- Optional references and URLs are NULL when unset, never ''.

-- +goose Up
CREATE TABLE accounts (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE projects (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL,
    key_prefix TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name),
    -- The target of the composite foreign keys below, which keep a child in its parent's
    -- account, and the index that lists an account's projects by id.
    UNIQUE (account_id, id)
) STRICT;

CREATE TABLE environments (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL,
    project_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, name),
    UNIQUE (account_id, project_id, id),
    FOREIGN KEY (account_id, project_id) REFERENCES projects (account_id, id)
) STRICT;

CREATE TABLE api_keys (
    id                     TEXT    PRIMARY KEY,
    account_id             TEXT    NOT NULL,
    project_id             TEXT    NOT NULL,
    environment_id         TEXT,
    name                   TEXT    NOT NULL,
    key_prefix             TEXT    NOT NULL,
    last4                  TEXT    NOT NULL,
    hash                   BLOB    NOT NULL UNIQUE,
    hash_scheme            TEXT    NOT NULL,
    scopes                 TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(scopes) = 'array'),
    metadata               TEXT    CHECK (metadata IS NULL OR json_type(metadata) = 'object'),
    expires_at             INTEGER,
    last_used_at           INTEGER,
    created_at             INTEGER NOT NULL,
    revoked_at             INTEGER,
    replaced_by_key_id     TEXT,
    grace_expires_at       INTEGER,
    rotation_interval_days INTEGER NOT NULL DEFAULT 0,
    next_rotation_at       INTEGER,
    rotation_webhook_url   TEXT,
    created_by             TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (account_id, project_id) REFERENCES projects (account_id, id),
    -- Not enforced while environment_id is NULL, as a key without an environment needs.
    FOREIGN KEY (account_id, project_id, environment_id)
        REFERENCES environments (account_id, project_id, id),
    -- Deferred: a rotation marks the old key replaced before it inserts the new one.
    FOREIGN KEY (replaced_by_key_id) REFERENCES api_keys (id) DEFERRABLE INITIALLY DEFERRED
) STRICT;

CREATE INDEX api_keys_account_id ON api_keys (account_id, id);
CREATE INDEX api_keys_account_project_id ON api_keys (account_id, project_id, id);

CREATE TABLE admin_keys (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    key_prefix  TEXT    NOT NULL,
    last4       TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    hash_scheme TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- +goose Down
DROP TABLE admin_keys;
DROP TABLE api_keys;
DROP TABLE environments;
DROP TABLE projects;
DROP TABLE accounts;
