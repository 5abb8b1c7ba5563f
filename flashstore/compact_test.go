package flashstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// churn commits n random batches over a small key space into l and m.
func churn(t *testing.T, l *Log, m *model, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	var b Batch
	for i := 0; i < n; i++ {
		o := randOps(rng.IntN, 1+rng.IntN(4), 25, fmt.Sprint(i, "-"))
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
}

// checkFiles asserts the folder holds exactly the segments Stats reports.
func checkFiles(t *testing.T, l *Log) {
	t.Helper()
	if n, want := len(segFiles(t, l.opts.Dir)), l.Stats().Segments; n != want {
		t.Fatalf("%d segment files, Stats says %d", n, want)
	}
}

func TestCompactKeepsState(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1 << 20 // no automatic compaction in this test
	l := mustOpen(t, opts)
	m := newModel()
	churn(t, l, m, 150, 1)
	before := l.Stats()
	sameState(t, "before", dump(t, l), m.dump())
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after compaction", dump(t, l), m.dump())
	st := l.Stats()
	// Everything was in the active segment: sealed, then its live
	// records moved to a new one, and it was removed.
	if st.Compactions != 1 || st.Segments != 1 || st.TotalBytes >= before.TotalBytes || st.LiveKeys != before.LiveKeys ||
		st.TotalBytes-st.LiveBytes > 64 || st.MovedBytes != st.LiveBytes {
		t.Fatalf("after compaction: %+v (before %+v)", st, before)
	}
	checkFiles(t, l)
	churn(t, l, m, 20, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, opts)
	sameState(t, "after reopen", dump(t, l2), m.dump())
}

// The writer compacts by itself when dead bytes dominate, keeping the
// log's size near its live size.
func TestAutoCompaction(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 2048
	l := mustOpen(t, opts)
	m := newModel()
	churn(t, l, m, 600, 3)
	st := l.Stats()
	if st.Compactions == 0 {
		t.Fatalf("no automatic compaction: %+v", st)
	}
	if limit := 2*st.LiveBytes + 2*opts.SegmentSize + 1024; st.TotalBytes > limit {
		t.Fatalf("log is %d bytes for %d live, above %d", st.TotalBytes, st.LiveBytes, limit)
	}
	sameState(t, "after auto compaction", dump(t, l), m.dump())
	checkFiles(t, l)
}

// Crash points of a snapshot (written after a salvage): each leaves files
// that open to the same state.
func TestSnapshotCrashPoints(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	opts.Sync = SyncNone
	l, _ := open(t, opts)
	m := newModel()
	churn(t, l, m, 60, 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pre := copyDir(t, opts.Dir) // the log before the compaction
	l, _ = open(t, opts)
	if err := l.compactRequest(compactSnapshot); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	post := segFiles(t, opts.Dir) // snapshot, new active segment
	if len(post) != 2 {
		t.Fatalf("after compaction: %v", post)
	}
	snapshot, err := os.ReadFile(post[0])
	if err != nil {
		t.Fatal(err)
	}
	snapName := filepath.Base(post[0])
	active, err := os.ReadFile(post[1])
	if err != nil {
		t.Fatal(err)
	}
	activeName := filepath.Base(post[1])

	cases := []struct {
		name  string
		setup func(dir string)
	}{
		{"snapshot .tmp half written", func(dir string) {
			os.WriteFile(filepath.Join(dir, snapName+".tmp"), snapshot[:len(snapshot)/2], 0o644)
		}},
		{"snapshot .tmp complete, not renamed", func(dir string) {
			os.WriteFile(filepath.Join(dir, snapName+".tmp"), snapshot, 0o644)
		}},
		{"renamed, old segments not removed", func(dir string) {
			os.WriteFile(filepath.Join(dir, snapName), snapshot, 0o644)
		}},
		{"some old segments removed", func(dir string) {
			os.WriteFile(filepath.Join(dir, snapName), snapshot, 0o644)
			os.Remove(segFiles(t, dir)[0])
		}},
		{"old segments removed, no new active segment", func(dir string) {
			for _, s := range segFiles(t, dir) {
				os.Remove(s)
			}
			os.WriteFile(filepath.Join(dir, snapName), snapshot, 0o644)
		}},
		// The manifest still names the segments before the compaction.
		{"new active segment, manifest not rewritten", func(dir string) {
			for _, s := range segFiles(t, dir) {
				os.Remove(s)
			}
			os.WriteFile(filepath.Join(dir, snapName), snapshot, 0o644)
			os.WriteFile(filepath.Join(dir, activeName), active, 0o644)
		}},
		{"new active segment, manifest .tmp half written", func(dir string) {
			for _, s := range segFiles(t, dir) {
				os.Remove(s)
			}
			os.WriteFile(filepath.Join(dir, snapName), snapshot, 0o644)
			os.WriteFile(filepath.Join(dir, activeName), active, 0o644)
			os.WriteFile(filepath.Join(dir, manifestName+".tmp"), []byte{20, 0, 0}, 0o644)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pre)
			c.setup(dir)
			o := opts
			o.Dir = dir
			l := mustOpen(t, o)
			sameState(t, "recovered", dump(t, l), m.dump())
			if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
				t.Fatalf("left over: %v", tmp)
			}
			checkFiles(t, l)
			if segs := segFiles(t, dir); filepath.Base(segs[0]) > snapName {
				t.Fatalf("snapshot lost: %v", segs)
			} else if filepath.Base(segs[0]) == snapName && len(segs) > 2 {
				t.Fatalf("old segments not removed: %v", segs)
			}
			mm := m.clone()
			more := ops{{kind: KindRetained, key: "t", value: "after"}}
			var b Batch
			commit(t, l, more.fill(&b))
			mm.apply(more)
			sameState(t, "after commit", dump(t, l), mm.dump())
		})
	}
}

// A compaction that fails (no space for the moved records) changes
// nothing.
func TestCompactErrorKeepsState(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1 << 20
	l := mustOpen(t, opts)
	m := newModel()
	churn(t, l, m, 50, 5)
	before := segFiles(t, opts.Dir)
	var armed atomic.Bool
	armed.Store(true)
	l.hooks = &testHooks{write: func(path string) error {
		// The new segment is created (its .tmp); the moves into it fail.
		if armed.Load() && strings.HasSuffix(path, ".seg") && !slices.Contains(before, path) {
			return syscall.ENOSPC
		}
		return nil
	}}
	if err := l.Compact(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Compact = %v, want ENOSPC", err)
	}
	if got := segFiles(t, opts.Dir); len(got) != len(before)+1 || got[0] != before[0] {
		t.Fatalf("after a failed compaction: %v (before %v)", got, before)
	}
	armed.Store(false)
	if tmp, _ := filepath.Glob(filepath.Join(opts.Dir, "*.tmp")); len(tmp) != 0 {
		t.Fatalf("left over: %v", tmp)
	}
	sameState(t, "after failed compaction", dump(t, l), m.dump())
	churn(t, l, m, 10, 6)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after compaction", dump(t, l), m.dump())
	checkFiles(t, l)
}

// Compacting an empty log leaves an empty snapshot; deleting everything
// and compacting leaves no live bytes.
func TestCompactEmpty(t *testing.T) {
	opts := testOptions(t)
	l := mustOpen(t, opts)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "1"}}.fill(&b))
	commit(t, l, ops{{del: true, kind: KindSession, key: "a"}}.fill(&b))
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.LiveKeys != 0 || st.LiveBytes != 0 || st.Segments != 1 {
		t.Fatalf("%+v", st)
	}
	checkFiles(t, l)
}
