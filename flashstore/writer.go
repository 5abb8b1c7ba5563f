package flashstore

import (
	"slices"
	"time"

	"gatemq/internal/fmt"
)

// writerState is owned by the writer goroutine (and by Open before it
// starts it).
type writerState struct {
	active   *segment // nil when a new segment must be created first
	nextSeq  uint64
	nextOrd  uint32
	dirty    bool // the active segment has bytes not yet fdatasync'd
	lastSync time.Time
	// syncStart is when the last fdatasync of a commit began, and shared
	// whether it covered the batches of more than one Commit.
	syncStart time.Time
	shared    bool
	timer     *time.Timer // SyncInterval: pending sync
	armed     bool
	cutAt     int64 // >= 0: the active segment must be cut back to this size before the next write

	group []*Batch
	data  []*Batch
	buf   []byte
	recs  []recInfo
	seen  map[string]struct{}
	kk    []byte
	order []slotLoc
	scan  []byte  // compaction's read buffer
	moves []move  // compaction's index updates
	widen []older // compaction's widenings of keys' older Puts
	// orphans are segment files compaction took out of the log whose
	// removal waits for a manifest that records it.
	orphans []string

	manifest  Manifest // what MANIFEST on disk says (zero: none read or written yet)
	salvaging bool     // Open salvaged damage: no manifest until the compaction that follows

	compactAfter int64 // BytesWritten before which no auto compaction is retried
	// After a compaction step met ENOSPC: how much it had to write, the
	// room statfs reported then, and the log's size then. No step that
	// writes as much runs until there is more room (Log.room).
	noRoomCost, noRoomAt, noRoomTotal int64
	closeErr                          error
}

// run is the writer goroutine: it takes the batches waiting in l.reqs,
// writes them with one write and at most one fdatasync, answers them, and
// compacts when dead bytes dominate. It exits when l.reqs is closed and
// drained.
func (l *Log) run() {
	defer close(l.done)
	w := &l.w
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	defer w.timer.Stop()
	for {
		select {
		case b, ok := <-l.reqs:
			if !ok {
				l.shutdown()
				return
			}
			l.coalesce()
			more := l.gather(b)
			l.handle(w.group)
			if !more {
				l.shutdown()
				return
			}
		case <-w.timer.C:
			w.armed = false
			if w.dirty && w.active != nil {
				if err := l.syncActive(); err != nil {
					l.opts.Logger.Error("flashstore: interval sync failed", "err", err)
					l.armTimer(l.opts.SyncInterval)
				}
			}
		}
	}
}

// coalesce lets commits that come back to back share fdatasyncs: under
// SyncAlways, when the last fdatasync covered the batches of more than one
// Commit (so commits are coming from several places at once), the writer
// starts the next one no sooner than the sync gap after the start of the
// last, gathering meanwhile what arrives. A commit that comes alone is
// written at once.
func (l *Log) coalesce() {
	w := &l.w
	if l.opts.Sync != SyncAlways || !w.shared {
		return
	}
	if wait := l.opts.syncGap() - time.Since(w.syncStart); wait > 0 {
		time.Sleep(wait)
	}
}

// gather collects first and every batch already waiting, up to
// MaxBatchBytes, into w.group: the batches that queued while the previous
// fdatasync ran. It reports false when l.reqs was closed.
func (l *Log) gather(first *Batch) bool {
	w := &l.w
	w.group = append(w.group[:0], first)
	size := len(first.buf)
	for size < l.opts.MaxBatchBytes {
		select {
		case b, ok := <-l.reqs:
			if !ok {
				return false
			}
			w.group = append(w.group, b)
			size += len(b.buf)
		default:
			return true
		}
	}
	return true
}

func (l *Log) handle(group []*Batch) {
	w := &l.w
	w.data = w.data[:0]
	var compacts compactMode
	for _, b := range group {
		if b.compact != 0 {
			compacts |= b.compact
		} else {
			w.data = append(w.data, b)
		}
	}
	if len(w.data) > 0 {
		l.commitGroup(w.data)
	}
	if compacts == 0 {
		l.maybeAutoCompact()
		return
	}
	var err error
	switch {
	case compacts&compactSnapshot != 0:
		err = l.snapshot()
	case compacts&compactSegments != 0:
		err = l.compactAll()
	case compacts&compactVictims != 0:
		err = l.compactStep(l.take(l.candidates(compactShare), 1<<62, l.opts.SegmentSize, l.room()))
	}
	for _, b := range group {
		if b.compact != 0 {
			b.done <- err
		}
	}
}

