package mqtt

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

// Recovery of a whole broker state from the flash log, after a clean
// shutdown and after an abandoned log (files copied while the broker ran,
// never closed: what a power cut leaves): persistent sessions (3.1.1 and
// 5.0 with an expiry), subscriptions, retained messages (a cleared one
// stays cleared), deliveries in every stage with their packet ids, 5.0
// message properties, and an inbound QoS 2 id awaiting PUBREL; every
// message is then delivered exactly once, in order.

// TestWALRecoverAfterShutdown recovers after a clean shutdown.
func TestWALRecoverAfterShutdown(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sc := buildRecoveryScenario(t, w)
	rs := w.restart()
	checkRecovered(t, w, sc, rs)
}

// TestWALRecoverAbandoned recovers from a copy of the log's files taken
// while the broker ran, right after the last acknowledgement arrived.
func TestWALRecoverAbandoned(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sc := buildRecoveryScenario(t, w)
	rs := w.abandon()
	if w.rep.Segments == 0 {
		t.Fatalf("the copied log has no segment: %+v", w.rep)
	}
	checkRecovered(t, w, sc, rs)
}

// recoveryScenario is what buildRecoveryScenario left in flight.
type recoveryScenario struct {
	released uint16   // rs-sub: m1, PUBREC received, PUBREL sent
	sent     []uint16 // rs-sub: m2, m3, mp sent, unacknowledged (in send order)
}

// The messages of the scenario, in the order they were published, with
// the QoS each subscriber gets them at.
var (
	scenarioSub = []struct { // rs-sub: "r/#" at QoS 2 and "x/+" at QoS 1
		payload string
		qos     byte
	}{{"m1", 2}, {"m2", 1}, {"m3", 2}, {"mp", 1}, {"m4", 2}, {"m5", 1}, {"m6", 1}, {"m7", 2}}
	scenarioV5 = []string{"m1", "m3", "mp", "m4", "m6", "m7"} // rs-v5: "r/#" at QoS 1
)

// connectV5Session connects a raw 5.0 client with Clean Start 0 and a
// session expiry (seconds), and checks session present.
func connectV5Session(t testing.TB, w *walBroker, id string, expiry uint32, present bool) *rawConn {
	t.Helper()
	r := w.dial()
	c := rawConnectV5(id, &packets.Properties{SessionExpiryInterval: u32p(expiry)})
	c.CleanStart = false
	if ca := r.connectV5(c); ca.SessionPresent != present {
		t.Fatalf("%s: CONNACK session present %v, want %v", id, ca.SessionPresent, present)
	}
	return r
}

