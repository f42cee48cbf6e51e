// Package verify is Keyward's hot path and its one verdict on a presented credential: every
// place a caller presents an API key or one of Keyward's access tokens (the verify route,
// management authentication, OAuth client authentication, the gateway) calls Check, and
// nothing else judges a credential.
//
// For a key the order is fixed: parse and checksum (garbage costs no lookup), keyed hash, cache, store
// on a miss, then the key's rules (revoked, expired, scopes). The cache holds immutable key
// snapshots and is invalidated by the service's key events; entries also age out after a TTL,
// so that a change made behind this process's back (another process, a restore) cannot be
// served stale forever. Concurrent misses for one hash share a single store lookup.
// A key that passes those rules is then held to its rate limit (internal/ratelimit, by its
// rotation lineage) and spends its usage credits. Successful uses and the count of every
// outcome are recorded off the hot path and written in batches.
//
// An access token is verified locally (signature, expiry, deny-list; see TokenVerifier) and
// then stands for its key as the key is now: a revoked or expired key, or a disabled user,
// ends the token's use, and its permissions narrow to what the key holds now, within the
// second it takes every node's cache to hear of the change. It is held to its key's rate
// limit and spends its key's credits.
//
// A warm verification takes no lock but a shard's read lock (and, with the in-memory rate
// limiter, its bucket's) and allocates nothing.
package verify

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
)

// Result is the verdict on one presented credential. Key and Identity are set whenever the
// key was found, so that a caller can say which key was revoked or expired and whom it stands
// for; they are shared snapshots and must not be modified. The rate-limit and credit
// decisions are fields of the verdict, whatever its code.
type Result struct {
	Valid    bool
	Code     keyward.VerifyCode
	Key      *keyward.Key
	Identity *keyward.Identity
	// Token is the access token the credential was, when it was one (Key is then the key
	// it was issued to); nil for a key.
	Token *keyward.AccessToken
	// Limited: the key was held to a rate limit, and RateLimit is the decision (for the
	// answer's ratelimit field and the RateLimit headers). False when the key did not get
	// that far, or the limit could not be checked and its tier fails open.
	Limited   bool
	RateLimit ratelimit.Decision
	// Policy is the limit the key was held to, when Limited.
	Policy keyward.RateLimit
	// Credited: the key has usage credits, and CreditsRemaining is what is left of them.
	Credited         bool
	CreditsRemaining int64
	// Memo is the memo of the cache entry Key and Identity came from, nil when there was
	// none (not found, or an access token): see Memo.
	Memo *Memo
}

// Memo keeps what a caller derives from a cache entry, such as the fixed part of the verify
// route's answer, for as long as the entry lives. An entry never changes (a change to its key
// replaces it), so neither does anything derived from it: derived once, it serves every
// verification of the key until then. Whatever is stored must not be modified afterwards.
type Memo struct{ v atomic.Pointer[any] }

// Load returns what was stored, or nil.
func (m *Memo) Load() any {
	if p := m.v.Load(); p != nil {
		return *p
	}
	return nil
}

// Store keeps x. Two callers deriving at once both store; either result serves.
func (m *Memo) Store(x any) { m.v.Store(&x) }

// Requirements are what a verification asks of a key beyond being live.
type Requirements struct {
	// Scopes must all be among the key's scopes, else INSUFFICIENT_SCOPE.
	Scopes []string
	// Permissions must be satisfied by the key's effective permissions, else
	// INSUFFICIENT_PERMISSIONS.
	Permissions keyward.PermissionQuery
	// Cost is the usage credits the verification spends when the key has credits; nil
	// spends one. Zero checks that credits remain without spending any.
	Cost *int64
	// KeyOnly accepts only an API key, no access token: for OAuth client authentication,
	// where the client secret is the key itself.
	KeyOnly bool
	// ClientIP is where the request the credential came with comes from, for the key's
	// networks (FORBIDDEN outside them); the zero Addr when unknown, which a key limited to
	// some networks refuses.
	ClientIP netip.Addr
}

// Store is what a Verifier reads keys from and writes their use to.
type Store interface {
	keyward.KeyStore
	keyward.UsageStore
}

