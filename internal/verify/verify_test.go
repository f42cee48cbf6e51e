package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
)

// countingStore counts KeyByHash calls on a real store, to see what the cache saves. It can
// also hold lookups at a gate and fail TouchKeys.
type countingStore struct {
	keyward.Store
	lookups atomic.Int64
	gate    atomic.Pointer[gate]
	// touchErr, when set, is what TouchKeys returns instead of writing.
	touchErr atomic.Pointer[error]
	// lookupErr, when set, is what KeyByHash returns instead of reading: the store away.
	lookupErr atomic.Pointer[error]
	// addUsage counts AddUsage calls that wrote; addUsageErr, when set, is what AddUsage
	// returns instead of writing.
	addUsage    atomic.Int64
	addUsageErr atomic.Pointer[error]
}

// gate holds every KeyByHash call, after it has read the store, until release is closed:
// it lets a test line up concurrent misses, or keep a read from before a change in flight.
type gate struct {
	once    sync.Once
	entered chan struct{} // closed when the first call reaches the gate
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (s *countingStore) KeyByHash(ctx context.Context, hash []byte) (*keyward.Key, error) {
	s.lookups.Add(1)
	if err := s.lookupErr.Load(); err != nil {
		return nil, *err
	}
	k, err := s.Store.KeyByHash(ctx, hash)
	if g := s.gate.Load(); g != nil {
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	return k, err
}

func (s *countingStore) TouchKeys(ctx context.Context, uses []keyward.KeyUse) error {
	if err := s.touchErr.Load(); err != nil {
		return *err
	}
	return s.Store.TouchKeys(ctx, uses)
}

func (s *countingStore) AddUsage(ctx context.Context, counts []keyward.UsageCount) error {
	if err := s.addUsageErr.Load(); err != nil {
		return *err
	}
	s.addUsage.Add(1)
	return s.Store.AddUsage(ctx, counts)
}

type fixture struct {
	tb    testing.TB
	store *countingStore
	svc   *keyward.Service
	// quiet is a service on the same store that tells the verifier nothing: a change made
	// behind its back, as by another process whose notice was lost.
	quiet    *keyward.Service
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

// memoResolver, as a fixture's Config.Resolver, asks for serve's resolver: reads of what keys
// share (accounts, tiers, roles) remembered for a second.
var memoResolver verify.Resolver = &keyward.Resolver{}

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
	f := &fixture{tb: tb, store: &countingStore{Store: inner}}
	f.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg.Now = f.clock
	// Keys resolve through the store the service writes to, as in serve (which puts its
	// one-second memo in between: a test wanting that passes memoResolver).
	if cfg.Resolver == memoResolver {
		cfg.Resolver = keyward.NewResolver(keyward.NewCachingResolverStore(f.store, keyward.DefaultResolverMemoTTL, f.clock))
	} else {
		cfg.Resolver = keyward.NewResolver(f.store)
	}
	f.verifier = verify.New(f.store, hasher, cfg)
	f.svc = keyward.NewService(f.store, hasher, keyward.WithClock(f.clock), keyward.WithKeyEvents(f.verifier))
	f.quiet = keyward.NewService(f.store, hasher, keyward.WithClock(f.clock))
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
	garbage := mistype(secret)
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
			res, err := f.verifier.Check(ctx, tt.secret, verify.Requirements{Scopes: tt.scopes})
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
		if _, err := f.verifier.Check(t.Context(), s, verify.Requirements{}); err != nil {
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
		if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{}); !res.Valid {
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
	if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{}); res.Code != keyward.VerifyRevoked {
		t.Errorf("after revoke = %s, want REVOKED", res.Code)
	}

	// Unknown keys are remembered for NegativeTTL, then asked again.
	unknown, _ := keyformat.Generate("kw")
	before := f.store.lookups.Load()
	for range 10 {
		f.verifier.Check(ctx, unknown.Raw, verify.Requirements{})
	}
	if n := f.store.lookups.Load() - before; n != 1 {
		t.Errorf("10 verifications of an unknown key took %d lookups, want 1", n)
	}
	f.advance(2 * time.Second)
	f.verifier.Check(ctx, unknown.Raw, verify.Requirements{})
	if n := f.store.lookups.Load() - before; n != 2 {
		t.Errorf("after the negative TTL: %d lookups, want 2", n)
	}
}

func TestCacheEntriesAgeOut(t *testing.T) {
	f := newFixture(t, verify.Config{TTL: 10 * time.Second})
	_, secret := f.key(t)
	f.verifier.Check(t.Context(), secret, verify.Requirements{})
	f.advance(11 * time.Second)
	f.verifier.Check(t.Context(), secret, verify.Requirements{})
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
		f.verifier.Check(t.Context(), s, verify.Requirements{})
	}
	// Every key is looked up once; a second pass finds at most `size` of them cached.
	before := f.store.lookups.Load()
	for _, s := range secrets {
		f.verifier.Check(t.Context(), s, verify.Requirements{})
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
		f.verifier.Check(ctx, secret, verify.Requirements{})
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

// TestConcurrentMissesShareOneLookup checks that verifications missing the cache on the same
// hash at once ask the store once between them, for a key that exists and one that does not.
func TestConcurrentMissesShareOneLookup(t *testing.T) {
	const n = 50
	f := newFixture(t, verify.Config{})
	k, issued := f.key(t)
	never, _ := keyformat.Generate("kw")
	tests := []struct {
		name   string
		secret string
		want   keyward.VerifyCode
	}{
		{"issued", issued, keyward.VerifyValid},
		{"never issued", never.Raw, keyward.VerifyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			f.store.gate.Store(g)
			defer f.store.gate.Store(nil)
			before := f.store.lookups.Load()
			results := make([]verify.Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i], errs[i] = f.verifier.Check(t.Context(), tt.secret, verify.Requirements{}) })
			}
			// Hold the lookup until every verification has either joined it or (were misses
			// not shared) started its own, then let them all finish.
			for verify.Waiting(f.verifier)+int(f.store.lookups.Load()-before) < n {
				time.Sleep(time.Millisecond)
			}
			close(g.release)
			wg.Wait()
			if got := f.store.lookups.Load() - before; got != 1 {
				t.Errorf("%d concurrent misses took %d store lookups, want 1", n, got)
			}
			for i := range n {
				if errs[i] != nil || results[i].Code != tt.want {
					t.Fatalf("verification %d: got %s %v, want %s", i, results[i].Code, errs[i], tt.want)
				}
				if tt.want == keyward.VerifyValid && results[i].Key.ID != k.ID {
					t.Fatalf("verification %d: got key %s, want %s", i, results[i].Key.ID, k.ID)
				}
			}
		})
	}
}

