package client

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"time"
)

// Project groups keys that share a key prefix, usually those of one API.
type Project struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	// KeyPrefix starts every key issued in the project ("kw", "sk_live").
	KeyPrefix string `json:"key_prefix"`
	// LeakPolicy is what a leak report does to the project's keys; "" when the project has
	// none and its account's applies.
	LeakPolicy LeakPolicy `json:"leak_policy"`
	CreatedAt  time.Time  `json:"created_at"`
}

// MarshalJSON writes the project in its wire form, with null for a leak policy it lacks.
func (p Project) MarshalJSON() ([]byte, error) {
	type plain Project // has no MarshalJSON, so encoding it does not recurse
	var policy *LeakPolicy
	if p.LeakPolicy != "" {
		policy = &p.LeakPolicy
	}
	return json.Marshal(struct {
		plain
		LeakPolicy *LeakPolicy `json:"leak_policy"`
	}{plain: plain(p), LeakPolicy: policy})
}

// Environment is a named stage of a project, such as production or staging.
type Environment struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	ProjectID string    `json:"project_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateProjectParams describes a new project.
type CreateProjectParams struct {
	// Name is required.
	Name string `json:"name"`
	// KeyPrefix starts the project's keys; "" lets the server choose its default ("kw").
	KeyPrefix string `json:"key_prefix,omitempty"`
}

// CreateProject creates a project in the admin key's account. Errors: validation_failed for
// a bad name or prefix, unauthenticated, forbidden.
func (c *Client) CreateProject(ctx context.Context, params CreateProjectParams) (*Project, error) {
	var p Project
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/projects", body: params, auth: true}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ListProjects returns one page of the account's projects.
func (c *Client) ListProjects(ctx context.Context, params ListParams) (*Page[*Project], error) {
	return listPage[*Project](ctx, c, "/v1/projects", params.query())
}

// AllProjects yields every project of the account from params.Cursor on, fetching pages of
// params.Limit as it goes. It stops at the first error, which it yields.
func (c *Client) AllProjects(ctx context.Context, params ListParams) iter.Seq2[*Project, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Project], error) {
		p := params
		p.Cursor = cursor
		return c.ListProjects(ctx, p)
	})
}

// UpdateProjectParams changes some of a project's fields and leaves the others alone; nil
// leaves a field unchanged. Setting LeakPolicy and clearing it at once is an error.
type UpdateProjectParams struct {
	// Name is 1 to 128 characters and unique within the account.
	Name *string
	// LeakPolicy sets what a leak report does to the project's keys, whatever the account's.
	LeakPolicy *LeakPolicy
	// ClearLeakPolicy puts the project back on its account's leak policy.
	ClearLeakPolicy bool
}

// body is the PATCH document: absent fields are left out, a cleared policy is JSON null.
func (p UpdateProjectParams) body() (map[string]any, error) {
	b := map[string]any{}
	if p.Name != nil {
		b["name"] = *p.Name
	}
	switch {
	case p.LeakPolicy != nil && p.ClearLeakPolicy:
		return nil, errors.New("keyward: UpdateProjectParams both sets and clears leak_policy")
	case p.LeakPolicy != nil:
		b["leak_policy"] = *p.LeakPolicy
	case p.ClearLeakPolicy:
		b["leak_policy"] = nil
	}
	return b, nil
}

// GetProject returns one project. Errors: not_found, unauthenticated, forbidden.
func (c *Client) GetProject(ctx context.Context, projectID string) (*Project, error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	var p Project
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/projects/" + id, auth: true}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdateProject renames a project or sets its leak policy, and returns the updated project.
// Its key prefix cannot change: keys already handed out carry it. Errors: validation_failed,
// not_found, conflict (name taken), unauthenticated, forbidden.
func (c *Client) UpdateProject(ctx context.Context, projectID string, params UpdateProjectParams) (*Project, error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	body, err := params.body()
	if err != nil {
		return nil, err
	}
	var p Project
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/projects/" + id, body: body, auth: true}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreateEnvironmentParams describes a new environment.
type CreateEnvironmentParams struct {
	// Name is required and unique within the project.
	Name string `json:"name"`
}

// CreateEnvironment creates an environment in a project. Errors: not_found for an unknown
// project, conflict for a name already taken, validation_failed, unauthenticated.
func (c *Client) CreateEnvironment(ctx context.Context, projectID string, params CreateEnvironmentParams) (*Environment, error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	var e Environment
	req := request{method: http.MethodPost, path: "/v1/projects/" + id + "/environments", body: params, auth: true}
	if _, err := c.do(ctx, req, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListEnvironments returns one page of a project's environments. Errors: not_found for an
// unknown project.
func (c *Client) ListEnvironments(ctx context.Context, projectID string, params ListParams) (*Page[*Environment], error) {
	id, err := pathID("project ID", projectID)
	if err != nil {
		return nil, err
	}
	return listPage[*Environment](ctx, c, "/v1/projects/"+id+"/environments", params.query())
}

// AllEnvironments yields every environment of a project from params.Cursor on. It stops at
// the first error, which it yields.
func (c *Client) AllEnvironments(ctx context.Context, projectID string, params ListParams) iter.Seq2[*Environment, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Environment], error) {
		p := params
		p.Cursor = cursor
		return c.ListEnvironments(ctx, projectID, p)
	})
}
