package flashstore

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
)

// loc is where the frame of a live Put lives: segment ordinal, offset and
// frame size (header included). A segment holds at most maxSegmentBytes,
// so 32 bits address it.
type loc struct {
	seg  uint32
	off  uint32
	size uint32 // 0 marks a free slot
}

// maxSegmentBytes is the largest segment the index can address.
const maxSegmentBytes = 1<<32 - 1

// before reports whether a is earlier in the log than b.
func (a loc) before(b loc) bool { return a.seg < b.seg || a.seg == b.seg && a.off < b.off }

// slot is the index entry of one live key: 20 bytes, no pointers.
type slot struct {
	loc
	key uint32 // offset of the key's entry in the arena
	// The segments that may hold the key's older Puts (made since it was
	// last deleted, before its latest), as ordinals [seg-dfirst,
	// seg-dprev], or deltaNone, or deltaFar. A Delete records them with
	// the latest's, so that compaction knows which segments the Delete
	// must outlive (see appendDeleteFrame).
	dfirst, dprev uint16
}

const (
	deltaNone = 0xffff // no older Put outside the latest's segment
	deltaFar  = 0xfffe // too far back to count: from the log's start
)

// older returns the ordinals [first, prev] of the segments that may hold
// the key's older Puts, or ok false when there are none.
func (s *slot) older() (first, prev uint32, ok bool) {
	switch {
	case s.dprev == deltaNone:
		return 0, 0, false
	case s.dprev == deltaFar:
		return 0, s.seg, true
	case s.dfirst == deltaFar:
		return 0, s.seg - uint32(s.dprev), true
	}
	return s.seg - uint32(s.dfirst), s.seg - uint32(s.dprev), true
}

// setOlder sets the range older returns, relative to the slot's segment
// (which the caller sets first), widening what does not fit.
func (s *slot) setOlder(first, prev uint32, ok bool) {
	if !ok {
		s.dfirst, s.dprev = deltaNone, deltaNone
		return
	}
	prev = min(prev, s.seg)
	first = min(first, prev)
	if d := s.seg - prev; d >= deltaFar {
		s.dfirst, s.dprev = deltaFar, deltaFar
		return
	} else {
		s.dprev = uint16(d)
	}
	if d := s.seg - first; d >= deltaFar {
		s.dfirst = deltaFar
	} else {
		s.dfirst = uint16(d)
	}
}

// index maps kind+key to the location of the key's latest Put. It keeps
// no values: Get, Range and compaction read them back from the files.
// Message and route keys (a short prefix and an 8-byte id) live in the
// sequence index (seq, seqindex.go) at about 12.5 bytes each; what
// follows describes the hash table that holds the others.
//
// RAM per live key is a 20-byte slot, a 4-byte hash table cell at a load
// of 3/8 to 3/4, and the key itself in a byte arena (a length byte, the
// kind, the key): about 40 bytes for an 8-byte message key. Nothing in it
// holds a pointer, so the garbage collector never scans it. Slots and
// arena grow by fixed blocks, never copied, so that a growing index needs
// no second copy of itself (Open of a large log peaked at 1.6 times the
// index with doubling slices).
//
// The table is open addressing with linear probing. A cell is 0 (empty),
// a tombstone (slot bits 0, tag bits not), or tag<<bits | slot+1, where
// bits is log2 of the table size and the tag is the top 32-bits bits of
// the key's hash: most probes that hit another key are told apart by the
// tag without touching its slot or key. The table is sized so that every
// slot number fits in bits.
type index struct {
	seed   maphash.Seed
	table  []uint32
	bits   uint
	slots  [][]slot // blocks of slotBlock slots (the first grows to it)
	nslots int
	// arena holds the key entries (uvarint n, then n bytes: kind, key)
	// in blocks of arenaBlock bytes (the first grows to it); an entry
	// never straddles two. Its offset is block<<arenaBits | offset.
	arena [][]byte
	dead  int // arena bytes of deleted keys
	used  int // arena bytes in use, dead ones included
	// Free slots. Those in reuse[n] still own the dead arena entry of
	// their last key, n bytes long in all, which a new key of the same
	// length takes over: with keys of one shape (message ids, one
	// client's routes) the arena stops growing. Those in free own none.
	free   []uint32
	reuse  [maxReuse][]uint32
	nreuse int
	n      int   // live keys (the sequence index's not included)
	tombs  int   // tombstone cells
	live   int64 // sum of live frame sizes (the sequence index's included)
	// seq holds the keys of the broker's sequence shape (message ids and
	// routes, see seqindex.go) at about half the RAM; the table, slots
	// and arena hold the others.
	seq seqIndex
}

