package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// KeyStatus is a key's lifecycle state.
type KeyStatus string

// Key statuses, as listed and filtered.
const (
	StatusActive  KeyStatus = "active"
	StatusRevoked KeyStatus = "revoked"
	StatusExpired KeyStatus = "expired"
)

// RateLimitTier names a key's rate-limit tier: one of the built-in tiers below or one the
// account defined (see ListTiers and CreateTier).
type RateLimitTier string

// The built-in rate-limit tiers every account has. TierHigh requires approval: only a caller
// with the api_keys.approve_high_tier permission gives it to a key at once; anyone else's ask
// becomes a pending TierRequest.
const (
	TierStandard RateLimitTier = "standard" // 30 verifications per second unless the account changed it
	TierHigh     RateLimitTier = "high"     // 100 per second unless the account changed it
)

// ProjectAccess is a key's membership of a project, with its role there.
type ProjectAccess struct {
	ProjectID string `json:"project_id"`
	// RoleID is a role id; on input it may also be a built-in role's slug (owner, admin,
	// member, viewer).
	RoleID string `json:"role_id"`
}

// Key is an API key as the server shows it after creation: everything but the secret.
//
// The wire sends null for unset values; here an unset string is "", an unset time is nil and
// unset metadata is nil. Key marshals back to the same wire form, nulls included.
type Key struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	// ProjectID is "" for an account key, which belongs to no project.
	ProjectID     string `json:"project_id"`
	EnvironmentID string `json:"environment_id"` // "" when the key belongs to no environment
	// UserID is the user the key acts for, "" for none: the key holds at most what the user
	// holds, and stops working when the user is disabled.
	UserID string `json:"user_id"`
	// RoleID is the key's account-level role, "" for none.
	RoleID string `json:"role_id"`
	// ProjectAccesses are the key's project memberships, each with a project role.
	ProjectAccesses []ProjectAccess `json:"project_accesses"`
	// RateLimitTier is the tier whose limit the key is held to, unless it has its own.
	RateLimitTier RateLimitTier `json:"rate_limit_tier"`
	// RateLimit is the key's own limit, which overrides its tier's; nil when it has none.
	RateLimit *RateLimit `json:"rate_limit"`
	// Credits are the key's usage credits; nil when its use is not counted.
	Credits *Credits `json:"credits"`
	// TierRequest is set only in the answer to CreateKey or UpdateKey, when the tier asked
	// for awaits approval: the key keeps its tier (a new key gets TierStandard) until the
	// request is approved.
	TierRequest *TierRequest `json:"rate_limit_tier_request,omitempty"`
	Name        string       `json:"name"`
	// KeyPrefix is the public handle: the project's (or, for an account key, the account's)
	// prefix and the first body characters.
	KeyPrefix string `json:"key_prefix"`
	// Last4 is the last four characters of the secret, to tell keys apart.
	Last4  string    `json:"last4"`
	Status KeyStatus `json:"status"`
	Scopes []string  `json:"scopes"`
	// AllowedIPs are the networks (CIDR ranges) the key may be used from; empty: its
	// account's, and anywhere when the account has none.
	AllowedIPs []string `json:"allowed_ips"`
	// Metadata is the caller's own JSON object, returned on verification.
	Metadata        map[string]any `json:"metadata"`
	ExpiresAt       *time.Time     `json:"expires_at"`
	LastUsedAt      *time.Time     `json:"last_used_at"`
	CreatedAt       time.Time      `json:"created_at"`
	RevokedAt       *time.Time     `json:"revoked_at"`
	ReplacedByKeyID string         `json:"replaced_by_key_id"` // "" until the key is rotated
	// GraceExpiresAt is when a rotated key stops working.
	GraceExpiresAt *time.Time `json:"grace_expires_at"`
	// RotationIntervalDays is the rotation schedule; 0 when the key has none.
	RotationIntervalDays int        `json:"rotation_interval_days"`
	NextRotationAt       *time.Time `json:"next_rotation_at"`
	RotationWebhookURL   string     `json:"rotation_webhook_url"` // "" when none
	// RotationGraceSeconds is how long the old key keeps working after a scheduled
	// rotation; the server's default is 604800 (7 days).
	RotationGraceSeconds int `json:"rotation_grace_seconds"`
	// RotationWebhookSecret is the whsec_ secret that signs the calls to RotationWebhookURL.
	// It is set only in the answer that made it (CreateKey or UpdateKey with a new webhook URL,
	// or UpdateKeyParams.RotateWebhookSecret): store it now or lose it.
	RotationWebhookSecret string `json:"rotation_webhook_secret,omitempty"`
	// LeakedAt is when the key was last reported leaked; nil when it never was.
	LeakedAt *time.Time `json:"leaked_at"`
	// LeakSource says who reported the leak ("github" or "report"); "" when none did.
	LeakSource string `json:"leak_source"`
	// LeakURL is where the leaked secret was found, "" when the report did not say.
	LeakURL string `json:"leak_url"`
	// Imported is true for a key that came from another system (ImportKeys): its secret lacks
	// Keyward's format.
	Imported  bool   `json:"imported"`
	CreatedBy string `json:"created_by"`
}

