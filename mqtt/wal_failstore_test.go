package mqtt

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

// A store that fails or is slow: no acknowledgement and no PUBLISH leaves
// before the commit that justifies it has returned, and a failed commit
// ends the connection without the acknowledgement (MQTT 3.1.1 has no other
// way to refuse), or, for a message from a 5.0 client, refuses it with
// reason 0x97.

// errInjected is the error the tests' stores fail commits with.
var errInjected = errors.New("injected commit failure")

// TestWALFailedCommit311 makes one commit fail at each step of both QoS 2
// hops and checks that the packet it would justify never leaves: the
// connection is closed instead, and what was not committed is not
// delivered.
func TestWALFailedCommit311(t *testing.T) {
	t.Run("QoS 1 PUBLISH", func(t *testing.T) {
		w := startWAL(t, Options{}, flashstore.Options{})
		w.persistentSub("f1-sub", 1, "f1/#").leave()
		w.waitOfflineN(1)
		live := w.dial()
		live.connect("f1-live", true, 0, nil, false)
		live.subscribe(1, "f1/#", 1)
		pub := w.dial()
		pub.connect("f1-pub", true, 0, nil, false)
		w.st.failNext(errInjected)
		pub.send(publishPkt("f1/a", 1, false, false, 1, "lost"))
		pub.expectClosed() // no PUBACK
		if ws := durable(t, w.st); len(ws.routes) != 0 || len(ws.msgs) != 0 {
			t.Fatalf("records of a failed commit: %s", ws.describeRoutes())
		}
		// The publisher still has it and sends it again: now it goes.
		pub = w.dial()
		pub.connect("f1-pub", true, 0, nil, false)
		pub.send(publishPkt("f1/a", 1, true, false, 1, "lost"))
		pub.expectAck(tPUBACK, 1)
		live.complete(live.expectPub("lost", 1)) // once: the failed try was not delivered
		live.ping("after the one delivery")
		if got := durable(t, w.st).payloadsOf("f1-sub"); !slices.Equal(got, []string{"lost"}) {
			t.Fatalf("queued for the offline subscriber: %q, want [lost]", got)
		}
	})

	t.Run("QoS 2 PUBLISH", func(t *testing.T) {
		w := startWAL(t, Options{}, flashstore.Options{})
		w.persistentSub("f2-sub", 2, "f2/#").leave()
		w.waitOfflineN(1)
		pub := w.dial()
		pub.connect("f2-pub", false, 0, nil, false)
		w.st.failNext(errInjected)
		pub.send(publishPkt("f2/a", 2, false, false, 5, "q2"))
		pub.expectClosed() // no PUBREC
		w.waitOfflineN(2)
		if ws := durable(t, w.st); len(ws.inbound) != 0 || len(ws.routes) != 0 {
			t.Fatalf("records of a failed commit: inbound %v, routes %s", ws.inbound, ws.describeRoutes())
		}
		// The resend is a new message for the broker (its id was
		// released with the refusal), delivered once.
		pub = w.dial()
		pub.connect("f2-pub", false, 0, nil, true)
		pub.send(publishPkt("f2/a", 2, true, false, 5, "q2"))
		pub.expectAck(tPUBREC, 5)
		pub.send(ackPkt(tPUBREL, 5))
		pub.expectAck(tPUBCOMP, 5)
		sub := w.dial()
		sub.connect("f2-sub", false, 0, nil, true)
		sub.complete(sub.expectPub("q2", 2))
		sub.ping("after the one delivery")
	})

	t.Run("PUBREL from the publisher", func(t *testing.T) {
		w := startWAL(t, Options{}, flashstore.Options{})
		pub := w.dial()
		pub.connect("f3-pub", false, 0, nil, false)
		pub.send(publishPkt("f3/a", 2, false, false, 6, "x"))
		pub.expectAck(tPUBREC, 6)
		w.st.failNext(errInjected)
		pub.send(ackPkt(tPUBREL, 6))
		pub.expectClosed() // no PUBCOMP
		if ids := durable(t, w.st).inboundOf("f3-pub"); !slices.Equal(ids, []uint16{6}) {
			t.Fatalf("inbound ids after a failed removal: %v, want [6]", ids)
		}
	})

	t.Run("PUBREC from the subscriber", func(t *testing.T) {
		w := startWAL(t, Options{}, flashstore.Options{})
		sub := w.persistentSub("f4-sub", 2, "f4/#")
		pub := w.dial()
		pub.connect("f4-pub", true, 0, nil, false)
		pub.send(publishPkt("f4/a", 2, false, false, 1, "x"))
		pub.expectAck(tPUBREC, 1)
		p := sub.expectPub("x", 2)
		w.st.failNext(errInjected)
		sub.send(ackPkt(tPUBREC, p.id))
		sub.expectClosed() // no PUBREL
		if r := durable(t, w.st).routeOf(t, "f4-sub", "x"); r.Stage != flashstore.RouteSent {
			t.Fatalf("stage after a failed PUBREC commit: %s, want sent", stageName(r.Stage))
		}
	})

	t.Run("writer's sent stage", func(t *testing.T) {
		w := startWAL(t, Options{}, flashstore.Options{})
		sub := w.persistentSub("f5-sub", 2, "f5/#")
		pub := w.dial()
		pub.connect("f5-pub", true, 0, nil, false)
		g := w.st.hold()
		pub.send(publishPkt("f5/a", 2, false, false, 1, "x"))
		g.waitEntered(t)
		g.pass(t) // the publisher's records
		g.waitEntered(t)
		g.fail(t, errInjected) // the writer's "sent" stage
		g.open()
		sub.expectClosed() // no PUBLISH
		pub.expectAck(tPUBREC, 1)
		if r := durable(t, w.st).routeOf(t, "f5-sub", "x"); r.Stage != flashstore.RouteQueued {
			t.Fatalf("stage after a failed writer commit: %s, want queued", stageName(r.Stage))
		}
	})
}

