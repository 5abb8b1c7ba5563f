package mqtt

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 CONNECT/CONNACK: the properties the broker sends back and the
// connections it refuses.

// TestV5ConnackAssignedClientID checks [MQTT-3.2.2-16]: a 5.0 client with a
// zero-length client id is accepted and told its identifier in CONNACK,
// each such client gets a different one, and the identifier names the
// session (a later CONNECT with it and Clean Start 0 resumes it). A client
// that sent an id gets no Assigned Client Identifier.
func TestV5ConnackAssignedClientID(t *testing.T) {
	tb := startBroker(t, Options{})
	a := connectV5(t, tb, v5Connect("", &paho.ConnectProperties{SessionExpiryInterval: u32p(60)}))
	b := connectV5(t, tb, v5Connect("", nil))
	idA, idB := "", ""
	if p := a.connack.Properties; p != nil {
		idA = p.AssignedClientID
	}
	if p := b.connack.Properties; p != nil {
		idB = p.AssignedClientID
	}
	if idA == "" || idB == "" {
		t.Fatalf("Assigned Client Identifiers %q and %q, want both set", idA, idB)
	}
	if idA == idB {
		t.Fatalf("two clients were assigned the same identifier %q", idA)
	}
	if a.present() || b.present() {
		t.Fatal("session present with an assigned identifier")
	}
	a.sub(t, "assigned/t", 1)
	a.bye(t, &paho.Disconnect{})
	waitOffline(t, tb, 1)

	cp := v5Connect(idA, &paho.ConnectProperties{SessionExpiryInterval: u32p(60)})
	cp.CleanStart = false
	again := connectV5(t, tb, cp)
	if !again.present() {
		t.Fatalf("CONNECT with assigned id %q and Clean Start 0: session present 0, want 1", idA)
	}
	if p := again.connack.Properties; p != nil && p.AssignedClientID != "" {
		t.Errorf("client sent id %q but CONNACK assigns %q", idA, p.AssignedClientID)
	}
	// The resumed session kept the subscription made under the assigned id.
	marker(t, tb, "assigned/t", 1, "still subscribed")
	again.col.waitFor(t, "assigned/t", "still subscribed")
}

// TestV5ConnackAdvertises checks the CONNACK of a default broker: Topic
// Alias Maximum is set (the broker accepts aliases), and the capabilities it
// has are not denied: Retain Available, Wildcard, Subscription Identifier
// and Shared Subscription Available absent or 1, Maximum QoS absent (2),
// Maximum Packet Size absent (no limit below the protocol's), no Server
// Keep Alive when the client's keep alive is allowed, and no Authentication
// Method (§3.2.2.3).
func TestV5ConnackAdvertises(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	c := rawConnectV5("adv", nil)
	c.KeepAlive = 60
	ca := r.connectV5(c)
	p := ca.Properties
	if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum == 0 {
		t.Errorf("CONNACK Topic Alias Maximum %v, want > 0", p.TopicAliasMaximum)
	}
	for name, v := range map[string]*byte{"Retain Available": p.RetainAvailable, "Wildcard Subscription Available": p.WildcardSubAvailable,
		"Subscription Identifiers Available": p.SubIDAvailable, "Shared Subscription Available": p.SharedSubAvailable} {
		if v != nil && *v != 1 {
			t.Errorf("CONNACK %s = %d, but the broker supports it", name, *v)
		}
	}
	if p.MaximumQOS != nil {
		t.Errorf("CONNACK Maximum QoS = %d, want absent (QoS 2 supported)", *p.MaximumQOS)
	}
	if p.MaximumPacketSize != nil {
		t.Errorf("CONNACK Maximum Packet Size = %d without a configured limit, want absent", *p.MaximumPacketSize)
	}
	if p.ServerKeepAlive != nil && *p.ServerKeepAlive != 60 {
		t.Errorf("CONNACK Server Keep Alive = %d for an allowed keep alive of 60", *p.ServerKeepAlive)
	}
	if p.AuthMethod != "" {
		t.Errorf("CONNACK Authentication Method %q without one in CONNECT", p.AuthMethod)
	}
	if p.AssignedClientID != "" {
		t.Errorf("CONNACK assigns %q to a client that sent its id", p.AssignedClientID)
	}
}

