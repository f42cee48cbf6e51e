package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"time"
)

// Member is a project membership: a user or an API key holding a role in one project.
// Exactly one of UserID and APIKeyID is set.
type Member struct {
	ID        string    `json:"id"`
	ProjectID string    `json:"project_id"`
	UserID    string    `json:"user_id"`
	APIKeyID  string    `json:"api_key_id"`
	RoleID    string    `json:"role_id"`
	CreatedAt time.Time `json:"created_at"`
}

// MarshalJSON writes the membership in its wire form, with null for the member kind it is not.
func (m Member) MarshalJSON() ([]byte, error) {
	type plain Member // has no MarshalJSON, so encoding it does not recurse
	return json.Marshal(struct {
		plain
		UserID   *string `json:"user_id"`
		APIKeyID *string `json:"api_key_id"`
	}{plain: plain(m), UserID: nullIfEmpty(m.UserID), APIKeyID: nullIfEmpty(m.APIKeyID)})
}

// AddMemberParams makes a user or an API key a member of a project. Give exactly one of
// UserID and APIKeyID.
type AddMemberParams struct {
	UserID   string `json:"user_id,omitempty"`
	APIKeyID string `json:"api_key_id,omitempty"`
	// RoleID is the member's role in the project, by id or built-in slug; required.
	RoleID string `json:"role_id"`
}

// AddMember makes a user or key a member of a project with a role, which may not grant more
// than the caller holds in that project. Errors: validation_failed, not_found (the project,
// user, key or role), conflict (already a member), unauthenticated, forbidden.
func (c *Client) AddMember(ctx context.Context, projectID string, params AddMemberParams) (*Member, error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	var m Member
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/projects/" + id + "/members", body: params, auth: true}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ListMembers returns one page of a project's members. Errors: not_found for an unknown
// project.
func (c *Client) ListMembers(ctx context.Context, projectID string, params ListParams) (*Page[*Member], error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	return listPage[*Member](ctx, c, "/v1/projects/"+id+"/members", params.query())
}

// AllMembers yields every member of a project from params.Cursor on. It stops at the first
// error, which it yields.
func (c *Client) AllMembers(ctx context.Context, projectID string, params ListParams) iter.Seq2[*Member, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Member], error) {
		p := params
		p.Cursor = cursor
		return c.ListMembers(ctx, projectID, p)
	})
}

// GetMember returns one membership of a project. Errors: not_found, unauthenticated,
// forbidden.
func (c *Client) GetMember(ctx context.Context, projectID, memberID string) (*Member, error) {
	path, err := memberPath(projectID, memberID)
	if err != nil {
		return nil, err
	}
	var m Member
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, auth: true}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// UpdateMemberParams changes a membership.
type UpdateMemberParams struct {
	// RoleID is the member's new project role, by id or built-in slug; required.
	RoleID string `json:"role_id"`
}

// UpdateMember changes a member's project role and returns the membership. Errors:
// validation_failed, not_found (the membership or role), unauthenticated, forbidden.
func (c *Client) UpdateMember(ctx context.Context, projectID, memberID string, params UpdateMemberParams) (*Member, error) {
	path, err := memberPath(projectID, memberID)
	if err != nil {
		return nil, err
	}
	var m Member
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: path, body: params, auth: true}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RemoveMember ends a membership. Errors: not_found, unauthenticated, forbidden.
func (c *Client) RemoveMember(ctx context.Context, projectID, memberID string) error {
	path, err := memberPath(projectID, memberID)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: path, auth: true}, nil)
	return err
}

func memberPath(projectID, memberID string) (string, error) {
	pid, err := pathID("project ID", projectID)
	if err != nil {
		return "", err
	}
	mid, err := pathID("member ID", memberID)
	if err != nil {
		return "", err
	}
	return "/v1/projects/" + pid + "/members/" + mid, nil
}
