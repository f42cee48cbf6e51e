package oauth

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// denyMargin widens a key's denial to tokens issued up to this long after it takes effect.
// A token's iat has whole seconds, and a node whose caches have not yet heard of a
// revocation may issue a token in the moment after it; such a token is refused too.
const denyMargin = 2 * time.Second

// syncLookback is how far back each sync re-reads. A PostgreSQL sequence hands out ids
// before their transactions commit, so a denial may become visible after one with a higher
// id; re-reading the last few seconds of ids catches it. Denials are rare, so the re-read
// costs little.
const syncLookback = 3 * time.Second

// syncBatch bounds one read of the deny-list.
const syncBatch = 1000

// denyList is this node's copy of the deny-list in the store.
type denyList struct {
	store keyward.TokenDenyStore
	now   func() time.Time

	mu     sync.RWMutex
	tokens map[string]time.Time // jti → when the denial may be forgotten
	keys   map[string][]keyDenial
	seen   map[int64]time.Time // denial ids applied → when they may be forgotten

	// syncMu makes syncs take turns; the fields below belong to it.
	syncMu sync.Mutex
	maxID  int64
	// marks are the highest ids seen by recent syncs, oldest first, for the lookback.
	marks []mark
}

type keyDenial struct{ from, expires time.Time }

type mark struct {
	at time.Time
	id int64
}

func newDenyList(store keyward.TokenDenyStore, now func() time.Time) *denyList {
	return &denyList{store: store, now: now, tokens: map[string]time.Time{}, keys: map[string][]keyDenial{}, seen: map[int64]time.Time{},
		marks: []mark{{at: time.Now(), id: 0}}}
}

// denied reports whether the token is refused at now.
func (d *denyList) denied(t *keyward.AccessToken, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.tokens[t.ID]; ok {
		return true
	}
	for _, k := range d.keys[t.ClientID] {
		if !k.from.After(now) && t.IssuedAt.Before(k.from.Add(denyMargin)) {
			return true
		}
	}
	return false
}

// keyDenied reports whether the key's tokens issued at now would be refused: the key is
// revoked, and this node knows it even if its key cache does not yet.
func (d *denyList) keyDenied(keyID string, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, k := range d.keys[keyID] {
		if !k.from.After(now) {
			return true
		}
	}
	return false
}

// apply adds denials to the node's copy; ones already applied are skipped.
func (d *denyList) apply(ds []*keyward.TokenDenial) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range ds {
		if _, ok := d.seen[x.ID]; ok && x.ID != 0 {
			continue
		}
		if x.ID != 0 {
			d.seen[x.ID] = x.ExpiresAt
		}
		switch {
		case x.TokenID != "":
			d.tokens[x.TokenID] = x.ExpiresAt
		case x.KeyID != "":
			d.keys[x.KeyID] = append(d.keys[x.KeyID], keyDenial{from: x.From, expires: x.ExpiresAt})
		}
	}
}

// forget drops the denials that have expired: every token they refuse has expired too.
func (d *denyList) forget(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, exp := range d.tokens {
		if !exp.After(now) {
			delete(d.tokens, id)
		}
	}
	for id, ks := range d.keys {
		kept := ks[:0]
		for _, k := range ks {
			if k.expires.After(now) {
				kept = append(kept, k)
			}
		}
		if len(kept) == 0 {
			delete(d.keys, id)
		} else {
			d.keys[id] = kept
		}
	}
	for id, exp := range d.seen {
		if !exp.After(now) {
			delete(d.seen, id)
		}
	}
}

// sync reads the denials added to the store since the last sync (and those of the lookback
// window, which may have committed late).
func (d *denyList) sync(ctx context.Context) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	now := d.now()
	wall := time.Now()
	// Re-read from the highest id seen by the newest sync at least syncLookback ago; while
	// there is none, from the first mark, which the list starts with at id 0.
	from := d.marks[0].id
	for i := len(d.marks) - 1; i >= 0; i-- {
		if wall.Sub(d.marks[i].at) >= syncLookback {
			from = d.marks[i].id
			d.marks = d.marks[i:]
			break
		}
	}
	for {
		ds, err := d.store.TokenDenials(ctx, from, now, syncBatch)
		if err != nil {
			return err
		}
		d.apply(ds)
		if len(ds) > 0 {
			from = ds[len(ds)-1].ID
			d.maxID = max(d.maxID, from)
		}
		if len(ds) < syncBatch {
			break
		}
	}
	d.marks = append(d.marks, mark{at: wall, id: d.maxID})
	return nil
}
