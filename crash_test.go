package main

// Durability proofs: the real gatemq binary is SIGKILLed and restarted on
// the same data folder and port many times while Paho clients stream
// numbered messages through it, and the subscriber must end up with every
// number exactly once (QoS 2) or at least once (QoS 1).
//
// Paho (paho.mqtt.golang v1.5.1) is not a conforming QoS 2 peer across
// reconnects, so both clients talk through a tapConn (crash_helpers_test.go):
//   - as a receiver, Paho hands every PUBLISH to the application, also a
//     retransmission of a packet id it has already PUBRECed and not yet seen
//     PUBREL for, which [MQTT-4.3.3-10] forbids. The subscriber's tap is the
//     receiver of record: it delivers by Method B (a PUBLISH whose id awaits
//     PUBREL is not delivered again). What Paho's handler saw is reported too.
//   - as a sender, Paho keeps the PUBLISH (not the PUBREL) in its store
//     after PUBREC and resends the PUBLISH after a reconnect, which
//     [MQTT-4.3.3-6] forbids (paho.mqtt.golang #788): a broker that had
//     already answered PUBCOMP would take it as a new message. The
//     publisher's tap sends PUBREL in its place, and drops a resend of an
//     exchange whose PUBCOMP already arrived. Both are counted and reported.
// Every packet of both clients and every broker kill is kept in a trace
// that is written to a file when a test fails.
//
// GATEMQ_CRASH_SEED=N replays a run's kill schedule; GATEMQ_CRASH_VERBOSE=1
// runs the broker with -v; GATEMQ_CRASH_RAW_PAHO=1 turns the publisher's
// fix-ups off (to see what Paho alone does); -short runs a smaller stream.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestCrashQoS2ExactlyOnce(t *testing.T) {
	r := runCrashStream(t, crashSpec{qos: 2, messages: 10000, kills: 12})
	if len(r.lost) > 0 || len(r.dups) > 0 {
		t.Errorf("QoS 2 across %d broker kills: %d lost, %d delivered more than once (want 0 and 0); first lost %v, first duplicated %v",
			r.restarts, len(r.lost), len(r.dups), first(r.lost, 10), first(r.dups, 10))
	}
}

func TestCrashQoS1NoLoss(t *testing.T) {
	r := runCrashStream(t, crashSpec{qos: 1, messages: 10000, kills: 12})
	if len(r.lost) > 0 {
		t.Errorf("QoS 1 across %d broker kills: %d lost (want 0); first lost %v", r.restarts, len(r.lost), first(r.lost, 10))
	}
	if len(r.dups) > 0 {
		t.Logf("QoS 1 duplicates (allowed): %d numbers delivered more than once, %d extra copies; first %v",
			len(r.dups), r.extra, first(r.dups, 10))
	}
}

func first(s []int, n int) []int { return s[:min(n, len(s))] }

// crashSpec says what one crash stream does.
type crashSpec struct {
	qos      byte
	messages int
	kills    int
}

// crashResult is what a crash stream measured.
type crashResult struct {
	restarts int
	lost     []int // numbers the subscriber never received
	dups     []int // numbers received more than once
	extra    int   // copies beyond the first, over all numbers
}

// traceEvent is one packet on a client's connection or one broker event.
type traceEvent struct {
	at   time.Duration
	who  string // "pub", "sub" or "broker"
	conn int    // client connection number
	dir  string // "->" client to broker, "<-" broker to client
	pkt  string
	seq  int // the payload's number, -1 if none
	id   uint16
	note string
}

// wireTrace keeps every event of one test, in order.
type wireTrace struct {
	start time.Time
	mu    sync.Mutex
	ev    []traceEvent
}

func (w *wireTrace) add(who string, conn int, dir string, p wirePacket, note string) {
	e := traceEvent{at: time.Since(w.start), who: who, conn: conn, dir: dir, seq: -1, id: p.id, note: note}
	if p.typ == pktPUBLISH {
		e.pkt = fmt.Sprintf("PUBLISH q%d d%d id=%d", p.qos(), b2i(p.dup()), p.id)
		if n, err := strconv.Atoi(string(p.payload)); err == nil {
			e.seq = n
		}
	} else {
		e.pkt = p.String()
	}
	w.mu.Lock()
	w.ev = append(w.ev, e)
	w.mu.Unlock()
}

