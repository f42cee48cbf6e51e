// Package postgres is Keyward's scale-out store: one PostgreSQL database shared by any number
// of Keyward nodes, reached through a pgx connection pool, with its schema migrated by
// embedded goose migrations.
//
// Unlike SQLite, PostgreSQL lets writers run side by side, so the promises that the SQLite
// store keeps by having one writer are kept here by row locks, in transactions that always
// run at READ COMMITTED whatever the server's default (so that a statement that waited for a
// lock sees what the holder committed, rather than failing with a serialization error):
//   - RotateKey locks the old key's row before it looks at it, so of two rotations of one key
//     the second waits for the first and then finds the key replaced.
//   - DeleteRole locks the role's row before it looks for holders, and every write that gives a
//     user, key or membership a custom role takes a share lock on that role's row first (as a
//     foreign key would, had built-in roles rows to point at), so no holder can appear between
//     the check and the delete.
//   - TouchKeys locks the keys it raises in id order, so that two nodes flushing overlapping
//     batches cannot deadlock; AddUsage writes its counts in key order for the same reason.
//   - SpendCredits locks the lineage's credits before it reads them, so concurrent spends take
//     turns and no two see the same credits.
//   - DecideTierRequest updates the request only while it is pending: of two decisions, the
//     second waits for the first's row lock and then finds it decided.
//   - ClaimOutbox locks the messages it claims FOR UPDATE SKIP LOCKED, so that concurrent
//     claims pass over each other's rows instead of waiting for them, and rechecks a row that
//     another claim leased meanwhile; FinishOutbox updates a message only while its owner holds
//     it, so a holder whose lease was taken over finds it held by the other.
//
// A constraint violation becomes a domain error by the constraint's name (see
// migrations/00001_init.sql): unique violations are EConflict, foreign key violations
// ENotFound.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keyward/keyward/internal/keyward"
)

// Store keeps Keyward's data in a PostgreSQL database. It is safe for concurrent use, and
// several Stores, in one process or many, may share a database.
type Store struct {
	pool *pgxpool.Pool
	// tx is set on the Store that InTx hands to its function: every statement of that
	// Store runs in the unit's transaction.
	tx pgx.Tx
}

