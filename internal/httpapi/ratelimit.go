package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
)

// limitProblem is the 429 for a key refused by its rate limit or its usage credits, with
// Retry-After and the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers.
func limitProblem(e *authn.LimitError) *Problem {
	res := e.Result
	p := newProblem(http.StatusTooManyRequests, e.Error())
	p.headers = http.Header{}
	if res.Code == keyward.VerifyUsageExceeded {
		p.Code = "usage_exceeded"
		// Spent credits come back at the next refill, if there is one.
		if c := res.Key.Credits; c != nil && c.Refill != nil {
			p.headers.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(time.Until(c.Refill.Next(time.Now()))), 1), 10))
		}
	}
	if res.Limited {
		setRateLimitHeaders(p.headers, res.Policy, res.RateLimit)
	}
	return p
}

// limitHeaders are the headers of a 429 for err, when it is a limited key's; else nil.
func limitHeaders(err error) http.Header {
	var limited *authn.LimitError
	if !errors.As(err, &limited) {
		return nil
	}
	return limitProblem(limited).headers
}

// setRateLimitHeaders describes limit's policies and where d left the key in them. The rate
// policy's window is the time a full burst takes to refill.
func setRateLimitHeaders(h http.Header, limit keyward.RateLimit, d ratelimit.Decision) {
	policies := []string{}
	if limit.Rate > 0 {
		refill := time.Duration(limit.Burst) * limit.Period / time.Duration(limit.Rate)
		policies = append(policies, fmt.Sprintf(`"rate";q=%d;w=%d`, limit.Burst, ceilSeconds(refill)))
	}
	if limit.QuotaLimit > 0 {
		policies = append(policies, fmt.Sprintf(`"quota";q=%d;w=%d`, limit.QuotaLimit, ceilSeconds(limit.QuotaWindow)))
	}
	for _, p := range policies {
		h.Add("RateLimit-Policy", p)
	}
	name, w := "rate", d.Binding()
	if limit.QuotaLimit > 0 && w == d.Quota && w != d.Rate {
		name = "quota"
	}
	h.Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, name, w.Remaining, ceilSeconds(w.Reset)))
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

// ceilSeconds rounds d up to whole seconds: a client told to wait 0 s when 300 ms remain
// would come back too early.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
