package flashstore

import (
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gatemq/internal/fmt"
)

// CorruptError describes damage found by Open. It wraps ErrCorrupt.
type CorruptError struct {
	File    string // the damaged or missing segment, or the manifest
	Offset  int64  // where the first bad record starts; -1 when the whole file is at fault
	Reason  string
	Copy    string // the *.broken copy kept aside, if one was made
	Missing bool   // File is not in the folder (removed from either end of the log)
}

func (e *CorruptError) Error() string {
	var s string
	switch {
	case e.Missing:
		s = fmt.Sprintf("%v: %s is missing: %s", ErrCorrupt, e.File, e.Reason)
	case e.Offset < 0:
		s = fmt.Sprintf("%v: %s: %s", ErrCorrupt, e.File, e.Reason)
	default:
		s = fmt.Sprintf("%v: %s at offset %d: %s", ErrCorrupt, e.File, e.Offset, e.Reason)
	}
	if e.Copy != "" {
		s += " (copy kept as " + e.Copy + ")"
	}
	return s
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// recovering is a segment found by Open, with its header's verdict.
type recovering struct {
	*segment
	hdrErr string
}

// pendingEntry is an entry of a batch whose end is not yet read.
type pendingEntry struct {
	_     [0]func() // not comparable: no generated == function (flash size)
	del   bool
	kind  Kind
	key0  int // key in replay.arena[key0:key1]
	key1  int
	loc   loc
	hides hidden // a Delete's
}

// replay is the state of one Open's replay.
type replay struct {
	rep      *RecoveryReport
	pending  []pendingEntry
	arena    []byte
	buf      []byte
	salvaged bool // damage was skipped: compact at once
}

// recover rebuilds the index from the segments in the folder. It reports
// whether a salvage asks for a compaction once the log is open.
func (l *Log) recover(rep *RecoveryReport) (bool, error) {
	dir := l.opts.Dir
	rp := &replay{rep: rep}
	man, err := readManifest(dir)
	var ce *CorruptError
	switch {
	case err == nil:
		if man != nil {
			l.w.manifest = *man
		}
	case errors.As(err, &ce) && l.opts.SalvageCorrupt:
		l.opts.Logger.Error("flashstore: SALVAGING: ignoring the manifest (a segment missing at the end of the log goes unnoticed); a new one is written", "err", err)
	case ce != nil:
		return false, l.refuse(ce)
	default:
		return false, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("flashstore: %w", err)
	}
	changed := false
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if base, ok := strings.CutSuffix(name, ".tmp"); ok {
			if _, ok := parseSegmentName(base); !ok && base != manifestName {
				continue // not ours
			}
			// An unfinished new segment, snapshot or manifest: it was never
			// renamed into place, so nothing refers to it.
			l.opts.Logger.Info("flashstore: removing unfinished file", "file", name)
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return false, fmt.Errorf("flashstore: %w", err)
			}
			changed = true
			continue
		}
		id, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		if !e.Type().IsRegular() {
			// Never followed, never skipped (skipping loses its records
			// silently): someone must look. Salvage does not pass it either.
			return false, l.refuse(notRegular(filepath.Join(dir, name), e.Type()))
		}
		ids = append(ids, id)
	}
	sort.Sort(segIDs(ids))

	segs := make([]recovering, 0, len(ids))
	defer func() {
		// Close what did not make it into l.segs.
		for _, s := range segs {
			if s.f != nil && !slices.Contains(l.segs, s.segment) {
				s.f.Close()
			}
		}
	}()
	for _, id := range ids {
		s, err := openSegment(dir, id)
		if err != nil {
			return false, err
		}
		segs = append(segs, s)
	}

	// The newest readable snapshot holds everything before it.
	snap := -1
	for i, s := range segs {
		if s.hdrErr == "" && s.snapshot {
			snap = i
		}
	}
	if snap > 0 {
		for _, s := range segs[:snap] {
			l.opts.Logger.Info("flashstore: removing segment covered by snapshot", "file", filepath.Base(s.path), "snapshot", filepath.Base(segs[snap].path))
			s.f.Close()
			s.f = nil
			if err := os.Remove(s.path); err != nil {
				return false, fmt.Errorf("flashstore: %w", err)
			}
		}
		segs = segs[snap:]
		changed = true
	}
	// A version 2 manifest names the segments compaction removed: those
	// before its First (when First is there) and those in its gaps. A
	// file still there was left by a crash between the manifest and the
	// removal; its live records are durable at the head of the log.
	var gaps []gap
	if man != nil && man.Version == 2 {
		gaps, _ = parseGaps(man.Gaps, man.First, man.Last) // checked by readManifest
		hasFirst := slices.ContainsFunc(segs, func(s recovering) bool { return s.id == man.First })
		kept := segs[:0]
		for _, s := range segs {
			if !covered(gaps, s.id, s.id+1) && !(hasFirst && s.id < man.First) {
				kept = append(kept, s)
				continue
			}
			l.opts.Logger.Info("flashstore: removing segment left by a compaction", "file", filepath.Base(s.path))
			s.f.Close()
			s.f = nil
			if err := os.Remove(s.path); err != nil {
				return false, fmt.Errorf("flashstore: %w", err)
			}
			changed = true
		}
		segs = kept
	}
	if changed {
		if err := l.syncDir(); err != nil {
			return false, err
		}
	}
	if err := l.checkEnds(rp, segs, man); err != nil {
		return false, err
	}

	var lastSeq uint64
	for i, s := range segs {
		if s.hdrErr != "" {
			if err := l.damaged(rp, s.segment, 0, s.hdrErr); err != nil {
				return false, err
			}
			// Salvage: the whole file is unreadable; its copy is kept.
			s.f.Close()
			s.f = nil
			os.Remove(s.path)
			continue
		}
		if lastSeq != 0 && s.id != lastSeq+1 && !covered(gaps, lastSeq+1, s.id) {
			reason := fmt.Sprintf("sequence gap: segment starts at %d, previous one ended at %d", s.id, lastSeq)
			if !l.opts.SalvageCorrupt {
				return false, &CorruptError{File: s.path, Offset: 0, Reason: reason}
			}
			l.opts.Logger.Error("flashstore: salvaging past a sequence gap: records are lost", "file", s.path, "reason", reason)
			rp.salvaged = true
		}
		s.ord = l.w.nextOrd
		l.w.nextOrd++
		if s.size > maxSegmentBytes {
			return false, fmt.Errorf("flashstore: %s: %d bytes, more than a segment may hold", s.path, s.size)
		}
		l.segs = append(l.segs, s.segment)
		last := i == len(segs)-1
		end, err := l.replaySegment(rp, s.segment, last && !s.snapshot)
		if err != nil {
			return false, err
		}
		lastSeq = end
		s.end = end + 1
	}
	l.w.nextSeq = lastSeq + 1
	return rp.salvaged, nil
}

