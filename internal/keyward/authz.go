package keyward

import (
	"context"
	"slices"
	"strings"
)

// authorize is the one check every management operation makes: p may do perm account-wide,
// or within projectID when it is not "". The error names the missing permission, so that a
// caller knows what to ask for; objects of other accounts never reach here (the store
// answers ENotFound first).
func authorize(p Principal, perm, projectID string) error {
	if p.Can(perm, projectID) {
		return nil
	}
	return forbidden(perm)
}

func forbidden(perm string) error {
	return Errorf(EForbidden, "this needs the %s permission", perm)
}

// authorizeKey checks p may do perm ("api_keys.read", …) on k: with the permission itself, or
// with its "api_keys.own." form when k acts for p's own user.
func authorizeKey(p Principal, perm string, k *Key) error {
	if p.Can(perm, k.ProjectID) {
		return nil
	}
	if k.UserID != "" && k.UserID == p.UserID && p.Can(OwnKeys(perm), k.ProjectID) {
		return nil
	}
	return forbidden(perm)
}

// noEscalation refuses to let p hand out permissions it does not hold itself, through a key,
// a role, a user's role or a membership.
func noEscalation(p Principal, granted Permissions) error {
	if missing, ok := CoveredBy(granted, p.Permissions); !ok {
		return Errorf(EForbidden, "this would grant %s, which you do not hold", missing)
	}
	return nil
}

// rootPermissions are an admin key's permissions: everything in its account, and, in the
// root account, the system permissions that reach other tenants.
func rootPermissions(a *Account) Permissions {
	if a.Name == DefaultAccountName {
		return Permissions{"*", "system.*"}
	}
	return Permissions{"*"}
}

// Role returns one of p's account's roles, built-in or custom, by id or slug. Errors:
// ENotFound, EForbidden.
func (s *Service) Role(ctx context.Context, p Principal, idOrSlug string) (*Role, error) {
	if err := authorize(p, PermRolesRead, ""); err != nil {
		return nil, err
	}
	return s.role(ctx, p.AccountID, idOrSlug)
}

// role finds a role of the account by id or slug, without an authorization check.
func (s *Service) role(ctx context.Context, accountID, idOrSlug string) (*Role, error) {
	if r := BuiltInRole(idOrSlug); r != nil {
		return r, nil
	}
	if ValidID(idOrSlug) {
		return s.store.Role(ctx, accountID, idOrSlug)
	}
	if !slugPattern.MatchString(idOrSlug) {
		return nil, Errorf(EInvalid, "role %q is neither a role id nor a slug", idOrSlug)
	}
	after := ""
	for {
		roles, err := s.store.ListRoles(ctx, accountID, after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if r.Slug == idOrSlug {
				return r, nil
			}
		}
		if len(roles) < MaxPageSize {
			return nil, Errorf(ENotFound, "role %q not found", idOrSlug)
		}
		after = roles[len(roles)-1].ID
	}
}

// inProject maps a role's permissions to what they grant on a project. Permissions over the
// account itself (see AccountOnly) mean nothing inside one project and are dropped.
func inProject(projectID string, perms Permissions) Permissions {
	out := make(Permissions, 0, len(perms))
	for _, p := range perms {
		if !AccountOnly(p) {
			out = append(out, InProject(projectID, p))
		}
	}
	return out
}

// grants resolves memberships to projects and roles, and the permissions they give.
func (s *Service) grants(ctx context.Context, accountID string, accesses []ProjectAccess) ([]ProjectGrant, Permissions, error) {
	var (
		out   []ProjectGrant
		perms Permissions
	)
	for _, a := range accesses {
		proj, err := s.store.Project(ctx, accountID, a.ProjectID)
		if err != nil {
			return nil, nil, err
		}
		role, err := s.role(ctx, accountID, a.RoleID)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ProjectGrant{Project: proj, Role: role})
		perms = append(perms, inProject(proj.ID, role.Permissions)...)
	}
	return out, perms, nil
}

