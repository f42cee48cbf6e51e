package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
)

// countingStore counts KeyByHash calls on a real store, to see what the cache saves.
type countingStore struct {
	keyward.Store
	lookups atomic.Int64
}

func (s *countingStore) KeyByHash(ctx context.Context, hash []byte) (*keyward.Key, error) {
	s.lookups.Add(1)
	return s.Store.KeyByHash(ctx, hash)
}

type fixture struct {
	store    *countingStore
	svc      *keyward.Service
	verifier *verify.Verifier
	owner    keyward.Principal
	project  *keyward.Project
	// now is the fake time in Unix nanoseconds. It is atomic, not behind a mutex, because
	// the parallel benchmark reads it on every verification: a lock here would measure the
	// fixture's contention instead of the verifier's.
	now atomic.Int64
}

func (f *fixture) clock() time.Time { return time.Unix(0, f.now.Load()).UTC() }

func (f *fixture) advance(d time.Duration) { f.now.Add(int64(d)) }

func newFixture(tb testing.TB, cfg verify.Config) *fixture {
	tb.Helper()
	ctx := context.Background()
	inner, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "keyward.db"))
	if err != nil {
		tb.Fatal(err)
	}
	hasher, err := keyformat.NewHasher(keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: &countingStore{Store: inner}}
	f.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg.Now = f.clock
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour // tests flush by hand
	}
	f.verifier = verify.New(f.store, hasher, cfg)
	f.svc = keyward.NewService(f.store, hasher, keyward.WithClock(f.clock), keyward.WithKeyEvents(f.verifier))
	admin, _, err := f.svc.CreateAdminKey(ctx, "acme", "root")
	if err != nil {
		tb.Fatal(err)
	}
	f.owner = keyward.Principal{AccountID: admin.AccountID, Kind: keyward.KindAdminKey, ID: admin.ID, Permissions: keyward.Permissions{"*"}}
	if f.project, err = f.svc.CreateProject(ctx, f.owner, keyward.CreateProjectInput{Name: "p"}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		f.verifier.Close(ctx)
		inner.Close()
	})
	return f
}

func (f *fixture) key(tb testing.TB, scopes ...string) (*keyward.Key, string) {
	tb.Helper()
	k, secret, err := f.svc.CreateKey(context.Background(), f.owner, keyward.CreateKeyInput{ProjectID: f.project.ID, Name: "k", Scopes: scopes})
	if err != nil {
		tb.Fatal(err)
	}
	return k, secret
}

func TestVerifyCodes(t *testing.T) {
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	_, secret := f.key(t, "read")
	garbage := "kw_" + secret[3:len(secret)-1] + "x"
	other, _ := keyformat.Generate("kw")
	tests := []struct {
		name   string
		secret string
		scopes []string
		want   keyward.VerifyCode
	}{
		{"valid", secret, nil, keyward.VerifyValid},
		{"held scope", secret, []string{"read"}, keyward.VerifyValid},
		{"missing scope", secret, []string{"read", "write"}, keyward.VerifyInsufficientScope},
		{"bad checksum", garbage, nil, keyward.VerifyMalformed},
		{"empty", "", nil, keyward.VerifyMalformed},
		{"never issued", other.Raw, nil, keyward.VerifyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.verifier.Verify(ctx, tt.secret, tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != tt.want || res.Valid != (tt.want == keyward.VerifyValid) {
				t.Errorf("got %s valid=%v, want %s", res.Code, res.Valid, tt.want)
			}
		})
	}
}

