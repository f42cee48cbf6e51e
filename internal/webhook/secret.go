package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// secretPrefix marks a Standard Webhooks symmetric secret, so that people and scanners can
// tell what it is.
const secretPrefix = "whsec_"

// The sizes of a secret's key, in bytes. New secrets are 32 bytes, 256 bits, as strong as
// SHA-256 itself; the spec asks for 24 to 64, and ParseSecret holds secrets made elsewhere
// to that.
const (
	newSecretSize = 32
	minSecretSize = 24
	maxSecretSize = 64
)

// ErrInvalidSecret is wrapped by every error ParseSecret returns.
var ErrInvalidSecret = errors.New("webhook: invalid secret")

// Secret is an endpoint's signing secret: the key of its HMAC-SHA256 signatures. It prints
// redacted whatever the verb (%v, %s, %#v, %x …) and logs redacted through log/slog, so that
// a secret that reaches a log line by accident is not leaked; Reveal is the one way to its
// text. The zero Secret is no secret: Sign skips it and Verify ignores it.
type Secret struct {
	// key is behind a pointer because fmt prints a Secret held in an unexported field
	// without calling its Format, and prints a pointer there as an address, not as the key.
	key *[]byte
}

// NewSecret returns a new random secret of 32 bytes from crypto/rand.
func NewSecret() (Secret, error) {
	key := make([]byte, newSecretSize)
	if _, err := rand.Read(key); err != nil {
		return Secret{}, fmt.Errorf("webhook: new secret: %w", err)
	}
	return Secret{key: &key}, nil
}

// ParseSecret reads a secret written as "whsec_" and the standard base64 of its key, with or
// without padding, as Reveal writes it and as other Standard Webhooks senders do. The key
// must be 24 to 64 bytes, as the spec asks. Errors wrap ErrInvalidSecret and never contain
// the secret.
func ParseSecret(s string) (Secret, error) {
	encoded, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return Secret{}, fmt.Errorf("%w: it must start with %q", ErrInvalidSecret, secretPrefix)
	}
	// The decoder skips line breaks; refuse them so that one secret has one spelling (less
	// its padding).
	if strings.ContainsAny(encoded, "\r\n") {
		return Secret{}, fmt.Errorf("%w: it contains a line break", ErrInvalidSecret)
	}
	enc := base64.StdEncoding
	if len(encoded)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(encoded)
	if err != nil {
		// The decoder's error names a position, never the text.
		return Secret{}, fmt.Errorf("%w: what follows %q is not standard base64 (%v)", ErrInvalidSecret, secretPrefix, err)
	}
	if len(key) < minSecretSize || len(key) > maxSecretSize {
		return Secret{}, fmt.Errorf("%w: its key is %d bytes; it must be %d to %d", ErrInvalidSecret, len(key), minSecretSize, maxSecretSize)
	}
	return Secret{key: &key}, nil
}

// IsZero reports whether s is the zero Secret, which is no secret.
func (s Secret) IsZero() bool { return s.key == nil || len(*s.key) == 0 }

// Reveal returns the secret's full text, "whsec_" and the padded standard base64 of its key
// (the form the official libraries read). Call it only where the secret is shown to its
// owner, once.
func (s Secret) Reveal() string {
	if s.IsZero() {
		return ""
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(*s.key)
}

// String returns the redacted form, "whsec_…" and the last four characters of the key's
// base64, enough for a person to tell two secrets apart and nothing to sign with.
func (s Secret) String() string {
	if s.IsZero() {
		return "whsec_(none)"
	}
	enc := base64.RawStdEncoding.EncodeToString(*s.key)
	return secretPrefix + "…" + enc[len(enc)-4:]
}

// Format writes the redacted form for every verb, so that %#v or %x cannot print the key.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue logs the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
