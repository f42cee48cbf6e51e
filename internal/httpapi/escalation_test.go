package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

// escalationFixture is an account with a member (a user holding the built-in member role),
// a key that acts for the member, with usage credits an administrator gave it, and a key
// that may update keys but holds nothing else.
type escalationFixture struct {
	e        *env
	memberID string
	// memberKey acts for the member, with the member's permissions and 100 credits, which
	// each of its own requests spends one of.
	memberKey createdKey
	// updater holds api_keys.read and api_keys.update only.
	updater createdKey
}

func newEscalationFixture(t *testing.T) *escalationFixture {
	t.Helper()
	e := newLimitedEnv(t)
	f := &escalationFixture{e: e}
	f.memberID = e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "mo@example.com", "role_id": "member"}).object(t)["id"].(string)
	f.memberKey = e.key(map[string]any{"name": "mo's key", "user_id": f.memberID, "credits": map[string]any{"remaining": 100}})
	role := e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "Updater", "slug": "updater",
		"permissions": []string{"api_keys.read", "api_keys.update"}}).object(t)["id"].(string)
	f.updater = e.key(map[string]any{"name": "updater", "role_id": role})
	return f
}

// TestEscalationRefused has a case for each way a caller could once change, or mint, a key
// beyond what it holds; each is refused, and its control case beside it is allowed.
func TestEscalationRefused(t *testing.T) {
	f := newEscalationFixture(t)
	e := f.e
	admin := e.key(map[string]any{"name": "stronger", "role_id": "admin"})
	weak := e.key(map[string]any{"name": "weak"})
	soon := e.clock.Now().Add(time.Minute).Format(time.RFC3339)

	for _, tc := range []struct {
		name       string
		token      string
		method     string
		path       string
		body       any
		want       int
		afterwards func(t *testing.T)
	}{
		// A key with api_keys.update could set a stronger key's expiry to now, or its
		// credits to 0, disabling it, while revoking that key was refused.
		{name: "updater shortens a stronger key's expiry", token: f.updater.Key, method: "PATCH", path: "/v1/api-keys/" + admin.ID,
			body: map[string]any{"expires_at": soon}, want: http.StatusForbidden},
		{name: "updater zeroes a stronger key's credits", token: f.updater.Key, method: "PATCH", path: "/v1/api-keys/" + admin.ID,
			body: map[string]any{"credits": map[string]any{"remaining": 0}}, want: http.StatusForbidden},
		{name: "control: updater renames a key that holds nothing", token: f.updater.Key, method: "PATCH", path: "/v1/api-keys/" + weak.ID,
			body: map[string]any{"name": "renamed"}, want: http.StatusOK},

		// A member could clear the credits on their own key.
		{name: "member clears their key's credits", token: f.memberKey.Key, method: "PATCH", path: "/v1/api-keys/" + f.memberKey.ID,
			body: map[string]any{"credits": nil}, want: http.StatusForbidden},
		{name: "member raises their key's credits", token: f.memberKey.Key, method: "PATCH", path: "/v1/api-keys/" + f.memberKey.ID,
			body: map[string]any{"credits": map[string]any{"remaining": 1000}}, want: http.StatusForbidden},
		// …or mint a sibling key without them: the sibling now shares them.
		{name: "member mints a sibling with credits of its own", token: f.memberKey.Key, method: "POST", path: "/v1/api-keys",
			body: map[string]any{"name": "sibling", "user_id": f.memberID, "credits": map[string]any{"remaining": 1000}}, want: http.StatusForbidden},
		{name: "control: member mints a sibling, which shares the key's credits", token: f.memberKey.Key, method: "POST", path: "/v1/api-keys",
			body: map[string]any{"name": "sibling", "user_id": f.memberID}, want: http.StatusCreated},

		// A member could put any scopes on their own keys.
		{name: "member gives a new key a scope", token: f.memberKey.Key, method: "POST", path: "/v1/api-keys",
			body: map[string]any{"name": "scoped", "user_id": f.memberID, "scopes": []string{"deploy:write"}}, want: http.StatusForbidden},
		{name: "member adds a scope to their own key", token: f.memberKey.Key, method: "PATCH", path: "/v1/api-keys/" + f.memberKey.ID,
			body: map[string]any{"scopes": []string{"deploy:write"}}, want: http.StatusForbidden},

		// The root account's admin key could change another tenant's account.
		{name: "root changes another tenant's key prefix", token: e.token, method: "PATCH", path: "/v1/accounts/" + otherAccount(t, e),
			body: map[string]any{"key_prefix": "pwned"}, want: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			r := e.doAs(tc.token, tc.method, tc.path, tc.body)
			if r.status != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
		})
	}

	// The sibling the member minted draws on the same credits: one pool, which the member
	// key's requests above have spent from.
	var siblings []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Credits *struct {
			Remaining int64 `json:"remaining"`
		} `json:"credits"`
	}
	e.must(http.StatusOK, "GET", "/v1/api-keys?user_id="+f.memberID, nil).decode(t, &siblings)
	if len(siblings) != 2 {
		t.Fatalf("the member has %d keys, want the key and its sibling", len(siblings))
	}
	for _, k := range siblings {
		if k.Credits == nil || k.Credits.Remaining >= 100 || k.Credits.Remaining != siblings[0].Credits.Remaining {
			t.Errorf("key %q of the member: credits %+v, want one pool, spent from: %+v", k.Name, k.Credits, siblings[0].Credits)
		}
	}
}

