package flashstore

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"gatemq/internal/fmt"
)

// Get returns a copy of the value of kind+key, read back from its segment
// and checked against its CRC. It returns ErrNotFound when the key is not
// live, a *CorruptError (wrapping ErrCorrupt, naming the segment file and
// offset) when the record fails its check, and ErrClosed after Close.
//
// The key is the stable handle of a value: compaction may move the
// record, and Get follows it. Get may run from many goroutines at once,
// and alongside Commit, rotation and compaction: it reads the record
// through the file it is in when Get starts, which stays open until Get
// returns even if compaction removes it meanwhile.
func (l *Log) Get(kind Kind, key []byte) ([]byte, error) {
	return l.GetAppend(nil, kind, key)
}

// GetAppend is Get appending the value to dst (returned unchanged on an
// error). With room in dst for the record's frame (its value, key and
// about 30 bytes), it allocates nothing.
func (l *Log) GetAppend(dst []byte, kind Kind, key []byte) ([]byte, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return dst, ErrClosed
	}
	at, ok := l.idx.get(kind, key)
	if !ok {
		l.mu.RUnlock()
		return dst, ErrNotFound
	}
	seg := l.segOf(at.seg)
	if seg == nil {
		l.mu.RUnlock()
		return dst, errors.New("flashstore: internal error: live entry in a missing segment")
	}
	seg.pin()
	l.mu.RUnlock()
	defer seg.unpin()
	if l.hooks != nil && l.hooks.get != nil {
		l.hooks.get()
	}

	n := len(dst)
	dst = slices.Grow(dst, int(at.size))
	fr := dst[n : n+int(at.size)]
	var v entryView
	if err := readFrame(seg, at, fr, &v); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			l.opts.Logger.Error("flashstore: corrupt record on read", "err", err)
		}
		return dst[:n], err
	}
	if v.kind != kind || !bytes.Equal(v.key, key) {
		return dst[:n], &CorruptError{File: seg.path, Offset: int64(at.off), Reason: "the record there is not the latest Put of the key read"}
	}
	// The value is inside fr, which starts at dst[n:]: move it down.
	k := copy(fr, v.value)
	return dst[:n+k], nil
}

// readFrame reads the Put frame at at from seg into fr (len at.size),
// verifies it and decodes it into v, whose slices alias fr.
func readFrame(seg *segment, at loc, fr []byte, v *entryView) error {
	m, err := seg.f.ReadAt(fr, int64(at.off))
	if m < len(fr) {
		if err == nil || errors.Is(err, io.EOF) {
			return &CorruptError{File: seg.path, Offset: int64(at.off), Reason: "record cut short on re-read"}
		}
		return fmt.Errorf("flashstore: read %s at offset %d: %w", seg.path, at.off, err)
	}
	return checkFrame(seg.path, at, fr, v)
}
