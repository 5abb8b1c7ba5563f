package qos

import (
	"fmt"
	"slices"
	"testing"
)

// ack is one acknowledgement a client can send for an outbound message.
type ack int

const (
	ackPuback ack = iota
	ackPubrec
	ackPubrecFailed
	ackPubcomp
	numAcks
)

func (a ack) String() string {
	return [...]string{"PUBACK", "PUBREC", "PUBREC>=0x80", "PUBCOMP"}[a]
}

func (a ack) apply(o *Outbound[string], id uint16) (string, bool) {
	switch a {
	case ackPuback:
		return o.Puback(id)
	case ackPubrec:
		return o.Pubrec(id)
	case ackPubrecFailed:
		return o.PubrecFailed(id)
	default:
		return o.Pubcomp(id)
	}
}

// pos is where a message stands, as the transition table sees it.
type pos int

const (
	posGone pos = iota // unknown id / done
	posQ1Sent
	posQ2Sent
	posQ2Released
	numPos
)

func (p pos) String() string {
	return [...]string{"gone", "QoS1 Sent", "QoS2 Sent", "QoS2 Released"}[p]
}

// transition is the specification of every acknowledgement in every stage:
// the next position and whether the method reports ok.
func transition(p pos, a ack) (pos, bool) {
	switch {
	case p == posQ1Sent && a == ackPuback:
		return posGone, true // QoS 1 done, id free [5.0 §2.2.1]
	case p == posQ2Sent && a == ackPubrec:
		return posQ2Released, true // send PUBREL
	case p == posQ2Sent && a == ackPubrecFailed:
		return posGone, true // no PUBREL, id free [MQTT-4.3.3-4]
	case p == posQ2Released && a == ackPubrec:
		return posQ2Released, true // repeated PUBREC: PUBREL again
	case p == posQ2Released && a == ackPubcomp:
		return posGone, true // QoS 2 done, id free
	}
	return p, false // unknown id or wrong stage: nothing changes
}

// setupAt builds an Outbound with a neighbour before and after the message
// under test, which is put at position p (by Next or by Restore). It returns
// the id to acknowledge (an id not in flight for posGone).
func setupAt(t *testing.T, p pos, restored bool) (*Outbound[string], uint16) {
	t.Helper()
	o := NewOutbound[string](10, 10)
	if restored {
		o.Restore(7, "before", 2, Released)
		id := uint16(1234)
		switch p {
		case posQ1Sent:
			id = 8
			o.Restore(id, "msg", 1, Sent)
		case posQ2Sent:
			id = 8
			o.Restore(id, "msg", 2, Sent)
		case posQ2Released:
			id = 8
			o.Restore(id, "msg", 2, Released)
		}
		o.Restore(9, "after", 1, Sent)
		o.RestoreQueued("queued", 2)
		return o, id
	}
	before := send(t, o, "before", 1)
	var id uint16 = 1234
	switch p {
	case posQ1Sent:
		id = send(t, o, "msg", 1)
	case posQ2Sent, posQ2Released:
		id = send(t, o, "msg", 2)
		if p == posQ2Released {
			if _, ok := o.Pubrec(id); !ok {
				t.Fatal("Pubrec on a fresh QoS 2 message failed")
			}
		}
	}
	send(t, o, "after", 2)
	o.Enqueue("queued", 1)
	if _, ok := o.Puback(before); !ok { // leave a dead slot before the message
		t.Fatal("Puback(before) failed")
	}
	return o, id
}

// posOf reads back where id stands.
func posOf(o *Outbound[string], id uint16) pos {
	_, q, st, ok := o.Lookup(id)
	switch {
	case !ok:
		return posGone
	case q == 1 && st == Sent:
		return posQ1Sent
	case q == 2 && st == Sent:
		return posQ2Sent
	case q == 2 && st == Released:
		return posQ2Released
	}
	return numPos
}

