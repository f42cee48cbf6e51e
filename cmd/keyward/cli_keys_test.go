package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/client"
)

const (
	testKeyJSON = `{"id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"user_id":null,"role_id":null,` +
		`"project_accesses":[],"rate_limit_tier":"standard","rate_limit":null,"credits":null,"name":"billing worker",` +
		`"key_prefix":"kw_17d70fcf","last4":"a1B2","status":"active","scopes":["invoices:read"],"allowed_ips":[],"metadata":null,` +
		`"expires_at":null,"last_used_at":null,"created_at":"2026-01-02T03:04:05Z","revoked_at":null,` +
		`"replaced_by_key_id":null,"grace_expires_at":null,"rotation_interval_days":0,"next_rotation_at":null,` +
		`"rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":null,"leak_source":null,"leak_url":null,"imported":false,"created_by":"adm_1"}`
	testSecret         = "kw_17d70fcfSECRETsecretSECRETsecretSECRETa1B2"
	testCreatedKeyJSON = `{"id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"user_id":null,"role_id":null,` +
		`"project_accesses":[],"rate_limit_tier":"standard","rate_limit":null,"credits":null,"name":"billing worker",` +
		`"key_prefix":"kw_17d70fcf","last4":"a1B2","status":"active","scopes":["invoices:read"],"allowed_ips":[],"metadata":null,` +
		`"expires_at":null,"last_used_at":null,"created_at":"2026-01-02T03:04:05Z","revoked_at":null,` +
		`"replaced_by_key_id":null,"grace_expires_at":null,"rotation_interval_days":0,"next_rotation_at":null,` +
		`"rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":null,"leak_source":null,"leak_url":null,"imported":false,"created_by":"adm_1","key":"` + testSecret + `"}`
	testRotatedJSON = `{"old_key_id":"key_1","new_key_id":"key_2","project_id":"prj_1","name":"billing worker","key":"` + testSecret + `",` +
		`"key_prefix":"kw_17d70fcf","scopes":[],"expires_at":null,"created_at":"2026-01-02T03:04:05Z","grace_expires_at":"2026-01-02T03:05:05Z"}`
)

