package storecodec

import (
	"fmt"

	"github.com/keyward/keyward/internal/keyward"
)

// KeyColumns are a key's JSON columns as both stores write them.
type KeyColumns struct {
	Scopes string // never NULL: no scopes is the empty array
	// Metadata and RateLimitOverride are a JSON string, or nil for NULL.
	Metadata, RateLimitOverride any
}

// EncodeKey returns k's JSON columns. Errors: EValidation for a rate-limit override that is
// not in whole seconds; an internal error for metadata that JSON cannot hold (NaN, say).
func EncodeKey(k *keyward.Key) (KeyColumns, error) {
	var (
		c   KeyColumns
		err error
	)
	if c.Scopes, err = EncodeList(k.Scopes); err != nil {
		return c, fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	if c.Metadata, err = EncodeMetadata(k.Metadata); err != nil {
		return c, fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	if c.RateLimitOverride, err = EncodeRateLimit(k.RateLimitOverride); err != nil {
		return c, fmt.Errorf("key %s rate limit override: %w", k.ID, err)
	}
	return c, nil
}

// DecodeKey sets k's scopes, metadata and rate-limit override from its JSON columns as read,
// nil for NULL.
func DecodeKey(k *keyward.Key, scopes, metadata, override []byte) error {
	var err error
	if k.Scopes, err = DecodeList(scopes); err != nil {
		return fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	if k.Metadata, err = DecodeMetadata(metadata); err != nil {
		return fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	if k.RateLimitOverride, err = DecodeRateLimit(override); err != nil {
		return fmt.Errorf("key %s rate limit override: %w", k.ID, err)
	}
	return nil
}
