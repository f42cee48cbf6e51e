package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

// TestMigrateRateLimitsKeepsKeys migrates a database with keys, a rotated pair among them,
// from before the rate-limit migration: every key comes through whole and starts a lineage of
// its own, and the new tables work. Then it migrates down a step and up again.
func TestMigrateRateLimitsKeepsKeys(t *testing.T) {
	dsn := testDatabase(t)
	ctx, cancel := context.WithTimeout(t.Context(), adminTimeout)
	defer cancel()
	pool, err := connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	m, err := migrator(db)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	if _, err := m.UpTo(ctx, 2); err != nil {
		t.Fatalf("migrate up to 2: %v", err)
	}

	now := time.Date(2029, time.July, 1, 12, 0, 0, 123456000, time.UTC)
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "raff", CreatedAt: now}
	p := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: "api", KeyPrefix: "kw", CreatedAt: now}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO accounts (id, name, key_prefix, created_at) VALUES ($1, $2, $3, $4)`, a.ID, a.Name, a.KeyPrefix, a.CreatedAt)
	exec(`INSERT INTO projects (id, account_id, name, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.AccountID, p.Name, p.KeyPrefix, p.CreatedAt)
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
	tx, err := pool.Begin(ctx) // so that the old key may point at the next
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	for _, k := range keys {
		metadata, err := storecodec.EncodeMetadata(k.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, account_id, project_id, rate_limit_tier, name,
			key_prefix, last4, hash, hash_scheme, scopes, metadata, created_at, replaced_by_key_id, grace_expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '["read"]', $10, $11, $12, $13)`,
			k.ID, k.AccountID, nullString(k.ProjectID), k.RateLimitTier, k.Name, k.Prefix, k.Last4,
			k.Hash, k.HashScheme, metadata, k.CreatedAt, nullString(k.ReplacedByKeyID), nullTS(k.GraceExpiresAt)); err != nil {
			t.Fatalf("inserting key %s: %v", k.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	s := openStore(t, dsn) // migrates the rest of the way
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
	var nullable string
	if err := pool.QueryRow(ctx, `SELECT is_nullable FROM information_schema.columns
		WHERE table_name = 'api_keys' AND column_name = 'lineage_id'`).Scan(&nullable); err != nil || nullable != "NO" {
		t.Errorf("api_keys.lineage_id is_nullable: got %q, %v; want NO", nullable, err)
	}

	// The new tables work with the old keys.
	if err := s.SetCredits(ctx, a.ID, next.LineageID, &keyward.Credits{Remaining: 10}); err != nil {
		t.Fatalf("SetCredits: %v", err)
	}
	spend, err := s.SpendCredits(ctx, next.LineageID, 4, now)
	if err != nil || !spend.OK || spend.Remaining != 6 {
		t.Errorf("SpendCredits: got %+v, %v; want 6 remaining", spend, err)
	}
	r := &keyward.TierRequest{ID: keyward.NewID(), AccountID: a.ID, KeyID: old.ID, Tier: "gold",
		Status: keyward.TierRequestPending, CreatedAt: now}
	if err := s.CreateTierRequest(ctx, r); err != nil {
		t.Fatalf("CreateTierRequest: %v", err)
	}
	if err := s.AddUsage(ctx, []keyward.UsageCount{{KeyID: next.ID, AccountID: a.ID, ProjectID: p.ID,
		Minute: now.Truncate(time.Minute), Outcome: keyward.VerifyValid, Count: 3}}); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}

	// Down a step, and the schema is as it was; then up again.
	if _, err := m.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to 2: %v", err)
	}
	var columns, tables, n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_name = 'api_keys' AND column_name IN ('lineage_id', 'rate_limit_override')`).Scan(&columns); err != nil {
		t.Fatalf("reading the columns of api_keys: %v", err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_name IN ('key_credits', 'rate_limit_tiers', 'tier_requests', 'key_usage')`).Scan(&tables); err != nil {
		t.Fatalf("reading the tables: %v", err)
	}
	if columns != 0 || tables != 0 {
		t.Errorf("after migrating down to 2: %d of the new columns and %d of the new tables remain, want none", columns, tables)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil || n != len(keys) {
		t.Errorf("keys after migrating down to 2: got %d, %v; want %d", n, err, len(keys))
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
}
