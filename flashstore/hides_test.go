package flashstore

import (
	"os"
	"testing"
)

// deletesIn returns, for every Delete in the segment file, its key and
// the segment ids it says it hides.
func deletesIn(t *testing.T, file string) map[string][2]uint64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]uint64{}
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
				lo, hi := v.hides(0)
				out[string(v.key)] = [2]uint64{lo, hi}
			}
		}
		start = end
	}
	return out
}

// A Delete records the segments that hold the Puts it hides: from the
// key's first Put since it was last deleted to its latest. A key put and
// deleted within one segment, or never put, hides nothing elsewhere.
func TestDeleteRecordsHiddenSegments(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 256
	l := mustOpen(t, opts)
	var b Batch
	pad := string(make([]byte, 150))
	commit(t, l, ops{{kind: KindRoute, key: "long", value: "v1" + pad}}.fill(&b)) // segment A
	commit(t, l, ops{{kind: KindRoute, key: "long", value: "v2" + pad}}.fill(&b)) // B
	commit(t, l, ops{{kind: KindRoute, key: "filler", value: pad}}.fill(&b))      // C
	segs := segFiles(t, opts.Dir)
	if len(segs) != 3 {
		t.Fatalf("want three segments: %v", segs)
	}
	idA, _ := parseSegmentName(segs[0][len(segs[0])-20:])
	idB, _ := parseSegmentName(segs[1][len(segs[1])-20:])
	commit(t, l, ops{
		{del: true, kind: KindRoute, key: "long"},
		{kind: KindRoute, key: "short", value: "x"},
		{del: true, kind: KindRoute, key: "short"},
		{del: true, kind: KindRoute, key: "never"},
	}.fill(&b))
	segs = segFiles(t, opts.Dir)
	got := deletesIn(t, segs[len(segs)-1])
	if want := [2]uint64{idA, idB}; got["long"] != want {
		t.Errorf("Delete of a key put in two segments hides %v, want %v", got["long"], want)
	}
	for _, k := range []string{"short", "never"} {
		if got[k] != [2]uint64{} {
			t.Errorf("Delete of %q hides %v, want nothing", k, got[k])
		}
	}
}
