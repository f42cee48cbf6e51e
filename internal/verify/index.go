package verify

import "encoding/binary"

// index finds a shard's nodes by hash. It is an open-addressing table with linear probing
// whose slots hold a node pointer and eight bytes of the node's hash (the tag): a lookup
// reads the slot's cache line, which usually settles it, and then the node, which it needs
// anyway. A Go map of [32]byte keys reads its group's control word, then the slot (40
// bytes of key and pointer), each on its own line once the map outgrows the CPU's caches,
// and before that its directory and table: with a million keys cached, misses the hot path
// need not pay.
//
// The table is kept at most half full, so that runs stay short; it doubles as it fills and
// never shrinks (the shard's capacity bounds it). Deletion shifts the rest of the run back,
// so that there are no tombstones to skip. Callers hold the shard's lock.
type index[V any] struct {
	slots []indexSlot[V]
	count int
}

type indexSlot[V any] struct {
	tag uint64
	n   *node[V] // nil: empty
}

// minIndexSlots is the smallest table, so that a shard holding a few keys stays small.
const minIndexSlots = 8

// tagOf is the part of h the index compares and places by: bytes the shard (h[0]) and the
// use log's stripe (h[1]) do not use, so that the index's placement is independent of
// both.
func tagOf(h [32]byte) uint64 { return binary.LittleEndian.Uint64(h[8:16]) }

// get returns the node under h, or nil.
func (x *index[V]) get(h [32]byte) *node[V] {
	if x.count == 0 {
		return nil
	}
	tag, mask := tagOf(h), uint64(len(x.slots)-1)
	for i := tag & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.n == nil {
			return nil
		}
		if s.tag == tag && s.n.hash == h {
			return s.n
		}
	}
}

// set stores n under its hash, replacing the node there if any.
func (x *index[V]) set(n *node[V]) {
	if 2*(x.count+1) > len(x.slots) {
		x.grow()
	}
	if x.place(tagOf(n.hash), n) {
		x.count++
	}
}

// place puts n in the slot of its hash, or the first empty one of its run, and reports
// whether that slot was empty.
func (x *index[V]) place(tag uint64, n *node[V]) bool {
	mask := uint64(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.n == nil {
			*s = indexSlot[V]{tag: tag, n: n}
			return true
		}
		if s.tag == tag && s.n.hash == n.hash {
			s.n = n
			return false
		}
	}
}

func (x *index[V]) grow() {
	old := x.slots
	x.slots = make([]indexSlot[V], max(2*len(old), minIndexSlots))
	for _, s := range old {
		if s.n != nil {
			x.place(s.tag, s.n)
		}
	}
}

// delete removes the node under h, if any. Each later entry of the run that its probe
// would still find from the hole is moved back into it, so that no probe stops early.
func (x *index[V]) delete(h [32]byte) {
	if x.count == 0 {
		return
	}
	tag, mask := tagOf(h), uint64(len(x.slots)-1)
	i := tag & mask
	for ; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.n == nil {
			return
		}
		if s.tag == tag && s.n.hash == h {
			break
		}
	}
	for j := (i + 1) & mask; x.slots[j].n != nil; j = (j + 1) & mask {
		// The entry at j may fill the hole at i when i lies on its probe path: at or after
		// its home slot, cyclically, and before j.
		home := x.slots[j].tag & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = indexSlot[V]{}
	x.count--
}

// clear empties the table, keeping its memory for the entries that will come back.
func (x *index[V]) clear() {
	clear(x.slots)
	x.count = 0
}
