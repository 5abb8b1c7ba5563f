package mqtt

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

// Recover on a log that is not quite what the broker wrote: records that
// refer to something missing are dropped (and removed from the log), a
// session whose expiry passed while the broker was down ends, two
// deliveries in flight under one packet id keep both messages, and a record
// that cannot be read stops recovery with an error.

// tamper opens the log in dir (the broker stopped), lets edit read every
// live record and add puts and deletes to one batch, and commits it.
func tamper(t *testing.T, dir string, edit func(b *flashstore.Batch, kind flashstore.Kind, key, value []byte)) {
	t.Helper()
	l, _, err := flashstore.Open(flashstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type rec struct {
		kind       flashstore.Kind
		key, value []byte
	}
	var recs []rec
	if err := l.Range(func(kind flashstore.Kind, key, value []byte) error {
		recs = append(recs, rec{kind, bytes.Clone(key), bytes.Clone(value)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var b flashstore.Batch
	for _, r := range recs {
		edit(&b, r.kind, r.key, r.value)
	}
	if err := l.Commit(&b); err != nil {
		t.Fatal(err)
	}
}

// TestWALRecoverRepairs builds a state through the broker, then removes
// or changes records behind its back: a session record (its subscription,
// route and inbound id dangle), a retained topic's message, the only route
// of a message (which is then unreferenced), the end time of an offline
// 5.0 session (now in the past), the packet id of a delivery in flight
// (now the same as another's), and a 3.1.1 session's expiry (0, as
// records were written before expiry was). Recover must drop, end and requeue exactly
// those, and remove the dropped records from the log.
func TestWALRecoverRepairs(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.persistentSub("rp-sub", 2, "d/#") // QoS 2: in flight is on record
	w.persistentSub("rp-gone", 1, "g/#").leave()
	// A session that never expires (its end writes no record); the log
	// is then given an expiry that has passed.
	exp := connectV5Session(t, w, "rp-exp", expireNever, false)
	exp.subscribeV5(1, "e/#", 1)
	exp.sendV5(&packets.Disconnect{})
	exp.expectClosed()
	gone := w.dial() // rp-gone, back as a publisher with a QoS 2 id pending
	gone.connect("rp-gone", false, 0, nil, true)
	gone.send(publishPkt("z/1", 2, false, false, 5, "z"))
	gone.expectAck(tPUBREC, 5)
	gone.leave()
	w.waitOfflineN(2)

	pub := w.dial()
	pub.connect("rp-pub", true, 0, nil, false)
	for i, m := range []struct {
		topic, payload string
		retain         bool
	}{{"d/1", "d1", false}, {"d/2", "d2", false}, {"d/3", "d3", false}, {"g/1", "g1", false}, {"e/1", "e1", false}, {"ret/x", "rx", true}} {
		id := uint16(i + 1)
		if m.topic[0] == 'd' {
			pub.send(publishPkt(m.topic, 2, false, m.retain, id, m.payload))
			pub.expectAck(tPUBREC, id)
			pub.send(ackPkt(tPUBREL, id))
			pub.expectAck(tPUBCOMP, id)
			continue
		}
		pub.send(publishPkt(m.topic, 1, false, m.retain, id, m.payload))
		pub.expectAck(tPUBACK, id)
	}
	// rp-sub gets d1, d2 and d3 and answers none: all three "sent".
	p1, p2 := sub.expectPub("d1", 2), sub.expectPub("d2", 2)
	sub.expectPub("d3", 2)
	sub.c.Close()
	w.waitOfflineN(3)
	ws := durable(t, w.st)
	d3, g1 := ws.routeOf(t, "rp-sub", "d3"), ws.routeOf(t, "rp-gone", "g1")
	w.stop()

	tamper(t, w.dir, func(b *flashstore.Batch, kind flashstore.Kind, key, value []byte) {
		switch kind {
		case flashstore.KindSession:
			var s flashstore.Session
			mustUnmarshal(t, &s, value)
			switch s.ClientID {
			case "rp-sub": // as written before session expiry was recorded
				s.ExpirySeconds = 0
				putMsg(t, b, kind, key, &s)
			case "rp-gone":
				b.Delete(kind, key)
			case "rp-exp":
				s.ExpirySeconds = 3600
				s.ExpiresAt = time.Now().Add(-time.Minute).UnixMilli()
				putMsg(t, b, kind, key, &s)
			}
		case flashstore.KindMessage:
			var m flashstore.Message
			mustUnmarshal(t, &m, value)
			if m.Topic == "ret/x" {
				b.Delete(kind, key)
			}
		case flashstore.KindRoute:
			var r flashstore.Route
			mustUnmarshal(t, &r, value)
			ws.fillRoute(key, &r)
			switch {
			case r.ClientID == "rp-sub" && r.MsgID == d3.MsgID:
				b.Delete(kind, key) // d3's message is left without a reference
			case r.ClientID == "rp-sub" && r.PacketID == p2.id:
				r.PacketID = p1.id // two in flight under one id
				putMsg(t, b, kind, key, &r)
			}
		}
	})

	w.start(w.dir)
	// Dropped: rp-gone's subscription, route and inbound id; the retained
	// entry without its message; d3's and g1's messages, now unreferenced.
	want := RecoveryStats{Sessions: 2, Subscriptions: 2, Messages: 3, Routes: 3, Dropped: 6, Expired: 1}
	if w.rs != want {
		t.Fatalf("recovered %+v, want %+v", w.rs, want)
	}
	ws = durable(t, w.st)
	if _, ok := ws.sessions["rp-exp"]; ok || len(ws.routesOf("rp-exp")) != 0 {
		t.Fatalf("expired session still in the log: %+v, routes %s", ws.sessions, ws.describeRoutes())
	}
	if _, ok := ws.msgs[d3.MsgID]; ok {
		t.Fatal("d3's unreferenced message still in the log")
	}
	if _, ok := ws.msgs[g1.MsgID]; ok || len(ws.routesOf("rp-gone")) != 0 || len(ws.inbound) != 0 || len(ws.retained) != 0 {
		t.Fatalf("dangling records still in the log: routes %s, inbound %v, retained %v", ws.describeRoutes(), ws.inbound, ws.retained)
	}
	for _, s := range ws.subs {
		if s.ClientID != "rp-sub" {
			t.Fatalf("subscription of a dropped or expired session still in the log: %+v", s)
		}
	}

	// Both messages of the shared id are delivered: d1 resent under it,
	// d2 as a new PUBLISH under another.
	sub = w.dial()
	sub.connect("rp-sub", false, 0, nil, true)
	r1 := sub.expectPub("d1", 2)
	r2 := sub.expectPub("d2", 2)
	if !r1.dup || r1.id != p1.id || r2.dup || r2.id == p1.id {
		t.Fatalf("after recovery: d1 dup=%v id=%d, d2 dup=%v id=%d; want d1 resent as id %d, d2 new under another id", r1.dup, r1.id, r2.dup, r2.id, p1.id)
	}
	sub.complete(r1)
	sub.complete(r2)
	sub.ping("after d1 and d2")
	exp = w.dial()
	c := rawConnectV5("rp-exp", &packets.Properties{SessionExpiryInterval: u32p(3600)})
	c.CleanStart = false
	if ca := exp.connectV5(c); ca.SessionPresent {
		t.Fatal("the expired session was resumed")
	}

	// The repairs were committed: nothing is dropped a second time.
	if rs := w.restart(); rs.Dropped != 0 || rs.Expired != 0 {
		t.Fatalf("second recovery %+v, want nothing dropped or expired", rs)
	}
}

// TestWALRecoverErrors checks that Recover refuses a log it cannot read:
// an unknown record kind, a record whose value does not decode, and stored
// 5.0 properties cut short; that it reports a failed commit of its
// repairs; and that without a store it does nothing.
func TestWALRecoverErrors(t *testing.T) {
	if rs, err := NewServer(Options{Logger: discardLogger()}).Recover(); err != nil || rs != (RecoveryStats{}) {
		t.Fatalf("Recover without a store: %+v, %v", rs, err)
	}
	cases := []struct {
		name  string
		kind  flashstore.Kind
		value []byte
		want  string
	}{
		{"unknown kind", 42, []byte{0x80}, "unknown record kind"},
		{"route not msgp", flashstore.KindRoute, []byte{0xc1}, "route"},
		{"session not msgp", flashstore.KindSession, []byte{0xc1}, "session"},
		{"message props cut short", flashstore.KindMessage, func() []byte {
			m := flashstore.Message{ID: 1, Topic: "a", QoS: 1, Props: []byte{0x30, 0x7f}}
			b, _ := m.MarshalMsg(nil)
			return b
		}(), "message"},
	}
	t.Run("repair commit fails", func(t *testing.T) {
		l, _, err := flashstore.Open(flashstore.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var b flashstore.Batch
		putMsg(t, &b, flashstore.KindSubscription, []byte("nobody\x00a/b"), &flashstore.Subscription{ClientID: "nobody", Filter: "a/b", QoS: 1})
		if err := l.Commit(&b); err != nil {
			t.Fatal(err)
		}
		st := &walStore{log: l, ended: make(chan struct{})}
		st.failNext(errInjected)
		if _, err := NewServer(Options{Store: st, Logger: discardLogger()}).Recover(); err != errInjected {
			t.Fatalf("Recover whose removal of a dangling subscription fails: %v, want %v", err, errInjected)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, _, err := flashstore.Open(flashstore.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var b flashstore.Batch
			b.Put(tc.kind, []byte("k"), tc.value)
			if err := l.Commit(&b); err != nil {
				t.Fatal(err)
			}
			_, err = NewServer(Options{Store: l, Logger: discardLogger()}).Recover()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recover: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// storeRecord is a flashstore record type (for tests that edit a log).
type storeRecord interface {
	UnmarshalMsg([]byte) ([]byte, error)
	MarshalMsg([]byte) ([]byte, error)
}

// mustUnmarshal decodes a record value.
func mustUnmarshal(t testing.TB, r storeRecord, value []byte) {
	t.Helper()
	if _, err := r.UnmarshalMsg(value); err != nil {
		t.Fatal(err)
	}
}

// putMsg adds r under kind and key to b.
func putMsg(t testing.TB, b *flashstore.Batch, kind flashstore.Kind, key []byte, r storeRecord) {
	t.Helper()
	v, err := r.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Put(kind, key, v)
}