// compactMode is what a compaction request asks for.
type compactMode uint8

const (
	compactSegments compactMode = 1 << iota // Compact: segment by segment
	compactSnapshot                         // a snapshot, as after a salvage (tests)
	compactVictims                          // one step of automatic compaction, whatever the dead bytes (tests)
	// writerBarrier does nothing: its answer says the writer has finished
	// everything queued before it, automatic compaction included (tests).
	writerBarrier
)

func answer(batches []*Batch, err error) {
	for _, b := range batches {
		b.done <- err
	}
}

// commitGroup writes batches with one write call, syncs per policy,
// applies them to the index and answers them.
func (l *Log) commitGroup(batches []*Batch) {
	w := &l.w
	batches = l.admit(batches) // may compact, replacing the active segment
	if len(batches) == 0 {
		return
	}
	if w.active == nil {
		if err := l.newActive(); err != nil {
			answer(batches, fmt.Errorf("flashstore: new segment: %w", err))
			return
		}
	}
	if w.cutAt >= 0 {
		if err := l.cutBack(); err != nil {
			answer(batches, err)
			return
		}
	}
	est := int64(0)
	for _, b := range batches {
		est += b.maxFramed()
	}
	if w.active.size > w.active.hdrSize && w.active.size+est > l.opts.SegmentSize {
		if err := l.rotate(); err != nil {
			answer(batches, fmt.Errorf("flashstore: new segment: %w", err))
			return
		}
	}
	if w.active.size+est > maxSegmentBytes {
		answer(batches, fmt.Errorf("%w: a group of %d bytes does not fit in a segment", ErrTooLarge, est))
		return
	}

	seg := w.active
	base := seg.size
	buf, recs, seq := w.buf[:0], w.recs[:0], w.nextSeq
	barrier := !w.dirty
	for _, b := range batches {
		for off := 0; off < len(b.buf); {
			rec, next := b.record(off)
			op := rec[0]
			if barrier {
				op |= FlagBarrier
				barrier = false
			}
			if next == len(b.buf) {
				op |= FlagBatchEnd
			}
			start := len(buf)
			var r recInfo
			if rec[0] == OpPut {
				buf = appendEntryFrame(buf, 5, seq, op, rec[1:])
			} else {
				// A Delete records the segments holding the Puts it hides,
				// as the index knows them before this group (Puts of the
				// key within the group are in this segment).
				kind, key := recordKey(rec)
				r.hides = l.hidden(kind, key)
				buf = appendDeleteFrame(buf, seq, op, kind, key, r.hides)
			}
			r.loc = loc{seg: seg.ord, off: uint32(base) + uint32(start), size: uint32(len(buf) - start)}
			recs = append(recs, r)
			seq++
			off = next
		}
	}
	w.buf, w.recs = buf, recs

	err := l.hookWrite(seg.path, len(buf))
	if err == nil {
		var n int
		n, err = seg.f.WriteAt(buf, base)
		l.countWritten(int64(n))
	}
	if err == nil {
		w.dirty = true
		w.syncStart, w.shared = time.Now(), len(batches) > 1
		err = l.syncAfterWrite()
	}
	if err != nil {
		w.cutAt = base
		if cerr := l.cutBack(); cerr != nil {
			l.opts.Logger.Error("flashstore: cannot cut back failed write", "segment", seg.path, "offset", base, "err", cerr)
		}
		answer(batches, fmt.Errorf("flashstore: append to %s: %w", seg.path, err))
		return
	}
	w.nextSeq = seq

	l.mu.Lock()
	seg.size = base + int64(len(buf))
	seg.end = seq
	i := 0
	for _, b := range batches {
		for off := 0; off < len(b.buf); i++ {
			rec, next := b.record(off)
			kind, key := recordKey(rec)
			r := recs[i]
			if rec[0] == OpPut {
				l.applyPut(kind, key, r.loc, seg)
			} else {
				l.applyDel(kind, key)
				seg.noteTombs(int(r.loc.size), r.hides)
			}
			off = next
		}
		l.stats.Records += int64(b.n)
	}
	l.stats.Batches += int64(len(batches))
	l.stats.Writes++
	l.mu.Unlock()
	answer(batches, nil)
}

