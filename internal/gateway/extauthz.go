package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Envoy's ext_authz filter over gRPC (envoy.service.auth.v3.Authorization): for each request,
// Envoy sends a CheckRequest describing it, attributes.request.http (the method, the path with
// its query, the headers with lower-case names) and attributes.source (the downstream peer as
// Envoy sees it), and waits for a CheckResponse. Status OK lets the request go upstream with
// the OkHttpResponse's header changes; any other status refuses it, and Envoy sends the client
// the DeniedHttpResponse: its status, headers and body.

// ExtAuthz answers Envoy's ext_authz gRPC service through the gateway's one decision.
type ExtAuthz struct {
	authv3.UnimplementedAuthorizationServer
	g *Gateway
}

var _ authv3.AuthorizationServer = (*ExtAuthz)(nil)

// ExtAuthz returns the gateway's ext_authz gRPC service.
func (g *Gateway) ExtAuthz() *ExtAuthz { return &ExtAuthz{g: g} }

// NewExtAuthzServer returns a gRPC server that answers Envoy's ext_authz Authorization service
// for g, and the standard health service (grpc.health.v1), which reports SERVING for the
// server as a whole ("") and for envoy.service.auth.v3.Authorization, so that an Envoy cluster
// with a gRPC health check can probe it. A health Watch stream lasts until its client ends it:
// stop the server with GracefulStop under a bound.
func NewExtAuthzServer(g *Gateway) *grpc.Server {
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, g.ExtAuthz())
	hs := health.NewServer()
	hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return s
}

// Check judges the request Envoy describes. The original path's query is left out of the
// match, as for the HTTP front doors. The client is the source address Envoy reports, unless
// that is a trusted proxy (--trusted-proxies), in which case X-Forwarded-For names it, as
// httpwire.Proxies reads it for an HTTP request. There is no auth URL; its query's part is
// played by the route's context_extensions (check_settings in Envoy's per-route
// configuration): scopes, permissions and cost set there override the route policy.
//
// A refusal is not a gRPC error: Envoy would treat an error as an outage (failure_mode_allow,
// status_on_error), while a refusal must reach the client as Keyward's own answer.
func (s *ExtAuthz) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	attrs := req.GetAttributes()
	hr := attrs.GetRequest().GetHttp()
	if hr == nil {
		// The network ext_authz filter describes a connection, not a request: there is no
		// credential to judge.
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.InvalidArgument),
			Message: "the check request describes no HTTP request; Keyward judges HTTP requests only"}}, nil
	}
	h := envoyHeaders(hr)
	source := attrs.GetSource().GetAddress().GetSocketAddress().GetAddress()
	d := s.g.Decide(ctx, Request{
		Method: hr.GetMethod(), Path: requestPath(hr.GetPath()), Header: h,
		ClientIP: s.g.proxies.ClientIPOf(source, h.Values("X-Forwarded-For")),
		Override: contextOverride(attrs.GetContextExtensions()),
	})
	if d.Allowed() {
		return s.g.envoyAllow(d), nil
	}
	return s.g.envoyDeny(d), nil
}

// contextOverride reads a route's context_extensions as an auth URL's query is read.
func contextOverride(ext map[string]string) url.Values {
	if len(ext) == 0 {
		return nil
	}
	v := url.Values{}
	for k, s := range ext {
		v.Set(k, s)
	}
	return v
}

// envoyHeaders is the original request's header, from the map Envoy sends by default (one
// entry a name, repeated values joined by commas), or from the list it sends instead with
// encode_raw_headers.
func envoyHeaders(hr *authv3.AttributeContext_HttpRequest) http.Header {
	h := http.Header{}
	for k, v := range hr.GetHeaders() {
		h.Add(textproto.CanonicalMIMEHeaderKey(k), v)
	}
	for _, hv := range hr.GetHeaderMap().GetHeaders() {
		v := string(hv.GetRawValue())
		if v == "" {
			v = hv.GetValue()
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(hv.GetKey()), v)
	}
	return h
}

// envoyAllow lets an allowed request go upstream with the identity headers, overwriting any
// the client sent under the same names. Envoy applies headers_to_remove after the headers it
// sets, so only the identity headers this answer does not set are removed: the client cannot
// send its own X-Keyward-User-Id for a key that acts for no user, nor any identity header on
// a public route.
func (g *Gateway) envoyAllow(d Decision) *authv3.CheckResponse {
	h := g.IdentityHeaders(d)
	remove := g.unsetIdentityHeaders(h)
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: headerOptions(h), HeadersToRemove: remove,
		}},
	}
}

// envoyDeny refuses a request with the answer the HTTP front doors give: the problem's status,
// its headers (WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy), and its
// problem+json body. The gRPC status says the same to Envoy, for its logs and statistics.
func (g *Gateway) envoyDeny(d Decision) *authv3.CheckResponse {
	p := g.Refusal(d)
	h := p.Header()
	// What httpwire.WriteProblem and the HTTP front doors add; Envoy's local reply would
	// otherwise call the body text/plain.
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	var body strings.Builder
	_ = json.NewEncoder(&body).Encode(p)
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(refusalCode(p.Status)), Message: p.Detail},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(p.Status)},
			Headers: headerOptions(h),
			Body:    body.String(),
		}},
	}
}

// refusalCode is the gRPC status of a refusal with an HTTP status. Envoy reads only whether
// it is OK; the code is for its logs and for people reading them.
func refusalCode(status int) codes.Code {
	switch status {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	default:
		return codes.PermissionDenied
	}
}

// headerOptions are h's fields as Envoy's header changes, in name order, names in lower case
// (as HTTP/2 writes them). The first value of a field overwrites the field, so that a client's
// own value never survives beside Keyward's; a later value (a second RateLimit-Policy) is
// added beside it.
func headerOptions(h http.Header) []*corev3.HeaderValueOption {
	var opts []*corev3.HeaderValueOption
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for i, v := range h[name] {
			action := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			if i > 0 {
				action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
			}
			opts = append(opts, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: strings.ToLower(name), Value: v},
				AppendAction: action,
			})
		}
	}
	return opts
}