// dbtx is what the pool and a transaction both offer.
type dbtx interface {
	querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// db is where the store's statements run: the unit's transaction, or the pool.
func (s *Store) db() dbtx {
	if s.tx != nil {
		return s.tx
	}
	return s.pool
}

var _ keyward.Store = (*Store)(nil)

// Open connects to the database that dsn names (a postgres:// URL or key=value settings, as
// libpq takes them, with pgxpool's pool_* settings) and brings its schema up to date. ctx
// bounds the connecting and the migrating, not the Store's life.
func Open(ctx context.Context, dsn string) (*Store, error) {
	pool, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// OpenExisting opens the Keyward database that dsn names as Open does, but creates no schema:
// a database without Keyward's tables (a mistyped database name, say, that names another) is
// ENotFound rather than given a new, empty schema. An older schema is brought up to date. It
// is for reading a store that must be there already, as keyward migrate-store's source.
func OpenExisting(ctx context.Context, dsn string) (*Store, error) {
	pool, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	// to_regclass finds the table as the store's statements would, through the search path.
	var found bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('accounts') IS NOT NULL`).Scan(&found); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: looking for Keyward's schema: %w", err)
	}
	if !found {
		database := pool.Config().ConnConfig.Database
		pool.Close()
		return nil, keyward.Errorf(keyward.ENotFound, "postgres: database %s has no Keyward schema", database)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Migrate brings the schema of the database that dsn names up to date. Open does the same;
// Migrate is for running migrations without serving. Nodes that migrate one database at the
// same time take turns: the second finds nothing left to do.
func Migrate(ctx context.Context, dsn string) error {
	pool, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrate(ctx, pool)
}

// Close waits for the queries in progress and closes every connection. The Store of a unit
// of work cannot be closed.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("postgres: Close inside a unit of work")
	}
	s.pool.Close()
	return nil
}

// Ping checks that the database answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// connectTimeout bounds a connection attempt when the DSN sets no connect_timeout.
const poolConnectTimeout = 5 * time.Second

// connect opens a pool and makes one connection, so that a wrong address, a refused login or
// a missing database is reported by Open rather than by the first request.
func connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// So that an operator can tell Keyward's sessions apart in pg_stat_activity.
		cfg.ConnConfig.RuntimeParams["application_name"] = "keyward"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without one, a database behind a dropped network holds each request that needs a
		// new connection until its caller gives up; with one it is a prompt 503.
		cfg.ConnConfig.ConnectTimeout = poolConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID names the advisory lock that serializes migrations of one database by
// several nodes. It is goose's default id written out, so that a goose upgrade cannot change
// it while nodes of two Keyward versions start side by side.
const migrationLockID int64 = 4097083626

// migrate applies the embedded migrations through a database/sql handle on the pool, which
// goose needs; the store itself uses the pool directly.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close() // releases the handle, not the pool
	p, err := migrator(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// migrator returns the goose provider that migrates db with the embedded migrations.
func migrator(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	// A session-level advisory lock, tried every second for up to five minutes: nodes started
	// together must not apply the same migration twice.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	// The global registry holds Go migrations that other packages may register; only this
	// package's SQL files describe this schema.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, nil
}

// querier is what both the pool and a transaction offer for reading, so that one lookup
// serves a lone read and a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// query runs a query and scans every row it returns; no rows give a nil slice, as from the
// other stores.
func query[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), what, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// inTx runs fn in a READ COMMITTED transaction and commits if fn succeeds. fn's error is
// returned as it is, so that it can carry a domain code; a failed commit is returned as
// PostgreSQL reported it, because a deferred constraint fails only then and only the caller
// knows what it means.
// Inside a unit of work fn runs in the unit's transaction, which commits with the unit.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// step is one statement of a write, with what its failure means.
type step struct {
	sql  string
	args []any
	// explain turns the statement's failure into the error to return.
	explain func(err error) error
	// affected, when set, judges how many rows the statement changed.
	affected func(n int64) error
}

// runSteps sends the steps in one round trip and reads their outcomes in order, returning
// the first failure as its step explains it. In a transaction a failure aborts the rest; the
// caller's rollback undoes what came before.
func runSteps(ctx context.Context, tx pgx.Tx, steps ...step) error {
	b := &pgx.Batch{}
	for _, st := range steps {
		b.Queue(st.sql, st.args...)
	}
	br := tx.SendBatch(ctx, b)
	for _, st := range steps {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return st.explain(err)
		}
		if st.affected != nil {
			if err := st.affected(tag.RowsAffected()); err != nil {
				br.Close()
				return err
			}
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// lockRoles returns the step that takes a share lock on the rows of the custom roles among
// ids, or none if there are none. DeleteRole locks a role's row exclusively before it looks
// for holders, so with this lock held until the write commits, it cannot miss the holder
// being written. A role id that matches no row (a built-in role, or a role deleted already)
// is not an error: the store does not check that roles exist, as the SQLite store does not.
func lockRoles(ids ...string) []step {
	var custom []string
	for _, id := range ids {
		if id != "" && keyward.BuiltInRole(id) == nil {
			custom = append(custom, id)
		}
	}
	if len(custom) == 0 {
		return nil
	}
	return []step{{
		sql:     `SELECT 1 FROM roles WHERE id = ANY($1::text[]) FOR KEY SHARE`,
		args:    []any{custom},
		explain: func(err error) error { return fmt.Errorf("postgres: lock roles: %w", err) },
	}}
}

// SQLSTATE codes the store tells apart.
const (
	uniqueViolation       = "23505"
	foreignKeyViolation   = "23503"
	checkViolation        = "23514"
	serializationFailure  = "40001"
	deadlockDetected      = "40P01"
	untranslatableChar    = "22P05" // \u0000 in jsonb
	characterNotInCharset = "22021" // a NUL byte or invalid UTF-8 in text
)

// violations maps the names of the constraints a write may break to the domain errors that
// explain each to the caller.
type violations map[string]*keyward.Error

// writeError explains err, the failure of a write of what ("key <id>"): a domain error is
// returned as it is; a constraint named in known becomes its error; any other unique or
// foreign key violation becomes a generic EConflict or ENotFound, a check violation or text
// PostgreSQL cannot store EValidation; anything else is internal.
func writeError(err error, what string, known violations) error {
	if err == nil {
		return nil
	}
	var de *keyward.Error
	if errors.As(err, &de) {
		return err
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("postgres: write %s: %w", what, err)
	}
	if e, ok := known[pe.ConstraintName]; ok && pe.ConstraintName != "" {
		return &keyward.Error{Code: e.Code, Message: e.Message, Cause: err}
	}
	switch pe.Code {
	case uniqueViolation:
		return &keyward.Error{Code: keyward.EConflict, Message: what + " already exists", Cause: err}
	case foreignKeyViolation:
		return &keyward.Error{Code: keyward.ENotFound, Message: what + " refers to something that does not exist", Cause: err}
	case checkViolation:
		return &keyward.Error{Code: keyward.EValidation, Message: what + " breaks the rule " + pe.ConstraintName, Cause: err}
	case untranslatableChar, characterNotInCharset:
		return &keyward.Error{Code: keyward.EValidation, Message: what + " holds text that cannot be stored: a NUL character or invalid UTF-8", Cause: err}
	}
	return fmt.Errorf("postgres: write %s: %w", what, err)
}

// conflict is the error for a violated uniqueness.
func conflict(format string, args ...any) *keyward.Error {
	return keyward.Errorf(keyward.EConflict, format, args...)
}

// notFound is the error for a missing row, and for another account's, which callers must
// not be able to tell apart.
func notFound(entity, id string) *keyward.Error {
	return keyward.Errorf(keyward.ENotFound, "%s %s not found", entity, id)
}

// affectedOne returns the judgement of an UPDATE or DELETE of one row by id: ENotFound if it
// changed nothing, which is also what a row of another account comes to.
func affectedOne(entity, id string) func(n int64) error {
	return func(n int64) error {
		if n == 0 {
			return notFound(entity, id)
		}
		return nil
	}
}

// execOne runs an UPDATE or DELETE of one row by id outside a transaction and explains its
// outcome: ENotFound if it changed nothing.
func (s *Store) execOne(ctx context.Context, entity, id string, known violations, sql string, args ...any) error {
	tag, err := s.db().Exec(ctx, sql, args...)
	if err != nil {
		return writeError(err, entity+" "+id, known)
	}
	return affectedOne(entity, id)(tag.RowsAffected())
}

// ts prepares a time for a timestamptz column. PostgreSQL would round a time to the nearest
// microsecond; truncating first keeps what the SQLite store keeps (Unix microseconds), so
// that a time reads back the same from either.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// nullTS is ts for an optional time: NULL when unset.
func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// utc returns a time read from the database in UTC, as the store interface promises: pgx
// reads timestamptz in the local time zone.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString stores an unset optional reference as NULL, so that foreign keys skip it.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// str reads an optional text column: "" for NULL.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// placeholders returns n comma-separated parameters numbered from first, for an INSERT of n
// columns.
func placeholders(first, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(ps, ", ")
}
