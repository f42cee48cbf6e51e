package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Wire forms of the webhook objects, as the server sends them.
const (
	testEndpointJSON = `{"id":"whe_1","account_id":"acc_1","url":"https://hooks.example.com/kw","description":"ops",` +
		`"events":["api_key.leaked"],"enabled":false,"disabled_reason":"gone","previous_secret_expires_at":"2026-01-03T03:04:05Z",` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T04:04:05Z"}`
	testDeliveryJSON = `{"id":"msg_1","event":"webhook.test","status":"pending","created_at":"2026-01-02T03:04:05Z",` +
		`"next_attempt_at":"2026-01-02T03:05:05Z","delivered_at":null,"failed_at":null,"last_error":"HTTP 500",` +
		`"attempts":[{"attempt":1,"at":"2026-01-02T03:04:06Z","status_code":500,"latency_ms":12,"error":"HTTP 500"},` +
		`{"attempt":2,"at":"2026-01-02T03:04:36Z","status_code":0,"latency_ms":0,"error":null}],` +
		`"payload":{"type":"webhook.test","timestamp":"2026-01-02T03:04:05Z","data":{"webhook_endpoint_id":"whe_1"}}}`
)

func TestWebhookRequests(t *testing.T) {
	created := strings.TrimSuffix(testEndpointJSON, "}") + `,"secret":"whsec_abc"}`
	tests := []requestCase{
		{
			name: "create endpoint", status: 201, response: created,
			call: func(ctx context.Context, c *Client) error {
				e, err := c.CreateWebhookEndpoint(ctx, CreateWebhookEndpointParams{
					URL: "https://hooks.example.com/kw", Events: []string{"api_key.leaked", "api_key.rotated"}, Description: "ops",
				})
				if err == nil && (e.Secret != "whsec_abc" || e.ID != "whe_1" || e.DisabledReason != "gone" || e.PreviousSecretExpiresAt == nil) {
					return fmt.Errorf("endpoint = %+v, want whe_1 with its secret, reason and overlap", e)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"url": "https://hooks.example.com/kw", "description": "ops",
					"events": []any{"api_key.leaked", "api_key.rotated"}}},
		},
		{
			name: "create endpoint leaves defaults out", status: 201, response: created,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateWebhookEndpoint(ctx, CreateWebhookEndpointParams{URL: "https://h.example.com"})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"url": "https://h.example.com"}},
		},
		{
			name: "list endpoints", status: 200, response: "[" + testEndpointJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				p, err := c.ListWebhookEndpoints(ctx, ListParams{Limit: 5})
				if err == nil && (len(p.Items) != 1 || p.Items[0].URL != "https://hooks.example.com/kw") {
					return fmt.Errorf("page = %+v, want one endpoint", p)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/webhook-endpoints", Auth: "Bearer kwadmin_t", RawQuery: "limit=5"},
		},
		{
			name: "get endpoint escapes the id", status: 200, response: testEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetWebhookEndpoint(ctx, "whe/1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/webhook-endpoints/whe%2F1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "update endpoint sends only what is set", status: 200, response: testEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateWebhookEndpoint(ctx, "whe_1", UpdateWebhookEndpointParams{Events: []string{}, Enabled: new(true)})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/webhook-endpoints/whe_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"events": []any{}, "enabled": true}},
		},
		{
			name: "delete endpoint", status: 204,
			call: func(ctx context.Context, c *Client) error { return c.DeleteWebhookEndpoint(ctx, "whe_1") },
			want: recorded{Method: "DELETE", Path: "/v1/webhook-endpoints/whe_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "rotate secret with an overlap", status: 200, response: created,
			call: func(ctx context.Context, c *Client) error {
				e, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{Overlap: new(2 * time.Hour)})
				if err == nil && e.Secret != "whsec_abc" {
					return fmt.Errorf("Secret = %q, want whsec_abc", e.Secret)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints/whe_1/rotate-secret", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"overlap_seconds": float64(7200)}},
		},
		{
			name: "rotate secret with no overlap sends zero", status: 200, response: created,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{Overlap: new(time.Duration(0))})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints/whe_1/rotate-secret", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"overlap_seconds": float64(0)}},
		},
		{
			// An empty object would mean an overlap of 0 to the server; the default needs no body.
			name: "rotate secret with the server's overlap sends no body", status: 200, response: created,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints/whe_1/rotate-secret", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "test endpoint", status: 202, response: testDeliveryJSON,
			call: func(ctx context.Context, c *Client) error {
				d, err := c.TestWebhookEndpoint(ctx, "whe_1")
				if err == nil && (d.ID != "msg_1" || d.Status != DeliveryPending) {
					return fmt.Errorf("delivery = %+v, want msg_1 pending", d)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-endpoints/whe_1/test", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "list deliveries", status: 200, response: "[" + testDeliveryJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				p, err := c.ListWebhookDeliveries(ctx, "whe_1", ListParams{Cursor: "c1"})
				if err != nil {
					return err
				}
				d := p.Items[0]
				want := []WebhookAttempt{
					{Attempt: 1, At: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), StatusCode: 500, LatencyMS: 12, Error: "HTTP 500"},
					{Attempt: 2, At: time.Date(2026, 1, 2, 3, 4, 36, 0, time.UTC)},
				}
				if diff := cmp.Diff(want, d.Attempts); diff != "" || d.NextAttemptAt == nil || d.LastError != "HTTP 500" {
					return fmt.Errorf("delivery %+v; attempts (-want +got):\n%s", d, diff)
				}
				return nil
			},
			want: recorded{Method: "GET", Path: "/v1/webhook-endpoints/whe_1/deliveries", Auth: "Bearer kwadmin_t", RawQuery: "cursor=c1"},
		},
		{
			name: "get delivery", status: 200, response: testDeliveryJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetWebhookDelivery(ctx, "msg_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/webhook-deliveries/msg_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "resend delivery", status: 202, response: testDeliveryJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ResendWebhookDelivery(ctx, "msg_1")
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/webhook-deliveries/msg_1/resend", Auth: "Bearer kwadmin_t"},
		},
	}
	runRequestCases(t, "/", tests)
}

func TestWebhookJSONRoundTrip(t *testing.T) {
	for name, tt := range map[string]struct {
		wire string
		into any
	}{
		"endpoint":         {testEndpointJSON, &WebhookEndpoint{}},
		"endpoint enabled": {strings.Replace(testEndpointJSON, `"gone"`, `null`, 1), &WebhookEndpoint{}},
		"created endpoint": {strings.TrimSuffix(testEndpointJSON, "}") + `,"secret":"whsec_abc"}`, &CreatedWebhookEndpoint{}},
		"delivery":         {testDeliveryJSON, &WebhookDelivery{}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.wire), tt.into); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(tt.into)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			json.Unmarshal([]byte(tt.wire), &want)
			json.Unmarshal(again, &got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookRefusedBeforeRequest(t *testing.T) {
	srv, seen := fixedServer(t, 200, "application/json", `{}`)
	c := New(srv.URL, "t")
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"empty endpoint id": func() error { _, err := c.GetWebhookEndpoint(ctx, ""); return err },
		"dot endpoint id":   func() error { return c.DeleteWebhookEndpoint(ctx, "..") },
		"empty message id":  func() error { _, err := c.ResendWebhookDelivery(ctx, ""); return err },
		"negative overlap": func() error {
			_, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{Overlap: new(-time.Second)})
			return err
		},
		"overlap too long": func() error {
			_, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{Overlap: new(MaxSecretOverlap + time.Second)})
			return err
		},
		"fractional overlap": func() error {
			_, err := c.RotateWebhookSecret(ctx, "whe_1", RotateWebhookSecretParams{Overlap: new(1500 * time.Millisecond)})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
	if n := len(seen()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}
