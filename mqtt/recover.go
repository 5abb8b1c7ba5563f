package mqtt

import (
	"cmp"
	"fmt"
	"gatemq/mqtt/auth"
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
//
// It works in two passes: decodeStore reads every record into plain values,
// then the rebuild functions turn them into the broker's state, each kind
// after the ones it refers to. Records that refer to something missing are
// removed in one commit; sessions that expired while the broker was down
// end after it.
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
	expired := s.rebuildSessions(d.sessions, time.Now(), &rs)
	s.rebuildSubs(t, d.subs, &rs)
	maxSeq := s.rebuildRoutes(t, d.routes, d.msgs, &rs)
	s.rebuildInbound(t, d.inbound, &rs)
	s.rebuildRetained(t, d.retained, d.msgs, &rs)
	dropUnreferenced(t, d.msgs, &rs)
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

// decoded is the store's content as plain values, each kind in the order
// the store gave it.
type decoded struct {
	sessions []flashstore.Session
	subs     []flashstore.Subscription
	routes   []flashstore.Route
	inbound  []flashstore.Inbound
	retained []flashstore.Retained
	msgs     map[uint64]*Message // by id; not yet referenced
	maxMsgID uint64              // the highest message id seen
}

// decodeStore reads every live record of st. A record that does not decode,
// or of a kind it does not know, is an error.
func decodeStore(st Store) (*decoded, error) {
	d := &decoded{msgs: map[uint64]*Message{}}
	err := st.Range(func(kind flashstore.Kind, key, value []byte) error {
		if err := d.add(kind, value); err != nil {
			return fmt.Errorf("store record %s %q: %w", kind, key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// add decodes one record of kind into d.
func (d *decoded) add(kind flashstore.Kind, value []byte) error {
	var err error
	switch kind {
	case flashstore.KindSession:
		d.sessions, err = decodeAppend(d.sessions, value)
	case flashstore.KindSubscription:
		d.subs, err = decodeAppend(d.subs, value)
	case flashstore.KindMessage:
		var m *Message
		m, err = decodeMessage(value)
		d.msgs[m.ID] = m
		d.maxMsgID = max(d.maxMsgID, m.ID)
	case flashstore.KindRoute:
		d.routes, err = decodeAppend(d.routes, value)
	case flashstore.KindInbound:
		d.inbound, err = decodeAppend(d.inbound, value)
	case flashstore.KindRetained:
		d.retained, err = decodeAppend(d.retained, value)
	default:
		err = fmt.Errorf("unknown record kind %d", kind)
	}
	return err
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

// decodeMessage decodes a message record into a Message marked as stored.
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
	m.stored.Store(true)
	return m, err
}

// rebuildSessions creates the persistent sessions and starts their expiry
// clocks. It returns the sessions whose expiry passed while the broker was
// down; the caller ends them once the rest is rebuilt.
func (s *Server) rebuildSessions(sessions []flashstore.Session, now time.Time, rs *RecoveryStats) (expired []*session) {
	for _, r := range sessions {
		ss := newSession(r.ClientID, true, &s.opts)
		ss.expiry = r.ExpirySeconds
		if r.ExpirySeconds == 0 && !r.Clean {
			ss.expiry = s.opts.persistentExpiry() // written before expiry was recorded
		}
		if o := r.Owner; o != nil {
			// Access control applies from the start: deliveries routed
			// to this session while it is offline are checked against
			// the rights of who owned it, and checked again against
			// whoever attaches to it when they are sent.
			ss.identity = &auth.Credentials{Username: o.Username, Anonymous: o.Anonymous}
			ss.acl.Store(s.currentAuth().Rules(*ss.identity, ss.id))
		}
		s.sessions[r.ClientID] = ss
		rs.Sessions++
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

// rebuildRoutes puts every delivery back into its session's outbound
// state, in flight ones first in send order, then the queue in queue
// order, and removes routes whose session or message is gone. It returns
// the highest route sequence number seen.
func (s *Server) rebuildRoutes(t *txn, routes []flashstore.Route, msgs map[uint64]*Message, rs *RecoveryStats) (maxSeq uint64) {
	sortRoutes(routes)
	for _, r := range routes {
		maxSeq = max(maxSeq, r.Seq)
		ss, m := s.sessions[r.ClientID], msgs[r.MsgID]
		if ss == nil || m == nil {
			t.b.Delete(flashstore.KindRoute, t.routeKey(r.ClientID, r.MsgID))
			rs.Dropped++
			continue
		}
		m.refs.Add(1)
		restoreRoute(ss, m, r)
		rs.Routes++
	}
	return maxSeq
}

// sortRoutes orders routes as they go back into the sessions: in flight
// first, in send order; then the queue, in queue order.
func sortRoutes(routes []flashstore.Route) {
	slices.SortFunc(routes, func(a, b flashstore.Route) int {
		if (a.Stage == flashstore.RouteQueued) != (b.Stage == flashstore.RouteQueued) {
			if a.Stage == flashstore.RouteQueued {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// restoreRoute puts one delivery of m back into ss: queued, or in flight
// under its packet id and stage.
func restoreRoute(ss *session, m *Message, r flashstore.Route) {
	om := outMsg{m: m}
	if r.Stage == flashstore.RouteQueued {
		ss.out.RestoreQueued(om, r.QoS)
	} else if !ss.out.Restore(r.PacketID, om, r.QoS, stageOf(r.Stage)) {
		// Two routes with one packet id cannot both be in flight; keep
		// the message by queueing it again (a QoS 1/2 resend).
		ss.out.RestoreQueued(om, r.QoS)
	}
}

// rebuildInbound puts back the QoS 2 packet ids awaiting PUBREL, and
// removes those of sessions that are gone.
func (s *Server) rebuildInbound(t *txn, inbound []flashstore.Inbound, rs *RecoveryStats) {
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
}

// rebuildRetained puts back the retained messages, and removes entries
// whose message is gone.
func (s *Server) rebuildRetained(t *txn, retained []flashstore.Retained, msgs map[uint64]*Message, rs *RecoveryStats) {
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
}

// dropUnreferenced removes the messages no route or retained entry refers
// to, once the others have counted their references.
func dropUnreferenced(t *txn, msgs map[uint64]*Message, rs *RecoveryStats) {
	for id, m := range msgs {
		if m.refs.Load() == 0 {
			t.b.Delete(flashstore.KindMessage, t.msgKey(id))
			m.stored.Store(false)
			rs.Dropped++
			continue
		}
		rs.Messages++
	}
}
