package flashstore

import (
	"bytes"
	"errors"
	"testing"
)

// benchMessage is a broker message with a 64-byte payload.
func benchMessage() *Message {
	return &Message{ID: 123456, Topic: "site/floor1/room12/temperature", Payload: bytes.Repeat([]byte{'x'}, 64),
		QoS: 1, PublisherID: "sensor-0042"}
}

// The writer's frames decode with the generated Entry code and equal its
// encoding: the hand-written fast path and the generated types agree.
func TestBatchFramesMatchEntry(t *testing.T) {
	var b Batch
	b.Put(KindSession, []byte("c1"), []byte{0x90})
	b.Delete(KindRoute, []byte("c1\x00r"))
	for _, n := range []int{0, 10, 300, 70000} { // bin8, bin16, bin32 headers
		m := benchMessage()
		m.Payload = bytes.Repeat([]byte{'p'}, n)
		if err := b.PutMsg(KindMessage, []byte{byte(n)}, m); err != nil {
			t.Fatal(err)
		}
		enc, _ := m.MarshalMsg(nil)
		var ref Batch
		ref.Put(KindMessage, []byte{byte(n)}, enc)
		if !bytes.HasSuffix(b.buf, ref.buf) {
			t.Fatalf("PutMsg and Put(MarshalMsg) differ for a %d-byte payload", n)
		}
	}
	seq := uint64(1000)
	for off := 0; off < len(b.buf); seq++ {
		rec, next := b.record(off)
		frame := appendEntryFrame(nil, 5, seq, rec[0]|FlagBatchEnd, rec[1:])
		var e Entry
		rest, err := e.UnmarshalMsg(frame[frameHeader:])
		if err != nil || len(rest) != 0 {
			t.Fatalf("record %d: generated decode: %v", seq, err)
		}
		want, _ := e.MarshalMsg(nil)
		if !bytes.Equal(frame[frameHeader:], want) {
			t.Fatalf("record %d: frame body differs from Entry.MarshalMsg", seq)
		}
		if !frameCRCOK(frame, frame[frameHeader:]) || e.Seq != seq || e.Op&opMask != rec[0] {
			t.Fatalf("record %d: bad frame %+v", seq, e)
		}
		var v entryView
		if err := parseEntry(frame[frameHeader:], &v); err != nil || !bytes.Equal(v.key, e.Key) || !bytes.Equal(v.value, e.Value) {
			t.Fatalf("record %d: parseEntry: %v", seq, err)
		}
		off = next
	}
	if b.Len() != 6 {
		t.Fatalf("Len = %d", b.Len())
	}
}

func TestBatchEncodeAllocs(t *testing.T) {
	m := benchMessage()
	key := []byte("12345678")
	var b Batch
	b.PutMsg(KindMessage, key, m) // grow the buffers once
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		b.PutMsg(KindMessage, key, m)
		b.Delete(KindRoute, key)
	}); n != 0 {
		t.Fatalf("PutMsg allocates %.1f times per record", n)
	}
	v, _ := m.MarshalMsg(b.ValueBuf())
	b.Put(KindMessage, key, v)
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		v, _ := m.MarshalMsg(b.ValueBuf())
		b.Put(KindMessage, key, v)
	}); n != 0 {
		t.Fatalf("ValueBuf+Put allocates %.1f times per record", n)
	}
}

func TestBatchErrors(t *testing.T) {
	l := mustOpen(t, testOptions(t))
	var b Batch
	b.Put(0, []byte("k"), nil)
	if err := l.Commit(&b); !errors.Is(err, ErrBadKind) {
		t.Fatalf("kind 0: Commit = %v", err)
	}
	b.Reset()
	b.Put(KindSession, make([]byte, MaxKey+1), nil)
	if err := l.Commit(&b); !errors.Is(err, ErrTooLarge) || b.Err() == nil {
		t.Fatalf("long key: Commit = %v", err)
	}
	b.Reset()
	b.Put(KindSession, []byte("k"), make([]byte, MaxRecord))
	if err := l.Commit(&b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large value: Commit = %v", err)
	}
	b.Reset()
	if b.Err() != nil || b.Len() != 0 || b.Size() != 0 {
		t.Fatal("Reset did not clear the batch")
	}
	if err := l.Commit(&b); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if got := len(dump(t, l)); got != 0 {
		t.Fatalf("failed batches left %d entries", got)
	}
}