// userGrants returns a user's role, project grants and permissions.
func (s *Service) userGrants(ctx context.Context, u *User) (*Role, []ProjectGrant, Permissions, error) {
	var (
		role  *Role
		perms Permissions
	)
	if u.RoleID != "" {
		r, err := s.role(ctx, u.AccountID, u.RoleID)
		if err != nil {
			return nil, nil, nil, err
		}
		role, perms = r, slices.Clone(r.Permissions)
	}
	ms, err := s.store.ListMemberships(ctx, MembershipFilter{AccountID: u.AccountID, UserID: u.ID})
	if err != nil {
		return nil, nil, nil, err
	}
	accesses := make([]ProjectAccess, len(ms))
	for i, m := range ms {
		accesses[i] = ProjectAccess{ProjectID: m.ProjectID, RoleID: m.RoleID}
	}
	projects, pperms, err := s.grants(ctx, u.AccountID, accesses)
	if err != nil {
		return nil, nil, nil, err
	}
	return role, projects, append(perms, pperms...), nil
}

// ResolveIdentity resolves what k stands for: its account, user, role, projects and
// effective permissions. A key of a user holds at most what the user holds now; a key with
// a user but neither role nor project access holds exactly what the user holds. It does not
// check the key's own state (revoked, expired) or whether its user is disabled: verification
// does that with the result. It reads only what the key's role, accesses and user need (a
// key with none of them costs no read at all), because every verification cache miss runs it.
func (s *Service) ResolveIdentity(ctx context.Context, k *Key) (*Identity, error) {
	id := &Identity{}
	var perms Permissions
	if k.RoleID != "" {
		role, err := s.role(ctx, k.AccountID, k.RoleID)
		if err != nil {
			return nil, err
		}
		id.Role = role
		perms = slices.Clone(role.Permissions)
	}
	projects, pperms, err := s.grants(ctx, k.AccountID, k.ProjectAccesses)
	if err != nil {
		return nil, err
	}
	id.Projects = projects
	perms = append(perms, pperms...)
	if k.UserID == "" {
		id.Permissions = perms
		return id, nil
	}
	user, err := s.store.User(ctx, k.AccountID, k.UserID)
	if err != nil {
		return nil, err
	}
	id.User = user
	userRole, userProjects, userPerms, err := s.userGrants(ctx, user)
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

// KeyPrincipal returns the principal of a key that verified, from its resolved identity.
func KeyPrincipal(k *Key, id *Identity) Principal {
	p := Principal{AccountID: k.AccountID, Kind: KindAPIKey, ID: k.ID, KeyID: k.ID, Permissions: id.Permissions}
	if id.User != nil {
		p.UserID = id.User.ID
	}
	return p
}

// UserDisabled reports whether the identity's user is deactivated, which stops the key.
func (id *Identity) UserDisabled() bool { return id.User != nil && id.User.DisabledAt != nil }

// RoleSlug returns the slug of the identity's role, or "".
func (id *Identity) RoleSlug() string {
	if id.Role == nil {
		return ""
	}
	return id.Role.Slug
}

// Whoami describes a principal for /v1/whoami: its account, user, role, permissions and
// projects.
type Whoami struct {
	Principal Principal
	Account   *Account
	User      *User
	Role      *Role
	Projects  []ProjectGrant
	Key       *Key // the API key, when one authenticated the caller
}

// Whoami resolves p for display. Every principal may ask about itself.
func (s *Service) Whoami(ctx context.Context, p Principal) (*Whoami, error) {
	acct, err := s.store.Account(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	w := &Whoami{Principal: p, Account: acct}
	switch p.Kind {
	case KindAPIKey:
		k, err := s.store.Key(ctx, p.AccountID, p.KeyID)
		if err != nil {
			return nil, err
		}
		id, err := s.ResolveIdentity(ctx, k)
		if err != nil {
			return nil, err
		}
		w.Key, w.User, w.Role, w.Projects = k, id.User, id.Role, id.Projects
	case KindUser:
		u, err := s.store.User(ctx, p.AccountID, p.UserID)
		if err != nil {
			return nil, err
		}
		role, projects, _, err := s.userGrants(ctx, u)
		if err != nil {
			return nil, err
		}
		w.User, w.Role, w.Projects = u, role, projects
	case KindAdminKey:
		w.Role = BuiltInRole(RoleOwner)
	}
	return w, nil
}

// normalizeSlug checks a role slug: lower-case letters, digits and '-', starting with a letter.
func normalizeSlug(slug string) (string, error) {
	slug = strings.TrimSpace(slug)
	if !slugPattern.MatchString(slug) {
		return "", Errorf(EValidation, "slug must be 1 to 64 lower-case letters, digits and '-', starting with a letter")
	}
	return slug, nil
}
