package mqtt

import (
	"strconv"

	"gatemq/mqtt/auth"
	"gatemq/mqtt/logdest"
	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
)

// handleSubscribe adds each filter to the session and the topic tree,
// answers SUBACK with the granted QoS (0x80 in 3.1.1, 0x8F in 5.0, for an
// invalid filter), and then sends the retained messages that match each new
// subscription with RETAIN set [MQTT-3.3.1-6], as its 5.0 Retain Handling
// option allows (never for shared subscriptions).
func (c *client) handleSubscribe() error {
	c.waitPipeline() // SUBACK follows the acknowledgements already due
	s := c.srv
	p := &c.rs.pk
	ss := c.sess
	v5 := c.version == packet.V5
	var subID uint32
	if len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	codes := make([]packet.ReasonCode, 0, p.Subs.Len())
	var granted []grant
	var t *txn
	if ss.persistent {
		t = s.beginTxn()
	}
	for sub := range p.Subs.All() {
		sub.Filter = mountFilter(c.lo.MountPoint, sub.Filter)
		if err := topic.ValidFilter(sub.Filter); err != nil {
			s.log.Info("subscription refused: invalid filter", "client", c.id, "filter", string(sub.Filter), "err", err)
			if v5 {
				codes = append(codes, packet.TopicFilterInvalid)
			} else {
				codes = append(codes, packet.UnspecifiedError) // 0x80
			}
			continue
		}
		if !s.opts.topicWithinLimits(sub.Filter) {
			s.stats.subsRefused.Add(1)
			if v5 {
				codes = append(codes, packet.TopicFilterInvalid)
			} else {
				codes = append(codes, packet.UnspecifiedError)
			}
			continue
		}
		// A shared subscription is judged by its filter part, the topics
		// it can deliver ([MQTT-4.8.2]: $share/GROUP/FILTER).
		_, aclFilter, _ := topic.ParseShared(string(sub.Filter))
		if !ss.allowed(aclFilter, auth.Subscribe) {
			s.log.Info("subscription refused by the ACL", "client", c.id, "filter", string(sub.Filter))
			if v5 {
				codes = append(codes, packet.NotAuthorized)
			} else {
				codes = append(codes, packet.UnspecifiedError) // 0x80
			}
			continue
		}
		o := subOpts{qos: min(sub.QoS, c.lo.maxQoS()), noLocal: sub.NoLocal || c.bridgePeer, retainAsPublished: sub.RetainAsPublished,
			retainHandling: sub.RetainHandling, id: subID}
		if !v5 {
			// 3.1.1 has no options, but a bridge that said so with
			// try_private gets Mosquitto's: none of its own messages
			// back, and the RETAIN flag as published.
			o = subOpts{qos: o.qos, noLocal: c.bridgePeer, retainAsPublished: c.bridgePeer}
		}
		filter := string(sub.Filter)
		ss.mu.Lock()
		if ss.ended {
			ss.mu.Unlock()
			codes = append(codes, packet.UnspecifiedError)
			continue
		}
		_, existed := ss.subs[filter]
		if !existed && len(ss.subs) >= s.opts.MaxSubscriptions {
			ss.mu.Unlock()
			s.stats.subsRefused.Add(1)
			s.log.Info("subscription refused: max_subscriptions reached", "client", c.id, "max", s.opts.MaxSubscriptions)
			if v5 {
				codes = append(codes, packet.QuotaExceeded)
			} else {
				codes = append(codes, packet.UnspecifiedError)
			}
			continue
		}
		ss.subs[filter] = o
		ss.mu.Unlock()
		t.putSub(ss.id, filter, o)
		group, plain, _ := topic.ParseShared(filter)
		wantRetained := group == "" && (o.retainHandling == 0 || o.retainHandling == 1 && !existed)
		// The subscription and its retained snapshot are taken under retMu,
		// as a retained publish's store change and match are (see match).
		s.retMu.Lock()
		s.addSub(ss, filter, o)
		var ms []*Message
		if wantRetained {
			ms = s.retainedMatching(plain, ss)
		}
		s.retMu.Unlock()
		codes = append(codes, packet.ReasonCode(o.qos))
		s.log.Info(c.id+" "+strconv.Itoa(int(o.qos))+" "+filter, logdest.TypeKey, "subscribe")
		if len(ms) > 0 {
			granted = append(granted, grant{msgs: ms, opts: o})
		}
	}
	// SUBACK of a persistent session promises the subscription survives.
	if err := s.commitTxn(t); err != nil {
		return err
	}
	c.sendControl(&packet.Packet{Type: packet.SUBACK, PacketID: p.PacketID, ReasonCodes: codes})
	for _, g := range granted {
		s.sendRetained(ss, g.msgs, g.opts)
	}
	return nil
}