// TestWALFailedCommitV5 checks what a 5.0 publisher is told when its
// message cannot be stored: PUBACK or PUBREC with reason 0x97 (quota
// exceeded) instead of a closed connection; the message is not delivered,
// a QoS 2 packet id is free again, and the publisher can send the message
// again later.
func TestWALFailedCommitV5(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	w.persistentSub("v5f-sub", 2, "v5f/#").leave()
	w.waitOfflineN(1)
	live := w.dial()
	live.connect("v5f-live", true, 0, nil, false)
	live.subscribe(1, "v5f/#", 2)

	connect := func() *rawConn {
		r := w.dial()
		// A session that never expires: its end writes no record.
		c := rawConnectV5("v5f-pub", &packets.Properties{SessionExpiryInterval: u32p(expireNever)})
		c.CleanStart = false
		r.connectV5(c)
		return r
	}
	pub := connect()
	w.st.failNext(errInjected)
	pub.sendV5(&packets.Publish{Topic: "v5f/a", QoS: 1, PacketID: 4, Payload: []byte("one")})
	if pa := pub.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback); pa.PacketID != 4 || pa.ReasonCode != 0x97 {
		t.Fatalf("PUBACK id %d reason %#x, want id 4 reason 0x97", pa.PacketID, pa.ReasonCode)
	}
	live.expectQuiet("a message whose records failed to commit")
	// QoS 0 still reaches the subscriber (sent on another connection:
	// the refused one is closed, see TestWALBugV5RefusalEndsConnection).
	z := w.dial()
	z.connectV5(rawConnectV5("v5f-z", nil))
	z.sendV5(&packets.Publish{Topic: "v5f/z", QoS: 0, Payload: []byte("zero")})
	live.expectPub("zero", 0)

	pub = connect()
	w.st.failNext(errInjected)
	pub.sendV5(&packets.Publish{Topic: "v5f/b", QoS: 2, PacketID: 5, Payload: []byte("two")})
	if pr := pub.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); pr.PacketID != 5 || pr.ReasonCode != 0x97 {
		t.Fatalf("PUBREC id %d reason %#x, want id 5 reason 0x97", pr.PacketID, pr.ReasonCode)
	}
	live.expectQuiet("a QoS 2 message whose records failed to commit")
	if ws := durable(t, w.st); len(ws.inbound) != 0 || len(ws.routes) != 0 {
		t.Fatalf("records of failed commits: inbound %v, routes %s", ws.inbound, ws.describeRoutes())
	}

	// Retried later, both go, once each.
	pub = connect()
	pub.sendV5(&packets.Publish{Topic: "v5f/a", QoS: 1, PacketID: 4, Payload: []byte("one")})
	if pa := pub.expect(tPUBACK, 0).v5(t).Content.(*packets.Puback); pa.ReasonCode != 0 {
		t.Fatalf("retried QoS 1: PUBACK reason %#x, want 0", pa.ReasonCode)
	}
	pub.sendV5(&packets.Publish{Topic: "v5f/b", QoS: 2, PacketID: 5, Payload: []byte("two")})
	if pr := pub.expect(tPUBREC, 0).v5(t).Content.(*packets.Pubrec); pr.ReasonCode != 0 {
		t.Fatalf("retried QoS 2 with the refused id: PUBREC reason %#x, want 0 (a new message)", pr.ReasonCode)
	}
	pub.sendV5(&packets.Pubrel{PacketID: 5})
	pub.expect(tPUBCOMP, 0)
	live.complete(live.expectPub("one", 1))
	live.complete(live.expectPub("two", 2))
	live.ping("after the retried messages")
	if got := durable(t, w.st).payloadsOf("v5f-sub"); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("queued for the offline subscriber: %q, want [one two]", got)
	}
}

