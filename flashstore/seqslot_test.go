package flashstore

import (
	"math/rand/v2"
	"testing"
)

// tableKey returns a key of kind, made too long for the sequence index,
// that the hash table holds for the sequence key k.
func tableKey(k []byte) []byte { return append([]byte("table-key:"), k...) }

// The sequence index's 12-byte slots answer exactly like the hash table's
// 20-byte ones: the same operations on the same keys (put, compaction's
// setLoc, widenOlder, clearOlder, del) give the same locations and older
// Puts, while segments run far past a block's 16-bit window (so that
// windows move and slots left behind go to the far table), counters
// jump past a block's 16-bit span, and keys are put again in later
// segments (older Puts in their side table).
func TestSeqSlotMatchesTable(t *testing.T) {
	x, ref := newIndex(), newIndex()
	rng := rand.New(rand.NewPCG(21, 34))
	var keys [][]byte // sequence keys, some live
	next := make([]uint64, 4)
	clock := uint32(1) // the segment new records go to
	sawFar, sawBig, sawOlder := false, false, false
	same := func(step int, what string, k []byte) {
		t.Helper()
		kind, _ := seqKey(0, 0)
		if len(k) > 8 {
			kind = KindRoute
		}
		s, ok := x.find(kind, k)
		rs, rok := ref.find(KindSession, tableKey(k))
		if ok != rok {
			t.Fatalf("step %d (%s %x): found %v, table %v", step, what, k, ok, rok)
		}
		if !ok {
			return
		}
		a, b := x.view(s), ref.view(rs)
		af, ap, aok := a.older()
		bf, bp, bok := b.older()
		if a.loc != b.loc || af != bf || ap != bp || aok != bok {
			t.Fatalf("step %d (%s %x): %v older %d %d %v; table %v older %d %d %v", step, what, k, a.loc, af, ap, aok, b.loc, bf, bp, bok)
		}
		if x.loc(s) != a.loc {
			t.Fatalf("step %d: loc %v, view %v", step, x.loc(s), a.loc)
		}
	}
	for step := range 200000 {
		switch r := rng.IntN(100); {
		case r < 2:
			clock += 30000 + uint32(rng.IntN(50000)) // far ahead
		case r < 40:
			clock++
		}
		fam := rng.IntN(len(next))
		var k []byte
		switch r := rng.IntN(10); {
		case r < 4 || len(keys) == 0: // a new key at the tail
			next[fam] += 1 + uint64(rng.IntN(3))
			if rng.IntN(200) == 0 {
				next[fam] += seqKeySpan - uint64(rng.IntN(4))
			}
			_, k = seqKey(fam, next[fam])
			keys = append(keys, k)
		default:
			k = keys[rng.IntN(len(keys))]
		}
		kind := KindRoute
		if len(k) == 8 {
			kind = KindMessage
		}
		tk := tableKey(k)
		l := loc{seg: clock, off: uint32(step), size: uint32(1 + rng.IntN(1000))}
		if rng.IntN(50) == 0 {
			l.size = seqSizeSpan - 2 + uint32(rng.IntN(4)) // around the largest size a slot holds
		}
		s, live := x.find(kind, k)
		rs, _ := ref.find(KindSession, tk)
		what := ""
		switch r := rng.IntN(10); {
		case r < 4 || !live:
			what = "put"
			o1, h1 := x.put(kind, k, l)
			o2, h2 := ref.put(KindSession, tk, l)
			if o1 != o2 || h1 != h2 {
				t.Fatalf("step %d: put %x replaced %v %v, table %v %v", step, k, o1, h1, o2, h2)
			}
		case r < 6:
			what = "setLoc"
			if a, b := x.setLoc(s, l), ref.setLoc(rs, l); a != b {
				t.Fatalf("step %d: setLoc %x from %v, table %v", step, k, a, b)
			}
		case r < 7:
			what = "widen"
			hi := uint32(rng.IntN(int(clock)))
			lo := hi - uint32(rng.IntN(int(hi)+1))
			x.widenOlder(s, lo, hi)
			ref.widenOlder(rs, lo, hi)
		case r < 8:
			what = "clear"
			x.clearOlder(s)
			ref.clearOlder(rs)
		default:
			what = "del"
			a, ah := x.del(kind, k)
			b, bh := ref.del(KindSession, tk)
			af, ap, aok := a.older()
			bf, bp, bok := b.older()
			if ah != bh || a.loc != b.loc || af != bf || ap != bp || aok != bok {
				t.Fatalf("step %d: del %x = %v older %d %d %v; table %v older %d %d %v", step, k, a.loc, af, ap, aok, b.loc, bf, bp, bok)
			}
		}
		same(step, what, k)
		sawFar = sawFar || len(x.seq.far) > 0
		sawBig = sawBig || len(x.seq.big) > 0
		sawOlder = sawOlder || len(x.seq.olders) > 0
		if step%2000 == 0 {
			checkSeq(t, &x.seq)
			if x.len() != ref.len() || x.live != ref.live {
				t.Fatalf("step %d: %d keys, %d live bytes; table %d, %d", step, x.len(), x.live, ref.len(), ref.live)
			}
			for _, k := range keys {
				same(step, "all", k)
			}
			keys = dropDead(x, keys)
		}
	}
	if !sawFar || !sawBig || !sawOlder {
		t.Fatalf("side tables never used: far %v, big %v, olders %v", sawFar, sawBig, sawOlder)
	}
	for _, k := range keys {
		kind := KindRoute
		if len(k) == 8 {
			kind = KindMessage
		}
		x.del(kind, k)
	}
	checkSeq(t, &x.seq)
	if x.seq.n != 0 || len(x.seq.far) != 0 || len(x.seq.big) != 0 || len(x.seq.olders) != 0 {
		t.Fatalf("emptied: %d keys, %d far, %d big, %d olders", x.seq.n, len(x.seq.far), len(x.seq.big), len(x.seq.olders))
	}
}

