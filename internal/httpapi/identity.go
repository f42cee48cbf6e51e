package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// AccountJSON is an account (tenant) on the wire.
type AccountJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	KeyPrefix string    `json:"key_prefix" doc:"Starts the account's keys that belong to no project."`
	CreatedAt time.Time `json:"created_at"`
}

func accountJSON(a *keyward.Account) AccountJSON {
	return AccountJSON{ID: a.ID, Name: a.Name, KeyPrefix: a.KeyPrefix, CreatedAt: a.CreatedAt}
}

// UserJSON is a user on the wire.
type UserJSON struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"account_id"`
	Email      *string    `json:"email"`
	Name       *string    `json:"name"`
	Issuer     *string    `json:"issuer" doc:"The OIDC issuer the user signs in with."`
	Subject    *string    `json:"subject" doc:"The user's sub at that issuer."`
	RoleID     *string    `json:"role_id"`
	Active     bool       `json:"active" doc:"false once disabled: the user cannot sign in and their keys do not verify."`
	DisabledAt *time.Time `json:"disabled_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func userJSON(u *keyward.User) UserJSON {
	return UserJSON{ID: u.ID, AccountID: u.AccountID, Email: optional(u.Email), Name: optional(u.Name),
		Issuer: optional(u.Issuer), Subject: optional(u.Subject), RoleID: optional(u.RoleID),
		Active: u.DisabledAt == nil, DisabledAt: u.DisabledAt, CreatedAt: u.CreatedAt}
}

// RoleJSON is a role on the wire.
type RoleJSON struct {
	ID          string     `json:"id"`
	AccountID   *string    `json:"account_id" doc:"null for a built-in role."`
	Name        string     `json:"name"`
	Slug        string     `json:"slug"`
	Description string     `json:"description"`
	Permissions []string   `json:"permissions"`
	BuiltIn     bool       `json:"built_in"`
	CreatedAt   *time.Time `json:"created_at"`
}

func roleJSON(r *keyward.Role) RoleJSON {
	out := RoleJSON{ID: r.ID, AccountID: optional(r.AccountID), Name: r.Name, Slug: r.Slug, Description: r.Description,
		Permissions: r.Permissions, BuiltIn: r.BuiltIn}
	if out.Permissions == nil {
		out.Permissions = []string{}
	}
	if !r.CreatedAt.IsZero() {
		out.CreatedAt = &r.CreatedAt
	}
	return out
}

// MemberJSON is a project membership on the wire.
type MemberJSON struct {
	ID        string    `json:"id"`
	ProjectID string    `json:"project_id"`
	UserID    *string   `json:"user_id"`
	APIKeyID  *string   `json:"api_key_id"`
	RoleID    string    `json:"role_id"`
	CreatedAt time.Time `json:"created_at"`
}

func memberJSON(m *keyward.Membership) MemberJSON {
	return MemberJSON{ID: m.ID, ProjectID: m.ProjectID, UserID: optional(m.UserID), APIKeyID: optional(m.KeyID), RoleID: m.RoleID, CreatedAt: m.CreatedAt}
}

// Path parameters of the identity routes.
type (
	// AccountIDParam is the account id in a path.
	AccountIDParam struct {
		AccountID string `path:"accountID" doc:"Account id."`
	}
	// UserIDParam is the user id in a path.
	UserIDParam struct {
		UserID string `path:"userID" doc:"User id."`
	}
	// RoleIDParam is the role id in a path.
	RoleIDParam struct {
		RoleID string `path:"roleID" doc:"Role id."`
	}
	// MemberIDParam is the membership id in a path.
	MemberIDParam struct {
		MemberID string `path:"memberID" doc:"Membership id."`
	}
)

type (
	accountOutput      struct{ Body AccountJSON }
	listAccountsOutput struct {
		PageHeaders
		Body []AccountJSON
	}
	createAccountInput struct {
		Body struct {
			Name      string `json:"name" minLength:"1" maxLength:"128"`
			KeyPrefix string `json:"key_prefix,omitempty" maxLength:"20" doc:"Prefix of the account's keys that belong to no project. Default kw."`
		}
	}
	createdAccountOutput struct {
		Location string `header:"Location"`
		Body     struct {
			AccountJSON
			AdminKey CreatedAdminKeyJSON `json:"admin_key"`
		}
	}
	updateAccountInput struct {
		AccountIDParam
		Body struct {
			Name      *string `json:"name,omitempty" minLength:"1" maxLength:"128"`
			KeyPrefix *string `json:"key_prefix,omitempty" maxLength:"20"`
		}
	}
)

