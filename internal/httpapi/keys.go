package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// KeyJSON is an API key on the wire: every field of seed 001's key object, plus account_id,
// last4, status, metadata and created_by. It never carries the secret.
type KeyJSON struct {
	ID                   string           `json:"id"`
	AccountID            string           `json:"account_id"`
	ProjectID            *string          `json:"project_id" doc:"null for an account key, which belongs to no project."`
	EnvironmentID        *string          `json:"environment_id"`
	UserID               *string          `json:"user_id" doc:"The user the key acts for: it holds at most what the user holds, and stops when the user is disabled."`
	RoleID               *string          `json:"role_id" doc:"The key's account-level role."`
	ProjectAccesses      []AccessJSON     `json:"project_accesses" doc:"The key's project memberships, each with a project role."`
	RateLimitTier        string           `json:"rate_limit_tier" doc:"The key's tier: standard, high or one of the account's own."`
	RateLimit            *RateLimitJSON   `json:"rate_limit" doc:"The key's own limit, overriding its tier's; null when it has none."`
	Credits              *CreditsJSON     `json:"credits" doc:"Usage credits, shared by the key's rotation lineage; null when its use is not counted."`
	TierRequest          *TierRequestJSON `json:"rate_limit_tier_request,omitempty" doc:"On create, update and get: a tier asked for awaits approval, and the key keeps its tier until then."`
	Name                 string           `json:"name"`
	KeyPrefix            string           `json:"key_prefix" doc:"The key's prefix and first 8 body characters: enough to recognise it, useless to use it."`
	Last4                string           `json:"last4" doc:"The key's last four characters."`
	Status               keyward.Status   `json:"status" enum:"active,revoked,expired"`
	Scopes               []string         `json:"scopes"`
	AllowedIPs           []string         `json:"allowed_ips" doc:"The networks (CIDR ranges) the key may be used from; empty: its account's, and if the account has none, anywhere."`
	Metadata             map[string]any   `json:"metadata" nullable:"true"`
	ExpiresAt            *time.Time       `json:"expires_at"`
	LastUsedAt           *time.Time       `json:"last_used_at" doc:"Last successful verification, recorded within about a second."`
	CreatedAt            time.Time        `json:"created_at"`
	RevokedAt            *time.Time       `json:"revoked_at"`
	ReplacedByKeyID      *string          `json:"replaced_by_key_id"`
	GraceExpiresAt       *time.Time       `json:"grace_expires_at" doc:"After a rotation with a grace period, when this key stops verifying."`
	RotationIntervalDays int              `json:"rotation_interval_days" doc:"Days between scheduled rotations; 0 when there is no schedule."`
	NextRotationAt       *time.Time       `json:"next_rotation_at"`
	RotationWebhookURL   *string          `json:"rotation_webhook_url"`
	RotationGraceSeconds int              `json:"rotation_grace_seconds" doc:"How long the old key keeps verifying after a scheduled rotation (default 604800, 7 days)."`
	// RotationWebhookSecret is set only in the response that made it.
	RotationWebhookSecret string     `json:"rotation_webhook_secret,omitempty" doc:"The whsec_ secret that signs the calls to rotation_webhook_url. Only in the response that created it (a new webhook URL, or rotate_webhook_secret): store it now."`
	LeakedAt              *time.Time `json:"leaked_at" doc:"When the key was last reported leaked (secret scanning or report-leak)."`
	LeakSource            *string    `json:"leak_source" doc:"Who reported the leak: github, or report."`
	LeakURL               *string    `json:"leak_url" doc:"Where the leaked secret was found, when the report said."`
	Imported              bool       `json:"imported" doc:"The key came from another system (POST /v1/api-keys/import): its secret lacks Keyward's format."`
	CreatedBy             string     `json:"created_by" doc:"Id of the credential that created the key."`
}

// CreatedKeyJSON is a key as returned by creation: the only time the secret is shown.
type CreatedKeyJSON struct {
	KeyJSON
	Key string `json:"key" doc:"The secret. Shown only in this response: store it now."`
}

