package gateway_test

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// extAuthzFixture is newFixture's gateway (the same store, verifier, policy and trusted
// proxies: loopback) answering Envoy's ext_authz gRPC service on a real gRPC server, with a
// real client.
type extAuthzFixture struct {
	*fixture
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient
}

func newExtAuthzFixture(t *testing.T) *extAuthzFixture {
	t.Helper()
	f := newFixture(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.NewExtAuthzServer(f.g)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-served
	})
	return &extAuthzFixture{fixture: f, conn: conn, client: authv3.NewAuthorizationClient(conn)}
}

// envoyRequest is what Envoy's HTTP ext_authz filter sends for a request from source: the
// method and path (with its query) in their own fields and again as pseudo-headers, every
// header name in lower case.
func envoyRequest(method, uri, source string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{":authority": "api.example.com", ":method": method, ":path": uri, ":scheme": "https", "x-request-id": "7f1c"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: source, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50113}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "7f1c", Method: method, Path: uri, Host: "api.example.com", Scheme: "https", Protocol: "HTTP/1.1", Headers: h,
		}},
	}}
}

// check sends req and returns Envoy's answer.
func (f *extAuthzFixture) check(req *authv3.CheckRequest) *authv3.CheckResponse {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := f.client.Check(ctx, req)
	if err != nil {
		f.t.Fatalf("Check: %v", err)
	}
	return res
}

// headerOf is the value of the change to header name in opts, and its append action.
func headerOf(opts []*corev3.HeaderValueOption, name string) (string, corev3.HeaderValueOption_HeaderAppendAction, bool) {
	for _, o := range opts {
		if strings.EqualFold(o.GetHeader().GetKey(), name) {
			return o.GetHeader().GetValue(), o.GetAppendAction(), true
		}
	}
	return "", 0, false
}

// identityHeaders are the policy's identity header names, as Envoy writes them.
var identityHeaders = []string{
	"x-keyward-key-id", "x-keyward-account-id", "x-keyward-project-id", "x-keyward-environment-id",
	"x-keyward-user-id", "x-keyward-role", "x-keyward-scopes",
}

