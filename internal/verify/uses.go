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

// useLog collects, between flushes, the latest successful use of each key and how many
// verifications of it had each outcome, without a lock or an allocation on the hot path.
//
// Both are stored in the key's snapshot: lastUsed is raised to the use time with a
// compare-and-swap, so it never goes back, and the outcome's counter is incremented. The
// first verification since a flush also marks the snapshot dirty and pushes it onto a
// lock-free list; later ones find it dirty and stop there. A flush takes each list whole,
// clears each snapshot's dirty mark before reading its time and taking its counts, and
// writes those. A verification that lands during a flush is therefore either read by that
// flush or finds the mark cleared and pushes the snapshot again; it is never lost.
//
// A snapshot dropped from the cache (evicted, invalidated, aged out) stays reachable from the
// list until the flush, so its uses are written too; a flush that fails keeps what it could
// not write in pending and retries it with the next.
//
// With a resolution, a use that is less than that much after the time the store holds (the
// key's last_used_at when it was read, or the last time written since) is not written: it
// raises lastUsed and nothing else, and a later use beyond the resolution carries it.
//
// Counts are attributed to the minute of the flush that takes them: with a flush every
// second, a verification in the last second of a minute may be counted in the next. They are
// then held, summed by key, minute and outcome, until the period they were taken in
// (Config.UsageWriteEvery) ends, and written together: a key used a thousand times a minute
// costs the store one write a minute, not sixty.
type useLog struct {
	heads [useStripes]struct {
		head atomic.Pointer[snapshot]
		_    [56]byte // a list head per cache line: pushes to different lists do not contend
	}

	// resolution (nanoseconds) is Config.LastUsedResolution: a use that is not that much
	// later than what the store holds is not written.
	resolution int64

	// every is Config.UsageWriteEvery: counts are held until the period of this length
	// they were taken in has ended (0: written at every drain).
	every time.Duration

	mu      sync.Mutex
	pending map[string]int64 // key id → Unix nanoseconds, from a failed flush
	// held are the counts taken from snapshots and not yet written, summed by slot;
	// period is the start of the period of the last drain, and retry is set when a write
	// failed, for the next drain to try again whatever its period.
	held   map[usageSlot]keyward.UsageCount
	period time.Time
	retry  bool
}

// usageSlot is what a stored usage count is counted under: a key, a minute, an outcome.
type usageSlot struct {
	keyID   string
	minute  int64 // Unix seconds
	outcome keyward.VerifyCode
}

// maxHeldCounts bounds the counts held between writes: past it, a drain writes them before
// their period ends, so that a burst of distinct keys costs writes, not the process's memory.
const maxHeldCounts = 200_000

// neverUsed is a snapshot's lastUsed before its first use.
const neverUsed = math.MinInt64

// record notes a verification of s at now with the outcome code.
func (l *useLog) record(s *snapshot, code keyward.VerifyCode, now time.Time) {
	l.recordN(s, code, 1, now)
}