// checkEnds refuses a log whose first or newest segment is missing (a
// missing segment in between is a sequence gap, seen by the replay).
// segs are the segments from the newest snapshot on, less the leftovers
// of compaction. The first must be the log's start (FirstSeq 1), a
// snapshot or the first segment a version 2 manifest names, and not
// older than the manifest's first; the newest must not be older than the
// manifest's newest. man is nil for a fresh folder or a log written
// before manifests.
func (l *Log) checkEnds(rp *replay, segs []recovering, man *Manifest) error {
	missing := func(id uint64, reason string) error {
		return l.lost(rp, &CorruptError{File: l.segmentPath(id), Offset: -1, Missing: true, Reason: reason})
	}
	if len(segs) == 0 {
		if man != nil {
			return missing(man.Last, fmt.Sprintf("no segment file is left, and the manifest records the log as %s to %s",
				segmentName(man.First), segmentName(man.Last)))
		}
		return nil // a fresh folder
	}
	first, newest := segs[0], segs[len(segs)-1]
	switch {
	case first.hdrErr != "":
		// Unreadable header: the replay reports the damage.
	case man != nil && man.First > first.id:
		return missing(man.First, fmt.Sprintf("the manifest records it as the first segment of the log; the oldest left is %s",
			filepath.Base(first.path)))
	case !first.snapshot && first.id != 1 && !(man != nil && man.Version == 2 && man.First == first.id):
		if man != nil && man.First < first.id {
			return missing(man.First, fmt.Sprintf("the manifest records it as the first segment of the log; the oldest left, %s, starts at sequence %d and is not a snapshot",
				filepath.Base(first.path), first.id))
		}
		return l.lost(rp, &CorruptError{File: first.path, Offset: -1, Reason: fmt.Sprintf(
			"the segment file(s) before this one are missing: a log starts at %s, at a compaction snapshot or at the segment its manifest names first, and this segment starts at sequence %d and is not a snapshot",
			segmentName(1), first.id)})
	}
	if man != nil && man.Last > newest.id {
		return missing(man.Last, fmt.Sprintf("the manifest records it as the newest segment of the log; the newest left is %s",
			filepath.Base(newest.path)))
	}
	return nil
}

