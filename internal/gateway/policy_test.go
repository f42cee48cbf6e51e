package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	yamlPolicy := `
routes:
  - method: GET
    path: /health
    public: true
  - method: POST
    path: /v1/orders
    scopes: [orders:write]
    cost: 2
  - path: /v1/orders/{id}
    scopes: [orders:read]
  - path: /admin/
    permissions: admin.access AND projects.read
headers:
  key_id: X-Key-Id
key_header: X-Custom-Key
hasura:
  roles: {owner: admin}
  max_age: 30s
upstreams:
  - url: http://127.0.0.1:9000
  - host: api.example.com
    path_prefix: /v2/
    url: https://v2.internal
`
	jsonPolicy := `{"routes": [{"method": "GET", "path": "/health", "public": true}], "headers": {"role": "X-Role"}}`
	for name, src := range map[string]string{"yaml": yamlPolicy, "json": jsonPolicy, "empty": ""} {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(src))
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if p.Headers.Scopes != DefaultScopesHeader {
				t.Errorf("an unnamed header = %q, want the default", p.Headers.Scopes)
			}
			if p.Hasura.DefaultRole != "user" {
				t.Errorf("hasura default role = %q, want user", p.Hasura.DefaultRole)
			}
		})
	}
	p, _ := ParsePolicy([]byte(yamlPolicy))
	if p.Headers.KeyID != "X-Key-Id" || p.Hasura.CacheFor() != 30*time.Second {
		t.Errorf("headers, max_age = %q, %v", p.Headers.KeyID, p.Hasura.CacheFor())
	}
	if p.Upstreams[0].Host != "api.example.com" {
		t.Errorf("upstreams in order %+v, want the more specific first", p.Upstreams)
	}
}

// TestParsePolicyReportsEveryMistake: a policy is checked at start, and every mistake is
// listed at once, so that one start shows what to fix.
func TestParsePolicyReportsEveryMistake(t *testing.T) {
	src := `
routes:
  - path: /a
    public: true
    scopes: [x]
  - path: no-slash
  - method: get
    path: /b
  - path: /c
    scopes: ["bad scope"]
  - path: /d
    permissions: "a AND ("
  - path: /e
    cost: -1
  - method: GET
    path: /e
  - method: GET
    path: /e
headers:
  role: "X Role"
upstreams:
  - url: ftp://nope
hasura:
  max_age: -1s
`
	_, err := ParsePolicy([]byte(src))
	if err == nil {
		t.Fatal("ParsePolicy accepted a policy full of mistakes")
	}
	for _, want := range []string{
		"routes[0]: a public route", "routes[1]: path must start with /", "routes[2]: method \"get\"",
		"routes[3]: scope \"bad scope\"", "routes[4]: permissions", "routes[5]: cost", "routes[7]",
		"headers.role", "upstreams[0]: url", "hasura.max_age",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
	// A mistake of shape (an unknown field, a string for a list, a bad duration) is reported
	// beside the others, not instead of them.
	_, err = ParsePolicy([]byte("routes:\n  - path: /x\n    scope: [oops]\n  - path: /y\n    scopes: solo\n  - path: z\nhasura:\n  max_age: soon\n"))
	for _, want := range []string{"field scope not found", "line 5", "routes[2]: path must start with /", `hasura.max_age: "soon"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
}

func TestMatch(t *testing.T) {
	p, err := ParsePolicy([]byte(`
routes:
  - {method: GET, path: /health, public: true}
  - {method: POST, path: /v1/orders, scopes: [orders:write]}
  - {path: "/v1/orders/{id}", scopes: [orders:read]}
  - {path: /admin/, scopes: [admin]}
default: {scopes: [basic]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		want         []string
		public       bool
	}{
		{"GET", "/health", nil, true},
		{"HEAD", "/health", nil, true}, // GET patterns match HEAD, as ServeMux's do
		{"POST", "/health", []string{"basic"}, false},
		{"POST", "/v1/orders", []string{"orders:write"}, false},
		{"GET", "/v1/orders/42", []string{"orders:read"}, false},
		{"GET", "/admin/users/7", []string{"admin"}, false},
		{"GET", "/admin", []string{"basic"}, false},
		// Dot segments and doubled slashes are cleaned first: no slipping past a rule.
		{"GET", "/health/../admin/secret", []string{"admin"}, false},
		{"GET", "//admin//x", []string{"admin"}, false},
		{"GET", "", []string{"basic"}, false},
	} {
		r := p.Match(tt.method, tt.path)
		if r.Public != tt.public || strings.Join(r.Scopes, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Match(%s %s) = public %v scopes %v, want public %v scopes %v", tt.method, tt.path, r.Public, r.Scopes, tt.public, tt.want)
		}
	}
	var none *Policy
	if r := none.Match("GET", "/x"); r.Public || len(r.Scopes) != 0 {
		t.Errorf("no policy: %+v, want a valid key and nothing more", r)
	}
}