// recordN notes n verifications of s with the outcome code, the latest at now.
func (l *useLog) recordN(s *snapshot, code keyward.VerifyCode, n int64, now time.Time) {
	s.counts[codeIndex(code)].Add(n)
	if code == keyward.VerifyValid {
		at := now.UnixNano()
		for {
			prev := s.lastUsed.Load()
			if at <= prev || s.lastUsed.CompareAndSwap(prev, at) {
				break
			}
		}
	}
	if s.dirty.Load() || !s.dirty.CompareAndSwap(false, true) {
		return // already on a list; the flush that takes it reads it after these stores
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

// drained is what a drain took: the uses due to be written, the usage counts, and the
// credits that copies kept elsewhere last showed.
type drained struct {
	uses    []keyward.KeyUse
	counts  []keyward.UsageCount
	credits []keyward.CreditMirror
}

// drain takes every use and count recorded since the last drain: the latest use per key
// that is due to be written, sorted by key id so that concurrent writers (other nodes)
// update rows in the same order, and the latest credit mirror of each snapshot. The counts,
// attributed to now's minute, join the held ones; all held counts are returned when all is
// set, when the period they were taken in has ended at now, or when maxHeldCounts are held.
func (l *useLog) drain(now time.Time, all bool) drained {
	l.mu.Lock()
	latest := l.pending
	l.pending = nil
	var counts []keyward.UsageCount
	var credits []keyward.CreditMirror
	l.mu.Unlock()
	if latest == nil {
		latest = make(map[string]int64)
	}
	minute := now.UTC().Truncate(time.Minute)
	for i := range l.heads {
		s := l.heads[i].head.Swap(nil)
		for s != nil {
			next := s.next
			s.next = nil
			s.dirty.Store(false) // before the loads below: see record
			for c := range s.counts {
				if n := s.counts[c].Swap(0); n > 0 {
					counts = append(counts, keyward.UsageCount{KeyID: s.key.ID, AccountID: s.key.AccountID,
						ProjectID: s.key.ProjectID, Minute: minute, Outcome: keyward.VerifyCodes[c], Count: n})
				}
			}
			if m := s.credits.Swap(nil); m != nil {
				credits = append(credits, *m)
			}
			at, written := s.lastUsed.Load(), s.written.Load()
			if at != neverUsed && at > written && (written == neverUsed || at-written >= l.resolution) {
				s.written.Store(at) // written now, or kept in pending and retried until it is
				if prev, ok := latest[s.key.ID]; !ok || at > prev {
					latest[s.key.ID] = at
				}
			}
			s = next
		}
	}
	counts = l.hold(counts, now, all)
	uses := make([]keyward.KeyUse, 0, len(latest))
	for id, at := range latest {
		uses = append(uses, keyward.KeyUse{KeyID: id, At: time.Unix(0, at).UTC()})
	}
	slices.SortFunc(uses, func(a, b keyward.KeyUse) int { return strings.Compare(a.KeyID, b.KeyID) })
	return drained{uses: uses, counts: counts, credits: credits}
}

// hold adds the counts taken at now to the held ones and returns every held count when
// they are due to be written (see drain), sorted by key, minute and outcome so that
// concurrent writers update rows in the same order; otherwise none.
func (l *useLog) hold(taken []keyward.UsageCount, now time.Time, all bool) []keyward.UsageCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(taken)
	period := now
	if l.every > 0 {
		period = now.Truncate(l.every)
	}
	due := all || l.retry || l.every <= 0 || len(l.held) >= maxHeldCounts ||
		(!l.period.IsZero() && !period.Equal(l.period))
	l.period = period
	if !due || len(l.held) == 0 {
		return nil
	}
	l.retry = false
	counts := make([]keyward.UsageCount, 0, len(l.held))
	for _, c := range l.held {
		counts = append(counts, c)
	}
	clear(l.held)
	slices.SortFunc(counts, compareCounts)
	return counts
}

// add sums counts into the held ones. Called with mu held.
func (l *useLog) add(counts []keyward.UsageCount) {
	if len(counts) > 0 && l.held == nil {
		l.held = make(map[usageSlot]keyward.UsageCount, len(counts))
	}
	for _, c := range counts {
		slot := usageSlot{keyID: c.KeyID, minute: c.Minute.Unix(), outcome: c.Outcome}
		if h, ok := l.held[slot]; ok {
			c.Count += h.Count
		}
		l.held[slot] = c
	}
}

// compareCounts orders counts by key, minute and outcome.
func compareCounts(a, b keyward.UsageCount) int {
	if c := strings.Compare(a.KeyID, b.KeyID); c != 0 {
		return c
	}
	if c := a.Minute.Compare(b.Minute); c != 0 {
		return c
	}
	return strings.Compare(string(a.Outcome), string(b.Outcome))
}

// maxPendingCounts bounds the counts kept while the store cannot be written, so that a long
// outage costs old counts rather than the process's memory.
const maxPendingCounts = 1_000_000

// keepCounts puts back counts that could not be written, to be retried by the next drain.
// They keep the minute they were counted in. Beyond maxPendingCounts held, the oldest
// minutes are dropped.
func (l *useLog) keepCounts(counts []keyward.UsageCount) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(counts)
	l.retry = true // the next drain writes them, whatever its period
	over := len(l.held) - maxPendingCounts
	if over <= 0 {
		return
	}
	minutes := make([]int64, 0, len(l.held))
	for slot := range l.held {
		minutes = append(minutes, slot.minute)
	}
	slices.Sort(minutes)
	cut := minutes[over-1] // drop every count of a minute at or before this one
	for slot := range l.held {
		if slot.minute <= cut {
			delete(l.held, slot)
		}
	}
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
