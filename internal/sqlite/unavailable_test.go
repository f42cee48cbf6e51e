package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
)

// A write to a database that cannot take it is an outage; a constraint the write breaks is
// not. Both are SQLite's own errors, made by a real database file.
func TestUnavailable(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, duplicate := db.Exec(`INSERT INTO t VALUES (1)`)
	if _, err := db.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	_, readOnly := db.Exec(`INSERT INTO t VALUES (2)`)

	wrapped := fmt.Errorf("sqlite: insert: %w", readOnly)
	if readOnly == nil || !sqlite.Unavailable(wrapped) || keyward.ErrorCode(wrapped) != keyward.EUnavailable {
		t.Errorf("a write to a read-only database (%v): not an outage", readOnly)
	}
	if duplicate == nil || sqlite.Unavailable(duplicate) || keyward.ErrorCode(duplicate) == keyward.EUnavailable {
		t.Errorf("a duplicate key (%v): taken for an outage", duplicate)
	}
	if sqlite.Unavailable(nil) {
		t.Error("nil taken for an outage")
	}
}
