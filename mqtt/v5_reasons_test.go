package mqtt

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 reason codes in acknowledgements (§3.4.2.1, §3.5.2.1, §3.9.3,
// §3.11.3) and in the broker's DISCONNECT (§3.14.2.1, §4.13).

// TestV5PubackNoMatchingSubscribers checks §3.4.2.1: PUBACK (and PUBREC)
// 0x10 when a message matched no subscription, 0x00 once one does.
func TestV5PubackNoMatchingSubscribers(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectV5(t, tb, v5Connect("nms-pub", nil))
	if pr := pub.publish(t, &paho.Publish{Topic: "nms/t", QoS: 1, Payload: []byte("x")}); pr.ReasonCode != 0x10 {
		t.Errorf("PUBACK reason %#x with no subscriber, want 0x10", pr.ReasonCode)
	}

	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("nms-raw", nil))
	r.sendV5(&packets.Publish{Topic: "nms/t", QoS: 2, PacketID: 7, Payload: []byte("x")})
	if rec := r.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); rec.PacketID != 7 || rec.ReasonCode != 0x10 {
		t.Errorf("PUBREC id %d reason %#x with no subscriber, want id 7 reason 0x10", rec.PacketID, rec.ReasonCode)
	}
	r.send(ackPkt(tPUBREL, 7))
	if comp := r.expect(tPUBCOMP, 0).v5(t).Content.(*packets.Pubcomp); comp.PacketID != 7 || comp.ReasonCode != 0 {
		t.Errorf("PUBCOMP id %d reason %#x, want id 7 reason 0", comp.PacketID, comp.ReasonCode)
	}

	sub := connectV5(t, tb, v5Connect("nms-sub", nil))
	sub.sub(t, "nms/#", 1)
	if pr := pub.publish(t, &paho.Publish{Topic: "nms/t", QoS: 1, Payload: []byte("y")}); pr.ReasonCode != 0 {
		t.Errorf("PUBACK reason %#x with a subscriber, want 0", pr.ReasonCode)
	}
	r.sendV5(&packets.Publish{Topic: "nms/t", QoS: 2, PacketID: 8, Payload: []byte("y")})
	if rec := r.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); rec.ReasonCode != 0 {
		t.Errorf("PUBREC reason %#x with a subscriber, want 0", rec.ReasonCode)
	}
}

// TestV5SubackReasonCodes checks §3.9.3: one reason code per filter, in
// order: the granted QoS, or 0x8F for an invalid filter [MQTT-4.7.1-1,2]
// [MQTT-4.7.3-1]; the valid filters of the same SUBSCRIBE still work.
func TestV5SubackReasonCodes(t *testing.T) {
	tb := startBroker(t, Options{})
	c := connectV5(t, tb, v5Connect("suback", nil))
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "sa/+/ok", QoS: 1}, {Topic: "sa/#/x", QoS: 1}, {Topic: "sa/q2", QoS: 2},
		{Topic: "sa+", QoS: 0}, {Topic: "", QoS: 0}, {Topic: "sa/q0", QoS: 0},
	}}
	sa, _ := c.trySubscribe(s)
	if sa == nil {
		t.Fatal("no SUBACK")
	}
	if want := []byte{1, 0x8F, 2, 0x8F, 0x8F, 0}; !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK reason codes % x, want % x", sa.Reasons, want)
	}
	marker(t, tb, "sa/q2", 2, "works")
	c.col.waitFor(t, "sa/q2", "works")
}

// TestV5UnsubackReasonCodes checks §3.11.3: 0x00 for a filter that was
// subscribed, 0x11 (No subscription existed) for one that was not, in
// order; after the UNSUBACK no more messages come for it.
func TestV5UnsubackReasonCodes(t *testing.T) {
	tb := startBroker(t, Options{})
	c := connectV5(t, tb, v5Connect("unsuback", nil))
	c.sub(t, "us/a", 1)
	c.sub(t, "us/c", 1)
	unsub := func(filters ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		ua, _ := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: filters})
		if ua == nil {
			t.Fatalf("unsubscribe %q: no UNSUBACK", filters)
		}
		return ua.Reasons
	}
	if got := unsub("us/a", "us/b"); !slices.Equal(got, []byte{0, 0x11}) {
		t.Errorf("UNSUBACK reason codes % x, want 00 11", got)
	}
	if got := unsub("us/a"); !slices.Equal(got, []byte{0x11}) {
		t.Errorf("second UNSUBSCRIBE of us/a: reason codes % x, want 11", got)
	}
	marker(t, tb, "us/a", 1, "gone")
	marker(t, tb, "us/c", 1, "still")
	if got := payloadsOf(c.col.waitFor(t, "us/c", "still")); !slices.Equal(got, []string{"still"}) {
		t.Errorf("after unsubscribing us/a got %q", got)
	}
}

