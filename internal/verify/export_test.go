package verify

import "github.com/keyward/keyward/internal/keyward"

// Waiting counts the verifications waiting on another's store lookup.
func Waiting(v *Verifier) int {
	v.flightMu.Lock()
	defer v.flightMu.Unlock()
	n := 0
	for _, f := range v.flights {
		n += f.waiters
	}
	return n
}

// Prime caches k as the key stored under secret, as a store lookup would, without one: a
// benchmark can then fill the cache with millions of keys in seconds.
func Prime(v *Verifier, secret string, k *keyward.Key) {
	sum := v.hasher.Hash(secret)
	v.cache.putNode(sum, newSnapshot(k, nil, sum), v.now())
}

// CodeIndex is codeIndex, for the test that every code has a counter.
var CodeIndex = codeIndex
