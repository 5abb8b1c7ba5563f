package mqtt

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"gatemq/flashstore"
)

// TestBodyCache keeps the newest bodies within its byte budget, evicting
// the oldest first, and never keeps a body larger than the whole cache.
func TestBodyCache(t *testing.T) {
	c := bodyCache{max: 300}
	mk := func(id uint64, n int) *Message {
		m := newMessage([]byte("t"), make([]byte, n-1), 1, false, "")
		m.ID = id
		return m
	}
	for id := uint64(1); id <= 4; id++ {
		c.put(mk(id, 100))
	}
	if c.get(1) != nil || c.get(2) == nil || c.get(4) == nil {
		t.Fatalf("after 4 puts of 100 B in 300 B: 1 cached %v, 2 %v, 4 %v", c.get(1) != nil, c.get(2) != nil, c.get(4) != nil)
	}
	if n, b := c.len(); n != 3 || b != 300 {
		t.Fatalf("cache holds %d bodies, %d bytes; want 3, 300", n, b)
	}
	c.put(mk(5, 301))
	if c.get(5) != nil {
		t.Fatal("a body larger than the cache was kept")
	}
	c.put(mk(6, 250))
	if n, b := c.len(); n != 1 || b != 250 || c.get(6) == nil {
		t.Fatalf("after a 250 B put: %d bodies, %d bytes", n, b)
	}
	for id := uint64(10); id < 1000; id++ { // the FIFO's head is reclaimed
		c.put(mk(id, 10))
	}
	if len(c.order)-c.head > 30 || cap(c.order) > 4096 {
		t.Fatalf("FIFO holds %d ids (cap %d) for %d bodies", len(c.order)-c.head, cap(c.order), len(c.byID))
	}
}

// TestOutMsgForms: a delivery is a pointer and 8 bytes (16 bytes, 12 on
// 32-bit boards), and keeps what it says about its message (body,
// durable identity, subscription identifiers, shared group) as it goes
// cold and hot again, with or without an outMore; the outMore a copy
// shares is never changed.
func TestOutMsgForms(t *testing.T) {
	if n, want := unsafe.Sizeof(outMsg{}), unsafe.Sizeof(uintptr(0))+8; n > want {
		t.Fatalf("outMsg is %d bytes, want %d", n, want)
	}
	m := newMessage([]byte("a/b"), []byte("xyz"), 1, false, "")
	m.ID = 7
	sm := m.durable()
	sm.swapOnLog(true)
	for _, withMore := range []bool{false, true} {
		om := hotOut(m)
		om.subID, om.retain = 9, true
		if withMore {
			om.setMore(&outMore{group: "g", subIDs: []uint32{9, 10}})
		}
		check := func(when string, cold bool) {
			t.Helper()
			if om.cold() != cold || (om.msg() == m) == cold || om.stored() != sm || om.id() != 7 || om.size() != 6 ||
				om.subID != 9 || !om.retain || (om.group() == "g") != withMore || (om.more() != nil) != withMore {
				t.Fatalf("more %v, %s: cold %v, msg %p, stored %p, id %d, size %d, subID %d, group %q", withMore, when,
					om.cold(), om.msg(), om.stored(), om.id(), om.size(), om.subID, om.group())
			}
			if withMore && (len(om.more().subIDs) != 2 || om.more().body != om.body()) {
				t.Fatalf("more %v, %s: outMore %+v", withMore, when, *om.more())
			}
		}
		check("hot", false)
		kept := om
		om.chill()
		check("chilled", true)
		if kept.cold() || kept.msg() != m || withMore && kept.more().body != unsafe.Pointer(m) {
			t.Fatal("chill changed a copy")
		}
		cold := om
		om.setMsg(m)
		check("warmed", false)
		if !cold.cold() || cold.stored() != sm || cold.msg() != nil {
			t.Fatal("setMsg changed a copy")
		}
		if c := coldOut(sm); !c.cold() || c.stored() != sm || c.msg() != nil || c.more() != nil {
			t.Fatal("coldOut")
		}
	}
}

