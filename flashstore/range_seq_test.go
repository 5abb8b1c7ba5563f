package flashstore

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestRangeGroupsSequenceKeys: Range reads a group of segments at a time
// and, for keys of the sequence index, visits only the slots of the kinds
// asked for and of the group's segments (seqIndex.eachIn); every live
// message and route key is still reported once, with its value, over
// many small segments and with half of the keys deleted.
func TestRangeGroupsSequenceKeys(t *testing.T) {
	l := openRangeGroups(t, 8)
	msgKey := func(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }
	routeKey := func(id uint64) []byte {
		return binary.BigEndian.AppendUint64([]byte{0xff, 3}, id)
	}
	type kk struct {
		kind Kind
		key  string
	}
	want := map[kk]string{}
	for id := uint64(1); id <= 600; id++ {
		var b Batch
		v := fmt.Sprint("v", id)
		b.Put(KindMessage, msgKey(id), []byte(v))
		b.Put(KindRoute, routeKey(id), []byte(v))
		want[kk{KindMessage, string(msgKey(id))}] = v
		want[kk{KindRoute, string(routeKey(id))}] = v
		if id%2 == 0 && id > 10 {
			old := id - 10
			b.Delete(KindMessage, msgKey(old))
			delete(want, kk{KindMessage, string(msgKey(old))})
		}
		if err := l.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(kinds []Kind) {
		t.Helper()
		got := map[kk]string{}
		if err := l.RangeKinds(kinds, func(kind Kind, key, value []byte) error {
			k := kk{kind, string(key)}
			if _, dup := got[k]; dup {
				t.Fatalf("%v %x reported twice", kind, key)
			}
			got[k] = string(value)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, v := range want {
			if kinds != nil && k.kind != kinds[0] {
				continue
			}
			n++
			if got[k] != v {
				t.Fatalf("RangeKinds(%v): %v %x = %q, want %q", kinds, k.kind, k.key, got[k], v)
			}
		}
		if len(got) != n {
			t.Fatalf("RangeKinds(%v) reported %d keys, want %d", kinds, len(got), n)
		}
	}
	check(nil)
	check([]Kind{KindRoute})
	check([]Kind{KindMessage})
}
