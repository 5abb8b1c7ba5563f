package flashstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkSeq verifies the sequence index's own invariants: families'
// blocks in counter order, slots in counter order within each, live
// counts that add up, no block over seqBlockLen, no empty block but a
// family's only one, every block reachable by its id, and side tables
// holding exactly the live slots flagged for them.
func checkSeq(t *testing.T, q *seqIndex) {
	t.Helper()
	n, empty, far, big, olders := 0, 0, 0, 0, 0
	for fk, f := range q.fams {
		if f.key != fk {
			t.Fatalf("family %v filed under %v", f.key, fk)
		}
		live := 0
		var prev uint64
		first := true
		for bi, b := range f.blocks {
			if b.fam != f || q.blocks[b.id] != b {
				t.Fatalf("block %d of %v: wrong family or id", bi, fk)
			}
			if len(b.slots) > seqBlockLen || cap(b.slots) > seqBlockLen {
				t.Fatalf("block of %d slots (cap %d)", len(b.slots), cap(b.slots))
			}
			if len(b.slots) == 0 && len(f.blocks) > 1 {
				t.Fatalf("empty block %d of %d", bi, len(f.blocks))
			}
			bl := 0
			for i, sl := range b.slots {
				c := b.base + uint64(sl.key())
				if !first && c <= prev {
					t.Fatalf("family %v: counter %d after %d", fk, c, prev)
				}
				prev, first = c, false
				if !sl.live() {
					if sl != deadSlot(sl.key()) {
						t.Fatalf("family %v: dead slot %d not cleared: %+v", fk, c, sl)
					}
					continue
				}
				bl++
				for _, st := range []struct {
					flag uint64
					has  bool
				}{{seqFar, q.far != nil && hasRef(q.far, b.ref(i))}, {seqBig, hasRef(q.big, b.ref(i))}, {seqOlder, hasRef(q.olders, b.ref(i))}} {
					if st.has != sl.has(st.flag) {
						t.Fatalf("family %v counter %d: flag %x %v, side table %v", fk, c, st.flag, sl.has(st.flag), st.has)
					}
				}
				if sl.has(seqFar) {
					far++
				}
				if sl.has(seqBig) {
					big++
				}
				if sl.has(seqOlder) {
					olders++
				}
			}
			if int(b.live) != bl {
				t.Fatalf("block live %d, counted %d", b.live, bl)
			}
			if bl == 0 && len(f.blocks) > 1 {
				t.Fatalf("block %d of %d has no live slot", bi, len(f.blocks))
			}
			if len(b.slots) > 0 && b.slots[0].key() != 0 && b.base > b.base+uint64(b.slots[0].key()) {
				t.Fatalf("block base past its first counter")
			}
			live += bl
		}
		if f.live != live {
			t.Fatalf("family live %d, counted %d", f.live, live)
		}
		if live == 0 {
			empty++
		}
		n += live
	}
	if q.n != n || q.empty != empty {
		t.Fatalf("n %d empty %d, counted %d %d", q.n, q.empty, n, empty)
	}
	if len(q.far) != far || len(q.big) != big || len(q.olders) != olders {
		t.Fatalf("side tables: %d far, %d big, %d olders; flagged %d, %d, %d", len(q.far), len(q.big), len(q.olders), far, big, olders)
	}
}

// hasRef reports whether m holds r.
func hasRef[V any](m map[seqRef]V, r seqRef) bool {
	_, ok := m[r]
	return ok
}

// seqKey returns a route-shaped key (0xff, session, counter) or, for
// session 0, a message key.
func seqKey(session int, c uint64) (Kind, []byte) {
	if session == 0 {
		return KindMessage, binary.BigEndian.AppendUint64(nil, c)
	}
	return KindRoute, binary.BigEndian.AppendUint64(binary.AppendUvarint([]byte{0xff}, uint64(session)), c)
}

