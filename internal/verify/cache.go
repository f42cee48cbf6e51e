package verify

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// maxShards is how many shards a large cache is split into: enough that parallel
// verifications rarely meet on one lock, few enough that a small cache still has room in
// each.
const maxShards = 64

// cache is a bounded map from key hash to value with a TTL, split into shards so that parallel
// verifications rarely wait on one another.
//
// A full shard evicts by CLOCK (second chance), an approximation of LRU. A hit only sets the
// entry's referenced bit, with an atomic store under the shard's read lock; on insertion into
// a full shard, a hand sweeps the shard's entries in insertion order, clearing set bits and
// evicting the first entry it finds unreferenced or expired. True LRU would move the entry to
// the front of a list on every hit, which needs the write lock on the hottest path and
// serialises parallel verifications of popular keys; random eviction (the previous policy)
// needs no bookkeeping but drops a key in constant use as readily as one seen once. New
// entries start unreferenced, so a burst of keys used once (a scan, many clients each calling
// once) passes through without pushing out the keys in steady use.
//
// Each value is held inside its node, beside the cache's bookkeeping, so that a hit reads
// one object rather than following a pointer to a second one (with a million keys cached,
// every dereference is a cache miss). A node is never modified once stored, apart from its
// atomics, so a reader may use what it found, through a pointer to the value, after
// dropping the lock; replacing a value stores a new node.
type cache[V any] struct {
	shards []shard[V]
	mask   int
	ttl    time.Duration
	// refresh, when positive and below ttl, is the age from which an entry is due: still
	// served, but the first lookup to see it due is told to read it again in the background
	// (stale-while-revalidate; see lookupDue). Zero: entries are fresh until they expire.
	refresh time.Duration
	// gen counts invalidations (delete, clear). A reader that will put what it read from the
	// store notes gen before reading and puts only if it has not moved (putNodeIfGen), so that a
	// read which raced with an invalidation cannot bring back what the invalidation dropped.
	gen atomic.Uint64
}

type shard[V any] struct {
	mu    sync.RWMutex
	nodes index[V]
	// ring is the clock: every node in the index, each at its slot. It grows up to
	// capacity and then has its entries replaced in place.
	ring     []*node[V]
	hand     int
	capacity int
	// Shards sit next to one another, and every read writes its shard's lock: padding keeps
	// two shards off one cache line, so that readers of different shards do not contend.
	_ [64]byte
}

// node is an entry: the bookkeeping a hit reads first, then the value, then what only
// the rare paths read, so that a hit's reads fall on adjacent cache lines.
type node[V any] struct {
	hash    [32]byte
	expires time.Time
	due     time.Time // from when a lookup asks for a refresh; expires when refresh is off
	// referenced is set by every hit and cleared by the clock hand as it passes.
	referenced atomic.Bool
	// claimed is set by the one lookup that was told to refresh the entry, so that a key
	// used a thousand times a second is read again once, not a thousand times. A refresh
	// replaces the node; one that fails releases the claim, for a later lookup to retry.
	claimed atomic.Bool
	value   V
	slot    int       // index in the shard's ring; guarded by the shard's lock
	stored  time.Time // when the value was read from the store: the age getStale bounds
}

// newCache returns a cache holding at most size entries.
func newCache[V any](size int, ttl time.Duration) *cache[V] {
	size = max(size, 1)
	n := 1
	for n < maxShards && 2*n <= size {
		n *= 2
	}
	c := &cache[V]{shards: make([]shard[V], n), mask: n - 1, ttl: ttl}
	for i := range c.shards {
		s := &c.shards[i]
		// The remainder is spread over the first shards, so that the total is size exactly.
		s.capacity = size / n
		if i < size%n {
			s.capacity++
		}
	}
	return c
}

// The hash is uniformly distributed, so its first byte is a fair shard index.
func (c *cache[V]) shard(h [32]byte) *shard[V] { return &c.shards[int(h[0])&c.mask] }

func (c *cache[V]) get(h [32]byte, now time.Time) (*V, bool) {
	v, ok, _ := c.lookupDue(h, now)
	return v, ok
}

// lookupDue is get that also says whether the caller is the one to refresh the entry: it
// is due (older than the refresh age, younger than the TTL) and no other lookup has been
// told so since it was stored. The caller then reads it again off the request path and
// stores the result, or calls release if it cannot.
func (c *cache[V]) lookupDue(h [32]byte, now time.Time) (v *V, ok, refresh bool) {
	s := c.shard(h)
	s.mu.RLock()
	n := s.nodes.get(h)
	s.mu.RUnlock()
	if n == nil || !now.Before(n.expires) {
		return nil, false, false
	}
	// Load first: a hot entry's bit is already set, and writing it again on every hit would
	// bounce its cache line between cores.
	if !n.referenced.Load() {
		n.referenced.Store(true)
	}
	refresh = !now.Before(n.due) && !n.claimed.Load() && n.claimed.CompareAndSwap(false, true)
	return &n.value, true, refresh
}

