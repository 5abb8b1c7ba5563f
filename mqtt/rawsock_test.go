package mqtt

import (
	"bytes"
	"strings"
	"testing"
)

// Each request below reaches a reader that has just drained its socket
// and is about to wait for the poller: a reader that waited without
// trying a read first would miss data signalled in between (RawConn.Read
// clears the ready mark), and the exchange would stall.
func TestRawSockRoundTrips(t *testing.T) {
	tb := startBroker(t, Options{})
	for i := range 20 {
		r := dialRaw(t, tb)
		r.connect("rt-"+string(rune('a'+i)), true, 60, nil, false)
		r.subscribe(1, "rt/x", 1)
		for range 25 {
			r.send(mkPkt(tPINGREQ<<4, nil))
			r.expect(13, 0) // PINGRESP
		}
		r.c.Close()
	}
}

// A subscriber that stops reading fills its socket: the delivery written
// on the publisher's goroutine takes what the socket accepts at once and
// hands the rest to a writer goroutine, which finishes it once the
// subscriber reads again. Nothing is lost or reordered, and the publisher
// is never blocked by the subscriber's socket (its PUBACKs keep coming).
func TestRawSockPartialWrite(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	sub := dialRaw(t, tb)
	sub.connect("pw-sub", true, 0, nil, false)
	sub.subscribe(1, "pw/x", 0)
	pub := dialRaw(t, tb)
	pub.connect("pw-pub", true, 0, nil, false)
	payload := strings.Repeat("p", 200<<10) // a few of these fill loopback's buffers
	const n = 40
	for i := range n {
		pub.send(publishPkt("pw/x", 1, false, false, uint16(i+1), string(rune('A'+i))+payload))
		pub.expectAck(tPUBACK, uint16(i+1))
	}
	for i := range n {
		p := sub.read().publish(t)
		if p.topic != "pw/x" || len(p.payload) != len(payload)+1 || p.payload[0] != byte('A'+i) {
			t.Fatalf("delivery %d: topic %q, %d bytes starting %q", i, p.topic, len(p.payload), p.payload[:1])
		}
	}
	// The writer is idle again: the next delivery is written at once.
	pub.send(publishPkt("pw/x", 0, false, false, 0, "last"))
	if p := sub.read().publish(t); !bytes.Equal([]byte(p.payload), []byte("last")) {
		t.Fatalf("last delivery %q", p.payload)
	}
}
