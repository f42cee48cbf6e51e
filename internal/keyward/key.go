package keyward

import (
	"net/netip"
	"slices"
	"time"
)

// Key is an API key as stored: everything but the secret, which is never kept.
type Key struct {
	ID            string
	AccountID     string
	ProjectID     string // "" for an account key, which belongs to no project
	EnvironmentID string // "" when the key belongs to no environment
	// UserID is the user on whose behalf the key acts; "" when it acts for no user. Such a
	// key holds at most what its user holds, and stops verifying when the user is disabled.
	UserID string
	// RoleID is the key's account-level role; "" for none.
	RoleID string
	// ProjectAccesses are the key's memberships of projects, each with a project role.
	ProjectAccesses []ProjectAccess
	// RateLimitTier names the key's rate-limit tier ("standard", "high").
	RateLimitTier string
	// RateLimitOverride, when set, replaces the tier's limit for this key (the tier's fail
	// mode still applies).
	RateLimitOverride *RateLimit
	// LineageID is the id of the first key of the key's rotation chain (its own id when it
	// was not made by rotating another). Rate-limit counters and usage credits belong to the
	// lineage, so a key rotated with grace shares them with its successor.
	LineageID string
	// Credits are the lineage's usage credits; nil when its use is not counted. They are
	// read with the key, but kept per lineage (see KeyStore.SetCredits).
	Credits *Credits
	// PendingTierRequest is set by CreateKey and UpdateKey when the tier asked for awaits
	// approval, and by Service.Key while a request for the key waits; it is not stored with
	// the key.
	PendingTierRequest *TierRequest
	Name               string
	// Prefix is the public handle: the key's prefix and first body characters ("raff_17d70fcf").
	Prefix string
	// Last4 is the last four characters of the secret, to tell keys apart.
	Last4 string
	// Hash is the keyed hash of the secret under HashScheme; it is unique across all keys.
	Hash       []byte
	HashScheme string
	Scopes     []string
	// AllowedIPs are the networks the key may be used from; empty defers to its account's
	// (see Identity.AllowedIPs), and an empty account list allows any.
	AllowedIPs []netip.Prefix
	// Metadata is the caller's own JSON object, returned on verification.
	Metadata             map[string]any
	ExpiresAt            *time.Time
	LastUsedAt           *time.Time
	CreatedAt            time.Time
	RevokedAt            *time.Time
	ReplacedByKeyID      string // "" until the key is rotated
	GraceExpiresAt       *time.Time
	RotationIntervalDays int // 0 when the key has no rotation schedule
	NextRotationAt       *time.Time
	RotationWebhookURL   string
	// RotationWebhookSecret is the whsec_ secret that signs the calls to RotationWebhookURL,
	// sealed under the server secret (see Service's WithSealer); nil without a webhook.
	RotationWebhookSecret []byte
	// NewWebhookSecret is the rotation webhook's signing secret in the clear, set only by the
	// CreateKey or UpdateKey that made it, to be shown once; it is never stored.
	NewWebhookSecret string
	// RotationGrace is how long the old key keeps verifying after a scheduled rotation; nil
	// means DefaultRotationGrace.
	RotationGrace *time.Duration
	// LeakedAt is when the key was last reported leaked, with where it was found.
	LeakedAt   *time.Time
	LeakSource string
	LeakURL    string
	// ExpiryNotifiedAt is when api_key.expiring was sent for the key's current expiry (or
	// grace end); a change of expiry clears it.
	ExpiryNotifiedAt *time.Time
	// ExhaustedAt is when api_key.usage_exceeded was sent because the key's credits ran out;
	// setting its credits clears it.
	ExhaustedAt *time.Time
	CreatedBy   string
}

// Imported reports whether the key came from another system and still carries that system's
// unkeyed hash (see ImportHashScheme): it verifies through the import path until its first
// use rehashes it.
func (k *Key) Imported() bool { return k.HashScheme == ImportHashScheme }

// Status is a key's lifecycle state at a moment, as listed and filtered.
type Status string

// Key statuses.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Status returns the key's state at now: revoked wins over expired, and a rotated key whose
// grace period is over counts as expired.
func (k *Key) Status(now time.Time) Status {
	switch {
	case k.RevokedAt != nil && !k.RevokedAt.After(now):
		return StatusRevoked
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now),
		k.GraceExpiresAt != nil && !k.GraceExpiresAt.After(now):
		return StatusExpired
	}
	return StatusActive
}