// The index holds sequence-shaped keys exactly like a map through
// appends, out-of-order inserts, counters far apart, replacements and
// deletes in queue order and at random; every step keeps the sequence
// index's invariants, and eachSlot, keyAt and kindAt agree with the map.
func TestSeqIndexMatchesMap(t *testing.T) {
	x := newIndex()
	want := map[string]loc{}
	olders := map[string]olderPuts{}
	rng := rand.New(rand.NewPCG(13, 17))
	next := make([]uint64, 6) // next counter of each family
	heads := make([]uint64, 6)
	queue := make([][]uint64, 6) // counters appended, oldest first
	for s := range next {
		next[s] = uint64(s) << 40
		heads[s] = next[s]
	}
	pick := func() (int, uint64) {
		s := rng.IntN(len(next))
		switch r := rng.IntN(20); {
		case r < 8: // append
			next[s] += 1 + uint64(rng.IntN(3))
			queue[s] = append(queue[s], next[s])
			return s, next[s]
		case r < 9: // far ahead: a block of its own
			next[s] += 1 << 33
			return s, next[s]
		case r < 12: // near the tail, out of order
			return s, next[s] - uint64(rng.IntN(3000))
		case r < 13: // before everything
			return s, heads[s] - uint64(rng.IntN(1000))
		default: // the queue's head
			for len(queue[s]) > 1 {
				if _, ok := want[mapKey(seqKey(s, queue[s][0]))]; ok {
					break
				}
				queue[s] = queue[s][1:]
			}
			if len(queue[s]) == 0 {
				return s, next[s]
			}
			return s, queue[s][0]
		}
	}
	for step := range 300000 {
		s, c := pick()
		kind, k := seqKey(s, c)
		mk := mapKey(kind, k)
		if rng.IntN(100) < 45 || step > 250000 {
			old, had := x.del(kind, k)
			w, ok := want[mk]
			if had != ok || had && old.loc != w {
				t.Fatalf("step %d: del %x = %v %v, want %v %v", step, k, old.loc, had, w, ok)
			}
			if had {
				first, prev, ok := old.older()
				if got := (olderPuts{first, prev, ok}); got != olders[mk] {
					t.Fatalf("step %d: older Puts %+v, want %+v", step, got, olders[mk])
				}
			}
			delete(want, mk)
			delete(olders, mk)
		} else {
			l := loc{seg: uint32(step / 1000), off: uint32(step), size: uint32(1 + rng.IntN(100))}
			modelPut(t, x, kind, k, l, want, olders)
		}
		if step%5000 == 0 || step > 299990 {
			checkSeq(t, &x.seq)
			checkIndexAgainst(t, x, want)
		}
	}
	checkSeq(t, &x.seq)
	if x.len() != 0 && len(want) == 0 {
		t.Fatalf("len %d after deleting all", x.len())
	}
}

// olderPuts is what the model expects slot.older to return.
type olderPuts struct {
	first, prev uint32
	ok          bool
}

// modelPut puts kind+key at l in x and in the model (want, olders: the
// latest location and the older Puts of each key), failing when x's
// answer disagrees.
func modelPut(t *testing.T, x *index, kind Kind, key []byte, l loc, want map[string]loc, olders map[string]olderPuts) {
	t.Helper()
	mk := mapKey(kind, key)
	old, had := x.put(kind, key, l)
	w, ok := want[mk]
	if had != ok || had && old != w {
		t.Fatalf("put %v %q = %v %v, want %v %v", kind, key, old, had, w, ok)
	}
	switch o := olders[mk]; {
	case !ok:
		olders[mk] = olderPuts{}
	case w.seg != l.seg && !o.ok:
		olders[mk] = olderPuts{w.seg, w.seg, true}
	case w.seg != l.seg:
		olders[mk] = olderPuts{o.first, w.seg, true}
	}
	want[mk] = l
}

// liveBlocks counts the sequence index's blocks in use.
func liveBlocks(q *seqIndex) int {
	n := 0
	for _, b := range q.blocks {
		if b != nil {
			n++
		}
	}
	return n
}

// mapKey is the model's key of kind+key.
func mapKey(kind Kind, key []byte) string { return string(rune(kind)) + string(key) }

