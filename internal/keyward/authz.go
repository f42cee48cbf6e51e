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

// noEscalation refuses to let p hand out permissions it does not hold itself, through a
// role, a user's role or a membership (keys go through guardKey, which resolves them).
func noEscalation(p Principal, granted Permissions) error {
	if missing, ok := CoveredBy(granted, p.Permissions); !ok {
		return Errorf(EForbidden, "this would grant %s, which you do not hold", missing)
	}
	return nil
}

// guardKey is the no-escalation rule for keys, the one implementation that creating,
// changing, rotating, revoking and project membership share: p may touch k only if p holds
// everything k holds (its effective permissions, as resolved now). Without it, whoever may
// change keys could disable, or take over through rotation, a key more powerful than
// themselves.
func (s *Service) guardKey(ctx context.Context, p Principal, k *Key) error {
	id, err := s.res.ResolveIdentity(ctx, k)
	if err != nil {
		return err
	}
	if missing, ok := CoveredBy(id.Permissions, p.Permissions); !ok {
		return Errorf(EForbidden, "key %s holds %s, which you do not, so you cannot give or change it", k.ID, missing)
	}
	return nil
}

// grantScopes checks that p may give a key in projectID the scopes it will have, of which
// had are those it has already. Scopes are the protected API's own vocabulary, which
// Keyward cannot derive from roles, so adding one to a key is a grant that only a key
// administrator makes: whoever may do perm (api_keys.create or api_keys.update) to any key,
// not only to their own, or who holds PermScopesGrant. A member who may manage only keys
// that act for themselves (api_keys.own.…) gives none: their keys hold what they hold,
// through their permissions. Keeping or removing scopes needs nothing more than changing
// the key.
func grantScopes(p Principal, perm, projectID string, scopes, had []string) error {
	if p.Can(perm, projectID) || p.Can(PermScopesGrant, projectID) {
		return nil
	}
	for _, sc := range scopes {
		if !slices.Contains(had, sc) {
			return Errorf(EForbidden, "giving a key the scope %q needs the %s (or %s) permission: keys you make for yourself act with your permissions, not scopes", sc, perm, PermScopesGrant)
		}
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

// OperatorPrincipal is the principal of an operator's command on the store itself (keyward
// admin …): everything in the account, recorded in the audit log as the operator's.
func OperatorPrincipal(a *Account) Principal {
	return Principal{AccountID: a.ID, Kind: KindOperator, ID: OperatorID, Permissions: rootPermissions(a)}
}

// Role returns one of p's account's roles, built-in or custom, by id or slug. Errors:
// ENotFound, EForbidden.
func (s *Service) Role(ctx context.Context, p Principal, idOrSlug string) (*Role, error) {
	if err := authorize(p, PermRolesRead, ""); err != nil {
		return nil, err
	}
	return s.res.Role(ctx, p.AccountID, idOrSlug)
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
		id, err := s.res.ResolveIdentity(ctx, k)
		if err != nil {
			return nil, err
		}
		w.Key, w.User, w.Role, w.Projects = k, id.User, id.Role, id.Projects
	case KindUser:
		u, err := s.store.User(ctx, p.AccountID, p.UserID)
		if err != nil {
			return nil, err
		}
		role, projects, _, err := s.res.UserGrants(ctx, u)
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
