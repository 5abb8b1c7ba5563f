package flashstore

import "encoding/binary"

// The broker's most numerous keys have one shape: a message's key is its
// 8-byte big-endian id, a route's is a short session prefix and the
// same id (mqtt/store.go), and ids grow as messages arrive. A general
// index entry of such a key costs about 40 bytes (the slot, a hash
// cell, the key in the arena), and a queued delivery has two of them.
//
// seqIndex keeps these keys in sorted runs instead: one family per kind
// and prefix, whose keys are the counters of its entries. A family is a
// list of blocks sorted by counter; a block holds up to seqBlockLen slots
// in counter order, each slot's key field the counter less the block's
// base. So an entry costs its 12-byte slot (seqSlot, seqslot.go: the
// counter and segment as 16-bit deltas, the older Puts aside) and
// nothing else: no hash cell, no arena bytes. Puts arrive nearly in order (new ids, one
// session's queue), so they append at the tail; those out of order (a
// record compaction moved, replayed after newer ones) are inserted,
// splitting a full block; a counter more than seqKeySpan past a
// block's base starts a block of its own. A Delete marks its slot dead (size 0, the key
// kept for the search); a block that runs empty is freed, and one that
// falls to a quarter live is squeezed into an allocation twice its live
// slots (the head block only at a 64th, since a queue drained in order
// empties it soon), so a queue drained out of order holds at most about
// four times its live slots; a family that runs empty keeps at most
// seqKeepCap slots. Lookups are two binary searches, over the family's blocks and
// within one.
//
// A slot of the sequence index is named by a handle with seqHandle set,
// its block's id and its position in the block. Handles stay valid
// until the next put or del (which may move slots within and between
// blocks); nothing holds one across them (compaction and snapshots find,
// then write, then setLoc, all on the writer goroutine).
type seqIndex struct {
	fams   map[famKey]*seqFamily
	blocks []*seqBlock // by id; nil: a free id
	freeID []uint32
	// empty counts the families without a live key. They keep their
	// block, so that a session whose queue empties and fills again
	// does not allocate; sweep frees them when there are many.
	empty int
	n     int // live entries
	// spare is the slots of a full-size block freed or squeezed, kept
	// (zeroed) for the next one a family's tail needs, so that a queue
	// moving at a steady length allocates little.
	spare []seqSlot
	// far holds the segment of the slots with seqFar set, big the size
	// of those with seqBig, olders the older Puts of those with seqOlder
	// (seqslot.go).
	far    map[seqRef]uint32
	big    map[seqRef]uint32
	olders map[seqRef]olderSegs
}

// Shape and sizes of the sequence index.
const (
	seqPrefixMax = 7 // a key's prefix before its counter, at most
	seqBlockBits = 8
	seqBlockLen  = 1 << seqBlockBits // slots per block, at most (3 KiB)
	seqMinCap    = 4                 // slots of a family's first block
	seqKeepCap   = 16                // slots an emptied family keeps, at most
	seqHandle    = 1 << 31           // the bit of a handle into the sequence index
	seqMaxBlocks = 1 << (31 - seqBlockBits)
)

// seqKinds are the kinds whose keys the sequence index takes: those of
// KindMessage and KindRoute that end with an 8-byte counter after a
// prefix of at most seqPrefixMax bytes.
func seqKind(kind Kind) bool { return kind == KindMessage || kind == KindRoute }

// famKey names a family: a kind and a key prefix.
type famKey struct {
	kind Kind
	n    uint8
	p    [seqPrefixMax]byte
}

// seqFamily is the keys of one kind and prefix, in blocks sorted by
// counter.
type seqFamily struct {
	key    famKey
	blocks []*seqBlock
	live   int
}

// seqBlock is a run of a family's slots in counter order. Slot i's
// counter is base + slots[i].key(), its segment segBase +
// slots[i].segd() (see seqSlot).
type seqBlock struct {
	fam     *seqFamily
	base    uint64
	slots   []seqSlot
	live    int32
	id      uint32
	segBase uint32
}

