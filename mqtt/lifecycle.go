package mqtt

import (
	"time"

	"gatemq/qos"
)

// detach separates c from its session when the connection ends. A session
// whose expiry is 0 ends now; any other stays, offline, until it expires
// (never, for 3.1.1 CleanSession 0 without persistent_client_expiration) or
// a client resumes it. will, when not nil, is published now, or after the
// 5.0 Will Delay Interval unless the session is resumed first
// [MQTT-3.1.3-9].
func (s *Server) detach(c *client, will *Message) {
	ss := c.sess
	now := time.Now()
	s.sessMu.Lock()
	ss.mu.Lock()
	if ss.conn != c {
		ss.mu.Unlock()
		s.sessMu.Unlock()
		if will != nil {
			s.publishWill(will, c.id)
		}
		return
	}
	ss.conn = nil
	ss.wakeWaitersLocked(nil)
	ss.chillQueuedLocked()
	ends := ss.expiry == expireAtClose
	if ends {
		if s.sessions[ss.id] == ss {
			s.removeSessionBothLocked(ss)
		}
	} else {
		if ss.expiry != expireNever {
			d := time.Duration(ss.expiry) * time.Second
			ss.expiresAt = now.Add(d)
			if !s.shuttingDown() { // after a restart, Recover starts the clock again
				ss.expiryTimer = time.AfterFunc(d, func() { s.expire(ss) })
			}
		}
		if will != nil && c.willDelay > 0 {
			ss.pendingWill = will
			ss.willTimer = time.AfterFunc(time.Duration(c.willDelay)*time.Second, func() { s.firePendingWill(ss) })
			will = nil
		}
	}
	// What the session record needs is read under the lock: a resume or
	// a shutdown may change the session as soon as it is released.
	recordEnd := ss.persistent && !ends && ss.expiry != expireNever
	endAt := ss.expiresAt
	ss.mu.Unlock()
	s.sessMu.Unlock()

	if will != nil {
		s.publishWill(will, c.id)
	}
	if ends {
		t := s.beginTxn()
		redo := s.endSession(ss, t)
		_ = s.commitTxn(t)
		s.redeliverShared(redo)
	} else if recordEnd {
		t := s.beginTxn()
		t.putSession(ss, endAt.UnixMilli())
		_ = s.commitTxn(t)
	}
}

// publishWill publishes a will message and logs a failure.
func (s *Server) publishWill(will *Message, client string) {
	if err := s.publish(will); err != nil {
		s.log.Warn("will not published", "client", client, "err", err)
	}
}

// firePendingWill publishes a delayed will whose delay has passed.
func (s *Server) firePendingWill(ss *session) {
	ss.mu.Lock()
	will := ss.pendingWill
	ss.pendingWill = nil
	ss.mu.Unlock()
	if will != nil {
		s.publishWill(will, ss.id)
	}
}

// expire ends an offline session whose expiry interval has passed
// [MQTT-4.1.0-2], publishing its delayed will first if it is still pending.
func (s *Server) expire(ss *session) {
	s.sessMu.Lock()
	ss.mu.Lock()
	if ss.conn != nil || ss.ended || s.sessions[ss.id] != ss {
		ss.mu.Unlock()
		s.sessMu.Unlock()
		return
	}
	s.removeSessionBothLocked(ss)
	ss.mu.Unlock()
	s.sessMu.Unlock()
	s.log.Debug("session expired", "client", ss.id)
	s.firePendingWill(ss)
	t := s.beginTxn()
	redo := s.endSession(ss, t)
	_ = s.commitTxn(t)
	s.redeliverShared(redo)
}

// stopTimersLocked cancels the session's expiry and delayed-will timers
// (the session is being resumed or discarded). The caller holds ss.mu.
func (ss *session) stopTimersLocked() {
	if ss.expiryTimer != nil {
		ss.expiryTimer.Stop()
		ss.expiryTimer = nil
	}
	if ss.willTimer != nil {
		ss.willTimer.Stop()
		ss.willTimer = nil
	}
	ss.pendingWill = nil
	ss.expiresAt = time.Time{}
}

// endSession removes a discarded session's subscriptions and drops its
// queued messages; for a persistent session the removal of its records is
// added to t. It returns the messages it held through shared subscriptions
// that another member of the group should get instead: queued ones and
// QoS 1 ones in flight ([MQTT-4.8.2-4]; a QoS 2 message already in flight is
// never sent to another member [MQTT-4.8.2-5]). The caller hands them to
// redeliverShared once t is committed.
func (s *Server) endSession(ss *session, t *txn) []target {
	if !ss.persistent {
		t = nil
	}
	ss.mu.Lock()
	ss.ended = true
	ss.stopTimersLocked()
	filters := make([]string, 0, len(ss.subs))
	for f := range ss.subs {
		filters = append(filters, f)
		t.delSub(ss.id, f)
	}
	clear(ss.subs)
	var redo []target
	for _, d := range ss.out.Resume() {
		if d.Msg.group() != "" && (d.QoS == 1 || d.Stage == qos.Queued) && s.loadBody(&d.Msg) {
			redo = append(redo, target{om: d.Msg, qos: d.QoS})
		}
	}
	for {
		_, q, ok := ss.out.PeekQueued()
		if !ok {
			break
		}
		om, _ := ss.popQueuedLocked()
		// A message for another member of its group needs its body
		// before its last route (and so maybe its record) goes.
		if om.group() != "" && s.loadBody(&om) {
			redo = append(redo, target{om: om, qos: q})
		}
		t.delRoute(ss, om.stored())
	}
	ss.queuedBytes = 0
	for _, om := range ss.out.Drain() {
		t.delRoute(ss, om.stored())
	}
	for _, id := range ss.in.IDs() {
		t.delInbound(ss, id)
	}
	t.delSession(ss.id)
	if ss.space != nil {
		close(ss.space)
		ss.space = nil
	}
	ss.mu.Unlock()
	s.subMu.Lock()
	for _, f := range filters {
		s.removeSub(ss, f)
	}
	s.subMu.Unlock()
	return redo
}
