package mqtt

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"gatemq/flashstore"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// The connection's store pipeline: a publisher that writes many PUBLISHes
// back to back has them made durable together (one commit while another
// runs) and gets its acknowledgements in the order of its packets
// [MQTT-4.6.0-2..4]; removals after PUBACK/PUBCOMP ride along with later
// commits.

// pipelinedQoS is the QoS of the i-th pipelined message (1-based):
// alternately 1 and 2.
func pipelinedQoS(i int) byte { return byte(2 - i%2) }

// TestWALPipelinedAcksInOrder writes 60 QoS 1/2 PUBLISHes in one burst
// while the first one's commit is held: the reader goes on and reads all
// of them, the other 59 are committed together by one commit, and the
// PUBACKs/PUBRECs come in PUBLISH order; likewise the PUBCOMPs of 30
// pipelined PUBRELs. The subscriber then gets all 60, in order, once.
func TestWALPipelinedAcksInOrder(t *testing.T) {
	const n = 60
	w := startWAL(t, Options{}, flashstore.Options{})
	w.persistentSub("pl-sub", 2, "pl/#").leave()
	w.waitOfflineN(1)
	pub := w.dial()
	pub.connect("pl-pub", false, 0, nil, false)

	var burst []byte
	for i := 1; i <= n; i++ {
		burst = append(burst, publishPkt("pl/t", pipelinedQoS(i), false, false, uint16(i), strconv.Itoa(i))...)
	}
	held, cc := heldThenCounted(t, w, pub, burst)
	for i := 1; i <= n; i++ {
		ack := byte(tPUBACK)
		if pipelinedQoS(i) == 2 {
			ack = tPUBREC
		}
		pub.expectAck(ack, uint16(i))
	}
	// The messages that came while the first commit was held, their
	// routes and inbound ids: one commit (none if the first took all).
	checkOneMore(t, held, cc.counted(), 2*n+n/2)
	w.st.setHook(nil)

	var rels []byte
	for i := 2; i <= n; i += 2 {
		rels = append(rels, ackPkt(tPUBREL, uint16(i))...)
	}
	held, cc = heldThenCounted(t, w, pub, rels)
	for i := 2; i <= n; i += 2 {
		pub.expectAck(tPUBCOMP, uint16(i))
	}
	checkOneMore(t, held, cc.counted(), n/2)
	w.st.setHook(nil)
	if ws := durable(t, w.st); len(ws.inboundOf("pl-pub")) != 0 || len(ws.routesOf("pl-sub")) != n {
		t.Fatalf("after the exchanges: inbound %v and %d routes, want none and %d", ws.inboundOf("pl-pub"), len(ws.routesOf("pl-sub")), n)
	}

	sub := w.dial()
	sub.connect("pl-sub", false, 0, nil, true)
	got := make([]rawPub, 0, n)
	for i := 1; i <= n; i++ {
		got = append(got, sub.expectPub(strconv.Itoa(i), pipelinedQoS(i)))
	}
	for _, p := range got {
		if p.qos == 1 {
			sub.send(ackPkt(tPUBACK, p.id))
		} else {
			sub.send(ackPkt(tPUBREC, p.id))
		}
	}
	for _, p := range got {
		if p.qos == 2 {
			sub.expectAck(tPUBREL, p.id)
			sub.send(ackPkt(tPUBCOMP, p.id))
		}
	}
	sub.ping("after all 60 messages")
}

// commitCounter records the record count of every commit.
type commitCounter struct {
	mu    sync.Mutex
	sizes []int
}

// counted returns the record counts so far.
func (c *commitCounter) counted() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.sizes...)
}

// heldThenCounted sends burst and a PINGREQ with every commit held, waits
// for the first commit to reach the store, waits until the broker has read
// the whole burst (a QoS 0 probe after it, which answers nothing, is
// counted only once the burst's last packet was handled), then lets that
// commit go and counts the commits that follow. Once the caller has read
// the last acknowledgement of the burst, every commit it waited for is
// counted.
func heldThenCounted(t *testing.T, w *walBroker, r *rawConn, burst []byte) (held int, c *commitCounter) {
	t.Helper()
	g := w.st.hold()
	base := w.srv.Stats().MessagesReceived
	r.send(burst, publishPkt("probe/nobody", 0, false, false, 0, "probe"))
	held = g.waitEntered(t)
	want := base + uint64(countPackets(t, burst)) + 1
	checkFor(t, waitTime, time.Millisecond, func() error {
		if got := w.srv.Stats().MessagesReceived; got < want {
			return fmt.Errorf("the broker read %d packets of the burst and probe, want %d", got-base, want-base)
		}
		return nil
	})
	r.silent("while the first commit was held")
	c = &commitCounter{}
	w.st.setHook(func(b *flashstore.Batch) error {
		c.mu.Lock()
		c.sizes = append(c.sizes, b.Len())
		c.mu.Unlock()
		return nil
	})
	g.pass(t)
	return held, c
}

