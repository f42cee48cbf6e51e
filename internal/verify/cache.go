package verify

import (
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

const shardCount = 64

// cache is a bounded map from key hash to value, split into shards so that parallel
// verifications rarely wait on one another. A full shard evicts an arbitrary entry (Go's map
// iteration order is randomised), which keeps memory bounded without the bookkeeping of LRU.
type cache[V any] struct {
	shards   [shardCount]shard[V]
	perShard int
	ttl      time.Duration
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[[32]byte]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

func newCache[V any](size int, ttl time.Duration) *cache[V] {
	c := &cache[V]{perShard: max(1, size/shardCount), ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]entry[V])
	}
	return c
}

// The hash is uniformly distributed, so its first byte is a fair shard index.
func (c *cache[V]) shard(h [32]byte) *shard[V] { return &c.shards[h[0]%shardCount] }

func (c *cache[V]) get(h [32]byte, now time.Time) (V, bool) {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *cache[V]) put(h [32]byte, v V, now time.Time) {
	s := c.shard(h)
	s.mu.Lock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for victim := range s.m {
			delete(s.m, victim)
			break
		}
	}
	s.m[h] = entry[V]{value: v, expires: now.Add(c.ttl)}
	s.mu.Unlock()
}

// clear drops every entry.
func (c *cache[V]) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *cache[V]) delete(h [32]byte) {
	s := c.shard(h)
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

// useRecorder collects the latest successful use of each key between flushes. It is sharded
// by key id so that parallel verifications of different keys do not contend.
type useRecorder struct {
	shards [shardCount]struct {
		mu sync.Mutex
		m  map[string]time.Time
	}
}

func newUseRecorder() *useRecorder {
	r := &useRecorder{}
	for i := range r.shards {
		r.shards[i].m = make(map[string]time.Time)
	}
	return r
}

func (r *useRecorder) record(keyID string, at time.Time) {
	// The last two id characters are random hex in a UUIDv7: 256 values over 64 shards.
	n := len(keyID)
	s := &r.shards[(uint(keyID[n-1])+uint(keyID[n-2])*16)%shardCount]
	s.mu.Lock()
	if prev, ok := s.m[keyID]; !ok || at.After(prev) {
		s.m[keyID] = at
	}
	s.mu.Unlock()
}

func (r *useRecorder) drain() []keyward.KeyUse {
	var out []keyward.KeyUse
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for id, at := range s.m {
			out = append(out, keyward.KeyUse{KeyID: id, At: at})
		}
		clear(s.m)
		s.mu.Unlock()
	}
	return out
}
