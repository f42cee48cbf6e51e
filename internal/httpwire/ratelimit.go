package httpwire

import (
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// Refusal is a good key refused by its rate limit or its usage credits, as the verdict
// reports it (see verify.Result, whose fields these are).
type Refusal struct {
	// Code is keyward.VerifyRateLimited or keyward.VerifyUsageExceeded.
	Code keyward.VerifyCode
	// Key is the refused key; its credits' next refill is when spent credits come back.
	Key *keyward.Key
	// Limited: the key was held to Policy, and Decision is where that left it.
	Limited  bool
	Policy   keyward.RateLimit
	Decision keyward.LimitDecision
}

// SetRefusalHeaders adds to h what the client of a good key refused for its limits needs to
// know: when spent credits come back (Retry-After, if they refill), and, when the key was held
// to its rate limit, the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers with Retry-After.
func SetRefusalHeaders(h http.Header, r Refusal) {
	if r.Code == keyward.VerifyUsageExceeded && r.Key != nil && r.Key.Credits != nil && r.Key.Credits.Refill != nil {
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(time.Until(r.Key.Credits.Refill.Next(time.Now()))), 1), 10))
	}
	if r.Limited {
		SetRateLimitHeaders(h, r.Policy, r.Decision)
	}
}

// SetRateLimitHeaders describes limit's policies in RateLimit-Policy and where d left the
// key in them in RateLimit, naming the binding policy; when d refused, Retry-After says
// when to come back. The rate policy's window is the time a full burst takes to refill.
func SetRateLimitHeaders(h http.Header, limit keyward.RateLimit, d keyward.LimitDecision) {
	// Written without fmt: a front door answers these on every allowed request.
	var policies []string
	if limit.Rate > 0 {
		refill := time.Duration(limit.Burst) * limit.Period / time.Duration(limit.Rate)
		policies = append(policies, limitItem("rate", "q", limit.Burst, ceilSeconds(refill)))
	}
	if limit.QuotaLimit > 0 {
		policies = append(policies, limitItem("quota", "q", limit.QuotaLimit, ceilSeconds(limit.QuotaWindow)))
	}
	if len(policies) > 0 {
		h["Ratelimit-Policy"] = append(h["Ratelimit-Policy"], policies...)
	}
	name, w := "rate", d.Binding()
	if limit.QuotaLimit > 0 && w == d.Quota && w != d.Rate {
		name = "quota"
	}
	h["Ratelimit"] = []string{limitItem(name, "r", w.Remaining, ceilSeconds(w.Reset))}
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

// limitItem writes one item of the RateLimit fields: "name";KEY=n;w=secs for a policy, or
// "name";r=n;t=secs for the state (key "r"), as draft-ietf-httpapi-ratelimit-headers spells them.
func limitItem(name, key string, n, secs int64) string {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ';')
	b = append(b, key...)
	b = append(b, '=')
	b = strconv.AppendInt(b, n, 10)
	if key == "r" {
		b = append(b, ";t="...)
	} else {
		b = append(b, ";w="...)
	}
	b = strconv.AppendInt(b, secs, 10)
	return string(b)
}

// ceilSeconds rounds d up to whole seconds: a client told to wait 0 s when 300 ms remain
// would come back too early.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
