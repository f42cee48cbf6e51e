package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Wire forms of the identity objects, as the server sends them.
const (
	testAccountJSON = `{"id":"acc_1","name":"acme","key_prefix":"acme","allowed_ips":[],"leak_policy":"revoke","created_at":"2026-01-02T03:04:05Z"}`
	testUserJSON    = `{"id":"usr_1","account_id":"acc_1","email":"ada@example.com","name":null,"issuer":null,"subject":null,` +
		`"role_id":"00000000-0000-0000-0000-000000000003","active":true,"disabled_at":null,"created_at":"2026-01-02T03:04:05Z"}`
	testRoleJSON = `{"id":"rol_1","account_id":"acc_1","name":"Deployer","slug":"deployer","description":"ships",` +
		`"permissions":["api_keys.read","projects.*"],"built_in":false,"created_at":"2026-01-02T03:04:05Z"}`
	testBuiltInRoleJSON = `{"id":"00000000-0000-0000-0000-000000000004","account_id":null,"name":"Viewer","slug":"viewer",` +
		`"description":"reads","permissions":["account.read"],"built_in":true,"created_at":null}`
	testMemberJSON = `{"id":"mem_1","project_id":"prj_1","user_id":null,"api_key_id":"key_1","role_id":"viewer","created_at":"2026-01-02T03:04:05Z"}`
	testAuditJSON  = `{"id":"evt_1","account_id":"acc_1","at":"2026-01-02T03:04:05Z","actor_kind":"admin_key","actor_id":"adm_1",` +
		`"action":"create-role","target_type":"role","target_id":"rol_1","remote_addr":"127.0.0.1","outcome":"success","error_code":null}`
	testWhoamiJSON = `{"kind":"api_key","key_id":"key_1","account":` + testAccountJSON + `,"user":` + testUserJSON + `,` +
		`"role":{"id":"rol_1","name":"Deployer","slug":"deployer"},"permissions":["api_keys.read"],"scopes":[],` +
		`"projects":[{"project_id":"prj_1","project_name":"shop","role_id":"r","role_name":"Viewer","role_slug":"viewer"}]}`
	testAccountKeyJSON = `{"id":"key_1","account_id":"acc_1","project_id":null,"environment_id":null,"user_id":"usr_1","role_id":"rol_1",` +
		`"project_accesses":[{"project_id":"prj_1","role_id":"viewer"}],"rate_limit_tier":"standard","rate_limit":null,"credits":null,"name":"n","key_prefix":"acme_abcdefgh",` +
		`"last4":"wxyz","status":"active","scopes":[],"allowed_ips":[],"metadata":null,"expires_at":null,"last_used_at":null,"created_at":"2026-01-02T03:04:05Z",` +
		`"revoked_at":null,"replaced_by_key_id":null,"grace_expires_at":null,"rotation_interval_days":0,"next_rotation_at":null,` +
		`"rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":null,"leak_source":null,"leak_url":null,"imported":false,"created_by":"adm_1"}`
)

