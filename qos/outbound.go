package qos

import "sync/atomic"

// MaxID is the largest packet identifier; identifiers run from 1 to MaxID,
// so at most MaxID messages can be in flight in one direction of a session.
const MaxID = 65535

// flightKeepCap and indexKeepPeak bound the memory kept once a window runs
// empty: an Outbound's larger in-flight slice, or an Inbound's map that held
// more entries, is released rather than kept for the next burst (an
// Outbound's index always is, see smallFlight).
const (
	flightMinCap  = 4
	flightKeepCap = 32
	indexKeepPeak = 32
)

// smallFlight is the longest in-flight list an Outbound searches slot by
// slot for a packet id; a longer one has an index (Outbound.index). At an
// everyday rate a window holds a message or two, and a map insert, lookup
// and delete for every message cost more than looking at them.
const smallFlight = 8

// Stage is where an outbound message stands in its QoS exchange.
type Stage uint8

// The stages of an outbound message.
const (
	// Queued: waiting for room in the in-flight window; it has no packet id yet.
	Queued Stage = iota
	// Sent: PUBLISH sent (or due to be resent), awaiting PUBACK (QoS 1) or PUBREC (QoS 2).
	Sent
	// Released: QoS 2 only; PUBREC received and PUBREL sent, awaiting PUBCOMP.
	// The PUBLISH is never sent again from this stage [MQTT-4.3.3-6].
	Released
)

// String returns the stage's name, for logs and test failures.
func (s Stage) String() string {
	switch s {
	case Queued:
		return "Queued"
	case Sent:
		return "Sent"
	case Released:
		return "Released"
	}
	return "Stage(invalid)"
}

// Delivery tells the caller which packet to send for one in-flight message.
// With Stage Sent the caller sends PUBLISH with packet id ID, QoS QoS and the
// DUP flag Dup; with Stage Released it sends PUBREL with packet id ID.
type Delivery[M any] struct {
	ID    uint16
	Msg   M
	QoS   byte
	Dup   bool
	Stage Stage
}

// slot is one in-flight message. A slot whose stage is Queued is dead: its
// message was acknowledged and the slot awaits compaction.
type slot[M any] struct {
	msg   M
	id    uint16
	qos   byte
	stage Stage
}

// Outbound is the sender side (broker -> client) of one session: the queue of
// QoS 1 and QoS 2 messages waiting for room, and the in-flight window with
// its packet identifiers. M is the caller's message handle, for example a
// pointer to an immutable message; Outbound stores and returns it unchanged.
//
// QoS 1 and QoS 2 messages share one packet id space [MQTT 5.0 §2.2.1]. An
// Outbound is not safe for concurrent use. Its zero value is an empty
// Outbound with the widest window and an unlimited queue, the same as
// NewOutbound(0, 0).
type Outbound[M any] struct {
	flight []slot[M]        // in-flight messages in first-send order, with dead slots
	index  map[uint16]int32 // packet id -> position in flight, live slots only; nil while flight is short (find)
	live   int              // live slots in flight
	peak   int              // most entries index has held since it was made

	queue ring[M]

	maxInflight int    // 0 = MaxID
	maxQueued   int    // 0 = unlimited
	lastID      uint16 // last id handed out; the search for a free id starts after it

	total *atomic.Int64 // CountIn's: holds live + queue.len() of this Outbound among others
}

// CountIn makes o keep total up to date with the messages it holds (in
// flight and queued, Inflight() + Queued()): it adds what o holds now and
// from then on every change, so that one counter shared by many Outbounds
// is their sum at every moment without walking them. CountIn(nil) takes
// what o holds back out of the counter it counted in and stops. A total
// may be read concurrently; o itself still is not safe for concurrent use.
func (o *Outbound[M]) CountIn(total *atomic.Int64) {
	n := int64(o.live + o.queue.len())
	if o.total != nil {
		o.total.Add(-n)
	}
	o.total = total
	if total != nil {
		total.Add(n)
	}
}

