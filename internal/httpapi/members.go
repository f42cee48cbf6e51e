package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// MemberJSON is a project membership on the wire.
type MemberJSON struct {
	ID        string    `json:"id"`
	ProjectID string    `json:"project_id"`
	UserID    *string   `json:"user_id"`
	APIKeyID  *string   `json:"api_key_id"`
	RoleID    string    `json:"role_id"`
	CreatedAt time.Time `json:"created_at"`
}

func memberJSON(m *keyward.Membership) MemberJSON {
	return MemberJSON{ID: m.ID, ProjectID: m.ProjectID, UserID: optional(m.UserID), APIKeyID: optional(m.KeyID), RoleID: m.RoleID, CreatedAt: m.CreatedAt}
}

// MemberIDParam is the membership id in a path.
type MemberIDParam struct {
	MemberID string `path:"memberID" doc:"Membership id."`
}

type (
	memberOutput struct {
		Location string `header:"Location"`
		Body     MemberJSON
	}
	listMembersOutput struct {
		PageHeaders
		Body []MemberJSON
	}
	addMemberInput struct {
		ProjectIDParam
		Body struct {
			UserID   string `json:"user_id,omitempty" doc:"A user to add; or give api_key_id."`
			APIKeyID string `json:"api_key_id,omitempty" doc:"A key to add; or give user_id."`
			RoleID   string `json:"role_id" doc:"The project role, by id or built-in slug."`
		}
	}
	memberPathInput struct {
		ProjectIDParam
		MemberIDParam
	}
	updateMemberInput struct {
		ProjectIDParam
		MemberIDParam
		Body struct {
			RoleID string `json:"role_id"`
		}
	}
	listMembersInput struct {
		ProjectIDParam
		PageParams
	}
)

func (s *Server) memberRoutes() []route {
	tags := []string{"Projects"}
	return []route{
		operation(huma.Operation{
			OperationID: "list-members", Description: "The users and keys holding a project role in the project. Needs members.read.", Method: http.MethodGet, Path: "/v1/projects/{projectID}/members", Summary: "List a project's members", Tags: tags,
		}, s.listMembers),
		operation(huma.Operation{
			OperationID: "add-member", Description: "Give a user or a key a role in the project; the role may not hold a permission the caller lacks. Needs members.write.", Method: http.MethodPost, Path: "/v1/projects/{projectID}/members", DefaultStatus: http.StatusCreated,
			Summary: "Add a user or key to a project with a role", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.addMember),
		operation(huma.Operation{
			OperationID: "get-member", Description: "Needs members.read.", Method: http.MethodGet, Path: "/v1/projects/{projectID}/members/{memberID}", Summary: "Get a project membership", Tags: tags,
		}, s.getMember),
		operation(huma.Operation{
			OperationID: "update-member", Description: "Replace the member's project role; it may not hold a permission the caller lacks. Needs members.write.", Method: http.MethodPatch, Path: "/v1/projects/{projectID}/members/{memberID}", Summary: "Change a member's project role", Tags: tags,
		}, s.updateMember),
		operation(huma.Operation{
			OperationID: "remove-member", Description: "Needs members.write.", Method: http.MethodDelete, Path: "/v1/projects/{projectID}/members/{memberID}", DefaultStatus: http.StatusNoContent,
			Summary: "Remove a member from a project", Tags: tags,
		}, s.removeMember),
	}
}

func (s *Server) listMembers(ctx context.Context, in *listMembersInput) (*listMembersOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.Members(ctx, principal(ctx), in.ProjectID, pg)
	if err != nil {
		return nil, err
	}
	out := &listMembersOutput{Body: mapSlice(items, memberJSON)}
	out.PageHeaders = nextPage("/v1/projects/"+url.PathEscape(in.ProjectID)+"/members", nil, in.Limit, next)
	return out, nil
}

func (s *Server) addMember(ctx context.Context, in *addMemberInput) (*memberOutput, error) {
	m, err := s.svc.AddMember(ctx, principal(ctx), in.ProjectID, keyward.AddMemberInput{UserID: in.Body.UserID, KeyID: in.Body.APIKeyID, RoleID: in.Body.RoleID})
	if err != nil {
		return nil, err
	}
	return &memberOutput{Location: "/v1/projects/" + m.ProjectID + "/members/" + m.ID, Body: memberJSON(m)}, nil
}

func (s *Server) getMember(ctx context.Context, in *memberPathInput) (*memberOutput, error) {
	m, err := s.svc.Member(ctx, principal(ctx), in.ProjectID, in.MemberID)
	if err != nil {
		return nil, err
	}
	return &memberOutput{Body: memberJSON(m)}, nil
}

func (s *Server) updateMember(ctx context.Context, in *updateMemberInput) (*memberOutput, error) {
	m, err := s.svc.UpdateMember(ctx, principal(ctx), in.ProjectID, in.MemberID, in.Body.RoleID)
	if err != nil {
		return nil, err
	}
	return &memberOutput{Body: memberJSON(m)}, nil
}

func (s *Server) removeMember(ctx context.Context, in *memberPathInput) (*struct{}, error) {
	return nil, s.svc.RemoveMember(ctx, principal(ctx), in.ProjectID, in.MemberID)
}
