package keyward

import (
	"regexp"
	"slices"
	"strings"
)

// Permissions name what a principal may do, as dot-separated segments ("api_keys.create",
// "projects.<id>.read"). A "*" segment is a wildcard: as the last segment it matches one or
// more segments ("api_keys.*" matches "api_keys.own.create"); elsewhere it matches exactly one
// ("projects.*.read"). "*" alone matches everything but system permissions.
//
// System permissions ("system.…") act across tenants. No wildcard that does not itself start
// with "system" grants them, so an account owner's "*" stays inside the account.
//
// A role assigned on a project grants its permissions inside that project only: a project
// role holding "api_keys.create" grants "projects.<id>.api_keys.create", and one holding
// "projects.read" grants "projects.<id>.read" (see InProject). Checks ask for both forms
// (see Permissions.Allows), so an account-wide grant and a project grant each suffice.
// Permissions over the account as a whole (account.*, users.*, roles.*, audit.*) are not
// granted through a project role at all (see AccountOnly).

// The permissions Keyward's own routes check. Roles may hold others too: verification
// answers permission queries about whatever names a customer's API uses.
const (
	PermAccountRead  = "account.read"
	PermAccountWrite = "account.write"
	// PermAccountsCreate and PermAccountsRead let a principal create and see other tenants.
	// They are system permissions, held only by the root account's admin keys.
	PermAccountsCreate = "system.accounts.create"
	PermAccountsRead   = "system.accounts.read"

	PermProjectsRead   = "projects.read"
	PermProjectsCreate = "projects.create"
	PermProjectsWrite  = "projects.write" // environments and settings of a project

	PermKeysRead    = "api_keys.read"
	PermKeysCreate  = "api_keys.create"
	PermKeysUpdate  = "api_keys.update"
	PermKeysRotate  = "api_keys.rotate"
	PermKeysRevoke  = "api_keys.revoke"
	PermApproveHigh = "api_keys.approve_high_tier"
	// PermScopesGrant lets a principal who manages only their own keys give them scopes (see
	// grantScopes); api_keys.create and api_keys.update imply it.
	PermScopesGrant = "api_keys.scopes.grant"

	PermMembersRead  = "members.read"
	PermMembersWrite = "members.write"
	PermUsersRead    = "users.read"
	PermUsersWrite   = "users.write"
	PermRolesRead    = "roles.read"
	PermRolesWrite   = "roles.write"
	PermAuditRead    = "audit.read"
	// PermTiersRead and PermTiersWrite govern the account's rate-limit tiers and per-key
	// limit overrides.
	PermTiersRead  = "rate_limit_tiers.read"
	PermTiersWrite = "rate_limit_tiers.write"
)

// OwnKeys is the permission namespace for keys that act on the caller's own behalf (the
// key's user is the caller): "api_keys.own.create" allows what "api_keys.create" allows, but
// only for such keys.
func OwnKeys(perm string) string { return "api_keys.own." + strings.TrimPrefix(perm, "api_keys.") }

const systemPrefix = "system."

// MaxPermissions and MaxPermissionLen bound a role's permission list.
const (
	MaxPermissions   = 128
	MaxPermissionLen = 200
)

// PermissionPattern is the shape of one permission: segments of letters, digits, '_' and '-',
// or a lone '*', joined by dots.
var PermissionPattern = regexp.MustCompile(`^(\*|[A-Za-z0-9_\-]+)(\.(\*|[A-Za-z0-9_\-]+))*$`)

// Permissions is a set of granted permission patterns.
type Permissions []string

// InProject returns the grant perm means when it is held through a role on a project.
func InProject(projectID, perm string) string {
	if perm == "*" {
		return "projects." + projectID + ".*"
	}
	return "projects." + projectID + "." + strings.TrimPrefix(perm, "projects.")
}

// accountOnlyNamespaces are the permission namespaces that govern the account as a whole.
var accountOnlyNamespaces = []string{"account", "accounts", "users", "roles", "audit", "rate_limit_tiers", "system"}

// AccountOnly reports whether perm governs the account as a whole (its settings, users,
// roles, audit log), so that holding it through a project role grants nothing.
func AccountOnly(perm string) bool {
	ns, _, _ := strings.Cut(perm, ".")
	return slices.Contains(accountOnlyNamespaces, ns)
}

// Allows reports whether ps grants perm account-wide or, when projectID is not "", within
// that project.
func (ps Permissions) Allows(perm, projectID string) bool {
	if ps.Has(perm) {
		return true
	}
	return projectID != "" && ps.Has(InProject(projectID, perm))
}

// Has reports whether some pattern in ps matches the concrete permission perm.
func (ps Permissions) Has(perm string) bool {
	for _, p := range ps {
		if Covers(p, perm) {
			return true
		}
	}
	return false
}

// Covers reports whether the pattern granted allows everything the pattern wanted allows. For
// a concrete wanted permission that is plain matching; for wildcards it is inclusion, which is
// what the no-escalation rule needs ("api_keys.*" covers "api_keys.own.*"; "api_keys.read"
// does not cover "api_keys.*").
func Covers(granted, wanted string) bool {
	if strings.HasPrefix(wanted, systemPrefix) && !strings.HasPrefix(granted, systemPrefix) {
		return false
	}
	g, w := granted, wanted
	for {
		gs, grest, gmore := strings.Cut(g, ".")
		ws, wrest, wmore := strings.Cut(w, ".")
		switch {
		case gs == "*" && !gmore:
			return true // a trailing wildcard covers one or more segments, whatever they are
		case gs == "*":
			// a middle wildcard covers exactly one segment, whatever it is; a wanted trailing
			// wildcard (more segments) fails the length check below
		case gs != ws:
			return false
		}
		if gmore != wmore {
			return false
		}
		if !gmore {
			return true
		}
		g, w = grest, wrest
	}
}

// CoveredBy reports whether every permission in wanted is covered by some pattern in granted,
// and if not, the first one that is not.
func CoveredBy(wanted, granted Permissions) (missing string, ok bool) {
	for _, w := range wanted {
		if !slices.ContainsFunc(granted, func(g string) bool { return Covers(g, w) }) {
			return w, false
		}
	}
	return "", true
}

// Intersect returns patterns that grant only what both a and b grant: each pattern of one
// that the other covers. What the two grant only through partly overlapping wildcards is
// dropped, so the result may grant less than the true intersection but never more.
func Intersect(a, b Permissions) Permissions {
	var out Permissions
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range a {
		if b.coversPattern(p) {
			add(p)
		}
	}
	for _, p := range b {
		if a.coversPattern(p) {
			add(p)
		}
	}
	return out
}

func (ps Permissions) coversPattern(p string) bool {
	return slices.ContainsFunc(ps, func(g string) bool { return Covers(g, p) })
}

// normalizePermissions validates a role's permissions and drops duplicates.
func normalizePermissions(perms []string) ([]string, error) {
	if len(perms) > MaxPermissions {
		return nil, Errorf(EValidation, "a role may have at most %d permissions", MaxPermissions)
	}
	out := make([]string, 0, len(perms))
	for _, p := range perms {
		if len(p) > MaxPermissionLen || !PermissionPattern.MatchString(p) {
			return nil, Errorf(EValidation, "permission %q must be dot-separated segments of letters, digits, '_', '-' or a lone '*', at most %d characters", p, MaxPermissionLen)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
