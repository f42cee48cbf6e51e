package verify

import (
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// numCodes is how many verification outcomes there are (keyward.VerifyCodes).
const numCodes = 11

// codeIndex is code's position in keyward.VerifyCodes. A switch, not a map: it is on the hot
// path, twice per verification.
func codeIndex(code keyward.VerifyCode) int {
	switch code {
	case keyward.VerifyValid:
		return 0
	case keyward.VerifyMalformed:
		return 1
	case keyward.VerifyNotFound:
		return 2
	case keyward.VerifyRevoked:
		return 3
	case keyward.VerifyExpired:
		return 4
	case keyward.VerifyDisabled:
		return 5
	case keyward.VerifyInsufficientScope:
		return 6
	case keyward.VerifyInsufficientPermissions:
		return 7
	case keyward.VerifyRateLimited:
		return 8
	case keyward.VerifyUsageExceeded:
		return 9
	case keyward.VerifyForbidden:
		return 10
	}
	panic("verify: unknown verification code " + string(code))
}

// counter is an atomic counter alone on its cache line, so that cores counting different
// things do not slow each other down.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// stats are the Verifier's running totals since it started, for metrics.
type stats struct {
	outcomes                 [numCodes]counter
	cacheHits, cacheMisses   counter
	rateAllowed, rateLimited counter
	rateFailedOpen           counter
	rateFailedClosed         counter
	importedLookups          counter
	staleServed              counter
	refreshes                counter
	refreshesFailed          counter
	refreshesDeferred        counter
	// What is logged while it keeps happening, at most once a second: a refresh failing,
	// the rate-limit state unreachable, keys served stale.
	refreshLogged, limiterLogged, staleLogged everySecond
}

// everySecond lets one caller through at most once a second, however many call at once:
// a failure that repeats on every verification is logged, not logged thousands of times.
type everySecond struct {
	last atomic.Int64 // Unix nanoseconds of the last call let through
}

// allow reports whether this call is the one let through.
func (e *everySecond) allow() bool {
	now := time.Now().UnixNano()
	last := e.last.Load()
	return now-last >= int64(time.Second) && e.last.CompareAndSwap(last, now)
}

func (s *stats) outcome(code keyward.VerifyCode) { s.outcomes[codeIndex(code)].Add(1) }

// Stats are a Verifier's totals since it started.
type Stats struct {
	// Outcomes counts verifications by code, indexed as keyward.VerifyCodes.
	Outcomes [numCodes]uint64
	// CacheHits and CacheMisses count cache lookups (one per server secret version tried).
	CacheHits, CacheMisses uint64
	// RateAllowed and RateLimited count rate-limit decisions; RateFailedOpen and
	// RateFailedClosed count verifications whose limit could not be checked (Redis
	// unreachable), by the fail mode applied.
	RateAllowed, RateLimited, RateFailedOpen, RateFailedClosed uint64
	// ImportedLookups counts store lookups of strings outside Keyward's format that hit the
	// imported keys' filter (see imports.go): the bound on what a flood of made-up strings
	// costs the store.
	ImportedLookups uint64
	// StaleServed counts keys judged from a cache entry past its TTL (but within the stale
	// bound) because the store could not be read: verifications an outage did not stop.
	StaleServed uint64
	// Refreshes counts background reads of due cache entries that got an answer (the key,
	// or that it is gone); RefreshesFailed those that did not (the entry is kept, within its
	// TTL); RefreshesDeferred due entries left for a later use because MaxRefreshes were
	// running.
	Refreshes, RefreshesFailed, RefreshesDeferred uint64
}

// Stats returns the totals so far.
func (v *Verifier) Stats() Stats {
	s := &v.stats
	out := Stats{
		CacheHits: s.cacheHits.Load(), CacheMisses: s.cacheMisses.Load(),
		RateAllowed: s.rateAllowed.Load(), RateLimited: s.rateLimited.Load(),
		RateFailedOpen: s.rateFailedOpen.Load(), RateFailedClosed: s.rateFailedClosed.Load(),
		ImportedLookups: s.importedLookups.Load(), StaleServed: s.staleServed.Load(),
		Refreshes: s.refreshes.Load(), RefreshesFailed: s.refreshesFailed.Load(),
		RefreshesDeferred: s.refreshesDeferred.Load(),
	}
	for i := range s.outcomes {
		out.Outcomes[i] = s.outcomes[i].Load()
	}
	return out
}
