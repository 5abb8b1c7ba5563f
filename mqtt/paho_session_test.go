package mqtt

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// waitOffline waits until n sessions are known to the broker without a
// connection.
func waitOffline(t testing.TB, tb *testBroker, n int64) {
	t.Helper()
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if got := tb.srv.Stats().ClientsDisconnected; got != n {
			return fmt.Errorf("%d sessions offline, want %d", got, n)
		}
		return nil
	})
}

// TestPahoPersistentSessionQueued checks that a CleanSession 0 subscriber
// gets, on reconnect, every QoS 1 and QoS 2 message published while it was
// away, exactly once and in order, with session present set in CONNACK
// [MQTT-3.1.2-5] [MQTT-3.2.2-2].
func TestPahoPersistentSessionQueued(t *testing.T) {
	const n = 10
	tb := startBroker(t, Options{})
	o := pahoOpts(tb, "persist-1").SetCleanSession(false)
	s1 := connectPaho(t, o)
	if s1.sessionPresent {
		t.Fatal("CONNACK of a new session has session present set [MQTT-3.2.2-3]")
	}
	s1.sub(t, "p/q1", 1)
	s1.sub(t, "p/q2", 2)
	s1.Disconnect(250)
	waitOffline(t, tb, 1)

	pub := connectPaho(t, pahoOpts(tb, "persist-pub"))
	for i := 0; i < n; i++ {
		pub.pub(t, "p/q1", 1, false, strconv.Itoa(i))
		pub.pub(t, "p/q2", 2, false, strconv.Itoa(i))
	}
	if st := tb.srv.Stats(); st.Queued+st.Inflight != 2*n {
		t.Errorf("Stats: %d queued + %d in flight for the offline session, want %d", st.Queued, st.Inflight, 2*n)
	}

	s2 := connectPaho(t, o)
	if !s2.sessionPresent {
		t.Fatal("CONNACK on resume: session present = false, want true [MQTT-3.2.2-2]")
	}
	marker(t, tb, "p/q1", 1, "end")
	marker(t, tb, "p/q2", 2, "end")
	s2.col.waitFor(t, "p/q1", "end")
	s2.col.waitFor(t, "p/q2", "end")
	for q, tp := range map[byte]string{1: "p/q1", 2: "p/q2"} {
		got := s2.col.on(tp)
		var seq seqChecker
		for _, r := range got[:len(got)-1] {
			v, err := strconv.Atoi(r.payload)
			if err != nil || r.qos != q || r.dup || r.retained {
				t.Errorf("%s: unexpected %v (want QoS %d, no DUP on a first delivery, no RETAIN)", tp, r, q)
			}
			seq.add(v)
		}
		seq.check(t, tp, n)
	}
}

// TestRawRedeliveryQoS1 checks [MQTT-4.4.0-1] for QoS 1: a PUBLISH left
// unacknowledged by a dropped connection is sent again on resume with
// DUP=1 [MQTT-3.3.1-1] and the same packet id, and never again once
// PUBACKed.
func TestRawRedeliveryQoS1(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectPaho(t, pahoOpts(tb, "rd1-pub"))
	r := dialRaw(t, tb)
	r.connect("rd1", false, 0, nil, false)
	r.subscribe(1, "rd/q1", 1)
	pub.pub(t, "rd/q1", 1, false, "first")
	p := r.read().publish(t)
	if p.qos != 1 || p.dup || p.payload != "first" || p.id == 0 {
		t.Fatalf("first delivery %+v, want QoS 1, DUP 0, payload first, an id", p)
	}
	r.c.Close() // no PUBACK

	r2 := dialRaw(t, tb)
	r2.connect("rd1", false, 0, nil, true)
	p2 := r2.read().publish(t)
	if p2.qos != 1 || !p2.dup || p2.payload != "first" || p2.id != p.id {
		t.Fatalf("redelivery %+v, want QoS 1, DUP 1, payload first, id %d", p2, p.id)
	}
	r2.send(ackPkt(tPUBACK, p2.id))
	r2.send([]byte{tDISCONNECT << 4, 0})
	r2.expectClosed()

	r3 := dialRaw(t, tb)
	r3.connect("rd1", false, 0, nil, true)
	marker(t, tb, "rd/q1", 1, "after")
	if p3 := r3.read().publish(t); p3.payload != "after" || p3.dup {
		t.Fatalf("after PUBACK and reconnect got %+v, want only the new message", p3)
	}
}

