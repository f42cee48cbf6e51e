package keyward

import (
	"context"
	"slices"
	"strings"
	"time"
)

// RateLimitTiers returns p's account's tiers: the built-in ones (as the account has changed
// them, if it has) and its own, by name. Errors: EForbidden.
func (s *Service) RateLimitTiers(ctx context.Context, p Principal) ([]*RateLimitTier, error) {
	if err := authorize(p, PermTiersRead, ""); err != nil {
		return nil, err
	}
	stored, err := s.store.ListRateLimitTiers(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	out := stored
	for _, b := range BuiltinTiers(p.AccountID, time.Time{}) {
		if !slices.ContainsFunc(stored, func(t *RateLimitTier) bool { return t.Name == b.Name }) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *RateLimitTier) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RateLimitTier returns one of p's account's tiers by name. Errors: EForbidden, ENotFound.
func (s *Service) RateLimitTier(ctx context.Context, p Principal, name string) (*RateLimitTier, error) {
	if err := authorize(p, PermTiersRead, ""); err != nil {
		return nil, err
	}
	return s.res.RateLimitTier(ctx, p.AccountID, name)
}

// TierInput is what a caller gives to create a tier, or, with nil fields left as they are, to
// change one.
type TierInput struct {
	Name             string // create only
	Description      *string
	Limit            *RateLimit
	RequiresApproval *bool
	FailMode         *FailMode
}

// CreateRateLimitTier adds a tier to p's account. Errors: EForbidden, EValidation, EConflict
// (the name is taken, also by a built-in tier).
func (s *Service) CreateRateLimitTier(ctx context.Context, p Principal, in TierInput) (*RateLimitTier, error) {
	var t *RateLimitTier
	err := s.mutate(ctx, p, ActionCreateTier, TargetTier, in.Name, func(tx *Service, _ *AuditEvent) error {
		if err := authorize(p, PermTiersWrite, ""); err != nil {
			return err
		}
		name := strings.TrimSpace(in.Name)
		if !slugPattern.MatchString(name) {
			return Errorf(EValidation, "name must be 1 to 64 lower-case letters, digits and '-', starting with a letter")
		}
		if _, err := tx.res.RateLimitTier(ctx, p.AccountID, name); err == nil {
			return Errorf(EConflict, "the account has a tier named %q", name)
		}
		if in.Limit == nil {
			return Errorf(EValidation, "a tier needs a rate and a burst")
		}
		now := tx.Now()
		t = &RateLimitTier{AccountID: p.AccountID, Name: name, FailMode: DefaultFailMode, CreatedAt: now, UpdatedAt: now}
		if err := applyTierInput(t, in); err != nil {
			return err
		}
		return tx.store.CreateRateLimitTier(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateRateLimitTier changes one of p's account's tiers, built-in ones included; keys on it
// are limited by the new numbers within a second on every node. Errors: EForbidden,
// EValidation, ENotFound.
func (s *Service) UpdateRateLimitTier(ctx context.Context, p Principal, name string, in TierInput) (*RateLimitTier, error) {
	t, err := s.updateRateLimitTier(ctx, p, name, in)
	if ErrorCode(err) == EConflict {
		// Another first change of the built-in tier stored it meanwhile: change that.
		t, err = s.updateRateLimitTier(ctx, p, name, in)
	}
	return t, err
}

func (s *Service) updateRateLimitTier(ctx context.Context, p Principal, name string, in TierInput) (*RateLimitTier, error) {
	var t *RateLimitTier
	err := s.mutate(ctx, p, ActionUpdateTier, TargetTier, name, func(tx *Service, _ *AuditEvent) error {
		if err := authorize(p, PermTiersWrite, ""); err != nil {
			return err
		}
		var err error
		if t, err = tx.res.RateLimitTier(ctx, p.AccountID, name); err != nil {
			return err
		}
		builtinUnchanged := t.CreatedAt.IsZero()
		if err := applyTierInput(t, in); err != nil {
			return err
		}
		t.UpdatedAt = tx.Now()
		if builtinUnchanged {
			// A built-in tier is stored the first time it is changed. Of two first changes
			// at once, one fails to store it and runs again (below), finding it stored.
			t.CreatedAt = t.UpdatedAt
			err = tx.store.CreateRateLimitTier(ctx, t)
		} else {
			err = tx.store.UpdateRateLimitTier(ctx, t)
		}
		if err != nil {
			return err
		}
		// Verifiers cache each key's limit with the key; the tier's keys are not known here.
		tx.identityChanged(ctx, p.AccountID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func applyTierInput(t *RateLimitTier, in TierInput) error {
	if in.Description != nil {
		if len(*in.Description) > MaxDescriptionLen {
			return Errorf(EValidation, "description must be at most %d bytes", MaxDescriptionLen)
		}
		t.Description = *in.Description
	}
	if in.Limit != nil {
		if err := in.Limit.Validate(); err != nil {
			return err
		}
		t.Limit = *in.Limit
	}
	if in.RequiresApproval != nil {
		t.RequiresApproval = *in.RequiresApproval
	}
	if in.FailMode != nil {
		if *in.FailMode != FailOpen && *in.FailMode != FailClosed {
			return Errorf(EValidation, "fail_mode must be %s or %s", FailOpen, FailClosed)
		}
		t.FailMode = *in.FailMode
	}
	return nil
}

// grantTier decides what tier a key asked for gets now. A tier that needs approval is granted
// at once only to a caller who may approve it; anyone else's ask is recorded as a pending
// request (returned) and the key keeps current, or the standard tier when it is new.
func (s *Service) grantTier(ctx context.Context, p Principal, current, asked string) (string, *TierRequest, error) {
	if asked == "" {
		asked = TierStandard
	}
	t, err := s.res.RateLimitTier(ctx, p.AccountID, asked)
	if ErrorCode(err) == ENotFound {
		return "", nil, Errorf(EValidation, "rate_limit_tier %q is not a tier of the account", asked)
	}
	if err != nil {
		return "", nil, err
	}
	if !t.RequiresApproval || p.Can(PermApproveHigh, "") {
		return t.Name, nil, nil
	}
	if current == "" {
		current = TierStandard
	}
	return current, &TierRequest{
		ID: NewID(), AccountID: p.AccountID, Tier: t.Name, Status: TierRequestPending,
		RequestedBy: p.ID, CreatedAt: s.Now(),
	}, nil
}

// RequestTier asks that one of p's keys get a tier. A tier that needs no approval, or a
// caller who may approve it, changes the key at once (the request is then recorded as
// approved by the caller); otherwise the request waits for someone with PermApproveHigh.
// Errors: EInvalid, EValidation, ENotFound, EForbidden, EConflict (the key is revoked).
func (s *Service) RequestTier(ctx context.Context, p Principal, keyID, tier string) (*TierRequest, error) {
	var r *TierRequest
	err := s.mutate(ctx, p, ActionRequestTier, TargetKey, keyID, func(tx *Service, _ *AuditEvent) error {
		var err error
		r, err = tx.requestTier(ctx, p, keyID, tier)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) requestTier(ctx context.Context, p Principal, keyID, tier string) (*TierRequest, error) {
	k, err := s.keyFor(ctx, p, PermKeysUpdate, keyID)
	if err != nil {
		return nil, err
	}
	if k.Status(s.Now()) == StatusRevoked {
		return nil, Errorf(EConflict, "key %s is revoked and can no longer be changed", k.ID)
	}
	granted, pending, err := s.grantTier(ctx, p, k.RateLimitTier, tier)
	if err != nil {
		return nil, err
	}
	if pending != nil {
		pending.KeyID = k.ID
		if err := s.store.CreateTierRequest(ctx, pending); err != nil {
			return nil, err
		}
		return pending, s.emitTierRequest(ctx, TopicTierRequested, pending)
	}
	now := s.Now()
	r := &TierRequest{ID: NewID(), AccountID: p.AccountID, KeyID: k.ID, Tier: granted, Status: TierRequestPending,
		RequestedBy: p.ID, CreatedAt: now}
	if err := s.store.CreateTierRequest(ctx, r); err != nil {
		return nil, err
	}
	s.step("request-rate-limit-tier:request-written")
	reason := "granted on request: the tier needs no approval"
	if t, err := s.res.RateLimitTier(ctx, p.AccountID, granted); err == nil && t.RequiresApproval {
		reason = "granted on request by someone who may approve it"
	}
	r.Status, r.DecidedBy, r.DecidedAt, r.Reason = TierRequestApproved, p.ID, &now, reason
	return r, s.decideTier(ctx, r)
}

// TierRequests lists p's account's tier requests. Errors: EInvalid, EForbidden.
func (s *Service) TierRequests(ctx context.Context, p Principal, keyID string, status TierRequestStatus, pg Page) ([]*TierRequest, string, error) {
	if err := authorize(p, PermKeysRead, ""); err != nil {
		return nil, "", err
	}
	for _, id := range []string{keyID, pg.After} {
		if id != "" && !ValidID(id) {
			return nil, "", Errorf(EInvalid, "%q is not a valid id", id)
		}
	}
	switch status {
	case "", TierRequestPending, TierRequestApproved, TierRequestRejected:
	default:
		return nil, "", Errorf(EInvalid, "status must be pending, approved or rejected")
	}
	limit := pg.limit()
	rs, err := s.store.ListTierRequests(ctx, TierRequestFilter{AccountID: p.AccountID, KeyID: keyID, Status: status, After: pg.After, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	rs, next := page(rs, limit, func(r *TierRequest) string { return r.ID })
	return rs, next, nil
}

// TierRequest returns one of p's account's tier requests. Errors: EInvalid, ENotFound,
// EForbidden.
func (s *Service) TierRequest(ctx context.Context, p Principal, id string) (*TierRequest, error) {
	if err := authorize(p, PermKeysRead, ""); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "tier request id %q is not a valid id", id)
	}
	return s.store.TierRequest(ctx, p.AccountID, id)
}

// DecideTierRequest approves or rejects a pending tier request; an approval gives the key
// the tier at once. Only a holder of PermApproveHigh decides. Errors: EInvalid, EValidation,
// ENotFound, EForbidden, EConflict (already decided).
func (s *Service) DecideTierRequest(ctx context.Context, p Principal, id string, approve bool, reason string) (*TierRequest, error) {
	action := ActionRejectTier
	if approve {
		action = ActionApproveTier
	}
	var r *TierRequest
	err := s.mutate(ctx, p, action, TargetTierRequest, id, func(tx *Service, _ *AuditEvent) error {
		if err := authorize(p, PermApproveHigh, ""); err != nil {
			return err
		}
		if len(reason) > MaxDescriptionLen {
			return Errorf(EValidation, "reason must be at most %d bytes", MaxDescriptionLen)
		}
		var err error
		if r, err = tx.TierRequest(ctx, p, id); err != nil {
			return err
		}
		if r.Status != TierRequestPending {
			return Errorf(EConflict, "tier request %s is already %s", r.ID, r.Status)
		}
		now := tx.Now()
		r.Status, r.DecidedBy, r.DecidedAt, r.Reason = TierRequestRejected, p.ID, &now, reason
		if approve {
			r.Status = TierRequestApproved
		}
		return tx.decideTier(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// decideTier writes a decision and, for an approval, drops the key from every cache so that
// its new limit applies within a second.
func (s *Service) decideTier(ctx context.Context, r *TierRequest) error {
	if err := s.store.DecideTierRequest(ctx, r); err != nil {
		return err
	}
	if err := s.emitTierRequest(ctx, TopicTierDecided, r); err != nil {
		return err
	}
	if r.Status != TierRequestApproved {
		return nil
	}
	k, err := s.store.Key(ctx, r.AccountID, r.KeyID)
	if err != nil {
		return err
	}
	s.changed(ctx, k)
	return nil
}

// A usage report spans at most MaxUsageRange and MaxUsageBuckets buckets (a week of
// minutes), so that one request cannot ask the store for years of minutes.
const (
	MaxUsageRange   = 366 * 24 * time.Hour
	MaxUsageBuckets = 7 * 24 * 60
)

// UsageInput asks for a usage report.
type UsageInput struct {
	KeyID     string // "" for the account (or ProjectID)
	ProjectID string
	From, To  time.Time
	// Granularity is time.Minute, time.Hour or 24*time.Hour.
	Granularity time.Duration
}

// Usage reports verification counts by outcome in buckets: of one key (p may read it), of a
// project, or of p's whole account. From is rounded down to the start of its bucket. Errors: EInvalid, EValidation, ENotFound, EForbidden.
func (s *Service) Usage(ctx context.Context, p Principal, in UsageInput) ([]UsageBucket, error) {
	switch in.Granularity {
	case time.Minute, time.Hour, 24 * time.Hour:
	default:
		return nil, Errorf(EValidation, "granularity must be minute, hour or day")
	}
	if in.From.IsZero() || in.To.IsZero() || !in.From.Before(in.To) {
		return nil, Errorf(EValidation, "from must be before to")
	}
	if in.To.Sub(in.From) > MaxUsageRange {
		return nil, Errorf(EValidation, "a usage report covers at most %d days", int(MaxUsageRange/(24*time.Hour)))
	}
	if in.To.Sub(in.From) > MaxUsageBuckets*in.Granularity {
		return nil, Errorf(EValidation, "a usage report has at most %d buckets: ask for a coarser granularity or a shorter span", MaxUsageBuckets)
	}
	// From is rounded down to a bucket's start, so that the first bucket is whole.
	f := UsageFilter{AccountID: p.AccountID, From: in.From.UTC().Truncate(in.Granularity), To: in.To.UTC(), Granularity: in.Granularity}
	switch {
	case in.KeyID != "":
		k, err := s.keyFor(ctx, p, PermKeysRead, in.KeyID)
		if err != nil {
			return nil, err
		}
		f.KeyID = k.ID
	case in.ProjectID != "":
		if !ValidID(in.ProjectID) {
			return nil, Errorf(EInvalid, "project id %q is not a valid id", in.ProjectID)
		}
		if err := authorize(p, PermKeysRead, in.ProjectID); err != nil {
			return nil, err
		}
		if _, err := s.store.Project(ctx, p.AccountID, in.ProjectID); err != nil {
			return nil, err
		}
		f.ProjectID = in.ProjectID
	default:
		if err := authorize(p, PermKeysRead, ""); err != nil {
			return nil, err
		}
	}
	return s.store.Usage(ctx, f)
}
