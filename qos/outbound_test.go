package qos

import (
	"fmt"
	"slices"
	"testing"
)

// TestIDReuse: an id is reused only after PUBACK, PUBCOMP or a failed
// PUBREC, never while in flight, and not at once even then.
func TestIDReuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		qos  byte
		done func(o *Outbound[string], id uint16)
	}{
		{"PUBACK", 1, func(o *Outbound[string], id uint16) { o.Puback(id) }},
		{"PUBCOMP", 2, func(o *Outbound[string], id uint16) { o.Pubrec(id); o.Pubcomp(id) }},
		{"PUBREC>=0x80", 2, func(o *Outbound[string], id uint16) { o.PubrecFailed(id) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOutbound[string](0, 0)
			first := send(t, o, "first", tc.qos)
			if first != 1 {
				t.Fatalf("first id = %d, want 1", first)
			}
			tc.done(o, first)
			if _, _, _, ok := o.Lookup(first); ok {
				t.Fatal("id still in flight after completion")
			}
			if id := send(t, o, "second", tc.qos); id != 2 {
				t.Fatalf("id after completion = %d, want 2 (no immediate reuse)", id)
			}
			// Released ids stay in use until PUBCOMP.
			o2 := NewOutbound[string](0, 0)
			o2.lastID = MaxID - 1
			a := send(t, o2, "a", 2) // MaxID
			o2.Pubrec(a)
			o2.lastID = a - 1
			if b := send(t, o2, "b", 1); b == a {
				t.Fatalf("released id %d handed out again", a)
			}
		})
	}
}

// TestIDExhaustionAndWrap fills all 65535 ids, then frees a few and checks
// that exactly those come back, in rotation order, skipping ids in flight.
func TestIDExhaustionAndWrap(t *testing.T) {
	o := NewOutbound[int](0, 0)
	for i := 1; i <= MaxID; i++ {
		if id := send(t, o, i, byte(1+i%2)); int(id) != i {
			t.Fatalf("id %d for message %d", id, i)
		}
	}
	checkOutbound(t, o)
	o.Enqueue(0, 1)
	if _, ok := o.Next(); ok {
		t.Fatal("Next with every id in flight")
	}
	// Free 100 (QoS 1? message 100 has qos 1), 5 and 7, in that order.
	free := func(id uint16) {
		t.Helper()
		if _, q, _, _ := o.Lookup(id); q == 1 {
			o.Puback(id)
		} else {
			o.PubrecFailed(id)
		}
	}
	free(100)
	free(7)
	free(5)
	o.Enqueue(0, 1)
	o.Enqueue(0, 2)
	var got []uint16
	for range 3 {
		got = append(got, mustNext(t, o).ID)
	}
	if !slices.Equal(got, []uint16{5, 7, 100}) {
		t.Fatalf("ids after wrap = %v, want [5 7 100]", got)
	}
	checkOutbound(t, o)
	if ds := o.Drain(); len(ds) != MaxID {
		t.Fatalf("Drain = %d messages", len(ds))
	}
}