// TestRawRedeliveryQoS2 checks [MQTT-4.4.0-1] for QoS 2: before PUBREC the
// PUBLISH is resent with DUP=1 and the same id; after PUBREC only the PUBREL
// is resent, never the PUBLISH [MQTT-4.3.3-6] (3.1.1 [MQTT-4.3.3-1]).
func TestRawRedeliveryQoS2(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectPaho(t, pahoOpts(tb, "rd2-pub"))
	r := dialRaw(t, tb)
	r.connect("rd2", false, 0, nil, false)
	r.subscribe(1, "rd/q2", 2)

	// Dropped before PUBREC: the PUBLISH comes again, marked DUP.
	pub.pub(t, "rd/q2", 2, false, "one")
	p := r.read().publish(t)
	if p.qos != 2 || p.dup || p.payload != "one" || p.id == 0 {
		t.Fatalf("first delivery %+v, want QoS 2, DUP 0, payload one, an id", p)
	}
	r.c.Close()
	r = dialRaw(t, tb)
	r.connect("rd2", false, 0, nil, true)
	p2 := r.read().publish(t)
	if p2.qos != 2 || !p2.dup || p2.payload != "one" || p2.id != p.id {
		t.Fatalf("redelivery %+v, want QoS 2, DUP 1, payload one, id %d", p2, p.id)
	}
	r.send(ackPkt(tPUBREC, p2.id))
	r.expectAck(tPUBREL, p2.id)

	// Dropped after PUBREC: only PUBREL comes again, with the same id.
	r.c.Close()
	r = dialRaw(t, tb)
	r.connect("rd2", false, 0, nil, true)
	r.expectAck(tPUBREL, p2.id)
	r.c.Close() // and once more, without PUBCOMP
	r = dialRaw(t, tb)
	r.connect("rd2", false, 0, nil, true)
	r.expectAck(tPUBREL, p2.id)
	r.send(ackPkt(tPUBCOMP, p2.id))
	marker(t, tb, "rd/q2", 2, "after")
	p3 := r.read().publish(t)
	if p3.payload != "after" || p3.dup {
		t.Fatalf("after PUBCOMP got %+v, want only the new message (the old PUBLISH must never be resent)", p3)
	}
	r.send(ackPkt(tPUBREC, p3.id))
	r.expectAck(tPUBREL, p3.id)
	r.send(ackPkt(tPUBCOMP, p3.id))

	// After PUBCOMP the delivery is over: a resume resends nothing.
	r.send([]byte{tDISCONNECT << 4, 0})
	r.expectClosed()
	r = dialRaw(t, tb)
	r.connect("rd2", false, 0, nil, true)
	marker(t, tb, "rd/q2", 2, "last")
	if p4 := r.read().publish(t); p4.payload != "last" {
		t.Fatalf("after completed exchanges got %+v, want only the new message", p4)
	}
}

// TestRawInboundQoS2Duplicates sends the same QoS 2 PUBLISH three times
// before PUBREL: each gets a PUBREC and the subscriber receives it once
// [MQTT-4.3.3-10] (3.1.1 [MQTT-4.3.3-2]); after PUBREL and PUBCOMP the same
// id carries a new message [MQTT-4.3.3-12].
func TestRawInboundQoS2Duplicates(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "dupin-sub"))
	sub.sub(t, "dupin/t", 2)
	r := dialRaw(t, tb)
	r.connect("dupin-pub", true, 0, nil, false)
	for i := 0; i < 3; i++ {
		r.send(publishPkt("dupin/t", 2, i > 0, false, 7, "once"))
		r.expectAck(tPUBREC, 7)
	}
	r.send(ackPkt(tPUBREL, 7))
	r.expectAck(tPUBCOMP, 7)
	marker(t, tb, "dupin/t", 2, "mark-1")
	sub.col.waitFor(t, "dupin/t", "mark-1")

	// Same id after PUBCOMP: a new message, even with DUP set.
	r.send(publishPkt("dupin/t", 2, true, false, 7, "again"))
	r.expectAck(tPUBREC, 7)
	r.send(ackPkt(tPUBREL, 7))
	r.expectAck(tPUBCOMP, 7)
	marker(t, tb, "dupin/t", 2, "mark-2")
	got := sub.col.waitFor(t, "dupin/t", "mark-2")
	want := []string{"once", "mark-1", "again", "mark-2"}
	if len(got) != len(want) {
		t.Fatalf("subscriber got %v, want payloads %v", short(got), want)
	}
	for i, r := range got {
		if r.payload != want[i] || r.qos != 2 {
			t.Fatalf("subscriber got %v, want payloads %v at QoS 2", short(got), want)
		}
	}
}

