package flashstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fileSizes returns the size of every file of dir but LOCK, by name.
func fileSizes(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.Size()
	}
	return out
}

// sameFiles fails unless dir holds exactly the files of want, with their
// sizes.
func sameFiles(t testing.TB, what, dir string, want map[string]int64) {
	t.Helper()
	got := fileSizes(t, dir)
	for name, size := range want {
		if g, ok := got[name]; !ok || g != size {
			t.Errorf("%s: %s is %d bytes (there: %v), want %d", what, name, g, ok, size)
		}
	}
	for name, size := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s (%d bytes) left over", what, name, size)
		}
	}
}

// filesMatchStats fails unless the segment files on disk are those the log
// counts: no file compaction took out of the log is left behind uncounted.
func filesMatchStats(t testing.TB, what string, l *Log) {
	t.Helper()
	disk := int64(0)
	segs := segFiles(t, l.opts.Dir)
	for _, p := range segs {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		disk += st.Size()
	}
	if st := l.Stats(); disk != st.TotalBytes || len(segs) != st.Segments {
		t.Fatalf("%s: %d segment files of %d bytes on disk, the log counts %d of %d", what, len(segs), disk, st.Segments, st.TotalBytes)
	}
}

// A compaction step that fails for lack of space, while it copies the
// records it keeps or while it writes the manifest that drops the victims,
// leaves the log as it was: the copies are cut off again, the victims
// stay in the log (and on disk, counted), nothing is lost, and the next
// step, once there is room, compacts.
func TestCompactStepENOSPCLeavesLogAsBefore(t *testing.T) {
	for _, where := range []string{"copy write", "copy sync", "manifest write", "manifest sync"} {
		t.Run(where, func(t *testing.T) {
			opts, l, m := openSegmentPerBatch(t)
			before := fileSizes(t, opts.Dir)
			stats0 := l.Stats()
			file := ".seg"
			if strings.HasPrefix(where, "manifest") {
				file = "MANIFEST.tmp"
			}
			f := &faultAfter{point: "start", err: syscall.ENOSPC, match: func(path string) bool { return strings.HasSuffix(path, file) }}
			l.hooks = &testHooks{point: f.at}
			if strings.HasSuffix(where, "write") {
				l.hooks.write = f.hook
			} else {
				l.hooks.sync = f.hook
			}
			err := l.compactRequest(compactVictims)
			l.hooks = nil
			if !f.hit() {
				t.Fatalf("the %s was never reached", where)
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("compaction = %v, want ENOSPC", err)
			}
			sameFiles(t, "after the failed step", opts.Dir, before)
			filesMatchStats(t, "after the failed step", l)
			if st := l.Stats(); st.Compactions != stats0.Compactions || st.TotalBytes != stats0.TotalBytes || st.Segments != stats0.Segments {
				t.Fatalf("a failed step changed the log: %+v, was %+v", st, stats0)
			}
			sameState(t, "after the failed step", dump(t, l), m.dump())
			checkGets(t, l, m)

			// Deletes and puts still go in, and with room the step runs.
			o := ops{{del: true, kind: KindSession, key: "L"}, {kind: KindRetained, key: "T", value: "after"}}
			var b Batch
			commit(t, l, o.fill(&b))
			m.apply(o)
			if err := l.compactRequest(compactVictims); err != nil {
				t.Fatal(err)
			}
			if st := l.Stats(); st.Compactions == stats0.Compactions || st.Segments >= stats0.Segments {
				t.Fatalf("no compaction once there was room: %+v", st)
			}
			filesMatchStats(t, "after compaction", l)
			sameState(t, "after compaction", dump(t, l), m.dump())
			checkGets(t, l, m)
		})
	}
}

// When the folder's fsync after the new manifest fails, the manifest may
// or may not have reached the disk: the step goes on (its copies may be
// all that is left of the moved records) but the victims' files stay
// until a manifest without them is durable, which the next commit
// retries; none is left behind for good.
func TestCompactDirSyncFailureRemovesVictimsLater(t *testing.T) {
	opts, l, m := openSegmentPerBatch(t)
	before := segFiles(t, opts.Dir)
	f := &faultAfter{point: "synced", err: syscall.EIO, match: func(path string) bool { return path == opts.Dir }}
	l.hooks = &testHooks{point: f.at, sync: f.hook}
	err := l.compactRequest(compactVictims)
	l.hooks = nil
	if !f.hit() {
		t.Fatal("the folder's fsync was never reached")
	}
	if err != nil {
		t.Fatalf("compaction = %v; the step is done once the manifest is renamed", err)
	}
	if got := segFiles(t, opts.Dir); !slices.Equal(got, before) {
		t.Fatalf("victims removed before a manifest without them was durable: %v, was %v", got, before)
	}
	sameState(t, "after the step", dump(t, l), m.dump())
	checkGets(t, l, m)
	o := ops{{kind: KindRetained, key: "T", value: "after"}}
	var b Batch
	commit(t, l, o.fill(&b))
	m.apply(o)
	if err := l.compactRequest(writerBarrier); err != nil {
		t.Fatal(err)
	}
	filesMatchStats(t, "after the next commit", l)
	sameState(t, "after the next commit", dump(t, l), m.dump())
}

