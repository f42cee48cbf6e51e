package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keyward.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "keyward.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s // Run closes it
	})
}

// open opens the store at path, closing it when the test ends.
func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "raff", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	got, err := s.Account(ctx, a.ID)
	if err != nil {
		t.Fatalf("Account after reopening: %v", err)
	}
	if d := cmp.Diff(a, got); d != "" {
		t.Errorf("Account after reopening: mismatch (-want +got):\n%s", d)
	}
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	if err := Migrate(t.Context(), path); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := Migrate(t.Context(), path); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s := open(t, path) // migrates a third time
	if _, err := s.CountAdminKeys(t.Context()); err != nil {
		t.Fatalf("CountAdminKeys: %v", err)
	}
	var versions int
	if err := s.read.QueryRowContext(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions); err != nil {
		t.Fatalf("reading the migration versions: %v", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatalf("listing the migrations: %v", err)
	}
	if want := len(files); versions != want {
		t.Errorf("applied migrations: got %d, want %d", versions, want)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested dir?#%")
	path := filepath.Join(dir, "keyward.db")
	open(t, path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got, want := info.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("database file mode: got %v, want %v", got, want)
	}
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "keyward.db"))
	tests := []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"write", s.write, "journal_mode", "wal"},
		{"write", s.write, "synchronous", "2"}, // FULL
		{"write", s.write, "foreign_keys", "1"},
		{"write", s.write, "busy_timeout", "5000"},
		{"read", s.read, "journal_mode", "wal"},
		{"read", s.read, "query_only", "1"},
		{"read", s.read, "busy_timeout", "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.pool+" "+tt.pragma, func(t *testing.T) {
			var got string
			if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s: got %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

// TestConcurrentWrites checks that writers queue rather than fail with SQLITE_BUSY.
func TestConcurrentWrites(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "keyward.db"))
	ctx := t.Context()
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", CreatedAt: time.Now().UTC()}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	const writers = 16
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			p := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: "p" + string(rune('a'+i)), KeyPrefix: "kw", CreatedAt: a.CreatedAt}
			if err := s.CreateProject(ctx, p); err != nil {
				errs <- err
				return
			}
			_, err := s.ListProjects(ctx, a.ID, "", 100)
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Errorf("concurrent write: %v", err)
		}
	}
}

// TestOpenExisting opens a Keyward database and refuses, leaving it as it was, any file that
// is not one.
func TestOpenExisting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	ours := filepath.Join(dir, "keyward.db")
	if err := Migrate(ctx, ours); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database; ", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	another := filepath.Join(dir, "another.db")
	db, err := sql.Open("sqlite", another)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE notes (body TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		name string
		path string
		want keyward.Code
	}{
		{"Keyward's", ours, ""},
		{"missing", filepath.Join(dir, "missing.db"), keyward.ENotFound},
		{"empty file", empty, keyward.ENotFound},
		{"not SQLite", text, keyward.ENotFound},
		{"another program's", another, keyward.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.path)
			s, err := OpenExisting(ctx, tt.path)
			if code := keyward.ErrorCode(err); code != tt.want {
				t.Fatalf("OpenExisting: got error %v (code %q), want code %q", err, code, tt.want)
			}
			if err == nil {
				if _, err := s.Inventory(ctx); err != nil {
					t.Errorf("Inventory: %v", err)
				}
				s.Close()
				return
			}
			after, statErr := os.ReadFile(tt.path)
			if before == nil && !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("%s was created", tt.path)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("%s was changed", tt.path)
			}
			if matches, _ := filepath.Glob(tt.path + "-*"); len(matches) > 0 {
				t.Errorf("OpenExisting left %v beside the file", matches)
			}
		})
	}
}