// TestRawInboundQoS1SameID checks [MQTT-4.3.2-5]: after PUBACK a PUBLISH with
// the same id is a new publication, whatever its DUP flag.
func TestRawInboundQoS1SameID(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "q1id-sub"))
	sub.sub(t, "q1id/t", 1)
	r := dialRaw(t, tb)
	r.connect("q1id-pub", true, 0, nil, false)
	r.send(publishPkt("q1id/t", 1, false, false, 3, "a"))
	r.expectAck(tPUBACK, 3)
	r.send(publishPkt("q1id/t", 1, true, false, 3, "a"))
	r.expectAck(tPUBACK, 3)
	marker(t, tb, "q1id/t", 1, "end")
	got := sub.col.waitFor(t, "q1id/t", "end")
	if len(got) != 3 || got[0].payload != "a" || got[1].payload != "a" {
		t.Fatalf("subscriber got %v, want a, a, end", short(got))
	}
}

// TestPahoSessionTakeover connects a second client with the same id: the
// broker closes the first connection [MQTT-3.1.4-2] and the second works.
func TestPahoSessionTakeover(t *testing.T) {
	tb := startBroker(t, Options{})
	a := connectPaho(t, pahoOpts(tb, "take-1"))
	a.sub(t, "take/a", 1)
	b := connectPaho(t, pahoOpts(tb, "take-1"))
	if b.sessionPresent {
		t.Error("clean session takeover: session present = true")
	}
	if err := a.waitLost(t); err == nil {
		t.Error("connection-lost handler fired with a nil error")
	}
	b.sub(t, "take/b", 1)
	b.pub(t, "take/a", 1, false, "old subscription")
	b.pub(t, "take/b", 1, false, "x")
	b.col.waitFor(t, "take/b", "x")
	if got := b.col.on("take/a"); len(got) != 0 {
		t.Errorf("new clean session received on the old session's subscription: %v", got)
	}
	if n := tb.srv.Stats().ClientsConnected; n != 1 {
		t.Errorf("%d clients connected, want 1", n)
	}
}

// TestPahoPersistentTakeover takes over a live CleanSession 0 session: the
// new connection resumes it (session present) with its subscriptions.
func TestPahoPersistentTakeover(t *testing.T) {
	tb := startBroker(t, Options{})
	o := pahoOpts(tb, "take-p").SetCleanSession(false)
	a := connectPaho(t, o)
	a.sub(t, "takep/t", 1)
	b := connectPaho(t, pahoOpts(tb, "take-p").SetCleanSession(false))
	a.waitLost(t)
	if !b.sessionPresent {
		t.Error("takeover of a persistent session: session present = false")
	}
	marker(t, tb, "takep/t", 1, "x")
	b.col.waitFor(t, "takep/t", "x")
}

// TestPahoCleanSessionDiscards checks that CleanSession 1 discards a stored
// session [MQTT-3.1.2-6]: session present is 0, the old subscriptions are
// gone, and a later CleanSession 0 connection starts empty.
func TestPahoCleanSessionDiscards(t *testing.T) {
	tb := startBroker(t, Options{})
	o := pahoOpts(tb, "cs-1").SetCleanSession(false)
	a := connectPaho(t, o)
	a.sub(t, "cs/old", 1)
	a.Disconnect(250)
	waitOffline(t, tb, 1)
	marker(t, tb, "cs/old", 1, "queued") // queued for the offline session

	b := connectPaho(t, pahoOpts(tb, "cs-1"))
	if b.sessionPresent {
		t.Fatal("CleanSession 1: session present = true [MQTT-3.2.2-1]")
	}
	b.sub(t, "cs/new", 1)
	marker(t, tb, "cs/old", 1, "old")
	marker(t, tb, "cs/new", 1, "new")
	got := b.col.waitFor(t, "cs/new", "new")
	if len(got) != 1 {
		t.Fatalf("clean session received %v, want only cs/new", short(got))
	}
	b.Disconnect(250)
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if st := tb.srv.Stats(); st.ClientsTotal != 0 || st.Subscriptions != 0 {
			return fmt.Errorf("%d sessions, %d subscriptions after the clean session ended, want 0", st.ClientsTotal, st.Subscriptions)
		}
		return nil
	})

	c := connectPaho(t, o)
	if c.sessionPresent {
		t.Fatal("session present after the stored session was discarded")
	}
	c.sub(t, "cs/new", 1)
	marker(t, tb, "cs/old", 1, "old2")
	marker(t, tb, "cs/new", 1, "new2")
	if got := c.col.waitFor(t, "cs/new", "new2"); len(got) != 1 {
		t.Fatalf("new persistent session received %v, want only cs/new", short(got))
	}
}

