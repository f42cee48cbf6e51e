package webhook

import (
	"math/rand/v2"
	"slices"
	"time"
)

// delays are the waits after each failed attempt, the spec's example schedule: attempt 1 is
// made at once, attempt 2 five seconds after it fails, and so on to attempt 10, about 75½
// hours (a little over three days) after the first.
var delays = [...]time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// MaxAttempts is how many attempts a message gets, 10: the first, and one after each delay of
// the schedule.
const MaxAttempts = len(delays) + 1

// Jitter is the share by which NextAttempt moves each delay, either way, so that messages
// that failed together (an endpoint's outage) do not all come back at the same moment.
const Jitter = 0.2

// Schedule returns the delays before attempts 2 to MaxAttempts, without jitter.
func Schedule() []time.Duration { return slices.Clone(delays[:]) }

// NextAttempt returns when to make the next attempt after attempt number attempt (counting
// from 1) failed at now: now plus the schedule's delay, moved by up to ±Jitter with rnd (nil
// means math/rand/v2's global source; a *rand.Rand is not safe for concurrent use, so the
// caller's must be its own). ok is false once the last attempt has failed: give up. An
// attempt below 1 means none was made yet: the first is due at once.
func NextAttempt(attempt int, now time.Time, rnd *rand.Rand) (at time.Time, ok bool) {
	if attempt < 1 {
		return now, true
	}
	if attempt >= MaxAttempts {
		return time.Time{}, false
	}
	f := rand.Float64
	if rnd != nil {
		f = rnd.Float64
	}
	factor := 1 - Jitter + 2*Jitter*f() // in [1-Jitter, 1+Jitter], the top reached by rounding
	return now.Add(time.Duration(float64(delays[attempt-1]) * factor)), true
}
