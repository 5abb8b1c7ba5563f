package mqtt

import (
	"slices"
	"testing"

	"gatemq/flashstore"
)

// The publisher → broker hop on a real flash log: every acknowledgement
// leaves only after the records that justify it are durable, and the log
// alone (re-opened by a new broker) gives back what was acknowledged.

// TestWALInboundQoS1 checks that a QoS 1 PUBACK leaves only once the
// message and its route to an offline persistent subscriber are committed,
// and that a new broker on the same log delivers that message.
func TestWALInboundQoS1(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	w.persistentSub("in1-sub", 1, "in1/#").leave()
	w.waitOfflineN(1)

	pub := w.dial()
	pub.connect("in1-pub", true, 0, nil, false)
	g := w.st.hold()
	pub.send(publishPkt("in1/a", 1, false, false, 7, "one"))
	if n := g.waitEntered(t); n < 2 {
		t.Fatalf("the PUBLISH's commit has %d records, want the message and its route", n)
	}
	// No PUBACK while the commit is held.
	pub.silent("QoS 1 PUBLISH whose records are not committed yet")
	if ws := durable(t, w.st); len(ws.routes) != 0 {
		t.Fatalf("routes durable before the commit returned: %s", ws.describeRoutes())
	}
	g.pass(t)
	pub.expectAck(tPUBACK, 7)
	ws := durable(t, w.st)
	r := ws.routeOf(t, "in1-sub", "one")
	if r.Stage != flashstore.RouteQueued || r.QoS != 1 {
		t.Fatalf("route after PUBACK: stage %s QoS %d, want queued at QoS 1", stageName(r.Stage), r.QoS)
	}
	g.open()

	rs := w.restart()
	if rs.Sessions != 1 || rs.Subscriptions != 1 || rs.Messages != 1 || rs.Routes != 1 || rs.Dropped != 0 {
		t.Fatalf("recovered %+v, want 1 session, 1 subscription, 1 message, 1 route", rs)
	}
	sub := w.dial()
	sub.connect("in1-sub", false, 0, nil, true)
	p := sub.expectPub("one", 1)
	if p.dup || p.topic != "in1/a" {
		t.Fatalf("recovered delivery %+v, want in1/a without DUP (it was never sent)", p)
	}
	sub.complete(p)
	sub.ping("after the only queued message")
}

// TestWALInboundQoS2 walks one QoS 2 PUBLISH from a persistent publisher
// through the log: PUBREC after the message, its route and the inbound id
// are durable; a retransmission before PUBREL is answered but not
// delivered again (not even after a restart, which must give the id
// back); PUBCOMP after the id's removal is durable; then the id is new.
func TestWALInboundQoS2(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	w.persistentSub("in2-sub", 2, "in2/#").leave()
	w.waitOfflineN(1)
	live := w.dial()
	live.connect("in2-live", true, 0, nil, false)
	live.subscribe(1, "in2/#", 2)

	pub := w.dial()
	pub.connect("in2-pub", false, 0, nil, false)
	g := w.st.hold()
	pub.send(publishPkt("in2/a", 2, false, false, 9, "m"))
	if n := g.waitEntered(t); n < 3 {
		t.Fatalf("the QoS 2 PUBLISH's commit has %d records, want message, route and inbound id", n)
	}
	pub.silent("QoS 2 PUBLISH whose records are not committed yet")
	live.expectQuiet("a QoS 2 message delivered before its inbound id is durable")
	g.pass(t)
	pub.expectAck(tPUBREC, 9)
	ws := durable(t, w.st)
	if ids := ws.inboundOf("in2-pub"); !slices.Equal(ids, []uint16{9}) {
		t.Fatalf("inbound ids after PUBREC: %v, want [9]", ids)
	}
	ws.routeOf(t, "in2-sub", "m")
	g.open()
	live.complete(live.expectPub("m", 2))

	// A retransmission before PUBREL: PUBREC again, no second delivery.
	pub.send(publishPkt("in2/a", 2, true, false, 9, "m"))
	pub.expectAck(tPUBREC, 9)
	pub.send(publishPkt("in2/b", 1, false, false, 10, "marker"))
	pub.expectAck(tPUBACK, 10)
	live.complete(live.expectPub("marker", 1)) // not "m" again
	if got := durable(t, w.st).payloadsOf("in2-sub"); !slices.Equal(got, []string{"m", "marker"}) {
		t.Fatalf("queued for the offline subscriber: %q, want [m marker]", got)
	}

	// The id awaiting PUBREL survives a restart.
	rs := w.restart()
	if rs.Inbound != 1 || rs.Sessions != 2 || rs.Routes != 2 {
		t.Fatalf("recovered %+v, want 2 sessions, 2 routes, 1 inbound id", rs)
	}
	pub = w.dial()
	pub.connect("in2-pub", false, 0, nil, true)
	pub.send(publishPkt("in2/a", 2, true, false, 9, "m"))
	pub.expectAck(tPUBREC, 9)

	g = w.st.hold()
	pub.send(ackPkt(tPUBREL, 9))
	g.waitEntered(t)
	pub.silent("PUBREL whose id removal is not committed yet")
	g.pass(t)
	pub.expectAck(tPUBCOMP, 9)
	if ids := durable(t, w.st).inboundOf("in2-pub"); len(ids) != 0 {
		t.Fatalf("inbound ids after PUBCOMP: %v, want none", ids)
	}
	g.open()

	// Exactly once: the subscriber gets m and marker, once each.
	sub := w.dial()
	sub.connect("in2-sub", false, 0, nil, true)
	m, marker := sub.expectPub("m", 2), sub.expectPub("marker", 1)
	sub.complete(m)
	sub.complete(marker)
	sub.ping("after the two queued messages")

	// After PUBCOMP the id is free: the same id is a new message
	// [MQTT-4.3.3-12], also after another restart.
	w.restart()
	pub = w.dial()
	pub.connect("in2-pub", false, 0, nil, true)
	sub = w.dial()
	sub.connect("in2-sub", false, 0, nil, true)
	pub.send(publishPkt("in2/a", 2, false, false, 9, "m2"))
	pub.expectAck(tPUBREC, 9)
	sub.complete(sub.expectPub("m2", 2))
	pub.send(ackPkt(tPUBREL, 9))
	pub.expectAck(tPUBCOMP, 9)
	sub.ping("after m2")
}
