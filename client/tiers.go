package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// RateLimit is how fast a key may be verified: Rate verifications per Period with up to
// Burst at once, and optionally at most QuotaLimit in each QuotaWindow (windows counted from
// the Unix epoch, so a 24h window is a UTC day). A verification over it is RATE_LIMITED.
//
// On the wire the durations are whole seconds (period_seconds, quota_window_seconds); a
// duration that is not whole seconds cannot be sent.
type RateLimit struct {
	// Rate is the verifications allowed per Period, 1 to 1,000,000.
	Rate int64
	// Period is the rate's time unit, whole seconds from 1s to 24h; 0 lets the server choose
	// one second.
	Period time.Duration
	// Burst is how many verifications may come at once; 0 lets the server choose Rate.
	Burst int64
	// QuotaLimit is the most verifications in one QuotaWindow; 0 for no quota.
	QuotaLimit int64
	// QuotaWindow is the quota's window, whole seconds from 1m to 31 days; 0 without a quota.
	QuotaWindow time.Duration
}

// rateLimitWire is RateLimit as the server reads and writes it.
type rateLimitWire struct {
	Rate               int64 `json:"rate"`
	PeriodSeconds      int64 `json:"period_seconds,omitempty"`
	Burst              int64 `json:"burst,omitempty"`
	QuotaLimit         int64 `json:"quota_limit,omitempty"`
	QuotaWindowSeconds int64 `json:"quota_window_seconds,omitempty"`
}

// MarshalJSON writes the limit in its wire form, durations in seconds. A Period or
// QuotaWindow that is negative or not whole seconds is an error.
func (l RateLimit) MarshalJSON() ([]byte, error) {
	period, err := wholeSeconds("period", l.Period)
	if err != nil {
		return nil, err
	}
	window, err := wholeSeconds("quota window", l.QuotaWindow)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rateLimitWire{Rate: l.Rate, PeriodSeconds: period, Burst: l.Burst,
		QuotaLimit: l.QuotaLimit, QuotaWindowSeconds: window})
}

// UnmarshalJSON reads the limit's wire form.
func (l *RateLimit) UnmarshalJSON(data []byte) error {
	var w rateLimitWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*l = RateLimit{Rate: w.Rate, Period: time.Duration(w.PeriodSeconds) * time.Second, Burst: w.Burst,
		QuotaLimit: w.QuotaLimit, QuotaWindow: time.Duration(w.QuotaWindowSeconds) * time.Second}
	return nil
}

func wholeSeconds(what string, d time.Duration) (int64, error) {
	if d < 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("keyward: rate limit %s %v: want whole seconds", what, d)
	}
	return int64(d / time.Second), nil
}

// FailMode says what verifications of a tier's keys do while the server's shared rate-limit
// state cannot be reached.
type FailMode string

// Fail modes.
const (
	// FailOpen lets verifications through unlimited (the key is still checked in full); it is
	// the server's default.
	FailOpen FailMode = "fail_open"
	// FailClosed answers RATE_LIMITED until the state can be reached again.
	FailClosed FailMode = "fail_closed"
)

// Tier is a named rate limit that keys refer to by name (Key.RateLimitTier). Every account
// has the built-in tiers TierStandard and TierHigh, which it may change, and may add its own.
type Tier struct {
	// Name is the tier's name: lower-case letters, digits and '-', starting with a letter.
	Name        string `json:"name"`
	Description string `json:"description"`
	// RateLimit is the limit of every key on the tier that has none of its own.
	RateLimit RateLimit `json:"rate_limit"`
	// RequiresApproval: a key gets the tier only when someone with the
	// api_keys.approve_high_tier permission grants it; anyone else's ask becomes a pending
	// TierRequest.
	RequiresApproval bool     `json:"requires_approval"`
	FailMode         FailMode `json:"fail_mode"`
	// BuiltIn is true for the tiers every account has (standard, high).
	BuiltIn bool `json:"built_in"`
	// UpdatedAt is nil for a built-in tier the account has not changed.
	UpdatedAt *time.Time `json:"updated_at"`
}

