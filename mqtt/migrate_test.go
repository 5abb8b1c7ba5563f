package mqtt

import (
	"encoding/binary"
	"fmt"
	"testing"

	"gatemq/flashstore"
)

// TestRecoverMigratesLegacyKeys: a log written before sessions were
// numbered (sessions without a number, routes and inbound ids keyed by
// client ID with both in their values) is recovered whole, and rewritten
// under session numbers: a QoS 2 delivery awaiting PUBCOMP, one awaiting
// PUBREC, a long queue (long enough to be migrated in several commits),
// and a publisher's QoS 2 id awaiting PUBREL all come back as they were.
// A log left half migrated (a crash between two steps) recovers too.
func TestRecoverMigratesLegacyKeys(t *testing.T) {
	for _, half := range []bool{false, true} {
		t.Run(fmt.Sprintf("half=%v", half), func(t *testing.T) { testMigrateLegacy(t, half) })
	}
}

func testMigrateLegacy(t *testing.T, half bool) {
	queued := 4000 // ~380 KB of rewritten routes: two migration commits
	if testing.Short() {
		queued = 300
	}
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.persistentSub("mg-sub", 2, "m/#")
	pub := w.dial()
	pub.connect("mg-pub", false, 0, nil, false)
	pub.send(publishPkt("m/1", 2, false, false, 1, "m1"))
	pub.expectAck(tPUBREC, 1)
	pub.send(ackPkt(tPUBREL, 1))
	pub.expectAck(tPUBCOMP, 1)
	pub.send(publishPkt("m/2", 2, false, false, 2, "m2"))
	pub.expectAck(tPUBREC, 2) // no PUBREL: id 2 stays pending
	p1, p2 := sub.expectPub("m1", 2), sub.expectPub("m2", 2)
	sub.send(ackPkt(tPUBREC, p1.id)) // m1 released, m2 sent
	sub.expectAck(tPUBREL, p1.id)
	sub.leave()
	w.waitOfflineN(1)
	for i := range queued {
		id := uint16(3 + i%60000)
		pub.send(publishPkt("m/q", 2, false, false, id, fmt.Sprint("q", i)))
		pub.expectAck(tPUBREC, id)
		pub.send(ackPkt(tPUBREL, id))
		pub.expectAck(tPUBCOMP, id)
	}
	pub.leave()
	w.waitOfflineN(2)
	before := durable(t, w.st)
	w.stop()

	// Back to the old layout; with half, only every other route (as a
	// migration stopped between two commits leaves it, sessions numbered).
	n := 0
	tamper(t, w.dir, func(b *flashstore.Batch, kind flashstore.Kind, key, value []byte) {
		switch kind {
		case flashstore.KindSession:
			var s flashstore.Session
			mustUnmarshal(t, &s, value)
			if !half {
				s.Num = 0
				putMsg(t, b, kind, key, &s)
			}
		case flashstore.KindRoute:
			var r flashstore.Route
			mustUnmarshal(t, &r, value)
			before.fillRoute(key, &r)
			if n++; half && n%2 == 0 {
				return
			}
			b.Delete(kind, key)
			putMsg(t, b, kind, legacyKeyOf(r.ClientID, binary.BigEndian.AppendUint64(nil, r.MsgID)), &r)
		case flashstore.KindInbound:
			var r flashstore.Inbound
			mustUnmarshal(t, &r, value)
			before.fillInbound(key, &r)
			b.Delete(kind, key)
			putMsg(t, b, kind, legacyKeyOf(r.ClientID, binary.BigEndian.AppendUint16(nil, r.PacketID)), &r)
		}
	})
	l, _, err := flashstore.Open(flashstore.Options{Dir: w.dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countLegacyKeys(t, l), (n+1)/2+1; half && got != want || !half && got != n+1 {
		t.Fatalf("tampered log has %d legacy keys (%d routes)", got, n)
	}
	l.Close()

	w.start(w.dir)
	if w.rs.Routes != queued+2 || w.rs.Inbound != 1 || w.rs.Dropped != 0 {
		t.Fatalf("recovered %+v, want %d routes, 1 inbound id, nothing dropped", w.rs, queued+2)
	}
	if got := countLegacyKeys(t, w.st); got != 0 {
		t.Fatalf("%d records keyed by client ID after recovery", got)
	}
	after := durable(t, w.st)
	if a, b := after.sessions["mg-sub"].Num, after.sessions["mg-pub"].Num; a == 0 || b == 0 || a == b {
		t.Fatalf("session numbers after recovery: mg-sub %d, mg-pub %d", a, b)
	}
	if len(after.routesOf("mg-sub")) != queued+2 || len(after.inboundOf("mg-pub")) != 1 {
		t.Fatalf("after recovery: %d routes of mg-sub, inbound of mg-pub %v", len(after.routesOf("mg-sub")), after.inboundOf("mg-pub"))
	}

	// The publisher's id 2 still awaits PUBREL: its PUBLISH again is a
	// duplicate, not a second m2.
	pub = w.dial()
	pub.connect("mg-pub", false, 0, nil, true)
	pub.send(publishPkt("m/2", 2, true, false, 2, "m2"))
	pub.expectAck(tPUBREC, 2)
	pub.send(ackPkt(tPUBREL, 2))
	pub.expectAck(tPUBCOMP, 2)
	// The subscriber gets m2 again (DUP, same id) and m1's PUBREL, in the
	// order they were first sent, then the queue in order, and nothing else.
	sub = w.dial()
	sub.connect("mg-sub", false, 0, nil, true)
	r2 := sub.expectPub("m2", 2)
	sub.expectAck(tPUBREL, p1.id)
	if !r2.dup || r2.id != p2.id {
		t.Fatalf("m2 resent with dup=%v id=%d, want dup and id %d", r2.dup, r2.id, p2.id)
	}
	sub.send(ackPkt(tPUBCOMP, p1.id), ackPkt(tPUBREC, r2.id))
	for next, awaited := 0, 1; next < queued || awaited > 0; {
		switch p := sub.read(); p.typ {
		case tPUBREL:
			sub.send(ackPkt(tPUBCOMP, p.id()))
			awaited--
		case tPUBLISH:
			pb := p.publish(t)
			if want := fmt.Sprint("q", next); pb.payload != want || pb.dup {
				t.Fatalf("got %q (dup %v), want %q", pb.payload, pb.dup, want)
			}
			sub.send(ackPkt(tPUBREC, pb.id))
			next++
			awaited++
		default:
			t.Fatalf("unexpected packet type %d", p.typ)
		}
	}
	sub.silent("after the queue")
	if rs := w.restart(); rs.Dropped != 0 || rs.Routes != 0 || rs.Inbound != 0 {
		t.Fatalf("second recovery %+v, want nothing left", rs)
	}
}

// legacyKeyOf is a route or inbound key as written before sessions were
// numbered.
func legacyKeyOf(client string, id []byte) []byte {
	return append(append([]byte(client), 0), id...)
}

// countLegacyKeys counts the route and inbound records of st that are
// keyed by client ID.
func countLegacyKeys(t *testing.T, st Store) (n int) {
	t.Helper()
	err := st.RangeKeys([]flashstore.Kind{flashstore.KindRoute, flashstore.KindInbound}, func(_ flashstore.Kind, key []byte) error {
		if _, _, ok := parseNumKey(key); !ok {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
