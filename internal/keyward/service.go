package keyward

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// Service carries out management requests: it validates input, applies the key lifecycle
// rules, and writes through a Store. Callers have already authenticated the principal; the
// service scopes every read and write to the principal's account.
type Service struct {
	store  Store
	hasher *keyformat.Hasher
	now    func() time.Time
	events KeyEvents
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithClock replaces time.Now, so that tests can move time (grace periods, expiry).
func WithClock(now func() time.Time) ServiceOption { return func(s *Service) { s.now = now } }

// WithKeyEvents tells ev of every key change that affects verification.
func WithKeyEvents(ev KeyEvents) ServiceOption { return func(s *Service) { s.events = ev } }

// NewService returns a Service over store, hashing secrets with hasher.
func NewService(store Store, hasher *keyformat.Hasher, opts ...ServiceOption) *Service {
	s := &Service{store: store, hasher: hasher, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the service's clock, in UTC at the microsecond precision every store keeps.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Page is a cursor position and size for list calls.
type Page struct {
	After string // the last id of the previous page; "" for the first
	Limit int
}

// Default and maximum page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

func (p Page) limit() int {
	if p.Limit <= 0 {
		return DefaultPageSize
	}
	return min(p.Limit, MaxPageSize)
}

// page trims a result fetched with one extra row to the page size and reports the id to
// continue after, or "" when this was the last page.
func page[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

// CreateProjectInput is what a caller gives to create a project.
type CreateProjectInput struct {
	Name      string
	KeyPrefix string // "" for keyformat.DefaultPrefix
}

// CreateProject creates a project in p's account. Errors: EValidation, EConflict (name taken).
func (s *Service) CreateProject(ctx context.Context, p Principal, in CreateProjectInput) (*Project, error) {
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	if in.KeyPrefix == "" {
		in.KeyPrefix = keyformat.DefaultPrefix
	}
	if !keyformat.ValidPrefix(in.KeyPrefix) || in.KeyPrefix == AdminKeyPrefix {
		return nil, Errorf(EValidation, "key_prefix must be lower-case letters and digits, starting with a letter, optionally in parts joined by '_', at most %d characters, and not %q", keyformat.MaxPrefixLen, AdminKeyPrefix)
	}
	proj := &Project{ID: NewID(), AccountID: p.AccountID, Name: in.Name, KeyPrefix: in.KeyPrefix, CreatedAt: s.Now()}
	if err := s.store.CreateProject(ctx, proj); err != nil {
		return nil, err
	}
	return proj, nil
}

// Project returns one of p's projects. Errors: EInvalid (bad id), ENotFound.
func (s *Service) Project(ctx context.Context, p Principal, id string) (*Project, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "project id %q is not a valid id", id)
	}
	return s.store.Project(ctx, p.AccountID, id)
}

// ListProjects returns a page of p's projects and the cursor of the next page ("" at the end).
func (s *Service) ListProjects(ctx context.Context, p Principal, pg Page) ([]*Project, string, error) {
	limit := pg.limit()
	items, err := s.store.ListProjects(ctx, p.AccountID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Project) string { return x.ID })
	return items, next, nil
}

// CreateEnvironment creates an environment in one of p's projects. Errors: EInvalid,
// EValidation, ENotFound (project), EConflict (name taken in the project).
func (s *Service) CreateEnvironment(ctx context.Context, p Principal, projectID, name string) (*Environment, error) {
	proj, err := s.Project(ctx, p, projectID)
	if err != nil {
		return nil, err
	}
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	env := &Environment{ID: NewID(), AccountID: p.AccountID, ProjectID: proj.ID, Name: name, CreatedAt: s.Now()}
	if err := s.store.CreateEnvironment(ctx, env); err != nil {
		return nil, err
	}
	return env, nil
}

// ListEnvironments returns a page of a project's environments. Errors: EInvalid, ENotFound.
func (s *Service) ListEnvironments(ctx context.Context, p Principal, projectID string, pg Page) ([]*Environment, string, error) {
	proj, err := s.Project(ctx, p, projectID)
	if err != nil {
		return nil, "", err
	}
	limit := pg.limit()
	items, err := s.store.ListEnvironments(ctx, p.AccountID, proj.ID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Environment) string { return x.ID })
	return items, next, nil
}

// CreateKeyInput is what a caller gives to create a key.
type CreateKeyInput struct {
	ProjectID            string
	EnvironmentID        string
	Name                 string
	Scopes               []string
	ExpiresAt            *time.Time
	Metadata             map[string]any
	RotationIntervalDays int
	RotationWebhookURL   string
}

