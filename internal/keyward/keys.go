package keyward

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// CreateKeyInput is what a caller gives to create a key.
type CreateKeyInput struct {
	// ProjectID is the key's project; "" makes an account key, which belongs to no project
	// and takes the account's key prefix.
	ProjectID     string
	EnvironmentID string
	// UserID is the user the key acts for; "" for none.
	UserID string
	// RoleID is the key's account-level role, by id or slug; "" for none.
	RoleID string
	// ProjectAccesses make the key a member of projects, each with a role (id or slug).
	ProjectAccesses []ProjectAccess
	// RateLimitTier is the key's tier, TierStandard when "". A tier that requires approval,
	// asked for by a caller who may not approve it, is recorded as a pending request and the
	// key starts on the standard tier (see Key.PendingTierRequest).
	RateLimitTier string
	// RateLimit, when set, overrides the tier's limit for this key; it needs PermTiersWrite.
	RateLimit *RateLimit
	// Credits, when set, limit how many verifications the key (its lineage) may pass.
	Credits *Credits
	Name    string
	Scopes  []string
	// AllowedIPs are the networks the key may be used from, as ParseAllowedIPs reads them;
	// none defers to the account's.
	AllowedIPs           []string
	ExpiresAt            *time.Time
	Metadata             map[string]any
	RotationIntervalDays int
	RotationWebhookURL   string
	// RotationGrace is how long the old key keeps verifying after a scheduled rotation; nil
	// for DefaultRotationGrace.
	RotationGrace *time.Duration
}

