package mqtt

import (
	"strings"
	"sync"
	"time"

	"gatemq/flashstore"
	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
)

// handlePublish acts on an inbound PUBLISH (the broker is the receiver on
// this hop): QoS 0 is routed; QoS 1 is routed then PUBACKed; QoS 2 is routed
// once per packet id and PUBRECed every time (Method B: a retransmission of
// an id still awaiting PUBREL is answered but not delivered again
// [MQTT-4.3.3-10]). With a store, the acknowledgement leaves only after the
// message, its routes to persistent sessions and the inbound packet id are
// durable; if they cannot be stored the connection is closed without an
// acknowledgement, so the publisher keeps the message.
func (c *client) handlePublish() error {
	s := c.srv
	p := &c.pk
	s.stats.publishReceived.Add(1)
	if c.version == packet.V5 {
		if len(p.Props.SubscriptionIDs) > 0 {
			return &packet.Error{Code: packet.ProtocolError, Msg: "PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6]"}
		}
		if err := c.resolveTopicAlias(); err != nil {
			return err
		}
		if p.Props.HasPayloadFormat && p.Props.PayloadFormat == 1 && !packet.ValidUTF8String(p.Payload) {
			// [MQTT-3.3.2-4]: refuse it with 0x99 (QoS 0: just drop it).
			s.stats.publishDropped.Add(1)
			if p.QoS > 0 { // in order behind acknowledgements still due
				c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.PayloadFormatInvalid})
			}
			return c.pipeErr()
		}
	}

	if !s.opts.topicWithinLimits(p.Topic) {
		s.stats.topicsRefused.Add(1)
		return &packet.Error{Code: packet.TopicNameInvalid, Msg: "topic name over max_topic_length or max_topic_levels"}
	}
	if !c.sess.allowed(string(p.Topic), auth.Write) {
		// Not allowed by the ACL: 5.0 says so with 0x87; a 3.1.1 client
		// is acknowledged and the message dropped, as Mosquitto does.
		s.stats.publishDropped.Add(1)
		s.log.Debug("publish denied by the ACL", "client", c.id, "topic", string(p.Topic))
		if c.version == packet.V5 {
			c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.NotAuthorized})
		} else if p.QoS > 0 {
			c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.Success})
		}
		return c.pipeErr()
	}
	switch p.QoS {
	case 2:
		ss := c.sess
		ss.mu.Lock()
		isNew, full := ss.in.Publish(p.PacketID)
		ss.mu.Unlock()
		if full {
			return &packet.Error{Code: packet.ReceiveMaxExceeded, Msg: "too many QoS 2 messages awaiting PUBREL"}
		}
		if !isNew {
			// A retransmission before PUBREL: PUBREC again, no delivery.
			c.pipeline(pipeRec{}, action{ack: packet.PUBREC, id: p.PacketID, code: packet.Success})
			return nil
		}
		var durableID uint16
		if ss.persistent {
			durableID = p.PacketID
		}
		c.routeInbound(durableID, packet.PUBREC)
	case 1:
		c.routeInbound(0, packet.PUBACK)
	default:
		c.routeInbound(0, 0)
	}
	return c.pipeErr()
}

// ackFor is the acknowledgement of a PUBLISH at qos (0: none).
func ackFor(qos byte) packet.Type {
	switch qos {
	case 1:
		return packet.PUBACK
	case 2:
		return packet.PUBREC
	}
	return 0
}

// resolveTopicAlias applies a 5.0 Topic Alias: a PUBLISH with a topic sets
// the alias, one with an empty topic uses it.
func (c *client) resolveTopicAlias() error {
	p := &c.pk
	if !p.Props.HasTopicAlias {
		return nil
	}
	a := p.Props.TopicAlias
	if a == 0 || a > serverTopicAliasMax {
		return &packet.Error{Code: packet.TopicAliasInvalid, Msg: "topic alias out of range [MQTT-3.3.2-8]"}
	}
	if len(p.Topic) > 0 {
		if c.aliasesIn == nil {
			c.aliasesIn = make(map[uint16]string)
		}
		if old, ok := c.aliasesIn[a]; !ok || old != string(p.Topic) {
			c.aliasesIn[a] = string(p.Topic)
		}
		return nil
	}
	t, ok := c.aliasesIn[a]
	if !ok {
		return &packet.Error{Code: packet.ProtocolError, Msg: "unknown topic alias [MQTT-3.3.4-...]"}
	}
	p.Topic = topicBytes(t)
	return nil
}