// smallFS simulates a file system of size bytes under a log's folder,
// counted in pages as tmpfs does: a write that would need more pages
// than are free fails with ENOSPC. Other programs' files are other.
type smallFS struct {
	t     testing.TB
	dir   string
	mu    sync.Mutex
	size  int64
	other int64
	fails int
}

const smallFSPage = 4096

func pages(n int64) int64 { return (n + smallFSPage - 1) / smallFSPage * smallFSPage }

// used returns the bytes the folder's files take, in pages.
func (fs *smallFS) used() int64 {
	ents, err := os.ReadDir(fs.dir)
	if err != nil {
		fs.t.Error(err)
		return 0
	}
	n := fs.other
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += pages(info.Size())
		}
	}
	return n
}

func (fs *smallFS) free() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return max(fs.size-fs.used(), 0)
}

// alloc is called before n bytes are appended to path.
func (fs *smallFS) alloc(path string, n int) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cur := int64(0)
	if info, err := os.Stat(path); err == nil {
		cur = info.Size()
	}
	if fs.used()-pages(cur)+pages(cur+int64(n)) > fs.size {
		fs.fails++
		return syscall.ENOSPC
	}
	return nil
}

func (fs *smallFS) hooks() *testHooks { return &testHooks{alloc: fs.alloc, free: fs.free} }