// TestV5ConnackServerKeepAlive checks §3.2.2.3.14: a client asking a keep
// alive above Options.MaxKeepalive is accepted (5.0 does not refuse it as
// 3.1.1 does) with Server Keep Alive = the maximum, and the broker then
// holds it to that value: silence for 1.5 times it ends the connection
// with DISCONNECT 0x8D [MQTT-3.1.2-22]. A keep alive within the limit is
// not overridden.
func TestV5ConnackServerKeepAlive(t *testing.T) {
	tb := startBroker(t, Options{MaxKeepalive: 10})
	for _, tc := range []struct {
		ask  uint16
		want uint16 // 0: no Server Keep Alive, or one equal to ask
	}{{60, 10}, {11, 10}, {10, 0}, {5, 0}} {
		cp := v5Connect("ska", nil)
		cp.KeepAlive = tc.ask
		c := connectV5(t, tb, cp)
		var got *uint16
		if c.connack.Properties != nil {
			got = c.connack.Properties.ServerKeepAlive
		}
		switch {
		case tc.want != 0 && (got == nil || *got != tc.want):
			t.Errorf("keep alive %d with max 10: Server Keep Alive %v, want %d", tc.ask, ptrStr(got), tc.want)
		case tc.want == 0 && got != nil && *got != tc.ask:
			t.Errorf("keep alive %d with max 10: Server Keep Alive %d, want absent or %d", tc.ask, *got, tc.ask)
		}
		c.bye(t, &paho.Disconnect{})
	}

	// Enforced: a raw client asks 60 s of a broker that allows 1 s and then
	// stays silent.
	tb1 := startBroker(t, Options{MaxKeepalive: 1})
	r := dialRaw(t, tb1)
	c := rawConnectV5("ska-raw", nil)
	c.KeepAlive = 60
	start := time.Now()
	ca := r.connectV5(c)
	if ca.Properties.ServerKeepAlive == nil || *ca.Properties.ServerKeepAlive != 1 {
		t.Fatalf("Server Keep Alive %v, want 1", ptrStr(ca.Properties.ServerKeepAlive))
	}
	r.expectDisconnectV5(0x8D)
	if d := time.Since(start); d < time.Second {
		t.Errorf("disconnected after %v, before the 1 s keep alive had passed", d)
	}
}

// ptrStr formats an optional property for messages.
func ptrStr[T any](p *T) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