// listInput is the query of a list that has only paging.
type listInput struct {
	PageParams
}

// mapSlice converts each of items for the wire.
func mapSlice[T, J any](items []T, convert func(T) J) []J {
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = convert(it)
	}
	return out
}

// CreatedAdminKeyJSON is a new admin key: its secret is shown only here.
type CreatedAdminKeyJSON struct {
	ID        string `json:"id"`
	KeyPrefix string `json:"key_prefix"`
	Key       string `json:"key" doc:"The admin key's secret. Shown only in this response."`
}

type (
	userOutput struct {
		Location string `header:"Location"`
		Body     UserJSON
	}
	listUsersOutput struct {
		PageHeaders
		Body []UserJSON
	}
	createUserInput struct {
		Body struct {
			Email   string `json:"email,omitempty" maxLength:"254"`
			Name    string `json:"name,omitempty" maxLength:"128"`
			RoleID  string `json:"role_id,omitempty" doc:"A role id or built-in slug. Default member."`
			Issuer  string `json:"issuer,omitempty" maxLength:"2048" doc:"With subject: the OIDC identity the user will sign in with."`
			Subject string `json:"subject,omitempty" maxLength:"255"`
		}
	}
	updateUserInput struct {
		UserIDParam
		Body struct {
			Email  *string `json:"email,omitempty" maxLength:"254"`
			Name   *string `json:"name,omitempty" maxLength:"128"`
			RoleID *string `json:"role_id,omitempty"`
			Active *bool   `json:"active,omitempty" doc:"false disables the user: no sign-in, and their keys stop verifying. true enables them again."`
		}
	}
)

type (
	roleOutput struct {
		Location string `header:"Location"`
		Body     RoleJSON
	}
	listRolesOutput struct {
		PageHeaders
		Body []RoleJSON
	}
	createRoleInput struct {
		Body struct {
			Name        string   `json:"name" minLength:"1" maxLength:"128"`
			Slug        string   `json:"slug" minLength:"1" maxLength:"64" pattern:"^[a-z][a-z0-9-]*$"`
			Description string   `json:"description,omitempty" maxLength:"1000"`
			Permissions []string `json:"permissions" maxItems:"128" doc:"Dot-separated names, '*' as a wildcard segment: account.read, api_keys.*, projects.<id>.read."`
		}
	}
	updateRoleInput struct {
		RoleIDParam
		Body struct {
			Name        *string   `json:"name,omitempty" minLength:"1" maxLength:"128"`
			Description *string   `json:"description,omitempty" maxLength:"1000"`
			Permissions *[]string `json:"permissions,omitempty" maxItems:"128"`
		}
	}
)

type (
	memberOutput struct {
		Location string `header:"Location"`
		Body     MemberJSON
	}
	listMembersOutput struct {
		PageHeaders
		Body []MemberJSON
	}
	addMemberInput struct {
		ProjectIDParam
		Body struct {
			UserID   string `json:"user_id,omitempty" doc:"A user to add; or give api_key_id."`
			APIKeyID string `json:"api_key_id,omitempty" doc:"A key to add; or give user_id."`
			RoleID   string `json:"role_id" doc:"The project role, by id or built-in slug."`
		}
	}
	memberPathInput struct {
		ProjectIDParam
		MemberIDParam
	}
	updateMemberInput struct {
		ProjectIDParam
		MemberIDParam
		Body struct {
			RoleID string `json:"role_id"`
		}
	}
	listMembersInput struct {
		ProjectIDParam
		PageParams
	}
)

