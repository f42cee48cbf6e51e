package httpapi_test

import (
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/oidctest"
)

// whoami is the answer of /v1/whoami.
type whoami struct {
	Kind    string  `json:"kind"`
	KeyID   *string `json:"key_id"`
	Account struct {
		ID, Name string
	} `json:"account"`
	User *struct {
		ID    string  `json:"id"`
		Email *string `json:"email"`
	} `json:"user"`
	Role *struct {
		ID, Slug string
	} `json:"role"`
	Permissions []string `json:"permissions"`
	Projects    []struct {
		ProjectID string `json:"project_id"`
		RoleSlug  string `json:"role_slug"`
	} `json:"projects"`
}

func (e *env) whoami(token string) (whoami, response) {
	e.t.Helper()
	var w whoami
	r := e.doAs(token, "GET", "/v1/whoami", nil)
	if r.status == http.StatusOK {
		r.decode(e.t, &w)
	}
	return w, r
}

// TestSeed000Flow walks seed 000 end to end with a real OIDC issuer over HTTP: an access
// token signs the user in, mints a key on their behalf, the key resolves to the user, their
// role and tenant, /apikey/replace invalidates the old key at once, /apikey/expire ends the
// new one.
func TestSeed000Flow(t *testing.T) {
	issuer := oidctest.NewIssuer(t)
	e := newEnvWith(t, issuer)
	token := issuer.Token(t, oidctest.Claims{Subject: "auth0|ada", Audience: []string{oidcAudience, issuer.URL + "userinfo"}, Email: "ada@example.com", Name: "Ada"})

	// 1. The token signs Ada in: she is created on first sign-in as a member of "default".
	me, r := e.whoami(token)
	if r.status != http.StatusOK {
		t.Fatalf("whoami with the OIDC token = %d %s", r.status, r.body)
	}
	if me.Kind != "user" || me.User == nil || me.Account.Name != "default" || me.Role == nil || me.Role.Slug != "member" {
		t.Fatalf("whoami = %+v, want a member user of the default account", me)
	}
	userID := me.User.ID
	if again, _ := e.whoami(token); again.User == nil || again.User.ID != userID {
		t.Fatalf("a second sign-in made another user: %+v", again)
	}

	// 2. /apikey/create, exactly as the seed's curl sends it.
	var created struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
		UserID string `json:"user_id"`
	}
	r = e.doAs(token, "POST", "/apikey/create", `{"user_id":"`+userID+`","name":"ci-deploys"}`)
	if r.status != http.StatusOK {
		t.Fatalf("/apikey/create = %d %s", r.status, r.body)
	}
	r.decode(t, &created)
	if created.ID == "" || created.APIKey == "" || created.UserID != userID {
		t.Fatalf("/apikey/create answered %s", r.body)
	}

	// 3. The key is Ada: same user, role, tenant and permissions as her session.
	asKey, r := e.whoami(created.APIKey)
	if r.status != http.StatusOK {
		t.Fatalf("whoami with the key = %d %s", r.status, r.body)
	}
	if asKey.Kind != "api_key" || asKey.User == nil || asKey.User.ID != userID || asKey.Account.ID != me.Account.ID ||
		asKey.Role == nil || asKey.Role.Slug != "member" || !slices.Equal(asKey.Permissions, me.Permissions) {
		t.Errorf("the key resolves to %+v, want Ada as a member (%+v)", asKey, me)
	}
	if asKey.KeyID == nil || *asKey.KeyID != created.ID {
		t.Errorf("whoami key_id = %v, want %s", asKey.KeyID, created.ID)
	}
	if v := e.verify(created.APIKey); v.Code != "VALID" {
		t.Errorf("verify the new key = %s", v.Code)
	}

	// Ada's list shows the key with its last characters only.
	r = e.doAs(token, "GET", "/apikey/list", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), created.ID) || strings.Contains(string(r.body), created.APIKey) {
		t.Errorf("/apikey/list = %d %s", r.status, r.body)
	}

	// Ada may not mint keys for someone else: members hold only api_keys.own.*.
	other := e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "bob@example.com"}).object(t)["id"].(string)
	if r := e.doAs(token, "POST", "/apikey/create", map[string]any{"user_id": other, "name": "not mine"}); r.status != http.StatusForbidden {
		t.Errorf("creating a key for another user = %d %s, want 403", r.status, r.body)
	}

	// 4. /apikey/replace: a fresh key, the old one invalid at once.
	var replaced struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	r = e.doAs(token, "POST", "/apikey/replace", `{"key_id":"`+created.ID+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("/apikey/replace = %d %s", r.status, r.body)
	}
	r.decode(t, &replaced)
	if v := e.verify(created.APIKey); v.Valid {
		t.Errorf("the replaced key still verifies: %s", v.Code)
	}
	if v := e.verify(replaced.APIKey); v.Code != "VALID" {
		t.Errorf("the new key = %s, want VALID", v.Code)
	}
	if w, _ := e.whoami(replaced.APIKey); w.User == nil || w.User.ID != userID {
		t.Errorf("the new key resolves to %+v, want Ada", w)
	}

	// 5. /apikey/expire ends it.
	r = e.doAs(token, "POST", "/apikey/expire", `{"key_id":"`+replaced.ID+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("/apikey/expire = %d %s", r.status, r.body)
	}
	if v := e.verify(replaced.APIKey); v.Valid {
		t.Errorf("the expired key still verifies: %s", v.Code)
	}
	if _, r := e.whoami(replaced.APIKey); r.status != http.StatusUnauthorized {
		t.Errorf("whoami with the expired key = %d, want 401", r.status)
	}

	// The audit log saw every step, by Ada, under the domain's names for them: seed 000's
	// routes create, rotate and revoke keys as the canonical routes do.
	var events []struct {
		Action  string `json:"action"`
		ActorID string `json:"actor_id"`
		Outcome string `json:"outcome"`
	}
	e.must(http.StatusOK, "GET", "/v1/audit-events?actor_id="+userID, nil).decode(t, &events)
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action+":"+ev.Outcome)
	}
	for _, want := range []string{"sign-in-create-user:success", "create-api-key:success", "create-api-key:failure", "rotate-api-key:success", "revoke-api-key:success"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log for Ada = %v, missing %s", actions, want)
		}
	}
}

