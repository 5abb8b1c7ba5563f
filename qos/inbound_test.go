package qos

import (
	"slices"
	"testing"
)

// TestInboundDuplicates: any number of same-id PUBLISH packets before PUBREL
// are retransmissions, answered with PUBREC and never delivered again
// [MQTT-4.3.3-10] (mosquitto #3599/#3602 disconnected on the second one).
func TestInboundDuplicates(t *testing.T) {
	in := NewInbound(0)
	if isNew, full := in.Publish(7); !isNew || full {
		t.Fatalf("first PUBLISH = %v,%v", isNew, full)
	}
	for i := range 1000 {
		if isNew, full := in.Publish(7); isNew || full {
			t.Fatalf("duplicate %d = %v,%v, want false,false", i, isNew, full)
		}
	}
	if in.Len() != 1 || !in.Pending(7) {
		t.Fatalf("Len %d Pending %v", in.Len(), in.Pending(7))
	}
	if !in.Release(7) {
		t.Fatal("Release of a pending id = false")
	}
	// After PUBCOMP the same id is a new message [MQTT-4.3.3-12].
	if isNew, _ := in.Publish(7); !isNew {
		t.Fatal("PUBLISH after PUBREL not new")
	}
}

// TestInboundRelease: PUBREL for an id never seen, released twice, or id 0
// reports unknown and changes nothing.
func TestInboundRelease(t *testing.T) {
	in := NewInbound(0)
	in.Publish(1)
	for _, id := range []uint16{0, 2, MaxID} {
		if in.Release(id) {
			t.Fatalf("Release(%d) of an unknown id = true", id)
		}
	}
	if !in.Release(1) || in.Release(1) {
		t.Fatal("second PUBREL for the same id reported known")
	}
	if in.Len() != 0 || in.Pending(1) || in.IDs() != nil {
		t.Fatal("state left after release")
	}
}

// TestInboundFull: new ids beyond max are refused and not recorded;
// duplicates of pending ids are still answered when full.
func TestInboundFull(t *testing.T) {
	in := NewInbound(2)
	in.Publish(10)
	in.Publish(20)
	if isNew, full := in.Publish(30); isNew || !full || in.Pending(30) || in.Len() != 2 {
		t.Fatalf("third id = %v,%v, pending %v", isNew, full, in.Pending(30))
	}
	if isNew, full := in.Publish(20); isNew || full {
		t.Fatalf("duplicate while full = %v,%v, want false,false", isNew, full)
	}
	in.Release(10)
	if isNew, full := in.Publish(30); !isNew || full {
		t.Fatal("room not reused after PUBREL")
	}
	if in.Max() != 2 {
		t.Fatalf("Max = %d", in.Max())
	}
	for _, m := range []int{0, -5, MaxID + 1} {
		if got := NewInbound(m).Max(); got != MaxID {
			t.Fatalf("NewInbound(%d).Max() = %d", m, got)
		}
	}
}

// TestInboundIDZero: id 0 is refused (never acknowledged), never recorded.
func TestInboundIDZero(t *testing.T) {
	in := NewInbound(0)
	if isNew, full := in.Publish(0); isNew || !full {
		t.Fatalf("Publish(0) = %v,%v, want false,true", isNew, full)
	}
	in.Restore(0)
	if in.Len() != 0 || in.Pending(0) {
		t.Fatal("id 0 recorded")
	}
}

// TestInboundRestoreIDs: Restore ignores max and is idempotent; IDs is
// sorted and owned by the caller.
func TestInboundRestoreIDs(t *testing.T) {
	in := NewInbound(2)
	for _, id := range []uint16{MaxID, 3, 500, 3, 1} {
		in.Restore(id)
	}
	want := []uint16{1, 3, 500, MaxID}
	got := in.IDs()
	if !slices.Equal(got, want) || in.Len() != 4 {
		t.Fatalf("IDs = %v, Len %d", got, in.Len())
	}
	got[0] = 99
	if !slices.Equal(in.IDs(), want) {
		t.Fatal("IDs shares memory with the Inbound")
	}
	if isNew, full := in.Publish(3); isNew || full {
		t.Fatal("restored id not treated as a retransmission")
	}
	if isNew, full := in.Publish(4); isNew || !full {
		t.Fatal("new id accepted beyond max after Restore")
	}
}

// TestInboundZeroValueAndMemory: a zero Inbound works; memory of a burst is
// released once empty; small use needs no map.
func TestInboundZeroValueAndMemory(t *testing.T) {
	var in Inbound
	if in.Max() != MaxID || in.IDs() != nil {
		t.Fatal("zero value")
	}
	for id := uint16(1); id <= 1000; id++ {
		if isNew, _ := in.Publish(id); !isNew {
			t.Fatal("zero value refused")
		}
	}
	for id := uint16(1); id <= 1000; id++ {
		in.Release(id)
	}
	if in.ids != nil {
		t.Fatal("map of a burst kept")
	}
	in.Publish(1)
	in.Release(1)
	if in.ids != nil {
		t.Fatal("a map made for one pending id (small holds it)")
	}
}

// TestInboundExhaustive checks every pair of operations on an id in each
// state (absent, pending) against the specification, at and below max.
func TestInboundExhaustive(t *testing.T) {
	type op int
	const (
		opPublish op = iota
		opRelease
		opRestore
		numOps
	)
	for _, atMax := range []bool{false, true} {
		for _, startPending := range []bool{false, true} {
			for a := range numOps {
				for b := range numOps {
					in := NewInbound(3)
					in.Publish(100)
					in.Publish(200)
					if startPending {
						in.Publish(5)
					} else if atMax {
						in.Publish(300)
					}
					pending := startPending
					for _, o := range []op{a, b} {
						n := in.Len()
						switch o {
						case opPublish:
							isNew, full := in.Publish(5)
							wantFull := !pending && n >= 3
							wantNew := !pending && !wantFull
							if isNew != wantNew || full != wantFull {
								t.Fatalf("atMax=%v start=%v %v,%v: Publish pending=%v n=%d = %v,%v", atMax, startPending, a, b, pending, n, isNew, full)
							}
							pending = pending || wantNew
						case opRelease:
							if known := in.Release(5); known != pending {
								t.Fatalf("Release pending=%v = %v", pending, known)
							}
							pending = false
						case opRestore:
							in.Restore(5)
							pending = true
						}
						if in.Pending(5) != pending {
							t.Fatalf("Pending = %v, want %v", in.Pending(5), pending)
						}
						if !in.Pending(100) || !in.Pending(200) {
							t.Fatal("other ids disturbed")
						}
					}
				}
			}
		}
	}
}
