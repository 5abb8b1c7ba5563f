package mqtt

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 flow control towards a client: Receive Maximum (§4.9), the
// client's Maximum Packet Size (§3.1.2.11.4) and topic aliases both ways
// (§3.3.2.3.4).

// quietFor is how long a test listens to be sure the broker sends nothing.
const quietFor = 200 * time.Millisecond

// expectQuiet fails the test if the broker sends a packet within quietFor.
func (r *rawConn) expectQuiet(why string) {
	r.t.Helper()
	p, err := r.readPkt(quietFor)
	if err == nil {
		r.t.Fatalf("%s: got packet type %d body % x, want nothing", why, p.typ, p.body)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		r.t.Fatalf("%s: %v", why, err)
	}
}

// rawSubscribeV5 subscribes a raw 5.0 connection to filter at qos and
// checks the SUBACK grants it.
func (r *rawConn) subscribeV5(id uint16, filter string, qos byte) {
	r.t.Helper()
	r.sendV5(&packets.Subscribe{PacketID: id, Subscriptions: []packets.SubOptions{{Topic: filter, QoS: qos}}})
	sa := r.expect(tSUBACK, 0).v5(r.t).Content.(*packets.Suback)
	if sa.PacketID != id || !slices.Equal(sa.Reasons, []byte{qos}) {
		r.t.Fatalf("SUBACK id %d reasons % x, want id %d granted %d", sa.PacketID, sa.Reasons, id, qos)
	}
}

// TestV5ReceiveMaximum checks §4.9 [MQTT-4.9.0-1] [MQTT-4.9.0-2]: towards a
// client whose CONNECT says Receive Maximum 2, the broker never has more
// than 2 QoS 1 PUBLISHes unacknowledged; each PUBACK lets exactly one more
// go, and all arrive in order.
func TestV5ReceiveMaximum(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("rm-sub", &packets.Properties{ReceiveMaximum: u16p(2)}))
	r.subscribeV5(1, "rm/t", 1)

	pub := connectV5(t, tb, v5Connect("rm-pub", nil))
	const n = 7
	for i := range n {
		pub.pub(t, "rm/t", 1, fmt.Sprint(i))
	}
	var unacked []uint16
	for next := 0; next < n; {
		for len(unacked) < 2 && next < n {
			p := decodePublishV5(t, r.read())
			if string(p.payload) != fmt.Sprint(next) || p.qos != 1 {
				t.Fatalf("PUBLISH %q at QoS %d, want %d at QoS 1", p.payload, p.qos, next)
			}
			unacked = append(unacked, p.id)
			next++
		}
		if next < n {
			r.expectQuiet(fmt.Sprintf("%d PUBLISHes unacknowledged with Receive Maximum 2", len(unacked)))
		}
		r.send(ackPkt(tPUBACK, unacked[0]))
		unacked = unacked[1:]
	}
	r.expectQuiet("all delivered")
}

// TestV5ReceiveMaximumQoS2 checks §4.9 for QoS 2: the send quota comes back
// on PUBCOMP (not on PUBREC) (§4.9), and on a PUBREC with a
// failure reason code.
func TestV5ReceiveMaximumQoS2(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("rm2-sub", &packets.Properties{ReceiveMaximum: u16p(1)}))
	r.subscribeV5(1, "rm2/t", 2)
	pub := connectV5(t, tb, v5Connect("rm2-pub", nil))
	for _, p := range []string{"a", "b", "c"} {
		pub.pub(t, "rm2/t", 2, p)
	}

	a := decodePublishV5(t, r.read())
	if string(a.payload) != "a" {
		t.Fatalf("first PUBLISH %q, want a", a.payload)
	}
	r.expectQuiet("1 PUBLISH unacknowledged with Receive Maximum 1")
	r.send(ackPkt(tPUBREC, a.id))
	if p := r.read(); p.typ != tPUBREL || p.id() != a.id {
		t.Fatalf("after PUBREC got type %d body % x, want PUBREL %d", p.typ, p.body, a.id)
	}
	r.expectQuiet("PUBREC received, PUBCOMP not yet")
	r.send(ackPkt(tPUBCOMP, a.id))
	b := decodePublishV5(t, r.read())
	if string(b.payload) != "b" {
		t.Fatalf("second PUBLISH %q, want b", b.payload)
	}
	r.expectQuiet("1 PUBLISH unacknowledged with Receive Maximum 1")
	// PUBREC 0x80 (unspecified error) ends the exchange [MQTT-4.3.3-4].
	r.send(mkPkt(tPUBREC<<4, u16(b.id), []byte{0x80}))
	c := decodePublishV5(t, r.read())
	if string(c.payload) != "c" {
		t.Fatalf("third PUBLISH %q, want c", c.payload)
	}
}

