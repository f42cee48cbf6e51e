package storecodec

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// KeyColumns are a key's JSON columns as both stores write them.
type KeyColumns struct {
	Scopes string // never NULL: no scopes is the empty array
	// AllowedIPs is never NULL either: no networks is the empty array.
	AllowedIPs string
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
	c.AllowedIPs = EncodeNetworks(k.AllowedIPs)
	if c.Metadata, err = EncodeMetadata(k.Metadata); err != nil {
		return c, fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	if c.RateLimitOverride, err = EncodeRateLimit(k.RateLimitOverride); err != nil {
		return c, fmt.Errorf("key %s rate limit override: %w", k.ID, err)
	}
	return c, nil
}

// DecodeKey sets k's scopes, networks, metadata and rate-limit override from its JSON columns
// as read, nil for NULL.
func DecodeKey(k *keyward.Key, scopes, allowedIPs, metadata, override []byte) error {
	var err error
	if k.Scopes, err = DecodeList(scopes); err != nil {
		return fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	if k.AllowedIPs, err = DecodeNetworks(allowedIPs); err != nil {
		return fmt.Errorf("key %s allowed IPs: %w", k.ID, err)
	}
	if k.Metadata, err = DecodeMetadata(metadata); err != nil {
		return fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	if k.RateLimitOverride, err = DecodeRateLimit(override); err != nil {
		return fmt.Errorf("key %s rate limit override: %w", k.ID, err)
	}
	return nil
}

// EncodeNetworks is a list of networks as its column holds it: a JSON array of CIDR ranges,
// "[]" for none.
func EncodeNetworks(ps []netip.Prefix) string {
	b := []byte{'['}
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, p.String())
	}
	return string(append(b, ']'))
}

// DecodeNetworks reads a column written by EncodeNetworks; NULL or "[]" is none (nil).
func DecodeNetworks(b []byte) ([]netip.Prefix, error) {
	var ss []string
	if len(b) > 0 {
		if err := json.Unmarshal(b, &ss); err != nil {
			return nil, err
		}
	}
	if len(ss) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// GraceSeconds is a key's rotation grace as its column holds it: whole seconds, NULL (nil)
// for the default, which is distinct from a grace of zero.
func GraceSeconds(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return int64(*d / time.Second)
}

// GraceFromSeconds reads the column back; valid is false for NULL.
func GraceFromSeconds(seconds int64, valid bool) *time.Duration {
	if !valid {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	return &d
}
