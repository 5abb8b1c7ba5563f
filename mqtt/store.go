package mqtt

import (
	"encoding/binary"
	"sync"

	"gatemq/flashstore"
)

// Store is the durable home of the broker's state. *flashstore.Log
// implements it. With no Store (Options.Store nil) the broker keeps all
// state in memory only.
//
// The broker follows the write-ahead rule: a packet that promises the broker
// holds something (PUBACK, PUBREC, SUBACK of a persistent session, CONNACK
// with session present) or lets the peer forget something (PUBREL, PUBCOMP)
// is sent only after Commit of the batch that justifies it has returned.
type Store interface {
	// Commit makes every change in b durable (under the store's sync
	// policy) and returns; an error means none of b was applied.
	Commit(b *flashstore.Batch) error
	// Range calls fn for every live entry, in the order it was last written.
	Range(fn func(kind flashstore.Kind, key, value []byte) error) error
	// RangeKinds is Range over the entries of the given kinds only: the
	// others (message bodies) are not read.
	RangeKinds(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key, value []byte) error) error
	// RangeKeys calls fn with the key of every live entry of the given
	// kinds, without reading their values.
	RangeKeys(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key []byte) error) error
	// GetAppend appends the value of kind+key, read back and checked, to
	// dst: flashstore.ErrNotFound when it is not live, an error wrapping
	// flashstore.ErrCorrupt when it fails its check.
	GetAppend(dst []byte, kind flashstore.Kind, key []byte) ([]byte, error)
}

// txn gathers the records of one broker operation into one batch.
type txn struct {
	b   flashstore.Batch
	key []byte // scratch for keys
	val []byte // scratch for msgp values
}

// txnPool reuses batches and their buffers.
var txnPool = sync.Pool{New: func() any { return new(txn) }}

// beginTxn returns an empty transaction, or nil when the broker has no
// store; every txn method accepts a nil receiver and does nothing.
func (s *Server) beginTxn() *txn {
	if s.opts.Store == nil {
		return nil
	}
	t := txnPool.Get().(*txn)
	t.b.Reset()
	return t
}

// commitTxn commits t (when it holds anything) and recycles it.
func (s *Server) commitTxn(t *txn) error {
	if t == nil {
		return nil
	}
	var err error
	if t.b.Len() > 0 {
		err = s.opts.Store.Commit(&t.b)
		if err != nil {
			s.log.Error("store commit failed", "err", err)
		}
	}
	t.b.Reset()
	if cap(t.val) > 64<<10 {
		t.val = nil
	}
	txnPool.Put(t)
	return err
}

// Keys. Client ids and topics cannot contain U+0000 (the codec refuses
// them), so a 0 byte separates the parts.

// plainKey is a key made of one string (a client id, a topic).
func (t *txn) plainKey(id string) []byte { t.key = append(t.key[:0], id...); return t.key }

func (t *txn) pairKey(id, s string) []byte {
	t.key = append(append(append(t.key[:0], id...), 0), s...)
	return t.key
}

func (t *txn) msgKey(id uint64) []byte {
	t.key = binary.BigEndian.AppendUint64(t.key[:0], id)
	return t.key
}

// Route and inbound keys start with the session's number (session.num),
// not its client ID: a QoS 2 delivery writes its route four times, so
// the key's size counts. A numbered key is numKeyMark, the number as a
// uvarint, then the message ID (8 bytes) or the packet id (2 bytes). Logs
// written before sessions were numbered key them by client ID, a 0 byte,
// then the same; a client ID is UTF-8 [MQTT-1.5.4-1] and never starts
// with 0xff, so the two cannot be mistaken for each other. Recover
// rewrites the old ones (migrate.go).
const numKeyMark = 0xff

// routeKey is the key of the route of message msgID to session ss.
func (t *txn) routeKey(ss *session, msgID uint64) []byte {
	t.key = binary.BigEndian.AppendUint64(appendNumKey(t.key[:0], ss.num), msgID)
	return t.key
}

// inboundKey is the key of session ss's inbound QoS 2 packet id pid.
func (t *txn) inboundKey(ss *session, pid uint16) []byte {
	t.key = binary.BigEndian.AppendUint16(appendNumKey(t.key[:0], ss.num), pid)
	return t.key
}

