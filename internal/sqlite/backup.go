package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

// BackupReport is what a check of a backup copy found in it.
type BackupReport struct {
	Bytes     int64 // the copy's size
	APIKeys   int   // API keys in it, revoked ones included
	AdminKeys int
	// HashSchemes are the distinct hash_scheme values of its API and admin keys, such as
	// "hmac-sha256:1": the server secret versions a restore needs.
	HashSchemes []string
}

// Backup copies the database at dbPath to a new file dest while servers may be writing to
// it: VACUUM INTO on a connection of its own reads one snapshot of the database (the WAL
// included, which a file copy would miss), so the copy is consistent, and no writer waits
// for it. The copy is written beside dest under a temporary name, checked (PRAGMA
// integrity_check and Keyward's schema), synced, and only then given dest's name, so that
// dest is either a whole, checked backup or absent. dest must not exist; the copy is mode
// 0600, since it holds key hashes and callers' metadata.
func Backup(ctx context.Context, dbPath, dest string) (BackupReport, error) {
	var rep BackupReport
	if err := checkKeywardDB(ctx, dbPath); err != nil {
		return rep, err
	}
	if _, err := os.Lstat(dest); err == nil {
		return rep, fmt.Errorf("sqlite: backup: %s exists; a backup never overwrites a file", dest)
	}
	tmp, err := tempBeside(dest)
	if err != nil {
		return rep, err
	}
	defer os.Remove(tmp) // after the rename, a no-op

	db, err := sql.Open("sqlite", backupDSN(dbPath, "rw", busyTimeout))
	if err != nil {
		return rep, fmt.Errorf("sqlite: backup: %w", err)
	}
	db.SetMaxOpenConns(1)
	// VACUUM INTO writes into an empty file, so the one made 0600 above keeps its mode.
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	if err = errors.Join(err, db.Close()); err != nil {
		return rep, fmt.Errorf("sqlite: backup of %s: %w", dbPath, err)
	}
	if rep, err = CheckBackup(ctx, tmp); err != nil {
		return rep, err
	}
	if err := syncFile(tmp); err != nil {
		return rep, err
	}
	// A link, unlike a rename, fails if dest appeared meanwhile instead of replacing it.
	if err := os.Link(tmp, dest); err != nil {
		return rep, fmt.Errorf("sqlite: backup: %w", err)
	}
	return rep, syncDir(filepath.Dir(dest))
}

