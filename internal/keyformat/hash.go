package keyformat

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"unsafe"
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
	// macs holds, for each version in the order of versions, a pool of HMAC states keyed
	// with that version's secret. A slice, not a map: there are one to three versions, and a
	// short scan is cheaper than hashing the version on every verification.
	macs []*sync.Pool
}

// pooledMAC is an HMAC state with the buffer its sum is written to. The buffer lives beside
// the state so that Sum appends into memory that is already on the heap: a [32]byte on the
// caller's stack would escape through the hash.Hash interface and cost an allocation.
type pooledMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewHasher returns a Hasher over the given secret versions; the highest version is current.
func NewHasher(secrets ...Secret) (*Hasher, error) {
	if len(secrets) == 0 {
		return nil, errors.New("keyformat: no server secret")
	}
	h := &Hasher{}
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
		if h.current.Value == nil || s.Version > h.current.Version {
			if h.current.Value != nil {
				h.older = append(h.older, h.current)
			}
			h.current = Secret{Version: s.Version, Value: value}
		} else {
			h.older = append(h.older, Secret{Version: s.Version, Value: value})
		}
	}
	for _, s := range append([]Secret{h.current}, h.older...) {
		h.versions = append(h.versions, s.Version)
		h.macs = append(h.macs, &sync.Pool{New: func() any {
			return &pooledMAC{mac: hmac.New(sha256.New, s.Value)}
		}})
	}
	return h, nil
}

// Scheme names the hash scheme and secret version a stored hash was made with, as kept in a
// key's hash_scheme column: "hmac-sha256:1".
func Scheme(version int) string { return fmt.Sprintf("hmac-sha256:%d", version) }

// CurrentScheme is the scheme new keys are stored under.
func (h *Hasher) CurrentScheme() string { return Scheme(h.current.Version) }

// Hash returns the keyed hash of key under the current secret. It does not allocate.
func (h *Hasher) Hash(key string) [32]byte { return hashWith(h.macs[0], key) }

// Versions lists every secret version, current first, for lookups that must find keys stored
// under an older one. The slice is shared: do not modify it.
func (h *Hasher) Versions() []int { return h.versions }

// HashVersion returns the keyed hash of key under the given secret version, and false if
// there is no such version. It does not allocate, as it runs on every verification.
func (h *Hasher) HashVersion(version int, key string) ([32]byte, bool) {
	for i, v := range h.versions {
		if v == version {
			return hashWith(h.macs[i], key), true
		}
	}
	return [32]byte{}, false
}

func hashWith(pool *sync.Pool, key string) [32]byte {
	m := pool.Get().(*pooledMAC)
	m.mac.Reset()
	m.mac.Write(stringBytes(key))
	m.mac.Sum(m.sum[:0])
	out := m.sum
	pool.Put(m)
	return out
}

// stringBytes views s as a byte slice without copying it, for functions that only read their
// argument and keep nothing of it, as io.Writer's contract requires of hash.Hash.Write and
// as hash/crc32 does. The slice must never be written to.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