// seqSplit returns the family and counter of kind+key, or ok false when
// the key is not of the sequence index's shape.
func seqSplit(kind Kind, key []byte) (fk famKey, n uint64, ok bool) {
	p := len(key) - 8
	if !seqKind(kind) || p < 0 || p > seqPrefixMax {
		return fk, 0, false
	}
	fk.kind, fk.n = kind, uint8(p)
	copy(fk.p[:], key[:p])
	return fk, binary.BigEndian.Uint64(key[p:]), true
}

// handle returns the handle of slot i of b.
func (b *seqBlock) handle(i int) uint32 { return seqHandle | b.id<<seqBlockBits | uint32(i) }

// at returns the block and position a handle names.
func (q *seqIndex) at(h uint32) (*seqBlock, int) {
	return q.blocks[(h&^seqHandle)>>seqBlockBits], int(h & (seqBlockLen - 1))
}

// blockOf returns the position in f.blocks of the block where counter n
// is or would go: the last whose base is at most n, or 0.
func blockOf(f *seqFamily, n uint64) int {
	i, j := 0, len(f.blocks)
	for i < j {
		h := int(uint(i+j) >> 1)
		if f.blocks[h].base <= n {
			i = h + 1
		} else {
			j = h
		}
	}
	return max(i-1, 0)
}

