package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is what a test handler saw of one request.
type recorded struct {
	Method, Path, RawQuery, Auth, ContentType, UserAgent string
	Body                                                 map[string]any
}

// fixedServer answers every request with status, content type and body, and records the
// requests it saw. It is not a fake Keyward: it only lets a test look at the wire.
func fixedServer(t *testing.T, status int, contentType, body string) (*httptest.Server, func() []recorded) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []recorded
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{
			Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"),
			UserAgent: r.Header.Get("User-Agent"),
		}
		if data, _ := io.ReadAll(r.Body); len(data) > 0 {
			if err := json.Unmarshal(data, &rec.Body); err != nil {
				t.Errorf("request body is not a JSON object: %v", err)
			}
		}
		mu.Lock()
		seen = append(seen, rec)
		mu.Unlock()
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), seen...)
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		want        *Error
		wantMessage string
	}{
		{
			name:        "problem json not found",
			status:      404,
			contentType: "application/problem+json",
			body:        `{"type":"about:blank","title":"Not Found","status":404,"detail":"key not found","code":"not_found"}`,
			want:        &Error{Status: 404, Code: CodeNotFound, Type: "about:blank", Title: "Not Found", Detail: "key not found"},
			wantMessage: "keyward: key not found (not_found, HTTP 404)",
		},
		{
			name:        "validation errors listed without values",
			status:      422,
			contentType: "application/problem+json; charset=utf-8",
			body: `{"title":"Unprocessable Entity","status":422,"detail":"validation failed","code":"validation_failed",
				"errors":[{"location":"body.name","message":"expected length <= 128","value":"xxxx"},{"location":"body.scopes[0]","message":"must not be empty","value":""}]}`,
			want: &Error{Status: 422, Code: CodeValidationFailed, Title: "Unprocessable Entity", Detail: "validation failed",
				Errors: []ErrorDetail{
					{Location: "body.name", Message: "expected length <= 128", Value: "xxxx"},
					{Location: "body.scopes[0]", Message: "must not be empty", Value: ""},
				}},
			wantMessage: "keyward: validation failed (validation_failed, HTTP 422): body.name: expected length <= 128; body.scopes[0]: must not be empty",
		},
		{
			name:        "lone field error repeated as detail is said once",
			status:      422,
			contentType: "application/problem+json",
			body:        `{"status":422,"code":"validation_failed","detail":"body.name: expected length <= 128","errors":[{"location":"body.name","message":"expected length <= 128"}]}`,
			want: &Error{Status: 422, Code: CodeValidationFailed, Title: "Unprocessable Entity", Detail: "body.name: expected length <= 128",
				Errors: []ErrorDetail{{Location: "body.name", Message: "expected length <= 128"}}},
			wantMessage: "keyward: body.name: expected length <= 128 (validation_failed, HTTP 422)",
		},
		{
			name:        "rate limited with retry after",
			status:      429,
			contentType: "application/problem+json",
			body:        `{"title":"Too Many Requests","status":429,"code":"rate_limited"}`,
			header:      map[string]string{"Retry-After": "7"},
			want:        &Error{Status: 429, Code: CodeRateLimited, Title: "Too Many Requests", RetryAfter: 7 * time.Second},
			wantMessage: "keyward: Too Many Requests (rate_limited, HTTP 429)",
		},
		{
			name:        "problem without code gets one from the status",
			status:      401,
			contentType: "application/problem+json",
			body:        `{"title":"Unauthorized","status":401,"detail":"missing admin key"}`,
			want:        &Error{Status: 401, Code: CodeUnauthenticated, Title: "Unauthorized", Detail: "missing admin key"},
			wantMessage: "keyward: missing admin key (unauthenticated, HTTP 401)",
		},
		{
			name:        "plain text from a mux",
			status:      404,
			contentType: "text/plain; charset=utf-8",
			body:        "404 page not found\n",
			want:        &Error{Status: 404, Code: CodeNotFound, Title: "Not Found", Detail: "404 page not found"},
			wantMessage: "keyward: 404 page not found (not_found, HTTP 404)",
		},
		{
			name:        "html from a proxy is not shown",
			status:      502,
			contentType: "text/html",
			body:        "<html><body>Bad Gateway</body></html>",
			want:        &Error{Status: 502, Code: CodeServiceUnavailable, Title: "Bad Gateway"},
			wantMessage: "keyward: Bad Gateway (service_unavailable, HTTP 502)",
		},
		{
			name:        "broken json body",
			status:      500,
			contentType: "application/problem+json",
			body:        `{"title":`,
			want:        &Error{Status: 500, Code: CodeInternal, Title: "Internal Server Error"},
			wantMessage: "keyward: Internal Server Error (internal_error, HTTP 500)",
		},
		{
			name:        "multi-line detail stays on one line",
			status:      409,
			contentType: "application/problem+json",
			body:        `{"status":409,"code":"conflict","detail":"key is revoked\nand cannot change"}`,
			want:        &Error{Status: 409, Code: CodeConflict, Title: "Conflict", Detail: "key is revoked\nand cannot change"},
			wantMessage: "keyward: key is revoked and cannot change (conflict, HTTP 409)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()

			_, err := New(srv.URL, "kwadmin_secret").GetKey(t.Context(), "key_1")
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("GetKey error = %v (%T), want *Error", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded error mismatch (-want +got):\n%s", diff)
			}
			if got.Error() != tt.wantMessage {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.wantMessage)
			}
			if ErrorCode(err) != tt.want.Code {
				t.Errorf("ErrorCode = %q, want %q", ErrorCode(err), tt.want.Code)
			}
			if IsNotFound(err) != (tt.want.Code == CodeNotFound) {
				t.Errorf("IsNotFound = %v for code %q", IsNotFound(err), tt.want.Code)
			}
		})
	}
}

func TestErrorCodeOfOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("boom"), context.Canceled} {
		if got := ErrorCode(err); got != "" {
			t.Errorf("ErrorCode(%v) = %q, want empty", err, got)
		}
	}
	wrapped := fmt.Errorf("listing: %w", &Error{Status: 409, Code: CodeConflict})
	if !IsConflict(wrapped) {
		t.Errorf("IsConflict(wrapped conflict) = false, want true")
	}
}

func TestRequests(t *testing.T) {
	keyJSON := `{"id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"name":"n","key_prefix":"kw_abcdefgh","last4":"wxyz","status":"active","scopes":[],"metadata":null,"expires_at":null,"last_used_at":null,"created_at":"2026-01-02T03:04:05Z","revoked_at":null,"replaced_by_key_id":null,"grace_expires_at":null,"rotation_interval_days":0,"next_rotation_at":null,"rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":null,"leak_source":null,"leak_url":null,"imported":false,"created_by":"adm_1"}`
	expires := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("CET", 3600))

	tests := []requestCase{
		{
			name: "create key", status: 201,
			response: strings.TrimSuffix(keyJSON, "}") + `,"key":"kw_secret"}`,
			call: func(ctx context.Context, c *Client) error {
				k, err := c.CreateKey(ctx, CreateKeyParams{
					ProjectID: "prj_1", Name: "billing", Scopes: []string{"a", "b"}, ExpiresAt: &expires,
					EnvironmentID: "env_1", RotationIntervalDays: 30, Metadata: map[string]any{"team": "x"},
				})
				if err == nil && k.Secret != "kw_secret" {
					return fmt.Errorf("Secret = %q, want kw_secret", k.Secret)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{
					"project_id": "prj_1", "name": "billing", "scopes": []any{"a", "b"},
					"expires_at": "2026-12-31T22:59:59Z", "environment_id": "env_1",
					"rotation_interval_days": float64(30), "metadata": map[string]any{"team": "x"},
				}},
		},
		{
			name: "list keys with filters", status: 200, response: "[" + keyJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListKeys(ctx, ListKeysParams{ProjectID: "prj 1", EnvironmentID: "env_1", Status: StatusRevoked, Limit: 50, Cursor: "c/1"})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t",
				RawQuery: "cursor=c%2F1&environment_id=env_1&limit=50&project_id=prj+1&status=revoked"},
		},
		{
			name: "get key escapes the id", status: 200, response: keyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetKey(ctx, "key/1?x")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/api-keys/key%2F1%3Fx", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update key sends null for cleared and omits absent", status: 200, response: keyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{
					Name: new("renamed"), Scopes: []string{}, ClearExpiresAt: true, ClearMetadata: true,
					RotationIntervalDays: new(0), RotationWebhookURL: new("https://hooks.example.com/r"),
				})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{
					"name": "renamed", "scopes": []any{}, "expires_at": nil, "metadata": nil,
					"rotation_interval_days": float64(0), "rotation_webhook_url": "https://hooks.example.com/r",
				}},
		},
		{
			name: "revoke key", status: 204,
			call: func(ctx context.Context, c *Client) error { return c.RevokeKey(ctx, "key_1") },
			want: recorded{Method: "DELETE", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "rotate key", status: 201,
			response: `{"old_key_id":"key_1","new_key_id":"key_2","project_id":"prj_1","name":"n","key":"kw_new","key_prefix":"kw_x","scopes":[],"expires_at":null,"created_at":"2026-01-02T03:04:05Z","grace_expires_at":"2026-01-02T03:05:05Z"}`,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.RotateKey(ctx, "key_1", RotateKeyParams{GracePeriod: new(time.Minute)})
				if err == nil && (r.Secret != "kw_new" || r.GraceExpiresAt == nil) {
					return fmt.Errorf("rotated = %+v, want secret and grace end", r)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys/key_1/rotate", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"grace_period_seconds": float64(60)}},
		},
		{
			name: "create project", status: 201,
			response: `{"id":"prj_1","account_id":"acc_1","name":"payments","key_prefix":"pay","created_at":"2026-01-02T03:04:05Z"}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateProject(ctx, CreateProjectParams{Name: "payments", KeyPrefix: "pay"})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/projects", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "payments", "key_prefix": "pay"}},
		},
		{
			name: "list environments", status: 200, response: `[]`,
			call: func(ctx context.Context, c *Client) error {
				p, err := c.ListEnvironments(ctx, "prj_1", ListParams{Limit: 10})
				if err == nil && p.Items == nil {
					return errors.New("Items is nil, want empty")
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/projects/prj_1/environments", Auth: "Bearer kwadmin_t", RawQuery: "limit=10"},
		},
		{
			name: "verify sends no admin key", status: 200,
			response: `{"valid":true,"code":"VALID","key_id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"name":"n","scopes":["a"],"metadata":{"plan":"pro"},"expires_at":null}`,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.VerifyKey(ctx, VerifyKeyParams{Key: "kw_abc", RequiredScopes: []string{"a"}})
				if err == nil && (!r.Valid || r.Code != VerifyValid || r.Metadata["plan"] != "pro") {
					return fmt.Errorf("result = %+v, want a valid verdict with metadata", r)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/keys/verify", ContentType: "application/json",
				Body: map[string]any{"key": "kw_abc", "required_scopes": []any{"a"}}},
		},
	}
	runRequestCases(t, "/", tests)
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	srv, seen := fixedServer(t, 200, "application/json", `[]`)
	if _, err := New(srv.URL+"/keyward/", "t").ListProjects(t.Context(), ListParams{}); err != nil {
		t.Fatal(err)
	}
	if got := seen()[0].Path; got != "/keyward/v1/projects" {
		t.Errorf("path = %q, want /keyward/v1/projects", got)
	}
}

func TestRefusedBeforeRequest(t *testing.T) {
	srv, seen := fixedServer(t, 200, "application/json", `{}`)
	c := New(srv.URL, "t")
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"empty key id", func() error { _, err := c.GetKey(ctx, ""); return err }},
		{"dot-dot key id", func() error { return c.RevokeKey(ctx, "..") }},
		{"dot project id", func() error { _, err := c.ListEnvironments(ctx, ".", ListParams{}); return err }},
		{"set and clear expiry", func() error {
			_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{ExpiresAt: new(time.Now()), ClearExpiresAt: true})
			return err
		}},
		{"fractional grace", func() error {
			_, err := c.RotateKey(ctx, "key_1", RotateKeyParams{GracePeriod: new(1500 * time.Millisecond)})
			return err
		}},
		{"negative grace", func() error {
			_, err := c.RotateKey(ctx, "key_1", RotateKeyParams{GracePeriod: new(-time.Second)})
			return err
		}},
		{"empty verify key", func() error { _, err := c.VerifyKey(ctx, VerifyKeyParams{}); return err }},
		{"bad base url", func() error { _, err := New("localhost:8080", "t").GetKey(ctx, "key_1"); return err }},
		{"base url with query", func() error { _, err := New(srv.URL+"?a=b", "t").GetKey(ctx, "key_1"); return err }},
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

