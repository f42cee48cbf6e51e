package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ReportedKeyUse is one key's uses that a caller decided itself, from valid verdicts it
// keeps, since its last report. A Middleware with LocalVerify reports its own; see
// ReportKeyUsage.
type ReportedKeyUse struct {
	KeyID string
	// Valid counts the uses let through; RateLimited those refused under the key's rate
	// limit.
	Valid, RateLimited int64
	// LastUsedAt is the latest use let through; zero means now, when Valid > 0.
	LastUsedAt time.Time
}

type reportedKeyUseWire struct {
	KeyID    string `json:"key_id"`
	Outcomes struct {
		Valid       int64 `json:"VALID,omitempty"`
		RateLimited int64 `json:"RATE_LIMITED,omitempty"`
	} `json:"outcomes"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// MarshalJSON writes the use in its wire form: {"key_id", "outcomes": {"VALID",
// "RATE_LIMITED"}, "last_used_at"}.
func (u ReportedKeyUse) MarshalJSON() ([]byte, error) {
	w := reportedKeyUseWire{KeyID: u.KeyID}
	w.Outcomes.Valid, w.Outcomes.RateLimited = u.Valid, u.RateLimited
	if !u.LastUsedAt.IsZero() {
		w.LastUsedAt = utc(&u.LastUsedAt)
	}
	return json.Marshal(w)
}

// UsageReportResult says what became of reported uses.
type UsageReportResult struct {
	// Recorded counts the entries of the credential's account's keys, recorded.
	Recorded int `json:"recorded"`
	// Skipped counts the entries of keys that do not exist or are another account's.
	Skipped int `json:"skipped"`
}

// MaxUsageReport is how many keys' uses one request reports; ReportKeyUsage sends more in
// several.
const MaxUsageReport = 1000

// ReportKeyUsage reports uses of keys decided from cached verdicts, so that they count in
// the keys' usage and last_used_at as if each had been verified by Keyward. It does not
// spend the keys' rate limits on the server. It needs api_keys.read; uses of keys of other
// accounts are skipped. On an error, the requests before the failing one were recorded.
func (c *Client) ReportKeyUsage(ctx context.Context, uses []ReportedKeyUse) (*UsageReportResult, error) {
	var total UsageReportResult
	for start := 0; start < len(uses); start += MaxUsageReport {
		body := struct {
			Uses []ReportedKeyUse `json:"uses"`
		}{uses[start:min(start+MaxUsageReport, len(uses))]}
		var r UsageReportResult
		if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/keys/usage", body: body, auth: true}, &r); err != nil {
			return &total, err
		}
		total.Recorded += r.Recorded
		total.Skipped += r.Skipped
	}
	return &total, nil
}

// unixTime is t, Unix nanoseconds, in UTC.
func unixTime(t int64) time.Time { return time.Unix(0, t).UTC() }
