package client

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// MaxImportKeys is the most keys one ImportKeys call takes.
const MaxImportKeys = 10000

// ImportKey is one key to bring over from another system: its secret in the clear (Key) or
// the unsalted SHA-256 the old system kept of it (SHA256), never both.
type ImportKey struct {
	// Key is the secret in the clear, 16 to 512 characters; the server keeps only a hash.
	Key string `json:"key,omitempty"`
	// SHA256 is, instead of Key, the SHA-256 of the secret in hex (64 digits) or base64
	// (standard or URL-safe, padded or not).
	SHA256 string `json:"sha256,omitempty"`
	// Prefix is what lists show of the key (its KeyPrefix); "" lets the server take the first
	// characters of Key, and show none for a SHA256 import.
	Prefix string `json:"prefix,omitempty"`
	// Name is required, 1 to 128 characters.
	Name string `json:"name"`
	// ProjectID is "" for an account key.
	ProjectID     string     `json:"project_id,omitempty"`
	EnvironmentID string     `json:"environment_id,omitempty"`
	Scopes        []string   `json:"scopes,omitempty"`
	AllowedIPs    []string   `json:"allowed_ips,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	// Metadata is any JSON object: a good place for the old system's ids.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// ImportResult is what an import made.
type ImportResult struct {
	Imported int `json:"imported"`
	// KeyIDs are the new keys' ids, in the order of the request.
	KeyIDs []string `json:"key_ids"`
}

// ImportKeys imports up to MaxImportKeys keys in one call, all or none. Imported keys verify
// like any other; those not in Keyward's format are rehashed under the server's secret on
// their first successful verification. Errors: validation_failed (naming the key by its
// index), not_found for an unknown project or environment, conflict (a
// secret already known), unauthenticated, forbidden.
func (c *Client) ImportKeys(ctx context.Context, keys []ImportKey) (*ImportResult, error) {
	if len(keys) == 0 || len(keys) > MaxImportKeys {
		return nil, fmt.Errorf("keyward: importing %d keys: want 1 to %d in one call", len(keys), MaxImportKeys)
	}
	send := make([]ImportKey, len(keys))
	for i, k := range keys {
		k.ExpiresAt = utc(k.ExpiresAt)
		send[i] = k
	}
	var r ImportResult
	req := request{method: http.MethodPost, path: "/v1/api-keys/import", body: map[string]any{"keys": send}, auth: true}
	if _, err := c.do(ctx, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReportLeak reports a secret found where it should not be, at url ("" when unknown). It
// sends no credential: holding the secret is the authority to report it. If the secret is a
// live key, the server records the leak, announces it (api_key.leaked) and revokes the key
// unless its project's or account's LeakPolicy is LeakNotify. The answer is the same whether
// or not the string was a key, so a nil error says only that the report was received.
func (c *Client) ReportLeak(ctx context.Context, key, url string) error {
	if key == "" {
		return fmt.Errorf("keyward: report leak: empty key")
	}
	body := map[string]any{"key": key}
	if url != "" {
		body["url"] = url
	}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys/report-leak", body: body}, nil)
	return err
}
