package mqtt

import (
	"bytes"
	"encoding/binary"
	"gatemq/internal/fmt"
	"gatemq/mqtt/auth"
	"sort"
	"time"

	"gatemq/flashstore"
)

// RecoveryStats says what Recover rebuilt from the store.
type RecoveryStats struct {
	Sessions, Subscriptions, Messages, Routes, Inbound, Retained int
	// Dropped counts records that referred to something missing (a route
	// whose message or session is gone); they are removed from the store.
	Dropped int
	// Expired counts sessions whose expiry passed while the broker was
	// down; they are ended at once.
	Expired int
}

// Recover rebuilds the broker's state from its store: persistent sessions
// with their subscriptions, messages in flight (same packet ids and stages,
// in send order) and queued, inbound QoS 2 packet ids awaiting PUBREL, and
// retained messages. Call it once, before serving connections. Without a
// store it does nothing.
//
// The store checked every record when it opened; Recover reads back only
// the small ones (sessions, subscriptions, routes, inbound ids, retained
// entries) and the keys of the messages, not their bodies: a queued or
// in-flight delivery comes back cold (a storedMsg, see stored.go) and its
// body is read when it is sent, so RAM after recovery does not grow with
// the size of the queued messages. Only retained messages are read whole.
//
// It works in passes: decodeStore reads the small records and the message
// keys, then the rebuild functions turn them into the broker's state, each
// kind after the ones it refers to. Records that refer to something
// missing are removed in one commit; sessions that expired while the
// broker was down end after it.
func (s *Server) Recover() (RecoveryStats, error) {
	var rs RecoveryStats
	if s.opts.Store == nil {
		return rs, nil
	}
	d, err := decodeStore(s.opts.Store)
	if err != nil {
		return rs, err
	}
	t := s.beginTxn()
	expired := s.rebuildSessions(t, d, time.Now(), &rs)
	s.rebuildSubs(t, d.subs, &rs)
	routes, err := s.decodeRoutes(t, d, &rs)
	if err != nil {
		return rs, err
	}
	s.rebuildInbound(t, d, &rs)
	s.rebuildRetained(t, d.retained, d, &rs)
	if t, err = s.migrateRoutes(t, routes, &d.msgs); err != nil {
		return rs, err
	}
	maxSeq := routes.restore(&d.msgs)
	dropUnreferenced(t, &d.msgs, &rs)
	s.nextMsgID.Store(d.maxMsgID)
	s.routeSeq.Store(maxSeq)
	if err := s.commitTxn(t); err != nil {
		return rs, err
	}
	for _, ss := range expired {
		s.expire(ss)
		rs.Expired++
	}
	return rs, nil
}

// decoded is the store's small records as plain values, each kind in the
// order the store gave it, and the durable identities of its messages.
type decoded struct {
	sessions []flashstore.Session
	subs     []flashstore.Subscription
	inbound  []inboundRec
	retained []flashstore.Retained
	// byNum finds a session by its number (rebuildSessions fills it).
	byNum map[uint32]*session
	// msgs are the stored messages' identities, sorted by id.
	msgs     storedBlocks
	maxMsgID uint64 // the highest message id seen
}

// smallKinds are the records decodeStore reads whole.
var smallKinds = []flashstore.Kind{flashstore.KindSession, flashstore.KindSubscription, flashstore.KindInbound, flashstore.KindRetained}

