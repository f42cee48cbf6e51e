// Package verify is Keyward's hot path: it turns a presented key string into a verdict.
//
// The order is fixed: parse and checksum (garbage costs no lookup), keyed hash, cache, store
// on a miss, then the key's rules (revoked, expired, scopes). The cache holds immutable key
// snapshots and is invalidated by the service's key events; entries also age out after a TTL,
// so that a change made behind this process's back (another process, a restore) cannot be
// served stale forever. Successful uses are recorded off the hot path and written in batches.
package verify

import (
	"context"
	"errors"
	"log/slog"
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

// snapshot is what the cache holds for a key: the key and its resolved identity.
type snapshot struct {
	key      *keyward.Key
	identity *keyward.Identity
}

// Config tunes a Verifier. Zero values take the defaults.
type Config struct {
	// CacheSize bounds how many found keys are cached (default 100 000).
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

	// gen counts invalidations: a lookup that raced with one does not cache what it read,
	// which may be from before the change.
	gen      atomic.Uint64
	cache    *cache[snapshot]
	negative *cache[struct{}]
	uses     *useRecorder

	stop chan struct{}
	done chan struct{}
}

// New returns a Verifier reading keys from store, and starts its flush loop.
func New(store keyward.KeyStore, hasher *keyformat.Hasher, cfg Config) *Verifier {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
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
		cache:    newCache[snapshot](cfg.CacheSize, cfg.TTL),
		negative: newCache[struct{}](cfg.NegativeCacheSize, cfg.NegativeTTL),
		uses:     newUseRecorder(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
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
	k, id := snap.key, snap.identity
	if k == nil {
		return Result{Code: keyward.VerifyNotFound}, nil
	}
	code := k.Check(now, nil)
	switch {
	case code != keyward.VerifyValid:
	case id != nil && id.UserDisabled():
		code = keyward.VerifyDisabled
	default:
		code = k.Check(now, req.Scopes)
		if code == keyward.VerifyValid && !req.Permissions.IsZero() && (id == nil || !req.Permissions.Eval(id.Permissions)) {
			code = keyward.VerifyInsufficientPermissions
		}
	}
	if code == keyward.VerifyValid {
		v.uses.record(k.ID, now)
	}
	return Result{Valid: code == keyward.VerifyValid, Code: code, Key: k, Identity: id}, nil
}

// lookup finds the key stored under secret's hash, trying each server secret version, and
// returns a zero snapshot when there is none.
func (v *Verifier) lookup(ctx context.Context, secret string, now time.Time) (snapshot, error) {
	for _, version := range v.hasher.Versions() {
		sum, _ := v.hasher.HashVersion(version, secret)
		if snap, ok := v.cache.get(sum, now); ok {
			return snap, nil
		}
		if _, ok := v.negative.get(sum, now); ok {
			continue
		}
		gen := v.gen.Load()
		k, err := v.store.KeyByHash(ctx, sum[:])
		switch {
		case keyward.ErrorCode(err) == keyward.ENotFound:
			v.negative.put(sum, struct{}{}, now)
			continue
		case err != nil:
			return snapshot{}, err
		}
		snap := snapshot{key: k}
		if v.resolver != nil {
			if snap.identity, err = v.resolver.ResolveIdentity(ctx, k); err != nil {
				return snapshot{}, err
			}
		}
		if v.gen.Load() == gen {
			v.cache.put(sum, snap, now)
		}
		return snap, nil
	}
	return snapshot{}, nil
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
	v.gen.Add(1)
	v.cache.delete([32]byte(k.Hash))
}

// IdentityChanged drops every cached key, because a change to a user, role or membership may
// change what any of them stands for. Such changes are rare next to verifications. It
// implements keyward.IdentityEvents.
func (v *Verifier) IdentityChanged(context.Context, string) {
	v.gen.Add(1)
	v.cache.clear()
}

// Flush writes the last-used times recorded since the previous flush.
func (v *Verifier) Flush(ctx context.Context) error {
	uses := v.uses.drain()
	if len(uses) == 0 {
		return nil
	}
	if err := v.store.TouchKeys(ctx, uses); err != nil {
		// Put them back: a later flush may succeed, and losing last-used times silently
		// would make a key look idle that is not.
		for _, u := range uses {
			v.uses.record(u.KeyID, u.At)
		}
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