// TestPahoEmptyClientID checks [MQTT-3.1.3-6]/[MQTT-3.1.3-8]: an empty
// client id is accepted with CleanSession 1 (each such client gets its own
// session) and refused with CONNACK 0x02 with CleanSession 0.
func TestPahoEmptyClientID(t *testing.T) {
	tb := startBroker(t, Options{})
	a := connectPaho(t, pahoOpts(tb, ""))
	b := connectPaho(t, pahoOpts(tb, ""))
	a.sub(t, "empty/a", 1)
	b.sub(t, "empty/b", 1)
	a.pub(t, "empty/b", 1, false, "to b")
	b.pub(t, "empty/a", 1, false, "to a")
	a.col.waitFor(t, "empty/a", "to a")
	b.col.waitFor(t, "empty/b", "to b")
	if !a.IsConnectionOpen() || !b.IsConnectionOpen() {
		t.Error("two clients with empty ids took over each other's session")
	}

	pc, tok := dialPaho(t, pahoOpts(tb, "").SetCleanSession(false))
	if tok.Error() == nil || tok.ReturnCode() != 0x02 {
		t.Errorf("empty id with CleanSession 0: error %v, return code %#x, want refusal 0x02", tok.Error(), tok.ReturnCode())
	}
	if pc.IsConnectionOpen() {
		t.Error("refused client is connected")
	}

	r := dialRaw(t, tb)
	r.send(connectPkt("", false, 0, nil))
	r.expectConnack(false, 0x02)
	r.expectClosed() // [MQTT-3.2.2-5]
}

// TestRawRedeliveryOrder leaves several QoS 1 and 2 messages unacknowledged
// (some in flight, some still queued behind MaxInflight) and reconnects:
// the in-flight ones are resent first, with DUP and their ids, in their
// original order [MQTT-4.6.0-1]; the queued ones follow as first
// deliveries.
func TestRawRedeliveryOrder(t *testing.T) {
	const window, sent = 3, 6
	tb := startBroker(t, Options{MaxInflight: window})
	r := dialRaw(t, tb)
	r.connect("rdo", false, 0, nil, false)
	r.subscribe(1, "rdo/t", 2)
	pub := connectPaho(t, pahoOpts(tb, "rdo-pub"))
	for i := 0; i < sent; i++ {
		pub.pub(t, "rdo/t", byte(1+i%2), false, strconv.Itoa(i))
	}
	var first []rawPub
	for i := 0; i < window; i++ {
		first = append(first, r.read().publish(t))
	}
	r.c.Close()

	r = dialRaw(t, tb)
	r.connect("rdo", false, 0, nil, true)
	next, awaitRel := 0, 0
	for next < sent || awaitRel > 0 {
		pk := r.read()
		if pk.typ == tPUBREL && pk.flags == 2 {
			r.send(ackPkt(tPUBCOMP, pk.id()))
			awaitRel--
			continue
		}
		p := pk.publish(t)
		if p.payload != strconv.Itoa(next) || p.qos != byte(1+next%2) {
			t.Fatalf("delivery %d after resume: %+v, want payload %d at QoS %d", next, p, next, 1+next%2)
		}
		if next < window {
			if !p.dup || p.id != first[next].id {
				t.Errorf("resent %+v, want DUP 1 and id %d", p, first[next].id)
			}
		} else if p.dup {
			t.Errorf("first delivery %+v has DUP 1 [MQTT-3.3.1-1]", p)
		}
		next++
		if p.qos == 1 {
			r.send(ackPkt(tPUBACK, p.id))
		} else {
			r.send(ackPkt(tPUBREC, p.id))
			awaitRel++
		}
	}
}

