package httpapi

import (
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// VerifyRequest asks whether a key is valid.
type VerifyRequest struct {
	Key            string   `json:"key,omitempty" maxLength:"16384" doc:"The key, or a Keyward access token, to verify. May instead come as Authorization: Bearer."`
	RequiredScopes []string `json:"required_scopes,omitempty" maxItems:"64" doc:"Every one must be among the key's scopes, else INSUFFICIENT_SCOPE."`
	Permissions    string   `json:"permissions,omitempty" maxLength:"1000" doc:"A query the key's permissions must satisfy, else INSUFFICIENT_PERMISSIONS: permission names joined by AND and OR, grouped by parentheses, as \"api_keys.read AND (projects.p1.write OR admin)\"."`
	Cost           *int64   `json:"cost,omitempty" minimum:"0" doc:"Usage credits this verification spends when the key has credits; default 1. 0 checks that credits remain without spending any."`
	IP             string   `json:"ip,omitempty" maxLength:"64" doc:"The address the request you are verifying came from. A key limited to some networks (allowed_ips) verifies FORBIDDEN from elsewhere, and when ip is not given."`
}

// VerifyResponse is the verdict on a key. The identity fields are set whenever the key was
// found, also when it is not valid, and null when it was not.
type VerifyResponse struct {
	Valid         bool                `json:"valid"`
	Code          keyward.VerifyCode  `json:"code" enum:"VALID,MALFORMED,NOT_FOUND,REVOKED,EXPIRED,DISABLED,FORBIDDEN,INSUFFICIENT_SCOPE,INSUFFICIENT_PERMISSIONS,RATE_LIMITED,USAGE_EXCEEDED" doc:"DISABLED: the key's user is disabled. FORBIDDEN: the request comes from a network the key may not be used from (or ip was not given for a key limited to some). RATE_LIMITED: over its rate limit or quota for now (see ratelimit). USAGE_EXCEEDED: its usage credits are spent."`
	KeyID         *string             `json:"key_id"`
	AccountID     *string             `json:"account_id"`
	ProjectID     *string             `json:"project_id"`
	EnvironmentID *string             `json:"environment_id"`
	UserID        *string             `json:"user_id" doc:"The user the key acts for."`
	Role          *RoleRefJSON        `json:"role"`
	Permissions   []string            `json:"permissions" nullable:"true" doc:"The key's effective permissions."`
	Projects      []ProjectRefJSON    `json:"projects" nullable:"true" doc:"The projects the key may act in, with its role in each."`
	Name          *string             `json:"name"`
	Scopes        []string            `json:"scopes" nullable:"true"`
	Metadata      map[string]any      `json:"metadata" nullable:"true"`
	ExpiresAt     *time.Time          `json:"expires_at"`
	RateLimit     *RateLimitStateJSON `json:"ratelimit" doc:"The key's rate limit after this verification; null when the key was not held to one (not found, refused before it, or its limit could not be checked)."`
	Remaining     *int64              `json:"remaining" doc:"Usage credits left after this verification; null when the key has none."`
	// RateLimitPolicy lets a caller that keeps verdicts in-process (the Go middleware) hold
	// the key to its own limit between verifications.
	RateLimitPolicy *RateLimitJSON `json:"ratelimit_policy,omitempty" doc:"The rate limit the key is held to (its tier's, or its own override), present when ratelimit is: for a caller that keeps valid verdicts in-process, such as the Go middleware, to hold the key to it between verifications."`
}

// RateLimitStateJSON is where a key stands against its rate limit, as Unkey reports it.
type RateLimitStateJSON struct {
	Limit     int64 `json:"limit" doc:"The binding policy's size: the burst, or the quota."`
	Remaining int64 `json:"remaining" doc:"Verifications allowed right now."`
	Reset     int64 `json:"reset" doc:"Unix time in milliseconds when the binding policy is whole again."`
}

// verifyResponse is the wire form of a verdict: the key's fields, or, for an access token,
// the token's (its key's as they were when it was issued, with the permissions it still has).
func verifyResponse(r verify.Result, now time.Time) VerifyResponse {
	if r.Token != nil {
		return tokenVerifyResponse(r, now)
	}
	out := VerifyResponse{Valid: r.Valid, Code: r.Code}
	if k := r.Key; k != nil {
		out.KeyID, out.AccountID = &k.ID, &k.AccountID
		out.ProjectID, out.EnvironmentID, out.UserID = optional(k.ProjectID), optional(k.EnvironmentID), optional(k.UserID)
		out.Name = &k.Name
		out.Scopes = k.Scopes
		if out.Scopes == nil {
			out.Scopes = []string{}
		}
		out.Metadata = k.Metadata
		out.ExpiresAt = k.EffectiveExpiry()
		out.Permissions, out.Projects = []string{}, []ProjectRefJSON{}
	}
	if id := r.Identity; id != nil {
		out.Role = roleRef(id.Role)
		if id.Permissions != nil {
			out.Permissions = id.Permissions
		}
		out.Projects = projectRefs(id.Projects)
	}
	limitFields(&out, r, now)
	return out
}

// tokenVerifyResponse answers for one of Keyward's access tokens: it stands for its key as
// the token says, with the token's scopes and expiry.
func tokenVerifyResponse(r verify.Result, now time.Time) VerifyResponse {
	tok := r.Token
	out := VerifyResponse{Valid: r.Valid, Code: r.Code, KeyID: &tok.ClientID, AccountID: &tok.AccountID,
		ProjectID: optional(tok.ProjectID), EnvironmentID: optional(tok.EnvironmentID), UserID: optional(tok.UserID),
		Permissions: []string(r.Permissions()), Projects: []ProjectRefJSON{}, Scopes: tok.Scopes, ExpiresAt: &tok.ExpiresAt}
	if tok.RoleSlug != "" {
		out.Role = &RoleRefJSON{ID: tok.RoleID, Slug: tok.RoleSlug, Name: tok.RoleSlug}
		if b := keyward.BuiltInRole(tok.RoleID); b != nil {
			out.Role.Name = b.Name
		}
	}
	if r.Key == nil {
		// Refused before its key was read (expired, revoked): what it was issued with.
		out.Permissions = tok.Permissions
	}
	if out.Permissions == nil {
		out.Permissions = []string{}
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	limitFields(&out, r, now)
	return out
}

// limitFields sets out's ratelimit and remaining from r.
func limitFields(out *VerifyResponse, r verify.Result, now time.Time) {
	if r.Limited {
		b := r.RateLimit.Binding()
		out.RateLimit = &RateLimitStateJSON{Limit: b.Limit, Remaining: b.Remaining, Reset: now.Add(b.Reset).UnixMilli()}
		policy := rateLimitJSON(r.Policy)
		out.RateLimitPolicy = &policy
	}
	if r.Credited {
		out.Remaining = &r.CreditsRemaining
	}
}

// verifyPath is the verify route's path, and verifyPattern its pattern, which
// Server.ServeHTTP matches itself before the router.
const (
	verifyPath    = "/v1/keys/verify"
	verifyPattern = http.MethodPost + " " + verifyPath
)

func (s *Server) registerVerify() {
	registry := s.api.OpenAPI().Components.Schemas
	reqSchema := registry.Schema(reflect.TypeFor[VerifyRequest](), true, "VerifyRequest")
	respSchema := registry.Schema(reflect.TypeFor[VerifyResponse](), true, "VerifyResponse")
	problemSchema := registry.Schema(reflect.TypeFor[httpwire.Problem](), true, "Problem")
	problem := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problemSchema}}}
	}
	s.handle(http.MethodPost, verifyPath, s.verifyKey, &huma.Operation{
		OperationID: "verify-key",
		Summary:     "Verify an API key",
		Description: "Needs no credential: the key is the credential. Answers 200 with valid and a code for every key, good or bad; a non-200 means the request itself was wrong or Keyward could not decide.",
		Tags:        []string{"Verification"},
		RequestBody: &huma.RequestBody{Content: map[string]*huma.MediaType{"application/json": {Schema: reqSchema}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The verdict.", Content: map[string]*huma.MediaType{"application/json": {Schema: respSchema}}},
			"400": problem("The body is not a verify request, or no key was given."),
			"413": problem("The body is too large."),
			"503": problem("The store could not be read; the verdict is unknown."),
		},
	})
}

