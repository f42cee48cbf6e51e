package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// CredentialKind is what authenticated a request.
type CredentialKind string

// Credential kinds.
const (
	KindAdminKey CredentialKind = "admin_key"
	KindAPIKey   CredentialKind = "api_key"
	KindUser     CredentialKind = "user" // an OIDC access token
)

// Whoami says who a credential is and what it may do.
type Whoami struct {
	Kind CredentialKind `json:"kind"`
	// KeyID is the API key that authenticated the request; "" for other credentials.
	KeyID   string  `json:"key_id"`
	Account Account `json:"account"`
	// User is the user the credential acts for; nil when it acts for none.
	User *User `json:"user"`
	// Role is the credential's account-level role; nil when it has none.
	Role *RoleRef `json:"role"`
	// Permissions is everything the caller may do, account-wide and as "projects.<id>.…"
	// grants.
	Permissions []string `json:"permissions"`
	// Scopes are the API key's scopes; empty for other credentials.
	Scopes []string `json:"scopes"`
	// Projects are the projects the caller may act in, with its role in each.
	Projects []ProjectRef `json:"projects"`
}

// MarshalJSON writes the answer in its wire form, with null for an unset key ID.
func (w Whoami) MarshalJSON() ([]byte, error) {
	type plain Whoami // has no MarshalJSON, so encoding it does not recurse
	return json.Marshal(struct {
		plain
		KeyID *string `json:"key_id"`
	}{plain: plain(w), KeyID: nullIfEmpty(w.KeyID)})
}

// RoleRef names a role.
type RoleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// ProjectRef is a project a caller may act in and the role it holds there.
type ProjectRef struct {
	ProjectID   string `json:"project_id"`
	ProjectName string `json:"project_name"`
	RoleID      string `json:"role_id"`
	RoleName    string `json:"role_name"`
	RoleSlug    string `json:"role_slug"`
}

// Whoami resolves the client's credential (an admin key, an API key or an OIDC access
// token) to its account, user, role, permissions, scopes and projects. Every credential may
// ask about itself. Errors: unauthenticated.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var w Whoami
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/whoami", auth: true}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