// TestLookupRacingRevocation checks that a store read from before a revocation, still in
// flight when the revocation lands, is neither shared with verifications that begin after it
// nor cached.
func TestLookupRacingRevocation(t *testing.T) {
	f := newFixture(t, verify.Config{TTL: time.Hour})
	ctx := t.Context()
	k, secret := f.key(t)
	g := newGate()
	f.store.gate.Store(g)
	release := sync.OnceFunc(func() { close(g.release) })
	defer release() // should the test fail while the lookup is held
	stale := make(chan verify.Result)
	go func() {
		res, _ := f.verifier.Check(ctx, secret, verify.Requirements{})
		stale <- res
	}()
	<-g.entered // the first lookup has read the key, still valid, and is held
	f.store.gate.Store(nil)
	if _, err := f.svc.RevokeKey(ctx, f.owner, k.ID); err != nil {
		t.Fatal(err)
	}
	fresh := make(chan verify.Result)
	go func() {
		res, _ := f.verifier.Check(ctx, secret, verify.Requirements{})
		fresh <- res
	}()
	// The new verification must not wait on the held lookup: should it join it, fail rather
	// than wait forever.
	for res := (verify.Result{}); res.Code == ""; {
		select {
		case res = <-fresh:
			if res.Code != keyward.VerifyRevoked {
				t.Errorf("verification begun after the revocation: got %s, want REVOKED", res.Code)
			}
		default:
			if verify.Waiting(f.verifier) > 0 {
				t.Fatal("a verification begun after the revocation waits on a lookup begun before it")
			}
			time.Sleep(time.Millisecond)
		}
	}
	release()
	<-stale
	if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || res.Code != keyward.VerifyRevoked {
		t.Errorf("after the stale lookup finished: got %s %v, want REVOKED", res.Code, err)
	}
}

