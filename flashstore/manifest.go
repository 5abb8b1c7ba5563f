package flashstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"

	"gatemq/flashstore/internal/msgp"
	"gatemq/internal/fmt"
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

//
// Version 2 (written only once compaction has removed a segment from the
// start or the middle of the log, which version 1 readers would take for
// a lost one) adds the gaps; see Manifest.

const (
	manifestName  = "MANIFEST"
	manifestMagic = "GMQM"
	// maxManifest bounds what is read of MANIFEST: one without gaps is
	// about 20 bytes, and a gap takes at most 20 more.
	maxManifest = 16 << 20
)

// gap is a range of sequence numbers [from, to) whose segments compaction
// removed.
type gap struct{ from, to uint64 }

// parseGaps decodes Manifest.Gaps and checks that the gaps ascend, do not
// touch and lie between first and last.
func parseGaps(b []byte, first, last uint64) ([]gap, error) {
	var gaps []gap
	prev := first
	for len(b) > 0 {
		from, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errBadFrame
		}
		b = b[n:]
		to, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errBadFrame
		}
		b = b[n:]
		if from <= prev || to <= from || to > last {
			return nil, errBadFrame
		}
		gaps = append(gaps, gap{from, to})
		prev = to
	}
	return gaps, nil
}

// covered reports whether gaps hold the whole range [from, to).
func covered(gaps []gap, from, to uint64) bool {
	for _, g := range gaps {
		if g.from <= from && to <= g.to {
			return true
		}
	}
	return false
}

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
	case m.Version != 1 && m.Version != 2:
		return bad(fmt.Sprintf("manifest version %d is not supported", m.Version))
	case m.First == 0 || m.Last < m.First:
		return bad(fmt.Sprintf("damaged manifest (segments %d..%d)", m.First, m.Last))
	case m.Version == 1 && len(m.Gaps) != 0:
		return bad("damaged manifest (gaps in version 1)")
	}
	if _, err := parseGaps(m.Gaps, m.First, m.Last); err != nil {
		return bad("damaged manifest (bad gaps)")
	}
	return &m, nil
}

// manifestOf returns the manifest that describes segs: version 1 when a
// reader of version 1 would open the log (it starts at FirstSeq 1 or a
// snapshot, without gaps), else version 2 with the gaps between segs.
func manifestOf(segs []*segment) Manifest {
	m := Manifest{Magic: manifestMagic, Version: 1, First: segs[0].id, Last: segs[len(segs)-1].id}
	for i := 1; i < len(segs); i++ {
		if a, b := segs[i-1], segs[i]; a.end < b.id {
			m.Gaps = binary.AppendUvarint(m.Gaps, a.end)
			m.Gaps = binary.AppendUvarint(m.Gaps, b.id)
		}
	}
	if len(m.Gaps) > 0 || !(segs[0].id == 1 || segs[0].snapshot) {
		m.Version = 2
	}
	return m
}

// appendManifest appends m's encoding: version 1 without the Gaps field,
// byte for byte what version 1 writers wrote.
func appendManifest(b []byte, m *Manifest) []byte {
	if m.Version != 1 {
		b, _ = m.MarshalMsg(b) // cannot fail: no interfaces or limits in the type
		return b
	}
	b = msgp.AppendArrayHeader(b, 4)
	b = msgp.AppendString(b, m.Magic)
	b = msgp.AppendUint8(b, m.Version)
	b = msgp.AppendUint64(b, m.First)
	return msgp.AppendUint64(b, m.Last)
}

func sameManifest(a, b *Manifest) bool {
	return a.Magic == b.Magic && a.Version == b.Version && a.First == b.First && a.Last == b.Last && bytes.Equal(a.Gaps, b.Gaps)
}

// writeManifest records l.segs's first and newest segments, and the gaps
// between them, in MANIFEST, crash-safely, unless it already says so.
// Callers write it after those segments are durable in the folder, and
// before they remove files it no longer names. The caller is the writer
// (or Open).
func (l *Log) writeManifest() error {
	_, err := l.putManifest(l.segs)
	return err
}

// putManifest is writeManifest for the segments segs (which compaction
// is about to make the log's). renamed reports whether MANIFEST was
// replaced: when it was and err is not nil, the folder's fsync failed, so
// a power cut may leave either manifest; when it was not, MANIFEST is as
// it was.
func (l *Log) putManifest(segs []*segment) (renamed bool, err error) {
	if len(segs) == 0 || l.w.salvaging {
		// A salvaged log keeps the old manifest until the compaction that
		// follows the salvage has rewritten it whole.
		return false, nil
	}
	m := manifestOf(segs)
	if sameManifest(&l.w.manifest, &m) {
		return false, nil
	}
	frame := appendManifest(make([]byte, frameHeader, 64), &m)
	finishFrame(frame, 0)

	final := filepath.Join(l.opts.Dir, manifestName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return false, fmt.Errorf("flashstore: manifest: %w", err)
	}
	err = l.hookWrite(tmp, len(frame))
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
		return false, fmt.Errorf("flashstore: manifest: %w", err)
	}
	if err := l.syncDir(); err != nil {
		// The rename may not be durable yet; the old manifest, if that is
		// what a power cut leaves, is an older lower bound: still right.
		return true, fmt.Errorf("flashstore: manifest: %w", err)
	}
	l.w.manifest = m
	return true, nil
}

// updateManifest is writeManifest where a failure must not fail the
// caller: the manifest on disk then names older segments, which Open
// accepts, and the next new segment writes it again.
func (l *Log) updateManifest() {
	if err := l.writeManifest(); err != nil {
		l.opts.Logger.Warn("flashstore: manifest not updated (it will be at the next new segment)", "err", err)
	}
}
