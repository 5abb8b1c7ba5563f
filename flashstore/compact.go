package flashstore

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"gatemq/internal/fmt"
)

// Compaction, segment by segment.
//
// A sealed segment whose kept bytes (its live Puts, and its Deletes while
// a segment they may hide is left) are less than half its size is mostly
// dead. Compaction picks such segments (victims), fewest kept bytes
// first, and for each step:
//
//  1. reads every victim through, checking every CRC, and appends to the
//     active segment, each as a batch of its own with a new seq: the Puts
//     the index still points at (moved, same fields) and the Deletes of a
//     key that is not live whose hidden range [lo, hi] (appendDeleteFrame)
//     holds a segment that stays (kept, with the same range). Everything
//     else in a victim is dead: Puts replaced later, Deletes whose
//     hidden Puts are gone, and Deletes of keys put again later (the
//     key's slot then takes over the Delete's range, for its next Delete).
//  2. fdatasyncs the active segment, whatever the sync policy. A crash
//     before this leaves a torn tail of copies that Open cuts: the
//     victims still hold everything.
//  3. rewrites MANIFEST (version 2) with the victims as gaps, or with a
//     later first segment. A crash before this leaves the victims and
//     their copies: a copy is later in the log and says the same, and a
//     kept Delete repeats one, so replay ends in the same state.
//  4. points the index at the moved records and takes the victims out of
//     the segment list (readers that pinned them keep reading them).
//  5. deletes the victims' files and fsyncs the folder. A crash before
//     this leaves files the manifest says are gone: Open deletes them.
//
// A step that fails before MANIFEST is replaced (no room for the copies
// or for the manifest, a failed fdatasync) cuts the copies off the
// active segment again and changes nothing else: the victims stay in the
// log, on disk and in the index, and the space the copies took is free
// again, so the Deletes that drain a full store can still be written. A
// step that replaced MANIFEST but could not fsync the folder goes on,
// since the new manifest may be what a power cut leaves, but keeps the
// victims' files until a later manifest is durable (the next commit
// retries it): the old manifest may be what a power cut leaves, too.
//
// Room: the copies are written before the victims are removed, so a step
// needs free space for them. Steps are picked to fit in what the file
// system has free (statfs), a step that copies nothing always fits, and
// after a step met ENOSPC no step that copies as much is tried again
// until the file system has more room than it had then.
//
// Moving never resurrects: a Put is moved only while it is its key's
// latest record, and compaction runs on the writer goroutine, between
// batches, so nothing replaces it meanwhile; the copy lands after every
// record of the key. A Delete is dropped only when no segment is left
// that may hold a Put it hides, or when its key was put again later: that
// Put (or its copy) stays after the hidden ones, and the next Delete of
// the key hides them too, since the key's first segment is moved back to
// cover the dropped Delete's range.
//
// Cost: a victim costs its kept bytes, which are less than the dead bytes
// it frees, and nothing is written for a victim with no kept bytes (a
// segment of delivered messages): bytes moved per byte freed stay below 1
// however long the queue, and a live record that stays put is never
// rewritten, unlike a snapshot.

// compactShare is the kept share below which a sealed segment is a
// victim of automatic compaction.
const compactShare = 0.5

// compactDeadRatio is, in halves, how many dead bytes per live byte the
// sealed segments hold before automatic compaction runs: 3, 1.5 times.
const compactDeadRatio = 3

// move is one record compaction moves: its slot and its new location.
type move struct {
	slot uint32
	at   loc
}

// victim is a candidate segment for compaction, the bytes it keeps and
// the bytes a step writes to keep them (stepCost).
type victim struct {
	s    *segment
	keep int64
	cost int64
}

// stepCost returns about how many bytes a compaction step writes for a
// victim s that keeps keep bytes: the kept frames, whose new seqs may be
// a few bytes longer.
func stepCost(s *segment, keep int64) int64 {
	if keep == 0 {
		return 0
	}
	return keep + int64(s.liveN)*8
}

// compactSlack is the free space a compaction step that copies records
// needs beyond the copies: a new segment's header, the new manifest
// beside the old one, and the file system's own blocks, each rounded up
// to whole pages.
const compactSlack = 16 << 10