// publishWireSize is the size of a 5.0 PUBLISH with these fields.
func publishWireSize(topic string, qos byte, propsLen, payloadLen int) int {
	rem := 2 + len(topic) + len(varint(propsLen)) + propsLen + payloadLen
	if qos > 0 {
		rem += 2
	}
	return 1 + len(varint(rem)) + rem
}

// TestV5ClientMaximumPacketSize checks [MQTT-3.1.2-24] and [MQTT-3.1.2-25]:
// a message whose PUBLISH would exceed a client's Maximum Packet Size is not
// sent to that client (and does not block what follows), while other
// subscribers get it.
func TestV5ClientMaximumPacketSize(t *testing.T) {
	tb := startBroker(t, Options{})
	small := connectV5(t, tb, v5Connect("mx-small", &paho.ConnectProperties{MaximumPacketSize: u32p(100)}))
	small.sub(t, "mx/#", 1)
	big := connectV5(t, tb, v5Connect("mx-big", nil))
	big.sub(t, "mx/#", 1)
	pub := connectV5(t, tb, v5Connect("mx-pub", nil))

	large := strings.Repeat("L", 200)
	pub.pub(t, "mx/t", 1, large)
	pub.pub(t, "mx/t", 0, large+"0")
	pub.pub(t, "mx/t", 1, "small")
	pub.pub(t, "mx/t", 1, large+"1")
	pub.pub(t, "mx/t", 1, "end")
	if got := payloadsOf(big.col.waitFor(t, "mx/t", "end")); len(got) != 5 {
		t.Errorf("unlimited subscriber got %d messages, want 5", len(got))
	}
	if got := payloadsOf(small.col.waitFor(t, "mx/t", "end")); !slices.Equal(got, []string{"small", "end"}) {
		t.Errorf("subscriber with Maximum Packet Size 100 got %d messages %.20q, want [small end]", len(got), got)
	}
	// The last PUBACKs may still be on their way.
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if st := tb.srv.Stats(); st.Inflight+st.Queued != 0 {
			return fmt.Errorf("%d inflight + %d queued after everything was delivered: the oversized messages must count as sent", st.Inflight, st.Queued)
		}
		return nil
	})
}

