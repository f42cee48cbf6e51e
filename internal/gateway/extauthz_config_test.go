package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpapi"
)

// The Envoy configuration that docs/integrations.md shows, kept here so that it is known to
// parse as Envoy's own types (go-control-plane, the protos Envoy is built from) and to name
// what Keyward serves.

// envoyHTTPFilters puts Keyward in front of a route through its HTTP service.
const envoyHTTPFilters = `
http_filters:
  - name: envoy.filters.http.ext_authz
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
      http_service:
        server_uri:
          uri: http://keyward:8080
          cluster: keyward
          timeout: 0.5s
        # Keyward reads the original path after this prefix.
        path_prefix: /gateway/envoy
        authorization_response:
          # Who the key stands for goes upstream, overwriting what the client sent.
          allowed_upstream_headers:
            patterns:
              - prefix: x-keyward-
          # A refusal reaches the client with its challenge, its limits and its body's type.
          allowed_client_headers:
            patterns:
              - exact: www-authenticate
              - exact: retry-after
              - exact: ratelimit
              - exact: ratelimit-policy
              - exact: content-type
      # What Keyward reads: the key, and the client's address (list Envoy in --trusted-proxies).
      allowed_headers:
        patterns:
          - exact: authorization
          - exact: x-api-key
          - exact: x-forwarded-for
      # Keyward unreachable: refuse (failure_mode_allow is false) with 503, not 403.
      status_on_error:
        code: ServiceUnavailable
  - name: envoy.filters.http.router
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`

// envoyGRPCFilters puts Keyward in front of a route through its gRPC service
// (keyward serve --ext-authz-grpc-addr).
const envoyGRPCFilters = `
http_filters:
  - name: envoy.filters.http.ext_authz
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
      transport_api_version: V3
      grpc_service:
        envoy_grpc:
          cluster_name: keyward_ext_authz
        timeout: 0.5s
      # What Keyward reads: the key, and the client's address. Without this list Envoy
      # sends every header, cookies included.
      allowed_headers:
        patterns:
          - exact: authorization
          - exact: x-api-key
          - exact: x-forwarded-for
      # Keyward unreachable: refuse (failure_mode_allow is false) with 503, not 403.
      status_on_error:
        code: ServiceUnavailable
  - name: envoy.filters.http.router
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`

// envoyGRPCCluster is the cluster the gRPC filter calls: gRPC needs HTTP/2, and the health
// check asks Keyward's health service about the Authorization service.
const envoyGRPCCluster = `
clusters:
  - name: keyward_ext_authz
    type: STRICT_DNS
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
    load_assignment:
      cluster_name: keyward_ext_authz
      endpoints:
        - lb_endpoints:
            - endpoint:
                address:
                  socket_address: {address: keyward, port_value: 9191}
    health_checks:
      - timeout: 1s
        interval: 5s
        unhealthy_threshold: 2
        healthy_threshold: 1
        grpc_health_check:
          service_name: envoy.service.auth.v3.Authorization
`

// envoyConfig reads the list under key in a YAML document into messages made by newMsg,
// failing on a field Envoy's types do not have, and checks each with Envoy's own validation
// rules, the typed configs it carries included.
func envoyConfig[M proto.Message](t *testing.T, doc, key string, newMsg func() M) []M {
	t.Helper()
	var top map[string][]any
	if err := yaml.Unmarshal([]byte(doc), &top); err != nil {
		t.Fatal(err)
	}
	var out []M
	for i, item := range top[key] {
		b, err := json.Marshal(item)
		if err != nil {
			t.Fatal(err)
		}
		m := newMsg()
		if err := protojson.Unmarshal(b, m); err != nil {
			t.Fatalf("%s[%d]: %v", key, i, err)
		}
		validate(t, m)
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatalf("no %s in the document", key)
	}
	return out
}

// validate applies Envoy's validation rules (protoc-gen-validate) to m, and to the typed
// configs it carries.
func validate(t *testing.T, m proto.Message) {
	t.Helper()
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%T: %v", m, err)
		}
	}
	var typed []*anypb.Any
	switch m := m.(type) {
	case *hcmv3.HttpFilter:
		typed = append(typed, m.GetTypedConfig())
	case *clusterv3.Cluster:
		for _, a := range m.GetTypedExtensionProtocolOptions() {
			typed = append(typed, a)
		}
	}
	for _, a := range typed {
		inner, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("%s: %v", a.GetTypeUrl(), err)
		}
		validate(t, inner)
	}
}

