package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

// openAt opens the write pool on a new database at path and migrates it to version, as a
// database left by an older Keyward would be. The caller closes it.
func openAt(t *testing.T, path string, version int64) *sql.DB {
	t.Helper()
	db, err := openDB(t.Context(), path, false)
	if err != nil {
		t.Fatalf("openDB: %v", err)
	}
	p, err := migrator(db)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrate up to %d: %v", version, err)
	}
	return db
}

// execer is what both *sql.DB and *sql.Tx offer for writing.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func exec(t *testing.T, db execer, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// insertV1Key inserts k as the schema of migration 1 holds a key.
func insertV1Key(t *testing.T, db execer, k *keyward.Key) {
	t.Helper()
	scopes, err := storecodec.EncodeList(k.Scopes)
	if err != nil {
		t.Fatal(err)
	}
	metadata, err := storecodec.EncodeMetadata(k.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, `INSERT INTO api_keys (id, account_id, project_id, environment_id, name,
		key_prefix, last4, hash, hash_scheme, scopes, metadata, expires_at, last_used_at,
		created_at, revoked_at, replaced_by_key_id, grace_expires_at, rotation_interval_days,
		next_rotation_at, rotation_webhook_url, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.ProjectID, nullString(k.EnvironmentID), k.Name, k.Prefix, k.Last4,
		k.Hash, k.HashScheme, scopes, metadata, nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt),
		micros(k.CreatedAt), nullMicros(k.RevokedAt), nullString(k.ReplacedByKeyID),
		nullMicros(k.GraceExpiresAt), k.RotationIntervalDays, nullMicros(k.NextRotationAt),
		nullString(k.RotationWebhookURL), k.CreatedBy)
}

// wantForeignKeysHold fails the test unless every foreign key in the database is satisfied.
func wantForeignKeysHold(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatalf("PRAGMA foreign_key_check: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			table, parent string
			rowid         sql.NullInt64
			fk            int
		)
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			t.Fatalf("PRAGMA foreign_key_check: %v", err)
		}
		t.Errorf("foreign key %d of %s row %v to %s does not hold", fk, table, rowid.Int64, parent)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("PRAGMA foreign_key_check: %v", err)
	}
}

// TestMigrateIdentityKeepsKeys migrates a database with keys from before the identity
// migration, which rebuilds api_keys, and checks that every key comes through whole.
func TestMigrateIdentityKeepsKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyward.db")
	db := openAt(t, path, 1)

	now := time.Date(2029, time.July, 1, 12, 0, 0, 123456000, time.UTC)
	when := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	account := &keyward.Account{ID: keyward.NewID(), Name: "acme", CreatedAt: now}
	exec(t, db, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`,
		account.ID, account.Name, micros(account.CreatedAt))
	var projects []*keyward.Project
	for _, prefix := range []string{"raff", "sk_live"} {
		p := &keyward.Project{ID: keyward.NewID(), AccountID: account.ID, Name: "project " + prefix, KeyPrefix: prefix, CreatedAt: now}
		exec(t, db, `INSERT INTO projects (id, account_id, name, key_prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.AccountID, p.Name, p.KeyPrefix, micros(p.CreatedAt))
		projects = append(projects, p)
	}
	env := &keyward.Environment{ID: keyward.NewID(), AccountID: account.ID, ProjectID: projects[0].ID, Name: "production", CreatedAt: now}
	exec(t, db, `INSERT INTO environments (id, account_id, project_id, name, created_at) VALUES (?, ?, ?, ?, ?)`,
		env.ID, env.AccountID, env.ProjectID, env.Name, micros(env.CreatedAt))
	exec(t, db, `INSERT INTO admin_keys (id, account_id, name, key_prefix, last4, hash, hash_scheme, created_at)
		VALUES (?, ?, 'bootstrap', 'kwadmin_12345678', 'abcd', ?, 'hmac-sha256:1', ?)`,
		keyward.NewID(), account.ID, []byte("admin hash"), micros(now))

	key := func(p *keyward.Project, name string, hash string) *keyward.Key {
		return &keyward.Key{
			ID: keyward.NewID(), AccountID: account.ID, ProjectID: p.ID, Name: name,
			Prefix: p.KeyPrefix + "_17d70fcf", Last4: "x9Zq", Hash: []byte(hash),
			HashScheme: "hmac-sha256:1", Scopes: []string{}, CreatedAt: now,
		}
	}
	// A rotated pair in an environment, every field of the old key set; the new key inserted
	// after the old one, so that the old one points forward, as rotations leave them.
	old := key(projects[0], "deploy bot", "old hash")
	next := key(projects[0], "deploy bot", "next hash")
	old.EnvironmentID, next.EnvironmentID = env.ID, env.ID
	old.Scopes = []string{"keys:read", "projects/p1.write"}
	old.Metadata = map[string]any{"team": "platform", "tier": float64(3), "tags": []any{"a"}}
	old.ExpiresAt = when(90 * 24 * time.Hour)
	old.LastUsedAt = when(time.Hour)
	old.ReplacedByKeyID = next.ID
	old.GraceExpiresAt = when(24 * time.Hour)
	old.RotationIntervalDays = 30
	old.NextRotationAt = when(30 * 24 * time.Hour)
	old.RotationWebhookURL = "https://hooks.example.com/rotate"
	old.CreatedBy = keyward.NewID()
	next.CreatedAt = now.Add(time.Minute)
	// A revoked key without any optional field, in the other project, and one rotated without
	// grace whose successor is listed before it.
	revoked := key(projects[1], "old integration", "revoked hash")
	revoked.RevokedAt = when(2 * time.Hour)
	successor := key(projects[1], "successor", "successor hash")
	predecessor := key(projects[1], "predecessor", "predecessor hash")
	predecessor.ReplacedByKeyID = successor.ID
	predecessor.RevokedAt = &successor.CreatedAt
	keys := []*keyward.Key{old, next, revoked, successor, predecessor}
	tx, err := db.BeginTx(ctx, nil) // so that a key may point at one inserted after it
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	for _, k := range keys {
		insertV1Key(t, tx, k)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	if err := migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	wantForeignKeysHold(t, db)
	var integrity string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("PRAGMA integrity_check: got %q, %v; want ok", integrity, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s := open(t, path)
	account.KeyPrefix = "kw" // the column's default, for accounts from before it
	gotAccount, err := s.Account(ctx, account.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if d := cmp.Diff(account, gotAccount); d != "" {
		t.Errorf("Account: mismatch (-want +got):\n%s", d)
	}
	for _, want := range keys {
		want.RateLimitTier = "standard" // the column's default, for keys from before it
		want.LineageID = want.ID        // each key from before lineages starts its own
		got, err := s.Key(ctx, account.ID, want.ID)
		if err != nil {
			t.Fatalf("Key %s: %v", want.Name, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Key %s: mismatch (-want +got):\n%s", want.Name, d)
		}
	}
	listed, err := s.ListKeys(ctx, keyward.KeyFilter{AccountID: account.ID, Now: now, Limit: 100})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if got, want := len(listed), len(keys); got != want {
		t.Errorf("ListKeys: got %d keys, want %d", got, want)
	}

	// The rebuilt table still works as the old one did: a rotation needs the deferred
	// foreign key on replaced_by_key_id, a key in another account's project is refused.
	third := key(projects[0], "deploy bot", "third hash")
	third.CreatedAt = now.Add(time.Hour)
	if _, err := s.RotateKey(ctx, account.ID, next.ID, third, when(25*time.Hour)); err != nil {
		t.Errorf("RotateKey after migrating: %v", err)
	}
	dangling := key(projects[0], "dangling", "dangling hash")
	dangling.ReplacedByKeyID = keyward.NewID()
	if err := s.CreateKey(ctx, dangling); err == nil {
		t.Errorf("CreateKey with a replaced_by_key_id of no key: got no error, want the foreign key to fail")
	}
	// And does what the new one is for: account keys, keys of users, indexes to list them.
	accountKey := key(projects[0], "account key", "account key hash")
	accountKey.ProjectID = ""
	if err := s.CreateKey(ctx, accountKey); err != nil {
		t.Errorf("CreateKey of an account key: %v", err)
	}
	wantForeignKeysHold(t, s.write)
	indexes := map[string]bool{}
	rows, err := s.read.QueryContext(ctx, `SELECT name, "unique" FROM pragma_index_list('api_keys') WHERE origin = 'c'`)
	if err != nil {
		t.Fatalf("index_list: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name   string
			unique bool
		)
		if err := rows.Scan(&name, &unique); err != nil {
			t.Fatalf("index_list: %v", err)
		}
		indexes[name] = unique
	}
	wantIndexes := map[string]bool{
		"api_keys_account_id":         true,
		"api_keys_account_project_id": false,
		"api_keys_account_user_id":    false,
		"api_keys_lineage_id":         false,
		"api_keys_role_id":            false,
		// 00007: the scheduler's and the import path's partial indexes.
		"api_keys_expiry_notice": false,
		"api_keys_grace_notice":  false,
		"api_keys_imported":      false,
		"api_keys_next_rotation": false,
	}
	if d := cmp.Diff(wantIndexes, indexes); d != "" {
		t.Errorf("indexes of api_keys: mismatch (-want +got):\n%s", d)
	}
}

// TestMigrateIdentityDown migrates down from the identity migration and up again. Account keys
// cannot survive the way down; every project key must.
func TestMigrateIdentityDown(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	now := time.Date(2029, time.July, 1, 12, 0, 0, 0, time.UTC)
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "raff", CreatedAt: now}
	p := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: "api", KeyPrefix: "kw", CreatedAt: now}
	u := &keyward.User{ID: keyward.NewID(), AccountID: a.ID, Name: "Ada", CreatedAt: now}
	r := &keyward.Role{ID: keyward.NewID(), AccountID: a.ID, Name: "Deployer", Slug: "deployer", Permissions: keyward.Permissions{"api_keys.read"}, CreatedAt: now}
	mustDo(t, "CreateAccount", s.CreateAccount(ctx, a))
	mustDo(t, "CreateProject", s.CreateProject(ctx, p))
	mustDo(t, "CreateUser", s.CreateUser(ctx, u))
	mustDo(t, "CreateRole", s.CreateRole(ctx, r))
	newKey := func(projectID string) *keyward.Key {
		return &keyward.Key{ID: keyward.NewID(), AccountID: a.ID, ProjectID: projectID, Name: "k",
			Prefix: "kw_17d70fcf", Last4: "abcd", Hash: []byte(keyward.NewID()), HashScheme: "sha256",
			Scopes: []string{}, RateLimitTier: "standard", CreatedAt: now}
	}
	kept := newKey(p.ID)
	kept.UserID, kept.RoleID = u.ID, r.ID
	kept.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: r.ID}}
	mustDo(t, "CreateKey", s.CreateKey(ctx, kept))
	dropped := newKey("")
	mustDo(t, "CreateKey", s.CreateKey(ctx, dropped))
	// A project key rotated into an account key: it survives, its successor does not.
	rotated := newKey(p.ID)
	mustDo(t, "CreateKey", s.CreateKey(ctx, rotated))
	successor := newKey("")
	if _, err := s.RotateKey(ctx, a.ID, rotated.ID, successor, nil); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	mustDo(t, "RecordAudit", s.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: a.ID, At: now, Action: "api_key.create", Outcome: keyward.OutcomeSuccess}))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db, err := openDB(ctx, path, false)
	if err != nil {
		t.Fatalf("openDB: %v", err)
	}
	defer db.Close()
	m, err := migrator(db)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	if _, err := m.DownTo(ctx, 1); err != nil {
		t.Fatalf("migrate down to 1: %v", err)
	}
	wantForeignKeysHold(t, db)

	type keyRow struct{ ID, ReplacedBy string }
	var got []keyRow
	rows, err := db.QueryContext(ctx, `SELECT id, coalesce(replaced_by_key_id, '') FROM api_keys ORDER BY id`)
	if err != nil {
		t.Fatalf("reading keys: %v", err)
	}
	for rows.Next() {
		var k keyRow
		if err := rows.Scan(&k.ID, &k.ReplacedBy); err != nil {
			t.Fatalf("reading keys: %v", err)
		}
		got = append(got, k)
	}
	rows.Close()
	want := []keyRow{{ID: kept.ID}, {ID: rotated.ID}}
	slices.SortFunc(want, func(x, y keyRow) int { return strings.Compare(x.ID, y.ID) })
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("keys after migrating down: mismatch (-want +got):\n%s", d)
	}
	var tables []string
	rows, err = db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatalf("reading tables: %v", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("reading tables: %v", err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	wantTables := []string{"accounts", "admin_keys", "api_keys", "environments", "goose_db_version", "projects"}
	if d := cmp.Diff(wantTables, tables); d != "" {
		t.Errorf("tables after migrating down: mismatch (-want +got):\n%s", d)
	}

	// And up again: the kept key is back, without what the way down dropped.
	if err := migrate(ctx, db); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, path)
	k, err := s.Key(ctx, a.ID, kept.ID)
	if err != nil {
		t.Fatalf("Key after migrating down and up: %v", err)
	}
	wantKept := *kept
	wantKept.UserID, wantKept.RoleID, wantKept.ProjectAccesses = "", "", nil
	if d := cmp.Diff(&wantKept, k); d != "" {
		t.Errorf("Key after migrating down and up: mismatch (-want +got):\n%s", d)
	}
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestMigrateRateLimitsKeepsKeys migrates a database with keys, a rotated pair among them,
// from before the rate-limit migration: every key comes through whole and starts a lineage of
// its own, and the new tables work.
func TestMigrateRateLimitsKeepsKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyward.db")
	db := openAt(t, path, 3)

	now := time.Date(2029, time.July, 1, 12, 0, 0, 123456000, time.UTC)
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "raff", CreatedAt: now}
	p := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: "api", KeyPrefix: "kw", CreatedAt: now}
	exec(t, db, `INSERT INTO accounts (id, name, key_prefix, created_at) VALUES (?, ?, ?, ?)`,
		a.ID, a.Name, a.KeyPrefix, micros(a.CreatedAt))
	exec(t, db, `INSERT INTO projects (id, account_id, name, key_prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.AccountID, p.Name, p.KeyPrefix, micros(p.CreatedAt))
	key := func(name string) *keyward.Key {
		return &keyward.Key{ID: keyward.NewID(), AccountID: a.ID, ProjectID: p.ID, Name: name,
			Prefix: "kw_17d70fcf", Last4: "x9Zq", Hash: []byte(name), HashScheme: "hmac-sha256:1",
			Scopes: []string{"read"}, RateLimitTier: "high", CreatedAt: now}
	}
	old, next, accountKey := key("old"), key("next"), key("account key")
	old.ReplacedByKeyID = next.ID
	old.GraceExpiresAt = &next.CreatedAt
	old.Metadata = map[string]any{"team": "platform"}
	accountKey.ProjectID = ""
	keys := []*keyward.Key{old, next, accountKey}
	tx, err := db.BeginTx(ctx, nil) // so that the old key may point at the next
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	for _, k := range keys {
		metadata, err := storecodec.EncodeMetadata(k.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, tx, `INSERT INTO api_keys (id, account_id, project_id, rate_limit_tier, name, key_prefix,
			last4, hash, hash_scheme, scopes, metadata, created_at, replaced_by_key_id, grace_expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '["read"]', ?, ?, ?, ?)`,
			k.ID, k.AccountID, nullString(k.ProjectID), k.RateLimitTier, k.Name, k.Prefix, k.Last4,
			k.Hash, k.HashScheme, metadata, micros(k.CreatedAt), nullString(k.ReplacedByKeyID),
			nullMicros(k.GraceExpiresAt))
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	if err := migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	wantForeignKeysHold(t, db)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s := open(t, path)
	for _, want := range keys {
		want.LineageID = want.ID
		got, err := s.Key(ctx, a.ID, want.ID)
		if err != nil {
			t.Fatalf("Key %s: %v", want.Name, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Key %s: mismatch (-want +got):\n%s", want.Name, d)
		}
	}

	// The new tables work with the old keys.
	credits := &keyward.Credits{Remaining: 10}
	mustDo(t, "SetCredits", s.SetCredits(ctx, a.ID, next.LineageID, credits))
	spend, err := s.SpendCredits(ctx, next.LineageID, 4, now)
	if err != nil || !spend.OK || spend.Remaining != 6 {
		t.Errorf("SpendCredits: got %+v, %v; want 6 remaining", spend, err)
	}
	r := &keyward.TierRequest{ID: keyward.NewID(), AccountID: a.ID, KeyID: old.ID, Tier: "gold",
		Status: keyward.TierRequestPending, CreatedAt: now}
	mustDo(t, "CreateTierRequest", s.CreateTierRequest(ctx, r))
	mustDo(t, "AddUsage", s.AddUsage(ctx, []keyward.UsageCount{{KeyID: next.ID, AccountID: a.ID,
		ProjectID: p.ID, Minute: now.Truncate(time.Minute), Outcome: keyward.VerifyValid, Count: 3}}))
	wantForeignKeysHold(t, s.write)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Down a step, and the schema is as it was: the keys without their lineages, the new
	// tables gone.
	db, err = openDB(ctx, path, false)
	if err != nil {
		t.Fatalf("openDB: %v", err)
	}
	defer db.Close()
	m, err := migrator(db)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	if _, err := m.DownTo(ctx, 3); err != nil {
		t.Fatalf("migrate down to 3: %v", err)
	}
	wantForeignKeysHold(t, db)
	var columns, tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('api_keys')
		WHERE name IN ('lineage_id', 'rate_limit_override')`).Scan(&columns); err != nil {
		t.Fatalf("reading the columns of api_keys: %v", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'
		AND name IN ('key_credits', 'rate_limit_tiers', 'tier_requests', 'key_usage')`).Scan(&tables); err != nil {
		t.Fatalf("reading the tables: %v", err)
	}
	if columns != 0 || tables != 0 {
		t.Errorf("after migrating down to 3: %d of the new columns and %d of the new tables remain, want none", columns, tables)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil || n != len(keys) {
		t.Errorf("keys after migrating down to 3: got %d, %v; want %d", n, err, len(keys))
	}
	if err := migrate(ctx, db); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
}
