package mqtt

import (
	"bytes"
	"testing"

	"gatemq/flashstore"
)

// Clients pipeline: answers leave in the order of the packets they answer,
// and a DISCONNECT closes the connection only after everything before it
// was answered. These tests write whole conversations in one segment, as
// health checks and tiny embedded clients do.

// pipelineBrokers returns a broker without a store and one on a real flash
// log (where acknowledgements wait for commits).
func pipelineBrokers(t *testing.T) map[string]*testBroker {
	st, _, err := flashstore.Open(flashstore.Options{Dir: t.TempDir(), Sync: flashstore.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	durable := startBroker(t, Options{Store: st})
	t.Cleanup(func() { st.Close() })
	return map[string]*testBroker{"memory": startBroker(t, Options{}), "durable": durable}
}

// TestPipelinedConnectDisconnect: CONNECT and DISCONNECT in one segment get
// the CONNACK before the connection closes, for 3.1.1 and 5.0, every time.
func TestPipelinedConnectDisconnect(t *testing.T) {
	for name, tb := range pipelineBrokers(t) {
		t.Run(name, func(t *testing.T) {
			for i := range 50 {
				r := dialRaw(t, tb)
				r.send(connectPkt("pipe-311", true, 30, nil), []byte{tDISCONNECT << 4, 0})
				r.expectConnack(false, 0)
				r.expectClosed()

				r = dialRaw(t, tb)
				r.send(v5ConnectBytes("pipe-5"), []byte{tDISCONNECT << 4, 0})
				p := r.expect(tCONNACK, 0)
				if len(p.body) < 2 || p.body[1] != 0 {
					t.Fatalf("round %d: 5.0 CONNACK body % x, want reason 0", i, p.body)
				}
				r.expectClosed()
			}
		})
	}
}

// v5ConnectBytes is a minimal 5.0 CONNECT (clean start, no properties).
func v5ConnectBytes(id string) []byte {
	return mkPkt(tCONNECT<<4, str("MQTT"), []byte{5, 0x02}, u16(30), []byte{0}, str(id))
}

// TestPipelinedAnswersInOrder: CONNECT, SUBSCRIBE, PUBLISH QoS 1, PUBLISH
// QoS 2, PINGREQ, UNSUBSCRIBE and DISCONNECT written at once are answered
// CONNACK, SUBACK, PUBACK, PUBREC, PINGRESP, UNSUBACK, in that order, and
// only then is the connection closed.
func TestPipelinedAnswersInOrder(t *testing.T) {
	for name, tb := range pipelineBrokers(t) {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				r := dialRaw(t, tb)
				r.send(
					connectPkt("pipe-order", true, 30, nil),
					subscribePkt(1, "pipe/in", 1),
					publishPkt("pipe/out", 1, false, false, 2, "one"),
					publishPkt("pipe/out", 2, false, false, 3, "two"),
					[]byte{tPINGREQ << 4, 0},
					mkPkt(tUNSUBSCRIBE<<4|2, u16(4), str("pipe/in")),
					[]byte{tDISCONNECT << 4, 0},
				)
				r.expectConnack(false, 0)
				if p := r.expect(tSUBACK, 0); !bytes.Equal(p.body, []byte{0, 1, 1}) {
					t.Fatalf("SUBACK body % x", p.body)
				}
				r.expectAck(tPUBACK, 2)
				r.expectAck(tPUBREC, 3)
				r.expect(tPINGRESP, 0)
				if p := r.expect(tUNSUBACK, 0); !bytes.Equal(p.body, u16(4)) {
					t.Fatalf("UNSUBACK body % x", p.body)
				}
				r.expectClosed()
			}
		})
	}
}

// TestRawV5WrongProtocolName: a level-5 CONNECT whose protocol name is not
// "MQTT" is refused with a 5.0 CONNACK 0x84 (unsupported protocol version),
// not with the 3.1.1 code 0x01, and the connection is closed.
func TestRawV5WrongProtocolName(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.send(mkPkt(tCONNECT<<4, str("MQTX"), []byte{5, 0x02}, u16(30), []byte{0}, str("bad-name")))
	p := r.expect(tCONNACK, 0)
	if len(p.body) < 3 || p.body[1] != 0x84 {
		t.Fatalf("CONNACK body % x, want a 5.0 CONNACK with reason 0x84", p.body)
	}
	r.expectClosed()
}
