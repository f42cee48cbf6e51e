-- Identity: users, custom roles, project memberships, the audit log; account keys (keys that
-- belong to no project), keys that act for a user, with a role and a rate-limit tier.
--
-- api_keys.project_id becomes NULLable, which SQLite can only do by rebuilding the table
-- (create new, copy, drop old, rename new). Goose runs this file in one transaction with
-- foreign keys on: sqlite.go sets the pragma on every connection, and it cannot change inside a
-- transaction. So the rebuild keeps every foreign key satisfied as it goes:
--   - the new table's self-reference (replaced_by_key_id) names the new table's temporary name.
--     Had it named api_keys, dropping the old api_keys would delete, as far as that foreign key
--     is concerned, the successor of every rotated key already copied, and the commit would
--     fail. ALTER TABLE ... RENAME rewrites the reference to the final name.
--   - the copy may insert a key before its successor: that reference is deferred to the
--     commit. Every other reference the copy makes is to another table, whose rows are there.
--   - nothing else references api_keys yet: memberships, which does, is created after the
--     rebuild; users, which api_keys references, before it.
-- So PRAGMA defer_foreign_keys is not needed, and the migration test checks the result with
-- PRAGMA foreign_key_check.

-- +goose Up
ALTER TABLE accounts ADD COLUMN key_prefix TEXT NOT NULL DEFAULT 'kw';

CREATE TABLE users (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    -- The OIDC issuer and subject: both NULL for a user not linked to a provider.
    issuer      TEXT,
    subject     TEXT,
    email       TEXT,
    name        TEXT    NOT NULL DEFAULT '',
    -- Account-level role; no foreign key, because built-in roles are not stored.
    role_id     TEXT,
    disabled_at INTEGER,
    created_at  INTEGER NOT NULL,
    -- A subject means nothing without its issuer, and the unique index below needs both.
    CHECK (subject IS NULL OR issuer IS NOT NULL),
    -- The target of the composite foreign keys that keep a user's keys and memberships in
    -- the user's account, and the index that lists an account's users by id.
    UNIQUE (account_id, id)
) STRICT;

CREATE UNIQUE INDEX users_issuer_subject ON users (issuer, subject) WHERE subject IS NOT NULL;
CREATE INDEX users_role_id ON users (role_id) WHERE role_id IS NOT NULL;

CREATE TABLE roles (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    slug        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    permissions TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(permissions) = 'array'),
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, slug),
    UNIQUE (account_id, id)
) STRICT;

CREATE TABLE api_keys_new (
    id                     TEXT    PRIMARY KEY,
    account_id             TEXT    NOT NULL,
    -- NULL for an account key, which belongs to no project.
    project_id             TEXT,
    environment_id         TEXT,
    -- The user the key acts for, in the key's account.
    user_id                TEXT,
    -- The key's account-level role; no foreign key, because built-in roles are not stored.
    role_id                TEXT,
    rate_limit_tier        TEXT    NOT NULL DEFAULT 'standard',
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
    -- The environment foreign key is not enforced while project_id is NULL, so this is what
    -- keeps an account key out of every environment.
    CHECK (environment_id IS NULL OR project_id IS NOT NULL),
    -- The old table reached accounts only through projects, which an account key lacks.
    FOREIGN KEY (account_id) REFERENCES accounts (id),
    -- Not enforced while project_id is NULL, as an account key needs.
    FOREIGN KEY (account_id, project_id) REFERENCES projects (account_id, id),
    -- Not enforced while environment_id is NULL, as a key without an environment needs.
    FOREIGN KEY (account_id, project_id, environment_id)
        REFERENCES environments (account_id, project_id, id),
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id),
    -- Deferred: a rotation marks the old key replaced before it inserts the new one. It names
    -- the table's temporary name, which the RENAME below rewrites (see the top of the file).
    FOREIGN KEY (replaced_by_key_id) REFERENCES api_keys_new (id) DEFERRABLE INITIALLY DEFERRED
) STRICT;

INSERT INTO api_keys_new (
    id, account_id, project_id, environment_id, name, key_prefix, last4, hash, hash_scheme,
    scopes, metadata, expires_at, last_used_at, created_at, revoked_at, replaced_by_key_id,
    grace_expires_at, rotation_interval_days, next_rotation_at, rotation_webhook_url, created_by)
