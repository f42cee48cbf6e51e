package client

import (
	"context"
	"iter"
	"net/http"
	"time"
)

// Account is a tenant: everything else (projects, keys, users, custom roles, the audit log)
// belongs to one.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// KeyPrefix starts the account's keys that belong to no project.
	KeyPrefix string `json:"key_prefix"`
	// AllowedIPs are the networks the account's keys may be used from when they have none of
	// their own; empty: anywhere.
	AllowedIPs []string `json:"allowed_ips"`
	// LeakPolicy is what a leak report does to the account's keys, unless their project says
	// otherwise: LeakRevoke (the default) or LeakNotify.
	LeakPolicy LeakPolicy `json:"leak_policy"`
	CreatedAt  time.Time  `json:"created_at"`
}

// LeakPolicy is what a leak report (ReportLeak, or GitHub's secret scanning) does to a key.
type LeakPolicy string

// Leak policies, of an account or a project.
const (
	// LeakRevoke revokes the leaked key at once, and announces it (api_key.leaked).
	LeakRevoke LeakPolicy = "revoke"
	// LeakNotify records the leak and announces it, but leaves the key working.
	LeakNotify LeakPolicy = "notify"
)

// CreatedAdminKey is a new account's first admin key.
type CreatedAdminKey struct {
	ID        string `json:"id"`
	KeyPrefix string `json:"key_prefix"`
	// Secret is the admin key. The server shows it only in this answer and keeps only a hash:
	// store it now or lose it.
	Secret string `json:"key"`
}

// CreatedAccount is a new account together with its first admin key.
type CreatedAccount struct {
	Account
	AdminKey CreatedAdminKey `json:"admin_key"`
}

// CreateAccountParams describes a new account.
type CreateAccountParams struct {
	// Name is required, 1 to 128 characters, and unique.
	Name string `json:"name"`
	// KeyPrefix starts the account's keys that belong to no project; "" lets the server
	// choose its default ("kw").
	KeyPrefix string `json:"key_prefix,omitempty"`
}

// CreateAccount creates an account (tenant) and its first admin key, whose secret is in the
// answer and nowhere else. Only the root account's admin keys may. Errors: validation_failed,
// conflict (name taken), unauthenticated, forbidden.
func (c *Client) CreateAccount(ctx context.Context, params CreateAccountParams) (*CreatedAccount, error) {
	var a CreatedAccount
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/accounts", body: params, auth: true}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListAccounts returns one page of the accounts the caller may see: its own, or every
// account for the root account's admin keys.
func (c *Client) ListAccounts(ctx context.Context, params ListParams) (*Page[*Account], error) {
	return listPage[*Account](ctx, c, "/v1/accounts", params.query())
}

// AllAccounts yields every account the caller may see from params.Cursor on, fetching pages
// as it goes. It stops at the first error, which it yields.
func (c *Client) AllAccounts(ctx context.Context, params ListParams) iter.Seq2[*Account, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*Account], error) {
		p := params
		p.Cursor = cursor
		return c.ListAccounts(ctx, p)
	})
}

// GetAccount returns one account. Errors: not_found (also for an account the caller may not
// see), unauthenticated, forbidden.
func (c *Client) GetAccount(ctx context.Context, accountID string) (*Account, error) {
	id, err := pathID("account ID", accountID)
	if err != nil {
		return nil, err
	}
	var a Account
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/accounts/" + id, auth: true}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAccountParams changes some of an account's fields; nil leaves a field unchanged.
type UpdateAccountParams struct {
	Name *string `json:"name,omitempty"`
	// KeyPrefix starts account keys issued from now on; keys already issued keep theirs.
	KeyPrefix *string `json:"key_prefix,omitempty"`
	// AllowedIPs replaces the networks the account's keys may be used from when they have
	// none of their own; a pointer to an empty slice allows anywhere.
	AllowedIPs *[]string `json:"allowed_ips,omitempty"`
	// LeakPolicy sets what a leak report does to the account's keys whose project has no
	// policy of its own.
	LeakPolicy *LeakPolicy `json:"leak_policy,omitempty"`
}

// UpdateAccount renames an account or changes its key prefix, networks or leak policy, and returns the updated
// account. Errors: validation_failed, not_found, conflict (name taken), unauthenticated,
// forbidden.
func (c *Client) UpdateAccount(ctx context.Context, accountID string, params UpdateAccountParams) (*Account, error) {
	id, err := pathID("account ID", accountID)
	if err != nil {
		return nil, err
	}
	var a Account
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/accounts/" + id, body: params, auth: true}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
