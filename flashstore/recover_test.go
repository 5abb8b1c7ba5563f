package flashstore

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// history is a log built batch by batch, with where each batch ended and
// the live state after it.
type history struct {
	opts    Options
	batches []ops
	file    []string // segment holding batch i
	end     []int64  // end offset of batch i in file[i]
	state   []*model // state after batch i
}

// build commits n random batches (one write each) and closes the log.
func build(t *testing.T, opts Options, n int, seed uint64) *history {
	return buildKeys(t, opts, n, seed, 1000)
}

// buildKeys is build over a key space of the given size (small ones make
// dead bytes, and so compactions).
func buildKeys(t *testing.T, opts Options, n int, seed uint64, keys int) *history {
	t.Helper()
	l, _ := open(t, opts)
	h := &history{opts: opts}
	rng := rand.New(rand.NewPCG(seed, 7))
	m := newModel()
	var b Batch
	for i := 0; i < n; i++ {
		o := randOps(rng.IntN, 1+rng.IntN(4), keys, "v")
		commit(t, l, o.fill(&b))
		m.apply(o)
		segs := segFiles(t, opts.Dir)
		last := segs[len(segs)-1]
		st, err := os.Stat(last)
		if err != nil {
			t.Fatal(err)
		}
		h.batches = append(h.batches, o)
		h.file = append(h.file, last)
		h.end = append(h.end, st.Size())
		h.state = append(h.state, m.clone())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

// stateAt returns the expected live state when file is cut at off.
func (h *history) stateAt(file string, off int64) (*model, int64) {
	m, end := newModel(), int64(-1)
	for i := range h.batches {
		if h.file[i] == file && h.end[i] > off {
			break
		}
		m, end = h.state[i], h.end[i]
	}
	return m, end
}

// TestTornTail cuts the last segment at every byte offset within its last
// few records: Open must recover exactly the whole batches before the cut,
// cut the file there, and accept new commits that survive a reopen.
func TestTornTail(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024 // several sealed segments before the active one
	h := build(t, opts, 60, 1)
	segs := segFiles(t, opts.Dir)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	last := segs[len(segs)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, data)
	if len(ends) < 6 {
		t.Fatalf("last segment has only %d records", len(ends))
	}
	from := ends[len(ends)-6] // the last five records
	for cut := from; cut <= int64(len(data)); cut++ {
		dir := copyDir(t, opts.Dir)
		name := filepath.Join(dir, filepath.Base(last))
		if err := os.Truncate(name, cut); err != nil {
			t.Fatal(err)
		}
		want, end := h.stateAt(last, cut)
		if end < 0 {
			t.Fatalf("cut %d: no whole batch before the cut", cut)
		}
		o := opts
		o.Dir = dir
		l, rep := open(t, o)
		sameState(t, "after cut", dump(t, l), want.dump())
		if rep.TruncatedBytes != cut-end {
			t.Fatalf("cut %d: TruncatedBytes = %d, want %d", cut, rep.TruncatedBytes, cut-end)
		}
		if st, err := os.Stat(name); err != nil || st.Size() != end {
			t.Fatalf("cut %d: file not cut to the batch boundary %d: %v %v", cut, end, st.Size(), err)
		}
		// Append more, then reopen: the new batches follow the good prefix.
		more := ops{{kind: KindMessage, key: "new", value: "after-cut"}, {del: true, kind: KindSession, key: "k0001"}}
		var b Batch
		commit(t, l, more.fill(&b))
		want = want.clone()
		want.apply(more)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, rep2 := open(t, o)
		sameState(t, "after append and reopen", dump(t, l2), want.dump())
		if rep2.TruncatedBytes != 0 {
			t.Fatalf("cut %d: second reopen truncated %d bytes", cut, rep2.TruncatedBytes)
		}
		l2.Close()
	}
}

// flipBit flips one bit of file at off.
func flipBit(t *testing.T, file string, off int64) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x10
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// frameAt returns the start of the frame that holds off.
func frameAt(t *testing.T, file string, off int64) int64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(0)
	for _, e := range frameEnds(t, data) {
		if off < e {
			return start
		}
		start = e
	}
	t.Fatalf("offset %d past the end of %s", off, file)
	return 0
}

func TestFlippedBitInSealedSegment(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	h := build(t, opts, 40, 2)
	segs := segFiles(t, opts.Dir)
	victim := segs[1]
	st, _ := os.Stat(victim)
	off := st.Size() / 2
	before, _ := os.ReadFile(victim)
	frame := frameAt(t, victim, off) // before the flip, which may hit a length
	flipBit(t, victim, off)
	damaged, _ := os.ReadFile(victim)

	for attempt := 0; attempt < 2; attempt++ {
		_, rep, err := Open(opts)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
			t.Fatalf("Open = %v, want a CorruptError", err)
		}
		if ce.File != victim || ce.Offset != frame {
			t.Fatalf("corruption reported at %s:%d, want %s:%d", ce.File, ce.Offset, victim, frame)
		}
		if len(rep.Quarantined) != 1 || rep.Quarantined[0] != victim+".broken" {
			t.Fatalf("Quarantined = %v", rep.Quarantined)
		}
		kept, err := os.ReadFile(victim + ".broken")
		if err != nil || string(kept) != string(damaged) {
			t.Fatalf("broken copy differs from the damaged file (%v)", err)
		}
		now, _ := os.ReadFile(victim)
		if string(now) != string(damaged) {
			t.Fatal("Open changed the damaged sealed segment")
		}
	}
	if m, _ := filepath.Glob(filepath.Join(opts.Dir, "*.broken")); len(m) != 1 {
		t.Fatalf("a restart made another copy: %v", m)
	}
	_ = before
	_ = h
}