// count adds d to the counter of CountIn, if any.
func (o *Outbound[M]) count(d int) {
	if o.total != nil {
		o.total.Add(int64(d))
	}
}

// NewOutbound returns an empty Outbound. maxInflight is the most QoS 1 and
// QoS 2 PUBLISH packets awaiting acknowledgement at once (0, a negative value
// or anything above MaxID means MaxID). maxQueued is the most messages
// waiting beyond the window (0 or negative means unlimited).
func NewOutbound[M any](maxInflight, maxQueued int) *Outbound[M] {
	o := &Outbound[M]{}
	o.SetMaxInflight(maxInflight)
	if maxQueued > 0 {
		o.maxQueued = maxQueued
	}
	return o
}

// SetMaxInflight changes the window, for example to the Receive Maximum a
// 5.0 client sent in CONNECT [MQTT-3.3.4-9]. n <= 0 or n > MaxID means
// MaxID. It only limits new sends: messages already in flight stay in
// flight, and Next returns nothing until acknowledgements bring the count
// below n.
func (o *Outbound[M]) SetMaxInflight(n int) {
	if n <= 0 || n > MaxID {
		n = 0
	}
	o.maxInflight = n
}

// SetMaxQueued changes the bound of the queue (n <= 0: none). A queue
// already longer keeps its messages; Enqueue refuses new ones until it is
// shorter.
func (o *Outbound[M]) SetMaxQueued(n int) {
	o.maxQueued = max(n, 0)
}

// MaxInflight returns the current window size (1..MaxID).
func (o *Outbound[M]) MaxInflight() int {
	if o.maxInflight == 0 {
		return MaxID
	}
	return o.maxInflight
}

// Enqueue appends a message to the tail of the queue: QoS 1 or 2, or QoS 0
// (a broker that keeps QoS 0 messages for offline clients, Mosquitto's
// queue_qos0_messages). It returns false, and keeps nothing, when the
// queue already holds maxQueued messages or when qos is over 2. Enqueue
// sends nothing; call Next.
func (o *Outbound[M]) Enqueue(m M, qos byte) bool {
	if qos > 2 {
		return false
	}
	if o.maxQueued > 0 && o.queue.len() >= o.maxQueued {
		return false
	}
	o.queue.push(queued[M]{msg: m, qos: qos})
	o.count(1)
	return true
}

// RestoreQueued appends a message read back from durable storage to the tail
// of the queue, ignoring maxQueued. Call it in the original queue order. A
// qos other than 1 or 2 is ignored: Enqueue never queues such a message.
func (o *Outbound[M]) RestoreQueued(m M, qos byte) {
	if qos != 1 && qos != 2 {
		return
	}
	o.queue.push(queued[M]{msg: m, qos: qos})
	o.count(1)
}

// Next moves the oldest queued message into flight if the window has room.
// It gives the message a packet id that no in-flight message of this
// Outbound uses [MQTT-2.2.1-4], searching upward from the id after the last
// one handed out and wrapping from MaxID to 1, so a just-freed id is not
// reused at once. The message is marked Sent and returned with Dup false
// [MQTT-3.3.1-1]: the caller sends it as PUBLISH. ok is false, and nothing
// changes, when the queue is empty or the window is full. A QoS 0 message
// at the head leaves the queue with no packet id and nothing in flight (it
// still waits its turn behind a full window, to keep the queue's order).
func (o *Outbound[M]) Next() (d Delivery[M], ok bool) {
	if o.queue.len() == 0 || o.live >= o.MaxInflight() {
		return d, false
	}
	if q, _ := o.queue.peek(); q.qos == 0 {
		o.queue.pop()
		o.count(-1)
		return Delivery[M]{Msg: q.msg, QoS: 0}, true
	}
	id := o.allocID()
	q, _ := o.queue.pop()
	o.push(slot[M]{msg: q.msg, id: id, qos: q.qos, stage: Sent})
	return Delivery[M]{ID: id, Msg: q.msg, QoS: q.qos, Stage: Sent}, true
}