// CheckBackup checks that the file at path is a whole Keyward database (PRAGMA
// integrity_check answers ok, and it has Keyward's schema) and reports what it holds. It
// opens the file read-only and changes nothing.
func CheckBackup(ctx context.Context, path string) (BackupReport, error) {
	var rep BackupReport
	info, err := os.Stat(path)
	if err != nil {
		return rep, fmt.Errorf("sqlite: %w", err)
	}
	rep.Bytes = info.Size()
	if err := checkKeywardDB(ctx, path); err != nil {
		return rep, err
	}
	db, err := sql.Open("sqlite", backupDSN(path, "ro", busyTimeout))
	if err != nil {
		return rep, fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return rep, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return rep, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
		}
		problems = append(problems, line)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return rep, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return rep, fmt.Errorf("sqlite: %s fails the integrity check: %s", path, strings.Join(problems, "; "))
	}
	err = db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM api_keys), (SELECT count(*) FROM admin_keys)`).
		Scan(&rep.APIKeys, &rep.AdminKeys)
	if err != nil {
		return rep, fmt.Errorf("sqlite: reading %s: %w", path, err)
	}
	schemes, err := db.QueryContext(ctx, `SELECT hash_scheme FROM api_keys UNION SELECT hash_scheme FROM admin_keys`)
	if err != nil {
		return rep, fmt.Errorf("sqlite: reading %s: %w", path, err)
	}
	defer schemes.Close()
	for schemes.Next() {
		var s string
		if err := schemes.Scan(&s); err != nil {
			return rep, fmt.Errorf("sqlite: reading %s: %w", path, err)
		}
		rep.HashSchemes = append(rep.HashSchemes, s)
	}
	slices.Sort(rep.HashSchemes)
	return rep, schemes.Err()
}

// Restore makes the backup at src the database at dbPath: it checks src (CheckBackup),
// copies it beside dbPath under a temporary name, checks and syncs the copy, and renames it
// into place. Whatever database files were at dbPath (the database, its -wal and -shm) are
// renamed aside with the suffix aside (".replaced-TIME", say) and kept as a set, so that a
// wrong restore can be undone; the caller must make sure no process has that database open
// (InUse).
func Restore(ctx context.Context, src, dbPath, aside string) (BackupReport, error) {
	rep, err := CheckBackup(ctx, src)
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return rep, fmt.Errorf("sqlite: %w", err)
	}
	tmp, err := tempBeside(dbPath)
	if err != nil {
		return rep, err
	}
	defer os.Remove(tmp)
	if err := copyInto(tmp, src); err != nil {
		return rep, err
	}
	if rep, err = CheckBackup(ctx, tmp); err != nil {
		return rep, err
	}
	// The old database goes aside as a set: SQLite finds a WAL by the database's name plus
	// "-wal", so the renamed three still open together. A WAL left beside the restored file
	// would be replayed into it.
	for _, ext := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(dbPath+ext, dbPath+aside+ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("sqlite: moving the old database aside: %w", err)
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return rep, fmt.Errorf("sqlite: %w", err)
	}
	return rep, syncDir(filepath.Dir(dbPath))
}

// InUse reports whether a process (a running server, say) has the database at dbPath open.
// A connection in WAL mode holds a shared lock on the database for as long as it is open, so
// an exclusive lock, asked for without waiting, is refused exactly while another has it open.
// A missing file is not in use.
func InUse(ctx context.Context, dbPath string) (bool, error) {
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	db, err := sql.Open("sqlite", backupDSN(dbPath, "rw", 0)+"&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		if isBusy(err) {
			return true, nil
		}
		return false, fmt.Errorf("sqlite: %w", err)
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE`)
	if isBusy(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: checking whether %s is in use: %w", dbPath, err)
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	return false, err
}

// isBusy reports whether err is SQLITE_BUSY, or one of its extended codes.
func isBusy(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// checkKeywardDB reports ENotFound unless path is a SQLite database with Keyward's schema.
// Its connection is read-only and, unlike the store's write connection, neither creates the
// file nor sets its journal mode: a file that turns out not to be Keyward's is left as it was.
func checkKeywardDB(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return keyward.Errorf(keyward.ENotFound, "sqlite: no database file at %s", path)
	} else if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", backupDSN(path, "ro", busyTimeout))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var found bool
	err = db.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accounts')`).Scan(&found)
	err = errors.Join(err, db.Close())
	if hasCode(err, sqlite3.SQLITE_NOTADB) {
		return &keyward.Error{Code: keyward.ENotFound, Message: fmt.Sprintf("sqlite: %s is not a SQLite database", path), Cause: err}
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if !found {
		return keyward.Errorf(keyward.ENotFound, "sqlite: %s has no Keyward schema", path)
	}
	return nil
}

// backupDSN names the database at path for a connection of the backup's own, opened in mode
// "ro" or "rw" (which, unlike the store's "rwc", never creates the file), waiting up to busy
// for a lock.
func backupDSN(path, mode string, busy time.Duration) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	q := url.Values{}
	q.Set("mode", mode)
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// tempBeside creates an empty file, mode 0600, in path's directory under a name of its own,
// and returns its name.
func tempBeside(path string) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	return tmp, f.Close()
}

// copyInto copies the file src into the existing file dst and syncs it.
func copyInto(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("sqlite: copying %s: %w", src, err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sqlite: sync %s: %w", path, err)
	}
	return nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sqlite: sync %s: %w", dir, err)
	}
	return nil
}
