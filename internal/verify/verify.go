// Package verify is Keyward's hot path: it turns a presented key string into a verdict.
//
// The order is fixed: parse and checksum (garbage costs no lookup), keyed hash, cache, store
// on a miss, then the key's rules (revoked, expired, scopes). The cache holds immutable key
// snapshots and is invalidated by the service's key events; entries also age out after a TTL,
// so that a change made behind this process's back (another process, a restore) cannot be
// served stale forever. Concurrent misses for one hash share a single store lookup.
// Successful uses are recorded off the hot path and written in batches.
//
// A warm verification takes no lock but a shard's read lock and allocates nothing.
package verify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
)

// Result is the outcome of one verification. Key and Identity are set whenever the key was
// found, so that a caller can say which key was revoked or expired and whom it stands for;
// they are shared snapshots and must not be modified.
type Result struct {
	Valid    bool
	Code     keyward.VerifyCode
	Key      *keyward.Key
	Identity *keyward.Identity
}

// Requirements are what a verification asks of a key beyond being live.
type Requirements struct {
	// Scopes must all be among the key's scopes, else INSUFFICIENT_SCOPE.
	Scopes []string
	// Permissions must be satisfied by the key's effective permissions, else
	// INSUFFICIENT_PERMISSIONS.
	Permissions keyward.PermissionQuery
}

// Resolver resolves what a found key stands for; keyward.Service is one.
type Resolver interface {
	ResolveIdentity(ctx context.Context, k *keyward.Key) (*keyward.Identity, error)
}

// snapshot is what the cache holds for a key: the key and its resolved identity, which do not
// change, and the key's latest use not yet written, which the use log manages.
type snapshot struct {
	key      *keyward.Key
	identity *keyward.Identity

	lastUsed atomic.Int64 // Unix nanoseconds, neverUsed at first; only rises
	written  atomic.Int64 // the last-used time the store holds, as far as this node knows
	dirty    atomic.Bool  // on a use log list, awaiting a flush
	next     *snapshot    // the next on that list; see useLog.record
	stripe   uint8        // which list
}

// newSnapshot is the cache entry for k, stored under sum, not used yet.
func newSnapshot(k *keyward.Key, sum [32]byte) *snapshot {
	snap := &snapshot{key: k, stripe: sum[1]}
	snap.lastUsed.Store(neverUsed)
	written := int64(neverUsed)
	if k.LastUsedAt != nil {
		written = k.LastUsedAt.UnixNano()
	}
	snap.written.Store(written)
	return snap
}

// Config tunes a Verifier. Zero values take the defaults.
type Config struct {
	// CacheSize bounds how many found keys are cached (default 1 000 000). An entry costs
	// about 200 bytes beside the key and identity it holds; the memory grows with use and
	// is not reserved up front.
	CacheSize int
	// NegativeCacheSize bounds how many unknown hashes are remembered (default 10 000).
	NegativeCacheSize int
	// TTL is how long a cached key is trusted without re-reading it (default 30 s).
	TTL time.Duration
	// NegativeTTL is how long an unknown hash is remembered (default 5 s). It is short
	// because a miss is cheap to repeat and an import of keys should show up promptly.
	NegativeTTL time.Duration
	// FlushInterval is how often last-used times are written (default 1 s).
	FlushInterval time.Duration
	// LastUsedResolution is how far a key's last use must have moved past the last-used
	// time in the store before it is written again (default 0: every flush writes every
	// key used since the last). With many nodes and many active keys, each node writing
	// every key it saw each second is most of the database's work; a minute's resolution
	// divides that by sixty, and last_used_at lags the last use by at most that much.
	LastUsedResolution time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Logger receives flush failures (default slog.Default()).
	Logger *slog.Logger
}