// Resolver resolves what a found key stands for; *keyward.Resolver is one.
type Resolver interface {
	ResolveIdentity(ctx context.Context, k *keyward.Key) (*keyward.Identity, error)
	// ResolveLimits returns the rate limit k is held to.
	ResolveLimits(ctx context.Context, k *keyward.Key) (keyward.KeyLimits, error)
}

// snapshot is what the cache holds for a key: the key and its resolved identity, which do not
// change, and the key's latest use not yet written, which the use log manages.
type snapshot struct {
	key      *keyward.Key
	identity *keyward.Identity

	// What a verification asking nothing of the key needs to know of key and identity,
	// taken from them when the snapshot is built (see verdict): the Key is a few hundred
	// bytes, and reading its fields would cost a warm hit several more cache lines.
	activeUntil time.Time // when the key stops being active: revoked, expired or out of grace
	plain       bool      // its user is not disabled, and no network list applies to it
	credited    bool      // it has usage credits, to be spent in the store
	imported    bool      // it still carries its import hash (Key.Imported)

	lastUsed atomic.Int64 // Unix nanoseconds, neverUsed at first; only rises
	written  atomic.Int64 // the last-used time the store holds, as far as this node knows
	dirty    atomic.Bool  // on a use log list, awaiting a flush
	next     *snapshot    // the next on that list; see useLog.record
	stripe   uint8        // which list

	// counts are the verifications of the key since the last flush, by outcome (indexed as
	// keyward.VerifyCodes); the use log writes them as usage.
	counts [numCodes]atomic.Int64

	// limit is the rate-limit request for the key, built once when there is a limiter
	// (limited), with limitSlot as its slot. Both live in the snapshot rather than in
	// objects of their own, which with many keys cached would each be one more cache miss
	// a hit.
	limited   bool
	limit     ratelimit.Request
	limitSlot ratelimit.Slot
	failMode  keyward.FailMode
	// credits is what the limiter's copy of the key's credits (Redis) last showed, for the
	// use log to write back to the store; nil when nothing new.
	credits atomic.Pointer[keyward.CreditMirror]
	// memo is what callers derive from this entry (Result.Memo).
	memo Memo
}

// farFuture is the active-until time of a key that never stops being active by itself.
var farFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// newSnapshot is the cache entry for k, to be stored under sum, not used yet, with the
// identity id (nil when unresolved). The snapshot is the node's value: built in place,
// since it holds atomics and is not to be copied.
func newSnapshot(k *keyward.Key, id *keyward.Identity, sum [32]byte) *node[snapshot] {
	n := new(node[snapshot])
	snap := &n.value
	snap.key, snap.identity, snap.stripe = k, id, sum[1]
	snap.credited, snap.imported = k.Credits != nil, k.Imported()
	snap.activeUntil = farFuture
	for _, end := range []*time.Time{k.RevokedAt, k.ExpiresAt, k.GraceExpiresAt} {
		if end != nil && end.Before(snap.activeUntil) {
			snap.activeUntil = *end
		}
	}
	allowed := k.AllowedIPs
	if id != nil {
		allowed = id.AllowedIPs
	}
	snap.plain = len(allowed) == 0 && (id == nil || !id.UserDisabled())
	snap.lastUsed.Store(neverUsed)
	written := int64(neverUsed)
	if k.LastUsedAt != nil {
		written = k.LastUsedAt.UnixNano()
	}
	snap.written.Store(written)
	return n
}

// verdict is the key's Verdict for a verification at now with req, answered from the
// snapshot's own fields when req asks nothing of the key: it is then VALID exactly when the
// key is active, its user enabled and no network list applies (see Key.Verdict's order).
func (s *snapshot) verdict(now time.Time, req *Requirements) keyward.VerifyCode {
	if s.plain && len(req.Scopes) == 0 && req.Permissions.IsZero() && now.Before(s.activeUntil) {
		return keyward.VerifyValid
	}
	return s.key.Verdict(now, s.identity, req.ClientIP, req.Scopes, req.Permissions)
}

