package flashstore

import (
	"os"
	"testing"
)

// deletesIn returns, for every Delete in the segment file, its key and
// the segment ids it says it hides.
func deletesIn(t *testing.T, file string) map[string]hidden {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hidden{}
	start := int64(0)
	for i, end := range frameEnds(t, data) {
		if i > 0 {
			var v entryView
			if err := parseEntry(data[start+frameHeader:end], &v); err != nil {
				t.Fatal(err)
			}
			if v.op&opMask == OpDelete {
				if !v.hasRange {
					t.Fatalf("Delete of %q without its range fields", v.key)
				}
				out[string(v.key)] = v.hides(0)
			}
		}
		start = end
	}
	return out
}

// A Delete records the segments that hold the Puts it hides: its key's
// latest Put's, and the range of its older ones since it was last
// deleted, apart, so that a key put when queued and again when sent does
// not hide every segment between. A key put and deleted within one
// segment, or never put, hides nothing elsewhere.
func TestDeleteRecordsHiddenSegments(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 256
	l := mustOpen(t, opts)
	noAutoCompact(l)
	var b Batch
	pad := string(make([]byte, 150))
	for _, o := range []ops{
		{{kind: KindRoute, key: "long", value: "v1" + pad}, {kind: KindRoute, key: "queued", value: "q"}},    // A
		{{kind: KindRoute, key: "long", value: "v2" + pad}},                                                  // B
		{{kind: KindRoute, key: "filler", value: pad}},                                                       // C
		{{kind: KindRoute, key: "long", value: "v3" + pad}, {kind: KindRoute, key: "queued", value: "sent"}}, // D
	} {
		commit(t, l, o.fill(&b))
	}
	segs := segFiles(t, opts.Dir)
	if len(segs) != 4 {
		t.Fatalf("want four segments: %v", segs)
	}
	id := func(i int) uint64 { return idOf(t, segs[i]) }
	commit(t, l, ops{
		{del: true, kind: KindRoute, key: "long"},
		{del: true, kind: KindRoute, key: "queued"},
		{kind: KindRoute, key: "short", value: "x"},
		{del: true, kind: KindRoute, key: "short"},
		{del: true, kind: KindRoute, key: "never"},
	}.fill(&b))
	segs = segFiles(t, opts.Dir)
	got := deletesIn(t, segs[len(segs)-1])
	for k, want := range map[string]hidden{
		"long":   {last: id(3), lo: id(0), hi: id(1)},
		"queued": {last: id(3), lo: id(0), hi: id(0)},
		"short":  {},
		"never":  {},
	} {
		if got[k] != want {
			t.Errorf("Delete of %q hides %+v, want %+v", k, got[k], want)
		}
	}
}
