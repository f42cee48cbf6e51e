package keyformat

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// SecretMinLen is the shortest server secret a Hasher accepts: 256 bits.
const SecretMinLen = 32

// Secret is one version of the server secret (the "pepper") that keys are hashed under.
type Secret struct {
	Version int
	Value   []byte
}

// Hasher computes the keyed hashes under which keys are stored. It holds every secret version
// still in use: new keys are hashed under the newest, and a lookup may try the older ones so
// that a secret can be rotated without reissuing keys.
type Hasher struct {
	current  Secret
	older    []Secret
	versions []int // current first; computed once, as Versions runs on every verification
	pools    map[int]*sync.Pool
}

// NewHasher returns a Hasher over the given secret versions; the highest version is current.
func NewHasher(secrets ...Secret) (*Hasher, error) {
	if len(secrets) == 0 {
		return nil, errors.New("keyformat: no server secret")
	}
	h := &Hasher{pools: make(map[int]*sync.Pool, len(secrets))}
	seen := map[int]bool{}
	for _, s := range secrets {
		if len(s.Value) < SecretMinLen {
			return nil, fmt.Errorf("keyformat: server secret version %d is %d bytes, want at least %d", s.Version, len(s.Value), SecretMinLen)
		}
		if seen[s.Version] {
			return nil, fmt.Errorf("keyformat: server secret version %d given twice", s.Version)
		}
		seen[s.Version] = true
		value := append([]byte(nil), s.Value...)
		h.pools[s.Version] = &sync.Pool{New: func() any { return hmac.New(sha256.New, value) }}
		if h.current.Value == nil || s.Version > h.current.Version {
			if h.current.Value != nil {
				h.older = append(h.older, h.current)
			}
			h.current = Secret{Version: s.Version, Value: value}
		} else {
			h.older = append(h.older, Secret{Version: s.Version, Value: value})
		}
	}
	h.versions = []int{h.current.Version}
	for _, s := range h.older {
		h.versions = append(h.versions, s.Version)
	}
	return h, nil
}

// Scheme names the hash scheme and secret version a stored hash was made with, as kept in a
// key's hash_scheme column: "hmac-sha256:1".
func Scheme(version int) string { return fmt.Sprintf("hmac-sha256:%d", version) }

// CurrentScheme is the scheme new keys are stored under.
func (h *Hasher) CurrentScheme() string { return Scheme(h.current.Version) }

// Hash returns the keyed hash of key under the current secret.
func (h *Hasher) Hash(key string) [32]byte { return h.hashWith(h.current.Version, key) }

// Versions lists every secret version, current first, for lookups that must find keys stored
// under an older one. The slice is shared: do not modify it.
func (h *Hasher) Versions() []int { return h.versions }

// HashVersion returns the keyed hash of key under the given secret version.
func (h *Hasher) HashVersion(version int, key string) ([32]byte, bool) {
	if _, ok := h.pools[version]; !ok {
		return [32]byte{}, false
	}
	return h.hashWith(version, key), true
}

func (h *Hasher) hashWith(version int, key string) [32]byte {
	pool := h.pools[version]
	mac := pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(key))
	var out [32]byte
	mac.Sum(out[:0])
	pool.Put(mac)
	return out
}
