package flashstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// With MaxBytes, commits that would grow the store past the cap fail with
// ErrFull and change nothing; deletes still go through, and after them
// (and the compaction they allow) commits succeed again.
func TestErrFull(t *testing.T) {
	opts := testOptions(t)
	opts.Sync = SyncNone
	opts.SegmentSize = 2048
	opts.MaxBytes = 8 << 10
	l := mustOpen(t, opts)
	m := newModel()
	var b Batch
	value := strings.Repeat("v", 100)
	n := fillToCap(t, l, m, value)
	st := l.Stats()
	if st.TotalBytes > opts.MaxBytes {
		t.Fatalf("store is %d bytes, above the cap %d", st.TotalBytes, opts.MaxBytes)
	}
	if st.TotalBytes < opts.MaxBytes*3/4 {
		t.Fatalf("full at %d bytes of %d", st.TotalBytes, opts.MaxBytes)
	}
	sameState(t, "when full", dump(t, l), m.dump())
	// Still full.
	if err := l.Commit(ops{{kind: KindMessage, key: "x", value: value}}.fill(&b)); !errors.Is(err, ErrFull) {
		t.Fatalf("second commit when full = %v", err)
	}
	// Overwriting with a value no larger is not growth: accepted.
	over := ops{{kind: KindMessage, key: "m0000", value: strings.Repeat("w", 100)}}
	commit(t, l, over.fill(&b))
	m.apply(over)
	// Delete half: accepted even though full.
	var del ops
	for i := 0; i < n; i += 2 {
		del = append(del, op{del: true, kind: KindMessage, key: fmt.Sprintf("m%04d", i)})
	}
	commit(t, l, del.fill(&b))
	m.apply(del)
	// Now there is room again (after a compaction).
	for i := 0; i < n/4; i++ {
		o := ops{{kind: KindRoute, key: fmt.Sprintf("r%04d", i), value: value}}
		commit(t, l, o.fill(&b))
		m.apply(o)
	}
	st = l.Stats()
	if st.Compactions == 0 {
		t.Fatalf("no compaction made room: %+v", st)
	}
	if st.TotalBytes > opts.MaxBytes {
		t.Fatalf("store is %d bytes, above the cap %d", st.TotalBytes, opts.MaxBytes)
	}
	sameState(t, "after drain", dump(t, l), m.dump())
}