// recInfo is where a record of a group went; for a Delete, also the
// segments it hides.
type recInfo struct {
	loc
	hides hidden
}

// hidden returns the segments that may hold Puts of kind+key made since
// it was last deleted: the latest's, and the older ones' as the index
// knows them, narrowed to the segments still in the log.
func (l *Log) hidden(kind Kind, key []byte) hidden {
	s, ok := l.idx.find(kind, key)
	if !ok {
		return hidden{}
	}
	sl := l.idx.view(s)
	last := l.segOf(sl.seg)
	if last == nil {
		return hidden{} // cannot happen: a live Put is in a segment of the log
	}
	h := hidden{last: last.id}
	if first, prev, ok := sl.older(); ok {
		i, j := l.segIndex(first), l.segIndex(prev+1)-1
		if i <= j && l.segs[j].id < last.id {
			h.lo, h.hi = l.segs[i].id, l.segs[j].id
		}
	}
	return h
}

// segIndex returns the index in l.segs of the first segment whose
// ordinal is at least ord.
func (l *Log) segIndex(ord uint32) int {
	i, j := 0, len(l.segs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l.segs[h].ord < ord {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// segOf returns the segment with ordinal ord, or nil. The caller holds
// l.mu or is the writer.
func (l *Log) segOf(ord uint32) *segment {
	if i := l.segIndex(ord); i < len(l.segs) && l.segs[i].ord == ord {
		return l.segs[i]
	}
	return nil
}

// applyPut points kind+key at at, a frame in seg, and keeps the live
// counts of the segments. The caller is the writer (or Open), holding
// l.mu.
func (l *Log) applyPut(kind Kind, key []byte, at loc, seg *segment) {
	old, had := l.idx.put(kind, key, at)
	seg.live += int64(at.size)
	seg.liveN++
	if had {
		l.dropLive(kind, old)
	}
}

// applyDel removes kind+key from the index, like applyPut.
func (l *Log) applyDel(kind Kind, key []byte) {
	if old, had := l.idx.del(kind, key); had {
		l.dropLive(kind, old.loc)
	}
}

// dropLive takes the frame at old out of its segment's live counts: a
// later record of its key replaced it. Ranges under way that have yet to
// reach it keep it.
func (l *Log) dropLive(kind Kind, old loc) {
	if s := l.segOf(old.seg); s != nil {
		s.live -= int64(old.size)
		s.liveN--
	}
	for _, r := range l.ranges {
		r.displaced(kind, old)
	}
}

// syncAfterWrite applies the sync policy after a write to the active
// segment.
func (l *Log) syncAfterWrite() error {
	switch l.opts.Sync {
	case SyncAlways:
		return l.syncActive()
	case SyncInterval:
		since := time.Since(l.w.lastSync)
		if since >= l.opts.SyncInterval {
			return l.syncActive()
		}
		if !l.w.armed {
			l.armTimer(l.opts.SyncInterval - since)
		}
	}
	return nil
}

func (l *Log) armTimer(d time.Duration) {
	l.w.timer.Reset(d)
	l.w.armed = true
}

// syncActive fdatasyncs the active segment.
func (l *Log) syncActive() error {
	if err := l.sync(l.w.active.f); err != nil {
		return err
	}
	l.w.dirty = false
	l.w.lastSync = time.Now()
	return nil
}

// cutBack truncates the active segment to w.cutAt, dropping a failed
// write, and makes that durable.
func (l *Log) cutBack() error {
	w := &l.w
	if err := w.active.f.Truncate(w.cutAt); err != nil {
		return fmt.Errorf("flashstore: cut back %s: %w", w.active.path, err)
	}
	if err := l.sync(w.active.f); err != nil {
		return fmt.Errorf("flashstore: cut back %s: %w", w.active.path, err)
	}
	w.cutAt = -1
	w.dirty = false
	w.lastSync = time.Now()
	return nil
}

// rotate seals the active segment (fdatasync) and starts a new one.
func (l *Log) rotate() error {
	if l.w.dirty {
		if err := l.syncActive(); err != nil {
			return err
		}
	}
	return l.newActive()
}

// newActive creates a new active segment named after the next seq.
func (l *Log) newActive() error {
	w := &l.w
	id := w.nextSeq
	f, size, hdr, err := l.writeNewSegment(id, false, nil)
	if err != nil {
		return err
	}
	seg := &segment{ord: w.nextOrd, id: id, path: l.segmentPath(id), f: f, size: size, hdrSize: hdr, end: id + 1}
	w.nextOrd++
	w.nextSeq++
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	w.active = seg
	w.dirty = false
	w.lastSync = time.Now()
	w.cutAt = -1
	l.updateManifest()
	return nil
}

// shutdown syncs what is still dirty; the writer exits after it.
func (l *Log) shutdown() {
	if l.w.dirty && l.w.active != nil {
		if err := l.syncActive(); err != nil {
			l.w.closeErr = fmt.Errorf("flashstore: close: %w", err)
		}
	}
}

// sizes returns the total and live bytes of the log.
func (l *Log) sizes() (total, live int64) {
	for _, s := range l.segs {
		total += s.size
	}
	return total, l.idx.live
}

// admit applies MaxBytes: it answers ErrFull to the batches that would
// grow the log past the cap even after compaction and returns the others.
// A batch that does not grow the live data (deletes, overwrites no larger
// than what they replace) is always admitted, so a full store can drain;
// the compaction after it brings the log back under the cap. Only a batch
// that grows the live data makes it compact first.
func (l *Log) admit(batches []*Batch) []*Batch {
	max := l.opts.MaxBytes
	if max == 0 {
		return batches
	}
	const hdrRoom = 64 // a new segment's header
	need := int64(hdrRoom)
	for _, b := range batches {
		need += b.maxFramed()
	}
	total, live := l.sizes()
	if total+need <= max {
		return batches
	}
	// Compact first when that frees at least an eighth of the cap: less
	// would move records for little room, wearing flash.
	if total-live-2*hdrRoom >= max/8 && slices.ContainsFunc(batches, l.grows) {
		if err := l.compactForRoom(max - need); err != nil {
			l.opts.Logger.Warn("flashstore: compaction for room failed", "err", err)
		}
		total, _ = l.sizes()
	}
	kept := batches[:0]
	running := total + hdrRoom
	for _, b := range batches {
		n := b.maxFramed()
		if running+n <= max || !l.grows(b) {
			running += n
			kept = append(kept, b)
			continue
		}
		b.done <- fmt.Errorf("%w: %d of %d bytes used, batch needs %d", ErrFull, running, max, n)
	}
	return kept
}

// grows reports whether committing b would make the live data larger.
func (l *Log) grows(b *Batch) bool {
	if b.puts == 0 {
		return false
	}
	w := &l.w
	if w.seen == nil {
		w.seen = make(map[string]struct{})
	}
	clear(w.seen)
	seqLen := uintSize(w.nextSeq + uint64(b.n))
	delta := int64(0)
	newKey := false
	for off := 0; off < len(b.buf); {
		rec, next := b.record(off)
		kind, key := recordKey(rec)
		_, known := l.idx.get(kind, key)
		if rec[0] == OpPut {
			delta += int64(frameHeader + 1 + seqLen + len(rec) - 1)
			if !known {
				newKey = true
			}
		}
		w.kk = append(append(w.kk[:0], byte(kind)), key...)
		if _, dup := w.seen[string(w.kk)]; !dup {
			w.seen[string(w.kk)] = struct{}{}
			if old, ok := l.idx.get(kind, key); ok {
				delta -= int64(old.size)
			}
		}
		off = next
	}
	// A batch that only updates keys the store already holds (a delivery's
	// stage, say, whose record may grow by a few bytes with its packet id)
	// is admitted even when the store is full: refusing it would wedge the
	// draining that frees space. Compaction reclaims the old versions.
	return delta > 0 && newKey
}
