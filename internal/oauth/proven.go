package oauth

import (
	"crypto/subtle"
	"sync"
	"time"
)

// provenSecrets remembers, per client_id, a SHA-256 digest of the secret that client last
// authenticated with, so that the failure limits can tell a client's owner from a guesser
// (see Clients). It holds digests only in memory, never secrets, for the same high-entropy
// keys whose HMACs the store holds.
//
// Memory is bounded by two generations of a map each, swapped every half of the memory span:
// a client that authenticates at least once per half-span is never forgotten, one that stops
// is forgotten within the full span, and a generation that is full records no new client
// (those fall back to the plain limits) rather than dropping the ones it holds.
type provenSecrets struct {
	half     time.Duration
	perGen   int
	now      func() time.Time
	mu       sync.Mutex
	start    time.Time
	cur, old map[string][32]byte
}

func newProvenSecrets(span time.Duration, max int, now func() time.Time) *provenSecrets {
	if now == nil {
		now = time.Now
	}
	return &provenSecrets{half: span / 2, perGen: max / 2, now: now, cur: map[string][32]byte{}, old: map[string][32]byte{}}
}

// roll swaps the generations when the current one is a half-span old. The caller holds mu.
func (p *provenSecrets) roll() {
	now := p.now()
	switch since := now.Sub(p.start); {
	case since >= 2*p.half || since < 0:
		// Idle for a whole span (or the clock went back): both generations are stale.
		clear(p.cur)
		clear(p.old)
		p.start = now
	case since >= p.half:
		p.old, p.cur = p.cur, p.old
		clear(p.cur)
		p.start = now
	}
}

// remember records that id authenticated with the secret whose digest is d.
func (p *provenSecrets) remember(id string, d [32]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.roll()
	if _, ok := p.cur[id]; ok || len(p.cur) < p.perGen {
		p.cur[id] = d
	}
}

// matches reports whether d is the digest of the secret id last authenticated with,
// compared in constant time.
func (p *provenSecrets) matches(id string, d [32]byte) bool {
	p.mu.Lock()
	p.roll()
	known, ok := p.cur[id]
	if !ok {
		known, ok = p.old[id]
	}
	p.mu.Unlock()
	return ok && subtle.ConstantTimeCompare(known[:], d[:]) == 1
}

// forget drops id's proof if it is for the secret whose digest is d: that secret failed
// (its key was revoked, say), so it no longer opens a blocked door.
func (p *provenSecrets) forget(id string, d [32]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, gen := range []map[string][32]byte{p.cur, p.old} {
		if known, ok := gen[id]; ok && subtle.ConstantTimeCompare(known[:], d[:]) == 1 {
			delete(gen, id)
		}
	}
}
