// Package sqlite is Keyward's embedded store: one SQLite database file, written through
// modernc.org/sqlite (pure Go, no cgo), with its schema migrated by embedded goose migrations.
//
// SQLite admits one writer at a time, and a writer that finds the lock taken fails with
// SQLITE_BUSY once its busy timeout runs out. So that concurrent requests queue instead of
// failing, the store writes through a pool of exactly one connection whose transactions
// begin IMMEDIATE (taking the write lock before their first read, so they cannot be refused
// it halfway), and reads through a separate pool of read-only connections, which in WAL mode
// never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

// Store keeps Keyward's data in a SQLite database file. It is safe for concurrent use.
type Store struct {
	write *sql.DB // one connection: SQLite's single writer, queued in Go rather than in SQLite
	read  *sql.DB // read-only connections, for lookups that must not wait behind writes
	// tx is set on the Store that InTx hands to its function: every read and write of that
	// Store goes through the unit's transaction, on the write connection. A read through
	// the read pool there would not see the unit's own writes, and a write through the
	// write pool would wait forever for the connection the unit holds.
	tx *sql.Tx
	// byHash is KeyByHash's statement prepared on the read pool, so that a verification
	// cache miss does not parse and plan it again. Nil on a unit's Store, which reads
	// through tx.
	byHash *sql.Stmt
}

// dbtx is what *sql.DB and *sql.Tx both offer.
type dbtx interface {
	querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// writer is where the store writes: the unit's transaction, or the single write connection.
func (s *Store) writer() dbtx {
	if s.tx != nil {
		return s.tx
	}
	return s.write
}

// reader is where the store reads: the unit's transaction, or the read-only pool.
func (s *Store) reader() dbtx {
	if s.tx != nil {
		return s.tx
	}
	return s.read
}

// InTx runs fn as one unit of work in a transaction on the write connection: units take
// turns with each other and with every other write, and reads within one see its writes.
func (s *Store) InTx(ctx context.Context, fn func(tx keyward.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		return fn(&Store{tx: tx}) // no pools: a stray use of one fails at once instead of deadlocking
	})
}

var _ keyward.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock held by another process (such as
// `keyward migrate` run beside a server) before it gives up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens the database at path, creating the file and its directory if they do not exist,
// and brings its schema up to date. path names a file: an in-memory database will not do,
// because the store's two pools must reach the same database.
func Open(ctx context.Context, path string) (*Store, error) {
	write, err := openDB(ctx, path, false)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, write); err != nil {
		return nil, errors.Join(err, write.Close())
	}
	read, err := openDB(ctx, path, true)
	if err != nil {
		return nil, errors.Join(err, write.Close())
	}
	byHash, err := read.PrepareContext(ctx, keyByHash)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: prepare key by hash: %w", err), read.Close(), write.Close())
	}
	return &Store{write: write, read: read, byHash: byHash}, nil
}

// OpenExisting opens the Keyward database at path as Open does, but creates nothing: a missing
// file, or a database without Keyward's schema (another program's, or an empty file), is
// ENotFound rather than given a new, empty schema. An older schema is brought up to date.
// It is for reading a store that must be there already, as keyward migrate-store's source.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	if err := checkKeywardDB(ctx, path); err != nil {
		return nil, err
	}
	return Open(ctx, path)
}

// Migrate brings the schema of the database at path up to date, creating the file and its
// directory if they do not exist. Open does the same; Migrate is for running migrations
// without serving.
func Migrate(ctx context.Context, path string) error {
	db, err := openDB(ctx, path, false)
	if err != nil {
		return err
	}
	return errors.Join(migrate(ctx, db), db.Close())
}

// Close closes the database. The Store of a unit of work cannot be closed.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("sqlite: Close inside a unit of work")
	}
	return errors.Join(s.byHash.Close(), s.read.Close(), s.write.Close())
}