// TestV5ConnackMaximumPacketSize checks §3.2.2.3.6: with Options.MaxPacketSize
// the CONNACK carries Maximum Packet Size = that limit, which counts the
// whole packet (fixed header included, §2.1.4 / §3.1.2.11.4); a packet of
// exactly the limit is accepted and one byte more is a protocol error
// answered with DISCONNECT 0x95 [MQTT-3.2.2-15] (§4.13).
func TestV5ConnackMaximumPacketSize(t *testing.T) {
	// Without a configured limit there is no Maximum Packet Size property.
	tb0 := startBroker(t, Options{})
	r0 := dialRaw(t, tb0)
	if ca := r0.connectV5(rawConnectV5("mps-none", nil)); ca.Properties.MaximumPacketSize != nil {
		t.Errorf("CONNACK Maximum Packet Size %d without a configured limit, want absent", *ca.Properties.MaximumPacketSize)
	}

	const limit = 1024
	tb := startBroker(t, Options{MaxPacketSize: limit})
	sub := connectV5(t, tb, v5Connect("mps-sub", nil))
	sub.sub(t, "mps/t", 1)

	r := dialRaw(t, tb)
	ca := r.connectV5(rawConnectV5("mps-pub", nil))
	if ca.Properties.MaximumPacketSize == nil || *ca.Properties.MaximumPacketSize != limit {
		t.Fatalf("CONNACK Maximum Packet Size %s, want %d", ptrStr(ca.Properties.MaximumPacketSize), limit)
	}
	r.send(rawPublishOfSize(t, "mps/t", 1, limit))
	p := r.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback)
	if p.PacketID != 1 || p.ReasonCode != 0 {
		t.Fatalf("PUBACK of a %d-byte packet: id %d reason %#x, want id 1 reason 0", limit, p.PacketID, p.ReasonCode)
	}
	sub.col.waitN(t, 1)

	for _, size := range []int{limit + 100, limit + 1} {
		r := dialRaw(t, tb)
		r.connectV5(rawConnectV5("mps-pub", nil))
		r.send(rawPublishOfSize(t, "mps/t", 2, size))
		t.Logf("sending a PUBLISH of %d bytes to a broker whose Maximum Packet Size is %d", size, limit)
		r.expectDisconnectV5(0x95)
	}
	// The refused messages went nowhere.
	marker(t, tb, "mps/t", 1, "after")
	if got := sub.col.waitFor(t, "mps/t", "after"); len(got) != 2 {
		t.Errorf("subscriber got %d messages, want the %d-byte one and the marker: %v", len(got), limit, got)
	}
}

// rawPublishOfSize builds a 5.0 QoS 1 PUBLISH (no properties) on topic with
// packet id id whose whole encoding is exactly size bytes.
func rawPublishOfSize(t testing.TB, topic string, id uint16, size int) []byte {
	t.Helper()
	for n := size; n >= 0; n-- {
		pk := mkPkt(tPUBLISH<<4|2, str(topic), u16(id), []byte{0}, bytes.Repeat([]byte("x"), n))
		if len(pk) == size {
			return pk
		}
	}
	t.Fatalf("no PUBLISH of %d bytes", size)
	return nil
}

// TestV5ConnackEnhancedAuthRefused checks §4.12: without a configured
// authentication method, a CONNECT with an Authentication Method is refused
// with CONNACK 0x8C (Bad authentication method) and the connection closed
// (§3.1.2.11.9, §4.12); an AUTH packet from a client that did not
// ask for enhanced authentication is a protocol error (DISCONNECT 0x82).
func TestV5ConnackEnhancedAuthRefused(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.send(encodeV5(t, rawConnectV5("auth", &packets.Properties{AuthMethod: "SCRAM-SHA-1", AuthData: []byte("client-first")})))
	ca := r.expect(tCONNACK, 0).v5(t).Content.(*packets.Connack)
	if ca.ReasonCode != 0x8C {
		t.Fatalf("CONNACK reason code %#x, want 0x8C", ca.ReasonCode)
	}
	if ca.SessionPresent {
		t.Error("refusing CONNACK with session present 1 [MQTT-3.2.2-6]")
	}
	r.expectClosed()

	// paho.golang sees the same refusal.
	c, err := dialV5(t, tb, v5Connect("auth-paho", &paho.ConnectProperties{AuthMethod: "SCRAM-SHA-1"}), false)
	if err == nil || c.connack == nil || c.connack.ReasonCode != 0x8C {
		t.Errorf("paho.golang CONNECT with AuthMethod: connack %+v err %v, want reason 0x8C", c.connack, err)
	}

	r = dialRaw(t, tb)
	r.connectV5(rawConnectV5("auth-late", nil))
	r.sendV5(&packets.Auth{ReasonCode: 0x19, Properties: &packets.Properties{AuthMethod: "SCRAM-SHA-1"}})
	r.expectDisconnectV5(0x82)
	if n := tb.srv.Stats().ClientsConnected; n > 1 {
		t.Errorf("%d clients still connected", n)
	}
}