// queueTemps counts a session's queued deliveries with their body in RAM
// (hot) and without (cold).
func queueTemps(srv *Server, id string) (hot, cold int) {
	return sessionTemps(srv, id, func(ss *session, count func(outMsg)) {
		ss.out.UpdateQueued(func(om *outMsg) { count(*om) })
	})
}

// sessionTemps counts the deliveries of session id that visit hands to
// count: those whose body is in RAM (hot) and those that keep only their
// storedMsg (cold). visit runs under the session's lock.
func sessionTemps(srv *Server, id string, visit func(ss *session, count func(outMsg))) (hot, cold int) {
	srv.sessMu.Lock()
	ss := srv.sessions[id]
	srv.sessMu.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	visit(ss, func(om outMsg) {
		if om.cold() {
			cold++
		} else {
			hot++
		}
	})
	return hot, cold
}

// publishN publishes n QoS 1 messages "m0".."m<n-1>" (padded to size
// bytes) to topic from the broker itself.
func publishN(t testing.TB, srv *Server, topic string, n, size int) {
	t.Helper()
	for i := range n {
		p := fmt.Sprintf("m%d", i)
		if len(p) < size {
			p += strings.Repeat(".", size-len(p))
		}
		if err := srv.Publish(topic, []byte(p), 1, false); err != nil {
			t.Fatal(err)
		}
	}
}

// drainN reads n QoS 1/2 PUBLISHes in order ("m0".. padded to size) and
// completes each.
func drainN(r *rawConn, from, n, size int, qos byte) {
	r.t.Helper()
	for i := from; i < from+n; i++ {
		p := fmt.Sprintf("m%d", i)
		if len(p) < size {
			p += strings.Repeat(".", size-len(p))
		}
		r.complete(r.expectPub(p, qos))
	}
}

// TestColdQueue: messages queued for an offline persistent session keep
// only their storedMsg in RAM, before and after a restart, and are
// delivered in order, read back from the log, when the client returns;
// then nothing of them is left in the store.
func TestColdQueue(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	r := w.persistentSub("cold", 1, "q/#")
	r.leave()
	w.waitOfflineN(1)
	publishN(t, w.srv, "q/a", 50, 0)
	if hot, cold := queueTemps(w.srv, "cold"); hot != 0 || cold != 50 {
		t.Fatalf("offline queue: %d hot, %d cold; want 0, 50", hot, cold)
	}
	rs := w.restart()
	if rs.Routes != 50 || rs.Messages != 50 {
		t.Fatalf("recovered %+v, want 50 routes and messages", rs)
	}
	if hot, cold := queueTemps(w.srv, "cold"); hot != 0 || cold != 50 {
		t.Fatalf("recovered queue: %d hot, %d cold; want 0, 50", hot, cold)
	}
	r = w.dial()
	r.connect("cold", false, 0, nil, true)
	drainN(r, 0, 50, 0, 1)
	w.leaveDrained(r, "cold")
}

// leaveDrained has r, which has drained session id, disconnect, and checks
// that nothing of the session's messages is left in the store.
func (w *walBroker) leaveDrained(r *rawConn, id string) {
	w.t.Helper()
	r.ping("after the drain")
	r.leave()
	w.waitOfflineN(1)
	ws := durable(w.t, w.st)
	if len(ws.routesOf(id)) != 0 || len(ws.msgs) != 0 {
		w.t.Fatalf("after the drain the log holds %s and %d messages", ws.describeRoutes(), len(ws.msgs))
	}
}

