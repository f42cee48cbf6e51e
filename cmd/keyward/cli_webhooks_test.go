package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/config"
)

// runMainWith is runMain with the configuration changed by edit first.
func runMainWith(t *testing.T, edit func(*config.Config)) (url, token string) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	edit(&cfg)
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

// runCLIEnv runs the CLI with the server and credential in the environment, as commands
// whose --url names something else need, and stdin as its input. It returns stdout and the
// command's error.
func runCLIEnv(t *testing.T, url, token, stdin string, args ...string) (string, error) {
	t.Helper()
	t.Setenv(envKeywardURL, url)
	t.Setenv(envKeywardToken, token)
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func mustCLIEnv(t *testing.T, url, token, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLIEnv(t, url, token, stdin, args...)
	if err != nil {
		t.Fatalf("keyward %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestCLIWebhooks(t *testing.T) {
	url, token := runMainWith(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	var received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") != "" {
			received.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	// People get the secret once, with a warning to store it.
	human := mustCLIEnv(t, url, token, "", "webhooks", "create", "--url", receiver.URL+"/a", "--events", "webhook.test,api_key.leaked", "--description", "ops")
	if !strings.Contains(human, "whsec_") || !strings.Contains(human, "store it now") || !strings.Contains(human, "api_key.leaked") || !strings.Contains(human, "webhook.test") {
		t.Errorf("webhooks create (table):\n%s", human)
	}
	created := mustCLIEnv(t, url, token, "", "webhooks", "create", "--url", receiver.URL+"/b", "--json")
	id, secret := jsonField(t, created, "id"), jsonField(t, created, "secret")
	if id == "" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("webhooks create --json: %s", created)
	}

	list := runCLI(t, url, token, "webhooks", "list")
	if !strings.Contains(list, id) || !strings.Contains(list, receiver.URL+"/b") || strings.Contains(list, "whsec_") {
		t.Errorf("webhooks list:\n%s", list)
	}
	if get := runCLI(t, url, token, "webhooks", "get", id); !strings.Contains(get, "enabled") || !strings.Contains(get, "all") {
		t.Errorf("webhooks get:\n%s", get)
	}

	rotated := runCLI(t, url, token, "webhooks", "rotate-secret", id, "--overlap", "1h", "--json")
	if s := jsonField(t, rotated, "secret"); !strings.HasPrefix(s, "whsec_") || s == secret || jsonField(t, rotated, "previous_secret_expires_at") == "" {
		t.Errorf("rotate-secret --overlap 1h: %s", rotated)
	}
	if out := runCLI(t, url, token, "webhooks", "rotate-secret", id, "--overlap", "0s"); !strings.Contains(out, "no longer signs") || !strings.Contains(out, "whsec_") {
		t.Errorf("rotate-secret --overlap 0s:\n%s", out)
	}
	if _, err := runCLIEnv(t, url, token, "", "webhooks", "rotate-secret", id, "--overlap", "200h"); err == nil || !strings.Contains(err.Error(), "--overlap") {
		t.Errorf("rotate-secret --overlap 200h: err = %v, want a refusal naming --overlap", err)
	}

	if out := runCLI(t, url, token, "webhooks", "test", id); !strings.Contains(out, "webhook.test") {
		t.Errorf("webhooks test:\n%s", out)
	}
	var deliveries []client.WebhookDelivery
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := json.Unmarshal([]byte(runCLI(t, url, token, "webhooks", "deliveries", id, "--json")), &deliveries); err != nil {
			t.Fatal(err)
		}
		if len(deliveries) == 1 && deliveries[0].Status == client.DeliveryDelivered || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(deliveries) != 1 || deliveries[0].Status != client.DeliveryDelivered || len(deliveries[0].Attempts) != 1 ||
		deliveries[0].Attempts[0].StatusCode != http.StatusNoContent || received.Load() == 0 {
		t.Fatalf("deliveries = %+v (received %d), want one delivered webhook.test", deliveries, received.Load())
	}
	table := runCLI(t, url, token, "webhooks", "deliveries", id)
	for _, want := range []string{"ID", "EVENT", "STATUS", "ATTEMPTS", "LAST STATUS", "NEXT ATTEMPT", deliveries[0].ID, "webhook.test", "delivered", "204"} {
		if !strings.Contains(table, want) {
			t.Errorf("webhooks deliveries table lacks %q:\n%s", want, table)
		}
	}
	if out := runCLI(t, url, token, "webhooks", "resend", deliveries[0].ID); !strings.Contains(out, deliveries[0].ID) {
		t.Errorf("webhooks resend:\n%s", out)
	}

	if out := mustCLIEnv(t, url, token, "", "webhooks", "update", id, "--disable", "--description", "paused"); !strings.Contains(out, "disabled") || !strings.Contains(out, "paused") {
		t.Errorf("webhooks update --disable:\n%s", out)
	}
	if out := runCLI(t, url, token, "webhooks", "delete", id); !strings.Contains(out, "Deleted webhook endpoint "+id) {
		t.Errorf("webhooks delete:\n%s", out)
	}
	if err := runCLIErr(t, url, token, "webhooks", "get", id); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("get after delete: err = %v, want not_found", err)
	}
}

func TestCLIKeysImport(t *testing.T) {
	url, token := runMain(t)
	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "legacy", "--json"), "id")

	plain := "legacy_live_0123456789abcdefABCDEF"
	hashed := "legacy_live_fedcba9876543210ZYXWVU"
	sum := sha256.Sum256([]byte(hashed))
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	lines := fmt.Sprintf(`{"key":%q,"name":"plain one","project_id":%q,"scopes":["read"],"metadata":{"legacy_id":424242}}`+"\n\n"+
		`{"sha256":%q,"prefix":"legacy_live_fe","name":"hashed one"}`+"\n", plain, projectID, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, url, token, "keys", "import", file, "--json")
	var res client.ImportResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Imported != 2 || len(res.KeyIDs) != 2 {
		t.Fatalf("keys import --json = %s (%v), want 2 keys", out, err)
	}

	kw := client.New(url, token)
	for _, secret := range []string{plain, hashed} {
		v, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: secret})
		if err != nil || !v.Valid || v.Code != client.VerifyValid {
			t.Errorf("verify %s: %+v, %v; want VALID", secret, v, err)
		}
	}
	got := runCLI(t, url, token, "keys", "get", res.KeyIDs[0], "--json")
	if !strings.Contains(got, `"imported": true`) || !strings.Contains(got, "424242") {
		t.Errorf("imported key:\n%s", got)
	}

	// The same from stdin, in the table form.
	other := "legacy_live_stdin_0123456789abcdef"
	human := mustCLIEnv(t, url, token, fmt.Sprintf(`{"key":%q,"name":"from stdin"}`+"\n", other), "keys", "import", "-")
	if !strings.Contains(human, "Imported 1 key:") {
		t.Errorf("keys import - :\n%s", human)
	}

	// A bad line is named, and nothing is sent.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"key":"legacy_live_aaaaaaaaaaaaaaaaaaaa","name":"ok"}`+"\n\n"+`{"key": "x", "name": }`+"\n"), 0o600)
	if err := runCLIErr(t, url, token, "keys", "import", bad); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad line: err = %v, want one naming line 3", err)
	}
	os.WriteFile(bad, []byte(`{"key":"legacy_live_aaaaaaaaaaaaaaaaaaaa","nmae":"typo"}`+"\n"), 0o600)
	if err := runCLIErr(t, url, token, "keys", "import", bad); err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "nmae") {
		t.Errorf("unknown field: err = %v, want one naming line 1 and the field", err)
	}
	if list := runCLI(t, url, token, "keys", "list", "--json"); strings.Contains(list, `"ok"`) {
		t.Errorf("a refused file imported keys:\n%s", list)
	}
}