// Config tunes a Verifier. Zero values take the defaults.
type Config struct {
	// CacheSize bounds how many found keys are cached (default 1 000 000). An entry costs
	// about 500 bytes beside the key and identity it holds (about 1 KB a key in all, for a
	// typical key: BenchmarkVerifyCacheScale); the memory grows with use and is not
	// reserved up front.
	CacheSize int
	// NegativeCacheSize bounds how many unknown hashes are remembered (default 10 000).
	NegativeCacheSize int
	// TTL is the most a cached key may be older than its last read from the store and still
	// be judged (default 10 min), outside an outage (see StaleBound). Keys are dropped at
	// once by the change events of this node and, through PostgreSQL's notices, of every
	// other: the TTL is the last line of defence against a change made behind Keyward's
	// back (a restore, a hand-made SQL update) or a notice that could not be sent.
	TTL time.Duration
	// Refresh is the age from which a cached key in use is read again in the background on
	// its next verification, which the entry still answers (stale-while-revalidate); the
	// default is a fifth of the TTL. So a key in steady use is never a synchronous miss
	// because of age, and a change the events missed reaches it within about Refresh,
	// never later than TTL. At most MaxRefreshes run at once: past that, a due key waits
	// for a later use, and one not refreshed by its TTL is read on the request path.
	Refresh time.Duration
	// StaleBound is how long after it was read from the store a cached key may still be
	// judged when the store cannot be reached (keyward.IsOutage): past its TTL, a key seen
	// less than StaleBound ago keeps verifying through a database outage, and one seen longer
	// ago, or never, is not judged at all (the caller answers 503). Zero or less serves
	// nothing stale. A change made on another node during the TTL that this node did not
	// hear of can be served for up to this long, but only while the store is away.
	StaleBound time.Duration
	// NegativeTTL is how long an unknown hash is remembered (default 5 s). It is short
	// because a miss is cheap to repeat and an import of keys should show up promptly.
	NegativeTTL time.Duration
	// LastUsedResolution is how far a key's last use must have moved past the last-used
	// time in the store before it is written again (default 0: every flush writes every
	// key used since the last). With many nodes and many active keys, each node writing
	// every key it saw each second is most of the database's work; a minute's resolution
	// divides that by sixty, and last_used_at lags the last use by at most that much.
	LastUsedResolution time.Duration
	// UsageWriteEvery is how long usage counts are summed in memory before FlushDue writes
	// them: they are written at the first flush after the end of each period of this length
	// (periods start at multiples of it: on the minute, for a minute), and at Close. Zero
	// writes them at every flush. A key in steady use then costs the store one write per
	// outcome and period, not one a flush; the price is that usage reports lag by up to a
	// period, and a crash loses up to a period of counts.
	UsageWriteEvery time.Duration
	// Limiter holds keys to their rate limits; nil turns rate limiting off. Usage credits
	// are enforced either way: by the limiter when it keeps them (Redis), else in the store.
	Limiter ratelimit.Limiter
	// Resolver resolves the identities and limits of found keys. Without one, results carry
	// no identity and every permission query fails (tests of the cache alone).
	Resolver Resolver
	// Tokens verifies Keyward's own access tokens; nil refuses every token as MALFORMED.
	Tokens TokenVerifier
	// Exhausted hears, once per key, that a key was refused for want of credits
	// (keyward.Service.KeyExhausted), for the api_key.usage_exceeded webhook; nil for none.
	Exhausted func(ctx context.Context, k *keyward.Key) error
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Logger receives flush failures (default slog.Default()).
	Logger *slog.Logger
}