// TestHotQueueBound: a connected persistent subscriber that does not keep
// up holds at most HotQueue bodies in RAM; the rest of its queue is cold,
// and it all arrives in order.
func TestHotQueueBound(t *testing.T) {
	w := startWAL(t, Options{HotQueue: 4, MaxInflight: 2}, flashstore.Options{})
	r := w.persistentSub("slow", 1, "q/#")
	publishN(t, w.srv, "q/a", 20, 0)
	// How many stay hot depends on when the writer took the first two
	// into flight (a message queued while four were hot went cold, and
	// stays cold); the bound does not.
	var hot, cold int
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if hot, cold = queueTemps(w.srv, "slow"); hot+cold != 18 {
			return fmt.Errorf("%d queued, want 18 (two in flight)", hot+cold)
		}
		return nil
	})
	if hot > 4 || hot == 0 {
		t.Fatalf("queue of a slow subscriber: %d hot, %d cold; want 1 to 4 hot", hot, cold)
	}
	drainN(r, 0, 20, 0, 1)
}

// TestColdQueueConnectedCached: the cold part of a connected subscriber's
// queue keeps its bodies within reach in the shared body cache, so they
// are sent without reading the log; an offline session's queue still
// leaves everything on flash and reads it back.
func TestColdQueueConnectedCached(t *testing.T) {
	w := startWAL(t, Options{HotQueue: 4, MaxInflight: 2}, flashstore.Options{})
	var reads atomic.Int64
	w.st.mu.Lock()
	w.st.getHook = func(kind flashstore.Kind, key []byte) error {
		if kind == flashstore.KindMessage {
			reads.Add(1)
		}
		return nil
	}
	w.st.mu.Unlock()
	r := w.persistentSub("slow", 1, "q/#")
	publishN(t, w.srv, "q/a", 20, 0)
	if hot, cold := queueTemps(w.srv, "slow"); hot != 4 || cold != 14 {
		t.Fatalf("queue of a slow subscriber: %d hot, %d cold; want 4, 14", hot, cold)
	}
	if st := w.srv.Stats(); st.CachedBodies != 14 {
		t.Fatalf("%d bodies cached, want the 14 cold ones", st.CachedBodies)
	}
	drainN(r, 0, 20, 0, 1)
	if n := reads.Load(); n != 0 {
		t.Fatalf("a connected subscriber's cold queue read %d bodies from the log, want 0", n)
	}

	r.leave()
	w.waitOfflineN(1)
	publishN(t, w.srv, "q/b", 5, 0)
	if st := w.srv.Stats(); st.CachedBodies != 14 {
		t.Fatalf("%d bodies cached after queueing for an offline session, want still 14", st.CachedBodies)
	}
	r = w.dial()
	r.connect("slow", false, 0, nil, true)
	for i := range 5 {
		r.complete(r.expectPub(fmt.Sprintf("m%d", i), 1))
	}
	if n := reads.Load(); n != 5 {
		t.Fatalf("an offline session's queue read %d bodies from the log, want 5", n)
	}
}

// TestUnreadableBody: a queued message whose record cannot be read back
// is dropped alone, logged and counted; the others arrive, and its route
// leaves the log.
func TestUnreadableBody(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	r := w.persistentSub("c", 1, "q/#")
	r.leave()
	w.waitOfflineN(1)
	publishN(t, w.srv, "q/a", 5, 0)
	w.restart()
	bad := durable(t, w.st).routesOf("c")[2].MsgID
	w.st.mu.Lock()
	w.st.getHook = func(kind flashstore.Kind, key []byte) error {
		if kind == flashstore.KindMessage && binary.BigEndian.Uint64(key) == bad {
			return &flashstore.CorruptError{File: "test.seg", Reason: "made up by the test"}
		}
		return nil
	}
	w.st.mu.Unlock()
	r = w.dial()
	r.connect("c", false, 0, nil, true)
	for _, p := range []string{"m0", "m1", "m3", "m4"} {
		r.complete(r.expectPub(p, 1))
	}
	r.ping("after the four readable messages")
	if n := w.srv.Stats().BodiesUnreadable; n != 1 {
		t.Fatalf("BodiesUnreadable = %d, want 1", n)
	}
	r.leave()
	w.waitOfflineN(1)
	if routes := durable(t, w.st).routesOf("c"); len(routes) != 0 {
		t.Fatalf("routes left: %+v", routes)
	}
}

