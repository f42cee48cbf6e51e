package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const outboxColumns = `id, account_id, topic, destination, order_key, payload, sealed, created_at,
	attempts, next_attempt_at, lease_owner, lease_until, delivered_at, abandoned_at, last_error`

// outboxPending is the condition a pending message meets; the partial indexes of
// 00005_outbox.sql are written with the same words, which SQLite needs to use them.
const outboxPending = `delivered_at IS NULL AND abandoned_at IS NULL`

// EnqueueOutbox inserts msgs in one transaction, each pending and due at its NextAttemptAt,
// or at its CreatedAt when that is zero. The rest of a message's delivery state is the
// store's: a message starts with no attempts, no lease and no error. Errors: EConflict if an
// id is taken.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs ...*keyward.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox_messages (id, account_id, topic,
			destination, order_key, payload, sealed, created_at, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: enqueue outbox: %w", err)
		}
		defer stmt.Close()
		for _, m := range msgs {
			due := m.NextAttemptAt
			if due.IsZero() {
				due = m.CreatedAt
			}
			_, err := stmt.ExecContext(ctx, m.ID, m.AccountID, m.Topic, m.Destination, m.OrderKey,
				storecodec.Payload(m.Payload), storecodec.Sealed(m.Sealed), micros(m.CreatedAt), micros(due))
			if err != nil {
				return insertError(err, "outbox message", m.ID, "outbox_messages.id", fmt.Sprintf("outbox message %s already exists", m.ID))
			}
		}
		return nil
	})
}

// ClaimOutbox leases to owner, until now+lease, up to limit pending messages that are due at
// now and whose lease, if any, has run out by now (a live lease keeps a message from its own
// holder too), each the oldest pending message (by id) of its destination and order key, and
// returns them oldest first with Attempts counting this claim. Claims take turns on the one
// write connection, so no two get one message. Errors: EValidation for an empty owner or a
// lease that is not positive.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*keyward.OutboxMessage, error) {
	if err := keyward.ValidateOutboxClaim(owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	msgs, err := query(ctx, s.writer(), scanOutboxMessage, "claim outbox",
		`UPDATE outbox_messages SET attempts = attempts + 1, lease_owner = ?, lease_until = ?
		WHERE id IN (
			SELECT m.id FROM outbox_messages m
			WHERE m.delivered_at IS NULL AND m.abandoned_at IS NULL
				AND m.next_attempt_at <= ?
				AND (m.lease_until IS NULL OR m.lease_until <= ?)
				AND (m.order_key = '' OR NOT EXISTS (
					SELECT 1 FROM outbox_messages
					WHERE destination = m.destination AND order_key = m.order_key AND id < m.id
						AND `+outboxPending+`))
			ORDER BY m.id LIMIT ?)
		RETURNING `+outboxColumns,
		owner, micros(now.Add(lease)), micros(now), micros(now), limit)
	if err != nil {
		return nil, err
	}
	// RETURNING gives rows in no promised order.
	slices.SortFunc(msgs, func(x, y *keyward.OutboxMessage) int { return strings.Compare(x.ID, y.ID) })
	return msgs, nil
}

// FinishOutbox records attempt a of a message that owner holds and moves the message on as
// out says, releasing the lease, in one transaction: delivered at a.At, abandoned at a.At, or
// due again at out.RetryAt. A delivered or abandoned message loses its sealed material. The
// lease need not be live: a holder whose lease ran out finishes the message as long as no one
// else has claimed it since. Errors: EConflict if owner does not hold the message, or its
// attempt a.Attempt is recorded already; ENotFound if there is no such message; EValidation
// for an outcome both delivered and abandoned, or a retry without a time.
func (s *Store) FinishOutbox(ctx context.Context, owner string, a *keyward.OutboxAttempt, out keyward.OutboxOutcome) error {
	if err := out.Validate(); err != nil {
		return err
	}
	var (
		set  string
		args []any
	)
	switch {
	case out.Delivered:
		set, args = `delivered_at = ?, sealed = NULL, last_error = ''`, []any{micros(a.At)}
	case out.Abandon:
		set, args = `abandoned_at = ?, sealed = NULL, last_error = ?`, []any{micros(a.At), a.Error}
	default:
		set, args = `next_attempt_at = ?, last_error = ?`, []any{micros(out.RetryAt), a.Error}
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox_messages SET `+set+`, lease_owner = NULL, lease_until = NULL
			WHERE id = ? AND lease_owner = ?`, append(args, a.MessageID, owner)...)
		if err != nil {
			return fmt.Errorf("sqlite: finish outbox message %s: %w", a.MessageID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: finish outbox message %s: %w", a.MessageID, err)
		} else if n == 0 {
			found, err := exists(ctx, tx, `SELECT 1 FROM outbox_messages WHERE id = ?`, a.MessageID)
			if err != nil {
				return err
			}
			if !found {
				return notFound("outbox message", a.MessageID)
			}
			return keyward.OutboxNotHeld(a.MessageID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox_attempts (message_id, attempt, at, duration_us, status_code, error)
			VALUES (?, ?, ?, ?, ?, ?)`,
			a.MessageID, a.Attempt, micros(a.At), a.Duration.Microseconds(), a.StatusCode, a.Error)
		if err != nil {
			return insertError(err, "outbox attempt", a.MessageID, "outbox_attempts.attempt",
				fmt.Sprintf("attempt %d at outbox message %s is recorded already", a.Attempt, a.MessageID))
		}
		return nil
	})
}

