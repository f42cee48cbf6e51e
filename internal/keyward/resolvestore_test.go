package keyward_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
)

// countingResolverStore counts the reads that reach the store, by method. When blockRole is
// set, a Role read tells started and then waits for release before it reads.
type countingResolverStore struct {
	keyward.ResolverStore
	mu    sync.Mutex
	calls map[string]int
	fail  error // when set, every counted read returns it

	blockRole         atomic.Bool
	started, released chan struct{}
}

func (s *countingResolverStore) count(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	return s.fail
}

func (s *countingResolverStore) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func (s *countingResolverStore) Account(ctx context.Context, id string) (*keyward.Account, error) {
	if err := s.count("Account"); err != nil {
		return nil, err
	}
	return s.ResolverStore.Account(ctx, id)
}

func (s *countingResolverStore) RateLimitTier(ctx context.Context, accountID, name string) (*keyward.RateLimitTier, error) {
	if err := s.count("RateLimitTier"); err != nil {
		return nil, err
	}
	return s.ResolverStore.RateLimitTier(ctx, accountID, name)
}

func (s *countingResolverStore) Role(ctx context.Context, accountID, id string) (*keyward.Role, error) {
	if err := s.count("Role"); err != nil {
		return nil, err
	}
	if s.blockRole.Load() {
		s.started <- struct{}{}
		<-s.released
	}
	return s.ResolverStore.Role(ctx, accountID, id)
}

func (s *countingResolverStore) Project(ctx context.Context, accountID, id string) (*keyward.Project, error) {
	if err := s.count("Project"); err != nil {
		return nil, err
	}
	return s.ResolverStore.Project(ctx, accountID, id)
}

func (s *countingResolverStore) User(ctx context.Context, accountID, id string) (*keyward.User, error) {
	if err := s.count("User"); err != nil {
		return nil, err
	}
	return s.ResolverStore.User(ctx, accountID, id)
}

func (s *countingResolverStore) ListMemberships(ctx context.Context, f keyward.MembershipFilter) ([]*keyward.Membership, error) {
	if err := s.count("ListMemberships"); err != nil {
		return nil, err
	}
	return s.ResolverStore.ListMemberships(ctx, f)
}

// memoFixture is an account with a project, a custom role and a user who is a member of
// the project, in a real SQLite store, read through a memo whose clock the test moves.
type memoFixture struct {
	store   *countingResolverStore
	memo    *keyward.CachingResolverStore
	now     time.Time
	account *keyward.Account
	project *keyward.Project
	role    *keyward.Role
	user    *keyward.User
	unknown string // an id of no role
}

const memoTTL = time.Second

func newMemoFixture(t *testing.T) *memoFixture {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &memoFixture{store: &countingResolverStore{ResolverStore: db, calls: map[string]int{}}, now: now, unknown: keyward.NewID()}
	f.memo = keyward.NewCachingResolverStore(f.store, memoTTL, func() time.Time { return f.now })
	f.account = &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "kw", CreatedAt: now}
	f.project = &keyward.Project{ID: keyward.NewID(), AccountID: f.account.ID, Name: "p", KeyPrefix: "kw", CreatedAt: now}
	f.role = &keyward.Role{ID: keyward.NewID(), AccountID: f.account.ID, Name: "Reader", Slug: "reader",
		Permissions: keyward.Permissions{"api_keys.read"}, CreatedAt: now}
	f.user = &keyward.User{ID: keyward.NewID(), AccountID: f.account.ID, Email: "ada@example.com", CreatedAt: now}
	for _, create := range []func() error{
		func() error { return db.CreateAccount(ctx, f.account) },
		func() error { return db.CreateProject(ctx, f.project) },
		func() error { return db.CreateRole(ctx, f.role) },
		func() error { return db.CreateUser(ctx, f.user) },
		func() error {
			return db.CreateMembership(ctx, &keyward.Membership{ID: keyward.NewID(), AccountID: f.account.ID,
				ProjectID: f.project.ID, UserID: f.user.ID, RoleID: f.role.ID, CreatedAt: now})
		},
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// readAll makes each read the memo remembers once, and fails on an unexpected answer.
func (f *memoFixture) readAll(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	if a, err := f.memo.Account(ctx, f.account.ID); err != nil || a.ID != f.account.ID {
		t.Fatalf("Account = %v, %v", a, err)
	}
	if _, err := f.memo.RateLimitTier(ctx, f.account.ID, keyward.TierStandard); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Fatalf("RateLimitTier of a tier the account has not stored: err = %v, want ENotFound", err)
	}
	if r, err := f.memo.Role(ctx, f.account.ID, f.role.ID); err != nil || r.ID != f.role.ID {
		t.Fatalf("Role = %v, %v", r, err)
	}
	if _, err := f.memo.Role(ctx, f.account.ID, f.unknown); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Fatalf("Role of an unknown id: err = %v, want ENotFound", err)
	}
	if p, err := f.memo.Project(ctx, f.account.ID, f.project.ID); err != nil || p.ID != f.project.ID {
		t.Fatalf("Project = %v, %v", p, err)
	}
	if u, err := f.memo.User(ctx, f.account.ID, f.user.ID); err != nil || u.ID != f.user.ID {
		t.Fatalf("User = %v, %v", u, err)
	}
	ms, err := f.memo.ListMemberships(ctx, keyward.MembershipFilter{AccountID: f.account.ID, UserID: f.user.ID})
	if err != nil || len(ms) != 1 || ms[0].RoleID != f.role.ID {
		t.Fatalf("ListMemberships of the user = %v, %v", ms, err)
	}
}