// TestMaxSessionQueuedBytes: max_queued_bytes bounds an offline session's
// queue by the bytes of its messages, as Mosquitto counts them (a message
// is taken while the queue holds less than the bound); the rest is
// dropped and counted, and the count survives a restart.
func TestMaxSessionQueuedBytes(t *testing.T) {
	w := startWAL(t, Options{MaxSessionQueuedBytes: 450}, flashstore.Options{})
	r := w.persistentSub("c", 1, "q/#")
	r.leave()
	w.waitOfflineN(1)
	publishN(t, w.srv, "q/a", 10, 97) // 3 + 97 = 100 bytes each
	st := w.srv.Stats()
	if st.Queued != 5 || st.QueuedBytes != 500 || st.PublishDropped != 5 {
		t.Fatalf("queued %d (%d B), dropped %d; want 5 (500 B), 5", st.Queued, st.QueuedBytes, st.PublishDropped)
	}
	w.restart()
	if st := w.srv.Stats(); st.Queued != 5 || st.QueuedBytes != 500 {
		t.Fatalf("after a restart: queued %d (%d B); want 5 (500 B)", st.Queued, st.QueuedBytes)
	}
	r = w.dial()
	r.connect("c", false, 0, nil, true)
	drainN(r, 0, 5, 97, 1)
	r.ping("after the drain")
	if st := w.srv.Stats(); st.QueuedBytes != 0 {
		t.Fatalf("QueuedBytes = %d after the drain", st.QueuedBytes)
	}
}

// TestQueuedRAMPerMessage measures the heap a queued message costs an
// offline persistent session, 64 B and 1 KiB payloads: before bodies
// stayed on flash it was 461 B and 1,578 B (the store's index included);
// with bodies on flash 156 B, of which the broker's own part 63 B (a
// 40-byte queue entry, a quarter of the queue's buffer unused, the
// 16-byte storedMsg); then 123 B, of which the store's index 87 B (two
// keys, message and route, at about 40 B each in its hash table) and
// the broker 36 B: a 17-byte entry (a 16-byte outMsg and its QoS byte,
// in blocks of 1024) and the storedMsg. Since message and route keys
// are kept in sorted runs (flashstore/seqindex.go, 20 B a key), 79 B,
// of which the index 41 B. Since a sorted run's slot is 12 bytes
// (flashstore/seqslot.go: counter and segment as deltas, older Puts
// aside), 61 B, of which the index 25 B and the broker 36 B. Bounds: the
// broker's own part at most 38 B, the index at most 28 B, the whole at
// most 64 B, whatever the payload size.
//
// With the message queued for several sessions the figure is per
// delivery (-v prints it): each delivery costs its route key and its
// queue entry, and the message key and storedMsg are shared: 2
// sessions 47 B (58 B, then 60 B, before 12-byte slots), 10 sessions
// 35 B (42 B, then 45 B).
func TestQueuedRAMPerMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 2 × 20,000 messages")
	}
	for _, c := range []struct{ size, sessions, max int }{{64, 1, 64}, {1024, 1, 64}, {64, 2, 50}, {64, 10, 38}} {
		t.Run(fmt.Sprintf("%dB-%dsessions", c.size, c.sessions), func(t *testing.T) {
			n := 20000 / c.sessions
			w := startWAL(t, Options{}, flashstore.Options{Sync: flashstore.SyncNone})
			for i := range c.sessions {
				r := w.persistentSub(fmt.Sprint("ram", i), 1, "q/#")
				r.leave()
				w.waitOfflineN(int64(i + 1))
			}
			heap := func() uint64 {
				var ms runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			before, idxBefore := heap(), w.log.Stats().IndexBytes
			publishN(t, w.srv, "q/a", n, c.size)
			after, idxAfter := heap(), w.log.Stats().IndexBytes
			d := float64(n * c.sessions) // deliveries
			per := (float64(after) - float64(before)) / d
			idx := float64(idxAfter-idxBefore) / d
			t.Logf("heap per queued delivery of a %d B message to %d sessions: %.0f B, of which the store's index %.0f B, the broker %.0f B",
				c.size, c.sessions, per, idx, per-idx)
			if per > float64(c.max) || c.sessions == 1 && (per-idx > 38 || idx > 28) {
				t.Fatalf("heap per queued delivery %.0f B (index %.0f B, broker %.0f B), want at most %d (28, 38)", per, idx, per-idx, c.max)
			}
			if st := w.srv.Stats(); st.Queued != int64(n*c.sessions) {
				t.Fatalf("queued %d, want %d", st.Queued, n*c.sessions)
			}
		})
	}
}

