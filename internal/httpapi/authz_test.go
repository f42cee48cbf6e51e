package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// authzFixture is one account ("default", the root) with a project, a user and the admin
// key that may do everything; another account ("other-tenant") with its own admin key; and
// in the first account an API key that authenticates but holds no permission.
type authzFixture struct {
	e          *env
	accountID  string
	projectID  string
	userID     string
	otherToken string
	powerless  string
	// powerlessToken is an access token of powerless; tamperedToken one with its claims changed.
	powerlessToken, tamperedToken string
	foreignJWT                    string
	// keyUpdater may update keys but not approve tiers: its tier requests stay pending.
	keyUpdater string
	n          atomic.Int64
}

func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	e := newEnv(t)
	f := &authzFixture{e: e, projectID: e.project("matrix")}
	var who struct {
		Account struct{ ID string }
	}
	e.must(http.StatusOK, "GET", "/v1/whoami", nil).decode(t, &who)
	f.accountID = who.Account.ID
	f.userID = f.user()
	_, other, err := e.svc.CreateAdminKey(t.Context(), "other-tenant", "root")
	if err != nil {
		t.Fatal(err)
	}
	f.otherToken = other
	powerless := e.key(map[string]any{"name": "no permissions"})
	f.powerless = powerless.Key
	f.powerlessToken = e.accessToken(powerless.ID, powerless.Key, "").AccessToken
	f.tamperedToken = tamper(t, f.powerlessToken)
	f.foreignJWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tLyJ9.c2ln"
	return f
}

func (f *authzFixture) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.n.Add(1))
}

func (f *authzFixture) id(r response) string {
	f.e.t.Helper()
	return r.object(f.e.t)["id"].(string)
}

func (f *authzFixture) key() string {
	return f.e.key(map[string]any{"project_id": f.projectID, "name": f.unique("k")}).ID
}

func (f *authzFixture) userKey() string {
	return f.e.key(map[string]any{"user_id": f.userID, "name": f.unique("uk")}).ID
}

func (f *authzFixture) user() string {
	return f.id(f.e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": f.unique("u") + "@example.com"}))
}

func (f *authzFixture) role() string {
	return f.id(f.e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "r", "slug": f.unique("r"), "permissions": []string{"api_keys.read"}}))
}

func (f *authzFixture) tier() string {
	name := f.unique("tier")
	f.e.must(http.StatusCreated, "POST", "/v1/rate-limit-tiers", map[string]any{"name": name, "rate_limit": map[string]any{"rate": 5}})
	return name
}

// tierRequest is a pending request for the high tier, made by a key that may update keys
// but not approve tiers.
func (f *authzFixture) tierRequest() string {
	f.e.t.Helper()
	if f.keyUpdater == "" {
		role := f.id(f.e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "updater", "slug": f.unique("updater"), "permissions": []string{"api_keys.update", "api_keys.read"}}))
		f.keyUpdater = f.e.key(map[string]any{"name": "updater", "role_id": role}).Key
	}
	r := f.e.doAs(f.keyUpdater, "POST", "/v1/api-keys/"+f.key()+"/tier-requests", map[string]any{"tier": "high"})
	if r.status != http.StatusCreated || r.object(f.e.t)["status"] != "pending" {
		f.e.t.Fatalf("tier request = %d %s, want 201 pending", r.status, r.body)
	}
	return f.id(r)
}

