package flashstore

import (
	"errors"
	"testing"
)

// TestFullStoreAdmitsUpdatesOfKnownKeys checks that a full store refuses
// new keys but still takes updates of keys it holds, even ones a few bytes
// larger (a route whose packet id and stage are recorded), so draining a
// full store never wedges.
func TestFullStoreAdmitsUpdatesOfKnownKeys(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir(), Sync: SyncNone, MaxBytes: 32 << 10, SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var b Batch
	key := func(i int) []byte { return []byte{byte(i >> 8), byte(i)} }
	n := 0
	for ; n < 10000; n++ {
		b.Reset()
		b.Put(KindRoute, key(n), make([]byte, 100))
		if err := l.Commit(&b); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatal(err)
			}
			break
		}
	}
	if n == 10000 {
		t.Fatal("the store never became full")
	}
	for i := range n {
		b.Reset()
		b.Put(KindRoute, key(i), make([]byte, 103)) // grows by a few bytes
		if err := l.Commit(&b); err != nil {
			t.Fatalf("update %d of %d refused on a full store: %v", i, n, err)
		}
	}
	b.Reset()
	b.Put(KindRoute, key(n+1), make([]byte, 100))
	if err := l.Commit(&b); !errors.Is(err, ErrFull) {
		t.Fatalf("a new key on a full store: %v, want ErrFull", err)
	}
}
