package mqtt

import (
	"strings"
	"testing"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

// What the store pipeline does when there is nothing, or little, to make
// durable.

// TestWALNothingToCommit checks that traffic between clean sessions costs
// no commit: a QoS 1 or QoS 2 message without a persistent subscriber from
// a clean session is delivered and acknowledged with the store untouched.
func TestWALNothingToCommit(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.dial()
	sub.connect("nc-sub", true, 0, nil, false)
	sub.subscribe(1, "nc/#", 2)
	pub := w.dial()
	pub.connect("nc-pub", true, 0, nil, false)
	g := w.st.hold()
	pub.send(publishPkt("nc/a", 1, false, false, 1, "one"))
	pub.expectAck(tPUBACK, 1)
	pub.send(publishPkt("nc/b", 2, false, false, 2, "two"))
	pub.expectAck(tPUBREC, 2)
	pub.send(ackPkt(tPUBREL, 2))
	pub.expectAck(tPUBCOMP, 2)
	sub.complete(sub.expectPub("one", 1))
	sub.complete(sub.expectPub("two", 2))
	sub.ping("after both messages")
	g.expectNoCommit(t, "messages between clean sessions")
	g.open()
}

// TestWALDroppedQoS2KeepsID checks that a QoS 2 message the broker drops
// (over message_size_limit) but acknowledges, as Mosquitto does, still has
// its packet id recorded before PUBREC: after a restart the PUBREL finds
// it (5.0 PUBCOMP reason 0x00, not 0x92 "packet identifier not found").
func TestWALDroppedQoS2KeepsID(t *testing.T) {
	w := startWAL(t, Options{MessageSizeLimit: 8}, flashstore.Options{})
	connect := func(present bool) *rawConn {
		return connectV5Session(t, w, "dq-pub", expireNever, present)
	}
	pub := connect(false)
	g := w.st.hold()
	pub.sendV5(&packets.Publish{Topic: "dq/a", QoS: 2, PacketID: 3, Payload: []byte(strings.Repeat("x", 20))})
	if n := g.waitEntered(t); n != 1 {
		t.Fatalf("commit of %d records, want the inbound id alone", n)
	}
	pub.silent("a dropped QoS 2 message whose id is not committed yet")
	g.pass(t)
	if pr := pub.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); pr.PacketID != 3 || pr.ReasonCode != 0 {
		t.Fatalf("PUBREC id %d reason %#x, want id 3 reason 0", pr.PacketID, pr.ReasonCode)
	}
	g.open()

	w.restart()
	pub = connect(true)
	pub.sendV5(&packets.Pubrel{PacketID: 3})
	if pc := pub.expect(tPUBCOMP, 0).v5(t).Content.(*packets.Pubcomp); pc.PacketID != 3 || pc.ReasonCode != 0 {
		t.Fatalf("PUBCOMP id %d reason %#x, want id 3 reason 0 (the id came back from the log)", pc.PacketID, pc.ReasonCode)
	}
	if ids := durable(t, w.st).inboundOf("dq-pub"); len(ids) != 0 {
		t.Fatalf("inbound ids after PUBCOMP: %v, want none", ids)
	}
}