func TestIdentityRequests(t *testing.T) {
	from := time.Date(2026, 1, 2, 4, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []requestCase{
		{
			name: "whoami", status: 200, response: testWhoamiJSON,
			call: func(ctx context.Context, c *Client) error {
				w, err := c.Whoami(ctx)
				if err == nil && (w.Kind != KindAPIKey || w.KeyID != "key_1" || w.User == nil || w.Role.Slug != "deployer" || w.Projects[0].ProjectName != "shop") {
					return fmt.Errorf("whoami = %+v, want an API key with user, role and project", w)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/whoami", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "create account returns the admin key", status: 201,
			response: `{"id":"acc_1","name":"acme","key_prefix":"acme","created_at":"2026-01-02T03:04:05Z","admin_key":{"id":"adm_2","key_prefix":"kwadmin_abcd","key":"kwadmin_secret"}}`,
			call: func(ctx context.Context, c *Client) error {
				a, err := c.CreateAccount(ctx, CreateAccountParams{Name: "acme", KeyPrefix: "acme"})
				if err == nil && (a.ID != "acc_1" || a.AdminKey.Secret != "kwadmin_secret") {
					return fmt.Errorf("created = %+v, want account acc_1 with the admin key's secret", a)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/accounts", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "acme", "key_prefix": "acme"}},
		},
		{
			name: "list accounts", status: 200, response: "[" + testAccountJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListAccounts(ctx, ListParams{Limit: 5})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/accounts", Auth: "Bearer kwadmin_t", RawQuery: "limit=5"},
		},
		{
			name: "get account", status: 200, response: testAccountJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetAccount(ctx, "acc_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/accounts/acc_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update account sends only what is set", status: 200, response: testAccountJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateAccount(ctx, "acc_1", UpdateAccountParams{Name: new("acme inc")})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/accounts/acc_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "acme inc"}},
		},
		{
			name: "create user", status: 201, response: testUserJSON,
			call: func(ctx context.Context, c *Client) error {
				u, err := c.CreateUser(ctx, CreateUserParams{Email: "ada@example.com", RoleID: RoleMember})
				if err == nil && (u.Name != "" || !u.Active) {
					return fmt.Errorf("user = %+v, want an active user without a name", u)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/users", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"email": "ada@example.com", "role_id": "member"}},
		},
		{
			name: "list users", status: 200, response: "[" + testUserJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListUsers(ctx, ListParams{Cursor: "c1"})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/users", Auth: "Bearer kwadmin_t", RawQuery: "cursor=c1"},
		},
		{
			name: "get user", status: 200, response: testUserJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetUser(ctx, "usr_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/users/usr_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update user sends active false", status: 200, response: testUserJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateUser(ctx, "usr_1", UpdateUserParams{RoleID: new("viewer"), Active: new(false)})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/users/usr_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"role_id": "viewer", "active": false}},
		},
		{
			name: "disable user", status: 200, response: testUserJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.DisableUser(ctx, "usr_1")
				return err
			},
			want: recorded{Method: "DELETE", Path: "/v1/users/usr_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "create role sends an empty permission list, never null", status: 201, response: testRoleJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateRole(ctx, CreateRoleParams{Name: "Nobody", Slug: "nobody"})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/roles", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "Nobody", "slug": "nobody", "permissions": []any{}}},
		},
		{
			name: "list roles", status: 200, response: "[" + testBuiltInRoleJSON + "," + testRoleJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				p, err := c.ListRoles(ctx, ListParams{})
				if err == nil && (len(p.Items) != 2 || !p.Items[0].BuiltIn || p.Items[0].AccountID != "" || p.Items[0].CreatedAt != nil) {
					return fmt.Errorf("roles = %+v, want a built-in role without account or creation time first", p.Items)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/roles", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "get role by slug", status: 200, response: testRoleJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetRole(ctx, "deployer")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/roles/deployer", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update role replaces permissions", status: 200, response: testRoleJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateRole(ctx, "rol_1", UpdateRoleParams{Description: new(""), Permissions: []string{}})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/roles/rol_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"description": "", "permissions": []any{}}},
		},
		{
			name: "delete role", status: 204,
			call: func(ctx context.Context, c *Client) error { return c.DeleteRole(ctx, "rol_1") },
			want: recorded{Method: "DELETE", Path: "/v1/roles/rol_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "add key as member", status: 201, response: testMemberJSON,
			call: func(ctx context.Context, c *Client) error {
				m, err := c.AddMember(ctx, "prj 1", AddMemberParams{APIKeyID: "key_1", RoleID: RoleViewer})
				if err == nil && (m.APIKeyID != "key_1" || m.UserID != "") {
					return fmt.Errorf("member = %+v, want key_1 and no user", m)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/projects/prj%201/members", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"api_key_id": "key_1", "role_id": "viewer"}},
		},
		{
			name: "list members", status: 200, response: "[" + testMemberJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListMembers(ctx, "prj_1", ListParams{Limit: 2})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/projects/prj_1/members", Auth: "Bearer kwadmin_t", RawQuery: "limit=2"},
		},
		{
			name: "get member", status: 200, response: testMemberJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetMember(ctx, "prj_1", "mem_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/projects/prj_1/members/mem_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update member", status: 200, response: testMemberJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateMember(ctx, "prj_1", "mem_1", UpdateMemberParams{RoleID: RoleAdmin})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/projects/prj_1/members/mem_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"role_id": "admin"}},
		},
		{
			name: "remove member", status: 204,
			call: func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "prj_1", "mem_1") },
			want: recorded{Method: "DELETE", Path: "/v1/projects/prj_1/members/mem_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "list audit events with every filter", status: 200, response: "[" + testAuditJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				p, err := c.ListAuditEvents(ctx, ListAuditEventsParams{
					ActorID: "adm_1", Action: "create-role", TargetID: "rol_1", Outcome: OutcomeFailure,
					From: from, To: from.Add(90 * time.Minute), Limit: 10, Cursor: "c1",
				})
				if err == nil && (p.Items[0].TargetType != "role" || p.Items[0].ErrorCode != "" || p.Items[0].ActorKind != KindAdminKey) {
					return fmt.Errorf("event = %+v, want a role target, an admin key actor and no error code", p.Items[0])
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/audit-events", Auth: "Bearer kwadmin_t",
				RawQuery: "action=create-role&actor_id=adm_1&cursor=c1&from=2026-01-02T03%3A00%3A00Z&limit=10&outcome=failure&target_id=rol_1&to=2026-01-02T04%3A30%3A00Z"},
		},
		{
			name: "create account key with user, role, accesses and tier", status: 201,
			response: testAccountKeyJSON[:len(testAccountKeyJSON)-1] + `,"key":"acme_secret"}`,
			call: func(ctx context.Context, c *Client) error {
				k, err := c.CreateKey(ctx, CreateKeyParams{
					Name: "ci", UserID: "usr_1", RoleID: "rol_1", RateLimitTier: TierHigh,
					ProjectAccesses: []ProjectAccess{{ProjectID: "prj_1", RoleID: RoleViewer}},
				})
				if err == nil && (k.ProjectID != "" || k.UserID != "usr_1" || k.ProjectAccesses[0].RoleID != "viewer") {
					return fmt.Errorf("key = %+v, want an account key for usr_1 with one project access", k)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{
					"name": "ci", "user_id": "usr_1", "role_id": "rol_1", "rate_limit_tier": "high",
					"project_accesses": []any{map[string]any{"project_id": "prj_1", "role_id": "viewer"}},
				}},
		},
		{
			name: "update key role and tier", status: 200, response: testAccountKeyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RoleID: new("admin"), RateLimitTier: new(TierStandard)})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"role_id": "admin", "rate_limit_tier": "standard"}},
		},
		{
			name: "update key clears the role with null", status: 200, response: testAccountKeyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{ClearRoleID: true})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"role_id": nil}},
		},
		{
			name: "list keys of a user", status: 200, response: "[]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListKeys(ctx, ListKeysParams{UserID: "usr_1"})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t", RawQuery: "user_id=usr_1"},
		},
	}
	runRequestCases(t, "", tests)
}

