-- The outbox: messages that must leave Keyward (webhook calls), written in the unit of work of
-- the change they report and delivered afterwards, and every attempt to deliver them.
--
-- A message is pending while delivered_at and abandoned_at are both NULL. The partial indexes
-- below hold pending messages only, so that they stay small however many delivered messages
-- wait to be pruned.

-- +goose Up
-- No foreign key to accounts, as audit_events has none: a message records something that
-- happened, written in the unit that did it, and must outlive whatever it reports until it is
-- delivered. Accounts are not deleted today; a message announcing that one was would have to.
CREATE TABLE outbox_messages (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    -- '' orders nothing: every such message is handed out on its own.
    order_key       TEXT    NOT NULL DEFAULT '',
    payload         BLOB    NOT NULL,
    -- Secret material sealed by the caller; NULL once the message is delivered or abandoned.
    sealed          BLOB,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Both NULL when no one holds the message; lease_owner stays set after lease_until has
    -- passed, until someone else claims the message or its holder finishes it.
    lease_owner     TEXT,
    lease_until     INTEGER,
    delivered_at    INTEGER,
    abandoned_at    INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
) STRICT;

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
    message_id  TEXT    NOT NULL REFERENCES outbox_messages (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    -- 0 when the destination did not answer.
    status_code INTEGER NOT NULL DEFAULT 0,
    -- '' for a success.
    error       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, attempt)
) STRICT;

-- +goose Down
DROP TABLE outbox_attempts;
DROP TABLE outbox_messages;
