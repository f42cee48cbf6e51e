package keyward

import (
	"errors"
	"sync"
)

// A store that cannot be reached (the database restarting, a cut network, a full disk) is an
// outage, not a bug: the caller should retry, and the answer is EUnavailable (503), never
// EInternal (500). The drivers' errors for it are many and driver-specific, and come out of
// every statement of a store, so rather than wrap each of those the stores register, once, a
// test that recognises their driver's outages (postgres/unavailable.go, sqlite/
// unavailable.go), as database/sql drivers register themselves; ErrorCode consults them for
// any error that carries no domain code of its own.

var (
	outagesMu sync.RWMutex
	outages   []func(error) bool
)

// RegisterOutage adds isOutage to the tests that tell a store's outage from its other
// failures. A store package calls it from init.
func RegisterOutage(isOutage func(error) bool) {
	outagesMu.Lock()
	defer outagesMu.Unlock()
	outages = append(outages, isOutage)
}

// IsOutage reports whether err says that a store could not be reached or could not take the
// write (EUnavailable, by its code or by a registered test), so that the caller may serve
// what it knows from before or answer 503 with Retry-After.
func IsOutage(err error) bool { return err != nil && ErrorCode(err) == EUnavailable }

// outage reports whether a registered test recognises err.
func outage(err error) bool {
	outagesMu.RLock()
	defer outagesMu.RUnlock()
	for _, is := range outages {
		if is(err) {
			return true
		}
	}
	return false
}

// errOutageMessage is what a caller is told of an outage: never the driver's own words.
const errOutageMessage = "the database is unavailable; retry shortly"

// errorOf returns the first *Error in err's chain, or nil.
func errorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