// TestOIDCTokensRefused sends tokens that must not sign anyone in.
func TestOIDCTokensRefused(t *testing.T) {
	issuer := oidctest.NewIssuer(t)
	e := newEnvWith(t, issuer)
	good := oidctest.Claims{Subject: "auth0|eve", Audience: []string{oidcAudience}}
	expired := good
	expired.IssuedAt, expired.Expiry = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	wrongAud := good
	wrongAud.Audience = []string{"https://another.api"}
	wrongIss := good
	wrongIss.Issuer = "https://evil.example/"
	other := oidctest.NewIssuer(t) // a real issuer, but not the configured one
	tests := map[string]string{
		"forged signature": issuer.ForgedToken(t, good),
		"expired":          issuer.Token(t, expired),
		"wrong audience":   issuer.Token(t, wrongAud),
		"wrong issuer":     issuer.Token(t, wrongIss),
		"alg none":         issuer.NoneToken(good),
		"another issuer":   other.Token(t, oidctest.Claims{Subject: "auth0|eve", Audience: []string{oidcAudience}, Issuer: issuer.URL}),
		"truncated":        issuer.Token(t, good)[:40] + ".x.y",
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			e.t = t
			if _, r := e.whoami(token); r.status != http.StatusUnauthorized {
				t.Errorf("whoami = %d %s, want 401", r.status, r.body)
			}
		})
	}
	e.t = t
	if _, r := e.whoami(issuer.Token(t, good)); r.status != http.StatusOK {
		t.Errorf("the good token = %d %s", r.status, r.body)
	}
}

