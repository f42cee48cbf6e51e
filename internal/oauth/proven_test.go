package oauth

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestProvenSecrets(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newProvenSecrets(24*time.Hour, 4, func() time.Time { return now })
	right, wrong := sha256.Sum256([]byte("kw_right")), sha256.Sum256([]byte("kw_wrong"))

	p.remember("a", right)
	if !p.matches("a", right) || p.matches("a", wrong) || p.matches("b", right) {
		t.Fatal("a proof matches only its own client and secret")
	}
	// Used every half-span, a proof is never forgotten; idle for a whole span, it is.
	for range 4 {
		now = now.Add(12 * time.Hour)
		if !p.matches("a", right) {
			t.Fatal("a proof in use was forgotten")
		}
		p.remember("a", right)
	}
	now = now.Add(24 * time.Hour)
	if p.matches("a", right) {
		t.Error("a proof idle for the whole span is still remembered")
	}
	// Bounded: a full generation records no new client and keeps those it holds.
	for _, id := range []string{"a", "b", "c"} {
		p.remember(id, right)
	}
	if !p.matches("a", right) || !p.matches("b", right) || p.matches("c", right) {
		t.Error("a full generation dropped a proof or took a new one")
	}
	// A secret that failed is forgotten; another secret's failure does not touch the proof.
	p.forget("a", wrong)
	if !p.matches("a", right) {
		t.Error("a wrong secret's failure forgot the client's proof")
	}
	p.forget("a", right)
	if p.matches("a", right) {
		t.Error("a failed secret still opens the door")
	}
}
