package httpwire_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

func TestSetRateLimitHeaders(t *testing.T) {
	rate := keyward.RateLimit{Rate: 10, Period: time.Minute, Burst: 5}
	quota := keyward.RateLimit{Rate: 10, Period: time.Minute, Burst: 5, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}
	for _, tc := range []struct {
		name  string
		limit keyward.RateLimit
		d     keyward.LimitDecision
		want  http.Header
	}{
		{"allowed", rate, keyward.LimitDecision{Allowed: true, Rate: keyward.LimitWindow{Limit: 5, Remaining: 3, Reset: 12 * time.Second}},
			http.Header{"Ratelimit-Policy": {`"rate";q=5;w=30`}, "Ratelimit": {`"rate";r=3;t=12`}}},
		{"refused, rounded up", rate, keyward.LimitDecision{Rate: keyward.LimitWindow{Limit: 5, Reset: 30 * time.Second}, RetryAfter: 5*time.Second + time.Millisecond},
			http.Header{"Ratelimit-Policy": {`"rate";q=5;w=30`}, "Ratelimit": {`"rate";r=0;t=30`}, "Retry-After": {"6"}}},
		{"refused, at least a second", rate, keyward.LimitDecision{Rate: keyward.LimitWindow{Limit: 5}, RetryAfter: time.Nanosecond},
			http.Header{"Ratelimit-Policy": {`"rate";q=5;w=30`}, "Ratelimit": {`"rate";r=0;t=0`}, "Retry-After": {"1"}}},
		{"quota binds", quota, keyward.LimitDecision{Rate: keyward.LimitWindow{Limit: 5, Remaining: 4, Reset: 6 * time.Second}, Quota: keyward.LimitWindow{Limit: 1000, Reset: time.Hour}, RetryAfter: time.Hour},
			http.Header{"Ratelimit-Policy": {`"rate";q=5;w=30`, `"quota";q=1000;w=86400`}, "Ratelimit": {`"quota";r=0;t=3600`}, "Retry-After": {"3600"}}},
		{"rate binds beside a quota", quota, keyward.LimitDecision{Allowed: true, Rate: keyward.LimitWindow{Limit: 5, Remaining: 1, Reset: 24 * time.Second}, Quota: keyward.LimitWindow{Limit: 1000, Remaining: 900, Reset: time.Hour}},
			http.Header{"Ratelimit-Policy": {`"rate";q=5;w=30`, `"quota";q=1000;w=86400`}, "Ratelimit": {`"rate";r=1;t=24`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			httpwire.SetRateLimitHeaders(h, tc.limit, tc.d)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetRefusalHeaders(t *testing.T) {
	limit := keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1}
	refused := keyward.LimitDecision{Rate: keyward.LimitWindow{Limit: 1, Reset: time.Second}, RetryAfter: time.Second}
	refilled := &keyward.Key{Credits: &keyward.Credits{Refill: &keyward.CreditRefill{Interval: keyward.RefillDaily, Amount: 10}}}
	for _, tc := range []struct {
		name       string
		r          httpwire.Refusal
		retryAfter bool
		rateLimit  string
	}{
		{"rate limited", httpwire.Refusal{Code: keyward.VerifyRateLimited, Limited: true, Policy: limit, Decision: refused}, true, `"rate";r=0;t=1`},
		{"rate limited, limit unknown", httpwire.Refusal{Code: keyward.VerifyRateLimited}, false, ""},
		{"credits spent, refilled", httpwire.Refusal{Code: keyward.VerifyUsageExceeded, Key: refilled}, true, ""},
		{"credits spent for good", httpwire.Refusal{Code: keyward.VerifyUsageExceeded, Key: &keyward.Key{Credits: &keyward.Credits{}}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			httpwire.SetRefusalHeaders(h, tc.r)
			if s := h.Get("Retry-After"); (s != "") != tc.retryAfter {
				t.Errorf("Retry-After = %q, want one: %v", s, tc.retryAfter)
			} else if n, err := strconv.Atoi(s); tc.retryAfter && (err != nil || n < 1 || n > 86400) {
				t.Errorf("Retry-After = %q, want 1 to 86400 seconds", s)
			}
			if got := h.Get("RateLimit"); got != tc.rateLimit {
				t.Errorf("RateLimit = %q, want %q", got, tc.rateLimit)
			}
		})
	}
}