// TestTransitionsExhaustive applies every sequence of up to three
// acknowledgements to a message in every position, built both by Next and by
// Restore, and checks each step against the transition table: the returned
// message, ok, the new position, that a failed ack changes nothing at all,
// and that neighbours are never touched.
func TestTransitionsExhaustive(t *testing.T) {
	var seqs [][]ack
	var gen func(prefix []ack)
	gen = func(prefix []ack) {
		if len(prefix) > 0 {
			seqs = append(seqs, slices.Clone(prefix))
		}
		if len(prefix) == 3 {
			return
		}
		for a := range numAcks {
			gen(append(prefix, a))
		}
	}
	gen(nil)
	for _, restored := range []bool{false, true} {
		for p := range numPos {
			for _, seq := range seqs {
				name := fmt.Sprintf("restored=%v/%v/%v", restored, p, seq)
				t.Run(name, func(t *testing.T) {
					o, id := setupAt(t, p, restored)
					cur := p
					for _, a := range seq {
						before := snapshot(o)
						want, wantOK := transition(cur, a)
						m, ok := a.apply(o, id)
						checkOutbound(t, o)
						if ok != wantOK {
							t.Fatalf("%v in %v: ok = %v, want %v", a, cur, ok, wantOK)
						}
						if ok && m != "msg" {
							t.Fatalf("%v in %v returned %q, want %q", a, cur, m, "msg")
						}
						if !ok {
							if m != "" {
								t.Fatalf("%v in %v failed but returned %q", a, cur, m)
							}
							if after := snapshot(o); !sameState(before, after) {
								t.Fatalf("%v in %v failed but changed state:\n%+v\n%+v", a, cur, before, after)
							}
						}
						if got := posOf(o, id); got != want {
							t.Fatalf("%v in %v: now %v, want %v", a, cur, got, want)
						}
						if wantOK && want == posGone && o.Inflight() != before.inflight()-1 {
							t.Fatalf("%v in %v: inflight %d, want %d", a, cur, o.Inflight(), before.inflight()-1)
						}
						cur = want
					}
					// The neighbours and the queue are untouched.
					var others []string
					for _, d := range o.Resume() {
						if d.ID != id {
							others = append(others, d.Msg)
						}
					}
					if !slices.Equal(others, []string{"after"}) && !slices.Equal(others, []string{"before", "after"}) {
						t.Fatalf("neighbours = %v", others)
					}
					if m, _, ok := o.PeekQueued(); !ok || m != "queued" || o.Queued() != 1 {
						t.Fatalf("queue = %q,%v (%d)", m, ok, o.Queued())
					}
				})
			}
		}
	}
}

func (s outState[M]) inflight() int { return len(s.Flight) }

// TestUnknownIDs sends every kind of acknowledgement for ids never used, for
// id 0 and for ids already completed.
func TestUnknownIDs(t *testing.T) {
	o := NewOutbound[string](0, 0)
	q1 := send(t, o, "a", 1)
	q2 := send(t, o, "b", 2)
	o.Puback(q1)
	o.Pubrec(q2)
	o.Pubcomp(q2)
	for _, id := range []uint16{0, q1, q2, 3, 100, MaxID} {
		for a := range numAcks {
			before := snapshot(o)
			if m, ok := a.apply(o, id); ok || m != "" {
				t.Errorf("%v(%d) = %q,%v on an unknown id", a, id, m, ok)
			}
			if !sameState(before, snapshot(o)) {
				t.Errorf("%v(%d) changed state", a, id)
			}
		}
	}
}

// TestNeverPublishAfterPubrec: once PUBREC arrived, neither Resume nor any
// repeated PUBREC turns the message back into a PUBLISH [MQTT-4.3.3-6].
func TestNeverPublishAfterPubrec(t *testing.T) {
	o := NewOutbound[string](0, 0)
	id := send(t, o, "m", 2)
	if _, ok := o.Pubrec(id); !ok {
		t.Fatal("Pubrec failed")
	}
	for range 3 {
		if m, ok := o.Pubrec(id); !ok || m != "m" {
			t.Fatalf("repeated Pubrec = %q,%v, want m,true (resend PUBREL)", m, ok)
		}
		ds := o.Resume()
		if len(ds) != 1 || ds[0].Stage != Released || ds[0].Dup || ds[0].ID != id {
			t.Fatalf("Resume = %+v, want one PUBREL for %d", ds, id)
		}
		if _, ok := o.PubrecFailed(id); ok {
			t.Fatal("PubrecFailed after PUBREC accepted")
		}
		if _, ok := o.Next(); ok {
			t.Fatal("Next sent something with an empty queue")
		}
	}
}