// Verifier verifies keys. It is safe for concurrent use; Close flushes what it recorded.
type Verifier struct {
	store    keyward.KeyStore
	hasher   *keyformat.Hasher
	now      func() time.Time
	log      *slog.Logger
	resolver Resolver

	cache    *cache[*snapshot]
	negative *cache[struct{}]
	uses     useLog

	// flights are the store lookups in progress, by hash.
	flightMu sync.Mutex
	flights  map[[32]byte]*flight

	// flushMu makes flushes (the loop's, Close's, a caller's) take turns, so that two never
	// split one batch between them and race to write it.
	flushMu sync.Mutex
	stop    chan struct{}
	done    chan struct{}
}

// flight is one store lookup (and identity resolution) in progress. Verifications that miss
// on the same hash meanwhile wait for it instead of each asking the store.
type flight struct {
	// gen is the cache generation the lookup started in. A verification that begins after
	// an invalidation does not join a lookup from before it, whose answer may be stale.
	gen     uint64
	waiters int // guarded by flightMu; for tests
	done    chan struct{}

	// Set before done is closed.
	snap *snapshot // nil when no key has the hash
	err  error
	// abandoned: the lookup failed because its own caller gave up (context canceled or
	// past its deadline). Waiters whose own context is live try again.
	abandoned bool
}

// errLookupPanicked is what waiters receive when the lookup they waited on panicked.
var errLookupPanicked = errors.New("verify: key lookup panicked")

