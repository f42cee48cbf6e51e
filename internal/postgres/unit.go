package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/internal/keyward"
)

// InTx runs fn as one unit of work in a SERIALIZABLE transaction. A unit may read an object,
// decide, and write it back (a key's settings, say) while other nodes do the same: at READ
// COMMITTED the later commit would silently undo the earlier one, at SERIALIZABLE PostgreSQL
// refuses it instead (40001), or breaks a deadlock (40P01), and the unit runs again from the
// start, after a short random pause so that the racers spread out. The store's own
// row-locking transactions keep running at READ COMMITTED outside units.
func (s *Store) InTx(ctx context.Context, fn func(tx keyward.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var err error
	for attempt := 1; attempt <= keyward.MaxUnitAttempts; attempt++ {
		if err = s.unit(ctx, fn); !retryable(err) {
			return err
		}
		// Up to 1, 2, 4 … 64 ms: enough for the winner of the race to commit.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return &keyward.Error{Code: keyward.EUnavailable, Message: "the change kept colliding with concurrent changes; retry", Cause: err}
}

// unit runs fn once in a transaction of its own.
func (s *Store) unit(ctx context.Context, fn func(tx keyward.Store) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx)                     // after Commit, a no-op
	if err := fn(&Store{tx: tx}); err != nil { // no pool: every statement goes through tx
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// retryable reports whether err is a race that a unit loses by no fault of its own: run
// again, it may well succeed. The store wraps PostgreSQL's errors, in domain errors too, so
// the whole chain is searched.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == serializationFailure || pe.Code == deadlockDetected)
}