func TestFlippedBitInTail(t *testing.T) {
	opts := testOptions(t)
	h := build(t, opts, 30, 3)
	last := h.file[len(h.file)-1]
	// A bit in the middle of the last batch: a torn write, cut off.
	lastStart := h.end[len(h.end)-2]
	off := (lastStart + h.end[len(h.end)-1]) / 2
	flipBit(t, last, off)
	l, rep := open(t, opts)
	defer l.Close()
	sameState(t, "after tail flip", dump(t, l), h.state[len(h.state)-2].dump())
	if rep.TruncatedBytes != h.end[len(h.end)-1]-lastStart {
		t.Fatalf("TruncatedBytes = %d, want %d", rep.TruncatedBytes, h.end[len(h.end)-1]-lastStart)
	}
	if len(rep.Quarantined) != 0 {
		t.Fatalf("tail damage quarantined: %v", rep.Quarantined)
	}
}

// Damage in the last segment followed by a write that was issued after an
// fdatasync covering it (a barrier entry) is corruption, not a torn tail.
func TestFlippedBitBeforeDurableWrite(t *testing.T) {
	opts := testOptions(t)
	h := build(t, opts, 30, 4)
	last := h.file[len(h.file)-1]
	off := h.end[len(h.end)-5] + 10 // in the fourth-last batch
	frame := frameAt(t, last, off)
	flipBit(t, last, off)
	_, _, err := Open(opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != frame {
		t.Fatalf("Open = %v, want corruption at %d", err, frame)
	}
}

// Under SyncNone the later writes were never synced, so the same damage is
// a torn write: the log is cut before it (the documented loss window).
func TestFlippedBitSyncNoneIsTorn(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	h := build(t, opts, 30, 4)
	last := h.file[len(h.file)-1]
	off := h.end[len(h.end)-5] + 10
	flipBit(t, last, off)
	l, rep := open(t, opts)
	defer l.Close()
	sameState(t, "after flip", dump(t, l), h.state[len(h.state)-5].dump())
	if rep.TruncatedBytes != h.end[len(h.end)-1]-h.end[len(h.end)-5] {
		t.Fatalf("TruncatedBytes = %d", rep.TruncatedBytes)
	}
}

func TestSalvageCorrupt(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	h := build(t, opts, 40, 5)
	segs := segFiles(t, opts.Dir)
	victim := segs[1]
	// Damage the second batch of the victim segment.
	var idx []int
	for i, f := range h.file {
		if f == victim {
			idx = append(idx, i)
		}
	}
	if len(idx) < 3 {
		t.Fatalf("victim holds %d batches", len(idx))
	}
	flipBit(t, victim, h.end[idx[0]]+12)
	want := newModel()
	for i, o := range h.batches {
		if i >= idx[1] && i <= idx[len(idx)-1] {
			continue // lost: from the damage to the end of its segment
		}
		want.apply(o)
	}
	o := opts
	o.SalvageCorrupt = true
	l, rep := open(t, o)
	if len(rep.Quarantined) != 1 {
		t.Fatalf("Quarantined = %v", rep.Quarantined)
	}
	sameState(t, "salvaged", dump(t, l), want.dump())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The salvage compacted: a normal Open now works.
	l2 := mustOpen(t, opts)
	sameState(t, "after salvage", dump(t, l2), want.dump())
}

func TestMissingSegmentIsCorrupt(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 1024
	build(t, opts, 40, 6)
	segs := segFiles(t, opts.Dir)
	if err := os.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != segs[2] {
		t.Fatalf("Open = %v, want a sequence gap at %s", err, segs[2])
	}
}

func TestBadHeaderIsCorrupt(t *testing.T) {
	opts := testOptions(t)
	build(t, opts, 5, 7)
	segs := segFiles(t, opts.Dir)
	flipBit(t, segs[0], 9)
	_, rep, err := Open(opts)
	if !errors.Is(err, ErrCorrupt) || len(rep.Quarantined) != 1 {
		t.Fatalf("Open = %v, %+v", err, rep)
	}
}

func TestLeftoverTmpRemoved(t *testing.T) {
	opts := testOptions(t)
	h := build(t, opts, 5, 8)
	tmp := filepath.Join(opts.Dir, segmentName(999)+".tmp")
	if err := os.WriteFile(tmp, []byte("half a segment"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, opts)
	sameState(t, "reopen", dump(t, l), h.state[len(h.state)-1].dump())
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf(".tmp not removed: %v", err)
	}
}