// EffectiveExpiry is when the key stops verifying by itself: its own expiry, or the end of
// its rotation grace if that comes first; nil when neither is set.
func (k *Key) EffectiveExpiry() *time.Time {
	if k.GraceExpiresAt != nil && (k.ExpiresAt == nil || k.GraceExpiresAt.Before(*k.ExpiresAt)) {
		return k.GraceExpiresAt
	}
	return k.ExpiresAt
}

// VerifyCode is the outcome of verifying a key.
type VerifyCode string

// Verification outcomes. Only VerifyValid means the key may be used.
const (
	VerifyValid             VerifyCode = "VALID"
	VerifyMalformed         VerifyCode = "MALFORMED"
	VerifyNotFound          VerifyCode = "NOT_FOUND"
	VerifyRevoked           VerifyCode = "REVOKED"
	VerifyExpired           VerifyCode = "EXPIRED"
	VerifyInsufficientScope VerifyCode = "INSUFFICIENT_SCOPE"
	// VerifyDisabled: the key's user is deactivated.
	VerifyDisabled VerifyCode = "DISABLED"
	// VerifyInsufficientPermissions: the key's permissions do not satisfy the query asked.
	VerifyInsufficientPermissions VerifyCode = "INSUFFICIENT_PERMISSIONS"
	// VerifyRateLimited: the key is over its rate limit (or its quota) for now.
	VerifyRateLimited VerifyCode = "RATE_LIMITED"
	// VerifyUsageExceeded: the key's usage credits are spent.
	VerifyUsageExceeded VerifyCode = "USAGE_EXCEEDED"
	// VerifyForbidden: the request comes from a network the key (or its account) does not
	// allow, or its origin was not given for a key that allows only some.
	VerifyForbidden VerifyCode = "FORBIDDEN"
)

// VerifyCodes lists every verification outcome, in a fixed order (metrics and usage reports
// use it).
var VerifyCodes = []VerifyCode{
	VerifyValid, VerifyMalformed, VerifyNotFound, VerifyRevoked, VerifyExpired, VerifyDisabled,
	VerifyInsufficientScope, VerifyInsufficientPermissions, VerifyRateLimited, VerifyUsageExceeded,
	VerifyForbidden,
}

// Check applies the verification rules to a found key, in their fixed order: revoked,
// expired (by its own expiry or the end of its rotation grace), then scopes. Every required
// scope must be among the key's.
func (k *Key) Check(now time.Time, requiredScopes []string) VerifyCode {
	return k.Verdict(now, nil, netip.Addr{}, requiredScopes, PermissionQuery{})
}

// Verdict applies every verification rule to a found key and what it stands for, in their
// fixed order: revoked, expired, its user disabled, the network the request came from (ip,
// the zero Addr when unknown), scopes, then the permission query. id may be nil for a key
// whose identity was not resolved: a non-empty query then fails, and only the key's own
// networks are checked.
func (k *Key) Verdict(now time.Time, id *Identity, ip netip.Addr, requiredScopes []string, perms PermissionQuery) VerifyCode {
	switch k.Status(now) {
	case StatusRevoked:
		return VerifyRevoked
	case StatusExpired:
		return VerifyExpired
	}
	if id != nil && id.UserDisabled() {
		return VerifyDisabled
	}
	allowed := k.AllowedIPs
	if id != nil {
		allowed = id.AllowedIPs
	}
	if !IPAllowed(allowed, ip) {
		return VerifyForbidden
	}
	for _, s := range requiredScopes {
		if !slices.Contains(k.Scopes, s) {
			return VerifyInsufficientScope
		}
	}
	if !perms.IsZero() && (id == nil || !perms.Eval(id.Permissions)) {
		return VerifyInsufficientPermissions
	}
	return VerifyValid
}

// IPAllowed reports whether a request from ip may use a key allowed from the networks in
// allowed: any, when there are none; else only an ip inside one of them. An unknown ip (the
// zero Addr) is allowed only when there are none: a key limited to some networks fails
// closed when nobody says where the request came from.
func IPAllowed(allowed []netip.Prefix, ip netip.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NextRotation is when a key with the given schedule is next due for rotation: its creation
// plus the interval, or nil when it has no schedule.
func NextRotation(createdAt time.Time, intervalDays int) *time.Time {
	if intervalDays <= 0 {
		return nil
	}
	t := createdAt.AddDate(0, 0, intervalDays)
	return &t
}

// AdminKey is a management credential: it may manage everything in its account. Like an API
// key, only its hash is stored.
type AdminKey struct {
	ID         string
	AccountID  string
	Name       string
	Prefix     string
	Last4      string
	Hash       []byte
	HashScheme string
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// AdminKeyPrefix starts every admin key, so that one is never mistaken for an API key.
const AdminKeyPrefix = "kwadmin"