// decodeStore reads every live session, subscription, inbound and retained
// record of st, and the keys of its messages. A record that does not
// decode is an error.
func decodeStore(st Store) (*decoded, error) {
	d := &decoded{}
	err := st.RangeKinds(smallKinds, func(kind flashstore.Kind, key, value []byte) error {
		if err := d.add(kind, key, value); err != nil {
			return fmt.Errorf("store record %s %q: %w", kind, key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Every key is visited, so that a record of a kind this broker does
	// not know (a newer one's) is an error, not ignored.
	err = st.RangeKeys(nil, func(kind flashstore.Kind, key []byte) error {
		switch kind {
		case flashstore.KindMessage:
		case flashstore.KindSession, flashstore.KindSubscription, flashstore.KindInbound, flashstore.KindRetained, flashstore.KindRoute:
			return nil
		default:
			return fmt.Errorf("store record %q: unknown record kind %d", key, kind)
		}
		if len(key) != 8 {
			return fmt.Errorf("store record message %q: key is not a message id", key)
		}
		d.msgs.add(binary.BigEndian.Uint64(key))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Sort(&d.msgs)
	d.msgs.each(func(sm *storedMsg) {
		sm.swapOnLog(true)
		d.maxMsgID = max(d.maxMsgID, sm.id)
	})
	return d, nil
}

// inboundRec is an inbound QoS 2 packet id read back: of the session
// numbered num, or (num 0, a record written before sessions were
// numbered) of the session of client.
type inboundRec struct {
	client string
	num    uint32
	pid    uint16
	key    []byte // a numbered key that is malformed: dropped
}

// add decodes one record of kind into d.
func (d *decoded) add(kind flashstore.Kind, key, value []byte) error {
	var err error
	switch kind {
	case flashstore.KindSession:
		d.sessions, err = decodeAppend(d.sessions, value)
	case flashstore.KindSubscription:
		d.subs, err = decodeAppend(d.subs, value)
	case flashstore.KindInbound:
		var r flashstore.Inbound
		if _, err = r.UnmarshalMsg(value); err != nil {
			break
		}
		in := inboundRec{client: r.ClientID, pid: r.PacketID}
		if len(key) > 0 && key[0] == numKeyMark {
			// Numbered; a malformed key (num 0, no session) is dropped.
			in = inboundRec{key: bytes.Clone(key)}
			if num, rest, ok := parseNumKey(key); ok && len(rest) == 2 {
				in = inboundRec{num: num, pid: binary.BigEndian.Uint16(rest)}
			}
		}
		d.inbound = append(d.inbound, in)
	case flashstore.KindRetained:
		d.retained, err = decodeAppend(d.retained, value)
	default:
		err = fmt.Errorf("unknown record kind %d", kind)
	}
	return err
}

// msg returns the durable identity of stored message id (nil: not in the
// store).
func (d *decoded) msg(id uint64) *storedMsg {
	if i := d.find(id); i >= 0 {
		return d.msgs.at(i)
	}
	return nil
}

// find returns the position of stored message id in d.msgs (-1: not in
// the store).
func (d *decoded) find(id uint64) int {
	i, j := 0, d.msgs.n
	for i < j {
		h := int(uint(i+j) >> 1)
		if d.msgs.at(h).id < id {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < d.msgs.n && d.msgs.at(i).id == id {
		return i
	}
	return -1
}

// storedBlocks holds the storedMsgs of the messages found at recovery, in
// blocks of storedBlock, so that it grows without being copied and a
// block is freed once no delivery refers to any of its messages.
type storedBlocks struct {
	blocks [][]storedMsg
	n      int
}

// storedBlock is how many storedMsgs share one allocation (16 KiB).
const storedBlock = 1024

// add appends the identity of message id.
func (b *storedBlocks) add(id uint64) {
	if b.n%storedBlock == 0 {
		b.blocks = append(b.blocks, make([]storedMsg, storedBlock))
	}
	b.at(b.n).id = id
	b.n++
}

// at returns the i-th storedMsg.
func (b *storedBlocks) at(i int) *storedMsg { return &b.blocks[i/storedBlock][i%storedBlock] }

// each calls fn for every storedMsg.
func (b *storedBlocks) each(fn func(sm *storedMsg)) {
	for i := range b.n {
		fn(b.at(i))
	}
}

// Len, Less and Swap sort the ids of storedMsgs not yet in use (their
// size and state are zero).
func (b *storedBlocks) Len() int           { return b.n }
func (b *storedBlocks) Less(i, j int) bool { return b.at(i).id < b.at(j).id }
func (b *storedBlocks) Swap(i, j int) {
	x, y := b.at(i), b.at(j)
	x.id, y.id = y.id, x.id
}

// msgpRecord is a record type of the store (msgp), decoded through its
// pointer.
type msgpRecord[R any] interface {
	*R
	UnmarshalMsg([]byte) ([]byte, error)
}

// decodeAppend decodes value as an R and appends it to dst.
func decodeAppend[R any, P msgpRecord[R]](dst []R, value []byte) ([]R, error) {
	var r R
	_, err := P(&r).UnmarshalMsg(value)
	return append(dst, r), err
}

// decodeMessage decodes a message record into a Message.
func decodeMessage(value []byte) (*Message, error) {
	var r flashstore.Message
	_, err := r.UnmarshalMsg(value)
	m := newMessage([]byte(r.Topic), r.Payload, r.QoS, r.Retain, r.PublisherID)
	m.ID = r.ID
	if r.ExpiresAt != 0 {
		m.ExpiresAt = time.UnixMilli(r.ExpiresAt)
	}
	if err == nil {
		err = decodeStoredProps(m, r.Props)
	}
	return m, err
}

// rebuildSessions creates the persistent sessions with their numbers and
// starts their expiry clocks. A session without a number (written before
// numbers, or sharing one with another by mistake) gets a new one, and its
// record is written again with it. It returns the sessions whose expiry
// passed while the broker was down; the caller ends them once the rest is
// rebuilt.
func (s *Server) rebuildSessions(t *txn, d *decoded, now time.Time, rs *RecoveryStats) (expired []*session) {
	for _, r := range d.sessions {
		s.sessionNum.Store(max(s.sessionNum.Load(), r.Num))
	}
	d.byNum = make(map[uint32]*session, len(d.sessions))
	for _, r := range d.sessions {
		ss := emptySession(r.ClientID, true, &s.opts)
		ss.num = r.Num
		if ss.num == 0 || d.byNum[ss.num] != nil {
			if ss.num != 0 {
				s.log.Error("store: two sessions with one number; the second gets a new one", "client", r.ClientID, "num", r.Num)
			}
			ss.num = s.nextSessionNum()
		}
		d.byNum[ss.num] = ss
		ss.expiry = r.ExpirySeconds
		if r.ExpirySeconds == 0 && !r.Clean {
			ss.expiry = s.opts.persistentExpiry() // written before expiry was recorded
		}
		if o := r.Owner; o != nil {
			// Access control applies from the start: deliveries routed
			// to this session while it is offline are checked against
			// the rights of who owned it, and checked again against
			// whoever attaches to it when they are sent.
			// The policy is the one of the listener the owner came
			// through (per_listener_settings true), as before the restart.
			ss.identity = &auth.Credentials{Username: o.Username, Anonymous: o.Anonymous}
			ss.listener = o.Listener
			ss.acl.Store(s.authFor(o.Listener).Rules(*ss.identity, ss.id))
		}
		s.addSessionLocked(ss)
		rs.Sessions++
		if ss.num != r.Num {
			t.putSession(ss, r.ExpiresAt)
		}
		if !s.restartExpiry(ss, r.ExpiresAt, now) {
			expired = append(expired, ss)
		}
	}
	return expired
}

// restartExpiry starts ss's expiry clock again: an offline session's clock
// (expiresAt, unix milliseconds) goes on across the restart; one that was
// connected when the broker stopped (0) starts its expiry now. It reports
// false when the session has expired already.
func (s *Server) restartExpiry(ss *session, expiresAt int64, now time.Time) bool {
	if ss.expiry == expireNever {
		return true
	}
	at := now.Add(time.Duration(ss.expiry) * time.Second)
	if expiresAt != 0 {
		at = time.UnixMilli(expiresAt)
	}
	if !at.After(now) {
		return false
	}
	ss.expiresAt = at
	ss.expiryTimer = time.AfterFunc(at.Sub(now), func() { s.expire(ss) })
	return true
}

// rebuildSubs puts the subscriptions back into their sessions and the topic
// tree, and removes those of sessions that are gone.
func (s *Server) rebuildSubs(t *txn, subs []flashstore.Subscription, rs *RecoveryStats) {
	for _, r := range subs {
		ss := s.sessions[r.ClientID]
		if ss == nil {
			t.delSub(r.ClientID, r.Filter)
			rs.Dropped++
			continue
		}
		o := subOpts{qos: r.QoS, noLocal: r.NoLocal, retainAsPublished: r.RetainAsPublished, retainHandling: r.RetainHandling, id: r.SubID}
		ss.subs[r.Filter] = o
		s.addSub(ss, r.Filter, o)
		rs.Subscriptions++
	}
}

// restoredRoutes are the routes read back at recovery, and the sessions
// they go to. The queued ones, nearly all of a long queue's, are 16
// bytes each without pointers, in blocks that restore frees one by one
// as the sessions' queues take over; those in flight (at most a window
// per session) keep their packet id and stage.
type restoredRoutes struct {
	queued   [][]queuedRoute
	nqueued  int
	flight   []flightRoute
	sessions []*session
	index    map[*session]uint32 // position in sessions
	// legacy counts the routes keyed by client ID (migrateRoutes).
	legacy int
}

// queuedRoute is a route in stage queued.
type queuedRoute struct {
	seq uint64
	msg uint32 // the message, in decoded.msgs
	ssq uint32 // the session (in restoredRoutes.sessions) << 3 | legacyBit | QoS
}

// legacyBit marks, in queuedRoute.ssq, a route keyed by client ID, which
// migrateRoutes rewrites.
const legacyBit = 4

// bySeq sorts in-flight routes in send order. It is a sort.Interface
// rather than slices.SortFunc: the sort package's one interface-based sort
// is in the binary anyway, while every slices.SortFunc[[]T] adds its own
// copy of pdqsort, about 10 KB of code and metadata on linux/mipsle.
type bySeq []flightRoute

func (s bySeq) Len() int           { return len(s) }
func (s bySeq) Less(i, j int) bool { return s[i].seq < s[j].seq }
func (s bySeq) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// flightRoute is a route in flight.
type flightRoute struct {
	seq   uint64
	msg   uint32
	ss    uint32
	pid   uint16
	qos   uint8
	stage uint8
	// legacy: keyed by client ID (migrateRoutes rewrites it).
	legacy bool
}

// routeBlock is how many queued routes share one allocation (16 KiB).
const routeBlock = 1024

// add appends a route of session ss to message msg (in decoded.msgs);
// legacy says it is keyed by client ID.
func (rr *restoredRoutes) add(ss *session, msg int, r *flashstore.Route, legacy bool) {
	i, ok := rr.index[ss]
	if !ok {
		if rr.index == nil {
			rr.index = map[*session]uint32{}
		}
		i = uint32(len(rr.sessions))
		rr.index[ss] = i
		rr.sessions = append(rr.sessions, ss)
	}
	if legacy {
		rr.legacy++
	}
	if r.Stage != flashstore.RouteQueued {
		rr.flight = append(rr.flight, flightRoute{seq: r.Seq, msg: uint32(msg), ss: i, pid: r.PacketID, qos: r.QoS, stage: r.Stage, legacy: legacy})
		return
	}
	if rr.nqueued%routeBlock == 0 {
		rr.queued = append(rr.queued, make([]queuedRoute, routeBlock))
	}
	// A QoS above 2 (that RestoreQueued ignores) stays above 2.
	ssq := i<<3 | uint32(min(r.QoS, 3))
	if legacy {
		ssq |= legacyBit
	}
	*rr.at(rr.nqueued) = queuedRoute{seq: r.Seq, msg: uint32(msg), ssq: ssq}
	rr.nqueued++
}

// at returns the i-th queued route.
func (rr *restoredRoutes) at(i int) *queuedRoute { return &rr.queued[i/routeBlock][i%routeBlock] }

// Len, Less and Swap sort the queued routes in queue order.
func (rr *restoredRoutes) Len() int           { return rr.nqueued }
func (rr *restoredRoutes) Less(i, j int) bool { return rr.at(i).seq < rr.at(j).seq }
func (rr *restoredRoutes) Swap(i, j int) {
	a, b := rr.at(i), rr.at(j)
	*a, *b = *b, *a
}

// decodeRoutes reads every route record, resolving its session and its
// message, and removes those whose session or message is gone.
func (s *Server) decodeRoutes(t *txn, d *decoded, rs *RecoveryStats) (*restoredRoutes, error) {
	routes := &restoredRoutes{}
	var r flashstore.Route
	err := s.opts.Store.RangeKinds([]flashstore.Kind{flashstore.KindRoute}, func(_ flashstore.Kind, key, value []byte) error {
		r = flashstore.Route{}
		if _, err := r.UnmarshalMsg(value); err != nil {
			return fmt.Errorf("store record %s %q: %w", flashstore.KindRoute, key, err)
		}
		var ss *session
		num, rest, numbered := parseNumKey(key)
		switch {
		case numbered && len(rest) == 8:
			ss, r.MsgID = d.byNum[num], binary.BigEndian.Uint64(rest)
		case numbered || len(key) > 0 && key[0] == numKeyMark:
			s.log.Error("store: dropping a route whose key is not a session number and message id", "key", key)
		default:
			ss = s.sessions[r.ClientID]
		}
		msg := d.find(r.MsgID)
		if ss == nil || msg < 0 {
			t.b.Delete(flashstore.KindRoute, key)
			rs.Dropped++
			return nil
		}
		sm := d.msgs.at(msg)
		sm.addRef()
		sm.size = max(sm.size, r.Size)
		routes.add(ss, msg, &r, !numbered)
		rs.Routes++
		return nil
	})
	return routes, err
}

// restore puts every delivery back into its session's outbound state,
// in flight ones first in send order, then the queue in queue order, all
// cold. Each block of queued routes is let go once restored, so that the
// routes and the queues they fill are not both whole in memory. It
// returns the highest route sequence number seen.
func (rr *restoredRoutes) restore(msgs *storedBlocks) (maxSeq uint64) {
	sort.Sort(bySeq(rr.flight))
	for _, r := range rr.flight {
		maxSeq = max(maxSeq, r.seq)
		ss, om := rr.sessions[r.ss], coldOut(msgs.at(int(r.msg)))
		if !ss.out.Restore(r.pid, om, r.qos, stageOf(r.stage)) {
			// Two routes with one packet id cannot both be in flight;
			// keep the message by queueing it again (a QoS 1/2
			// resend), before the queue.
			ss.restoreQueuedLocked(om, r.qos)
		}
	}
	rr.flight = nil
	sort.Sort(rr)
	queued := make([]int, len(rr.sessions))
	for i := range rr.nqueued {
		queued[rr.at(i).ssq>>3]++
	}
	for i, n := range queued {
		rr.sessions[i].out.ReserveQueued(n)
	}
	for b, blk := range rr.queued {
		for _, r := range blk[:min(routeBlock, rr.nqueued-b*routeBlock)] {
			maxSeq = max(maxSeq, r.seq)
			rr.sessions[r.ssq>>3].restoreQueuedLocked(coldOut(msgs.at(int(r.msg))), byte(r.ssq&3))
		}
		rr.queued[b] = nil
	}
	return maxSeq
}

// rebuildInbound puts back the QoS 2 packet ids awaiting PUBREL, and
// removes those of sessions that are gone. An id keyed by client ID
// (written before sessions were numbered) is written again under its
// session's number.
func (s *Server) rebuildInbound(t *txn, d *decoded, rs *RecoveryStats) {
	for _, r := range d.inbound {
		if r.key != nil {
			s.log.Error("store: dropping an inbound QoS 2 id whose key is not a session number and packet id", "key", r.key)
			t.b.Delete(flashstore.KindInbound, r.key)
			rs.Dropped++
			continue
		}
		var ss *session
		if r.num != 0 {
			ss = d.byNum[r.num]
		} else {
			ss = s.sessions[r.client]
		}
		if r.num == 0 {
			t.b.Delete(flashstore.KindInbound, t.legacyKey(r.client, binary.BigEndian.AppendUint16(nil, r.pid)))
		}
		if ss == nil {
			if r.num != 0 {
				t.delInbound(&session{num: r.num}, r.pid)
			}
			rs.Dropped++
			continue
		}
		if r.num == 0 {
			t.putInbound(ss, r.pid)
		}
		ss.in.Restore(r.pid)
		rs.Inbound++
	}
}

// rebuildRetained puts back the retained messages, reading each one's
// body, and removes entries whose message is gone.
func (s *Server) rebuildRetained(t *txn, retained []flashstore.Retained, d *decoded, rs *RecoveryStats) {
	for _, r := range retained {
		sm := d.msg(r.MsgID)
		if sm == nil {
			t.b.Delete(flashstore.KindRetained, t.plainKey(r.Topic))
			rs.Dropped++
			continue
		}
		om := coldOut(sm)
		if !s.loadBody(&om) {
			// Unreadable (counted and logged): the topic loses its
			// retained message.
			t.b.Delete(flashstore.KindRetained, t.plainKey(r.Topic))
			rs.Dropped++
			continue
		}
		sm.addRef()
		sm.size = uint32(om.size())
		s.retained.Set(r.Topic, om.msg())
		rs.Retained++
	}
}

// dropUnreferenced removes the messages no route or retained entry refers
// to, once the others have counted their references.
func dropUnreferenced(t *txn, msgs *storedBlocks, rs *RecoveryStats) {
	msgs.each(func(sm *storedMsg) {
		if sm.refs() == 0 {
			t.b.Delete(flashstore.KindMessage, t.msgKey(sm.id))
			sm.swapOnLog(false)
			rs.Dropped++
			return
		}
		rs.Messages++
	})
}
