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
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// Config is what the compatibility routes need.
type Config struct {
	Service       *keyward.Service
	Authenticator *authn.Authenticator
	Logger        *slog.Logger
	// Status maps a domain error to its HTTP status (httpapi's one table).
	Status func(error) int
	// LimitHeaders are the headers of the refusal of a good key over its limits (a 429's
	// Retry-After and RateLimit fields), from the verdict on it.
	LimitHeaders func(*verify.Result) http.Header
	// WriteProblem writes an error as problem+json, for routes whose seed fixes no error
	// shape of its own.
	WriteProblem func(http.ResponseWriter, error)
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

// maxBody bounds every body DecodeJSON reads.
const maxBody = 64 << 10

// DecodeJSON reads a JSON object of at most 64 KiB into v, refusing unknown fields and
// trailing data, with errors in the domain's codes. An empty body decodes as {}. The plain
// net/http routes (the compatibility routes, and the verify route outside this package)
// read their bodies with it; huma reads the others.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return keyward.Errorf(keyward.ETooLarge, "the body is larger than 64 KiB")
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field"):
		return keyward.Errorf(keyward.EValidation, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case err != nil:
		return keyward.Errorf(keyward.EInvalid, "body is not the expected JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return keyward.Errorf(keyward.EInvalid, "body has data after the JSON object")
	}
	return nil
}

// authenticate resolves the caller. When it refuses a good key over its limits, it sets the
// headers that say so on w, so that whichever shape the error is written in carries them.
func (h *handlers) authenticate(w http.ResponseWriter, r *http.Request) (keyward.Principal, error) {
	a, err := h.Authenticator.Authenticate(r.Context(), r.Header)
	if err != nil && a.Verdict != nil {
		for k, vs := range h.LimitHeaders(a.Verdict) {
			w.Header()[k] = vs
		}
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
