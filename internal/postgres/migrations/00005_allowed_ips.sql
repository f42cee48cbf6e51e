-- +goose Up
-- The networks a key, or by default its account's keys, may be used from: a JSON array of
-- CIDR ranges, empty for any.
ALTER TABLE api_keys ADD COLUMN allowed_ips jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT api_keys_allowed_ips_check CHECK (jsonb_typeof(allowed_ips) = 'array');
ALTER TABLE accounts ADD COLUMN allowed_ips jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT accounts_allowed_ips_check CHECK (jsonb_typeof(allowed_ips) = 'array');

-- +goose Down
ALTER TABLE accounts DROP COLUMN allowed_ips;
ALTER TABLE api_keys DROP COLUMN allowed_ips;
