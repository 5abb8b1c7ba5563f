package qos

import "testing"

type benchMsg struct{ payload [64]byte }

// qos1Cycle is one QoS 1 delivery: queue, send, PUBACK.
func qos1Cycle(o *Outbound[*benchMsg], m *benchMsg) bool {
	o.Enqueue(m, 1)
	d, ok := o.Next()
	if !ok {
		return false
	}
	_, ok = o.Puback(d.ID)
	return ok
}

// qos2Cycle is one QoS 2 delivery: queue, send, PUBREC, PUBCOMP.
func qos2Cycle(o *Outbound[*benchMsg], m *benchMsg) bool {
	o.Enqueue(m, 2)
	d, ok := o.Next()
	if !ok {
		return false
	}
	if _, ok = o.Pubrec(d.ID); !ok {
		return false
	}
	_, ok = o.Pubcomp(d.ID)
	return ok
}

// windowCycle keeps a window full: PUBACK the oldest, queue and send one.
func windowCycle(o *Outbound[*benchMsg], m *benchMsg, buf []Delivery[*benchMsg]) bool {
	buf = o.ResumeAppend(buf[:0])
	if _, ok := o.Puback(buf[0].ID); !ok {
		return false
	}
	o.Enqueue(m, 1)
	_, ok := o.Next()
	return ok
}

// inboundCycle is one QoS 2 reception with a retransmitted PUBLISH.
func inboundCycle(in *Inbound, id uint16) bool {
	isNew, _ := in.Publish(id)
	dup, _ := in.Publish(id)
	return isNew && !dup && in.Release(id)
}

func fillWindow(o *Outbound[*benchMsg], m *benchMsg, n int) {
	for range n {
		o.Enqueue(m, 1)
		o.Next()
	}
}

// TestSteadyStateAllocs asserts the allocation budget: the steady-state
// cycles allocate nothing.
func TestSteadyStateAllocs(t *testing.T) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](20, 1000)
	w := NewOutbound[*benchMsg](20, 1000)
	fillWindow(w, m, 20)
	buf := make([]Delivery[*benchMsg], 0, 32)
	in := NewInbound(0)
	var id uint16
	for _, tc := range []struct {
		name string
		f    func() bool
	}{
		{"QoS1 cycle", func() bool { return qos1Cycle(o, m) }},
		{"QoS2 cycle", func() bool { return qos2Cycle(o, m) }},
		{"window of 20", func() bool { return windowCycle(w, m, buf) }},
		{"inbound QoS2", func() bool { id++; return inboundCycle(in, id|1) }},
	} {
		for range 70000 { // warm up across a full id wrap
			if !tc.f() {
				t.Fatalf("%s failed", tc.name)
			}
		}
		if n := testing.AllocsPerRun(1000, func() { tc.f() }); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tc.name, n)
		}
	}
}

func BenchmarkOutboundQoS1Cycle(b *testing.B) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](20, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if !qos1Cycle(o, m) {
			b.Fatal("cycle failed")
		}
	}
}

func BenchmarkOutboundQoS2Cycle(b *testing.B) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](20, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if !qos2Cycle(o, m) {
			b.Fatal("cycle failed")
		}
	}
}

// BenchmarkOutboundWindow20 keeps 20 QoS 1 messages in flight (mosquitto's
// default max_inflight_messages) and acknowledges the oldest each time.
func BenchmarkOutboundWindow20(b *testing.B) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](20, 1000)
	fillWindow(o, m, 20)
	buf := make([]Delivery[*benchMsg], 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		if !windowCycle(o, m, buf) {
			b.Fatal("cycle failed")
		}
	}
}

// BenchmarkOutboundAckNewestOf1000 acknowledges the newest of 1000 in-flight
// messages each time (out-of-order acknowledgements, worst case for the
// send-order list).
func BenchmarkOutboundAckNewestOf1000(b *testing.B) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](1000, 0)
	fillWindow(o, m, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := o.Puback(o.lastID); !ok {
			b.Fatal("ack failed")
		}
		o.Enqueue(m, 1)
		o.Next()
	}
}

func BenchmarkInboundQoS2Cycle(b *testing.B) {
	in := NewInbound(0)
	var id uint16
	b.ReportAllocs()
	for b.Loop() {
		id++
		if !inboundCycle(in, id|1) {
			b.Fatal("cycle failed")
		}
	}
}

// BenchmarkResume100 lists 100 in-flight messages into a reused buffer.
func BenchmarkResume100(b *testing.B) {
	m := &benchMsg{}
	o := NewOutbound[*benchMsg](0, 0)
	fillWindow(o, m, 100)
	buf := make([]Delivery[*benchMsg], 0, 100)
	b.ReportAllocs()
	for b.Loop() {
		buf = o.ResumeAppend(buf[:0])
	}
}

// BenchmarkOutboundLongQueue queues 100,000 messages (an offline
// session's backlog), then sends and acknowledges them all; ns/op is per
// message.
func BenchmarkOutboundLongQueue(b *testing.B) {
	m := &benchMsg{}
	const n = 100000
	o := NewOutbound[*benchMsg](20, 0)
	b.ReportAllocs()
	for b.Loop() {
		for range n {
			o.Enqueue(m, 1)
		}
		for range n {
			d, _ := o.Next()
			o.Puback(d.ID)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}