// Unsend undoes Next for a message that never left: the in-flight message
// with packet id id, in stage Sent, goes back to the head of the queue and
// its id is free again. Call it for the messages of one Next burst in the
// reverse order of Next, so the queue keeps their order; for example when
// the record that the ids were to be made durable by could not be
// written, so no PUBLISH was sent under them. It reports false, and
// changes nothing, for an id not in flight or not in stage Sent.
func (o *Outbound[M]) Unsend(id uint16) bool {
	p, ok := o.find(id)
	if !ok || o.flight[p].stage != Sent {
		return false
	}
	q := queued[M]{msg: o.flight[p].msg, qos: o.flight[p].qos}
	o.remove(int(p))
	o.queue.pushFront(q)
	o.count(1) // remove counted it out; it is still held
	return true
}

// allocID returns the first id after lastID (wrapping, skipping 0) that no
// live slot uses, and records it as lastID. The caller guarantees that fewer
// than MaxID ids are in use, so the search ends.
func (o *Outbound[M]) allocID() uint16 {
	id := o.lastID
	for {
		id++
		if id == 0 {
			id = 1
		}
		if _, used := o.find(id); !used {
			o.lastID = id
			return id
		}
	}
}

// Puback handles PUBACK id from the client (in 5.0 with any reason code: a
// PUBACK always ends the exchange [MQTT-4.4.0-2]). For a QoS 1 message in
// flight it frees the id and returns the message. For an unknown id or a
// QoS 2 id it returns false and changes nothing.
func (o *Outbound[M]) Puback(id uint16) (m M, ok bool) {
	p, found := o.find(id)
	if !found || o.flight[p].qos != 1 {
		return m, false
	}
	return o.remove(int(p)), true
}

// Pubrec handles PUBREC id with a reason code below 0x80. For a QoS 2
// message in stage Sent it moves the message to Released and returns it:
// the caller sends PUBREL id, and the PUBLISH is never resent from now on
// [MQTT-4.3.3-6]. For a message already Released (a repeated PUBREC) it
// returns the message again so the caller resends PUBREL. For an unknown id
// or a QoS 1 id it returns false and changes nothing.
func (o *Outbound[M]) Pubrec(id uint16) (m M, ok bool) {
	p, found := o.find(id)
	if !found || o.flight[p].qos != 2 {
		return m, false
	}
	s := &o.flight[p]
	s.stage = Released
	return s.msg, true
}

// PubrecFailed handles a 5.0 PUBREC id with a reason code of 0x80 or more:
// for a QoS 2 message in stage Sent the exchange ends without PUBREL
// [MQTT-4.3.3-4], the id is free again and the message is returned. For an
// unknown id, a QoS 1 id or a message already Released it returns false and
// changes nothing.
func (o *Outbound[M]) PubrecFailed(id uint16) (m M, ok bool) {
	p, found := o.find(id)
	if !found || o.flight[p].qos != 2 || o.flight[p].stage != Sent {
		return m, false
	}
	return o.remove(int(p)), true
}

// Pubcomp handles PUBCOMP id. For a QoS 2 message in stage Released it frees
// the id and returns the message. For an unknown id, a QoS 1 id or a message
// still in stage Sent (PUBCOMP before PUBREC) it returns false and changes
// nothing.
func (o *Outbound[M]) Pubcomp(id uint16) (m M, ok bool) {
	p, found := o.find(id)
	if !found || o.flight[p].stage != Released {
		return m, false
	}
	return o.remove(int(p)), true
}

// Lookup reports the in-flight message with packet id id, its QoS and stage.
// ok is false when no in-flight message has that id.
func (o *Outbound[M]) Lookup(id uint16) (m M, qos byte, stage Stage, ok bool) {
	p, found := o.find(id)
	if !found {
		return m, 0, Queued, false
	}
	s := o.flight[p]
	return s.msg, s.qos, s.stage, true
}

