package flashstore

import (
	"errors"
	"fmt"
	"testing"
)

// RangeKinds reports only the kinds asked for, reading nothing else;
// RangeKeys reports keys without values. Both in Range's order.
func TestRangeKindsAndKeys(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	l := mustOpen(t, opts)
	m := newModel()
	churn(t, l, m, 200, 41)
	all := m.dump()
	var want []kv
	var wantKeys []kv
	for _, e := range all {
		if e.Kind == KindRoute || e.Kind == KindSession {
			want = append(want, e)
			wantKeys = append(wantKeys, kv{e.Kind, e.Key, ""})
		}
	}
	var got []kv
	if err := l.RangeKinds([]Kind{KindRoute, KindSession}, func(kind Kind, key, value []byte) error {
		got = append(got, kv{kind, string(key), string(value)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameState(t, "RangeKinds", got, want)
	got = got[:0]
	if err := l.RangeKeys([]Kind{KindRoute, KindSession}, func(kind Kind, key []byte) error {
		got = append(got, kv{kind, string(key), ""})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameState(t, "RangeKeys", got, wantKeys)
	got = got[:0]
	if err := l.RangeKinds(nil, func(kind Kind, key, value []byte) error {
		got = append(got, kv{kind, string(key), string(value)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameState(t, "RangeKinds(nil)", got, all)
}

// openRangeGroups opens a log of many small segments (512 B, no syncs)
// whose Range reads chunk segments at a time until the test ends; the
// reopen check of mustOpen runs with the usual chunk again.
func openRangeGroups(t *testing.T, chunk int) *Log {
	t.Helper()
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 512
	l := mustOpen(t, opts)
	prev := rangeChunk
	rangeChunk = chunk
	t.Cleanup(func() { rangeChunk = prev })
	return l
}

// Range reads a group of segments at a time, and still reports the state
// as of its start when commits and compaction replace, delete and move
// entries of the groups it has not reached yet.
func TestRangeGroupsSeeStartState(t *testing.T) {
	l := openRangeGroups(t, 4)
	m := newModel()
	churn(t, l, m, 200, 51)
	start := m.dump()
	for _, keysOnly := range []bool{false, true} {
		var got []kv
		calls := 0
		fn := func(kind Kind, key, value []byte) error {
			got = append(got, kv{kind, string(key), string(value)})
			calls++
			if calls%5 == 1 {
				// Overwrite and delete keys everywhere, compact: the
				// rest of the Range must not see any of it.
				churn(t, l, m, 10, uint64(1000+calls))
				if err := l.Compact(); err != nil {
					return err
				}
			}
			return nil
		}
		var err error
		if keysOnly {
			err = l.RangeKeys(nil, func(kind Kind, key []byte) error { return fn(kind, key, nil) })
		} else {
			err = l.Range(fn)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := start
		if keysOnly {
			want = nil
			for _, e := range start {
				want = append(want, kv{e.Kind, e.Key, ""})
			}
		}
		sameState(t, fmt.Sprintf("keys only %v", keysOnly), got, want)
		start = m.dump()
		l.mu.RLock()
		if len(l.ranges) != 0 {
			t.Fatalf("%d ranges left registered", len(l.ranges))
		}
		l.mu.RUnlock()
	}
	sameState(t, "after", dump(t, l), m.dump())
}

// A record damaged on flash fails Range with a *CorruptError.
func TestRangeCorruptRecord(t *testing.T) {
	opts := testOptions(t)
	l := mustOpen(t, opts)
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "first value"}, {kind: KindSession, key: "b", value: "second value"}}.fill(&b))
	l.mu.RLock()
	at, _ := l.idx.get(KindSession, []byte("b"))
	path := l.segOf(at.seg).path
	l.mu.RUnlock()
	flipBit(t, path, int64(at.off+at.size-2))
	err := l.Range(func(Kind, []byte, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Range over a damaged record = %v", err)
	}
	flipBit(t, path, int64(at.off+at.size-2))
}