// Verifier verifies keys. It is safe for concurrent use; Close flushes what it recorded.
type Verifier struct {
	store    Store
	hasher   *keyformat.Hasher
	stale    time.Duration // Config.StaleBound
	now      func() time.Time
	log      *slog.Logger
	resolver Resolver
	tokens   TokenVerifier
	limiter  ratelimit.Limiter
	stats    stats
	// imports is the imported keys' filter (see imports.go); nil until loaded.
	imports   atomic.Pointer[importFilter]
	exhausted func(ctx context.Context, k *keyward.Key) error
	notices   notices

	cache    *cache[snapshot]
	byID     *cache[snapshot] // keys read by id for LimitKey; see bykey.go
	negative *cache[struct{}]
	uses     useLog

	// flights are the store lookups in progress, by hash.
	flightMu sync.Mutex
	flights  map[[32]byte]*flight

	// flushMu makes flushes (the loop's, Close's, a caller's) take turns, so that two never
	// split one batch between them and race to write it.
	flushMu sync.Mutex
	closed  atomic.Bool

	// refreshes holds a token for each background refresh running (see refreshLater);
	// refreshing counts them, for Close to wait on.
	refreshes  chan struct{}
	refreshing sync.WaitGroup
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

// New returns a Verifier reading keys from store. Flush writes what it records; a server
// calls it every FlushEvery (internal/jobs) and Close at the end.
func New(store Store, hasher *keyformat.Hasher, cfg Config) *Verifier {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1_000_000
	}
	if cfg.NegativeCacheSize <= 0 {
		cfg.NegativeCacheSize = 10_000
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = cfg.TTL / 5
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Verifier{
		store:     store,
		hasher:    hasher,
		stale:     cfg.StaleBound,
		now:       cfg.Now,
		log:       cfg.Logger,
		cache:     newCache[snapshot](cfg.CacheSize, cfg.TTL),
		refreshes: make(chan struct{}, MaxRefreshes),
		// A key read by id (an access token's) is read again once it is due: tokens are
		// few next to keys, and this path has no background refresh.
		byID:      newCache[snapshot](cfg.CacheSize, min(cfg.Refresh, cfg.TTL)),
		negative:  newCache[struct{}](cfg.NegativeCacheSize, cfg.NegativeTTL),
		limiter:   cfg.Limiter,
		resolver:  cfg.Resolver,
		tokens:    cfg.Tokens,
		flights:   make(map[[32]byte]*flight),
		exhausted: cfg.Exhausted,
	}
	v.uses.resolution = max(cfg.LastUsedResolution.Nanoseconds(), 0)
	v.uses.every = max(cfg.UsageWriteEvery, 0)
	v.cache.refresh = cfg.Refresh
	return v
}

// DefaultTTL is the cache's TTL when Config.TTL is not set.
const DefaultTTL = 10 * time.Minute

// MaxRefreshes is how many background refreshes of due keys run at once. It bounds what
// refreshing costs the store and the processor whatever the number of keys in use: a burst
// of due keys is spread out instead of read all at once.
const MaxRefreshes = 2

// refreshTimeout bounds one background refresh.
const refreshTimeout = 5 * time.Second

// Check is the one verdict on a presented credential: an API key, or one of Keyward's
// access tokens (a JWT whose issuer is Keyward's), judged against req. For a key the checks
// run in a fixed order: format and checksum, revoked, expired, the key's user disabled,
// scopes, permissions, then its rate limit and credits. A token is judged as its key is now
// (see the package comment). The error is non-nil only when the store could not be read;
// the verdict is then unknown and the caller must fail closed.
func (v *Verifier) Check(ctx context.Context, secret string, req Requirements) (Result, error) {
	if v.tokens != nil && !req.KeyOnly && looksLikeJWT(secret) && v.tokens.Owns(secret) {
		return v.checkToken(ctx, secret, req)
	}
	now := v.now()
	var snap *snapshot
	if _, err := keyformat.Parse(secret); err != nil {
		// Not Keyward's format: refused at once, unless it is an imported key.
		if snap, err = v.lookupImported(ctx, secret, now); err != nil {
			return Result{}, err
		}
		if snap == nil {
			v.stats.outcome(keyward.VerifyMalformed)
			return Result{Code: keyward.VerifyMalformed}, nil
		}
	} else {
		if snap, err = v.lookup(ctx, secret, now); err != nil {
			return Result{}, err
		}
		if snap == nil {
			v.stats.outcome(keyward.VerifyNotFound)
			return Result{Code: keyward.VerifyNotFound}, nil
		}
	}
	res := Result{Key: snap.key, Identity: snap.identity, Memo: &snap.memo}
	res.Code = snap.verdict(now, &req)
	if err := v.finish(ctx, snap, req.Cost, now, &res); err != nil {
		return Result{}, err
	}
	v.afterVerdict(snap, secret, res.Code)
	return res, nil
}

// afterVerdict starts what a verdict calls for once per key: rehashing an imported key on
// its first success, reporting a key that ran out of credits. Both are rare, and neither
// waits on the request.
func (v *Verifier) afterVerdict(snap *snapshot, secret string, code keyward.VerifyCode) {
	k := snap.key
	switch {
	case code == keyward.VerifyValid && snap.imported:
		v.notices.once("rehash", k.ID, func(ctx context.Context) error { return v.rehashImported(ctx, k, secret) }, v.logNotice)
	case code == keyward.VerifyUsageExceeded && v.exhausted != nil && k.ExhaustedAt == nil:
		v.notices.once("exhausted", k.ID, func(ctx context.Context) error { return v.exhausted(ctx, k) }, v.logNotice)
	}
}

func (v *Verifier) logNotice(err error) {
	v.log.Warn("verify: a once-per-key follow-up failed; it is tried again on the key's next verification", "err", err)
}

// finish holds a credential that passed every other check to its key's rate limit and
// credits (cost as in Requirements), and records the outcome in res.
func (v *Verifier) finish(ctx context.Context, snap *snapshot, cost *int64, now time.Time, res *Result) error {
	if res.Code == keyward.VerifyValid {
		if err := v.limit(ctx, snap, cost, now, res); err != nil {
			return err
		}
	}
	res.Valid = res.Code == keyward.VerifyValid
	v.uses.record(snap, res.Code, now)
	v.stats.outcome(res.Code)
	return nil
}

// limit holds a key that passed every other check to its rate limit, then spends its usage
// credits, and sets res's code and decisions. A verification refused by the rate limit
// spends no credits; one refused for want of credits still counts against the rate limit,
// so that a client retrying a spent key is slowed like any other. The error is non-nil only
// when the store could not spend the credits.
func (v *Verifier) limit(ctx context.Context, snap *snapshot, cost *int64, now time.Time, res *Result) error {
	spend := int64(1)
	if cost != nil {
		spend = *cost
	}
	if snap.limited {
		if kept := v.take(ctx, snap, spend, now, res); kept || res.Code != keyward.VerifyValid {
			return nil
		}
	}
	if !snap.credited {
		return nil
	}
	k := snap.key
	spent, err := v.store.SpendCredits(ctx, k.LineageID, spend, now)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		return nil // the credits were removed since the key was read
	}
	if err != nil {
		return err
	}
	res.Credited, res.CreditsRemaining = true, spent.Remaining
	if !spent.OK {
		res.Code = keyward.VerifyUsageExceeded
	}
	return nil
}