func newHTTPFilter() *hcmv3.HttpFilter { return &hcmv3.HttpFilter{} }

// extAuthzOf is the ext_authz filter's configuration among filters.
func extAuthzOf(t *testing.T, filters []*hcmv3.HttpFilter) *extauthzv3.ExtAuthz {
	t.Helper()
	if filters[0].GetName() != "envoy.filters.http.ext_authz" || filters[len(filters)-1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("filters %v: want ext_authz first and the router last", filters)
	}
	var cfg extauthzv3.ExtAuthz
	if err := filters[0].GetTypedConfig().UnmarshalTo(&cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// matches reports whether any of Envoy's string matchers in l matches s.
func matches(l *matcherv3.ListStringMatcher, s string) bool {
	for _, p := range l.GetPatterns() {
		if p.GetExact() == s || (p.GetPrefix() != "" && strings.HasPrefix(s, p.GetPrefix())) {
			return true
		}
	}
	return false
}

// checkReadHeaders: Envoy sends Keyward the headers it reads a key from, and the client's
// address.
func checkReadHeaders(t *testing.T, cfg *extauthzv3.ExtAuthz) {
	t.Helper()
	for _, name := range []string{"authorization", strings.ToLower(authn.APIKeyHeader), "x-forwarded-for"} {
		if !matches(cfg.GetAllowedHeaders(), name) {
			t.Errorf("allowed_headers leaves out %s", name)
		}
	}
	if cfg.GetFailureModeAllow() {
		t.Error("failure_mode_allow lets every request through when Keyward is down")
	}
}

func TestEnvoyHTTPConfig(t *testing.T) {
	cfg := extAuthzOf(t, envoyConfig(t, envoyHTTPFilters, "http_filters", newHTTPFilter))
	checkReadHeaders(t, cfg)
	svc := cfg.GetHttpService()
	if want := strings.TrimSuffix(httpapi.EnvoyPath, "/"); svc.GetPathPrefix() != want {
		t.Errorf("path_prefix = %q, want %q, where Keyward serves Envoy", svc.GetPathPrefix(), want)
	}
	resp := svc.GetAuthorizationResponse()
	for _, name := range []string{gateway.DefaultKeyIDHeader, gateway.DefaultAccountIDHeader, gateway.DefaultProjectIDHeader,
		gateway.DefaultEnvironmentIDHeader, gateway.DefaultUserIDHeader, gateway.DefaultRoleHeader, gateway.DefaultScopesHeader} {
		if !matches(resp.GetAllowedUpstreamHeaders(), strings.ToLower(name)) {
			t.Errorf("allowed_upstream_headers leaves out %s", name)
		}
	}
	for _, name := range []string{"www-authenticate", "retry-after", "ratelimit", "ratelimit-policy", "content-type"} {
		if !matches(resp.GetAllowedClientHeaders(), name) {
			t.Errorf("allowed_client_headers leaves out %s", name)
		}
	}
}

func TestEnvoyGRPCConfig(t *testing.T) {
	cfg := extAuthzOf(t, envoyConfig(t, envoyGRPCFilters, "http_filters", newHTTPFilter))
	checkReadHeaders(t, cfg)
	if cfg.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		t.Errorf("transport_api_version = %v, want V3", cfg.GetTransportApiVersion())
	}
	clusters := envoyConfig(t, envoyGRPCCluster, "clusters", func() *clusterv3.Cluster { return &clusterv3.Cluster{} })
	c := clusters[0]
	if name := cfg.GetGrpcService().GetEnvoyGrpc().GetClusterName(); c.GetName() != name {
		t.Errorf("the filter calls cluster %q, the cluster is %q", name, c.GetName())
	}
	var opts upstreamhttpv3.HttpProtocolOptions
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&opts); err != nil ||
		opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("the cluster does not speak HTTP/2, which gRPC needs (%v)", err)
	}
	if !slices.ContainsFunc(c.GetHealthChecks(), func(h *corev3.HealthCheck) bool {
		return h.GetGrpcHealthCheck().GetServiceName() == authv3.Authorization_ServiceDesc.ServiceName
	}) {
		t.Errorf("no gRPC health check of %s", authv3.Authorization_ServiceDesc.ServiceName)
	}
}
