package qos

import (
	"fmt"
	"slices"
	"testing"
)

// checkOutbound verifies the internal invariants of o: the index covers
// exactly the live slots at their positions, ids are non-zero and unique,
// stages and QoS values are valid, dead slots are zeroed and never at the
// tail, and the counters agree with the contents.
func checkOutbound[M comparable](t *testing.T, o *Outbound[M]) {
	t.Helper()
	if err := outboundErr(o); err != nil {
		t.Fatal(err)
	}
}

func outboundErr[M comparable](o *Outbound[M]) error {
	live := 0
	seen := make(map[uint16]bool)
	var zero slot[M]
	for i, s := range o.flight {
		if s.stage == Queued {
			if s != zero {
				return fmt.Errorf("dead slot %d not zeroed: %+v", i, s)
			}
			continue
		}
		live++
		if s.id == 0 {
			return fmt.Errorf("slot %d has id 0", i)
		}
		if seen[s.id] {
			return fmt.Errorf("id %d in flight twice", s.id)
		}
		seen[s.id] = true
		if s.qos != 1 && s.qos != 2 {
			return fmt.Errorf("slot %d has qos %d", i, s.qos)
		}
		if s.stage != Sent && !(s.stage == Released && s.qos == 2) {
			return fmt.Errorf("slot %d: qos %d in stage %v", i, s.qos, s.stage)
		}
		if o.index != nil {
			if p, ok := o.index[s.id]; !ok || int(p) != i {
				return fmt.Errorf("index[%d] = %d,%v, want %d", s.id, p, ok, i)
			}
		}
		if p, ok := o.find(s.id); !ok || p != i {
			return fmt.Errorf("find(%d) = %d,%v, want %d", s.id, p, ok, i)
		}
	}
	for i, s := range o.flight[len(o.flight):cap(o.flight)] { // spare capacity holds nothing
		if s != zero {
			return fmt.Errorf("spare slot %d not zeroed: %+v", len(o.flight)+i, s)
		}
	}
	if n := len(o.flight); n > 0 && o.flight[n-1].stage == Queued {
		return fmt.Errorf("dead slot at the tail (len %d)", n)
	}
	if live != o.live || o.index != nil && live != len(o.index) {
		return fmt.Errorf("live slots %d, o.live %d, index %d", live, o.live, len(o.index))
	}
	if o.index == nil && len(o.flight) > smallFlight {
		return fmt.Errorf("%d slots in flight and no index", len(o.flight))
	}
	if o.Inflight() != live {
		return fmt.Errorf("Inflight() = %d, want %d", o.Inflight(), live)
	}
	if o.peak < live && o.index != nil {
		return fmt.Errorf("peak %d below live %d", o.peak, live)
	}
	if err := checkRing(&o.queue); err != nil {
		return err
	}
	for i := 0; i < o.queue.len(); i++ {
		if q := o.queue.at(i); q.qos > 2 {
			return fmt.Errorf("queued %d has qos %d", i, q.qos)
		}
	}
	return nil
}

// checkRing checks the invariants of a ring: its shape, and every slot
// that holds no entry zeroed (so that it keeps no message reachable).
func checkRing[M comparable](r *ring[M]) error { return checkRingSlots(r, true) }

// checkRingSlots is checkRing, looking at the free slots of a long ring
// only when slots is true.
func checkRingSlots[M comparable](r *ring[M], slots bool) error {
	var zero M
	if !r.long() {
		c := len(r.buf)
		if c != len(r.bufQ) || c&(c-1) != 0 || c > blockLen {
			return fmt.Errorf("short ring: cap %d, qos cap %d", c, len(r.bufQ))
		}
		if r.n < 0 || r.n > c || (c > 0 && (r.head < 0 || r.head >= c)) || (c == 0 && r.head != 0) {
			return fmt.Errorf("ring head %d n %d cap %d", r.head, r.n, c)
		}
		for i := r.n; i < c && slots; i++ {
			if j := (r.head + i) % c; r.buf[j] != zero || r.bufQ[j] != 0 {
				return fmt.Errorf("free ring slot %d not zeroed", i)
			}
		}
		return nil
	}
	if r.n <= blockLen/4 || r.head < 0 || r.head >= blockLen || r.buf != nil || r.bufQ != nil {
		return fmt.Errorf("long ring: head %d n %d", r.head, r.n)
	}
	lr := r.lr
	if nb := (r.head + r.n + blockMask) >> blockBits; len(lr.msg) != nb || len(lr.qos) != nb {
		return fmt.Errorf("long ring of %d from %d: %d blocks, %d qos blocks, want %d", r.n, r.head, len(lr.msg), len(lr.qos), nb)
	}
	if (lr.spare == nil) != (lr.spareQ == nil) {
		return fmt.Errorf("spare %v, qos spare %v", lr.spare != nil, lr.spareQ != nil)
	}
	if !slots {
		return nil
	}
	if lr.spare != nil {
		for i := range blockLen {
			if lr.spare[i] != zero || lr.spareQ[i] != 0 {
				return fmt.Errorf("spare block slot %d not zeroed", i)
			}
		}
	}
	// Free slots are before head in the first block and after the
	// newest in the last.
	last := len(lr.msg) - 1
	free := func(b int, from, to int) error {
		for i := from; i < to; i++ {
			if lr.msg[b][i] != zero || lr.qos[b][i] != 0 {
				return fmt.Errorf("free slot %d of block %d of a long ring (head %d n %d) not zeroed", i, b, r.head, r.n)
			}
		}
		return nil
	}
	if err := free(0, 0, r.head); err != nil {
		return err
	}
	return free(last, (r.head+r.n-1)&blockMask+1, blockLen)
}

// outState is everything observable about an Outbound, for "state is
// unchanged" checks.
type outState[M any] struct {
	Flight      []Delivery[M]
	Queue       []queued[M]
	LastID      uint16
	MaxInflight int
}

func snapshot[M any](o *Outbound[M]) outState[M] {
	st := outState[M]{Flight: o.Resume(), LastID: o.lastID, MaxInflight: o.MaxInflight()}
	for i := 0; i < o.queue.len(); i++ {
		st.Queue = append(st.Queue, o.queue.at(i))
	}
	return st
}

func sameState[M comparable](a, b outState[M]) bool {
	return slices.Equal(a.Flight, b.Flight) && slices.Equal(a.Queue, b.Queue) &&
		a.LastID == b.LastID && a.MaxInflight == b.MaxInflight
}

// mustNext calls Next and fails unless it returns a fresh PUBLISH.
func mustNext[M any](t *testing.T, o *Outbound[M]) Delivery[M] {
	t.Helper()
	d, ok := o.Next()
	if !ok {
		t.Fatalf("Next: nothing (inflight %d, queued %d, max %d)", o.Inflight(), o.Queued(), o.MaxInflight())
	}
	if d.Stage != Sent || d.Dup || d.ID == 0 {
		t.Fatalf("Next = %+v, want Stage Sent, Dup false, id != 0", d)
	}
	return d
}

// send enqueues m with qos and moves it into flight, returning its id.
func send[M any](t *testing.T, o *Outbound[M], m M, qos byte) uint16 {
	t.Helper()
	if !o.Enqueue(m, qos) {
		t.Fatalf("Enqueue(%v, %d) = false", m, qos)
	}
	return mustNext(t, o).ID
}
