package mqtt

import (
	"strings"
	"sync"
	"time"

	"gatemq/mqtt/auth"
	"gatemq/mqtt/topic"
)

// target is one delivery decided by a topic match: the session, the
// message as this subscription sends it, and the QoS.
type target struct {
	ss  *session
	om  outMsg
	qos byte
}

// match finds the sessions m goes to (one delivery per session at the
// highest QoS of its matching subscriptions, No Local and shared groups
// applied) and appends them to dst. buf is a reused match slice; both are
// returned for reuse. It also gives m its id and arrival time.
func (s *Server) match(m *Message, from *client, buf []topic.Sub[*session], dst []target) ([]topic.Sub[*session], []target) {
	m.ID = s.nextMsgID.Add(1)
	m.Created = time.Now()
	if m.Retain {
		// The retained store changes and the match happen under retMu, as a
		// subscription's addition and its retained snapshot do: a new
		// subscriber gets such a message once, either as retained or live.
		s.retMu.Lock()
		m.replaced = s.swapRetained(m)
	}
	s.subMu.Lock()
	buf = s.subs.Match(topicBytes(m.Topic), buf[:0])
	s.subMu.Unlock()
	if m.Retain {
		s.retMu.Unlock()
	}
	if from != nil {
		buf = dropNoLocal(buf, from.sess)
	}
	all := buf
	buf = pickShared(topic.Dedup(buf), m.ID)
	overlap := len(buf) < len(all)
	for i := range buf {
		sub := &buf[i]
		om := hotOut(m)
		om.retain, om.subID = sub.RetainAsPublished && m.Retain, sub.ID
		if sub.Group != "" {
			om.setMore(&outMore{group: sub.Group})
		} else if overlap && sub.ID != 0 {
			// Overlapping subscriptions: one PUBLISH carries all their
			// identifiers [MQTT-3.3.4-3].
			if ids := topic.SubscriptionIDs(all, sub.Key, nil); len(ids) > 1 {
				om.setMore(&outMore{subIDs: ids})
			}
		}
		if !sub.Key.allowed(m.Topic, auth.Read) {
			continue // the ACL does not let this client read the topic
		}
		dst = append(dst, target{ss: sub.Key, om: om, qos: s.deliveryQoS(m.QoS, sub.QoS)})
	}
	clear(all)
	return all[:0], dst
}

// swapRetained makes m the topic's retained message, or clears the topic
// when the payload is empty [MQTT-3.3.1-10], and returns the message it
// replaced (nil: none). The caller holds retMu. The memory state changes at
// once; if the records of the change then fail to commit, restoreRetained
// puts the old one back.
func (s *Server) swapRetained(m *Message) *Message {
	old, _ := s.retained.Get(m.Topic)
	if len(m.Payload) == 0 {
		s.retained.Delete(m.Topic)
	} else {
		s.retained.Set(m.Topic, m)
	}
	return old
}

// restoreRetained undoes swapRetained for m, whose records could not be
// committed: the topic gets old back (nothing, when old is nil), unless a
// later message has changed the topic meanwhile. A clearing message (empty
// payload) is not undone: its records only remove, which a full store
// still admits.
func (s *Server) restoreRetained(m, old *Message) {
	s.retMu.Lock()
	defer s.retMu.Unlock()
	if cur, ok := s.retained.Get(m.Topic); !ok || cur != m {
		return
	}
	if old == nil {
		s.retained.Delete(m.Topic)
		return
	}
	s.retained.Set(m.Topic, old)
}

// dropNoLocal removes, in place, the subscriptions of the publisher's own
// session that asked for No Local [MQTT-3.8.3-3].
func dropNoLocal(subs []topic.Sub[*session], own *session) []topic.Sub[*session] {
	out := subs[:0]
	for _, s := range subs {
		if s.NoLocal && s.Key == own {
			continue
		}
		out = append(out, s)
	}
	clear(subs[len(out):])
	return out
}

// fanout hands m to every target, then forgets them (so the reused slice
// keeps no session alive).
func (s *Server) fanout(targets []target, from *client) {
	for i := range targets {
		tg := &targets[i]
		s.deliver(tg.ss, tg.om, tg.qos, from)
		*tg = target{}
	}
}

