package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

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

// RoleIDParam is the role id in a path.
type RoleIDParam struct {
	RoleID string `path:"roleID" doc:"Role id."`
}

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

func (s *Server) roleRoutes() []route {
	tags := []string{"Roles"}
	return []route{
		operation(huma.Operation{
			OperationID: "list-roles", Method: http.MethodGet, Path: "/v1/roles", Summary: "List roles", Tags: tags,
			Description: "The built-in roles (owner, admin, member, viewer) first, then the account's own.",
		}, s.listRoles),
		operation(huma.Operation{
			OperationID: "create-role", Method: http.MethodPost, Path: "/v1/roles", DefaultStatus: http.StatusCreated,
			Summary: "Create a custom role", Tags: tags, Errors: []int{http.StatusConflict},
			Description: "A role may not grant a permission you do not hold.",
		}, s.createRole),
		operation(huma.Operation{
			OperationID: "get-role", Description: "A built-in or custom role and its permissions. Needs roles.read.", Method: http.MethodGet, Path: "/v1/roles/{roleID}", Summary: "Get a role", Tags: tags,
		}, s.getRole),
		operation(huma.Operation{
			OperationID: "update-role", Method: http.MethodPatch, Path: "/v1/roles/{roleID}", Summary: "Update a custom role", Tags: tags,
			Description: "Every user, key and member holding the role changes with it, at once.", Errors: []int{http.StatusConflict},
		}, s.updateRole),
		operation(huma.Operation{
			OperationID: "delete-role", Method: http.MethodDelete, Path: "/v1/roles/{roleID}", DefaultStatus: http.StatusNoContent,
			Summary: "Delete a custom role", Tags: tags, Description: "Refused (409) while a user, key or member holds it.", Errors: []int{http.StatusConflict},
		}, s.deleteRole),
	}
}

func (s *Server) listRoles(ctx context.Context, in *listInput) (*listRolesOutput, error) {
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
}

func (s *Server) createRole(ctx context.Context, in *createRoleInput) (*roleOutput, error) {
	b := in.Body
	r, err := s.svc.CreateRole(ctx, principal(ctx), keyward.RoleInput{Name: b.Name, Slug: b.Slug, Description: b.Description, Permissions: b.Permissions})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Location: "/v1/roles/" + r.ID, Body: roleJSON(r)}, nil
}

func (s *Server) getRole(ctx context.Context, in *RoleIDParam) (*roleOutput, error) {
	r, err := s.svc.Role(ctx, principal(ctx), in.RoleID)
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: roleJSON(r)}, nil
}

func (s *Server) updateRole(ctx context.Context, in *updateRoleInput) (*roleOutput, error) {
	b := in.Body
	r, err := s.svc.UpdateRole(ctx, principal(ctx), in.RoleID, keyward.UpdateRoleInput{Name: b.Name, Description: b.Description, Permissions: b.Permissions})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: roleJSON(r)}, nil
}

func (s *Server) deleteRole(ctx context.Context, in *RoleIDParam) (*struct{}, error) {
	return nil, s.svc.DeleteRole(ctx, principal(ctx), in.RoleID)
}
