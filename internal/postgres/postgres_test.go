package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storetest"
)

// envDSN names the server the tests run against. Each test that needs one creates a database
// of its own there and drops it when it ends, so that runs in parallel never meet.
const envDSN = "KEYWARD_TEST_POSTGRES"

// Bounds on the tests' waits: no test asserts on time, but none may hang.
const (
	adminTimeout = 30 * time.Second // creating or dropping a database, connecting
	lockTimeout  = 30 * time.Second // waiting for a session to block on a lock
	// serverTimeout is given to every session the stores open, so that a statement stuck
	// on the server fails the test instead of hanging it.
	serverTimeout = "60s"
)

// testDatabase creates a database of the test's own on the server that KEYWARD_TEST_POSTGRES
// names, drops it when the test ends, and returns a DSN for it. It skips the test when the
// variable is unset, and fails it when the server cannot be reached.
func testDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		t.Skipf("%s is not set", envDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s is set, but its server cannot be reached: %v", envDSN, err)
	}
	defer admin.Close(ctx)

	b := make([]byte, 8)
	rand.Read(b)
	name := "keyward_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is over by now.
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		admin, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connecting to drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		// FORCE ends whatever sessions a failed test left open.
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	return withDatabase(t, dsn, name)
}

// withDatabase returns dsn naming the database instead of its own, with time limits on every
// session. dsn is a URL or key=value settings, as pgx takes either.
func withDatabase(t *testing.T, dsn, database string) string {
	t.Helper()
	settings := map[string]string{
		"connect_timeout":   "10",
		"statement_timeout": serverTimeout,
		"lock_timeout":      serverTimeout,
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", envDSN, err)
		}
		u.Path = "/" + database
		q := u.Query()
		for k, v := range settings {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	// In key=value settings a later key wins.
	out := dsn + " dbname=" + database
	for k, v := range settings {
		out += " " + k + "=" + v
	}
	return out
}

// openStore opens the store at dsn and closes it when the test ends.
func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// session opens a session of the test's own, outside any store, closed when the test ends:
// for holding locks a store must wait for, and for watching it wait.
func session(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func TestStore(t *testing.T) {
	dsn := testDatabase(t)
	storetest.Run(t, func(t *testing.T) keyward.Store {
		ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
		defer cancel()
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s // Run closes it
	})
}

func TestMigrateTwice(t *testing.T) {
	dsn := testDatabase(t)
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s := openStore(t, dsn) // migrates a third time

	db := stdlibDB(t, s)
	p, err := migrator(db)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("Up once more: %v", err)
	}
	if len(results) != 0 {
		t.Errorf("Up once more: applied %d migrations, want none", len(results))
	}

	var versions int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions); err != nil {
		t.Fatalf("reading the migration versions: %v", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatalf("listing the migrations: %v", err)
	}
	if want := len(files); versions != want {
		t.Errorf("applied migrations: got %d, want %d", versions, want)
	}
	if _, err := s.CountAdminKeys(ctx); err != nil {
		t.Fatalf("CountAdminKeys: %v", err)
	}
}

// TestMigrateConcurrently starts nodes on a new database at once: they take turns, and the
// schema is made once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := testDatabase(t)
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	const nodes = 4
	var (
		wg   sync.WaitGroup
		errs [nodes]error
	)
	for i := range nodes {
		wg.Go(func() { errs[i] = Migrate(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i+1, err)
		}
	}
	s := openStore(t, dsn)
	var versions int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions); err != nil {
		t.Fatalf("reading the migration versions: %v", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(files) {
		t.Errorf("applied migrations: got %d, want %d, each once", versions, len(files))
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Port 1 on the loopback address: nothing listens there, and the refusal is immediate.
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	s, err := Open(ctx, "postgres://keyward:secret-password@127.0.0.1:1/keyward?sslmode=disable&connect_timeout=5")
	if err == nil {
		s.Close()
		t.Fatalf("Open: got a store, want an error")
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Errorf("Open: the error quotes the password: %v", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://keyward:secret-password@127.0.0.1:notaport/keyward")
	if err == nil {
		t.Fatalf("Open: got a store, want an error")
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Errorf("Open: the error quotes the password: %v", err)
	}
}

// TestTimes stores times that are finer than a microsecond and not in UTC: they come back
// truncated to the microsecond, as from the SQLite store, and in UTC.
func TestTimes(t *testing.T) {
	s := openStore(t, testDatabase(t))
	ctx := t.Context()
	tokyo := time.FixedZone("JST", 9*60*60)
	tests := []struct {
		name     string
		in, want time.Time
	}{
		{"just under the next microsecond", time.Date(2030, 3, 14, 15, 9, 26, 535_897_999, tokyo),
			time.Date(2030, 3, 14, 6, 9, 26, 535_897_000, time.UTC)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999_999_500, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &keyward.Account{ID: keyward.NewID(), Name: "account " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: tt.in}
			if err := s.CreateAccount(ctx, a); err != nil {
				t.Fatalf("CreateAccount: %v", err)
			}
			got, err := s.Account(ctx, a.ID)
			if err != nil {
				t.Fatalf("Account: %v", err)
			}
			if !got.CreatedAt.Equal(tt.want) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt: got %v, want %v", got.CreatedAt, tt.want)
			}
		})
	}
}

// TestUnstorableText writes text PostgreSQL cannot store: the caller learns it sent something
// wrong, rather than meeting an internal error.
func TestUnstorableText(t *testing.T) {
	s := openStore(t, testDatabase(t))
	ctx := t.Context()
	f := newFixtures(t, s)
	tests := []struct {
		name  string
		write func() error
	}{
		{"NUL in an account name", func() error {
			return s.CreateAccount(ctx, &keyward.Account{ID: keyward.NewID(), Name: "a\x00b", KeyPrefix: "kw", CreatedAt: time.Now()})
		}},
		{"NUL in a key's metadata", func() error {
			k := f.keyIn()
			k.Metadata = map[string]any{"note": "a\x00b"}
			return s.CreateKey(ctx, k)
		}},
		{"invalid UTF-8 in a user's name", func() error {
			return s.CreateUser(ctx, &keyward.User{ID: keyward.NewID(), AccountID: f.account.ID, Name: "\xff", CreatedAt: time.Now()})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if got := keyward.ErrorCode(err); got != keyward.EValidation {
				t.Errorf("got error %v (code %q), want code %q", err, got, keyward.EValidation)
			}
		})
	}
}

// TestRotateKeyOrder queues two rotations of one key behind a lock, in a known order: the
// first wins and the second finds the key replaced, in either order; and when the first
// fails, the second wins.
func TestRotateKeyOrder(t *testing.T) {
	dsn := testDatabase(t)
	s := openStore(t, dsn)
	f := newFixtures(t, s)
	tests := []struct {
		name        string
		first       int  // which of the two rotations queues first
		firstFails  bool // whether the first fails after it has the lock
		wantErrCode [2]keyward.Code
	}{
		{"a first", 0, false, [2]keyward.Code{"", keyward.EConflict}},
		{"b first", 1, false, [2]keyward.Code{keyward.EConflict, ""}},
		{"a first and fails", 0, true, [2]keyward.Code{keyward.ENotFound, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			old := f.newKey()
			var nexts [2]*keyward.Key
			for i := range nexts {
				nexts[i] = f.keyIn()
			}
			if tt.firstFails {
				// Refused only once the new key's accesses are inserted, after the old key
				// has been locked and marked replaced: the rollback must undo that.
				nexts[tt.first].ProjectAccesses = []keyward.ProjectAccess{{ProjectID: f.otherProject.ID, RoleID: viewer}}
			}

			blocker := session(t, dsn)
			tx, err := blocker.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if _, err := tx.Exec(ctx, `SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE`, old.ID); err != nil {
				t.Fatalf("locking the key: %v", err)
			}
			watcher := session(t, dsn)
			var (
				wg   sync.WaitGroup
				errs [2]error
			)
			for n, i := range []int{tt.first, 1 - tt.first} {
				wg.Go(func() {
					_, errs[i] = s.RotateKey(ctx, f.account.ID, old.ID, nexts[i], at(time.Hour))
				})
				waitForLockWaiters(t, watcher, n+1)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
			wg.Wait()

			winner := -1
			for i, err := range errs {
				if got := keyward.ErrorCode(err); got != tt.wantErrCode[i] {
					t.Errorf("rotation %d: got error %v (code %q), want code %q", i, err, got, tt.wantErrCode[i])
				}
				if err == nil {
					winner = i
				}
			}
			got, err := s.Key(ctx, f.account.ID, old.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if winner >= 0 && got.ReplacedByKeyID != nexts[winner].ID {
				t.Errorf("ReplacedByKeyID: got %q, want the winner's %q", got.ReplacedByKeyID, nexts[winner].ID)
			}
			for i, next := range nexts {
				_, err := s.Key(ctx, f.account.ID, next.ID)
				if exists := err == nil; exists != (i == winner) {
					t.Errorf("new key %d: exists %v, want %v (Key: %v)", i, exists, i == winner, err)
				}
			}
		})
	}
}

// TestDeleteRoleWaitsForHolder gives a role to a user in a transaction left open, as a write
// of the store does (share-lock the role, insert the holder): DeleteRole waits for it, and
// then refuses, as the holder is there.
func TestDeleteRoleWaitsForHolder(t *testing.T) {
	dsn := testDatabase(t)
	s := openStore(t, dsn)
	ctx := t.Context()
	f := newFixtures(t, s)
	r := f.newRole()

	holder := session(t, dsn)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM roles WHERE id = $1 FOR KEY SHARE`, r.ID); err != nil {
		t.Fatalf("locking the role: %v", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO users (id, account_id, role_id, created_at) VALUES ($1, $2, $3, now())`,
		keyward.NewID(), f.account.ID, r.ID); err != nil {
		t.Fatalf("inserting the holder: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- s.DeleteRole(ctx, f.account.ID, r.ID) }()
	waitForLockWaiters(t, session(t, dsn), 1)
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	err = <-done
	if got := keyward.ErrorCode(err); got != keyward.EConflict {
		t.Errorf("DeleteRole: got error %v (code %q), want code %q", err, got, keyward.EConflict)
	}
	if _, err := s.Role(ctx, f.account.ID, r.ID); err != nil {
		t.Errorf("Role after the refused delete: %v", err)
	}
}

// TestRoleHoldersWaitForDeleteRole locks a role's row as DeleteRole does, and checks that
// every write that gives the role to a holder waits for that lock: so DeleteRole, once it
// has the lock, cannot miss a holder being written.
func TestRoleHoldersWaitForDeleteRole(t *testing.T) {
	dsn := testDatabase(t)
	s := openStore(t, dsn)
	f := newFixtures(t, s)
	tests := []struct {
		name  string
		write func(ctx context.Context, roleID string) error
	}{
		{"CreateUser", func(ctx context.Context, roleID string) error {
			return s.CreateUser(ctx, &keyward.User{ID: keyward.NewID(), AccountID: f.account.ID, RoleID: roleID, CreatedAt: time.Now()})
		}},
		{"UpdateUser", func(ctx context.Context, roleID string) error {
			u := f.newUser()
			u.RoleID = roleID
			return s.UpdateUser(ctx, u)
		}},
		{"CreateKey with the role", func(ctx context.Context, roleID string) error {
			k := f.keyIn()
			k.RoleID = roleID
			return s.CreateKey(ctx, k)
		}},
		{"CreateKey with a project access in the role", func(ctx context.Context, roleID string) error {
			k := f.keyIn()
			k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: f.project.ID, RoleID: roleID}}
			return s.CreateKey(ctx, k)
		}},
		{"UpdateKey", func(ctx context.Context, roleID string) error {
			k := f.newKey()
			k.RoleID = roleID
			return s.UpdateKey(ctx, k)
		}},
		{"RotateKey", func(ctx context.Context, roleID string) error {
			old := f.newKey()
			next := f.keyIn()
			next.RoleID = roleID
			_, err := s.RotateKey(ctx, f.account.ID, old.ID, next, at(time.Hour))
			return err
		}},
		{"CreateMembership", func(ctx context.Context, roleID string) error {
			return s.CreateMembership(ctx, &keyward.Membership{ID: keyward.NewID(), AccountID: f.account.ID,
				ProjectID: f.project.ID, UserID: f.newUser().ID, RoleID: roleID, CreatedAt: time.Now()})
		}},
		{"UpdateMembership", func(ctx context.Context, roleID string) error {
			m := &keyward.Membership{ID: keyward.NewID(), AccountID: f.account.ID,
				ProjectID: f.project.ID, UserID: f.newUser().ID, RoleID: viewer, CreatedAt: time.Now()}
			if err := s.CreateMembership(ctx, m); err != nil {
				return err
			}
			m.RoleID = roleID
			return s.UpdateMembership(ctx, m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			r := f.newRole()
			deleter := session(t, dsn)
			tx, err := deleter.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if _, err := tx.Exec(ctx, `SELECT 1 FROM roles WHERE id = $1 FOR UPDATE`, r.ID); err != nil {
				t.Fatalf("locking the role: %v", err)
			}
			done := make(chan error, 1)
			go func() { done <- tt.write(ctx, r.ID) }()
			waitForLockWaiters(t, session(t, dsn), 1)
			if err := tx.Rollback(ctx); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			err = s.DeleteRole(ctx, f.account.ID, r.ID)
			if got := keyward.ErrorCode(err); got != keyward.EConflict {
				t.Errorf("DeleteRole of the held role: got error %v (code %q), want code %q", err, got, keyward.EConflict)
			}
		})
	}
}

// TestBuiltInRolesTakeNoLock gives built-in roles, which have no rows, while every custom
// role is locked: nothing waits.
func TestBuiltInRolesTakeNoLock(t *testing.T) {
	dsn := testDatabase(t)
	s := openStore(t, dsn)
	ctx := t.Context()
	f := newFixtures(t, s)
	locker := session(t, dsn)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM roles FOR UPDATE`); err != nil {
		t.Fatalf("locking the roles: %v", err)
	}
	k := f.keyIn()
	k.RoleID = member
	k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: f.project.ID, RoleID: viewer}}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	got, err := s.Key(ctx, f.account.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("Key: mismatch (-want +got):\n%s", d)
	}
}

// stdlibDB returns a database/sql handle on the store's pool, as migrate makes one.
func stdlibDB(t *testing.T, s *Store) *sql.DB {
	t.Helper()
	db := stdlib.OpenDBFromPool(s.pool)
	t.Cleanup(func() { db.Close() })
	return db
}

// waitForLockWaiters waits until n sessions of the database are waiting for a lock, watching
// through c.
func waitForLockWaiters(t *testing.T, c *pgx.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(lockTimeout)
	for {
		var waiting int
		err := c.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatalf("reading pg_stat_activity: %v", err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock after %v, want %d", waiting, lockTimeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Built-in role ids, which a store keeps in role columns but has no rows for.
var (
	viewer = keyward.BuiltInRole(keyward.RoleViewer).ID
	member = keyward.BuiltInRole(keyward.RoleMember).ID
)

// base is the tests' reference time, at microsecond precision as the store keeps times.
var base = time.Date(2030, time.March, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) *time.Time {
	t := base.Add(d)
	return &t
}

// fixtures is an account with a project, and another account's project, in which tests make
// what they need.
type fixtures struct {
	t            *testing.T
	s            *Store
	account      *keyward.Account
	project      *keyward.Project
	otherProject *keyward.Project
}

func newFixtures(t *testing.T, s *Store) *fixtures {
	t.Helper()
	f := &fixtures{t: t, s: s}
	f.account = f.newAccount()
	f.project = f.newProject(f.account.ID)
	f.otherProject = f.newProject(f.newAccount().ID)
	return f
}

func (f *fixtures) newAccount() *keyward.Account {
	f.t.Helper()
	a := &keyward.Account{ID: keyward.NewID(), Name: "account " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base}
	if err := f.s.CreateAccount(f.t.Context(), a); err != nil {
		f.t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

func (f *fixtures) newProject(accountID string) *keyward.Project {
	f.t.Helper()
	p := &keyward.Project{ID: keyward.NewID(), AccountID: accountID, Name: "project " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base}
	if err := f.s.CreateProject(f.t.Context(), p); err != nil {
		f.t.Fatalf("CreateProject: %v", err)
	}
	return p
}

func (f *fixtures) newUser() *keyward.User {
	f.t.Helper()
	u := &keyward.User{ID: keyward.NewID(), AccountID: f.account.ID, RoleID: viewer, CreatedAt: base}
	if err := f.s.CreateUser(f.t.Context(), u); err != nil {
		f.t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func (f *fixtures) newRole() *keyward.Role {
	f.t.Helper()
	r := &keyward.Role{ID: keyward.NewID(), AccountID: f.account.ID, Name: "Deployer", Slug: "deployer-" + keyward.NewID(),
		Permissions: keyward.Permissions{"api_keys.read"}, CreatedAt: base}
	if err := f.s.CreateRole(f.t.Context(), r); err != nil {
		f.t.Fatalf("CreateRole: %v", err)
	}
	return r
}

// keyIn returns a key of the fixtures' project, not yet stored.
func (f *fixtures) keyIn() *keyward.Key {
	f.t.Helper()
	hash := make([]byte, 32)
	rand.Read(hash)
	return &keyward.Key{
		ID:            keyward.NewID(),
		AccountID:     f.account.ID,
		ProjectID:     f.project.ID,
		Name:          "key",
		Prefix:        "kw_17d70fcf",
		Last4:         "x9Zq",
		Hash:          hash,
		HashScheme:    "hmac-sha256:1",
		Scopes:        []string{"read"},
		RateLimitTier: "standard",
		CreatedAt:     base,
	}
}

func (f *fixtures) newKey() *keyward.Key {
	f.t.Helper()
	k := f.keyIn()
	if err := f.s.CreateKey(f.t.Context(), k); err != nil {
		f.t.Fatalf("CreateKey: %v", err)
	}
	return k
}

// TestBootstrapOnce starts four nodes' worth of stores (a pool each) on one empty database
// and bootstraps through all of them at once: exactly one makes a root admin key. The
// stores are called directly, all released at one moment, so that the service's first count
// (which would let late nodes see the winner's key) does not hide a race.
func TestBootstrapOnce(t *testing.T) {
	dsn := testDatabase(t)
	if err := Migrate(t.Context(), dsn); err != nil {
		t.Fatal(err)
	}
	const nodes = 4
	created := make([]bool, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a := &keyward.Account{ID: keyward.NewID(), Name: keyward.DefaultAccountName, KeyPrefix: "kw", CreatedAt: time.Now()}
		hash := make([]byte, 32)
		rand.Read(hash)
		k := &keyward.AdminKey{ID: keyward.NewID(), AccountID: a.ID, Name: "root", Prefix: "kwadmin_12345678", Last4: "abcd",
			Hash: hash, HashScheme: "hmac-sha256:1", CreatedAt: time.Now()}
		wg.Go(func() {
			<-start
			created[i], errs[i] = s.BootstrapAdminKey(t.Context(), a, k)
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range nodes {
		if errs[i] != nil {
			t.Errorf("node %d: BootstrapAdminKey: %v", i, errs[i])
		}
		if created[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d nodes made a root admin key, want 1", winners, nodes)
	}
}

// TestOpenExisting refuses a database without Keyward's schema, creating nothing in it, and
// opens one that has it.
func TestOpenExisting(t *testing.T) {
	dsn := testDatabase(t)
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	_, err := OpenExisting(ctx, dsn)
	if code := keyward.ErrorCode(err); code != keyward.ENotFound {
		t.Fatalf("OpenExisting of an empty database: got error %v (code %q), want code %q", err, code, keyward.ENotFound)
	}
	var tables int
	if err := session(t, dsn).QueryRow(ctx,
		`SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables); err != nil {
		t.Fatalf("counting tables: %v", err)
	}
	if tables != 0 {
		t.Errorf("OpenExisting of an empty database made %d tables, want none", tables)
	}

	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := OpenExisting(ctx, dsn)
	if err != nil {
		t.Fatalf("OpenExisting of a migrated database: %v", err)
	}
	defer s.Close()
	if _, err := s.Inventory(ctx); err != nil {
		t.Errorf("Inventory: %v", err)
	}
}