func (w *wireTrace) mark(note string) {
	w.mu.Lock()
	w.ev = append(w.ev, traceEvent{at: time.Since(w.start), who: "broker", seq: -1, note: note})
	w.mu.Unlock()
}

func (e traceEvent) String() string {
	if e.who == "broker" {
		return fmt.Sprintf("%9.3fs broker   %s", e.at.Seconds(), e.note)
	}
	s := fmt.Sprintf("%9.3fs %s#%-3d %s %s", e.at.Seconds(), e.who, e.conn, e.dir, e.pkt)
	if e.seq >= 0 {
		s += fmt.Sprintf(" seq=%d", e.seq)
	}
	if e.note != "" {
		s += "  // " + e.note
	}
	return s
}

// excerpt returns the events that explain what happened to number seq: the
// packets carrying it, every packet with the same id on the same side
// between its first and last appearance (plus a second), and broker events
// in that span.
func (w *wireTrace) excerpt(seq int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := map[string]bool{}
	var from, to time.Duration = -1, 0
	for _, e := range w.ev {
		if e.seq == seq {
			ids[e.who+strconv.Itoa(int(e.id))] = true
			if from < 0 {
				from = e.at
			}
			to = e.at
		}
	}
	if from < 0 {
		return fmt.Sprintf("number %d never appeared on the wire\n", seq)
	}
	to += time.Second
	var sb strings.Builder
	for _, e := range w.ev {
		if e.at < from || e.at > to {
			continue
		}
		if e.who == "broker" || e.seq == seq || (ids[e.who+strconv.Itoa(int(e.id))] && e.pkt != "" && !strings.HasPrefix(e.pkt, "PUBLISH")) {
			sb.WriteString(e.String())
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// dump writes the whole trace and the broker's logs to a file kept after
// the test and returns its path.
func (w *wireTrace) dump(name, brokerLogs string) string {
	f, err := os.CreateTemp("", "gatemq-"+name+"-*.trace")
	if err != nil {
		return "(trace not written: " + err.Error() + ")"
	}
	defer f.Close()
	w.mu.Lock()
	for _, e := range w.ev {
		fmt.Fprintln(f, e)
	}
	w.mu.Unlock()
	fmt.Fprint(f, "\n", brokerLogs)
	return f.Name()
}

// pubFixer makes Paho a conforming QoS 2 sender on the wire (see the file
// comment) and counts how often it had to.
type pubFixer struct {
	mu        sync.Mutex
	sent      map[uint16]string // payload of the last PUBLISH written per id
	released  map[uint16]string // PUBREL written, PUBCOMP not yet received
	completed map[uint16]string // PUBCOMP received: the exchange is over
	rewrites  int               // PUBLISH resends turned into PUBREL
	dropped   int               // resends of completed exchanges dropped
	off       bool              // GATEMQ_CRASH_RAW_PAHO=1: pass Paho's packets unchanged
}

func newPubFixer() *pubFixer {
	return &pubFixer{sent: map[uint16]string{}, released: map[uint16]string{}, completed: map[uint16]string{},
		off: os.Getenv("GATEMQ_CRASH_RAW_PAHO") == "1"}
}

func (f *pubFixer) outgoing(tr *wireTrace, conn int, p wirePacket) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, note := p.raw, ""
	switch {
	case f.off:
	case p.typ == pktPUBLISH && p.qos() == 2:
		pl := string(p.payload)
		if rel, ok := f.released[p.id]; ok && rel == pl {
			out, note = encAck(pktPUBREL, p.id), "Paho resent PUBLISH after its PUBREL [MQTT-4.3.3-6]: PUBREL sent instead"
			f.rewrites++
		} else if done, ok := f.completed[p.id]; ok && done == pl {
			out, note = nil, "Paho resent PUBLISH of a completed exchange: dropped"
			f.dropped++
		} else {
			f.sent[p.id] = pl
			delete(f.completed, p.id)
		}
	case p.typ == pktPUBREL:
		f.released[p.id] = f.sent[p.id]
	}
	tr.add("pub", conn, "->", p, note)
	return out
}

func (f *pubFixer) incoming(tr *wireTrace, conn int, p wirePacket) {
	f.mu.Lock()
	if p.typ == pktPUBCOMP {
		if pl, ok := f.released[p.id]; ok {
			f.completed[p.id] = pl
			delete(f.released, p.id)
		}
	}
	f.mu.Unlock()
	tr.add("pub", conn, "<-", p, "")
}

// subReceiver is the subscriber's receiver of record (see the file comment):
// it counts deliveries per number, QoS 2 by Method B.
type subReceiver struct {
	n           int
	mu          sync.Mutex
	awaiting    map[uint16]string // QoS 2 ids PUBRECed, PUBREL not yet seen
	counts      []int
	distinct    atomic.Int64
	total       atomic.Int64 // every PUBLISH seen, for the quiet check
	retransmits int
	connacks    atomic.Int64
	anomalies   []string
}

func newSubReceiver(n int) *subReceiver {
	return &subReceiver{n: n, awaiting: map[uint16]string{}, counts: make([]int, n)}
}

// settled reports whether no QoS 2 exchange awaits PUBREL.
func (s *subReceiver) settled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.awaiting) == 0
}