// ListTiers returns the account's tiers, the built-in ones included, by name. Errors:
// unauthenticated, forbidden (it needs rate_limit_tiers.read).
func (c *Client) ListTiers(ctx context.Context) ([]*Tier, error) {
	var ts []*Tier
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/rate-limit-tiers", auth: true}, &ts); err != nil {
		return nil, err
	}
	if ts == nil {
		ts = []*Tier{}
	}
	return ts, nil
}

// GetTier returns one of the account's tiers by name. Errors: not_found, unauthenticated,
// forbidden.
func (c *Client) GetTier(ctx context.Context, name string) (*Tier, error) {
	n, err := pathID("tier name", name)
	if err != nil {
		return nil, err
	}
	var t Tier
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/rate-limit-tiers/" + n, auth: true}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateTierParams describes a new tier. Zero values are left out of the request, so the
// server applies its defaults.
type CreateTierParams struct {
	// Name is required: 1 to 64 lower-case letters, digits and '-', starting with a letter,
	// and not a name the account already has (standard and high included).
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// RateLimit is required; its Rate must be set.
	RateLimit        RateLimit `json:"rate_limit"`
	RequiresApproval bool      `json:"requires_approval,omitempty"`
	// FailMode is FailOpen when "".
	FailMode FailMode `json:"fail_mode,omitempty"`
}

// CreateTier adds a tier to the account. It needs rate_limit_tiers.write. Errors:
// validation_failed, conflict (the name is taken), unauthenticated, forbidden.
func (c *Client) CreateTier(ctx context.Context, params CreateTierParams) (*Tier, error) {
	var t Tier
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/rate-limit-tiers", body: params, auth: true}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// UpdateTierParams changes some of a tier's fields; nil leaves a field unchanged.
//
// RateLimit replaces the tier's whole limit: a zero Burst or Period in it takes the server's
// default (Rate, one second), not the tier's current value, and a zero QuotaLimit removes the
// quota. To change one number, start from GetTier's RateLimit.
type UpdateTierParams struct {
	Description      *string    `json:"description,omitempty"`
	RateLimit        *RateLimit `json:"rate_limit,omitempty"`
	RequiresApproval *bool      `json:"requires_approval,omitempty"`
	FailMode         *FailMode  `json:"fail_mode,omitempty"`
}

// UpdateTier changes one of the account's tiers, a built-in one included, and returns it.
// Every key on the tier is held to the new limit within a second. It needs
// rate_limit_tiers.write. Errors: validation_failed, not_found, unauthenticated, forbidden.
func (c *Client) UpdateTier(ctx context.Context, name string, params UpdateTierParams) (*Tier, error) {
	n, err := pathID("tier name", name)
	if err != nil {
		return nil, err
	}
	var t Tier
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/rate-limit-tiers/" + n, body: params, auth: true}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// TierRequestStatus is where a tier request stands. A request leaves pending once, to
// approved or rejected.
type TierRequestStatus string

// Tier request states.
const (
	TierRequestPending  TierRequestStatus = "pending"
	TierRequestApproved TierRequestStatus = "approved"
	TierRequestRejected TierRequestStatus = "rejected"
)

// TierRequest is an ask that a key get a tier. One for a tier that requires approval, made
// by someone who may not approve it, waits as pending until someone with the
// api_keys.approve_high_tier permission approves or rejects it; any other is approved at once.
//
// As with Key, unset strings are "" here and null on the wire.
type TierRequest struct {
	ID    string        `json:"id"`
	KeyID string        `json:"key_id"`
	Tier  RateLimitTier `json:"tier"`
	// Status is pending, approved or rejected.
	Status TierRequestStatus `json:"status"`
	// RequestedBy is the id of the credential or user that asked.
	RequestedBy string    `json:"requested_by"`
	CreatedAt   time.Time `json:"created_at"`
	// DecidedBy is who approved or rejected the request; "" while it is pending.
	DecidedBy string     `json:"decided_by"`
	DecidedAt *time.Time `json:"decided_at"`
	// Reason is the decider's note; "" for none.
	Reason string `json:"reason"`
}

// MarshalJSON writes the request in its wire form and order, with null for the unset
// strings.
func (r TierRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID          string            `json:"id"`
		KeyID       string            `json:"key_id"`
		Tier        RateLimitTier     `json:"tier"`
		Status      TierRequestStatus `json:"status"`
		RequestedBy string            `json:"requested_by"`
		CreatedAt   time.Time         `json:"created_at"`
		DecidedBy   *string           `json:"decided_by"`
		DecidedAt   *time.Time        `json:"decided_at"`
		Reason      *string           `json:"reason"`
	}{r.ID, r.KeyID, r.Tier, r.Status, r.RequestedBy, r.CreatedAt, nullIfEmpty(r.DecidedBy), r.DecidedAt, nullIfEmpty(r.Reason)})
}

// RequestTier asks that a key get a tier. The answer is approved, and the key on the tier at
// once, when the tier needs no approval or the caller may approve it; otherwise it is a
// pending request. Errors: validation_failed (no such tier), not_found, conflict (a revoked
// key), unauthenticated, forbidden.
func (c *Client) RequestTier(ctx context.Context, keyID string, tier RateLimitTier) (*TierRequest, error) {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return nil, err
	}
	if tier == "" {
		return nil, fmt.Errorf("keyward: RequestTier needs a tier")
	}
	body := struct {
		Tier RateLimitTier `json:"tier"`
	}{tier}
	var r TierRequest
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys/" + id + "/tier-requests", body: body, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListTierRequestsParams filters and pages the tier requests. Zero values do not filter.
type ListTierRequestsParams struct {
	// KeyID lists only the requests for this key.
	KeyID  string
	Status TierRequestStatus
	// Limit is the page size, 1..MaxPageSize; 0 lets the server choose.
	Limit int
	// Cursor is a previous page's NextCursor; "" starts at the beginning.
	Cursor string
}

func (p ListTierRequestsParams) query() url.Values {
	q := ListParams{Limit: p.Limit, Cursor: p.Cursor}.query()
	if p.KeyID != "" {
		q.Set("key_id", p.KeyID)
	}
	if p.Status != "" {
		q.Set("status", string(p.Status))
	}
	return q
}

// ListTierRequests returns one page of the account's tier requests, oldest first. Errors:
// invalid_request (a bad filter), unauthenticated, forbidden.
func (c *Client) ListTierRequests(ctx context.Context, params ListTierRequestsParams) (*Page[*TierRequest], error) {
	return listPage[*TierRequest](ctx, c, "/v1/tier-requests", params.query())
}

// AllTierRequests yields every tier request that matches params from params.Cursor on,
// fetching pages as it goes. It stops at the first error, which it yields.
func (c *Client) AllTierRequests(ctx context.Context, params ListTierRequestsParams) iter.Seq2[*TierRequest, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*TierRequest], error) {
		p := params
		p.Cursor = cursor
		return c.ListTierRequests(ctx, p)
	})
}