// search returns the position in b of the first slot whose counter is at
// least n.
func (b *seqBlock) search(n uint64) int {
	if n < b.base {
		return 0
	}
	d := n - b.base
	if d >= seqKeySpan {
		return len(b.slots)
	}
	i, j := 0, len(b.slots)
	for i < j {
		h := int(uint(i+j) >> 1)
		if uint64(b.slots[h].key()) < d {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// find returns the handle of the live entry fk+n.
func (q *seqIndex) find(fk famKey, n uint64) (uint32, bool) {
	f := q.fams[fk]
	if f == nil || f.live == 0 {
		return 0, false
	}
	b := f.blocks[blockOf(f, n)]
	i := b.search(n)
	if i < len(b.slots) && b.base+uint64(b.slots[i].key()) == n && b.slots[i].live() {
		return b.handle(i), true
	}
	return 0, false
}

// insert adds fk+n, which is not live, at l, and returns its handle.
func (q *seqIndex) insert(fk famKey, n uint64, l loc) uint32 {
	f := q.fams[fk]
	if f == nil {
		if q.fams == nil {
			q.fams = make(map[famKey]*seqFamily)
		}
		f = &seqFamily{key: fk}
		q.fams[fk] = f
		q.empty++
	}
	if f.live == 0 {
		q.empty--
	}
	if len(f.blocks) == 0 {
		f.blocks = append(f.blocks, q.newBlock(f, n, seqMinCap))
	}
	b, i := q.place(f, n)
	b.slots[i] = deadSlot(uint32(n - b.base))
	q.write(b, i, l, 0, 0, false)
	b.live++
	f.live++
	q.n++
	return b.handle(i)
}

// place makes room for counter n in f and returns where: a dead slot of
// the same counter, or a new one in counter order. A full block is
// squeezed when a quarter of it is dead, else split; a counter too far
// from a block's for its seqKeyBits keys gets a block of its own.
func (q *seqIndex) place(f *seqFamily, n uint64) (*seqBlock, int) {
	for {
		bi := blockOf(f, n)
		b := f.blocks[bi]
		if len(b.slots) == 0 {
			b.base = n
		}
		i := b.search(n)
		if i < len(b.slots) && b.base+uint64(b.slots[i].key()) == n {
			return b, i // dead: taken over
		}
		switch {
		case n < b.base && (b.base-n >= seqKeySpan || uint64(lastKey(b))+(b.base-n) >= seqKeySpan),
			n > b.base && n-b.base >= seqKeySpan:
			return q.insertBlock(f, bi, n, seqMinCap), 0
		case len(b.slots) == seqBlockLen && int(b.live) < seqBlockLen*3/4:
			q.squeeze(b, cap(b.slots))
			continue
		case len(b.slots) == seqBlockLen && i == len(b.slots):
			// After a full block (an append, nearly always): the next.
			return q.insertBlock(f, bi, n, seqBlockLen), 0
		case len(b.slots) == seqBlockLen:
			q.split(f, bi)
			continue
		}
		if n < b.base {
			rebase(b, n)
		}
		if len(b.slots) == cap(b.slots) {
			// Doubling, up to a block.
			b.slots = append(make([]seqSlot, 0, min(max(2*cap(b.slots), seqMinCap), seqBlockLen)), b.slots...)
		}
		b.slots = b.slots[:len(b.slots)+1]
		copy(b.slots[i+1:], b.slots[i:])
		return b, i
	}
}

// lastKey returns the key field of b's last slot (0 when empty).
func lastKey(b *seqBlock) uint32 {
	if len(b.slots) == 0 {
		return 0
	}
	return b.slots[len(b.slots)-1].key()
}

// rebase lowers b's base to n, which the caller checked keeps every
// key within seqKeyBits.
func rebase(b *seqBlock, n uint64) {
	d := uint32(b.base - n)
	for i := range b.slots {
		b.slots[i].setKey(b.slots[i].key() + d)
	}
	b.base = n
}

// insertBlock adds a block with room for c slots, one of them for n,
// next to f.blocks[bi], where n sorts, and returns it.
func (q *seqIndex) insertBlock(f *seqFamily, bi int, n uint64, c int) *seqBlock {
	nb := q.newBlock(f, n, c)
	if n > f.blocks[bi].base {
		bi++
	}
	f.blocks = append(f.blocks, nil)
	copy(f.blocks[bi+1:], f.blocks[bi:])
	f.blocks[bi] = nb
	nb.slots = append(nb.slots, seqSlot{})
	return nb
}

// split moves the upper half of the full block f.blocks[bi] into a new
// block after it.
func (q *seqIndex) split(f *seqFamily, bi int) {
	b := f.blocks[bi]
	h := len(b.slots) / 2
	nb := q.newBlock(f, b.base+uint64(b.slots[h].key()), seqBlockLen)
	nb.segBase = b.segBase
	d := b.slots[h].key()
	for _, sl := range b.slots[h:] {
		if sl.live() {
			nb.live++
		}
		sl.setKey(sl.key() - d)
		nb.slots = append(nb.slots, sl)
	}
	b.live -= nb.live
	clear(b.slots[h:])
	b.slots = b.slots[:h]
	f.blocks = append(f.blocks, nil)
	copy(f.blocks[bi+2:], f.blocks[bi+1:])
	f.blocks[bi+1] = nb
}

// squeeze drops b's dead slots, and moves the live ones into a new
// allocation of room slots when that is smaller than b's.
func (q *seqIndex) squeeze(b *seqBlock, room int) {
	if room < cap(b.slots) {
		live := make([]seqSlot, 0, max(room, seqMinCap))
		for _, sl := range b.slots {
			if sl.live() {
				live = append(live, sl)
			}
		}
		q.keepSpare(b.slots)
		b.slots = live
		return
	}
	live := b.slots[:0]
	for _, sl := range b.slots {
		if sl.live() {
			live = append(live, sl)
		}
	}
	clear(b.slots[len(live):len(b.slots)])
	b.slots = live
}

// newBlock returns an empty block of f with room for c slots and base n.
func (q *seqIndex) newBlock(f *seqFamily, n uint64, c int) *seqBlock {
	b := &seqBlock{fam: f, base: n}
	if c == seqBlockLen && q.spare != nil {
		b.slots, q.spare = q.spare, nil
	} else {
		b.slots = make([]seqSlot, 0, c)
	}
	if k := len(q.freeID); k > 0 {
		b.id = q.freeID[k-1]
		q.freeID = q.freeID[:k-1]
		q.blocks[b.id] = b
		return b
	}
	if len(q.blocks) >= seqMaxBlocks {
		panic("flashstore: sequence index full")
	}
	b.id = uint32(len(q.blocks))
	q.blocks = append(q.blocks, b)
	return b
}

// freeBlock gives b's id back.
func (q *seqIndex) freeBlock(b *seqBlock) {
	q.blocks[b.id] = nil
	q.freeID = append(q.freeID, b.id)
	q.keepSpare(b.slots)
	b.slots = nil
}

// keepSpare keeps slots, no longer used, as the spare when it is a
// full-size block's and there is none.
func (q *seqIndex) keepSpare(slots []seqSlot) {
	if q.spare == nil && cap(slots) == seqBlockLen {
		clear(slots[:cap(slots)])
		q.spare = slots[:0]
	}
}

// remove marks the slot at h dead and returns it as it was, as the hash
// table would hold it.
func (q *seqIndex) remove(h uint32) slot {
	b, i := q.at(h)
	old := q.viewIn(b, i)
	q.forget(b, i)
	b.slots[i] = deadSlot(b.slots[i].key())
	b.live--
	f := b.fam
	f.live--
	q.n--
	switch {
	case b.live == 0 && len(f.blocks) == 1:
		// The family's only block: kept for the next key, unless it
		// is large (an idle session keeps no memory of a burst).
		if cap(b.slots) > seqKeepCap {
			q.keepSpare(b.slots)
			b.slots = nil
		} else {
			clear(b.slots)
			b.slots = b.slots[:0]
		}
		q.empty++
		if q.empty > 64 && q.empty > len(q.fams)/2 {
			q.sweep()
		}
	case b.live == 0:
		bi := blockOf(f, b.base)
		if f.blocks[bi] != b {
			panic("flashstore: sequence index blocks out of order")
		}
		f.blocks = append(f.blocks[:bi], f.blocks[bi+1:]...)
		f.blocks[len(f.blocks) : len(f.blocks)+1][0] = nil
		q.freeBlock(b)
	case b == f.blocks[len(f.blocks)-1] || len(b.slots) < 16:
		// The tail: appends reuse its room (place squeezes it).
	case b == f.blocks[0] && int(b.live)*64 <= len(b.slots):
		// The head of a queue drained in order soon runs empty: it
		// is squeezed only once nearly all dead, so that the drain
		// allocates little (a 16-slot block per 256 entries).
		q.squeeze(b, 4*int(b.live))
	case b != f.blocks[0] && int(b.live)*4 <= len(b.slots):
		// Sparse (a queue drained out of order): into an allocation
		// twice its live slots.
		q.squeeze(b, 2*int(b.live))
	}
	return old
}

// sweep frees the families without a live key.
func (q *seqIndex) sweep() {
	for k, f := range q.fams {
		if f.live == 0 {
			for _, b := range f.blocks {
				q.freeBlock(b)
			}
			delete(q.fams, k)
		}
	}
	q.empty = 0
}

// appendKey appends the key of the slot at h to dst and returns its kind.
func (q *seqIndex) appendKey(dst []byte, h uint32) (Kind, []byte) {
	b, i := q.at(h)
	fk := &b.fam.key
	dst = append(dst, fk.p[:fk.n]...)
	return fk.kind, binary.BigEndian.AppendUint64(dst, b.base+uint64(b.slots[i].key()))
}

// kindOf returns the kind of the slot at h.
func (q *seqIndex) kindOf(h uint32) Kind {
	b, _ := q.at(h)
	return b.fam.key.kind
}

// each calls fn for every live slot and its location.
func (q *seqIndex) each(fn func(h uint32, l loc)) { q.eachIn(&allKinds, 0, ^uint32(0), fn) }

// eachIn is each over the live slots of the families of a kind in kinds
// whose segment is in [lo, hi]. Range calls it once per group of
// segments, so it skips the families of other kinds whole and reads a
// slot's segment before it builds the slot's location.
func (q *seqIndex) eachIn(kinds *kindSet, lo, hi uint32, fn func(h uint32, l loc)) {
	for _, b := range q.blocks {
		if b == nil || !kinds.has(b.fam.key.kind) {
			continue
		}
		for i := range b.slots {
			if !b.slots[i].live() {
				continue
			}
			if seg := q.segAt(b, i, b.segBase); seg < lo || seg > hi {
				continue
			}
			fn(b.handle(i), q.locIn(b, i))
		}
	}
}

// bytes returns the RAM the sequence index holds, roughly: the slots, the
// blocks, the families and the side tables (about 48 bytes an entry).
func (q *seqIndex) bytes() int64 {
	const slotSize, blockSize = 12, 64
	n := int64(cap(q.blocks))*8 + int64(cap(q.freeID))*4 + int64(len(q.far)+len(q.big)+len(q.olders))*48
	if q.spare != nil {
		n += seqBlockLen * slotSize
	}
	for _, b := range q.blocks {
		if b != nil {
			n += int64(cap(b.slots))*slotSize + blockSize
		}
	}
	for _, f := range q.fams {
		n += int64(cap(f.blocks))*8 + 64 + 24
	}
	return n
}
