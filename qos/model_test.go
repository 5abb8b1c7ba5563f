package qos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

// refOut is a deliberately naive reference model of Outbound: a slice of
// in-flight messages in send order, a slice for the queue, and a linear scan
// for free ids.
type refOut struct {
	flight []Delivery[int] // Dup unused
	queue  []queued[int]
	maxIn  int // 0 = MaxID
	maxQ   int
	lastID uint16
}

func (r *refOut) window() int {
	if r.maxIn <= 0 || r.maxIn > MaxID {
		return MaxID
	}
	return r.maxIn
}

func (r *refOut) find(id uint16) int {
	return slices.IndexFunc(r.flight, func(d Delivery[int]) bool { return d.ID == id })
}

func (r *refOut) enqueue(m int, qos byte) bool {
	if qos > 2 || (r.maxQ > 0 && len(r.queue) >= r.maxQ) {
		return false
	}
	r.queue = append(r.queue, queued[int]{m, qos})
	return true
}

func (r *refOut) next() (Delivery[int], bool) {
	if len(r.queue) == 0 || len(r.flight) >= r.window() {
		return Delivery[int]{}, false
	}
	if q := r.queue[0]; q.qos == 0 { // leaves with no id, nothing in flight
		r.queue = r.queue[1:]
		return Delivery[int]{Msg: q.msg, QoS: 0}, true
	}
	id := r.lastID
	for {
		id++
		if id == 0 {
			id = 1
		}
		if r.find(id) < 0 {
			break
		}
	}
	r.lastID = id
	q := r.queue[0]
	r.queue = r.queue[1:]
	d := Delivery[int]{ID: id, Msg: q.msg, QoS: q.qos, Stage: Sent}
	r.flight = append(r.flight, d)
	return d, true
}

// ack applies a to id following the transition table of the specification.
func (r *refOut) ack(a ack, id uint16) (int, bool) {
	i := r.find(id)
	if i < 0 {
		return 0, false
	}
	d := r.flight[i]
	p := posQ1Sent
	switch {
	case d.QoS == 2 && d.Stage == Sent:
		p = posQ2Sent
	case d.QoS == 2:
		p = posQ2Released
	}
	np, ok := transition(p, a)
	if !ok {
		return 0, false
	}
	switch np {
	case posGone:
		r.flight = slices.Delete(r.flight, i, i+1)
	case posQ2Released:
		r.flight[i].Stage = Released
	}
	return d.Msg, true
}

func (r *refOut) resume() []Delivery[int] {
	var out []Delivery[int]
	for _, d := range r.flight {
		d.Dup = d.Stage == Sent
		out = append(out, d)
	}
	return out
}

// msgLife tracks one message through the random run.
type msgLife struct {
	sentCount int  // fresh PUBLISH from Next
	recd      bool // PUBREC accepted
	done      bool // completed (PUBACK, PUBCOMP, failed PUBREC)
	dropped   bool // popped (expiry) or drained
}

// TestOutboundModel runs random operation sequences against Outbound and the
// reference model, comparing every result and the full observable state after
// each step, and checks the protocol invariants: no id in flight twice, no
// PUBLISH for a message after its PUBREC, every accepted message sent once by
// Next and ended exactly once (completed, expired or drained).
func TestOutboundModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runOutboundModel(t, uint64(seed), 1500) })
	}
}