// take asks the limiter about snap's key and sets res from its decision. It reports whether
// the limiter dealt with the key's credits (it keeps them: Redis), or they must not be spent
// in the store now (Redis is away, and spending them there would fork the count).
func (v *Verifier) take(ctx context.Context, snap *snapshot, spend int64, now time.Time, res *Result) (creditsDone bool) {
	req := &snap.limit
	if spend != req.Cost {
		r := *req
		r.Cost = spend
		req = &r
	}
	d, err := v.limiter.Take(ctx, req, now)
	switch {
	case err != nil && snap.failMode == keyward.FailClosed:
		v.stats.rateFailedClosed.Add(1)
		v.logLimiterDown(err)
		res.Code, res.Limited, res.Policy = keyward.VerifyRateLimited, true, req.Limit
		res.RateLimit = ratelimit.Decision{Rate: ratelimit.Window{Limit: req.Limit.Burst, Reset: time.Second}, RetryAfter: time.Second}
		return true
	case err != nil:
		// Fail open: the key is let through unlimited, and so are the credits the limiter
		// keeps.
		v.stats.rateFailedOpen.Add(1)
		v.logLimiterDown(err)
		return v.limiter.KeepsCredits()
	case !d.Allowed:
		v.stats.rateLimited.Add(1)
		res.Code, res.Limited, res.RateLimit, res.Policy = keyward.VerifyRateLimited, true, d, req.Limit
		return true
	}
	v.stats.rateAllowed.Add(1)
	res.Limited, res.RateLimit, res.Policy = true, d, req.Limit
	c := req.Credits
	if c == nil {
		return false
	}
	res.Credited, res.CreditsRemaining = true, d.CreditsRemaining
	if !d.CreditsOK {
		res.Code = keyward.VerifyUsageExceeded
	}
	// The store's copy is written back in the next flush, so that reads of the key show
	// what is left. The limiter applied any refill due at now.
	m := &keyward.CreditMirror{LineageID: snap.key.LineageID, Remaining: d.CreditsRemaining, RefilledAt: c.RefilledAt, Version: c.Version}
	if c.Refill != nil {
		if b := c.Refill.Boundary(now); b.After(m.RefilledAt) {
			m.RefilledAt = b
		}
	}
	snap.credits.Store(m)
	return true
}

