package keyward

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/keyformat"
)

// Import bounds: keys per call, and the length of an imported secret (other systems' keys
// are longer than Keyward's, but not without bound: the import path hashes what it is given).
const (
	MaxImportKeys        = 10000
	MinImportedSecretLen = 16
	MaxImportedSecretLen = 512
	// MaxImportPrefixLen bounds the display prefix of a key imported by its hash alone.
	MaxImportPrefixLen = 32
)

// ImportKeyInput is one key brought from another system: its secret in the clear (hashed on
// arrival, never stored), or the SHA-256 of its secret as that system stored it.
type ImportKeyInput struct {
	CreateKeyInput
	// Secret is the key in the clear; "" when SHA256 is given.
	Secret string
	// SHA256 is the unsalted SHA-256 of the secret, as 64 hex digits or 44 characters of
	// standard base64 (43 without padding, URL-safe alphabet accepted).
	SHA256 string
	// Prefix is what lists show of a key imported by hash ("sk_live_4f2a"); with Secret it is
	// taken from the secret.
	Prefix string
}

// ImportKeys adds keys from another system to p's account, all of them or none, in one unit
// of work. Each is checked and authorized as CreateKey would check it (name, project,
// environment, scopes, expiry, metadata, networks); a tier that needs approval is refused
// rather than requested. A secret in Keyward's own format is hashed under the server secret
// like any key; any other is kept as its unkeyed SHA-256 (ImportHashScheme) until its first
// successful verification rehashes it. Errors: EValidation (naming the key by its index),
// EForbidden, ENotFound, EConflict (a secret imported twice, or already a key).
func (s *Service) ImportKeys(ctx context.Context, p Principal, in []ImportKeyInput) ([]*Key, error) {
	if len(in) == 0 || len(in) > MaxImportKeys {
		return nil, Errorf(EValidation, "an import holds between 1 and %d keys, not %d", MaxImportKeys, len(in))
	}
	var keys []*Key
	err := s.mutate(ctx, p, ActionImportKeys, TargetKey, "", func(tx *Service, _ *AuditEvent) error {
		keys = make([]*Key, 0, len(in))
		for i, ki := range in {
			k, err := tx.importedKey(ctx, p, ki)
			if err != nil {
				return atIndex(i, err)
			}
			keys = append(keys, k)
		}
		if err := tx.store.CreateKeys(ctx, keys); err != nil {
			return err
		}
		// One record for the import: the keys are found by the import's time and actor.
		tx.pending.imported = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// atIndex names the import item an error is about.
func atIndex(i int, err error) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Message = fmt.Sprintf("keys[%d]: %s", i, e.Message)
		return &c
	}
	return err
}

func (s *Service) importedKey(ctx context.Context, p Principal, in ImportKeyInput) (*Key, error) {
	if in.RotationWebhookURL != "" || in.Credits != nil || in.RateLimit != nil {
		return nil, Errorf(EValidation, "imported keys take no rotation webhook, credits or rate limit: set them after the import")
	}
	k, _, pending, err := s.newKey(ctx, p, in.CreateKeyInput)
	if err != nil {
		return nil, err
	}
	if pending != nil {
		return nil, Errorf(EValidation, "rate-limit tier %q needs approval: import keys on the standard tier and ask for it after", pending.Tier)
	}
	switch {
	case in.Secret != "" && in.SHA256 != "":
		return nil, Errorf(EValidation, "give the secret or its sha256, not both")
	case in.Secret != "":
		if len(in.Secret) < MinImportedSecretLen || len(in.Secret) > MaxImportedSecretLen {
			return nil, Errorf(EValidation, "a secret is between %d and %d characters", MinImportedSecretLen, MaxImportedSecretLen)
		}
		if strings.TrimSpace(in.Secret) != in.Secret {
			return nil, Errorf(EValidation, "the secret starts or ends with white space")
		}
		if parsed, err := keyformat.Parse(in.Secret); err == nil {
			sum := s.hasher.Hash(in.Secret)
			k.Hash, k.HashScheme = sum[:], s.hasher.CurrentScheme()
			k.Prefix, k.Last4 = parsed.DisplayPrefix(), parsed.Last4()
			return k, nil
		}
		// A secret imported before and since used is kept under its keyed hash: look there
		// too, or the same secret would be two keys. (By SHA-256 alone this cannot be seen.)
		keyed := s.hasher.Hash(in.Secret)
		if _, err := s.store.KeyByHash(ctx, keyed[:]); err == nil {
			return nil, Errorf(EConflict, "a key with this secret already exists")
		} else if ErrorCode(err) != ENotFound {
			return nil, err
		}
		sum := sha256.Sum256([]byte(in.Secret))
		k.Hash, k.HashScheme = sum[:], ImportHashScheme
		k.Prefix, k.Last4 = importPrefix(in.Secret), in.Secret[len(in.Secret)-4:]
		if in.Prefix != "" {
			k.Prefix = in.Prefix
		}
	case in.SHA256 != "":
		sum, err := parseSHA256(in.SHA256)
		if err != nil {
			return nil, err
		}
		k.Hash, k.HashScheme = sum, ImportHashScheme
		k.Prefix = in.Prefix
	default:
		return nil, Errorf(EValidation, "give the secret or its sha256")
	}
	if len(k.Prefix) > MaxImportPrefixLen {
		return nil, Errorf(EValidation, "prefix must be at most %d characters", MaxImportPrefixLen)
	}
	return k, nil
}

// importPrefix is what lists show of an imported secret: its first eight characters at
// most, and never more than a third of it, so that the display never gives much away.
func importPrefix(secret string) string {
	return secret[:min(8, len(secret)/3)]
}

// parseSHA256 reads a SHA-256 digest in hex or base64.
func parseSHA256(v string) ([]byte, error) {
	if len(v) == 64 {
		if b, err := hex.DecodeString(v); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == sha256.Size {
			return b, nil
		}
	}
	return nil, Errorf(EValidation, "sha256 must be 64 hex digits or the base64 of 32 bytes")
}

// ImportedSchemeSuffix ends the hash scheme of an imported key after its first use rehashed
// it under the server secret: it is still found through the import path, because its secret
// lacks Keyward's format.
const ImportedSchemeSuffix = "-import"

// WasImported reports whether a key came from another system (rehashed or not): its
// secret lacks Keyward's format, so it is found only through the import path.
func (k *Key) WasImported() bool {
	return k.HashScheme == ImportHashScheme || strings.HasSuffix(k.HashScheme, ImportedSchemeSuffix)
}