// room returns the bytes the file system holding the log can still take,
// as statfs says (math.MaxInt64 when that is not known). It forgets the
// step that last met ENOSPC once there is more room than there was
// then (see fits).
func (l *Log) room() int64 {
	var (
		free int64
		ok   bool
	)
	if l.hooks != nil && l.hooks.free != nil {
		free, ok = l.hooks.free(), true
	} else {
		free, ok = freeSpace(l.opts.Dir)
	}
	if w := &l.w; w.noRoomCost > 0 {
		// Without statfs, room is back when the log has shrunk by as
		// much as the step needed.
		if total, _ := l.sizes(); ok && free > w.noRoomAt || !ok && total+w.noRoomCost <= w.noRoomTotal {
			w.noRoomCost = 0
		}
	}
	if !ok {
		free = math.MaxInt64
	}
	return free
}

// fits reports whether a compaction step that writes cost bytes may run
// with room bytes free: its copies and the victims must fit side by side
// until the victims are removed. A step that copies nothing needs only a
// new manifest: it always may (if even that fails, nothing changes).
// After a step met ENOSPC, one that writes as much may not (see room).
func (l *Log) fits(cost, room int64) bool {
	if cost == 0 {
		return true
	}
	if w := &l.w; w.noRoomCost > 0 && cost >= w.noRoomCost {
		return false
	}
	return cost <= room-compactSlack-cost/16
}

// keepBytes returns the bytes of s compaction must write forward: its
// live Puts, and its Deletes while a segment they may hide is left (an
// upper bound: which Deletes are needed is known only by reading them).
func (l *Log) keepBytes(s *segment) int64 {
	keep := s.live
	if s.tombHi != 0 && l.anyLeftBut(s.tombLo, s.tombHi, s) {
		keep += s.tombs
	}
	return keep
}

// anyLeft reports whether a segment with id in [lo, hi] is in the log and
// not a victim of the step under way.
func (l *Log) anyLeft(lo, hi uint64) bool { return l.anyLeftBut(lo, hi, nil) }

// anyLeftBut is anyLeft not counting the segment but (a Delete hides
// Puts in its own segment too, which go with it).
func (l *Log) anyLeftBut(lo, hi uint64, but *segment) bool {
	for i := l.segIndexID(lo); i < len(l.segs) && l.segs[i].id <= hi; i++ {
		if s := l.segs[i]; !s.inStep && s != but {
			return true
		}
	}
	return false
}

// hidesAny reports whether a segment h names is in the log and not a
// victim of the step under way.
func (l *Log) hidesAny(h hidden) bool {
	return h.last != 0 && l.anyLeft(h.last, h.last) || h.hi != 0 && l.anyLeft(h.lo, h.hi)
}