// appendNumKey appends the start of a numbered key of session num.
func appendNumKey(b []byte, num uint32) []byte {
	return binary.AppendUvarint(append(b, numKeyMark), uint64(num))
}

// parseNumKey splits a numbered key into its session number and the rest;
// ok is false for a key that is not numbered (written before numbers),
// and for a malformed one.
func parseNumKey(key []byte) (num uint32, rest []byte, ok bool) {
	if len(key) == 0 || key[0] != numKeyMark {
		return 0, nil, false
	}
	n, k := binary.Uvarint(key[1:])
	if k <= 0 || n == 0 || n > 1<<32-1 {
		return 0, nil, false
	}
	return uint32(n), key[1+k:], true
}

// legacyKey is a route or inbound key written before sessions were
// numbered: client ID, 0, then idBytes.
func (t *txn) legacyKey(client string, idBytes []byte) []byte {
	t.key = append(append(append(t.key[:0], client...), 0), idBytes...)
	return t.key
}

// A message's records. record adds everything that makes one PUBLISH
// durable (the message, its routes to persistent sessions, a QoS 2 inbound
// packet id, its retained entry or the removal of the one it replaces);
// addRec adds what a later packet of the exchange changes (a route's stage
// Released, its removal, the inbound id's release). Besides these, the
// writer records stage "sent" of QoS 2 deliveries (writer.go), and dropQueued, endSession and
// Recover remove records. All of them go through the txn helpers below.

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
		t.putInbound(from.sess, inboundID)
	}
	for i := range targets {
		if tg := &targets[i]; tg.qos > 0 && tg.ss.persistent {
			s.putQueued(t, tg.ss, m, tg.qos) // tg.om.stored() is m.dur now
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
				t.unref(old.dur.Load())
			}
			m.replaced = nil
		}
	}
	return t.b.Len() > n
}

// putQueued adds to t the records of m queued for a persistent session at
// qos: its route, and a reference to m (the first writes the message). It
// returns m's durable identity.
func (s *Server) putQueued(t *txn, ss *session, m *Message, qos byte) *storedMsg {
	sm := t.ref(m)
	t.putRoute(ss, sm, qos, 0, flashstore.RouteQueued, s.routeSeq.Add(1))
	return sm
}

// recKind says which record a pipeRec adds.
type recKind uint8

const (
	recNone       recKind = iota
	recPutInbound         // a QoS 2 packet id awaiting PUBREL
	recDelInbound         // that id released
	recReleased           // a delivery's PUBREC arrived: stage Released
	recDelRoute           // a delivery completed
)

// pipeRec is one record a packet handler adds to its connection's
// pipeline (pipeline.go) with the action that must wait for it.
type pipeRec struct {
	kind recKind
	ss   *session
	sm   *storedMsg
	id   uint16
}

// addRec adds rec's record to t.
func (s *Server) addRec(t *txn, rec pipeRec) {
	switch rec.kind {
	case recPutInbound:
		t.putInbound(rec.ss, rec.id)
	case recDelInbound:
		t.delInbound(rec.ss, rec.id)
	case recReleased:
		t.putRoute(rec.ss, rec.sm, 2, rec.id, flashstore.RouteReleased, s.routeSeq.Add(1))
	case recDelRoute:
		t.delRoute(rec.ss, rec.sm)
	}
}

// ref counts one more durable reference (a route or the retained entry) to
// m, writing the message itself when it is the first, and returns m's
// durable identity (nil without a store).
func (t *txn) ref(m *Message) *storedMsg {
	if t == nil {
		return nil
	}
	sm := m.durable()
	if sm.addRef() == 1 && !sm.swapOnLog(true) {
		rec := flashstore.Message{ID: m.ID, Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, PublisherID: m.Publisher,
			Props: encodeStoredProps(m)}
		if !m.ExpiresAt.IsZero() {
			rec.ExpiresAt = m.ExpiresAt.UnixMilli()
		}
		t.val, _ = rec.MarshalMsg(t.val[:0])
		t.b.Put(flashstore.KindMessage, t.msgKey(m.ID), t.val)
	}
	return sm
}