func runOutboundModel(t *testing.T, seed uint64, steps int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	maxIn, maxQ := rng.IntN(6), rng.IntN(6) // 0 = unlimited, small windows
	o := NewOutbound[int](maxIn, maxQ)
	ref := &refOut{maxIn: maxIn, maxQ: maxQ}
	// total counts what o holds (CountIn), shared with another Outbound
	// that holds 3 messages, as sessions share the broker's count.
	var total atomic.Int64
	other := NewOutbound[int](0, 0)
	for m := range 3 {
		other.Enqueue(-1-m, 1)
	}
	other.CountIn(&total)
	o.CountIn(&total)
	if seed%3 == 0 { // start near the top so ids wrap during the run
		o.lastID = MaxID - uint16(rng.IntN(4))
		ref.lastID = o.lastID
	}
	life := map[int]*msgLife{}
	serial := 0
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		start := max(0, len(log)-15)
		t.Fatalf("seed %d step %d: %s\nlast ops:\n%v", seed, len(log), fmt.Sprintf(format, args...), log[start:])
	}
	publish := func(d Delivery[int], fresh bool) {
		t.Helper()
		l := life[d.Msg]
		if l == nil || l.done || l.dropped {
			fail("PUBLISH for message %d that is not live", d.Msg)
		}
		if l.recd {
			fail("PUBLISH for message %d after its PUBREC [MQTT-4.3.3-6]", d.Msg)
		}
		if fresh {
			l.sentCount++
			if l.sentCount > 1 {
				fail("message %d moved into flight twice", d.Msg)
			}
		}
	}
	pickID := func() uint16 {
		if len(ref.flight) > 0 && rng.IntN(10) < 8 {
			return ref.flight[rng.IntN(len(ref.flight))].ID
		}
		switch rng.IntN(3) {
		case 0:
			return 0
		case 1:
			return uint16(1 + rng.IntN(8))
		}
		return uint16(rng.Uint32())
	}
	for range steps {
		switch op := rng.IntN(100); {
		case op < 25: // Enqueue
			q := byte(rng.IntN(3))
			if rng.IntN(20) == 0 {
				q = byte(rng.IntN(256))
			}
			serial++
			log = append(log, fmt.Sprintf("Enqueue(%d,%d)", serial, q))
			got, want := o.Enqueue(serial, q), ref.enqueue(serial, q)
			if got != want {
				fail("Enqueue = %v, want %v", got, want)
			}
			if got {
				life[serial] = &msgLife{}
			}
		case op < 45: // Next
			log = append(log, "Next")
			got, gok := o.Next()
			want, wok := ref.next()
			if got != want || gok != wok {
				fail("Next = %+v,%v, want %+v,%v", got, gok, want, wok)
			}
			if gok {
				publish(got, true)
				if got.QoS == 0 { // at most once: sent, done
					life[got.Msg].done = true
				}
			}
		case op < 80: // an acknowledgement
			a, id := ack(rng.IntN(int(numAcks))), pickID()
			log = append(log, fmt.Sprintf("%v(%d)", a, id))
			var gm int
			var gok bool
			switch a {
			case ackPuback:
				gm, gok = o.Puback(id)
			case ackPubrec:
				gm, gok = o.Pubrec(id)
			case ackPubrecFailed:
				gm, gok = o.PubrecFailed(id)
			default:
				gm, gok = o.Pubcomp(id)
			}
			wm, wok := ref.ack(a, id)
			if gm != wm || gok != wok {
				fail("%v(%d) = %d,%v, want %d,%v", a, id, gm, gok, wm, wok)
			}
			if gok {
				l := life[gm]
				if l.done {
					fail("message %d completed twice", gm)
				}
				switch a {
				case ackPubrec:
					l.recd = true
				default:
					l.done = true
				}
			}
		case op < 88: // reconnect: Resume and resend
			log = append(log, "Resume")
			got, want := o.Resume(), ref.resume()
			if !slices.Equal(got, want) {
				fail("Resume = %+v, want %+v", got, want)
			}
			for _, d := range got {
				if d.Stage == Sent {
					publish(d, false)
				}
			}
		case op < 92: // restart from storage: Restore everything into a new Outbound
			log = append(log, "Restart")
			fresh := NewOutbound[int](ref.maxIn, ref.maxQ)
			o.CountIn(nil)
			if seed%2 == 0 { // counted from the start, or once restored
				fresh.CountIn(&total)
			}
			for _, d := range o.Resume() {
				if !fresh.Restore(d.ID, d.Msg, d.QoS, d.Stage) {
					fail("Restore(%+v) = false", d)
				}
			}
			for i := 0; i < o.queue.len(); i++ {
				q := o.queue.at(i)
				fresh.RestoreQueued(q.msg, q.qos)
			}
			o = fresh
			if seed%2 == 1 {
				o.CountIn(&total)
			}
			// Queued QoS 0 messages are never stored: a restart loses them.
			kept := ref.queue[:0]
			for _, q := range ref.queue {
				if q.qos == 0 {
					life[q.msg].dropped = true
					continue
				}
				kept = append(kept, q)
			}
			ref.queue = kept
			ref.lastID = 0
			if n := len(ref.flight); n > 0 {
				ref.lastID = ref.flight[n-1].ID
			}
		case op < 95:
			n := rng.IntN(7)
			log = append(log, fmt.Sprintf("SetMaxInflight(%d)", n))
			o.SetMaxInflight(n)
			ref.maxIn = n
		case op < 98: // expiry of the oldest queued message
			log = append(log, "PopQueued")
			m, ok := o.PopQueued()
			if ok != (len(ref.queue) > 0) || (ok && m != ref.queue[0].msg) {
				fail("PopQueued = %d,%v", m, ok)
			}
			if ok {
				ref.queue = ref.queue[1:]
				life[m].dropped = true
			}
		default:
			log = append(log, "Drain")
			drainModel(t, o, ref, life, fail)
		}
		if err := outboundErr(o); err != nil {
			fail("%v", err)
		}
		if o.Inflight() != len(ref.flight) || o.Queued() != len(ref.queue) {
			fail("inflight %d queued %d, want %d %d", o.Inflight(), o.Queued(), len(ref.flight), len(ref.queue))
		}
		if got, want := total.Load(), int64(3+len(ref.flight)+len(ref.queue)); got != want {
			fail("CountIn's total %d, want %d", got, want)
		}
	}
	// A conforming client reconnects and acknowledges everything: every
	// message still held must now complete exactly once.
	o.SetMaxInflight(1 + rng.IntN(4))
	complete := func(d Delivery[int]) {
		t.Helper()
		var ok bool
		if d.Stage == Sent {
			publish(d, false)
		}
		switch {
		case d.QoS == 0: // nothing to acknowledge
			ok = true
		case d.QoS == 1:
			_, ok = o.Puback(d.ID)
		case d.Stage == Sent:
			if _, ok = o.Pubrec(d.ID); ok {
				life[d.Msg].recd = true
				_, ok = o.Pubcomp(d.ID)
			}
		default:
			_, ok = o.Pubcomp(d.ID)
		}
		if !ok {
			fail("completing %+v failed", d)
		}
		life[d.Msg].done = true
	}
	for _, d := range o.Resume() {
		complete(d)
	}
	for {
		d, ok := o.Next()
		if !ok {
			break
		}
		publish(d, true)
		complete(d)
	}
	if o.Inflight() != 0 || o.Queued() != 0 {
		fail("left %d in flight, %d queued", o.Inflight(), o.Queued())
	}
	if got := total.Load(); got != 3 {
		fail("CountIn's total %d once o is empty, want 3 (the other Outbound's)", got)
	}
	other.CountIn(nil)
	if got := total.Load(); got != 0 {
		fail("CountIn's total %d once both stopped counting, want 0", got)
	}
	for m, l := range life {
		if l.done == l.dropped { // exactly one ending
			fail("message %d: done %v dropped %v", m, l.done, l.dropped)
		}
		if l.done && l.sentCount != 1 {
			fail("message %d completed but sent %d times by Next", m, l.sentCount)
		}
	}
}

