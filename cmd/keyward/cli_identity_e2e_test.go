package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/client"
)

// runCLIErr runs the CLI as runCLI does, for a command that is meant to fail, and returns its
// error.
func runCLIErr(t *testing.T, url, token string, args ...string) error {
	t.Helper()
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "--url", url, "--token", token))
	err := root.ExecuteContext(t.Context())
	if err == nil {
		t.Fatalf("keyward %s succeeded, want an error; it printed:\n%s", strings.Join(args, " "), out.String())
	}
	return err
}

// decodeOutput decodes the --json output of a command.
func decodeOutput[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not the JSON expected (%v):\n%s", err, s)
	}
	return v
}

// assertContains fails for every want that s lacks.
func assertContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}

// tableLine returns the first line of out that contains every one of cells, or "".
func tableLine(out string, cells ...string) string {
	for line := range strings.Lines(out) {
		if !slices.ContainsFunc(cells, func(c string) bool { return !strings.Contains(line, c) }) {
			return line
		}
	}
	return ""
}

// TestCLIIdentityEndToEnd walks the identity model through the CLI against a real server:
// who the bootstrap admin key is, a custom role, a user, a key that acts for the user with
// that role, the key's membership of a project, the audit trail of it all, and disabling the
// user, which stops the key.
func TestCLIIdentityEndToEnd(t *testing.T) {
	url, token := runMain(t)

	who := runCLI(t, url, token, "whoami")
	assertContains(t, "whoami", who, "KIND         admin_key", "ACCOUNT      default (", "ROLE         owner (")
	admin := decodeOutput[client.Whoami](t, runCLI(t, url, token, "whoami", "--json"))
	if admin.Kind != client.KindAdminKey || admin.Account.Name != "default" || admin.KeyID != "" || admin.User != nil ||
		!slices.Contains(admin.Permissions, "*") {
		t.Errorf("whoami --json = %+v, want the default account's admin key holding *", admin)
	}

	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "shop", "--json"), "id")
	viewerID := jsonField(t, runCLI(t, url, token, "roles", "get", "viewer", "--json"), "id")

	created := runCLI(t, url, token, "roles", "create", "--name", "Deployer", "--slug", "deployer",
		"--permission", "api_keys.read", "--permission", "projects.read", "--description", "CI pipelines")
	assertContains(t, "roles create", created, "Created role ", "(deployer)", "TYPE         custom",
		"PERMISSIONS  api_keys.read,projects.read", "DESCRIPTION  CI pipelines")
	role := decodeOutput[client.Role](t, runCLI(t, url, token, "roles", "get", "deployer", "--json"))
	if role.BuiltIn || role.AccountID != admin.Account.ID || role.CreatedAt == nil {
		t.Errorf("roles get deployer = %+v, want a custom role of the account", role)
	}
	roles := decodeOutput[[]client.Role](t, runCLI(t, url, token, "roles", "list", "--all", "--limit", "2", "--json"))
	var slugs []string
	for _, r := range roles {
		slugs = append(slugs, r.Slug)
	}
	if want := []string{"owner", "admin", "member", "viewer", "deployer"}; !slices.Equal(slugs, want) {
		t.Errorf("roles list --all --limit 2 = %v, want %v", slugs, want)
	}

	user := decodeOutput[client.User](t, runCLI(t, url, token, "users", "create",
		"--email", "ada@example.com", "--name", "Ada", "--role", "admin", "--json"))
	if !user.Active || user.Email != "ada@example.com" || user.RoleID == "" {
		t.Fatalf("users create = %+v, want an active user with the admin role", user)
	}
	if line := tableLine(runCLI(t, url, token, "users", "list"), user.ID, "ada@example.com", "Ada", user.RoleID, "active"); line == "" {
		t.Errorf("users list has no row for %s", user.ID)
	}

	// A key without --project is an account key; it acts for the user with the custom role.
	key := decodeOutput[client.CreatedKey](t, runCLI(t, url, token, "keys", "create", "--name", "ada-ci",
		"--user", user.ID, "--role", role.ID, "--tier", "high", "--json"))
	if key.ProjectID != "" || key.UserID != user.ID || key.RoleID != role.ID || key.RateLimitTier != client.TierHigh ||
		!strings.HasPrefix(key.Secret, "kw_") {
		t.Fatalf("keys create = %+v, want an account key for the user with the role and the high tier", key.Key)
	}
	assertContains(t, "keys get", runCLI(t, url, token, "keys", "get", key.ID),
		"PROJECT           none (account key)", "USER              "+user.ID, "ROLE              "+role.ID, "TIER              high")

	added := runCLI(t, url, token, "members", "add", "--project", projectID, "--key", key.ID, "--role", "viewer")
	listed := decodeOutput[[]client.Member](t, runCLI(t, url, token, "members", "list", "--project", projectID, "--json"))
	if len(listed) != 1 || listed[0].APIKeyID != key.ID || listed[0].UserID != "" || listed[0].RoleID != viewerID {
		t.Fatalf("members list --json = %+v, want the key as viewer", listed)
	}
	memberID := listed[0].ID
	assertContains(t, "members add", added, "Added key "+key.ID+" to project "+projectID+" as member "+memberID+".")
	members := runCLI(t, url, token, "members", "list", "--project", projectID)
	if !strings.HasPrefix(members, "ID ") || tableLine(members, memberID, "key "+key.ID, viewerID) == "" {
		t.Errorf("members list has no row for member %s (key %s, role %s):\n%s", memberID, key.ID, viewerID, members)
	}
	if got := decodeOutput[client.Key](t, runCLI(t, url, token, "keys", "get", key.ID, "--json")).ProjectAccesses; !slices.Equal(got,
		[]client.ProjectAccess{{ProjectID: projectID, RoleID: viewerID}}) {
		t.Errorf("key's project_accesses = %v, want the viewer membership of %s", got, projectID)
	}

	// The key itself may ask who it is.
	keyWho := runCLI(t, url, key.Secret, "whoami")
	assertContains(t, "whoami of the key", keyWho, "KIND         api_key", "KEY          "+key.ID,
		"USER         Ada <ada@example.com> ("+user.ID+")", "ROLE         deployer ("+role.ID+")",
		"PROJECTS     shop ("+projectID+"): viewer")

	// The audit log shows every mutation, newest first, by the admin key.
	audit := runCLI(t, url, token, "audit", "list")
	for _, row := range [][]string{
		{"create-project", "project " + projectID},
		{"create-role", "role " + role.ID},
		{"create-user", "user " + user.ID},
		{"create-api-key", "api_key " + key.ID},
		{"add-member", "member " + memberID},
	} {
		if tableLine(audit, append(row, "success", "admin_key "+key.CreatedBy, "127.0.0.1")...) == "" {
			t.Errorf("audit list has no successful %s row:\n%s", row[0], audit)
		}
	}
	events := decodeOutput[[]client.AuditEvent](t, runCLI(t, url, token, "audit", "list", "--json"))
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if want := []string{"add-member", "create-api-key", "create-user", "create-role", "create-project", "bootstrap"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions, newest first = %v, want %v", actions, want)
	}
	filtered := decodeOutput[[]client.AuditEvent](t, runCLI(t, url, token, "audit", "list",
		"--actor", key.CreatedBy, "--target", user.ID, "--outcome", "success", "--since", "1h", "--json"))
	if len(filtered) != 1 || filtered[0].Action != "create-user" {
		t.Errorf("audit list filtered on the user = %+v, want its create-user event only", filtered)
	}

	// Disabling the user stops the key that acts for them; enabling them restores it.
	disabled := runCLI(t, url, token, "users", "disable", user.ID)
	assertContains(t, "users disable", disabled, "Disabled user "+user.ID+".", "STATUS    disabled", "DISABLED  ")
	if u := decodeOutput[client.User](t, runCLI(t, url, token, "users", "get", user.ID, "--json")); u.Active || u.DisabledAt == nil {
		t.Errorf("users get after disable = %+v, want inactive with disabled_at", u)
	}
	if err := runCLIErr(t, url, key.Secret, "whoami"); client.ErrorCode(err) != client.CodeUnauthenticated {
		t.Errorf("whoami with the disabled user's key: err = %v, want unauthenticated", err)
	}
	if tableLine(runCLI(t, url, token, "audit", "list", "--action", "disable-user"), "disable-user", "success", "user "+user.ID) == "" {
		t.Errorf("audit list --action disable-user has no row for %s", user.ID)
	}
	assertContains(t, "users enable", runCLI(t, url, token, "users", "enable", user.ID), "Enabled user "+user.ID+".", "STATUS   active")
	assertContains(t, "whoami of the key after enable", runCLI(t, url, key.Secret, "whoami"), "KIND         api_key")
}