// TestWrapSkipsInFlight: the rotation wraps from 65535 to 1, never gives 0,
// and skips ids still in flight.
func TestWrapSkipsInFlight(t *testing.T) {
	o := NewOutbound[string](0, 0)
	o.Restore(2, "old2", 1, Sent)
	o.Restore(65534, "old", 2, Released)
	var got []uint16
	for i := range 4 {
		got = append(got, send(t, o, fmt.Sprint(i), 1))
	}
	if want := []uint16{65535, 1, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
}

// TestWindow: Next stops at maxInflight, Released messages hold their slot
// until PUBCOMP, and PubrecFailed frees it.
func TestWindow(t *testing.T) {
	o := NewOutbound[string](3, 0)
	for i := range 6 {
		o.Enqueue(fmt.Sprint(i), 2)
	}
	ids := []uint16{mustNext(t, o).ID, mustNext(t, o).ID, mustNext(t, o).ID}
	if _, ok := o.Next(); ok || o.Inflight() != 3 || o.Queued() != 3 {
		t.Fatalf("window of 3 exceeded: inflight %d queued %d", o.Inflight(), o.Queued())
	}
	o.Pubrec(ids[0])
	if _, ok := o.Next(); ok {
		t.Fatal("PUBREC freed a window slot; only PUBCOMP may")
	}
	o.Pubcomp(ids[0])
	d := mustNext(t, o)
	if d.Msg != "3" {
		t.Fatalf("Next = %q, want FIFO order 3", d.Msg)
	}
	o.PubrecFailed(ids[1])
	if d := mustNext(t, o); d.Msg != "4" {
		t.Fatalf("Next = %q, want 4", d.Msg)
	}
	if _, ok := o.Next(); ok {
		t.Fatal("window exceeded")
	}
	// Lowering the window below the count keeps what is in flight.
	o.SetMaxInflight(1)
	if o.Inflight() != 3 || o.MaxInflight() != 1 {
		t.Fatalf("inflight %d max %d", o.Inflight(), o.MaxInflight())
	}
	for _, dd := range o.Resume() {
		left := o.Inflight() - 1
		o.PubrecFailed(dd.ID)
		d, ok := o.Next()
		if ok != (left == 0) {
			t.Fatalf("Next ok=%v with %d in flight and window 1", ok, left)
		}
		if ok && d.Msg != "5" {
			t.Fatalf("Next = %q, want 5", d.Msg)
		}
	}
	for _, n := range []int{0, -1, MaxID + 1} {
		o.SetMaxInflight(n)
		if o.MaxInflight() != MaxID {
			t.Fatalf("SetMaxInflight(%d): max %d", n, o.MaxInflight())
		}
	}
}

// TestQueueLimit: Enqueue refuses beyond maxQueued and keeps nothing then;
// RestoreQueued ignores the limit; invalid QoS values are refused.
func TestQueueLimit(t *testing.T) {
	o := NewOutbound[string](1, 2)
	if !o.Enqueue("a", 1) || !o.Enqueue("b", 2) {
		t.Fatal("Enqueue under the limit failed")
	}
	if o.Enqueue("c", 1) || o.Queued() != 2 {
		t.Fatalf("Enqueue beyond maxQueued: queued %d", o.Queued())
	}
	mustNext(t, o) // a moves into flight: room for one more
	if !o.Enqueue("c", 1) || o.Enqueue("d", 1) {
		t.Fatal("queue room not reused")
	}
	o.RestoreQueued("e", 2)
	if o.Queued() != 3 {
		t.Fatalf("RestoreQueued ignored? queued %d", o.Queued())
	}
	for _, q := range []byte{3, 255} {
		if o2 := NewOutbound[string](0, 0); o2.Enqueue("x", q) || o2.Queued() != 0 {
			t.Fatalf("Enqueue with qos %d accepted", q)
		}
	}
	for _, q := range []byte{0, 3, 255} {
		o.RestoreQueued("x", q)
	}
	if got := o.Drain(); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("Drain = %v", got)
	}
	unl := NewOutbound[int](1, 0)
	for i := range 10000 {
		if !unl.Enqueue(i, 1) {
			t.Fatal("unlimited queue refused")
		}
	}
}

// TestResumeOrderAndDup: Resume lists what is in flight in first-send order
// with original ids; PUBLISH with DUP for Sent, PUBREL for Released; it
// changes nothing and leaves queued messages alone.
func TestResumeOrderAndDup(t *testing.T) {
	o := NewOutbound[string](0, 0)
	if o.Resume() != nil {
		t.Fatal("Resume of an empty Outbound not nil")
	}
	ids := make([]uint16, 6)
	for i := range ids {
		ids[i] = send(t, o, fmt.Sprint(i), byte(1+i%2)) // 0:q1 1:q2 2:q1 3:q2 4:q1 5:q2
	}
	o.Enqueue("queued", 1)
	o.Pubrec(ids[5]) // PUBREC out of order
	o.Pubrec(ids[1])
	o.Puback(ids[2])
	o.PubrecFailed(ids[3])
	want := []Delivery[string]{
		{ID: ids[0], Msg: "0", QoS: 1, Dup: true, Stage: Sent},
		{ID: ids[1], Msg: "1", QoS: 2, Stage: Released},
		{ID: ids[4], Msg: "4", QoS: 1, Dup: true, Stage: Sent},
		{ID: ids[5], Msg: "5", QoS: 2, Stage: Released},
	}
	before := snapshot(o)
	for range 2 {
		if got := o.Resume(); !slices.Equal(got, want) {
			t.Fatalf("Resume =\n%+v\nwant\n%+v", got, want)
		}
	}
	if !sameState(before, snapshot(o)) {
		t.Fatal("Resume changed state")
	}
	buf := make([]Delivery[string], 0, 8)
	if got := o.ResumeAppend(buf[:0]); !slices.Equal(got, want) || &got[0] != &buf[:1][0] {
		t.Fatal("ResumeAppend did not append into the given buffer")
	}
	// Retransmissions after resume complete normally.
	o.Puback(ids[0])
	o.Pubcomp(ids[1])
	o.Puback(ids[4])
	o.Pubcomp(ids[5])
	if o.Inflight() != 0 || o.Resume() != nil {
		t.Fatalf("inflight %d after completing all", o.Inflight())
	}
	if d := mustNext(t, o); d.Msg != "queued" {
		t.Fatalf("Next = %q", d.Msg)
	}
}