// TestKeyIdentityAndPermissions covers keys that carry identity: a role's permissions, project
// access, no escalation, permission queries at verify, and a disabled user's keys.
func TestKeyIdentityAndPermissions(t *testing.T) {
	e := newEnv(t)
	p1 := e.project("p1")
	p2 := e.project("p2")
	userID := e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "ada@example.com", "role_id": "member"}).object(t)["id"].(string)

	// A key with the admin role and viewer access to p1.
	admin := e.key(map[string]any{"name": "ops", "role_id": "admin", "project_accesses": []map[string]any{{"project_id": p1, "role_id": "viewer"}}})
	w, r := e.whoami(admin.Key)
	if r.status != http.StatusOK || w.Role == nil || w.Role.Slug != "admin" || len(w.Projects) != 1 || w.Projects[0].ProjectID != p1 {
		t.Fatalf("whoami of the admin key = %d %+v", r.status, w)
	}
	// It may manage keys (admin) but not the account (owner only).
	if r := e.doAs(admin.Key, "POST", "/v1/api-keys", map[string]any{"name": "made by a key", "project_id": p2}); r.status != http.StatusCreated {
		t.Errorf("admin key creating a key = %d %s", r.status, r.body)
	}
	if r := e.doAs(admin.Key, "PATCH", "/v1/accounts/"+w.Account.ID, map[string]any{"key_prefix": "raff"}); r.status != http.StatusForbidden {
		t.Errorf("admin key changing the account = %d, want 403", r.status)
	}
	// No escalation: an admin key cannot mint an owner key, nor a role beyond its own.
	if r := e.doAs(admin.Key, "POST", "/v1/api-keys", map[string]any{"name": "owner", "role_id": "owner"}); r.status != http.StatusForbidden {
		t.Errorf("admin key minting an owner key = %d %s, want 403", r.status, r.body)
	}
	if r := e.doAs(admin.Key, "POST", "/v1/roles", map[string]any{"name": "x", "slug": "x", "permissions": []string{"account.write"}}); r.status != http.StatusForbidden {
		t.Errorf("admin key creating a role beyond its own = %d %s, want 403", r.status, r.body)
	}

	// A key with only project access: project-scoped reads, nothing account-wide.
	viewer := e.key(map[string]any{"name": "p1 viewer", "project_accesses": []map[string]any{{"project_id": p1, "role_id": "viewer"}}})
	if r := e.doAs(viewer.Key, "GET", "/v1/projects/"+p1, nil); r.status != http.StatusOK {
		t.Errorf("p1 viewer reading p1 = %d", r.status)
	}
	if r := e.doAs(viewer.Key, "GET", "/v1/projects/"+p2, nil); r.status != http.StatusForbidden {
		t.Errorf("p1 viewer reading p2 = %d, want 403", r.status)
	}
	var visible []map[string]any
	e.doAs(viewer.Key, "GET", "/v1/projects", nil).decode(t, &visible)
	if len(visible) != 1 || visible[0]["id"] != p1 {
		t.Errorf("p1 viewer lists %v, want only p1", visible)
	}

	// Permission queries at verify.
	for _, tt := range []struct {
		key, query, want string
	}{
		{admin.Key, "api_keys.read AND (projects." + p1 + ".read OR admin)", "VALID"},
		{viewer.Key, "api_keys.read", "INSUFFICIENT_PERMISSIONS"},
		{viewer.Key, "projects." + p1 + ".api_keys.read", "VALID"},
		{viewer.Key, "projects." + p2 + ".read OR audit.read", "INSUFFICIENT_PERMISSIONS"},
	} {
		var v struct {
			Code        string   `json:"code"`
			Permissions []string `json:"permissions"`
			Role        *struct{ Slug string }
		}
		e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": tt.key, "permissions": tt.query}).decode(t, &v)
		if v.Code != tt.want {
			t.Errorf("verify %q = %s, want %s", tt.query, v.Code, tt.want)
		}
		if len(v.Permissions) == 0 {
			t.Errorf("verify returns no permissions for the key")
		}
	}
	if r := e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": admin.Key, "permissions": "a AND ("}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a malformed permission query = %d, want 422", r.status)
	}

	// A key of a user holds at most what the user holds, and stops with the user.
	userKey := e.key(map[string]any{"name": "ada's", "user_id": userID, "role_id": "admin"})
	if r := e.doAs(userKey.Key, "POST", "/v1/users", map[string]any{"email": "x@example.com"}); r.status != http.StatusForbidden {
		t.Errorf("a member's admin-role key creating users = %d, want 403: it holds no more than its member", r.status)
	}
	e.must(http.StatusOK, "DELETE", "/v1/users/"+userID, nil)
	if v := e.verify(userKey.Key); v.Code != "DISABLED" {
		t.Errorf("a disabled user's key = %s, want DISABLED", v.Code)
	}
	e.must(http.StatusOK, "PATCH", "/v1/users/"+userID, map[string]any{"active": true})
	if v := e.verify(userKey.Key); v.Code != "VALID" {
		t.Errorf("the key after re-enabling its user = %s, want VALID", v.Code)
	}

	// Raising a role's permissions reaches its keys at once (the cache is dropped).
	role := e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "Reader", "slug": "reader", "permissions": []string{"account.read"}}).object(t)["id"].(string)
	reader := e.key(map[string]any{"name": "reader", "role_id": role})
	if r := e.doAs(reader.Key, "GET", "/v1/users", nil); r.status != http.StatusForbidden {
		t.Errorf("reader listing users = %d, want 403", r.status)
	}
	e.must(http.StatusOK, "PATCH", "/v1/roles/"+role, map[string]any{"permissions": []string{"account.read", "users.read"}})
	if r := e.doAs(reader.Key, "GET", "/v1/users", nil); r.status != http.StatusOK {
		t.Errorf("reader listing users after the role grew = %d, want 200", r.status)
	}
	if r := e.do("DELETE", "/v1/roles/"+role, nil); r.status != http.StatusConflict {
		t.Errorf("deleting a role a key holds = %d, want 409", r.status)
	}
}