const (
	minIndexBits = 4
	maxReuse     = 64 // arena entries up to this length are reused
	slotBits     = 14
	slotBlock    = 1 << slotBits // 320 KiB
	arenaBits    = 20
	arenaBlock   = 1 << arenaBits // holds the longest entry (MaxKey + kind + length)
)

func newIndex() *index {
	return &index{seed: maphash.MakeSeed(), table: make([]uint32, 1<<minIndexBits), bits: minIndexBits}
}

func (x *index) hash(kind Kind, key []byte) uint64 {
	return maphash.Bytes(x.seed, key) ^ uint64(kind)*0x9e3779b97f4a7c15
}

// tag returns the tag bits of h for a table of 1<<x.bits cells.
func (x *index) tag(h uint64) uint32 { return uint32(h >> (32 + x.bits)) }

// slot returns slot s of the hash table's (s has no seqHandle). The
// pointer is valid until the next put or del.
func (x *index) slot(s uint32) *slot {
	return &x.slots[s>>slotBits][s&(slotBlock-1)]
}

// view returns slot s, of the hash table's or (seqHandle set) of the
// sequence index's, as a value: its location and older Puts.
func (x *index) view(s uint32) slot {
	if s&seqHandle != 0 {
		return x.seq.view(s)
	}
	return *x.slot(s)
}

// loc returns the location of slot s.
func (x *index) loc(s uint32) loc {
	if s&seqHandle != 0 {
		return x.seq.loc(s)
	}
	return x.slot(s).loc
}

// set points slot s at l with older Puts [first, prev] (ok), as
// slot.setOlder takes them.
func (x *index) set(s uint32, l loc, first, prev uint32, ok bool) {
	if s&seqHandle != 0 {
		x.seq.set(s, l, first, prev, ok)
		return
	}
	sl := x.slot(s)
	sl.loc = l
	sl.setOlder(first, prev, ok)
}

// newSlot adds a slot at the end.
func (x *index) newSlot() uint32 {
	s := x.nslots
	if s&(slotBlock-1) == 0 && s>>slotBits == len(x.slots) && s > 0 {
		x.slots = append(x.slots, make([]slot, 0, slotBlock))
	}
	if len(x.slots) == 0 {
		x.slots = append(x.slots, nil)
	}
	b := &x.slots[len(x.slots)-1]
	*b = append(*b, slot{})
	x.nslots++
	return uint32(s)
}

// eachSlot calls fn for every live slot and its location.
func (x *index) eachSlot(fn func(s uint32, l loc)) {
	x.eachTableSlot(func(s uint32, sl *slot) { fn(s, sl.loc) })
	x.seq.each(fn)
}

// eachSlotIn calls fn for every live slot, like eachSlot, but may leave
// out those of the sequence index whose kind is not in kinds or whose
// segment is outside [lo, hi] (fn still sees such slots of the hash
// table, and must check).
func (x *index) eachSlotIn(kinds *kindSet, lo, hi uint32, fn func(s uint32, l loc)) {
	x.eachTableSlot(func(s uint32, sl *slot) { fn(s, sl.loc) })
	x.seq.eachIn(kinds, lo, hi, fn)
}

// eachTableSlot calls fn for every live slot of the hash table's.
func (x *index) eachTableSlot(fn func(s uint32, sl *slot)) {
	for i, b := range x.slots {
		for j := range b {
			if b[j].size != 0 {
				fn(uint32(i<<slotBits+j), &b[j])
			}
		}
	}
}

// entry returns the arena bytes from offset e on.
func (x *index) entry(e uint32) []byte { return x.arena[e>>arenaBits][e&(arenaBlock-1):] }