// logLimiterDown logs that the rate-limit state could not be reached, at most once a
// second: while Redis is away every verification fails the same way.
func (v *Verifier) logLimiterDown(err error) {
	if !v.stats.limiterLogged.allow() {
		return
	}
	v.log.Warn("verify: rate-limit state unreachable; applying each tier's fail mode", "err", err)
}

// lookup finds the key stored under secret's hash, trying each server secret version, and
// returns nil when there is none.
func (v *Verifier) lookup(ctx context.Context, secret string, now time.Time) (*snapshot, error) {
	for _, version := range v.hasher.Versions() {
		sum, _ := v.hasher.HashVersion(version, secret)
		if snap, ok := v.cached(sum, now); ok {
			v.stats.cacheHits.Add(1)
			return snap, nil
		}
		v.stats.cacheMisses.Add(1)
		if _, ok := v.negative.get(sum, now); ok {
			continue
		}
		snap, err := v.fetch(ctx, sum, now)
		if err != nil {
			if stale, ok := v.serveStale(sum, now, err); ok {
				return stale, nil
			}
			return nil, err
		}
		if snap != nil {
			return snap, nil
		}
	}
	return nil, nil
}

// cached returns the cache entry under sum, starting its background refresh when it is due
// and this lookup is the one to start it.
func (v *Verifier) cached(sum [32]byte, now time.Time) (*snapshot, bool) {
	snap, ok, refresh := v.cache.lookupDue(sum, now)
	if refresh {
		v.refreshLater(sum, snap)
	}
	return snap, ok
}