// TestRawInboundQoS2AcrossReconnect has a CleanSession 0 publisher send a
// QoS 2 PUBLISH, get PUBREC, drop the connection and send the PUBLISH again
// after resuming: the id still awaits PUBREL in the session, so it is
// answered with PUBREC and not delivered twice [MQTT-4.3.3-2]; PUBREL on the
// new connection completes it.
func TestRawInboundQoS2AcrossReconnect(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "inrc-sub"))
	sub.sub(t, "inrc/t", 2)
	r := dialRaw(t, tb)
	r.connect("inrc-pub", false, 0, nil, false)
	r.send(publishPkt("inrc/t", 2, false, false, 5, "once"))
	r.expectAck(tPUBREC, 5)
	r.c.Close()

	r = dialRaw(t, tb)
	r.connect("inrc-pub", false, 0, nil, true)
	r.send(publishPkt("inrc/t", 2, true, false, 5, "once"))
	r.expectAck(tPUBREC, 5)
	r.send(ackPkt(tPUBREL, 5))
	r.expectAck(tPUBCOMP, 5)
	marker(t, tb, "inrc/t", 2, "end")
	if got := sub.col.waitFor(t, "inrc/t", "end"); !slices.Equal(payloads(got), []string{"once", "end"}) {
		t.Fatalf("subscriber got %v, want the message once, then the marker", short(got))
	}
}

// TestRawResumeSendsQueuedOnce resumes a session whose messages were all
// queued while it was offline, many times over: each message must arrive
// once, without DUP (none was sent before) [MQTT-3.3.1-1], and never be
// resent on the same connection [MQTT-4.4.0-1]. It looks for a race between
// the writer sending queued messages right after CONNACK and the resume
// collecting the in-flight ones to resend.
func TestRawResumeSendsQueuedOnce(t *testing.T) {
	const rounds, perRound = 40, 8
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connect("resume-race", false, 0, nil, false)
	r.subscribe(1, "rr/t", 1)
	for round := 0; round < rounds; round++ {
		r.send([]byte{tDISCONNECT << 4, 0})
		r.expectClosed()
		waitOffline(t, tb, 1)
		for i := 0; i < perRound; i++ {
			marker(t, tb, "rr/t", 1, strconv.Itoa(i))
		}
		r = dialRaw(t, tb)
		r.connect("resume-race", false, 0, nil, true)
		for i := 0; i < perRound; i++ {
			p := r.read().publish(t)
			if p.payload != strconv.Itoa(i) || p.dup {
				t.Fatalf("round %d: delivery %d is %+v, want payload %d without DUP", round, i, p, i)
			}
			r.send(ackPkt(tPUBACK, p.id))
		}
		// Anything resent would come before this PINGRESP.
		r.send([]byte{tPINGREQ << 4, 0})
		if p := r.read(); p.typ == tPUBLISH {
			t.Fatalf("round %d: message sent again on the same connection: %+v", round, p.publish(t))
		} else if p.typ != 13 {
			t.Fatalf("round %d: got packet type %d (% x) after all deliveries, want PINGRESP", round, p.typ, p.body)
		}
	}
}

// TestRawConnackFirst reconnects a persistent session again and again while
// messages for it keep arriving: the first packet the broker sends on each
// connection must be the CONNACK [MQTT-3.2.0-1], never a delivery.
func TestRawConnackFirst(t *testing.T) {
	const rounds = 100
	tb := startBroker(t, Options{MaxQueued: 50, MaxInflight: 5})
	r := dialRaw(t, tb)
	r.connect("connack-first", false, 0, nil, false)
	r.subscribe(1, "cf/t", 1)
	r.c.Close()

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = tb.srv.Publish("cf/t", []byte("x"), byte(i%2), false)
		}
	}()
	// Registered after startBroker, so it runs before the broker stops.
	t.Cleanup(func() { close(stop); <-done })

	for i := 0; i < rounds; i++ {
		r := dialRaw(t, tb)
		r.send(connectPkt("connack-first", false, 0, nil))
		p := r.read()
		if p.typ != tCONNACK {
			t.Fatalf("round %d: first packet from the broker has type %d flags %#x, want CONNACK", i, p.typ, p.flags)
		}
		if !bytes.Equal(p.body, []byte{1, 0}) {
			t.Fatalf("round %d: CONNACK % x, want session present, accepted", i, p.body)
		}
		r.c.Close()
	}
}