func (s *Server) registerAccounts() {
	tags := []string{"Accounts"}
	register(s, s.managed(huma.Operation{
		OperationID: "list-accounts", Method: http.MethodGet, Path: "/v1/accounts", Summary: "List accounts", Tags: tags,
		Description: "Your own account; every account for the root account's admin keys.",
	}), func(ctx context.Context, in *listInput) (*listAccountsOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		items, next, err := s.svc.ListAccounts(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		out := &listAccountsOutput{Body: mapSlice(items, accountJSON)}
		out.PageHeaders = nextPage("/v1/accounts", nil, in.Limit, next)
		return out, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "create-account", Method: http.MethodPost, Path: "/v1/accounts", DefaultStatus: http.StatusCreated,
		Summary: "Create an account (tenant)", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "Only the root account's admin keys may. Returns the new account's first admin key, shown only here.",
	}), func(ctx context.Context, in *createAccountInput) (*createdAccountOutput, error) {
		a, k, secret, err := s.svc.CreateAccount(ctx, principal(ctx), keyward.CreateAccountInput{Name: in.Body.Name, KeyPrefix: in.Body.KeyPrefix})
		if err != nil {
			return nil, err
		}
		out := &createdAccountOutput{Location: "/v1/accounts/" + a.ID}
		out.Body.AccountJSON = accountJSON(a)
		out.Body.AdminKey = CreatedAdminKeyJSON{ID: k.ID, KeyPrefix: k.Prefix, Key: secret}
		return out, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "get-account", Method: http.MethodGet, Path: "/v1/accounts/{accountID}", Summary: "Get an account", Tags: tags,
	}), func(ctx context.Context, in *AccountIDParam) (*accountOutput, error) {
		a, err := s.svc.Account(ctx, principal(ctx), in.AccountID)
		if err != nil {
			return nil, err
		}
		return &accountOutput{Body: accountJSON(a)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "update-account", Method: http.MethodPatch, Path: "/v1/accounts/{accountID}", Summary: "Rename an account or change its key prefix", Tags: tags,
		Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *updateAccountInput) (*accountOutput, error) {
		a, err := s.svc.UpdateAccount(ctx, principal(ctx), in.AccountID, keyward.UpdateAccountInput{Name: in.Body.Name, KeyPrefix: in.Body.KeyPrefix})
		if err != nil {
			return nil, err
		}
		return &accountOutput{Body: accountJSON(a)}, nil
	})
}

func (s *Server) registerUsers() {
	tags := []string{"Users"}
	register(s, s.managed(huma.Operation{
		OperationID: "list-users", Method: http.MethodGet, Path: "/v1/users", Summary: "List users", Tags: tags,
	}), func(ctx context.Context, in *listInput) (*listUsersOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		items, next, err := s.svc.ListUsers(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		out := &listUsersOutput{Body: mapSlice(items, userJSON)}
		out.PageHeaders = nextPage("/v1/users", nil, in.Limit, next)
		return out, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "create-user", Method: http.MethodPost, Path: "/v1/users", DefaultStatus: http.StatusCreated,
		Summary: "Create a user", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "Users are also created on their first OIDC sign-in; create one ahead to choose their role, or to mint keys on their behalf.",
	}), func(ctx context.Context, in *createUserInput) (*userOutput, error) {
		b := in.Body
		u, err := s.svc.CreateUser(ctx, principal(ctx), keyward.CreateUserInput{Email: b.Email, Name: b.Name, RoleID: b.RoleID, Issuer: b.Issuer, Subject: b.Subject})
		if err != nil {
			return nil, err
		}
		return &userOutput{Location: "/v1/users/" + u.ID, Body: userJSON(u)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "get-user", Method: http.MethodGet, Path: "/v1/users/{userID}", Summary: "Get a user", Tags: tags,
	}), func(ctx context.Context, in *UserIDParam) (*userOutput, error) {
		u, err := s.svc.User(ctx, principal(ctx), in.UserID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: userJSON(u)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "update-user", Method: http.MethodPatch, Path: "/v1/users/{userID}", Summary: "Update, disable or enable a user", Tags: tags,
		Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *updateUserInput) (*userOutput, error) {
		b := in.Body
		upd := keyward.UpdateUserInput{Email: b.Email, Name: b.Name, RoleID: b.RoleID}
		if b.Active != nil {
			disabled := !*b.Active
			upd.Disabled = &disabled
		}
		u, err := s.svc.UpdateUser(ctx, principal(ctx), in.UserID, upd)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: userJSON(u)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "disable-user", Method: http.MethodDelete, Path: "/v1/users/{userID}", Summary: "Disable a user", Tags: tags,
		Description: "Users are never erased, because the audit log and their keys refer to them. This disables the user, as PATCH {\"active\": false} does, and returns them.",
		Errors:      []int{http.StatusConflict},
	}), func(ctx context.Context, in *UserIDParam) (*userOutput, error) {
		u, err := s.svc.DisableUser(ctx, principal(ctx), in.UserID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: userJSON(u)}, nil
	})
}