// deliver hands one message to one session at QoS q. QoS 0 goes to the
// connection's QoS 0 queue (and is not kept for offline sessions). QoS 1/2
// goes through the session's outbound state (for a persistent session its
// route is already durable). When the queue is full the publisher (from)
// waits up to QueueWait for room while the subscriber is connected;
// otherwise the delivery is dropped, logged and counted.
func (s *Server) deliver(ss *session, om outMsg, q byte, from *client) {
	if ss.local != nil {
		ss.mu.Lock()
		ended := ss.ended
		ss.mu.Unlock()
		if !ended {
			m := om.msg()
			ss.local(m.Topic, m.Payload, om.retain)
		}
		return
	}
	if q == 0 {
		ss.mu.Lock()
		conn := ss.conn
		if conn == nil && ss.persistent && s.opts.QueueQoS0 && !ss.ended {
			// queue_qos0_messages: kept in RAM for the offline session,
			// within its queue's limits, and lost in a restart (QoS 0 is
			// at most once: it is never written to flash).
			om.flags |= outVolatile
			// Kept in RAM: within max_queued_messages/bytes even for a
			// bridge, whose QoS 1/2 queue is bounded by the store alone.
			ok := !ss.overLimitsLocked(&s.opts) && ss.enqueueLocked(om, 0, &s.opts, &s.bodies)
			ss.mu.Unlock()
			if !ok {
				s.dropQueued(ss, om, false)
			}
			return
		}
		ss.mu.Unlock()
		if conn != nil {
			conn.pushQoS0(om, from)
		}
		return
	}
	var deadline time.Time
	for {
		ss.mu.Lock()
		if ss.ended {
			ss.mu.Unlock()
			return
		}
		conn := ss.conn
		ok := false
		// A bridge's queue is bounded by bridgeFull, before the publisher
		// is acknowledged, not by dropping here.
		if conn != nil || ss.bridge != nil || !s.overQueuedTotal() {
			ok = ss.enqueueLocked(om, q, &s.opts, &s.bodies)
		}
		var wait chan struct{}
		if !ok && conn != nil && from != nil && from != conn {
			if ss.space == nil {
				ss.space = make(chan struct{})
			}
			wait = ss.space
		}
		ss.mu.Unlock()
		if ok {
			if conn != nil {
				conn.kickFrom(from)
			}
			return
		}
		if wait == nil {
			s.dropQueued(ss, om, conn != nil)
			return
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.opts.QueueWait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			s.dropQueued(ss, om, true)
			s.slowConsumer(conn)
			return
		}
		t := time.NewTimer(left)
		select {
		case <-wait:
			t.Stop()
		case <-t.C:
		case <-from.endedChan():
			t.Stop()
			s.dropQueued(ss, om, true)
			return
		}
	}
}

// dropQueued counts and logs a QoS 1/2 delivery that did not fit a
// session's queue (max_queued_messages), and forgets its durable route.
func (s *Server) dropQueued(ss *session, om outMsg, online bool) {
	if ss.persistent {
		t := s.beginTxn()
		t.delRoute(ss, om.stored())
		_ = s.commitTxn(t)
	}
	ss.mu.Lock()
	if b := ss.bridge; b != nil {
		b.dropped.Add(1)
	}
	ss.mu.Unlock()
	n := s.stats.publishDropped.Add(1)
	if n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th… drop, not every one
		s.log.Warn("queue full: message dropped for session", "client", ss.id, "online", online,
			"msg_id", om.id(), "max_queued_messages", s.opts.MaxQueued,
			"max_queued_bytes", s.opts.MaxSessionQueuedBytes, "dropped_total", n)
	}
}

// Publish sends a message from the broker itself (for $SYS, the serial
// bridge and other in-process clients) to every matching subscriber, and
// retains it when retain is set. topic must be a valid topic name.
func (s *Server) Publish(topicName string, payload []byte, qos byte, retain bool) error {
	if err := topic.ValidName([]byte(topicName)); err != nil {
		return err
	}
	return s.publish(newMessage([]byte(topicName), payload, min(qos, 2), retain, ""))
}

// publish routes a message of the broker's own (a will, $SYS, an in-process
// client) synchronously: its records are committed before it is delivered.
func (s *Server) publish(m *Message) error {
	sc := matchScratchPool.Get().(*matchScratch)
	defer matchScratchPool.Put(sc)
	sc.subs, sc.targets = s.match(m, nil, sc.subs, sc.targets[:0])
	t := s.beginTxn()
	replaced := m.replaced
	s.record(t, m, sc.targets, nil, 0)
	if err := s.commitTxn(t); err != nil {
		clear(sc.targets)
		if m.Retain {
			s.restoreRetained(m, replaced)
		}
		return err
	}
	s.fanout(sc.targets, nil)
	clear(sc.targets) // a pooled slice must not keep the message alive
	return nil
}

// matchScratch holds the reused slices of one match outside a connection's
// reader (the broker's own messages and wills).
type matchScratch struct {
	subs    []topic.Sub[*session]
	targets []target
}

// matchScratchPool recycles matchScratch values.
var matchScratchPool = sync.Pool{New: func() any { return new(matchScratch) }}

// isSysTopic reports whether a topic belongs to the broker's $SYS tree.
func isSysTopic(t []byte) bool { return strings.HasPrefix(string(t), "$SYS/") }