//go:embed migrations/*.sql
var migrations embed.FS

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := migrator(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// migrator returns the goose provider that migrates db with the embedded migrations.
func migrator(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	// The global registry holds Go migrations that other packages may register; only this
	// package's SQL files describe this schema.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

// openDB opens a pool on the database at path: the single write connection, or the read-only
// pool. It connects once so that a bad path or a failing pragma is reported here.
func openDB(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if !readOnly {
		if err := createFile(abs); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", dsn(abs, readOnly))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if readOnly {
		n := max(4, runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	} else {
		db.SetMaxOpenConns(1)
	}
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", abs, err), db.Close())
	}
	return db, nil
}

// createFile creates the database file readable by its owner only, before SQLite would create
// it with the process's default mode: it holds key hashes and callers' metadata. SQLite gives
// the -wal and -shm files the database file's mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return f.Close()
}

// dsn is the driver's name for the database at the absolute path. The pragmas travel in the
// name so that every connection the pool opens gets them, not only the first.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// Statement journals (each statement of a many-statement transaction keeps one, to undo
	// itself alone) and temporary tables live in memory rather than in temporary files:
	// they are never needed after a crash, and on disk they made every statement of a
	// usage flush write pages through pwrite (45 % of the server's CPU with 100 000 keys in
	// use, in a profile of bench/load).
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL syncs the WAL on every commit: a key reported created survives a power loss.
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	p := filepath.ToSlash(path)
	if p[0] != '/' {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	// A file: URI, escaped by net/url, keeps any '?', '#' or '%' in the path from being read
	// as the start of the parameters.
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// querier is what both *sql.DB and *sql.Tx offer for reading, so that one lookup serves a
// lone read and a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// writeTx runs fn in a transaction on the write connection and commits if fn succeeds. fn's
// error is returned as it is, so that it can carry a domain code. Inside a unit of work fn
// runs in the unit's transaction, which commits with the unit.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	return inTx(ctx, s.write, fn)
}

// readTx runs fn in a transaction on a read connection, so that the queries it makes see one
// snapshot of the database (a key and its project accesses, say) even while writes commit.
// Inside a unit of work fn reads through the unit's transaction.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	return inTx(ctx, s.read, fn)
}

func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// exists reports whether query, which selects at most one row, finds one.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var found bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (`+query+`)`, args...).Scan(&found); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return found, nil
}

// reference is a row that an insert points at, for explaining which one is missing when a
// foreign key fails: SQLite does not say which.
type reference struct {
	entity, id string
	query      string // selects the row if it exists
	args       []any
}

// missingReference returns ENotFound for the first of refs that does not exist, or nil if they
// all do.
func missingReference(ctx context.Context, q querier, refs ...reference) error {
	for _, r := range refs {
		found, err := exists(ctx, q, r.query, r.args...)
		if err != nil {
			return err
		}
		if !found {
			return notFound(r.entity, r.id)
		}
	}
	return nil
}

func accountRef(id string) reference {
	return reference{"account", id, `SELECT 1 FROM accounts WHERE id = ?`, []any{id}}
}

func projectRef(accountID, id string) reference {
	return reference{"project", id, `SELECT 1 FROM projects WHERE account_id = ? AND id = ?`, []any{accountID, id}}
}

func userRef(accountID, id string) reference {
	return reference{"user", id, `SELECT 1 FROM users WHERE account_id = ? AND id = ?`, []any{accountID, id}}
}

func keyRef(accountID, id string) reference {
	return reference{"key", id, `SELECT 1 FROM api_keys WHERE account_id = ? AND id = ?`, []any{accountID, id}}
}

// isConstraint reports whether err is the failure of a constraint of the kind, one of
// sqlite3.SQLITE_CONSTRAINT_*.
func isConstraint(err error, code int) bool { return hasCode(err, code) }

// hasCode reports whether err is SQLite's error of the code, one of sqlite3.SQLITE_*.
func hasCode(err error, code int) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code() == code
}

// insertError explains a failed insert of the named entity: EConflict with the message taken
// when the unique column (named as SQLite names it, "table.column") is already in use, or
// with one naming the id when the id is; otherwise an internal error.
func insertError(err error, entity, id, column, taken string) error {
	var e *modernc.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			// The code alone cannot tell which constraint failed: a duplicate id may be
			// caught by a composite UNIQUE that contains the id before the primary key. The
			// message lists the constraint's columns.
			msg := fmt.Sprintf("%s %s already exists", entity, id)
			if strings.Contains(e.Error(), column) {
				msg = taken
			}
			return &keyward.Error{Code: keyward.EConflict, Message: msg, Cause: err}
		}
	}
	return fmt.Errorf("sqlite: insert %s %s: %w", entity, id, err)
}

// affected explains the outcome of an UPDATE or DELETE (op) of one row by id: ENotFound if it
// changed nothing, which is also what a row of another account comes to.
func affected(res sql.Result, err error, op, entity, id string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s %s %s: %w", op, entity, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s %s %s: %w", op, entity, id, err)
	}
	if n == 0 {
		return notFound(entity, id)
	}
	return nil
}

// notFound is the error for a missing row, and for another account's, which callers must
// not be able to tell apart.
func notFound(entity, id string) error {
	return keyward.Errorf(keyward.ENotFound, "%s %s not found", entity, id)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := fromMicros(us.Int64)
	return &t
}

// nullString stores an unset optional reference as NULL, so that foreign keys skip it.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns n comma-separated parameters, for an INSERT of n columns.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// query runs a query and scans every row it returns; no rows give a nil slice.
func query[T any](ctx context.Context, q querier, scan func(scanner) (T, error), what, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}