// newEntry reserves n arena bytes at the end and returns their offset.
func (x *index) newEntry(n int) uint32 {
	if len(x.arena) == 0 {
		x.arena = append(x.arena, nil)
	}
	i := len(x.arena) - 1
	b := x.arena[i]
	if len(b)+n > arenaBlock {
		i++
		x.arena = append(x.arena, make([]byte, 0, arenaBlock))
		b = x.arena[i]
	}
	off := len(b)
	x.arena[i] = append(b, make([]byte, n)...)
	x.used += n
	return uint32(i<<arenaBits + off)
}

// keyAt returns the kind and key of slot s. The key is in the arena, or
// (from the sequence index) appended to buf[:0].
func (x *index) keyAt(s uint32, buf []byte) (Kind, []byte) {
	if s&seqHandle != 0 {
		return x.seq.appendKey(buf[:0], s)
	}
	return x.arenaKey(s)
}

// appendKey appends the key of slot s to dst.
func (x *index) appendKey(dst []byte, s uint32) []byte {
	if s&seqHandle != 0 {
		_, dst = x.seq.appendKey(dst, s)
		return dst
	}
	_, key := x.arenaKey(s)
	return append(dst, key...)
}

// arenaKey returns the kind and key of slot s of the hash table's, in
// the arena.
func (x *index) arenaKey(s uint32) (Kind, []byte) {
	b := x.entry(x.slot(s).key)
	n, w := binary.Uvarint(b)
	b = b[w : w+int(n)]
	return Kind(b[0]), b[1:]
}

// kindAt returns the kind of slot s.
func (x *index) kindAt(s uint32) Kind {
	if s&seqHandle != 0 {
		return x.seq.kindOf(s)
	}
	b := x.entry(x.slot(s).key)
	_, w := binary.Uvarint(b)
	return Kind(b[w])
}

// lookup returns the cell of kind+key and its slot, or, when absent, the
// cell where it would be inserted (the first tombstone or the empty cell
// that ended the probe).
func (x *index) lookup(kind Kind, key []byte, h uint64) (cell int, s uint32, ok bool) {
	mask := uint32(len(x.table) - 1)
	slotMask := uint32(1)<<x.bits - 1
	tag := x.tag(h)
	ins := -1
	for i := uint32(h) & mask; ; i = (i + 1) & mask {
		c := x.table[i]
		if c == 0 {
			if ins < 0 {
				ins = int(i)
			}
			return ins, 0, false
		}
		if c&slotMask == 0 { // tombstone
			if ins < 0 {
				ins = int(i)
			}
			continue
		}
		if c>>x.bits != tag {
			continue
		}
		s := c&slotMask - 1
		if k, kk := x.arenaKey(s); k == kind && bytes.Equal(kk, key) {
			return int(i), s, true
		}
	}
}

// find returns the slot of kind+key.
func (x *index) find(kind Kind, key []byte) (uint32, bool) {
	if fk, n, ok := seqSplit(kind, key); ok {
		return x.seq.find(fk, n)
	}
	_, s, ok := x.lookup(kind, key, x.hash(kind, key))
	return s, ok
}

// get returns the location of kind+key.
func (x *index) get(kind Kind, key []byte) (loc, bool) {
	s, ok := x.find(kind, key)
	if !ok {
		return loc{}, false
	}
	return x.loc(s), true
}