// buildRecoveryScenario fills the broker and leaves it with the state the
// file comment lists; the last thing it does is read an acknowledgement.
func buildRecoveryScenario(t *testing.T, w *walBroker) recoveryScenario {
	t.Helper()
	var sc recoveryScenario
	sub := w.dial()
	sub.connect("rs-sub", false, 0, nil, false)
	sub.subscribe(1, "r/#", 2)
	sub.subscribe(2, "x/+", 1)

	v5 := connectV5Session(t, w, "rs-v5", 3600, false)
	v5.subscribeV5(1, "r/#", 1)
	v5.sendV5(&packets.Disconnect{})
	v5.expectClosed()
	// Offline, its session record gets its end time.
	checkFor(t, waitTime, 2*time.Millisecond, func() error {
		if s, ok := durable(t, w.st).sessions["rs-v5"]; !ok || s.ExpirySeconds != 3600 || s.ExpiresAt == 0 {
			return fmt.Errorf("rs-v5's session record %+v (present %v), want expiry 3600 and an end time", s, ok)
		}
		return nil
	})

	pub := w.dial()
	pub.connect("rs-pub", false, 0, nil, false)
	// Retained: ret/a stays, ret/b is set then cleared, ret/c at QoS 0
	// (its commit is done when the next PUBACK arrives: acks in order).
	pub.send(publishPkt("ret/a", 1, false, true, 1, "A"))
	pub.expectAck(tPUBACK, 1)
	pub.send(publishPkt("ret/b", 1, false, true, 2, "B"))
	pub.expectAck(tPUBACK, 2)
	pub.send(publishPkt("ret/b", 1, false, true, 3, ""))
	pub.expectAck(tPUBACK, 3)
	pub.send(publishPkt("ret/c", 0, false, true, 0, "C0"), publishPkt("none/x", 1, false, false, 4, "-"))
	pub.expectAck(tPUBACK, 4)

	// m1: QoS 2, PUBREC from the subscriber, PUBREL sent: "released".
	qos2 := func(topic string, id uint16, payload string) {
		pub.send(publishPkt(topic, 2, false, false, id, payload))
		pub.expectAck(tPUBREC, id)
		pub.send(ackPkt(tPUBREL, id))
		pub.expectAck(tPUBCOMP, id)
	}
	qos2("r/1", 10, "m1")
	p := sub.expectPub("m1", 2)
	sub.send(ackPkt(tPUBREC, p.id))
	sub.expectAck(tPUBREL, p.id)
	sc.released = p.id
	// m2 (QoS 1), m3 (QoS 2) and mp (QoS 1, 5.0 properties): "sent".
	pub.send(publishPkt("x/1", 1, false, false, 11, "m2"))
	pub.expectAck(tPUBACK, 11)
	sc.sent = append(sc.sent, sub.expectPub("m2", 1).id)
	qos2("r/2", 12, "m3")
	sc.sent = append(sc.sent, sub.expectPub("m3", 2).id)
	p5 := w.dial()
	p5.connectV5(rawConnectV5("rs-p5", nil))
	p5.sendV5(&packets.Publish{Topic: "r/props", QoS: 1, PacketID: 1, Payload: []byte("mp"), Properties: &packets.Properties{
		ContentType: "text/plain", CorrelationData: []byte("corr"), ResponseTopic: "re/ply",
		MessageExpiry: u32p(3600), User: []packets.User{{Key: "k", Value: "v"}}}})
	if pa := p5.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback); pa.ReasonCode != 0 {
		t.Fatalf("PUBACK of the 5.0 message: reason %#x", pa.ReasonCode)
	}
	sc.sent = append(sc.sent, sub.expectPub("mp", 1).id)
	p5.sendV5(&packets.Disconnect{})
	p5.expectClosed()

	// The subscriber goes away without a word; the rest is queued.
	sub.c.Close()
	w.waitOfflineN(2)
	qos2("r/3", 13, "m4")
	pub.send(publishPkt("x/2", 1, false, false, 14, "m5"))
	pub.expectAck(tPUBACK, 14)
	pub.send(publishPkt("r/4", 1, false, false, 15, "m6"))
	pub.expectAck(tPUBACK, 15)
	// m7: PUBREC received, no PUBREL yet: inbound id 77 awaits it.
	pub.send(publishPkt("r/5", 2, false, false, 77, "m7"))
	pub.expectAck(tPUBREC, 77)

	// What the log holds now, as the acknowledgements promised.
	ws := durable(t, w.st)
	if got := ws.payloadsOf("rs-sub"); len(got) != len(scenarioSub) {
		t.Fatalf("rs-sub routes before recovery: %q", got)
	}
	if r := ws.routeOf(t, "rs-sub", "m1"); r.Stage != flashstore.RouteReleased || r.PacketID != sc.released {
		t.Fatalf("m1's route: stage %s id %d, want released id %d", stageName(r.Stage), r.PacketID, sc.released)
	}
	if got := ws.inboundOf("rs-pub"); !slices.Equal(got, []uint16{77}) {
		t.Fatalf("rs-pub inbound ids before recovery: %v, want [77]", got)
	}
	return sc
}

