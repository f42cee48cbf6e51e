package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/client"
)

const (
	testUserJSON = `{"id":"usr_1","account_id":"acc_1","email":"ada@example.com","name":"Ada","issuer":null,"subject":null,` +
		`"role_id":"rol_1","active":true,"disabled_at":null,"created_at":"2026-01-02T03:04:05Z"}`
	testMemberJSON = `{"id":"mem_1","project_id":"prj_1","user_id":"usr_1","api_key_id":null,"role_id":"viewer","created_at":"2026-01-02T03:04:05Z"}`
	testRoleJSON   = `{"id":"rol_1","account_id":"acc_1","name":"Deployer","slug":"deployer","description":"",` +
		`"permissions":["api_keys.read"],"built_in":false,"created_at":"2026-01-02T03:04:05Z"}`
)

// TestIdentityFlagValidation checks that bad flags of the identity commands are refused with
// a clear message before any request is sent.
func TestIdentityFlagValidation(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", "{}")
	useServer(t, rec.URL)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"whoami takes no argument", []string{"whoami", "me"}, `unknown command "me"`},
		{"account create without name", []string{"accounts", "create"}, `required flag(s) "name" not set`},
		{"account get without id", []string{"accounts", "get"}, "want exactly one account ID"},
		{"account update nothing", []string{"accounts", "update", "acc_1"}, "nothing to update: pass at least one of --name, --key-prefix"},
		{"account update blank name", []string{"accounts", "update", "acc_1", "--name", " "}, "invalid --name"},
		{"user create blank email", []string{"users", "create", "--email", ""}, "invalid --email: it may not be blank"},
		{"user create issuer without subject", []string{"users", "create", "--issuer", "https://id.example.com"}, "[issuer subject]"},
		{"user update nothing", []string{"users", "update", "usr_1"}, "nothing to update"},
		{"user disable two ids", []string{"users", "disable", "a", "b"}, "want exactly one user ID, got 2 arguments"},
		{"user enable blank id", []string{"users", "enable", " "}, "want exactly one user ID"},
		{"role create without slug", []string{"roles", "create", "--name", "n"}, `required flag(s) "slug" not set`},
		{"role update permissions and clear", []string{"roles", "update", "rol_1", "--permission", "a", "--clear-permissions"}, "[permission clear-permissions]"},
		{"role update nothing", []string{"roles", "update", "rol_1"}, "nothing to update"},
		{"role delete without id", []string{"roles", "delete"}, "want at least one role ID"},
		{"members list without project", []string{"members", "list"}, `required flag(s) "project" not set`},
		{"members add without role", []string{"members", "add", "--project", "p", "--user", "u"}, `required flag(s) "role" not set`},
		{"members add without member", []string{"members", "add", "--project", "p", "--role", "viewer"}, "want a member: pass --user USER_ID or --key KEY_ID"},
		{"members add user and key", []string{"members", "add", "--project", "p", "--role", "viewer", "--user", "u", "--key", "k"}, "[key user]"},
		{"members update without id", []string{"members", "update", "--project", "p", "--role", "admin"}, "want exactly one member ID"},
		{"members remove without id", []string{"members", "remove", "--project", "p"}, "want at least one member ID"},
		{"audit bad outcome", []string{"audit", "list", "--outcome", "ok"}, `invalid --outcome "ok": want success or failure`},
		{"audit bad from", []string{"audit", "list", "--from", "yesterday"}, `invalid --from "yesterday": want an RFC 3339 time`},
		{"audit from and since", []string{"audit", "list", "--from", "2026-01-01T00:00:00Z", "--since", "1h"}, "[from since]"},
		{"audit negative since", []string{"audit", "list", "--since", "-1h"}, "invalid --since"},
		{"audit empty window", []string{"audit", "list", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, "must be before --to"},
		{"audit limit too big", []string{"audit", "list", "--limit", "500"}, "invalid --limit 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cliRun(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestIdentityRequests checks what the identity commands send and print.
func TestIdentityRequests(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		status     int
		response   string
		wantReq    seenRequest
		wantStdout string // compared whole when it ends in a newline, else looked for
	}{
		{
			name: "users enable sends active true", args: []string{"users", "enable", "usr_1"}, status: 200, response: testUserJSON,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/users/usr_1", Auth: "Bearer kwadmin_test", Body: map[string]any{"active": true}},
			wantStdout: "Enabled user usr_1.\n\n" +
				"ID       usr_1\n" +
				"EMAIL    ada@example.com\n" +
				"NAME     Ada\n" +
				"ROLE     rol_1\n" +
				"STATUS   active\n" +
				"SIGN-IN  not linked\n" +
				"CREATED  2026-01-02T03:04:05Z\n",
		},
		{
			name: "users disable", args: []string{"users", "disable", "usr_1"}, status: 200, response: testUserJSON,
			wantReq:    seenRequest{Method: "DELETE", Path: "/v1/users/usr_1", Auth: "Bearer kwadmin_test"},
			wantStdout: "Disabled user usr_1.",
		},
		{
			name: "users create", args: []string{"users", "create", "--email", "ada@example.com", "--role", "admin", "--issuer", "https://id.example.com", "--subject", "ada"},
			status: 201, response: testUserJSON,
			wantReq: seenRequest{Method: "POST", Path: "/v1/users", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"email": "ada@example.com", "role_id": "admin", "issuer": "https://id.example.com", "subject": "ada"}},
			wantStdout: "Created user usr_1.",
		},
		{
			name: "roles create sends every permission", args: []string{"roles", "create", "--name", "Deployer", "--slug", "deployer", "--permission", "api_keys.read", "--permission", "projects.read,projects.write"},
			status: 201, response: testRoleJSON,
			wantReq: seenRequest{Method: "POST", Path: "/v1/roles", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"name": "Deployer", "slug": "deployer", "permissions": []any{"api_keys.read", "projects.read", "projects.write"}}},
			wantStdout: "Created role rol_1 (deployer).",
		},
		{
			name: "roles update clears permissions", args: []string{"roles", "update", "rol_1", "--clear-permissions", "--description", ""},
			status: 200, response: testRoleJSON,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/roles/rol_1", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"permissions": []any{}, "description": ""}},
			wantStdout: "Updated role rol_1 (deployer).",
		},
		{
			name: "roles delete", args: []string{"roles", "rm", "rol_1"}, status: 204,
			wantReq:    seenRequest{Method: "DELETE", Path: "/v1/roles/rol_1", Auth: "Bearer kwadmin_test"},
			wantStdout: "Deleted role rol_1.\n",
		},
		{
			name: "members add a user", args: []string{"members", "add", "--project", "prj_1", "--user", "usr_1", "--role", "viewer"},
			status: 201, response: testMemberJSON,
			wantReq: seenRequest{Method: "POST", Path: "/v1/projects/prj_1/members", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"user_id": "usr_1", "role_id": "viewer"}},
			wantStdout: "Added user usr_1 to project prj_1 as member mem_1.\n\n" +
				"ID     MEMBER      ROLE    CREATED\n" +
				"mem_1  user usr_1  viewer  2026-01-02T03:04:05Z\n",
		},
		{
			name: "members update", args: []string{"members", "update", "--project", "prj_1", "mem_1", "--role", "admin"},
			status: 200, response: testMemberJSON,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/projects/prj_1/members/mem_1", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"role_id": "admin"}},
			wantStdout: "Updated member mem_1.",
		},
		{
			name: "members remove", args: []string{"members", "remove", "--project", "prj_1", "mem_1"}, status: 204,
			wantReq:    seenRequest{Method: "DELETE", Path: "/v1/projects/prj_1/members/mem_1", Auth: "Bearer kwadmin_test"},
			wantStdout: "Removed member mem_1 from project prj_1.\n",
		},
		{
			name: "audit list sends every filter", args: []string{"audit", "list", "--actor", "adm_1", "--action", "create-api-key", "--target", "key_1",
				"--outcome", "failure", "--from", "2026-01-01T01:00:00+01:00", "--to", "2026-02-01T00:00:00Z", "--limit", "5"},
			status: 200, response: "[]",
			wantReq: seenRequest{Method: "GET", Path: "/v1/audit-events", Auth: "Bearer kwadmin_test",
				Query: "action=create-api-key&actor_id=adm_1&from=2026-01-01T00%3A00%3A00Z&limit=5&outcome=failure&target_id=key_1&to=2026-02-01T00%3A00%3A00Z"},
			wantStdout: "No audit events.\n",
		},
		{
			name: "accounts update sends only what changed", args: []string{"accounts", "update", "acc_1", "--key-prefix", "acme"},
			status: 200, response: `{"id":"acc_1","name":"acme","key_prefix":"acme","allowed_ips":[],"leak_policy":"revoke","created_at":"2026-01-02T03:04:05Z"}`,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/accounts/acc_1", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"key_prefix": "acme"}},
			wantStdout: "Updated account acc_1.",
		},
		{
			name: "keys create an account key with identity flags", args: []string{"keys", "create", "--name", "ci", "--user", "usr_1", "--role", "deployer",
				"--project-access", "prj_1:viewer", "--project-access", "prj_2:rol_2", "--tier", "high"},
			status: 201, response: testCreatedKeyJSON,
			wantReq: seenRequest{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_test", Body: map[string]any{
				"name": "ci", "user_id": "usr_1", "role_id": "deployer", "rate_limit_tier": "high",
				"project_accesses": []any{
					map[string]any{"project_id": "prj_1", "role_id": "viewer"},
					map[string]any{"project_id": "prj_2", "role_id": "rol_2"},
				},
			}},
			wantStdout: "Created key key_1",
		},
		{
			name: "keys update role and tier", args: []string{"keys", "update", "key_1", "--role", "viewer", "--tier", "standard"},
			status: 200, response: testKeyJSON,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"role_id": "viewer", "rate_limit_tier": "standard"}},
			wantStdout: "Updated key key_1.",
		},
		{
			name: "keys update clears the role", args: []string{"keys", "update", "key_1", "--clear-role"},
			status: 200, response: testKeyJSON,
			wantReq: seenRequest{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"role_id": nil}},
			wantStdout: "Updated key key_1.",
		},
		{
			name: "keys list of a user", args: []string{"keys", "list", "--user", "usr_1"}, status: 200, response: "[]",
			wantReq:    seenRequest{Method: "GET", Path: "/v1/api-keys", Auth: "Bearer kwadmin_test", Query: "user_id=usr_1"},
			wantStdout: "No keys.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newWireRecorder(t, tt.status, "application/json", tt.response)
			useServer(t, rec.URL)
			stdout, _, err := cliRun(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]seenRequest{tt.wantReq}, rec.requests()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			if strings.HasSuffix(tt.wantStdout, "\n") {
				if diff := cmp.Diff(tt.wantStdout, stdout); diff != "" {
					t.Errorf("stdout mismatch (-want +got):\n%s", diff)
				}
			} else if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout)
			}
		})
	}
}

