package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
)

// TestSeedKeys loads keys straight into a running server's SQLite store and verifies the
// secrets it kept through that server.
func TestSeedKeys(t *testing.T) {
	data := filepath.Join(t.TempDir(), "keyward-data")
	srv := startServer(t, data)
	secrets := filepath.Join(t.TempDir(), "keys.txt")

	seed := func(args ...string) (string, error) {
		return runKeyward(t, append([]string{"admin", "seed-keys", "--data", data}, args...)...)
	}
	out, err := seed("--count", "1201", "--batch", "500", "--secrets-out", secrets, "--keep", "7", "--project-name", "seeded")
	if err != nil || !strings.Contains(out, `1201 keys in project "seeded"`) {
		t.Fatalf("seed-keys: %v\n%s", err, out)
	}
	if fi, err := os.Stat(secrets); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, %v; want mode 0600", fi, err)
	}
	f, err := os.Open(secrets)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kept []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		kept = append(kept, sc.Text())
	}
	if len(kept) != 7 {
		t.Fatalf("kept %d secrets, want 7", len(kept))
	}
	for _, k := range kept {
		if code := srv.verifyCode(k); code != "VALID" {
			t.Errorf("verify a seeded key = %s, want VALID", code)
		}
	}

	// The project holds every key, as the store lists them.
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("stopping the server: %v", err)
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(data, "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	acct, err := store.AccountByName(t.Context(), keyward.DefaultAccountName)
	if err != nil {
		t.Fatal(err)
	}
	projects, err := store.ListProjects(t.Context(), acct.ID, "", 100)
	if err != nil || len(projects) != 1 || projects[0].Name != "seeded" {
		t.Fatalf("projects = %v, %v; want the one seeded", projects, err)
	}
	listed, after := 0, ""
	for range 20 {
		keys, err := store.ListKeys(t.Context(), keyward.KeyFilter{AccountID: acct.ID, ProjectID: projects[0].ID, After: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		listed += len(keys)
		if len(keys) < 500 {
			break
		}
		after = keys[len(keys)-1].ID
	}
	if listed != 1201 {
		t.Errorf("the seeded project holds %d keys, want 1201", listed)
	}

	// An existing secrets file is never overwritten, and a batch size of 0 is refused.
	if _, err := seed("--count", "1", "--secrets-out", secrets); err == nil || !strings.Contains(err.Error(), "must not exist") {
		t.Errorf("seed-keys over an existing secrets file: %v, want a refusal", err)
	}
	if _, err := seed("--count", "1", "--batch", "0"); err == nil {
		t.Error("seed-keys --batch 0 succeeded")
	}
}