// TestRestoreResume: messages restored from storage come back through Resume
// in restore order, complete through the normal acknowledgements, and new ids
// continue after the last restored one.
func TestRestoreResume(t *testing.T) {
	o := NewOutbound[string](2, 1)
	steps := []struct {
		id    uint16
		m     string
		qos   byte
		stage Stage
		ok    bool
	}{
		{40, "a", 1, Sent, true},
		{41, "b", 2, Released, true},
		{0, "zero", 1, Sent, false},
		{41, "dup", 1, Sent, false},
		{42, "q0", 0, Sent, false},
		{42, "q3", 3, Sent, false},
		{42, "queuedstage", 1, Queued, false},
		{42, "q1released", 1, Released, false},
		{42, "bad stage", 2, Stage(9), false},
		{3, "c", 2, Sent, true}, // beyond the window of 2: Restore ignores it
	}
	for _, s := range steps {
		before := snapshot(o)
		if ok := o.Restore(s.id, s.m, s.qos, s.stage); ok != s.ok {
			t.Fatalf("Restore(%d,%q,%d,%v) = %v", s.id, s.m, s.qos, s.stage, ok)
		}
		if !s.ok && !sameState(before, snapshot(o)) {
			t.Fatalf("failed Restore(%d) changed state", s.id)
		}
	}
	o.RestoreQueued("q1", 1)
	o.RestoreQueued("q2", 2) // beyond maxQueued
	checkOutbound(t, o)
	want := []Delivery[string]{
		{ID: 40, Msg: "a", QoS: 1, Dup: true, Stage: Sent},
		{ID: 41, Msg: "b", QoS: 2, Stage: Released},
		{ID: 3, Msg: "c", QoS: 2, Dup: true, Stage: Sent},
	}
	if got := o.Resume(); !slices.Equal(got, want) {
		t.Fatalf("Resume = %+v", got)
	}
	if _, ok := o.Next(); ok {
		t.Fatal("Next with 3 restored in a window of 2")
	}
	if o.Enqueue("x", 1) {
		t.Fatal("Enqueue beyond maxQueued after RestoreQueued")
	}
	o.Pubcomp(41)
	o.Puback(40)
	if d := mustNext(t, o); d.ID != 4 || d.Msg != "q1" {
		t.Fatalf("Next after restore = %+v, want id 4 (after last restored 3), q1", d)
	}
	o.Pubrec(3) // Sent -> Released, after the resend
	if got := o.Resume(); len(got) != 2 || got[0].Stage != Released || got[1].ID != 4 || !got[1].Dup {
		t.Fatalf("second Resume = %+v", got)
	}
}

// TestDrain returns in-flight messages in send order, then queued ones,
// leaves an empty Outbound with no buffers, and frees every id.
func TestDrain(t *testing.T) {
	o := NewOutbound[string](2, 5)
	if o.Drain() != nil {
		t.Fatal("Drain of empty not nil")
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		o.Enqueue(m, 2)
	}
	a := mustNext(t, o).ID
	mustNext(t, o)
	o.Pubrec(a)
	if got := o.Drain(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("Drain = %v", got)
	}
	if o.Inflight() != 0 || o.Queued() != 0 || o.flight != nil || o.index != nil || o.queue.buf != nil {
		t.Fatal("Drain left state or buffers behind")
	}
	if o.MaxInflight() != 2 || o.maxQueued != 5 {
		t.Fatal("Drain changed the limits")
	}
	if _, ok := o.Puback(a); ok {
		t.Fatal("drained id still known")
	}
	if id := send(t, o, "e", 1); id == 0 {
		t.Fatal("bad id after Drain")
	}
	checkOutbound(t, o)
}

// TestPeekPopQueued removes queued messages without sending them (expiry).
func TestPeekPopQueued(t *testing.T) {
	o := NewOutbound[string](0, 0)
	if _, _, ok := o.PeekQueued(); ok {
		t.Fatal("Peek on empty")
	}
	if _, ok := o.PopQueued(); ok {
		t.Fatal("Pop on empty")
	}
	o.Enqueue("old", 2)
	o.Enqueue("new", 1)
	if m, q, ok := o.PeekQueued(); !ok || m != "old" || q != 2 || o.Queued() != 2 {
		t.Fatalf("Peek = %q %d %v", m, q, ok)
	}
	if m, ok := o.PopQueued(); !ok || m != "old" || o.Queued() != 1 {
		t.Fatalf("Pop = %q %v", m, ok)
	}
	if d := mustNext(t, o); d.Msg != "new" || d.QoS != 1 || d.ID != 1 {
		t.Fatalf("Next = %+v", d)
	}
}