// TestIdentityJSONRoundTrip checks that every identity type marshals back to the wire form it
// was decoded from, nulls included, so that the CLI's --json shows the API's own JSON.
func TestIdentityJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		wire string
		into any
	}{
		{"account", testAccountJSON, new(Account)},
		{"created account", `{"id":"acc_1","name":"acme","key_prefix":"acme","allowed_ips":[],"leak_policy":"revoke","created_at":"2026-01-02T03:04:05Z","admin_key":{"id":"adm_2","key_prefix":"kwadmin_abcd","key":"kwadmin_secret"}}`, new(CreatedAccount)},
		{"user", testUserJSON, new(User)},
		{"disabled user", `{"id":"usr_1","account_id":"acc_1","email":null,"name":"Ada","issuer":"https://id.example.com","subject":"ada",` +
			`"role_id":"r","active":false,"disabled_at":"2026-01-03T00:00:00Z","created_at":"2026-01-02T03:04:05Z"}`, new(User)},
		{"custom role", testRoleJSON, new(Role)},
		{"built-in role", testBuiltInRoleJSON, new(Role)},
		{"key member", testMemberJSON, new(Member)},
		{"user member", `{"id":"mem_2","project_id":"prj_1","user_id":"usr_1","api_key_id":null,"role_id":"r","created_at":"2026-01-02T03:04:05Z"}`, new(Member)},
		{"audit event", testAuditJSON, new(AuditEvent)},
		{"failed audit event", `{"id":"evt_2","account_id":"acc_1","at":"2026-01-02T03:04:05Z","actor_kind":"api_key","actor_id":"key_1",` +
			`"action":"delete-role","target_type":null,"target_id":null,"remote_addr":"::1","outcome":"failure","error_code":"forbidden"}`, new(AuditEvent)},
		{"whoami of an api key", testWhoamiJSON, new(Whoami)},
		{"whoami of an admin key", `{"kind":"admin_key","key_id":null,"account":` + testAccountJSON + `,"user":null,"role":null,` +
			`"permissions":["*"],"scopes":[],"projects":[]}`, new(Whoami)},
		{"account key", testAccountKeyJSON, new(Key)},
		{"rotated account key", `{"old_key_id":"key_1","new_key_id":"key_2","project_id":null,"name":"n","key":"acme_new","key_prefix":"acme_x",` +
			`"scopes":[],"expires_at":null,"created_at":"2026-01-02T03:04:05Z","grace_expires_at":null}`, new(RotatedKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRoundTrip(t, tt.wire, tt.into) })
	}
}

