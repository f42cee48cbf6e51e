package keyward

import (
	"context"
	"slices"
	"time"
)

// ResolverStore is what resolving identities and limits reads.
type ResolverStore interface {
	AccountStore
	ProjectStore
	UserStore
	RoleStore
	MembershipStore
	RateLimitTierStore
}

// Resolver works out what a key or user stands for: roles (built-in or custom, by id or
// slug), project grants, effective permissions and rate limits. It only reads, and it is
// built from the store alone, before the verifier and the service that both use it, so that
// neither needs the other to start.
type Resolver struct {
	store ResolverStore
}

// NewResolver returns a Resolver reading from store.
func NewResolver(store ResolverStore) *Resolver { return &Resolver{store: store} }

// Role finds a role of the account by id or slug, built-in or custom. It checks no
// authorization. Errors: EInvalid (neither an id nor a slug), ENotFound.
func (r *Resolver) Role(ctx context.Context, accountID, idOrSlug string) (*Role, error) {
	if b := BuiltInRole(idOrSlug); b != nil {
		return b, nil
	}
	if ValidID(idOrSlug) {
		return r.store.Role(ctx, accountID, idOrSlug)
	}
	if !slugPattern.MatchString(idOrSlug) {
		return nil, Errorf(EInvalid, "role %q is neither a role id nor a slug", idOrSlug)
	}
	after := ""
	for {
		roles, err := r.store.ListRoles(ctx, accountID, after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, role := range roles {
			if role.Slug == idOrSlug {
				return role, nil
			}
		}
		if len(roles) < MaxPageSize {
			return nil, Errorf(ENotFound, "role %q not found", idOrSlug)
		}
		after = roles[len(roles)-1].ID
	}
}

// grants resolves memberships to projects and roles, and the permissions they give.
func (r *Resolver) grants(ctx context.Context, accountID string, accesses []ProjectAccess) ([]ProjectGrant, Permissions, error) {
	var (
		out   []ProjectGrant
		perms Permissions
	)
	for _, a := range accesses {
		proj, err := r.store.Project(ctx, accountID, a.ProjectID)
		if err != nil {
			return nil, nil, err
		}
		role, err := r.Role(ctx, accountID, a.RoleID)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ProjectGrant{Project: proj, Role: role})
		perms = append(perms, inProject(proj.ID, role.Permissions)...)
	}
	return out, perms, nil
}

// UserGrants returns a user's account role, project grants and effective permissions.
func (r *Resolver) UserGrants(ctx context.Context, u *User) (*Role, []ProjectGrant, Permissions, error) {
	var (
		role  *Role
		perms Permissions
	)
	if u.RoleID != "" {
		found, err := r.Role(ctx, u.AccountID, u.RoleID)
		if err != nil {
			return nil, nil, nil, err
		}
		role, perms = found, slices.Clone(found.Permissions)
	}
	ms, err := r.store.ListMemberships(ctx, MembershipFilter{AccountID: u.AccountID, UserID: u.ID})
	if err != nil {
		return nil, nil, nil, err
	}
	accesses := make([]ProjectAccess, len(ms))
	for i, m := range ms {
		accesses[i] = ProjectAccess{ProjectID: m.ProjectID, RoleID: m.RoleID}
	}
	projects, pperms, err := r.grants(ctx, u.AccountID, accesses)
	if err != nil {
		return nil, nil, nil, err
	}
	return role, projects, append(perms, pperms...), nil
}

// ResolveIdentity resolves what k stands for: its account, user, role, projects and
// effective permissions. A key of a user holds at most what the user holds now; a key with
// a user but neither role nor project access holds exactly what the user holds. The networks
// it may be used from are its own, else its account's. It does not check the key's own state
// (revoked, expired) or whether its user is disabled: verification does that with the result.
// It reads only what the key's networks, role, accesses and user need, because every
// verification cache miss runs it.
func (r *Resolver) ResolveIdentity(ctx context.Context, k *Key) (*Identity, error) {
	id := &Identity{AllowedIPs: k.AllowedIPs}
	if len(id.AllowedIPs) == 0 {
		acct, err := r.store.Account(ctx, k.AccountID)
		if err != nil {
			return nil, err
		}
		id.AllowedIPs = acct.AllowedIPs
	}
	var perms Permissions
	if k.RoleID != "" {
		role, err := r.Role(ctx, k.AccountID, k.RoleID)
		if err != nil {
			return nil, err
		}
		id.Role = role
		perms = slices.Clone(role.Permissions)
	}
	projects, pperms, err := r.grants(ctx, k.AccountID, k.ProjectAccesses)
	if err != nil {
		return nil, err
	}
	id.Projects = projects
	perms = append(perms, pperms...)
	if k.UserID == "" {
		id.Permissions = perms
		return id, nil
	}
	user, err := r.store.User(ctx, k.AccountID, k.UserID)
	if err != nil {
		return nil, err
	}
	id.User = user
	userRole, userProjects, userPerms, err := r.UserGrants(ctx, user)
	if err != nil {
		return nil, err
	}
	if k.RoleID == "" && len(k.ProjectAccesses) == 0 {
		id.Role, id.Projects, id.Permissions = userRole, userProjects, userPerms
		return id, nil
	}
	id.Permissions = Intersect(perms, userPerms)
	return id, nil
}

// RateLimitTier returns the account's tier: the stored one, else the built-in one of that
// name. ENotFound if neither exists.
func (r *Resolver) RateLimitTier(ctx context.Context, accountID, name string) (*RateLimitTier, error) {
	t, err := r.store.RateLimitTier(ctx, accountID, name)
	if ErrorCode(err) != ENotFound {
		return t, err
	}
	for _, b := range BuiltinTiers(accountID, time.Time{}) {
		if b.Name == name {
			return b, nil
		}
	}
	return nil, Errorf(ENotFound, "no rate-limit tier %q", name)
}

// KeyLimits are what limits a key's verifications: its rate limit (the tier's or its own
// override) and what to do when the shared state cannot be reached.
type KeyLimits struct {
	Tier     string
	Limit    RateLimit
	FailMode FailMode
}

// ResolveLimits returns k's limits. A key whose tier no longer exists is held to the
// standard tier: a limit is never dropped by accident.
func (r *Resolver) ResolveLimits(ctx context.Context, k *Key) (KeyLimits, error) {
	t, err := r.RateLimitTier(ctx, k.AccountID, k.RateLimitTier)
	if ErrorCode(err) == ENotFound {
		t, err = r.RateLimitTier(ctx, k.AccountID, TierStandard)
	}
	if err != nil {
		return KeyLimits{}, err
	}
	out := KeyLimits{Tier: t.Name, Limit: t.Limit, FailMode: t.FailMode}
	if k.RateLimitOverride != nil {
		out.Limit = *k.RateLimitOverride
	}
	return out, nil
}