// TestWarmVerifyDoesNotAllocate checks that a cache hit costs no allocation beyond the
// result, which is returned by value.
func TestWarmVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	_, secret := f.key(t, "read")
	scopes := []string{"read"}
	if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{Scopes: scopes}); !res.Valid {
		t.Fatalf("verify = %s", res.Code)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{Scopes: scopes}); !res.Valid {
			t.Fatalf("verify = %s", res.Code)
		}
	})
	if allocs != 0 {
		t.Errorf("a warm verification: got %v allocations, want 0", allocs)
	}
}

func TestLastUsedNeverGoesBack(t *testing.T) {
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	k, secret := f.key(t)
	f.advance(10 * time.Second)
	latest := f.clock()
	f.verifier.Check(ctx, secret, verify.Requirements{})
	f.advance(-5 * time.Second) // a use reported late, from a clock behind
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.advance(-1 * time.Second) // and again after the flush
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(latest) {
		t.Errorf("last_used_at = %v, want the latest use %v", got.LastUsedAt, latest)
	}
}

// TestUseOfDroppedKeyIsFlushed checks that a use is written even when the key has left the
// cache before the flush.
func TestUseOfDroppedKeyIsFlushed(t *testing.T) {
	tests := []struct {
		name string
		drop func(f *fixture, k *keyward.Key)
	}{
		{"invalidated", func(f *fixture, _ *keyward.Key) { f.verifier.IdentityChanged(context.Background(), f.owner.AccountID) }},
		{"key changed", func(f *fixture, k *keyward.Key) { f.verifier.KeyChanged(context.Background(), k) }},
		{"evicted", func(f *fixture, _ *keyward.Key) {
			for range 10 { // a cache of one key: each of these evicts the one before
				_, other := f.key(f.tb)
				f.verifier.Check(context.Background(), other, verify.Requirements{})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, verify.Config{CacheSize: 1, TTL: time.Minute})
			ctx := t.Context()
			k, secret := f.key(t)
			used := f.clock()
			if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{}); !res.Valid {
				t.Fatalf("verify = %s", res.Code)
			}
			tt.drop(f, k)
			if err := f.verifier.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
				t.Errorf("last_used_at = %v, want %v", got.LastUsedAt, used)
			}
		})
	}
}

