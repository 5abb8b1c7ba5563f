package mqtt

import (
	"strconv"
	"time"
	"unsafe"

	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
)

// topicBytes views a topic string as bytes without copying. The result must
// never be written to.
func topicBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// handleConnect validates CONNECT, attaches the client to its session and
// answers CONNACK. It returns false when the connection must end.
func (c *client) handleConnect() bool {
	s := c.srv
	cp := &c.pk.Connect
	level := cp.ProtocolLevel
	name := string(cp.ProtocolName)
	switch {
	case level == packet.V311 && name == "MQTT", level == packet.V31 && name == "MQIsdp":
		c.version = packet.V311
	default:
		// [MQTT-3.1.2-2]: unsupported protocol level → CONNACK 0x01, then close.
		s.log.Info("refusing connection: unsupported protocol", "remote", c.remote(), "name", name, "level", level)
		c.version = packet.V311
		c.sendControl(&packet.Packet{Type: packet.CONNACK, ReasonCode: packet.ReasonCode(packet.ConnRefusedVersion)})
		c.flushSoon()
		return false
	}

	id := string(cp.ClientID)
	if id == "" {
		if !cp.CleanStart {
			// [MQTT-3.1.3-8]
			c.refuse(packet.ConnRefusedIDRejected, "empty client id with clean session 0")
			return false
		}
		id = "auto-" + strconv.FormatUint(s.nextAutoID.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano()&0xffffff, 36)
	}
	if int(cp.KeepAlive) > s.opts.MaxKeepalive {
		c.refuse(packet.ConnRefusedIDRejected, "keep alive above max_keepalive")
		return false
	}
	if s.shuttingDown() {
		c.refuse(packet.ConnRefusedUnavailable, "server shutting down")
		return false
	}
	if cp.WillFlag {
		if err := topic.ValidName(cp.WillTopic); err != nil {
			s.log.Info("closing connection: invalid will topic", "remote", c.remote(), "err", err)
			return false
		}
		c.will = newMessage(cp.WillTopic, cp.WillPayload, cp.WillQoS, cp.WillRetain, id)
	}
	c.id = id
	c.keepalive = time.Duration(cp.KeepAlive) * time.Second

	ss, present, old := s.attach(c, id, !cp.CleanStart)
	c.sess = ss
	t := s.beginTxn()
	if old != nil {
		s.endSession(old, t)
	}
	if ss.persistent && !present {
		t.putSession(ss)
	}
	// CONNACK (with or without session present) leaves once the session's
	// existence, or the end of the old one, is durable.
	if err := s.commitTxn(t); err != nil {
		c.sendControl(&packet.Packet{Type: packet.CONNACK, ReasonCode: packet.ReasonCode(packet.ConnRefusedUnavailable)})
		c.flushSoon()
		s.stats.connected() // cleanup counts the disconnect
		return false
	}
	s.stats.connected()
	c.sendControl(&packet.Packet{Type: packet.CONNACK, SessionPresent: present, ReasonCode: packet.ReasonCode(packet.ConnAccepted)})
	s.log.Debug("client connected", "client", id, "remote", c.remote(), "clean", cp.CleanStart, "session_present", present, "keepalive", cp.KeepAlive)

	if present {
		c.resume(ss)
	}
	return true
}

// refuse answers CONNACK with a 3.1.1 return code and logs why.
func (c *client) refuse(code byte, why string) {
	c.srv.log.Info("refusing connection", "remote", c.remote(), "client_id", string(c.pk.Connect.ClientID), "why", why)
	c.sendControl(&packet.Packet{Type: packet.CONNACK, ReasonCode: packet.ReasonCode(code)})
	c.flushSoon()
}

// resume re-sends every QoS 1/2 message still in flight, in its original
// order with its original packet id (PUBLISH with DUP, or PUBREL)
// [MQTT-4.4.0-1], and lets the writer go on with the queue.
func (c *client) resume(ss *session) {
	ss.mu.Lock()
	ds := ss.out.Resume()
	c.outMu.Lock()
	for _, d := range ds {
		c.ctrl = c.appendDelivery(c.ctrl, d)
	}
	c.outMu.Unlock()
	ss.mu.Unlock()
	c.kick()
}

// attach finds or creates the session for id and attaches c to it, closing
// any connection that still holds it (session takeover [MQTT-3.1.4-2]).
// keep asks for a persistent session (CleanSession 0). present reports
// whether an existing session was resumed; old is a session that the new one
// replaces, which the caller must end (endSession).
func (s *Server) attach(c *client, id string, keep bool) (ss *session, present bool, old *session) {
	for {
		s.sessMu.Lock()
		old := s.sessions[id]
		if old != nil {
			old.mu.Lock()
			oc := old.conn
			old.mu.Unlock()
			if oc != nil {
				s.sessMu.Unlock()
				s.log.Info("session taken over by a new connection", "client", id, "old_remote", oc.remote(), "new_remote", c.remote())
				oc.conn.Close()
				<-oc.done
				continue
			}
		}
		if old != nil && keep {
			old.mu.Lock()
			old.conn = c
			old.mu.Unlock()
			s.sessMu.Unlock()
			return old, true, nil
		}
		if old != nil {
			delete(s.sessions, id)
		}
		ss = newSession(id, keep, &s.opts)
		ss.conn = c
		s.sessions[id] = ss
		s.sessMu.Unlock()
		return ss, false, old
	}
}

// detach separates c from its session when the connection ends: a
// persistent session stays (offline), any other ends.
func (s *Server) detach(c *client) {
	ss := c.sess
	s.sessMu.Lock()
	ss.mu.Lock()
	if ss.conn != c {
		ss.mu.Unlock()
		s.sessMu.Unlock()
		return
	}
	ss.conn = nil
	persistent := ss.persistent
	ss.wakeWaitersLocked(0)
	ss.mu.Unlock()
	if !persistent && s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.sessMu.Unlock()
	if !persistent {
		s.endSession(ss, nil)
	}
}

// endSession removes a discarded session's subscriptions and drops its
// queued messages; for a persistent session the removal of its records is
// added to t.
func (s *Server) endSession(ss *session, t *txn) {
	if !ss.persistent {
		t = nil
	}
	ss.mu.Lock()
	ss.ended = true
	filters := make([]string, 0, len(ss.subs))
	for f := range ss.subs {
		filters = append(filters, f)
		t.delSub(ss.id, f)
	}
	clear(ss.subs)
	for _, om := range ss.out.Drain() {
		t.delRoute(ss.id, om.m)
	}
	for _, id := range ss.in.IDs() {
		t.delInbound(ss.id, id)
	}
	t.delSession(ss.id)
	if ss.space != nil {
		close(ss.space)
		ss.space = nil
	}
	ss.mu.Unlock()
	s.subMu.Lock()
	for _, f := range filters {
		group, plain, _ := topic.ParseShared(f)
		s.subs.Remove(plain, group, ss)
	}
	s.subMu.Unlock()
}
