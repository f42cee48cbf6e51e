-- Keyward's schema on PostgreSQL, the same as internal/sqlite's after its 00002_identity.sql,
-- created whole because this store starts at it.
--
-- Ids are text COLLATE "C": the store interface takes any string as an id and orders lists by
-- id, and Go compares strings byte by byte, as "C" does; the database's own collation might
-- not (and might differ between servers). Times are timestamptz at PostgreSQL's microsecond
-- precision. Optional references and URLs are NULL when unset, never ''.
--
-- Constraints are named: the store maps a violation to a domain error by its constraint name,
-- so renaming one here means changing the Go that names it.

-- +goose Up
CREATE TABLE accounts (
    id         text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    key_prefix text             NOT NULL DEFAULT 'kw',
    created_at timestamptz      NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_name_key UNIQUE (name)
);

CREATE TABLE projects (
    id         text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    key_prefix text             NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT projects_pkey PRIMARY KEY (id),
    CONSTRAINT projects_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT projects_name_key UNIQUE (account_id, name),
    -- The target of the composite foreign keys below, which keep a child in its parent's
    -- account, and the index that lists an account's projects by id.
    CONSTRAINT projects_account_id_key UNIQUE (account_id, id)
);

CREATE TABLE environments (
    id         text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    project_id text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT environments_pkey PRIMARY KEY (id),
    CONSTRAINT environments_project_fkey FOREIGN KEY (account_id, project_id)
        REFERENCES projects (account_id, id),
    CONSTRAINT environments_name_key UNIQUE (project_id, name),
    CONSTRAINT environments_account_id_key UNIQUE (account_id, project_id, id)
);

CREATE TABLE users (
    id          text COLLATE "C" NOT NULL,
    account_id  text COLLATE "C" NOT NULL,
    -- The OIDC issuer and subject: both NULL for a user not linked to a provider.
    issuer      text,
    subject     text,
    email       text,
    name        text             NOT NULL DEFAULT '',
    -- Account-level role; no foreign key, because built-in roles are not stored. DeleteRole
    -- and the writes that set a role lock the role's row instead (see roles.go).
    role_id     text COLLATE "C",
    disabled_at timestamptz,
    created_at  timestamptz      NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    -- A subject means nothing without its issuer, and the unique index below needs both.
    CONSTRAINT users_subject_check CHECK (subject IS NULL OR issuer IS NOT NULL),
    -- The target of the composite foreign keys that keep a user's keys and memberships in
    -- the user's account, and the index that lists an account's users by id.
    CONSTRAINT users_account_id_key UNIQUE (account_id, id)
);

CREATE UNIQUE INDEX users_issuer_subject_key ON users (issuer, subject) WHERE subject IS NOT NULL;
CREATE INDEX users_role_id ON users (role_id) WHERE role_id IS NOT NULL;

CREATE TABLE roles (
    id          text COLLATE "C" NOT NULL,
    account_id  text COLLATE "C" NOT NULL,
    name        text             NOT NULL,
    slug        text             NOT NULL,
    description text             NOT NULL DEFAULT '',
    permissions jsonb            NOT NULL DEFAULT '[]',
    created_at  timestamptz      NOT NULL,
    CONSTRAINT roles_pkey PRIMARY KEY (id),
    CONSTRAINT roles_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT roles_permissions_check CHECK (jsonb_typeof(permissions) = 'array'),
    CONSTRAINT roles_slug_key UNIQUE (account_id, slug),
    CONSTRAINT roles_account_id_key UNIQUE (account_id, id)
);

