package events

import (
	"context"
	"testing"

	"github.com/keyward/keyward/internal/keyward"
)

func key(account, id string) *keyward.Key { return &keyward.Key{AccountID: account, ID: id} }

func TestSubscriptionGetsItsAccountAndResets(t *testing.T) {
	h := NewHub(10)
	ctx := context.Background()
	sub, missed, resumed := h.Subscribe("a1", "")
	defer sub.Close()
	if resumed || missed != nil {
		t.Fatalf("a first subscription: resumed %v with %d missed, want a reset start", resumed, len(missed))
	}
	h.KeyChanged(ctx, key("a1", "k1"))
	h.KeyChanged(ctx, key("a2", "k2")) // another account's: not delivered
	h.IdentityChanged(ctx, "a1")
	h.IdentityChanged(ctx, "") // a reset: delivered to all
	h.KeyChanged(ctx, &keyward.Key{})
	want := []Event{{Kind: KindKey, AccountID: "a1", KeyID: "k1"}, {Kind: KindAccount, AccountID: "a1"}, {Kind: KindReset}, {Kind: KindReset}}
	for i, w := range want {
		got := <-sub.C
		if got.Kind != w.Kind || got.AccountID != w.AccountID || got.KeyID != w.KeyID || got.ID == "" {
			t.Errorf("event %d = %+v, want %+v with an id", i, got, w)
		}
	}
	select {
	case e := <-sub.C:
		t.Errorf("an extra event: %+v", e)
	default:
	}
}

func TestResume(t *testing.T) {
	h := NewHub(4)
	ctx := context.Background()
	first, _, _ := h.Subscribe("a1", "")
	h.KeyChanged(ctx, key("a1", "k1"))
	seen := <-first.C
	first.Close()
	h.KeyChanged(ctx, key("a1", "k2"))
	h.KeyChanged(ctx, key("a2", "x"))
	h.KeyChanged(ctx, key("a1", "k3"))

	sub, missed, resumed := h.Subscribe("a1", seen.ID)
	sub.Close()
	if !resumed || len(missed) != 2 || missed[0].KeyID != "k2" || missed[1].KeyID != "k3" {
		t.Errorf("resuming after %s: resumed %v, missed %+v; want k2 and k3", seen.ID, resumed, missed)
	}
	// Past the backlog: the missed events are gone, so a reset.
	for range 4 {
		h.KeyChanged(ctx, key("a1", "more"))
	}
	if _, missed, resumed := h.Subscribe("a1", seen.ID); resumed || missed != nil {
		t.Errorf("resuming from before the backlog: resumed %v, %d missed; want a reset", resumed, len(missed))
	}
	for _, id := range []string{"othernode-1", "garbage", h.node + "-999"} {
		if _, _, resumed := h.Subscribe("a1", id); resumed {
			t.Errorf("resuming from %q: resumed, want a reset", id)
		}
	}
}

func TestASlowSubscriberIsDropped(t *testing.T) {
	h := NewHub(10)
	sub, _, _ := h.Subscribe("a1", "")
	for range subscriberBuffer + 1 {
		h.KeyChanged(context.Background(), key("a1", "k"))
	}
	n := 0
	for range sub.C {
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("a subscriber that read nothing got %d events before being dropped, want %d", n, subscriberBuffer)
	}
	sub.Close() // after the drop: a no-op
}

func TestFanout(t *testing.T) {
	a, b := NewHub(10), NewHub(10)
	sa, _, _ := a.Subscribe("acc", "")
	sb, _, _ := b.Subscribe("acc", "")
	Fanout{a, b}.KeyChanged(context.Background(), key("acc", "k"))
	Fanout{a, b}.IdentityChanged(context.Background(), "acc")
	for _, s := range []*Subscription{sa, sb} {
		if e := <-s.C; e.KeyID != "k" {
			t.Errorf("first event %+v, want the key", e)
		}
		if e := <-s.C; e.Kind != KindAccount {
			t.Errorf("second event %+v, want the account", e)
		}
	}
}
