package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// EnvironmentJSON is an environment on the wire.
type EnvironmentJSON struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	ProjectID string    `json:"project_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func environmentJSON(e *keyward.Environment) EnvironmentJSON {
	return EnvironmentJSON{ID: e.ID, AccountID: e.AccountID, ProjectID: e.ProjectID, Name: e.Name, CreatedAt: e.CreatedAt}
}

type createEnvironmentInput struct {
	ProjectIDParam
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"128" doc:"Unique within the project, as production or staging."`
	}
}

type environmentOutput struct {
	Location string `header:"Location"`
	Body     EnvironmentJSON
}

type listEnvironmentsInput struct {
	ProjectIDParam
	PageParams
}

type listEnvironmentsOutput struct {
	PageHeaders
	Body []EnvironmentJSON
}

func (s *Server) environmentRoutes() []route {
	tags := []string{"Projects"}
	return []route{
		operation(huma.Operation{
			OperationID: "create-environment", Description: "An environment (as production, staging) that keys of the project may be issued in. Needs projects.write.", Method: http.MethodPost, Path: "/v1/projects/{projectID}/environments", DefaultStatus: http.StatusCreated,
			Summary: "Create an environment in a project", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.createEnvironment),
		operation(huma.Operation{
			OperationID: "list-environments", Description: "Needs projects.read.", Method: http.MethodGet, Path: "/v1/projects/{projectID}/environments",
			Summary: "List a project's environments", Tags: tags,
		}, s.listEnvironments),
	}
}

func (s *Server) createEnvironment(ctx context.Context, in *createEnvironmentInput) (*environmentOutput, error) {
	e, err := s.svc.CreateEnvironment(ctx, principal(ctx), in.ProjectID, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &environmentOutput{Location: "/v1/projects/" + e.ProjectID + "/environments", Body: environmentJSON(e)}, nil
}

func (s *Server) listEnvironments(ctx context.Context, in *listEnvironmentsInput) (*listEnvironmentsOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListEnvironments(ctx, principal(ctx), in.ProjectID, pg)
	if err != nil {
		return nil, err
	}
	out := &listEnvironmentsOutput{Body: mapSlice(items, environmentJSON)}
	out.PageHeaders = nextPage("/v1/projects/"+url.PathEscape(in.ProjectID)+"/environments", nil, in.Limit, next)
	return out, nil
}
