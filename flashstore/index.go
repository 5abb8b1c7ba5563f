package flashstore

import (
	"cmp"
	"slices"
)

// loc is where the frame of a live Put lives: segment ordinal, offset and
// frame size (header included). size 0 marks a free slot.
type loc struct {
	off  int64
	seg  uint32
	size uint32
}

// index maps kind+key to the location of the key's latest Put. It keeps
// no values: Range and compaction read them back from the files. Locations
// live in a pointer-free slice so updates allocate nothing and the garbage
// collector never scans them; only new keys allocate (their string).
type index struct {
	m     map[string]uint32 // kind byte + key -> slot
	slots []loc
	free  []uint32
	live  int64 // sum of live frame sizes
}

func newIndex() *index { return &index{m: make(map[string]uint32)} }

// put records l as the location of kk and returns the previous location.
func (x *index) put(kk []byte, l loc) (old loc, had bool) {
	if s, ok := x.m[string(kk)]; ok {
		old = x.slots[s]
		x.slots[s] = l
		x.live += int64(l.size) - int64(old.size)
		return old, true
	}
	var s uint32
	if n := len(x.free); n > 0 {
		s = x.free[n-1]
		x.free = x.free[:n-1]
		x.slots[s] = l
	} else {
		s = uint32(len(x.slots))
		x.slots = append(x.slots, l)
	}
	x.m[string(kk)] = s
	x.live += int64(l.size)
	return loc{}, false
}

// del removes kk and returns its location.
func (x *index) del(kk []byte) (old loc, had bool) {
	s, ok := x.m[string(kk)]
	if !ok {
		return loc{}, false
	}
	old = x.slots[s]
	delete(x.m, string(kk))
	x.slots[s] = loc{}
	x.free = append(x.free, s)
	x.live -= int64(old.size)
	return old, true
}

// get returns the location of kk.
func (x *index) get(kk []byte) (loc, bool) {
	s, ok := x.m[string(kk)]
	if !ok {
		return loc{}, false
	}
	return x.slots[s], true
}

func (x *index) len() int { return len(x.m) }

// slotLoc is a live slot and its location, as collected for Range and
// compaction.
type slotLoc struct {
	slot uint32
	loc
}

// collect appends every live location to dst in log order (segment, then
// offset), which is the order of each key's last Put.
func (x *index) collect(dst []slotLoc) []slotLoc {
	dst = slices.Grow(dst[:0], len(x.m))
	for i, l := range x.slots {
		if l.size != 0 {
			dst = append(dst, slotLoc{uint32(i), l})
		}
	}
	slices.SortFunc(dst, func(a, b slotLoc) int {
		if c := cmp.Compare(a.seg, b.seg); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	return dst
}