// CreateKey issues a key in one of p's projects and returns it with its secret, which is
// never available again. Errors: EInvalid, EValidation, ENotFound (project or environment).
func (s *Service) CreateKey(ctx context.Context, p Principal, in CreateKeyInput) (*Key, string, error) {
	now := s.Now()
	if err := validateName("name", in.Name); err != nil {
		return nil, "", err
	}
	scopes, err := normalizeScopes(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	if err := validateExpiry(in.ExpiresAt, now); err != nil {
		return nil, "", err
	}
	if err := validateMetadata(in.Metadata); err != nil {
		return nil, "", err
	}
	if err := validateRotation(in.RotationIntervalDays, in.RotationWebhookURL); err != nil {
		return nil, "", err
	}
	proj, err := s.Project(ctx, p, in.ProjectID)
	if err != nil {
		return nil, "", err
	}
	if in.EnvironmentID != "" {
		if !ValidID(in.EnvironmentID) {
			return nil, "", Errorf(EInvalid, "environment id %q is not a valid id", in.EnvironmentID)
		}
		env, err := s.store.Environment(ctx, p.AccountID, in.EnvironmentID)
		if err != nil {
			return nil, "", err
		}
		if env.ProjectID != proj.ID {
			return nil, "", Errorf(EValidation, "environment %s belongs to another project", env.ID)
		}
	}
	k := &Key{
		ID:                   NewID(),
		AccountID:            p.AccountID,
		ProjectID:            proj.ID,
		EnvironmentID:        in.EnvironmentID,
		Name:                 in.Name,
		Scopes:               scopes,
		Metadata:             in.Metadata,
		ExpiresAt:            utcPtr(in.ExpiresAt),
		CreatedAt:            now,
		RotationIntervalDays: in.RotationIntervalDays,
		NextRotationAt:       NextRotation(now, in.RotationIntervalDays),
		RotationWebhookURL:   in.RotationWebhookURL,
		CreatedBy:            p.ID,
	}
	secret, err := s.assignSecret(k, proj.KeyPrefix)
	if err != nil {
		return nil, "", err
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, secret, nil
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

// Key returns one of p's keys. Errors: EInvalid, ENotFound.
func (s *Service) Key(ctx context.Context, p Principal, id string) (*Key, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "key id %q is not a valid id", id)
	}
	return s.store.Key(ctx, p.AccountID, id)
}

// ListKeysInput filters a key listing.
type ListKeysInput struct {
	ProjectID     string
	EnvironmentID string
	Status        Status
	Page          Page
}

// ListKeys returns a page of p's keys. Errors: EInvalid (bad id or status).
func (s *Service) ListKeys(ctx context.Context, p Principal, in ListKeysInput) ([]*Key, string, error) {
	for _, id := range []string{in.ProjectID, in.EnvironmentID, in.Page.After} {
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
}

// UpdateKey changes one of p's keys. Changing the rotation interval restarts the schedule
// from now. Errors: EInvalid, EValidation, ENotFound, EConflict (the key is revoked).
func (s *Service) UpdateKey(ctx context.Context, p Principal, id string, in UpdateKeyInput) (*Key, error) {
	k, err := s.Key(ctx, p, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if k.Status(now) == StatusRevoked {
		return nil, Errorf(EConflict, "key %s is revoked and can no longer be changed", k.ID)
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
		k.Scopes = scopes
	}
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
	switch {
	case in.ClearRotationWebhookURL:
		k.RotationWebhookURL = ""
	case in.RotationWebhookURL != nil:
		k.RotationWebhookURL = *in.RotationWebhookURL
	}
	if err := validateRotation(k.RotationIntervalDays, k.RotationWebhookURL); err != nil {
		return nil, err
	}
	if err := s.store.UpdateKey(ctx, k); err != nil {
		return nil, err
	}
	s.changed(ctx, k)
	return k, nil
}

// RevokeKey revokes one of p's keys: it fails verification from now on. Revoking a revoked
// key changes nothing. Errors: EInvalid, ENotFound.
func (s *Service) RevokeKey(ctx context.Context, p Principal, id string) (*Key, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "key id %q is not a valid id", id)
	}
	k, err := s.store.RevokeKey(ctx, p.AccountID, id, s.Now())
	if err != nil {
		return nil, err
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

// RotateKey replaces one of p's keys with a new one that inherits its name, scopes,
// environment, metadata and rotation settings. Errors: EInvalid, EValidation, ENotFound,
// EConflict (the key is revoked or already replaced).
func (s *Service) RotateKey(ctx context.Context, p Principal, id string, in RotateKeyInput) (*Rotation, error) {
	if in.GracePeriod < 0 || in.GracePeriod > MaxGracePeriod {
		return nil, Errorf(EValidation, "grace_period_seconds must be between 0 and %d", int(MaxGracePeriod/time.Second))
	}
	old, err := s.Key(ctx, p, id)
	if err != nil {
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
	proj, err := s.store.Project(ctx, p.AccountID, old.ProjectID)
	if err != nil {
		return nil, err
	}
	next := &Key{
		ID:                   NewID(),
		AccountID:            old.AccountID,
		ProjectID:            old.ProjectID,
		EnvironmentID:        old.EnvironmentID,
		Name:                 old.Name,
		Scopes:               old.Scopes,
		Metadata:             old.Metadata,
		ExpiresAt:            expiresAt,
		CreatedAt:            now,
		RotationIntervalDays: old.RotationIntervalDays,
		NextRotationAt:       NextRotation(now, old.RotationIntervalDays),
		RotationWebhookURL:   old.RotationWebhookURL,
		CreatedBy:            p.ID,
	}
	secret, err := s.assignSecret(next, proj.KeyPrefix)
	if err != nil {
		return nil, err
	}
	var graceUntil *time.Time
	if in.GracePeriod > 0 {
		t := now.Add(in.GracePeriod)
		graceUntil = &t
	}
	updated, err := s.store.RotateKey(ctx, p.AccountID, old.ID, next, graceUntil)
	if err != nil {
		return nil, err
	}
	s.changed(ctx, updated)
	return &Rotation{Old: updated, New: next, Secret: secret}, nil
}

func (s *Service) changed(ctx context.Context, k *Key) {
	if s.events != nil {
		s.events.KeyChanged(ctx, k)
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// Ping checks that the store answers, for readiness probes.
func (s *Service) Ping(ctx context.Context) error {
	_, err := s.store.CountAdminKeys(ctx)
	return err
}
