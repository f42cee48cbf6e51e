package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// ProjectJSON is a project on the wire.
type ProjectJSON struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Name      string    `json:"name"`
	KeyPrefix string    `json:"key_prefix" doc:"Starts every key issued in the project."`
	CreatedAt time.Time `json:"created_at"`
}

func projectJSON(p *keyward.Project) ProjectJSON {
	return ProjectJSON{ID: p.ID, AccountID: p.AccountID, Name: p.Name, KeyPrefix: p.KeyPrefix, CreatedAt: p.CreatedAt}
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
			OperationID: "create-project", Method: http.MethodPost, Path: "/v1/projects", DefaultStatus: http.StatusCreated,
			Summary: "Create a project", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.createProject),
		operation(huma.Operation{
			OperationID: "list-projects", Method: http.MethodGet, Path: "/v1/projects",
			Summary: "List projects", Tags: tags,
		}, s.listProjects),
		operation(huma.Operation{
			OperationID: "get-project", Method: http.MethodGet, Path: "/v1/projects/{projectID}",
			Summary: "Get a project", Tags: tags,
		}, s.getProject),
	}
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