// inflightTemps counts the in-flight deliveries of session id whose body
// is in RAM (hot) and those that keep only their storedMsg (cold).
func inflightTemps(srv *Server, id string) (hot, cold int) {
	return sessionTemps(srv, id, func(ss *session, count func(outMsg)) {
		for _, d := range ss.out.Resume() {
			count(d.Msg)
		}
	})
}

// TestInflightKeepsNoBody: a connected persistent subscriber's in-flight
// deliveries keep no body in RAM, whatever the window, so a slow
// subscriber with a wide window holds no more than its hot queue; when it
// comes back its in-flight messages are resent from the log, as DUPs
// under their ids, with their payloads, at QoS 1 and 2, then the rest.
func TestInflightKeepsNoBody(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			w := startWAL(t, Options{MaxInflight: 4}, flashstore.Options{})
			r := w.persistentSub("slow", qos, "q/#")
			for i := range 10 {
				if err := w.srv.Publish("q/a", []byte(fmt.Sprintf("m%d", i)), qos, false); err != nil {
					t.Fatal(err)
				}
			}
			first := make([]rawPub, 4)
			for i := range first {
				first[i] = r.expectPub(fmt.Sprintf("m%d", i), qos)
			}
			if hot, cold := inflightTemps(w.srv, "slow"); hot != 0 || cold != 4 {
				t.Fatalf("in flight: %d hot, %d cold; want 0 hot, 4 cold", hot, cold)
			}
			r.c.Close() // gone without DISCONNECT and without acknowledging
			w.waitOfflineN(1)

			r = w.dial()
			r.connect("slow", false, 0, nil, true)
			for i, p := range first {
				again := r.expectPub(fmt.Sprintf("m%d", i), qos)
				if !again.dup || again.id != p.id {
					t.Fatalf("resend of m%d: dup %v id %d, want dup under id %d", i, again.dup, again.id, p.id)
				}
			}
			// The window is full until these are acknowledged, so nothing
			// else arrives in between.
			for _, p := range first {
				if qos == 1 {
					r.send(ackPkt(tPUBACK, p.id))
					continue
				}
				r.send(ackPkt(tPUBREC, p.id))
				r.expectAck(tPUBREL, p.id)
			}
			if qos == 2 {
				for _, p := range first {
					r.send(ackPkt(tPUBCOMP, p.id))
				}
			}
			// The rest, four at a time: acknowledged as they come.
			for next, releases := 4, 0; next < 10 || releases > 0; {
				pk := r.read()
				if pk.typ == tPUBREL {
					r.send(ackPkt(tPUBCOMP, pk.id()))
					releases--
					continue
				}
				p := pk.publish(t)
				if want := fmt.Sprintf("m%d", next); p.payload != want || p.qos != qos || p.dup {
					t.Fatalf("got %q qos %d dup %v, want %q qos %d", p.payload, p.qos, p.dup, want, qos)
				}
				next++
				if qos == 1 {
					r.send(ackPkt(tPUBACK, p.id))
				} else {
					r.send(ackPkt(tPUBREC, p.id))
					releases++
				}
			}
			w.leaveDrained(r, "slow")
		})
	}
}