// TestV5ClientMaximumPacketSizeBoundary checks [MQTT-3.1.2-24] at the exact
// boundary, counting every byte of the PUBLISH the broker sends, including
// the Subscription Identifier property it adds: a client whose limit is
// exactly that size gets the message, one whose limit is a byte less does
// not.
func TestV5ClientMaximumPacketSizeBoundary(t *testing.T) {
	tb := startBroker(t, Options{})
	const topic, subID = "mxb/t", 5
	payload := strings.Repeat("p", 50)
	// Property block: Subscription Identifier 5 = 0x0B 0x05.
	size := publishWireSize(topic, 1, 2, len(payload))

	subscribe := func(id string, limit uint32) *v5Client {
		c := connectV5(t, tb, v5Connect(id, &paho.ConnectProperties{MaximumPacketSize: u32p(limit)}))
		c.subscribe(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: intp(subID)},
			Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}, 1)
		return c
	}
	exact := subscribe("mxb-exact", uint32(size))
	under := subscribe("mxb-under", uint32(size-1))
	pub := connectV5(t, tb, v5Connect("mxb-pub", nil))
	pub.pub(t, topic, 1, payload)
	pub.pub(t, topic, 1, "end")

	got := exact.col.waitFor(t, topic, "end")
	if len(got) != 2 || got[0].payload != payload {
		t.Errorf("client with Maximum Packet Size %d (the PUBLISH's size) got %v, want the message and the marker", size, got)
	} else if sid := got[0].props.SubscriptionIdentifier; sid == nil || *sid != subID {
		t.Errorf("delivery without Subscription Identifier %d: %v", subID, got[0])
	}
	if got := under.col.waitFor(t, topic, "end"); len(got) != 1 {
		t.Errorf("client with Maximum Packet Size %d got a %d-byte PUBLISH: %v", size-1, size, got)
	}
}

// TestV5TopicAliasIncoming checks §3.3.2.3.4 on the broker's side: a PUBLISH
// with a topic and a Topic Alias sets the alias, one with the alias and an
// empty topic is delivered on the aliased topic, an alias can be remapped,
// and aliases up to the advertised maximum are accepted. Subscribers that
// did not allow aliases get full topics only [MQTT-3.1.2-27].
func TestV5TopicAliasIncoming(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectV5(t, tb, v5Connect("tai-sub", nil))
	sub.sub(t, "tai/#", 1)
	pub := connectV5(t, tb, v5Connect("tai-pub", nil))
	amax := *pub.connack.Properties.TopicAliasMaximum

	send := func(topic string, alias uint16, payload string) {
		t.Helper()
		pub.pub2(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload), Properties: &paho.PublishProperties{TopicAlias: u16p(alias)}})
	}
	send("tai/in", 1, "set")
	send("", 1, "use")
	send("tai/other", 1, "remap")
	send("", 1, "use remapped")
	send("tai/max", amax, "set max")
	send("", amax, "use max")
	send("", 1, "alias 1 unchanged")

	want := []string{"tai/in", "tai/in", "tai/other", "tai/other", "tai/max", "tai/max", "tai/other"}
	got := sub.col.waitN(t, len(want))
	for i, m := range got {
		if m.topic != want[i] || m.wireTopic != want[i] || m.alias != 0 {
			t.Errorf("delivery %d %v: want topic %s, no alias (the subscriber allows none)", i, m, want[i])
		}
	}
}

// pub2 publishes p and fails the test unless the broker acknowledges it
// with 0x00 or 0x10.
func (c *v5Client) pub2(t testing.TB, p *paho.Publish) {
	t.Helper()
	if pr := c.publish(t, p); pr.ReasonCode != 0 && pr.ReasonCode != 0x10 {
		t.Fatalf("publish %q: reason code %#x", p.Payload, pr.ReasonCode)
	}
}