// routeInbound turns the PUBLISH view in c.pk into a Message and routes it
// through the connection's store pipeline, then acknowledges it with ack
// (PUBACK, PUBREC, or 0 for none). A message a limit says to drop is still
// acknowledged, as Mosquitto does, so the publisher does not resend it
// forever. inboundID, when not 0, is a QoS 2 packet id to record durably
// with the message.
func (c *client) routeInbound(inboundID uint16, ack packet.Type) {
	s := c.srv
	p := &c.pk
	drop := ""
	switch {
	case s.opts.MessageSizeLimit > 0 && len(p.Payload) > s.opts.MessageSizeLimit:
		drop = "payload over message_size_limit"
	case isSysTopic(p.Topic):
		drop = "clients may not publish to $SYS"
	}
	if drop != "" {
		s.log.Info("dropping message", "client", c.id, "topic", string(p.Topic), "bytes", len(p.Payload), "why", drop)
		s.stats.publishDropped.Add(1)
		rec := pipeRec{}
		if inboundID != 0 {
			rec = pipeRec{kind: recPutInbound, ss: c.sess, id: inboundID}
		}
		c.pipeline(rec, action{ack: ack, id: p.PacketID, code: packet.Success, qos2: p.QoS == 2})
		return
	}
	m := newMessage(p.Topic, p.Payload, p.QoS, p.Retain, c.id)
	if c.version == packet.V5 {
		setMessageProps(m, &p.Props, time.Now())
	}
	c.matchBuf, c.targets = s.match(m, c, c.matchBuf, c.targets[:0])
	code := packet.Success
	if c.version == packet.V5 && len(c.targets) == 0 {
		code = packet.NoMatchingSubscribers // 5.0: nobody subscribed
	}
	c.pipelineRoute(m, inboundID, action{ack: ack, id: p.PacketID, code: code, qos2: p.QoS == 2})
}

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
		om := outMsg{m: m, retain: sub.RetainAsPublished && m.Retain, subID: sub.ID, group: sub.Group}
		if overlap && sub.ID != 0 && sub.Group == "" {
			// Overlapping subscriptions: one PUBLISH carries all their
			// identifiers [MQTT-3.3.4-3].
			if ids := topic.SubscriptionIDs(all, sub.Key, nil); len(ids) > 1 {
				om.subIDs = ids
			}
		}
		if !sub.Key.allowed(m.Topic, auth.Read) {
			continue // the ACL does not let this client read the topic
		}
		dst = append(dst, target{ss: sub.Key, om: om, qos: min(m.QoS, sub.QoS)})
	}
	clear(all)
	return all[:0], dst
}

// record updates the retained store for m and adds to t (nil without a
// store) the records that make m's deliveries to persistent sessions, its
// retained entry and inboundID (a QoS 2 packet id of from's session)
// durable. It reports whether it added anything. $SYS messages are rebuilt
// every interval and never spend flash.
func (s *Server) record(t *txn, m *Message, targets []target, from *client, inboundID uint16) bool {
	if t == nil || isSysTopic(topicBytes(m.Topic)) {
		m.replaced = nil
		return false
	}
	n := t.b.Len()
	if inboundID != 0 {
		t.putInbound(from.id, inboundID)
	}
	for _, tg := range targets {
		if tg.qos > 0 && tg.ss.persistent {
			t.putRoute(tg.ss.id, m, tg.qos, 0, flashstore.RouteQueued, s.routeSeq.Add(1))
			t.ref(m)
		}
	}
	if m.Retain {
		if len(m.Payload) > 0 {
			t.putRetained(m)
		}
		if old := m.replaced; old != nil {
			if len(m.Payload) == 0 {
				t.delRetained(old)
			} else {
				t.unref(old)
			}
			m.replaced = nil
		}
	}
	return t.b.Len() > n
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

// publish routes a message of the broker's own (a will, $SYS, an in-process
// client) synchronously: its records are committed before it is delivered.
func (s *Server) publish(m *Message) error {
	sc := matchScratchPool.Get().(*matchScratch)
	defer matchScratchPool.Put(sc)
	sc.subs, sc.targets = s.match(m, nil, sc.subs, sc.targets[:0])
	t := s.beginTxn()
	s.record(t, m, sc.targets, nil, 0)
	if err := s.commitTxn(t); err != nil {
		clear(sc.targets)
		return err
	}
	s.fanout(sc.targets, nil)
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

// swapRetained makes m the topic's retained message, or clears the topic
// when the payload is empty [MQTT-3.3.1-10], and returns the message it
// replaced (nil: none). The caller holds retMu. The memory state changes at
// once; if the records of the change then fail to commit, memory is ahead
// of the store until the next retained message on that topic.
func (s *Server) swapRetained(m *Message) *Message {
	old, _ := s.retained.Get(m.Topic)
	if len(m.Payload) == 0 {
		s.retained.Delete(m.Topic)
	} else {
		s.retained.Set(m.Topic, m)
	}
	return old
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
			ss.local(om.m.Topic, om.m.Payload, om.retain)
		}
		return
	}
	if q == 0 {
		ss.mu.Lock()
		conn := ss.conn
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
		if conn != nil || !s.overQueuedTotal() {
			ok = ss.out.Enqueue(om, q)
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
				conn.kick()
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
		case <-from.done:
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
		t.delRoute(ss.id, om.m)
		_ = s.commitTxn(t)
	}
	n := s.stats.publishDropped.Add(1)
	if n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th… drop, not every one
		s.log.Warn("queue full: message dropped for session", "client", ss.id, "online", online,
			"topic", om.m.Topic, "max_queued_messages", s.opts.MaxQueued, "dropped_total", n)
	}
}