// TestFlagValidation checks that bad flags are refused with a clear message before any
// request is sent.
func TestFlagValidation(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", testKeyJSON)
	useServer(t, rec.URL)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"create with a blank tier", []string{"keys", "create", "--name", "n", "--tier", " "}, `invalid --tier`},
		{"create with access without role", []string{"keys", "create", "--name", "n", "--project-access", "prj_1"}, `invalid --project-access "prj_1": want PROJECT_ID:ROLE`},
		{"create with access without project", []string{"keys", "create", "--name", "n", "--project-access", ":viewer"}, "invalid --project-access"},
		{"create without name", []string{"keys", "create", "--project", "p"}, `required flag(s) "name" not set`},
		{"create with blank name", []string{"keys", "create", "--project", "p", "--name", "  "}, "invalid --name"},
		{"bad expires-at", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-at", "tomorrow"}, `invalid --expires-at "tomorrow": want an RFC 3339 time`},
		{"date-only expires-at", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-at", "2026-12-31"}, "invalid --expires-at"},
		{"past expires-at", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-at", "2001-01-01T00:00:00Z"}, "in the past"},
		{"both expiries", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-at", future, "--expires-in", "1h"}, "[expires-at expires-in]"},
		{"negative expires-in", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-in", "-1h"}, "invalid --expires-in"},
		{"days are not a Go duration", []string{"keys", "create", "--project", "p", "--name", "n", "--expires-in", "30d"}, `invalid argument "30d" for "--expires-in"`},
		{"metadata not json", []string{"keys", "create", "--project", "p", "--name", "n", "--metadata", "team=x"}, "invalid --metadata"},
		{"metadata array", []string{"keys", "create", "--project", "p", "--name", "n", "--metadata", `["x"]`}, "invalid --metadata"},
		{"metadata null", []string{"keys", "create", "--project", "p", "--name", "n", "--metadata", "null"}, "invalid --metadata"},
		{"metadata trailing data", []string{"keys", "create", "--project", "p", "--name", "n", "--metadata", `{"a":1} {}`}, "invalid --metadata"},
		{"negative rotation days", []string{"keys", "create", "--project", "p", "--name", "n", "--rotation-days", "-1"}, "invalid --rotation-days"},
		{"list bad status", []string{"keys", "list", "--status", "deleted"}, `invalid --status "deleted"`},
		{"list limit too big", []string{"keys", "list", "--limit", "201"}, "invalid --limit 201: want 1..200"},
		{"list all with cursor", []string{"keys", "list", "--all", "--cursor", "c"}, "[all cursor]"},
		{"get without id", []string{"keys", "get"}, "want exactly one key ID"},
		{"get with two ids", []string{"keys", "get", "a", "b"}, "want exactly one key ID"},
		{"update nothing", []string{"keys", "update", "key_1"}, "nothing to update"},
		{"update set and clear scopes", []string{"keys", "update", "key_1", "--scope", "a", "--clear-scopes"}, "[scope clear-scopes]"},
		{"update set and clear expiry", []string{"keys", "update", "key_1", "--expires-in", "1h", "--clear-expiry"}, "[expires-in clear-expiry]"},
		{"update empty webhook", []string{"keys", "update", "key_1", "--rotation-webhook", ""}, "--clear-rotation-webhook"},
		{"update set and clear role", []string{"keys", "update", "key_1", "--role", "viewer", "--clear-role"}, "[role clear-role]"},
		{"update blank role", []string{"keys", "update", "key_1", "--role", " "}, "--clear-role"},
		{"update to a blank tier", []string{"keys", "update", "key_1", "--tier", " "}, `invalid --tier`},
		{"revoke without id", []string{"keys", "revoke"}, "want at least one key ID"},
		{"rotate fractional grace", []string{"keys", "rotate", "key_1", "--grace", "1500ms"}, "invalid --grace 1.5s"},
		{"rotate grace too long", []string{"keys", "rotate", "key_1", "--grace", "721h"}, "invalid --grace"},
		{"rotate negative grace", []string{"keys", "rotate", "key_1", "--grace", "-1s"}, "invalid --grace"},
		{"project without name", []string{"projects", "create"}, `required flag(s) "name" not set`},
		{"environments list without project", []string{"environments", "list"}, `required flag(s) "project" not set`},
		{"environments create without name", []string{"environments", "create", "--project", "p"}, `required flag(s) "name" not set`},
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

func TestMissingTokenFailsBeforeAnyRequest(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", "[]")
	t.Setenv(envKeywardURL, rec.URL)
	t.Setenv(envKeywardToken, "")

	for _, args := range [][]string{
		{"keys", "list"},
		{"keys", "create", "--project", "p", "--name", "n"},
		{"keys", "revoke", "key_1"},
		{"projects", "list"},
		{"environments", "create", "--project", "p", "--name", "staging"},
		{"whoami"},
		{"users", "disable", "usr_1"},
		{"audit", "list"},
	} {
		_, _, err := cliRun(t, args...)
		if err == nil || !strings.Contains(err.Error(), "KEYWARD_TOKEN") {
			t.Errorf("%v: error = %v, want one naming KEYWARD_TOKEN", args, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestConnectionSettings(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", "[]")
	other := newWireRecorder(t, 200, "application/json", "[]")
	tests := []struct {
		name             string
		envURL, envToken string
		args             []string
		wantServer       *wireRecorder
		wantAuth         string
	}{
		{"from the environment", rec.URL, "kwadmin_env", nil, rec, "Bearer kwadmin_env"},
		{"flags win", other.URL, "kwadmin_env", []string{"--url", rec.URL + "/", "--token", "kwadmin_flag"}, rec, "Bearer kwadmin_flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envKeywardURL, tt.envURL)
			t.Setenv(envKeywardToken, tt.envToken)
			before := len(tt.wantServer.requests())
			if _, _, err := cliRun(t, append([]string{"projects", "list"}, tt.args...)...); err != nil {
				t.Fatal(err)
			}
			reqs := tt.wantServer.requests()
			if len(reqs) != before+1 {
				t.Fatalf("server saw %d new requests, want 1", len(reqs)-before)
			}
			if got := reqs[len(reqs)-1].Auth; got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
		})
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("the KEYWARD_URL server saw %d requests although --url was given", n)
	}
}

func TestKeysCreate(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testCreatedKeyJSON)
	useServer(t, rec.URL)

	stdout, stderr, err := cliRun(t, "keys", "create", "--project", "prj_1", "--env", "env_1", "--name", "billing worker",
		"--scope", "invoices:read", "--scope", "a,b", "--expires-at", "2099-12-31T23:59:59+01:00",
		"--rotation-days", "90", "--rotation-webhook", "https://hooks.example.com/r",
		"--metadata", `{"team":"billing","big":12345678901234567890}`)
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	want := seenRequest{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_test", Body: map[string]any{
		"project_id": "prj_1", "environment_id": "env_1", "name": "billing worker",
		"scopes": []any{"invoices:read", "a", "b"}, "expires_at": "2099-12-31T22:59:59Z",
		"rotation_interval_days": float64(90), "rotation_webhook_url": "https://hooks.example.com/r",
		"metadata": map[string]any{"team": "billing", "big": float64(12345678901234567890)},
	}}
	if diff := cmp.Diff(want, reqs[0]); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}
	for _, s := range []string{"Created key key_1", "store it now, it will not be shown again", "    " + testSecret + "\n", "kw_17d70fcf...a1B2"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if strings.Contains(stderr, testSecret) {
		t.Errorf("stderr shows the secret: %q", stderr)
	}
}

func TestKeysCreateExpiresIn(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testCreatedKeyJSON)
	useServer(t, rec.URL)
	before := time.Now()
	if _, _, err := cliRun(t, "keys", "create", "--project", "p", "--name", "n", "--expires-in", "720h"); err != nil {
		t.Fatal(err)
	}
	raw, _ := rec.requests()[0].Body["expires_at"].(string)
	got, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t.Fatalf("expires_at %q: %v", raw, err)
	}
	if lo, hi := before.Add(720*time.Hour).Add(-time.Second), time.Now().Add(720*time.Hour); got.Before(lo) || got.After(hi) {
		t.Errorf("expires_at = %v, want 720h from now (between %v and %v)", got, lo, hi)
	}
	if !strings.HasSuffix(raw, "Z") {
		t.Errorf("expires_at = %q, want UTC", raw)
	}
}

func TestKeysCreateJSON(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testCreatedKeyJSON)
	useServer(t, rec.URL)
	stdout, _, err := cliRun(t, "keys", "create", "--project", "prj_1", "--name", "billing worker", "--json")
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, testCreatedKeyJSON, stdout)
}

func TestKeysUpdate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantBody map[string]any
	}{
		{
			name:     "clears send null, absent fields are left out",
			args:     []string{"--clear-expiry", "--clear-metadata", "--clear-rotation-webhook", "--rotation-days", "0"},
			wantBody: map[string]any{"expires_at": nil, "metadata": nil, "rotation_webhook_url": nil, "rotation_interval_days": float64(0)},
		},
		{
			name:     "set values",
			args:     []string{"--name", "renamed", "--scope", "a", "--scope", "b", "--metadata", `{"x":1}`, "--rotation-webhook", "https://h.example.com"},
			wantBody: map[string]any{"name": "renamed", "scopes": []any{"a", "b"}, "metadata": map[string]any{"x": float64(1)}, "rotation_webhook_url": "https://h.example.com"},
		},
		{
			name:     "clear scopes sends an empty list",
			args:     []string{"--clear-scopes"},
			wantBody: map[string]any{"scopes": []any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newWireRecorder(t, 200, "application/json", testKeyJSON)
			useServer(t, rec.URL)
			stdout, _, err := cliRun(t, append([]string{"keys", "update", "key_1"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			want := seenRequest{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_test", Body: tt.wantBody}
			if diff := cmp.Diff([]seenRequest{want}, rec.requests()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			if !strings.Contains(stdout, "Updated key key_1.") {
				t.Errorf("stdout = %q, want the update confirmed", stdout)
			}
		})
	}
}

func TestKeysRotate(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testRotatedJSON)
	useServer(t, rec.URL)
	stdout, stderr, err := cliRun(t, "keys", "rotate", "key_1", "--grace", "60s")
	if err != nil {
		t.Fatal(err)
	}
	want := []seenRequest{{Method: "POST", Path: "/v1/api-keys/key_1/rotate", Auth: "Bearer kwadmin_test",
		Body: map[string]any{"grace_period_seconds": float64(60)}}}
	if diff := cmp.Diff(want, rec.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
	for _, s := range []string{
		"Rotated key key_1 into key_2",
		"The old key keeps working until 2026-01-02T03:05:05Z",
		"store it now, it will not be shown again",
		testSecret,
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if strings.Contains(stderr, testSecret) {
		t.Errorf("stderr shows the secret: %q", stderr)
	}
}

func TestKeysRotateWithoutGraceSendsNone(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testRotatedJSON)
	useServer(t, rec.URL)
	if _, _, err := cliRun(t, "keys", "rotate", "key_1"); err != nil {
		t.Fatal(err)
	}
	if body := rec.requests()[0].Body; len(body) != 0 {
		t.Errorf("rotate body = %v, want {}", body)
	}
}

func TestKeysRevoke(t *testing.T) {
	rec := newWireRecorder(t, 204, "application/json", "")
	useServer(t, rec.URL)
	stdout, _, err := cliRun(t, "keys", "revoke", "--yes", "key_1", "key_2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Revoked key key_1.\nRevoked key key_2.\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if n := len(rec.requests()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestKeysListPaging(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", "["+testKeyJSON+"]", "X-Next-Cursor", "next-page")
	useServer(t, rec.URL)
	stdout, stderr, err := cliRun(t, "keys", "list", "--project", "prj_1", "--status", "active", "--limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].Query; got != "limit=1&project_id=prj_1&status=active" {
		t.Errorf("query = %q, want limit=1&project_id=prj_1&status=active", got)
	}
	if !strings.HasPrefix(stdout, "ID  ") || !strings.Contains(stdout, "key_1") {
		t.Errorf("stdout = %q, want a table with key_1", stdout)
	}
	if !strings.Contains(stderr, "--cursor next-page") {
		t.Errorf("stderr = %q, want a hint with the next cursor", stderr)
	}
}

func TestKeysListEmptyJSONIsArray(t *testing.T) {
	rec := newWireRecorder(t, 200, "application/json", "[]")
	useServer(t, rec.URL)
	stdout, _, err := cliRun(t, "keys", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "[]\n" {
		t.Errorf("stdout = %q, want an empty JSON array", stdout)
	}
}

func TestAPIErrorsAreOneLineWithCode(t *testing.T) {
	rec := newWireRecorder(t, 404, "application/problem+json",
		`{"type":"about:blank","title":"Not Found","status":404,"detail":"api key not found","code":"not_found"}`)
	useServer(t, rec.URL)
	_, _, err := cliRun(t, "keys", "get", "key_404")
	if err == nil {
		t.Fatal("got nil error for a 404")
	}
	if want := "api key not found (not_found, HTTP 404)"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != client.CodeNotFound {
		t.Errorf("error does not unwrap to a not_found *client.Error")
	}

	_, _, err = cliRun(t, "keys", "revoke", "-y", "key_404")
	if want := "revoking key_404: api key not found (not_found, HTTP 404)"; err == nil || err.Error() != want {
		t.Errorf("revoke error = %v, want %q", err, want)
	}
}
