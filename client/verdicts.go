package client

import (
	"sync"
	"sync/atomic"
)

// verdictShards is how many shards a large verdict cache is split into, so that requests
// on many cores rarely meet on one lock.
const verdictShards = 16

// verdictCache is a bounded map from the SHA-256 of a presented key to its entry, split into
// shards. A full shard evicts by CLOCK (second chance), an approximation of LRU that needs
// only a shard's read lock and an atomic store on a hit: the hand sweeps the shard's
// entries in insertion order, clearing referenced bits, and evicts the first entry it finds
// unreferenced, or without a verdict.
//
// An entry outlives its verdict: dropping a verdict (an event, the stream breaking) keeps
// the key's rate-limit state and unreported uses, so that the next verdict carries on with
// them. Only eviction forgets an entry, and its uses still reach the next report (see
// useList).
type verdictCache struct {
	shards []verdictShard
	mask   uint8
}

type verdictShard struct {
	mu       sync.RWMutex
	m        map[[32]byte]*entry
	ring     []*entry // every entry in m, at its slot
	hand     int
	capacity int
	_        [64]byte // keeps two shards' locks off one cache line
}

// entry is what the cache holds for one presented key.
type entry struct {
	sum   [32]byte
	keyID string // the key the hash belongs to: fixed, a secret is one key's
	slot  int    // in the shard's ring; guarded by the shard's lock

	// verdict is the key's valid verdict; nil when Keyward must be asked.
	verdict    atomic.Pointer[verdict]
	referenced atomic.Bool

	// mu guards the rate-limit bucket.
	mu     sync.Mutex
	bucket bucket

	// Uses since the last report, and the list that takes them to it.
	valid, limited atomic.Int64
	lastUsed       atomic.Int64 // Unix nanoseconds of the latest VALID use; only rises
	dirty          atomic.Bool  // on the use list, awaiting a report
	next           *entry       // the next on that list
}

// verdict is a valid verdict as the cache serves it.
type verdict struct {
	// res is shared by every request it answers: handlers must not modify it. Its
	// RateLimit is nil: where the key stands changes with every request.
	res       *VerifyResult
	accountID string
	// expires is when the verdict stops being trusted (Unix nanoseconds): the key's expiry,
	// or the verdict's maximum age if that is sooner.
	expires int64
	// limit is the key's rate limit; nil when it is held to none.
	limit *limitParams
}

func newVerdictCache(size int) *verdictCache {
	size = max(size, 1)
	n := 1
	for n < verdictShards && 2*n <= size {
		n *= 2
	}
	c := &verdictCache{shards: make([]verdictShard, n), mask: uint8(n - 1)}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[[32]byte]*entry)
		s.capacity = size / n
		if i < size%n {
			s.capacity++
		}
	}
	return c
}

func (c *verdictCache) shard(sum *[32]byte) *verdictShard { return &c.shards[sum[0]&c.mask] }

// get returns the entry for sum, or nil.
func (c *verdictCache) get(sum *[32]byte) *entry {
	s := c.shard(sum)
	s.mu.RLock()
	e := s.m[*sum]
	s.mu.RUnlock()
	if e != nil && !e.referenced.Load() {
		e.referenced.Store(true)
	}
	return e
}

// entryFor returns the entry for sum, adding one for keyID if there is none.
func (c *verdictCache) entryFor(sum *[32]byte, keyID string) *entry {
	s := c.shard(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[*sum]; e != nil && e.keyID == keyID {
		return e
	}
	e := &entry{sum: *sum, keyID: keyID}
	if old := s.m[*sum]; old != nil {
		// The same hash for another key cannot happen; replace it rather than trust it.
		e.slot = old.slot
		s.ring[e.slot] = e
	} else if len(s.ring) < s.capacity {
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
	} else {
		e.slot = s.victim()
		delete(s.m, s.ring[e.slot].sum)
		s.ring[e.slot] = e
	}
	s.m[*sum] = e
	return e
}

// victim moves the hand to the slot to reuse: the first entry without a verdict or not
// referenced since the hand last passed. A second round finds one for sure.
func (s *verdictShard) victim() int {
	for range 2 * len(s.ring) {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		e := s.ring[i]
		if e.verdict.Load() == nil || !e.referenced.Swap(false) {
			return i
		}
	}
	return s.hand
}

// drop removes the verdicts of the entries that match (all of them when match is nil).
func (c *verdictCache) drop(match func(*entry, *verdict) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for _, e := range s.ring {
			if v := e.verdict.Load(); v != nil && (match == nil || match(e, v)) {
				e.verdict.Store(nil)
			}
		}
		s.mu.RUnlock()
	}
}

// useList collects the entries with uses to report, without a lock on the hot path: the
// first use since a report marks the entry dirty and pushes it; later ones find it dirty.
// A report takes the list whole and clears each mark before taking the counts, so a use
// that lands meanwhile is either taken or pushes the entry again; none is lost. An evicted
// entry stays on the list until the report.
type useList struct {
	head atomic.Pointer[entry]
}

// record notes a use of e decided in-process, at t (Unix nanoseconds).
func (l *useList) record(e *entry, valid bool, t int64) {
	if valid {
		e.valid.Add(1)
		for {
			prev := e.lastUsed.Load()
			if t <= prev || e.lastUsed.CompareAndSwap(prev, t) {
				break
			}
		}
	} else {
		e.limited.Add(1)
	}
	if e.dirty.Load() || !e.dirty.CompareAndSwap(false, true) {
		return
	}
	// Winning the mark makes this the only writer of e.next until a report clears it.
	for {
		e.next = l.head.Load()
		if l.head.CompareAndSwap(e.next, e) {
			return
		}
	}
}

// drain takes every entry with uses since the last drain and the uses themselves.
func (l *useList) drain() []ReportedKeyUse {
	var out []ReportedKeyUse
	for e := l.head.Swap(nil); e != nil; {
		next := e.next
		e.next = nil
		e.dirty.Store(false) // before the loads: see record
		u := ReportedKeyUse{KeyID: e.keyID, Valid: e.valid.Swap(0), RateLimited: e.limited.Swap(0)}
		if u.Valid > 0 {
			u.LastUsedAt = unixTime(e.lastUsed.Load())
		}
		if u.Valid > 0 || u.RateLimited > 0 {
			out = append(out, u)
		}
		e = next
	}
	return out
}