// Resume returns every in-flight message, in the order they were first sent
// [MQTT-4.6.0-1], for resending when the client reconnects to its session
// [MQTT-4.4.0-1]: messages in stage Sent as PUBLISH with Dup true and their
// original ids, messages in stage Released as PUBREL. It changes nothing, so
// the window stays as it is. The returned slice is new and owned by the
// caller; it is nil when nothing is in flight.
func (o *Outbound[M]) Resume() []Delivery[M] {
	if o.live == 0 {
		return nil
	}
	return o.ResumeAppend(make([]Delivery[M], 0, o.live))
}

// ResumeAppend is Resume appending to dst, so a caller can reuse a buffer.
func (o *Outbound[M]) ResumeAppend(dst []Delivery[M]) []Delivery[M] {
	for i := range o.flight {
		s := &o.flight[i]
		if s.stage == Queued {
			continue
		}
		dst = append(dst, Delivery[M]{ID: s.id, Msg: s.msg, QoS: s.qos, Dup: s.stage == Sent, Stage: s.stage})
	}
	return dst
}

// ReserveQueued makes room for n more queued messages at once, so that
// restoring a queue (RestoreQueued) does not grow its buffer step by
// step. A long queue needs no reservation: it grows by blocks that are
// never copied.
func (o *Outbound[M]) ReserveQueued(n int) {
	o.queue.reserve(n)
}

// Restore puts back one in-flight message read from durable storage, with
// its original packet id, QoS and stage; call it in the original send order,
// before Resume. It ignores the window (the message is already in flight)
// and returns false, changing nothing, for id 0, an id already in flight, a
// qos other than 1 or 2, or a stage other than Sent (QoS 1 or 2) or Released
// (QoS 2). Later ids are allocated after the last restored one.
func (o *Outbound[M]) Restore(id uint16, m M, qos byte, stage Stage) bool {
	if id == 0 {
		return false
	}
	if _, used := o.find(id); used {
		return false
	}
	switch {
	case qos == 1 && stage == Sent:
	case qos == 2 && (stage == Sent || stage == Released):
	default:
		return false
	}
	o.push(slot[M]{msg: m, id: id, qos: qos, stage: stage})
	o.count(1)
	o.lastID = id
	return true
}

// Inflight returns the number of messages in flight (stages Sent and Released).
func (o *Outbound[M]) Inflight() int { return o.live }

// Queued returns the number of messages waiting beyond the window.
func (o *Outbound[M]) Queued() int { return o.queue.len() }

// PeekQueued returns the oldest queued message and its QoS without removing
// it, for example to check its expiry before Next. ok is false when the
// queue is empty.
func (o *Outbound[M]) PeekQueued() (m M, qos byte, ok bool) {
	q, ok := o.queue.peek()
	return q.msg, q.qos, ok
}

// PopQueued removes and returns the oldest queued message without sending it,
// for example because it expired while queued. ok is false when the queue is
// empty. Messages in flight are never expired [MQTT-4.3.3-7].
func (o *Outbound[M]) PopQueued() (m M, ok bool) {
	q, ok := o.queue.pop()
	if ok {
		o.count(-1)
	}
	return q.msg, ok
}

// UpdateQueued calls fn with a pointer to each queued message, oldest
// first, so that the caller can change its handle in place (for example
// swap a message held in RAM for a reference to where it is stored). The
// queue's order and length do not change; fn must not call o.
func (o *Outbound[M]) UpdateQueued(fn func(m *M)) {
	for i := 0; i < o.queue.len(); i++ {
		fn(o.queue.msgPtr(i))
	}
}

// UpdateInflight calls fn with a pointer to the in-flight message with
// packet id id, so that the caller can change its handle in place (as
// UpdateQueued does for the queue), and reports whether one is in flight
// under id. Its id, QoS and stage do not change; fn must not call o.
func (o *Outbound[M]) UpdateInflight(id uint16, fn func(m *M)) bool {
	p, ok := o.find(id)
	if !ok {
		return false
	}
	fn(&o.flight[p].msg)
	return true
}

