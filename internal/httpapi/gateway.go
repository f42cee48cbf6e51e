package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/gateway"
)

// The gateway's endpoints, for the front doors that put Keyward in front of an API: each
// answers one front door's contract (internal/gateway). They need no management credential:
// the key they judge is the request's, as on the verify route.

// AnyMethod marks a route that answers every method: a front door's auth request keeps the
// method of the request it asks about.
const AnyMethod = "*"

// Gateway endpoints' paths.
const (
	ForwardAuthPath = "/gateway/forward-auth"
	NginxPath       = "/gateway/nginx"
	EnvoyPath       = "/gateway/envoy/"
	HasuraPath      = "/gateway/hasura"
)

func (s *Server) registerGateway(g *gateway.Gateway) {
	if g == nil {
		return
	}
	tags := []string{"Gateway"}
	refusals := map[string]*huma.Response{
		"200": {Description: "Allowed: the identity headers (X-Keyward-Key-Id, -Account-Id, -Project-Id, -Environment-Id, -User-Id, -Role, -Scopes, named as the policy says) and the RateLimit headers, for the front door to copy upstream."},
		"401": {Description: "No key, or not a valid one; WWW-Authenticate says which."},
		"403": {Description: "A valid key that lacks a scope (named in WWW-Authenticate's scope) or permission, or is used from a network it may not be."},
		"429": {Description: "Over its rate limit, or out of credits; Retry-After and RateLimit say when to come back."},
		"503": {Description: "The key could not be checked."},
	}
	s.handleAny(ForwardAuthPath, g.ForwardAuth(), &huma.Operation{
		OperationID: "gateway-forward-auth", Summary: "Forward-auth (Traefik, Caddy, APISIX)", Tags: tags, Responses: refusals,
		Description: "Any method. The original method and URI in X-Forwarded-Method and X-Forwarded-Uri, the client in X-Forwarded-For (believed from --trusted-proxies), the key in the original Authorization: Bearer or X-API-Key. The route policy decides what the request needs; ?scopes=, ?permissions= and ?cost= on this URL override it.",
	})
	nginx := map[string]*huma.Response{}
	for k, v := range refusals {
		nginx[k] = v
	}
	nginx["403"] = &huma.Response{Description: "As on forward-auth, and also a refusal nginx could not be given as it is: X-Keyward-Status holds 429 or 503."}
	delete(nginx, "429")
	delete(nginx, "503")
	s.handleAny(NginxPath, g.Nginx(), &huma.Operation{
		OperationID: "gateway-nginx", Summary: "nginx auth_request", Tags: tags, Responses: nginx,
		Description: "Any method. The original method and URI in X-Original-Method and X-Original-URI. nginx passes on only 2xx, 401 and 403, so a 429 or 503 is answered 403 with the true status in X-Keyward-Status.",
	})
	s.handleAny(EnvoyPath, g.EnvoyHTTP(EnvoyPath), &huma.Operation{
		OperationID: "gateway-envoy", Summary: "Envoy ext_authz (HTTP service)", Tags: tags, Responses: refusals,
		Description: "Any method and any path below /gateway/envoy/: Envoy's HTTP ext_authz with path_prefix: /gateway/envoy sends the original method and path after the prefix.",
	})
	hasura := map[string]*huma.Response{
		"200": {Description: "The session variables, every value a string: X-Hasura-User-Id, X-Hasura-Role, X-Hasura-Tenant-Id, X-Hasura-Project-Id, X-Hasura-Key-Id, and Cache-Control (max-age=N, never past the key's own end)."},
		"401": {Description: "No valid key, or a request with X-Hasura-Admin-Secret."},
	}
	s.handle(http.MethodGet, HasuraPath, g.Hasura().ServeHTTP, &huma.Operation{
		OperationID: "gateway-hasura-get", Summary: "Hasura auth webhook (GET mode)", Tags: tags, Responses: hasura,
		Description: "The client's headers arrive as this request's own.",
	})
	s.handle(http.MethodPost, HasuraPath, g.Hasura().ServeHTTP, &huma.Operation{
		OperationID: "gateway-hasura-post", Summary: "Hasura auth webhook (POST mode)", Tags: tags, Responses: hasura,
		Description: "The client's headers arrive in the body: {\"headers\": {…}, \"request\": {…}}.",
	})
}

// handleAny registers a plain handler for every method of path, described in the document as
// a GET.
func (s *Server) handleAny(path string, h http.Handler, doc *huma.Operation) {
	s.routes = append(s.routes, Route{Method: AnyMethod, Path: path})
	s.mux.Handle(path, h)
	doc.Method, doc.Path = http.MethodGet, path
	s.api.OpenAPI().AddOperation(doc)
}