CREATE TABLE api_keys (
    id                     text COLLATE "C" NOT NULL,
    account_id             text COLLATE "C" NOT NULL,
    -- NULL for an account key, which belongs to no project.
    project_id             text COLLATE "C",
    environment_id         text COLLATE "C",
    -- The user the key acts for, in the key's account.
    user_id                text COLLATE "C",
    -- The key's account-level role; no foreign key, because built-in roles are not stored.
    role_id                text COLLATE "C",
    rate_limit_tier        text             NOT NULL DEFAULT 'standard',
    name                   text             NOT NULL,
    key_prefix             text             NOT NULL,
    last4                  text             NOT NULL,
    hash                   bytea            NOT NULL,
    hash_scheme            text             NOT NULL,
    scopes                 jsonb            NOT NULL DEFAULT '[]',
    metadata               jsonb,
    expires_at             timestamptz,
    last_used_at           timestamptz,
    created_at             timestamptz      NOT NULL,
    revoked_at             timestamptz,
    replaced_by_key_id     text COLLATE "C",
    grace_expires_at       timestamptz,
    rotation_interval_days integer          NOT NULL DEFAULT 0,
    next_rotation_at       timestamptz,
    rotation_webhook_url   text,
    created_by             text             NOT NULL DEFAULT '',
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_hash_key UNIQUE (hash),
    -- Unique so that it can be the target of the composite foreign keys that keep a
    -- membership and a key's successor in the key's account; the index that lists an
    -- account's keys by id.
    CONSTRAINT api_keys_account_id_key UNIQUE (account_id, id),
    CONSTRAINT api_keys_scopes_check CHECK (jsonb_typeof(scopes) = 'array'),
    CONSTRAINT api_keys_metadata_check CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    CONSTRAINT api_keys_rotation_check CHECK (rotation_interval_days >= 0),
    -- The environment foreign key is not enforced while project_id is NULL, so this is what
    -- keeps an account key out of every environment.
    CONSTRAINT api_keys_environment_check CHECK (environment_id IS NULL OR project_id IS NOT NULL),
    -- An account key has no project to reach its account through.
    CONSTRAINT api_keys_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    -- Not enforced while project_id is NULL, as an account key needs (MATCH SIMPLE).
    CONSTRAINT api_keys_project_fkey FOREIGN KEY (account_id, project_id)
        REFERENCES projects (account_id, id),
    -- Not enforced while environment_id is NULL, as a key without an environment needs.
    CONSTRAINT api_keys_environment_fkey FOREIGN KEY (account_id, project_id, environment_id)
        REFERENCES environments (account_id, project_id, id),
    CONSTRAINT api_keys_user_fkey FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, id),
    -- Deferred: a rotation marks the old key replaced before it inserts the new one.
    CONSTRAINT api_keys_replaced_by_fkey FOREIGN KEY (account_id, replaced_by_key_id)
        REFERENCES api_keys (account_id, id) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX api_keys_account_project_id ON api_keys (account_id, project_id, id);
CREATE INDEX api_keys_account_user_id ON api_keys (account_id, user_id, id);
-- For DeleteRole's check that no key holds the role.
CREATE INDEX api_keys_role_id ON api_keys (role_id) WHERE role_id IS NOT NULL;

CREATE TABLE admin_keys (
    id          text COLLATE "C" NOT NULL,
    account_id  text COLLATE "C" NOT NULL,
    name        text             NOT NULL,
    key_prefix  text             NOT NULL,
    last4       text             NOT NULL,
    hash        bytea            NOT NULL,
    hash_scheme text             NOT NULL,
    created_at  timestamptz      NOT NULL,
    revoked_at  timestamptz,
    CONSTRAINT admin_keys_pkey PRIMARY KEY (id),
    CONSTRAINT admin_keys_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT admin_keys_hash_key UNIQUE (hash)
);

CREATE TABLE memberships (
    id         text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    project_id text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C",
    key_id     text COLLATE "C",
    -- No foreign key, because built-in roles are not stored.
    role_id    text COLLATE "C" NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (id),
    CONSTRAINT memberships_member_check CHECK ((user_id IS NULL) <> (key_id IS NULL)),
    -- The composite keys keep the project, the user and the key in the membership's account.
    CONSTRAINT memberships_project_fkey FOREIGN KEY (account_id, project_id)
        REFERENCES projects (account_id, id),
    CONSTRAINT memberships_user_fkey FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, id),
    CONSTRAINT memberships_key_fkey FOREIGN KEY (account_id, key_id)
        REFERENCES api_keys (account_id, id),
    CONSTRAINT memberships_project_user_key UNIQUE (project_id, user_id),
    CONSTRAINT memberships_project_key_key UNIQUE (project_id, key_id)
);

CREATE INDEX memberships_account_id ON memberships (account_id, id);
-- A key's project accesses, read with the key, in project order.
CREATE INDEX memberships_key_id ON memberships (key_id, project_id) WHERE key_id IS NOT NULL;
CREATE INDEX memberships_user_id ON memberships (user_id, project_id) WHERE user_id IS NOT NULL;
CREATE INDEX memberships_role_id ON memberships (role_id);

-- No foreign key to accounts: the log must take every event, even one whose account is
-- unknown, and outlive what it records.
CREATE TABLE audit_events (
    id          text COLLATE "C" NOT NULL,
    account_id  text COLLATE "C" NOT NULL,
    at          timestamptz      NOT NULL,
    actor_kind  text,
    actor_id    text,
    action      text             NOT NULL,
    target_type text,
    target_id   text,
    remote_addr text,
    outcome     text             NOT NULL,
    error_code  text,
    CONSTRAINT audit_events_pkey PRIMARY KEY (id)
);

CREATE INDEX audit_events_account_id ON audit_events (account_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE memberships;
DROP TABLE admin_keys;
DROP TABLE api_keys;
DROP TABLE roles;
DROP TABLE users;
DROP TABLE environments;
DROP TABLE projects;
DROP TABLE accounts;