// checkOneMore checks that a burst of total records was committed by the
// held commit and at most one more.
func checkOneMore(t *testing.T, held int, more []int, total int) {
	t.Helper()
	sum := held
	for _, k := range more {
		sum += k
	}
	if len(more) > 1 || sum != total {
		t.Errorf("burst of %d records committed as %d (held) then %v, want at most one commit after the held one, %d records in all", total, held, more, total)
	}
}

// TestWALLazyRemovals checks that the removal of a completed delivery
// costs no commit of its own: a PUBACK alone commits nothing, the removals
// ride along with the next commit, or go by themselves once 64 records
// are waiting, and at the latest when the connection ends.
func TestWALLazyRemovals(t *testing.T) {
	const n = 70
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := w.persistentSub("lz-sub", 1, "lz/#")
	for i := 1; i <= n; i++ {
		if err := w.srv.Publish("lz/t", []byte(strconv.Itoa(i)), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	ps := make([]rawPub, n)
	for i := range ps {
		ps[i] = sub.expectPub(strconv.Itoa(i+1), 1)
	}
	g := w.st.hold()
	sub.send(ackPkt(tPUBACK, ps[0].id))
	sub.ping("after one PUBACK")
	g.expectNoCommit(t, "one PUBACK")
	g.open()
	if len(durable(t, w.st).routesOf("lz-sub")) != n {
		t.Fatal("a lone removal reached the log")
	}
	// Each removal is two records (the route and, with its last route,
	// the message): at the 32nd, 64 records wait and go by themselves.
	var acks []byte
	for _, p := range ps[1:64] {
		acks = append(acks, ackPkt(tPUBACK, p.id)...)
	}
	sub.send(acks)
	sub.ping("after 64 PUBACKs")
	checkFor(t, waitTime, 2*time.Millisecond, func() error {
		if k := len(durable(t, w.st).routesOf("lz-sub")); k > n-32 {
			return fmt.Errorf("%d routes durable, want at most %d", k, n-32)
		}
		return nil
	})
	// A removal rides along with the connection's next commit: the
	// subscriber's own QoS 1 PUBLISH to an offline session.
	sub.send(ackPkt(tPUBACK, ps[64].id))
	w.persistentSub("lz-off", 1, "lz2/#").leave()
	sub.send(publishPkt("lz2/x", 1, false, false, 1, "ride"))
	sub.expectAck(tPUBACK, 1)
	if k := len(durable(t, w.st).routesOf("lz-sub")); k != n-65 {
		t.Fatalf("%d routes durable after the next commit, want %d", k, n-65)
	}
	// The rest go when the connection ends.
	for _, p := range ps[65:] {
		sub.send(ackPkt(tPUBACK, p.id))
	}
	sub.leave()
	w.waitOfflineN(2)
	if k := len(durable(t, w.st).routesOf("lz-sub")); k != 0 {
		t.Fatalf("%d routes durable after the connection ended, want 0", k)
	}
}

// TestWALPahoPipelined has a Paho (3.1.1) publisher send 100 QoS 1 and
// QoS 2 messages without waiting for each to complete, on a persistent
// session with the log underneath; a persistent Paho subscriber gets them
// all, in order, once, and after a restart nothing is left in the log
// but the two sessions and the subscription.
func TestWALPahoPipelined(t *testing.T) {
	const n = 100
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := connectPaho(t, pahoOpts(w.tb, "pp-sub").SetCleanSession(false))
	sub.sub(t, "pp/#", 2)
	pub := connectPaho(t, pahoOpts(w.tb, "pp-pub").SetCleanSession(false))
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = pub.Publish("pp/t", pipelinedQoS(i+1), false, strconv.Itoa(i+1))
	}
	for i, tok := range toks {
		wait(t, fmt.Sprintf("publish %d", i+1), tok)
	}
	got := sub.col.waitN(t, n)
	for i, m := range got {
		if m.payload != strconv.Itoa(i+1) || m.qos != pipelinedQoS(i+1) {
			t.Fatalf("message %d: %v, want %d at QoS %d", i, m, i+1, pipelinedQoS(i+1))
		}
	}
	// Paho completes the last QoS 2 exchanges after handing the messages
	// over; the broker counts what is still in flight.
	checkFor(t, waitTime, 2*time.Millisecond, func() error {
		if st := w.srv.Stats(); st.Inflight != 0 || st.Queued != 0 {
			return fmt.Errorf("%d in flight, %d queued", st.Inflight, st.Queued)
		}
		return nil
	})
	sub.Disconnect(250)
	pub.Disconnect(250)
	w.waitOfflineN(2)
	rs := w.restart()
	if rs.Sessions != 2 || rs.Subscriptions != 1 || rs.Routes != 0 || rs.Messages != 0 || rs.Inbound != 0 {
		t.Fatalf("recovered %+v, want 2 sessions and 1 subscription only", rs)
	}
	if got := sub.col.all(); len(got) != n {
		t.Fatalf("subscriber got %d messages, want %d", len(got), n)
	}
}

// countPackets counts the MQTT packets in b (fixed header, remaining
// length, body).
func countPackets(t testing.TB, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		rem, size, ok := readVBI(b[1:])
		if !ok || len(b) < 1+size+rem {
			t.Fatalf("malformed burst at packet %d", n)
		}
		b = b[1+size+rem:]
		n++
	}
	return n
}
