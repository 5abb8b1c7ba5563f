package flashstore

import (
	"fmt"
	"testing"
)

// TestCompactKeepsLiveBytesExact checks that compaction, which rewrites
// every live frame with a new (often longer) sequence number, keeps
// Stats.LiveBytes equal to the sum of the live frames: it drives automatic
// compaction and is published in $SYS.
func TestCompactKeepsLiveBytesExact(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir(), Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var b Batch
	for i := range 300 {
		b.Reset()
		b.Put(KindMessage, []byte(fmt.Sprintf("k%d", i%40)), make([]byte, 10+i%7))
		if err := l.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	var sum int64
	l.mu.Lock()
	l.idx.eachSlot(func(_ uint32, at loc) { sum += int64(at.size) })
	l.mu.Unlock()
	if got := l.Stats().LiveBytes; got != sum || got <= 0 {
		t.Fatalf("LiveBytes %d after compaction, frames sum to %d", got, sum)
	}
}