func TestCLIImportRefusesTooManyKeys(t *testing.T) {
	var b strings.Builder
	for i := range client.MaxImportKeys + 1 {
		fmt.Fprintf(&b, `{"key":"legacy_live_%020d","name":"k"}`+"\n", i)
	}
	_, err := readImportKeys(strings.NewReader(b.String()), "big.jsonl")
	if err == nil || !strings.Contains(err.Error(), "10001") || !strings.Contains(err.Error(), "10000") {
		t.Errorf("10001 keys: err = %v, want a refusal naming the count and the limit", err)
	}
	keys, err := readImportKeys(strings.NewReader(strings.TrimSuffix(b.String(), fmt.Sprintf(`{"key":"legacy_live_%020d","name":"k"}`+"\n", client.MaxImportKeys))), "ok.jsonl")
	if err != nil || len(keys) != client.MaxImportKeys {
		t.Errorf("10000 keys: %d, %v; want all of them", len(keys), err)
	}
	if _, err := readImportKeys(strings.NewReader("\n \n"), "empty.jsonl"); err == nil {
		t.Error("an empty file: got nil error")
	}
}

func TestCLIReportLeakFromStdinRevokes(t *testing.T) {
	url, token := runMain(t)
	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "shop", "--json"), "id")
	created := runCLI(t, url, token, "keys", "create", "--project", projectID, "--name", "leaky", "--json")
	keyID, secret := jsonField(t, created, "id"), jsonField(t, created, "key")

	// No credential: whoever found the key reports it, its secret on stdin.
	out, err := runCLIEnv(t, url, "", secret+"\n", "keys", "report-leak", "--found-at", "https://gist.example.com/x", "-")
	if err != nil || !strings.Contains(out, "received") {
		t.Fatalf("report-leak: %v\n%s", err, out)
	}
	got := runCLI(t, url, token, "keys", "get", keyID, "--json")
	if jsonField(t, got, "status") != "revoked" || jsonField(t, got, "leak_source") != "report" ||
		jsonField(t, got, "leak_url") != "https://gist.example.com/x" || jsonField(t, got, "leaked_at") == "" {
		t.Errorf("after the report (default policy):\n%s", got)
	}
	if human := runCLI(t, url, token, "keys", "get", keyID); !strings.Contains(human, "LEAKED") {
		t.Errorf("keys get does not show the leak:\n%s", human)
	}

	// A string that is no key gets the same answer.
	if out, err := runCLIEnv(t, url, "", "", "keys", "report-leak", "not-a-key-at-all", "--json"); err != nil || jsonField(t, out, "status") != "received" {
		t.Errorf("report-leak of a non-key: %v\n%s", err, out)
	}
	if _, err := runCLIEnv(t, url, "", "\n", "keys", "report-leak", "-"); err == nil {
		t.Error("report-leak with nothing on stdin: got nil error")
	}
}

