package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminKeysListAndRevoke makes a second admin key beside a running server, lists both,
// revokes the second, and checks that the server refuses it at once.
func TestAdminKeysListAndRevoke(t *testing.T) {
	data := filepath.Join(t.TempDir(), "keyward-data")
	srv := startServer(t, data)
	root := adminKeyPattern.FindString(srv.stderr.String())
	admin := func(args ...string) (string, error) {
		return runKeyward(t, append(append([]string{"admin"}, args...), "--data", data)...)
	}

	out, err := admin("create-key", "--name", "leaked")
	if err != nil {
		t.Fatalf("create-key: %v\n%s", err, out)
	}
	leaked := adminKeyPattern.FindString(out)
	id := regexp.MustCompile(`Admin key (\S+) \(leaked\)`).FindStringSubmatch(out)
	if leaked == "" || id == nil {
		t.Fatalf("create-key printed no key and id:\n%s", out)
	}
	if status, _ := srv.call(leaked, "GET", "/v1/whoami", nil); status != http.StatusOK {
		t.Fatalf("whoami with the new admin key = %d, want 200", status)
	}

	out, err = admin("list-keys")
	if err != nil {
		t.Fatalf("list-keys: %v", err)
	}
	for _, want := range []string{id[1], "leaked", "root", "default", "kwadmin_"} {
		if !strings.Contains(out, want) {
			t.Errorf("list-keys does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, leaked) || strings.Contains(out, root) {
		t.Errorf("list-keys printed a secret:\n%s", out)
	}

	out, err = admin("list-keys", "-o", "json")
	var listed []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 || listed[0]["key_prefix"] == "" {
		t.Errorf("list-keys -o json: %v\n%s", err, out)
	}
	if strings.Contains(out, leaked) || strings.Contains(out, root) {
		t.Errorf("list-keys -o json printed a secret:\n%s", out)
	}

	if out, err = admin("revoke-key", id[1]); err != nil || !strings.Contains(out, "Revoked admin key "+id[1]) {
		t.Fatalf("revoke-key: %v\n%s", err, out)
	}
	if status, _ := srv.call(leaked, "GET", "/v1/whoami", nil); status != http.StatusUnauthorized {
		t.Errorf("whoami with the revoked admin key = %d, want 401", status)
	}
	if status, _ := srv.call(root, "GET", "/v1/whoami", nil); status != http.StatusOK {
		t.Errorf("whoami with the root key after revoking another = %d, want 200", status)
	}
	out, _ = admin("list-keys")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		// The last column is the revocation time, "-" for a key still in force.
		live := strings.HasSuffix(line, "-")
		if isLeaked := strings.HasPrefix(line, id[1]); live == isLeaked {
			t.Errorf("list-keys after the revocation: %q; want only the leaked key revoked", line)
		}
	}

	// Both commands worked on the store directly, and both are in the account's audit log,
	// as the operator's.
	events := srv.mustCallList(root, "GET", "/v1/audit-events?target_id="+id[1])
	var actions []string
	for _, e := range events {
		if e["actor_kind"] != "operator" || e["outcome"] != "success" {
			t.Errorf("audit event of the admin key: %v, want the operator's success", e)
		}
		actions = append(actions, e["action"].(string))
	}
	if strings.Join(actions, " ") != "revoke-admin-key create-admin-key" {
		t.Errorf("audit log of the admin key, newest first = %v, want revoke-admin-key, create-admin-key", actions)
	}

	for _, tc := range []struct{ arg, want string }{
		{id[1], "revoked already"},
		{"01a209ff-beb7-7785-8f0e-5ea69924800d", "not found"},
		{"not-an-id", "not a valid id"},
	} {
		if _, err := admin("revoke-key", tc.arg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("revoke-key %s: %v, want an error saying %q", tc.arg, err, tc.want)
		}
	}
}
