// Package events carries the changes that make a cached verdict stale (a key revoked, rotated
// or changed; an account's users, roles, memberships or networks changed) to caches outside
// the process: the Go middleware keeps verdicts in-process and follows them over a
// Server-Sent Events stream (GET /v1/events) fed by a Hub.
//
// A Hub hears every change the node's own caches hear: the node's own, and, with PostgreSQL,
// every other node's through the invalidation listener. Each event gets an id, "NODE-SEQ",
// unique to this process; a subscriber that reconnects with the last id it saw gets what it
// missed, if this node still holds it, and otherwise a reset: drop everything, as the node
// itself does when its listener reconnects.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/keyward"
)

// Kinds of event.
const (
	// KindKey: one key changed (KeyID); drop what is cached for it.
	KindKey = "key_changed"
	// KindAccount: what any key of the account (AccountID) stands for may have changed; drop
	// everything cached for the account.
	KindAccount = "account_changed"
	// KindReset: changes may have been missed; drop everything.
	KindReset = "reset"
)

// Event is one change.
type Event struct {
	// ID is "NODE-SEQ": the hub's node and the event's place in its sequence.
	ID        string
	Kind      string
	AccountID string // "" for a reset
	KeyID     string // set for KindKey
	seq       uint64
}

// DefaultBacklog is how many recent events a hub keeps for subscribers that reconnect.
const DefaultBacklog = 10_000

// subscriberBuffer is how many events a subscriber may fall behind before it is dropped: a
// slow reader must not hold up the node, and a dropped one reconnects and resets.
const subscriberBuffer = 1024

// Hub fans changes out to subscribers. It implements keyward.KeyEvents and
// keyward.IdentityEvents. It is safe for concurrent use.
type Hub struct {
	node string

	mu      sync.Mutex
	seq     uint64
	backlog []Event // a ring of the last len(backlog) events
	subs    map[*Subscription]struct{}
}

var (
	_ keyward.KeyEvents      = (*Hub)(nil)
	_ keyward.IdentityEvents = (*Hub)(nil)
)

// NewHub returns a hub that keeps the last backlog events (DefaultBacklog when <= 0).
func NewHub(backlog int) *Hub {
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("events: crypto/rand failed: " + err.Error())
	}
	return &Hub{node: hex.EncodeToString(b[:]), backlog: make([]Event, backlog), subs: map[*Subscription]struct{}{}}
}

// KeyChanged publishes a key's change. A change that names no key (an older node's notice)
// is published as a reset: nobody can tell whose it was.
func (h *Hub) KeyChanged(_ context.Context, k *keyward.Key) {
	if k.ID == "" || k.AccountID == "" {
		h.publish(Event{Kind: KindReset})
		return
	}
	h.publish(Event{Kind: KindKey, AccountID: k.AccountID, KeyID: k.ID})
}

// IdentityChanged publishes an account-wide change; "" (the node's cache was dropped whole)
// is a reset.
func (h *Hub) IdentityChanged(_ context.Context, accountID string) {
	if accountID == "" {
		h.publish(Event{Kind: KindReset})
		return
	}
	h.publish(Event{Kind: KindAccount, AccountID: accountID})
}

func (h *Hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.seq = h.seq
	e.ID = h.node + "-" + strconv.FormatUint(e.seq, 10)
	h.backlog[e.seq%uint64(len(h.backlog))] = e
	for s := range h.subs {
		if !s.wants(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			// Too far behind: drop it; it reconnects, resumes or resets.
			delete(h.subs, s)
			close(s.c)
		}
	}
}

// Subscription is one subscriber's stream of the events of its account, and resets.
type Subscription struct {
	// C delivers the events; it is closed when the subscriber fell too far behind or closed
	// the subscription.
	C         <-chan Event
	c         chan Event
	accountID string
	hub       *Hub
}

func (s *Subscription) wants(e Event) bool {
	return e.Kind == KindReset || e.AccountID == s.accountID
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}

// Subscribe starts a subscription to the account's events. lastID is the id of the last
// event the subscriber saw ("" for a first connection). It returns the events to send first:
// those the subscriber missed, when this hub still holds them all (resumed true); otherwise
// resumed is false and the subscriber must drop what it holds (the stream starts with a
// reset).
func (h *Hub) Subscribe(accountID, lastID string) (sub *Subscription, missed []Event, resumed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan Event, subscriberBuffer)
	sub = &Subscription{C: c, c: c, accountID: accountID, hub: h}
	h.subs[sub] = struct{}{}
	last, ok := h.seqOf(lastID)
	if !ok {
		return sub, nil, false
	}
	oldest := uint64(1)
	if h.seq > uint64(len(h.backlog)) {
		oldest = h.seq - uint64(len(h.backlog)) + 1
	}
	if last+1 < oldest {
		return sub, nil, false // some of what it missed is gone
	}
	for seq := last + 1; seq <= h.seq; seq++ {
		if e := h.backlog[seq%uint64(len(h.backlog))]; sub.wants(e) {
			missed = append(missed, e)
		}
	}
	return sub, missed, true
}

// seqOf reads an event id of this hub; false for another node's, or one not yet issued.
func (h *Hub) seqOf(id string) (uint64, bool) {
	node, seq, ok := strings.Cut(id, "-")
	if !ok || node != h.node {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n > h.seq {
		return 0, false
	}
	return n, true
}

// Fanout tells every one of its members of each change: the node's cache and its hub hear
// the same events.
type Fanout []interface {
	keyward.KeyEvents
	keyward.IdentityEvents
}

// KeyChanged implements keyward.KeyEvents.
func (f Fanout) KeyChanged(ctx context.Context, k *keyward.Key) {
	for _, m := range f {
		m.KeyChanged(ctx, k)
	}
}

// KeysImported implements keyward.ImportEvents for the members that hear of imports.
func (f Fanout) KeysImported(ctx context.Context) {
	for _, m := range f {
		if ie, ok := m.(keyward.ImportEvents); ok {
			ie.KeysImported(ctx)
		}
	}
}

// IdentityChanged implements keyward.IdentityEvents.
func (f Fanout) IdentityChanged(ctx context.Context, accountID string) {
	for _, m := range f {
		m.IdentityChanged(ctx, accountID)
	}
}
