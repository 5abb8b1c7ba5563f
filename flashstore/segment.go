package flashstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// segment is one segment file: a log segment or a compaction snapshot.
// Sealed segments are never written again; the active one is appended to
// by the writer goroutine only.
type segment struct {
	ord      uint32 // in-memory ordinal, increasing in log order
	id       uint64 // FirstSeq of its header, and its file name
	path     string
	f        *os.File
	size     int64 // bytes of good records (the file's size once recovered)
	hdrSize  int64 // bytes of its header frame
	snapshot bool
	refs     int  // Range calls reading it (under Log.mu)
	removed  bool // deleted by compaction or closed: close f when refs drop to 0
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

// readEntry reads and verifies the Put frame at l from w and decodes it
// into v, whose slices alias w's buffer.
func readEntry(w *readWindow, l loc, v *entryView) error {
	fr, err := w.at(l.off, int(l.size))
	if err != nil {
		return fmt.Errorf("%w: %s at offset %d: %v", ErrCorrupt, w.f.Name(), l.off, err)
	}
	if int(l.size) < frameHeader || !frameCRCOK(fr, fr[frameHeader:]) {
		return fmt.Errorf("%w: %s at offset %d: checksum mismatch on re-read", ErrCorrupt, w.f.Name(), l.off)
	}
	if err := parseEntry(fr[frameHeader:], v); err != nil || v.op&opMask != OpPut {
		return fmt.Errorf("%w: %s at offset %d: undecodable entry on re-read", ErrCorrupt, w.f.Name(), l.off)
	}
	return nil
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
	if err := l.hookWrite(tmp); err != nil {
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