// put records l as the location of kind+key. It returns the previous
// location, if any.
func (x *index) put(kind Kind, key []byte, l loc) (old loc, had bool) {
	if fk, n, ok := seqSplit(kind, key); ok {
		if s, ok := x.seq.find(fk, n); ok {
			return x.replace(s, l), true
		}
		x.seq.insert(fk, n, l)
		x.live += int64(l.size)
		return loc{}, false
	}
	h := x.hash(kind, key)
	cell, s, ok := x.lookup(kind, key, h)
	if ok {
		return x.replace(s, l), true
	}
	if x.n+x.tombs+1 > len(x.table)/4*3 || x.nslots+2 >= 1<<x.bits {
		x.rehash(x.n + 1)
		cell, _, _ = x.lookup(kind, key, h)
	}
	if x.table[cell] != 0 {
		x.tombs-- // reusing a tombstone
	}
	n := uvarintLen(uint64(1+len(key))) + 1 + len(key)
	var e uint32
	if n < maxReuse && len(x.reuse[n]) > 0 {
		s = pop(&x.reuse[n])
		x.nreuse--
		e = x.slot(s).key
		x.dead -= n
	} else {
		s = x.freeSlot()
		e = x.newEntry(n)
	}
	b := x.entry(e)
	w := binary.PutUvarint(b, uint64(1+len(key)))
	b[w] = byte(kind)
	copy(b[w+1:], key)
	*x.slot(s) = slot{loc: l, key: e, dfirst: deltaNone, dprev: deltaNone}
	x.table[cell] = x.tag(h)<<x.bits | (s + 1)
	x.n++
	x.live += int64(l.size)
	return loc{}, false
}

// replace points slot s at l, a later Put of its key, and returns where
// it was.
func (x *index) replace(s uint32, l loc) (old loc) {
	sl := x.view(s)
	old = sl.loc
	first, prev, older := sl.older()
	if old.seg != l.seg { // the replaced Put is now an older one
		if !older {
			first = old.seg
		}
		prev, older = old.seg, true
	}
	x.set(s, l, first, prev, older)
	x.live += int64(l.size) - int64(old.size)
	return old
}

// del removes kind+key and returns its slot as it was (its key field
// is of no use to the caller).
func (x *index) del(kind Kind, key []byte) (old slot, had bool) {
	if fk, n, ok := seqSplit(kind, key); ok {
		s, ok := x.seq.find(fk, n)
		if !ok {
			return slot{}, false
		}
		old = x.seq.remove(s)
		x.live -= int64(old.size)
		return old, true
	}
	cell, s, ok := x.lookup(kind, key, x.hash(kind, key))
	if !ok {
		return slot{}, false
	}
	return x.remove(cell, s), true
}

// remove frees slot s, found in cell.
func (x *index) remove(cell int, s uint32) slot {
	sl := x.slot(s)
	old := *sl
	mask := len(x.table) - 1
	if x.table[(cell+1)&mask] == 0 {
		x.table[cell] = 0 // the end of a probe chain needs no tombstone
	} else {
		x.table[cell] = 1 << x.bits
		x.tombs++
	}
	b := x.entry(old.key)
	n, w := binary.Uvarint(b)
	b[w] = 0 // kind 0: a dead arena entry
	size := w + int(n)
	x.dead += size
	if size < maxReuse {
		*sl = slot{key: old.key} // keeps its arena entry for reuse
		x.reuse[size] = append(x.reuse[size], s)
		x.nreuse++
	} else {
		*sl = slot{}
		x.free = append(x.free, s)
	}
	x.n--
	x.live -= int64(old.size)
	if x.dead > 64<<10 && x.dead > x.used/2 {
		x.compactArena()
	}
	return old
}

// freeSlot returns a slot for a new key whose entry goes at the end of
// the arena: a free one (one that owns arena space when none owns none),
// or a new one.
func (x *index) freeSlot() uint32 {
	if len(x.free) > 0 {
		return pop(&x.free)
	}
	if x.nreuse > 0 {
		for i := range x.reuse {
			if len(x.reuse[i]) > 0 {
				x.nreuse--
				return pop(&x.reuse[i]) // its arena entry stays dead
			}
		}
	}
	return x.newSlot()
}

func pop(s *[]uint32) uint32 {
	n := len(*s) - 1
	v := (*s)[n]
	*s = (*s)[:n]
	return v
}

// uvarintLen is the length of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (x *index) len() int { return x.n + x.seq.n }

