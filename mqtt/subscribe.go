package mqtt

import (
	"gatemq/flashstore"
	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
)

// handleSubscribe adds each filter to the session and the topic tree,
// answers SUBACK with the granted QoS (0x80 for an invalid filter), and then
// sends the retained messages that match each new subscription with RETAIN
// set [MQTT-3.3.1-6].
func (c *client) handleSubscribe() error {
	s := c.srv
	p := &c.pk
	ss := c.sess
	codes := make([]packet.ReasonCode, 0, len(p.Subs))
	granted := make([]grant, 0, len(p.Subs))
	var t *txn
	if ss.persistent {
		t = s.beginTxn()
	}
	for i := range p.Subs {
		sub := &p.Subs[i]
		if err := topic.ValidFilter(sub.Filter); err != nil {
			s.log.Info("subscription refused: invalid filter", "client", c.id, "filter", string(sub.Filter), "err", err)
			codes = append(codes, packet.UnspecifiedError) // 0x80 in 3.1.1 too
			continue
		}
		q := min(sub.QoS, 2)
		filter := string(sub.Filter)
		group, plain, _ := topic.ParseShared(filter)
		ss.mu.Lock()
		if ss.ended {
			ss.mu.Unlock()
			codes = append(codes, packet.UnspecifiedError)
			continue
		}
		ss.subs[filter] = q
		ss.mu.Unlock()
		t.putSub(ss.id, filter, q)
		s.subMu.Lock()
		s.subs.Add(plain, topic.Sub[*session]{Key: ss, QoS: q, Group: group})
		s.subMu.Unlock()
		codes = append(codes, packet.ReasonCode(q))
		if group == "" {
			granted = append(granted, grant{filter: plain, qos: q})
		}
	}
	// SUBACK of a persistent session promises the subscription survives.
	if err := s.commitTxn(t); err != nil {
		return err
	}
	c.sendControl(&packet.Packet{Type: packet.SUBACK, PacketID: p.PacketID, ReasonCodes: codes})
	for _, g := range granted {
		s.sendRetained(ss, g.filter, g.qos)
	}
	return nil
}

// grant is one accepted subscription whose retained messages are due.
type grant struct {
	filter string
	qos    byte
}

// sendRetained delivers every retained message matching filter to ss, with
// the RETAIN flag set, at the lower of its QoS and the granted one.
func (s *Server) sendRetained(ss *session, filter string, granted byte) {
	var ms []*Message
	s.retMu.RLock()
	s.retained.Match(filter, func(_ string, m *Message) bool {
		ms = append(ms, m)
		return true
	})
	s.retMu.RUnlock()
	if ss.persistent && granted > 0 {
		if t := s.beginTxn(); t != nil {
			for _, m := range ms {
				if q := min(m.QoS, granted); q > 0 {
					t.putRoute(ss.id, m, q, 0, flashstore.RouteQueued, s.routeSeq.Add(1))
					t.ref(m)
				}
			}
			if err := s.commitTxn(t); err != nil {
				s.log.Warn("retained messages not sent: store failed", "client", ss.id, "err", err)
				return
			}
		}
	}
	for _, m := range ms {
		s.deliver(ss, outMsg{m: m, retain: true}, min(m.QoS, granted), nil)
	}
}

// handleUnsubscribe removes each filter and answers UNSUBACK (5.0: with a
// reason code per filter).
func (c *client) handleUnsubscribe() error {
	s := c.srv
	p := &c.pk
	ss := c.sess
	codes := make([]packet.ReasonCode, 0, len(p.Filters))
	var t *txn
	if ss.persistent {
		t = s.beginTxn()
	}
	for _, f := range p.Filters {
		filter := string(f)
		ss.mu.Lock()
		_, had := ss.subs[filter]
		delete(ss.subs, filter)
		ss.mu.Unlock()
		if had {
			group, plain, _ := topic.ParseShared(filter)
			s.subMu.Lock()
			s.subs.Remove(plain, group, ss)
			s.subMu.Unlock()
			t.delSub(ss.id, filter)
			codes = append(codes, packet.Success)
		} else {
			codes = append(codes, packet.NoSubscriptionExisted)
		}
	}
	if err := s.commitTxn(t); err != nil {
		return err
	}
	c.sendControl(&packet.Packet{Type: packet.UNSUBACK, PacketID: p.PacketID, ReasonCodes: codes})
	return nil
}
