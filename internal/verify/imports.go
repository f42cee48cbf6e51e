package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
)

// Keys imported from another system lack Keyward's format and checksum, which is what lets
// every other string be refused without touching the store. They are found through a filter
// instead: the first eight bytes of the stored hash of every imported key, held in memory. A
// string that fails the format is looked up only when its SHA-256 or its keyed hash hits the
// filter, so a flood of made-up strings reaches the store about once per 2^64/N strings (N
// imported keys): in practice never. The filter is loaded at start, reloaded by a job every
// ImportReloadEvery, and as soon as keys are imported (KeysImported: on this node directly,
// on the others through PostgreSQL's NOTIFY).

// importFilter is the set of imported keys' hash prefixes.
type importFilter map[uint64]struct{}

func prefix64(sum []byte) uint64 { return binary.BigEndian.Uint64(sum[:8]) }

// ImportedStore is what the import path reads.
type ImportedStore interface {
	keyward.ImportedKeyStore
}

// LoadImported reads the imported keys' hashes into the filter. A server calls it at start
// and every ImportReloadEvery.
func (v *Verifier) LoadImported(ctx context.Context) error {
	st, ok := v.store.(ImportedStore)
	if !ok {
		return nil
	}
	hashes, err := st.ImportedKeyHashes(ctx)
	if err != nil {
		return err
	}
	f := make(importFilter, len(hashes))
	for _, h := range hashes {
		if len(h) >= 8 {
			f[prefix64(h)] = struct{}{}
		}
	}
	v.imports.Store(&f)
	return nil
}

// KeysImported reloads the filter at once: keys were just imported through this node.
func (v *Verifier) KeysImported(ctx context.Context) {
	if err := v.LoadImported(ctx); err != nil {
		v.log.Warn("verify: reloading the imported keys failed; the next reload retries", "err", err)
	}
}

// ImportReloadEvery is how often each node reloads the imported keys' filter: how long a key
// imported through another node may answer MALFORMED here if the import's notice was lost.
const ImportReloadEvery = 10 * time.Second

// lookupImported finds an imported key by secret, a string that is not in Keyward's format,
// or returns nil.
func (v *Verifier) lookupImported(ctx context.Context, secret string, now time.Time) (*snapshot, error) {
	fp := v.imports.Load()
	if fp == nil || len(*fp) == 0 || len(secret) < keyward.MinImportedSecretLen || len(secret) > keyward.MaxImportedSecretLen {
		return nil, nil
	}
	f := *fp
	sums := make([][32]byte, 0, 3)
	sums = append(sums, sha256.Sum256([]byte(secret)))
	for _, version := range v.hasher.Versions() {
		sum, _ := v.hasher.HashVersion(version, secret)
		sums = append(sums, sum)
	}
	hit := false
	for _, s := range sums {
		if _, ok := f[prefix64(s[:])]; ok {
			hit = true
			break
		}
	}
	if !hit {
		return nil, nil
	}
	// One hit and every form is tried: the filter of a node may predate the rehash that
	// replaced the SHA-256 with the keyed hash.
	for _, sum := range sums {
		if snap, ok := v.cached(sum, now); ok {
			return snap, nil
		}
		if _, ok := v.negative.get(sum, now); ok {
			continue
		}
		v.stats.importedLookups.Add(1)
		snap, err := v.fetch(ctx, sum, now)
		if err != nil || snap != nil {
			return snap, err
		}
	}
	return nil, nil
}

// notices run the verifier's once-per-key callbacks (rehash an imported key, report that a
// key ran out of credits) off the request path, at most once per key per node at a time.
type notices struct {
	inFlight sync.Map // "kind:key id" → struct{}
}

// once runs fn in the background unless it is running for the same kind and key already.
func (n *notices) once(kind, keyID string, fn func(ctx context.Context) error, log func(error)) {
	name := kind + ":" + keyID
	if _, busy := n.inFlight.LoadOrStore(name, struct{}{}); busy {
		return
	}
	go func() {
		defer n.inFlight.Delete(name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			log(err)
		}
	}()
}

// Find returns the key secret belongs to, in whatever state, or nil: through the same paths
// as Check (the format and checksum, or the imported keys' filter, before the store), so that
// a caller acting on secrets it is handed (a leak report) is no cheaper a way to hit the
// store than verification. The key may be up to the cache's TTL old; re-read it to act on it.
func (v *Verifier) Find(ctx context.Context, secret string) (*keyward.Key, error) {
	now := v.now()
	var (
		snap *snapshot
		err  error
	)
	if _, perr := keyformat.Parse(secret); perr != nil {
		snap, err = v.lookupImported(ctx, secret, now)
	} else {
		snap, err = v.lookup(ctx, secret, now)
	}
	if err != nil || snap == nil {
		return nil, err
	}
	return snap.key, nil
}

// rehashImported replaces an imported key's unkeyed SHA-256 with the keyed hash of secret,
// which has just verified: from then on a copy of the database no longer holds a hash that
// can be checked without the server secret. Another node doing it first is no error. The
// key stays imported (its scheme ends in keyward.ImportedSchemeSuffix), because its secret
// still lacks Keyward's format; nodes whose filter predates the rehash find it by the keyed
// hash anyway (see lookupImported).
func (v *Verifier) rehashImported(ctx context.Context, k *keyward.Key, secret string) error {
	st, ok := v.store.(ImportedStore)
	if !ok {
		return nil
	}
	sum := v.hasher.Hash(secret)
	err := st.RehashKey(ctx, k.AccountID, k.ID, k.Hash, sum[:], v.hasher.CurrentScheme()+keyward.ImportedSchemeSuffix)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		// Another node rehashed it first: forget the entry under the old hash, so that this
		// node finds the key by its keyed hash rather than trying again on every use.
		v.KeyChanged(ctx, k)
		return nil
	}
	if err != nil {
		return err
	}
	v.KeyChanged(ctx, k) // forget the entry under the old hash
	if f := v.imports.Load(); f != nil {
		next := make(importFilter, len(*f)+1)
		for p := range *f {
			next[p] = struct{}{}
		}
		next[prefix64(sum[:])] = struct{}{}
		v.imports.Store(&next)
	}
	return nil
}
