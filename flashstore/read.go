package flashstore

import (
	"slices"
	"sort"
)

// checkFrame verifies the Put frame fr read from at and decodes it.
func checkFrame(path string, at loc, fr []byte, v *entryView) error {
	if len(fr) < frameHeader || int(uint32(fr[0])|uint32(fr[1])<<8|uint32(fr[2])<<16|uint32(fr[3])<<24) != len(fr)-frameHeader ||
		!frameCRCOK(fr, fr[frameHeader:]) {
		return &CorruptError{File: path, Offset: int64(at.off), Reason: "checksum mismatch on re-read"}
	}
	if err := parseEntry(fr[frameHeader:], v); err != nil || v.op&opMask != OpPut {
		return &CorruptError{File: path, Offset: int64(at.off), Reason: "undecodable entry on re-read"}
	}
	return nil
}

// Range calls fn for every live entry, in log order (the order of each
// key's last Put, except that compaction moves the records of mostly
// dead segments to the head of the log: callers that need an order keep
// it in their values, as Route.Seq does), as of the moment Range starts;
// commits running meanwhile are not seen. key and value are only valid during fn. Range stops at
// and returns fn's first error, and returns a *CorruptError for a record
// that fails its check. fn may call Commit, Compact and Get.
//
// Range reads the log a group of segments at a time (about 32k live
// entries), so its memory does not grow with the log: it holds the
// locations of one group (24 bytes each, and the keys for RangeKeys),
// and the old locations of entries of the groups still to come that
// commits or compaction replace while it runs.
func (l *Log) Range(fn func(kind Kind, key, value []byte) error) error {
	return l.scan(allKinds, true, fn)
}

// RangeKinds is Range over the entries of the given kinds only (all
// kinds when none are given): the records of other kinds are not read at
// all. The broker rebuilds its state from the small records (sessions,
// routes) this way, leaving the message bodies on flash until Get
// fetches them.
func (l *Log) RangeKinds(kinds []Kind, fn func(kind Kind, key, value []byte) error) error {
	return l.scan(kindsOf(kinds), true, fn)
}

// kindsOf is the set of kinds, or every kind when there are none.
func kindsOf(kinds []Kind) kindSet {
	if len(kinds) == 0 {
		return allKinds
	}
	var set kindSet
	for _, k := range kinds {
		set.add(k)
	}
	return set
}

// RangeKeys is Range without the values: it calls fn with the kind and
// key of every live entry of the given kinds (all kinds when none are
// given), in the same order, reading them from the index, not the files.
// Only entries replaced while it runs are read back to learn their keys.
func (l *Log) RangeKeys(kinds []Kind, fn func(kind Kind, key []byte) error) error {
	return l.scan(kindsOf(kinds), false, func(kind Kind, key, _ []byte) error { return fn(kind, key) })
}

// rangeChunk is about how many live entries Range collects at a time:
// 32k, under 1 MiB of locations. (128k held 3 MiB while the broker
// recovered, its largest transient then; each group costs one walk of
// the index, cheap next to reading the records.)
var rangeChunk = 1 << 15 // a variable for tests

// ranging is a Range under way. It reports the live entries as of its
// start (those before end), a group of segments at a time; next is the
// first segment ordinal not yet collected. When a commit or compaction
// replaces an entry of a group still to come, the writer keeps its old
// location in kept, so that the Range still reports it.
type ranging struct {
	end   loc
	next  uint32
	kinds kindSet
	kept  []rangeEnt
}

// rangeEnt is an entry a Range will report: its frame, kind and, for
// RangeKeys, its key in the group's key buffer (key < 0: read it).
type rangeEnt struct {
	loc
	kind   Kind
	key    int32
	keyLen int32
}

// rangeOrder sorts entries in log order (see byLogOrder).
type rangeOrder []rangeEnt

func (s rangeOrder) Len() int           { return len(s) }
func (s rangeOrder) Less(i, j int) bool { return s[i].loc.before(s[j].loc) }
func (s rangeOrder) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// displaced notes that the live frame old of kind was replaced. The
// caller is the writer, holding Log.mu.
func (r *ranging) displaced(kind Kind, old loc) {
	if old.seg >= r.next && old.before(r.end) && r.kinds.has(kind) {
		r.kept = append(r.kept, rangeEnt{loc: old, kind: kind, key: -1})
	}
}

// scan is Range, RangeKinds and RangeKeys: it reports the live entries of
// kinds as of its start, with their values when values is set.
func (l *Log) scan(kinds kindSet, values bool, fn func(kind Kind, key, value []byte) error) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	segs := slices.Clone(l.segs)
	for _, s := range segs {
		s.pin()
	}
	r := &ranging{kinds: kinds}
	if n := len(segs); n > 0 {
		r.end = loc{seg: segs[n-1].ord, off: uint32(segs[n-1].size)}
	}
	l.ranges = append(l.ranges, r)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.ranges = slices.DeleteFunc(l.ranges, func(x *ranging) bool { return x == r })
		l.mu.Unlock()
		for _, s := range segs {
			s.unpin()
		}
	}()

	var (
		ents []rangeEnt
		keys []byte
		win  readWindow
		v    entryView
	)
	for i := 0; i < len(segs); {
		// Collect the group segs[i:j] under the lock.
		l.mu.RLock()
		j, n := i+1, segs[i].liveN
		for j < len(segs) && n+segs[j].liveN <= rangeChunk {
			n += segs[j].liveN
			j++
		}
		lo, hi := segs[i].ord, segs[j-1].ord
		ents, keys = slices.Grow(ents[:0], n+len(r.kept)), keys[:0]
		x := l.idx
		x.eachSlotIn(&kinds, lo, hi, func(s uint32, at loc) {
			if at.seg < lo || at.seg > hi || !at.before(r.end) {
				return
			}
			kind := x.kindAt(s)
			if !kinds.has(kind) {
				return
			}
			e := rangeEnt{loc: at, kind: kind, key: -1}
			if !values {
				n := len(keys)
				keys = x.appendKey(keys, s)
				e.key, e.keyLen = int32(n), int32(len(keys)-n)
			}
			ents = append(ents, e)
		})
		r.kept = slices.DeleteFunc(r.kept, func(e rangeEnt) bool {
			if e.seg > hi {
				return false
			}
			ents = append(ents, e)
			return true
		})
		r.next = hi + 1
		l.mu.RUnlock()

		sort.Sort(rangeOrder(ents))
		k, cur := i, (*segment)(nil)
		for _, ent := range ents {
			if !values && ent.key >= 0 {
				if err := fn(ent.kind, keys[ent.key:ent.key+ent.keyLen], nil); err != nil {
					return err
				}
				continue
			}
			if cur == nil || ent.seg != cur.ord {
				for segs[k].ord != ent.seg {
					k++
				}
				cur = segs[k]
				win = readWindow{f: cur.f, buf: win.buf}
			}
			if err := readEntry(&win, cur.path, ent.loc, &v); err != nil {
				return err
			}
			if err := fn(v.kind, v.key, v.value); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}
