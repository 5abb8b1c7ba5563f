package flashstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The index agrees with a map through puts, overwrites and deletes of
// keys of many lengths and kinds, across rehashes and arena compactions.
func TestIndexMatchesMap(t *testing.T) {
	x := newIndex()
	want := map[string]loc{}
	rng := rand.New(rand.NewPCG(3, 4))
	key := func(i int) (Kind, []byte) {
		k := Kind(1 + i%3)
		b := fmt.Appendf(nil, "key-%d", i)
		if i%5 == 0 {
			b = append(b, make([]byte, i%300)...) // some long keys
		}
		return k, b
	}
	olders := map[string]olderPuts{}
	for step := range 200000 {
		i := rng.IntN(20000)
		if step > 150000 {
			i = rng.IntN(2000) // shrink: mostly deletes of keys now out of reach
		}
		kind, k := key(i)
		mk := string(rune(kind)) + string(k)
		if rng.IntN(3) == 0 || step > 150000 && rng.IntN(2) == 0 {
			old, had := x.del(kind, k)
			w, ok := want[mk]
			if had != ok || had && old.loc != w {
				t.Fatalf("step %d: del %q = %v %v, want %v %v", step, mk, old, had, w, ok)
			}
			if had {
				first, prev, ok := old.older()
				if got := (olderPuts{first, prev, ok}); got != olders[mk] {
					t.Fatalf("step %d: older Puts %+v, want %+v", step, got, olders[mk])
				}
			}
			delete(want, mk)
			continue
		}
		l := loc{seg: uint32(step / 100), off: uint32(step), size: uint32(1 + rng.IntN(100))}
		modelPut(t, x, kind, k, l, want, olders)
	}
	if x.len() != len(want) {
		t.Fatalf("len %d, want %d", x.len(), len(want))
	}
	var live int64
	for mk, w := range want {
		got, ok := x.get(Kind(mk[0]), []byte(mk[1:]))
		if !ok || got != w {
			t.Fatalf("get %q = %v %v, want %v", mk, got, ok, w)
		}
		s, _ := x.find(Kind(mk[0]), []byte(mk[1:]))
		if kind, k := x.keyAt(s, nil); kind != Kind(mk[0]) || string(k) != mk[1:] {
			t.Fatalf("keyAt %q = %v %q", mk, kind, k)
		}
		live += int64(w.size)
	}
	if x.live != live {
		t.Fatalf("live %d, want %d", x.live, live)
	}
	if x.dead > x.used/2+64<<10 {
		t.Fatalf("arena %d bytes with %d dead: not compacted", x.used, x.dead)
	}
	for i := range 20000 {
		kind, k := key(i)
		if _, ok := x.get(kind, k); ok != (want[string(rune(kind))+string(k)] != loc{}) {
			t.Fatalf("get %d: %v", i, ok)
		}
	}
}

// indexBytesPerKey fills an index with n keys made by key and returns
// the heap it holds per key.
func indexBytesPerKey(n int, key func(dst []byte, i int) []byte) (float64, float64) {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	x := newIndex()
	var k []byte
	for i := range n {
		k = key(k[:0], i)
		x.put(KindMessage, k, loc{seg: uint32(i >> 12), off: uint32(i * 100), size: 100})
	}
	runtime.GC()
	runtime.ReadMemStats(&b)
	runtime.KeepAlive(x)
	return float64(b.HeapAlloc-a.HeapAlloc) / float64(n), float64(x.bytes()) / float64(n)
}

// TestIndexBytesPerKey measures the RAM of the key index for 1,000,000
// live keys shaped like the broker's: message ids (8 bytes) and routes
// (client id, 0, message id). The bound is generous; -v prints the
// figures.
func TestIndexBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("fills an index of a million keys")
	}
	const n = 1000000
	cases := []struct {
		name string
		key  func([]byte, int) []byte
	}{
		{"message id (8 B)", func(dst []byte, i int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(i)) }},
		{"route app-1\\0id (14 B)", func(dst []byte, i int) []byte {
			return binary.BigEndian.AppendUint64(append(dst, "app-1\x00"...), uint64(i))
		}},
		{"route client-0042\\0id (20 B)", func(dst []byte, i int) []byte {
			return binary.BigEndian.AppendUint64(append(dst, "client-0042\x00"...), uint64(i))
		}},
	}
	for _, c := range cases {
		heap, own := indexBytesPerKey(n, c.key)
		t.Logf("%s: %.1f B/key of heap (index's own count %.1f): %.1f MiB per million keys", c.name, heap, own, heap*n/(1<<20))
		if heap > 64 {
			t.Errorf("%s: %.1f B of heap per key, want at most 64", c.name, heap)
		}
	}
}

// BenchmarkIndex measures the index's put, get and delete of message keys.
func BenchmarkIndex(b *testing.B) {
	x := newIndex()
	const live = 100000
	var k [8]byte
	for i := range live {
		binary.BigEndian.PutUint64(k[:], uint64(i))
		x.put(KindMessage, k[:], loc{size: 100})
	}
	b.ReportAllocs()
	i := live
	for b.Loop() {
		binary.BigEndian.PutUint64(k[:], uint64(i))
		x.put(KindMessage, k[:], loc{size: 100})
		binary.BigEndian.PutUint64(k[:], uint64(i-live/2))
		x.get(KindMessage, k[:])
		binary.BigEndian.PutUint64(k[:], uint64(i-live))
		x.del(KindMessage, k[:])
		i++
	}
}

// Slots and arena span several blocks; compacting the arena moves keys
// across blocks and every key still resolves.
func TestIndexBlocks(t *testing.T) {
	x := newIndex()
	const n = 300000
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%d-%s", i, make([]byte, i%7)) }
	for i := range n {
		x.put(KindSubscription, key(i), loc{seg: 1, off: uint32(i), size: 10})
	}
	if len(x.slots) < 2 || len(x.arena) < 2 {
		t.Fatalf("%d slot blocks, %d arena blocks: want several", len(x.slots), len(x.arena))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	gone := map[int]bool{}
	for range 2 * n / 3 {
		i := rng.IntN(n)
		if _, had := x.del(KindSubscription, key(i)); had == gone[i] {
			t.Fatalf("del %d: had %v", i, had)
		}
		gone[i] = true
	}
	for i := range n {
		l, ok := x.get(KindSubscription, key(i))
		if ok == gone[i] || ok && l.off != uint32(i) {
			t.Fatalf("get %d = %v %v (deleted %v)", i, l, ok, gone[i])
		}
	}
	// New keys of other lengths go at the end, old lengths reuse entries.
	for i := n; i < n+50000; i++ {
		x.put(KindSubscription, key(i), loc{seg: 2, off: uint32(i), size: 10})
	}
	x.eachSlot(func(s uint32, at loc) {
		k, kk := x.keyAt(s, nil)
		if l, ok := x.get(k, kk); !ok || l != at {
			t.Fatalf("slot %d: key %q resolves to %v %v", s, kk, l, ok)
		}
	})
	if x.dead > x.used/2+64<<10 {
		t.Fatalf("arena %d bytes with %d dead", x.used, x.dead)
	}
}
