-- OAuth: the keys that sign access tokens, and the deny-list of access tokens refused before
-- they expire.

-- +goose Up
CREATE TABLE signing_keys (
    id             text COLLATE "C" NOT NULL,
    -- Unique: of two nodes that create the next key at once, one fails and uses the other's.
    generation     bigint           NOT NULL,
    algorithm      text             NOT NULL,
    public_jwk     bytea            NOT NULL,
    -- AES-GCM under a key derived from the server secret of secret_version: never in clear.
    private_key    bytea            NOT NULL,
    secret_version integer          NOT NULL,
    created_at     timestamptz      NOT NULL,
    not_before     timestamptz      NOT NULL,
    sign_until     timestamptz      NOT NULL,
    publish_until  timestamptz      NOT NULL,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (id),
    CONSTRAINT signing_keys_generation_key UNIQUE (generation)
);

CREATE INDEX signing_keys_publish_until ON signing_keys (publish_until);

-- Readers ask for the rows after the last id they saw. A sequence hands out ids before the
-- inserting transactions commit, so they may become visible out of order: readers re-read a
-- few seconds back (see internal/oauth) rather than trusting the highest id they saw.
CREATE TABLE token_denials (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    token_id   text COLLATE "C",
    key_id     text COLLATE "C",
    from_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT token_denials_pkey PRIMARY KEY (id),
    CONSTRAINT token_denials_one_target CHECK ((token_id IS NULL) <> (key_id IS NULL))
);

CREATE INDEX token_denials_expires_at ON token_denials (expires_at);

-- +goose Down
DROP TABLE token_denials;
DROP TABLE signing_keys;
