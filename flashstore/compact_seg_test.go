package flashstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// segmentPerBatch builds, one batch per segment (SegmentSize 1024, each
// batch ~900 bytes), a log whose first and third segments become mostly
// dead while the second stays mostly live, and whose third holds the
// Delete of a key put in the second:
//
//	S1: L (lives on), X0..X7          (X overwritten in S4: mostly dead)
//	S2: Y (800 bytes, lives on), D    (D deleted in S3: mostly live)
//	S3: delete D, Z0..Z7              (Z overwritten in S4: mostly dead)
//	S4: X0..X7, Z0..Z7 again, small   (the active segment)
//
// Automatic compaction then removes S3 (a gap), keeping the Delete of D
// (S2 still holds D's Put); Compact moves L and removes them all.
func segmentPerBatch(t *testing.T, l *Log, m *model) {
	t.Helper()
	v := func(n int) string { return strings.Repeat("v", n) }
	batches := []ops{
		{{kind: KindSession, key: "L", value: "long-lived"}},
		{{kind: KindMessage, key: "Y", value: v(800)}, {kind: KindRoute, key: "D", value: "doomed"}},
		{{del: true, kind: KindRoute, key: "D"}},
		nil,
	}
	for i := range 8 {
		batches[0] = append(batches[0], op{kind: KindMessage, key: fmt.Sprint("X", i), value: v(95)})
		batches[2] = append(batches[2], op{kind: KindMessage, key: fmt.Sprint("Z", i), value: v(95)})
		batches[3] = append(batches[3], op{kind: KindMessage, key: fmt.Sprint("X", i), value: "x"}, op{kind: KindMessage, key: fmt.Sprint("Z", i), value: "z"})
	}
	var b Batch
	for _, o := range batches {
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	if n := len(segFiles(t, l.opts.Dir)); n != 4 {
		t.Fatalf("want four segments, have %d", n)
	}
}

// openSegmentPerBatch opens a new log of segmentPerBatch's four
// segments, without automatic compaction.
func openSegmentPerBatch(t *testing.T) (Options, *Log, *model) {
	t.Helper()
	opts := testOptions(t)
	opts.SegmentSize = 1024
	l := mustOpen(t, opts)
	noAutoCompact(l)
	m := newModel()
	segmentPerBatch(t, l, m)
	return opts, l, m
}

// crashState is a copy of the log's folder taken at a step of a
// compaction: what a power cut there would leave (every write before it
// on flash).
type crashState struct {
	point string
	dir   string
}

// Crash points of segment-selective compaction, automatic and forced:
// a copy of the folder at each step (moved records written, synced,
// manifest rewritten, each victim removed), and torn writes of the moved
// records, all open to the same live state, clean, without leftovers.
func TestCompactStepCrashPoints(t *testing.T) {
	for _, how := range []string{"auto", "Compact"} {
		t.Run(how, func(t *testing.T) {
			opts := testOptions(t)
			opts.SegmentSize = 1024
			l, _ := open(t, opts)
			noAutoCompact(l)
			m := newModel()
			segmentPerBatch(t, l, m)
			pre := copyDir(t, opts.Dir)
			var (
				mu     sync.Mutex
				states []crashState
			)
			l.hooks = &testHooks{point: func(name string) {
				d := copyDir(t, opts.Dir)
				mu.Lock()
				states = append(states, crashState{name, d})
				mu.Unlock()
			}}
			if how == "auto" {
				// The writer may still be deciding about automatic
				// compaction after the last commit: let it finish
				// before it may start one (else "start" could come
				// before the trigger's commit).
				if err := l.compactRequest(writerBarrier); err != nil {
					t.Fatal(err)
				}
				l.noAuto.Store(false)
				o := ops{{kind: KindRetained, key: "T", value: "trigger"}}
				var b Batch
				commit(t, l, o.fill(&b))
				m.apply(o)
			} else if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil { // waits for the compaction after the commit
				t.Fatal(err)
			}
			st := l.Stats()
			if st.Compactions == 0 || st.MovedBytes == 0 {
				t.Fatalf("no compaction moved anything: %+v", st)
			}
			man, err := readManifest(opts.Dir)
			if err != nil || man.Version != 2 {
				t.Fatalf("manifest after compaction: %+v, %v", man, err)
			}
			segs := segFiles(t, pre)
			if how == "auto" {
				// S3, the emptiest, went (enough to bring the dead bytes
				// down to the live ones): a gap; S2 stayed, so the Delete
				// of D is kept in the active segment.
				if man.First != idOf(t, segs[0]) || !bytes.Equal(man.Gaps, gapsOf(idOf(t, segs[2]), idOf(t, segs[3]))) {
					t.Fatalf("manifest %+v: want a gap for S3 (%v)", man, segs)
				}
				final := segFiles(t, opts.Dir)
				if _, ok := deletesIn(t, final[len(final)-1])["D"]; !ok {
					t.Fatalf("the Delete of D, whose Put S2 still holds, was not kept")
				}
			} else if man.First != idOf(t, segs[3]) || len(man.Gaps) != 0 {
				// S4 holds only live Puts: it stays, first.
				t.Fatalf("manifest %+v: want S1 to S3 gone", man)
			}
			states = append(states, crashState{"done", copyDir(t, opts.Dir)})
			names := []string{}
			for _, s := range states {
				names = append(names, s.point)
			}
			t.Logf("crash points: %v", names)

			var cases []crashState
			start := pre
			for _, s := range states {
				cases = append(cases, s)
				switch s.point {
				case "start":
					start = s.dir
				case "written":
					cases = append(cases, tornMoves(t, start, s.dir)...)
				case "synced":
					d := copyDir(t, s.dir)
					os.WriteFile(filepath.Join(d, manifestName+".tmp"), []byte{20, 0, 0}, 0o644)
					cases = append(cases, crashState{"synced, manifest .tmp half written", d})
				}
			}
			for _, c := range cases {
				o := opts
				o.Dir = c.dir
				l := mustOpen(t, o)
				sameState(t, c.point, dump(t, l), m.dump())
				if tmp, _ := filepath.Glob(filepath.Join(c.dir, "*.tmp")); len(tmp) != 0 {
					t.Fatalf("%s: left over: %v", c.point, tmp)
				}
				checkFiles(t, l)
				if got, want := len(segFiles(t, c.dir)), l.Stats().Segments; got != want {
					t.Fatalf("%s: %d files for %d segments", c.point, got, want)
				}
			}
		})
	}
}

// tornMoves returns copies of the state dir (taken after the moved
// records were written, before the fdatasync) whose newest segment is cut
// inside the moved records: at every frame end and in the middle of
// every frame. pre is the folder when the compaction started.
func tornMoves(t *testing.T, pre, dir string) []crashState {
	t.Helper()
	segs := segFiles(t, dir)
	active := segs[len(segs)-1]
	data, err := os.ReadFile(active)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, data)
	base := ends[0] // a segment made for the moves: after its header
	if old, err := os.ReadFile(filepath.Join(pre, filepath.Base(active))); err == nil {
		base = int64(len(old))
	}
	var out []crashState
	prev := base
	for _, e := range ends {
		if e <= base {
			continue
		}
		for _, cut := range []int64{(prev + e) / 2, e} {
			if cut == int64(len(data)) {
				continue // that is the written state itself
			}
			d := copyDir(t, dir)
			if err := os.Truncate(filepath.Join(d, filepath.Base(active)), cut); err != nil {
				t.Fatal(err)
			}
			out = append(out, crashState{fmt.Sprintf("moves torn at %d of %d", cut, len(data)), d})
		}
		prev = e
	}
	if len(out) == 0 {
		t.Fatalf("no moved records in %s after %d", active, base)
	}
	return out
}