// rehash rebuilds the table for at least n live keys, dropping
// tombstones. The table grows to keep the load at most 3/4 and every slot
// number within its slot bits; it never shrinks.
func (x *index) rehash(n int) {
	b := x.bits
	for n > (1<<b)/4*3 || x.nslots+2 >= 1<<b {
		b++
	}
	if b > 30 {
		panic("flashstore: index full (more than 800 million keys)")
	}
	x.bits = b
	x.table = make([]uint32, 1<<b)
	x.tombs = 0
	mask := uint32(len(x.table) - 1)
	x.eachTableSlot(func(s uint32, _ *slot) {
		k, key := x.arenaKey(s)
		h := x.hash(k, key)
		j := uint32(h) & mask
		for x.table[j] != 0 {
			j = (j + 1) & mask
		}
		x.table[j] = x.tag(h)<<x.bits | (s + 1)
	})
}

// compactArena squeezes the dead entries out of the arena, in place, and
// points each live slot at its key's new offset. Entries only move down
// (to an earlier block, or earlier in theirs), so those not yet read are
// intact.
func (x *index) compactArena() {
	wb, wo := 0, 0 // write position: block, offset
	for rb := range x.arena {
		blk := x.arena[rb]
		for r := 0; r < len(blk); {
			n, vw := binary.Uvarint(blk[r:])
			end := r + vw + int(n)
			if blk[r+vw] != 0 {
				// Find the slot while the key is still at r.
				kind, key := Kind(blk[r+vw]), blk[r+vw+1:end]
				s, ok := x.find(kind, key)
				if !ok {
					panic("flashstore: index arena entry without a slot")
				}
				// A block holds at most arenaBlock bytes, whatever its
				// capacity (append may have grown the first one past it):
				// an offset past it would name the next block.
				if wo+end-r > min(cap(x.arena[wb]), arenaBlock) {
					x.arena[wb] = x.arena[wb][:wo]
					wb, wo = wb+1, 0
				}
				dst := x.arena[wb][:min(cap(x.arena[wb]), arenaBlock)]
				x.slot(s).key = uint32(wb<<arenaBits + wo)
				wo += copy(dst[wo:], blk[r:end])
			}
			r = end
		}
	}
	if len(x.arena) > 0 {
		x.arena[wb] = x.arena[wb][:wo]
		clear(x.arena[wb+1:])
		x.arena = x.arena[:wb+1]
	}
	x.used, x.dead = wb*arenaBlock+wo, 0
	// The dead entries are gone: the free slots that owned one own none.
	for i := range x.reuse {
		x.free = append(x.free, x.reuse[i]...)
		x.reuse[i] = x.reuse[i][:0]
	}
	x.nreuse = 0
}

// bytes returns the RAM the index holds.
func (x *index) bytes() int64 {
	n := int64(cap(x.table))*4 + int64(cap(x.free))*4
	for _, b := range x.slots {
		n += int64(cap(b)) * 20 // unsafe.Sizeof(slot{})
	}
	for _, b := range x.arena {
		n += int64(cap(b))
	}
	for i := range x.reuse {
		n += int64(cap(x.reuse[i])) * 4
	}
	return n + x.seq.bytes()
}

// setLoc moves slot s to l (compaction), keeping the segments of its
// older Puts: the one it leaves goes with the move.
func (x *index) setLoc(s uint32, l loc) (old loc) {
	sl := x.view(s)
	old = sl.loc
	first, prev, ok := sl.older()
	x.set(s, l, first, prev, ok)
	x.live += int64(l.size) - int64(old.size)
	return old
}

// widenOlder adds the segments [first, prev] to the older Puts of slot s
// (compaction dropped a Delete that hid them; see compactStep).
func (x *index) widenOlder(s uint32, first, prev uint32) {
	sl := x.view(s)
	f, p, ok := sl.older()
	if !ok {
		f, p = first, prev
	}
	x.set(s, sl.loc, min(f, first), max(p, prev), true)
}

// clearOlder forgets the older Puts of slot s (a snapshot holds all
// there is).
func (x *index) clearOlder(s uint32) {
	x.set(s, x.loc(s), 0, 0, false)
}

// kindSet is a set of kinds; the zero value holds none.
type kindSet [4]uint64

func (k *kindSet) add(kind Kind)      { k[kind>>6] |= 1 << (kind & 63) }
func (k *kindSet) has(kind Kind) bool { return k[kind>>6]&(1<<(kind&63)) != 0 }

// allKinds holds every kind.
var allKinds = kindSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