// New returns a Verifier reading keys from store, and starts its flush loop.
func New(store keyward.KeyStore, hasher *keyformat.Hasher, cfg Config) *Verifier {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1_000_000
	}
	if cfg.NegativeCacheSize <= 0 {
		cfg.NegativeCacheSize = 10_000
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Verifier{
		store:    store,
		hasher:   hasher,
		now:      cfg.Now,
		log:      cfg.Logger,
		cache:    newCache[*snapshot](cfg.CacheSize, cfg.TTL),
		negative: newCache[struct{}](cfg.NegativeCacheSize, cfg.NegativeTTL),
		flights:  make(map[[32]byte]*flight),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	v.uses.resolution = max(cfg.LastUsedResolution.Nanoseconds(), 0)
	go v.flushLoop(cfg.FlushInterval)
	return v
}

// Verify checks secret and, when required, that the key holds every scope in
// requiredScopes. The error is non-nil only when the store could not be read; the verdict is
// then unknown and the caller must fail closed.
func (v *Verifier) Verify(ctx context.Context, secret string, requiredScopes []string) (Result, error) {
	return v.Check(ctx, secret, Requirements{Scopes: requiredScopes})
}

// Check verifies secret against req. The checks run in a fixed order: revoked, expired, the
// key's user disabled, scopes, permissions. The error is non-nil only when the store could
// not be read; the verdict is then unknown and the caller must fail closed.
func (v *Verifier) Check(ctx context.Context, secret string, req Requirements) (Result, error) {
	if _, err := keyformat.Parse(secret); err != nil {
		return Result{Code: keyward.VerifyMalformed}, nil
	}
	now := v.now()
	snap, err := v.lookup(ctx, secret, now)
	if err != nil {
		return Result{}, err
	}
	if snap == nil {
		return Result{Code: keyward.VerifyNotFound}, nil
	}
	k, id := snap.key, snap.identity
	code := k.Verdict(now, id, req.Scopes, req.Permissions)
	if code == keyward.VerifyValid {
		v.uses.record(snap, now)
	}
	return Result{Valid: code == keyward.VerifyValid, Code: code, Key: k, Identity: id}, nil
}

// lookup finds the key stored under secret's hash, trying each server secret version, and
// returns nil when there is none.
func (v *Verifier) lookup(ctx context.Context, secret string, now time.Time) (*snapshot, error) {
	for _, version := range v.hasher.Versions() {
		sum, _ := v.hasher.HashVersion(version, secret)
		if snap, ok := v.cache.get(sum, now); ok {
			return snap, nil
		}
		if _, ok := v.negative.get(sum, now); ok {
			continue
		}
		snap, err := v.fetch(ctx, sum, now)
		if err != nil {
			return nil, err
		}
		if snap != nil {
			return snap, nil
		}
	}
	return nil, nil
}

// fetch reads the key stored under sum and resolves its identity, or waits for a lookup of
// sum already in progress, and caches the answer. It returns nil when no key has the hash.
func (v *Verifier) fetch(ctx context.Context, sum [32]byte, now time.Time) (*snapshot, error) {
	for {
		gen := v.cache.generation()
		v.flightMu.Lock()
		f := v.flights[sum]
		if f == nil || f.gen != gen {
			// No lookup to join, or only one that an invalidation may have overtaken: start
			// one, taking over the hash so that later misses join this one.
			f = &flight{gen: gen, done: make(chan struct{}), err: errLookupPanicked}
			v.flights[sum] = f
			v.flightMu.Unlock()
			v.fly(ctx, sum, f, now)
			return f.snap, f.err
		}
		f.waiters++
		v.flightMu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.abandoned && ctx.Err() == nil {
			continue
		}
		return f.snap, f.err
	}
}

// fly runs the lookup f stands for and sets its outcome. No lock is held while it reads:
// waiters block on f.done alone.
func (v *Verifier) fly(ctx context.Context, sum [32]byte, f *flight, now time.Time) {
	defer func() {
		v.flightMu.Lock()
		if v.flights[sum] == f {
			delete(v.flights, sum)
		}
		v.flightMu.Unlock()
		close(f.done)
	}()
	fail := func(err error) {
		f.err = err
		f.abandoned = ctx.Err() != nil
	}
	k, err := v.store.KeyByHash(ctx, sum[:])
	switch {
	case keyward.ErrorCode(err) == keyward.ENotFound:
		v.negative.put(sum, struct{}{}, now)
		f.snap, f.err = nil, nil
		return
	case err != nil:
		fail(err)
		return
	}
	snap := newSnapshot(k, sum)
	if v.resolver != nil {
		if snap.identity, err = v.resolver.ResolveIdentity(ctx, k); err != nil {
			fail(err)
			return
		}
	}
	// If an invalidation came after the lookup began, what it read may predate the change:
	// it answers this verification and those that began with it, but is not cached.
	v.cache.putIfGen(sum, snap, now, f.gen)
	f.snap, f.err = snap, nil
}

// SetResolver sets what resolves the identities of found keys. Without one, results carry
// no identity and every permission query fails. It must be called before the first Check:
// the resolver (the service) and the verifier (its cache events) are built from each other.
func (v *Verifier) SetResolver(r Resolver) { v.resolver = r }

// KeyChanged drops k from the cache, so that the next verification reads it afresh. It
// implements keyward.KeyEvents.
func (v *Verifier) KeyChanged(_ context.Context, k *keyward.Key) {
	if len(k.Hash) != 32 {
		return
	}
	v.cache.delete([32]byte(k.Hash))
}

// IdentityChanged drops every cached key, because a change to a user, role or membership may
// change what any of them stands for. Such changes are rare next to verifications. It
// implements keyward.IdentityEvents.
func (v *Verifier) IdentityChanged(context.Context, string) {
	v.cache.clear()
}

// Flush writes the last-used times recorded since the previous flush.
func (v *Verifier) Flush(ctx context.Context) error {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	uses := v.uses.drain()
	if len(uses) == 0 {
		return nil
	}
	if err := v.store.TouchKeys(ctx, uses); err != nil {
		// Put them back: a later flush may succeed, and losing last-used times silently
		// would make a key look idle that is not.
		v.uses.keep(uses)
		return err
	}
	return nil
}

func (v *Verifier) flushLoop(every time.Duration) {
	defer close(v.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := v.Flush(ctx); err != nil {
				v.log.Warn("verify: could not record key use", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the flush loop and writes what is left.
func (v *Verifier) Close(ctx context.Context) error {
	select {
	case <-v.stop:
		return errors.New("verify: already closed")
	default:
	}
	close(v.stop)
	<-v.done
	return v.Flush(ctx)
}