// MarshalJSON writes the key in its wire form, with null for the unset nullable strings.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(keyWire(k, "")) }

// keyWire is k as the server sends it; secret, when not "", is added as "key".
func keyWire(k Key, secret string) any {
	type plain Key // has no MarshalJSON, so encoding it does not recurse
	// The outer fields are shallower than plain's, so they replace them in the encoding.
	return struct {
		plain
		ProjectID          *string `json:"project_id"`
		EnvironmentID      *string `json:"environment_id"`
		UserID             *string `json:"user_id"`
		RoleID             *string `json:"role_id"`
		ReplacedByKeyID    *string `json:"replaced_by_key_id"`
		RotationWebhookURL *string `json:"rotation_webhook_url"`
		LeakSource         *string `json:"leak_source"`
		LeakURL            *string `json:"leak_url"`
		Secret             string  `json:"key,omitempty"`
	}{
		plain:              plain(k),
		ProjectID:          nullIfEmpty(k.ProjectID),
		EnvironmentID:      nullIfEmpty(k.EnvironmentID),
		UserID:             nullIfEmpty(k.UserID),
		RoleID:             nullIfEmpty(k.RoleID),
		ReplacedByKeyID:    nullIfEmpty(k.ReplacedByKeyID),
		RotationWebhookURL: nullIfEmpty(k.RotationWebhookURL),
		LeakSource:         nullIfEmpty(k.LeakSource),
		LeakURL:            nullIfEmpty(k.LeakURL),
		Secret:             secret,
	}
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreatedKey is a newly created key together with its secret.
type CreatedKey struct {
	Key
	// Secret is the full API key. The server shows it only in this answer and keeps only a
	// hash: store it now or lose it.
	Secret string `json:"key"`
}

// MarshalJSON writes the key in its wire form, secret included as "key".
func (k CreatedKey) MarshalJSON() ([]byte, error) { return json.Marshal(keyWire(k.Key, k.Secret)) }

// RotatedKey is the outcome of a rotation: a new key replacing an old one, which keeps
// working until GraceExpiresAt.
type RotatedKey struct {
	OldKeyID string `json:"old_key_id"`
	NewKeyID string `json:"new_key_id"`
	// ProjectID is "" for an account key.
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	// Secret is the new key. As on creation, it is shown only once.
	Secret         string     `json:"key"`
	KeyPrefix      string     `json:"key_prefix"`
	Scopes         []string   `json:"scopes"`
	ExpiresAt      *time.Time `json:"expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
	GraceExpiresAt *time.Time `json:"grace_expires_at"`
}

// MarshalJSON writes the rotation in its wire form, with null for an account key's project.
func (r RotatedKey) MarshalJSON() ([]byte, error) {
	type plain RotatedKey
	return json.Marshal(struct {
		plain
		ProjectID *string `json:"project_id"`
	}{plain: plain(r), ProjectID: nullIfEmpty(r.ProjectID)})
}

// CreateKeyParams describes a new key. Zero values are left out of the request, so the
// server applies its defaults.
type CreateKeyParams struct {
	// ProjectID is the project to issue the key in; the key starts with the project's key
	// prefix. "" makes an account key, which belongs to no project and starts with the
	// account's key prefix.
	ProjectID string `json:"project_id,omitempty"`
	// Name is required, 1 to 128 characters.
	Name string `json:"name"`
	// UserID makes the key act for a user: it holds at most what the user holds. A key for
	// the caller's own user needs api_keys.own.create; anyone else's api_keys.create.
	UserID string `json:"user_id,omitempty"`
	// RoleID is the key's account-level role, by id or built-in slug. The key may not hold a
	// permission the caller lacks.
	RoleID string `json:"role_id,omitempty"`
	// ProjectAccesses make the key a member of projects, each with a project role.
	ProjectAccesses []ProjectAccess `json:"project_accesses,omitempty"`
	// RateLimitTier is TierStandard when "". A tier that requires approval (TierHigh),
	// asked for by a caller who may not approve it, becomes a pending request: the answer's
	// TierRequest says so and the key starts on TierStandard.
	RateLimitTier RateLimitTier `json:"rate_limit_tier,omitempty"`
	// RateLimit gives the key a limit of its own instead of its tier's; it needs the
	// rate_limit_tiers.write permission.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Credits limit how many verifications the key may pass; nil for no limit. RefilledAt
	// is not sent.
	Credits *Credits `json:"credits,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
	// AllowedIPs are the networks the key may be used from, as CIDR ranges or addresses;
	// none uses the account's.
	AllowedIPs    []string   `json:"allowed_ips,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	EnvironmentID string     `json:"environment_id,omitempty"`
	// RotationIntervalDays schedules rotation every so many days; 0 means no schedule.
	RotationIntervalDays int `json:"rotation_interval_days,omitempty"`
	// RotationWebhookURL receives the new secret of every scheduled rotation, signed with the
	// answer's RotationWebhookSecret, which is shown only then.
	RotationWebhookURL string `json:"rotation_webhook_url,omitempty"`
	// RotationGraceSeconds is how long the old key keeps working after a scheduled rotation,
	// 0 to MaxGracePeriod in seconds; nil lets the server choose (7 days), a pointer to 0 ends
	// the old key at once.
	RotationGraceSeconds *int `json:"rotation_grace_seconds,omitempty"`
	// Metadata is any JSON object, returned with every verification of the key.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// CreateKey issues a key. The answer's Secret is the only copy of the key there will ever be.
// Errors: validation_failed, not_found for an unknown project, environment, user or role,
// unauthenticated, forbidden (including a key that would hold more than the caller).
func (c *Client) CreateKey(ctx context.Context, params CreateKeyParams) (*CreatedKey, error) {
	params.ExpiresAt = utc(params.ExpiresAt)
	params.Credits = params.Credits.sendable()
	var k CreatedKey
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys", body: params, auth: true}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListKeysParams filters and pages the key list. Zero values do not filter.
type ListKeysParams struct {
	ProjectID     string
	EnvironmentID string
	// UserID lists only the keys that act for this user.
	UserID string
	Status KeyStatus
	// Limit is the page size, 1..MaxPageSize; 0 lets the server choose.
	Limit int
	// Cursor is a previous page's NextCursor; "" starts at the beginning.
	Cursor string
}

func (p ListKeysParams) query() url.Values {
	q := ListParams{Limit: p.Limit, Cursor: p.Cursor}.query()
	if p.ProjectID != "" {
		q.Set("project_id", p.ProjectID)
	}
	if p.EnvironmentID != "" {
		q.Set("environment_id", p.EnvironmentID)
	}
	if p.UserID != "" {
		q.Set("user_id", p.UserID)
	}
	if p.Status != "" {
		q.Set("status", string(p.Status))
	}
	return q
}

// ListKeys returns one page of the account's keys, without secrets.
func (c *Client) ListKeys(ctx context.Context, params ListKeysParams) (*Page[*Key], error) {
	return listPage[*Key](ctx, c, "/v1/api-keys", params.query())
}

// AllKeys yields every key that matches params from params.Cursor on, fetching pages as it
// goes. It stops at the first error, which it yields:
//
//	for key, err := range kw.AllKeys(ctx, client.ListKeysParams{Status: client.StatusActive}) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (c *Client) AllKeys(ctx context.Context, params ListKeysParams) iter.Seq2[*Key, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Key], error) {
		p := params
		p.Cursor = cursor
		return c.ListKeys(ctx, p)
	})
}

// GetKey returns one key, without its secret. Errors: not_found.
func (c *Client) GetKey(ctx context.Context, keyID string) (*Key, error) {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return nil, err
	}
	var k Key
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/api-keys/" + id, auth: true}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// UpdateKeyParams changes some of a key's fields and leaves the others alone. A nil pointer
// (or nil slice or map) means "leave unchanged"; the Clear fields remove a value. Setting a
// value and clearing it at once is an error.
//
// With Go 1.26, new builds the pointers: UpdateKeyParams{Name: new("billing v2")}.
type UpdateKeyParams struct {
	Name *string
	// Scopes replaces the key's scopes when non-nil; an empty, non-nil slice removes them all.
	Scopes []string
	// AllowedIPs replaces the key's networks when non-nil; an empty, non-nil slice falls back
	// to the account's. Lifting a restriction needs api_keys.update for anyone's keys.
	AllowedIPs []string

	ExpiresAt      *time.Time
	ClearExpiresAt bool // the key never expires

	// Metadata replaces the key's metadata when non-nil.
	Metadata      map[string]any
	ClearMetadata bool

	// RotationIntervalDays sets the rotation schedule; a pointer to 0 removes it.
	RotationIntervalDays *int

	// RotationWebhookURL sets the URL scheduled rotations send the new secret to; a new URL
	// gets a new RotationWebhookSecret, returned once in the answer.
	RotationWebhookURL      *string
	ClearRotationWebhookURL bool
	// RotateWebhookSecret asks for a new RotationWebhookSecret, returned once in the answer.
	RotateWebhookSecret bool

	// RotationGraceSeconds sets how long the old key keeps working after a scheduled
	// rotation, 0 to MaxGracePeriod in seconds; ClearRotationGraceSeconds goes back to the
	// server's default (7 days).
	RotationGraceSeconds      *int
	ClearRotationGraceSeconds bool

	// RoleID sets the key's account-level role, by id or built-in slug.
	RoleID      *string
	ClearRoleID bool // the key holds no account-level role

	// RateLimitTier changes the key's tier. A tier that requires approval, asked for by a
	// caller who may not approve it, becomes a pending request (the answer's TierRequest) and
	// the key keeps its tier until then.
	RateLimitTier *RateLimitTier

	// RateLimit replaces the key's own limit, which overrides its tier's; ClearRateLimit
	// puts the key back on its tier's limit. Both need rate_limit_tiers.write.
	RateLimit      *RateLimit
	ClearRateLimit bool

	// Credits replace the key's usage credits (shared with the keys it was rotated from and
	// into); ClearCredits stops counting its use. RefilledAt is not sent.
	Credits      *Credits
	ClearCredits bool
}

// body is the PATCH document: absent fields are left out, cleared ones are JSON null.
func (p UpdateKeyParams) body() (map[string]any, error) {
	b := map[string]any{}
	if p.Name != nil {
		b["name"] = *p.Name
	}
	if p.Scopes != nil {
		b["scopes"] = p.Scopes
	}
	if p.AllowedIPs != nil {
		b["allowed_ips"] = p.AllowedIPs
	}
	if p.RotationIntervalDays != nil {
		b["rotation_interval_days"] = *p.RotationIntervalDays
	}
	if p.RateLimitTier != nil {
		b["rate_limit_tier"] = *p.RateLimitTier
	}
	if p.RotateWebhookSecret {
		b["rotate_webhook_secret"] = true
	}
	var errs []error
	setOrClear := func(field string, set bool, value any, clear bool) {
		switch {
		case set && clear:
			errs = append(errs, fmt.Errorf("keyward: UpdateKeyParams both sets and clears %s", field))
		case set:
			b[field] = value
		case clear:
			b[field] = nil
		}
	}
	setOrClear("expires_at", p.ExpiresAt != nil, utc(p.ExpiresAt), p.ClearExpiresAt)
	setOrClear("metadata", p.Metadata != nil, p.Metadata, p.ClearMetadata)
	setOrClear("rotation_webhook_url", p.RotationWebhookURL != nil, p.RotationWebhookURL, p.ClearRotationWebhookURL)
	setOrClear("rotation_grace_seconds", p.RotationGraceSeconds != nil, p.RotationGraceSeconds, p.ClearRotationGraceSeconds)
	setOrClear("role_id", p.RoleID != nil, p.RoleID, p.ClearRoleID)
	setOrClear("rate_limit", p.RateLimit != nil, p.RateLimit, p.ClearRateLimit)
	setOrClear("credits", p.Credits != nil, p.Credits.sendable(), p.ClearCredits)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// UpdateKey changes the fields params sets and returns the updated key; its TierRequest is
// set when the tier asked for awaits approval. A key's user and project accesses are fixed at
// creation; change its projects with AddMember and RemoveMember. Errors: validation_failed, not_found (the key or role), conflict (a revoked key cannot be
// changed), unauthenticated, forbidden.
func (c *Client) UpdateKey(ctx context.Context, keyID string, params UpdateKeyParams) (*Key, error) {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return nil, err
	}
	body, err := params.body()
	if err != nil {
		return nil, err
	}
	var k Key
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/api-keys/" + id, body: body, auth: true}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// RevokeKey revokes a key at once. Revoking a revoked key succeeds. Errors: not_found.
func (c *Client) RevokeKey(ctx context.Context, keyID string) error {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: "/v1/api-keys/" + id, auth: true}, nil)
	return err
}

// MaxGracePeriod is the longest grace period a rotation accepts.
const MaxGracePeriod = 30 * 24 * time.Hour

// RotateKeyParams tunes a rotation.
type RotateKeyParams struct {
	// GracePeriod is how long the old key keeps working, in whole seconds up to
	// MaxGracePeriod; nil lets the server choose, a pointer to 0 ends the old key at once.
	GracePeriod *time.Duration
	// ExpiresAt is the new key's expiry; nil for none.
	ExpiresAt *time.Time
}

// RotateKey replaces a key with a new one that has the same name, scopes and settings. The
// answer's Secret is the only copy of the new key. Errors: validation_failed, not_found,
// conflict (a revoked or already rotated key), unauthenticated.
func (c *Client) RotateKey(ctx context.Context, keyID string, params RotateKeyParams) (*RotatedKey, error) {
	id, err := pathID("key ID", keyID)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if g := params.GracePeriod; g != nil {
		if *g < 0 || *g > MaxGracePeriod || *g%time.Second != 0 {
			return nil, fmt.Errorf("keyward: grace period %v: want whole seconds from 0 to %v", *g, MaxGracePeriod)
		}
		body["grace_period_seconds"] = int64(*g / time.Second)
	}
	if params.ExpiresAt != nil {
		body["expires_at"] = utc(params.ExpiresAt)
	}
	var r RotatedKey
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys/" + id + "/rotate", body: body, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// utc returns t in UTC, as the wire wants, without touching the caller's value.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