// refreshLater reads the key under sum again in the background, replacing snap, its due
// cache entry, which answers meanwhile. When MaxRefreshes are running already, or the
// verifier is closing, it gives the refresh up for a later verification of the key to
// claim. A key the store no longer has is dropped from the cache; a failed read leaves the
// entry as it is, to be served no longer than its TTL (then read on the request path, and
// past it judged only within the stale bound, during an outage).
func (v *Verifier) refreshLater(sum [32]byte, snap *snapshot) {
	mine := func(s *snapshot) bool { return s == snap }
	if v.closed.Load() {
		v.cache.release(sum, mine)
		return
	}
	select {
	case v.refreshes <- struct{}{}:
	default:
		v.stats.refreshesDeferred.Add(1)
		v.cache.release(sum, mine)
		return
	}
	v.refreshing.Add(1)
	go func() {
		defer func() {
			<-v.refreshes
			v.refreshing.Done()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		fresh, err := v.fetch(ctx, sum, v.now())
		switch {
		case err != nil:
			v.stats.refreshesFailed.Add(1)
			v.cache.release(sum, mine)
			v.logRefreshFailed(err)
		case fresh == nil:
			v.stats.refreshes.Add(1)
			v.cache.delete(sum) // the key is gone; fetch remembered the hash as unknown
		default:
			v.stats.refreshes.Add(1)
		}
	}()
}

// logRefreshFailed logs that a background refresh failed, at most once a second.
func (v *Verifier) logRefreshFailed(err error) {
	if !v.stats.refreshLogged.allow() {
		return
	}
	v.log.Warn("verify: could not refresh a cached key in the background; it is served until its TTL and read again then",
		"refresh_failures_total", v.stats.refreshesFailed.Load(), "err", err)
}

// serveStale returns what the cache last knew of sum when err, the failure to read it afresh,
// is an outage of the store and that knowledge is younger than the stale bound. Never past
// the bound, and never for a hash the cache does not hold: an unknown key during an outage
// has no verdict, not NOT_FOUND.
func (v *Verifier) serveStale(sum [32]byte, now time.Time, err error) (*snapshot, bool) {
	if v.stale <= 0 || !keyward.IsOutage(err) {
		return nil, false
	}
	snap, ok := v.cache.getStale(sum, now, v.stale)
	if !ok {
		return nil, false
	}
	v.stats.staleServed.Add(1)
	if v.stats.staleLogged.allow() {
		v.log.Warn("verify: the store is unavailable; judging keys from cache entries past their TTL, within the stale bound",
			"stale_bound", v.stale, "served_stale_total", v.stats.staleServed.Load(), "err", err)
	}
	return snap, true
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
	n, err := v.snapshotOf(ctx, k, sum)
	if err != nil {
		fail(err)
		return
	}
	// If an invalidation came after the lookup began, what it read may predate the change:
	// it answers this verification and those that began with it, but is not cached.
	v.cache.putNodeIfGen(sum, n, now, f.gen)
	f.snap, f.err = &n.value, nil
}

// snapshotOf builds the cache entry for k, found under sum: its identity resolved, and its
// rate-limit request built once, when there is a limiter. The snapshot is the node's value.
func (v *Verifier) snapshotOf(ctx context.Context, k *keyward.Key, sum [32]byte) (*node[snapshot], error) {
	if k.LineageID == "" {
		k.LineageID = k.ID
	}
	if v.resolver == nil {
		return newSnapshot(k, nil, sum), nil
	}
	id, err := v.resolver.ResolveIdentity(ctx, k)
	if err != nil {
		return nil, err
	}
	n := newSnapshot(k, id, sum)
	if v.limiter != nil {
		limits, err := v.resolver.ResolveLimits(ctx, k)
		if err != nil {
			return nil, err
		}
		snap := &n.value
		snap.limited = true
		snap.limit = ratelimit.Request{Bucket: k.LineageID, Limit: limits.Limit, Cost: 1, Slot: &snap.limitSlot}
		if v.limiter.KeepsCredits() {
			snap.limit.Credits = k.Credits
		}
		snap.failMode = limits.FailMode
	}
	return n, nil
}

// KeyChanged drops k from the cache, so that the next verification reads it afresh. It
// implements keyward.KeyEvents.
func (v *Verifier) KeyChanged(_ context.Context, k *keyward.Key) {
	v.byID.delete(idSum(k.ID))
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
	v.byID.clear()
}

// Flush writes the last-used times and usage counts recorded since the previous flush, held
// counts included, and the credits that the limiter's copies (Redis) showed.
func (v *Verifier) Flush(ctx context.Context) error {
	return v.flush(ctx, true)
}

// FlushDue is the periodic flush a server runs every FlushEvery: as Flush, except that usage
// counts are held in memory until the period they were taken in (Config.UsageWriteEvery)
// has ended.
func (v *Verifier) FlushDue(ctx context.Context) error {
	return v.flush(ctx, false)
}

// flush writes what is due: everything recorded when all is set, else all but the counts
// still held for their period.
func (v *Verifier) flush(ctx context.Context, all bool) error {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	d := v.uses.drain(v.now(), all)
	var errs []error
	if len(d.uses) > 0 {
		if err := v.store.TouchKeys(ctx, d.uses); err != nil {
			// Put them back: a later flush may succeed, and losing last-used times silently
			// would make a key look idle that is not.
			v.uses.keep(d.uses)
			errs = append(errs, err)
		}
	}
	// Counts held for a minute may be many (one per key, outcome and minute): they are
	// written in batches, each a transaction of its own, so that other writes (a key
	// created, revoked) wait for one batch at most, not for all of them.
	for counts := d.counts; len(counts) > 0; {
		n := min(len(counts), usageBatch)
		if err := v.store.AddUsage(ctx, counts[:n]); err != nil {
			v.uses.keepCounts(counts)
			errs = append(errs, err)
			break
		}
		counts = counts[n:]
	}
	// A mirror that fails is not kept: the key's next verification makes a fresher one.
	if err := v.store.MirrorCredits(ctx, d.credits); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close writes what is left to flush. The caller stops whatever flushes the verifier
// periodically (serve's jobs) first, so that no flush runs after the last.
func (v *Verifier) Close(ctx context.Context) error {
	if v.closed.Swap(true) {
		return errors.New("verify: already closed")
	}
	v.refreshing.Wait() // each is bounded by refreshTimeout
	return v.Flush(ctx)
}

// usageBatch is how many usage counts one store transaction writes.
const usageBatch = 2000

// FlushEvery is how often a running server flushes a verifier (FlushDue): last-used times
// and credit mirrors reach the store within about this long, and usage counts within this
// long of the end of their period (Config.UsageWriteEvery).
const FlushEvery = time.Second
