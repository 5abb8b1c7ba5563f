package mqtt

import (
	"fmt"
	"strings"
	"testing"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

// A full store (flashstore.Options.MaxBytes reached): new QoS 1/2 messages
// that need records are refused (MQTT 3.1.1: the connection is closed
// without PUBACK, so the publisher keeps the message; 5.0: PUBACK/PUBREC
// 0x97 quota exceeded), QoS 0 keeps flowing, what was acknowledged is
// still delivered (also after a restart), and once it drained, QoS 1 is
// accepted again.

// fullOpts is a store of 24 KiB in 4 KiB segments.
var fullOpts = flashstore.Options{MaxBytes: 24 << 10, SegmentSize: 4 << 10}

// fullPayloadOf is the payload of the i-th filling message (500 bytes).
func fullPayloadOf(i int) string {
	p := fmt.Sprintf("%04d:", i)
	return p + strings.Repeat("x", 500-len(p))
}

// fill publishes QoS 1 messages on topic through send until publishOne
// reports a refusal, and returns how many were accepted.
func fill(t *testing.T, publishOne func(i int) (accepted bool)) int {
	t.Helper()
	for i := 1; i <= 200; i++ {
		if !publishOne(i) {
			if i == 1 {
				t.Fatal("the first message was refused")
			}
			return i - 1
		}
	}
	t.Fatal("the store never became full")
	return 0
}

// drainFull has the persistent subscriber id come back and checks it gets
// the n accepted messages in order, then leaves (its removals committed).
func drainFull(t *testing.T, w *walBroker, id string, n int) {
	t.Helper()
	sub := w.dial()
	sub.connect(id, false, 0, nil, true)
	for i := 1; i <= n; i++ {
		p := sub.expectPub(fullPayloadOf(i), 1)
		sub.send(ackPkt(tPUBACK, p.id))
	}
	sub.ping("after the accepted messages")
	sub.leave()
}

// TestWALStoreFull311 fills the store with QoS 1 messages from a 3.1.1
// client for an offline persistent session.
func TestWALStoreFull311(t *testing.T) {
	w := startWAL(t, Options{}, fullOpts)
	w.persistentSub("full-sub", 1, "full/q1").leave()
	w.waitOfflineN(1)
	z := w.dial()
	z.connect("full-q0", true, 0, nil, false)
	z.subscribe(1, "full/q0", 0)

	pub := w.dial()
	pub.connect("full-pub", true, 0, nil, false)
	n := fill(t, func(i int) bool {
		pub.send(publishPkt("full/q1", 1, false, false, uint16(i), fullPayloadOf(i)))
		p, err := pub.readPkt(waitTime)
		if err != nil {
			if !isClosed(err) {
				t.Fatalf("message %d: neither PUBACK nor a close: %v", i, err)
			}
			return false
		}
		if p.typ != tPUBACK || p.id() != uint16(i) {
			t.Fatalf("message %d: packet type %d id %d, want PUBACK %d", i, p.typ, p.id(), i)
		}
		return true
	})
	t.Logf("%d messages of 500 bytes accepted", n)

	// Still full: a new QoS 1 message is refused again; QoS 0 flows.
	pub = w.dial()
	pub.connect("full-pub2", true, 0, nil, false)
	pub.send(publishPkt("full/q1", 1, false, false, 1, fullPayloadOf(n+1)))
	pub.expectClosed()
	q0 := w.dial()
	q0.connect("full-pub3", true, 0, nil, false)
	q0.send(publishPkt("full/q0", 0, false, false, 0, "zero"))
	z.expectPub("zero", 0)
	if got := len(durable(t, w.st).routesOf("full-sub")); got != n {
		t.Fatalf("%d routes durable, want the %d acknowledged", got, n)
	}

	// What was acknowledged survives a restart and is delivered, in order.
	if rs := w.restart(); rs.Routes != n {
		t.Fatalf("recovered %+v, want %d routes", rs, n)
	}
	drainFull(t, w, "full-sub", n)
	w.waitOfflineN(1)

	// Drained: QoS 1 is accepted again.
	pub = w.dial()
	pub.connect("full-pub4", true, 0, nil, false)
	pub.send(publishPkt("full/q1", 1, false, false, 9, "after"))
	pub.expectAck(tPUBACK, 9)
	sub := w.dial()
	sub.connect("full-sub", false, 0, nil, true)
	sub.complete(sub.expectPub("after", 1))
}

// TestWALStoreFullV5 fills the store from a 5.0 client: the refusal is
// PUBACK (or PUBREC) 0x97.
func TestWALStoreFullV5(t *testing.T) {
	w := startWAL(t, Options{}, fullOpts)
	w.persistentSub("full5-sub", 1, "full/#").leave()
	w.waitOfflineN(1)
	z := w.dial()
	z.connect("full5-q0", true, 0, nil, false)
	z.subscribe(1, "full/q0", 0)

	pub := w.dial()
	pub.connectV5(rawConnectV5("full5-pub", nil))
	n := fill(t, func(i int) bool {
		pub.sendV5(&packets.Publish{Topic: "full/q1", QoS: 1, PacketID: uint16(i), Payload: []byte(fullPayloadOf(i))})
		pa := pub.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback)
		if pa.PacketID != uint16(i) {
			t.Fatalf("PUBACK %d, want %d", pa.PacketID, i)
		}
		switch pa.ReasonCode {
		case 0:
			return true
		case 0x97:
			return false
		}
		t.Fatalf("message %d: PUBACK reason %#x, want 0 or 0x97", i, pa.ReasonCode)
		return false
	})
	t.Logf("%d messages of 500 bytes accepted", n)

	pub = w.dial()
	pub.connectV5(rawConnectV5("full5-pub2", nil))
	pub.sendV5(&packets.Publish{Topic: "full/q2", QoS: 2, PacketID: 1, Payload: []byte(fullPayloadOf(n + 1))})
	if pr := pub.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); pr.PacketID != 1 || pr.ReasonCode != 0x97 {
		t.Fatalf("QoS 2 while full: PUBREC id %d reason %#x, want id 1 reason 0x97", pr.PacketID, pr.ReasonCode)
	}
	q0 := w.dial()
	q0.connectV5(rawConnectV5("full5-pub3", nil))
	q0.sendV5(&packets.Publish{Topic: "full/q0", QoS: 0, Payload: []byte("zero")})
	z.expectPub("zero", 0)

	if rs := w.restart(); rs.Routes != n {
		t.Fatalf("recovered %+v, want %d routes", rs, n)
	}
	drainFull(t, w, "full5-sub", n)
}