// TestExtAuthz is Envoy's gRPC contract: a valid key lets the request through with who it
// is; a missing, garbage or revoked one is refused 401; a missing scope 403 naming it; over
// the limit 429 with Retry-After; and each refusal carries the HTTP front doors' answer.
func TestExtAuthz(t *testing.T) {
	f := newExtAuthzFixture(t)
	k, good := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:write", "orders:read"}, RateLimit: &keyward.RateLimit{Rate: 100, Period: time.Second, Burst: 100}})
	_, narrow := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	revokedKey, revoked := f.key(keyward.CreateKeyInput{})
	if _, err := f.svc.RevokeKey(context.Background(), f.owner, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	bearer := func(secret string) map[string]string { return map[string]string{"authorization": "Bearer " + secret} }
	const client = "203.0.113.9"
	for _, tc := range []struct {
		name      string
		method    string
		uri       string
		headers   map[string]string
		code      codes.Code
		status    int // of the denied response; 0 when allowed
		challenge string
	}{
		{"valid key, needed scope", "POST", "/v1/orders?ref=x", bearer(good), codes.OK, 0, ""},
		{"public route, no key", "GET", "/health", nil, codes.OK, 0, ""},
		{"no key", "POST", "/v1/orders", nil, codes.Unauthenticated, 401, `Bearer realm="keyward"`},
		{"garbage", "POST", "/v1/orders", bearer("letmein"), codes.Unauthenticated, 401, `Bearer realm="keyward", error="invalid_token"`},
		{"revoked", "POST", "/v1/orders", bearer(revoked), codes.Unauthenticated, 401, `Bearer realm="keyward", error="invalid_token"`},
		{"missing scope", "POST", "/v1/orders", bearer(narrow), codes.PermissionDenied, 403, `Bearer realm="keyward", error="insufficient_scope", scope="orders:write"`},
		{"public route, a query", "GET", "/health?probe=1", nil, codes.OK, 0, ""},
		{"X-API-Key", "GET", "/v1/orders/7", map[string]string{"x-api-key": narrow}, codes.OK, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.check(envoyRequest(tc.method, tc.uri, client, tc.headers))
			if got := codes.Code(res.GetStatus().GetCode()); got != tc.code {
				t.Fatalf("status %v (%s), want %v", got, res.GetStatus().GetMessage(), tc.code)
			}
			if tc.code == codes.OK {
				if res.GetOkResponse() == nil {
					t.Fatalf("allowed without an OkHttpResponse: %v", res)
				}
				return
			}
			denied := res.GetDeniedResponse()
			if got := int(denied.GetStatus().GetCode()); got != tc.status {
				t.Errorf("HTTP status %d, want %d", got, tc.status)
			}
			if got, _, _ := headerOf(denied.GetHeaders(), "WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if got, _, _ := headerOf(denied.GetHeaders(), "Content-Type"); got != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", got)
			}
			var problem httpwire.Problem
			if err := json.Unmarshal([]byte(denied.GetBody()), &problem); err != nil || problem.Status != tc.status {
				t.Errorf("body %q: %v, want a problem with status %d", denied.GetBody(), err, tc.status)
			}
		})
	}

	t.Run("identity headers", func(t *testing.T) {
		// The client poses as another key and as a user; the key acts for none.
		spoofed := map[string]string{"authorization": "Bearer " + good, "x-keyward-key-id": "key_other", "x-keyward-user-id": "usr_root"}
		ok := f.check(envoyRequest("POST", "/v1/orders", client, spoofed)).GetOkResponse()
		for name, want := range map[string]string{
			"x-keyward-key-id": k.ID, "x-keyward-account-id": k.AccountID, "x-keyward-project-id": f.proj.ID,
			"x-keyward-scopes": "orders:write orders:read", "ratelimit": `"rate";r=98;t=1`, // its second use
		} {
			got, action, found := headerOf(ok.GetHeaders(), name)
			if !found || got != want || action != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				t.Errorf("%s = %q (found %v, %v), want %q, overwriting", name, got, found, action, want)
			}
		}
		// Envoy removes headers after it sets them: every identity header is either set
		// (overwriting the client's) or removed, never both.
		for _, name := range identityHeaders {
			_, _, set := headerOf(ok.GetHeaders(), name)
			if removed := slices.Contains(ok.GetHeadersToRemove(), name); set == removed {
				t.Errorf("%s: set %v, removed %v; want exactly one", name, set, removed)
			}
		}
		if !slices.Contains(ok.GetHeadersToRemove(), "x-keyward-user-id") {
			t.Errorf("headers_to_remove = %v: the client's X-Keyward-User-Id would reach the upstream", ok.GetHeadersToRemove())
		}
	})

	t.Run("public route sends no identity", func(t *testing.T) {
		ok := f.check(envoyRequest("GET", "/health", client, map[string]string{"x-keyward-key-id": "key_other"})).GetOkResponse()
		if len(ok.GetHeaders()) != 0 {
			t.Errorf("headers = %v, want none", ok.GetHeaders())
		}
		if got := ok.GetHeadersToRemove(); !slices.Equal(got, identityHeaders) {
			t.Errorf("headers_to_remove = %v, want %v", got, identityHeaders)
		}
	})

	t.Run("the 403 names the scope", func(t *testing.T) {
		body := f.check(envoyRequest("POST", "/v1/orders", client, bearer(narrow))).GetDeniedResponse().GetBody()
		if !strings.Contains(body, "orders:write") || !strings.Contains(body, `"code":"insufficient_scope"`) {
			t.Errorf("the 403's body does not name the missing scope: %s", body)
		}
	})

	t.Run("over the rate limit", func(t *testing.T) {
		_, limited := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:write"}, RateLimit: &keyward.RateLimit{Rate: 1, Period: time.Minute, Burst: 1}})
		req := envoyRequest("POST", "/v1/orders", client, bearer(limited))
		if first := f.check(req); first.GetStatus().GetCode() != int32(codes.OK) {
			t.Fatalf("first use: %v, want OK", first.GetStatus())
		}
		res := f.check(req)
		denied := res.GetDeniedResponse()
		retry, _, _ := headerOf(denied.GetHeaders(), "Retry-After")
		rl, _, _ := headerOf(denied.GetHeaders(), "RateLimit")
		policy, _, _ := headerOf(denied.GetHeaders(), "RateLimit-Policy")
		if codes.Code(res.GetStatus().GetCode()) != codes.ResourceExhausted || denied.GetStatus().GetCode() != 429 || retry == "" || rl == "" || policy == "" {
			t.Errorf("over the limit: %v, HTTP %d, Retry-After %q, RateLimit %q, RateLimit-Policy %q; want RESOURCE_EXHAUSTED, 429 and all three",
				res.GetStatus(), denied.GetStatus().GetCode(), retry, rl, policy)
		}
	})
}

