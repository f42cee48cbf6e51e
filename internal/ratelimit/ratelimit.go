// Package ratelimit enforces keys' rate limits on the verification hot path, per bucket: a
// key's rotation lineage, so that rotating a key does not reset its limit.
//
// The rate is a GCRA (generic cell rate algorithm) bucket. Its whole state is one timestamp,
// the theoretical arrival time (TAT) of the next request: O(1) memory per bucket, one field
// to update atomically, one Redis hash field and a short Lua script. It spaces requests
// exactly (one per emission interval T = Period/Rate), takes the burst as a parameter of its
// own (up to Burst at once, as the tolerance tau = Burst*T), and its answers fall straight
// out of the TAT: remaining is how many more T fit under tau, reset is TAT-now, retry-after
// is how far TAT+T overshoots now+tau. A sliding-window log would cost memory per request,
// and a sliding-window counter only approximates the rate. A request at now is allowed iff
// max(TAT, now)+T-now <= tau; a fresh bucket so allows Burst at once, then one per T.
//
// The optional quota is a counter per fixed window, windows counted from the Unix epoch (a
// day is a UTC day). A request is allowed only if both the rate and the quota allow it, and
// only an allowed request changes the state: a refused one consumes nothing.
//
// Memory keeps the state in this process; Redis keeps it in Redis, shared by every node, and
// spends the lineage's credits in the same step. Times are integer nanoseconds throughout.
package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// Limiter decides whether requests are within their limits.
type Limiter interface {
	// Take decides req at now and, when allowed, records it. It does not retain req. An
	// error means the state could not be reached (Redis); the caller applies the tier's
	// fail mode.
	Take(ctx context.Context, req *Request, now time.Time) (Decision, error)
	// KeepsCredits reports whether Take spends Request.Credits itself (Redis) or the
	// caller must spend them in the database (Memory).
	KeepsCredits() bool
}

// ErrUnavailable means that Redis could not be reached. Take returns it alone while the
// breaker is open (without trying), and wrapped around the cause when a call fails.
var ErrUnavailable = errors.New("ratelimit: redis unavailable")

// Request is one request to decide.
type Request struct {
	// Bucket is the key's lineage id.
	Bucket string
	// Limit is the key's limit. It may change between Takes (the key's tier changed): the
	// bucket's state carries over and is read under the new limit.
	Limit keyward.RateLimit
	// Credits, when non-nil and the limiter KeepsCredits, are the lineage's credits as the
	// database knows them. The limiter keeps its own copy: seeded from these, and seeded
	// afresh when Version is higher than its copy's. It refills its copy when
	// Refill.Boundary(now) is later than the copy's RefilledAt (a refill sets the remaining
	// credits to Refill.Amount), then spends Cost if that many remain. It is exact under
	// concurrency across nodes.
	Credits *keyward.Credits
	// Cost is the credits to spend, >= 0.
	Cost int64
	// Slot, when set, lets Memory remember the bucket it found for this request, and Redis
	// its lease of the bucket, so that the next Take with it skips the lookup. A caller
	// that builds one Request per key and uses it many times (the verifier's cache does)
	// gives it one; copies of the Request share it.
	Slot *Slot
}

// Slot remembers, for Memory, the bucket a Request names, and for Redis its lease. Its
// zero value is ready.
type Slot struct {
	b atomic.Pointer[bucket]
	l atomic.Pointer[lease]
}

// Window is one policy's state after a decision; the domain defines it (see
// keyward.LimitWindow) so that transports can describe a decision without this package.
type Window = keyward.LimitWindow

// Decision is the answer to one Request; see keyward.LimitDecision, which it is.
type Decision = keyward.LimitDecision

// maxTau bounds the tolerance, so that TAT arithmetic is exact everywhere: the Redis script's
// numbers are doubles, exact below 2^53, and TAT-now plus one interval must stay below that.
// It is about 103 days, so it binds only a limit whose burst takes longer to earn back (a
// burst of 200 at one a day): such a limit allows maxTau/T at once instead of Burst.
const maxTau = 1<<53 - int64(keyward.MaxRateLimitPeriod)

// params are a limit's GCRA parameters, in nanoseconds.
type params struct {
	interval int64 // T, Period/Rate
	tau      int64 // Burst*T, at most maxTau
	window   int64 // the quota window; 0 without a quota
}

func paramsOf(l *keyward.RateLimit) params {
	// Limits are validated where they are set. The clamps only keep one that was not from
	// dividing by zero or overflowing.
	t := min(max(int64(l.Period)/max(l.Rate, 1), 1), int64(keyward.MaxRateLimitPeriod))
	p := params{interval: t, tau: maxTau}
	if burst := max(l.Burst, 1); burst <= maxTau/t {
		p.tau = burst * t
	}
	if l.QuotaLimit > 0 {
		p.window = max(int64(l.QuotaWindow/time.Second), 1) * int64(time.Second)
	}
	return p
}

// decision is the answer for a bucket after it decided: rateOK and quotaOK say which policy
// allowed, ahead is how far its TAT is then ahead of now (0 if not), count how many its
// quota window holds and windowLeft the time until that window ends.
func decision(p params, l *keyward.RateLimit, rateOK, quotaOK bool, ahead, count, windowLeft int64) Decision {
	d := Decision{
		Allowed: rateOK && quotaOK,
		Rate:    Window{Limit: l.Burst, Remaining: max(p.tau-ahead, 0) / p.interval, Reset: time.Duration(ahead)},
	}
	if l.QuotaLimit > 0 {
		d.Quota = Window{Limit: l.QuotaLimit, Remaining: max(l.QuotaLimit-count, 0), Reset: time.Duration(windowLeft)}
	}
	if !rateOK {
		// The earliest now' with TAT+T-now' <= tau.
		d.RetryAfter = time.Duration(ahead + p.interval - p.tau)
	}
	if !quotaOK {
		d.RetryAfter = max(d.RetryAfter, time.Duration(windowLeft))
	}
	return d
}