// TestWALSlowStore runs whole QoS 1 and QoS 2 exchanges, pipelined, on a
// store whose every commit takes a while, and checks at each packet that
// arrives that the log already holds what the packet promises: a
// publisher's PUBACK/PUBREC the message, its route and (QoS 2) the inbound
// id; its PUBCOMP the id's removal; a subscriber's PUBLISH its route, and
// at QoS 2 its packet id (stage "sent"); its PUBREL stage "released".
func TestWALSlowStore(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	w.persistentSub("slow-off", 2, "slow/#").leave()
	w.waitOfflineN(1)
	sub := w.persistentSub("slow-sub", 2, "slow/#")
	pub := w.dial()
	pub.connect("slow-pub", false, 0, nil, false)

	var mu sync.Mutex
	commits := 0
	w.st.setHook(func(*flashstore.Batch) error {
		time.Sleep(3 * time.Millisecond) // a slow flash, not a synchronisation
		mu.Lock()
		commits++
		mu.Unlock()
		return nil
	})

	const n = 40
	var burst []byte
	for i := 1; i <= n; i++ {
		burst = append(burst, publishPkt("slow/t", byte(1+i%2), false, false, uint16(i), fmt.Sprint(i))...)
	}
	pub.send(burst)

	// The subscriber's side runs meanwhile.
	subDone := make(chan error, 1)
	go func() { subDone <- slowSubscriber(w, sub, n) }()

	for i := 1; i <= n; i++ {
		q := byte(1 + i%2)
		want := byte(tPUBACK)
		if q == 2 {
			want = tPUBREC
		}
		pub.expectAck(want, uint16(i))
		ws := durable(t, w.st)
		ws.routeOf(t, "slow-off", fmt.Sprint(i))
		if q == 2 && !slices.Contains(ws.inboundOf("slow-pub"), uint16(i)) {
			t.Fatalf("PUBREC %d arrived before its inbound id was durable (ids %v)", i, ws.inboundOf("slow-pub"))
		}
	}
	var rels []byte
	for i := 2; i <= n; i += 2 {
		rels = append(rels, ackPkt(tPUBREL, uint16(i))...)
	}
	pub.send(rels)
	for i := 2; i <= n; i += 2 {
		pub.expectAck(tPUBCOMP, uint16(i))
		if slices.Contains(durable(t, w.st).inboundOf("slow-pub"), uint16(i)) {
			t.Fatalf("PUBCOMP %d arrived before its inbound id's removal was durable", i)
		}
	}
	select {
	case err := <-subDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * waitTime):
		t.Fatal("subscriber did not finish")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d messages, %d commits", n, commits)
}

// slowSubscriber receives n messages in order on sub and completes each,
// checking the log at every PUBLISH and PUBREL. It returns the first
// problem (t.Fatal may not be called outside the test's goroutine).
func slowSubscriber(w *walBroker, sub *rawConn, n int) error {
	next := 1
	pending := map[uint16]string{} // QoS 2 ids awaiting PUBREL
	for next <= n || len(pending) > 0 {
		pk, err := sub.readPkt(waitTime)
		if err != nil {
			return fmt.Errorf("subscriber after %d messages: %v", next-1, err)
		}
		ws, err := durableState(w.st)
		if err != nil {
			return err
		}
		switch pk.typ {
		case tPUBLISH:
			p, err := decodeRawPublish(pk)
			if err != nil {
				return err
			}
			if p.payload != fmt.Sprint(next) {
				return fmt.Errorf("subscriber got %q, want %d (in order)", p.payload, next)
			}
			next++
			// QoS 2: the packet id is on record first; QoS 1: the
			// route (at least once needs no more).
			r, ok := findRoute(ws, "slow-sub", p.payload)
			if p.qos == 2 && (!ok || r.Stage != flashstore.RouteSent || r.PacketID != p.id) {
				return fmt.Errorf("PUBLISH %q id %d arrived with its durable route %+v (found %v), want stage sent with that id", p.payload, p.id, r, ok)
			}
			if p.qos == 1 && !ok {
				return fmt.Errorf("PUBLISH %q arrived without its durable route", p.payload)
			}
			if p.qos == 1 {
				sub.send(ackPkt(tPUBACK, p.id))
				continue
			}
			pending[p.id] = p.payload
			sub.send(ackPkt(tPUBREC, p.id))
		case tPUBREL:
			payload, ok := pending[pk.id()]
			if !ok {
				return fmt.Errorf("PUBREL %d for no PUBREC", pk.id())
			}
			delete(pending, pk.id())
			if r, ok := findRoute(ws, "slow-sub", payload); !ok || r.Stage != flashstore.RouteReleased {
				return fmt.Errorf("PUBREL %d arrived with its durable route %+v (found %v), want stage released", pk.id(), r, ok)
			}
			sub.send(ackPkt(tPUBCOMP, pk.id()))
		default:
			return fmt.Errorf("subscriber: packet type %d", pk.typ)
		}
	}
	return nil
}

// findRoute is walState.routeOf without failing the test.
func findRoute(ws walState, client, payload string) (flashstore.Route, bool) {
	for _, r := range ws.routesOf(client) {
		if string(ws.msgs[r.MsgID].Payload) == payload {
			return r, true
		}
	}
	return flashstore.Route{}, false
}