// TestZeroValue: a zero Outbound works like NewOutbound(0, 0).
func TestZeroValue(t *testing.T) {
	var o Outbound[int]
	if o.MaxInflight() != MaxID {
		t.Fatal("zero value window")
	}
	id := send(t, &o, 1, 2)
	if _, ok := o.Pubrec(id); !ok {
		t.Fatal("Pubrec")
	}
	if _, ok := o.Pubcomp(id); !ok {
		t.Fatal("Pubcomp")
	}
	checkOutbound(t, &o)
}

// TestMemoryReleased: after a burst the buffers are released once empty; a
// small steady window keeps its (small) buffers.
func TestMemoryReleased(t *testing.T) {
	o := NewOutbound[*int](0, 0)
	v := new(int)
	for range 1000 {
		o.Enqueue(v, 1)
	}
	for range 1000 {
		mustNext(t, o)
	}
	if len(o.queue.buf) > ringKeepCap {
		t.Fatalf("queue kept cap %d after draining a burst", len(o.queue.buf))
	}
	for _, d := range o.Resume() {
		o.Puback(d.ID)
		checkOutbound(t, o)
	}
	if o.flight != nil || o.index != nil {
		t.Fatalf("flight cap %d / index kept after a burst", cap(o.flight))
	}
	send(t, o, v, 1)
	o.Puback(o.lastID)
	if o.flight == nil {
		t.Fatal("small window buffers released (would allocate every cycle)")
	}
	if o.index != nil {
		t.Fatal("a window of one message has an index map (find looks at it)")
	}
	// A long-lived small window after a burst shrinks by compaction.
	for range 1000 {
		send(t, o, v, 1)
	}
	first := o.Resume()
	for _, d := range first[:995] {
		o.Puback(d.ID)
	}
	for range 5000 {
		d := o.Resume()[0]
		o.Puback(d.ID)
		send(t, o, v, 1)
		checkOutbound(t, o)
	}
	if cap(o.flight) > flightKeepCap {
		t.Fatalf("flight cap %d with 5 in flight", cap(o.flight))
	}
}

// TestSeparateIDSpaces: the same id in flight outbound and awaiting PUBREL
// inbound are independent (mochi #545, #519).
func TestSeparateIDSpaces(t *testing.T) {
	o := NewOutbound[string](0, 0)
	in := NewInbound(0)
	id := send(t, o, "to client", 2)
	if isNew, _ := in.Publish(id); !isNew {
		t.Fatal("inbound id collided with outbound id")
	}
	if m, _, st, ok := o.Lookup(id); !ok || m != "to client" || st != Sent {
		t.Fatal("inbound PUBLISH disturbed the outbound delivery")
	}
	in.Release(id)
	if _, ok := o.Pubrec(id); !ok {
		t.Fatal("inbound PUBREL disturbed the outbound delivery")
	}
	if isNew, _ := in.Publish(id); !isNew {
		t.Fatal("outbound PUBREC disturbed inbound state")
	}
	if _, _, st, _ := o.Lookup(id); st != Released {
		t.Fatal("inbound PUBLISH disturbed the outbound delivery")
	}
}