// TestExtAuthzClientAddress: a key limited to some networks is judged by the source address
// Envoy reports, or, when that is a trusted proxy, by X-Forwarded-For; an untrusted source's
// X-Forwarded-For is not believed.
func TestExtAuthzClientAddress(t *testing.T) {
	f := newExtAuthzFixture(t)
	_, secret := f.key(keyward.CreateKeyInput{AllowedIPs: []string{"203.0.113.0/24"}})
	for _, tc := range []struct {
		name, source, forwardedFor string
		code                       codes.Code
	}{
		{"source inside", "203.0.113.9", "", codes.OK},
		{"source outside", "198.51.100.7", "", codes.PermissionDenied},
		{"trusted proxy, client inside", "127.0.0.1", "203.0.113.9", codes.OK},
		{"trusted proxy, client outside", "127.0.0.1", "203.0.113.9, 198.51.100.7", codes.PermissionDenied},
		{"untrusted source claims to be inside", "198.51.100.7", "203.0.113.9", codes.PermissionDenied},
		{"IPv6 source outside", "2001:db8::1", "", codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"authorization": "Bearer " + secret}
			if tc.forwardedFor != "" {
				h["x-forwarded-for"] = tc.forwardedFor
			}
			res := f.check(envoyRequest("GET", "/v1/catalog", tc.source, h))
			if got := codes.Code(res.GetStatus().GetCode()); got != tc.code {
				t.Fatalf("status %v (%s), want %v", got, res.GetStatus().GetMessage(), tc.code)
			}
			if denied := res.GetDeniedResponse(); tc.code == codes.PermissionDenied && (denied.GetStatus().GetCode() != 403 || !strings.Contains(denied.GetBody(), `"code":"forbidden"`)) {
				t.Errorf("HTTP status %d, body %s; want 403 for the network", denied.GetStatus().GetCode(), denied.GetBody())
			}
		})
	}
}

// TestExtAuthzRequestShapes: the raw header list Envoy sends with encode_raw_headers carries
// the credential too; a check without an HTTP request (the network filter's) is refused.
func TestExtAuthzRequestShapes(t *testing.T) {
	f := newExtAuthzFixture(t)
	_, secret := f.key(keyward.CreateKeyInput{})
	req := envoyRequest("GET", "/v1/catalog", "203.0.113.9", nil)
	hr := req.GetAttributes().GetRequest().GetHttp()
	hr.Headers = nil
	hr.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":path", RawValue: []byte("/v1/catalog")}, {Key: "authorization", RawValue: []byte("Bearer " + secret)},
	}}
	if res := f.check(req); res.GetStatus().GetCode() != int32(codes.OK) {
		t.Errorf("raw headers: %v, want OK", res.GetStatus())
	}
	req.Attributes.Request = nil
	if res := f.check(req); codes.Code(res.GetStatus().GetCode()) != codes.InvalidArgument {
		t.Errorf("no HTTP request: %v, want INVALID_ARGUMENT", res.GetStatus())
	}
}

// TestExtAuthzHealth: Envoy's gRPC health check sees the server and the service SERVING.
func TestExtAuthzHealth(t *testing.T) {
	f := newExtAuthzFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, service := range []string{"", authv3.Authorization_ServiceDesc.ServiceName} {
		res, err := healthpb.NewHealthClient(f.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q = %v, %v; want SERVING", service, res.GetStatus(), err)
		}
	}
}

// TestExtAuthzContextExtensions: a route's context_extensions (check_settings in Envoy's
// per-route configuration) play the auth URL's query: they set what the route needs.
func TestExtAuthzContextExtensions(t *testing.T) {
	f := newExtAuthzFixture(t)
	_, reader := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	req := envoyRequest("GET", "/anything", "127.0.0.1", map[string]string{"authorization": "Bearer " + reader})
	if res := f.check(req); codes.Code(res.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("without extensions = %v, want OK", res.GetStatus())
	}
	req.Attributes.ContextExtensions = map[string]string{"scopes": "orders:write"}
	res := f.check(req)
	if got := codes.Code(res.GetStatus().GetCode()); got != codes.PermissionDenied {
		t.Errorf("with scopes=orders:write = %v, want PermissionDenied", got)
	}
	if body := res.GetDeniedResponse().GetBody(); !strings.Contains(body, "orders:write") {
		t.Errorf("the refusal %q does not name the missing scope", body)
	}
}
