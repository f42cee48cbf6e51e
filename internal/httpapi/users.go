package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// UserJSON is a user on the wire.
type UserJSON struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"account_id"`
	Email      *string    `json:"email"`
	Name       *string    `json:"name"`
	Issuer     *string    `json:"issuer" doc:"The OIDC issuer the user signs in with."`
	Subject    *string    `json:"subject" doc:"The user's sub at that issuer."`
	RoleID     *string    `json:"role_id"`
	Active     bool       `json:"active" doc:"false once disabled: the user cannot sign in and their keys do not verify."`
	DisabledAt *time.Time `json:"disabled_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func userJSON(u *keyward.User) UserJSON {
	return UserJSON{ID: u.ID, AccountID: u.AccountID, Email: optional(u.Email), Name: optional(u.Name),
		Issuer: optional(u.Issuer), Subject: optional(u.Subject), RoleID: optional(u.RoleID),
		Active: u.DisabledAt == nil, DisabledAt: u.DisabledAt, CreatedAt: u.CreatedAt}
}

// UserIDParam is the user id in a path.
type UserIDParam struct {
	UserID string `path:"userID" doc:"User id."`
}

type (
	userOutput struct {
		Location string `header:"Location"`
		Body     UserJSON
	}
	listUsersOutput struct {
		PageHeaders
		Body []UserJSON
	}
	createUserInput struct {
		Body struct {
			Email   string `json:"email,omitempty" maxLength:"254"`
			Name    string `json:"name,omitempty" maxLength:"128"`
			RoleID  string `json:"role_id,omitempty" doc:"A role id or built-in slug. Default member."`
			Issuer  string `json:"issuer,omitempty" maxLength:"2048" doc:"With subject: the OIDC identity the user will sign in with."`
			Subject string `json:"subject,omitempty" maxLength:"255"`
		}
	}
	updateUserInput struct {
		UserIDParam
		Body struct {
			Email  *string `json:"email,omitempty" maxLength:"254"`
			Name   *string `json:"name,omitempty" maxLength:"128"`
			RoleID *string `json:"role_id,omitempty"`
			Active *bool   `json:"active,omitempty" doc:"false disables the user: no sign-in, and their keys stop verifying. true enables them again."`
		}
	}
)

func (s *Server) userRoutes() []route {
	tags := []string{"Users"}
	return []route{
		operation(huma.Operation{
			OperationID: "list-users", Description: "The account's users: people who signed in through OIDC or were created ahead of it. Needs users.read.", Method: http.MethodGet, Path: "/v1/users", Summary: "List users", Tags: tags,
		}, s.listUsers),
		operation(huma.Operation{
			OperationID: "create-user", Method: http.MethodPost, Path: "/v1/users", DefaultStatus: http.StatusCreated,
			Summary: "Create a user", Tags: tags, Errors: []int{http.StatusConflict},
			Description: "Users are also created on their first OIDC sign-in; create one ahead to choose their role, or to mint keys on their behalf.",
		}, s.createUser),
		operation(huma.Operation{
			OperationID: "get-user", Description: "Needs users.read; everyone may read themselves.", Method: http.MethodGet, Path: "/v1/users/{userID}", Summary: "Get a user", Tags: tags,
		}, s.getUser),
		operation(huma.Operation{
			OperationID: "update-user", Description: "Change a user's name or role, disable them (their keys stop verifying) or enable them again. Needs users.write.", Method: http.MethodPatch, Path: "/v1/users/{userID}", Summary: "Update, disable or enable a user", Tags: tags,
			Errors: []int{http.StatusConflict},
		}, s.updateUser),
		operation(huma.Operation{
			OperationID: "disable-user", Method: http.MethodDelete, Path: "/v1/users/{userID}", Summary: "Disable a user", Tags: tags,
			Description: "Users are never erased, because the audit log and their keys refer to them. This disables the user, as PATCH {\"active\": false} does, and returns them.",
			Errors:      []int{http.StatusConflict},
		}, s.disableUser),
	}
}

func (s *Server) listUsers(ctx context.Context, in *listInput) (*listUsersOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListUsers(ctx, principal(ctx), pg)
	if err != nil {
		return nil, err
	}
	out := &listUsersOutput{Body: mapSlice(items, userJSON)}
	out.PageHeaders = nextPage("/v1/users", nil, in.Limit, next)
	return out, nil
}

func (s *Server) createUser(ctx context.Context, in *createUserInput) (*userOutput, error) {
	b := in.Body
	u, err := s.svc.CreateUser(ctx, principal(ctx), keyward.CreateUserInput{Email: b.Email, Name: b.Name, RoleID: b.RoleID, Issuer: b.Issuer, Subject: b.Subject})
	if err != nil {
		return nil, err
	}
	return &userOutput{Location: "/v1/users/" + u.ID, Body: userJSON(u)}, nil
}

func (s *Server) getUser(ctx context.Context, in *UserIDParam) (*userOutput, error) {
	u, err := s.svc.User(ctx, principal(ctx), in.UserID)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: userJSON(u)}, nil
}

func (s *Server) updateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	b := in.Body
	upd := keyward.UpdateUserInput{Email: b.Email, Name: b.Name, RoleID: b.RoleID}
	if b.Active != nil {
		disabled := !*b.Active
		upd.Disabled = &disabled
	}
	u, err := s.svc.UpdateUser(ctx, principal(ctx), in.UserID, upd)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: userJSON(u)}, nil
}

func (s *Server) disableUser(ctx context.Context, in *UserIDParam) (*userOutput, error) {
	u, err := s.svc.DisableUser(ctx, principal(ctx), in.UserID)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: userJSON(u)}, nil
}