func (s *Server) verifyKey(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer s.observeVerify(start)
	req, err := decodeVerifyRequest(w, r)
	if err != nil {
		httpwire.WriteProblem(w, problemFor(s.log, err))
		return
	}
	res, err := s.verifier.Check(r.Context(), req.Key, verify.Requirements{Scopes: req.RequiredScopes, Permissions: req.query, Cost: req.Cost, ClientIP: req.ip})
	if err != nil {
		if keyward.IsOutage(err) {
			s.log.Warn("verify: the store is unavailable; the key has no verdict", "err", err)
		} else {
			s.log.Error("verify: store lookup failed", "err", err)
		}
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusServiceUnavailable, "the key could not be checked; retry"))
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	writeVerifyAnswer(w, res, s.svc.Now())
}

// verifyRequest is a decoded verify request with its permission query and address parsed.
type verifyRequest struct {
	VerifyRequest
	query keyward.PermissionQuery
	ip    netip.Addr
}

func decodeVerifyRequest(w http.ResponseWriter, r *http.Request) (verifyRequest, error) {
	var req verifyRequest
	bp, buf := bodyBufs.get()
	body, err := verifyDecoding.ReadBody(w, r, buf)
	defer bodyBufs.put(bp, body) // what is kept of it (the key) is copied out
	if err != nil {
		return req, err
	}
	if key, ok := onlyKey(body); ok {
		req.Key = key
	} else if err := verifyDecoding.DecodeBody(body, &req.VerifyRequest); err != nil {
		// An empty body is fine when the key comes in the Authorization header.
		return req, err
	}
	if req.Key == "" {
		if token, ok := authn.BearerToken(r.Header); ok {
			req.Key = token
		}
	}
	if req.Key == "" {
		return req, keyward.Errorf(keyward.EInvalid, "no key given: send {\"key\": …} or Authorization: Bearer")
	}
	if req.Cost != nil && (*req.Cost < 0 || *req.Cost > keyward.MaxCredits) {
		return req, keyward.Errorf(keyward.EValidation, "cost must be between 0 and %d", int64(keyward.MaxCredits))
	}
	if len(req.RequiredScopes) > keyward.MaxScopes {
		return req, keyward.Errorf(keyward.EInvalid, "at most %d required_scopes", keyward.MaxScopes)
	}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil {
			return req, keyward.Errorf(keyward.EValidation, "ip %q is not an IP address", req.IP)
		}
		req.ip = ip.Unmap().WithZone("")
	}
	if req.Permissions != "" {
		q, err := keyward.ParsePermissionQuery(req.Permissions)
		if err != nil {
			return req, err
		}
		req.query = q
	}
	return req, nil
}
