package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const outboxColumns = `id, account_id, topic, destination, order_key, payload, sealed, created_at,
	attempts, next_attempt_at, lease_owner, lease_until, delivered_at, abandoned_at, last_error`

// outboxPending is the condition a pending message meets, as the partial indexes of
// 00004_outbox.sql state it.
const outboxPending = `delivered_at IS NULL AND abandoned_at IS NULL`

// EnqueueOutbox inserts msgs in one transaction (one round trip), each pending and due at its
// NextAttemptAt, or at its CreatedAt when that is zero. The rest of a message's delivery state
// is the store's: a message starts with no attempts, no lease and no error. Errors: EConflict
// if an id is taken.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs ...*keyward.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	steps := make([]step, 0, len(msgs))
	for _, m := range msgs {
		due := m.NextAttemptAt
		if due.IsZero() {
			due = m.CreatedAt
		}
		what := "outbox message " + m.ID
		steps = append(steps, step{
			sql: `INSERT INTO outbox_messages (id, account_id, topic, destination, order_key, payload,
				sealed, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			args: []any{m.ID, m.AccountID, m.Topic, m.Destination, m.OrderKey, storecodec.Payload(m.Payload),
				storecodec.Sealed(m.Sealed), ts(m.CreatedAt), ts(due)},
			explain: func(err error) error { return writeError(err, what, nil) },
		})
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return runSteps(ctx, tx, steps...) })
}

// ClaimOutbox leases to owner, until now+lease, up to limit pending messages that are due at
// now and whose lease, if any, has run out by now (a live lease keeps a message from its own
// holder too), each the oldest pending message (by id) of its destination and order key, and
// returns them oldest first with Attempts counting this claim. Errors: EValidation for an
// empty owner or a lease that is not positive.
//
// The claimable rows are locked FOR UPDATE SKIP LOCKED: a claim passes over the rows that
// another claim (or a FinishOutbox, or a RetryOutbox) holds instead of waiting for them, so
// concurrent claimers neither block each other nor get one message twice. A row that another
// claim leased and committed after this statement began is locked and then checked again
// as it now is (READ COMMITTED), and its live lease rules it out.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*keyward.OutboxMessage, error) {
	if err := keyward.ValidateOutboxClaim(owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	msgs, err := query(ctx, s.db(), scanOutboxMessage, "claim outbox", `
		WITH claimable AS (
			SELECT m.id FROM outbox_messages m
			WHERE m.delivered_at IS NULL AND m.abandoned_at IS NULL
				AND m.next_attempt_at <= $1
				AND (m.lease_until IS NULL OR m.lease_until <= $1)
				AND (m.order_key = '' OR NOT EXISTS (
					SELECT 1 FROM outbox_messages
					WHERE destination = m.destination AND order_key = m.order_key AND id < m.id
						AND `+outboxPending+`))
			ORDER BY m.id
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox_messages SET attempts = attempts + 1, lease_owner = $3, lease_until = $4
		WHERE id IN (SELECT id FROM claimable)
		RETURNING `+outboxColumns,
		ts(now), limit, owner, ts(now.Add(lease)))
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
//
// The update names the owner in its condition: if a claim by another owner is leasing the
// row meanwhile, the update waits for it, finds the row leased to someone else, and changes
// nothing.
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
		set, args = `delivered_at = $3, sealed = NULL, last_error = ''`, []any{ts(a.At)}
	case out.Abandon:
		set, args = `abandoned_at = $3, sealed = NULL, last_error = $4`, []any{ts(a.At), a.Error}
	default:
		set, args = `next_attempt_at = $3, last_error = $4`, []any{ts(out.RetryAt), a.Error}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox_messages SET `+set+`, lease_owner = NULL, lease_until = NULL
			WHERE id = $1 AND lease_owner = $2`, append([]any{a.MessageID, owner}, args...)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var found bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE id = $1)`, a.MessageID).Scan(&found)
			switch {
			case err != nil:
				return err
			case !found:
				return notFound("outbox message", a.MessageID)
			}
			return keyward.OutboxNotHeld(a.MessageID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO outbox_attempts (message_id, attempt, at, duration_us, status_code, error)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			a.MessageID, a.Attempt, ts(a.At), a.Duration.Microseconds(), a.StatusCode, a.Error)
		return err
	})
	return writeError(err, "outbox message "+a.MessageID, violations{
		"outbox_attempts_pkey": conflict("attempt %d at outbox message %s is recorded already", a.Attempt, a.MessageID),
	})
}

// OutboxMessage returns one of the account's messages. Errors: ENotFound, also for another
// account's.
func (s *Store) OutboxMessage(ctx context.Context, accountID, id string) (*keyward.OutboxMessage, error) {
	m, err := scanOutboxMessage(s.db().QueryRow(ctx,
		`SELECT `+outboxColumns+` FROM outbox_messages WHERE account_id = $1 AND id = $2`, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("outbox message", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: outbox message %s: %w", id, err)
	}
	return m, nil
}

// ListOutbox returns up to f.Limit of the account's messages matching f, newest (highest id)
// first.
func (s *Store) ListOutbox(ctx context.Context, f keyward.OutboxFilter) ([]*keyward.OutboxMessage, error) {
	if f.Limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + outboxColumns + ` FROM outbox_messages WHERE account_id = $1`)
	args := []any{f.AccountID}
	cond := func(c string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, c, len(args))
	}
	for _, c := range []struct{ cond, value string }{
		{` AND id < $%d`, f.Before},
		{` AND destination = $%d`, f.Destination},
		{` AND order_key = $%d`, f.OrderKey},
	} {
		if c.value != "" {
			cond(c.cond, c.value)
		}
	}
	if f.Pending {
		q.WriteString(` AND ` + outboxPending)
	}
	cond(` ORDER BY id DESC LIMIT $%d`, f.Limit)
	return query(ctx, s.db(), scanOutboxMessage, "list outbox", q.String(), args...)
}

// OutboxAttempts returns the attempts at one of the account's messages, oldest first: attempt
// numbers rise with each claim, and only the holder of a claim records an attempt. Errors:
// ENotFound, also for another account's message.
func (s *Store) OutboxAttempts(ctx context.Context, accountID, messageID string) ([]*keyward.OutboxAttempt, error) {
	// The message's row comes along with its attempts, so that one statement (one snapshot)
	// tells a message without attempts from a missing one.
	rows, err := query(ctx, s.db(), scanOutboxAttemptRow, "outbox attempts", `
		SELECT a.message_id, a.attempt, a.at, a.duration_us, a.status_code, a.error
		FROM outbox_messages m LEFT JOIN outbox_attempts a ON a.message_id = m.id
		WHERE m.account_id = $1 AND m.id = $2
		ORDER BY a.attempt`, accountID, messageID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFound("outbox message", messageID)
	}
	var out []*keyward.OutboxAttempt
	for _, a := range rows {
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// RetryOutbox makes one of the account's messages pending again and due at at, releasing any
// lease; its attempts keep counting. A delivered or abandoned message has lost its sealed
// material and goes without. Errors: ENotFound, also for another account's.
func (s *Store) RetryOutbox(ctx context.Context, accountID, id string, at time.Time) error {
	return s.execOne(ctx, "outbox message", id, nil, `UPDATE outbox_messages SET delivered_at = NULL,
		abandoned_at = NULL, next_attempt_at = $1, lease_owner = NULL, lease_until = NULL
		WHERE account_id = $2 AND id = $3`, ts(at), accountID, id)
}

// PruneOutbox deletes the delivered and abandoned messages created before before, in every
// account, and their attempts (by the foreign key's cascade), and returns how many messages
// went.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	// The command tag counts the rows the statement deleted, not those the cascade did.
	tag, err := s.db().Exec(ctx, `DELETE FROM outbox_messages
		WHERE created_at < $1 AND (delivered_at IS NOT NULL OR abandoned_at IS NOT NULL)`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune outbox: %w", err)
	}
	return tag.RowsAffected(), nil
}

func scanOutboxMessage(row pgx.Row) (*keyward.OutboxMessage, error) {
	var (
		m                                    keyward.OutboxMessage
		createdAt, nextAttemptAt             time.Time
		leaseOwner                           *string
		leaseUntil, deliveredAt, abandonedAt *time.Time
	)
	err := row.Scan(&m.ID, &m.AccountID, &m.Topic, &m.Destination, &m.OrderKey, &m.Payload, &m.Sealed,
		&createdAt, &m.Attempts, &nextAttemptAt, &leaseOwner, &leaseUntil, &deliveredAt, &abandonedAt, &m.LastError)
	if err != nil {
		return nil, err
	}
	if m.Payload == nil {
		m.Payload = []byte{} // an empty payload is not a missing one
	}
	m.CreatedAt = createdAt.UTC()
	m.NextAttemptAt = nextAttemptAt.UTC()
	m.LeaseOwner = str(leaseOwner)
	m.LeaseUntil = utc(leaseUntil)
	m.DeliveredAt = utc(deliveredAt)
	m.AbandonedAt = utc(abandonedAt)
	return &m, nil
}

// scanOutboxAttemptRow reads a row of OutboxAttempts' join: nil for the row of a message
// without attempts.
func scanOutboxAttemptRow(row pgx.Row) (*keyward.OutboxAttempt, error) {
	var (
		messageID  *string
		attempt    *int
		at         *time.Time
		duration   *int64
		statusCode *int
		errText    *string
	)
	if err := row.Scan(&messageID, &attempt, &at, &duration, &statusCode, &errText); err != nil {
		return nil, err
	}
	if messageID == nil {
		return nil, nil
	}
	return &keyward.OutboxAttempt{
		MessageID:  *messageID,
		Attempt:    *attempt,
		At:         at.UTC(),
		Duration:   time.Duration(*duration) * time.Microsecond,
		StatusCode: *statusCode,
		Error:      *errText,
	}, nil
}