func TestCLIProjectLeakPolicyNotifies(t *testing.T) {
	url, token := runMain(t)
	projectID := jsonField(t, runCLI(t, url, token, "projects", "create", "--name", "shop", "--json"), "id")
	if out := runCLI(t, url, token, "projects", "update", projectID, "--leak-policy", "notify"); !strings.Contains(out, "LEAK POLICY") || !strings.Contains(out, "notify") {
		t.Errorf("projects update --leak-policy notify:\n%s", out)
	}
	created := runCLI(t, url, token, "keys", "create", "--project", projectID, "--name", "watched", "--json")
	keyID, secret := jsonField(t, created, "id"), jsonField(t, created, "key")
	if _, err := runCLIEnv(t, url, "", secret, "keys", "report-leak", "-"); err != nil {
		t.Fatal(err)
	}
	got := runCLI(t, url, token, "keys", "get", keyID, "--json")
	if jsonField(t, got, "status") != "active" || jsonField(t, got, "leaked_at") == "" {
		t.Errorf("after the report (notify):\n%s", got)
	}

	// default gives the project back its account's policy.
	if out := runCLI(t, url, token, "projects", "update", projectID, "--leak-policy", "default", "--name", "shop2", "--json"); !strings.Contains(out, `"leak_policy": null`) || jsonField(t, out, "name") != "shop2" {
		t.Errorf("projects update --leak-policy default:\n%s", out)
	}
	if err := runCLIErr(t, url, token, "projects", "update", projectID, "--leak-policy", "ignore"); err == nil || !strings.Contains(err.Error(), "revoke, notify or default") {
		t.Errorf("--leak-policy ignore: err = %v", err)
	}
}

func TestCLIAccountLeakPolicy(t *testing.T) {
	url, token := runMain(t)
	var who struct {
		Account client.Account `json:"account"`
	}
	if err := json.Unmarshal([]byte(runCLI(t, url, token, "whoami", "--json")), &who); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, url, token, "accounts", "update", who.Account.ID, "--leak-policy", "notify", "--json")
	if jsonField(t, out, "leak_policy") != "notify" {
		t.Errorf("accounts update --leak-policy notify:\n%s", out)
	}
	if table := runCLI(t, url, token, "accounts", "get", who.Account.ID); !strings.Contains(table, "LEAK POLICY") {
		t.Errorf("accounts get with a notify policy:\n%s", table)
	}
	if err := runCLIErr(t, url, token, "accounts", "update", who.Account.ID, "--leak-policy", "default"); err == nil {
		t.Error("accounts update --leak-policy default: got nil error")
	}
}

func TestCLIKeysRotationGraceAndWebhookSecret(t *testing.T) {
	url, token := runMain(t)
	created := runCLI(t, url, token, "keys", "create", "--name", "scheduled", "--rotation-days", "30",
		"--rotation-webhook", "https://hooks.example.com/rotate", "--rotation-grace", "1h", "--json")
	keyID := jsonField(t, created, "id")
	if !strings.HasPrefix(jsonField(t, created, "rotation_webhook_secret"), "whsec_") || !strings.Contains(created, `"rotation_grace_seconds": 3600`) {
		t.Errorf("keys create with a rotation webhook and grace:\n%s", created)
	}
	out := runCLI(t, url, token, "keys", "update", keyID, "--rotate-webhook-secret", "--rotation-grace", "2h")
	if !strings.Contains(out, "Rotation webhook signing secret") || !strings.Contains(out, "whsec_") || !strings.Contains(out, "2h0m0s") {
		t.Errorf("keys update --rotate-webhook-secret:\n%s", out)
	}
	out = runCLI(t, url, token, "keys", "update", keyID, "--clear-rotation-grace", "--json")
	if !strings.Contains(out, `"rotation_grace_seconds": 604800`) || strings.Contains(out, "rotation_webhook_secret") {
		t.Errorf("keys update --clear-rotation-grace:\n%s", out)
	}
}
