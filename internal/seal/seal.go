// Package seal encrypts small secrets at rest (webhook signing secrets, a rotated key's new
// secret waiting in the outbox) under keys derived from the server secret, so that a copy of
// the database alone reveals none of them.
//
// Each Sealer serves one purpose: its key is derived with HKDF from each server-secret version
// and the purpose, so that sealing can never yield the key another use of the server secret
// (hashing API keys, signing tokens) works with. A sealed value names the version it was
// sealed under, so that adding a server-secret version keeps older values readable.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/keyformat"
)

// ErrOpen is the error of a value that cannot be opened: tampered with, bound to another
// context, or sealed under a server-secret version this node does not hold.
var ErrOpen = errors.New("seal: cannot open the sealed value")

// versionSize is the big-endian server-secret version that starts every sealed value.
const versionSize = 4

// Sealer seals and opens values for one purpose. It is safe for concurrent use.
type Sealer struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

// New returns a Sealer for purpose (a fixed string such as "keyward webhook secrets v1") over
// the server secret's versions; it seals under the highest.
func New(secrets []keyformat.Secret, purpose string) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("seal: no server secret to seal with")
	}
	if purpose == "" {
		return nil, errors.New("seal: a sealer needs a purpose")
	}
	s := &Sealer{aeads: map[uint32]cipher.AEAD{}}
	for _, sec := range secrets {
		if sec.Version <= 0 {
			return nil, fmt.Errorf("seal: server secret version %d is not positive", sec.Version)
		}
		key, err := hkdf.Key(sha256.New, sec.Value, nil, purpose, 32)
		if err != nil {
			return nil, fmt.Errorf("seal: deriving the key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		v := uint32(sec.Version)
		s.aeads[v] = aead
		s.current = max(s.current, v)
	}
	return s, nil
}

// Seal encrypts plain, bound to context (the id of the row that holds it, so that sealed
// values cannot be swapped between rows): the version, a random nonce, then the ciphertext.
func (s *Sealer) Seal(plain, context []byte) []byte {
	aead := s.aeads[s.current]
	out := make([]byte, versionSize+aead.NonceSize(), versionSize+aead.NonceSize()+len(plain)+aead.Overhead())
	binary.BigEndian.PutUint32(out, s.current)
	rand.Read(out[versionSize:])
	return aead.Seal(out, out[versionSize:], plain, context)
}

// Open decrypts what Seal made with the same context; ErrOpen otherwise.
func (s *Sealer) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) < versionSize {
		return nil, ErrOpen
	}
	aead, ok := s.aeads[binary.BigEndian.Uint32(sealed)]
	if !ok {
		return nil, fmt.Errorf("%w: sealed under server secret version %d, which is not configured", ErrOpen, binary.BigEndian.Uint32(sealed))
	}
	rest := sealed[versionSize:]
	if len(rest) < aead.NonceSize() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], context)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
