package flashstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// buildCompacted makes a log whose first segment is a snapshot, followed
// by several segments, and closes it.
func buildCompacted(t *testing.T, opts Options) {
	t.Helper()
	l, _ := open(t, opts)
	m := newModel()
	churn(t, l, m, 40, 21)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	churn(t, l, m, 40, 22)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, opts.Dir)
	if len(segs) < 3 || filepath.Base(segs[0]) == segmentName(1) {
		t.Fatalf("want a snapshot and at least two segments after it: %v", segs)
	}
}

// The oldest segment of a log that was never compacted (its records are
// the start of every session) is gone: Open refuses and names it.
func TestMissingFirstSegmentIsCorrupt(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	build(t, opts, 40, 11)
	segs := segFiles(t, opts.Dir)
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments: %v", segs)
	}
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	ce := wantRefused(t, opts, segs[0], "missing")
	if !ce.Missing {
		t.Errorf("CorruptError.Missing = false for a missing file")
	}
}

// Without the manifest (a log written by an older version, or a manifest
// removed too), a missing first segment is still seen: a log starts at
// seq 1 or at a snapshot.
func TestMissingFirstSegmentWithoutManifest(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	build(t, opts, 40, 12)
	segs := segFiles(t, opts.Dir)
	for _, f := range []string{segs[0], filepath.Join(opts.Dir, manifestName)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	wantRefused(t, opts, segs[1], "missing", segmentName(1))
}

// The snapshot that compaction left as the first segment is gone.
func TestMissingSnapshotIsCorrupt(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	opts.Sync = SyncNone
	buildCompacted(t, opts)
	segs := segFiles(t, opts.Dir)
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, opts, segs[0], "missing")
}

// The newest segment (the latest acknowledged batches) is gone, with and
// without a compaction before.
func TestMissingLastSegmentIsCorrupt(t *testing.T) {
	for _, compacted := range []bool{false, true} {
		name := "never compacted"
		if compacted {
			name = "after compaction"
		}
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t)
			opts.SegmentSize = 1024
			opts.Sync = SyncNone
			if compacted {
				buildCompacted(t, opts)
			} else {
				build(t, opts, 40, 13)
			}
			segs := segFiles(t, opts.Dir)
			last := segs[len(segs)-1]
			if err := os.Remove(last); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, opts, last, "missing")
		})
	}
}

// Every segment is gone, the manifest is left: not a fresh store.
func TestAllSegmentsMissingIsCorrupt(t *testing.T) {
	opts := testOptions(t)
	build(t, opts, 5, 14)
	segs := segFiles(t, opts.Dir)
	for _, s := range segs {
		if err := os.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	wantRefused(t, opts, segs[len(segs)-1], "missing")
}

// A log written before the manifest existed opens as before and gets one,
// which then guards its newest segment.
func TestLogWithoutManifestGetsOne(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	h := build(t, opts, 40, 15)
	man := filepath.Join(opts.Dir, manifestName)
	if err := os.Remove(man); err != nil {
		t.Fatal(err)
	}
	l, _ := open(t, opts)
	sameState(t, "reopen", dump(t, l), h.state[len(h.state)-1].dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(man); err != nil {
		t.Fatalf("no manifest written: %v", err)
	}
	segs := segFiles(t, opts.Dir)
	if err := os.Remove(segs[len(segs)-1]); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, opts, segs[len(segs)-1], "missing")
}

// The manifest follows rotations and compactions: it names the first and
// the newest segment.
func TestManifestFollowsSegments(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	opts.Sync = SyncNone
	l := mustOpen(t, opts)
	check := func(when string) {
		t.Helper()
		m, err := readManifest(opts.Dir)
		if err != nil || m == nil {
			t.Fatalf("%s: readManifest = %v, %v", when, m, err)
		}
		segs := segFiles(t, opts.Dir)
		if first, last := filepath.Base(segs[0]), filepath.Base(segs[len(segs)-1]); segmentName(m.First) != first || segmentName(m.Last) != last {
			t.Fatalf("%s: manifest %d..%d, segments %s..%s", when, m.First, m.Last, first, last)
		}
	}
	check("fresh")
	mm := newModel()
	churn(t, l, mm, 40, 16)
	check("after rotations")
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
}

// A damaged manifest is refused (it cannot vouch for the newest segment),
// unless salvaging.
func TestDamagedManifest(t *testing.T) {
	opts := testOptions(t)
	h := build(t, opts, 5, 17)
	man := filepath.Join(opts.Dir, manifestName)
	flipBit(t, man, 10)
	wantRefused(t, opts, man, "manifest")
	opts.SalvageCorrupt = true
	l, _ := open(t, opts)
	sameState(t, "salvaged", dump(t, l), h.state[len(h.state)-1].dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.SalvageCorrupt = false
	l = mustOpen(t, opts) // the salvage wrote a good manifest
	sameState(t, "after salvage", dump(t, l), h.state[len(h.state)-1].dump())
}

// Salvaging opens past a missing newest segment (loudly) and leaves a log
// that then opens normally.
func TestSalvageMissingLastSegment(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	h := build(t, opts, 40, 18)
	segs := segFiles(t, opts.Dir)
	last := segs[len(segs)-1]
	if err := os.Remove(last); err != nil {
		t.Fatal(err)
	}
	want, _ := h.stateAt(last, 0)
	opts.SalvageCorrupt = true
	l, _ := open(t, opts)
	sameState(t, "salvaged", dump(t, l), want.dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.SalvageCorrupt = false
	l = mustOpen(t, opts)
	sameState(t, "after salvage", dump(t, l), want.dump())
}
