package mqtt

import (
	"testing"

	"gatemq/flashstore"
)

// The broker → subscriber hop on a real flash log: a delivery to a
// persistent session is recorded queued with the message, its packet id is
// recorded (stage "sent") before its PUBLISH leaves, its PUBREC is
// recorded (stage "released") before PUBREL leaves, and PUBACK/PUBCOMP
// remove it. A new broker on the same log resumes each stage as recorded.

// TestWALOutboundQoS2Stages follows one QoS 2 delivery through its stages,
// restarting the broker after each to check what the resumed subscriber
// gets: the PUBLISH again (DUP, same id) while "sent", only PUBREL once
// "released", nothing once completed.
func TestWALOutboundQoS2Stages(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.persistentSub("out2-sub", 2, "out2/#")
	pub := w.dial()
	pub.connect("out2-pub", true, 0, nil, false)

	g := w.st.hold()
	pub.send(publishPkt("out2/a", 2, false, false, 1, "x"))
	g.waitEntered(t) // the publisher's commit: message and route
	g.pass(t)
	g.waitEntered(t) // the subscriber's writer: stage "sent"
	pub.expectAck(tPUBREC, 1)
	ws := durable(t, w.st)
	if r := ws.routeOf(t, "out2-sub", "x"); r.Stage != flashstore.RouteQueued || r.PacketID != 0 {
		t.Fatalf("route before the writer's commit: stage %s id %d, want queued without id", stageName(r.Stage), r.PacketID)
	}
	sub.expectQuiet("PUBLISH before its packet id is durable")
	g.pass(t)
	p := sub.expectPub("x", 2)
	r := durable(t, w.st).routeOf(t, "out2-sub", "x")
	if r.Stage != flashstore.RouteSent || r.PacketID != p.id {
		t.Fatalf("route when PUBLISH id %d arrived: stage %s id %d, want sent with that id", p.id, stageName(r.Stage), r.PacketID)
	}
	g.open()
	pub.send(ackPkt(tPUBREL, 1))
	pub.expectAck(tPUBCOMP, 1)

	// Restart while "sent": the same PUBLISH again, DUP set, same id.
	rs := w.restart()
	if rs.Routes != 1 || rs.Messages != 1 {
		t.Fatalf("recovered %+v, want 1 route and 1 message", rs)
	}
	sub = w.dial()
	sub.connect("out2-sub", false, 0, nil, true)
	p2 := sub.expectPub("x", 2)
	if !p2.dup || p2.id != p.id {
		t.Fatalf("resent PUBLISH dup=%v id=%d, want DUP with id %d [MQTT-4.4.0-1]", p2.dup, p2.id, p.id)
	}

	// PUBREC: stage "released" is durable before PUBREL leaves.
	g = w.st.hold()
	sub.send(ackPkt(tPUBREC, p.id))
	g.waitEntered(t)
	sub.silent("PUBREC whose stage is not committed yet")
	g.pass(t)
	sub.expectAck(tPUBREL, p.id)
	if r := durable(t, w.st).routeOf(t, "out2-sub", "x"); r.Stage != flashstore.RouteReleased || r.PacketID != p.id {
		t.Fatalf("route when PUBREL arrived: stage %s id %d, want released with id %d", stageName(r.Stage), r.PacketID, p.id)
	}
	g.open()

	// Restart while "released": PUBREL again, never the PUBLISH
	// [MQTT-4.3.3-6].
	w.restart()
	sub = w.dial()
	sub.connect("out2-sub", false, 0, nil, true)
	sub.expectAck(tPUBREL, p.id)
	sub.ping("after the PUBREL of the only delivery")

	// PUBCOMP completes it; its removal reaches the log at the latest when
	// the connection ends.
	sub.send(ackPkt(tPUBCOMP, p.id))
	sub.leave()
	w.waitOfflineN(1)
	ws = durable(t, w.st)
	if len(ws.routes) != 0 || len(ws.msgs) != 0 {
		t.Fatalf("after PUBCOMP: routes %s, %d messages; want none", ws.describeRoutes(), len(ws.msgs))
	}
	rs = w.restart()
	if rs.Routes != 0 || rs.Messages != 0 || rs.Sessions != 1 || rs.Subscriptions != 1 {
		t.Fatalf("recovered %+v, want the session and its subscription only", rs)
	}
	sub = w.dial()
	sub.connect("out2-sub", false, 0, nil, true)
	sub.ping("a completed delivery after a restart")
}

// TestWALOutboundQoS1 follows QoS 1 deliveries: the PUBLISH leaves as
// soon as the publisher's records (the route included) are durable, with
// no record of its packet id (at least once needs none: QoS 1 receivers
// keep no state by packet id); a restart sends it again, as a new send;
// a PUBACK removes it, and the message record goes with its last route.
func TestWALOutboundQoS1(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.persistentSub("out1-sub", 1, "out1/#")
	other := w.persistentSub("out1-other", 1, "out1/#")
	other.leave()
	w.waitOfflineN(1)

	g := w.st.hold()
	pub := w.dial()
	pub.connect("out1-pub", true, 0, nil, false)
	pub.send(publishPkt("out1/a", 1, false, false, 3, "y"))
	g.waitEntered(t)
	sub.expectQuiet("QoS 1 PUBLISH before its route is durable")
	g.pass(t)
	p := sub.expectPub("y", 1) // no second commit to wait for
	ws := durable(t, w.st)
	if r := ws.routeOf(t, "out1-sub", "y"); r.Stage != flashstore.RouteQueued || r.PacketID != 0 {
		t.Fatalf("route when PUBLISH id %d arrived: stage %s id %d, want queued", p.id, stageName(r.Stage), r.PacketID)
	}
	if r := ws.routeOf(t, "out1-other", "y"); r.Stage != flashstore.RouteQueued {
		t.Fatalf("offline session's route: stage %s, want queued", stageName(r.Stage))
	}
	pub.expectAck(tPUBACK, 3)
	g.open()

	rs := w.restart()
	if rs.Routes != 2 || rs.Messages != 1 {
		t.Fatalf("recovered %+v, want 2 routes of 1 message", rs)
	}
	sub = w.dial()
	sub.connect("out1-sub", false, 0, nil, true)
	p2 := sub.expectPub("y", 1)
	if p2.dup {
		t.Fatalf("sent again after a restart with DUP (id %d): the broker has no record of the first send", p2.id)
	}
	sub.send(ackPkt(tPUBACK, p2.id))
	sub.leave()
	other = w.dial()
	other.connect("out1-other", false, 0, nil, true)
	p3 := other.expectPub("y", 1)
	if p3.dup {
		t.Fatal("a queued message never sent arrived with DUP set")
	}
	other.send(ackPkt(tPUBACK, p3.id))
	other.leave()
	w.waitOfflineN(2)
	if ws := durable(t, w.st); len(ws.routes) != 0 || len(ws.msgs) != 0 {
		t.Fatalf("after both PUBACKs: routes %s, %d messages; want none", ws.describeRoutes(), len(ws.msgs))
	}
}