// RotationJSON is the answer to a rotation, in seed 001's shape.
type RotationJSON struct {
	OldKeyID       string     `json:"old_key_id"`
	NewKeyID       string     `json:"new_key_id"`
	ProjectID      *string    `json:"project_id"`
	Name           string     `json:"name"`
	Key            string     `json:"key" doc:"The new secret. Shown only in this response."`
	KeyPrefix      string     `json:"key_prefix"`
	Scopes         []string   `json:"scopes"`
	ExpiresAt      *time.Time `json:"expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
	GraceExpiresAt *time.Time `json:"grace_expires_at" doc:"When the old key stops verifying; null when it stopped at once."`
}

func keyJSON(k *keyward.Key, now time.Time) KeyJSON {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	out := KeyJSON{
		ID:                    k.ID,
		AccountID:             k.AccountID,
		ProjectID:             optional(k.ProjectID),
		EnvironmentID:         optional(k.EnvironmentID),
		UserID:                optional(k.UserID),
		RoleID:                optional(k.RoleID),
		ProjectAccesses:       accessesJSON(k.ProjectAccesses),
		RateLimitTier:         k.RateLimitTier,
		Credits:               creditsJSON(k.Credits, now),
		TierRequest:           tierRequestJSON(k.PendingTierRequest),
		Name:                  k.Name,
		KeyPrefix:             k.Prefix,
		Last4:                 k.Last4,
		Status:                k.Status(now),
		Scopes:                scopes,
		AllowedIPs:            networks(k.AllowedIPs),
		Metadata:              k.Metadata,
		ExpiresAt:             k.ExpiresAt,
		LastUsedAt:            k.LastUsedAt,
		CreatedAt:             k.CreatedAt,
		RevokedAt:             k.RevokedAt,
		ReplacedByKeyID:       optional(k.ReplacedByKeyID),
		GraceExpiresAt:        k.GraceExpiresAt,
		RotationIntervalDays:  k.RotationIntervalDays,
		NextRotationAt:        k.NextRotationAt,
		RotationWebhookURL:    optional(k.RotationWebhookURL),
		RotationGraceSeconds:  int(keyward.DefaultRotationGrace / time.Second),
		RotationWebhookSecret: k.NewWebhookSecret,
		LeakedAt:              k.LeakedAt,
		LeakSource:            optional(k.LeakSource),
		LeakURL:               optional(k.LeakURL),
		Imported:              k.WasImported(),
		CreatedBy:             k.CreatedBy,
	}
	if k.RotationGrace != nil {
		out.RotationGraceSeconds = int(*k.RotationGrace / time.Second)
	}
	if k.RateLimitOverride != nil {
		l := rateLimitJSON(*k.RateLimitOverride)
		out.RateLimit = &l
	}
	return out
}

// CreditsJSON are a key's usage credits.
type CreditsJSON struct {
	Remaining int64       `json:"remaining" minimum:"0" doc:"Verifications (or cost units) left; each verification spends its cost, 1 by default."`
	Refill    *RefillJSON `json:"refill,omitempty" doc:"Sets remaining back to amount daily or monthly; absent: never."`
	// RefilledAt is output only.
	RefilledAt *time.Time `json:"refilled_at,omitempty" readOnly:"true" doc:"The last refill applied."`
}

// RefillJSON is a refill policy.
type RefillJSON struct {
	Interval keyward.RefillInterval `json:"interval" enum:"daily,monthly" doc:"daily: at 00:00 UTC; monthly: at 00:00 UTC on day."`
	Amount   int64                  `json:"amount" minimum:"1"`
	Day      int                    `json:"day,omitempty" minimum:"1" maximum:"31" doc:"Monthly only: the day of the month (the last day in shorter months)."`
}

// creditsJSON shows c as of now: a refill due but not yet applied (no verification since)
// is shown applied.
func creditsJSON(c *keyward.Credits, now time.Time) *CreditsJSON {
	if c == nil {
		return nil
	}
	r := c.Refilled(now)
	out := &CreditsJSON{Remaining: r.Remaining}
	if !r.RefilledAt.IsZero() {
		out.RefilledAt = &r.RefilledAt
	}
	if f := c.Refill; f != nil {
		out.Refill = &RefillJSON{Interval: f.Interval, Amount: f.Amount, Day: f.Day}
	}
	return out
}

// nullableRateLimit and nullableCredits are the PATCH forms, where null clears. huma refuses
// nullable on a field whose type is a shared object schema, so these describe themselves: the
// same object, inline, with null allowed.
type (
	nullableRateLimit RateLimitJSON
	nullableCredits   CreditsJSON
)

// Schema implements huma.SchemaProvider.
func (nullableRateLimit) Schema(r huma.Registry) *huma.Schema {
	return nullableObject[RateLimitJSON](r)
}

// Schema implements huma.SchemaProvider.
func (nullableCredits) Schema(r huma.Registry) *huma.Schema { return nullableObject[CreditsJSON](r) }

func nullableObject[T any](r huma.Registry) *huma.Schema {
	s := *r.SchemaFromRef(r.Schema(reflect.TypeFor[T](), true, "").Ref)
	s.Nullable = true
	return &s
}

func (c *CreditsJSON) domain() *keyward.Credits {
	if c == nil {
		return nil
	}
	out := &keyward.Credits{Remaining: c.Remaining}
	if f := c.Refill; f != nil {
		out.Refill = &keyward.CreditRefill{Interval: f.Interval, Amount: f.Amount, Day: f.Day}
	}
	return out
}

// AccessJSON is a key's access to a project, with its role there.
type AccessJSON struct {
	ProjectID string `json:"project_id"`
	RoleID    string `json:"role_id" doc:"A role id, or on input a built-in role's slug (owner, admin, member, viewer)."`
}

func accessesJSON(as []keyward.ProjectAccess) []AccessJSON {
	out := make([]AccessJSON, len(as))
	for i, a := range as {
		out[i] = AccessJSON{ProjectID: a.ProjectID, RoleID: a.RoleID}
	}
	return out
}

func accessesIn(as []AccessJSON) []keyward.ProjectAccess {
	out := make([]keyward.ProjectAccess, len(as))
	for i, a := range as {
		out[i] = keyward.ProjectAccess{ProjectID: a.ProjectID, RoleID: a.RoleID}
	}
	return out
}

// optional maps the domain's "" for unset to JSON null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref is the string p points to, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// KeyIDParam is the key id in a path.
type KeyIDParam struct {
	KeyID string `path:"keyID" doc:"Key id."`
}

type createKeyInput struct {
	Body struct {
		ProjectID            *string        `json:"project_id,omitempty" doc:"Project to issue the key in; the key starts with its key_prefix. Omit for an account key, which takes the account's key_prefix."`
		Name                 string         `json:"name" minLength:"1" maxLength:"128"`
		UserID               string         `json:"user_id,omitempty" doc:"The user the key acts for. Yours needs api_keys.own.create; anyone else's api_keys.create."`
		RoleID               string         `json:"role_id,omitempty" doc:"Account-level role, by id or built-in slug. The key may not hold a permission you lack."`
		ProjectAccesses      []AccessJSON   `json:"project_accesses,omitempty" maxItems:"100"`
		RateLimitTier        string         `json:"rate_limit_tier,omitempty" maxLength:"64" doc:"Default standard. A tier that requires approval (high) is granted at once only to a caller with api_keys.approve_high_tier; anyone else's ask becomes a pending request (rate_limit_tier_request) and the key starts on standard."`
		RateLimit            *RateLimitJSON `json:"rate_limit,omitempty" doc:"The key's own limit instead of its tier's. Needs rate_limit_tiers.write."`
		Credits              *CreditsJSON   `json:"credits,omitempty" doc:"Usage credits: the key fails with USAGE_EXCEEDED once they are spent."`
		Scopes               []string       `json:"scopes,omitempty" maxItems:"64" doc:"Each matches ^[A-Za-z0-9][A-Za-z0-9._:/-]*$, at most 128 characters."`
		AllowedIPs           []string       `json:"allowed_ips,omitempty" maxItems:"100" doc:"Networks the key may be used from, as CIDR ranges or addresses (203.0.113.0/24, 2001:db8::1). A request from elsewhere verifies FORBIDDEN. Omit to use the account's networks."`
		ExpiresAt            *time.Time     `json:"expires_at,omitempty" doc:"Must be in the future. Omit for a key that never expires."`
		EnvironmentID        string         `json:"environment_id,omitempty" doc:"An environment of the same project."`
		RotationIntervalDays int            `json:"rotation_interval_days,omitempty" minimum:"1" maximum:"3650"`
		RotationWebhookURL   string         `json:"rotation_webhook_url,omitempty" maxLength:"2048" doc:"https (http only to a loopback host). A scheduled rotation sends the new secret here, signed with rotation_webhook_secret (returned once); without it the key is not rotated on schedule, and api_key.rotation_due goes to the account's webhook endpoints instead."`
		RotationGraceSeconds *int           `json:"rotation_grace_seconds,omitempty" minimum:"0" maximum:"2592000" doc:"How long the old key keeps verifying after a scheduled rotation. Default 604800 (7 days)."`
		Metadata             map[string]any `json:"metadata,omitempty" doc:"Your own JSON object (at most 8 KiB), returned on verification."`
	}
}

type createdKeyOutput struct {
	Location string `header:"Location"`
	Body     CreatedKeyJSON
}

type keyOutput struct {
	Body KeyJSON
}

type listKeysInput struct {
	ProjectID     string `query:"project_id" doc:"Only keys of this project."`
	EnvironmentID string `query:"environment_id" doc:"Only keys of this environment."`
	UserID        string `query:"user_id" doc:"Only keys that act for this user."`
	Status        string `query:"status" enum:"active,revoked,expired" doc:"Only keys in this state now."`
	PageParams
}

type listKeysOutput struct {
	PageHeaders
	Body []KeyJSON
}

type updateKeyInput struct {
	KeyIDParam
	RawBody []byte
	Body    struct {
		Name                 *string            `json:"name,omitempty" minLength:"1" maxLength:"128"`
		Scopes               []string           `json:"scopes,omitempty" maxItems:"64" doc:"Replaces the key's scopes."`
		AllowedIPs           []string           `json:"allowed_ips,omitempty" maxItems:"100" doc:"Replaces the key's networks; [] falls back to the account's. Lifting a restriction needs api_keys.update for anyone's keys."`
		ExpiresAt            *time.Time         `json:"expires_at,omitempty" nullable:"true" doc:"null removes the expiry."`
		Metadata             map[string]any     `json:"metadata,omitempty" nullable:"true" doc:"Replaces the metadata; null removes it."`
		RotationIntervalDays *int               `json:"rotation_interval_days,omitempty" nullable:"true" minimum:"0" maximum:"3650" doc:"0 or null removes the schedule; a new interval counts from now."`
		RotationWebhookURL   *string            `json:"rotation_webhook_url,omitempty" nullable:"true" maxLength:"2048" doc:"null removes it. A new URL gets a new rotation_webhook_secret, returned once."`
		RotateWebhookSecret  bool               `json:"rotate_webhook_secret,omitempty" doc:"true: a new rotation_webhook_secret, returned once in this response."`
		RotationGraceSeconds *int               `json:"rotation_grace_seconds,omitempty" nullable:"true" minimum:"0" maximum:"2592000" doc:"null goes back to the default (604800, 7 days)."`
		RoleID               *string            `json:"role_id,omitempty" nullable:"true" doc:"A role id or built-in slug; null removes the role."`
		RateLimitTier        *string            `json:"rate_limit_tier,omitempty" maxLength:"64" doc:"A tier that requires approval may become a pending request, as on create."`
		RateLimit            *nullableRateLimit `json:"rate_limit,omitempty" nullable:"true" doc:"Replaces the key's own limit; null goes back to the tier's. Needs rate_limit_tiers.write."`
		Credits              *nullableCredits   `json:"credits,omitempty" nullable:"true" doc:"Replaces the usage credits (of the key's whole rotation lineage); null stops counting."`
	}
}

type rotateKeyInput struct {
	KeyIDParam
	Body *struct {
		GracePeriodSeconds int        `json:"grace_period_seconds,omitempty" minimum:"0" maximum:"2592000" doc:"How long the old key keeps verifying. 0 (the default) stops it at once."`
		ExpiresAt          *time.Time `json:"expires_at,omitempty" doc:"The new key's expiry. Default: the old key's lifetime again, counted from now, or none."`
	}
}

type rotationOutput struct {
	Location string `header:"Location"`
	Body     RotationJSON
}

func (s *Server) keyRoutes() []route {
	tags := []string{"API keys"}
	return []route{
		operation(huma.Operation{
			OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys", DefaultStatus: http.StatusCreated,
			Summary: "Create an API key", Description: "Returns the key's secret in `key`. It is shown only in this response; Keyward keeps only a keyed hash of it.", Tags: tags,
		}, s.createKey),
		operation(huma.Operation{
			OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys",
			Summary: "List API keys", Description: "Newest last. Never returns a secret. More pages are announced in X-Next-Cursor and Link.", Tags: tags,
		}, s.listKeys),
		operation(huma.Operation{
			OperationID: "get-api-key", Description: "One key, without its secret. Needs api_keys.read (or api_keys.own.read for a key acting for your own user).", Method: http.MethodGet, Path: "/v1/api-keys/{keyID}",
			Summary: "Get an API key", Tags: tags,
		}, s.getKey),
		operation(huma.Operation{
			OperationID: "update-api-key", Method: http.MethodPatch, Path: "/v1/api-keys/{keyID}",
			Summary: "Update an API key", Description: "Absent fields are left as they are; null clears a field that may be unset.", Tags: tags,
			Errors: []int{http.StatusConflict},
		}, s.updateKey),
		operation(huma.Operation{
			OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{keyID}", DefaultStatus: http.StatusNoContent,
			Summary: "Revoke an API key", Description: "The key fails verification from this moment. Revoking a revoked key succeeds and changes nothing.", Tags: tags,
		}, s.revokeKey),
		operation(huma.Operation{
			OperationID: "rotate-api-key", Method: http.MethodPost, Path: "/v1/api-keys/{keyID}/rotate", DefaultStatus: http.StatusCreated,
			Summary:     "Rotate an API key with optional grace period",
			Description: "Issues a new key with the old one's name, scopes, environment, metadata and rotation settings. With a grace period the old key keeps verifying until grace_expires_at; without one it stops at once. A revoked or already rotated key cannot be rotated (409).",
			Tags:        tags, Errors: []int{http.StatusConflict},
		}, s.rotateKey),
	}
}

func (s *Server) createKey(ctx context.Context, in *createKeyInput) (*createdKeyOutput, error) {
	b := in.Body
	// A script that looked a project up and got nothing sends "": refused, not read as
	// "no project", which would issue an account key that can do far more than meant.
	if b.ProjectID != nil && *b.ProjectID == "" {
		return nil, keyward.Errorf(keyward.EInvalid, "project_id is empty: give a project id, or omit project_id for an account key")
	}
	k, secret, err := s.svc.CreateKey(ctx, principal(ctx), keyward.CreateKeyInput{
		ProjectID: deref(b.ProjectID), EnvironmentID: b.EnvironmentID, Name: b.Name, Scopes: b.Scopes, AllowedIPs: b.AllowedIPs,
		UserID: b.UserID, RoleID: b.RoleID, ProjectAccesses: accessesIn(b.ProjectAccesses), RateLimitTier: b.RateLimitTier,
		RateLimit: b.RateLimit.domain(), Credits: b.Credits.domain(),
		ExpiresAt: b.ExpiresAt, Metadata: b.Metadata,
		RotationIntervalDays: b.RotationIntervalDays, RotationWebhookURL: b.RotationWebhookURL,
		RotationGrace: seconds(b.RotationGraceSeconds),
	})
	if err != nil {
		return nil, err
	}
	return &createdKeyOutput{
		Location: "/v1/api-keys/" + k.ID,
		Body:     CreatedKeyJSON{KeyJSON: keyJSON(k, s.svc.Now()), Key: secret},
	}, nil
}

func (s *Server) listKeys(ctx context.Context, in *listKeysInput) (*listKeysOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListKeys(ctx, principal(ctx), keyward.ListKeysInput{
		ProjectID: in.ProjectID, EnvironmentID: in.EnvironmentID, UserID: in.UserID, Status: keyward.Status(in.Status), Page: pg,
	})
	if err != nil {
		return nil, err
	}
	now := s.svc.Now()
	out := &listKeysOutput{Body: make([]KeyJSON, len(items))}
	for i, k := range items {
		out.Body[i] = keyJSON(k, now)
	}
	query := url.Values{"project_id": {in.ProjectID}, "environment_id": {in.EnvironmentID}, "user_id": {in.UserID}, "status": {in.Status}}
	out.PageHeaders = nextPage("/v1/api-keys", query, in.Limit, next)
	return out, nil
}

func (s *Server) getKey(ctx context.Context, in *KeyIDParam) (*keyOutput, error) {
	k, err := s.svc.Key(ctx, principal(ctx), in.KeyID)
	if err != nil {
		return nil, err
	}
	return &keyOutput{Body: keyJSON(k, s.svc.Now())}, nil
}

func (s *Server) updateKey(ctx context.Context, in *updateKeyInput) (*keyOutput, error) {
	upd, err := updateFromBody(in)
	if err != nil {
		return nil, err
	}
	k, err := s.svc.UpdateKey(ctx, principal(ctx), in.KeyID, upd)
	if err != nil {
		return nil, err
	}
	return &keyOutput{Body: keyJSON(k, s.svc.Now())}, nil
}

func (s *Server) revokeKey(ctx context.Context, in *KeyIDParam) (*struct{}, error) {
	if _, err := s.svc.RevokeKey(ctx, principal(ctx), in.KeyID); err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Server) rotateKey(ctx context.Context, in *rotateKeyInput) (*rotationOutput, error) {
	var rin keyward.RotateKeyInput
	if in.Body != nil {
		rin.GracePeriod = time.Duration(in.Body.GracePeriodSeconds) * time.Second
		rin.ExpiresAt = in.Body.ExpiresAt
	}
	r, err := s.svc.RotateKey(ctx, principal(ctx), in.KeyID, rin)
	if err != nil {
		return nil, err
	}
	scopes := r.New.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return &rotationOutput{Location: "/v1/api-keys/" + r.New.ID, Body: RotationJSON{
		OldKeyID: r.Old.ID, NewKeyID: r.New.ID, ProjectID: optional(r.New.ProjectID), Name: r.New.Name,
		Key: r.Secret, KeyPrefix: r.New.Prefix, Scopes: scopes, ExpiresAt: r.New.ExpiresAt,
		CreatedAt: r.New.CreatedAt, GraceExpiresAt: r.Old.GraceExpiresAt,
	}}, nil
}

// updateFromBody turns a PATCH body into an update. The typed body cannot tell an absent
// field from an explicit null, so the raw body says which fields were present.
func updateFromBody(in *updateKeyInput) (keyward.UpdateKeyInput, error) {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(in.RawBody, &present); err != nil {
		return keyward.UpdateKeyInput{}, keyward.Errorf(keyward.EInvalid, "body must be a JSON object")
	}
	isNull := func(field string) bool {
		v, ok := present[field]
		return ok && string(v) == "null"
	}
	_, hasScopes := present["scopes"]
	_, hasNetworks := present["allowed_ips"]
	b := in.Body
	upd := keyward.UpdateKeyInput{
		Name:                    b.Name,
		ExpiresAt:               b.ExpiresAt,
		ClearExpiresAt:          isNull("expires_at"),
		Metadata:                b.Metadata,
		ClearMetadata:           isNull("metadata"),
		RotationIntervalDays:    b.RotationIntervalDays,
		RotationWebhookURL:      b.RotationWebhookURL,
		ClearRotationWebhookURL: isNull("rotation_webhook_url"),
		RotateWebhookSecret:     b.RotateWebhookSecret,
		RotationGrace:           seconds(b.RotationGraceSeconds),
		ClearRotationGrace:      isNull("rotation_grace_seconds"),
		RateLimitTier:           b.RateLimitTier,
		RoleID:                  b.RoleID,
		RateLimit:               (*RateLimitJSON)(b.RateLimit).domain(),
		ClearRateLimit:          isNull("rate_limit"),
		Credits:                 (*CreditsJSON)(b.Credits).domain(),
		ClearCredits:            isNull("credits"),
	}
	if isNull("role_id") {
		none := ""
		upd.RoleID = &none
	}
	if isNull("rotation_interval_days") {
		zero := 0
		upd.RotationIntervalDays = &zero
	}
	if hasNetworks {
		nets := b.AllowedIPs
		if nets == nil {
			nets = []string{}
		}
		upd.AllowedIPs = &nets
	}
	if hasScopes {
		scopes := b.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		upd.Scopes = &scopes
	}
	if isNull("name") || isNull("scopes") || isNull("allowed_ips") {
		return keyward.UpdateKeyInput{}, keyward.Errorf(keyward.EValidation, "name, scopes and allowed_ips cannot be null")
	}
	return upd, nil
}

// seconds is a duration given in whole seconds, nil when absent.
func seconds(n *int) *time.Duration {
	if n == nil {
		return nil
	}
	d := time.Duration(*n) * time.Second
	return &d
}

// networks is the wire form of a list of networks: [] for none, never null.
func networks(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
