package mqtt

import (
	"sort"
	"time"

	"gatemq/flashstore"
	"gatemq/mqtt/mosqdb"
)

// ImportStats says what RecoverWithMosquitto took over from Mosquitto's
// saved state.
type ImportStats struct {
	Sessions, Subscriptions, Retained int
	// Queued and Inflight are QoS 1/2 messages waiting for, or on their
	// way to, a session; Inbound are QoS 2 messages a client had sent and
	// not yet released (PUBREL), published now as Mosquitto would have on
	// the PUBREL.
	Queued, Inflight, Inbound int
	// Skipped counts what was not taken over: QoS 0 messages in a
	// client's queue, and entries that refer to an unknown client or
	// message.
	Skipped int
}

// RecoverWithMosquitto is Recover for a broker whose (empty) store takes
// over db, the state a Mosquitto 2.0 broker saved (mosqdb): it writes
// db's persistent sessions, their subscriptions, the messages queued for
// them or in flight (with their packet ids and stages), inbound QoS 2
// packet ids and the retained messages as the broker's own records, then
// recovers from the store, then publishes the inbound QoS 2 messages that
// Mosquitto held until their PUBREL. now is when the import happens
// (sessions that Mosquitto saved without an end time end after their
// expiry interval from now).
func (s *Server) RecoverWithMosquitto(db *mosqdb.DB, now time.Time) (RecoveryStats, ImportStats, error) {
	var is ImportStats
	t := s.beginTxn()
	if t == nil {
		rs, err := s.Recover()
		return rs, is, err
	}
	clients := map[string]*session{} // numbered for their keys only
	for _, c := range db.Clients {
		var expiresAt int64
		switch {
		case c.ExpiryInterval == expireNever:
		case c.ExpiresAt > 0:
			expiresAt = c.ExpiresAt * 1000
		default:
			expiresAt = now.Add(time.Duration(c.ExpiryInterval) * time.Second).UnixMilli()
		}
		ss := clients[c.ID]
		if ss == nil {
			ss = &session{id: c.ID, num: uint32(len(clients) + 1)}
			clients[c.ID] = ss
		}
		rec := flashstore.Session{ClientID: c.ID, ExpirySeconds: c.ExpiryInterval, ExpiresAt: expiresAt,
			Owner: &flashstore.Owner{Username: c.Username, Anonymous: c.Username == ""}, Num: ss.num}
		t.val, _ = rec.MarshalMsg(t.val[:0])
		t.b.Put(flashstore.KindSession, t.plainKey(c.ID), t.val)
		is.Sessions++
	}
	for _, sub := range db.Subs {
		if clients[sub.ClientID] == nil {
			is.Skipped++
			continue
		}
		t.putSub(sub.ClientID, sub.Topic, subOpts{qos: min(sub.QoS, 2), noLocal: sub.Options&0x04 != 0,
			retainAsPublished: sub.Options&0x08 != 0, retainHandling: sub.Options >> 4 & 3, id: sub.Identifier})
		is.Subscriptions++
	}
	// Messages get new ids, in Mosquitto's order; each is written once,
	// with the first record that refers to it.
	ids := map[uint64]uint64{}
	msgID := func(storeID uint64) (uint64, bool) {
		m, ok := db.Messages[storeID]
		if !ok {
			return 0, false
		}
		if id, ok := ids[storeID]; ok {
			return id, true
		}
		id := uint64(len(ids) + 1)
		ids[storeID] = id
		rec := flashstore.Message{ID: id, Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, PublisherID: m.SourceID}
		if m.ExpiresAt > 0 {
			rec.ExpiresAt = m.ExpiresAt * 1000
		}
		t.val, _ = rec.MarshalMsg(t.val[:0])
		t.b.Put(flashstore.KindMessage, t.msgKey(id), t.val)
		return id, true
	}
	for _, sid := range db.Retained {
		id, ok := msgID(sid)
		if !ok {
			is.Skipped++
			continue
		}
		rec := flashstore.Retained{Topic: db.Messages[sid].Topic, MsgID: id}
		t.val, _ = rec.MarshalMsg(t.val[:0])
		t.b.Put(flashstore.KindRetained, t.plainKey(rec.Topic), t.val)
		is.Retained++
	}
	var inbound []*mosqdb.Message
	var seq uint64
	for _, cm := range db.ClientMsgs {
		m, ok := db.Messages[cm.StoreID]
		ss := clients[cm.ClientID]
		if ss == nil || !ok || cm.QoS == 0 {
			is.Skipped++
			continue
		}
		if cm.Direction == mosqdb.In {
			t.putInbound(ss, cm.MID)
			inbound = append(inbound, m)
			is.Inbound++
			continue
		}
		id, _ := msgID(cm.StoreID)
		stage, pid := flashstore.RouteQueued, uint16(0)
		switch cm.State {
		case mosqdb.StateWaitPuback, mosqdb.StateWaitPubrec:
			stage, pid = flashstore.RouteSent, cm.MID
			is.Inflight++
		case mosqdb.StateResendPubrel, mosqdb.StateWaitPubcomp:
			stage, pid = flashstore.RouteReleased, cm.MID
			is.Inflight++
		default:
			is.Queued++
		}
		seq++
		t.putRoute(ss, &storedMsg{id: id}, min(cm.QoS, 2), pid, stage, seq)
	}
	if err := s.commitTxn(t); err != nil {
		return RecoveryStats{}, is, err
	}
	rs, err := s.Recover()
	if err != nil {
		return rs, is, err
	}
	// Held by Mosquitto until PUBREL: routed now, in id order.
	sort.Sort(byMosqID(inbound))
	for _, m := range inbound {
		msg := newMessage([]byte(m.Topic), m.Payload, m.QoS, m.Retain, m.SourceID)
		if m.ExpiresAt > 0 {
			msg.ExpiresAt = time.Unix(m.ExpiresAt, 0)
		}
		if err := s.publish(msg); err != nil {
			return rs, is, err
		}
	}
	return rs, is, nil
}

// byMosqID sorts imported messages by their Mosquitto id (see bySeq for
// why not slices.SortFunc).
type byMosqID []*mosqdb.Message

func (s byMosqID) Len() int           { return len(s) }
func (s byMosqID) Less(i, j int) bool { return s[i].ID < s[j].ID }
func (s byMosqID) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