// checkIndexAgainst verifies that x holds exactly want.
func checkIndexAgainst(t *testing.T, x *index, want map[string]loc) {
	t.Helper()
	if x.len() != len(want) {
		t.Fatalf("len %d, want %d", x.len(), len(want))
	}
	var live int64
	seen := 0
	x.eachSlot(func(s uint32, at loc) {
		kind, k := x.keyAt(s, nil)
		if x.kindAt(s) != kind {
			t.Fatalf("kindAt %d = %v, keyAt says %v", s, x.kindAt(s), kind)
		}
		if w, ok := want[mapKey(kind, k)]; !ok || w != at {
			t.Fatalf("slot %x: %v %x at %v, want %v %v", s, kind, k, at, w, ok)
		}
		if f, ok := x.find(kind, k); !ok || f != s {
			t.Fatalf("find %x = %x %v, want %x", k, f, ok, s)
		}
		if got := x.appendKey([]byte("x"), s); string(got[1:]) != string(k) {
			t.Fatalf("appendKey %x = %x", k, got[1:])
		}
		live += int64(at.size)
		seen++
	})
	if seen != len(want) || live != x.live {
		t.Fatalf("eachSlot saw %d keys, %d bytes; want %d, %d", seen, live, len(want), x.live)
	}
}

// queueIndex returns an index holding one session's queue of n routes.
func queueIndex(n int) *index {
	x := newIndex()
	for c := range uint64(n) {
		kind, k := seqKey(1, c)
		x.put(kind, k, loc{seg: 1, off: uint32(c), size: 50})
	}
	return x
}

// A queue appended and drained in order keeps a handful of blocks, and
// its RAM is about the 12-byte slot per live key (20 before seqSlot); drained to nothing it
// gives the blocks back but one.
func TestSeqIndexQueueRAM(t *testing.T) {
	const n = 100000
	x := queueIndex(n)
	per := float64(x.bytes()) / n
	t.Logf("%.1f B per live key", per)
	if per > 13 {
		t.Fatalf("%.1f B per live key, want at most 13", per)
	}
	for c := range uint64(n) {
		kind, k := seqKey(1, c)
		if _, had := x.del(kind, k); !had {
			t.Fatalf("del %d: not found", c)
		}
	}
	checkSeq(t, &x.seq)
	if n := liveBlocks(&x.seq); n != 1 {
		t.Fatalf("empty queue holds %d blocks", n)
	}
}

// A queue drained out of order (every 16th message held back) keeps its
// blocks squeezed: at most a few times the live slots.
func TestSeqIndexSparseBlocks(t *testing.T) {
	const n = 100000
	x := queueIndex(n)
	for c := range uint64(n) {
		if c%16 != 0 {
			kind, k := seqKey(1, c)
			x.del(kind, k)
		}
	}
	checkSeq(t, &x.seq)
	per := float64(x.seq.bytes()) / float64(x.seq.n)
	t.Logf("%.1f B per live key", per)
	if per > 40 {
		t.Fatalf("%.1f B per live key in sparse blocks, want at most 40", per)
	}
}

// Families without a live key are freed once they are many (sessions
// that come and go), but a family that empties keeps its block while
// they are few.
func TestSeqIndexSweep(t *testing.T) {
	x := newIndex()
	for s := 1; s <= 1000; s++ {
		kind, k := seqKey(s, 7)
		x.put(kind, k, loc{seg: 1, size: 50})
		x.del(kind, k)
	}
	checkSeq(t, &x.seq)
	if len(x.seq.fams) > 200 {
		t.Fatalf("%d families kept for 1000 emptied", len(x.seq.fams))
	}
	if n := liveBlocks(&x.seq); n != len(x.seq.fams) {
		t.Fatalf("%d blocks for %d families", n, len(x.seq.fams))
	}
}

