package mqtt

import (
	"strings"
	"time"

	"gatemq/flashstore"
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
			c.ackRefused(packet.PayloadFormatInvalid)
			return nil
		}
	}

	if p.QoS == 2 {
		ss := c.sess
		ss.mu.Lock()
		isNew, full := ss.in.Publish(p.PacketID)
		ss.mu.Unlock()
		if full {
			return &packet.Error{Code: packet.ReceiveMaxExceeded, Msg: "too many QoS 2 messages awaiting PUBREL"}
		}
		if isNew {
			var durableID uint16
			if ss.persistent {
				durableID = p.PacketID
			}
			if err := c.routeInbound(durableID); err != nil {
				ss.mu.Lock()
				ss.in.Release(p.PacketID)
				ss.mu.Unlock()
				return c.storeRefused(err)
			}
		}
		c.sendAck(packet.PUBREC, p.PacketID, c.deliveredCode())
		return nil
	}
	if err := c.routeInbound(0); err != nil {
		if p.QoS == 0 {
			return nil // QoS 0 keeps flowing even when the store is full
		}
		return c.storeRefused(err)
	}
	if p.QoS == 1 {
		c.sendAck(packet.PUBACK, p.PacketID, c.deliveredCode())
	}
	return nil
}

// deliveredCode is the reason code of a PUBACK/PUBREC for a message just
// routed: 5.0 says 0x10 when nobody subscribed to it.
func (c *client) deliveredCode() packet.ReasonCode {
	if c.version == packet.V5 && c.matched == 0 {
		return packet.NoMatchingSubscribers
	}
	return packet.Success
}

// storeRefused answers a QoS 1/2 PUBLISH that could not be stored: a 5.0
// client gets PUBACK/PUBREC 0x97 (quota exceeded) and may retry later; a
// 3.1.1 client has no way to be told, so its connection is closed without an
// acknowledgement and it keeps the message.
func (c *client) storeRefused(err error) error {
	c.srv.stats.publishDropped.Add(1)
	if c.version == packet.V5 {
		c.ackRefused(packet.QuotaExceeded)
		return nil
	}
	return err
}

// ackRefused answers the current QoS 1/2 PUBLISH with a failure code (5.0).
func (c *client) ackRefused(code packet.ReasonCode) {
	p := &c.pk
	switch p.QoS {
	case 1:
		c.sendAck(packet.PUBACK, p.PacketID, code)
	case 2:
		c.sendAck(packet.PUBREC, p.PacketID, code)
	}
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

// routeInbound turns the PUBLISH view in c.pk into a Message and routes it,
// unless a limit says it must be dropped (it is still acknowledged, as
// Mosquitto does, so the publisher does not resend it forever). inboundID,
// when not 0, is a QoS 2 packet id to record durably with the message.
func (c *client) routeInbound(inboundID uint16) error {
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
		if inboundID != 0 {
			t := s.beginTxn()
			t.putInbound(c.id, inboundID)
			return s.commitTxn(t)
		}
		return nil
	}
	m := newMessage(p.Topic, p.Payload, p.QoS, p.Retain, c.id)
	if c.version == packet.V5 {
		setMessageProps(m, &p.Props, time.Now())
	}
	var err error
	c.matchBuf, err = s.publish(m, c, c.matchBuf, inboundID)
	c.matched = len(c.matchBuf)
	return err
}

// publish routes m to every matching session and, when it carries the
// RETAIN flag, updates the retained store. from is the publishing
// connection (nil for the broker's own messages); buf is a reused match slice
// and is returned for reuse. With a store, the routes to persistent
// sessions, the retained entry and inboundID (a QoS 2 packet id of from's
// session) are committed in one batch before anything is delivered.
func (s *Server) publish(m *Message, from *client, buf []topic.Sub[*session], inboundID uint16) ([]topic.Sub[*session], error) {
	m.ID = s.nextMsgID.Add(1)
	m.Created = time.Now()
	s.subMu.Lock()
	buf = s.subs.Match(topicBytes(m.Topic), buf[:0])
	s.subMu.Unlock()
	if from != nil {
		buf = dropNoLocal(buf, from.sess)
	}
	all := buf
	buf = pickShared(topic.Dedup(buf), m.ID)

	// $SYS messages are rebuilt every interval: never spend flash on them.
	if t := s.beginTxnUnless(isSysTopic(topicBytes(m.Topic))); t != nil {
		if inboundID != 0 {
			t.putInbound(from.id, inboundID)
		}
		for i := range buf {
			sub := &buf[i]
			if q := min(m.QoS, sub.QoS); q > 0 && sub.Key.persistent {
				t.putRoute(sub.Key.id, m, q, 0, flashstore.RouteQueued, s.routeSeq.Add(1))
				t.ref(m)
			}
		}
		if m.Retain {
			s.retain(m, t)
		}
		if err := s.commitTxn(t); err != nil {
			clear(buf)
			return buf, err
		}
	} else if m.Retain {
		s.retain(m, nil)
	}

	overlap := len(buf) < len(all)
	for i := range buf {
		sub := &buf[i]
		om := outMsg{m: m, retain: sub.RetainAsPublished && m.Retain, subID: sub.ID}
		if overlap && sub.ID != 0 && sub.Group == "" {
			// Overlapping subscriptions: one PUBLISH carries all their
			// identifiers [MQTT-3.3.4-3].
			if ids := topic.SubscriptionIDs(all, sub.Key, nil); len(ids) > 1 {
				om.subIDs = ids
			}
		}
		s.deliver(sub.Key, om, min(m.QoS, sub.QoS), from)
		sub.Key = nil // do not keep sessions alive through the reused slice
	}
	return buf, nil
}

// retain makes m the topic's retained message, or clears the topic when the
// payload is empty [MQTT-3.3.1-10], recording the change in t. The memory
// state changes at once; if t then fails to commit, memory is ahead of the
// store until the next retained message on that topic.
func (s *Server) retain(m *Message, t *txn) {
	s.retMu.Lock()
	old, had := s.retained.Get(m.Topic)
	if len(m.Payload) == 0 {
		s.retained.Delete(m.Topic)
	} else {
		s.retained.Set(m.Topic, m)
		t.putRetained(m)
	}
	if had {
		if len(m.Payload) == 0 {
			t.delRetained(old)
		} else {
			t.unref(old)
		}
	}
	s.retMu.Unlock()
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
		ok := ss.out.Enqueue(om, q)
		conn := ss.conn
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
// durable route goes, and the writer may send more.
func (c *client) finished(om outMsg) {
	ss := c.sess
	if ss.persistent {
		t := c.srv.beginTxn()
		t.delRoute(ss.id, om.m)
		_ = c.srv.commitTxn(t)
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
	if !ok {
		rc = packet.PacketIDNotFound
	} else if ss.persistent {
		t := c.srv.beginTxn()
		t.putRoute(ss.id, om.m, 2, id, flashstore.RouteReleased, c.srv.routeSeq.Add(1))
		if err := c.srv.commitTxn(t); err != nil {
			return err
		}
	}
	c.sendAck(packet.PUBREL, id, rc)
	return nil
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
	if !known {
		rc = packet.PacketIDNotFound
	} else if ss.persistent {
		t := c.srv.beginTxn()
		t.delInbound(ss.id, id)
		if err := c.srv.commitTxn(t); err != nil {
			return err
		}
	}
	c.sendAck(packet.PUBCOMP, id, rc)
	return nil
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
	m := newMessage([]byte(topicName), payload, min(qos, 2), retain, "")
	_, err := s.publish(m, nil, nil, 0)
	return err
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
