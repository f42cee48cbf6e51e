package keyward

import (
	"net/netip"
	"time"
)

// User is a person in an account. Users sign in with an OIDC provider and are known by the
// issuer and subject of their tokens; a user may also be created ahead of sign-in.
type User struct {
	ID        string
	AccountID string
	// Issuer and Subject identify the user at their OIDC provider; both "" for a user who
	// has not been linked to one (they can own keys but cannot sign in).
	Issuer  string
	Subject string
	Email   string
	Name    string
	// RoleID is the user's account-level role.
	RoleID string
	// DisabledAt is when the user was deactivated: from then on they cannot sign in and
	// their keys do not verify.
	DisabledAt *time.Time
	CreatedAt  time.Time
}

// Role is a named set of permissions. A role held on the account grants its permissions
// account-wide; the same role held on a project grants them in that project only.
type Role struct {
	ID          string
	AccountID   string // "" for a built-in role, which every account has
	Name        string
	Slug        string
	Description string
	Permissions Permissions
	BuiltIn     bool
	CreatedAt   time.Time
}

// ProjectAccess is a key's membership of a project, with its role there.
type ProjectAccess struct {
	ProjectID string
	RoleID    string
}

// Membership makes a user or a key a member of a project with a role. Exactly one of UserID
// and KeyID is set.
type Membership struct {
	ID        string
	AccountID string
	ProjectID string
	UserID    string
	KeyID     string
	RoleID    string
	CreatedAt time.Time
}

// Principal kinds: the kinds of credential that authenticate a management request, and the
// two actors that act without one.
const (
	KindAdminKey = "admin_key"
	KindAPIKey   = "api_key"
	KindUser     = "user" // an OIDC access token
	// KindOperator is an operator's command on the store itself (keyward admin …).
	KindOperator = "operator"
	// KindSystem is Keyward acting on its own (a scheduled rotation).
	KindSystem = "system"
)

// OperatorID is the actor id of an operator's commands on the store.
const OperatorID = "keyward-admin"

// Principal is who is making a management request, as established by authentication, and
// what they may do.
type Principal struct {
	AccountID string
	// Kind says what kind of credential authenticated the caller (KindAdminKey, KindAPIKey,
	// KindUser).
	Kind string
	// ID is the credential's id (the admin key's, the API key's, or the user's): recorded as
	// created_by on what the caller makes, and as the actor in the audit log.
	ID string
	// UserID is the user the caller acts for: the signed-in user, or an API key's user.
	UserID string
	// KeyID is the API key that authenticated the caller, when Kind is KindAPIKey.
	KeyID string
	// Permissions is everything the caller may do, account-wide and per project.
	Permissions Permissions
}

// Can reports whether p may do perm, account-wide or within projectID when it is not "".
func (p Principal) Can(perm, projectID string) bool { return p.Permissions.Allows(perm, projectID) }

// Built-in role slugs.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleViewer = "viewer"
)

var viewerPermissions = Permissions{PermAccountRead, PermProjectsRead, PermKeysRead, PermMembersRead, PermUsersRead, PermRolesRead, PermTiersRead}

// BuiltInRoles are the roles every account has. Their ids are fixed, so that a key or user
// holding one survives a restart, and never collide with a generated UUIDv7 (version 0).
var BuiltInRoles = []*Role{
	{ID: "00000000-0000-0000-0000-000000000001", Slug: RoleOwner, Name: "Owner",
		Description: "Everything, including the account's own settings.",
		Permissions: Permissions{"*"}},
	{ID: "00000000-0000-0000-0000-000000000002", Slug: RoleAdmin, Name: "Admin",
		Description: "Manages projects, keys, users, roles, members and rate-limit tiers; reads the audit log.",
		Permissions: Permissions{PermAccountRead, "projects.*", "api_keys.*", "members.*", "users.*", "roles.*", "rate_limit_tiers.*", PermAuditRead}},
	{ID: "00000000-0000-0000-0000-000000000003", Slug: RoleMember, Name: "Member",
		Description: "Reads everything a viewer does and manages keys that act on their own behalf.",
		Permissions: append(viewerPermissions[:len(viewerPermissions):len(viewerPermissions)], "api_keys.own.*")},
	{ID: "00000000-0000-0000-0000-000000000004", Slug: RoleViewer, Name: "Viewer",
		Description: "Reads the account, its projects, keys, members, users, roles and rate-limit tiers.",
		Permissions: viewerPermissions},
}

func init() {
	for _, r := range BuiltInRoles {
		r.BuiltIn = true
	}
}

// BuiltInRole returns the built-in role with the id or slug, or nil.
func BuiltInRole(idOrSlug string) *Role {
	for _, r := range BuiltInRoles {
		if r.ID == idOrSlug || r.Slug == idOrSlug {
			return r
		}
	}
	return nil
}

// ProjectGrant is a project a key or user may act in, and the role they hold there.
type ProjectGrant struct {
	Project *Project
	Role    *Role
}

// Identity is everything a key stands for, resolved: who it acts for and what it may do.
// Verification returns it, and authentication turns it into a Principal.
type Identity struct {
	User *User // nil when the key acts for no user
	Role *Role // nil when the key has no account-level role
	// Projects are the key's project memberships (and, for a user's key, the user's).
	Projects []ProjectGrant
	// Permissions are the key's effective permissions: its role's and its project roles',
	// narrowed to its user's when it has one.
	Permissions Permissions
	// AllowedIPs are the networks the key may be used from: its own, else its account's;
	// empty allows any.
	AllowedIPs []netip.Prefix
}

// AuditEvent records one management mutation: who did what to which object, from where,
// and whether it succeeded.
type AuditEvent struct {
	ID        string
	AccountID string
	At        time.Time
	ActorKind string // a Principal kind
	ActorID   string
	// Action names the operation, one of Actions ("create-api-key", "update-role"), whichever
	// route or command asked for it.
	Action     string
	TargetType string
	TargetID   string
	RemoteAddr string
	// Outcome is "success" or "failure"; ErrorCode says why a failure failed.
	Outcome   string
	ErrorCode string
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)
