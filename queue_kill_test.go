package main

// Issue 13's second proof: the big queue of queue_flash_test.go at QoS 2,
// drained while the broker is SIGKILLed again and again. The real gatemq
// binary runs with the 64 MB router's Go settings; 200,000 QoS 2 messages
// of 1 KiB are queued for an offline persistent QoS 2 subscription; the
// broker is SIGKILLed and started again, and a Paho subscriber with a
// persistent session drains the queue while the broker is SIGKILLed and
// restarted 10 more times, after every N/11 messages the application got.
// The application must get every message 0..N-1 exactly once, in order,
// with its payload intact; a last kill after the drain must bring no
// PUBLISH back; and the broker's peak resident set (VmHWM) must stay under
// 40 MiB in every life.
//
// The subscriber is Paho (crashClient of crash_test.go: persistent
// session, memory store kept across its reconnects, a tapConn on every
// connection). Paho hands every QoS 2 PUBLISH to the handler, also a
// retransmission of a packet id it has already PUBRECed and not yet seen
// PUBREL for, which [MQTT-4.3.3-10] forbids (see crash_test.go); the
// broker sends those after a kill that came before it had recorded the
// PUBREC. The handler therefore sits behind the receiver's half of Method
// B that Paho lacks: a PUBLISH whose packet id awaits PUBREL is not
// delivered again (keyed by packet id only, never by content; the tap
// sees the PUBREL that ends the wait). Everything past that filter is the
// application, and it is what the test counts: a number delivered twice,
// missing, out of order or with a wrong payload is a failure. What the
// broker sent (every PUBLISH, those with DUP, the retransmissions the
// filter absorbed, i.e. what bare Paho would have delivered twice) is
// counted on the wire and reported.
//
// Speed (make test runs it under -race, which slows Paho, not the broker):
// the queue is filled by a raw pipelined QoS 2 publisher rather than Paho
// (fillQueueQoS2). The broker keeps its default window (100 in flight): a
// window of 1000 drained 20–40% faster, but reading back 1,000 bodies at a
// time outran the garbage collector under the 24 MiB limit (52 MiB peak).
import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// qkillApp is the draining subscriber: the Method B filter in front of the
// application, the application's checks, and the wire counters.
type qkillApp struct {
	n, size int

	mu          sync.Mutex
	awaiting    map[uint16]int // packet id → number delivered under it, PUBREL not yet seen
	counts      []uint8        // deliveries to the application per number
	next        int            // the number the application expects next
	outOfOrder  int            // deliveries other than next
	absorbed    int            // retransmissions of ids awaiting PUBREL, not delivered again
	absorbedDup int            // of those, how many carried DUP
	problems    []string       // first few failures, for the report

	delivered atomic.Int64 // deliveries to the application
	wirePub   atomic.Int64 // PUBLISH packets the broker sent
	wireDup   atomic.Int64 // of those, with DUP set
	wireRel   atomic.Int64 // PUBREL packets the broker sent
	connacks  atomic.Int64
	noSession atomic.Int64 // CONNACKs without session present
}

func newQkillApp(n, size int) *qkillApp {
	return &qkillApp{n: n, size: size, awaiting: map[uint16]int{}, counts: make([]uint8, n)}
}

