-- The outbox, as internal/sqlite's 00005_outbox.sql: messages that must leave Keyward (webhook
-- calls), written in the unit of work of the change they report and delivered afterwards, and
-- every attempt to deliver them.
--
-- A message is pending while delivered_at and abandoned_at are both NULL. The partial indexes
-- below hold pending messages only, so that they stay small however many delivered messages
-- wait to be pruned.

-- +goose Up
-- No foreign key to accounts, as audit_events has none: a message records something that
-- happened, written in the unit that did it, and must outlive whatever it reports until it is
-- delivered. Accounts are not deleted today; a message announcing that one was would have to.
-- (A reference would also make every enqueue share-lock its account's row.)
CREATE TABLE outbox_messages (
    id              text COLLATE "C" NOT NULL,
    account_id      text COLLATE "C" NOT NULL,
    topic           text             NOT NULL,
    destination     text COLLATE "C" NOT NULL,
    -- '' orders nothing: every such message is handed out on its own.
    order_key       text COLLATE "C" NOT NULL DEFAULT '',
    payload         bytea            NOT NULL,
    -- Secret material sealed by the caller; NULL once the message is delivered or abandoned.
    sealed          bytea,
    created_at      timestamptz      NOT NULL,
    attempts        integer          NOT NULL DEFAULT 0,
    next_attempt_at timestamptz      NOT NULL,
    -- Both NULL when no one holds the message; lease_owner stays set after lease_until has
    -- passed, until someone else claims the message or its holder finishes it.
    lease_owner     text,
    lease_until     timestamptz,
    delivered_at    timestamptz,
    abandoned_at    timestamptz,
    last_error      text             NOT NULL DEFAULT '',
    CONSTRAINT outbox_messages_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_messages_lease_check CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
);

-- ClaimOutbox's scan: the pending messages that are due.
CREATE INDEX outbox_messages_due ON outbox_messages (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
-- ClaimOutbox's ordering rule: is there an older pending message of the same destination and
-- order key?
CREATE INDEX outbox_messages_order ON outbox_messages (destination, order_key, id)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
-- ListOutbox: an account's messages, newest first.
CREATE INDEX outbox_messages_account_id ON outbox_messages (account_id, id);
-- PruneOutbox: finished messages by age.
CREATE INDEX outbox_messages_finished ON outbox_messages (created_at)
    WHERE delivered_at IS NOT NULL OR abandoned_at IS NOT NULL;

-- Attempts go with their message when PruneOutbox deletes it. duration_us is microseconds.
CREATE TABLE outbox_attempts (
    message_id  text COLLATE "C" NOT NULL,
    attempt     integer          NOT NULL,
    at          timestamptz      NOT NULL,
    duration_us bigint           NOT NULL,
    -- 0 when the destination did not answer.
    status_code integer          NOT NULL DEFAULT 0,
    -- '' for a success.
    error       text             NOT NULL DEFAULT '',
    CONSTRAINT outbox_attempts_pkey PRIMARY KEY (message_id, attempt),
    CONSTRAINT outbox_attempts_message_fkey FOREIGN KEY (message_id)
        REFERENCES outbox_messages (id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE outbox_attempts;
DROP TABLE outbox_messages;