// otherAccount creates a tenant with the root admin key and returns its id; its own admin
// key may change it, as the root may not.
func otherAccount(t *testing.T, e *env) string {
	t.Helper()
	var created struct {
		ID       string `json:"id"`
		AdminKey struct {
			Key string `json:"key"`
		} `json:"admin_key"`
	}
	e.must(http.StatusCreated, "POST", "/v1/accounts", map[string]any{"name": "tenant-" + e.clock.Now().Format("150405.000000")}).decode(t, &created)
	if r := e.doAs(created.AdminKey.Key, "PATCH", "/v1/accounts/"+created.ID, map[string]any{"key_prefix": "own"}); r.status != http.StatusOK {
		t.Fatalf("the tenant's own admin key changing its account = %d %s, want 200", r.status, r.body)
	}
	return created.ID
}

// TestTokensFollowTheirKeysUser: an access token keeps acting as its key does now. Disabling
// the key's user, or narrowing its role, reaches a live token at once on this node (and
// within a second on others, with the cache invalidations).
func TestTokensFollowTheirKeysUser(t *testing.T) {
	e := newEnv(t)
	user := e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "tess@example.com", "role_id": "admin"}).object(t)["id"].(string)
	role := e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "Reader", "slug": "reader",
		"permissions": []string{"projects.read", "api_keys.read"}}).object(t)["id"].(string)
	k := e.key(map[string]any{"name": "tess's key", "user_id": user, "role_id": role})
	token := e.accessToken(k.ID, k.Key, "").AccessToken

	if r := e.doAs(token, "GET", "/v1/api-keys", nil); r.status != http.StatusOK {
		t.Fatalf("listing keys with the token = %d %s", r.status, r.body)
	}
	// The role loses api_keys.read: the token, issued with it, loses it too.
	e.must(http.StatusOK, "PATCH", "/v1/roles/"+role, map[string]any{"permissions": []string{"projects.read"}})
	if r := e.doAs(token, "GET", "/v1/api-keys", nil); r.status != http.StatusForbidden {
		t.Errorf("listing keys with the token after its role lost api_keys.read = %d %s, want 403", r.status, r.body)
	}
	if r := e.doAs(token, "GET", "/v1/projects", nil); r.status != http.StatusOK {
		t.Errorf("listing projects with the token = %d %s, want 200: it still may", r.status, r.body)
	}
	var v struct {
		Code        string   `json:"code"`
		Permissions []string `json:"permissions"`
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": token}).decode(t, &v)
	if v.Code != "VALID" || len(v.Permissions) != 1 || v.Permissions[0] != "projects.read" {
		t.Errorf("verifying the token = %s %v, want VALID with projects.read alone", v.Code, v.Permissions)
	}

	// The user is disabled: the token stops.
	e.must(http.StatusOK, "DELETE", "/v1/users/"+user, nil)
	if r := e.doAs(token, "GET", "/v1/projects", nil); r.status != http.StatusUnauthorized {
		t.Errorf("the token of a disabled user's key = %d %s, want 401", r.status, r.body)
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": token}).decode(t, &v)
	if v.Code != "DISABLED" {
		t.Errorf("verifying the token of a disabled user's key = %s, want DISABLED", v.Code)
	}
}

// TestRefusalsAuditedWithTheirCodes: a mutation refused for want of a permission, or because
// the key is over its rate limit or out of credits, is in the audit log with that code.
func TestRefusalsAuditedWithTheirCodes(t *testing.T) {
	e := newLimitedEnv(t)
	powerless := e.key(map[string]any{"name": "powerless"})
	limited := e.key(map[string]any{"name": "limited", "role_id": "admin", "rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 1}})
	spent := e.key(map[string]any{"name": "spent", "role_id": "admin", "credits": map[string]any{"remaining": 0}})

	if r := e.doAs(powerless.Key, "POST", "/v1/projects", map[string]any{"name": "p1"}); r.status != http.StatusForbidden {
		t.Fatalf("a key without permissions creating a project = %d %s", r.status, r.body)
	}
	if r := e.doAs(limited.Key, "POST", "/v1/projects", map[string]any{"name": "p2"}); r.status != http.StatusCreated {
		t.Fatalf("the limited key's first project = %d %s", r.status, r.body)
	}
	if r := e.doAs(limited.Key, "POST", "/v1/projects", map[string]any{"name": "p3"}); r.status != http.StatusTooManyRequests {
		t.Fatalf("the limited key's second project = %d %s, want 429", r.status, r.body)
	}
	if r := e.doAs(spent.Key, "POST", "/v1/projects", map[string]any{"name": "p4"}); r.status != http.StatusTooManyRequests || problemCode(t, r) != "usage_exceeded" {
		t.Fatalf("the spent key's project = %d %s, want 429 usage_exceeded", r.status, r.body)
	}
	// A read refused for the same reason changes nothing and is not audited.
	e.doAs(spent.Key, "GET", "/v1/projects", nil)

	for _, want := range []struct{ actor, outcome, code string }{
		{powerless.ID, "failure", "forbidden"},
		{limited.ID, "success", ""},
		{limited.ID, "failure", "rate_limited"},
		{spent.ID, "failure", "usage_exceeded"},
	} {
		var events []struct {
			Action    string  `json:"action"`
			Outcome   string  `json:"outcome"`
			ErrorCode *string `json:"error_code"`
			ActorKind string  `json:"actor_kind"`
		}
		e.must(http.StatusOK, "GET", "/v1/audit-events?actor_id="+want.actor+"&outcome="+want.outcome, nil).decode(t, &events)
		if len(events) != 1 {
			t.Errorf("audit events of %s with outcome %s: %d, want 1: %+v", want.actor, want.outcome, len(events), events)
			continue
		}
		got := events[0]
		code := ""
		if got.ErrorCode != nil {
			code = *got.ErrorCode
		}
		if got.Action != "create-project" || code != want.code || got.ActorKind != "api_key" {
			t.Errorf("audit event of %s = %+v (code %q), want create-project %s %q by an api_key", want.actor, got, code, want.outcome, want.code)
		}
	}
}
