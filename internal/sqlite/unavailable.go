package sqlite

import (
	"errors"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

// A database file that cannot take a write (its disk full, the file or its directory made
// read-only, the disk failing) is an outage, answered 503 with Retry-After, not 500: the
// request was fine and will succeed once the operator frees the disk. The domain asks this
// file which of SQLite's errors say so (see keyward.RegisterOutage).
func init() { keyward.RegisterOutage(Unavailable) }

// Unavailable reports whether err is SQLite refusing for the state of the file rather than for
// what was asked: SQLITE_FULL (disk full, or the file at its size limit), any SQLITE_IOERR,
// SQLITE_READONLY (the file, its journal or its directory not writable), SQLITE_CANTOPEN, SQLITE_PROTOCOL (the WAL's locks in disarray),
// SQLITE_NOTADB's cousin SQLITE_PROTOCOL (the WAL's locks in disarray), and SQLITE_BUSY or
// SQLITE_LOCKED (another process, such as a long `keyward backup`, held the lock for longer
// than the busy timeout). Extended codes count by their primary code.
func Unavailable(err error) bool {
	var e *modernc.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
