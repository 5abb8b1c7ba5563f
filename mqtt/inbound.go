package mqtt

import (
	"strings"
	"time"

	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
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
	p := &c.rs.pk
	s.stats.publishReceived.Add(1)
	if p.QoS > c.lo.maxQoS() {
		return &packet.Error{Code: packet.QoSNotSupported, Msg: "PUBLISH above the listener's max_qos"}
	}
	if p.Retain && s.opts.RetainUnavailable {
		return &packet.Error{Code: packet.RetainNotSupported, Msg: "retained messages are not available (retain_available false)"}
	}
	if c.version == packet.V5 {
		if len(p.Props.SubscriptionIDs) > 0 {
			return &packet.Error{Code: packet.ProtocolError, Msg: "PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6]"}
		}
		if err := c.resolveTopicAlias(); err != nil {
			return err
		}
		if p.QoS > 0 && c.overReceiveMaximum(p.QoS, p.PacketID) {
			s.stats.receiveMaxExceed.Add(1)
			return &packet.Error{Code: packet.ReceiveMaxExceeded, Msg: "more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum in CONNACK [MQTT-3.3.4-9]"}
		}
	}
	if p.QoS == 1 {
		c.inUnacked.Add(1) // until its PUBACK is queued (sendAck)
	}
	if c.version == packet.V5 {
		if p.Props.HasPayloadFormat && p.Props.PayloadFormat == 1 && !packet.ValidUTF8String(p.Payload) {
			// [MQTT-3.3.2-4]: refuse it with 0x99 (QoS 0: just drop it).
			s.stats.publishDropped.Add(1)
			if p.QoS > 0 { // in order behind acknowledgements still due
				c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.PayloadFormatInvalid})
			}
			return c.pipeErr()
		}
	}

	if mp := c.lo.MountPoint; mp != "" {
		p.Topic = mountTopic(mp, p.Topic)
	}
	if b := c.bridge; b != nil {
		t, ok := b.localTopic(p.Topic)
		if !ok { // no in topic matches: acknowledged and dropped, as Mosquitto does
			s.stats.publishDropped.Add(1)
			if p.QoS > 0 {
				c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.Success})
			}
			return c.pipeErr()
		}
		p.Topic = t
		b.received.Add(1)
		b.lastActive.Store(time.Now().UnixNano())
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

// overReceiveMaximum reports whether a new QoS 1/2 PUBLISH from a 5.0
// client goes over the Receive Maximum the broker announced in CONNACK:
// QoS 1 PUBLISHes not yet answered with PUBACK and QoS 2 ones not yet
// answered with PUBCOMP (awaiting PUBREL, or their PUBCOMP still due) may
// not exceed it [MQTT-3.3.4-9]. A retransmission of a QoS 2 id still
// awaiting PUBREL is not new. 3.1.1 has no such promise; the packet-id
// space bounds its QoS 2 states.
func (c *client) overReceiveMaximum(qos byte, id uint16) bool {
	ss := c.sess
	ss.mu.Lock()
	awaiting := ss.in.Len()
	dup := qos == 2 && ss.in.Pending(id)
	ss.mu.Unlock()
	return !dup && int(c.inUnacked.Load())+awaiting >= c.srv.opts.receiveMaximum()
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
	p := &c.rs.pk
	if !p.Props.HasTopicAlias {
		return nil
	}
	a := p.Props.TopicAlias
	if a == 0 || int(a) > c.lo.topicAliasMax() {
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

// routeInbound turns the PUBLISH view in c.rs.pk into a Message and routes it
// through the connection's store pipeline, then acknowledges it with ack
// (PUBACK, PUBREC, or 0 for none). A message a limit says to drop is still
// acknowledged, as Mosquitto does, so the publisher does not resend it
// forever. inboundID, when not 0, is a QoS 2 packet id to record durably
// with the message.
func (c *client) routeInbound(inboundID uint16, ack packet.Type) {
	s := c.srv
	p := &c.rs.pk
	drop := ""
	switch {
	case s.opts.MessageSizeLimit > 0 && len(p.Payload) > s.opts.MessageSizeLimit:
		drop = "payload over message_size_limit"
	case isSysTopic(p.Topic) && !(c.bridgePeer && strings.HasPrefix(string(p.Topic), "$SYS/broker/connection/")):
		// A bridge (try_private) may publish its connection state, as
		// Mosquitto's bridges do; nothing else in $SYS.
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
	m := c.inboundMessage()
	if p.Retain {
		m.source, m.sourceListener = c.ident, c.lo.Name
	}
	c.rs.matchBuf, c.rs.targets = s.match(m, c, c.rs.matchBuf, c.rs.targets[:0])
	if p.QoS > 0 && s.bridgeFull(c.rs.targets) {
		c.refuseForBridge(m)
		return
	}
	code := packet.Success
	if c.version == packet.V5 && len(c.rs.targets) == 0 {
		code = packet.NoMatchingSubscribers // 5.0: nobody subscribed
	}
	c.pipelineRoute(m, inboundID, action{ack: ack, id: p.PacketID, code: code, qos2: p.QoS == 2})
}

// refuseForBridge refuses a QoS 1/2 PUBLISH whose bridge queue is full, as
// a full store does: a 5.0 publisher gets PUBACK/PUBREC 0x97 (Quota
// exceeded); a 3.1.1 one, which has no way to be told, has its connection
// closed without an acknowledgement (after those already due) and keeps
// the message.
func (c *client) refuseForBridge(m *Message) {
	s, p := c.srv, &c.rs.pk
	if m.Retain {
		s.restoreRetained(m, m.replaced)
	}
	clear(c.rs.targets)
	c.rs.targets = c.rs.targets[:0]
	if p.QoS == 2 {
		ss := c.sess
		ss.mu.Lock()
		ss.in.Release(p.PacketID)
		ss.mu.Unlock()
	}
	n := s.stats.publishDropped.Add(1)
	if n&(n-1) == 0 {
		s.log.Warn("bridge queue full (max_queued_messages_total): publish refused", "client", c.id,
			"topic", string(p.Topic), "max_queued_messages_total", s.opts.MaxQueuedTotal)
	}
	if c.version == packet.V5 {
		c.pipeline(pipeRec{}, action{ack: ackFor(p.QoS), id: p.PacketID, code: packet.QuotaExceeded})
		return
	}
	c.waitPipeline()
	c.closeConn()
}