// GetTierRequest returns one tier request. Errors: not_found, unauthenticated, forbidden.
func (c *Client) GetTierRequest(ctx context.Context, requestID string) (*TierRequest, error) {
	id, err := pathID("tier request ID", requestID)
	if err != nil {
		return nil, err
	}
	var r TierRequest
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/tier-requests/" + id, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ApproveTierRequest approves a pending tier request, with an optional reason ("" for
// none): the key gets the tier at once. It needs api_keys.approve_high_tier. Errors:
// validation_failed, not_found, conflict (already decided), unauthenticated, forbidden.
func (c *Client) ApproveTierRequest(ctx context.Context, requestID, reason string) (*TierRequest, error) {
	return c.decideTierRequest(ctx, requestID, "approve", reason)
}

// RejectTierRequest rejects a pending tier request, with an optional reason ("" for none):
// the key keeps its tier. It needs api_keys.approve_high_tier. Errors: as ApproveTierRequest.
func (c *Client) RejectTierRequest(ctx context.Context, requestID, reason string) (*TierRequest, error) {
	return c.decideTierRequest(ctx, requestID, "reject", reason)
}

func (c *Client) decideTierRequest(ctx context.Context, requestID, verb, reason string) (*TierRequest, error) {
	id, err := pathID("tier request ID", requestID)
	if err != nil {
		return nil, err
	}
	body := struct {
		Reason string `json:"reason,omitempty"`
	}{reason}
	var r TierRequest
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/tier-requests/" + id + "/" + verb, body: body, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