// CreateKey issues a key in p's account and returns it with its secret, which is never
// available again. The key may not hold a permission p lacks, nor a scope p may not grant
// (see grantScopes); a key created by a key that is itself limited beyond its tier shares
// that key's limits (see delegateLimits). Errors: EInvalid, EValidation, EForbidden,
// ENotFound (project, environment, user or role).
func (s *Service) CreateKey(ctx context.Context, p Principal, in CreateKeyInput) (*Key, string, error) {
	var (
		k      *Key
		secret string
	)
	err := s.mutate(ctx, p, ActionCreateKey, TargetKey, "", func(tx *Service, e *AuditEvent) error {
		var err error
		k, secret, err = tx.createKey(ctx, p, in)
		if err == nil {
			e.TargetID = k.ID
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

func (s *Service) createKey(ctx context.Context, p Principal, in CreateKeyInput) (*Key, string, error) {
	k, prefix, pending, err := s.newKey(ctx, p, in)
	if err != nil {
		return nil, "", err
	}
	secret, err := s.assignSecret(k, prefix)
	if err != nil {
		return nil, "", err
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return nil, "", err
	}
	if pending != nil {
		s.step("create-api-key:key-written")
		pending.KeyID = k.ID
		if err := s.store.CreateTierRequest(ctx, pending); err != nil {
			return nil, "", err
		}
		k.PendingTierRequest = pending
		if err := s.emitTierRequest(ctx, TopicTierRequested, pending); err != nil {
			return nil, "", err
		}
	}
	if err := s.emitKey(ctx, TopicKeyCreated, k); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// newKey checks in and builds the key p asks for, without its secret: the key, the prefix
// its secret takes, and the tier request it makes, if any.
func (s *Service) newKey(ctx context.Context, p Principal, in CreateKeyInput) (*Key, string, *TierRequest, error) {
	now := s.Now()
	if err := validateName("name", in.Name); err != nil {
		return nil, "", nil, err
	}
	scopes, err := normalizeScopes(in.Scopes)
	if err != nil {
		return nil, "", nil, err
	}
	if err := validateExpiry(in.ExpiresAt, now); err != nil {
		return nil, "", nil, err
	}
	if err := validateMetadata(in.Metadata); err != nil {
		return nil, "", nil, err
	}
	if err := s.validateRotation(in.RotationIntervalDays, in.RotationWebhookURL, in.RotationGrace); err != nil {
		return nil, "", nil, err
	}
	allowed, err := ParseAllowedIPs(in.AllowedIPs)
	if err != nil {
		return nil, "", nil, err
	}
	k := &Key{
		ID:                   NewID(),
		AccountID:            p.AccountID,
		EnvironmentID:        in.EnvironmentID,
		UserID:               in.UserID,
		Name:                 in.Name,
		Scopes:               scopes,
		AllowedIPs:           allowed,
		Metadata:             in.Metadata,
		ExpiresAt:            utcPtr(in.ExpiresAt),
		CreatedAt:            now,
		RotationIntervalDays: in.RotationIntervalDays,
		NextRotationAt:       NextRotation(now, in.RotationIntervalDays),
		RotationWebhookURL:   in.RotationWebhookURL,
		RotationGrace:        in.RotationGrace,
		CreatedBy:            p.ID,
	}
	if err := s.newRotationWebhookSecret(k); err != nil {
		return nil, "", nil, err
	}
	prefix, err := s.keyHome(ctx, p, k, in.ProjectID)
	if err != nil {
		return nil, "", nil, err
	}
	// The key exists for no one yet, so "own" means: on the caller's own behalf.
	if err := authorizeKey(p, PermKeysCreate, k); err != nil {
		return nil, "", nil, err
	}
	if err := grantScopes(p, PermKeysCreate, k.ProjectID, k.Scopes, nil); err != nil {
		return nil, "", nil, err
	}
	var pending *TierRequest
	if k.RateLimitTier, pending, err = s.grantTier(ctx, p, "", in.RateLimitTier); err != nil {
		return nil, "", nil, err
	}
	if in.RateLimit != nil {
		if err := overrideLimit(p, k, in.RateLimit); err != nil {
			return nil, "", nil, err
		}
	}
	if in.Credits != nil {
		if err := in.Credits.Validate(); err != nil {
			return nil, "", nil, err
		}
		k.Credits = freshCredits(*in.Credits, now)
	}
	k.LineageID = k.ID
	if err := s.delegateLimits(ctx, p, k); err != nil {
		return nil, "", nil, err
	}
	if err := s.setKeyIdentity(ctx, p, k, in.RoleID, in.ProjectAccesses); err != nil {
		return nil, "", nil, err
	}
	return k, prefix, pending, nil
}

// newRotationWebhookSecret gives k a new signing secret for its rotation webhook, sealed
// for the key and kept in the clear in NewWebhookSecret to be shown once; without a webhook
// it drops the secret.
func (s *Service) newRotationWebhookSecret(k *Key) error {
	k.NewWebhookSecret = ""
	if k.RotationWebhookURL == "" {
		k.RotationWebhookSecret = nil
		return nil
	}
	secret := newWebhookSecret()
	sealed, err := s.sealFor(k.ID, secret)
	if err != nil {
		return err
	}
	k.RotationWebhookSecret, k.NewWebhookSecret = sealed, secret
	return nil
}

// validateRotation checks a key's rotation schedule, webhook URL and grace.
func (s *Service) validateRotation(days int, webhook string, grace *time.Duration) error {
	if err := validateRotation(days, webhook); err != nil {
		return err
	}
	if webhook != "" {
		if err := s.validateWebhookURL("rotation_webhook_url", webhook); err != nil {
			return err
		}
	}
	if grace != nil && (*grace < 0 || *grace > MaxGracePeriod) {
		return Errorf(EValidation, "rotation_grace_seconds must be between 0 and %d", int(MaxGracePeriod/time.Second))
	}
	return nil
}

// freshCredits are credits as a key is given them at now: a new version, and the first
// refill at the next boundary rather than at the first verification.
func freshCredits(c Credits, now time.Time) *Credits {
	c.Version, c.RefilledAt = now.UnixMicro(), time.Time{}
	if c.Refill != nil {
		c.RefilledAt = c.Refill.Boundary(now)
	}
	return &c
}

// delegateLimits holds a key that a key creates to the creating key's own limits, when it has
// limits of its own beyond its tier (usage credits, or a rate limit an administrator set for
// it): the new key joins its lineage, so that the two share one rate-limit bucket and one
// pool of credits, and takes its override. Otherwise a key could escape its quota by minting
// siblings without one. A caller who may set limits (PermTiersWrite) may give the key other
// limits explicitly.
func (s *Service) delegateLimits(ctx context.Context, p Principal, k *Key) error {
	if p.Kind != KindAPIKey || p.KeyID == "" {
		return nil
	}
	caller, err := s.store.Key(ctx, p.AccountID, p.KeyID)
	if err != nil {
		return err
	}
	if caller.Credits == nil && caller.RateLimitOverride == nil {
		return nil
	}
	if k.Credits != nil && !p.Can(PermTiersWrite, "") {
		return Errorf(EForbidden, "a key with usage credits creates keys that share its credits; giving them credits of their own needs the %s permission", PermTiersWrite)
	}
	if k.Credits == nil {
		k.LineageID = caller.LineageID
	}
	if k.RateLimitOverride == nil {
		k.RateLimitOverride = caller.RateLimitOverride
	}
	return nil
}

// SeedKeys is a bulk load for benchmarks and trials: it creates a project named projectName
// in the named account, then n keys in it, `batch` to a transaction, each made as CreateKey
// makes one. It calls emit with each key's index and secret (in order) and returns the
// project. It acts as the account's root, so it belongs to commands that work on the
// database directly, never to the API; the audit log records it once, as the operator's.
func (s *Service) SeedKeys(ctx context.Context, accountName, projectName string, n, batch int, emit func(i int, secret string) error) (*Project, error) {
	if n < 0 || batch < 1 {
		return nil, Errorf(EInvalid, "seed %d keys in batches of %d: need n >= 0 and batch >= 1", n, batch)
	}
	acct, err := s.store.AccountByName(ctx, accountName)
	if err != nil {
		return nil, err
	}
	root := OperatorPrincipal(acct)
	var p *Project
	err = s.mutate(ctx, root, ActionSeedKeys, TargetProject, "", func(tx *Service, e *AuditEvent) error {
		var err error
		p, err = tx.createProject(ctx, root, CreateProjectInput{Name: projectName})
		if err == nil {
			e.TargetID = p.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	keys := make([]*Key, 0, min(n, batch))
	for i := 0; i < n; {
		keys = keys[:0]
		for ; i < n && len(keys) < batch; i++ {
			k := &Key{
				ID:            NewID(),
				AccountID:     acct.ID,
				ProjectID:     p.ID,
				Name:          "seed",
				Scopes:        []string{},
				RateLimitTier: TierStandard,
				CreatedAt:     s.Now(),
				CreatedBy:     root.ID,
			}
			secret, err := s.assignSecret(k, p.KeyPrefix)
			if err != nil {
				return nil, err
			}
			if err := emit(i, secret); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		if err := s.store.CreateKeys(ctx, keys); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// keyHome places a new key in its project and environment (or in the account alone), checks
// its user, and returns the prefix its secret takes.
func (s *Service) keyHome(ctx context.Context, p Principal, k *Key, projectID string) (string, error) {
	if k.UserID != "" {
		if !ValidID(k.UserID) {
			return "", Errorf(EInvalid, "user id %q is not a valid id", k.UserID)
		}
		u, err := s.store.User(ctx, p.AccountID, k.UserID)
		if err != nil {
			return "", err
		}
		if u.DisabledAt != nil {
			return "", Errorf(EConflict, "user %s is disabled", u.ID)
		}
	}
	if projectID == "" {
		if k.EnvironmentID != "" {
			return "", Errorf(EValidation, "an environment needs a project_id")
		}
		acct, err := s.store.Account(ctx, p.AccountID)
		if err != nil {
			return "", err
		}
		return acct.KeyPrefix, nil
	}
	proj, err := s.project(ctx, p.AccountID, projectID)
	if err != nil {
		return "", err
	}
	k.ProjectID = proj.ID
	if k.EnvironmentID != "" {
		if !ValidID(k.EnvironmentID) {
			return "", Errorf(EInvalid, "environment id %q is not a valid id", k.EnvironmentID)
		}
		env, err := s.store.Environment(ctx, p.AccountID, k.EnvironmentID)
		if err != nil {
			return "", err
		}
		if env.ProjectID != proj.ID {
			return "", Errorf(EValidation, "environment %s belongs to another project", env.ID)
		}
	}
	return proj.KeyPrefix, nil
}

// setKeyIdentity gives k a role and project accesses, resolving roles given by slug, and
// refuses the result if it would hold a permission p lacks.
func (s *Service) setKeyIdentity(ctx context.Context, p Principal, k *Key, roleID string, accesses []ProjectAccess) error {
	k.RoleID = ""
	if roleID != "" {
		r, err := s.res.Role(ctx, p.AccountID, roleID)
		if err != nil {
			return err
		}
		k.RoleID = r.ID
	}
	if len(accesses) > MaxProjectAccesses {
		return Errorf(EValidation, "a key may have at most %d project accesses", MaxProjectAccesses)
	}
	k.ProjectAccesses = nil
	for _, a := range accesses {
		if !ValidID(a.ProjectID) {
			return Errorf(EInvalid, "project id %q is not a valid id", a.ProjectID)
		}
		if slices.ContainsFunc(k.ProjectAccesses, func(x ProjectAccess) bool { return x.ProjectID == a.ProjectID }) {
			return Errorf(EValidation, "project %s is given twice in project_accesses", a.ProjectID)
		}
		r, err := s.res.Role(ctx, p.AccountID, a.RoleID)
		if err != nil {
			return err
		}
		k.ProjectAccesses = append(k.ProjectAccesses, ProjectAccess{ProjectID: a.ProjectID, RoleID: r.ID})
	}
	slices.SortFunc(k.ProjectAccesses, func(a, b ProjectAccess) int { return strings.Compare(a.ProjectID, b.ProjectID) })
	return s.guardKey(ctx, p, k)
}

// assignSecret generates a secret for k and sets the fields derived from it.
func (s *Service) assignSecret(k *Key, prefix string) (string, error) {
	gen, err := keyformat.Generate(prefix)
	if err != nil {
		return "", &Error{Code: EInternal, Message: "could not generate a key", Cause: err}
	}
	sum := s.hasher.Hash(gen.Raw)
	k.Prefix = gen.DisplayPrefix()
	k.Last4 = gen.Last4()
	k.Hash = sum[:]
	k.HashScheme = s.hasher.CurrentScheme()
	return gen.Raw, nil
}

// Key returns one of p's keys, with its oldest pending tier request if it has one. Errors:
// EInvalid, ENotFound, EForbidden.
func (s *Service) Key(ctx context.Context, p Principal, id string) (*Key, error) {
	k, err := s.keyFor(ctx, p, PermKeysRead, id)
	if err != nil {
		return nil, err
	}
	// A tier request waiting for approval is shown with the key, so that whoever asked
	// sees it still waits.
	pending, err := s.store.ListTierRequests(ctx, TierRequestFilter{AccountID: k.AccountID, KeyID: k.ID, Status: TierRequestPending, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		k.PendingTierRequest = pending[0]
	}
	return k, nil
}

// keyFor fetches one of p's keys and checks p may do perm on it.
func (s *Service) keyFor(ctx context.Context, p Principal, perm, id string) (*Key, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "key id %q is not a valid id", id)
	}
	k, err := s.store.Key(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if err := authorizeKey(p, perm, k); err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeysInput filters a key listing.
type ListKeysInput struct {
	ProjectID     string
	EnvironmentID string
	UserID        string
	AccountOnly   bool // only keys that belong to no project
	Status        Status
	Page          Page
}

// ListKeys returns a page of p's keys. A caller who may read only their own keys gets those.
// Errors: EInvalid (bad id or status), EForbidden.
func (s *Service) ListKeys(ctx context.Context, p Principal, in ListKeysInput) ([]*Key, string, error) {
	switch {
	case p.Can(PermKeysRead, in.ProjectID):
	case p.UserID != "" && p.Can(OwnKeys(PermKeysRead), in.ProjectID):
		if in.UserID != "" && in.UserID != p.UserID {
			return nil, "", forbidden(PermKeysRead)
		}
		in.UserID = p.UserID
	default:
		return nil, "", forbidden(PermKeysRead)
	}
	for _, id := range []string{in.ProjectID, in.EnvironmentID, in.UserID, in.Page.After} {
		if id != "" && !ValidID(id) {
			return nil, "", Errorf(EInvalid, "%q is not a valid id", id)
		}
	}
	switch in.Status {
	case "", StatusActive, StatusRevoked, StatusExpired:
	default:
		return nil, "", Errorf(EInvalid, "status must be active, revoked or expired")
	}
	limit := in.Page.limit()
	items, err := s.store.ListKeys(ctx, KeyFilter{
		AccountID:     p.AccountID,
		ProjectID:     in.ProjectID,
		EnvironmentID: in.EnvironmentID,
		UserID:        in.UserID,
		AccountOnly:   in.AccountOnly,
		Status:        in.Status,
		Now:           s.Now(),
		After:         in.Page.After,
		Limit:         limit + 1,
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Key) string { return x.ID })
	return items, next, nil
}

// UpdateKeyInput changes a key's mutable fields; a nil field is left as it is. The Clear
// flags set a field back to unset.
type UpdateKeyInput struct {
	Name                    *string
	Scopes                  *[]string
	ExpiresAt               *time.Time
	ClearExpiresAt          bool
	Metadata                map[string]any
	ClearMetadata           bool
	RotationIntervalDays    *int // 0 clears the schedule
	RotationWebhookURL      *string
	ClearRotationWebhookURL bool
	// RotateWebhookSecret gives the rotation webhook a new signing secret (shown once); a
	// new webhook URL gets one anyway.
	RotateWebhookSecret bool
	// RotationGrace sets the grace of scheduled rotations; ClearRotationGrace goes back to
	// DefaultRotationGrace.
	RotationGrace      *time.Duration
	ClearRotationGrace bool
	RoleID             *string // "" clears the role
	// AllowedIPs replaces the networks the key may be used from; an empty list defers to the
	// account's. Lifting a restriction (dropping the list, or adding a network none of the
	// old ones contains) needs api_keys.update for anyone's keys, not only one's own.
	AllowedIPs *[]string
	// RateLimitTier changes the key's tier; one that requires approval may become a pending
	// request instead, as on CreateKey.
	RateLimitTier *string
	// RateLimit overrides the tier's limit; ClearRateLimit goes back to the tier's. Both
	// need PermTiersWrite.
	RateLimit      *RateLimit
	ClearRateLimit bool
	// Credits replace the key lineage's usage credits; ClearCredits makes its use
	// uncounted. Both need PermTiersWrite: credits are a limit, set by whoever sets limits,
	// never lifted by the key's holder.
	Credits      *Credits
	ClearCredits bool
}

// UpdateKey changes one of p's keys. p must hold everything the key holds (see guardKey),
// before and after the change. Changing the rotation interval restarts the schedule from
// now. Errors: EInvalid, EValidation, ENotFound, EForbidden, EConflict (the key is revoked).
func (s *Service) UpdateKey(ctx context.Context, p Principal, id string, in UpdateKeyInput) (*Key, error) {
	var k *Key
	err := s.mutate(ctx, p, ActionUpdateKey, TargetKey, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		k, err = tx.updateKey(ctx, p, id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) updateKey(ctx context.Context, p Principal, id string, in UpdateKeyInput) (*Key, error) {
	k, err := s.keyFor(ctx, p, PermKeysUpdate, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if k.Status(now) == StatusRevoked {
		return nil, Errorf(EConflict, "key %s is revoked and can no longer be changed", k.ID)
	}
	if err := s.guardKey(ctx, p, k); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := validateName("name", *in.Name); err != nil {
			return nil, err
		}
		k.Name = *in.Name
	}
	if in.Scopes != nil {
		scopes, err := normalizeScopes(*in.Scopes)
		if err != nil {
			return nil, err
		}
		if err := grantScopes(p, PermKeysUpdate, k.ProjectID, scopes, k.Scopes); err != nil {
			return nil, err
		}
		k.Scopes = scopes
	}
	if in.AllowedIPs != nil {
		allowed, err := ParseAllowedIPs(*in.AllowedIPs)
		if err != nil {
			return nil, err
		}
		if widensNetworks(k.AllowedIPs, allowed) {
			if err := authorize(p, PermKeysUpdate, k.ProjectID); err != nil {
				return nil, Errorf(EForbidden, "letting key %s be used from networks it was kept from needs the %s permission for anyone's keys", k.ID, PermKeysUpdate)
			}
		}
		k.AllowedIPs = allowed
	}
	oldExpiry := k.ExpiresAt
	switch {
	case in.ClearExpiresAt:
		k.ExpiresAt = nil
	case in.ExpiresAt != nil:
		if err := validateExpiry(in.ExpiresAt, now); err != nil {
			return nil, err
		}
		k.ExpiresAt = utcPtr(in.ExpiresAt)
	}
	switch {
	case in.ClearMetadata:
		k.Metadata = nil
	case in.Metadata != nil:
		if err := validateMetadata(in.Metadata); err != nil {
			return nil, err
		}
		k.Metadata = in.Metadata
	}
	if in.RotationIntervalDays != nil {
		k.RotationIntervalDays = *in.RotationIntervalDays
		k.NextRotationAt = NextRotation(now, k.RotationIntervalDays)
	}
	oldWebhook := k.RotationWebhookURL
	switch {
	case in.ClearRotationWebhookURL:
		k.RotationWebhookURL = ""
	case in.RotationWebhookURL != nil:
		k.RotationWebhookURL = *in.RotationWebhookURL
	}
	switch {
	case in.ClearRotationGrace:
		k.RotationGrace = nil
	case in.RotationGrace != nil:
		g := *in.RotationGrace
		k.RotationGrace = &g
	}
	if err := s.validateRotation(k.RotationIntervalDays, k.RotationWebhookURL, k.RotationGrace); err != nil {
		return nil, err
	}
	if k.RotationWebhookURL != oldWebhook || in.RotateWebhookSecret {
		if in.RotateWebhookSecret && k.RotationWebhookURL == "" {
			return nil, Errorf(EValidation, "the key has no rotation_webhook_url to make a secret for")
		}
		if err := s.newRotationWebhookSecret(k); err != nil {
			return nil, err
		}
	}
	if !sameTime(oldExpiry, k.ExpiresAt) {
		k.ExpiryNotifiedAt = nil // the new expiry earns its own notice
	}
	var pending *TierRequest
	if in.RateLimitTier != nil && *in.RateLimitTier != k.RateLimitTier {
		if k.RateLimitTier, pending, err = s.grantTier(ctx, p, k.RateLimitTier, *in.RateLimitTier); err != nil {
			return nil, err
		}
	}
	switch {
	case in.ClearRateLimit:
		if err := authorize(p, PermTiersWrite, ""); err != nil {
			return nil, err
		}
		k.RateLimitOverride = nil
	case in.RateLimit != nil:
		if err := overrideLimit(p, k, in.RateLimit); err != nil {
			return nil, err
		}
	}
	var credits *Credits
	if in.Credits != nil || in.ClearCredits {
		if err := authorize(p, PermTiersWrite, ""); err != nil {
			return nil, err
		}
	}
	if in.Credits != nil {
		if err := in.Credits.Validate(); err != nil {
			return nil, err
		}
		credits = freshCredits(*in.Credits, now)
	}
	if in.RoleID != nil {
		if err := s.setKeyIdentity(ctx, p, k, *in.RoleID, k.ProjectAccesses); err != nil {
			return nil, err
		}
	}
	// An earlier expiry ends the key's access tokens then too: they were issued to expire
	// with the key as it was.
	if k.ExpiresAt != nil && (oldExpiry == nil || k.ExpiresAt.Before(*oldExpiry)) {
		if err := s.denyKeyTokens(ctx, k.ID, *k.ExpiresAt); err != nil {
			return nil, err
		}
		s.step("update-api-key:tokens-denied")
	}
	if in.ClearCredits || credits != nil {
		k.ExhaustedAt = nil // new credits may run out again, and that is news again
	}
	if err := s.store.UpdateKey(ctx, k); err != nil {
		return nil, err
	}
	s.step("update-api-key:key-written")
	if in.ClearCredits || credits != nil {
		if err := s.store.SetCredits(ctx, k.AccountID, k.LineageID, credits); err != nil {
			return nil, err
		}
		k.Credits = credits
		s.step("update-api-key:credits-written")
	}
	if pending != nil {
		pending.KeyID = k.ID
		if err := s.store.CreateTierRequest(ctx, pending); err != nil {
			return nil, err
		}
		k.PendingTierRequest = pending
		if err := s.emitTierRequest(ctx, TopicTierRequested, pending); err != nil {
			return nil, err
		}
	}
	if err := s.emitKey(ctx, TopicKeyUpdated, k); err != nil {
		return nil, err
	}
	s.changed(ctx, k)
	return k, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// overrideLimit gives k a limit of its own. Only a caller who may define tiers may do that:
// an override is a tier for one key, and could otherwise lift a key past any approval.
func overrideLimit(p Principal, k *Key, l *RateLimit) error {
	if err := authorize(p, PermTiersWrite, ""); err != nil {
		return err
	}
	if err := l.Validate(); err != nil {
		return err
	}
	o := *l
	k.RateLimitOverride = &o
	return nil
}

// RevokeKey revokes one of p's keys: it fails verification from now on. Revoking a revoked
// key changes nothing. p must hold everything the key holds (see guardKey). Errors:
// EInvalid, ENotFound, EForbidden.
func (s *Service) RevokeKey(ctx context.Context, p Principal, id string) (*Key, error) {
	var k *Key
	err := s.mutate(ctx, p, ActionRevokeKey, TargetKey, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		k, err = tx.revokeKey(ctx, p, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) revokeKey(ctx context.Context, p Principal, id string) (*Key, error) {
	k, err := s.keyFor(ctx, p, PermKeysRevoke, id)
	if err != nil {
		return nil, err
	}
	if err := s.guardKey(ctx, p, k); err != nil {
		return nil, err
	}
	now := s.Now()
	// The key's access tokens end with it, in the same unit of work.
	if err := s.denyKeyTokens(ctx, id, now); err != nil {
		return nil, err
	}
	s.step("revoke-api-key:tokens-denied")
	wasRevoked := k.RevokedAt != nil
	if k, err = s.store.RevokeKey(ctx, p.AccountID, id, now); err != nil {
		return nil, err
	}
	if !wasRevoked {
		if err := s.emitKey(ctx, TopicKeyRevoked, k); err != nil {
			return nil, err
		}
	}
	s.changed(ctx, k)
	return k, nil
}

// RotateKeyInput says how to rotate a key.
type RotateKeyInput struct {
	// GracePeriod keeps the old key verifying this long; zero ends it at once.
	GracePeriod time.Duration
	// ExpiresAt is the new key's expiry. When nil, a key that had an expiry gets the same
	// lifetime again, counted from now; one that had none gets none.
	ExpiresAt *time.Time
}

// Rotation is the outcome of a rotation: the old key as it now is, the new key and its secret.
type Rotation struct {
	Old    *Key
	New    *Key
	Secret string
}

// RotateKey replaces one of p's keys with a new one that inherits its name, scopes, networks,
// environment, user, role, project accesses, tier, metadata and rotation settings. p gets the
// new secret, so p must hold everything the key holds (see guardKey). Errors: EInvalid,
// EValidation, ENotFound, EForbidden, EConflict (the key is revoked or already replaced).
func (s *Service) RotateKey(ctx context.Context, p Principal, id string, in RotateKeyInput) (*Rotation, error) {
	var r *Rotation
	err := s.mutate(ctx, p, ActionRotateKey, TargetKey, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		r, err = tx.rotateKey(ctx, p, id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) rotateKey(ctx context.Context, p Principal, id string, in RotateKeyInput) (*Rotation, error) {
	if in.GracePeriod < 0 || in.GracePeriod > MaxGracePeriod {
		return nil, Errorf(EValidation, "grace_period_seconds must be between 0 and %d", int(MaxGracePeriod/time.Second))
	}
	old, err := s.keyFor(ctx, p, PermKeysRotate, id)
	if err != nil {
		return nil, err
	}
	if err := s.guardKey(ctx, p, old); err != nil {
		return nil, err
	}
	now := s.Now()
	if old.RevokedAt != nil || old.ReplacedByKeyID != "" {
		return nil, Errorf(EConflict, "key %s is revoked or already rotated", old.ID)
	}
	expiresAt := utcPtr(in.ExpiresAt)
	if expiresAt == nil && old.ExpiresAt != nil {
		t := now.Add(old.ExpiresAt.Sub(old.CreatedAt))
		expiresAt = &t
	}
	if err := validateExpiry(expiresAt, now); err != nil {
		return nil, err
	}
	prefix, err := s.prefixOf(ctx, old)
	if err != nil {
		return nil, err
	}
	next := &Key{
		ID:                   NewID(),
		AccountID:            old.AccountID,
		ProjectID:            old.ProjectID,
		EnvironmentID:        old.EnvironmentID,
		UserID:               old.UserID,
		RoleID:               old.RoleID,
		ProjectAccesses:      old.ProjectAccesses,
		RateLimitTier:        old.RateLimitTier,
		RateLimitOverride:    old.RateLimitOverride,
		LineageID:            old.LineageID,
		Credits:              old.Credits,
		Name:                 old.Name,
		Scopes:               old.Scopes,
		AllowedIPs:           old.AllowedIPs,
		Metadata:             old.Metadata,
		ExpiresAt:            expiresAt,
		CreatedAt:            now,
		RotationIntervalDays: old.RotationIntervalDays,
		NextRotationAt:       NextRotation(now, old.RotationIntervalDays),
		RotationWebhookURL:   old.RotationWebhookURL,
		RotationGrace:        old.RotationGrace,
		CreatedBy:            p.ID,
	}
	secret, err := s.assignSecret(next, prefix)
	if err != nil {
		return nil, err
	}
	var graceUntil *time.Time
	if in.GracePeriod > 0 {
		t := now.Add(in.GracePeriod)
		graceUntil = &t
	}
	// The old key's access tokens end with it: at once without a grace period, else when
	// the grace ends (a token issued before the rotation may outlive the grace).
	end := now
	if graceUntil != nil {
		end = *graceUntil
	}
	if err := s.denyKeyTokens(ctx, old.ID, end); err != nil {
		return nil, err
	}
	s.step("rotate-api-key:tokens-denied")
	if old.RotationWebhookSecret != nil {
		// The webhook's secret is sealed for its key: the new key gets it sealed for itself.
		plain, err := s.OpenSecret(old.ID, old.RotationWebhookSecret)
		if err != nil {
			return nil, Errorf(EInternal, "opening key %s's rotation webhook secret: %v", old.ID, err)
		}
		if next.RotationWebhookSecret, err = s.sealFor(next.ID, plain); err != nil {
			return nil, err
		}
	}
	updated, err := s.store.RotateKey(ctx, p.AccountID, old.ID, next, graceUntil)
	if err != nil {
		return nil, err
	}
	if err := s.emit(ctx, &Event{Topic: TopicKeyRotated, AccountID: next.AccountID, Key: next, Replaced: updated}, next.LineageID); err != nil {
		return nil, err
	}
	s.changed(ctx, updated)
	return &Rotation{Old: updated, New: next, Secret: secret}, nil
}

// prefixOf is the prefix a key's successor takes: its project's, or its account's.
func (s *Service) prefixOf(ctx context.Context, k *Key) (string, error) {
	if k.ProjectID != "" {
		proj, err := s.store.Project(ctx, k.AccountID, k.ProjectID)
		if err != nil {
			return "", err
		}
		return proj.KeyPrefix, nil
	}
	acct, err := s.store.Account(ctx, k.AccountID)
	if err != nil {
		return "", err
	}
	return acct.KeyPrefix, nil
}