// finished forgets a completed (or refused) delivery to c's session: its
// durable route goes (without waiting: a removal promises the peer nothing,
// and one lost in a crash only means a QoS 1 resend or a harmless PUBREL),
// and the writer may send more.
func (c *client) finished(om outMsg) {
	ss := c.sess
	if ss.persistent && c.srv.opts.Store != nil {
		c.pipeline(pipeRec{kind: recDelRoute, ss: ss, m: om.m}, action{})
	}
	c.kick()
}

// handlePuback completes a QoS 1 delivery.
func (c *client) handlePuback(id uint16) {
	ss := c.sess
	ss.mu.Lock()
	om, ok := ss.out.Puback(id)
	ss.mu.Unlock()
	if ok {
		c.finished(om)
	}
}

// handlePubrec moves a QoS 2 delivery to its second half and answers PUBREL
// [MQTT-4.3.3-3], after the new stage is durable (so the PUBLISH is never
// sent again, even after a crash [MQTT-4.3.3-6]). A PUBREC for an unknown id
// is answered with PUBREL all the same (5.0: reason "packet identifier not
// found"). A 5.0 PUBREC with a failure code ends the delivery.
func (c *client) handlePubrec(id uint16, code packet.ReasonCode) error {
	ss := c.sess
	ss.mu.Lock()
	if code >= 0x80 {
		om, ok := ss.out.PubrecFailed(id)
		ss.mu.Unlock()
		if ok {
			c.finished(om)
		}
		return nil
	}
	om, ok := ss.out.Pubrec(id)
	ss.mu.Unlock()
	rc := packet.Success
	var rec pipeRec
	if !ok {
		rc = packet.PacketIDNotFound
	} else if ss.persistent {
		rec = pipeRec{kind: recReleased, ss: ss, m: om.m, id: id}
	}
	c.pipeline(rec, action{ack: packet.PUBREL, id: id, code: rc})
	return c.pipeErr()
}

// handlePubrel ends an inbound QoS 2 exchange: the id may be used for a new
// message again [MQTT-4.3.3-12]. PUBCOMP is sent even for an unknown id, and
// only once the id's removal is durable.
func (c *client) handlePubrel(id uint16) error {
	ss := c.sess
	ss.mu.Lock()
	known := ss.in.Release(id)
	ss.mu.Unlock()
	rc := packet.Success
	var rec pipeRec
	if !known {
		rc = packet.PacketIDNotFound
	} else if ss.persistent {
		rec = pipeRec{kind: recDelInbound, ss: ss, id: id}
	}
	c.pipeline(rec, action{ack: packet.PUBCOMP, id: id, code: rc})
	return c.pipeErr()
}

// handlePubcomp completes a QoS 2 delivery.
func (c *client) handlePubcomp(id uint16) {
	ss := c.sess
	ss.mu.Lock()
	om, ok := ss.out.Pubcomp(id)
	ss.mu.Unlock()
	if ok {
		c.finished(om)
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

// isSysTopic reports whether a topic belongs to the broker's $SYS tree.
func isSysTopic(t []byte) bool { return strings.HasPrefix(string(t), "$SYS/") }

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

// pickShared keeps, in place, one member of each shared subscription group
// that matched: connected members first, spread by message id.
func pickShared(subs []topic.Sub[*session], msgID uint64) []topic.Sub[*session] {
	shared := false
	for i := range subs {
		if subs[i].Group != "" {
			shared = true
			break
		}
	}
	if !shared {
		return subs
	}
	out := subs[:0]
	for i := 0; i < len(subs); i++ {
		s := subs[i]
		if s.Group == "" {
			out = append(out, s)
			continue
		}
		if s.Key == nil { // already handled with its group
			continue
		}
		// Members of this group, in match order.
		var members [16]int
		idx := members[:0]
		for j := i; j < len(subs); j++ {
			if subs[j].Key != nil && subs[j].Group == s.Group {
				idx = append(idx, j)
			}
		}
		start := int(msgID % uint64(len(idx)))
		chosen := idx[start]
		for k := range idx {
			j := idx[(start+k)%len(idx)]
			ss := subs[j].Key
			ss.mu.Lock()
			online := ss.conn != nil || ss.local != nil
			ss.mu.Unlock()
			if online {
				chosen = j
				break
			}
		}
		pick := subs[chosen]
		for _, j := range idx {
			subs[j].Key = nil
		}
		out = append(out, pick)
	}
	clear(subs[len(out):])
	return out
}
