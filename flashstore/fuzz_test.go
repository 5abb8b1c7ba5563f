package flashstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenSegment opens arbitrary bytes as the only segment of a log. Open
// must never panic and may only succeed (a clean or torn tail) or fail with
// ErrCorrupt; a log it opened must reopen cleanly to the same state.
func FuzzOpenSegment(f *testing.F) {
	golden, err := os.ReadFile(goldenFile)
	if err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{nil, {0}, make([]byte, 64), []byte("not a segment at all"), golden}
	for _, cut := range []int{8, 9, 30, len(golden) / 2, len(golden) - 1} {
		seeds = append(seeds, golden[:cut])
	}
	for _, off := range []int{0, 4, 12, len(golden) / 3, len(golden) - 3} {
		s := append([]byte(nil), golden...)
		s[off] ^= 0x04
		seeds = append(seeds, s)
	}
	// Damage followed by a barrier entry: corruption, not a torn tail.
	s := append([]byte(nil), golden...)
	s[0x70] ^= 0x01
	seeds = append(seeds, s)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{Dir: dir, Sync: SyncNone}
		l, rep, err := Open(opts)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open failed with %v, not ErrCorrupt", err)
			}
			return
		}
		if rep.TruncatedBytes > int64(len(data)) {
			t.Fatalf("truncated %d of %d bytes", rep.TruncatedBytes, len(data))
		}
		want := dump(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, rep2, err := Open(opts)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer l2.Close()
		if rep2.TruncatedBytes != 0 || len(rep2.Quarantined) != 0 {
			t.Fatalf("reopen not clean: %+v", rep2)
		}
		sameState(t, "reopen", dump(t, l2), want)
	})
}

// FuzzParseEntry decodes arbitrary entry bodies: never a panic, and what
// decodes re-encodes, through the writer's framing, to an equal entry and
// agrees with the generated Entry decoder.
func FuzzParseEntry(f *testing.F) {
	var b Batch
	b.Put(KindSession, []byte("k"), []byte{0x90})
	b.Delete(KindRoute, []byte("k2"))
	b.PutMsg(KindMessage, []byte("m"), benchMessage())
	for off := 0; off < len(b.buf); {
		rec, next := b.record(off)
		f.Add(appendEntryFrame(nil, 5, 77, rec[0], rec[1:])[frameHeader:])
		off = next
	}
	f.Add([]byte{0x96, 0x01, 0x01, 0x01, 0xc4, 0x00, 0xc4, 0x00, 0xc0}) // a field from a later version
	f.Fuzz(func(t *testing.T, body []byte) {
		var v entryView
		if parseEntry(body, &v) != nil {
			return
		}
		var e Entry
		if _, err := e.UnmarshalMsg(body); err != nil {
			t.Fatalf("parseEntry accepted what Entry rejects: %v", err)
		}
		if e.Seq != v.seq || e.Op != v.op || Kind(e.Kind) != v.kind || !bytes.Equal(e.Key, v.key) || !bytes.Equal(e.Value, v.value) {
			t.Fatalf("decoders disagree: %+v vs %+v", e, v)
		}
		again := appendEntryFrame(nil, v.nfields, v.seq, v.op, v.afterOp)[frameHeader:]
		var v2 entryView
		if err := parseEntry(again, &v2); err != nil || v2.seq != v.seq || !bytes.Equal(v2.key, v.key) || !bytes.Equal(v2.value, v.value) {
			t.Fatalf("re-encoded entry differs: %v", err)
		}
	})
}
