package flashstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
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

// manifestFrame frames body as MANIFEST holds it (length, CRC-32C, body).
func manifestFrame(body []byte) []byte {
	b := append(make([]byte, frameHeader), body...)
	finishFrame(b, 0)
	return b
}

// FuzzManifest reads arbitrary bytes as a MANIFEST. With frame set the
// input is the manifest's body and gets a valid frame, so the fuzzer
// reaches the decoder past the CRC. Properties:
//   - readManifest never panics, and fails only with a *CorruptError;
//   - what it accepts has the magic, version 1 and 1 <= First <= Last, and
//     re-encodes (as writeManifest does) to a manifest that reads back equal;
//   - with a manifest it accepts, a log whose only segment is the golden
//     one (0000000000000001.seg) opens, with the golden state, exactly when
//     the manifest names segment 1 as first and newest; otherwise Open
//     fails with a *CorruptError for a missing segment the manifest names.
//
// Salvaging past a bad manifest is left to TestDamagedManifest and
// TestSalvageMissingLastSegment: its compaction would make each run here
// tens of times slower.
func FuzzManifest(f *testing.F) {
	golden, err := os.ReadFile(goldenFile)
	if err != nil {
		f.Fatal(err)
	}
	goldenMan, err := os.ReadFile(goldenManifest)
	if err != nil {
		f.Fatal(err)
	}
	body := goldenMan[frameHeader:]
	f.Add(goldenMan, false)
	f.Add(body, true)
	f.Add([]byte(nil), false)
	f.Add([]byte(nil), true)
	f.Add(goldenMan[:frameHeader], false)
	f.Add(append(slices.Clone(goldenMan), 0), false)
	flipped := slices.Clone(goldenMan)
	flipped[12] ^= 0x01
	f.Add(flipped, false)
	for _, m := range []Manifest{
		{Magic: manifestMagic, Version: 1, First: 1, Last: 3},
		{Magic: manifestMagic, Version: 1, First: 2, Last: 2},
		{Magic: manifestMagic, Version: 1, First: 0, Last: 1},
		{Magic: manifestMagic, Version: 1, First: 2, Last: 1},
		{Magic: manifestMagic, Version: 2, First: 1, Last: 1},
		{Magic: segmentMagic, Version: 1, First: 1, Last: 1},
		{Magic: manifestMagic, Version: 1, First: 1 << 63, Last: 1<<64 - 1},
	} {
		b, _ := m.MarshalMsg(nil)
		f.Add(b, true)
	}
	f.Add([]byte{0x93, 0xa4, 'G', 'M', 'Q', 'M', 0x01, 0x01}, true)                               // a field short
	f.Add([]byte{0x95, 0xa4, 'G', 'M', 'Q', 'M', 0x01, 0x01, 0x01, 0xc0}, true)                   // a later field
	f.Add([]byte{0x94, 0xa4, 'G', 'M', 'Q', 'M', 0x01, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0x01}, true) // wide First
	f.Add([]byte{0x94, 0xa4, 'G', 'M', 'Q', 'M', 0x01, 0x01, 0x01, 0x01}, true)                   // trailing byte
	f.Add([]byte{0x84, 0xa4, 'G', 'M', 'Q', 'M', 0x01, 0x01, 0x01, 0x01}, true)                   // a map

	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), golden, 0o644); err != nil {
		f.Fatal(err)
	}
	l, _, err := Open(Options{Dir: dir, Sync: SyncNone})
	if err != nil {
		f.Fatal(err)
	}
	want := dump(f, l)
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}

	// The decoder's folder is reused by every run of this process (runs
	// are sequential); Open gets a fresh folder when it runs.
	scratch := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, frame bool) {
		content := data
		if frame {
			content = manifestFrame(data)
		}
		if err := os.WriteFile(filepath.Join(scratch, manifestName), content, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readManifest(scratch)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || m != nil {
				t.Fatalf("readManifest = %+v, %v (%T), want a *CorruptError", m, err, err)
			}
			// Open refuses at the manifest (TestDamagedManifest covers
			// that and the salvage); opening here would only slow the
			// fuzzer down.
			return
		} else {
			if m == nil || m.Magic != manifestMagic || (m.Version != 1 && m.Version != 2) || m.First == 0 || m.Last < m.First {
				t.Fatalf("readManifest accepted %+v", m)
			}
			b, err := m.MarshalMsg(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(scratch, manifestName), manifestFrame(b), 0o644); err != nil {
				t.Fatal(err)
			}
			if m2, err := readManifest(scratch); err != nil || m2 == nil || !sameManifest(m2, m) {
				t.Fatalf("re-encoded manifest reads as %+v, %v; want %+v", m2, err, m)
			}
		}

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), golden, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, manifestName), content, 0o644); err != nil {
			t.Fatal(err)
		}
		good := m != nil && m.First == 1 && m.Last == 1
		opts := Options{Dir: dir, Sync: SyncNone}
		l, _, err := Open(opts)
		if err == nil {
			if !good {
				l.Close()
				t.Fatalf("Open accepted manifest %+v (read error %v) for a log of segment 1 only", m, err)
			}
			sameState(t, "open", dump(t, l), want)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if good {
			t.Fatalf("Open refused manifest %+v: %v", m, err)
		}
		// Every manifest but 1..1 names a segment after the only one.
		var ce *CorruptError
		if !errors.As(err, &ce) || !ce.Missing || ce.File != filepath.Join(dir, segmentName(m.Last)) && ce.File != filepath.Join(dir, segmentName(m.First)) {
			t.Fatalf("Open with manifest %+v failed with %v, not a missing segment it names", m, err)
		}
	})
}