// OutboxMessage returns one of the account's messages. Errors: ENotFound, also for another
// account's.
func (s *Store) OutboxMessage(ctx context.Context, accountID, id string) (*keyward.OutboxMessage, error) {
	m, err := scanOutboxMessage(s.reader().QueryRowContext(ctx,
		`SELECT `+outboxColumns+` FROM outbox_messages WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("outbox message", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: outbox message %s: %w", id, err)
	}
	return m, nil
}

// ListOutbox returns up to f.Limit of the account's messages matching f, newest (highest id)
// first.
func (s *Store) ListOutbox(ctx context.Context, f keyward.OutboxFilter) ([]*keyward.OutboxMessage, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + outboxColumns + ` FROM outbox_messages WHERE account_id = ?`)
	args := []any{f.AccountID}
	for _, c := range []struct{ cond, value string }{
		{` AND id < ?`, f.Before},
		{` AND destination = ?`, f.Destination},
		{` AND order_key = ?`, f.OrderKey},
	} {
		if c.value != "" {
			q.WriteString(c.cond)
			args = append(args, c.value)
		}
	}
	if f.Pending {
		q.WriteString(` AND ` + outboxPending)
	}
	q.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, f.Limit)
	return query(ctx, s.reader(), scanOutboxMessage, "list outbox", q.String(), args...)
}

// OutboxAttempts returns the attempts at one of the account's messages, oldest first: attempt
// numbers rise with each claim, and only the holder of a claim records an attempt. Errors:
// ENotFound, also for another account's message.
func (s *Store) OutboxAttempts(ctx context.Context, accountID, messageID string) ([]*keyward.OutboxAttempt, error) {
	var out []*keyward.OutboxAttempt
	// One snapshot: a message pruned between the two reads must not look like one without
	// attempts.
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM outbox_messages WHERE account_id = ? AND id = ?`, accountID, messageID)
		if err != nil {
			return err
		}
		if !found {
			return notFound("outbox message", messageID)
		}
		out, err = query(ctx, tx, scanOutboxAttempt, "outbox attempts",
			`SELECT message_id, attempt, at, duration_us, status_code, error FROM outbox_attempts
			WHERE message_id = ? ORDER BY attempt`, messageID)
		return err
	})
	return out, err
}

// RetryOutbox makes one of the account's messages pending again and due at at, releasing any
// lease; its attempts keep counting. A delivered or abandoned message has lost its sealed
// material and goes without. Errors: ENotFound, also for another account's.
func (s *Store) RetryOutbox(ctx context.Context, accountID, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE outbox_messages SET delivered_at = NULL,
		abandoned_at = NULL, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE account_id = ? AND id = ?`, micros(at), accountID, id)
	return affected(res, err, "retry", "outbox message", id)
}

// PruneOutbox deletes the delivered and abandoned messages created before before, in every
// account, and their attempts (by the foreign key's cascade), and returns how many messages
// went.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM outbox_messages
		WHERE created_at < ? AND (delivered_at IS NOT NULL OR abandoned_at IS NOT NULL)`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	// SQLite counts the rows the statement deleted, not those the cascade did.
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	return n, nil
}

func scanOutboxMessage(row scanner) (*keyward.OutboxMessage, error) {
	var (
		m                                  keyward.OutboxMessage
		createdAt, nextAttemptAt           int64
		leaseOwner                         sql.NullString
		leaseUntil, deliveredAt, abandoned sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.AccountID, &m.Topic, &m.Destination, &m.OrderKey, &m.Payload, &m.Sealed,
		&createdAt, &m.Attempts, &nextAttemptAt, &leaseOwner, &leaseUntil, &deliveredAt, &abandoned, &m.LastError)
	if err != nil {
		return nil, err
	}
	if m.Payload == nil {
		m.Payload = []byte{} // an empty payload is not a missing one
	}
	m.CreatedAt = fromMicros(createdAt)
	m.NextAttemptAt = fromMicros(nextAttemptAt)
	m.LeaseOwner = leaseOwner.String
	m.LeaseUntil = fromNullMicros(leaseUntil)
	m.DeliveredAt = fromNullMicros(deliveredAt)
	m.AbandonedAt = fromNullMicros(abandoned)
	return &m, nil
}

func scanOutboxAttempt(row scanner) (*keyward.OutboxAttempt, error) {
	var (
		a            keyward.OutboxAttempt
		at, duration int64
	)
	if err := row.Scan(&a.MessageID, &a.Attempt, &at, &duration, &a.StatusCode, &a.Error); err != nil {
		return nil, err
	}
	a.At = fromMicros(at)
	a.Duration = time.Duration(duration) * time.Microsecond
	return &a, nil
}