// endpoint is a webhook endpoint of the account.
func (f *authzFixture) endpoint() string {
	return f.id(f.e.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://hooks.example.com/" + f.unique("h")}))
}

// message is a message to a new endpoint: the creation of a key.
func (f *authzFixture) message() string {
	f.e.t.Helper()
	ep := f.endpoint()
	f.key()
	var ds []map[string]any
	f.e.must(http.StatusOK, "GET", "/v1/webhook-endpoints/"+ep+"/deliveries", nil).decode(f.e.t, &ds)
	if len(ds) == 0 {
		f.e.t.Fatal("a new key made no message")
	}
	return ds[0]["id"].(string)
}

func (f *authzFixture) member() string {
	return f.id(f.e.must(http.StatusCreated, "POST", "/v1/projects/"+f.projectID+"/members", map[string]any{"api_key_id": f.key(), "role_id": "viewer"}))
}

// authzCase says how to make an allowed request to one route and what each caller gets.
type authzCase struct {
	// prepare makes what the request needs and returns its path and body.
	prepare func(f *authzFixture) (path string, body any)
	// allowed is the status for the account's admin key.
	allowed int
	// otherAccount is the status for another account's admin key: 0 to skip (the route
	// touches no object of the first account), else usually 404.
	otherAccount int
	// lacking is the status for a key without permissions; 0 means 403.
	lacking int
}

func fixed(path string, body any) func(*authzFixture) (string, any) {
	return func(*authzFixture) (string, any) { return path, body }
}

// authzCases has one entry per management route. TestAuthorizationMatrix fails for a route
// that has none, so a new route cannot skip the matrix.
func authzCases() map[string]authzCase {
	project := func(suffix string) func(*authzFixture) (string, any) {
		return func(f *authzFixture) (string, any) { return "/v1/projects/" + f.projectID + suffix, nil }
	}
	return map[string]authzCase{
		"GET /v1/projects": {prepare: fixed("/v1/projects", nil), allowed: 200},
		"POST /v1/projects": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects", map[string]any{"name": f.unique("p")}
		}, allowed: 201},
		"GET /v1/projects/{projectID}": {prepare: project(""), allowed: 200, otherAccount: 404},
		"PATCH /v1/projects/{projectID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID, map[string]any{"leak_policy": "revoke"}
		}, allowed: 200, otherAccount: 404},
		"POST /v1/projects/{projectID}/environments": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID + "/environments", map[string]any{"name": f.unique("env")}
		}, allowed: 201, otherAccount: 404},
		"GET /v1/projects/{projectID}/environments": {prepare: project("/environments"), allowed: 200, otherAccount: 404},
		"POST /v1/api-keys": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys", map[string]any{"project_id": f.projectID, "name": "k"}
		}, allowed: 201, otherAccount: 404},
		"GET /v1/api-keys": {prepare: fixed("/v1/api-keys", nil), allowed: 200},
		"GET /v1/api-keys/{keyID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key(), nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/api-keys/{keyID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key(), map[string]any{"name": "renamed"}
		}, allowed: 200, otherAccount: 404},
		"DELETE /v1/api-keys/{keyID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key(), nil
		}, allowed: 204, otherAccount: 404},
		"POST /v1/api-keys/{keyID}/rotate": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key() + "/rotate", map[string]any{}
		}, allowed: 201, otherAccount: 404},
		"GET /v1/whoami":       {prepare: fixed("/v1/whoami", nil), allowed: 200, lacking: 200},
		"GET /api/v1/users/me": {prepare: fixed("/api/v1/users/me", nil), allowed: 200, lacking: 200},
		"GET /v1/accounts":     {prepare: fixed("/v1/accounts", nil), allowed: 200},
		"POST /v1/accounts": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/accounts", map[string]any{"name": f.unique("tenant")}
		}, allowed: 201, otherAccount: 403},
		"GET /v1/accounts/{accountID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/accounts/" + f.accountID, nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/accounts/{accountID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/accounts/" + f.accountID, map[string]any{"key_prefix": "kw"}
		}, allowed: 200, otherAccount: 404},
		"GET /v1/users": {prepare: fixed("/v1/users", nil), allowed: 200},
		"POST /v1/users": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/users", map[string]any{"email": f.unique("new") + "@example.com"}
		}, allowed: 201},
		"GET /v1/users/{userID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/users/" + f.userID, nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/users/{userID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/users/" + f.user(), map[string]any{"name": "Ada"}
		}, allowed: 200, otherAccount: 404},
		"DELETE /v1/users/{userID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/users/" + f.user(), nil
		}, allowed: 200, otherAccount: 404},
		"GET /v1/roles": {prepare: fixed("/v1/roles", nil), allowed: 200},
		"POST /v1/roles": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/roles", map[string]any{"name": "R", "slug": f.unique("role"), "permissions": []string{"account.read"}}
		}, allowed: 201},
		"GET /v1/roles/{roleID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/roles/" + f.role(), nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/roles/{roleID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/roles/" + f.role(), map[string]any{"name": "renamed"}
		}, allowed: 200, otherAccount: 404},
		"DELETE /v1/roles/{roleID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/roles/" + f.role(), nil
		}, allowed: 204, otherAccount: 404},
		"GET /v1/projects/{projectID}/members": {prepare: project("/members"), allowed: 200, otherAccount: 404},
		"POST /v1/projects/{projectID}/members": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID + "/members", map[string]any{"api_key_id": f.key(), "role_id": "viewer"}
		}, allowed: 201, otherAccount: 404},
		"GET /v1/projects/{projectID}/members/{memberID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID + "/members/" + f.member(), nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/projects/{projectID}/members/{memberID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID + "/members/" + f.member(), map[string]any{"role_id": "member"}
		}, allowed: 200, otherAccount: 404},
		"DELETE /v1/projects/{projectID}/members/{memberID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/projects/" + f.projectID + "/members/" + f.member(), nil
		}, allowed: 204, otherAccount: 404},
		"GET /v1/audit-events": {prepare: fixed("/v1/audit-events", nil), allowed: 200},

		"POST /v1/webhook-endpoints": {prepare: fixed("/v1/webhook-endpoints", map[string]any{"url": "https://hooks.example.com/new"}), allowed: 201},
		"GET /v1/webhook-endpoints":  {prepare: fixed("/v1/webhook-endpoints", nil), allowed: 200},
		"GET /v1/webhook-endpoints/{endpointID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint(), nil
		}, allowed: 200, otherAccount: 404},
		"PATCH /v1/webhook-endpoints/{endpointID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint(), map[string]any{"description": "changed"}
		}, allowed: 200, otherAccount: 404},
		"DELETE /v1/webhook-endpoints/{endpointID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint(), nil
		}, allowed: 204, otherAccount: 404},
		"POST /v1/webhook-endpoints/{endpointID}/rotate-secret": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint() + "/rotate-secret", map[string]any{}
		}, allowed: 200, otherAccount: 404},
		"POST /v1/webhook-endpoints/{endpointID}/test": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint() + "/test", nil
		}, allowed: 202, otherAccount: 404},
		"GET /v1/webhook-endpoints/{endpointID}/deliveries": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-endpoints/" + f.endpoint() + "/deliveries", nil
		}, allowed: 200, otherAccount: 404},
		"GET /v1/webhook-deliveries/{messageID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-deliveries/" + f.message(), nil
		}, allowed: 200, otherAccount: 404},
		"POST /v1/webhook-deliveries/{messageID}/resend": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/webhook-deliveries/" + f.message() + "/resend", nil
		}, allowed: 202, otherAccount: 404},
		// Another account imports into itself.
		"POST /v1/api-keys/import": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/import", map[string]any{"keys": []map[string]any{{"name": "imported", "key": "legacy_" + f.unique("secret-value-long")}}}
		}, allowed: 201},

		"GET /v1/rate-limit-tiers": {prepare: fixed("/v1/rate-limit-tiers", nil), allowed: 200},
		"POST /v1/rate-limit-tiers": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/rate-limit-tiers", map[string]any{"name": f.unique("tier"), "rate_limit": map[string]any{"rate": 5}}
		}, allowed: 201},
		// Every account has the built-in tiers, so another account reads and changes its own.
		"GET /v1/rate-limit-tiers/{name}": {prepare: fixed("/v1/rate-limit-tiers/standard", nil), allowed: 200, otherAccount: 200},
		"PATCH /v1/rate-limit-tiers/{name}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/rate-limit-tiers/" + f.tier(), map[string]any{"description": "changed"}
		}, allowed: 200, otherAccount: 404},
		"POST /v1/api-keys/{keyID}/tier-requests": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key() + "/tier-requests", map[string]any{"tier": "high"}
		}, allowed: 201, otherAccount: 404},
		"GET /v1/tier-requests": {prepare: fixed("/v1/tier-requests", nil), allowed: 200},
		"GET /v1/tier-requests/{requestID}": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/tier-requests/" + f.tierRequest(), nil
		}, allowed: 200, otherAccount: 404},
		"POST /v1/tier-requests/{requestID}/approve": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/tier-requests/" + f.tierRequest() + "/approve", map[string]any{"reason": "ok"}
		}, allowed: 200, otherAccount: 404},
		"POST /v1/tier-requests/{requestID}/reject": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/tier-requests/" + f.tierRequest() + "/reject", map[string]any{}
		}, allowed: 200, otherAccount: 404},
		"GET /v1/api-keys/{keyID}/usage": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/api-keys/" + f.key() + "/usage", nil
		}, allowed: 200, otherAccount: 404},
		"GET /v1/usage": {prepare: fixed("/v1/usage", nil), allowed: 200},
		// Another account's report is answered, its entries of this account's keys skipped
		// (events_test.go checks the counts).
		"POST /v1/keys/usage": {prepare: func(f *authzFixture) (string, any) {
			return "/v1/keys/usage", map[string]any{"uses": []any{map[string]any{"key_id": f.key(), "outcomes": map[string]any{"VALID": 1}}}}
		}, allowed: 200, otherAccount: 200},
		// The matrix's server has no event stream, so an allowed caller gets 503 rather than
		// a stream that never ends; events_test.go follows a real one.
		"GET /v1/events": {prepare: fixed("/v1/events", nil), allowed: 503},

		"POST /apikey/create": {prepare: func(f *authzFixture) (string, any) {
			return "/apikey/create", map[string]any{"user_id": f.userID, "name": "ci-deploys"}
		}, allowed: 200, otherAccount: 404},
		// Another account asking for a user id it does not have gets its own (empty) list.
		"GET /apikey/list": {prepare: func(f *authzFixture) (string, any) {
			return "/apikey/list?user_id=" + f.userID, nil
		}, allowed: 200, otherAccount: 200},
		"POST /apikey/list": {prepare: func(f *authzFixture) (string, any) {
			return "/apikey/list", map[string]any{"user_id": f.userID}
		}, allowed: 200, otherAccount: 200},
		"POST /apikey/replace": {prepare: func(f *authzFixture) (string, any) {
			return "/apikey/replace", map[string]any{"key_id": f.userKey()}
		}, allowed: 200, otherAccount: 404},
		"POST /apikey/expire": {prepare: func(f *authzFixture) (string, any) {
			return "/apikey/expire", map[string]any{"key_id": f.userKey()}
		}, allowed: 200, otherAccount: 404},

		"POST /api/v1/api-keys": {prepare: fixed("/api/v1/api-keys", map[string]any{"name": "Production CI"}), allowed: 201},
		"GET /api/v1/api-keys":  {prepare: fixed("/api/v1/api-keys", nil), allowed: 200},
		"GET /api/v1/api-keys/{id}": {prepare: func(f *authzFixture) (string, any) {
			return "/api/v1/api-keys/" + f.key(), nil
		}, allowed: 200, otherAccount: 404},
		"DELETE /api/v1/api-keys/{id}": {prepare: func(f *authzFixture) (string, any) {
			return "/api/v1/api-keys/" + f.key(), nil
		}, allowed: 200, otherAccount: 404},
		"POST /api/v1/projects/{id}/members": {prepare: func(f *authzFixture) (string, any) {
			return "/api/v1/projects/" + f.projectID + "/members", map[string]any{"api_key_id": f.key(), "role_id": "viewer"}
		}, allowed: 201, otherAccount: 404},
	}
}

