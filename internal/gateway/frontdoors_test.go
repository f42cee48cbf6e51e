package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
)

// fixture is a gateway over a real SQLite store and verifier, its front doors served on a
// real HTTP server, and an account to make keys in.
type fixture struct {
	t     testing.TB
	url   string
	g     *gateway.Gateway
	svc   *keyward.Service
	owner keyward.Principal
	proj  *keyward.Project
	now   time.Time
	// logs is what the gateway logged.
	logs *syncBuffer
}

const testPolicy = `
routes:
  - {method: GET, path: /health, public: true}
  - {method: POST, path: /v1/orders, scopes: [orders:write]}
  - {path: "/v1/orders/{id}", scopes: [orders:read]}
  - {path: /admin/, permissions: admin.access}
hasura:
  roles: {owner: admin}
  max_age: 120s
`

// loopback trusts the test's own address as a proxy in front of the gateway.
var loopback = httpwire.Proxies{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, testPolicy, loopback)
}

// newFixtureWith is newFixture with a policy and trusted proxies of the test's own.
func newFixtureWith(t testing.TB, policyText string, proxies httpwire.Proxies) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := keyformat.NewHasher(keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, now: time.Now().UTC().Truncate(time.Second), logs: &syncBuffer{}}
	clock := func() time.Time { return f.now }
	limiter := ratelimit.NewMemory()
	v := verify.New(store, hasher, verify.Config{Now: clock, Limiter: limiter, Resolver: keyward.NewResolver(store)})
	f.svc = keyward.NewService(store, hasher, keyward.WithClock(clock), keyward.WithKeyEvents(v), keyward.WithIdentityEvents(v))
	admin, _, err := f.svc.CreateAdminKey(ctx, "acme", "root")
	if err != nil {
		t.Fatal(err)
	}
	f.owner = keyward.Principal{AccountID: admin.AccountID, Kind: keyward.KindAdminKey, ID: admin.ID, Permissions: keyward.Permissions{"*"}}
	if f.proj, err = f.svc.CreateProject(ctx, f.owner, keyward.CreateProjectInput{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	policy, err := gateway.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(gateway.Config{Verdicts: v, Policy: policy, Now: clock, Proxies: proxies,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	f.g = g
	mux := http.NewServeMux()
	mux.Handle("/gateway/forward-auth", g.ForwardAuth())
	mux.Handle("/gateway/nginx", g.Nginx())
	mux.Handle("/gateway/envoy/", g.EnvoyHTTP("/gateway/envoy/"))
	mux.Handle("/gateway/hasura", g.Hasura())
	srv := httptest.NewServer(mux)
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		v.Close(ctx)
		limiter.Close()
		store.Close()
	})
	return f
}

// key makes a key in the shop project, edited by in.
func (f *fixture) key(in keyward.CreateKeyInput) (*keyward.Key, string) {
	f.t.Helper()
	in.ProjectID, in.Name = f.proj.ID, "k"
	k, secret, err := f.svc.CreateKey(context.Background(), f.owner, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, secret
}

// ask sends a front door's auth request.
func (f *fixture) ask(method, path string, headers map[string]string, body string) *http.Response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return f.send(f.url, method, path, headers, rd)
}

// testClient bounds every request of the tests: a proxy that held an answer back must fail
// a test, not hang it.
var testClient = &http.Client{Timeout: 30 * time.Second}

// send sends a request to base+path with headers (a "Host" header sets the request's host)
// and body, which is streamed; its answer's body is closed when the test ends.
func (f *fixture) send(base, method, path string, headers map[string]string, body io.Reader) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := testClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { res.Body.Close() })
	return res
}

