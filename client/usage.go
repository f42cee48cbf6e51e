package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Credits are a key's usage credits: how many more verifications it may pass. Each
// verification spends its cost (VerifyKeyParams.Cost, 1 by default); once too few remain it
// is USAGE_EXCEEDED and spends nothing. A key and the keys it is rotated into share one
// balance.
type Credits struct {
	// Remaining is what is left, 0 to 2^50.
	Remaining int64 `json:"remaining"`
	// Refill sets Remaining back to its Amount daily or monthly; nil for never.
	Refill *Refill `json:"refill,omitempty"`
	// RefilledAt is the last refill applied, nil before the first. The server sets it; it is
	// not sent.
	RefilledAt *time.Time `json:"refilled_at,omitempty"`
}

// RefillInterval is how often a key's credits are refilled.
type RefillInterval string

// Refill intervals. A refill sets the remaining credits to the refill amount; unused credits
// do not pile up.
const (
	RefillDaily   RefillInterval = "daily"   // at 00:00 UTC
	RefillMonthly RefillInterval = "monthly" // at 00:00 UTC on Refill.Day
)

// Refill is a credit refill policy.
type Refill struct {
	Interval RefillInterval `json:"interval"`
	// Amount is what Remaining is set to, at least 1.
	Amount int64 `json:"amount"`
	// Day is the day of the month of a monthly refill, 1..31 (the month's last day when it is
	// shorter); 0 for a daily one.
	Day int `json:"day,omitempty"`
}

// sendable is c as a request carries it: without the server-set RefilledAt.
func (c *Credits) sendable() *Credits {
	if c == nil {
		return nil
	}
	out := *c
	out.RefilledAt = nil
	return &out
}

// Granularity is the bucket size of a usage report.
type Granularity string

// Usage report granularities. Buckets start at multiples of the size from the Unix epoch, so
// a day is a UTC day.
const (
	GranularityMinute Granularity = "minute"
	GranularityHour   Granularity = "hour" // the server's default
	GranularityDay    Granularity = "day"
)

// UsageParams chooses what a usage report covers. Zero values let the server choose.
type UsageParams struct {
	// ProjectID limits Usage to one project's keys; "" covers the whole account. KeyUsage
	// refuses it.
	ProjectID string
	// From is the report's start; zero for To minus 24 hours.
	From time.Time
	// To is the report's end, exclusive; zero for now.
	To time.Time
	// Granularity is the bucket size; "" for GranularityHour.
	Granularity Granularity
}

func (p UsageParams) query() url.Values {
	q := url.Values{}
	if p.ProjectID != "" {
		q.Set("project_id", p.ProjectID)
	}
	if !p.From.IsZero() {
		q.Set("from", p.From.UTC().Format(time.RFC3339Nano))
	}
	if !p.To.IsZero() {
		q.Set("to", p.To.UTC().Format(time.RFC3339Nano))
	}
	if p.Granularity != "" {
		q.Set("granularity", string(p.Granularity))
	}
	return q
}

// Usage is a report of verifications over time: counts by outcome in buckets, oldest first.
// Buckets with no verification are left out. Counts reach the report a second or two after
// the verifications.
//
// As with Key, unset strings are "" here and null on the wire.
type Usage struct {
	// KeyID is the key reported on; "" for a project's or the account's report.
	KeyID string `json:"key_id"`
	// ProjectID is the project reported on; "" for a key's or the account's report.
	ProjectID   string        `json:"project_id"`
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	Granularity Granularity   `json:"granularity"`
	Total       int64         `json:"total"`
	Buckets     []UsageBucket `json:"buckets"`
}

// UsageBucket is the count of verifications in one bucket of a Usage report.
type UsageBucket struct {
	// Start is the bucket's start, in UTC.
	Start time.Time `json:"start"`
	// Total is the sum of Outcomes.
	Total int64 `json:"total"`
	// Outcomes counts the verifications by verdict (VerifyValid, VerifyRateLimited, …);
	// verdicts with no count are left out.
	Outcomes map[VerifyCode]int64 `json:"outcomes"`
}

// MarshalJSON writes the report in its wire form and order, with null for the unset ids.
func (u Usage) MarshalJSON() ([]byte, error) {
	buckets := u.Buckets
	if buckets == nil {
		buckets = []UsageBucket{}
	}
	return json.Marshal(struct {
		KeyID       *string       `json:"key_id"`
		ProjectID   *string       `json:"project_id"`
		From        time.Time     `json:"from"`
		To          time.Time     `json:"to"`
		Granularity Granularity   `json:"granularity"`
		Total       int64         `json:"total"`
		Buckets     []UsageBucket `json:"buckets"`
	}{nullIfEmpty(u.KeyID), nullIfEmpty(u.ProjectID), u.From, u.To, u.Granularity, u.Total, buckets})
}

// KeyUsage reports one key's verifications. params.ProjectID must be "". Errors:
// validation_failed (a bad window: From not before To, or over 366 days), not_found,
// unauthenticated, forbidden.
func (c *Client) KeyUsage(ctx context.Context, keyID string, params UsageParams) (*Usage, error) {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return nil, err
	}
	if params.ProjectID != "" {
		return nil, errors.New("keyward: KeyUsage reports on one key: UsageParams.ProjectID must be empty")
	}
	return c.usage(ctx, "/v1/api-keys/"+id+"/usage", params)
}

// Usage reports the verifications of every key of the account, or of params.ProjectID's.
// Errors: validation_failed (a bad window), not_found (the project), unauthenticated,
// forbidden.
func (c *Client) Usage(ctx context.Context, params UsageParams) (*Usage, error) {
	return c.usage(ctx, "/v1/usage", params)
}

func (c *Client) usage(ctx context.Context, path string, params UsageParams) (*Usage, error) {
	var u Usage
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, query: params.query(), auth: true}, &u); err != nil {
		return nil, err
	}
	if u.Buckets == nil {
		u.Buckets = []UsageBucket{}
	}
	return &u, nil
}