// dropDead returns the keys of keys still live in x.
func dropDead(x *index, keys [][]byte) [][]byte {
	live := keys[:0]
	for _, k := range keys {
		kind := KindRoute
		if len(k) == 8 {
			kind = KindMessage
		}
		if _, ok := x.find(kind, k); ok {
			live = append(live, k)
		}
	}
	return live
}

// A block whose slots stay in an old segment while the tail's records
// reach segments a window further keeps every location: the old ones in
// the far table, until they move too.
func TestSeqSlotOldSegmentsKept(t *testing.T) {
	x := newIndex()
	kind, _ := seqKey(1, 0)
	for c := range uint64(100) {
		_, k := seqKey(1, c)
		x.put(kind, k, loc{seg: uint32(c % 3), off: uint32(c), size: 10})
	}
	for c := uint64(100); c < 200; c++ {
		_, k := seqKey(1, c)
		x.put(kind, k, loc{seg: 1 << 20, off: uint32(c), size: 10})
	}
	checkSeq(t, &x.seq)
	if len(x.seq.far) != 100 {
		t.Fatalf("%d far, want the 100 old slots", len(x.seq.far))
	}
	for c := range uint64(200) {
		_, k := seqKey(1, c)
		want := loc{seg: 1 << 20, off: uint32(c), size: 10}
		if c < 100 {
			want.seg = uint32(c % 3)
		}
		if l, ok := x.get(kind, k); !ok || l != want {
			t.Fatalf("%d: %v %v, want %v", c, l, ok, want)
		}
	}
	// Compaction moves the old ones next to the others: the far table
	// empties.
	for c := range uint64(100) {
		_, k := seqKey(1, c)
		s, _ := x.find(kind, k)
		x.setLoc(s, loc{seg: 1<<20 + 1, off: uint32(c), size: 10})
	}
	checkSeq(t, &x.seq)
	if len(x.seq.far) != 0 {
		t.Fatalf("%d far after the moves, want 0", len(x.seq.far))
	}
}
