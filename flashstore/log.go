package flashstore

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gatemq/internal/fmt"
)

// Log is a durable keyed append-only log. Commit, Range, Compact and Stats
// may be called from many goroutines at once; one writer goroutine, owned
// by the Log and stopped by Close, does all writing.
type Log struct {
	opts Options

	// sendMu guards closing against Commit's send on reqs.
	sendMu  sync.RWMutex
	closing bool
	reqs    chan *Batch
	done    chan struct{} // closed when the writer goroutine has exited

	lockFile *os.File
	hooks    *testHooks  // nil outside tests
	noAuto   atomic.Bool // tests: no automatic compaction

	// mu guards what Get, Range and Stats read: idx, segs (and their
	// counts), stats, closed and ranges. Only the writer goroutine
	// mutates idx and segs (under mu), so the writer reads them without
	// it.
	mu     sync.RWMutex
	idx    *index
	segs   []*segment // in log order; the last is active unless it is a snapshot
	stats  Stats
	closed bool
	ranges []*ranging // Range calls under way

	// Writer state, owned by the writer goroutine (and by Open before it
	// starts).
	w writerState
}

// Stats are counters of a Log since Open, and its current size.
type Stats struct {
	BytesWritten int64 // bytes written to segment and snapshot files, headers included
	Fsyncs       int64 // fdatasync / fsync calls on files and the folder
	Compactions  int64 // completed compactions (each removes one or more segments)
	MovedBytes   int64 // bytes compaction wrote: live records moved forward, Deletes kept (part of BytesWritten)
	Batches      int64 // committed batches
	Records      int64 // committed records (puts and deletes)
	Writes       int64 // group writes: one write call, at most one fdatasync each
	LiveKeys     int   // keys whose latest record is a Put
	LiveBytes    int64 // framed bytes of the live Puts
	TotalBytes   int64 // bytes of all segment files
	Segments     int   // segment files, snapshot included
	MaxBytes     int64 // the size cap in force (Options.MaxBytes), 0 for none
	IndexBytes   int64 // RAM held by the key index
}

// RecoveryReport says what Open found and did.
type RecoveryReport struct {
	Segments       int           // segment files in use after recovery
	Records        int           // entries replayed
	LiveKeys       int           // live keys after replay
	TruncatedBytes int64         // bytes cut from a torn tail of the last segment
	Quarantined    []string      // *.broken copies made of damaged files
	Duration       time.Duration // time Open took
}

// testHooks injects faults in tests.
type testHooks struct {
	write func(path string) error        // before a write to path
	alloc func(path string, n int) error // before n bytes are written to path (a small file system)
	free  func() int64                   // the file system's free bytes, instead of statfs
	sync  func(path string) error        // before an fdatasync of path, or of the folder's fsync
	point func(name string)              // at the named steps of a compaction
	get   func()                         // in Get, between pinning the segment and reading it
}

// hookPoint marks a step of a compaction for tests (crash points).
func (l *Log) hookPoint(name string) {
	if l.hooks != nil && l.hooks.point != nil {
		l.hooks.point(name)
	}
}

// hookWrite is called before n bytes are written to path.
func (l *Log) hookWrite(path string, n int) error {
	if l.hooks == nil {
		return nil
	}
	if l.hooks.write != nil {
		if err := l.hooks.write(path); err != nil {
			return err
		}
	}
	if l.hooks.alloc != nil {
		return l.hooks.alloc(path, n)
	}
	return nil
}

// sync fdatasyncs f and counts it.
func (l *Log) sync(f *os.File) error {
	if l.hooks != nil && l.hooks.sync != nil {
		if err := l.hooks.sync(f.Name()); err != nil {
			return err
		}
	}
	l.countSync()
	return fdatasync(f)
}

func (l *Log) syncDir() error {
	if l.hooks != nil && l.hooks.sync != nil {
		if err := l.hooks.sync(l.opts.Dir); err != nil {
			return err
		}
	}
	l.countSync()
	return syncDir(l.opts.Dir)
}

func (l *Log) countSync() {
	l.mu.Lock()
	l.stats.Fsyncs++
	l.mu.Unlock()
}

func (l *Log) countWritten(n int64) {
	l.mu.Lock()
	l.stats.BytesWritten += n
	l.mu.Unlock()
}