func TestStageString(t *testing.T) {
	for s, want := range map[Stage]string{Queued: "Queued", Sent: "Sent", Released: "Released", 7: "Stage(invalid)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}

// TestOutboundUnsend: messages moved into flight by Next and undone in
// reverse order go back to the head of the queue in their order, their ids
// are free, and a message in stage Released is not affected.
func TestOutboundUnsend(t *testing.T) {
	o := NewOutbound[string](3, 0)
	for _, m := range []string{"a", "b", "c", "d"} {
		o.Enqueue(m, 2)
	}
	first, _ := o.Next()
	if _, ok := o.Pubrec(first.ID); !ok {
		t.Fatal("Pubrec a")
	}
	b, _ := o.Next()
	c, _ := o.Next()
	if o.Unsend(first.ID) {
		t.Error("Unsend of a Released message succeeded")
	}
	if !o.Unsend(c.ID) || !o.Unsend(b.ID) {
		t.Fatal("Unsend of Sent messages failed")
	}
	if o.Unsend(b.ID) {
		t.Error("Unsend twice succeeded")
	}
	if o.Inflight() != 1 || o.Queued() != 3 {
		t.Fatalf("inflight %d queued %d, want 1 and 3", o.Inflight(), o.Queued())
	}
	var got []string
	for {
		d, ok := o.Next()
		if !ok {
			break
		}
		got = append(got, d.Msg)
		if d.ID == first.ID {
			t.Errorf("id %d of the released message handed out again", d.ID)
		}
	}
	if want := []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after Unsend, Next gives %v, want %v", got, want)
	}
	if q, _, _ := o.PeekQueued(); q != "d" {
		t.Errorf("queue head %q, want d", q)
	}
}

// TestUpdateQueued changes every queued handle in place, oldest first,
// across the ring's wrap, leaving order, length and in-flight messages as
// they were.
func TestUpdateQueued(t *testing.T) {
	o := NewOutbound[int](1, 0)
	for i := 1; i <= 6; i++ {
		o.Enqueue(i, 1)
	}
	d, _ := o.Next() // 1 in flight
	o.PopQueued()    // 2 gone: the ring's head has moved
	o.Enqueue(7, 2)  // wraps
	var seen []int
	o.UpdateQueued(func(m *int) { seen = append(seen, *m); *m *= 10 })
	if fmt.Sprint(seen) != "[3 4 5 6 7]" {
		t.Fatalf("visited %v, want [3 4 5 6 7]", seen)
	}
	if o.Queued() != 5 || o.Inflight() != 1 || d.Msg != 1 {
		t.Fatalf("queued %d inflight %d", o.Queued(), o.Inflight())
	}
	var got []int
	for {
		m, ok := o.PopQueued()
		if !ok {
			break
		}
		got = append(got, m)
	}
	if fmt.Sprint(got) != "[30 40 50 60 70]" {
		t.Fatalf("queue after update %v", got)
	}
}

func TestUpdateInflight(t *testing.T) {
	o := NewOutbound[int](3, 0)
	for i := 1; i <= 4; i++ {
		o.Enqueue(i, 2)
	}
	d1, _ := o.Next()
	d2, _ := o.Next()
	if !o.UpdateInflight(d2.ID, func(m *int) { *m *= 10 }) {
		t.Fatalf("UpdateInflight(%d) found nothing", d2.ID)
	}
	if o.UpdateInflight(d2.ID+7, func(m *int) { t.Fatal("called for an id not in flight") }) {
		t.Fatal("UpdateInflight reported an id not in flight")
	}
	if m, q, st, _ := o.Lookup(d2.ID); m != 20 || q != 2 || st != Sent {
		t.Fatalf("after update: %d qos %d %v, want 20 qos 2 Sent", m, q, st)
	}
	if m, _, _, _ := o.Lookup(d1.ID); m != 1 {
		t.Fatalf("the other in-flight message changed: %d", m)
	}
	if o.Queued() != 2 || o.Inflight() != 2 {
		t.Fatalf("queued %d inflight %d, want 2 and 2", o.Queued(), o.Inflight())
	}
	if m, ok := o.Pubrec(d2.ID); !ok || m != 20 {
		t.Fatalf("Pubrec after update = %d, %v", m, ok)
	}
}

// A QoS 0 message queued (for an offline client, queue_qos0_messages)
// leaves the queue in its turn with no packet id and takes no room in the
// window; it waits behind a full window like the others.
func TestQueuedQoS0(t *testing.T) {
	o := NewOutbound[string](1, 0)
	for _, m := range []struct {
		s string
		q byte
	}{{"a", 1}, {"b", 0}, {"c", 2}} {
		if !o.Enqueue(m.s, m.q) {
			t.Fatalf("Enqueue %s at QoS %d refused", m.s, m.q)
		}
	}
	d := mustNext(t, o)
	if d.Msg != "a" || d.ID == 0 {
		t.Fatalf("first Next = %+v", d)
	}
	if _, ok := o.Next(); ok {
		t.Fatal("Next past a full window")
	}
	if _, ok := o.Puback(d.ID); !ok {
		t.Fatal("Puback")
	}
	d, ok := o.Next()
	if !ok || d.Msg != "b" || d.QoS != 0 || d.ID != 0 || o.Inflight() != 0 {
		t.Fatalf("QoS 0 Next = %+v with %d in flight", d, o.Inflight())
	}
	if d = mustNext(t, o); d.Msg != "c" || d.QoS != 2 || d.ID == 0 {
		t.Fatalf("third Next = %+v", d)
	}
}
