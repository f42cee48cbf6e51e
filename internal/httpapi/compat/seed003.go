package compat

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// Seed 003: account keys managed with an X-API-Key, answered in a {success, data} envelope and
// failing as {success: false, error: {code, message}}.

// AccountKeyCreateRequest is the body of POST /api/v1/api-keys, as seed 003 prints it.
type AccountKeyCreateRequest struct {
	Name          string     `json:"name" minLength:"1" maxLength:"128" doc:"A descriptive label (e.g. Production CI, Backups Lambda)."`
	RateLimitTier string     `json:"rate_limit_tier,omitempty" maxLength:"64" default:"standard" doc:"standard (30 RPS) by default, or another tier of the account. high (100 RPS) needs approval: a caller with api_keys.approve_high_tier gets it at once; anyone else's key is created on standard with a pending request (rate_limit_tier_request), and moves to high when someone who may approve it does."`
	ExpiresAt     *time.Time `json:"expires_at,omitempty" doc:"Optional expiration timestamp. Omit for never-expires keys."`
	RoleID        string     `json:"role_id,omitempty" doc:"Account-level role to assign. The key inherits this role's account.* permissions. To grant per-project access, add the key as a project member after creation."`
	Scope         string     `json:"scope,omitempty" maxLength:"1000" doc:"Space-separated scopes; default public."`
}

// TierRequestRef is a pending request for a tier that needs approval.
type TierRequestRef struct {
	ID     string `json:"id"`
	Tier   string `json:"tier"`
	Status string `json:"status"`
}

// ProjectAccessJSON is one entry of a key's project_accesses.
type ProjectAccessJSON struct {
	ProjectID   string `json:"project_id"`
	ProjectName string `json:"project_name"`
	RoleID      string `json:"role_id"`
	RoleName    string `json:"role_name"`
	RoleSlug    string `json:"role_slug"`
}

// AccountKey is seed 003's key object. Secret is set only on creation.
type AccountKey struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	KeyPrefix       string              `json:"key_prefix"`
	IsActive        bool                `json:"is_active"`
	Secret          string              `json:"secret,omitempty" doc:"The full key: returned once, on creation."`
	AccountID       string              `json:"account_id"`
	Scope           string              `json:"scope" doc:"The key's scopes, space-separated."`
	RateLimitTier   string              `json:"rate_limit_tier"`
	TierRequest     *TierRequestRef     `json:"rate_limit_tier_request,omitempty" doc:"Keyward's addition, while a tier asked for awaits approval: the pending request."`
	ExpiresAt       *time.Time          `json:"expires_at"`
	LastUsedAt      *time.Time          `json:"last_used_at"`
	RoleID          *string             `json:"role_id"`
	RoleName        *string             `json:"role_name"`
	RoleSlug        *string             `json:"role_slug"`
	ProjectAccesses []ProjectAccessJSON `json:"project_accesses"`
	CreatedBy       string              `json:"created_by"`
	CreatedAt       time.Time           `json:"created_at"`
}

// AccountKeyEnvelope is a success answer carrying one key.
type AccountKeyEnvelope struct {
	Success bool       `json:"success"`
	Data    AccountKey `json:"data"`
}

// AccountKeysEnvelope is a success answer carrying a list of keys.
type AccountKeysEnvelope struct {
	Success bool         `json:"success"`
	Data    []AccountKey `json:"data"`
}

// MemberAddRequest is the body of POST /api/v1/projects/{id}/members.
type MemberAddRequest struct {
	APIKeyID string `json:"api_key_id,omitempty" doc:"The key to add; or give user_id."`
	UserID   string `json:"user_id,omitempty" doc:"The user to add; or give api_key_id."`
	RoleID   string `json:"role_id" doc:"The project role, by id or built-in slug."`
}