// TestCachingResolverStoreRemembers: within the TTL every read is answered from memory,
// ENotFound included; after it, or after IdentityChanged, each reaches the store again.
func TestCachingResolverStoreRemembers(t *testing.T) {
	f := newMemoFixture(t)
	const reads = 7 // readAll's
	f.readAll(t)
	if got := f.store.total(); got != reads {
		t.Fatalf("the first reads reached the store %d times, want %d: %v", got, reads, f.store.calls)
	}
	f.now = f.now.Add(memoTTL - time.Nanosecond)
	f.readAll(t)
	if got := f.store.total(); got != reads {
		t.Errorf("the same reads within the TTL reached the store %d times in all, want still %d: %v", got, reads, f.store.calls)
	}

	f.now = f.now.Add(time.Nanosecond)
	f.readAll(t)
	if got := f.store.total(); got != 2*reads {
		t.Errorf("the reads at the TTL reached the store %d times in all, want %d", got, 2*reads)
	}

	f.memo.IdentityChanged(t.Context(), f.account.ID)
	f.readAll(t)
	if got := f.store.total(); got != 3*reads {
		t.Errorf("the reads after IdentityChanged reached the store %d times in all, want %d", got, 3*reads)
	}
}

// TestCachingResolverStorePassesOther: a membership listing other than a user's whole, and a
// failed read, are not remembered.
func TestCachingResolverStorePassesOther(t *testing.T) {
	f := newMemoFixture(t)
	ctx := t.Context()
	for range 2 {
		if _, err := f.memo.ListMemberships(ctx, keyward.MembershipFilter{AccountID: f.account.ID, ProjectID: f.project.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.store.calls["ListMemberships"]; got != 2 {
		t.Errorf("two listings of a project's members reached the store %d times, want 2", got)
	}

	away := keyward.Errorf(keyward.EUnavailable, "the store is away")
	f.store.fail = away
	if _, err := f.memo.Account(ctx, f.account.ID); !errors.Is(err, away) {
		t.Fatalf("Account with the store away: err = %v, want %v", err, away)
	}
	f.store.fail = nil
	if a, err := f.memo.Account(ctx, f.account.ID); err != nil || a.ID != f.account.ID {
		t.Errorf("Account once the store is back = %v, %v; want the account, not the remembered failure", a, err)
	}
	if got := f.store.calls["Account"]; got != 2 {
		t.Errorf("Account reached the store %d times, want 2", got)
	}
}

// TestCachingResolverStoreRace: a read that began before IdentityChanged answers its caller
// but is not remembered, so that the next read sees the change.
func TestCachingResolverStoreRace(t *testing.T) {
	f := newMemoFixture(t)
	ctx := t.Context()
	f.store.started, f.store.released = make(chan struct{}), make(chan struct{})
	f.store.blockRole.Store(true)
	done := make(chan error)
	go func() {
		_, err := f.memo.Role(ctx, f.account.ID, f.role.ID)
		done <- err
	}()
	<-f.store.started // the read is under way, with the role as it was
	f.memo.IdentityChanged(ctx, f.account.ID)
	f.store.blockRole.Store(false)
	close(f.store.released)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := f.memo.Role(ctx, f.account.ID, f.role.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.store.calls["Role"]; got != 2 {
		t.Errorf("Role reached the store %d times, want 2: the read that raced IdentityChanged must not be remembered", got)
	}
}

// TestCachingResolverStoreMissOfPlainKey: once a key of an account is resolved, a cache miss
// of another plain key of the account (no role, accesses or user of its own) reads nothing
// through the memo: the key's own read is all it costs.
func TestCachingResolverStoreMissOfPlainKey(t *testing.T) {
	f := newMemoFixture(t)
	ctx := t.Context()
	r := keyward.NewResolver(f.memo)
	resolve := func(k *keyward.Key) {
		t.Helper()
		if _, err := r.ResolveIdentity(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ResolveLimits(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	plain := func() *keyward.Key {
		return &keyward.Key{ID: keyward.NewID(), AccountID: f.account.ID, ProjectID: f.project.ID, RateLimitTier: keyward.TierStandard}
	}
	resolve(plain())
	before := f.store.total()
	resolve(plain())
	if got := f.store.total(); got != before {
		t.Errorf("resolving a second plain key reached the store %d times, want none: %v", got-before, f.store.calls)
	}

	// A user's key: the second key of the same user reads nothing either.
	users := func() *keyward.Key {
		k := plain()
		k.UserID, k.RoleID = f.user.ID, f.role.ID
		return k
	}
	resolve(users())
	before = f.store.total()
	id, err := r.ResolveIdentity(ctx, users())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.store.total(); got != before {
		t.Errorf("resolving a second key of the user reached the store %d times, want none: %v", got-before, f.store.calls)
	}
	if id.User == nil || id.User.ID != f.user.ID || id.Role == nil || id.Role.ID != f.role.ID {
		t.Errorf("the second key's identity = %+v, want the user and the role", id)
	}
}
