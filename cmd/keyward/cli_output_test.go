package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// cliRun runs the client commands with args under a bare root command, as main does, and
// returns what they wrote to stdout and stderr.
func cliRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newTestRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// newTestRoot is a bare root command with the client commands, configured as main's.
func newTestRoot() *cobra.Command {
	root := &cobra.Command{Use: "keyward", SilenceUsage: true, SilenceErrors: true}
	addClientCommands(root)
	return root
}

// seenRequest is what a wireRecorder saw of one request.
type seenRequest struct {
	Method, Path, Query, Auth string
	Body                      map[string]any
}

// wireRecorder is an httptest server that answers every request with one fixed response and
// records the requests. It stands in for no server logic; it only shows what the CLI sent.
type wireRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newWireRecorder(t *testing.T, status int, contentType, body string, header ...string) *wireRecorder {
	t.Helper()
	rec := &wireRecorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
		if data, _ := io.ReadAll(r.Body); len(data) > 0 {
			if err := json.Unmarshal(data, &s.Body); err != nil {
				t.Errorf("request body %q is not a JSON object: %v", data, err)
			}
		}
		rec.mu.Lock()
		rec.seen = append(rec.seen, s)
		rec.mu.Unlock()
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *wireRecorder) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.seen...)
}

// useServer points the commands at url with an admin key, through the environment as a
// person would.
func useServer(t *testing.T, url string) {
	t.Helper()
	t.Setenv(envKeywardURL, url)
	t.Setenv(envKeywardToken, "kwadmin_test")
}

// Fixed times for output tests: a creation and an expiry.
var (
	testCreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	testExpiresAt = time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
)

