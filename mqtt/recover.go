package mqtt

import (
	"cmp"
	"fmt"
	"slices"
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
func (s *Server) Recover() (RecoveryStats, error) {
	var rs RecoveryStats
	st := s.opts.Store
	if st == nil {
		return rs, nil
	}
	var (
		sessions []flashstore.Session
		subs     []flashstore.Subscription
		routes   []flashstore.Route
		inbound  []flashstore.Inbound
		retained []flashstore.Retained
		msgs     = map[uint64]*Message{}
	)
	err := st.Range(func(kind flashstore.Kind, key, value []byte) error {
		var err error
		switch kind {
		case flashstore.KindSession:
			var r flashstore.Session
			_, err = r.UnmarshalMsg(value)
			sessions = append(sessions, r)
		case flashstore.KindSubscription:
			var r flashstore.Subscription
			_, err = r.UnmarshalMsg(value)
			subs = append(subs, r)
		case flashstore.KindMessage:
			var r flashstore.Message
			_, err = r.UnmarshalMsg(value)
			m := newMessage([]byte(r.Topic), r.Payload, r.QoS, r.Retain, r.PublisherID)
			m.ID = r.ID
			if r.ExpiresAt != 0 {
				m.ExpiresAt = time.UnixMilli(r.ExpiresAt)
			}
			if err == nil {
				err = decodeStoredProps(m, r.Props)
			}
			m.stored.Store(true)
			msgs[r.ID] = m
		case flashstore.KindRoute:
			var r flashstore.Route
			_, err = r.UnmarshalMsg(value)
			routes = append(routes, r)
		case flashstore.KindInbound:
			var r flashstore.Inbound
			_, err = r.UnmarshalMsg(value)
			inbound = append(inbound, r)
		case flashstore.KindRetained:
			var r flashstore.Retained
			_, err = r.UnmarshalMsg(value)
			retained = append(retained, r)
		default:
			err = fmt.Errorf("unknown record kind %d", kind)
		}
		if err != nil {
			return fmt.Errorf("store record %s %q: %w", kind, key, err)
		}
		return nil
	})
	if err != nil {
		return rs, err
	}

	t := s.beginTxn()
	var maxMsg, maxSeq uint64
	for id := range msgs {
		maxMsg = max(maxMsg, id)
	}
	now := time.Now()
	var expired []*session
	for _, r := range sessions {
		ss := newSession(r.ClientID, true, &s.opts)
		ss.expiry = r.ExpirySeconds
		if r.ExpirySeconds == 0 && !r.Clean {
			ss.expiry = s.opts.persistentExpiry() // written before expiry was recorded
		}
		s.sessions[r.ClientID] = ss
		rs.Sessions++
		// An offline session's clock goes on across the restart; one that
		// was connected when the broker stopped starts its expiry now.
		if ss.expiry != expireNever {
			at := now.Add(time.Duration(ss.expiry) * time.Second)
			if r.ExpiresAt != 0 {
				at = time.UnixMilli(r.ExpiresAt)
			}
			if !at.After(now) {
				expired = append(expired, ss)
				continue
			}
			ss.expiresAt = at
			ss.expiryTimer = time.AfterFunc(at.Sub(now), func() { s.expire(ss) })
		}
	}
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
	// In flight first, in send order; then the queue, in queue order.
	slices.SortFunc(routes, func(a, b flashstore.Route) int {
		if (a.Stage == flashstore.RouteQueued) != (b.Stage == flashstore.RouteQueued) {
			if a.Stage == flashstore.RouteQueued {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	for _, r := range routes {
		maxSeq = max(maxSeq, r.Seq)
		ss, m := s.sessions[r.ClientID], msgs[r.MsgID]
		if ss == nil || m == nil {
			t.b.Delete(flashstore.KindRoute, t.routeKey(r.ClientID, r.MsgID))
			rs.Dropped++
			continue
		}
		m.refs.Add(1)
		om := outMsg{m: m}
		if r.Stage == flashstore.RouteQueued {
			ss.out.RestoreQueued(om, r.QoS)
		} else if !ss.out.Restore(r.PacketID, om, r.QoS, stageOf(r.Stage)) {
			// Two routes with one packet id cannot both be in flight; keep
			// the message by queueing it again (a QoS 1/2 resend).
			ss.out.RestoreQueued(om, r.QoS)
		}
		rs.Routes++
	}
	for _, r := range inbound {
		ss := s.sessions[r.ClientID]
		if ss == nil {
			t.delInbound(r.ClientID, r.PacketID)
			rs.Dropped++
			continue
		}
		ss.in.Restore(r.PacketID)
		rs.Inbound++
	}
	for _, r := range retained {
		m := msgs[r.MsgID]
		if m == nil {
			t.b.Delete(flashstore.KindRetained, t.plainKey(r.Topic))
			rs.Dropped++
			continue
		}
		m.refs.Add(1)
		s.retained.Set(r.Topic, m)
		rs.Retained++
	}
	for id, m := range msgs {
		if m.refs.Load() == 0 {
			t.b.Delete(flashstore.KindMessage, t.msgKey(id))
			m.stored.Store(false)
			rs.Dropped++
			continue
		}
		rs.Messages++
	}
	s.nextMsgID.Store(maxMsg)
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