// BenchmarkSeqIndexQueue is a queue moving at a steady length: put at
// the tail, get, delete at the head.
func BenchmarkSeqIndexQueue(b *testing.B) {
	x := newIndex()
	const live = 100000
	for c := range uint64(live) {
		kind, k := seqKey(1, c)
		x.put(kind, k, loc{size: 100})
	}
	b.ReportAllocs()
	c := uint64(live)
	kind, k := seqKey(1, 0)
	at := len(k) - 8
	for b.Loop() {
		binary.BigEndian.PutUint64(k[at:], c)
		x.put(kind, k, loc{size: 100})
		binary.BigEndian.PutUint64(k[at:], c-live/2)
		x.get(kind, k)
		binary.BigEndian.PutUint64(k[at:], c-live)
		x.del(kind, k)
		c++
	}
}

// Message and route keys come back right after a crash: a log whose
// records compaction moved (so that Open replays ids out of order) is
// copied while open, as a power cut leaves it, and the copy opens with
// every live key readable by Get and the sequence index's invariants
// held; it then takes more records like the original.
func TestSeqIndexRecoverAfterCrash(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 8 << 10
	l := mustOpen(t, opts)
	noAutoCompact(l)
	m := newModel()
	rng := rand.New(rand.NewPCG(5, 6))
	var b Batch
	id := uint64(1000)
	live := []uint64{}
	step := func(l *Log) {
		var o ops
		for range 1 + rng.IntN(4) {
			switch r := rng.IntN(10); {
			case r < 5 || len(live) == 0: // a new message and its route
				id++
				_, mk := seqKey(0, id)
				_, rk := seqKey(1+int(id%3), id)
				v := fmt.Sprintf("body-%d-%s", id, make([]byte, rng.IntN(100)))
				o = append(o, op{kind: KindMessage, key: string(mk), value: v}, op{kind: KindRoute, key: string(rk), value: "q"})
				live = append(live, id)
			case r < 7: // a route's stage changes
				x := live[rng.IntN(len(live))]
				_, rk := seqKey(1+int(x%3), x)
				o = append(o, op{kind: KindRoute, key: string(rk), value: fmt.Sprint("stage-", rng.IntN(9))})
			default: // delivered: mostly the oldest
				i := 0
				if rng.IntN(3) == 0 {
					i = rng.IntN(len(live))
				}
				x := live[i]
				live = append(live[:i], live[i+1:]...)
				_, mk := seqKey(0, x)
				_, rk := seqKey(1+int(x%3), x)
				o = append(o, op{del: true, kind: KindRoute, key: string(rk)}, op{del: true, kind: KindMessage, key: string(mk)})
			}
		}
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	for i := range 3000 {
		step(l)
		if i%500 == 499 {
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if l.Stats().Compactions == 0 {
		t.Fatal("no compaction ran")
	}
	crashed := copyDir(t, opts.Dir)
	o2 := opts
	o2.Dir = crashed
	l2 := mustOpen(t, o2)
	noAutoCompact(l2)
	check := func(l *Log) {
		t.Helper()
		sameState(t, "after the crash", dump(t, l), m.dump())
		l.mu.RLock()
		checkSeq(t, &l.idx.seq)
		l.mu.RUnlock()
		for _, e := range m.vals {
			v, err := l.GetAppend(nil, e.Kind, []byte(e.Key))
			if err != nil || string(v) != e.Value {
				t.Fatalf("Get %v %x = %q %v, want %q", e.Kind, e.Key, v, err, e.Value)
			}
		}
	}
	check(l2)
	for range 1000 {
		step(l2)
	}
	check(l2)
}

// A session that receives one message in 100,000 (the others, QoS 0
// telemetry, take ids too) still shares blocks among its keys: a block
// spans 2^21 counters, so the index stays near its slot per key instead
// of a block per key (about 130 B).
func TestSeqIndexSparseCounters(t *testing.T) {
	x := newIndex()
	const n = 10000
	for i := range uint64(n) {
		kind, k := seqKey(1, i*100000)
		x.put(kind, k, loc{seg: uint32(i / 100), off: uint32(i), size: 50})
	}
	checkSeq(t, &x.seq)
	per := float64(x.seq.bytes()) / n
	t.Logf("%.1f B per key, %d blocks", per, liveBlocks(&x.seq))
	if per > 32 {
		t.Fatalf("%.1f B per key 100,000 counters apart, want at most 32", per)
	}
}
