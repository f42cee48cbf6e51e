package client

import (
	"context"
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
}

// VerifyKey asks the server whether a key may be used. An unusable key is not an error: the
// result says Valid false and why. The error is for a request that failed (the server is
// unreachable, or answered with a problem such as rate_limited). It needs no admin key.
func (c *Client) VerifyKey(ctx context.Context, params VerifyKeyParams) (*VerifyResult, error) {
	if params.Key == "" {
		return nil, errors.New("keyward: VerifyKey needs a key")
	}
	var r VerifyResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/keys/verify", body: params}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