// TestUsesRecordedDuringFlushes verifies keys from several goroutines while flushes run
// alongside, in rounds with the clock a second later each time and the cache emptied every
// other round, and checks that no use was lost: each key's last_used_at is the last round's.
func TestUsesRecordedDuringFlushes(t *testing.T) {
	const rounds, workers = 20, 4
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	keys := make([]*keyward.Key, 5)
	secrets := make([]string, len(keys))
	for i := range keys {
		keys[i], secrets[i] = f.key(t)
	}
	stop := make(chan struct{})
	var background sync.WaitGroup
	background.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if err := f.verifier.Flush(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for round := range rounds {
		f.advance(time.Second)
		if round%2 == 1 {
			// Drop the snapshots, some perhaps with uses not yet flushed.
			f.verifier.IdentityChanged(ctx, f.owner.AccountID)
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range 20 {
					for _, s := range secrets {
						if res, err := f.verifier.Check(ctx, s, verify.Requirements{}); err != nil || !res.Valid {
							t.Errorf("verify: got %s %v, want VALID", res.Code, err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
	close(stop)
	background.Wait()
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock()) {
			t.Errorf("key %s: last_used_at = %v, want %v", k.ID, got.LastUsedAt, f.clock())
		}
	}
}

func TestFailedFlushIsRetried(t *testing.T) {
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	k, secret := f.key(t)
	f.verifier.Check(ctx, secret, verify.Requirements{})
	down := errors.New("database down")
	f.store.touchErr.Store(&down)
	if err := f.verifier.Flush(ctx); !errors.Is(err, down) {
		t.Fatalf("Flush = %v, want %v", err, down)
	}
	f.store.touchErr.Store(nil)
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock()) {
		t.Errorf("last_used_at = %v after the retry, want %v", got.LastUsedAt, f.clock())
	}
}

// TestUsageIsHeldForItsPeriod: with UsageWriteEvery a minute, FlushDue writes no count until
// the minute they were taken in has ended, then all of them in one write; a failed write is
// retried by the next flush whatever its period; Flush (and so Close) writes what is held.
func TestUsageIsHeldForItsPeriod(t *testing.T) {
	f := newFixture(t, verify.Config{UsageWriteEvery: time.Minute})
	ctx := t.Context()
	k, secret := f.key(t)
	start := f.clock() // on a minute
	verifyN := func(n int) {
		t.Helper()
		for range n {
			if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || !res.Valid {
				t.Fatalf("Check = %v, %v", res.Code, err)
			}
		}
	}
	// stored is the key's stored VALID count by minute, as offsets from start.
	stored := func() map[time.Duration]int64 {
		t.Helper()
		buckets, err := f.store.Usage(ctx, keyward.UsageFilter{AccountID: f.owner.AccountID, KeyID: k.ID, Granularity: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		got := map[time.Duration]int64{}
		for _, b := range buckets {
			if b.Outcome == keyward.VerifyValid {
				got[b.Start.Sub(start)] = b.Count
			}
		}
		return got
	}
	flushDue := func() {
		t.Helper()
		if err := f.verifier.FlushDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := func(when string, writes int64, counts map[time.Duration]int64) {
		t.Helper()
		if got := stored(); fmt.Sprint(got) != fmt.Sprint(counts) {
			t.Errorf("%s: stored counts by minute = %v, want %v", when, got, counts)
		}
		if got := f.store.addUsage.Load(); got != writes {
			t.Errorf("%s: %d usage writes, want %d", when, got, writes)
		}
	}

	verifyN(3)
	flushDue()
	f.advance(30 * time.Second)
	verifyN(2)
	flushDue()
	want("within the first minute", 0, map[time.Duration]int64{})

	f.advance(31 * time.Second) // 1:01, the first minute has ended
	verifyN(1)
	flushDue()
	want("after the first minute", 1, map[time.Duration]int64{0: 5, time.Minute: 1})
	flushDue()
	want("a second flush in the same minute", 1, map[time.Duration]int64{0: 5, time.Minute: 1})

	f.advance(time.Minute) // 2:01
	verifyN(4)
	down := errors.New("database down")
	f.store.addUsageErr.Store(&down)
	if err := f.verifier.FlushDue(ctx); !errors.Is(err, down) {
		t.Fatalf("FlushDue = %v, want %v", err, down)
	}
	f.store.addUsageErr.Store(nil)
	f.advance(time.Second) // still in the third minute: the failed write is retried anyway
	flushDue()
	want("after a failed write and its retry", 2, map[time.Duration]int64{0: 5, time.Minute: 1, 2 * time.Minute: 4})

	verifyN(2)
	flushDue()
	want("held in the third minute", 2, map[time.Duration]int64{0: 5, time.Minute: 1, 2 * time.Minute: 4})
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want("after Flush", 3, map[time.Duration]int64{0: 5, time.Minute: 1, 2 * time.Minute: 6})
}

// BenchmarkVerify measures a warm verification: parse, hash, cache hit, checks. It runs in
// parallel over 1000 keys, as a server verifying many clients' keys would.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, verify.Config{})
	ctx := context.Background()
	secrets := make([]string, 1000)
	for i := range secrets {
		_, secrets[i] = f.key(b, "read")
		if res, err := f.verifier.Check(ctx, secrets[i], verify.Requirements{}); err != nil || !res.Valid {
			b.Fatalf("warm-up: %v %v", res.Code, err)
		}
	}
	benchVerify(b, f, secrets)
}

// benchVerify verifies secrets round robin from every parallel goroutine, each starting
// elsewhere in the list, and fails on any verdict but VALID.
func benchVerify(b *testing.B, f *fixture, secrets []string) {
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 7919)
		for pb.Next() {
			res, err := f.verifier.Check(ctx, secrets[i%len(secrets)], verify.Requirements{})
			if err != nil || !res.Valid {
				panic(fmt.Sprintf("verify: %v %v", res.Code, err))
			}
			i++
		}
	})
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkVerifyCacheScale measures warm verification with the cache holding 1 000 keys and
// with it holding a million (and, with KEYWARD_BENCH_10M=1, ten million: about 5 GB), each
// verification picking a key anywhere in the cache, so that a large cache pays its CPU cache
// misses. The keys are put in the cache directly (Prime): this measures the hot path's
// scaling, not a store holding that many keys.
//
// Picking a secret at random among a million is itself two cache misses (the string's
// header, then its bytes) that a server does not pay: the secret it checks has just been
// read from the request. Each size's "secret-only" case runs the same loop with only
// keyformat.Parse, which reads every byte of the secret, so that what the hit itself costs
// is the difference.
func BenchmarkVerifyCacheScale(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	if os.Getenv("KEYWARD_BENCH_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		secrets := make([]string, n)
		for i := range secrets {
			g, err := keyformat.Generate("kw")
			if err != nil {
				b.Fatal(err)
			}
			secrets[i] = g.Raw
		}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			// Twice the keys: shards fill unevenly, and an evicted key would go to the (empty) store.
			f := newFixture(b, verify.Config{CacheSize: 2 * n, TTL: time.Hour})
			before := heapInUse()
			project, account := keyward.NewID(), keyward.NewID()
			for _, secret := range secrets {
				// What a stored key holds, field by field, at typical sizes.
				verify.Prime(f.verifier, secret, &keyward.Key{
					ID: keyward.NewID(), AccountID: account, ProjectID: project, Name: "production backend",
					Prefix: "kw_17d70fcf", Last4: secret[len(secret)-4:], Hash: make([]byte, 32), HashScheme: "hmac-sha256:1",
					Scopes: []string{"read"}, RateLimitTier: keyward.TierStandard, CreatedAt: time.Now(), CreatedBy: account,
				})
			}
			// The memory a cached key costs: its snapshot, the cache's node and map slot.
			perKey := float64(heapInUse()-before) / float64(n)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			eachRandomSecret(b, secrets, func(secret string) {
				res, err := f.verifier.Check(ctx, secret, verify.Requirements{})
				if err != nil || !res.Valid {
					panic(fmt.Sprintf("verify: %v %v", res.Code, err))
				}
			})
			if n >= 100_000 { // below, other garbage of the process outweighs the cache
				b.ReportMetric(perKey, "B/cached-key") // after the timer's reset, which drops metrics
			}
		})
		b.Run(fmt.Sprintf("keys=%d/secret-only", n), func(b *testing.B) {
			eachRandomSecret(b, secrets, func(secret string) {
				if _, err := keyformat.Parse(secret); err != nil {
					panic(err)
				}
			})
		})
	}
}

// eachRandomSecret calls use, from every parallel goroutine, with secrets picked anywhere
// in the list, cheaply (xorshift), b.N times in all.
func eachRandomSecret(b *testing.B, secrets []string, use func(string)) {
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		x := next.Add(1) * 0x9E3779B97F4A7C15
		for pb.Next() {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			use(secrets[x%uint64(len(secrets))])
		}
	})
}