func TestWriteKeysTable(t *testing.T) {
	keys := []*client.Key{
		{ID: "key_1", Name: "billing worker", KeyPrefix: "kw_17d70fcf", Last4: "a1B2", Status: client.StatusActive,
			Scopes: []string{"invoices:read", "invoices:write"}, ExpiresAt: &testExpiresAt, LastUsedAt: &testCreatedAt, CreatedAt: testCreatedAt},
		{ID: "key_22", Name: "ci", KeyPrefix: "sk_live_abcdefgh", Last4: "zzzz", Status: client.StatusRevoked, CreatedAt: testCreatedAt},
	}
	var b bytes.Buffer
	if err := writeKeysTable(&b, keys); err != nil {
		t.Fatal(err)
	}
	want := `ID      NAME            PREFIX                   STATUS   SCOPES                        EXPIRES               LAST USED
key_1   billing worker  kw_17d70fcf...a1B2       active   invoices:read,invoices:write  2026-12-31T23:59:59Z  2026-01-02T03:04:05Z
key_22  ci              sk_live_abcdefgh...zzzz  revoked  -                             never                 never
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteKeyDetails(t *testing.T) {
	grace := testCreatedAt.Add(time.Hour)
	k := &client.Key{
		ID: "key_1", Name: "billing worker", KeyPrefix: "kw_17d70fcf", Last4: "a1B2", Status: client.StatusActive,
		ProjectID: "prj_1", EnvironmentID: "env_1", UserID: "usr_1", RateLimitTier: client.TierHigh, Scopes: []string{"a"},
		AllowedIPs: []string{"203.0.113.0/24", "2001:db8::/32"},
		Metadata:   map[string]any{"team": "billing"}, CreatedAt: testCreatedAt, CreatedBy: "adm_1",
		RotationIntervalDays: 30, NextRotationAt: &testExpiresAt, ReplacedByKeyID: "key_2", GraceExpiresAt: &grace,
		RotationGraceSeconds: 604800,
		ProjectAccesses:      []client.ProjectAccess{{ProjectID: "prj_2", RoleID: "viewer"}, {ProjectID: "prj_3", RoleID: "rol_1"}},
	}
	var b bytes.Buffer
	if err := writeKeyDetails(&b, k); err != nil {
		t.Fatal(err)
	}
	want := `ID                key_1
NAME              billing worker
STATUS            active
PREFIX            kw_17d70fcf...a1B2
PROJECT           prj_1
ENVIRONMENT       env_1
USER              usr_1
ROLE              -
PROJECT ACCESS    prj_2:viewer,prj_3:rol_1
TIER              high
SCOPES            a
ALLOWED IPS       203.0.113.0/24, 2001:db8::/32
METADATA          {"team":"billing"}
EXPIRES           never
LAST USED         never
CREATED           2026-01-02T03:04:05Z
CREATED BY        adm_1
ROTATION          every 30 days
NEXT ROTATION     2026-12-31T23:59:59Z
ROTATION WEBHOOK  -
ROTATION GRACE    168h0m0s
REPLACED BY       key_2
GRACE ENDS        2026-01-02T04:04:05Z
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("details mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteProjectsAndEnvironmentsTables(t *testing.T) {
	var b bytes.Buffer
	if err := writeProjectsTable(&b, []*client.Project{{ID: "prj_1", Name: "payments", KeyPrefix: "pay", CreatedAt: testCreatedAt}}); err != nil {
		t.Fatal(err)
	}
	if err := writeEnvironmentsTable(&b, []*client.Environment{{ID: "env_1", ProjectID: "prj_1", Name: "production", CreatedAt: testCreatedAt}}); err != nil {
		t.Fatal(err)
	}
	want := `ID     NAME      KEY PREFIX  CREATED
prj_1  payments  pay         2026-01-02T03:04:05Z
ID     NAME        PROJECT  CREATED
env_1  production  prj_1    2026-01-02T03:04:05Z
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("tables mismatch (-want +got):\n%s", diff)
	}
}

func TestFormatHelpers(t *testing.T) {
	local := time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct{ name, got, want string }{
		{"time in UTC", formatAPITime(&local, "never"), "2026-01-02T03:04:05Z"},
		{"nil time", formatAPITime(nil, "never"), "never"},
		{"zero time", formatAPITime(&time.Time{}, "-"), "-"},
		{"no scopes", formatScopes(nil), "-"},
		{"handle without last4", formatKeyHandle("kw_abc", ""), "kw_abc"},
		{"no handle", formatKeyHandle("", "abcd"), "-"},
		{"no rotation", formatRotation(0), "none"},
		{"daily rotation", formatRotation(1), "every day"},
		{"nil metadata", formatMetadata(nil), "-"},
		{"empty metadata", formatMetadata(map[string]any{}), "{}"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestExplain(t *testing.T) {
	conn := &apiConn{url: "http://127.0.0.1:1"}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	_, transportErr := client.New(down.URL, "t").GetKey(t.Context(), "key_1")

	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "not found",
			err:  &client.Error{Status: 404, Code: client.CodeNotFound, Title: "Not Found", Detail: "key not found"},
			want: "key not found (not_found, HTTP 404)",
		},
		{
			name: "unauthenticated hints at the token",
			err:  &client.Error{Status: 401, Code: client.CodeUnauthenticated, Title: "Unauthorized"},
			want: "Unauthorized (unauthenticated, HTTP 401); check --token or KEYWARD_TOKEN",
		},
		{
			name: "validation lists fields",
			err: &client.Error{Status: 422, Code: client.CodeValidationFailed, Detail: "validation failed",
				Errors: []client.ErrorDetail{{Location: "body.name", Message: "too long"}, {Location: "body.scopes", Message: "bad"}}},
			want: "validation failed (validation_failed, HTTP 422): body.name: too long; body.scopes: bad",
		},
		{
			name: "rate limited says when to retry",
			err:  &client.Error{Status: 429, Code: client.CodeRateLimited, Title: "Too Many Requests", RetryAfter: 3 * time.Second},
			want: "Too Many Requests (rate_limited, HTTP 429); retry in 3s",
		},
		{
			name: "other client errors lose the doubled prefix",
			err:  errors.New("keyward: invalid key ID \"..\""),
			want: `invalid key ID ".."`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := conn.explain(tt.err)
			if got.Error() != tt.want {
				t.Errorf("explain = %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("explained error does not unwrap to the original")
			}
		})
	}

	got := conn.explain(transportErr).Error()
	if !strings.HasPrefix(got, "cannot reach Keyward at http://127.0.0.1:1: ") || !strings.HasSuffix(got, "(set --url or KEYWARD_URL)") {
		t.Errorf("explain(transport error) = %q, want a cannot-reach message naming the URL and KEYWARD_URL", got)
	}
}

// assertSameJSON fails unless got and want encode the same JSON value.
func assertSameJSON(t *testing.T, want, got string) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output %q is not JSON: %v", got, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
}