// lost reports segments missing from the log: a *CorruptError, or when
// salvaging, nil after an error log line (the records are gone).
func (l *Log) lost(rp *replay, ce *CorruptError) error {
	if !l.opts.SalvageCorrupt {
		return l.refuse(ce)
	}
	l.opts.Logger.Error("flashstore: SALVAGING past a missing segment: its records are lost", "err", ce)
	rp.salvaged = true
	return nil
}

// refuse logs why Open refuses the log and returns ce.
func (l *Log) refuse(ce *CorruptError) error {
	l.opts.Logger.Error("flashstore: corrupt log, refusing to open", "err", ce)
	return ce
}

// notRegular is the error for a segment name that is not a regular file.
func notRegular(path string, m os.FileMode) *CorruptError {
	return &CorruptError{File: path, Offset: -1, Reason: "not a regular file (" + fileKind(m) +
		"): a segment must be a plain file in the log's folder; put the file itself there, or move it away if it is not part of this log"}
}

// fileKind names the type of a file that is not a regular one.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "type " + m.Type().String()
}

// openSegment opens a segment file and reads its header.
func openSegment(dir string, id uint64) (recovering, error) {
	path := filepath.Join(dir, segmentName(id))
	f, err := os.OpenFile(path, os.O_RDWR|oNoFollow, 0)
	if err != nil {
		return recovering{}, fmt.Errorf("flashstore: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return recovering{}, fmt.Errorf("flashstore: %w", err)
	}
	if !st.Mode().IsRegular() { // replaced since the folder was listed
		f.Close()
		return recovering{}, notRegular(path, st.Mode())
	}
	s := recovering{segment: &segment{id: id, path: path, f: f, size: st.Size()}}
	sc := newScanner(f, s.size, 0, nil)
	_, body, err := sc.next()
	switch {
	case err == nil:
	case errors.Is(err, io.EOF), errors.Is(err, errTorn), errors.Is(err, errBadFrame):
		s.hdrErr = "unreadable segment header"
		return s, nil
	default:
		f.Close()
		return recovering{}, fmt.Errorf("flashstore: read %s: %w", path, err)
	}
	h, err := parseHeader(body)
	if err != nil {
		s.hdrErr = "bad segment header: " + err.Error()
		return s, nil
	}
	if h.FirstSeq != id {
		s.hdrErr = fmt.Sprintf("header seq %d does not match the file name", h.FirstSeq)
		return s, nil
	}
	s.snapshot = h.Snapshot
	s.hdrSize = sc.pos()
	return s, nil
}

// replaySegment applies the whole batches of s to the index and returns
// the seq of its last good entry. In the active (last, non-snapshot)
// segment, a damaged or incomplete tail that no later durable write
// follows is a torn write: it is cut off. Any other damage is corruption.
func (l *Log) replaySegment(rp *replay, s *segment, active bool) (uint64, error) {
	sc := newScanner(s.f, s.size, s.hdrSize, rp.buf)
	defer func() { rp.buf = sc.buf }()
	rp.pending, rp.arena = rp.pending[:0], rp.arena[:0]
	goodEnd, goodSeq := s.hdrSize, s.id
	seq := s.id
	var v entryView
	var bad int64 = -1
	reason := ""
	for {
		off, body, err := sc.next()
		if err == io.EOF {
			if len(rp.pending) > 0 {
				bad, reason = goodEnd, "incomplete batch at the end"
			}
			break
		}
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, errBadFrame) {
				return 0, fmt.Errorf("flashstore: read %s: %w", s.path, err)
			}
			bad, reason = off, "damaged record ("+err.Error()+")"
			break
		}
		if err := parseEntry(body, &v); err != nil {
			bad, reason = off, "undecodable entry"
			break
		}
		if v.seq != seq+1 {
			bad, reason = off, fmt.Sprintf("sequence %d where %d was expected", v.seq, seq+1)
			break
		}
		seq = v.seq
		key0 := len(rp.arena)
		rp.arena = append(rp.arena, v.key...)
		p := pendingEntry{
			del: v.op&opMask == OpDelete, kind: v.kind, key0: key0, key1: len(rp.arena),
			loc: loc{off: uint32(off), seg: s.ord, size: uint32(frameHeader + len(body))},
		}
		if p.del {
			p.hides = v.hides(s.id)
		}
		rp.pending = append(rp.pending, p)
		if v.op&FlagBatchEnd != 0 {
			for _, p := range rp.pending {
				key := rp.arena[p.key0:p.key1]
				if p.del {
					l.applyDel(p.kind, key)
					s.noteTombs(int(p.loc.size), p.hides)
				} else {
					l.applyPut(p.kind, key, p.loc, s)
				}
			}
			rp.rep.Records += len(rp.pending)
			rp.pending, rp.arena = rp.pending[:0], rp.arena[:0]
			goodEnd, goodSeq = sc.pos(), seq
		}
	}
	if bad < 0 {
		return goodSeq, nil
	}
	if active && !barrierAfter(s.f, s.size, bad, goodSeq) {
		cut := s.size - goodEnd
		l.opts.Logger.Warn("flashstore: truncating torn tail", "file", s.path, "offset", goodEnd, "bytes", cut, "reason", reason)
		if err := l.truncate(s, goodEnd); err != nil {
			return 0, err
		}
		rp.rep.TruncatedBytes += cut
		return goodSeq, nil
	}
	if err := l.damaged(rp, s, bad, reason); err != nil {
		return 0, err
	}
	// Salvage: keep the good prefix.
	if err := l.truncate(s, goodEnd); err != nil {
		return 0, err
	}
	return goodSeq, nil
}

