package flashstore

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"gatemq/internal/fmt"
)

// segment is one segment file: a log segment or a compaction snapshot.
// Sealed segments are never written again; the active one is appended to
// by the writer goroutine only.
type segment struct {
	ord      uint32 // in-memory ordinal, increasing in log order
	id       uint64 // FirstSeq of its header, and its file name
	path     string
	f        *os.File
	size     int64  // bytes of good records (the file's size once recovered)
	hdrSize  int64  // bytes of its header frame
	end      uint64 // seq after its last entry (the next segment's FirstSeq once sealed)
	snapshot bool

	// What compaction needs to pick victims, kept by the writer under
	// Log.mu: the live Puts in the segment, and its Deletes with the
	// range of segment ids [tombLo, tombHi] that may hold Puts they hide
	// (tombHi 0: none; segment ids start at 1).
	live           int64 // framed bytes of live Puts
	liveN          int   // live Puts
	tombs          int64 // framed bytes of Deletes
	tombLo, tombHi uint64
	bad            bool // compaction found damage in it: not picked again
	inStep         bool // a victim of the compaction step under way (writer only)

	// refs counts readers (Get, Range) using f; removed is set when the
	// segment leaves the log (compaction, Close). f is closed once both
	// say so.
	refs      atomic.Int32
	removed   atomic.Bool
	closeOnce sync.Once
}

// pin keeps s's file open until unpin. The caller holds Log.mu (either
// way) and found s in Log.segs.
func (s *segment) pin() { s.refs.Add(1) }

// unpin releases a pin and closes the file of a removed segment when it
// was the last.
func (s *segment) unpin() {
	if s.refs.Add(-1) == 0 && s.removed.Load() {
		s.closeFile()
	}
}

// retire marks s removed from the log and closes its file unless a
// reader still has it pinned.
func (s *segment) retire() {
	s.removed.Store(true)
	if s.refs.Load() == 0 {
		s.closeFile()
	}
}

func (s *segment) closeFile() {
	s.closeOnce.Do(func() {
		if s.f != nil {
			s.f.Close()
		}
	})
}

// noteTombs adds a Delete frame of size bytes hiding the segments h.
func (s *segment) noteTombs(size int, h hidden) {
	s.tombs += int64(size)
	lo, hi := h.span()
	if hi == 0 {
		return
	}
	if s.tombHi == 0 {
		s.tombLo, s.tombHi = lo, hi
		return
	}
	s.tombLo, s.tombHi = min(s.tombLo, lo), max(s.tombHi, hi)
}

// segmentName is the file name of the segment whose header has seq id.
func segmentName(id uint64) string { return fmt.Sprintf("%016x.seg", id) }

// parseSegmentName returns the id of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	return id, err == nil
}

// syncDir fsyncs a folder so that renames and removals in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flashstore: fsync folder %s: %w", dir, err)
	}
	return nil
}

// readWindow reads frames of one file at given offsets through a window
// buffer, so that reading in offset order costs one read call per window
// rather than one per record.
type readWindow struct {
	f     *os.File
	buf   []byte
	start int64 // file offset of buf[0]
	n     int   // valid bytes in buf
}

const windowSize = 256 << 10

// at returns the n bytes at off; they stay valid until the next call.
func (w *readWindow) at(off int64, n int) ([]byte, error) {
	if off >= w.start && off+int64(n) <= w.start+int64(w.n) {
		i := int(off - w.start)
		return w.buf[i : i+n], nil
	}
	size := max(n, windowSize)
	if cap(w.buf) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:cap(w.buf)]
	m, err := w.f.ReadAt(w.buf, off)
	if m < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		w.n = 0
		return nil, err
	}
	w.start, w.n = off, m
	return w.buf[:n], nil
}

// readEntry reads and verifies the Put frame at l of the file path from w
// and decodes it into v, whose slices alias w's buffer. Damage is a
// *CorruptError.
func readEntry(w *readWindow, path string, l loc, v *entryView) error {
	fr, err := w.at(int64(l.off), int(l.size))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &CorruptError{File: path, Offset: int64(l.off), Reason: "record cut short on re-read"}
		}
		return fmt.Errorf("flashstore: read %s at offset %d: %w", path, l.off, err)
	}
	return checkFrame(path, l, fr, v)
}

// writeNewSegment creates the segment file for id in dir crash-safely:
// it writes the header and body (if any) to a .tmp file, fdatasyncs it,
// renames it into place and fsyncs the folder. It returns the file, open
// for reading and writing, and its size. On error nothing is left behind.
func (l *Log) writeNewSegment(id uint64, snapshot bool, body func(f *os.File, off int64) (int64, error)) (*os.File, int64, int64, error) {
	final := l.segmentPath(id)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, 0, 0, err
	}
	fail := func(err error) (*os.File, int64, int64, error) {
		f.Close()
		os.Remove(tmp)
		return nil, 0, 0, err
	}
	hdr := appendHeaderFrame(nil, id, snapshot)
	if err := l.hookWrite(tmp, len(hdr)); err != nil {
		return fail(err)
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fail(err)
	}
	size := int64(len(hdr))
	l.countWritten(size)
	if body != nil {
		n, err := body(f, size)
		l.countWritten(n)
		if err != nil {
			return fail(err)
		}
		size += n
	}
	if err := l.sync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	// Reopen under the final name, so that f.Name() (in errors and logs)
	// is right.
	if f2, err := os.OpenFile(final, os.O_RDWR, 0); err == nil {
		f.Close()
		f = f2
	}
	if err := l.syncDir(); err != nil {
		// The rename may or may not survive a power cut, so nothing may be
		// written into this file: take it back.
		f.Close()
		os.Remove(final)
		return nil, 0, 0, err
	}
	return f, size, int64(len(hdr)), nil
}

// segmentPath is the path of the segment file whose header has seq id.
func (l *Log) segmentPath(id uint64) string { return filepath.Join(l.opts.Dir, segmentName(id)) }
