package verify

import (
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// useStripes is how many lists the use log keeps, so that cores marking different keys in
// use rarely meet on one list head.
const useStripes = 16

// useLog collects the latest successful use of each key between flushes, without a lock or
// an allocation on the hot path.
//
// A use is stored in the key's snapshot: lastUsed is raised to the use time with a
// compare-and-swap, so it never goes back. The first use since a flush also marks the
// snapshot dirty and pushes it onto a lock-free list; later uses find it dirty and stop
// there. A flush takes each list whole, clears each snapshot's dirty mark before reading its
// time, and writes those times. A use that lands during a flush is therefore either read by
// that flush or finds the mark cleared and pushes the snapshot again; it is never lost.
//
// A snapshot dropped from the cache (evicted, invalidated, aged out) stays reachable from the
// list until the flush, so its uses are written too; a flush that fails keeps what it could
// not write in pending and retries it with the next.
//
// With a resolution, a use that is less than that much after the time the store holds (the
// key's last_used_at when it was read, or the last time written since) is not pushed at all:
// it raises lastUsed and nothing else, and a later use beyond the resolution carries it.
type useLog struct {
	heads [useStripes]struct {
		head atomic.Pointer[snapshot]
		_    [56]byte // a list head per cache line: pushes to different lists do not contend
	}

	// resolution (nanoseconds) is Config.LastUsedResolution: a use that is not that much
	// later than what the store holds is not written.
	resolution int64

	mu      sync.Mutex
	pending map[string]int64 // key id → Unix nanoseconds, from a failed flush
}

// neverUsed is a snapshot's lastUsed before its first use.
const neverUsed = math.MinInt64

// record notes a successful use of s at now.
func (l *useLog) record(s *snapshot, now time.Time) {
	at := now.UnixNano()
	for {
		prev := s.lastUsed.Load()
		if at <= prev || s.lastUsed.CompareAndSwap(prev, at) {
			break
		}
	}
	if w := s.written.Load(); l.resolution > 0 && w != neverUsed && at-w < l.resolution {
		return // the store's time is recent enough; a later use will move it
	}
	if s.dirty.Load() || !s.dirty.CompareAndSwap(false, true) {
		return // already on a list; the flush that takes it reads lastUsed after this store
	}
	// Winning the dirty mark makes this goroutine the only writer of s.next until a flush
	// clears the mark, which it does only after reading s.next.
	head := &l.heads[s.stripe%useStripes].head
	for {
		s.next = head.Load()
		if head.CompareAndSwap(s.next, s) {
			return
		}
	}
}

// drain takes every use recorded since the last drain, the latest per key, sorted by key id
// so that concurrent writers (other nodes) update rows in the same order.
func (l *useLog) drain() []keyward.KeyUse {
	l.mu.Lock()
	latest := l.pending
	l.pending = nil
	l.mu.Unlock()
	if latest == nil {
		latest = make(map[string]int64)
	}
	for i := range l.heads {
		s := l.heads[i].head.Swap(nil)
		for s != nil {
			next := s.next
			s.next = nil
			s.dirty.Store(false) // before the load below: see record
			at := s.lastUsed.Load()
			s.written.Store(at) // written now, or kept in pending and retried until it is
			if prev, ok := latest[s.key.ID]; !ok || at > prev {
				latest[s.key.ID] = at
			}
			s = next
		}
	}
	uses := make([]keyward.KeyUse, 0, len(latest))
	for id, at := range latest {
		uses = append(uses, keyward.KeyUse{KeyID: id, At: time.Unix(0, at).UTC()})
	}
	slices.SortFunc(uses, func(a, b keyward.KeyUse) int { return strings.Compare(a.KeyID, b.KeyID) })
	return uses
}

// keep puts back uses that could not be written, for the next drain.
func (l *useLog) keep(uses []keyward.KeyUse) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = make(map[string]int64, len(uses))
	}
	for _, u := range uses {
		at := u.At.UnixNano()
		if prev, ok := l.pending[u.KeyID]; !ok || at > prev {
			l.pending[u.KeyID] = at
		}
	}
}
