package flashstore

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// putManifest replaces dir's MANIFEST with m.
func putManifest(t *testing.T, dir string, m Manifest) {
	t.Helper()
	frame := appendManifest(make([]byte, frameHeader), &m)
	finishFrame(frame, 0)
	if err := os.WriteFile(filepath.Join(dir, manifestName), frame, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gapsOf(pairs ...uint64) []byte {
	var b []byte
	for _, p := range pairs {
		b = binary.AppendUvarint(b, p)
	}
	return b
}

// idOf is the id of a segment file path.
func idOf(t *testing.T, path string) uint64 {
	id, ok := parseSegmentName(filepath.Base(path))
	if !ok {
		t.Fatalf("not a segment: %s", path)
	}
	return id
}

// deadSegmentsLog builds a closed log of four segments (SegmentSize 256)
// whose first two hold only Puts overwritten in the fourth, and returns
// its segment files and live state.
func deadSegmentsLog(t *testing.T) (Options, []string, *model) {
	opts := testOptions(t)
	opts.SegmentSize = 256
	l, _ := open(t, opts)
	noAutoCompact(l)
	m := newModel()
	pad := string(make([]byte, 180))
	for _, o := range []ops{
		{{kind: KindRoute, key: "a", value: "a1" + pad}},                                     // segment 1
		{{kind: KindRoute, key: "b", value: "b1" + pad}},                                     // 2
		{{kind: KindRoute, key: "c", value: "c1" + string(make([]byte, 2000))}},              // 3: live > dead
		{{kind: KindRoute, key: "a", value: "a2"}, {kind: KindRoute, key: "b", value: "b2"}}, // 4
	} {
		var b Batch
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, opts.Dir)
	if len(segs) != 4 {
		t.Fatalf("want four segments: %v", segs)
	}
	return opts, segs, m
}

// A version 2 manifest vouches for segments compaction removed from the
// middle of the log (a gap) and from its start: Open accepts both, and
// removes files it finds there (left by a crash before their removal).
// Without it, the same gap is a missing segment.
func TestManifestGaps(t *testing.T) {
	opts, segs, m := deadSegmentsLog(t)
	id := make([]uint64, 4)
	for i, s := range segs {
		id[i] = idOf(t, s)
	}
	cases := []struct {
		name    string
		man     Manifest
		remove  []int // segment files to delete first
		left    []int // segment files Open must leave
		refused string
	}{
		{"gap, file removed", Manifest{First: id[0], Last: id[3], Gaps: gapsOf(id[1], id[2])}, []int{1}, []int{0, 2, 3}, ""},
		{"gap, file left over", Manifest{First: id[0], Last: id[3], Gaps: gapsOf(id[1], id[2])}, nil, []int{0, 2, 3}, ""},
		{"first moved, file removed", Manifest{First: id[1], Last: id[3]}, []int{0}, []int{1, 2, 3}, ""},
		{"first moved, file left over", Manifest{First: id[1], Last: id[3]}, nil, []int{1, 2, 3}, ""},
		{"gap not recorded", Manifest{First: id[0], Last: id[3]}, []int{1}, nil, "sequence gap"},
		{"first missing", Manifest{First: id[1], Last: id[3]}, []int{0, 1}, nil, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, opts.Dir)
			o := opts
			o.Dir = dir
			c.man.Magic, c.man.Version = manifestMagic, 2
			if c.name == "gap not recorded" {
				c.man.Version = 1
			}
			putManifest(t, dir, c.man)
			for _, i := range c.remove {
				os.Remove(filepath.Join(dir, filepath.Base(segs[i])))
			}
			if c.refused != "" {
				l, _, err := Open(o)
				if err == nil {
					l.Close()
					t.Fatal("Open accepted a log with a segment missing")
				}
				if !bytes.Contains([]byte(err.Error()), []byte(c.refused)) {
					t.Fatalf("Open = %v, want %q", err, c.refused)
				}
				return
			}
			l := mustOpen(t, o)
			sameState(t, "opened", dump(t, l), m.dump())
			var want []string
			for _, i := range c.left {
				want = append(want, filepath.Join(dir, filepath.Base(segs[i])))
			}
			if got := segFiles(t, dir); !slices.Equal(got, want) {
				t.Fatalf("segment files %v, want %v", got, want)
			}
		})
	}
}

// A manifest whose gaps are out of order, overlap or leave [First, Last]
// is damaged.
func TestManifestBadGaps(t *testing.T) {
	for _, g := range [][]byte{
		gapsOf(5, 5),       // empty
		gapsOf(8, 6),       // backwards
		gapsOf(3, 6, 5, 8), // overlapping
		gapsOf(1, 6),       // at First
		gapsOf(5, 99),      // past Last
		gapsOf(5),          // half a pair
		{0xff, 0xff, 0xff}, // not a uvarint
	} {
		dir := t.TempDir()
		putManifest(t, dir, Manifest{Magic: manifestMagic, Version: 2, First: 1, Last: 20, Gaps: g})
		if _, err := readManifest(dir); err == nil {
			t.Errorf("gaps % x accepted", g)
		}
	}
}

const goldenManifestV2 = "testdata/manifest-v2.golden"

// TestGoldenManifestV2 pins the version 2 MANIFEST: first segment 0x10,
// newest 0x40, gaps [0x18, 0x20) and [0x30, 0x38).
func TestGoldenManifestV2(t *testing.T) {
	dir := t.TempDir()
	want := Manifest{Magic: manifestMagic, Version: 2, First: 0x10, Last: 0x40, Gaps: gapsOf(0x18, 0x20, 0x30, 0x38)}
	putManifest(t, dir, want)
	got, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenManifestV2, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenManifestV2)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenManifestV2 -update once)", err)
	}
	if !bytes.Equal(got, golden) {
		t.Fatalf("manifest v2 format changed:\n got  % x\n want % x", got, golden)
	}
	m, err := readManifest(dir)
	if err != nil || !sameManifest(m, &want) {
		t.Fatalf("readManifest = %+v, %v", m, err)
	}
	gaps, err := parseGaps(m.Gaps, m.First, m.Last)
	if err != nil || !slices.Equal(gaps, []gap{{0x18, 0x20}, {0x30, 0x38}}) {
		t.Fatalf("gaps %v, %v", gaps, err)
	}
}

// manifestOf writes version 1 for a log a version 1 reader opens, and
// version 2 once it starts elsewhere or has gaps.
func TestManifestOf(t *testing.T) {
	seg := func(id, end uint64, snap bool) *segment { return &segment{id: id, end: end, snapshot: snap} }
	for _, c := range []struct {
		segs    []*segment
		version uint8
		gaps    []byte
	}{
		{[]*segment{seg(1, 10, false), seg(10, 12, false)}, 1, nil},
		{[]*segment{seg(7, 10, true), seg(10, 12, false)}, 1, nil},
		{[]*segment{seg(7, 10, false), seg(10, 12, false)}, 2, nil},
		{[]*segment{seg(1, 10, false), seg(20, 22, false), seg(22, 30, false), seg(40, 41, false)}, 2, gapsOf(10, 20, 30, 40)},
	} {
		m := manifestOf(c.segs)
		if m.Version != c.version || !bytes.Equal(m.Gaps, c.gaps) || m.First != c.segs[0].id || m.Last != c.segs[len(c.segs)-1].id {
			t.Errorf("manifestOf: %+v", m)
		}
	}
}
