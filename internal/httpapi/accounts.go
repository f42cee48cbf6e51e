package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// AccountJSON is an account (tenant) on the wire.
type AccountJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	KeyPrefix  string    `json:"key_prefix" doc:"Starts the account's keys that belong to no project."`
	AllowedIPs []string  `json:"allowed_ips" doc:"The networks (CIDR ranges) the account's keys may be used from, when a key has none of its own; empty: anywhere."`
	LeakPolicy string    `json:"leak_policy" enum:"revoke,notify" doc:"What a leak report does to the account's keys, unless their project says otherwise: revoke them (the default), or only notify (api_key.leaked)."`
	CreatedAt  time.Time `json:"created_at"`
}

func accountJSON(a *keyward.Account) AccountJSON {
	return AccountJSON{ID: a.ID, Name: a.Name, KeyPrefix: a.KeyPrefix, AllowedIPs: networks(a.AllowedIPs), LeakPolicy: leakPolicy(a.LeakPolicy), CreatedAt: a.CreatedAt}
}

// leakPolicy is a stored leak policy on the wire: "" is the default, revoke.
func leakPolicy(p string) string {
	if p == "" {
		return keyward.LeakRevoke
	}
	return p
}

// AccountIDParam is the account id in a path.
type AccountIDParam struct {
	AccountID string `path:"accountID" doc:"Account id."`
}

type (
	accountOutput      struct{ Body AccountJSON }
	listAccountsOutput struct {
		PageHeaders
		Body []AccountJSON
	}
	createAccountInput struct {
		Body struct {
			Name      string `json:"name" minLength:"1" maxLength:"128"`
			KeyPrefix string `json:"key_prefix,omitempty" maxLength:"20" doc:"Prefix of the account's keys that belong to no project. Default kw."`
		}
	}
	createdAccountOutput struct {
		Location string `header:"Location"`
		Body     struct {
			AccountJSON
			AdminKey CreatedAdminKeyJSON `json:"admin_key"`
		}
	}
	updateAccountInput struct {
		AccountIDParam
		Body struct {
			Name       *string   `json:"name,omitempty" minLength:"1" maxLength:"128"`
			KeyPrefix  *string   `json:"key_prefix,omitempty" maxLength:"20"`
			AllowedIPs *[]string `json:"allowed_ips,omitempty" maxItems:"100" doc:"Replaces the networks the account's keys may be used from when they have none of their own; [] allows anywhere."`
			LeakPolicy *string   `json:"leak_policy,omitempty" enum:"revoke,notify" doc:"What a leak report does to the account's keys."`
		}
	}
)

// CreatedAdminKeyJSON is a new admin key: its secret is shown only here.
type CreatedAdminKeyJSON struct {
	ID        string `json:"id"`
	KeyPrefix string `json:"key_prefix"`
	Key       string `json:"key" doc:"The admin key's secret. Shown only in this response."`
}

func (s *Server) accountRoutes() []route {
	tags := []string{"Accounts"}
	return []route{
		operation(huma.Operation{
			OperationID: "list-accounts", Method: http.MethodGet, Path: "/v1/accounts", Summary: "List accounts", Tags: tags,
			Description: "Your own account; every account for the root account's admin keys.",
		}, s.listAccounts),
		operation(huma.Operation{
			OperationID: "create-account", Method: http.MethodPost, Path: "/v1/accounts", DefaultStatus: http.StatusCreated,
			Summary: "Create an account (tenant)", Tags: tags, Errors: []int{http.StatusConflict},
			Description: "Only the root account's admin keys may. Returns the new account's first admin key, shown only here.",
		}, s.createAccount),
		operation(huma.Operation{
			OperationID: "get-account", Description: "Your own account, or with the root account's admin key any account. Needs account.read.", Method: http.MethodGet, Path: "/v1/accounts/{accountID}", Summary: "Get an account", Tags: tags,
		}, s.getAccount),
		operation(huma.Operation{
			OperationID: "update-account", Description: "Rename your own account, change its key prefix, its networks (allowed_ips) or its leak policy. Absent fields are left as they are. Needs account.write.", Method: http.MethodPatch, Path: "/v1/accounts/{accountID}", Summary: "Rename an account or change its key prefix", Tags: tags,
			Errors: []int{http.StatusConflict},
		}, s.updateAccount),
	}
}

func (s *Server) listAccounts(ctx context.Context, in *listInput) (*listAccountsOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListAccounts(ctx, principal(ctx), pg)
	if err != nil {
		return nil, err
	}
	out := &listAccountsOutput{Body: mapSlice(items, accountJSON)}
	out.PageHeaders = nextPage("/v1/accounts", nil, in.Limit, next)
	return out, nil
}

func (s *Server) createAccount(ctx context.Context, in *createAccountInput) (*createdAccountOutput, error) {
	a, k, secret, err := s.svc.CreateAccount(ctx, principal(ctx), keyward.CreateAccountInput{Name: in.Body.Name, KeyPrefix: in.Body.KeyPrefix})
	if err != nil {
		return nil, err
	}
	out := &createdAccountOutput{Location: "/v1/accounts/" + a.ID}
	out.Body.AccountJSON = accountJSON(a)
	out.Body.AdminKey = CreatedAdminKeyJSON{ID: k.ID, KeyPrefix: k.Prefix, Key: secret}
	return out, nil
}

func (s *Server) getAccount(ctx context.Context, in *AccountIDParam) (*accountOutput, error) {
	a, err := s.svc.Account(ctx, principal(ctx), in.AccountID)
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: accountJSON(a)}, nil
}

func (s *Server) updateAccount(ctx context.Context, in *updateAccountInput) (*accountOutput, error) {
	a, err := s.svc.UpdateAccount(ctx, principal(ctx), in.AccountID, keyward.UpdateAccountInput{Name: in.Body.Name, KeyPrefix: in.Body.KeyPrefix, AllowedIPs: in.Body.AllowedIPs, LeakPolicy: in.Body.LeakPolicy})
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: accountJSON(a)}, nil
}
