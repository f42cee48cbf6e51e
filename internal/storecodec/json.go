package storecodec

import (
	"encoding/json"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// EncodeList encodes a list of scopes or permissions as a JSON array; nil is the empty array,
// since the columns are NOT NULL.
func EncodeList(list []string) (string, error) {
	if list == nil {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// DecodeList decodes a JSON array of strings. The result stays non-nil for an empty array, so
// that a list reads back as it was written whichever store wrote it.
func DecodeList(b []byte) ([]string, error) {
	list := []string{}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// EncodeMetadata encodes a key's metadata as a JSON object, or as nil (NULL) for nil
// metadata: no metadata and an empty object are different things to a caller.
func EncodeMetadata(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// DecodeMetadata decodes a key's metadata; nil b (NULL) is nil metadata.
func DecodeMetadata(b []byte) (map[string]any, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// rateLimitJSON is the JSON of a key's rate_limit_override column. Durations are whole
// seconds, as in the tiers' columns, not Go's nanoseconds.
type rateLimitJSON struct {
	Rate               int64 `json:"rate"`
	PeriodSeconds      int64 `json:"period_seconds"`
	Burst              int64 `json:"burst"`
	QuotaLimit         int64 `json:"quota_limit"`
	QuotaWindowSeconds int64 `json:"quota_window_seconds"`
}

// EncodeRateLimit encodes a key's own rate limit as JSON, or as nil (NULL) for none. Errors:
// EValidation for a period or quota window that is not a whole number of seconds, which the
// column cannot hold.
func EncodeRateLimit(l *keyward.RateLimit) (any, error) {
	if l == nil {
		return nil, nil
	}
	period, window, err := LimitSeconds(*l)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(rateLimitJSON{Rate: l.Rate, PeriodSeconds: period, Burst: l.Burst,
		QuotaLimit: l.QuotaLimit, QuotaWindowSeconds: window})
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// DecodeRateLimit decodes a key's own rate limit; nil b (NULL) is none.
func DecodeRateLimit(b []byte) (*keyward.RateLimit, error) {
	if b == nil {
		return nil, nil
	}
	var j rateLimitJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	l := LimitFromSeconds(j.Rate, j.PeriodSeconds, j.Burst, j.QuotaLimit, j.QuotaWindowSeconds)
	return &l, nil
}

// LimitSeconds returns a rate limit's period and quota window in whole seconds, as the
// columns hold them. Errors: EValidation for a fraction of a second, which they cannot hold
// (keyward.RateLimit.Validate refuses it too).
func LimitSeconds(l keyward.RateLimit) (period, window int64, err error) {
	if l.Period%time.Second != 0 || l.QuotaWindow%time.Second != 0 {
		return 0, 0, keyward.Errorf(keyward.EValidation, "a rate limit's period and quota window must be whole numbers of seconds")
	}
	return int64(l.Period / time.Second), int64(l.QuotaWindow / time.Second), nil
}

// LimitFromSeconds returns the rate limit that columns in LimitSeconds's form hold.
func LimitFromSeconds(rate, periodSeconds, burst, quotaLimit, windowSeconds int64) keyward.RateLimit {
	return keyward.RateLimit{Rate: rate, Period: time.Duration(periodSeconds) * time.Second, Burst: burst,
		QuotaLimit: quotaLimit, QuotaWindow: time.Duration(windowSeconds) * time.Second}
}