// Open opens the log in opts.Dir, creating it if needed, and recovers its
// state: it replays every segment, verifying each record's CRC, truncates
// a torn tail of the last segment, and refuses damage elsewhere with an
// error wrapping ErrCorrupt (unless opts.SalvageCorrupt). The report is
// filled in even when Open fails.
func Open(opts Options) (*Log, RecoveryReport, error) {
	start := time.Now()
	var rep RecoveryReport
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, rep, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, rep, fmt.Errorf("flashstore: %w", err)
	}
	lf, err := lockDir(opts.Dir)
	if err != nil {
		return nil, rep, err
	}
	l := &Log{
		opts:     opts,
		reqs:     make(chan *Batch, 256),
		done:     make(chan struct{}),
		lockFile: lf,
		idx:      newIndex(),
	}
	needCompact, err := l.recover(&rep)
	l.w.salvaging = needCompact
	if err == nil {
		err = l.openActive()
	}
	if err == nil && needCompact {
		err = l.snapshot()
	}
	if err == nil {
		// A log from before manifests, or one whose end moved (a snapshot
		// finished, a salvage), gets its manifest now.
		l.updateManifest()
	}
	if err != nil {
		l.closeFiles()
		return nil, rep, err
	}
	rep.Segments = len(l.segs)
	rep.LiveKeys = l.idx.len()
	rep.Duration = time.Since(start)
	l.opts.Logger.Info("flashstore: opened", "dir", opts.Dir, "segments", rep.Segments,
		"records", rep.Records, "live_keys", rep.LiveKeys, "truncated_bytes", rep.TruncatedBytes,
		"quarantined", len(rep.Quarantined), "duration", rep.Duration)
	go l.run()
	return l, rep, nil
}

// Close waits for the batches already handed to Commit, syncs the active
// segment, stops the writer and closes the files. Commit, Compact and
// Range return ErrClosed afterwards; a Range still running finishes.
func (l *Log) Close() error {
	l.sendMu.Lock()
	if l.closing {
		l.sendMu.Unlock()
		return ErrClosed
	}
	l.closing = true
	close(l.reqs)
	l.sendMu.Unlock()
	<-l.done
	err := l.w.closeErr
	l.closeFiles()
	return err
}

// closeFiles closes every segment not pinned by a reader and the lock.
func (l *Log) closeFiles() {
	l.mu.Lock()
	l.closed = true
	for _, s := range l.segs {
		s.retire()
	}
	l.mu.Unlock()
	if l.lockFile != nil {
		l.lockFile.Close()
	}
}

// Stats returns the log's counters and sizes.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.stats
	s.LiveKeys = l.idx.len()
	s.LiveBytes = l.idx.live
	s.TotalBytes = 0
	for _, seg := range l.segs {
		s.TotalBytes += seg.size
	}
	s.Segments = len(l.segs)
	s.MaxBytes = l.opts.MaxBytes
	s.IndexBytes = l.idx.bytes()
	return s
}

// Commit appends b to the log and returns when it is durable under the
// sync policy: with SyncAlways, after the fdatasync that covers it. A
// batch is atomic: after a crash either all its records are present or
// none. Many goroutines may Commit at once; their batches are grouped into
// one write and one fdatasync. b must not be changed or committed again
// until Commit returns; then it may be Reset and reused.
//
// Commit returns ErrFull when the batch does not fit under
// Options.MaxBytes, ErrClosed after Close, the error recorded by a failed
// Put, or a write or sync error (such as ENOSPC): then nothing of the batch
// is applied, the segment is cut back to its last good offset, and later
// commits work again once the cause is gone. An empty batch returns nil at
// once.
func (l *Log) Commit(b *Batch) error {
	if b.err != nil {
		return b.err
	}
	if b.n == 0 {
		return nil
	}
	if b.done == nil {
		b.done = make(chan error, 1)
	}
	l.sendMu.RLock()
	if l.closing {
		l.sendMu.RUnlock()
		return ErrClosed
	}
	l.reqs <- b
	l.sendMu.RUnlock()
	return <-b.done
}

// Compact seals the active segment and compacts every segment that holds
// anything but live Puts: their live records (and the Deletes still
// needed) move to the head of the log, and their files are removed, a
// segment's worth at a time (see compact.go). A crash at any step leaves
// a log that opens with the same live state. The writer compacts by
// itself the segments that are mostly dead; Compact forces it for all.
func (l *Log) Compact() error { return l.compactRequest(compactSegments) }

// compactRequest has the writer compact as mode says, between batches.
func (l *Log) compactRequest(mode compactMode) error {
	b := &Batch{compact: mode, done: make(chan error, 1)}
	l.sendMu.RLock()
	if l.closing {
		l.sendMu.RUnlock()
		return ErrClosed
	}
	l.reqs <- b
	l.sendMu.RUnlock()
	return <-b.done
}
