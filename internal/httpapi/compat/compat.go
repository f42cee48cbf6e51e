// Package compat serves the seed documents' own paths and shapes over Keyward's one core:
// seed 000's /apikey/* routes (users minting keys on their own behalf after an OIDC sign-in)
// and seed 003's /api/v1/api-keys routes (account keys in a {success, data} envelope).
//
// The handlers are plain net/http, because each seed fixes its own error shape, which huma's
// one error constructor cannot vary per route; each is still described in the OpenAPI
// document by the Doc of its Route.
package compat

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// Config is what the compatibility routes need.
type Config struct {
	Service       *keyward.Service
	Authenticator *authn.Authenticator
	Logger        *slog.Logger
}

// Route is one compatibility route: its handler and its OpenAPI description.
type Route struct {
	Method, Path string
	Handler      http.HandlerFunc
	Doc          *huma.Operation
}

// Routes returns every compatibility route, describing their bodies in registry.
func Routes(cfg Config, registry huma.Registry) []Route {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handlers{Config: cfg, registry: registry}
	return append(h.seed000(), h.seed003()...)
}

type handlers struct {
	Config
	registry huma.Registry
}

// problem is the problem for err: httpwire.ProblemFor told what only authn's errors say (a
// good key refused by its limits is a 429 with the RateLimit headers; a credential that was
// presented and failed gets the invalid_token challenge). seed 003's routes send its status
// and headers with their own body.
func (h *handlers) problem(err error) *httpwire.Problem {
	var limited *authn.LimitError
	if !errors.As(err, &limited) {
		p := httpwire.ProblemFor(h.Logger, err)
		if keyward.ErrorCode(err) == keyward.EUnauthenticated && !errors.Is(err, authn.ErrNoCredential) {
			p.InvalidToken()
		}
		return p
	}
	r := limited.Result
	return httpwire.RefusalProblem(limited.Error(), httpwire.Refusal{Code: r.Code, Key: r.Key, Limited: r.Limited, Policy: r.Policy, Decision: r.RateLimit})
}

// writeProblem answers err as problem+json, for routes whose seed fixes no error shape of
// its own.
func (h *handlers) writeProblem(w http.ResponseWriter, err error) {
	httpwire.WriteProblem(w, h.problem(err))
}

// authenticate resolves the caller; on failure it returns the error to write.
func (h *handlers) authenticate(r *http.Request) (keyward.Principal, error) {
	return h.Authenticator.Authenticate(r.Context(), r.Header)
}

// audit records a mutation made through a compatibility route.
func (h *handlers) audit(r *http.Request, p keyward.Principal, action, targetType, targetID string, err error) {
	if aerr := h.Service.Audit(r.Context(), p, action, targetType, targetID, httpwire.ClientHost(r.RemoteAddr), err); aerr != nil {
		h.Logger.Error("audit: could not record", "action", action, "err", aerr)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// schema returns the registry's schema for T, registering it on first use.
func schema[T any](h *handlers, name string) *huma.Schema {
	return h.registry.Schema(reflect.TypeFor[T](), true, name)
}

func jsonBody(s *huma.Schema) *huma.RequestBody {
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: s}}}
}

func jsonResponse(desc string, s *huma.Schema) *huma.Response {
	return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: s}}}
}

// security is how every compatibility route authenticates: bearer (an OIDC access token, an
// API key or an admin key) or X-API-Key.
var security = []map[string][]string{{"bearer": {}}, {"apiKey": {}}}
