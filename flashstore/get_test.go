package flashstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// checkGets asserts that Get returns every live value of m and
// ErrNotFound for keys it does not hold.
func checkGets(t *testing.T, l *Log, m *model, absent ...kv) {
	t.Helper()
	for _, e := range m.dump() {
		got, err := l.Get(e.Kind, []byte(e.Key))
		if err != nil || string(got) != e.Value {
			t.Fatalf("Get(%v, %q) = %q, %v; want %q", e.Kind, e.Key, got, err, e.Value)
		}
	}
	for _, e := range absent {
		if got, err := l.Get(e.Kind, []byte(e.Key)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%v, %q) = %q, %v; want ErrNotFound", e.Kind, e.Key, got, err)
		}
	}
}

// Get reads back the latest value of each key, from sealed segments and
// the active one, before and after a reopen.
func TestGetAfterRotation(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 1024
	l := mustOpen(t, opts)
	m := newModel()
	churn(t, l, m, 300, 31)
	if st := l.Stats(); st.Segments < 4 {
		t.Fatalf("want several segments: %+v", st)
	}
	var absent []kv
	for i := range 30 {
		k := fmt.Sprintf("k%04d", i)
		for kind := KindSession; kind <= KindRetained; kind++ {
			if _, ok := m.vals[string(rune(kind))+"\x00"+k]; !ok {
				absent = append(absent, kv{Kind: kind, Key: k})
			}
		}
	}
	checkGets(t, l, m, absent...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, opts)
	checkGets(t, l2, m, absent...)
	if _, err := l2.Get(KindSession, []byte("never")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a key never written: %v", err)
	}
}

// GetAppend appends to the buffer it is given and, with room in it,
// allocates nothing.
func TestGetAppend(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	var b Batch
	msg := benchMessage()
	if err := b.PutMsg(KindMessage, []byte("12345678"), msg); err != nil {
		t.Fatal(err)
	}
	commit(t, l, &b)
	want, _ := msg.MarshalMsg(nil)
	buf := []byte("prefix")
	got, err := l.GetAppend(buf, KindMessage, []byte("12345678"))
	if err != nil || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) {
		t.Fatalf("GetAppend = %q, %v", got, err)
	}
	buf = make([]byte, 0, 4096)
	key := []byte("12345678")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := l.GetAppend(buf[:0], KindMessage, key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("GetAppend allocates %v times per call", allocs)
	}
	if got, err := l.GetAppend(buf[:0], KindMessage, []byte("missing")); !errors.Is(err, ErrNotFound) || len(got) != 0 {
		t.Fatalf("GetAppend of a missing key = %q, %v", got, err)
	}
}

// A record damaged on flash after it was written fails Get with a
// *CorruptError naming its file and offset; the other records still read.
func TestGetCorruptRecord(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	l := mustOpen(t, opts)
	var b Batch
	for i := range 40 {
		commit(t, l, ops{{kind: KindMessage, key: fmt.Sprintf("m%02d", i), value: fmt.Sprintf("value-%02d-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")}}.fill(&b))
	}
	victim := []byte("m07")
	l.mu.RLock()
	at, _ := l.idx.get(KindMessage, victim)
	path := l.segOf(at.seg).path
	l.mu.RUnlock()
	flipBit(t, path, int64(at.off+at.size-3)) // inside the value
	_, err := l.Get(KindMessage, victim)
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.File != path || ce.Offset != int64(at.off) {
		t.Fatalf("Get of a damaged record = %v; want a *CorruptError at %s offset %d", err, path, at.off)
	}
	t.Logf("Get: %v", err)
	for i := range 40 {
		if i == 7 {
			continue
		}
		if _, err := l.Get(KindMessage, fmt.Appendf(nil, "m%02d", i)); err != nil {
			t.Fatalf("Get m%02d: %v", i, err)
		}
	}
	// Leave a log that reopens: put the bit back.
	flipBit(t, path, int64(at.off+at.size-3))
}

// Get after Close is ErrClosed.
func TestGetClosed(t *testing.T) {
	l, _ := open(t, testOptions(t))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(KindSession, []byte("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
}

// Readers racing commits, rotation and compaction always find the value
// of a key they know is live: a compaction that moves the record and
// removes its segment while a Get reads it does not fail the Get.
func TestGetRacesCompaction(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 2048
	l := mustOpen(t, opts)
	// Stable keys, never changed, spread over many segments by the churn
	// committed between them.
	var b Batch
	const stable = 60
	value := func(i int) string { return fmt.Sprintf("stable-%03d-%s", i, bytes.Repeat([]byte{'s'}, i)) }
	m := newModel()
	for i := range stable {
		commit(t, l, ops{{kind: KindRetained, key: fmt.Sprintf("s%03d", i), value: value(i)}}.fill(&b))
		churn(t, l, m, 3, uint64(100+i))
	}
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		reads atomic.Int64
	)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, 0, 512)
			for !stop.Load() {
				i := rng.IntN(stable)
				got, err := l.GetAppend(buf[:0], KindRetained, fmt.Appendf(nil, "s%03d", i))
				if err != nil || string(got) != value(i) {
					t.Errorf("Get s%03d = %q, %v", i, got, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	before := l.Stats().Compactions
	for i := 0; i < 120 && !t.Failed(); i++ {
		churn(t, l, m, 5, uint64(1000+i))
		if i%8 == 0 {
			if err := l.Compact(); err != nil {
				t.Error(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	st := l.Stats()
	if st.Compactions-before < 10 || reads.Load() < 100 {
		t.Fatalf("%d compactions, %d reads: the race was not exercised", st.Compactions-before, reads.Load())
	}
	t.Logf("%d reads during %d compactions", reads.Load(), st.Compactions-before)
}

// A Get that has found its record's segment still reads it when a
// compaction moves the record and deletes the file before the read.
func TestGetFromSegmentCompactedAway(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	l := mustOpen(t, opts)
	noAutoCompact(l)
	m := newModel()
	segmentPerBatch(t, l, m) // S1 holds L, live, among dead records
	first := segFiles(t, opts.Dir)[0]
	compacted := false
	l.hooks = &testHooks{get: func() {
		if compacted {
			return
		}
		compacted = true
		if err := l.Compact(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(first); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Compact: %v", first, err)
		}
	}}
	got, err := l.Get(KindSession, []byte("L"))
	if err != nil || string(got) != "long-lived" || !compacted {
		t.Fatalf("Get across a compaction = %q, %v (compacted %v)", got, err, compacted)
	}
	l.hooks = nil
	got, err = l.Get(KindSession, []byte("L")) // from its new place
	if err != nil || string(got) != "long-lived" {
		t.Fatalf("Get after the compaction = %q, %v", got, err)
	}
	checkGets(t, l, m)
}
