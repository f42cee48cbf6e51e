package compat

import (
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// Seed 000: a signed-in user mints keys on their own behalf. The seed fixes the paths and
// the request fields; Keyward answers errors as problem+json, like its own routes.

// APIKeyCreateRequest is the body of POST /apikey/create.
type APIKeyCreateRequest struct {
	UserID string `json:"user_id" doc:"The user the key acts for: yourself, unless your role allows api_keys.create for others."`
	Name   string `json:"name" minLength:"1" maxLength:"128" doc:"A human-readable name, as ci-deploys."`
}

// APIKeyIDRequest is the body of /apikey/replace and /apikey/expire.
type APIKeyIDRequest struct {
	KeyID string `json:"key_id" doc:"The key's id, from /apikey/create or /apikey/list."`
}

// APIKeyListRequest is the optional body of POST /apikey/list.
type APIKeyListRequest struct {
	UserID string `json:"user_id,omitempty" doc:"Whose keys to list; default your own."`
}

// APIKeyCreated is a new key: api_key is shown only in this response.
type APIKeyCreated struct {
	ID        string     `json:"id"`
	APIKey    string     `json:"api_key" doc:"The full key. Returned only here: save it now."`
	Name      string     `json:"name"`
	UserID    string     `json:"user_id"`
	KeyPrefix string     `json:"key_prefix"`
	Last4     string     `json:"last4"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// ReplacedKeyID is the key a /apikey/replace invalidated.
	ReplacedKeyID *string `json:"replaced_key_id,omitempty"`
}

// APIKeySummary is a key as /apikey/list shows it: the last few characters only.
type APIKeySummary struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	UserID     *string        `json:"user_id"`
	KeyPrefix  string         `json:"key_prefix"`
	Last4      string         `json:"last4" doc:"The key's last four characters."`
	Status     keyward.Status `json:"status" enum:"active,revoked,expired"`
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	LastUsedAt *time.Time     `json:"last_used_at"`
	RevokedAt  *time.Time     `json:"revoked_at"`
}

// APIKeyList is the answer of /apikey/list.
type APIKeyList struct {
	APIKeys []APIKeySummary `json:"api_keys"`
}

// APIKeyExpired is the answer of /apikey/expire.
type APIKeyExpired struct {
	ID        string         `json:"id"`
	Status    keyward.Status `json:"status" enum:"revoked"`
	ExpiredAt time.Time      `json:"expired_at"`
}

func summary(k *keyward.Key, now time.Time) APIKeySummary {
	var user *string
	if k.UserID != "" {
		user = &k.UserID
	}
	return APIKeySummary{ID: k.ID, Name: k.Name, UserID: user, KeyPrefix: k.Prefix, Last4: k.Last4, Status: k.Status(now),
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (h *handlers) seed000() []Route {
	tags := []string{"Seed 000: self-service keys"}
	problem := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/problem+json": {}}}
	}
	errs := map[string]*huma.Response{
		"400": problem("The body is malformed."), "401": problem("No valid credential."),
		"403": problem("The caller may not act on this user's keys."), "404": problem("No such key or user in the caller's account."),
		"409": problem("The key is revoked or already replaced."), "422": problem("A field breaks a rule."),
	}
	with := func(ok string, resp *huma.Response) map[string]*huma.Response {
		out := map[string]*huma.Response{ok: resp}
		for k, v := range errs {
			out[k] = v
		}
		return out
	}
	created := schema[APIKeyCreated](h, "APIKeyCreated")
	list := jsonResponse("The user's keys, last characters only.", schema[APIKeyList](h, "APIKeyList"))
	listDoc := func(id string) *huma.Operation {
		return &huma.Operation{OperationID: id, Summary: "List your API keys", Tags: tags, Security: security, Responses: with("200", list),
			Description: "The caller's own keys (or, with api_keys.read, user_id's). Secrets are never shown: key_prefix and last4 tell them apart."}
	}
	listPost := listDoc("seed000-list-api-keys-post")
	listPost.RequestBody = &huma.RequestBody{Content: map[string]*huma.MediaType{"application/json": {Schema: schema[APIKeyListRequest](h, "APIKeyListRequest")}}}
	return []Route{
		{Method: http.MethodPost, Path: "/apikey/create", Handler: h.create000, Action: keyward.ActionCreateKey, Doc: &huma.Operation{
			OperationID: "seed000-create-api-key", Summary: "Create an API key on a user's behalf", Tags: tags, Security: security,
			Description: "The key acts for user_id: it resolves to that user, their role and account, and holds what the user holds. The full api_key is returned only here.",
			RequestBody: jsonBody(schema[APIKeyCreateRequest](h, "APIKeyCreateRequest")),
			Responses:   with("200", jsonResponse("The new key, with its secret.", created)),
		}},
		{Method: http.MethodGet, Path: "/apikey/list", Handler: h.list000, Doc: listDoc("seed000-list-api-keys")},
		{Method: http.MethodPost, Path: "/apikey/list", Handler: h.list000, Doc: listPost},
		{Method: http.MethodPost, Path: "/apikey/replace", Handler: h.replace000, Action: keyward.ActionRotateKey, Doc: &huma.Operation{
			OperationID: "seed000-replace-api-key", Summary: "Replace an API key", Tags: tags, Security: security,
			Description: "Issues a fresh api_key (shown only here) with the old key's name, user and settings; the old key stops verifying at once.",
			RequestBody: jsonBody(schema[APIKeyIDRequest](h, "APIKeyIDRequest")),
			Responses:   with("200", jsonResponse("The new key, with its secret.", created)),
		}},
		{Method: http.MethodPost, Path: "/apikey/expire", Handler: h.expire000, Action: keyward.ActionRevokeKey, Doc: &huma.Operation{
			OperationID: "seed000-expire-api-key", Summary: "Expire an API key", Tags: tags, Security: security,
			Description: "The key stops verifying at once (it is revoked). Expiring it again changes nothing.",
			RequestBody: jsonBody(schema[APIKeyIDRequest](h, "APIKeyIDRequest")),
			Responses:   with("200", jsonResponse("The expired key.", schema[APIKeyExpired](h, "APIKeyExpired"))),
		}},
	}
}

func (h *handlers) create000(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	var req APIKeyCreateRequest
	if err := httpwire.DecodeJSON(w, r, &req); err != nil {
		h.writeProblem(w, err)
		return
	}
	if req.UserID == "" {
		req.UserID = p.UserID
	}
	if req.UserID == "" {
		h.writeProblem(w, keyward.Errorf(keyward.EValidation, "user_id is required"))
		return
	}
	k, secret, err := h.Service.CreateKey(r.Context(), p, keyward.CreateKeyInput{UserID: req.UserID, Name: req.Name})
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, APIKeyCreated{ID: k.ID, APIKey: secret, Name: k.Name, UserID: k.UserID, KeyPrefix: k.Prefix,
		Last4: k.Last4, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt})
}

func (h *handlers) list000(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	var req APIKeyListRequest
	if r.Method == http.MethodPost {
		if err := httpwire.DecodeJSON(w, r, &req); err != nil {
			h.writeProblem(w, err)
			return
		}
	} else {
		req.UserID = r.URL.Query().Get("user_id")
	}
	if req.UserID == "" {
		req.UserID = p.UserID
	}
	if req.UserID == "" {
		h.writeProblem(w, keyward.Errorf(keyward.EValidation, "user_id is required: this credential acts for no user"))
		return
	}
	out := APIKeyList{APIKeys: []APIKeySummary{}}
	now := h.Service.Now()
	pg := keyward.Page{Limit: keyward.MaxPageSize}
	for {
		keys, next, err := h.Service.ListKeys(r.Context(), p, keyward.ListKeysInput{UserID: req.UserID, Page: pg})
		if err != nil {
			h.writeProblem(w, err)
			return
		}
		for _, k := range keys {
			out.APIKeys = append(out.APIKeys, summary(k, now))
		}
		// A user has few keys; the seed's list has no pagination, so it returns them all, up
		// to a bound that keeps one response small.
		if next == "" || len(out.APIKeys) >= 10*keyward.MaxPageSize {
			break
		}
		pg.After = next
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) replace000(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	var req APIKeyIDRequest
	if err := httpwire.DecodeJSON(w, r, &req); err != nil {
		h.writeProblem(w, err)
		return
	}
	rot, err := h.Service.RotateKey(r.Context(), p, req.KeyID, keyward.RotateKeyInput{})
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	k := rot.New
	writeJSON(w, http.StatusOK, APIKeyCreated{ID: k.ID, APIKey: rot.Secret, Name: k.Name, UserID: k.UserID, KeyPrefix: k.Prefix,
		Last4: k.Last4, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, ReplacedKeyID: &rot.Old.ID})
}

func (h *handlers) expire000(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	var req APIKeyIDRequest
	if err := httpwire.DecodeJSON(w, r, &req); err != nil {
		h.writeProblem(w, err)
		return
	}
	k, err := h.Service.RevokeKey(r.Context(), p, req.KeyID)
	if err != nil {
		h.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, APIKeyExpired{ID: k.ID, Status: keyward.StatusRevoked, ExpiredAt: *k.RevokedAt})
}
