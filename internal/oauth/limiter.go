package oauth

import (
	"sync"
	"time"
)

// overflow is the counter that every name shares once a limiter's table is full, so that an
// attacker cannot escape the limit by using more names than the table holds.
const overflow = "\x00overflow"

// Limiter counts failed client authentications per name (a client_id, a remote address) in
// fixed windows, and refuses a name that failed too often in the current window until the
// window ends. Its memory is bounded: past MaxNames names in one window, new names share
// one counter. It is safe for concurrent use.
type Limiter struct {
	max      int
	window   time.Duration
	maxNames int
	now      func() time.Time

	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

// NewLimiter returns a limiter that refuses a name after max failures in a window.
// maxNames bounds the names tracked per window; now may be nil for time.Now.
func NewLimiter(max int, window time.Duration, maxNames int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, maxNames: maxNames, now: now, counts: map[string]int{}}
}

// roll starts a new window when the current one is over. The caller holds mu.
func (l *Limiter) roll(now time.Time) {
	if now.Sub(l.start) >= l.window || now.Before(l.start) {
		l.start = now
		clear(l.counts)
	}
}

// Blocked reports whether name has failed too often in the current window, and how long
// until the window ends.
func (l *Limiter) Blocked(name string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.roll(now)
	n, ok := l.counts[name]
	if !ok {
		n = l.counts[overflow]
	}
	if n < l.max {
		return 0, false
	}
	return l.start.Add(l.window).Sub(now), true
}

// Fail counts a failure of name.
func (l *Limiter) Fail(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.now())
	if _, ok := l.counts[name]; !ok && len(l.counts) >= l.maxNames {
		name = overflow
	}
	l.counts[name]++
}
