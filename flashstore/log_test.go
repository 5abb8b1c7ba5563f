package flashstore

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestCommitRangeReopen(t *testing.T) {
	opts := testOptions(t)
	l := mustOpen(t, opts)
	m := newModel()
	rng := rand.New(rand.NewPCG(1, 2))
	var b Batch
	for i := 0; i < 200; i++ {
		o := randOps(rng.IntN, 1+rng.IntN(5), 30, "v")
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	sameState(t, "before reopen", dump(t, l), m.dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, opts)
	sameState(t, "after reopen", dump(t, l2), m.dump())
	st := l2.Stats()
	if st.LiveKeys != len(m.vals) {
		t.Fatalf("Stats.LiveKeys = %d, want %d", st.LiveKeys, len(m.vals))
	}
}

func TestRangeIsLogOrderOfLastPut(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "1"}, {kind: KindSession, key: "b", value: "2"}, {kind: KindRoute, key: "a", value: "3"}}.fill(&b))
	commit(t, l, ops{{kind: KindSession, key: "a", value: "4"}}.fill(&b)) // a moves last
	commit(t, l, ops{{del: true, kind: KindSession, key: "b"}, {kind: KindSession, key: "b", value: "5"}}.fill(&b))
	want := []kv{{KindRoute, "a", "3"}, {KindSession, "a", "4"}, {KindSession, "b", "5"}}
	sameOrder(t, "range", dump(t, l), want)
}

func TestRangeStopsAtError(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "1"}, {kind: KindSession, key: "b", value: "2"}}.fill(&b))
	stop := errors.New("stop")
	calls := 0
	err := l.Range(func(Kind, []byte, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Range = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestRangeMayCommitAndCompact(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "1"}, {kind: KindSession, key: "b", value: "2"}}.fill(&b))
	var got []kv
	err := l.Range(func(kind Kind, key, value []byte) error {
		got = append(got, kv{kind, string(key), string(value)})
		var b2 Batch
		ops{{del: true, kind: KindSession, key: "b"}, {kind: KindSession, key: "c", value: "3"}}.fill(&b2)
		if err := l.Commit(&b2); err != nil {
			return err
		}
		return l.Compact()
	})
	if err != nil {
		t.Fatal(err)
	}
	// Range sees the state as of its start, read from segments that
	// compaction removed meanwhile.
	sameState(t, "range during compaction", got, []kv{{KindSession, "a", "1"}, {KindSession, "b", "2"}})
	sameState(t, "after", dump(t, l), []kv{{KindSession, "a", "1"}, {KindSession, "c", "3"}})
}

func TestClosed(t *testing.T) {
	opts := testOptions(t)
	l := mustOpen(t, opts)
	if _, _, err := Open(opts); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var b Batch
	ops{{kind: KindSession, key: "a", value: "1"}}.fill(&b)
	if err := l.Commit(&b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := l.Compact(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact after Close = %v", err)
	}
	if err := l.Range(func(Kind, []byte, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Range after Close = %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// Commits racing with Close either succeed (and are durable) or get
// ErrClosed; none hangs.
func TestCloseDuringCommits(t *testing.T) {
	opts := testOptions(t)
	l, _ := open(t, opts)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok = map[string]bool{}
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := 0; ; i++ {
				key := string(rune('a'+g)) + string(rune('0'+i%10)) + string(rune('0'+i/10))
				ops{{kind: KindSession, key: key, value: "x"}}.fill(&b)
				err := l.Commit(&b)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ok[key] = true
				mu.Unlock()
				if i == 99 {
					return
				}
			}
		}()
	}
	checkFor(t, defaultWait, pollEvery, func() error {
		if l.Stats().Batches < 10 {
			return errors.New("waiting for commits")
		}
		return nil
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	l2 := mustOpen(t, opts)
	got := map[string]bool{}
	for _, e := range dump(t, l2) {
		got[e.Key] = true
	}
	for k := range ok {
		if !got[k] {
			t.Fatalf("committed key %q lost", k)
		}
	}
}

func TestBadOptions(t *testing.T) {
	if _, _, err := Open(Options{}); err == nil {
		t.Fatal("Open without Dir succeeded")
	}
	if _, _, err := Open(Options{Dir: t.TempDir(), Sync: 7}); err == nil {
		t.Fatal("Open with invalid Sync succeeded")
	}
}
