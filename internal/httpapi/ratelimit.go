package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/verify"
)

// limitHeaders are the headers of the refusal of a good key (or token) that is over its rate
// limit or out of credits: Retry-After, and the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers when it was held to its rate limit.
func limitHeaders(v *verify.Result) http.Header {
	h := http.Header{}
	if v.Code == keyward.VerifyUsageExceeded {
		// Spent credits come back at the next refill, if there is one.
		if c := v.Key.Credits; c != nil && c.Refill != nil {
			h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(time.Until(c.Refill.Next(time.Now()))), 1), 10))
		}
	}
	if v.Limited {
		setRateLimitHeaders(h, v.Policy, v.RateLimit)
	}
	return h
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