// checkRecovered checks that the broker w now runs on gives back the
// scenario's state.
func checkRecovered(t *testing.T, w *walBroker, sc recoveryScenario, rs RecoveryStats) {
	t.Helper()
	want := RecoveryStats{Sessions: 3, Subscriptions: 3, Messages: 10, Routes: len(scenarioSub) + len(scenarioV5), Inbound: 1, Retained: 2}
	if rs != want {
		t.Fatalf("recovered %+v, want %+v", rs, want)
	}

	// The publisher resends m7 (its PUBREL is still due): answered, not
	// delivered again.
	pub := w.dial()
	pub.connect("rs-pub", false, 0, nil, true)
	pub.send(publishPkt("r/5", 2, true, false, 77, "m7"))
	pub.expectAck(tPUBREC, 77)
	pub.send(ackPkt(tPUBREL, 77))
	pub.expectAck(tPUBCOMP, 77)

	// rs-sub: PUBREL for m1 and m3 again with DUP and its id (a QoS 2
	// delivery keeps its packet id across a restart), in send order; then
	// the queue, in order, m2 and mp first: QoS 1 in flight leaves no
	// record (at least once needs none), so they come again as new sends.
	type expected struct {
		payload string
		qos     byte
		id      uint16
	}
	var inflight, queue []expected
	for i, m := range scenarioSub[1 : 1+len(sc.sent)] {
		if m.qos == 2 {
			inflight = append(inflight, expected{m.payload, m.qos, sc.sent[i]})
		} else {
			queue = append(queue, expected{m.payload, m.qos, 0})
		}
	}
	for _, m := range scenarioSub[1+len(sc.sent):] {
		queue = append(queue, expected{m.payload, m.qos, 0})
	}
	sub := w.dial()
	sub.connect("rs-sub", false, 0, nil, true)
	var resent []rawPub
	gotRel := false
	for range 1 + len(inflight) {
		pk := sub.read()
		if pk.typ == tPUBREL {
			if gotRel || pk.id() != sc.released {
				t.Fatalf("PUBREL %d (one seen before: %v), want one PUBREL %d", pk.id(), gotRel, sc.released)
			}
			gotRel = true
			continue
		}
		resent = append(resent, pk.publish(t))
	}
	var pubs []rawPub
	for i, p := range resent {
		want := inflight[i]
		if p.payload != want.payload || p.qos != want.qos || !p.dup || p.id != want.id {
			t.Fatalf("resent %d: %+v, want %q at QoS %d with DUP and id %d", i, p, want.payload, want.qos, want.id)
		}
		pubs = append(pubs, p)
	}
	for _, want := range queue {
		p := sub.expectPub(want.payload, want.qos)
		if p.dup {
			t.Fatalf("queued %q arrived with DUP", p.payload)
		}
		pubs = append(pubs, p)
	}
	sub.send(ackPkt(tPUBCOMP, sc.released))
	var rels []uint16
	for _, p := range pubs {
		if p.qos == 1 {
			sub.send(ackPkt(tPUBACK, p.id))
		} else {
			sub.send(ackPkt(tPUBREC, p.id))
			rels = append(rels, p.id)
		}
	}
	for _, id := range rels { // in PUBREC order [MQTT-4.6.0-4]
		sub.expectAck(tPUBREL, id)
		sub.send(ackPkt(tPUBCOMP, id))
	}
	sub.ping("after every recovered message")

	// rs-v5: its queue, in order, with mp's properties intact.
	v5 := connectV5Session(t, w, "rs-v5", 3600, true)
	for _, payload := range scenarioV5 {
		pk := v5.read()
		if pk.typ != tPUBLISH {
			t.Fatalf("rs-v5: packet type %d, want PUBLISH %q", pk.typ, payload)
		}
		p := pk.v5(t).Content.(*packets.Publish)
		if string(p.Payload) != payload || p.QoS != 1 || p.Duplicate {
			t.Fatalf("rs-v5 got %q q%d dup=%v, want %q at QoS 1", p.Payload, p.QoS, p.Duplicate, payload)
		}
		if payload == "mp" {
			pp := p.Properties
			if pp == nil || pp.ContentType != "text/plain" || string(pp.CorrelationData) != "corr" || pp.ResponseTopic != "re/ply" ||
				!slices.Equal(pp.User, []packets.User{{Key: "k", Value: "v"}}) || pp.MessageExpiry == nil || *pp.MessageExpiry == 0 || *pp.MessageExpiry > 3600 {
				t.Fatalf("rs-v5: mp's properties after recovery: %+v", pp)
			}
		}
		v5.sendV5(&packets.Puback{PacketID: p.PacketID})
	}
	v5.ping("rs-v5 after its queue")

	// Retained: A and C0, not the cleared B.
	rt := w.dial()
	rt.connect("rs-ret", true, 0, nil, false)
	rt.subscribe(1, "ret/#", 1)
	var ret []string
	for range 2 {
		p := rt.read().publish(t)
		if !p.retain {
			t.Fatalf("retained %q without RETAIN", p.payload)
		}
		ret = append(ret, p.topic+"="+p.payload)
		if p.qos == 1 {
			rt.send(ackPkt(tPUBACK, p.id))
		}
	}
	slices.Sort(ret)
	if !slices.Equal(ret, []string{"ret/a=A", "ret/c=C0"}) {
		t.Fatalf("retained after recovery: %q", ret)
	}
	rt.ping("after the retained messages")

	// Everything completed: another restart (which closes the
	// connections, committing what they left) finds only sessions,
	// subscriptions and retained messages.
	rs = w.restart()
	if want := (RecoveryStats{Sessions: 3, Subscriptions: 3, Messages: 2, Retained: 2}); rs != want {
		t.Fatalf("recovered after completion %+v, want %+v", rs, want)
	}
	sub = w.dial()
	sub.connect("rs-sub", false, 0, nil, true)
	sub.ping("rs-sub after completion")
}

// TestWALPublishAfterRecover checks that a recovered broker goes on where
// the log left off: messages published after Recover get new message ids
// (not those of recovered messages, whose records they would overwrite)
// and their routes sort after the recovered ones, so after another
// restart every queue is still complete and in order.
func TestWALPublishAfterRecover(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	for _, id := range []string{"pa-a", "pa-b"} {
		w.persistentSub(id, 1, "pa/#").leave()
	}
	w.waitOfflineN(2)
	publish := func(payloads ...string) {
		pub := w.dial()
		pub.connect("pa-pub", true, 0, nil, false)
		for i, p := range payloads {
			pub.send(publishPkt("pa/t", 1, false, false, uint16(i+1), p))
			pub.expectAck(tPUBACK, uint16(i+1))
		}
	}
	publish("one", "two")
	w.restart()
	publish("three")
	if rs := w.restart(); rs.Messages != 3 || rs.Routes != 6 {
		t.Fatalf("recovered %+v, want 3 messages and 6 routes", rs)
	}
	for _, id := range []string{"pa-a", "pa-b"} {
		sub := w.dial()
		sub.connect(id, false, 0, nil, true)
		for _, want := range []string{"one", "two", "three"} {
			sub.send(ackPkt(tPUBACK, sub.expectPub(want, 1).id))
		}
		sub.ping(id + " after its three messages")
	}
}
