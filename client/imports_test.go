package client

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestImportAndLeakRequests(t *testing.T) {
	expires := time.Date(2027, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	sum := strings.Repeat("ab", 32)
	tests := []requestCase{
		{
			name: "import keys", status: 201, response: `{"imported":2,"key_ids":["key_1","key_2"]}`,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.ImportKeys(ctx, []ImportKey{
					{Key: "legacy_0123456789abcdef", Name: "old one", ProjectID: "prj_1", Scopes: []string{"read"}, ExpiresAt: &expires},
					{SHA256: sum, Prefix: "lg_ab", Name: "old two", Metadata: map[string]any{"legacy_id": float64(7)}},
				})
				if err == nil && !cmp.Equal(r, &ImportResult{Imported: 2, KeyIDs: []string{"key_1", "key_2"}}) {
					return fmt.Errorf("result = %+v, want 2 imported", r)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys/import", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"keys": []any{
					map[string]any{"key": "legacy_0123456789abcdef", "name": "old one", "project_id": "prj_1",
						"scopes": []any{"read"}, "expires_at": "2027-01-01T00:00:00Z"},
					map[string]any{"sha256": sum, "prefix": "lg_ab", "name": "old two", "metadata": map[string]any{"legacy_id": float64(7)}},
				}}},
		},
		{
			name: "report leak sends no credential", status: 202, response: `{"status":"received"}`,
			call: func(ctx context.Context, c *Client) error {
				return c.ReportLeak(ctx, "kw_leaked", "https://gist.example.com/1")
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys/report-leak", ContentType: "application/json",
				Body: map[string]any{"key": "kw_leaked", "url": "https://gist.example.com/1"}},
		},
		{
			name: "report leak without a url", status: 202, response: `{"status":"received"}`,
			call: func(ctx context.Context, c *Client) error { return c.ReportLeak(ctx, "kw_leaked", "") },
			want: recorded{Method: "POST", Path: "/v1/api-keys/report-leak", ContentType: "application/json",
				Body: map[string]any{"key": "kw_leaked"}},
		},
	}
	runRequestCases(t, "/", tests)
}

func TestImportRefusedBeforeRequest(t *testing.T) {
	srv, seen := fixedServer(t, 201, "application/json", `{}`)
	c := New(srv.URL, "t")
	if _, err := c.ImportKeys(t.Context(), nil); err == nil {
		t.Error("ImportKeys(nil): got nil error")
	}
	if _, err := c.ImportKeys(t.Context(), make([]ImportKey, MaxImportKeys+1)); err == nil || !strings.Contains(err.Error(), "10000") {
		t.Errorf("ImportKeys(10001 keys) = %v, want an error naming the limit", err)
	}
	if err := c.ReportLeak(t.Context(), "", ""); err == nil {
		t.Error("ReportLeak(\"\"): got nil error")
	}
	if n := len(seen()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestLeakPolicyRequests(t *testing.T) {
	projectJSON := `{"id":"prj_1","account_id":"acc_1","name":"payments","key_prefix":"pay","leak_policy":null,"created_at":"2026-01-02T03:04:05Z"}`
	accountJSON := `{"id":"acc_1","name":"a","key_prefix":"kw","allowed_ips":[],"leak_policy":"notify","created_at":"2026-01-02T03:04:05Z"}`
	tests := []requestCase{
		{
			name: "update project sets the leak policy", status: 200,
			response: strings.Replace(projectJSON, `"leak_policy":null`, `"leak_policy":"notify"`, 1),
			call: func(ctx context.Context, c *Client) error {
				p, err := c.UpdateProject(ctx, "prj_1", UpdateProjectParams{Name: new("pay"), LeakPolicy: new(LeakNotify)})
				if err == nil && p.LeakPolicy != LeakNotify {
					return fmt.Errorf("LeakPolicy = %q, want notify", p.LeakPolicy)
				}
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/projects/prj_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "pay", "leak_policy": "notify"}},
		},
		{
			name: "update project clears the leak policy with null", status: 200, response: projectJSON,
			call: func(ctx context.Context, c *Client) error {
				p, err := c.UpdateProject(ctx, "prj_1", UpdateProjectParams{ClearLeakPolicy: true})
				if err == nil && p.LeakPolicy != "" {
					return fmt.Errorf("LeakPolicy = %q, want none", p.LeakPolicy)
				}
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/projects/prj_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"leak_policy": nil}},
		},
		{
			name: "get project", status: 200, response: projectJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetProject(ctx, "prj_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/projects/prj_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update account leak policy", status: 200, response: accountJSON,
			call: func(ctx context.Context, c *Client) error {
				a, err := c.UpdateAccount(ctx, "acc_1", UpdateAccountParams{LeakPolicy: new(LeakNotify)})
				if err == nil && a.LeakPolicy != LeakNotify {
					return fmt.Errorf("LeakPolicy = %q, want notify", a.LeakPolicy)
				}
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/accounts/acc_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"leak_policy": "notify"}},
		},
		{
			name: "create key with a rotation grace", status: 201,
			response: `{"id":"key_1","rotation_grace_seconds":0,"rotation_webhook_secret":"whsec_r","key":"kw_s","created_at":"2026-01-02T03:04:05Z"}`,
			call: func(ctx context.Context, c *Client) error {
				k, err := c.CreateKey(ctx, CreateKeyParams{Name: "n", RotationWebhookURL: "https://h.example.com", RotationGraceSeconds: new(0)})
				if err == nil && k.RotationWebhookSecret != "whsec_r" {
					return fmt.Errorf("RotationWebhookSecret = %q, want whsec_r", k.RotationWebhookSecret)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "n", "rotation_webhook_url": "https://h.example.com", "rotation_grace_seconds": float64(0)}},
		},
		{
			name: "update key rotates its webhook secret and clears the grace", status: 200,
			response: `{"id":"key_1","rotation_grace_seconds":604800,"rotation_webhook_secret":"whsec_r2","created_at":"2026-01-02T03:04:05Z"}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RotateWebhookSecret: true, ClearRotationGraceSeconds: true})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"rotate_webhook_secret": true, "rotation_grace_seconds": nil}},
		},
		{
			name: "update key sets the grace", status: 200, response: `{"id":"key_1","created_at":"2026-01-02T03:04:05Z"}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RotationGraceSeconds: new(3600)})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"rotation_grace_seconds": float64(3600)}},
		},
	}
	runRequestCases(t, "/", tests)

	if _, err := New("http://127.0.0.1:1", "t").UpdateProject(t.Context(), "prj_1", UpdateProjectParams{LeakPolicy: new(LeakRevoke), ClearLeakPolicy: true}); err == nil {
		t.Error("UpdateProject setting and clearing the policy: got nil error")
	}
	if _, err := New("http://127.0.0.1:1", "t").UpdateKey(t.Context(), "key_1", UpdateKeyParams{RotationGraceSeconds: new(1), ClearRotationGraceSeconds: true}); err == nil {
		t.Error("UpdateKey setting and clearing the grace: got nil error")
	}
}
