package delivery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/webhook"
)

// The new secret is put into the payload's data only when the message is sent.
func TestWithSecret(t *testing.T) {
	payload := []byte(`{"type":"api_key.rotated","timestamp":"2026-12-06T00:00:00Z","data":{"api_key":{"id":"k2"},"replaced_key":{"id":"k1"}}}`)
	body, err := withSecret(payload, "kw_new\"secret")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Type string `json:"type"`
		Data struct {
			APIKey map[string]any `json:"api_key"`
			Secret string         `json:"secret"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "api_key.rotated" || got.Data.Secret != "kw_new\"secret" || got.Data.APIKey["id"] != "k2" {
		t.Errorf("body %s", body)
	}
	for _, bad := range []string{`[]`, `{"data": 5}`, `not json`} {
		if _, err := withSecret([]byte(bad), "s"); err == nil {
			t.Errorf("withSecret(%s) succeeded", bad)
		}
	}
}

// A failed attempt is retried on the schedule, never before the endpoint's Retry-After,
// and given up after the last.
func TestRetry(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	out := retry(1, now, 0)
	if out.Abandon || out.RetryAt.Before(now.Add(4*time.Second)) || out.RetryAt.After(now.Add(6*time.Second)) {
		t.Errorf("after attempt 1: %+v", out)
	}
	if out := retry(1, now, time.Hour); !out.RetryAt.Equal(now.Add(time.Hour)) {
		t.Errorf("with Retry-After 1h: %v", out.RetryAt)
	}
	if out := retry(webhook.MaxAttempts, now, 0); !out.Abandon {
		t.Errorf("after the last attempt: %+v", out)
	}
	if err := out.Validate(); err != nil {
		t.Error(err)
	}
}
