package verify

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// hashIn returns a hash that falls in shard 0 of any cache, told apart by i.
func hashIn(i int) [32]byte { return [32]byte{0, byte(i), byte(i >> 8)} }

// checkShards checks the invariants the clock relies on: the ring holds exactly the map's
// nodes, each at its own slot, and no shard holds more than its capacity.
func checkShards[V any](t *testing.T, c *cache[V], size int) {
	t.Helper()
	total, capacity := 0, 0
	for i := range c.shards {
		s := &c.shards[i]
		if len(s.ring) != s.nodes.count || s.nodes.count > s.capacity {
			t.Fatalf("shard %d: %d in ring, %d in map, capacity %d", i, len(s.ring), s.nodes.count, s.capacity)
		}
		for slot, n := range s.ring {
			if n.slot != slot || s.nodes.get(n.hash) != n {
				t.Fatalf("shard %d: node at slot %d says slot %d, map has %p want %p", i, slot, n.slot, s.nodes.get(n.hash), n)
			}
		}
		total += s.nodes.count
		capacity += s.capacity
	}
	if capacity != size || total > size {
		t.Fatalf("%d entries in shards of total capacity %d, want at most %d in %d", total, capacity, size, size)
	}
}

// TestCacheClockKeepsUsedEntries checks the eviction policy: a full shard evicts the entries
// not read since the clock hand last passed, and spares those that were.
func TestCacheClockKeepsUsedEntries(t *testing.T) {
	c := newCache[int](4*maxShards, time.Minute) // four entries per shard
	for i := range 4 {
		c.put(hashIn(i), i, t0)
	}
	// Entries 0 and 2 are in use; 1 and 3 were seen once.
	c.get(hashIn(0), t0)
	c.get(hashIn(2), t0)
	c.put(hashIn(4), 4, t0)
	c.put(hashIn(5), 5, t0)
	for i, want := range []bool{true, false, true, false, true, true} {
		if _, got := c.get(hashIn(i), t0); got != want {
			t.Errorf("entry %d cached: got %v, want %v", i, got, want)
		}
	}
	checkShards(t, c, 4*maxShards)
}

// TestCacheEvictsExpiredFirst checks that an expired entry goes before a live one, even one
// in use.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newCache[int](4*maxShards, 10*time.Second)
	c.put(hashIn(0), 0, t0)
	for i := 1; i < 4; i++ {
		c.put(hashIn(i), i, t0.Add(5*time.Second))
	}
	for i := range 4 {
		c.get(hashIn(i), t0.Add(5*time.Second))
	}
	// Every entry is referenced; only entry 0 has expired.
	now := t0.Add(11 * time.Second)
	c.put(hashIn(4), 4, now)
	for i, want := range []bool{false, true, true, true, true} {
		if _, got := c.get(hashIn(i), now); got != want {
			t.Errorf("entry %d cached: got %v, want %v", i, got, want)
		}
	}
}

// TestCacheStaysWithinSize puts, reads and drops many entries in caches of several sizes,
// including ones that do not divide among the shards, and checks the bound throughout.
func TestCacheStaysWithinSize(t *testing.T) {
	for _, size := range []int{1, 3, 64, 100, 1000} {
		c := newCache[int](size, time.Minute)
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		var hashes [][32]byte
		for i := range 10 * size {
			var h [32]byte
			for j := range h {
				h[j] = byte(rng.Uint32())
			}
			hashes = append(hashes, h)
			c.put(h, i, t0)
			other := hashes[rng.IntN(len(hashes))]
			switch rng.IntN(8) {
			case 0:
				c.delete(other)
			case 1:
				c.put(other, i, t0) // replacing an entry must not grow the cache
			default:
				c.get(other, t0)
			}
		}
		checkShards(t, c, size)
		if got := c.len(); got > size {
			t.Errorf("size %d: %d entries", size, got)
		}
		if size >= 64 && c.len() < size*9/10 {
			t.Errorf("size %d: only %d entries after %d puts: space is going unused", size, c.len(), 10*size)
		}
		c.clear()
		checkShards(t, c, size)
		if got := c.len(); got != 0 {
			t.Errorf("size %d: %d entries after clear, want 0", size, got)
		}
	}
}

// TestCachePutIfGen checks that a put made on the strength of a read from before an
// invalidation is refused.
func TestCachePutIfGen(t *testing.T) {
	c := newCache[int](100, time.Minute)
	tests := []struct {
		name       string
		invalidate func()
		want       bool
	}{
		{"no invalidation", func() {}, true},
		{"another key dropped", func() { c.delete(hashIn(99)) }, false},
		{"all dropped", c.clear, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := c.generation()
			tt.invalidate()
			if got := c.putNodeIfGen(hashIn(i), &node[int]{value: i}, t0, gen); got != tt.want {
				t.Errorf("putNodeIfGen: got %v, want %v", got, tt.want)
			}
			if _, got := c.get(hashIn(i), t0); got != tt.want {
				t.Errorf("cached: got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCacheSpreadsExpiry checks that entries stored in one instant do not all expire in one:
// each lives between nine tenths of the TTL and the TTL, and they spread over that range.
func TestCacheSpreadsExpiry(t *testing.T) {
	const n = 1000
	ttl := 100 * time.Second
	c := newCache[int](n*maxShards, ttl)
	var hashes [][32]byte
	for range n {
		var h [32]byte
		for i := range h {
			h[i] = byte(rand.Uint32())
		}
		hashes = append(hashes, h)
		c.put(h, 1, t0)
	}
	alive := func(at time.Time) int {
		count := 0
		for _, h := range hashes {
			if _, ok := c.get(h, at); ok {
				count++
			}
		}
		return count
	}
	if got := alive(t0.Add(ttl * 9 / 10).Add(-time.Nanosecond)); got != n {
		t.Errorf("just before 9/10 of the TTL %d of %d entries live, want all", got, n)
	}
	// Uniform over [90 s, 100 s): about half are gone at 95 s.
	if got := alive(t0.Add(95 * time.Second)); got < n/4 || got > 3*n/4 {
		t.Errorf("at 95 s of a 100 s TTL %d of %d entries live, want about half", got, n)
	}
	if got := alive(t0.Add(ttl)); got != 0 {
		t.Errorf("at the TTL %d entries live, want none", got)
	}
}
