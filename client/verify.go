package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// VerifyCode is the outcome of verifying a key. Only VerifyValid lets a request through.
type VerifyCode string

// Verification outcomes.
const (
	VerifyValid             VerifyCode = "VALID"
	VerifyMalformed         VerifyCode = "MALFORMED" // not a Keyward key: wrong shape or checksum
	VerifyNotFound          VerifyCode = "NOT_FOUND"
	VerifyRevoked           VerifyCode = "REVOKED"
	VerifyExpired           VerifyCode = "EXPIRED"
	VerifyInsufficientScope VerifyCode = "INSUFFICIENT_SCOPE"
	// VerifyInsufficientPermissions: the key's permissions do not satisfy the query asked.
	VerifyInsufficientPermissions VerifyCode = "INSUFFICIENT_PERMISSIONS"
	VerifyDisabled                VerifyCode = "DISABLED"       // the key's user is disabled
	VerifyForbidden               VerifyCode = "FORBIDDEN"      // a network rule refuses the caller
	VerifyRateLimited             VerifyCode = "RATE_LIMITED"   // the key's rate limit is spent
	VerifyUsageExceeded           VerifyCode = "USAGE_EXCEEDED" // the key's usage credits are spent
)

// VerifyResult is the server's verdict on a key. When Valid is false, Code says why and the
// key fields are empty unless the key was found.
type VerifyResult struct {
	Valid         bool       `json:"valid"`
	Code          VerifyCode `json:"code"`
	KeyID         string     `json:"key_id,omitempty"`
	AccountID     string     `json:"account_id,omitempty"`
	ProjectID     string     `json:"project_id,omitempty"`
	EnvironmentID string     `json:"environment_id,omitempty"`
	// UserID is the user the key acts for.
	UserID string `json:"user_id,omitempty"`
	// Role is the key's account-level role; nil when it has none.
	Role *RoleRef `json:"role,omitempty"`
	// Permissions are the key's effective permissions.
	Permissions []string `json:"permissions,omitempty"`
	// Projects are the projects the key may act in, with its role in each.
	Projects  []ProjectRef   `json:"projects,omitempty"`
	Name      string         `json:"name,omitempty"`
	Scopes    []string       `json:"scopes,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	// RateLimit is where the key stands against its rate limit after this verification; nil
	// when it was not held to one (not found, refused before the limit was checked, or the
	// limit could not be checked).
	RateLimit *RateLimitState `json:"ratelimit,omitempty"`
	// Remaining is the key's usage credits left after this verification; nil when the key
	// has no credits.
	Remaining *int64 `json:"remaining,omitempty"`
	// RateLimitPolicy is the rate limit the key is held to, set with RateLimit: a
	// Middleware with LocalVerify holds the key to it between its calls to Keyward.
	RateLimitPolicy *RateLimit `json:"ratelimit_policy,omitempty"`
}

// RateLimitState is where a key stands against the binding part of its rate limit: the
// burst, or the quota when that is the tighter.
type RateLimitState struct {
	// Limit is the binding policy's size: the burst, or the quota.
	Limit int64
	// Remaining is how many verifications are allowed right now.
	Remaining int64
	// Reset is when the binding policy is whole again; the wire has it in Unix milliseconds.
	Reset time.Time
}

type rateLimitStateWire struct {
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"`
	Reset     int64 `json:"reset"`
}

// MarshalJSON writes the state in its wire form, Reset in Unix milliseconds.
func (s RateLimitState) MarshalJSON() ([]byte, error) {
	return json.Marshal(rateLimitStateWire{Limit: s.Limit, Remaining: s.Remaining, Reset: s.Reset.UnixMilli()})
}

// UnmarshalJSON reads the state's wire form.
func (s *RateLimitState) UnmarshalJSON(data []byte) error {
	var w rateLimitStateWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = RateLimitState{Limit: w.Limit, Remaining: w.Remaining, Reset: time.UnixMilli(w.Reset).UTC()}
	return nil
}

// VerifyKeyParams is a verification request.
type VerifyKeyParams struct {
	// Key is the full API key as presented by a caller.
	Key string `json:"key"`
	// RequiredScopes must all be among the key's scopes, or the verdict is INSUFFICIENT_SCOPE.
	RequiredScopes []string `json:"required_scopes,omitempty"`
	// Permissions is a query the key's permissions must satisfy, or the verdict is
	// INSUFFICIENT_PERMISSIONS: names joined by AND and OR, grouped by parentheses, as
	// "api_keys.read AND (projects.p1.write OR admin)".
	Permissions string `json:"permissions,omitempty"`
	// Cost is the usage credits this verification spends when the key has credits: nil for
	// the server's default of 1, a pointer to 0 to check that credits remain without spending
	// any. Without enough credits the verdict is USAGE_EXCEEDED.
	Cost *int64 `json:"cost,omitempty"`
	// IP is the address the request being verified came from: a key limited to some networks
	// verifies FORBIDDEN from elsewhere, and when IP is empty.
	IP string `json:"ip,omitempty"`
}

// VerifyKey asks the server whether a key may be used. An unusable key is not an error: the
// result says Valid false and why, as RATE_LIMITED (see RateLimit.Reset for when to retry)
// or USAGE_EXCEEDED for a key over its limit or out of credits. The error is for a request that failed (the server is
// unreachable, or answered with a problem such as rate_limited). It needs no admin key.
func (c *Client) VerifyKey(ctx context.Context, params VerifyKeyParams) (*VerifyResult, error) {
	if params.Key == "" {
		return nil, errors.New("keyward: VerifyKey needs a key")
	}
	if params.Cost != nil && *params.Cost < 0 {
		return nil, errors.New("keyward: VerifyKey cost may not be negative")
	}
	var r VerifyResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/keys/verify", body: params}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
