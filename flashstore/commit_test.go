package flashstore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Many goroutines commit at once: their batches share fdatasyncs, and all
// of them are there after a reopen.
func TestGroupCommit(t *testing.T) {
	opts := testOptions(t)
	l, _ := open(t, opts)
	const goroutines, each = 32, 20
	before := l.Stats()
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := 0; i < each; i++ {
				b.Reset()
				b.Put(KindMessage, fmt.Appendf(nil, "g%02d-%03d", g, i), []byte("payload"))
				b.Put(KindRoute, fmt.Appendf(nil, "g%02d-%03d", g, i), []byte("route"))
				if err := l.Commit(&b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := l.Stats()
	commits := int64(goroutines * each)
	fsyncs := st.Fsyncs - before.Fsyncs
	t.Logf("%d commits, %d writes, %d fsyncs", commits, st.Writes, fsyncs)
	if st.Batches != commits || st.Records != 2*commits {
		t.Fatalf("Stats: %d batches, %d records; want %d, %d", st.Batches, st.Records, commits, 2*commits)
	}
	if fsyncs >= commits {
		t.Fatalf("no group commit: %d fsyncs for %d commits", fsyncs, commits)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, opts)
	if got := l2.Stats().LiveKeys; got != int(2*commits) {
		t.Fatalf("after reopen %d live keys, want %d", got, 2*commits)
	}
}

// An idle log syncs a lone batch at once: one commit, one write, one
// fdatasync.
func TestLoneCommitSyncsAtOnce(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	before := l.Stats()
	var b Batch
	commit(t, l, ops{{kind: KindSession, key: "a", value: "1"}}.fill(&b))
	st := l.Stats()
	if st.Fsyncs-before.Fsyncs != 1 || st.Writes-before.Writes != 1 {
		t.Fatalf("lone commit: %d fsyncs, %d writes", st.Fsyncs-before.Fsyncs, st.Writes-before.Writes)
	}
}

// Commits that come from several goroutines at once are synced no more
// often than every SyncGap: each fdatasync after one that covered several
// commits starts a gap after it, so 40 commits from 4 goroutines, which
// share each sync anyway, take several gaps.
func TestSyncGapSpacesSharedSyncs(t *testing.T) {
	opts := testOptions(t)
	opts.SyncGap = 40 * time.Millisecond
	l := mustOpen(t, opts)
	const goroutines, each = 4, 10
	before := l.Stats()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := range each {
				b.Reset()
				b.Put(KindMessage, fmt.Appendf(nil, "g%d-%d", g, i), []byte("payload"))
				if err := l.Commit(&b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fsyncs := l.Stats().Fsyncs - before.Fsyncs
	t.Logf("%d commits: %d fsyncs in %v", goroutines*each, fsyncs, elapsed)
	// At least a fdatasync in two covers several commits (the goroutines
	// all wait for the same one), so at least five gaps pass.
	if elapsed < 5*opts.SyncGap {
		t.Fatalf("%d commits from %d goroutines took %v (%d fsyncs): the sync gap of %v was not kept", goroutines*each, goroutines, elapsed, fsyncs, opts.SyncGap)
	}
	if fsyncs >= goroutines*each {
		t.Fatalf("no group commit: %d fsyncs for %d commits", fsyncs, goroutines*each)
	}
}

// A committer that commits alone never waits for the sync gap.
func TestSyncGapLoneCommitsDoNotWait(t *testing.T) {
	opts := testOptions(t)
	opts.SyncGap = 200 * time.Millisecond
	l := mustOpen(t, opts)
	start := time.Now()
	var b Batch
	for i := range 10 {
		b.Reset()
		commit(t, l, ops{{kind: KindSession, key: fmt.Sprint(i), value: "1"}}.fill(&b))
	}
	if elapsed := time.Since(start); elapsed > 5*opts.SyncGap {
		t.Fatalf("10 lone commits took %v: they waited for the sync gap of %v", elapsed, opts.SyncGap)
	}
}

// failOnce returns a hook that fails the first matching call with err.
func failOnce(err error, armed *atomic.Bool) func(string) error {
	return func(path string) error {
		if strings.HasSuffix(path, ".seg") && armed.CompareAndSwap(true, false) {
			return err
		}
		return nil
	}
}

// A failed write (ENOSPC) is reported, not applied, cut back, and the log
// works again when space returns.
func TestWriteErrorRecovers(t *testing.T) {
	for _, where := range []string{"write", "sync"} {
		t.Run(where, func(t *testing.T) {
			opts := testOptions(t)
			l, _ := open(t, opts)
			var armed atomic.Bool
			hook := failOnce(syscall.ENOSPC, &armed)
			if where == "write" {
				l.hooks = &testHooks{write: hook}
			} else {
				l.hooks = &testHooks{sync: hook}
			}
			m := newModel()
			var b Batch
			good := ops{{kind: KindSession, key: "a", value: "1"}, {kind: KindRoute, key: "r", value: "2"}}
			commit(t, l, good.fill(&b))
			m.apply(good)
			segs := segFiles(t, opts.Dir)
			st0, _ := os.Stat(segs[len(segs)-1])
			stats0 := l.Stats()

			armed.Store(true)
			bad := ops{{kind: KindSession, key: "b", value: "lost"}, {del: true, kind: KindSession, key: "a"}}
			err := l.Commit(bad.fill(&b))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Commit = %v, want ENOSPC", err)
			}
			sameState(t, "after failed commit", dump(t, l), m.dump())
			if st1, _ := os.Stat(segs[len(segs)-1]); st1.Size() != st0.Size() {
				t.Fatalf("segment not cut back: %d, want %d", st1.Size(), st0.Size())
			}
			if s := l.Stats(); s.Batches != stats0.Batches || s.LiveBytes != stats0.LiveBytes || s.TotalBytes != stats0.TotalBytes {
				t.Fatalf("failed batch counted: %+v vs %+v", s, stats0)
			}

			next := ops{{kind: KindSession, key: "c", value: "3"}}
			commit(t, l, next.fill(&b))
			m.apply(next)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := mustOpen(t, opts)
			sameState(t, "after reopen", dump(t, l2), m.dump())
		})
	}
}

// A new segment that cannot be created fails the commit, not the log.
func TestRotationErrorRecovers(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 512
	l, _ := open(t, opts)
	var armed atomic.Bool
	l.hooks = &testHooks{write: func(path string) error {
		if strings.HasSuffix(path, ".tmp") && armed.CompareAndSwap(true, false) {
			return syscall.ENOSPC
		}
		return nil
	}}
	m := newModel()
	var b Batch
	big := strings.Repeat("v", 200)
	failed := false
	for i := 0; i < 10; i++ {
		armed.Store(true)
		o := ops{{kind: KindMessage, key: fmt.Sprint(i), value: big}}
		if err := l.Commit(o.fill(&b)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			failed = true
			continue
		}
		m.apply(o)
	}
	if !failed {
		t.Fatal("no rotation was attempted")
	}
	sameState(t, "live", dump(t, l), m.dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, opts)
	sameState(t, "after reopen", dump(t, l2), m.dump())
	if tmp, _ := os.ReadDir(opts.Dir); len(tmp) == 0 {
		t.Fatal("empty folder")
	}
}

// SyncInterval syncs by itself within the interval, and far less often
// than it commits.
func TestSyncInterval(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncInterval
	opts.SyncInterval = 20 * time.Millisecond
	l := mustOpen(t, opts)
	before := l.Stats().Fsyncs
	var b Batch
	for i := 0; i < 50; i++ {
		commit(t, l, ops{{kind: KindSession, key: fmt.Sprint(i), value: "v"}}.fill(&b))
	}
	st := l.Stats()
	if st.Fsyncs-before >= 50 {
		t.Fatalf("SyncInterval synced %d times for 50 commits", st.Fsyncs-before)
	}
	// A commit is synced within the interval with no further commit: at
	// once if the interval has passed, else by the timer.
	before = l.Stats().Fsyncs
	commit(t, l, ops{{kind: KindSession, key: "last", value: "v"}}.fill(&b))
	checkFor(t, defaultWait, pollEvery, func() error {
		if l.Stats().Fsyncs > before {
			return nil
		}
		return errors.New("no interval sync yet")
	})
}

func TestSyncNoneDoesNotSync(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	l := mustOpen(t, opts)
	before := l.Stats().Fsyncs
	var b Batch
	for i := 0; i < 20; i++ {
		commit(t, l, ops{{kind: KindSession, key: fmt.Sprint(i), value: "v"}}.fill(&b))
	}
	if n := l.Stats().Fsyncs - before; n != 0 {
		t.Fatalf("SyncNone synced %d times", n)
	}
}

// Segments rotate at SegmentSize; each sealed one stays within it.
func TestRotation(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 600
	l := mustOpen(t, opts)
	var b Batch
	for i := 0; i < 40; i++ {
		commit(t, l, ops{{kind: KindMessage, key: fmt.Sprintf("%04d", i), value: strings.Repeat("x", 50)}}.fill(&b))
	}
	segs := segFiles(t, opts.Dir)
	if len(segs) < 3 || l.Stats().Segments != len(segs) {
		t.Fatalf("%d segment files, Stats says %d", len(segs), l.Stats().Segments)
	}
	for _, s := range segs[:len(segs)-1] {
		if st, _ := os.Stat(s); st.Size() > opts.SegmentSize {
			t.Fatalf("%s is %d bytes, above %d", s, st.Size(), opts.SegmentSize)
		}
	}
}
