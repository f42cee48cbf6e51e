package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// ProjectJSON is a project on the wire.
type ProjectJSON struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	Name       string    `json:"name"`
	KeyPrefix  string    `json:"key_prefix" doc:"Starts every key issued in the project."`
	LeakPolicy *string   `json:"leak_policy" doc:"What a leak report does to the project's keys: revoke or notify; null: the account's policy."`
	CreatedAt  time.Time `json:"created_at"`
}

func projectJSON(p *keyward.Project) ProjectJSON {
	return ProjectJSON{ID: p.ID, AccountID: p.AccountID, Name: p.Name, KeyPrefix: p.KeyPrefix, LeakPolicy: optional(p.LeakPolicy), CreatedAt: p.CreatedAt}
}

type updateProjectInput struct {
	ProjectIDParam
	RawBody []byte
	Body    struct {
		Name       *string `json:"name,omitempty" minLength:"1" maxLength:"128"`
		LeakPolicy *string `json:"leak_policy,omitempty" nullable:"true" enum:"revoke,notify" doc:"null goes back to the account's policy."`
	}
}

type createProjectInput struct {
	Body struct {
		Name      string `json:"name" minLength:"1" maxLength:"128" doc:"Unique within the account."`
		KeyPrefix string `json:"key_prefix,omitempty" maxLength:"20" pattern:"^[a-z][a-z0-9]*(_[a-z0-9]+)*$" doc:"Prefix of the project's keys, as kw, raff or sk_live. Default kw."`
	}
}

type projectOutput struct {
	Location string `header:"Location"`
	Body     ProjectJSON
}

type listProjectsOutput struct {
	PageHeaders
	Body []ProjectJSON
}

// ProjectIDParam is the project id in a path.
type ProjectIDParam struct {
	ProjectID string `path:"projectID" doc:"Project id."`
}

func (s *Server) projectRoutes() []route {
	tags := []string{"Projects"}
	return []route{
		operation(huma.Operation{
			OperationID: "create-project", Description: "Needs projects.create. Its keys start with the project's key_prefix.", Method: http.MethodPost, Path: "/v1/projects", DefaultStatus: http.StatusCreated,
			Summary: "Create a project", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.createProject),
		operation(huma.Operation{
			OperationID: "list-projects", Description: "The projects of the caller's account that the caller may read, paged. Needs projects.read.", Method: http.MethodGet, Path: "/v1/projects",
			Summary: "List projects", Tags: tags,
		}, s.listProjects),
		operation(huma.Operation{
			OperationID: "get-project", Description: "Needs projects.read, account-wide or in the project.", Method: http.MethodGet, Path: "/v1/projects/{projectID}",
			Summary: "Get a project", Tags: tags,
		}, s.getProject),
		operation(huma.Operation{
			OperationID: "update-project", Description: "Rename the project or set its leak policy (null: the account's). Absent fields are left as they are. Needs projects.write.", Method: http.MethodPatch, Path: "/v1/projects/{projectID}",
			Summary: "Rename a project or set its leak policy", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.updateProject),
	}
}

func (s *Server) updateProject(ctx context.Context, in *updateProjectInput) (*projectOutput, error) {
	upd := keyward.UpdateProjectInput{Name: in.Body.Name, LeakPolicy: in.Body.LeakPolicy}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(in.RawBody, &present); err == nil && string(present["leak_policy"]) == "null" {
		none := ""
		upd.LeakPolicy = &none
	}
	p, err := s.svc.UpdateProject(ctx, principal(ctx), in.ProjectID, upd)
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: projectJSON(p)}, nil
}

func (s *Server) createProject(ctx context.Context, in *createProjectInput) (*projectOutput, error) {
	p, err := s.svc.CreateProject(ctx, principal(ctx), keyward.CreateProjectInput{Name: in.Body.Name, KeyPrefix: in.Body.KeyPrefix})
	if err != nil {
		return nil, err
	}
	return &projectOutput{Location: "/v1/projects/" + p.ID, Body: projectJSON(p)}, nil
}

func (s *Server) listProjects(ctx context.Context, in *listInput) (*listProjectsOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListProjects(ctx, principal(ctx), pg)
	if err != nil {
		return nil, err
	}
	out := &listProjectsOutput{Body: mapSlice(items, projectJSON)}
	out.PageHeaders = nextPage("/v1/projects", nil, in.Limit, next)
	return out, nil
}

func (s *Server) getProject(ctx context.Context, in *ProjectIDParam) (*projectOutput, error) {
	p, err := s.svc.Project(ctx, principal(ctx), in.ProjectID)
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: projectJSON(p)}, nil
}
