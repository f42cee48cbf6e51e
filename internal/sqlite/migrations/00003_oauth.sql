-- OAuth: the keys that sign access tokens, and the deny-list of access tokens refused before
-- they expire.

-- +goose Up
CREATE TABLE signing_keys (
    id             TEXT    PRIMARY KEY,
    -- Unique: of two nodes that create the next key at once, one fails and uses the other's.
    generation     INTEGER NOT NULL UNIQUE,
    algorithm      TEXT    NOT NULL,
    public_jwk     BLOB    NOT NULL,
    -- AES-GCM under a key derived from the server secret of secret_version: never in clear.
    private_key    BLOB    NOT NULL,
    secret_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    not_before     INTEGER NOT NULL,
    sign_until     INTEGER NOT NULL,
    publish_until  INTEGER NOT NULL
);

CREATE INDEX signing_keys_publish_until ON signing_keys (publish_until);

-- AUTOINCREMENT: ids never go back, even after the newest rows are pruned, so a reader that
-- asks for the rows after the last id it saw never misses one.
CREATE TABLE token_denials (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id   TEXT,
    key_id     TEXT,
    from_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    CHECK ((token_id IS NULL) <> (key_id IS NULL))
);

CREATE INDEX token_denials_expires_at ON token_denials (expires_at);

-- +goose Down
DROP TABLE token_denials;
DROP TABLE signing_keys;