// unref drops one durable reference to sm (nil: a message never stored),
// deleting the message record with the last one.
func (t *txn) unref(sm *storedMsg) {
	if t == nil || sm == nil {
		return
	}
	if sm.dropRef() == 0 && sm.swapOnLog(false) {
		t.b.Delete(flashstore.KindMessage, t.msgKey(sm.id))
	}
}

// putRoute records sm queued for (stage RouteQueued), or in flight to,
// persistent session ss. The key names the session and the message, so
// the value leaves them out.
func (t *txn) putRoute(ss *session, sm *storedMsg, qos byte, pid uint16, stage uint8, seq uint64) {
	if t == nil {
		return
	}
	rec := flashstore.Route{QoS: qos, PacketID: pid, Stage: stage, Seq: seq, Size: sm.size}
	t.val, _ = rec.MarshalMsg(t.val[:0])
	t.b.Put(flashstore.KindRoute, t.routeKey(ss, sm.id), t.val)
}

// delRoute removes a route and drops its reference to the message.
func (t *txn) delRoute(ss *session, sm *storedMsg) {
	if t == nil || sm == nil {
		return
	}
	t.b.Delete(flashstore.KindRoute, t.routeKey(ss, sm.id))
	t.unref(sm)
}

// putInbound records a QoS 2 packet id of persistent session ss awaiting
// PUBREL. The value is an Inbound with no fields (msgp's empty array):
// the key says both.
func (t *txn) putInbound(ss *session, pid uint16) {
	if t == nil {
		return
	}
	t.b.Put(flashstore.KindInbound, t.inboundKey(ss, pid), []byte{0x90})
}

// delInbound removes an inbound QoS 2 packet id.
func (t *txn) delInbound(ss *session, pid uint16) {
	if t == nil {
		return
	}
	t.b.Delete(flashstore.KindInbound, t.inboundKey(ss, pid))
}

// putRetained records m as its topic's retained message.
func (t *txn) putRetained(m *Message) {
	if t == nil {
		return
	}
	rec := flashstore.Retained{Topic: m.Topic, MsgID: m.ID}
	t.val, _ = rec.MarshalMsg(t.val[:0])
	t.b.Put(flashstore.KindRetained, t.plainKey(m.Topic), t.val)
	t.ref(m)
}

// delRetained removes the retained entry of a topic whose message was old.
func (t *txn) delRetained(old *Message) {
	if t == nil {
		return
	}
	t.b.Delete(flashstore.KindRetained, t.plainKey(old.Topic))
	t.unref(old.dur.Load())
}

// Sessions and subscriptions.

// putSession records a persistent session; expiresAt is unix milliseconds
// when it ends while offline (0: connected, or never). The caller must not
// hold ss.mu.
func (t *txn) putSession(ss *session, expiresAt int64) {
	if t == nil {
		return
	}
	rec := flashstore.Session{ClientID: ss.id, Clean: !ss.persistent, ExpiresAt: expiresAt, Num: ss.num}
	ss.mu.Lock()
	rec.ExpirySeconds = ss.expiry
	if id := ss.identity; id != nil {
		rec.Owner = &flashstore.Owner{Username: id.Username, Anonymous: id.Anonymous, Listener: ss.listener}
	}
	ss.mu.Unlock()
	t.val, _ = rec.MarshalMsg(t.val[:0])
	t.b.Put(flashstore.KindSession, t.plainKey(ss.id), t.val)
}

// delSession removes a session record.
func (t *txn) delSession(id string) {
	if t == nil {
		return
	}
	t.b.Delete(flashstore.KindSession, t.plainKey(id))
}

// putSub records one subscription of a persistent session.
func (t *txn) putSub(client, filter string, o subOpts) {
	if t == nil {
		return
	}
	rec := flashstore.Subscription{ClientID: client, Filter: filter, QoS: o.qos, NoLocal: o.noLocal,
		RetainAsPublished: o.retainAsPublished, RetainHandling: o.retainHandling, SubID: o.id}
	t.val, _ = rec.MarshalMsg(t.val[:0])
	t.b.Put(flashstore.KindSubscription, t.pairKey(client, filter), t.val)
}

// delSub removes one subscription record.
func (t *txn) delSub(client, filter string) {
	if t == nil {
		return
	}
	t.b.Delete(flashstore.KindSubscription, t.pairKey(client, filter))
}