func (fs *smallFS) failures() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.fails
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (lw lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// A store at its cap on a file system barely twice the cap drains while a
// publisher keeps trying to add messages: every acknowledgement's
// records are written, compaction never needs more room than there is
// (nor fails for the lack of it), no file is left over, and once drained
// the store takes new messages. File systems a few pages either side of
// twice the cap, segments as large as the store or of the default size,
// deliveries in order or not.
func TestFullStoreDrainsOnSmallFileSystem(t *testing.T) {
	const maxBytes = 128 << 10
	value := strings.Repeat("p", 2000)
	for _, segSize := range []int64{0, 1 << 20} {
		for _, order := range []string{"in order", "shuffled"} {
			for slack := int64(-8); slack <= 2; slack += 2 {
				fsSize := 2*maxBytes + slack*smallFSPage
				t.Run(fmt.Sprintf("seg=%d/%s/fs=%d", segSize, order, fsSize), func(t *testing.T) {
					opts := testOptions(t)
					opts.MaxBytes = maxBytes
					opts.SegmentSize = segSize
					drainOnSmallFS(t, opts, &smallFS{t: t, dir: opts.Dir, size: fsSize}, order == "shuffled", value)
				})
			}
		}
	}
}

// drainOnSmallFS fills a log to its cap and drains it while a publisher
// tries to add more, on the file system fs simulates, or on the real one
// of opts.Dir when fs is nil (see TestFullStoreDrainsOnSmallFileSystem).
func drainOnSmallFS(t *testing.T, opts Options, fs *smallFS, shuffled bool, value string) {
	opts.Sync = SyncNone // compaction fdatasyncs all the same
	var logged strings.Builder
	var logMu sync.Mutex
	opts.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logged}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := mustOpen(t, opts)
	failures := func() int { return fs.failures() }
	if fs != nil {
		l.hooks = fs.hooks()
	} else {
		// On a real file system, a write that met ENOSPC shows as a
		// compaction failure or a failed commit.
		failures = func() int {
			logMu.Lock()
			defer logMu.Unlock()
			return strings.Count(logged.String(), "no space left")
		}
	}
	m := newModel()
	var b Batch
	next := 0
	publish := func() error {
		o := ops{
			{kind: KindMessage, key: fmt.Sprintf("m%04d", next), value: value},
			{kind: KindRoute, key: fmt.Sprintf("r%04d", next), value: "queued"},
		}
		err := l.Commit(o.fill(&b))
		if err == nil {
			m.apply(o)
			next++
		}
		return err
	}
	var queue []int
	for {
		err := publish()
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatalf("message %d: %v (want it stored, or ErrFull at the cap)", next, err)
		}
		queue = append(queue, next-1)
	}
	full := next
	if full < 20 {
		t.Fatalf("full after %d messages", full)
	}
	// Drain: each acknowledgement writes the route's stage, then deletes
	// the route and the message, as the broker does; after each, the
	// publisher tries again (up to as many messages again).
	for k := 0; len(queue) > 0; k++ {
		pos := 0
		if shuffled {
			pos = (k*7919 + 13) % len(queue)
		}
		i := queue[pos]
		queue = slices.Delete(queue, pos, pos+1)
		for _, o := range []ops{
			{{kind: KindRoute, key: fmt.Sprintf("r%04d", i), value: "sent"}},
			{{del: true, kind: KindRoute, key: fmt.Sprintf("r%04d", i)}, {del: true, kind: KindMessage, key: fmt.Sprintf("m%04d", i)}},
		} {
			if err := l.Commit(o.fill(&b)); err != nil {
				t.Fatalf("acknowledgement %d (message %d): %v; folder %v", k+1, i, err, fileSizes(t, opts.Dir))
			}
			m.apply(o)
		}
		if next < 2*full {
			if err := publish(); err == nil {
				queue = append(queue, next-1)
			} else if !errors.Is(err, ErrFull) {
				t.Fatalf("message %d while draining: %v (want it stored, or ErrFull at the cap); folder %v", next, err, fileSizes(t, opts.Dir))
			}
		}
		if err := l.compactRequest(writerBarrier); err != nil {
			t.Fatal(err)
		}
		filesMatchStats(t, fmt.Sprintf("after acknowledgement %d", k+1), l)
	}
	st := l.Stats()
	t.Logf("%d messages, %d while draining; moved %d bytes in %d compactions; %d writes met ENOSPC", next, next-full, st.MovedBytes, st.Compactions, failures())
	if n := failures(); n != 0 {
		t.Errorf("%d writes met ENOSPC while draining:\n%s", n, logged.String())
	}
	if err := publish(); err != nil {
		t.Fatalf("a new message after the drain: %v", err)
	}
	if err := l.compactRequest(writerBarrier); err != nil {
		t.Fatal(err)
	}
	sameState(t, "drained", dump(t, l), m.dump())
	if tmp, _ := filepath.Glob(filepath.Join(opts.Dir, "*.tmp")); len(tmp) != 0 {
		t.Fatalf("left over: %v", tmp)
	}
}

// TestFullStoreDrainsOnSmallFileSystem on a real tmpfs a few pages short
// of twice the cap, with the free space statfs reports (needs root).
func TestFullStoreDrainsOnTmpfs(t *testing.T) {
	const maxBytes = 128 << 10
	value := strings.Repeat("p", 2000)
	for _, order := range []string{"in order", "shuffled"} {
		for _, short := range []int64{6, 4} {
			t.Run(fmt.Sprintf("%s/%d pages short", order, short), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "tiny")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				size := 2*maxBytes - short*smallFSPage
				if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
					msg := fmt.Sprintf("cannot mount a tmpfs (%v): needs root with CAP_SYS_ADMIN", err)
					if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
						t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
					}
					t.Skipf("SKIPPED, NOT TESTED: %s", msg)
				}
				// Registered first: runs after mustOpen's close and reopen.
				t.Cleanup(func() {
					if err := syscall.Unmount(dir, 0); err != nil {
						t.Errorf("unmounting %s: %v", dir, err)
					}
				})
				opts := Options{Dir: filepath.Join(dir, "log"), MaxBytes: maxBytes}
				drainOnSmallFS(t, opts, nil, order == "shuffled", value)
			})
		}
	}
}