// unauthenticatedRoutes need no credential.
var unauthenticatedRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "POST /v1/keys/verify": true, "GET /metrics": true,
	"GET /openapi.json": true, "GET /openapi.yaml": true, "GET /openapi-3.0.json": true, "GET /openapi-3.0.yaml": true, "GET /docs": true,
	// The OAuth routes authenticate clients on RFC 6749's terms; oauth_test.go covers them.
	"POST /oauth/token": true, "POST /oauth/introspect": true, "POST /oauth/revoke": true,
	"GET /.well-known/jwks.json": true, "GET /.well-known/oauth-authorization-server": true,
	// The gateway's endpoints judge the request's own key; internal/gateway tests them.
	"* /gateway/forward-auth": true, "* /gateway/nginx": true, "* /gateway/envoy/": true,
	"GET /gateway/hasura": true, "POST /gateway/hasura": true,
	// A leaked secret is its own authority; GitHub's alerts are signed (webhooks_test.go and
	// the process tests).
	"POST /v1/api-keys/report-leak": true, "POST /v1/secret-scanning/github": true,
}

// TestAuthorizationMatrix sends every management route, taken from the server's own route
// table, as four callers: none (401), another account (404 for its objects), a valid key
// without permissions (403 naming the permission), and the account's admin key (2xx).
func TestAuthorizationMatrix(t *testing.T) {
	f := newAuthzFixture(t)
	cases := authzCases()
	seen := map[string]bool{}
	parent := f.e.t
	defer func() { f.e.t = parent }()
	for _, rt := range f.e.server.Routes() {
		id := rt.Method + " " + rt.Path
		if unauthenticatedRoutes[id] {
			continue
		}
		seen[id] = true
		c, ok := cases[id]
		if !ok {
			t.Errorf("route %s has no case in authzCases: add one", id)
			continue
		}
		t.Run(id, func(t *testing.T) {
			f.e.t = t
			path, body := c.prepare(f)
			send := func(token string) response {
				if body == nil {
					return f.e.doAs(token, rt.Method, path, nil)
				}
				return f.e.doAs(token, rt.Method, path, body)
			}

			// RFC 6750 §3: no credential gets the bare challenge, a bad one invalid_token.
			r := send("")
			if r.status != http.StatusUnauthorized {
				t.Errorf("no credential: %d %s, want 401", r.status, r.body)
			} else if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="keyward"` {
				t.Errorf("no credential: WWW-Authenticate = %q, want the bare Bearer challenge", got)
			}
			for name, token := range map[string]string{
				"garbage":             "letmein",
				"unknown admin key":   "kwadmin_" + f.powerless[strings.LastIndex(f.powerless, "_")+1:],
				"tampered token":      f.tamperedToken,
				"foreign JWT":         f.foreignJWT,
				"key as access token": f.powerlessToken[:len(f.powerlessToken)-4] + "AAAA",
			} {
				r := send(token)
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s: %d %s, want 401", name, r.status, r.body)
				} else if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="keyward", error="invalid_token"` {
					t.Errorf("%s: WWW-Authenticate = %q, want error=\"invalid_token\"", name, got)
				}
			}

			lacking := c.lacking
			if lacking == 0 {
				lacking = http.StatusForbidden
			}
			// The key without permissions, and an access token it was exchanged for, get the
			// same answer.
			for name, token := range map[string]string{"key without permissions": f.powerless, "its access token": f.powerlessToken} {
				r := send(token)
				if r.status != lacking {
					t.Errorf("%s: %d %s, want %d", name, r.status, r.body, lacking)
				} else if lacking == http.StatusForbidden {
					if !strings.Contains(string(r.body), "permission") {
						t.Errorf("%s: the 403 does not name the permission: %s", name, r.body)
					}
					if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
						t.Errorf("%s: WWW-Authenticate = %q, want error=\"insufficient_scope\"", name, got)
					}
				}
			}

			if c.otherAccount != 0 {
				if r := send(f.otherToken); r.status != c.otherAccount {
					t.Errorf("another account: %d %s, want %d", r.status, r.body, c.otherAccount)
				}
			}

			if r := send(f.e.token); r.status != c.allowed {
				t.Errorf("the account's admin key: %d %s, want %d", r.status, r.body, c.allowed)
			}
		})
	}
	for id := range cases {
		if !seen[id] {
			t.Errorf("authzCases has %s, which no route serves", id)
		}
	}
}

// TestListsNeverLeakAcrossAccounts checks what the matrix cannot: lists of another account
// are empty, and its project cannot take a key.
func TestListsNeverLeakAcrossAccounts(t *testing.T) {
	f := newAuthzFixture(t)
	e := f.e
	k := e.key(map[string]any{"project_id": f.projectID, "name": "mine"})
	for _, path := range []string{"/v1/api-keys", "/v1/projects", "/v1/users", "/v1/audit-events", "/v1/accounts"} {
		var items []map[string]any
		e.doAs(f.otherToken, "GET", path, nil).decode(t, &items)
		for _, it := range items {
			if it["account_id"] == f.accountID || it["id"] == f.accountID {
				t.Errorf("GET %s as another account shows %v", path, it)
			}
		}
	}
	var env struct{ Data []map[string]any }
	e.doAs(f.otherToken, "GET", "/api/v1/api-keys", nil).decode(t, &env)
	if len(env.Data) != 0 {
		t.Errorf("seed 003 list as another account shows %d keys", len(env.Data))
	}
	if v := e.verify(k.Key); v.Code != "VALID" {
		t.Errorf("the key itself still verifies: %s", v.Code)
	}
}