SELECT
    id, account_id, project_id, environment_id, name, key_prefix, last4, hash, hash_scheme,
    scopes, metadata, expires_at, last_used_at, created_at, revoked_at, replaced_by_key_id,
    grace_expires_at, rotation_interval_days, next_rotation_at, rotation_webhook_url, created_by
FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

-- Unique so that it can be the target of memberships' composite foreign key; it was the
-- index that lists an account's keys by id before, and still is.
CREATE UNIQUE INDEX api_keys_account_id ON api_keys (account_id, id);
CREATE INDEX api_keys_account_project_id ON api_keys (account_id, project_id, id);
CREATE INDEX api_keys_account_user_id ON api_keys (account_id, user_id, id);
-- For DeleteRole's check that no key holds the role.
CREATE INDEX api_keys_role_id ON api_keys (role_id) WHERE role_id IS NOT NULL;

CREATE TABLE memberships (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL,
    project_id TEXT    NOT NULL,
    user_id    TEXT,
    key_id     TEXT,
    -- No foreign key, because built-in roles are not stored.
    role_id    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (key_id IS NULL)),
    -- The composite keys keep the project, the user and the key in the membership's account.
    FOREIGN KEY (account_id, project_id) REFERENCES projects (account_id, id),
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id),
    FOREIGN KEY (account_id, key_id) REFERENCES api_keys (account_id, id),
    UNIQUE (project_id, user_id),
    UNIQUE (project_id, key_id)
) STRICT;

CREATE INDEX memberships_account_id ON memberships (account_id, id);
-- A key's project accesses, read with the key, in project order.
CREATE INDEX memberships_key_id ON memberships (key_id, project_id) WHERE key_id IS NOT NULL;
CREATE INDEX memberships_user_id ON memberships (user_id, project_id) WHERE user_id IS NOT NULL;
CREATE INDEX memberships_role_id ON memberships (role_id);

-- No foreign key to accounts: the log must take every event, even one whose account is
-- unknown, and outlive what it records.
CREATE TABLE audit_events (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    actor_kind  TEXT,
    actor_id    TEXT,
    action      TEXT    NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    remote_addr TEXT,
    outcome     TEXT    NOT NULL,
    error_code  TEXT
) STRICT;

CREATE INDEX audit_events_account_id ON audit_events (account_id, id);

-- +goose Down
-- Account keys (project_id NULL) cannot exist in the old schema, so they are dropped, and a
-- project key that was rotated into an account key forgets its successor. The users, roles,
-- memberships and audit events go too, and with them every key's user, role, project accesses
-- and rate-limit tier. The rebuild of api_keys works as on the way up.

DROP TABLE audit_events;
DROP TABLE memberships;

CREATE TABLE api_keys_old (
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
    FOREIGN KEY (replaced_by_key_id) REFERENCES api_keys_old (id) DEFERRABLE INITIALLY DEFERRED
) STRICT;

INSERT INTO api_keys_old (
    id, account_id, project_id, environment_id, name, key_prefix, last4, hash, hash_scheme,
    scopes, metadata, expires_at, last_used_at, created_at, revoked_at, replaced_by_key_id,
    grace_expires_at, rotation_interval_days, next_rotation_at, rotation_webhook_url, created_by)
SELECT
    k.id, k.account_id, k.project_id, k.environment_id, k.name, k.key_prefix, k.last4, k.hash,
    k.hash_scheme, k.scopes, k.metadata, k.expires_at, k.last_used_at, k.created_at,
    k.revoked_at, next.id, k.grace_expires_at, k.rotation_interval_days, k.next_rotation_at,
    k.rotation_webhook_url, k.created_by
FROM api_keys AS k
LEFT JOIN api_keys AS next ON next.id = k.replaced_by_key_id AND next.project_id IS NOT NULL
WHERE k.project_id IS NOT NULL;

DROP TABLE api_keys;
ALTER TABLE api_keys_old RENAME TO api_keys;

CREATE INDEX api_keys_account_id ON api_keys (account_id, id);
CREATE INDEX api_keys_account_project_id ON api_keys (account_id, project_id, id);

DROP TABLE roles;
DROP TABLE users;

ALTER TABLE accounts DROP COLUMN key_prefix;