// TestForwardAuth is Traefik's and Caddy's contract: a valid key lets the request through
// with who it is; a missing, garbage or revoked one is 401; a missing scope 403 naming it;
// over the limit 429 with Retry-After.
func TestForwardAuth(t *testing.T) {
	f := newFixture(t)
	k, good := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:write", "orders:read"}, RateLimit: &keyward.RateLimit{Rate: 100, Period: time.Second, Burst: 100}})
	_, narrow := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	revokedKey, revoked := f.key(keyward.CreateKeyInput{})
	if _, err := f.svc.RevokeKey(context.Background(), f.owner, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	_, limited := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:write"}, RateLimit: &keyward.RateLimit{Rate: 1, Period: time.Minute, Burst: 1}})
	forward := func(method, uri, auth string) map[string]string {
		h := map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": uri, "X-Forwarded-For": "203.0.113.9"}
		if auth != "" {
			h["Authorization"] = "Bearer " + auth
		}
		return h
	}
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		query     string
		status    int
		challenge string
	}{
		{"valid key, needed scope", forward("POST", "/v1/orders?ref=x", good), "", 200, ""},
		{"public route, no key", forward("GET", "/health", ""), "", 200, ""},
		{"no key", forward("POST", "/v1/orders", ""), "", 401, `Bearer realm="keyward"`},
		{"garbage", forward("POST", "/v1/orders", "letmein"), "", 401, `Bearer realm="keyward", error="invalid_token"`},
		{"revoked", forward("POST", "/v1/orders", revoked), "", 401, `Bearer realm="keyward", error="invalid_token"`},
		{"missing scope", forward("POST", "/v1/orders", narrow), "", 403, `Bearer realm="keyward", error="insufficient_scope", scope="orders:write"`},
		{"scope by the auth URL", forward("GET", "/anything", narrow), "?scopes=orders:read", 200, ""},
		{"scope by the auth URL, missing", forward("GET", "/anything", narrow), "?scopes=billing", 403, `Bearer realm="keyward", error="insufficient_scope", scope="billing"`},
		{"X-API-Key", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/orders/7", "X-API-Key": narrow}, "", 200, ""},
		{"the permission query", forward("GET", "/admin/x", good), "", 403, `Bearer realm="keyward", error="insufficient_scope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.ask("GET", "/gateway/forward-auth"+tc.query, tc.headers, "")
			if res.StatusCode != tc.status {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d %s, want %d", res.StatusCode, b, tc.status)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
		})
	}
	res := f.ask("GET", "/gateway/forward-auth", forward("POST", "/v1/orders", good), "")
	for name, want := range map[string]string{
		"X-Keyward-Key-Id": k.ID, "X-Keyward-Account-Id": k.AccountID, "X-Keyward-Project-Id": f.proj.ID,
		"X-Keyward-Scopes": "orders:write orders:read", "Ratelimit": `"rate";r=98;t=1`, // its second use
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if res.Header.Get("X-Keyward-User-Id") != "" {
		t.Error("a key acting for no user got X-Keyward-User-Id")
	}
	b, _ := io.ReadAll(f.ask("GET", "/gateway/forward-auth", forward("POST", "/v1/orders", narrow), "").Body)
	if !strings.Contains(string(b), "orders:write") || !strings.Contains(string(b), `"code":"insufficient_scope"`) {
		t.Errorf("the 403's body does not name the missing scope: %s", b)
	}

	f.ask("GET", "/gateway/forward-auth", forward("POST", "/v1/orders", limited), "")
	res = f.ask("GET", "/gateway/forward-auth", forward("POST", "/v1/orders", limited), "")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit") == "" {
		t.Errorf("over the limit: %d, Retry-After %q, RateLimit %q; want 429 with both", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("RateLimit"))
	}
}

// TestNginxMapsLimitsTo403: nginx passes on only 2xx, 401 and 403.
func TestNginxMapsLimitsTo403(t *testing.T) {
	f := newFixture(t)
	_, limited := f.key(keyward.CreateKeyInput{RateLimit: &keyward.RateLimit{Rate: 1, Period: time.Minute, Burst: 1}})
	h := map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/orders/1", "Authorization": "Bearer " + limited}
	_ = f.ask("GET", "/gateway/nginx?scopes=", h, "")
	res := f.ask("GET", "/gateway/nginx?scopes=", h, "")
	if res.StatusCode != 403 || res.Header.Get(gateway.StatusHeader) != "429" || res.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit through nginx: %d, %s %q, Retry-After %q; want 403 with 429 and Retry-After",
			res.StatusCode, gateway.StatusHeader, res.Header.Get(gateway.StatusHeader), res.Header.Get("Retry-After"))
	}
	if res := f.ask("GET", "/gateway/nginx", map[string]string{"X-Original-URI": "/v1/orders/1"}, ""); res.StatusCode != 401 {
		t.Errorf("no key through nginx = %d, want 401", res.StatusCode)
	}
}

// TestEnvoyHTTP: Envoy sends the original method, and the original path after the prefix.
func TestEnvoyHTTP(t *testing.T) {
	f := newFixture(t)
	_, reader := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	if res := f.ask("GET", "/gateway/envoy/v1/orders/9", map[string]string{"Authorization": "Bearer " + reader}, ""); res.StatusCode != 200 {
		t.Errorf("GET /v1/orders/9 = %d, want 200", res.StatusCode)
	}
	if res := f.ask("POST", "/gateway/envoy/v1/orders", map[string]string{"Authorization": "Bearer " + reader}, ""); res.StatusCode != 403 {
		t.Errorf("POST /v1/orders without orders:write = %d, want 403", res.StatusCode)
	}
	res := f.ask("GET", "/gateway/envoy/health", nil, "")
	if res.StatusCode != 200 {
		t.Errorf("the public route = %d, want 200", res.StatusCode)
	}
	// Envoy only overwrites the identity headers the answer sets: those it does not set are
	// named for removal, so that a client's own copies never pass upstream.
	if got := res.Header.Get(gateway.EnvoyRemoveHeader); !strings.Contains(got, "x-keyward-key-id") || !strings.Contains(got, "x-keyward-user-id") {
		t.Errorf("the public route's %s = %q, want every identity header", gateway.EnvoyRemoveHeader, got)
	}
	res = f.ask("GET", "/gateway/envoy/v1/orders/9", map[string]string{"Authorization": "Bearer " + reader}, "")
	if got := res.Header.Get(gateway.EnvoyRemoveHeader); !strings.Contains(got, "x-keyward-user-id") || strings.Contains(got, "x-keyward-key-id") {
		t.Errorf("a key without a user: %s = %q, want x-keyward-user-id and not x-keyward-key-id", gateway.EnvoyRemoveHeader, got)
	}
}

// TestHasura is Hasura's documented webhook contract, in both modes.
func TestHasura(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user, err := f.svc.CreateUser(ctx, f.owner, keyward.CreateUserInput{Email: "ada@example.com", RoleID: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	expires := f.now.Add(45 * time.Second)
	k, secret := f.key(keyward.CreateKeyInput{UserID: user.ID, ExpiresAt: &expires})
	_, plain := f.key(keyward.CreateKeyInput{})

	decode := func(res *http.Response) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := map[string]any{
		"X-Hasura-User-Id": user.ID, "X-Hasura-Role": "admin", "X-Hasura-Tenant-Id": k.AccountID,
		"X-Hasura-Project-Id": f.proj.ID, "X-Hasura-Key-Id": k.ID,
		// The key ends in 45 s, sooner than the policy's 120 s.
		"Cache-Control": "max-age=45",
	}
	check := func(mode string, res *http.Response) {
		t.Helper()
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", mode, res.StatusCode)
		}
		got := decode(res)
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %s = %#v, want %#v (a string)", mode, name, got[name], w)
			}
		}
	}
	check("GET", f.ask("GET", "/gateway/hasura", map[string]string{"Authorization": "Bearer " + secret}, ""))
	body, _ := json.Marshal(map[string]any{"headers": map[string]string{"authorization": "Bearer " + secret, "content-type": "application/json"},
		"request": map[string]any{"query": "{ orders { id } }", "variables": nil, "operationName": nil}})
	check("POST", f.ask("POST", "/gateway/hasura", nil, string(body)))

	// A key without a role takes the default role, with the policy's own max-age.
	res := f.ask("GET", "/gateway/hasura", map[string]string{"X-API-Key": plain}, "")
	if got := decode(res); got["X-Hasura-Role"] != "user" || got["Cache-Control"] != "max-age=120" || got["X-Hasura-User-Id"] != nil {
		t.Errorf("a plain key's session = %v, want role user, max-age=120, no user", got)
	}

	for name, h := range map[string]map[string]string{
		"no key":       nil,
		"garbage":      {"Authorization": "Bearer nope"},
		"admin secret": {"Authorization": "Bearer " + secret, "X-Hasura-Admin-Secret": "s3cret"},
	} {
		if res := f.ask("GET", "/gateway/hasura", h, ""); res.StatusCode != 401 {
			t.Errorf("GET %s = %d, want 401", name, res.StatusCode)
		}
	}
	adminPost, _ := json.Marshal(map[string]any{"headers": map[string]string{"Authorization": "Bearer " + secret, "x-hasura-admin-secret": "s3cret"}, "request": map[string]any{}})
	if res := f.ask("POST", "/gateway/hasura", nil, string(adminPost)); res.StatusCode != 401 {
		t.Errorf("POST with an admin secret = %d, want 401", res.StatusCode)
	}
	f.now = expires.Add(time.Second)
	if res := f.ask("GET", "/gateway/hasura", map[string]string{"Authorization": "Bearer " + secret}, ""); res.StatusCode != 401 {
		t.Errorf("an expired key = %d, want 401", res.StatusCode)
	}
}

// syncBuffer is a bytes.Buffer that a server's goroutines may write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
