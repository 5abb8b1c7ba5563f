package flashstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The manifest: a small file that names the log's first and newest
// segments, so that Open notices a segment file removed from either end
// of the log. Sequence numbers catch a file missing in the middle (a
// gap), and the first-segment rule (a log starts at seq 1 or at a
// snapshot) catches a missing first file even without a manifest, but
// nothing in the segments themselves can tell that the newest one, with
// the latest acknowledged batches, is gone.
//
// MANIFEST holds one frame (length, CRC-32C, body, as in a segment) whose
// body is a Manifest. It is replaced as a whole through MANIFEST.tmp,
// fdatasync, rename and folder fsync, after the segment it names is
// durable in the folder. A crash between the two leaves a manifest that
// names an older segment than the folder holds: its First and Last are
// lower bounds, which is all Open relies on. Versions that predate the
// manifest ignore the file; a log without one (theirs, or a fresh folder)
// gets one when it is opened.

const (
	manifestName    = "MANIFEST"
	manifestMagic   = "GMQM"
	manifestVersion = 1
	// maxManifest bounds what is read of MANIFEST: a real one is about
	// 40 bytes.
	maxManifest = 4 << 10
)

// readManifest reads dir/MANIFEST. It returns nil and no error when there
// is none, and a *CorruptError when it exists but cannot be trusted.
func readManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, manifestName)
	bad := func(reason string) (*Manifest, error) {
		return nil, &CorruptError{File: path, Offset: -1, Reason: reason +
			" (the manifest guards against a lost segment; remove it to open the log without that check)"}
	}
	if st, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("flashstore: %w", err)
	} else if !st.Mode().IsRegular() {
		return bad("not a regular file (" + fileKind(st.Mode()) + "): unusable manifest")
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("flashstore: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("flashstore: %w", err)
	} else if !st.Mode().IsRegular() {
		return bad("not a regular file (" + fileKind(st.Mode()) + "): unusable manifest")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("flashstore: read %s: %w", path, err)
	}
	if len(data) < frameHeader || len(data) > maxManifest {
		return bad(fmt.Sprintf("damaged manifest (%d bytes)", len(data)))
	}
	n, err := frameLen(data[:frameHeader], int64(len(data)-frameHeader))
	if err != nil || frameHeader+n != len(data) || !frameCRCOK(data, data[frameHeader:]) {
		return bad("damaged manifest (bad frame or checksum)")
	}
	var m Manifest
	rest, err := m.UnmarshalMsg(data[frameHeader:])
	switch {
	case err != nil || len(rest) != 0 || m.Magic != manifestMagic:
		return bad("damaged manifest (undecodable)")
	case m.Version != manifestVersion:
		return bad(fmt.Sprintf("manifest version %d is not supported", m.Version))
	case m.First == 0 || m.Last < m.First:
		return bad(fmt.Sprintf("damaged manifest (segments %d..%d)", m.First, m.Last))
	}
	return &m, nil
}

// writeManifest records l.segs's first and newest segments in MANIFEST,
// crash-safely, unless it already says so. Callers write it after those
// segments are durable in the folder.
func (l *Log) writeManifest() error {
	l.mu.RLock()
	n := len(l.segs)
	var m Manifest
	start := false
	if n > 0 {
		m = Manifest{Magic: manifestMagic, Version: manifestVersion, First: l.segs[0].id, Last: l.segs[n-1].id}
		start = l.segs[0].id == 1 || l.segs[0].snapshot
	}
	l.mu.RUnlock()
	// Only a log that begins at its start or at a snapshot is recorded: a
	// salvaged one that does not yet keeps the old manifest until its
	// compaction writes the snapshot.
	if n == 0 || !start || l.w.manifest == m {
		return nil
	}
	frame := make([]byte, frameHeader, 64)
	frame, _ = m.MarshalMsg(frame) // cannot fail: no interfaces or limits in the type
	finishFrame(frame, 0)

	final := filepath.Join(l.opts.Dir, manifestName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("flashstore: manifest: %w", err)
	}
	err = l.hookWrite(tmp)
	if err == nil {
		var k int
		k, err = f.Write(frame)
		l.countWritten(int64(k))
	}
	if err == nil {
		err = l.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("flashstore: manifest: %w", err)
	}
	if err := l.syncDir(); err != nil {
		// The rename may not be durable yet; the old manifest, if that is
		// what a power cut leaves, is an older lower bound: still right.
		return fmt.Errorf("flashstore: manifest: %w", err)
	}
	l.w.manifest = m
	return nil
}

// updateManifest is writeManifest where a failure must not fail the
// caller: the manifest on disk then names older segments, which Open
// accepts, and the next new segment writes it again.
func (l *Log) updateManifest() {
	if err := l.writeManifest(); err != nil {
		l.opts.Logger.Warn("flashstore: manifest not updated (it will be at the next new segment)", "err", err)
	}
}
