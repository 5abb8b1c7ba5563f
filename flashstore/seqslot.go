package flashstore

// seqSlot is the sequence index's entry of one key: 12 bytes, no
// pointers, where the hash table's slot takes 20. Beside the frame's
// offset it packs, in one 64-bit word (two 32-bit halves, so that a slot
// stays 4-byte aligned), what a key of the broker's queues needs:
//
//   - the counter, seqKeyBits bits from its block's base (a block spans
//     fewer than seqKeySpan counters; place starts a new one past that);
//   - the segment, seqSegBits bits from its block's segBase, since the
//     slots of a block were mostly written at about the same time. A
//     segment outside the block's window first moves the window (reseg);
//     a slot that still does not fit (a record left in an old segment
//     while its neighbours moved on) keeps its segment in seqIndex.far
//     and has seqFar set;
//   - the frame's size, when under 1<<seqSizeBits (16 MiB); a larger one
//     is in seqIndex.big (seqBig set), which costs nothing next to it;
//   - seqOlder, set when the key has older Puts (slot.dfirst, dprev),
//     which seqIndex.olders holds: a message key is put once, and a
//     route key again only while its delivery is in flight, so few have
//     any.
//
// The side tables are keyed by family and counter, which no move of a
// slot within or between blocks changes. A dead slot is all zero but its
// counter.
type seqSlot struct {
	off    uint32
	lo, hi uint32 // the word: lo its low half
}

// The fields of a seqSlot's word, low bits first: counter, segment,
// size, flags.
const (
	seqKeyBits   = 21
	seqSegBits   = 16
	seqSizeBits  = 24
	seqSegShift  = seqKeyBits
	seqSizeShift = seqSegShift + seqSegBits
	seqKeySpan   = 1 << seqKeyBits // counters a block spans, at most
	seqSegSpan   = 1 << seqSegBits // segments a block's window spans
	seqSizeSpan  = 1 << seqSizeBits
	seqOlder     = 1 << 61 // the key has older Puts: see seqIndex.olders
	seqFar       = 1 << 62 // the segment is in seqIndex.far
	seqBig       = 1 << 63 // the size is in seqIndex.big
)

func (s *seqSlot) word() uint64      { return uint64(s.hi)<<32 | uint64(s.lo) }
func (s *seqSlot) setWord(w uint64)  { s.lo, s.hi = uint32(w), uint32(w>>32) }
func (s *seqSlot) key() uint32       { return s.lo & (seqKeySpan - 1) }
func (s *seqSlot) segd() uint32      { return uint32(s.word()>>seqSegShift) & (seqSegSpan - 1) }
func (s *seqSlot) size() uint32      { return uint32(s.word()>>seqSizeShift) & (seqSizeSpan - 1) }
func (s *seqSlot) has(f uint64) bool { return s.word()&f != 0 }

// live reports whether the slot holds a key: a live one has a size or
// seqBig.
func (s *seqSlot) live() bool { return s.word()>>seqKeyBits != 0 }

// setKey sets the counter field to k (< seqKeySpan).
func (s *seqSlot) setKey(k uint32) { s.lo = s.lo&^(seqKeySpan-1) | k }

// setSegd sets the segment field to d (< seqSegSpan).
func (s *seqSlot) setSegd(d uint32) {
	s.setWord(s.word()&^(uint64(seqSegSpan-1)<<seqSegShift) | uint64(d)<<seqSegShift)
}

// setFlag sets or clears flag f.
func (s *seqSlot) setFlag(f uint64, on bool) {
	if on {
		s.setWord(s.word() | f)
	} else {
		s.setWord(s.word() &^ f)
	}
}

// deadSlot returns a dead slot of counter field k.
func deadSlot(k uint32) seqSlot { return seqSlot{lo: k} }

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
func (b *seqBlock) ref(i int) seqRef { return seqRef{b.fam, b.base + uint64(b.slots[i].key())} }

// segAt returns the segment of the live slot i of b, were the block's
// window at base.
func (q *seqIndex) segAt(b *seqBlock, i int, base uint32) uint32 {
	if b.slots[i].has(seqFar) {
		return q.far[b.ref(i)]
	}
	return base + b.slots[i].segd()
}

// locIn returns the location of the live slot i of b.
func (q *seqIndex) locIn(b *seqBlock, i int) loc {
	sl := &b.slots[i]
	l := loc{seg: q.segAt(b, i, b.segBase), off: sl.off, size: sl.size()}
	if sl.has(seqBig) {
		l.size = q.big[b.ref(i)]
	}
	return l
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
	if !b.slots[i].has(seqOlder) {
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
	if l.size == 0 {
		panic("flashstore: sequence index: a frame of no size")
	}
	t := slot{loc: l}
	t.setOlder(first, prev, ok)
	first, prev, ok = t.older()
	q.forget(b, i)
	sl := &b.slots[i]
	r := b.ref(i)
	*sl = deadSlot(sl.key())
	sl.off = l.off
	w := sl.word()
	if ok {
		if q.olders == nil {
			q.olders = make(map[seqRef]olderSegs)
		}
		q.olders[r] = olderSegs{first, prev}
		w |= seqOlder
	}
	if l.size < seqSizeSpan {
		w |= uint64(l.size) << seqSizeShift
	} else {
		if q.big == nil {
			q.big = make(map[seqRef]uint32)
		}
		q.big[r] = l.size
		w |= seqBig
	}
	sl.setWord(w)
	if l.seg < b.segBase || l.seg-b.segBase >= seqSegSpan {
		q.reseg(b, i, l.seg)
	}
	sl.setSegd(l.seg - b.segBase)
}

// reseg moves the segment window of b so that it holds seg, which slot
// i (being written, not counted) is to take: to the oldest segment of the
// other live slots when all fit, else to half a window before seg, the
// slots left outside going to q.far (and those back inside coming out).
func (q *seqIndex) reseg(b *seqBlock, i int, seg uint32) {
	lo, hi := seg, seg
	for j := range b.slots {
		if j != i && b.slots[j].live() {
			s := q.segAt(b, j, b.segBase)
			lo, hi = min(lo, s), max(hi, s)
		}
	}
	if hi-lo >= seqSegSpan {
		lo = seg - min(seg, seqSegSpan/2-1)
	}
	for j := range b.slots {
		sl := &b.slots[j]
		if j == i || !sl.live() {
			continue
		}
		s := q.segAt(b, j, b.segBase)
		if s >= lo && s-lo < seqSegSpan {
			if sl.has(seqFar) {
				delete(q.far, b.ref(j))
				sl.setFlag(seqFar, false)
			}
			sl.setSegd(s - lo)
			continue
		}
		if !sl.has(seqFar) {
			if q.far == nil {
				q.far = make(map[seqRef]uint32)
			}
			q.far[b.ref(j)] = s
			sl.setFlag(seqFar, true)
			sl.setSegd(0)
		}
	}
	b.segBase = lo
}

// forget drops what the side tables hold of slot i of b.
func (q *seqIndex) forget(b *seqBlock, i int) {
	if sl := &b.slots[i]; sl.has(seqOlder | seqFar | seqBig) {
		r := b.ref(i)
		if sl.has(seqOlder) {
			delete(q.olders, r)
		}
		if sl.has(seqFar) {
			delete(q.far, r)
		}
		if sl.has(seqBig) {
			delete(q.big, r)
		}
	}
}