// release gives up the refresh claim on the entry under h, if it still holds value: the
// refresh failed, and a later lookup may try again.
func (c *cache[V]) release(h [32]byte, owner func(*V) bool) {
	s := c.shard(h)
	s.mu.RLock()
	n := s.nodes.get(h)
	s.mu.RUnlock()
	if n != nil && owner(&n.value) {
		n.claimed.Store(false)
	}
}

// getStale returns the value under h, expired or not, provided it was stored less than bound
// before now: what was last known of a key, for when the store cannot say what is true now.
// It does not mark the entry referenced, so that a key served only stale does not outlive
// ones in use.
func (c *cache[V]) getStale(h [32]byte, now time.Time, bound time.Duration) (*V, bool) {
	s := c.shard(h)
	s.mu.RLock()
	n := s.nodes.get(h)
	s.mu.RUnlock()
	if n == nil || now.Sub(n.stored) >= bound {
		return nil, false
	}
	return &n.value, true
}

// jittered is d less up to a tenth of it, by h: how long the entry for h lives (d the TTL)
// or stays fresh (d the refresh age). Keys first verified together (after a restart, or a
// burst of new clients) would otherwise all come due in the same instant and all be read
// again at once; spread over a tenth of d, the reads become a trickle. The spread comes
// from the hash itself (keyed, so uniformly distributed), which costs nothing and keeps d
// an upper bound.
func jittered(d time.Duration, h [32]byte) time.Duration {
	spread := d / 10
	return d - time.Duration(uint64(spread)*uint64(binary.LittleEndian.Uint16(h[:]))>>16)
}

// generation returns the current invalidation count, for putNodeIfGen.
func (c *cache[V]) generation() uint64 { return c.gen.Load() }

// put stores a copy of v under h.
func (c *cache[V]) put(h [32]byte, v V, now time.Time) { c.store(h, &node[V]{value: v}, now, false, 0) }

// putNode stores n, a new node whose value the caller has filled in place (a value with
// atomics in it must not be copied), under h.
func (c *cache[V]) putNode(h [32]byte, n *node[V], now time.Time) { c.store(h, n, now, false, 0) }

// putNodeIfGen is putNode unless the cache was invalidated since generation returned gen.
// The check is made under the shard's lock, which an invalidation takes after counting
// itself: either the put sees the new count, or the invalidation comes after the put and
// drops what it stored.
func (c *cache[V]) putNodeIfGen(h [32]byte, n *node[V], now time.Time, gen uint64) bool {
	return c.store(h, n, now, true, gen)
}

// store stores n, which has not been stored before, under h.
func (c *cache[V]) store(h [32]byte, n *node[V], now time.Time, checkGen bool, gen uint64) bool {
	n.hash, n.expires, n.stored = h, now.Add(jittered(c.ttl, h)), now
	n.due = n.expires
	if c.refresh > 0 && c.refresh < c.ttl {
		n.due = now.Add(jittered(c.refresh, h))
	}
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if checkGen && c.gen.Load() != gen {
		return false
	}
	switch old := s.nodes.get(h); {
	case old != nil:
		n.slot = old.slot
	case len(s.ring) < s.capacity:
		n.slot = len(s.ring)
		s.ring = append(s.ring, nil)
	default:
		n.slot = s.victim(now)
		s.nodes.delete(s.ring[n.slot].hash)
	}
	s.ring[n.slot] = n
	s.nodes.set(n)
	return true
}

// victim advances the clock hand to the first expired or unreferenced node, clearing the
// referenced bits it passes, and returns that node's slot. It ends within one turn and a
// step, since by then it has cleared every bit. The shard must be full and write-locked.
func (s *shard[V]) victim(now time.Time) int {
	for {
		i := s.hand
		s.hand++
		if s.hand == len(s.ring) {
			s.hand = 0
		}
		n := s.ring[i]
		if !now.Before(n.expires) || !n.referenced.Load() {
			return i
		}
		n.referenced.Store(false)
	}
}

func (c *cache[V]) delete(h [32]byte) {
	c.gen.Add(1)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes.get(h)
	if n == nil {
		return
	}
	s.nodes.delete(h)
	// Fill the hole with the last node, so that the ring stays dense. This moves one node
	// in the clock's order, which costs that node at most one extra turn of grace.
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[n.slot] = moved
	moved.slot = n.slot
	s.ring[last] = nil
	s.ring = s.ring[:last]
	if s.hand >= len(s.ring) {
		s.hand = 0
	}
}

// clear drops every entry.
func (c *cache[V]) clear() {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.nodes.clear()
		clear(s.ring)
		s.ring = s.ring[:0]
		s.hand = 0
		s.mu.Unlock()
	}
}

// len counts the entries, expired ones included.
func (c *cache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.nodes.count
		s.mu.RUnlock()
	}
	return n
}