// TestV5TopicAliasInvalid checks the broker's errors on incoming aliases:
// alias 0 [MQTT-3.3.2-8] and an alias above its Topic Alias Maximum
// [MQTT-3.3.2-9] are answered with DISCONNECT 0x94; an empty topic with an
// alias never set on this connection is a protocol error (0x82), also
// when it was set on an earlier connection of the same session
// [MQTT-3.3.2-7]; an empty topic without alias is a protocol error.
func TestV5TopicAliasInvalid(t *testing.T) {
	tb := startBroker(t, Options{})
	aliasPub := func(topic string, alias uint16) []byte {
		return mkPkt(tPUBLISH<<4|2, str(topic), u16(1), []byte{3, 0x23}, u16(alias), []byte("x"))
	}
	r := dialRaw(t, tb)
	amax := *r.connectV5(rawConnectV5("tax", nil)).Properties.TopicAliasMaximum
	r.send(aliasPub("tax/t", amax+1))
	r.expectDisconnectV5(0x94)

	r = dialRaw(t, tb)
	r.connectV5(rawConnectV5("tax", nil))
	r.send(aliasPub("tax/t", 0))
	r.expectDisconnectV5(0x94)

	r = dialRaw(t, tb)
	r.connectV5(rawConnectV5("tax", nil))
	r.send(aliasPub("", 3))
	r.expectDisconnectV5(0x82)

	r = dialRaw(t, tb)
	r.connectV5(rawConnectV5("tax", nil))
	r.send(mkPkt(tPUBLISH<<4|2, str(""), u16(1), []byte{0}, []byte("x")))
	r.expectDisconnectV5(0x82)

	// Set on one connection of a persistent session, used on the next.
	r = dialRaw(t, tb)
	c := rawConnectV5("tax-keep", &packets.Properties{SessionExpiryInterval: u32p(60)})
	r.connectV5(c)
	r.send(aliasPub("tax/t", 2))
	if p := r.expect(tPUBACK, 0); p.id() != 1 {
		t.Fatalf("PUBACK body % x, want id 1", p.body)
	}
	r.sendV5(&packets.Disconnect{})
	r.expectClosed()
	r = dialRaw(t, tb)
	c.CleanStart = false
	if !r.connectV5(c).SessionPresent {
		t.Fatal("session not resumed")
	}
	r.send(aliasPub("", 2))
	r.expectDisconnectV5(0x82)
}

// TestV5TopicAliasOutgoing checks that the broker uses topic aliases towards
// a client that allows them (Topic Alias Maximum in CONNECT): the first
// message on a topic sets up an alias, later ones carry only the alias,
// aliases never exceed the client's maximum [MQTT-3.3.2-10], and every
// message resolves to its right topic.
func TestV5TopicAliasOutgoing(t *testing.T) {
	tb := startBroker(t, Options{})
	five := connectV5(t, tb, v5Connect("tao-5", &paho.ConnectProperties{TopicAliasMaximum: u16p(5)}))
	five.sub(t, "tao/#", 1)
	one := connectV5(t, tb, v5Connect("tao-1", &paho.ConnectProperties{TopicAliasMaximum: u16p(1)}))
	one.sub(t, "tao/#", 1)
	pub := connectV5(t, tb, v5Connect("tao-pub", nil))
	topics := []string{"tao/a", "tao/a", "tao/b", "tao/b", "tao/a", "tao/c", "tao/c", "tao/b"}
	for i, tp := range topics {
		pub.pub(t, tp, 1, fmt.Sprint(i))
	}

	for _, c := range []struct {
		cl  *v5Client
		max uint16
	}{{five, 5}, {one, 1}} {
		got := c.cl.col.waitN(t, len(topics))
		if v := c.cl.col.problems(); len(v) > 0 {
			t.Errorf("Topic Alias Maximum %d: %v", c.max, v)
		}
		seen := map[string]uint16{}
		for i, m := range got {
			if m.topic != topics[i] || m.payload != fmt.Sprint(i) {
				t.Errorf("Topic Alias Maximum %d: delivery %d resolved to %v, want %s=%d", c.max, i, m, topics[i], i)
			}
			if m.alias > c.max {
				t.Errorf("Topic Alias Maximum %d: delivery %v uses alias %d", c.max, m, m.alias)
			}
			if a, ok := seen[m.topic]; ok && a != 0 && (m.alias != a || m.wireTopic != "") && c.max == 5 {
				t.Errorf("Topic Alias Maximum 5: repeat delivery %d on %s came as %v, want alias %d with an empty topic", i, m.topic, m, a)
			}
			if _, ok := seen[m.topic]; !ok {
				seen[m.topic] = m.alias
			}
		}
		if c.max == 5 {
			for tp, a := range seen {
				if a == 0 {
					t.Errorf("Topic Alias Maximum 5: no alias set up for %s", tp)
				}
			}
		}
	}
}