// seed003Key is seed 003's key object.
type seed003Key struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	KeyPrefix       string     `json:"key_prefix"`
	IsActive        bool       `json:"is_active"`
	Secret          string     `json:"secret"`
	AccountID       string     `json:"account_id"`
	Scope           string     `json:"scope"`
	RateLimitTier   string     `json:"rate_limit_tier"`
	ExpiresAt       *time.Time `json:"expires_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
	RoleID          *string    `json:"role_id"`
	RoleName        *string    `json:"role_name"`
	RoleSlug        *string    `json:"role_slug"`
	ProjectAccesses []struct {
		ProjectID   string `json:"project_id"`
		ProjectName string `json:"project_name"`
		RoleID      string `json:"role_id"`
		RoleName    string `json:"role_name"`
		RoleSlug    string `json:"role_slug"`
	} `json:"project_accesses"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// TestSeed003WithCurl sends seed 003's example request with curl, exactly as the seed prints
// it but for the host and the key, and checks every field of the seed's response.
func TestSeed003WithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	e := newEnv(t)
	var who whoami
	e.must(http.StatusOK, "GET", "/v1/whoami", nil).decode(t, &who)
	e.must(http.StatusOK, "PATCH", "/v1/accounts/"+who.Account.ID, map[string]any{"key_prefix": "raff"})
	// The caller: an account key whose role may create keys, as the seed's X-API-Key is.
	caller := e.key(map[string]any{"name": "console", "role_id": "admin"})
	roleID := e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "CI", "slug": "ci", "permissions": []string{"account.read", "api_keys.read"}}).object(t)["id"].(string)
	expires := e.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)

	out, err := exec.CommandContext(t.Context(), curl, "--silent", "--show-error",
		"--request", "POST",
		"--url", e.url+"/api/v1/api-keys",
		"--header", "Content-Type: application/json",
		"--header", "X-API-Key: "+caller.Key,
		"--data", `
{
  "name": "Production CI",
  "rate_limit_tier": "standard",
  "expires_at": "`+expires+`",
  "role_id": "`+roleID+`"
}
`).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var env struct {
		Success bool       `json:"success"`
		Data    seed003Key `json:"data"`
	}
	response{body: out}.decode(t, &env)
	d := env.Data
	if !env.Success || d.ID == "" || d.Name != "Production CI" || !strings.HasPrefix(d.KeyPrefix, "raff_") || len(d.KeyPrefix) != len("raff_17d70fcf") ||
		!d.IsActive || !strings.HasPrefix(d.Secret, d.KeyPrefix) || d.AccountID != who.Account.ID || d.Scope != "public" ||
		d.RateLimitTier != "standard" || d.ExpiresAt == nil || d.ExpiresAt.Format(time.RFC3339) != expires ||
		d.RoleID == nil || *d.RoleID != roleID || d.RoleName == nil || *d.RoleName != "CI" || d.RoleSlug == nil || *d.RoleSlug != "ci" ||
		d.ProjectAccesses == nil || d.CreatedBy != *callerKeyID(t, e, caller.Key) || d.CreatedAt.IsZero() {
		t.Fatalf("seed 003 create answered %s", out)
	}
	for _, field := range []string{"id", "name", "key_prefix", "is_active", "secret", "account_id", "scope", "rate_limit_tier", "expires_at", "last_used_at", "role_id", "role_name", "role_slug", "project_accesses", "created_by", "created_at"} {
		if !strings.Contains(string(out), `"`+field+`":`) {
			t.Errorf("the response lacks %s: %s", field, out)
		}
	}
	if v := e.verify(d.Secret); v.Code != "VALID" {
		t.Errorf("the new key = %s", v.Code)
	}

	// Per-project access, added after creation as the seed says, shows in project_accesses.
	p := e.project("backups")
	r := e.doAs(caller.Key, "POST", "/api/v1/projects/"+p+"/members", map[string]any{"api_key_id": d.ID, "role_id": "viewer"})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"success":true`) {
		t.Fatalf("adding the key to a project = %d %s", r.status, r.body)
	}
	var got struct {
		Data seed003Key `json:"data"`
	}
	e.doAs(caller.Key, "GET", "/api/v1/api-keys/"+d.ID, nil).decode(t, &got)
	if len(got.Data.ProjectAccesses) != 1 || got.Data.ProjectAccesses[0].ProjectName != "backups" || got.Data.ProjectAccesses[0].RoleSlug != "viewer" || got.Data.Secret != "" {
		t.Errorf("GET after adding access = %+v", got.Data)
	}

	// The high tier needs approval: a member may not create account keys at all; a key maker
	// without api_keys.approve_high_tier gets the key on standard and a pending request
	// (ratelimit_test.go follows it to approval); an admin gets high at once.
	member := e.key(map[string]any{"name": "member", "role_id": "member"})
	creator := e.key(map[string]any{"name": "creator", "role_id": e.must(http.StatusCreated, "POST", "/v1/roles",
		map[string]any{"name": "Key maker", "slug": "key-maker", "permissions": []string{"api_keys.create", "api_keys.read"}}).object(t)["id"].(string)})
	if r := e.doAsHeader(member.Key, "POST", "/api/v1/api-keys", `{"name":"fast","rate_limit_tier":"high"}`); r.status != http.StatusForbidden {
		t.Errorf("a member (who may not create account keys at all) asking for high = %d %s, want 403", r.status, r.body)
	}
	r = e.doAsHeader(creator.Key, "POST", "/api/v1/api-keys", `{"name":"fast","rate_limit_tier":"high"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"rate_limit_tier":"standard"`) ||
		!strings.Contains(string(r.body), `"tier":"high","status":"pending"`) {
		t.Errorf("high tier without approval = %d %s, want 201 on standard with a pending request", r.status, r.body)
	}
	r = e.doAsHeader(caller.Key, "POST", "/api/v1/api-keys", `{"name":"fast","rate_limit_tier":"high"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"rate_limit_tier":"high"`) || strings.Contains(string(r.body), "rate_limit_tier_request") {
		t.Errorf("high tier by an admin (who may approve) = %d %s", r.status, r.body)
	}
	// Errors keep the seed's envelope.
	r = e.doAsHeader(caller.Key, "POST", "/api/v1/api-keys", `{"name":""}`)
	if r.status != http.StatusUnprocessableEntity || !strings.HasPrefix(string(r.body), `{"success":false,"error":{"code":"validation_failed"`) {
		t.Errorf("empty name = %d %s", r.status, r.body)
	}
	if r := e.doAsHeader("", "GET", "/api/v1/api-keys", ""); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), `"success":false`) {
		t.Errorf("no key = %d %s", r.status, r.body)
	}
	// DELETE revokes.
	r = e.doAsHeader(caller.Key, "DELETE", "/api/v1/api-keys/"+d.ID, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"is_active":false`) {
		t.Errorf("DELETE = %d %s", r.status, r.body)
	}
	if v := e.verify(d.Secret); v.Code != "REVOKED" {
		t.Errorf("the deleted key = %s, want REVOKED", v.Code)
	}
}

// callerKeyID is the id of the key that authenticates as token.
func callerKeyID(t *testing.T, e *env, token string) *string {
	t.Helper()
	w, _ := e.whoami(token)
	return w.KeyID
}

// doAsHeader sends a request with the key in X-API-Key, as seed 003 does.
func (e *env) doAsHeader(key, method, path, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}