// segIndexID returns the index in l.segs of the first segment whose id
// is at least id.
func (l *Log) segIndexID(id uint64) int {
	i, j := 0, len(l.segs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l.segs[h].id < id {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// candidates returns the sealed segments whose kept share is below share,
// fewest kept bytes per byte first. The newest segment is never one: it
// is the active one, and MANIFEST's Last must stay.
func (l *Log) candidates(share float64) []victim {
	return l.candidatesIf(func(keep, body int64) bool { return float64(keep) < share*float64(body) })
}

// roomCandidates returns the sealed segments compaction for room may
// take, like candidates: those that keep at most half their bytes, so
// that a byte moved frees at least one.
func (l *Log) roomCandidates() []victim {
	return l.candidatesIf(func(keep, body int64) bool { return 2*keep <= body })
}

// candidatesIf is candidates with the segments whose kept and body bytes
// satisfy ok, and the empty ones.
func (l *Log) candidatesIf(ok func(keep, body int64) bool) []victim {
	var out []victim
	for _, s := range l.segs[:max(len(l.segs)-1, 0)] {
		if s == l.w.active || s.bad {
			continue
		}
		keep := l.keepBytes(s)
		if body := s.size - s.hdrSize; ok(keep, body) || body == 0 {
			out = append(out, victim{s, keep, stepCost(s, keep)})
		}
	}
	sort.Stable(byKeptShare(out))
	return out
}

// byKeptShare sorts victims by the share of their body compaction must
// keep, lowest first (see byLogOrder for why not slices.SortStableFunc).
type byKeptShare []victim

func (s byKeptShare) Len() int { return len(s) }
func (s byKeptShare) Less(i, j int) bool {
	a, b := s[i], s[j]
	// keep_a/body_a < keep_b/body_b, without dividing.
	return float64(a.keep)*float64(max(b.s.size-b.s.hdrSize, 1)) < float64(b.keep)*float64(max(a.s.size-a.s.hdrSize, 1))
}
func (s byKeptShare) Swap(i, j int) { s[i], s[j] = s[j], s[i] }

// take returns victims from cands, in their order, until they free want
// bytes or their kept bytes would pass budget (at least one), passing
// over those whose copies do not fit in room bytes with the others',
// sorted in log order.
func (l *Log) take(cands []victim, want, budget, room int64) []*segment {
	var out []*segment
	kept, cost, freed := int64(0), int64(0), int64(0)
	for _, c := range cands {
		if len(out) > 0 && (freed >= want || kept+c.keep > budget) {
			break
		}
		if !l.fits(cost+c.cost, room) {
			continue
		}
		kept += c.keep
		cost += c.cost
		freed += c.s.size - c.keep
		out = append(out, c.s)
	}
	sort.Sort(byOrd(out))
	return out
}

// byOrd sorts segments in log order (see byLogOrder).
type byOrd []*segment

func (s byOrd) Len() int           { return len(s) }
func (s byOrd) Less(i, j int) bool { return s[i].ord < s[j].ord }
func (s byOrd) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// deadBytes returns the bytes of the sealed segments compaction could
// free: all but their kept bytes.
func (l *Log) deadBytes() int64 {
	dead := int64(0)
	for _, s := range l.segs {
		if s != l.w.active {
			dead += s.size - l.keepBytes(s)
		}
	}
	return dead
}

// maybeAutoCompact compacts when the sealed segments hold half as many
// dead bytes again as the log holds live ones (compactDeadRatio), and at
// least a segment's worth (a quarter of MaxBytes if smaller), or when the
// log is over MaxBytes. It frees the mostly-dead segments, fewest kept
// bytes first, until the dead bytes are down to the live ones, moving at
// most about a segment per step, so that a commit never waits for much
// more than one segment's write.
//
// Waiting lets queues drain: the segments of a queue delivered in order
// are wholly dead by then and go without a byte written, so compaction
// moves records only where deliveries are out of order, and then fewer
// bytes than it frees. How long it waits trades flash space for wear
// (BenchmarkQueueWear, queue of 100k, random order, default segments):
// at dead = live it moves 101 B per delivered message for a log of 2.4
// times its live data, at 1.5 times live 62 B for 2.7, at twice 33 B for
// 3.2; a queue delivered in order moves nothing in any case. MaxBytes
// caps the space: over it the log compacts for room (compactForRoom).
// Compaction never takes a step whose copies the file system has no room
// for (see fits).
//
// It first retries removing the files of segments an earlier step took
// out of the log but could not yet drop from a durable manifest.
func (l *Log) maybeAutoCompact() {
	if len(l.w.orphans) > 0 {
		l.removeOrphans()
	}
	if l.noAuto.Load() {
		return
	}
	total, live := l.sizes()
	over := l.opts.MaxBytes > 0 && total > l.opts.MaxBytes
	dead := l.deadBytes()
	floor := l.opts.SegmentSize
	if l.opts.MaxBytes > 0 {
		floor = min(floor, l.opts.MaxBytes/4)
	}
	if !over && (dead < floor || dead < live*compactDeadRatio/2) {
		return
	}
	l.mu.RLock()
	written := l.stats.BytesWritten
	l.mu.RUnlock()
	if written < l.w.compactAfter {
		return
	}
	var err error
	if over {
		err = l.compactForRoom(l.opts.MaxBytes)
	} else {
		cands := l.candidates(compactShare)
		if len(cands) == 0 {
			cands = l.candidates(1)
		}
		err = l.compactStep(l.take(cands, dead-live, l.opts.SegmentSize, l.room()))
	}
	if err != nil {
		l.opts.Logger.Warn("flashstore: automatic compaction failed", "err", err)
		l.w.compactAfter = written + l.opts.SegmentSize
	}
}

// compactForRoom compacts until the log is at most target bytes, or
// nothing more can be freed, taking the sealed segments that are at least
// half dead (roomCandidates), fewest kept bytes first, whose copies fit
// in the free space; when none is left, the active segment too, sealed
// first, if it is at least half dead. It never copies a mostly-live
// segment to free a few bytes: a byte moved frees at least a byte, and
// until enough is dead (the queues drain) the store stays full.
func (l *Log) compactForRoom(target int64) error {
	sealed := false
	for {
		total, _ := l.sizes()
		if total <= target {
			return nil
		}
		room := l.room()
		step := l.take(l.roomCandidates(), total-target, l.opts.SegmentSize, room)
		if len(step) == 0 {
			a := l.w.active
			if sealed || a == nil {
				return nil
			}
			keep := l.keepBytes(a)
			dead := a.size - a.hdrSize - keep
			if dead == 0 || dead < (total-target)/2 || dead < keep || !l.fits(stepCost(a, keep), room) {
				return nil
			}
			if err := l.rotate(); err != nil {
				return fmt.Errorf("flashstore: compact: %w", err)
			}
			sealed = true
			continue
		}
		if err := l.compactStep(step); err != nil {
			return err
		}
	}
}

// compactAll is Compact: it seals the active segment and compacts every
// segment that holds anything but live Puts, a segment's worth at a time.
func (l *Log) compactAll() error {
	w := &l.w
	if w.active != nil && w.active.size > w.active.hdrSize {
		if err := l.rotate(); err != nil {
			return fmt.Errorf("flashstore: compact: %w", err)
		}
	}
	var todo []victim
	for _, s := range l.segs[:max(len(l.segs)-1, 0)] {
		if s != w.active && !s.bad && s.live < s.size-s.hdrSize {
			keep := l.keepBytes(s)
			todo = append(todo, victim{s, keep, stepCost(s, keep)})
		}
	}
	for len(todo) > 0 {
		n, sum := 1, todo[0].keep
		for n < len(todo) && sum+todo[n].keep <= l.opts.SegmentSize {
			sum += todo[n].keep
			n++
		}
		var step []*segment
		for _, v := range todo[:n] {
			step = append(step, v.s)
		}
		if err := l.compactStep(step); err != nil {
			return err
		}
		todo = todo[n:]
	}
	return nil
}

// compactFlushAt is the size at which a step writes what it has gathered.
const compactFlushAt = 256 << 10

// compactStep moves the kept records of victims (sealed segments, in log
// order, not the newest) to the active segment and removes the victims;
// see the top of this file. On an error nothing changes (what it wrote
// is cut back) but the victims found damaged are not picked again. It
// runs on the writer goroutine.
func (l *Log) compactStep(victims []*segment) (err error) {
	if len(victims) == 0 {
		return nil
	}
	start := time.Now()
	w := &l.w
	for _, v := range victims {
		v.inStep = true
	}
	defer func() {
		for _, v := range victims {
			v.inStep = false
		}
	}()
	est := int64(0)
	for _, v := range victims {
		est += l.keepBytes(v) + int64(v.liveN)*8
	}
	if w.active == nil {
		if err := l.newActive(); err != nil {
			return fmt.Errorf("flashstore: compact: new segment: %w", err)
		}
	}
	if w.cutAt >= 0 {
		if err := l.cutBack(); err != nil {
			return err
		}
	}
	if w.active.size > w.active.hdrSize && w.active.size+est > l.opts.SegmentSize {
		if err := l.rotate(); err != nil {
			return fmt.Errorf("flashstore: compact: new segment: %w", err)
		}
	}
	seg := w.active
	base := seg.size
	pos := base
	buf, moves, widen, seq := w.buf[:0], w.moves[:0], w.widen[:0], w.nextSeq
	l.hookPoint("start")
	barrier := !w.dirty
	var (
		tombs          int64
		tombLo, tombHi uint64
		v              entryView
		touched        bool // a write was issued: on failure, cut back
	)
	flags := func() uint8 {
		f := FlagBatchEnd
		if barrier {
			f |= FlagBarrier
			barrier = false
		}
		return f
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if pos+int64(len(buf)) > maxSegmentBytes {
			return fmt.Errorf("%w: compaction would grow %s past 4 GiB", ErrTooLarge, seg.path)
		}
		err := l.hookWrite(seg.path, len(buf))
		if err == nil {
			var n int
			touched = true
			n, err = seg.f.WriteAt(buf, pos)
			l.countWritten(int64(n))
		}
		if err != nil {
			return fmt.Errorf("flashstore: compact: append to %s: %w", seg.path, err)
		}
		w.dirty = true
		pos += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	defer func() {
		w.buf, w.moves, w.widen = buf[:0], moves[:0], widen[:0]
		if err != nil && touched {
			// Even a write that failed may have left bytes (copies with
			// seqs the next commits reuse) past the segment's end; and
			// copies the manifest does not make authoritative only take
			// room.
			w.cutAt = base
			if cerr := l.cutBack(); cerr != nil {
				l.opts.Logger.Error("flashstore: cannot cut back failed compaction", "segment", seg.path, "offset", base, "err", cerr)
			}
		}
		if err != nil && errors.Is(err, syscall.ENOSPC) {
			// Not again with as much to copy until there is more room.
			w.noRoomAt = l.room()
			w.noRoomCost = max(est, 1)
			w.noRoomTotal, _ = l.sizes()
		}
	}()

	for _, vs := range victims {
		if vs.liveN == 0 && (vs.tombHi == 0 || !l.anyLeftBut(vs.tombLo, vs.tombHi, vs)) {
			continue // nothing in it to keep: no need to read it
		}
		sc := newScanner(vs.f, vs.size, vs.hdrSize, w.scan)
		for {
			off, body, rerr := sc.next()
			if rerr == io.EOF {
				break
			}
			if rerr != nil && !errors.Is(rerr, errTorn) && !errors.Is(rerr, errBadFrame) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
				w.scan = sc.buf
				return fmt.Errorf("flashstore: compact: read %s: %w", vs.path, rerr)
			}
			if rerr == nil {
				rerr = parseEntry(body, &v)
			}
			if rerr != nil {
				w.scan = sc.buf
				vs.bad = true
				ce := &CorruptError{File: vs.path, Offset: off, Reason: "damaged record found by compaction (" + rerr.Error() + "); the segment is left as it is"}
				l.opts.Logger.Error("flashstore: corrupt segment", "err", ce)
				return ce
			}
			if v.op&opMask == OpPut {
				s, ok := l.idx.find(v.kind, v.key)
				if !ok {
					continue // deleted later
				}
				if at := l.idx.loc(s); at.seg != vs.ord || int64(at.off) != off {
					continue // replaced later
				}
				at := len(buf)
				buf = appendEntryFrame(buf, v.nfields, seq, OpPut|flags(), v.afterOp)
				moves = append(moves, move{slot: s, at: loc{seg: seg.ord, off: uint32(pos) + uint32(at), size: uint32(len(buf) - at)}})
			} else {
				h := v.hides(vs.id)
				if !l.hidesAny(h) {
					continue // what it hides is gone
				}
				if s, ok := l.idx.find(v.kind, v.key); ok {
					// Put again later: that Put (or its copy) stays after
					// the Puts this Delete hides, and the key's next
					// Delete must hide them too, so they join the key's
					// older Puts once the step is done. (Replay, which no
					// longer sees this Delete, counts them among them
					// anyway.)
					lo, hi := h.span()
					i, j := l.segIndexID(lo), l.segIndexID(hi+1)-1
					widen = append(widen, older{slot: s, first: l.segs[i].ord, prev: l.segs[j].ord})
					continue
				}
				at := len(buf)
				buf = appendDeleteFrame(buf, seq, OpDelete|flags(), v.kind, v.key, h)
				tombs += int64(len(buf) - at)
				lo, hi := h.span()
				if tombHi == 0 {
					tombLo, tombHi = lo, hi
				} else {
					tombLo, tombHi = min(tombLo, lo), max(tombHi, hi)
				}
			}
			seq++
			if len(buf) >= compactFlushAt {
				if err := flush(); err != nil {
					w.scan = sc.buf
					return err
				}
			}
		}
		w.scan = sc.buf
	}
	if err := flush(); err != nil {
		return err
	}
	l.hookPoint("written")
	if pos > base {
		if err := l.sync(seg.f); err != nil {
			return fmt.Errorf("flashstore: compact: sync %s: %w", seg.path, err)
		}
		w.dirty = false
		w.lastSync = time.Now()
	}
	l.hookPoint("synced")

	// The manifest without the victims, before anything else changes: if
	// it cannot be written, the copies are cut off (deferred above) and
	// the log is as it was.
	durable := false
	if !w.salvaging {
		rest := slices.DeleteFunc(slices.Clone(l.segs), func(s *segment) bool { return s.inStep })
		renamed, merr := l.putManifest(rest)
		if merr != nil && !renamed {
			return fmt.Errorf("flashstore: compact: %w", merr)
		}
		if merr != nil {
			l.opts.Logger.Warn("flashstore: compacted segments kept until the manifest without them is durable", "err", merr)
		}
		durable = merr == nil
	}
	w.nextSeq = seq

	l.mu.Lock()
	seg.size = pos
	seg.end = seq
	for _, m := range moves {
		old := l.idx.setLoc(m.slot, m.at)
		l.dropLive(l.idx.kindAt(m.slot), old)
		seg.live += int64(m.at.size)
		seg.liveN++
	}
	for _, o := range widen {
		l.idx.widenOlder(o.slot, o.first, o.prev)
	}
	if tombs > 0 {
		seg.noteTombs(int(tombs), hidden{last: tombHi, lo: tombLo, hi: tombHi})
	}
	l.segs = slices.DeleteFunc(l.segs, func(s *segment) bool { return s.inStep })
	for _, vs := range victims {
		vs.retire()
	}
	l.stats.Compactions++
	l.stats.MovedBytes += pos - base
	l.mu.Unlock()
	for _, vs := range victims {
		w.orphans = append(w.orphans, vs.path)
	}
	if durable {
		l.hookPoint("manifest")
		l.removeOrphanFiles()
	}
	l.opts.Logger.Info("flashstore: compacted", "segments", len(victims), "moved", len(moves),
		"bytes", pos-base, "duration", time.Since(start))
	return nil
}

// older is a widening of a key's older Puts that a compaction step makes
// when it is done (see compactStep).
type older struct {
	slot        uint32
	first, prev uint32
}

// removeOrphans records the segments compaction took out of the log in
// MANIFEST, then deletes their files. When the manifest cannot be
// written, the files stay (a crash then finds the log as it was, plus the
// copies) and the next commit tries again.
func (l *Log) removeOrphans() {
	w := &l.w
	if len(w.orphans) == 0 || w.salvaging {
		return
	}
	if err := l.writeManifest(); err != nil {
		l.opts.Logger.Warn("flashstore: compacted segments kept until the manifest records them", "err", err)
		return
	}
	l.hookPoint("manifest")
	l.removeOrphanFiles()
}

// removeOrphanFiles deletes the files of w.orphans, which a durable
// manifest no longer names, and fsyncs the folder.
func (l *Log) removeOrphanFiles() {
	w := &l.w
	var rmErr error
	for _, p := range w.orphans {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) && rmErr == nil {
			rmErr = err
		}
		l.hookPoint("removed " + filepath.Base(p))
	}
	w.orphans = w.orphans[:0]
	if err := l.syncDir(); err != nil && rmErr == nil {
		rmErr = err
	}
	if rmErr != nil {
		// The manifest says they are gone: the next Open removes them.
		l.opts.Logger.Warn("flashstore: compaction cleanup", "err", rmErr)
	}
}