// TestV5TopicAliasOutgoingNewConnection checks [MQTT-3.3.2-7]: aliases the
// broker set up do not carry over to the next connection of the same
// session, for queued and for live messages.
func TestV5TopicAliasOutgoingNewConnection(t *testing.T) {
	tb := startBroker(t, Options{})
	cp := v5Connect("taon", &paho.ConnectProperties{SessionExpiryInterval: u32p(60), TopicAliasMaximum: u16p(5)})
	s := connectV5(t, tb, cp)
	s.sub(t, "taon/x", 1)
	marker(t, tb, "taon/x", 1, "1")
	marker(t, tb, "taon/x", 1, "2")
	if got := s.col.waitFor(t, "taon/x", "2"); got[1].alias == 0 || got[1].wireTopic != "" {
		t.Fatalf("second message %v not sent with an alias", got[1])
	}
	s.bye(t, &paho.Disconnect{})
	waitOffline(t, tb, 1)
	marker(t, tb, "taon/x", 1, "queued")

	cp.CleanStart = false
	s = connectV5(t, tb, cp)
	marker(t, tb, "taon/x", 1, "live")
	got := s.col.waitFor(t, "taon/x", "live")
	if v := s.col.problems(); len(v) > 0 {
		t.Errorf("new connection: %v", v)
	}
	if len(got) != 2 || got[0].payload != "queued" || got[0].wireTopic != "taon/x" {
		t.Errorf("new connection got %v, want queued (with its topic name) then live", got)
	}
}

// TestV5ServerReceiveMaximum checks §3.2.2.3.3 and [MQTT-3.3.4-9] in the
// other direction: the broker announces its Receive Maximum (MaxInflight)
// in CONNACK, a retransmission of a QoS 2 id awaiting PUBREL does not
// count, PUBREL...PUBCOMP gives quota back, and the PUBLISH that would
// leave more QoS 1/2 messages unacknowledged than announced is answered
// with DISCONNECT 0x93 (the Paho interoperability test test_flow_control2).
func TestV5ServerReceiveMaximum(t *testing.T) {
	tb := startBroker(t, Options{MaxInflight: 3})
	r := dialRaw(t, tb)
	ca := r.connectV5(rawConnectV5("rm-pub", nil))
	if ca.Properties == nil || ca.Properties.ReceiveMaximum == nil || *ca.Properties.ReceiveMaximum != 3 {
		t.Fatalf("CONNACK Receive Maximum %v, want 3", ca.Properties)
	}
	pub := func(id uint16, dup bool) {
		r.sendV5(&packets.Publish{Topic: "rm/in", QoS: 2, PacketID: id, Duplicate: dup, Payload: []byte("x")})
	}
	for id := uint16(1); id <= 3; id++ {
		pub(id, false)
		ackOf(t, r, tPUBREC, id)
	}
	pub(2, true) // a retransmission: answered, not counted
	ackOf(t, r, tPUBREC, 2)
	r.sendV5(&packets.Pubrel{PacketID: 1})
	ackOf(t, r, tPUBCOMP, 1)
	pub(4, false) // back within the quota
	ackOf(t, r, tPUBREC, 4)
	pub(5, false) // 2, 3 and 4 await PUBREL: one too many
	r.expectDisconnectV5(0x93)
	if n := tb.srv.Stats().ReceiveMaxExceeded; n != 1 {
		t.Errorf("ReceiveMaxExceeded = %d, want 1", n)
	}
}

// ackOf reads a 5.0 acknowledgement of type typ for id, whatever its reason
// code (here 0x10, no matching subscribers).
func ackOf(t *testing.T, r *rawConn, typ byte, id uint16) {
	t.Helper()
	p := r.expect(typ, 0)
	if p.id() != id {
		t.Fatalf("ack type %d: body % x, want packet id %d", typ, p.body, id)
	}
}
