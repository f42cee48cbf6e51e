package client

import "time"

// limitParams are a rate limit's GCRA parameters in nanoseconds, as Keyward's own limiter
// computes them: one verification per interval, up to burst at once (the tolerance tau),
// and at most quota in each fixed window counted from the Unix epoch.
type limitParams struct {
	interval, tau int64
	burst         int64
	window, quota int64 // 0 without a quota
}

// paramsOf returns l's parameters, clamped so that a limit the server would not have
// accepted cannot divide by zero or overflow.
func paramsOf(l *RateLimit) limitParams {
	const maxPeriod = int64(24 * time.Hour)
	period := max(int64(l.Period), int64(time.Second))
	t := min(max(period/max(l.Rate, 1), 1), maxPeriod)
	burst := max(l.Burst, 1)
	p := limitParams{interval: t, burst: burst, tau: burst * t}
	if burst > (1<<62)/t {
		p.tau = 1 << 62
	}
	if l.QuotaLimit > 0 {
		p.quota = l.QuotaLimit
		p.window = max(int64(l.QuotaWindow/time.Second), 1) * int64(time.Second)
	}
	return p
}

// bucket is one key's state against its limit: the theoretical arrival time of the next
// verification, and the count in the current quota window.
type bucket struct {
	tat        int64
	quotaEnd   int64
	quotaCount int64
}

// take decides one verification at t (Unix nanoseconds) and, when allowed, records it. When
// refused, wait is how long until one would be allowed, and limit is the size of the policy
// that refused: the burst, or the quota.
func (b *bucket) take(p *limitParams, t int64) (allowed bool, wait time.Duration, limit int64) {
	ahead := max(b.tat-t, 0)
	rateOK := ahead+p.interval <= p.tau
	quotaOK, end, count := true, int64(0), int64(0)
	if p.window > 0 {
		end = (t/p.window + 1) * p.window
		if b.quotaEnd == end {
			count = b.quotaCount
		}
		quotaOK = count < p.quota
	}
	if rateOK && quotaOK {
		b.tat = t + ahead + p.interval
		b.quotaEnd, b.quotaCount = end, count+1
		return true, 0, 0
	}
	limit = p.burst
	if !rateOK {
		wait = time.Duration(ahead + p.interval - p.tau)
	}
	if !quotaOK && time.Duration(end-t) > wait {
		wait, limit = time.Duration(end-t), p.quota
	}
	return false, wait, limit
}

// seed merges what Keyward's answer said of the key's standing at t into b, which keeps
// whatever it had counted itself if that is more: the binding window's remaining (the burst,
// or the quota when it is the tighter) sets the matching state; the other counts the one
// verification Keyward just made.
func (b *bucket) seed(p *limitParams, st *RateLimitState, t int64) {
	tat := t + p.interval
	if st != nil && st.Limit == p.burst {
		tat = t + (p.burst-min(max(st.Remaining, 0), p.burst))*p.interval
	}
	b.tat = max(b.tat, tat)
	if p.window == 0 {
		return
	}
	end := (t/p.window + 1) * p.window
	count := int64(1)
	if st != nil && st.Limit == p.quota && p.quota != p.burst {
		count = p.quota - min(max(st.Remaining, 0), p.quota)
	}
	if b.quotaEnd != end {
		b.quotaEnd, b.quotaCount = end, 0
	}
	b.quotaCount = max(b.quotaCount, count)
}
