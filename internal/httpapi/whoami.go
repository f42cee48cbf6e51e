package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

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

func (s *Server) whoamiRoutes() []route {
	const desc = "Resolves the credential (an API key as Bearer or X-API-Key, an OIDC access token, or an admin key) to its user, account (tenant), role, permissions, scopes and projects. Every credential may ask about itself."
	tags := []string{"Identity"}
	return []route{
		operation(huma.Operation{
			OperationID: "whoami", Method: http.MethodGet, Path: "/v1/whoami", Summary: "Who is this credential", Description: desc, Tags: tags,
		}, s.whoami),
		operation(huma.Operation{
			OperationID: "users-me", Method: http.MethodGet, Path: "/api/v1/users/me", Summary: "Who is this credential (seed 002's path)", Description: desc, Tags: tags,
		}, s.whoami),
	}
}

func (s *Server) whoami(ctx context.Context, _ *struct{}) (*whoamiOutput, error) {
	w, err := s.svc.Whoami(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return &whoamiOutput{Body: whoamiJSON(w)}, nil
}