func TestMalformedKeysCostNoLookup(t *testing.T) {
	f := newFixture(t, verify.Config{})
	for _, s := range []string{"", "x", "kw_short", "Bearer kw_abc", string(bytes.Repeat([]byte("a"), 1000))} {
		if _, err := f.verifier.Verify(t.Context(), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("malformed keys caused %d store lookups, want 0", n)
	}
}

func TestCacheServesRepeatsAndForgetsChanges(t *testing.T) {
	f := newFixture(t, verify.Config{TTL: time.Minute, NegativeTTL: time.Second})
	ctx := t.Context()
	k, secret := f.key(t)
	for range 100 {
		if res, _ := f.verifier.Verify(ctx, secret, nil); !res.Valid {
			t.Fatalf("verify = %s", res.Code)
		}
	}
	if n := f.store.lookups.Load(); n != 1 {
		t.Errorf("100 verifications of one key took %d lookups, want 1", n)
	}

	// A revocation through the service reaches the cache at once.
	if _, err := f.svc.RevokeKey(ctx, f.owner, k.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.verifier.Verify(ctx, secret, nil); res.Code != keyward.VerifyRevoked {
		t.Errorf("after revoke = %s, want REVOKED", res.Code)
	}

	// Unknown keys are remembered for NegativeTTL, then asked again.
	unknown, _ := keyformat.Generate("kw")
	before := f.store.lookups.Load()
	for range 10 {
		f.verifier.Verify(ctx, unknown.Raw, nil)
	}
	if n := f.store.lookups.Load() - before; n != 1 {
		t.Errorf("10 verifications of an unknown key took %d lookups, want 1", n)
	}
	f.advance(2 * time.Second)
	f.verifier.Verify(ctx, unknown.Raw, nil)
	if n := f.store.lookups.Load() - before; n != 2 {
		t.Errorf("after the negative TTL: %d lookups, want 2", n)
	}
}

func TestCacheEntriesAgeOut(t *testing.T) {
	f := newFixture(t, verify.Config{TTL: 10 * time.Second})
	_, secret := f.key(t)
	f.verifier.Verify(t.Context(), secret, nil)
	f.advance(11 * time.Second)
	f.verifier.Verify(t.Context(), secret, nil)
	if n := f.store.lookups.Load(); n != 2 {
		t.Errorf("lookups = %d, want 2: an entry past its TTL must be read again", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	const size = 128 // two entries per shard
	f := newFixture(t, verify.Config{CacheSize: size})
	var secrets []string
	for range 4 * size {
		_, s := f.key(t)
		secrets = append(secrets, s)
	}
	for _, s := range secrets {
		f.verifier.Verify(t.Context(), s, nil)
	}
	// Every key is looked up once; a second pass finds at most `size` of them cached.
	before := f.store.lookups.Load()
	for _, s := range secrets {
		f.verifier.Verify(t.Context(), s, nil)
	}
	if hits := int64(len(secrets)) - (f.store.lookups.Load() - before); hits > size {
		t.Errorf("the second pass found %d keys cached, more than the cache size %d", hits, size)
	}
}

func TestLastUsedIsBatched(t *testing.T) {
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	k, secret := f.key(t)
	for range 50 {
		f.verifier.Verify(ctx, secret, nil)
	}
	got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt != nil {
		t.Errorf("last_used_at written before a flush: the hot path must not write")
	}
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = f.store.Key(ctx, f.owner.AccountID, k.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock()) {
		t.Errorf("last_used_at = %v after flush, want %v", got.LastUsedAt, f.clock())
	}
}

func TestFlushLoopRuns(t *testing.T) {
	f := newFixture(t, verify.Config{FlushInterval: 10 * time.Millisecond})
	ctx := t.Context()
	k, secret := f.key(t)
	f.verifier.Verify(ctx, secret, nil)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the flush loop did not write last_used_at within 10s")
}

// BenchmarkVerify measures a warm verification: parse, hash, cache hit, checks. It runs in
// parallel over 1000 keys, as a server verifying many clients' keys would.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, verify.Config{})
	ctx := context.Background()
	secrets := make([]string, 1000)
	for i := range secrets {
		_, secrets[i] = f.key(b, "read")
		if res, err := f.verifier.Verify(ctx, secrets[i], nil); err != nil || !res.Valid {
			b.Fatalf("warm-up: %v %v", res.Code, err)
		}
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 7919)
		for pb.Next() {
			res, err := f.verifier.Verify(ctx, secrets[i%len(secrets)], nil)
			if err != nil || !res.Valid {
				panic(fmt.Sprintf("verify: %v %v", res.Code, err))
			}
			i++
		}
	})
}