func (s *subReceiver) incoming(tr *wireTrace, conn int, p wirePacket) {
	note := ""
	s.mu.Lock()
	switch p.typ {
	case pktCONNACK:
		if s.connacks.Add(1) > 1 && p.body[0]&1 == 0 {
			s.anomalies = append(s.anomalies, fmt.Sprintf("connection %d: CONNACK without session present: the persistent session was lost", conn))
		}
	case pktPUBREL:
		delete(s.awaiting, p.id)
	case pktPUBLISH:
		s.total.Add(1)
		if p.qos() == 2 {
			if prev, ok := s.awaiting[p.id]; ok {
				s.retransmits++
				note = "retransmission of an id awaiting PUBREL: not delivered again"
				if prev != string(p.payload) {
					s.anomalies = append(s.anomalies, fmt.Sprintf("connection %d: id %d awaiting PUBREL for %q reused for %q", conn, p.id, prev, p.payload))
				}
				break
			}
			s.awaiting[p.id] = string(p.payload)
		}
		seq, err := strconv.Atoi(string(p.payload))
		if err != nil || seq < 0 || seq >= s.n {
			s.anomalies = append(s.anomalies, fmt.Sprintf("unexpected payload %q", p.payload))
			break
		}
		s.counts[seq]++
		if s.counts[seq] == 1 {
			s.distinct.Add(1)
		} else {
			note = fmt.Sprintf("DELIVERED AGAIN (copy %d)", s.counts[seq])
		}
	}
	s.mu.Unlock()
	tr.add("sub", conn, "<-", p, note)
}

// crashClient starts a Paho client with a persistent session, automatic
// reconnection and a memory store kept across reconnects, talking through
// a tapConn. It is disconnected in a cleanup.
func crashClient(t *testing.T, addr, id string, store paho.Store, handler paho.MessageHandler,
	onIn func(conn int, p wirePacket), onOut func(conn int, p wirePacket) []byte) paho.Client {
	t.Helper()
	var conns atomic.Int64
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetCleanSession(false).SetStore(store).SetOrderMatters(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetResumeSubs(true).
		SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second).SetKeepAlive(30 * time.Second)
	if handler != nil {
		o.SetDefaultPublishHandler(handler)
	}
	o.SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
		c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
		if err != nil {
			return nil, err
		}
		n := int(conns.Add(1))
		return &tapConn{Conn: c,
			onIn:  func(p wirePacket) { onIn(n, p) },
			onOut: func(p wirePacket) []byte { return onOut(n, p) }}, nil
	})
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// outboundCount returns how many messages Paho's store still holds for
// sending (keys "o.ID"): published, not yet completely acknowledged.
func outboundCount(s paho.Store) int {
	n := 0
	for _, k := range s.All() {
		if strings.HasPrefix(k, "o.") {
			n++
		}
	}
	return n
}

