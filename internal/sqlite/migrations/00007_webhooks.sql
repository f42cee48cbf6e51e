-- Webhook endpoints, and what scheduled rotation, notices, leak reports and imports keep on a
-- key.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                    TEXT    PRIMARY KEY,
    account_id            TEXT    NOT NULL REFERENCES accounts (id),
    url                   TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    -- The topics it receives, a JSON array; [] receives all.
    topics                TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(topics) = 'array'),
    enabled               INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason       TEXT    NOT NULL DEFAULT '',
    -- The signing secret, sealed under the server secret; the previous one signs beside it
    -- until previous_secret_until.
    secret                BLOB    NOT NULL,
    previous_secret       BLOB,
    previous_secret_until INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

-- The rotation webhook's signing secret, sealed; the grace of a scheduled rotation (NULL:
-- the default); the last leak report; the once-only notices.
ALTER TABLE api_keys ADD COLUMN rotation_webhook_secret BLOB;
ALTER TABLE api_keys ADD COLUMN rotation_grace_seconds INTEGER;
ALTER TABLE api_keys ADD COLUMN leaked_at INTEGER;
ALTER TABLE api_keys ADD COLUMN leak_source TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN leak_url TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expiry_notified_at INTEGER;
ALTER TABLE api_keys ADD COLUMN exhausted_at INTEGER;

-- DueRotations' scan: the live keys with a schedule.
CREATE INDEX api_keys_next_rotation ON api_keys (next_rotation_at)
    WHERE next_rotation_at IS NOT NULL AND revoked_at IS NULL AND replaced_by_key_id IS NULL;
-- ExpiringKeys' scans.
CREATE INDEX api_keys_expiry_notice ON api_keys (expires_at)
    WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_notified_at IS NULL;
CREATE INDEX api_keys_grace_notice ON api_keys (grace_expires_at)
    WHERE grace_expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_notified_at IS NULL;
-- The imported keys, whose hashes the verifiers hold in a filter.
CREATE INDEX api_keys_imported ON api_keys (hash_scheme) WHERE hash_scheme LIKE '%import';

ALTER TABLE accounts ADD COLUMN leak_policy TEXT NOT NULL DEFAULT '' CHECK (leak_policy IN ('', 'revoke', 'notify'));
ALTER TABLE projects ADD COLUMN leak_policy TEXT NOT NULL DEFAULT '' CHECK (leak_policy IN ('', 'revoke', 'notify'));

-- +goose Down
ALTER TABLE projects DROP COLUMN leak_policy;
ALTER TABLE accounts DROP COLUMN leak_policy;
DROP INDEX api_keys_imported;
DROP INDEX api_keys_grace_notice;
DROP INDEX api_keys_expiry_notice;
DROP INDEX api_keys_next_rotation;
ALTER TABLE api_keys DROP COLUMN exhausted_at;
ALTER TABLE api_keys DROP COLUMN expiry_notified_at;
ALTER TABLE api_keys DROP COLUMN leak_url;
ALTER TABLE api_keys DROP COLUMN leak_source;
ALTER TABLE api_keys DROP COLUMN leaked_at;
ALTER TABLE api_keys DROP COLUMN rotation_grace_seconds;
ALTER TABLE api_keys DROP COLUMN rotation_webhook_secret;
DROP TABLE webhook_endpoints;