// TestLastUsedResolution: with a resolution of a minute, a key's uses are written once per
// minute of movement, counted from the time the store holds, also across a cache refresh
// (the new entry starts from the store's time, not from nothing).
func TestLastUsedResolution(t *testing.T) {
	f := newFixture(t, verify.Config{LastUsedResolution: time.Minute, TTL: 30 * time.Second})
	ctx := t.Context()
	k, secret := f.key(t)
	stored := func() time.Time {
		t.Helper()
		if err := f.verifier.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := f.store.Key(ctx, f.owner.AccountID, k.ID)
		if err != nil || got.LastUsedAt == nil {
			t.Fatalf("Key = %v, %v; want a last_used_at", got, err)
		}
		return *got.LastUsedAt
	}
	first := f.clock()
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if got := stored(); !got.Equal(first) {
		t.Fatalf("after the first use last_used_at = %v, want %v: a first use is always written", got, first)
	}
	f.advance(20 * time.Second)
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if got := stored(); !got.Equal(first) {
		t.Errorf("20 s later last_used_at = %v, want still %v", got, first)
	}
	f.advance(20 * time.Second) // 40 s: past the TTL, so the key is read again
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if got := stored(); !got.Equal(first) {
		t.Errorf("40 s later, after a cache refresh, last_used_at = %v, want still %v", got, first)
	}
	f.advance(25 * time.Second) // 65 s
	f.verifier.Check(ctx, secret, verify.Requirements{})
	if got, want := stored(), first.Add(65*time.Second); !got.Equal(want) {
		t.Errorf("65 s later last_used_at = %v, want %v", got, want)
	}
}

