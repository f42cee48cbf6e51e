package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"time"
)

// Built-in role slugs. Every account has these roles; wherever a role ID is asked for, the
// slug of a built-in role will do.
const (
	RoleOwner  = "owner"  // everything, including the account's own settings
	RoleAdmin  = "admin"  // projects, keys, users, roles and members; reads the audit log
	RoleMember = "member" // reads what a viewer does; manages keys acting on their own behalf
	RoleViewer = "viewer" // reads the account, its projects, keys, members, users and roles
)

// Role is a named set of permissions. A role held on the account grants its permissions
// account-wide; held on a project (see Member), it grants them in that project only.
//
// Permissions are dot-separated names with "*" as a wildcard segment: "account.read",
// "api_keys.*", "projects.<id>.read".
type Role struct {
	ID string `json:"id"`
	// AccountID is "" for a built-in role.
	AccountID   string   `json:"account_id"`
	Name        string   `json:"name"`
	Slug        string   `json:"slug"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	BuiltIn     bool     `json:"built_in"`
	// CreatedAt is nil for a built-in role.
	CreatedAt *time.Time `json:"created_at"`
}

// MarshalJSON writes the role in its wire form, with null for a built-in role's account.
func (r Role) MarshalJSON() ([]byte, error) {
	type plain Role // has no MarshalJSON, so encoding it does not recurse
	return json.Marshal(struct {
		plain
		AccountID *string `json:"account_id"`
	}{plain: plain(r), AccountID: nullIfEmpty(r.AccountID)})
}

// CreateRoleParams describes a new custom role.
type CreateRoleParams struct {
	// Name is required, 1 to 128 characters.
	Name string `json:"name"`
	// Slug is required: lower-case letters, digits and '-', starting with a letter, unique in
	// the account and not a built-in role's.
	Slug        string `json:"slug"`
	Description string `json:"description,omitempty"`
	// Permissions the role grants; it may not grant one the caller lacks. Nil is sent as an
	// empty list.
	Permissions []string `json:"permissions"`
}

// CreateRole adds a custom role to the caller's account. Errors: validation_failed, conflict
// (slug taken), unauthenticated, forbidden (a permission the caller lacks).
func (c *Client) CreateRole(ctx context.Context, params CreateRoleParams) (*Role, error) {
	if params.Permissions == nil {
		params.Permissions = []string{} // the server wants a list, never null
	}
	var r Role
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/roles", body: params, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRoles returns one page of roles: the built-in roles first, then the account's own.
func (c *Client) ListRoles(ctx context.Context, params ListParams) (*Page[*Role], error) {
	return listPage[*Role](ctx, c, "/v1/roles", params.query())
}

// AllRoles yields every role from params.Cursor on, fetching pages as it goes. It stops at
// the first error, which it yields.
func (c *Client) AllRoles(ctx context.Context, params ListParams) iter.Seq2[*Role, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Role], error) {
		p := params
		p.Cursor = cursor
		return c.ListRoles(ctx, p)
	})
}

// GetRole returns one role, by id or slug. Errors: not_found, unauthenticated, forbidden.
func (c *Client) GetRole(ctx context.Context, roleID string) (*Role, error) {
	id, err := pathID("role ID", roleID)
	if err != nil {
		return nil, err
	}
	var r Role
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/roles/" + id, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRoleParams changes some of a custom role's fields; nil leaves a field unchanged.
type UpdateRoleParams struct {
	Name        *string
	Description *string
	// Permissions replaces the role's permissions when non-nil; an empty, non-nil slice
	// removes them all.
	Permissions []string
}

// UpdateRole changes a custom role and returns it. Every user, key and member holding the
// role changes with it, at once. Errors: validation_failed, not_found, conflict (a built-in
// role), unauthenticated, forbidden.
func (c *Client) UpdateRole(ctx context.Context, roleID string, params UpdateRoleParams) (*Role, error) {
	id, err := pathID("role ID", roleID)
	if err != nil {
		return nil, err
	}
	body := struct {
		Name        *string   `json:"name,omitempty"`
		Description *string   `json:"description,omitempty"`
		Permissions *[]string `json:"permissions,omitempty"`
	}{Name: params.Name, Description: params.Description}
	if params.Permissions != nil {
		body.Permissions = &params.Permissions
	}
	var r Role
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/roles/" + id, body: body, auth: true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteRole deletes a custom role. Errors: not_found, conflict (a built-in role, or one a
// user, key or member still holds), unauthenticated, forbidden.
func (c *Client) DeleteRole(ctx context.Context, roleID string) error {
	id, err := pathID("role ID", roleID)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: "/v1/roles/" + id, auth: true}, nil)
	return err
}