func TestIdentityJSONOutputIsTheAPIs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		response string
	}{
		{"users get", []string{"users", "get", "usr_1", "--json"}, testUserJSON},
		{"members list", []string{"members", "list", "--project", "prj_1", "--json"}, "[" + testMemberJSON + "]"},
		{"roles list", []string{"roles", "list", "--json"}, "[" + testRoleJSON + "]"},
		{"whoami", []string{"whoami", "--json"}, `{"kind":"admin_key","key_id":null,"account":{"id":"acc_1","name":"default","key_prefix":"kw","allowed_ips":[],"leak_policy":"revoke",` +
			`"created_at":"2026-01-02T03:04:05Z"},"user":null,"role":{"id":"r","name":"Owner","slug":"owner"},"permissions":["*"],"scopes":[],"projects":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newWireRecorder(t, 200, "application/json", tt.response)
			useServer(t, rec.URL)
			stdout, _, err := cliRun(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, tt.response, stdout)
		})
	}
}

func TestWriteIdentityTables(t *testing.T) {
	disabledAt := testCreatedAt.Add(time.Hour)
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{
			name: "whoami of an api key",
			write: func(b *bytes.Buffer) error {
				return writeWhoami(b, &client.Whoami{
					Kind: client.KindAPIKey, KeyID: "key_1", Account: client.Account{ID: "acc_1", Name: "default"},
					User: &client.User{ID: "usr_1", Name: "Ada", Email: "ada@example.com"}, Role: &client.RoleRef{ID: "rol_1", Slug: "deployer"},
					Permissions: []string{"api_keys.read", "projects.read"},
					Projects:    []client.ProjectRef{{ProjectID: "prj_1", ProjectName: "shop", RoleSlug: "viewer"}, {ProjectID: "prj_2", ProjectName: "search", RoleSlug: "admin"}},
				})
			},
			want: `KIND         api_key
ACCOUNT      default (acc_1)
KEY          key_1
USER         Ada <ada@example.com> (usr_1)
ROLE         deployer (rol_1)
PERMISSIONS  api_keys.read, projects.read
SCOPES       -
PROJECTS     shop (prj_1): viewer, search (prj_2): admin
`,
		},
		{
			name: "users",
			write: func(b *bytes.Buffer) error {
				return writeUsersTable(b, []*client.User{
					{ID: "usr_1", Email: "ada@example.com", Name: "Ada", RoleID: "rol_1", Active: true, CreatedAt: testCreatedAt},
					{ID: "usr_22", RoleID: "rol_2", DisabledAt: &disabledAt, CreatedAt: testCreatedAt},
				})
			},
			want: `ID      EMAIL            NAME  ROLE   STATUS    CREATED
usr_1   ada@example.com  Ada   rol_1  active    2026-01-02T03:04:05Z
usr_22  -                -     rol_2  disabled  2026-01-02T03:04:05Z
`,
		},
		{
			name: "disabled user linked to an issuer",
			write: func(b *bytes.Buffer) error {
				return writeUserDetails(b, &client.User{ID: "usr_1", Email: "ada@example.com", RoleID: "rol_1", Issuer: "https://id.example.com",
					Subject: "248289761001", DisabledAt: &disabledAt, CreatedAt: testCreatedAt})
			},
			want: `ID        usr_1
EMAIL     ada@example.com
NAME      -
ROLE      rol_1
STATUS    disabled
DISABLED  2026-01-02T04:04:05Z
SIGN-IN   248289761001 at https://id.example.com
CREATED   2026-01-02T03:04:05Z
`,
		},
		{
			name: "roles",
			write: func(b *bytes.Buffer) error {
				return writeRolesTable(b, []*client.Role{
					{ID: "r4", Slug: "viewer", Name: "Viewer", BuiltIn: true, Permissions: []string{"account.read", "projects.read"}},
					{ID: "rol_1", Slug: "nobody", Name: "Nobody", CreatedAt: &testCreatedAt},
				})
			},
			want: `ID     SLUG    NAME    TYPE      PERMISSIONS
r4     viewer  Viewer  built-in  account.read,projects.read
rol_1  nobody  Nobody  custom    -
`,
		},
		{
			name: "built-in role details",
			write: func(b *bytes.Buffer) error {
				return writeRoleDetails(b, &client.Role{ID: "r4", Slug: "viewer", Name: "Viewer", BuiltIn: true, Description: "Reads.", Permissions: []string{"account.read"}})
			},
			want: `ID           r4
SLUG         viewer
NAME         Viewer
TYPE         built-in
DESCRIPTION  Reads.
PERMISSIONS  account.read
CREATED      -
`,
		},
		{
			name: "members",
			write: func(b *bytes.Buffer) error {
				return writeMembersTable(b, []*client.Member{
					{ID: "mem_1", UserID: "usr_1", RoleID: "rol_1", CreatedAt: testCreatedAt},
					{ID: "mem_2", APIKeyID: "key_1", RoleID: "viewer", CreatedAt: testCreatedAt},
				})
			},
			want: `ID     MEMBER      ROLE    CREATED
mem_1  user usr_1  rol_1   2026-01-02T03:04:05Z
mem_2  key key_1   viewer  2026-01-02T03:04:05Z
`,
		},
		{
			name: "audit events",
			write: func(b *bytes.Buffer) error {
				return writeAuditTable(b, []*client.AuditEvent{
					{At: testCreatedAt, Action: "delete-role", Outcome: client.OutcomeFailure, ErrorCode: client.CodeConflict,
						ActorKind: client.KindAPIKey, ActorID: "key_1", TargetType: "role", TargetID: "rol_1", RemoteAddr: "10.0.0.7"},
					{At: testCreatedAt, Action: "create-account", Outcome: client.OutcomeSuccess, ActorKind: client.KindAdminKey, ActorID: "adm_1"},
				})
			},
			want: `AT                    ACTION          OUTCOME             ACTOR            TARGET      FROM
2026-01-02T03:04:05Z  delete-role     failure (conflict)  api_key key_1    role rol_1  10.0.0.7
2026-01-02T03:04:05Z  create-account  success             admin_key adm_1  -           -
`,
		},
		{
			name: "accounts",
			write: func(b *bytes.Buffer) error {
				return writeAccountsTable(b, []*client.Account{{ID: "acc_1", Name: "acme", KeyPrefix: "acme", CreatedAt: testCreatedAt}})
			},
			want: `ID     NAME  KEY PREFIX  CREATED
acc_1  acme  acme        2026-01-02T03:04:05Z
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAccountsCreateShowsTheAdminKeyOnce(t *testing.T) {
	const secret = "kwadmin_SECRETsecretSECRETsecret"
	rec := newWireRecorder(t, 201, "application/json", `{"id":"acc_2","name":"acme","key_prefix":"kw","allowed_ips":[],"leak_policy":"revoke","created_at":"2026-01-02T03:04:05Z",`+
		`"admin_key":{"id":"adm_2","key_prefix":"kwadmin_SECR","key":"`+secret+`"}}`)
	useServer(t, rec.URL)
	stdout, stderr, err := cliRun(t, "accounts", "create", "--name", "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := "Created account acc_2 (\"acme\").\n\n" +
		"ID     NAME  KEY PREFIX  CREATED\n" +
		"acc_2  acme  kw          2026-01-02T03:04:05Z\n\n" +
		"Admin key adm_2 of the new account (store it now, it will not be shown again):\n\n" +
		"    " + secret + "\n\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if strings.Contains(stderr, secret) {
		t.Errorf("stderr shows the secret: %q", stderr)
	}
	if diff := cmp.Diff(map[string]any{"name": "acme"}, rec.requests()[0].Body); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

func TestCreatedAccountKeySaysSo(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", strings.Replace(testCreatedKeyJSON, `"project_id":"prj_1"`, `"project_id":null`, 1))
	useServer(t, rec.URL)
	stdout, _, err := cliRun(t, "keys", "create", "--name", "billing worker")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`Created account key key_1 ("billing worker").`, "PROJECT           none (account key)"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if _, ok := rec.requests()[0].Body["project_id"]; ok {
		t.Errorf("request body has a project_id: %v", rec.requests()[0].Body)
	}
}