func drainModel(t *testing.T, o *Outbound[int], ref *refOut, life map[int]*msgLife, fail func(string, ...any)) {
	t.Helper()
	var want []int
	for _, d := range ref.flight {
		want = append(want, d.Msg)
	}
	for _, q := range ref.queue {
		want = append(want, q.msg)
	}
	got := o.Drain()
	if !slices.Equal(got, want) {
		fail("Drain = %v, want %v", got, want)
	}
	for _, m := range got {
		if life[m].done || life[m].dropped {
			fail("drained message %d already ended", m)
		}
		life[m].dropped = true
	}
	ref.flight, ref.queue = nil, nil
}

// TestInboundModel drives Inbound with a simulated publisher that retransmits
// PUBLISH and PUBREL at random, against a map model, and checks that every
// application message is delivered onward exactly once.
func TestInboundModel(t *testing.T) {
	for seed := range 100 {
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		max := rng.IntN(9) // 0: MaxID, so all 8 ids may be pending, past the small set
		limit := max
		if limit == 0 {
			limit = MaxID
		}
		in := NewInbound(max)
		pending := map[uint16]bool{}
		delivered := map[uint16]int{} // onward deliveries per id generation
		gen := map[uint16]int{}
		for step := range 3000 {
			id := uint16(1 + rng.IntN(8))
			switch rng.IntN(4) {
			case 0, 1: // PUBLISH (new or retransmitted)
				isNew, full := in.Publish(id)
				wantFull := !pending[id] && len(pending) >= limit
				wantNew := !pending[id] && !wantFull
				if isNew != wantNew || full != wantFull {
					t.Fatalf("seed %d step %d: Publish(%d) = %v,%v, want %v,%v", seed, step, id, isNew, full, wantNew, wantFull)
				}
				if isNew {
					pending[id] = true
					delivered[id]++
					if delivered[id] != gen[id]+1 {
						t.Fatalf("id %d delivered %d times in generation %d", id, delivered[id], gen[id])
					}
				}
			case 2: // PUBREL
				if known := in.Release(id); known != pending[id] {
					t.Fatalf("seed %d step %d: Release(%d) = %v", seed, step, id, known)
				}
				if pending[id] {
					gen[id]++
				}
				delete(pending, id)
			case 3: // restart: snapshot and restore
				fresh := NewInbound(max)
				for _, p := range in.IDs() {
					fresh.Restore(p)
				}
				in = fresh
			}
			ids := in.IDs()
			if len(ids) != len(pending) || in.Len() != len(pending) || !slices.IsSorted(ids) {
				t.Fatalf("seed %d step %d: IDs %v, model %v", seed, step, ids, pending)
			}
			for _, p := range ids {
				if !pending[p] || !in.Pending(p) {
					t.Fatalf("seed %d: id %d pending mismatch", seed, p)
				}
			}
		}
	}
}
