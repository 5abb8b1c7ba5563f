package flashstore

import (
	"encoding/binary"
	"testing"
)

// A queue drained in order, as the broker deletes it: message and route
// keys of 200,000 messages, deleted oldest first. Arena compactions then
// squeeze entries across the first block, which append may have grown
// past arenaBlock; every key still live must resolve to its own
// location after each of them. (A first block written past arenaBlock
// by compactArena made offsets that pointed into the next block: the
// broker lost queued bodies and then panicked, draining 200,000.)
func TestIndexArenaCompactionDrainInOrder(t *testing.T) {
	x := newIndex()
	const n = 200000
	msgKey := func(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }
	routeKey := func(i int) []byte { return binary.BigEndian.AppendUint64([]byte("big-sub\x00"), uint64(i)) }
	for i := range n {
		x.put(KindMessage, msgKey(i), loc{seg: 1, off: uint32(i), size: 10})
		x.put(KindRoute, routeKey(i), loc{seg: 2, off: uint32(i), size: 10})
	}
	if cap(x.arena[0]) <= arenaBlock {
		t.Logf("first arena block: cap %d (the case append grows past %d is not exercised)", cap(x.arena[0]), arenaBlock)
	}
	check := func(from int) {
		t.Helper()
		for i := from; i < n; i++ {
			if l, ok := x.get(KindMessage, msgKey(i)); !ok || l.seg != 1 || l.off != uint32(i) {
				t.Fatalf("after deleting %d: message %d resolves to %v %v", from, i, l, ok)
			}
			if l, ok := x.get(KindRoute, routeKey(i)); !ok || l.seg != 2 || l.off != uint32(i) {
				t.Fatalf("after deleting %d: route %d resolves to %v %v", from, i, l, ok)
			}
		}
	}
	compactions := 0
	for i := range n - 1 {
		before := x.dead
		x.del(KindRoute, routeKey(i))
		x.del(KindMessage, msgKey(i))
		if x.dead < before {
			compactions++
			check(i + 1)
		}
	}
	if compactions == 0 {
		t.Fatal("no arena compaction happened")
	}
	check(n - 1)
}
