-- Rate limits and usage: each key's lineage (the first key of its rotation chain, which its
-- rate-limit counters and usage credits belong to) and its own limit, the lineages' usage
-- credits, the tiers an account has defined or changed, requests for tiers that need approval,
-- and verification counts per key, minute and outcome.
--
-- api_keys gains its columns by ALTER TABLE ... ADD COLUMN rather than by a rebuild (see
-- 00002_identity.sql): nothing about the existing columns changes. SQLite cannot add a NOT NULL
-- column without a default, so lineage_id gets '' and then every existing key its own id: keys
-- from before this migration each start a lineage, rotated ones included. The store always
-- writes lineage_id, so the default is never used again.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN lineage_id TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET lineage_id = id;
CREATE INDEX api_keys_lineage_id ON api_keys (lineage_id);

-- The key's own limit, replacing its tier's: a JSON object with rate, period_seconds, burst,
-- quota_limit and quota_window_seconds. NULL when the tier's limit applies.
ALTER TABLE api_keys ADD COLUMN rate_limit_override TEXT
    CHECK (rate_limit_override IS NULL OR json_type(rate_limit_override) = 'object');

-- A lineage's usage credits. No foreign key to api_keys: lineage_id is not unique there. The
-- store checks that the account has a key of the lineage before it writes a row.
CREATE TABLE key_credits (
    lineage_id      TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    remaining       INTEGER NOT NULL,
    -- NULL when the credits are never refilled; refill_amount and refill_day are then 0.
    refill_interval TEXT    CHECK (refill_interval IN ('daily', 'monthly')),
    refill_amount   INTEGER NOT NULL DEFAULT 0,
    refill_day      INTEGER NOT NULL DEFAULT 0,
    -- The refill boundary last applied; NULL before the first.
    refilled_at     INTEGER,
    version         INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE rate_limit_tiers (
    account_id           TEXT    NOT NULL REFERENCES accounts (id),
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL DEFAULT '',
    rate                 INTEGER NOT NULL,
    period_seconds       INTEGER NOT NULL,
    burst                INTEGER NOT NULL,
    -- 0 for no quota.
    quota_limit          INTEGER NOT NULL DEFAULT 0,
    quota_window_seconds INTEGER NOT NULL DEFAULT 0,
    requires_approval    INTEGER NOT NULL DEFAULT 0 CHECK (requires_approval IN (0, 1)),
    fail_mode            TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;

CREATE TABLE tier_requests (
    id           TEXT    PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    tier         TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    -- NULL while pending.
    decided_by   TEXT,
    decided_at   INTEGER,
    reason       TEXT    NOT NULL DEFAULT '',
    -- Keeps the key in the request's account.
    FOREIGN KEY (account_id, key_id) REFERENCES api_keys (account_id, id)
) STRICT;

CREATE INDEX tier_requests_account_id ON tier_requests (account_id, id);
-- The pending requests an approver lists.
CREATE INDEX tier_requests_account_status ON tier_requests (account_id, status, id);
CREATE INDEX tier_requests_key_id ON tier_requests (key_id, id);

-- Verification counts. minute is the minute's start in Unix seconds (not microseconds, as
-- other times are), so that a bucket's start is minute - minute % its size in seconds. No
-- foreign keys: the counts are a log, written in batches by every verification; counts of
-- keys that do not exist are not written.
CREATE TABLE key_usage (
    key_id     TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    project_id TEXT,
    minute     INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (key_id, minute, outcome)
) STRICT;

CREATE INDEX key_usage_account_minute ON key_usage (account_id, minute);
CREATE INDEX key_usage_project_minute ON key_usage (project_id, minute) WHERE project_id IS NOT NULL;
-- For PruneUsage, which would otherwise read the whole table under the write lock.
CREATE INDEX key_usage_minute ON key_usage (minute);

-- +goose Down
-- Every key's lineage and own limit go, with the credits, the stored tiers, the tier requests
-- and the usage counts.
DROP TABLE key_usage;
DROP TABLE tier_requests;
DROP TABLE rate_limit_tiers;
DROP TABLE key_credits;
DROP INDEX api_keys_lineage_id;
ALTER TABLE api_keys DROP COLUMN rate_limit_override;
ALTER TABLE api_keys DROP COLUMN lineage_id;