// TestCLIIdentityChanges changes and removes what TestCLIIdentityEndToEnd creates, against a
// real server: roles, memberships, a key's role and tier, users, and accounts.
func TestCLIIdentityChanges(t *testing.T) {
	url, token := runMain(t)
	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "shop", "--json"), "id")
	adminID := jsonField(t, runCLI(t, url, token, "roles", "get", "admin", "--json"), "id")
	roleID := jsonField(t, runCLI(t, url, token, "roles", "create", "--name", "Reader", "--slug", "reader",
		"--permission", "api_keys.read", "--json"), "id")

	updated := decodeOutput[client.Role](t, runCLI(t, url, token, "roles", "update", roleID,
		"--name", "Key reader", "--permission", "api_keys.read,projects.read", "--json"))
	if updated.Name != "Key reader" || !slices.Equal(updated.Permissions, []string{"api_keys.read", "projects.read"}) {
		t.Errorf("roles update = %+v, want the new name and both permissions", updated)
	}

	// A key holding the role as its account role and through a project access.
	key := decodeOutput[client.CreatedKey](t, runCLI(t, url, token, "keys", "create", "--name", "ci", "--role", "reader",
		"--project-access", projectID+":"+roleID, "--json"))
	if key.RoleID != roleID || !slices.Equal(key.ProjectAccesses, []client.ProjectAccess{{ProjectID: projectID, RoleID: roleID}}) {
		t.Fatalf("keys create = %+v, want the reader role account-wide and in the project", key.Key)
	}
	if err := runCLIErr(t, url, token, "roles", "delete", roleID); client.ErrorCode(err) != client.CodeConflict {
		t.Errorf("deleting a held role: err = %v, want conflict", err)
	}

	k := decodeOutput[client.Key](t, runCLI(t, url, token, "keys", "update", key.ID, "--clear-role", "--tier", "high", "--json"))
	if k.RoleID != "" || k.RateLimitTier != client.TierHigh {
		t.Errorf("keys update --clear-role --tier high = role %q tier %q, want none and high", k.RoleID, k.RateLimitTier)
	}
	members := decodeOutput[[]client.Member](t, runCLI(t, url, token, "members", "list", "--project", projectID, "--json"))
	if len(members) != 1 || members[0].APIKeyID != key.ID {
		t.Fatalf("members list = %+v, want the key's project access", members)
	}
	m := decodeOutput[client.Member](t, runCLI(t, url, token, "members", "update", "--project", projectID, members[0].ID, "--role", "admin", "--json"))
	if m.RoleID != adminID {
		t.Errorf("members update --role admin: role = %q, want %q", m.RoleID, adminID)
	}
	assertContains(t, "members get", runCLI(t, url, token, "members", "get", "--project", projectID, m.ID), m.ID, "key "+key.ID, adminID)
	if out := runCLI(t, url, token, "members", "remove", "--project", projectID, m.ID); out != "Removed member "+m.ID+" from project "+projectID+".\n" {
		t.Errorf("members remove printed %q", out)
	}
	if out := runCLI(t, url, token, "members", "list", "--project", projectID); out != "No members in project "+projectID+".\n" {
		t.Errorf("members list after remove printed %q", out)
	}
	if out := runCLI(t, url, token, "roles", "delete", roleID); out != "Deleted role "+roleID+".\n" {
		t.Errorf("roles delete printed %q", out)
	}
	if err := runCLIErr(t, url, token, "roles", "get", roleID); !client.IsNotFound(err) {
		t.Errorf("roles get after delete: err = %v, want not_found", err)
	}

	userID := jsonField(t, runCLI(t, url, token, "users", "create", "--email", "bob@example.com", "--json"), "id")
	u := decodeOutput[client.User](t, runCLI(t, url, token, "users", "update", userID, "--name", "Bob", "--role", "viewer", "--json"))
	if u.Name != "Bob" || u.RoleID == "" || u.Email != "bob@example.com" {
		t.Errorf("users update = %+v, want the new name and role, the email unchanged", u)
	}

	created := runCLI(t, url, token, "accounts", "create", "--name", "acme", "--key-prefix", "acme")
	assertContains(t, "accounts create", created, `Created account `, `("acme")`, "store it now, it will not be shown again", "    kwadmin_")
	acmeOwner := created[strings.LastIndex(created, "kwadmin_"):]
	acmeOwner = strings.TrimSpace(acmeOwner[:strings.IndexAny(acmeOwner+"\n", " \n")])
	accounts := decodeOutput[[]client.Account](t, runCLI(t, url, token, "accounts", "list", "--json"))
	if len(accounts) != 2 {
		t.Fatalf("accounts list = %+v, want default and acme", accounts)
	}
	acme := accounts[slices.IndexFunc(accounts, func(a client.Account) bool { return a.Name == "acme" })]
	// The root creates and sees tenants; it does not change them: their own owners do.
	if err := runCLIErr(t, url, token, "accounts", "update", acme.ID, "--name", "Acme Inc"); client.ErrorCode(err) != client.CodeForbidden {
		t.Errorf("the root renaming a tenant: err = %v, want forbidden", err)
	}
	if out := runCLI(t, url, acmeOwner, "accounts", "update", acme.ID, "--name", "Acme Inc"); tableLine(out, acme.ID, "Acme Inc", "acme") == "" {
		t.Errorf("accounts update printed:\n%s", out)
	}
	if got := jsonField(t, runCLI(t, url, token, "accounts", "get", acme.ID, "--json"), "name"); got != "Acme Inc" {
		t.Errorf("accounts get after update: name = %q, want Acme Inc", got)
	}

	// The new tenant's admin key sees its own account only.
	acmeToken := decodeOutput[client.CreatedAccount](t, runCLI(t, url, token, "accounts", "create", "--name", "globex", "--json")).AdminKey.Secret
	if who := decodeOutput[client.Whoami](t, runCLI(t, url, acmeToken, "whoami", "--json")); who.Account.Name != "globex" {
		t.Errorf("whoami with the new account's admin key: account = %q, want globex", who.Account.Name)
	}
	if out := runCLI(t, url, acmeToken, "accounts", "list"); tableLine(out, "globex") == "" || strings.Contains(out, "default") {
		t.Errorf("accounts list by the new tenant:\n%s", out)
	}
}