// mountFilter puts the mount point mp before filter f (after the group of
// a shared subscription, $share/GROUP/).
func mountFilter(mp string, f []byte) []byte {
	if mp == "" {
		return f
	}
	if group, plain, ok := topic.ParseShared(string(f)); ok {
		return []byte("$share/" + group + "/" + mp + plain)
	}
	return append([]byte(mp), f...)
}

// grant is one accepted subscription whose retained messages are due.
type grant struct {
	msgs []*Message
	opts subOpts
}

// addSub puts one subscription of ss into the topic tree and returns its
// shared group ("" when not shared). The caller must not hold subMu.
func (s *Server) addSub(ss *session, filter string, o subOpts) string {
	group, plain, shared := topic.ParseShared(filter)
	key := ""
	if shared {
		key = shareKey(group, plain)
	}
	s.subMu.Lock()
	s.subs.Add(plain, topic.Sub[*session]{Key: ss, QoS: o.qos, NoLocal: o.noLocal,
		RetainAsPublished: o.retainAsPublished, ID: o.id, Group: key})
	s.subMu.Unlock()
	return group
}

// removeSub takes one subscription of ss out of the topic tree. The caller
// holds subMu.
func (s *Server) removeSub(ss *session, filter string) {
	group, plain, shared := topic.ParseShared(filter)
	key := ""
	if shared {
		key = shareKey(group, plain)
	}
	s.subs.Remove(plain, key, ss)
}

// shareKey names a shared subscription in the tree: the group and the
// filter together, since $share/g/a and $share/g/b are different groups.
func shareKey(group, filter string) string { return group + "\x00" + filter }

// retainedMatching returns the retained messages whose topics match filter
// and that ss may read. The caller holds retMu.
func (s *Server) retainedMatching(filter string, ss *session) []*Message {
	var ms []*Message
	check := !s.opts.SkipRetainSource
	s.retained.Match(filter, func(topic string, m *Message) bool {
		if ss.allowed(topic, auth.Read) && (!check || m.source == nil || retainSourceAllowed(s.authFor(m.sourceListener), m)) {
			ms = append(ms, m)
		}
		return true
	})
	return ms
}

// retainSourceAllowed reports whether the publisher of a retained message
// may still publish to its topic under a (check_retain_source; nil: no
// check). Messages without a recorded publisher (the broker's own, and
// those recovered from the store) pass.
func retainSourceAllowed(a *auth.Policy, m *Message) bool {
	if a == nil || m.source == nil {
		return true
	}
	rules := a.Rules(*m.source, m.Publisher)
	return rules == nil || rules.Check(m.Topic, auth.Write)
}

// deliveryQoS is the QoS a message published at pub goes out at on a
// subscription granted sub: the lower one, or sub with
// upgrade_outgoing_qos.
func (s *Server) deliveryQoS(pub, sub byte) byte {
	if s.opts.UpgradeOutgoingQoS {
		return sub
	}
	return min(pub, sub)
}

// sendRetained delivers retained messages to ss, with the RETAIN flag set,
// at the lower of their QoS and the granted one.
func (s *Server) sendRetained(ss *session, ms []*Message, o subOpts) {
	if ss.persistent && o.qos > 0 {
		if t := s.beginTxn(); t != nil {
			for _, m := range ms {
				if q := s.deliveryQoS(m.QoS, o.qos); q > 0 {
					s.putQueued(t, ss, m, q)
				}
			}
			if err := s.commitTxn(t); err != nil {
				s.log.Warn("retained messages not sent: store failed", "client", ss.id, "err", err)
				return
			}
		}
	}
	for _, m := range ms {
		om := hotOut(m)
		om.retain, om.subID = true, o.id
		s.deliver(ss, om, s.deliveryQoS(m.QoS, o.qos), nil)
	}
}

// handleUnsubscribe removes each filter and answers UNSUBACK (5.0: with a
// reason code per filter).
func (c *client) handleUnsubscribe() error {
	c.waitPipeline()
	s := c.srv
	p := &c.rs.pk
	ss := c.sess
	codes := make([]packet.ReasonCode, 0, p.Filters.Len())
	var t *txn
	if ss.persistent {
		t = s.beginTxn()
	}
	for f := range p.Filters.All() {
		filter := string(mountFilter(c.lo.MountPoint, f))
		s.log.Info(c.id+" "+filter, logdest.TypeKey, "unsubscribe")
		ss.mu.Lock()
		_, had := ss.subs[filter]
		delete(ss.subs, filter)
		ss.mu.Unlock()
		if had {
			s.subMu.Lock()
			s.removeSub(ss, filter)
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