// Compaction passes over a victim whose copies the file system has no
// room for and takes a cheaper one that fits, leaving the other as it is.
func TestCompactTakesTheStepThatFits(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 4096
	l := mustOpen(t, opts)
	noAutoCompact(l)
	m := newModel()
	v := strings.Repeat
	var b Batch
	for _, o := range []ops{
		// S1: A lives on (1200 bytes), X dies: kept share about 0.3.
		{{kind: KindMessage, key: "A", value: v("a", 1200)}, {kind: KindMessage, key: "X", value: v("x", 2600)}},
		// S2: B lives on (300 bytes), Y dies: kept share about 0.33.
		{{kind: KindMessage, key: "B", value: v("b", 300)}, {kind: KindMessage, key: "Y", value: v("y", 600)}},
		// S3 (active): X and Y replaced.
		{{kind: KindMessage, key: "X", value: "x"}, {kind: KindMessage, key: "Y", value: "y"}, {kind: KindMessage, key: "F", value: v("f", 3300)}},
	} {
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	segs := segFiles(t, opts.Dir)
	if len(segs) != 3 {
		t.Fatalf("want three segments, have %v", segs)
	}
	l.mu.RLock()
	s1, s2 := l.segs[0], l.segs[1]
	cost1, cost2 := stepCost(s1, s1.live), stepCost(s2, s2.live)
	l.mu.RUnlock()
	if cost1 <= cost2 {
		t.Fatalf("S1 should cost more to compact than S2: %d, %d", cost1, cost2)
	}
	// Room for S2's copies, not for S1's.
	free := int64(compactSlack) + cost2 + cost2/16 + 100
	if cost1 <= free-compactSlack-cost1/16 {
		t.Fatalf("S1 fits in %d bytes", free)
	}
	l.hooks = &testHooks{free: func() int64 { return free }}
	if err := l.compactRequest(compactVictims); err != nil {
		t.Fatal(err)
	}
	l.hooks = nil
	st := l.Stats()
	if got := segFiles(t, opts.Dir); !slices.Contains(got, segs[0]) || slices.Contains(got, segs[1]) {
		t.Fatalf("segments %v after compaction (were %v): want S1 kept and S2 gone", got, segs)
	}
	if st.MovedBytes == 0 || st.MovedBytes > cost2 {
		t.Fatalf("moved %d bytes, want S2's %d at most", st.MovedBytes, cost2)
	}
	sameState(t, "after compaction", dump(t, l), m.dump())
	checkGets(t, l, m)
	// With no room at all, only steps that copy nothing run.
	l.hooks = &testHooks{free: func() int64 { return 0 }}
	if err := l.compactRequest(compactVictims); err != nil {
		t.Fatal(err)
	}
	l.hooks = nil
	if st2 := l.Stats(); st2.MovedBytes != st.MovedBytes || st2.Compactions != st.Compactions {
		t.Fatalf("a step ran without room: %+v", st2)
	}
	filesMatchStats(t, "at the end", l)
}

// At the cap, a store held in one mostly-live segment is not copied
// whole to make room for a new message: the message is refused (ErrFull)
// and nothing is moved until at least half the segment is dead; then the
// room is made and the message goes in.
func TestFullStoreDoesNotCopyMostlyLiveSegment(t *testing.T) {
	opts := testOptions(t)
	opts.MaxBytes = 64 << 10
	opts.SegmentSize = 1 << 20 // the whole store in one segment
	l := mustOpen(t, opts)
	m := newModel()
	var b Batch
	value := strings.Repeat("v", 1000)
	n := fillToCap(t, l, m, value)
	try := func() error {
		o := ops{{kind: KindMessage, key: "new", value: value}}
		err := l.Commit(o.fill(&b))
		if err == nil {
			m.apply(o)
		}
		if berr := l.compactRequest(writerBarrier); berr != nil {
			t.Fatal(berr)
		}
		return err
	}
	i := 0
	for ; 3*i < n; i++ { // a third dead: mostly live
		o := ops{{del: true, kind: KindMessage, key: fmt.Sprintf("m%04d", i)}}
		commit(t, l, o.fill(&b))
		m.apply(o)
		if err := try(); !errors.Is(err, ErrFull) {
			t.Fatalf("after %d of %d deleted: %v, want ErrFull", i+1, n, err)
		}
	}
	if st := l.Stats(); st.MovedBytes != 0 {
		t.Fatalf("%d bytes moved while the segment was mostly live: %+v", st.MovedBytes, st)
	}
	for ; i < n; i++ {
		o := ops{{del: true, kind: KindMessage, key: fmt.Sprintf("m%04d", i)}}
		commit(t, l, o.fill(&b))
		m.apply(o)
		if err := try(); err == nil {
			break
		} else if !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	}
	st := l.Stats()
	if i == n || 2*(i+1) < n {
		t.Fatalf("room made after %d of %d deleted", i+1, n)
	}
	if st.MovedBytes == 0 || st.MovedBytes > opts.MaxBytes/2 {
		t.Fatalf("moved %d bytes to make room", st.MovedBytes)
	}
	sameState(t, "at the end", dump(t, l), m.dump())
	filesMatchStats(t, "at the end", l)
}