// crashSeed returns GATEMQ_CRASH_SEED or a fresh seed.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("GATEMQ_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GATEMQ_CRASH_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// runCrashStream streams spec.messages numbered messages from one Paho
// publisher to one Paho persistent subscriber through the broker, SIGKILLs
// and restarts the broker spec.kills times at random moments, lets the
// stream finish, kills and restarts once more to check that nothing comes
// back, and returns what the subscriber's receiver of record counted.
func runCrashStream(t *testing.T, spec crashSpec) crashResult {
	if testing.Short() {
		spec.messages, spec.kills = 2000, 4
	}
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	argv := []string{gatemqBinary(t), "-data", t.TempDir()}
	if os.Getenv("GATEMQ_CRASH_VERBOSE") == "1" {
		argv = append(argv, "-v")
	}
	b := newBrokerProc(t, argv...)
	b.mustStart(15 * time.Second)
	tr := &wireTrace{start: time.Now()}
	begin := time.Now()
	var res crashResult
	defer func() {
		if t.Failed() {
			t.Logf("seed %d (GATEMQ_CRASH_SEED=%d replays the kill schedule); trace and broker logs: %s", seed, seed, tr.dump(t.Name(), b.allLogs()))
		}
	}()

	n, q := spec.messages, spec.qos
	topic := fmt.Sprintf("crash/q%d", q)
	recv := newSubReceiver(n)
	var hmu sync.Mutex
	handlerCounts := make([]int, n)
	handler := func(_ paho.Client, m paho.Message) {
		if seq, err := strconv.Atoi(string(m.Payload())); err == nil && seq >= 0 && seq < n {
			hmu.Lock()
			handlerCounts[seq]++
			hmu.Unlock()
		}
	}
	sub := crashClient(t, b.addr, fmt.Sprintf("crash-sub-q%d", q), paho.NewOrderedMemoryStore(), handler,
		func(c int, p wirePacket) { recv.incoming(tr, c, p) },
		func(c int, p wirePacket) []byte { tr.add("sub", c, "->", p, ""); return p.raw })
	if tok := sub.Subscribe(topic, q, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	fix := newPubFixer()
	pubStore := paho.NewOrderedMemoryStore()
	pub := crashClient(t, b.addr, fmt.Sprintf("crash-pub-q%d", q), pubStore, nil,
		func(c int, p wirePacket) { fix.incoming(tr, c, p) },
		func(c int, p wirePacket) []byte { return fix.outgoing(tr, c, p) })

	// The killer: SIGKILL when the subscriber has received a random number
	// of messages within each of spec.kills equal slices of the stream,
	// after a random 0-20 ms, and restart after a random 0-30 ms.
	stop := make(chan struct{})
	killerDone := make(chan struct{})
	var killErr error
	go func() {
		defer close(killerDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		slice := float64(n) * 0.9 / float64(spec.kills)
		for i := 0; i < spec.kills; i++ {
			at := int64(float64(n)*0.05 + slice*(float64(i)+rng.Float64()))
			for recv.distinct.Load() < at {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
			time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
			b.kill()
			tr.mark(fmt.Sprintf("SIGKILL %d (subscriber had %d numbers)", i+1, recv.distinct.Load()))
			time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
			rec, err := b.start(15 * time.Second)
			if err != nil {
				killErr = err
				return
			}
			tr.mark("restarted: " + rec)
			res.restarts++
		}
	}()
	stopKiller := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-killerDone
		if killErr != nil {
			t.Fatalf("restarting the broker: %v", killErr)
		}
	}
	defer stopKiller()

	// The publisher keeps at most 100 messages in Paho's store (published,
	// not completely acknowledged); Paho resends them after reconnecting.
	// Paho's store, not its tokens, says what is acknowledged: when Paho
	// resends a stored message after a reconnect it completes the old
	// token without error (claimID), before any PUBCOMP.
	const window = 100
	deadline := time.Now().Add(3 * time.Minute)
	for seq := 0; seq < n; seq++ {
		for outboundCount(pubStore) >= window {
			if time.Now().After(deadline) {
				t.Fatalf("publisher stalled at %d with %d messages unacknowledged", seq, outboundCount(pubStore))
			}
			time.Sleep(time.Millisecond)
		}
		for {
			tok := pub.Publish(topic, q, false, strconv.Itoa(seq))
			select {
			case <-tok.Done():
				if err := tok.Error(); err == paho.ErrNotConnected || (err != nil && strings.Contains(err.Error(), "no message IDs")) {
					time.Sleep(10 * time.Millisecond) // not stored: publish again
					continue
				}
			default:
			}
			break
		}
	}

	// Let the stream finish: wait until the publisher's store is empty and
	// the subscriber has every number, or nothing moved for 10 s.
	last, lastMove := int64(-1), time.Now()
	for !(outboundCount(pubStore) == 0 && recv.distinct.Load() == int64(n) && recv.settled()) {
		if tot := recv.total.Load(); tot != last {
			last, lastMove = tot, time.Now()
		}
		if time.Since(lastMove) > 10*time.Second || time.Now().After(deadline) {
			t.Errorf("stream did not finish: subscriber has %d of %d numbers, publisher still holds %d", recv.distinct.Load(), n, outboundCount(pubStore))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopKiller()
	streamed := time.Since(begin)

	// One more kill once every exchange has reached PUBREL: at QoS 2 no
	// PUBLISH may be sent again (a PUBREL may, if the kill came before its
	// PUBCOMP was recorded); at QoS 1 a PUBACKed message may come again if
	// its removal was not durable yet. Resends happen right after CONNACK,
	// so half a second after the subscriber is back is enough to see them.
	before, acks := recv.total.Load(), recv.connacks.Load()
	b.kill()
	tr.mark("SIGKILL after the stream (quiet check)")
	tr.mark("restarted: " + b.mustStart(15*time.Second))
	for recv.connacks.Load() == acks {
		if time.Since(lastMove) > 30*time.Second {
			t.Fatal("subscriber did not reconnect after the last restart")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if after := recv.total.Load(); after != before {
		if q == 2 {
			t.Errorf("after a kill following the completed stream, the subscriber got %d more PUBLISH packets (want 0: every exchange had reached PUBREL)", after-before)
		} else {
			t.Logf("after a kill following the completed stream, %d PUBACKed messages came again (allowed at QoS 1: their removal was not durable yet)", after-before)
		}
	}
	pub.Disconnect(100)
	sub.Disconnect(100)
	if code, err := b.term(10 * time.Second); err != nil || code != 0 {
		t.Errorf("broker stop: exit %d, %v", code, err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	hmu.Lock()
	defer hmu.Unlock()
	handlerDups, handlerLost := 0, 0
	for seq, c := range recv.counts {
		switch {
		case c == 0:
			res.lost = append(res.lost, seq)
		case c > 1:
			res.dups = append(res.dups, seq)
			res.extra += c - 1
		}
		if handlerCounts[seq] == 0 {
			handlerLost++
		}
		handlerDups += max(handlerCounts[seq]-1, 0)
	}
	t.Logf("QoS %d: %d messages, %d SIGKILL+restarts during the stream (+1 after), lost %d, duplicated %d (%d extra copies), in %v (%.0f msg/s)",
		q, n, res.restarts, len(res.lost), len(res.dups), res.extra, streamed.Round(time.Millisecond), float64(n)/streamed.Seconds())
	t.Logf("receiver: %d retransmissions of ids awaiting PUBREL not delivered again; Paho's handler saw %d duplicates and missed %d",
		recv.retransmits, handlerDups, handlerLost)
	t.Logf("publisher fix-ups of Paho: %d PUBLISH resends after PUBREL sent as PUBREL, %d resends of completed exchanges dropped; seed %d",
		fix.rewrites, fix.dropped, seed)
	for _, a := range recv.anomalies {
		t.Errorf("subscriber: %s", a)
	}
	if res.restarts < spec.kills {
		t.Errorf("only %d of %d kills happened during the stream", res.restarts, spec.kills)
	}
	bad := append(append([]int(nil), first(res.lost, 3)...), first(res.dups, 3)...)
	if q == 1 {
		bad = first(res.lost, 3)
	}
	for _, seq := range bad {
		t.Logf("trace of number %d:\n%s", seq, tr.excerpt(seq))
	}
	return res
}
