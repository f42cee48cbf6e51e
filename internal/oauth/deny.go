package oauth

import (
	"context"
	"slices"
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
	// keys holds every key denial until it expires: after a revocation, as long as the
	// longest token Keyward issues (a day). A node that revokes often holds many, so each
	// is small: the id as 16 bytes, the times as integers, the first denial of a key inline.
	keys keyDenialMap
	// seen are the ids of the denials applied that a sync may read again (its lookback):
	// older ones are dropped at each sync, so it holds seconds of denials, not a day's.
	seen map[int64]struct{}

	// syncMu makes syncs take turns; the fields below belong to it.
	syncMu sync.Mutex
	maxID  int64
	// marks are the highest ids seen by recent syncs, oldest first, for the lookback.
	marks []mark
}

// keyDenial refuses the key's tokens issued before from (Unix nanoseconds), until expires.
type keyDenial struct{ from, expires int64 }

// keyDenials are a key's denials: nearly always one, held inline; more only when one key
// was denied twice (an earlier expiry, then a revocation).
type keyDenials struct {
	first keyDenial
	more  *[]keyDenial
}

// any reports whether f holds for one of the denials.
func (ks keyDenials) any(f func(keyDenial) bool) bool {
	return f(ks.first) || (ks.more != nil && slices.ContainsFunc(*ks.more, f))
}

// keyDenialMap holds key denials by key id: the 16 bytes of a UUID, the form of every id
// Keyward makes, or, for any other id (an imported key's), the string.
type keyDenialMap struct {
	uuids  map[[16]byte]keyDenials
	others map[string]keyDenials
}

func newKeyDenialMap() keyDenialMap {
	return keyDenialMap{uuids: map[[16]byte]keyDenials{}, others: map[string]keyDenials{}}
}

func (m keyDenialMap) get(id string) (keyDenials, bool) {
	if u, ok := parseUUID(id); ok {
		ks, ok := m.uuids[u]
		return ks, ok
	}
	ks, ok := m.others[id]
	return ks, ok
}

func (m keyDenialMap) add(id string, k keyDenial) {
	put := func(ks keyDenials, ok bool) keyDenials {
		if !ok {
			return keyDenials{first: k}
		}
		if ks.more == nil {
			ks.more = &[]keyDenial{}
		}
		*ks.more = append(*ks.more, k)
		return ks
	}
	if u, ok := parseUUID(id); ok {
		ks, had := m.uuids[u]
		m.uuids[u] = put(ks, had)
		return
	}
	ks, had := m.others[id]
	m.others[id] = put(ks, had)
}

func (m keyDenialMap) len() int { return len(m.uuids) + len(m.others) }

// forget drops the denials that expired at t (Unix nanoseconds).
func (m keyDenialMap) forget(t int64) {
	forgetIn(m.uuids, t)
	forgetIn(m.others, t)
}

func forgetIn[K comparable](m map[K]keyDenials, t int64) {
	for id, ks := range m {
		if ks.more == nil { // the common case, without allocating
			if ks.first.expires <= t {
				delete(m, id)
			}
			continue
		}
		var kept []keyDenial
		for _, k := range append([]keyDenial{ks.first}, *ks.more...) {
			if k.expires > t {
				kept = append(kept, k)
			}
		}
		switch {
		case len(kept) == 0:
			delete(m, id)
		case len(kept) == 1:
			m[id] = keyDenials{first: kept[0]}
		default:
			rest := kept[1:]
			m[id] = keyDenials{first: kept[0], more: &rest}
		}
	}
}

// parseUUID reads the canonical 36-character form, 8-4-4-4-12 lowercase hexadecimal digits
// (what keyward.NewID makes). Any other form is not a UUID here, and stays a string: the
// deny-list matches ids exactly, as before.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

type mark struct {
	at time.Time
	id int64
}

func newDenyList(store keyward.TokenDenyStore, now func() time.Time) *denyList {
	return &denyList{store: store, now: now, tokens: map[string]time.Time{}, keys: newKeyDenialMap(), seen: map[int64]struct{}{},
		marks: []mark{{at: time.Now(), id: 0}}}
}

// denied reports whether the token is refused at now.
func (d *denyList) denied(t *keyward.AccessToken, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.tokens[t.ID]; ok {
		return true
	}
	ks, ok := d.keys.get(t.ClientID)
	return ok && ks.any(func(k keyDenial) bool {
		return k.from <= now.UnixNano() && t.IssuedAt.Before(time.Unix(0, k.from).Add(denyMargin))
	})
}

// keyDenied reports whether the key's tokens issued at now would be refused: the key is
// revoked, and this node knows it even if its key cache does not yet.
func (d *denyList) keyDenied(keyID string, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ks, ok := d.keys.get(keyID)
	return ok && ks.any(func(k keyDenial) bool { return k.from <= now.UnixNano() })
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
			d.seen[x.ID] = struct{}{}
		}
		switch {
		case x.TokenID != "":
			d.tokens[x.TokenID] = x.ExpiresAt
		case x.KeyID != "":
			d.keys.add(x.KeyID, keyDenial{from: x.From.UnixNano(), expires: x.ExpiresAt.UnixNano()})
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
	d.keys.forget(now.UnixNano())
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
	// No sync reads at or below the oldest mark again: what it saw there need not be known.
	d.mu.Lock()
	for id := range d.seen {
		if id <= d.marks[0].id {
			delete(d.seen, id)
		}
	}
	d.mu.Unlock()
	return nil
}