// truncate cuts s to size and makes that durable.
func (l *Log) truncate(s *segment, size int64) error {
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("flashstore: truncate %s: %w", s.path, err)
	}
	if err := l.sync(s.f); err != nil {
		return fmt.Errorf("flashstore: truncate %s: %w", s.path, err)
	}
	s.size = size
	return nil
}

// damaged handles corruption at off in s: it keeps a *.broken copy, and
// returns a *CorruptError, or nil when salvaging (loudly).
func (l *Log) damaged(rp *replay, s *segment, off int64, reason string) error {
	cp, err := quarantine(s)
	if err != nil {
		l.opts.Logger.Error("flashstore: cannot copy damaged segment aside", "file", s.path, "err", err)
	} else {
		rp.rep.Quarantined = append(rp.rep.Quarantined, cp)
	}
	cerr := &CorruptError{File: s.path, Offset: off, Reason: reason, Copy: cp}
	if !l.opts.SalvageCorrupt {
		l.opts.Logger.Error("flashstore: corrupt log, refusing to open", "err", cerr)
		return cerr
	}
	l.opts.Logger.Error("flashstore: SALVAGING corrupt log: records from this offset on are dropped", "err", cerr)
	rp.salvaged = true
	return nil
}

// quarantine copies s aside as NAME.broken (NAME.N.broken if taken by a
// different file) and returns the copy's path. An identical existing copy
// is reused, so a process restarted in a loop does not fill the flash.
func quarantine(s *segment) (string, error) {
	sum, size, err := fileSum(s.f)
	if err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		name := s.path + ".broken"
		if i > 0 {
			name = fmt.Sprintf("%s.%d.broken", s.path, i)
		}
		old, err := os.Open(name)
		if err == nil {
			osum, osize, err := fileSum(old)
			old.Close()
			if err == nil && osize == size && osum == sum {
				return name, nil
			}
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if err := copyFileSync(name, s.f); err != nil {
			os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", errors.New("flashstore: too many .broken copies")
}

// fileSum returns the CRC-32C and size of a whole file.
func fileSum(f *os.File) (uint32, int64, error) {
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62))
	return h.Sum32(), n, err
}

// copyFileSync copies src into a new file name and fdatasyncs it.
func copyFileSync(name string, src *os.File) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.NewSectionReader(src, 0, 1<<62))
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openActive readies the writer after recovery: it appends to the last
// segment (synced once, so the next write is a barrier) or starts a new
// one when there is none or the last is a snapshot.
func (l *Log) openActive() error {
	w := &l.w
	w.cutAt = -1
	if w.nextSeq == 0 {
		w.nextSeq = 1
	}
	if n := len(l.segs); n > 0 && !l.segs[n-1].snapshot {
		w.active = l.segs[n-1]
		if err := l.sync(w.active.f); err != nil {
			return err
		}
		w.lastSync = time.Now()
		return nil
	}
	return l.newActive()
}

// segIDs sorts segment ids (see byLogOrder for why not slices.Sort).
type segIDs []uint64

func (s segIDs) Len() int           { return len(s) }
func (s segIDs) Less(i, j int) bool { return s[i] < s[j] }
func (s segIDs) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