// Drain removes and returns every message: those in flight in send order,
// then the queued ones oldest first, for example when the session ends. The
// Outbound is empty afterwards, keeps its limits and holds no buffers. The
// returned slice is new and owned by the caller; it is nil when the Outbound
// was empty.
func (o *Outbound[M]) Drain() []M {
	n := o.live + o.queue.len()
	if n == 0 {
		return nil
	}
	out := make([]M, 0, n)
	for i := range o.flight {
		if o.flight[i].stage != Queued {
			out = append(out, o.flight[i].msg)
		}
	}
	for i := 0; i < o.queue.len(); i++ {
		out = append(out, o.queue.at(i).msg)
	}
	o.flight, o.index, o.live, o.peak = nil, nil, 0, 0
	o.queue.reset()
	o.count(-n)
	return out
}

// push appends s to the in-flight list and indexes its id. The id must be
// free and non-zero.
func (o *Outbound[M]) push(s slot[M]) {
	if n := len(o.flight); n == cap(o.flight) && n > 0 && (n-o.live)*2 >= n {
		o.compact()
	}
	if o.flight == nil {
		o.flight = make([]slot[M], 0, flightMinCap)
	}
	o.flight = append(o.flight, s)
	switch {
	case o.index != nil:
		o.index[s.id] = int32(len(o.flight) - 1)
	case len(o.flight) > smallFlight:
		o.index = make(map[uint16]int32, len(o.flight))
		for i := range o.flight {
			if f := &o.flight[i]; f.stage != Queued {
				o.index[f.id] = int32(i)
			}
		}
	}
	o.live++
	if o.live > o.peak {
		o.peak = o.live
	}
}

// remove kills the live slot at position p, frees its id and returns its
// message. Memory held for a past burst is released once the window empties.
func (o *Outbound[M]) remove(p int) M {
	m := o.flight[p].msg
	if o.index != nil {
		delete(o.index, o.flight[p].id)
	}
	o.flight[p] = slot[M]{}
	o.live--
	o.count(-1)
	if o.live == 0 {
		o.flight = o.flight[:0]
		if cap(o.flight) > flightKeepCap {
			o.flight = nil
		}
		// The index goes whatever it held: a window that empties is
		// searched slot by slot again (find) until it holds more than
		// smallFlight, and builds a new index only then, once per burst.
		o.index, o.peak = nil, 0
		return m
	}
	n := len(o.flight)
	for n > 0 && o.flight[n-1].stage == Queued {
		n--
	}
	o.flight = o.flight[:n]
	return m
}

// find returns the position in flight of the live slot with packet id id.
// Up to smallFlight slots it looks at each; past that o.index knows.
func (o *Outbound[M]) find(id uint16) (int, bool) {
	if o.index == nil {
		for i := range o.flight {
			if f := &o.flight[i]; f.id == id && f.stage != Queued {
				return i, true
			}
		}
		return 0, false
	}
	p, ok := o.index[id]
	return int(p), ok
}

// compact moves the live slots to the front, keeping their order, and
// re-indexes them. When the list is mostly empty and large, it moves to a
// smaller buffer and a fresh index so that memory of a past burst is freed.
func (o *Outbound[M]) compact() {
	dst := o.flight[:0]
	shrink := cap(o.flight) > flightKeepCap && o.live*4 < cap(o.flight)
	if shrink {
		dst = make([]slot[M], 0, max(2*o.live, flightMinCap))
		o.index, o.peak = nil, o.live
		if o.live > smallFlight {
			o.index = make(map[uint16]int32, o.live)
		}
	}
	for i := range o.flight {
		s := o.flight[i]
		if s.stage == Queued {
			continue
		}
		if o.index != nil {
			o.index[s.id] = int32(len(dst))
		}
		dst = append(dst, s)
	}
	if !shrink {
		// dst shares o.flight's array: clear the stale copies behind it so
		// they neither look live nor keep messages reachable.
		clear(o.flight[len(dst):])
	}
	o.flight = dst
}