func TestAllKeysFollowsCursors(t *testing.T) {
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("cursor") {
		case "":
			w.Header().Set("X-Next-Cursor", "p2")
			io.WriteString(w, `[{"id":"key_1"},{"id":"key_2"}]`)
		case "p2":
			// Only a Link header this time, to exercise the fallback.
			w.Header().Set("Link", `</v1/api-keys?cursor=p3&limit=2>; rel="next"`)
			io.WriteString(w, `[{"id":"key_3"}]`)
		default:
			io.WriteString(w, `[{"id":"key_4"}]`)
		}
	}))
	defer srv.Close()

	var ids []string
	for k, err := range New(srv.URL, "t").AllKeys(t.Context(), ListKeysParams{ProjectID: "prj_1", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	if diff := cmp.Diff([]string{"key_1", "key_2", "key_3", "key_4"}, ids); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
	wantQueries := []string{"limit=2&project_id=prj_1", "cursor=p2&limit=2&project_id=prj_1", "cursor=p3&limit=2&project_id=prj_1"}
	if diff := cmp.Diff(wantQueries, queries); diff != "" {
		t.Errorf("queries mismatch (-want +got):\n%s", diff)
	}
}

func TestAllStopsOnRepeatedCursorAndOnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Next-Cursor", "same")
		io.WriteString(w, `[{"id":"prj_1"}]`)
	}))
	defer srv.Close()

	var n int
	var lastErr error
	for _, err := range New(srv.URL, "t").AllProjects(t.Context(), ListParams{}) {
		n++
		lastErr = err
		if n > 10 {
			t.Fatal("iteration did not stop on a repeated cursor")
		}
	}
	if lastErr == nil {
		t.Errorf("last yielded error = nil, want the repeated-cursor error")
	}

	srv.Close()
	n = 0
	for p, err := range New(srv.URL, "t").AllProjects(t.Context(), ListParams{}) {
		n++
		if err == nil || p != nil {
			t.Errorf("got (%v, %v), want (nil, error) from a closed server", p, err)
		}
	}
	if n != 1 {
		t.Errorf("yielded %d times, want 1", n)
	}
}

