package keyward

import "time"

// LimitWindow is one rate-limit policy's state after a decision, for answers and headers.
type LimitWindow struct {
	// Limit is the rate's Burst or the QuotaLimit.
	Limit int64
	// Remaining is how many more would be allowed right now (>= 0).
	Remaining int64
	// Reset is the time until the policy is fully replenished: for the rate, until the
	// bucket's theoretical arrival time (0 when it has passed); for the quota, until the
	// window ends.
	Reset time.Duration
}

// LimitDecision is a rate limiter's answer to one request (see internal/ratelimit). It lives
// in the domain so that the transports can describe it (the RateLimit headers, a verdict's
// ratelimit field) without knowing the limiter.
type LimitDecision struct {
	Allowed bool
	Rate    LimitWindow
	// Quota is the zero LimitWindow when the limit has no quota.
	Quota LimitWindow
	// RetryAfter is, when !Allowed, the time until a request would be allowed (> 0); 0 when
	// allowed.
	RetryAfter time.Duration
	// CreditsOK and CreditsRemaining report the credit spend. They are set only when the
	// request carried credits and the limiter keeps them; otherwise they are false and 0.
	// When !Allowed the credits are neither checked nor spent: CreditsOK is false and
	// CreditsRemaining is what remains (after any refill that is due).
	CreditsOK        bool
	CreditsRemaining int64
}

// Binding returns the window that decided: the one that refused, else the one with fewer
// remaining, the quota only when the limit has one. On a tie (both refused, or both with as
// many remaining) it is the one with the later Reset.
func (d LimitDecision) Binding() LimitWindow {
	q, r := d.Quota, d.Rate
	if q.Limit == 0 {
		return r
	}
	// A window refused exactly when it has none remaining, so fewer remaining covers both.
	if q.Remaining < r.Remaining || q.Remaining == r.Remaining && q.Reset > r.Reset {
		return q
	}
	return r
}