func (s *Server) registerRoles() {
	tags := []string{"Roles"}
	register(s, s.managed(huma.Operation{
		OperationID: "list-roles", Method: http.MethodGet, Path: "/v1/roles", Summary: "List roles", Tags: tags,
		Description: "The built-in roles (owner, admin, member, viewer) first, then the account's own.",
	}), func(ctx context.Context, in *listInput) (*listRolesOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		items, next, err := s.svc.ListRoles(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		out := &listRolesOutput{Body: mapSlice(items, roleJSON)}
		out.PageHeaders = nextPage("/v1/roles", nil, in.Limit, next)
		return out, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "create-role", Method: http.MethodPost, Path: "/v1/roles", DefaultStatus: http.StatusCreated,
		Summary: "Create a custom role", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "A role may not grant a permission you do not hold.",
	}), func(ctx context.Context, in *createRoleInput) (*roleOutput, error) {
		b := in.Body
		r, err := s.svc.CreateRole(ctx, principal(ctx), keyward.RoleInput{Name: b.Name, Slug: b.Slug, Description: b.Description, Permissions: b.Permissions})
		if err != nil {
			return nil, err
		}
		return &roleOutput{Location: "/v1/roles/" + r.ID, Body: roleJSON(r)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "get-role", Method: http.MethodGet, Path: "/v1/roles/{roleID}", Summary: "Get a role", Tags: tags,
	}), func(ctx context.Context, in *RoleIDParam) (*roleOutput, error) {
		r, err := s.svc.Role(ctx, principal(ctx), in.RoleID)
		if err != nil {
			return nil, err
		}
		return &roleOutput{Body: roleJSON(r)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "update-role", Method: http.MethodPatch, Path: "/v1/roles/{roleID}", Summary: "Update a custom role", Tags: tags,
		Description: "Every user, key and member holding the role changes with it, at once.", Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *updateRoleInput) (*roleOutput, error) {
		b := in.Body
		r, err := s.svc.UpdateRole(ctx, principal(ctx), in.RoleID, keyward.UpdateRoleInput{Name: b.Name, Description: b.Description, Permissions: b.Permissions})
		if err != nil {
			return nil, err
		}
		return &roleOutput{Body: roleJSON(r)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "delete-role", Method: http.MethodDelete, Path: "/v1/roles/{roleID}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a custom role", Tags: tags, Description: "Refused (409) while a user, key or member holds it.", Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *RoleIDParam) (*struct{}, error) {
		return nil, s.svc.DeleteRole(ctx, principal(ctx), in.RoleID)
	})
}

func (s *Server) registerMembers() {
	tags := []string{"Projects"}
	register(s, s.managed(huma.Operation{
		OperationID: "list-members", Method: http.MethodGet, Path: "/v1/projects/{projectID}/members", Summary: "List a project's members", Tags: tags,
	}), func(ctx context.Context, in *listMembersInput) (*listMembersOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		items, next, err := s.svc.Members(ctx, principal(ctx), in.ProjectID, pg)
		if err != nil {
			return nil, err
		}
		out := &listMembersOutput{Body: mapSlice(items, memberJSON)}
		out.PageHeaders = nextPage("/v1/projects/"+url.PathEscape(in.ProjectID)+"/members", nil, in.Limit, next)
		return out, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "add-member", Method: http.MethodPost, Path: "/v1/projects/{projectID}/members", DefaultStatus: http.StatusCreated,
		Summary: "Add a user or key to a project with a role", Tags: tags, Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *addMemberInput) (*memberOutput, error) {
		m, err := s.svc.AddMember(ctx, principal(ctx), in.ProjectID, keyward.AddMemberInput{UserID: in.Body.UserID, KeyID: in.Body.APIKeyID, RoleID: in.Body.RoleID})
		if err != nil {
			return nil, err
		}
		return &memberOutput{Location: "/v1/projects/" + m.ProjectID + "/members/" + m.ID, Body: memberJSON(m)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "get-member", Method: http.MethodGet, Path: "/v1/projects/{projectID}/members/{memberID}", Summary: "Get a project membership", Tags: tags,
	}), func(ctx context.Context, in *memberPathInput) (*memberOutput, error) {
		m, err := s.svc.Member(ctx, principal(ctx), in.ProjectID, in.MemberID)
		if err != nil {
			return nil, err
		}
		return &memberOutput{Body: memberJSON(m)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "update-member", Method: http.MethodPatch, Path: "/v1/projects/{projectID}/members/{memberID}", Summary: "Change a member's project role", Tags: tags,
	}), func(ctx context.Context, in *updateMemberInput) (*memberOutput, error) {
		m, err := s.svc.UpdateMember(ctx, principal(ctx), in.ProjectID, in.MemberID, in.Body.RoleID)
		if err != nil {
			return nil, err
		}
		return &memberOutput{Body: memberJSON(m)}, nil
	})
	register(s, s.managed(huma.Operation{
		OperationID: "remove-member", Method: http.MethodDelete, Path: "/v1/projects/{projectID}/members/{memberID}", DefaultStatus: http.StatusNoContent,
		Summary: "Remove a member from a project", Tags: tags,
	}), func(ctx context.Context, in *memberPathInput) (*struct{}, error) {
		return nil, s.svc.RemoveMember(ctx, principal(ctx), in.ProjectID, in.MemberID)
	})
}

// WhoamiJSON says who a credential is: the answer of /v1/whoami and /api/v1/users/me.
type WhoamiJSON struct {
	Kind        string           `json:"kind" enum:"admin_key,api_key,user" doc:"What authenticated the request."`
	KeyID       *string          `json:"key_id" doc:"The API key, when one authenticated the request."`
	Account     AccountJSON      `json:"account" doc:"The tenant."`
	User        *UserJSON        `json:"user"`
	Role        *RoleRefJSON     `json:"role"`
	Permissions []string         `json:"permissions" doc:"Everything the caller may do, account-wide and as projects.<id>.… grants."`
	Scopes      []string         `json:"scopes" doc:"The API key's scopes; empty for other credentials."`
	Projects    []ProjectRefJSON `json:"projects"`
}

// RoleRefJSON names a role.
type RoleRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// ProjectRefJSON is a project a caller may act in and the role they hold there (seed 003's
// project_accesses entry).
type ProjectRefJSON struct {
	ProjectID   string `json:"project_id"`
	ProjectName string `json:"project_name"`
	RoleID      string `json:"role_id"`
	RoleName    string `json:"role_name"`
	RoleSlug    string `json:"role_slug"`
}

func roleRef(r *keyward.Role) *RoleRefJSON {
	if r == nil {
		return nil
	}
	return &RoleRefJSON{ID: r.ID, Name: r.Name, Slug: r.Slug}
}

func projectRefs(gs []keyward.ProjectGrant) []ProjectRefJSON {
	out := make([]ProjectRefJSON, len(gs))
	for i, g := range gs {
		out[i] = ProjectRefJSON{ProjectID: g.Project.ID, ProjectName: g.Project.Name, RoleID: g.Role.ID, RoleName: g.Role.Name, RoleSlug: g.Role.Slug}
	}
	return out
}

func whoamiJSON(w *keyward.Whoami) WhoamiJSON {
	out := WhoamiJSON{Kind: w.Principal.Kind, Account: accountJSON(w.Account), Role: roleRef(w.Role),
		Permissions: w.Principal.Permissions, Scopes: []string{}, Projects: projectRefs(w.Projects)}
	if out.Permissions == nil {
		out.Permissions = []string{}
	}
	if w.User != nil {
		u := userJSON(w.User)
		out.User = &u
	}
	if w.Key != nil {
		out.KeyID = &w.Key.ID
		if w.Key.Scopes != nil {
			out.Scopes = w.Key.Scopes
		}
	}
	return out
}

type whoamiOutput struct{ Body WhoamiJSON }

func (s *Server) registerWhoami() {
	handler := func(ctx context.Context, _ *struct{}) (*whoamiOutput, error) {
		w, err := s.svc.Whoami(ctx, principal(ctx))
		if err != nil {
			return nil, err
		}
		return &whoamiOutput{Body: whoamiJSON(w)}, nil
	}
	const desc = "Resolves the credential (an API key as Bearer or X-API-Key, an OIDC access token, or an admin key) to its user, account (tenant), role, permissions, scopes and projects. Every credential may ask about itself."
	register(s, s.managed(huma.Operation{
		OperationID: "whoami", Method: http.MethodGet, Path: "/v1/whoami", Summary: "Who is this credential", Description: desc, Tags: []string{"Identity"},
	}), handler)
	register(s, s.managed(huma.Operation{
		OperationID: "users-me", Method: http.MethodGet, Path: "/api/v1/users/me", Summary: "Who is this credential (seed 002's path)", Description: desc, Tags: []string{"Identity"},
	}), handler)
}