// TestV5DisconnectSessionTakenOver checks [MQTT-3.1.4-3] with §3.14.2.1: the
// old connection of a client id that connects again is sent DISCONNECT
// 0x8E before it is closed, and the new one keeps working.
func TestV5DisconnectSessionTakenOver(t *testing.T) {
	tb := startBroker(t, Options{})
	old := connectV5(t, tb, v5Connect("take", nil))
	neu := connectV5(t, tb, v5Connect("take", nil))
	if d := old.waitDisconnect(t); d.ReasonCode != 0x8E {
		t.Errorf("old connection got DISCONNECT %#x, want 0x8E", d.ReasonCode)
	}
	neu.sub(t, "take/t", 1)
	marker(t, tb, "take/t", 1, "new")
	neu.col.waitFor(t, "take/t", "new")
}

// TestV5DisconnectServerShutdown checks §3.14.2.1: when the broker stops
// (Server.Shutdown) a 5.0 client is sent DISCONNECT 0x8B (Server shutting
// down) before its connection is closed.
func TestV5DisconnectServerShutdown(t *testing.T) {
	tb := startBroker(t, Options{})
	c := connectV5(t, tb, v5Connect("shutdown", nil))
	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("shutdown-raw", nil))
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := tb.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := c.waitDisconnect(t); d.ReasonCode != 0x8B {
		t.Errorf("paho.golang client got DISCONNECT %#x, want 0x8B", d.ReasonCode)
	}
	r.expectDisconnectV5(0x8B)
}

// TestV5DisconnectKeepAliveTimeout checks [MQTT-3.1.2-22] with §3.14.2.1: a
// client silent for one and a half times its keep alive (1 s) is sent
// DISCONNECT 0x8D and closed, not earlier.
func TestV5DisconnectKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	c := rawConnectV5("ka", nil)
	c.KeepAlive = 1
	r.connectV5(c)
	start := time.Now()
	r.expectDisconnectV5(0x8D)
	if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
		t.Errorf("DISCONNECT 0x8D after %v of silence, want about 1.5 s", d)
	}
}