// Under random puts, overwrites and deletes with automatic and forced
// compaction, the log always holds exactly the model's state, before and
// after a reopen: a compaction never loses a live record and never brings
// back one that was overwritten or deleted (which a dropped Delete would).
func TestCompactNeverResurrects(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			opts := testOptions(t)
			opts.Sync = SyncNone
			opts.SegmentSize = 1024
			l, _ := open(t, opts)
			rng := rand.New(rand.NewPCG(seed, 11))
			m := newModel()
			var b Batch
			compactions := int64(0)
			keys := []int{8, 40, 200}[seed-1]
			for round := range 15 {
				for range 40 {
					o := randOps(rng.IntN, 1+rng.IntN(4), keys, fmt.Sprint(round, "-"))
					// Long-lived keys now and then, so that segments stay
					// partly live and Deletes must be kept.
					if rng.IntN(8) == 0 {
						o = append(o, op{kind: KindSubscription, key: fmt.Sprint("keep", rng.IntN(5)), value: strings.Repeat("k", 60)})
					}
					commit(t, l, o.fill(&b))
					m.apply(o)
				}
				if round%5 == 3 {
					if err := l.Compact(); err != nil {
						t.Fatal(err)
					}
				}
				sameState(t, fmt.Sprint("round ", round), dump(t, l), m.dump())
				if round%3 == 2 {
					compactions += l.Stats().Compactions
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					var rep RecoveryReport
					l, rep = open(t, opts)
					if rep.TruncatedBytes != 0 {
						t.Fatalf("round %d: reopen truncated %d bytes", round, rep.TruncatedBytes)
					}
					sameState(t, fmt.Sprint("round ", round, " reopened"), dump(t, l), m.dump())
				}
			}
			checkGets(t, l, m)
			st := l.Stats()
			compactions += st.Compactions
			t.Logf("%d compactions; at the end %+v", compactions, st)
			if compactions < 10 {
				t.Fatal("too few compactions ran")
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A Delete is kept while a segment holding a Put it hides is left, and
// dropped once that segment is gone.
func TestCompactDropsDeletesWhenTheirPutsAreGone(t *testing.T) {
	opts, l, m := openSegmentPerBatch(t)
	if err := l.Compact(); err != nil { // every segment: S2 goes too
		t.Fatal(err)
	}
	for _, f := range segFiles(t, opts.Dir) {
		if _, ok := deletesIn(t, f)["D"]; ok {
			t.Fatalf("%s keeps the Delete of D, whose Put is gone", f)
		}
	}
	sameState(t, "after", dump(t, l), m.dump())
	if _, err := l.Get(KindRoute, []byte("D")); err != ErrNotFound {
		t.Fatalf("Get of the deleted key: %v", err)
	}
}

// A FIFO queue whose messages are all delivered leaves whole dead
// segments: compaction removes them without reading or writing anything.
func TestCompactDeadSegmentsCostNothing(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 4096
	l := mustOpen(t, opts)
	var b Batch
	const window = 50
	for i := range 2000 {
		o := ops{{kind: KindMessage, key: fmt.Sprintf("m%06d", i), value: strings.Repeat("p", 100)}}
		if i >= window {
			o = append(o, op{del: true, kind: KindMessage, key: fmt.Sprintf("m%06d", i-window)})
		}
		commit(t, l, o.fill(&b))
	}
	st := l.Stats()
	if st.Compactions == 0 || st.MovedBytes != 0 {
		t.Fatalf("want compactions that move nothing: %+v", st)
	}
	// Dead bytes wait for 1.5 times the live ones (or a segment's worth),
	// beside the active segment.
	if limit := st.LiveBytes*5/2 + 2*opts.SegmentSize; st.TotalBytes > limit {
		t.Fatalf("log of %d bytes for %d live, above %d", st.TotalBytes, st.LiveBytes, limit)
	}
}

// A damaged record in a victim stops the compaction with a *CorruptError
// naming it: nothing is moved or removed, the segment is not picked
// again, and the rest of the log still compacts.
func TestCompactDamagedVictim(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	l, _ := open(t, opts)
	noAutoCompact(l)
	m := newModel()
	segmentPerBatch(t, l, m)
	segs := segFiles(t, opts.Dir)
	data, _ := os.ReadFile(segs[0])
	ends := frameEnds(t, data)
	flipBit(t, segs[0], ends[1]+12) // in the first entry after the header: L
	err := l.Compact()
	var ce *CorruptError
	if !errorsAs(err, &ce) || ce.File != segs[0] {
		t.Fatalf("Compact over a damaged segment = %v", err)
	}
	if got := segFiles(t, opts.Dir); !slices.Contains(got, segs[0]) {
		t.Fatalf("the damaged segment was removed: %v", got)
	}
	if err := l.Compact(); err != nil {
		t.Fatalf("second Compact (skipping the damaged segment) = %v", err)
	}
	if got := segFiles(t, opts.Dir); !slices.Contains(got, segs[0]) || slices.Contains(got, segs[2]) {
		t.Fatalf("after the second Compact: %v", got)
	}
	l.Close()
	if _, _, err := Open(opts); !errorsAs(err, &ce) {
		t.Fatalf("Open of the damaged log = %v", err)
	}
}

// Phases that leave Deletes in mostly-dead segments hiding Puts in mostly
// live ones: rounds that add big long-lived records and small short-lived
// ones, then rounds that delete the short-lived ones and churn. After
// each round the log reopens to the model's state: a Delete dropped too
// early would bring its key back.
func TestCompactKeepsDeletesOfLivingSegments(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 2048
	l, _ := open(t, opts)
	defer func() { l.Close() }()
	rng := rand.New(rand.NewPCG(5, 5))
	m := newModel()
	var b Batch
	short := 0
	big := strings.Repeat("B", 300)
	kept := int64(0)
	for round := range 16 {
		for i := range 30 {
			var o ops
			if round%2 == 0 {
				o = ops{{kind: KindRetained, key: fmt.Sprint("big", round, "-", i), value: big},
					{kind: KindRoute, key: fmt.Sprint("s", short), value: "short"}}
				short++
			} else {
				for range 3 {
					o = append(o, op{del: true, kind: KindRoute, key: fmt.Sprint("s", rng.IntN(short))})
				}
				// Put some again first: their Puts then span segments.
				o = append(o, op{kind: KindRoute, key: fmt.Sprint("s", rng.IntN(short)), value: "again"})
				o = append(o, op{kind: KindMessage, key: fmt.Sprint("c", rng.IntN(5)), value: strings.Repeat("c", 100)})
			}
			commit(t, l, o.fill(&b))
			m.apply(o)
			if i%10 == 9 {
				// Compact what is mostly dead now, as the writer does once
				// dead bytes reach live ones.
				if err := l.compactRequest(compactVictims); err != nil {
					t.Fatal(err)
				}
			}
		}
		kept += l.Stats().MovedBytes
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, _ = open(t, opts)
		sameState(t, fmt.Sprint("round ", round, " reopened"), dump(t, l), m.dump())
	}
	if kept == 0 {
		t.Fatal("no compaction moved anything")
	}
}

// A compaction whose fdatasync of the moved records fails cuts them off
// again: nothing changes, and the log reopens clean to the same state.
func TestCompactSyncErrorCutsBack(t *testing.T) {
	opts, l, m := openSegmentPerBatch(t)
	before := segFiles(t, opts.Dir)
	f := &faultAfter{point: "written", err: syscall.EIO, match: func(path string) bool { return strings.HasSuffix(path, ".seg") }}
	l.hooks = &testHooks{point: f.at, sync: f.hook}
	if err := l.compactRequest(compactVictims); !errors.Is(err, syscall.EIO) {
		t.Fatalf("compaction = %v, want EIO", err)
	}
	l.hooks = nil
	if got := segFiles(t, opts.Dir); !slices.Equal(got, before) {
		t.Fatalf("segments %v, want %v", got, before)
	}
	active := before[len(before)-1]
	l.mu.RLock()
	size := l.w.active.size
	l.mu.RUnlock()
	if st, err := os.Stat(active); err != nil || st.Size() != size {
		t.Fatalf("active segment is %v bytes on disk, %d in the log (%v)", st.Size(), size, err)
	}
	sameState(t, "after a failed compaction", dump(t, l), m.dump())
	checkGets(t, l, m)
}
