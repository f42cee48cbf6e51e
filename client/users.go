package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"time"
)

// User is a person in an account. Users sign in with an OIDC provider, or are created ahead
// of sign-in (with CreateUser) to choose their role or to issue keys that act for them.
//
// The wire sends null for unset strings; here they are "". User marshals back to the same
// wire form, nulls included.
type User struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	// Issuer and Subject are the OIDC identity the user signs in with; both "" for a user not
	// linked to one, who can own keys but cannot sign in.
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	// RoleID is the user's account-level role.
	RoleID string `json:"role_id"`
	// Active is false once the user is disabled: they cannot sign in and their keys do not
	// verify.
	Active     bool       `json:"active"`
	DisabledAt *time.Time `json:"disabled_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// MarshalJSON writes the user in its wire form, with null for the unset nullable strings.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User // has no MarshalJSON, so encoding it does not recurse
	return json.Marshal(struct {
		plain
		Email   *string `json:"email"`
		Name    *string `json:"name"`
		Issuer  *string `json:"issuer"`
		Subject *string `json:"subject"`
		RoleID  *string `json:"role_id"`
	}{
		plain: plain(u), Email: nullIfEmpty(u.Email), Name: nullIfEmpty(u.Name),
		Issuer: nullIfEmpty(u.Issuer), Subject: nullIfEmpty(u.Subject), RoleID: nullIfEmpty(u.RoleID),
	})
}

// CreateUserParams describes a new user. Zero values are left out of the request.
type CreateUserParams struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// RoleID is the user's account-level role, by id or built-in slug; "" lets the server
	// choose its default ("member").
	RoleID string `json:"role_id,omitempty"`
	// Issuer and Subject, both or neither, link the user to the OIDC identity they will sign
	// in with.
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// CreateUser adds a user to the caller's account. Errors: validation_failed, not_found (the
// role), conflict (the OIDC identity belongs to another user), unauthenticated, forbidden (a
// role beyond the caller's own).
func (c *Client) CreateUser(ctx context.Context, params CreateUserParams) (*User, error) {
	var u User
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/users", body: params, auth: true}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListUsers returns one page of the account's users.
func (c *Client) ListUsers(ctx context.Context, params ListParams) (*Page[*User], error) {
	return listPage[*User](ctx, c, "/v1/users", params.query())
}

// AllUsers yields every user of the account from params.Cursor on, fetching pages as it goes.
// It stops at the first error, which it yields.
func (c *Client) AllUsers(ctx context.Context, params ListParams) iter.Seq2[*User, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*User], error) {
		p := params
		p.Cursor = cursor
		return c.ListUsers(ctx, p)
	})
}

// GetUser returns one user. Every user may read themselves. Errors: not_found,
// unauthenticated, forbidden.
func (c *Client) GetUser(ctx context.Context, userID string) (*User, error) {
	id, err := pathID("user ID", userID)
	if err != nil {
		return nil, err
	}
	var u User
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/users/" + id, auth: true}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUserParams changes some of a user's fields; nil leaves a field unchanged.
//
// With Go 1.26, new builds the pointers: UpdateUserParams{Active: new(false)}.
type UpdateUserParams struct {
	Email *string `json:"email,omitempty"`
	Name  *string `json:"name,omitempty"`
	// RoleID sets the user's account-level role, by id or built-in slug.
	RoleID *string `json:"role_id,omitempty"`
	// Active false disables the user: no sign-in, and their keys stop verifying. True enables
	// them again.
	Active *bool `json:"active,omitempty"`
}

// UpdateUser changes the fields params sets and returns the updated user. Errors:
// validation_failed, not_found (the user or role), conflict (disabling yourself),
// unauthenticated, forbidden (a user or role beyond the caller's own permissions).
func (c *Client) UpdateUser(ctx context.Context, userID string, params UpdateUserParams) (*User, error) {
	id, err := pathID("user ID", userID)
	if err != nil {
		return nil, err
	}
	var u User
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/users/" + id, body: params, auth: true}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DisableUser disables a user, as UpdateUser with Active false does, and returns them. Users
// are never erased, because the audit log and their keys refer to them; a disabled user
// cannot sign in and their keys stop verifying until they are enabled again. Errors:
// not_found, conflict (disabling yourself), unauthenticated, forbidden.
func (c *Client) DisableUser(ctx context.Context, userID string) (*User, error) {
	id, err := pathID("user ID", userID)
	if err != nil {
		return nil, err
	}
	var u User
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/users/" + id, auth: true}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}
