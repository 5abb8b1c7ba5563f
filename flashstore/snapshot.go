package flashstore

import (
	"bufio"
	"os"
	"slices"
	"sort"
	"time"

	"gatemq/internal/fmt"
)

// slotLoc is a live slot and its location, as collected for a snapshot.
type slotLoc struct {
	slot uint32
	loc
}

// collect appends every live location to dst in log order (segment, then
// offset), which is the order of each key's last Put.
func (l *Log) collect(dst []slotLoc) []slotLoc {
	x := l.idx
	dst = slices.Grow(dst[:0], x.len())
	x.eachSlot(func(s uint32, at loc) { dst = append(dst, slotLoc{s, at}) })
	sort.Sort(byLogOrder(dst))
	return dst
}

// byLogOrder sorts slots by location (segment, then offset). It is a
// sort.Interface rather than slices.SortFunc, as are the other sorts of
// the broker: the sort package's one interface-based sort is in the binary
// anyway, while every slices.SortFunc[[]T] adds its own copy of pdqsort,
// about 10 KB of code and metadata on linux/mipsle.
type byLogOrder []slotLoc

func (s byLogOrder) Len() int           { return len(s) }
func (s byLogOrder) Less(i, j int) bool { return s[i].loc.before(s[j].loc) }
func (s byLogOrder) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// snapshot writes every live entry, in log order, into a snapshot segment
// and removes the segments before it. Open uses it after salvaging damage
// (Options.SalvageCorrupt), to leave a log that opens clean: the snapshot
// holds all that is left, whatever gaps the salvage passed. Compaction
// otherwise moves records segment by segment (compact.go). Crash safety,
// step by step:
//
//  1. The snapshot is written as NAME.tmp and fdatasync'd: a crash leaves
//     a .tmp file that Open deletes; the old segments are untouched.
//  2. It is renamed to NAME (%016x.seg, named after the next seq, so it
//     sorts after every old segment) and the folder fsync'd: from then
//     on Open sees a complete snapshot and deletes every segment before
//     it, finishing the compaction.
//  3. The old segments are removed and the folder fsync'd.
//  4. A new active segment is started after the snapshot, and MANIFEST
//     rewritten to name the snapshot as the first segment and the new one
//     as the newest. Until then it names older segments: lower bounds,
//     which Open accepts (see manifest.go).
//
// The entries keep their log order and get new, contiguous sequence
// numbers after the snapshot header's. It runs on the writer goroutine
// (or in Open before it starts).
func (l *Log) snapshot() error {
	start := time.Now()
	w := &l.w
	w.order = l.collect(w.order[:0])
	order := w.order
	snapSeq := w.nextSeq
	bySeg := make(map[uint32]*segment, len(l.segs))
	for _, s := range l.segs {
		bySeg[s.ord] = s
	}
	newLocs := make([]loc, len(order))
	ord := w.nextOrd

	body := func(f *os.File, off int64) (int64, error) {
		bw := bufio.NewWriterSize(f, 256<<10)
		if _, err := f.Seek(off, 0); err != nil {
			return 0, err
		}
		var (
			win   readWindow
			cur   uint32
			v     entryView
			frame []byte
			n     int64
		)
		for i, lc := range order {
			if i == 0 || lc.seg != cur {
				cur = lc.seg
				win = readWindow{f: bySeg[cur].f, buf: win.buf}
			}
			if err := readEntry(&win, bySeg[cur].path, lc.loc, &v); err != nil {
				return n, err
			}
			// Each snapshot entry is a batch of its own: the snapshot is
			// atomic through its rename, and replay needs no buffering.
			frame = appendEntryFrame(frame[:0], v.nfields, snapSeq+1+uint64(i), OpPut|FlagBatchEnd, v.afterOp)
			newLocs[i] = loc{off: uint32(off + n), seg: ord, size: uint32(len(frame))}
			if err := l.hookWrite(f.Name(), len(frame)); err != nil {
				return n, err
			}
			m, err := bw.Write(frame)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
		return n, bw.Flush()
	}
	f, size, hdr, err := l.writeNewSegment(snapSeq, true, body)
	if err != nil {
		return fmt.Errorf("flashstore: snapshot: %w", err)
	}
	snap := &segment{ord: ord, id: snapSeq, path: l.segmentPath(snapSeq), f: f, size: size, hdrSize: hdr, snapshot: true,
		end: snapSeq + uint64(len(order)) + 1}

	// Switch the index and segment list to the snapshot.
	l.mu.Lock()
	old := l.segs
	for i, sl := range order {
		// A frame rewritten with a new seq may differ in size: keep the
		// live byte count (which drives automatic compaction) exact.
		kind := l.idx.kindAt(sl.slot)
		for _, r := range l.ranges {
			r.displaced(kind, sl.loc)
		}
		l.idx.setLoc(sl.slot, newLocs[i])
		l.idx.clearOlder(sl.slot) // the snapshot holds all there is
		snap.live += int64(newLocs[i].size)
		snap.liveN++
	}
	l.segs = []*segment{snap}
	for _, s := range old {
		s.retire()
	}
	l.w.salvaging = false // the snapshot holds all there is
	l.stats.Compactions++
	l.mu.Unlock()
	w.nextOrd++
	w.nextSeq = snapSeq + uint64(len(order)) + 1
	w.active, w.dirty, w.cutAt = nil, false, -1

	var rmErr error
	for _, s := range old {
		if err := os.Remove(s.path); err != nil && rmErr == nil {
			rmErr = err
		}
	}
	if err := l.syncDir(); err != nil && rmErr == nil {
		rmErr = err
	}
	if rmErr != nil {
		// The snapshot is in place; the next Open removes what is left.
		l.opts.Logger.Warn("flashstore: compaction cleanup", "err", rmErr)
	}
	if err := l.newActive(); err != nil {
		// The next commit retries; the snapshot already holds everything.
		l.opts.Logger.Warn("flashstore: new segment after compaction", "err", err)
		l.updateManifest() // newActive writes it otherwise
	}
	l.opts.Logger.Info("flashstore: wrote snapshot", "live_keys", len(order), "bytes", size,
		"removed_segments", len(old), "duration", time.Since(start))
	return nil
}