// problem records a failure; only the first 20 are kept. Called with mu held.
func (a *qkillApp) problem(format string, args ...any) {
	if len(a.problems) < 20 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

// handle is Paho's publish handler: the Method B filter, then the
// application.
func (a *qkillApp) handle(_ paho.Client, m paho.Message) {
	p := m.Payload()
	seq := -1
	if len(p) >= 8 {
		if v, err := strconv.Atoi(string(p[:8])); err == nil && v >= 0 && v < a.n {
			seq = v
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.awaiting[m.MessageID()]; ok {
		a.absorbed++
		if m.Duplicate() {
			a.absorbedDup++
		}
		if prev != seq {
			a.problem("packet id %d awaiting PUBREL for message %d was used for message %d (dup=%v): a conforming receiver drops it",
				m.MessageID(), prev, seq, m.Duplicate())
		}
		return
	}
	a.awaiting[m.MessageID()] = seq

	// The application.
	if m.Qos() != 2 || m.Topic() != "big/data" {
		a.problem("message on %q at QoS %d, want big/data at QoS 2", m.Topic(), m.Qos())
	}
	if seq < 0 {
		a.problem("payload %.20q… (%d bytes) carries no message number", p, len(p))
		return
	}
	if !queuePayloadIs(p, seq, a.size) {
		a.problem("message %d: payload %.20q… (%d bytes) differs from what was published", seq, p, len(p))
	}
	a.counts[seq]++
	if a.counts[seq] > 1 {
		a.problem("message %d delivered to the application again (copy %d, packet id %d, dup=%v)", seq, a.counts[seq], m.MessageID(), m.Duplicate())
	}
	if seq != a.next {
		a.outOfOrder++
		a.problem("message %d delivered where %d was due (packet id %d, dup=%v)", seq, a.next, m.MessageID(), m.Duplicate())
	}
	a.next = seq + 1
	a.delivered.Add(1)
}

// incoming sees each packet the broker sent to the subscriber.
func (a *qkillApp) incoming(_ int, p wirePacket) {
	switch p.typ {
	case pktCONNACK:
		a.connacks.Add(1)
		if p.body[0]&1 == 0 {
			a.noSession.Add(1)
		}
	case pktPUBLISH:
		a.wirePub.Add(1)
		if p.dup() {
			a.wireDup.Add(1)
		}
	case pktPUBREL:
		a.wireRel.Add(1)
		a.mu.Lock()
		delete(a.awaiting, p.id)
		a.mu.Unlock()
	}
}

// settled reports whether the application has every number and every
// exchange has reached PUBREL.
func (a *qkillApp) settled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.delivered.Load() >= int64(a.n) && len(a.awaiting) == 0
}

// qkillLife is one broker process's share of the test.
type qkillLife struct {
	recovery  time.Duration // start until its start line (0 for the first life)
	summary   string        // its recovery summary
	began     time.Time     // when it was ready
	delivered int64         // application deliveries at its start
	peak      int64         // VmHWM just before it was killed
	took      time.Duration // ready until killed
	got       int64         // application deliveries during the life
}

func TestQueueQoS2KilledWhileDraining(t *testing.T) {
	const (
		size  = 1024
		kills = 10 // SIGKILLs during the drain
		id    = "qkill-sub"
	)
	n := queueMessages(t)
	for _, i := range []int{0, 7, 25, 26, 12345, n - 1} {
		want := queuePayload(i, size)
		if !bytes.Equal(queuePayloadFill(make([]byte, size), i), want) || !queuePayloadIs(want, i, size) || queuePayloadIs(queuePayload(i+1, size), i, size) {
			t.Fatalf("queuePayloadFill or queuePayloadIs disagrees with queuePayload for message %d", i)
		}
	}
	conf := writeConfig(t, "max_queued_messages 0\nmax_queued_messages_total 0\n")
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", t.TempDir())
	b.env = queueGoEnv
	b.mustStart(20 * time.Second)
	var lives []*qkillLife
	life := &qkillLife{began: time.Now(), summary: "new data folder"}
	// endLife records the running broker's peak and stops it: SIGKILL, or
	// SIGTERM with a clean exit for the last life.
	endLife := func(app *qkillApp, term bool) {
		t.Helper()
		life.peak = procStatus(t, b.pid(), "VmHWM")
		if !term {
			b.kill()
		} else if code, err := b.term(10 * time.Second); err != nil || code != 0 {
			t.Errorf("broker stop: exit %d, %v", code, err)
		}
		life.took = time.Since(life.began)
		if app != nil {
			life.got = app.delivered.Load() - life.delivered
		}
		lives = append(lives, life)
		rate := ""
		if life.got > 0 {
			rate = fmt.Sprintf(", %d delivered (%.0f msg/s)", life.got, float64(life.got)/life.took.Seconds())
		}
		t.Logf("life %2d: recovery %4.1f s, ran %5.1f s%s, peak RSS %s; %s",
			len(lives), life.recovery.Seconds(), life.took.Seconds(), rate, mib(life.peak), life.summary)
	}
	// restart starts the next life.
	restart := func(app *qkillApp) {
		t.Helper()
		start := time.Now()
		rec := b.mustStart(120 * time.Second)
		life = &qkillLife{recovery: time.Since(start), summary: rec, began: time.Now()}
		if app != nil {
			life.delivered = app.delivered.Load()
		}
	}

	// The persistent QoS 2 session, subscribed and offline.
	setup := crashClient(t, b.addr, id, paho.NewOrderedMemoryStore(), nil,
		func(int, wirePacket) {}, func(_ int, p wirePacket) []byte { return p.raw })
	if tok := setup.Subscribe("big/#", 2, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	setup.Disconnect(250)

	fill := fillQueueQoS2(t, b.addr, n, size, 100)
	t.Logf("queued %d × %d B at QoS 2 (each PUBCOMPed) in %.1f s (%.0f msg/s)", n, size, fill.Seconds(), float64(n)/fill.Seconds())
	endLife(nil, false)
	restart(nil)

	app := newQkillApp(n, size)
	drainStart := time.Now()
	sub := crashClient(t, b.addr, id, paho.NewOrderedMemoryStore(), app.handle,
		app.incoming, func(_ int, p wirePacket) []byte { return p.raw })

	// waitFor waits until cond holds, failing when nothing moved on the
	// subscriber's wire for a minute.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		last, moved := int64(-1), time.Now()
		for !cond() {
			if w := app.wirePub.Load() + app.wireRel.Load() + app.connacks.Load(); w != last {
				last, moved = w, time.Now()
			}
			if time.Since(moved) > time.Minute {
				t.Fatalf("stalled waiting for %s: application has %d of %d, %d PUBLISH and %d PUBREL on the wire, %d connections",
					what, app.delivered.Load(), n, app.wirePub.Load(), app.wireRel.Load(), app.connacks.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	for k := 1; k <= kills; k++ {
		at := int64(k * n / (kills + 1))
		waitFor(fmt.Sprintf("message %d", at), func() bool { return app.delivered.Load() >= at })
		endLife(app, false)
		restart(app)
	}
	waitFor("the end of the drain", app.settled)
	drained := time.Since(drainStart)

	// One more kill once every exchange has reached PUBREL: no PUBLISH may
	// be sent again (a PUBREL may, if its PUBCOMP was not durable yet).
	before, acks := app.wirePub.Load(), app.connacks.Load()
	endLife(app, false)
	restart(app)
	waitFor("the subscriber's reconnection", func() bool { return app.connacks.Load() > acks })
	time.Sleep(500 * time.Millisecond)
	again := app.wirePub.Load() - before
	sub.Disconnect(100)
	endLife(app, true)

	// The report.
	var drainRecovery time.Duration
	for _, l := range lives[2 : len(lives)-1] {
		drainRecovery += l.recovery
	}
	t.Logf("drained %d with %d SIGKILLs in %.1f s (%.0f msg/s; %.1f s of it recovering, %.0f msg/s without)",
		n, kills, drained.Seconds(), float64(n)/drained.Seconds(), drainRecovery.Seconds(), float64(n)/(drained-drainRecovery).Seconds())

	app.mu.Lock()
	defer app.mu.Unlock()
	lost, dups, extra := 0, 0, 0
	var firstLost, firstDup []int
	for seq, c := range app.counts {
		switch {
		case c == 0:
			lost++
			if len(firstLost) < 10 {
				firstLost = append(firstLost, seq)
			}
		case c > 1:
			dups++
			extra += int(c) - 1
			if len(firstDup) < 10 {
				firstDup = append(firstDup, seq)
			}
		}
	}
	t.Logf("application: %d of %d delivered, %d lost, %d duplicated, %d out of order", app.delivered.Load(), n, lost, dups, app.outOfOrder)
	t.Logf("wire: %d PUBLISH for %d messages (%d with DUP, %d more than one per message), %d PUBREL, %d connections; "+
		"Method B absorbed %d retransmissions of ids awaiting PUBREL (%d with DUP) that Paho handed to its handler",
		app.wirePub.Load(), n, app.wireDup.Load(), app.wirePub.Load()-int64(n), app.wireRel.Load(), app.connacks.Load(), app.absorbed, app.absorbedDup)

	if lost > 0 || dups > 0 || app.outOfOrder > 0 {
		t.Errorf("QoS 2 across %d SIGKILLs while draining: %d lost (first %v), %d delivered more than once (%d extra copies, first %v), %d out of order; want 0, 0, 0",
			kills, lost, firstLost, dups, extra, firstDup, app.outOfOrder)
	}
	if len(app.problems) > 0 {
		t.Errorf("subscriber:\n  %s", strings.Join(app.problems, "\n  "))
	}
	if c := app.noSession.Load(); c > 0 {
		t.Errorf("%d of %d CONNACKs without session present: the persistent session was lost", c, app.connacks.Load())
	}
	if again > 0 {
		t.Errorf("after a kill following the completed drain the broker sent %d PUBLISH packets (want 0: every exchange had reached PUBREL)", again)
	}
	var over []string
	for i, l := range lives {
		if l.peak > queueRSSLimit {
			over = append(over, fmt.Sprintf("life %d: %s", i+1, mib(l.peak)))
		}
	}
	if len(over) > 0 {
		t.Errorf("peak RSS over %s: %s", mib(queueRSSLimit), strings.Join(over, ", "))
	}
}

// fillQueueQoS2 publishes n numbered messages of size bytes at QoS 2 to
// big/data over one raw connection, as a clean session, with at most
// window exchanges open. It is fillQueue for QoS 2 without Paho's cost per
// message, which is what limits the fill under -race: it sends PUBLISH
// with a free packet id, PUBREL on PUBREC, and frees the id on PUBCOMP,
// writing what it has to send in one go before it waits for the broker.
func fillQueueQoS2(t *testing.T, addr string, n, size, window int) time.Duration {
	t.Helper()
	c, _ := mustDialRaw(t, addr, "big-pub", true)
	defer c.disconnect()
	start := time.Now()
	const (
		free     = iota // id not in use
		sent            // PUBLISH sent, awaiting PUBREC
		released        // PUBREL sent, awaiting PUBCOMP
	)
	state := make([]byte, window+1) // by packet id 1..window
	ids := make([]uint16, 0, window)
	for id := window; id >= 1; id-- {
		ids = append(ids, uint16(id))
	}
	var out []byte
	payload := make([]byte, size)
	next, done := 0, 0
	for done < n {
		for next < n && len(ids) > 0 {
			id := ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			state[id] = sent
			out = append(out, encPublish("big/data", queuePayloadFill(payload, next), 2, false, false, id)...)
			next++
		}
		if len(out) > 0 {
			if err := c.send(out); err != nil {
				t.Fatalf("publishing: %v", err)
			}
			out = out[:0]
		}
		for {
			p, err := c.next(60 * time.Second)
			if err != nil {
				t.Fatalf("publisher: %v after %d of %d messages completed", err, done, n)
			}
			switch {
			case p.typ == pktPUBREC && int(p.id) <= window && state[p.id] == sent:
				state[p.id] = released
				out = append(out, encAck(pktPUBREL, p.id)...)
			case p.typ == pktPUBCOMP && int(p.id) <= window && state[p.id] == released:
				state[p.id] = free
				ids = append(ids, p.id)
				done++
			default:
				t.Fatalf("publisher: unexpected %v after %d of %d messages completed", p, done, n)
			}
			if len(c.pending) == 0 {
				break
			}
		}
	}
	return time.Since(start)
}

// queueLetters holds the letters of queuePayload from every starting
// letter: message i's bytes 8.. are queueLetters[(i+8)%26:].
var queueLetters = func() []byte {
	b := make([]byte, 0, 64<<10)
	for len(b) < cap(b) {
		b = append(b, "abcdefghijklmnopqrstuvwxyz"...)
	}
	return b
}()

// queuePayloadFill writes message i's payload (queuePayload(i, len(b)))
// into b and returns it; it copies instead of computing byte by byte,
// which is slow under -race.
func queuePayloadFill(b []byte, i int) []byte {
	strconv.AppendInt(b[:0], int64(i)+1e8, 10)
	copy(b, b[1:9])
	copy(b[8:], queueLetters[(i+8)%26:])
	return b
}

// queuePayloadIs reports whether p is message i's payload of size bytes.
func queuePayloadIs(p []byte, i, size int) bool {
	var num [9]byte
	strconv.AppendInt(num[:0], int64(i)+1e8, 10)
	return len(p) == size && bytes.Equal(p[:8], num[1:]) && bytes.Equal(p[8:], queueLetters[(i+8)%26:][:size-8])
}
