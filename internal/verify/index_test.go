package verify

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap drives an index and a Go map with the same random sets and deletes
// and checks they agree after every step. Hashes are drawn from a small set whose tags
// crowd a few home slots (and share tags outright), so that runs form, wrap around the
// table's end and are cut by deletions.
func TestIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([][32]byte, 300)
	for i := range hashes {
		var h [32]byte
		// Tags 0..15 and 2^64-16..2^64-1 land in the first and last slots at any size.
		tag := uint64(i % 16)
		if i%3 == 0 {
			tag = ^tag
		}
		binary.LittleEndian.PutUint64(h[8:16], tag)
		binary.LittleEndian.PutUint64(h[16:24], uint64(i)) // told apart beyond the tag
		hashes[i] = h
	}
	var x index[int]
	want := map[[32]byte]*node[int]{}
	check := func(step int) {
		t.Helper()
		if x.count != len(want) {
			t.Fatalf("step %d: count %d, want %d", step, x.count, len(want))
		}
		for _, h := range hashes {
			if got := x.get(h); got != want[h] {
				t.Fatalf("step %d: get(%x) = %p, want %p", step, h[8:24], got, want[h])
			}
		}
	}
	for step := range 5000 {
		h := hashes[rng.IntN(len(hashes))]
		switch rng.IntN(3) {
		case 0, 1:
			n := &node[int]{hash: h, value: step}
			x.set(n)
			want[h] = n
		case 2:
			x.delete(h)
			delete(want, h)
		}
		if step%50 == 0 || step > 4900 {
			check(step)
		}
		if step == 2500 {
			x.clear()
			clear(want)
			check(step)
		}
	}
	if 2*x.count > len(x.slots) {
		t.Errorf("%d entries in %d slots: more than half full", x.count, len(x.slots))
	}
}