func TestIdentityRefusedBeforeRequest(t *testing.T) {
	srv, seen := fixedServer(t, 200, "application/json", `{}`)
	c := New(srv.URL, "t")
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"empty account id", func() error { _, err := c.GetAccount(ctx, ""); return err }},
		{"dot-dot user id", func() error { _, err := c.DisableUser(ctx, ".."); return err }},
		{"empty role id", func() error { return c.DeleteRole(ctx, "") }},
		{"dot project id", func() error { _, err := c.ListMembers(ctx, ".", ListParams{}); return err }},
		{"empty member id", func() error { return c.RemoveMember(ctx, "prj_1", "") }},
		{"set and clear key role", func() error {
			_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RoleID: new("admin"), ClearRoleID: true})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
	if n := len(seen()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestAllAuditEventsKeepsFiltersAcrossPages(t *testing.T) {
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("Link", `</v1/audit-events?action=create-role&cursor=p2&limit=1>; rel="next"`)
			io.WriteString(w, `[{"id":"evt_2"}]`)
			return
		}
		io.WriteString(w, `[{"id":"evt_1"}]`)
	}))
	defer srv.Close()

	var ids []string
	for e, err := range New(srv.URL, "t").AllAuditEvents(t.Context(), ListAuditEventsParams{Action: "create-role", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if diff := cmp.Diff([]string{"evt_2", "evt_1"}, ids); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"action=create-role&limit=1", "action=create-role&cursor=p2&limit=1"}, queries); diff != "" {
		t.Errorf("queries mismatch (-want +got):\n%s", diff)
	}
}

// wantRoundTrip decodes wire into into and encodes it again: the JSON must come back the same,
// nulls included.
func wantRoundTrip(t *testing.T, wire string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(wire), into); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(into)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal([]byte(wire), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}
