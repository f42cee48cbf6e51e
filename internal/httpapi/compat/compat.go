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
	// Action is the audit action the route performs (keyward.ActionCreateKey, …); "" for a
	// route that changes nothing.
	Action string
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

// problem is the problem for err; seed 003's routes send its status and headers with their
// own body.
func (h *handlers) problem(err error) *httpwire.Problem { return httpwire.ProblemFor(h.Logger, err) }

// writeProblem answers err as problem+json, for routes whose seed fixes no error shape of
// its own.
func (h *handlers) writeProblem(w http.ResponseWriter, err error) {
	httpwire.WriteProblem(w, h.problem(err))
}

// authenticate resolves the caller. When it refuses a good key over its limits, it sets the
// headers that say where the key stands on w, so that whichever shape the error is written
// in carries them.
func (h *handlers) authenticate(w http.ResponseWriter, r *http.Request) (keyward.Principal, error) {
	a, err := h.Authenticator.Authenticate(r.Context(), r.Header)
	if err != nil && a.Verdict != nil {
		v := a.Verdict
		httpwire.SetRefusalHeaders(w.Header(), httpwire.Refusal{Code: v.Code, Key: v.Key, Limited: v.Limited, Policy: v.Policy, Decision: v.RateLimit})
	}
	return a.Principal, err
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