// Member is a project membership in seed 003's shape.
type Member struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"project_id"`
	ProjectName string    `json:"project_name"`
	APIKeyID    *string   `json:"api_key_id"`
	UserID      *string   `json:"user_id"`
	RoleID      string    `json:"role_id"`
	RoleName    string    `json:"role_name"`
	RoleSlug    string    `json:"role_slug"`
	CreatedAt   time.Time `json:"created_at"`
}

// MemberEnvelope is a success answer carrying a membership.
type MemberEnvelope struct {
	Success bool   `json:"success"`
	Data    Member `json:"data"`
}

// ErrorEnvelope is seed 003's failure answer.
type ErrorEnvelope struct {
	Success bool `json:"success" enum:"false"`
	Error   struct {
		Code    string `json:"code" doc:"Keyward's stable error code, as validation_failed or forbidden."`
		Message string `json:"message"`
	} `json:"error"`
}

func (h *handlers) fail003(w http.ResponseWriter, err error) {
	var env ErrorEnvelope
	env.Error.Code, env.Error.Message = string(keyward.ErrorCode(err)), keyward.ErrorMessage(err)
	// The problem's headers are its challenge on a 401 or 403 and its Retry-After and
	// RateLimit fields on a 429; the body is the seed's.
	p := h.problem(err)
	for k, vs := range p.GetHeaders() {
		w.Header()[k] = vs
	}
	writeJSON(w, p.Status, env)
}

// accountKey renders k in seed 003's shape, resolving the names of its role and projects.
func (h *handlers) accountKey(ctx context.Context, p keyward.Principal, k *keyward.Key, secret string) (AccountKey, error) {
	out := AccountKey{ID: k.ID, Name: k.Name, KeyPrefix: k.Prefix, IsActive: k.Status(h.Service.Now()) == keyward.StatusActive,
		Secret: secret, AccountID: k.AccountID, Scope: strings.Join(k.Scopes, " "), RateLimitTier: k.RateLimitTier,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt,
		ProjectAccesses: []ProjectAccessJSON{}}
	if r := k.PendingTierRequest; r != nil {
		out.TierRequest = &TierRequestRef{ID: r.ID, Tier: r.Tier, Status: string(r.Status)}
	}
	id, err := h.Service.Resolver().ResolveIdentity(ctx, k)
	if err != nil {
		return out, err
	}
	if k.RoleID != "" && id.Role != nil {
		out.RoleID, out.RoleName, out.RoleSlug = &id.Role.ID, &id.Role.Name, &id.Role.Slug
	}
	if len(k.ProjectAccesses) > 0 {
		for _, g := range id.Projects {
			out.ProjectAccesses = append(out.ProjectAccesses, ProjectAccessJSON{ProjectID: g.Project.ID, ProjectName: g.Project.Name,
				RoleID: g.Role.ID, RoleName: g.Role.Name, RoleSlug: g.Role.Slug})
		}
	}
	return out, nil
}

func (h *handlers) seed003() []Route {
	tags := []string{"Seed 003: account keys"}
	failure := jsonResponse("{success: false, error: {code, message}}.", schema[ErrorEnvelope](h, "ErrorEnvelope"))
	with := func(ok string, resp *huma.Response, codes ...string) map[string]*huma.Response {
		out := map[string]*huma.Response{ok: resp}
		for _, c := range append([]string{"400", "401", "403", "404", "422"}, codes...) {
			out[c] = failure
		}
		return out
	}
	one := schema[AccountKeyEnvelope](h, "AccountKeyEnvelope")
	return []Route{
		{Method: http.MethodPost, Path: "/api/v1/api-keys", Handler: h.create003, Action: keyward.ActionCreateKey, Doc: &huma.Operation{
			OperationID: "seed003-create-api-key", Summary: "Create an account API key", Tags: tags, Security: security,
			Description: "The key belongs to the caller's account, starts with the account's key_prefix, and holds its role's permissions (never more than the caller's). The secret is returned only here.",
			RequestBody: jsonBody(schema[AccountKeyCreateRequest](h, "AccountKeyCreateRequest")),
			Responses:   with("201", jsonResponse("API key created (full secret returned once).", one)),
		}},
		{Method: http.MethodGet, Path: "/api/v1/api-keys", Handler: h.list003, Doc: &huma.Operation{
			OperationID: "seed003-list-api-keys", Summary: "List API keys", Tags: tags, Security: security,
			Description: "Every key of the caller's account the caller may read (up to 1000), without secrets.",
			Responses:   with("200", jsonResponse("The keys.", schema[AccountKeysEnvelope](h, "AccountKeysEnvelope"))),
		}},
		{Method: http.MethodGet, Path: "/api/v1/api-keys/{id}", Handler: h.get003, Doc: &huma.Operation{
			OperationID: "seed003-get-api-key", Description: "One key of the caller's account, in seed 003's envelope, without its secret. Needs api_keys.read.", Summary: "Get an API key", Tags: tags, Security: security,
			Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
			Responses:  with("200", jsonResponse("The key.", one)),
		}},
		{Method: http.MethodDelete, Path: "/api/v1/api-keys/{id}", Handler: h.delete003, Action: keyward.ActionRevokeKey, Doc: &huma.Operation{
			OperationID: "seed003-delete-api-key", Summary: "Revoke an API key", Tags: tags, Security: security,
			Description: "The key stops verifying at once and answers with is_active false.",
			Parameters:  []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
			Responses:   with("200", jsonResponse("The revoked key.", one)),
		}},
		{Method: http.MethodPost, Path: "/api/v1/projects/{id}/members", Handler: h.addMember003, Action: keyward.ActionAddMember, Doc: &huma.Operation{
			OperationID: "seed003-add-project-member", Summary: "Add a key or user to a project", Tags: tags, Security: security,
			Description: "Grants per-project access: the member holds the role's permissions in that project.",
			Parameters:  []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
			RequestBody: jsonBody(schema[MemberAddRequest](h, "MemberAddRequest")),
			Responses:   with("201", jsonResponse("The membership.", schema[MemberEnvelope](h, "MemberEnvelope")), "409"),
		}},
	}
}

func (h *handlers) create003(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.fail003(w, err)
		return
	}
	var req AccountKeyCreateRequest
	if err := httpwire.DecodeJSON(w, r, &req); err != nil {
		h.fail003(w, err)
		return
	}
	scopes := strings.Fields(req.Scope)
	if req.Scope == "" {
		scopes = []string{"public"}
	}
	k, secret, err := h.Service.CreateKey(r.Context(), p, keyward.CreateKeyInput{
		Name: req.Name, RateLimitTier: req.RateLimitTier, ExpiresAt: req.ExpiresAt, RoleID: req.RoleID, Scopes: scopes,
	})
	if err != nil {
		h.fail003(w, err)
		return
	}
	out, err := h.accountKey(r.Context(), p, k, secret)
	if err != nil {
		h.fail003(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/api-keys/"+k.ID)
	writeJSON(w, http.StatusCreated, AccountKeyEnvelope{Success: true, Data: out})
}

// maxListed bounds /api/v1/api-keys, which the seed gives no pagination.
const maxListed = 1000

func (h *handlers) list003(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.fail003(w, err)
		return
	}
	out := AccountKeysEnvelope{Success: true, Data: []AccountKey{}}
	pg := keyward.Page{Limit: keyward.MaxPageSize}
	for len(out.Data) < maxListed {
		keys, next, err := h.Service.ListKeys(r.Context(), p, keyward.ListKeysInput{Page: pg})
		if err != nil {
			h.fail003(w, err)
			return
		}
		for _, k := range keys {
			ak, err := h.accountKey(r.Context(), p, k, "")
			if err != nil {
				h.fail003(w, err)
				return
			}
			out.Data = append(out.Data, ak)
		}
		if next == "" {
			break
		}
		pg.After = next
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) get003(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.fail003(w, err)
		return
	}
	k, err := h.Service.Key(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.fail003(w, err)
		return
	}
	out, err := h.accountKey(r.Context(), p, k, "")
	if err != nil {
		h.fail003(w, err)
		return
	}
	writeJSON(w, http.StatusOK, AccountKeyEnvelope{Success: true, Data: out})
}

func (h *handlers) delete003(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.fail003(w, err)
		return
	}
	id := r.PathValue("id")
	k, err := h.Service.RevokeKey(r.Context(), p, id)
	if err != nil {
		h.fail003(w, err)
		return
	}
	out, err := h.accountKey(r.Context(), p, k, "")
	if err != nil {
		h.fail003(w, err)
		return
	}
	writeJSON(w, http.StatusOK, AccountKeyEnvelope{Success: true, Data: out})
}

func (h *handlers) addMember003(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.fail003(w, err)
		return
	}
	var req MemberAddRequest
	if err := httpwire.DecodeJSON(w, r, &req); err != nil {
		h.fail003(w, err)
		return
	}
	m, err := h.Service.AddMember(r.Context(), p, r.PathValue("id"), keyward.AddMemberInput{UserID: req.UserID, KeyID: req.APIKeyID, RoleID: req.RoleID})
	if err != nil {
		h.fail003(w, err)
		return
	}
	proj, role, err := h.Service.MembershipNames(r.Context(), m)
	if err != nil {
		h.fail003(w, err)
		return
	}
	out := Member{ID: m.ID, ProjectID: m.ProjectID, ProjectName: proj.Name, RoleID: role.ID, RoleName: role.Name, RoleSlug: role.Slug, CreatedAt: m.CreatedAt}
	if m.KeyID != "" {
		out.APIKeyID = &m.KeyID
	}
	if m.UserID != "" {
		out.UserID = &m.UserID
	}
	w.Header().Set("Location", "/v1/projects/"+m.ProjectID+"/members/"+m.ID)
	writeJSON(w, http.StatusCreated, MemberEnvelope{Success: true, Data: out})
}
