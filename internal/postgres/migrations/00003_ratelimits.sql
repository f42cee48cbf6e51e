-- Rate limits and usage, as internal/sqlite's 00004_ratelimits.sql: each key's lineage (the
-- first key of its rotation chain, which its rate-limit counters and usage credits belong to)
-- and its own limit, the lineages' usage credits, the tiers an account has defined or changed,
-- requests for tiers that need approval, and verification counts per key, minute and outcome.
--
-- Keys from before this migration each start a lineage of their own, rotated ones included.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN lineage_id text COLLATE "C";
UPDATE api_keys SET lineage_id = id;
ALTER TABLE api_keys ALTER COLUMN lineage_id SET NOT NULL;
CREATE INDEX api_keys_lineage_id ON api_keys (lineage_id);

-- The key's own limit, replacing its tier's: a JSON object with rate, period_seconds, burst,
-- quota_limit and quota_window_seconds. NULL when the tier's limit applies.
ALTER TABLE api_keys ADD COLUMN rate_limit_override jsonb,
    ADD CONSTRAINT api_keys_rate_limit_override_check
        CHECK (rate_limit_override IS NULL OR jsonb_typeof(rate_limit_override) = 'object');

-- A lineage's usage credits. No foreign key to api_keys: lineage_id is not unique there. The
-- store checks that the account has a key of the lineage before it writes a row.
CREATE TABLE key_credits (
    lineage_id      text COLLATE "C" NOT NULL,
    account_id      text COLLATE "C" NOT NULL,
    remaining       bigint           NOT NULL,
    -- NULL when the credits are never refilled; refill_amount and refill_day are then 0.
    refill_interval text,
    refill_amount   bigint           NOT NULL DEFAULT 0,
    refill_day      integer          NOT NULL DEFAULT 0,
    -- The refill boundary last applied; NULL before the first.
    refilled_at     timestamptz,
    version         bigint           NOT NULL DEFAULT 0,
    CONSTRAINT key_credits_pkey PRIMARY KEY (lineage_id),
    CONSTRAINT key_credits_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT key_credits_refill_interval_check CHECK (refill_interval IN ('daily', 'monthly'))
);

-- Names are text COLLATE "C", so that a list by name is in the order the SQLite store gives.
CREATE TABLE rate_limit_tiers (
    account_id           text COLLATE "C" NOT NULL,
    name                 text COLLATE "C" NOT NULL,
    description          text             NOT NULL DEFAULT '',
    rate                 bigint           NOT NULL,
    period_seconds       bigint           NOT NULL,
    burst                bigint           NOT NULL,
    -- 0 for no quota.
    quota_limit          bigint           NOT NULL DEFAULT 0,
    quota_window_seconds bigint           NOT NULL DEFAULT 0,
    requires_approval    boolean          NOT NULL DEFAULT false,
    fail_mode            text             NOT NULL,
    created_at           timestamptz      NOT NULL,
    updated_at           timestamptz      NOT NULL,
    CONSTRAINT rate_limit_tiers_pkey PRIMARY KEY (account_id, name),
    CONSTRAINT rate_limit_tiers_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
);

CREATE TABLE tier_requests (
    id           text COLLATE "C" NOT NULL,
    account_id   text COLLATE "C" NOT NULL,
    key_id       text COLLATE "C" NOT NULL,
    tier         text             NOT NULL,
    status       text             NOT NULL,
    requested_by text             NOT NULL DEFAULT '',
    created_at   timestamptz      NOT NULL,
    -- NULL while pending.
    decided_by   text,
    decided_at   timestamptz,
    reason       text             NOT NULL DEFAULT '',
    CONSTRAINT tier_requests_pkey PRIMARY KEY (id),
    CONSTRAINT tier_requests_status_check CHECK (status IN ('pending', 'approved', 'rejected')),
    -- Keeps the key in the request's account.
    CONSTRAINT tier_requests_key_fkey FOREIGN KEY (account_id, key_id)
        REFERENCES api_keys (account_id, id)
);

CREATE INDEX tier_requests_account_id ON tier_requests (account_id, id);
-- The pending requests an approver lists.
CREATE INDEX tier_requests_account_status ON tier_requests (account_id, status, id);
CREATE INDEX tier_requests_key_id ON tier_requests (key_id, id);

-- Verification counts. minute is the minute's start in Unix seconds, so that a bucket's start
-- is minute - minute % its size in seconds, as in the SQLite store. No foreign keys: the
-- counts are a log, written in batches by every verification; counts of keys that do not
-- exist are not written.
CREATE TABLE key_usage (
    key_id     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    project_id text COLLATE "C",
    minute     bigint           NOT NULL,
    -- "C", so that a report orders outcomes as the SQLite store does.
    outcome    text COLLATE "C" NOT NULL,
    count      bigint           NOT NULL,
    CONSTRAINT key_usage_pkey PRIMARY KEY (key_id, minute, outcome)
);

CREATE INDEX key_usage_account_minute ON key_usage (account_id, minute);
CREATE INDEX key_usage_project_minute ON key_usage (project_id, minute) WHERE project_id IS NOT NULL;
-- For PruneUsage, which would otherwise read the whole table.
CREATE INDEX key_usage_minute ON key_usage (minute);

-- +goose Down
DROP TABLE key_usage;
DROP TABLE tier_requests;
DROP TABLE rate_limit_tiers;
DROP TABLE key_credits;
ALTER TABLE api_keys DROP COLUMN rate_limit_override, DROP COLUMN lineage_id;