// BenchmarkVerifyRateLimit measures warm verification with rate limiting off and on (the
// in-memory limiter), in one run, so that the two can be compared on a noisy machine. Both
// resolve identities; the keys' limit is high enough that every verification is allowed, so
// the "memory" case pays for a full GCRA decision each time.
func BenchmarkVerifyRateLimit(b *testing.B) {
	for _, tc := range []struct {
		name    string
		limiter ratelimit.Limiter
	}{{"off", nil}, {"memory", ratelimit.NewMemory()}} {
		if m, ok := tc.limiter.(*ratelimit.Memory); ok {
			defer m.Close()
		}
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, verify.Config{Limiter: tc.limiter})
			ctx := context.Background()
			secrets := make([]string, 1000)
			for i := range secrets {
				_, s, err := f.svc.CreateKey(ctx, f.owner, keyward.CreateKeyInput{ProjectID: f.project.ID, Name: "k",
					RateLimit: &keyward.RateLimit{Rate: 1_000_000, Period: time.Second, Burst: 1_000_000}})
				if err != nil {
					b.Fatal(err)
				}
				secrets[i] = s
				if res, err := f.verifier.Check(ctx, s, verify.Requirements{}); err != nil || !res.Valid || res.Limited != (tc.limiter != nil) {
					b.Fatalf("warm-up: %v %v limited=%v", res.Code, err, res.Limited)
				}
			}
			benchVerify(b, f, secrets)
		})
	}
}

// TestEveryCodeIsCounted: the counters by outcome have a slot for every verification code, at
// its place in keyward.VerifyCodes (a new code without one would panic on the hot path).
func TestEveryCodeIsCounted(t *testing.T) {
	for i, code := range keyward.VerifyCodes {
		if got := verify.CodeIndex(code); got != i {
			t.Errorf("code %s is counted at %d, want %d (its place in keyward.VerifyCodes)", code, got, i)
		}
	}
}

// mistype changes a key's last character, as a typo does: always to another character, so
// that the checksum always fails.
func mistype(key string) string {
	if strings.HasSuffix(key, "x") {
		return key[:len(key)-1] + "y"
	}
	return key[:len(key)-1] + "x"
}

// BenchmarkVerifyMiss measures a cache miss in process: the cache holds one key and 1 000 are
// verified round robin, so that every verification reads its key from the SQLite store and
// resolves its identity and rate limit, as the first verification of a key does in a
// server: with the in-memory limiter and the one-second memo of accounts and tiers, as
// serve has by default.
func BenchmarkVerifyMiss(b *testing.B) {
	limiter := ratelimit.NewMemory()
	defer limiter.Close()
	f := newFixture(b, verify.Config{CacheSize: 1, Limiter: limiter, Resolver: memoResolver})
	secrets := make([]string, 1000)
	for i := range secrets {
		_, secrets[i] = f.key(b, "read")
	}
	before := f.store.lookups.Load()
	benchVerify(b, f, secrets)
	b.StopTimer()
	if reads := f.store.lookups.Load() - before; reads < int64(b.N)*9/10 {
		b.Fatalf("%d store reads for %d verifications: not misses", reads, b.N)
	}
}