func TestNextCursor(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"none", http.Header{}, ""},
		{"x-next-cursor wins", http.Header{"X-Next-Cursor": {"a"}, "Link": {`<https://h/v1/projects?cursor=b>; rel="next"`}}, "a"},
		{"link next among others", http.Header{"Link": {`<https://h/v1/projects?cursor=z>; rel="prev", <https://h/v1/projects?limit=5&cursor=b%2Bc>; rel="next"`}}, "b+c"},
		{"link without next", http.Header{"Link": {`<https://h/v1/projects?cursor=z>; rel="prev"`}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextCursor(tt.header); got != tt.want {
				t.Errorf("nextCursor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResponseBodyIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[`)
		chunk := strings.Repeat(`{"id":"prj_1"},`, 1000)
		for written := 0; written <= maxResponseBytes; written += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `{"id":"last"}]`)
	}))
	defer srv.Close()
	_, err := New(srv.URL, "t").ListProjects(t.Context(), ListParams{})
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want a body-size error", err)
	}
}

func TestKeyJSONRoundTrip(t *testing.T) {
	wire := `{"id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"user_id":"usr_1","role_id":null,"project_accesses":[{"project_id":"prj_2","role_id":"viewer"}],"rate_limit_tier":"high","rate_limit":{"rate":50,"period_seconds":1,"burst":80},"credits":{"remaining":7,"refill":{"interval":"monthly","amount":100,"day":1},"refilled_at":"2026-01-01T00:00:00Z"},"name":"n","key_prefix":"kw_abcdefgh","last4":"wxyz","status":"active","scopes":["a"],"allowed_ips":["10.0.0.0/8"],"metadata":null,"expires_at":"2026-12-31T23:59:59Z","last_used_at":null,"created_at":"2026-01-02T03:04:05Z","revoked_at":null,"replaced_by_key_id":"key_2","grace_expires_at":null,"rotation_interval_days":30,"next_rotation_at":"2026-02-01T03:04:05Z","rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":"2026-01-05T00:00:00Z","leak_source":"report","leak_url":"https://gist.example.com/1","imported":true,"created_by":"adm_1","key":"kw_secret"}`
	var k CreatedKey
	if err := json.Unmarshal([]byte(wire), &k); err != nil {
		t.Fatal(err)
	}
	if k.EnvironmentID != "" || k.ReplacedByKeyID != "key_2" || k.Secret != "kw_secret" || k.ExpiresAt == nil ||
		k.UserID != "usr_1" || k.RoleID != "" || k.RateLimitTier != TierHigh || len(k.ProjectAccesses) != 1 {
		t.Fatalf("decoded %+v, want environment and role unset, user, tier, one access, replaced_by key_2, secret and expiry", k)
	}
	again, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal([]byte(wire), &want)
	json.Unmarshal(again, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreatedKey round trip mismatch (-want +got):\n%s", diff)
	}

	// A plain Key carries no "key" field.
	plain, err := json.Marshal(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(plain, &m)
	if _, ok := m["key"]; ok {
		t.Errorf("Key marshalled with a secret field: %s", plain)
	}
	if v, ok := m["environment_id"]; !ok || v != nil {
		t.Errorf("environment_id = %v (present %v), want null", v, ok)
	}
}

func TestClientNeverPrintsItsToken(t *testing.T) {
	c := New("https://keyward.example.com", "kwadmin_supersecret")
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, c); strings.Contains(s, "supersecret") {
			t.Errorf("Sprintf(%q, client) = %q, contains the token", format, s)
		}
	}
}

func TestTransportErrorHidesToken(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := New(srv.URL, "kwadmin_supersecret").GetKey(t.Context(), "key_1")
	if err == nil {
		t.Fatal("got nil error from a closed server")
	}
	if strings.Contains(err.Error(), "supersecret") {
		t.Errorf("error %q contains the token", err)
	}
	if ErrorCode(err) != "" {
		t.Errorf("ErrorCode = %q, want empty for a transport error", ErrorCode(err))
	}
}

// requestCase is one client call against a server that answers status and response, and
// the one request the server must see.
type requestCase struct {
	name     string
	status   int
	response string
	call     func(ctx context.Context, c *Client) error
	want     recorded
}

// runRequestCases runs each case against a fixed server whose URL, with suffix, is the
// client's base URL.
func runRequestCases(t *testing.T, suffix string, tests []requestCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := fixedServer(t, tt.status, "application/json", tt.response)
			c := New(srv.URL+suffix, "kwadmin_t", WithUserAgent("test-agent"))
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := seen()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			tt.want.UserAgent = "test-agent"
			if diff := cmp.Diff(tt.want, reqs[0]); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
