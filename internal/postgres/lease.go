package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lease is a leader lease among the nodes that share a database: a PostgreSQL session-level
// advisory lock, held on a connection of the Lease's own, so that of all the nodes one at a
// time runs the work that only one may (pruning, scheduled rotations). The lock lasts as long
// as the session: Release gives it up, and so does the session's end (the node dies, the
// network drops the connection, an operator ends the session), after which another node's
// Acquire takes it.
//
// The connection is not a pool's: a pool would hand it to other work, and a lock held on it
// would go wherever the connection went. For the same reason the database must be reached
// directly, or through a pooler in session mode: in transaction mode (PgBouncer's default)
// each statement may run on a different server session.
//
// A node learns that it lost the lease only on its next Acquire, so "held" means held as of
// the last call: the holder calls Acquire before each piece of work it does as leader.
//
// A Lease is for one goroutine: it is not safe for concurrent use.
type Lease struct {
	dsn string
	key int64
	// conn is the session the lock is held on: nil before the first Acquire, and after a
	// failure or Release.
	conn *pgx.Conn
	// held reports whether conn's session holds the lock.
	held bool
}

// NewLease returns a lease on the advisory lock key in the database dsn names (as Open takes
// it; pool settings are ignored). It does not connect: Acquire does. Every node must use the
// same key for the same work, and no other key that shares the database: the store's
// migrations lock 4097083626.
func NewLease(dsn string, key int64) *Lease {
	return &Lease{dsn: dsn, key: key}
}

// Acquire tries to hold the lease and reports whether this process holds it now, connecting
// first if it has no connection. It never waits for the lease: if another session holds it,
// it reports false.
//
// If it held the lease before, it only checks that the connection still answers: the lock
// lives as long as the session. A connection that does not answer has lost the lock (or will,
// once the server notices), so Acquire reports false with the error, and connects afresh on
// the next call. Any error comes with false: the lease is not held.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	if l.held {
		if err := l.conn.Ping(ctx); err != nil {
			l.drop(ctx)
			return false, fmt.Errorf("postgres: lease %d lost: %w", l.key, err)
		}
		return true, nil
	}
	if l.conn == nil {
		c, err := l.connect(ctx)
		if err != nil {
			return false, err
		}
		l.conn = c
	}
	// Tried only while not held: a session-level advisory lock counts how often it was taken,
	// and Release unlocks once.
	var ok bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		l.drop(ctx)
		return false, fmt.Errorf("postgres: lease %d: %w", l.key, err)
	}
	l.held = ok
	return ok, nil
}

// Release gives the lease up and closes the connection; a later Acquire connects again.
// Unlocking first, rather than only closing, frees the lock before Release returns: the
// server would free it only once it noticed the session was gone. The connection is closed
// even when the unlock fails, which gives the lock up as well.
func (l *Lease) Release(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	var err error
	if l.held {
		var unlocked bool
		err = l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked)
	}
	l.drop(ctx)
	if err != nil {
		return fmt.Errorf("postgres: lease %d: release: %w", l.key, err)
	}
	return nil
}

// connect opens the lease's own connection, with pgxpool's reading of dsn so that a DSN
// with pool_* settings, as the store takes, serves here too.
func (l *Lease) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(l.dsn)
	if err != nil {
		// The error may quote the DSN, password included.
		return nil, errors.New("postgres: lease: the connection string cannot be parsed")
	}
	cc := cfg.ConnConfig
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		// So that an operator can tell the leader's session in pg_stat_activity.
		cc.RuntimeParams["application_name"] = "keyward lease"
	}
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("postgres: lease %d: connect to %s/%s: %w", l.key, cc.Host, cc.Database, err)
	}
	return c, nil
}

// drop closes the connection, ending the session and with it any lock it held.
func (l *Lease) drop(ctx context.Context) {
	l.conn.Close(ctx) // closes the socket whatever it returns
	l.conn, l.held = nil, false
}
