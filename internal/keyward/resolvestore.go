package keyward

import (
	"context"
	"sync"
	"time"
)

// DefaultResolverMemoTTL is how long a CachingResolverStore remembers a read by default:
// long enough that a burst of verification cache misses shares its account, tier and roles,
// short enough that the memo holds no state of its own worth speaking of.
const DefaultResolverMemoTTL = time.Second

// resolverMemoSize bounds the reads a CachingResolverStore remembers at once.
const resolverMemoSize = 16_384

// CachingResolverStore is a ResolverStore that remembers for a short time (a second by
// default) what resolving keys reads that keys share: accounts, rate-limit tiers (also the
// answer that an account has none of a name, the usual one), roles by id, projects, users
// and users' memberships. Every verification cache miss resolves its key, and misses of
// different keys of one account would otherwise read the same rows again each time: with
// the memo, a miss of a plain key costs the key's own read alone.
//
// It is for the verifier's Resolver, which only reads, and which does not modify what it is
// given: the values it returns are shared by every caller until they age out. Everything
// else it passes to store. An answer other than a value or ENotFound (the store away, the
// caller gone) is not remembered.
//
// IdentityChanged forgets everything, at once: accounts, roles, tiers, users and
// memberships changes all fire it, on this node and, through the PostgreSQL listener, from
// other nodes. A read that began before it cannot store its answer after it.
type CachingResolverStore struct {
	ResolverStore
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	// gen counts IdentityChanged calls: a read remembers its answer only if gen has not
	// moved since it began, so that a read which raced a change cannot bring back what the
	// change made untrue.
	gen   uint64
	items map[memoKey]memoEntry
}

var (
	_ ResolverStore  = (*CachingResolverStore)(nil)
	_ IdentityEvents = (*CachingResolverStore)(nil)
	_ KeyEvents      = (*CachingResolverStore)(nil)
)

// NewCachingResolverStore returns a memo of store's reads that lasts ttl
// (DefaultResolverMemoTTL if ttl <= 0) by the clock now (time.Now if nil).
func NewCachingResolverStore(store ResolverStore, ttl time.Duration, now func() time.Time) *CachingResolverStore {
	if ttl <= 0 {
		ttl = DefaultResolverMemoTTL
	}
	if now == nil {
		now = time.Now
	}
	return &CachingResolverStore{ResolverStore: store, ttl: ttl, max: resolverMemoSize, now: now,
		items: make(map[memoKey]memoEntry)}
}

type memoKind uint8

const (
	memoAccount memoKind = iota
	memoTier
	memoRole
	memoProject
	memoUser
	memoUserMemberships
)

type memoKey struct {
	kind      memoKind
	accountID string
	name      string // the id, or the tier's name
}

type memoEntry struct {
	value   any // the store's value, of the kind's type; a typed nil with err
	err     error
	expires time.Time
}

// Account implements AccountStore.
func (c *CachingResolverStore) Account(ctx context.Context, id string) (*Account, error) {
	return memo(c, memoKey{memoAccount, id, ""}, func() (*Account, error) { return c.ResolverStore.Account(ctx, id) })
}

// RateLimitTier implements RateLimitTierStore.
func (c *CachingResolverStore) RateLimitTier(ctx context.Context, accountID, name string) (*RateLimitTier, error) {
	return memo(c, memoKey{memoTier, accountID, name}, func() (*RateLimitTier, error) {
		return c.ResolverStore.RateLimitTier(ctx, accountID, name)
	})
}

// Role implements RoleStore.
func (c *CachingResolverStore) Role(ctx context.Context, accountID, id string) (*Role, error) {
	return memo(c, memoKey{memoRole, accountID, id}, func() (*Role, error) { return c.ResolverStore.Role(ctx, accountID, id) })
}

// Project implements ProjectStore.
func (c *CachingResolverStore) Project(ctx context.Context, accountID, id string) (*Project, error) {
	return memo(c, memoKey{memoProject, accountID, id}, func() (*Project, error) {
		return c.ResolverStore.Project(ctx, accountID, id)
	})
}

// User implements UserStore.
func (c *CachingResolverStore) User(ctx context.Context, accountID, id string) (*User, error) {
	return memo(c, memoKey{memoUser, accountID, id}, func() (*User, error) { return c.ResolverStore.User(ctx, accountID, id) })
}

// ListMemberships implements MembershipStore. It remembers the one listing the Resolver
// makes, all of a user's memberships; any other goes to the store.
func (c *CachingResolverStore) ListMemberships(ctx context.Context, f MembershipFilter) ([]*Membership, error) {
	if f.UserID == "" || f != (MembershipFilter{AccountID: f.AccountID, UserID: f.UserID}) {
		return c.ResolverStore.ListMemberships(ctx, f)
	}
	return memo(c, memoKey{memoUserMemberships, f.AccountID, f.UserID}, func() ([]*Membership, error) {
		return c.ResolverStore.ListMemberships(ctx, f)
	})
}

// IdentityChanged forgets everything remembered, and keeps any read already under way from
// remembering its answer. It implements IdentityEvents.
func (c *CachingResolverStore) IdentityChanged(context.Context, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.items)
}

// KeyChanged does nothing: keys are not remembered. It implements KeyEvents, so that the
// memo can hear changes beside the verifier.
func (c *CachingResolverStore) KeyChanged(context.Context, *Key) {}

// memo answers from c what it remembers under k and has not outlived the TTL, or else reads
// and remembers the answer.
func memo[T any](c *CachingResolverStore, k memoKey, read func() (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.items[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.value.(T), e.err
	}
	v, err := read()
	if err == nil || ErrorCode(err) == ENotFound {
		// The TTL counts from before the read: the answer is never older than it says.
		c.put(k, memoEntry{value: v, err: err, expires: now.Add(c.ttl)}, gen, now)
	}
	return v, err
}

// put remembers e under k unless IdentityChanged came since gen was taken.
func (c *CachingResolverStore) put(k memoKey, e memoEntry, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.items[k]; !ok && len(c.items) >= c.max {
		c.makeRoom(now)
	}
	c.items[k] = e
}

// makeRoom drops the expired entries of a full memo, or everything if that frees less than a
// quarter of it: each sweep pays for the inserts that filled the room it made, and losing
// what a one-second memo holds costs only reads.
func (c *CachingResolverStore) makeRoom(now time.Time) {
	for k, e := range c.items {
		if !now.Before(e.expires) {
			delete(c.items, k)
		}
	}
	if len(c.items) > c.max-c.max/4 {
		clear(c.items)
	}
}
