package flashstore

// seqSlot is the sequence index's entry of one key: 12 bytes, no
// pointers, where the hash table's slot takes 20. It drops what a key of
// the broker's queues seldom needs:
//
//   - the counter is 16 bits from its block's base (a block spans fewer
//     than seqKeySpan counters; place starts a new one past that);
//   - the segment is 16 bits from its block's segBase, since the slots
//     of a block were mostly written at about the same time. A segment
//     outside the block's window first moves the window (reseg); a slot
//     that still does not fit (a record left in an old segment while its
//     neighbours moved on) keeps its segment in seqIndex.far and has
//     seqFar set;
//   - the segments of the key's older Puts (slot.dfirst, dprev) are kept
//     in seqIndex.olders, only for the slots that have some (seqOlder
//     set): a message key is put once, and a route key again only while
//     its delivery is in flight, so few have any.
//
// Both side tables are keyed by family and counter, which no move of a
// slot within or between blocks changes.
type seqSlot struct {
	key  uint16 // the counter less the block's base
	segd uint16 // the segment ordinal less the block's segBase (0 when seqFar)
	off  uint32
	// size is the frame's size and the flags seqOlder and seqFar; 0 marks
	// a dead slot.
	size uint32
}

// Flags and spans of a seqSlot.
const (
	seqOlder    = 1 << 31 // the key has older Puts: see seqIndex.olders
	seqFar      = 1 << 30 // the segment is in seqIndex.far
	seqSizeMask = seqFar - 1
	seqKeySpan  = 1 << 16 // counters a block spans, at most
	seqSegSpan  = 1 << 16 // segments a block's window spans
)

// seqRef names a key of the sequence index independently of where its
// slot is: its family and counter.
type seqRef struct {
	f *seqFamily
	n uint64
}

// olderSegs are the ordinals of the first and last segments that may hold
// a key's older Puts (see slot.older).
type olderSegs struct{ first, prev uint32 }

// ref returns the seqRef of slot i of b.
func (b *seqBlock) ref(i int) seqRef { return seqRef{b.fam, b.base + uint64(b.slots[i].key)} }

// segAt returns the segment of the live slot i of b, were the block's
// window at base.
func (q *seqIndex) segAt(b *seqBlock, i int, base uint32) uint32 {
	if b.slots[i].size&seqFar != 0 {
		return q.far[b.ref(i)]
	}
	return base + uint32(b.slots[i].segd)
}

// locIn returns the location of the live slot i of b.
func (q *seqIndex) locIn(b *seqBlock, i int) loc {
	sl := &b.slots[i]
	return loc{seg: q.segAt(b, i, b.segBase), off: sl.off, size: sl.size & seqSizeMask}
}

// loc returns the location of the slot at h.
func (q *seqIndex) loc(h uint32) loc {
	b, i := q.at(h)
	return q.locIn(b, i)
}

// older returns the segments of the older Puts of the key at h, as
// slot.older does.
func (q *seqIndex) older(h uint32) (first, prev uint32, ok bool) {
	b, i := q.at(h)
	return q.olderIn(b, i)
}

func (q *seqIndex) olderIn(b *seqBlock, i int) (first, prev uint32, ok bool) {
	if b.slots[i].size&seqOlder == 0 {
		return 0, 0, false
	}
	o := q.olders[b.ref(i)]
	return o.first, o.prev, true
}

// view returns the slot at h as the hash table would hold it (its key
// field aside).
func (q *seqIndex) view(h uint32) slot {
	b, i := q.at(h)
	return q.viewIn(b, i)
}

func (q *seqIndex) viewIn(b *seqBlock, i int) slot {
	sl := slot{loc: q.locIn(b, i)}
	sl.setOlder(q.olderIn(b, i))
	return sl
}

// set points the slot at h at l, with older Puts [first, prev] (ok),
// narrowed and widened as slot.setOlder does.
func (q *seqIndex) set(h uint32, l loc, first, prev uint32, ok bool) {
	b, i := q.at(h)
	q.write(b, i, l, first, prev, ok)
}

// write fills slot i of b, whose key field is set and whose other fields
// are its own (zero for a new key).
func (q *seqIndex) write(b *seqBlock, i int, l loc, first, prev uint32, ok bool) {
	if l.size == 0 || l.size > seqSizeMask {
		panic("flashstore: sequence index: frame size out of range")
	}
	t := slot{loc: l}
	t.setOlder(first, prev, ok)
	first, prev, ok = t.older()
	sl := &b.slots[i]
	r := b.ref(i)
	switch {
	case ok:
		if q.olders == nil {
			q.olders = make(map[seqRef]olderSegs)
		}
		q.olders[r] = olderSegs{first, prev}
	case sl.size&seqOlder != 0:
		delete(q.olders, r)
	}
	if sl.size&seqFar != 0 {
		delete(q.far, r)
	}
	sl.off, sl.size, sl.segd = l.off, l.size, 0
	if ok {
		sl.size |= seqOlder
	}
	if l.seg < b.segBase || l.seg-b.segBase >= seqSegSpan {
		q.reseg(b, i, l.seg)
	}
	sl.segd = uint16(l.seg - b.segBase)
}

// reseg moves the segment window of b so that it holds seg, which slot
// i (being written, not counted) is to take: to the oldest segment of the
// other live slots when all fit, else to half a window before seg, the
// slots left outside going to q.far (and those back inside coming out).
func (q *seqIndex) reseg(b *seqBlock, i int, seg uint32) {
	lo, hi := seg, seg
	for j := range b.slots {
		if j != i && b.slots[j].size != 0 {
			s := q.segAt(b, j, b.segBase)
			lo, hi = min(lo, s), max(hi, s)
		}
	}
	if hi-lo >= seqSegSpan {
		lo = seg - min(seg, seqSegSpan/2-1)
	}
	for j := range b.slots {
		sl := &b.slots[j]
		if j == i || sl.size == 0 {
			continue
		}
		s := q.segAt(b, j, b.segBase)
		if s >= lo && s-lo < seqSegSpan {
			if sl.size&seqFar != 0 {
				delete(q.far, b.ref(j))
				sl.size &^= seqFar
			}
			sl.segd = uint16(s - lo)
			continue
		}
		if sl.size&seqFar == 0 {
			if q.far == nil {
				q.far = make(map[seqRef]uint32)
			}
			q.far[b.ref(j)] = s
			sl.size |= seqFar
			sl.segd = 0
		}
	}
	b.segBase = lo
}

// forget drops what the side tables hold of the live slot i of b.
func (q *seqIndex) forget(b *seqBlock, i int) {
	if sl := &b.slots[i]; sl.size&(seqOlder|seqFar) != 0 {
		r := b.ref(i)
		if sl.size&seqOlder != 0 {
			delete(q.olders, r)
		}
		if sl.size&seqFar != 0 {
			delete(q.far, r)
		}
	}
}
