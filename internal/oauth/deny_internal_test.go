package oauth

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func TestParseUUID(t *testing.T) {
	u, ok := parseUUID("01a249ff-138a-7cd6-a46a-6acc40c51314")
	want := [16]byte{0x01, 0xa2, 0x49, 0xff, 0x13, 0x8a, 0x7c, 0xd6, 0xa4, 0x6a, 0x6a, 0xcc, 0x40, 0xc5, 0x13, 0x14}
	if !ok || u != want {
		t.Errorf("parseUUID = %x, %v; want %x", u, ok, want)
	}
	for _, bad := range []string{"", "legacy-key-7", "01A249FF-138A-7CD6-A46A-6ACC40C51314", "01a249ff-138a-7cd6-a46a-6acc40c5131g", "01a249ff0138a-7cd6-a46a-6acc40c51314"} {
		if _, ok := parseUUID(bad); ok {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
}

// TestKeyDenialsCompact checks the compact form of key denials: several for one key, an id
// that is not a UUID, and forgetting each when it expires.
func TestKeyDenialsCompact(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d := newDenyList(nil, func() time.Time { return now })
	const id, legacy = "01a249ff-138a-7cd6-a46a-6acc40c51314", "legacy-key-7"
	d.apply([]*keyward.TokenDenial{
		{ID: 1, KeyID: id, From: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: 2, KeyID: id, From: now.Add(10 * time.Minute), ExpiresAt: now.Add(3 * time.Hour)},
		{ID: 3, KeyID: legacy, From: now, ExpiresAt: now.Add(time.Hour)},
	})
	tok := func(key string, issued time.Time) *keyward.AccessToken {
		return &keyward.AccessToken{ID: "jti", ClientID: key, IssuedAt: issued}
	}
	if !d.denied(tok(id, now.Add(-2*time.Minute)), now) || d.denied(tok(id, now), now) {
		t.Error("the first denial: a token issued before it is refused, one issued after is not")
	}
	if !d.denied(tok(legacy, now.Add(-time.Second)), now) || !d.keyDenied(legacy, now) || d.keyDenied("legacy-key-8", now) {
		t.Error("an id that is not a UUID is denied as it is, and no other")
	}
	d.forget(now.Add(2 * time.Hour)) // the first denial and the legacy one expire; the second stays
	later := now.Add(2 * time.Hour)
	if _, ok := d.keys.get(legacy); ok {
		t.Error("an expired denial is still held")
	}
	if !d.denied(tok(id, now.Add(5*time.Minute)), later) || d.denied(tok(id, now.Add(11*time.Minute)), later) {
		t.Error("after forgetting the first, the second denial still refuses what was issued before it")
	}
	d.forget(now.Add(4 * time.Hour))
	if n := d.keys.len(); n != 0 {
		t.Errorf("%d keys held after every denial expired", n)
	}
}
