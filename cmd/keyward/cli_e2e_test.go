package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
)

// runMain starts a Keyward server in-process on a random loopback port over a fresh data
// directory, and returns its URL and admin key.
func runMain(t *testing.T) (url, token string) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	var stderr lockedBuffer
	m := &Main{Config: cfg, Stderr: &stderr}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	token = adminKeyPattern.FindString(stderr.String())
	if token == "" {
		t.Fatalf("no admin key printed:\n%s", stderr.String())
	}
	return m.URL(), token
}

// runCLI runs the CLI as a person would, against url with token.
func runCLI(t *testing.T, url, token string, args ...string) string {
	t.Helper()
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "--url", url, "--token", token))
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("keyward %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func jsonField(t *testing.T, s, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %s", s)
	}
	v, _ := m[field].(string)
	return v
}

// TestCLIEndToEnd walks the README's quickstart through the CLI against a real server.
func TestCLIEndToEnd(t *testing.T) {
	url, token := runMain(t)

	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "shop", "--key-prefix", "sk_live", "--json"), "id")
	envID := jsonField(t, runCLI(t, url, token, "environments", "create", "--project", projectID, "--name", "production", "--json"), "id")
	if out := runCLI(t, url, token, "environments", "list", "--project", projectID); !strings.Contains(out, "production") {
		t.Errorf("environments list:\n%s", out)
	}

	created := runCLI(t, url, token, "keys", "create", "--project", projectID, "--env", envID, "--name", "checkout",
		"--scope", "orders:read", "--scope", "orders:write", "--expires-in", "720h", "--metadata", `{"team":"payments"}`, "--json")
	keyID, secret := jsonField(t, created, "id"), jsonField(t, created, "key")
	if !strings.HasPrefix(secret, "sk_live_") {
		t.Fatalf("secret %q does not carry the project prefix", secret)
	}

	// People get a table with the secret and a warning; the table never shows it again.
	human := runCLI(t, url, token, "keys", "create", "--project", projectID, "--name", "second")
	if !regexp.MustCompile(`sk_live_[0-9A-Za-z]{42}`).MatchString(human) {
		t.Errorf("keys create (table) does not show the secret:\n%s", human)
	}
	list := runCLI(t, url, token, "keys", "list", "--project", projectID)
	if !strings.Contains(list, "checkout") || strings.Contains(list, secret) {
		t.Errorf("keys list:\n%s", list)
	}
	if get := runCLI(t, url, token, "keys", "get", keyID); !strings.Contains(get, "orders:read") || strings.Contains(get, secret) {
		t.Errorf("keys get:\n%s", get)
	}

	updated := runCLI(t, url, token, "keys", "update", keyID, "--name", "checkout-v2", "--json")
	if got := jsonField(t, updated, "name"); got != "checkout-v2" {
		t.Errorf("after update name = %q", got)
	}

	rotated := runCLI(t, url, token, "keys", "rotate", keyID, "--grace", "60s", "--json")
	newID, newSecret := jsonField(t, rotated, "new_key_id"), jsonField(t, rotated, "key")
	if newID == "" || newSecret == "" || jsonField(t, rotated, "grace_expires_at") == "" {
		t.Fatalf("rotate: %s", rotated)
	}

	runCLI(t, url, token, "keys", "revoke", "--yes", newID)
	if got := jsonField(t, runCLI(t, url, token, "keys", "get", newID, "--json"), "status"); got != "revoked" {
		t.Errorf("status after revoke = %q", got)
	}
	revoked := runCLI(t, url, token, "keys", "list", "--status", "revoked", "--json")
	if !strings.Contains(revoked, newID) || strings.Contains(revoked, keyID) {
		t.Errorf("--status revoked lists:\n%s", revoked)
	}
}

func TestCLIErrorsAreClear(t *testing.T) {
	url, token := runMain(t)
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"keys", "get", "01900000-0000-7000-8000-000000000000", "--url", url, "--token", token})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("get of a missing key: err = %v, want a not_found error", err)
	}
	root = newRootCmd(nil, nil)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"projects", "list", "--url", url, "--token", "kwadmin_wrong"})
	if err := root.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("wrong token: err = %v, want unauthenticated", err)
	}
}