// TestV5DisconnectMalformed sends malformed packets and protocol errors on
// a raw 5.0 connection: the broker answers DISCONNECT with the reason code
// §4.13 and the packet's section call for and closes that connection only.
func TestV5DisconnectMalformed(t *testing.T) {
	tb := startBroker(t, Options{})
	bystander := connectV5(t, tb, v5Connect("bystander", nil))
	bystander.sub(t, "alive/#", 1)

	pub := func(props ...byte) []byte {
		return mkPkt(tPUBLISH<<4|2, str("bad/t"), u16(1), varint(len(props)), props, []byte("x"))
	}
	sub := func(props []byte, filter string, opts byte) []byte {
		return mkPkt(tSUBSCRIBE<<4|2, u16(1), varint(len(props)), props, str(filter), []byte{opts})
	}
	cases := []struct {
		name  string
		send  []byte
		codes []byte
	}{
		// §2.2.2.2: a property twice where it may appear once.
		{"PUBLISH with Payload Format Indicator twice", pub(0x01, 1, 0x01, 1), []byte{0x81, 0x82}},
		{"PUBLISH with Content Type twice", pub(0x03, 0, 1, 'a', 0x03, 0, 1, 'b'), []byte{0x81, 0x82}},
		// §2.2.2.2: an identifier not valid for the packet type.
		{"PUBLISH with Session Expiry Interval", pub(0x11, 0, 0, 0, 1), []byte{0x81}},
		{"PUBLISH with unknown property 0x7f", pub(0x7f, 0), []byte{0x81}},
		{"PUBLISH with property length past the end", mkPkt(tPUBLISH<<4|2, str("bad/t"), u16(1), []byte{9, 0x01}), []byte{0x81}},
		// [MQTT-3.3.4-6]: a client's PUBLISH must not carry a Subscription Identifier.
		{"PUBLISH with Subscription Identifier", pub(0x0B, 1), []byte{0x82}},
		// [MQTT-1.5.4-1]: ill-formed UTF-8 is a Malformed Packet.
		{"PUBLISH with ill-formed UTF-8 topic", mkPkt(tPUBLISH<<4, str("bad/\xc0\x80"), []byte{0}, []byte("x")), []byte{0x81}},
		{"PUBLISH with ill-formed UTF-8 user property", pub(0x26, 0, 1, 0xff, 0, 1, 'v'), []byte{0x81}},
		// [MQTT-3.3.1-4]: QoS 3.
		{"PUBLISH with QoS 3", mkPkt(tPUBLISH<<4|6, str("bad/t"), u16(1), []byte{0}, []byte("x")), []byte{0x81}},
		// §3.8.2.1.2: Subscription Identifier 0 is a protocol error.
		{"SUBSCRIBE with Subscription Identifier 0", sub([]byte{0x0B, 0}, "ok/t", 1), []byte{0x82}},
		// [MQTT-3.8.3-5]: reserved option bits.
		{"SUBSCRIBE with reserved option bits", sub(nil, "ok/t", 0xC1), []byte{0x81}},
		// §3.8.3.1: Retain Handling 3 is a protocol error.
		{"SUBSCRIBE with Retain Handling 3", sub(nil, "ok/t", 0x31), []byte{0x82}},
		// [MQTT-3.1.0-2]: a second CONNECT.
		{"second CONNECT", encodeV5(t, rawConnectV5("again", nil)), []byte{0x82}},
		// [MQTT-3.14.1-1]: reserved DISCONNECT flags.
		{"DISCONNECT with flags 1", []byte{tDISCONNECT<<4 | 1, 0}, []byte{0x81}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, tb)
			r.connectV5(rawConnectV5(fmt.Sprint("malformed-", i), nil))
			r.send(tc.send)
			r.expectDisconnectV5(tc.codes...)
			payload := fmt.Sprint("after ", i)
			marker(t, tb, "alive/x", 1, payload)
			bystander.col.waitFor(t, "alive/x", payload)
		})
	}

	// A CONNECT with a property twice is refused: CONNACK 0x81/0x82 or a
	// plain close (§3.1.4: the CONNACK is optional), never accepted.
	r := dialRaw(t, tb)
	r.send(connectV5Bytes("dup-connect", []byte{0x11, 0, 0, 0, 5, 0x11, 0, 0, 0, 5}, nil))
	if p, err := r.readPkt(waitTime); err == nil {
		if p.typ != tCONNACK {
			t.Fatalf("CONNECT with a duplicate property: got packet type %d", p.typ)
		}
		if ca := p.v5(t).Content.(*packets.Connack); ca.ReasonCode != 0x81 && ca.ReasonCode != 0x82 {
			t.Errorf("CONNECT with a duplicate property: CONNACK reason %#x, want 0x81 or 0x82", ca.ReasonCode)
		}
		r.expectClosed()
	} else if !isClosed(err) {
		t.Fatalf("CONNECT with a duplicate property: %v", err)
	}
}

// TestV5RequestProblemInformation checks [MQTT-3.1.2-29]: a client that sets
// Request Problem Information to 0 gets no Reason String and no User
// Property on any packet but PUBLISH, CONNACK and DISCONNECT, even on
// failures. With the default (1) the broker explains a protocol error in
// the DISCONNECT's Reason String (issue 4: "Reason String on errors").
func TestV5RequestProblemInformation(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("rpi-0", &packets.Properties{RequestProblemInfo: bytep(0)}))
	r.sendV5(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.SubOptions{{Topic: "a/#/b", QoS: 1}}})
	sa := r.expect(tSUBACK, 0).v5(t).Content.(*packets.Suback)
	r.sendV5(&packets.Unsubscribe{PacketID: 2, Topics: []string{"never"}})
	ua := r.expect(tUNSUBACK, 0).v5(t).Content.(*packets.Unsuback)
	r.sendV5(&packets.Publish{Topic: "nobody/here", QoS: 1, PacketID: 3, Payload: []byte("x")})
	pa := r.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback)
	for _, p := range []struct {
		name  string
		code  byte
		props *packets.Properties
	}{{"SUBACK", sa.Reasons[0], sa.Properties}, {"UNSUBACK", ua.Reasons[0], ua.Properties}, {"PUBACK", pa.ReasonCode, pa.Properties}} {
		if p.props != nil && (p.props.ReasonString != "" || len(p.props.User) > 0) {
			t.Errorf("%s (reason %#x) to a client with Request Problem Information 0 carries Reason String %q / User Properties %v",
				p.name, p.code, p.props.ReasonString, p.props.User)
		}
	}

	r = dialRaw(t, tb)
	r.connectV5(rawConnectV5("rpi-1", nil))
	r.sendV5(&packets.Auth{ReasonCode: 0x19, Properties: &packets.Properties{AuthMethod: "x"}})
	if d := r.expectDisconnectV5(0x82); d.Properties == nil || d.Properties.ReasonString == "" {
		t.Errorf("DISCONNECT 0x82 without a Reason String")
	}
}
