package mqtt

import (
	"sync"
	"sync/atomic"
	"time"

	"gatemq/mqtt/auth"

	"gatemq/qos"
)

// session is the broker's state for one client id. It outlives connections
// when it is persistent (3.1.1 CleanSession 0).
type session struct {
	id string

	// local, when set, makes this the session of an in-process
	// subscription: deliveries call it instead of going to a connection.
	// Never changes after creation.
	local LocalHandler

	// bridge, when set, makes this the local session of a bridge: its
	// queue is what goes upstream, bounded by the store alone. Set before
	// anything is routed to it; read under mu.
	bridge *bridge

	// acl is the ACL rules of the client attached last (nil: all allowed);
	// read without the lock on every delivery.
	acl atomic.Pointer[auth.Client]

	// mu guards every field below.
	mu sync.Mutex
	// identity is who the last attached connection authenticated as.
	identity *auth.Credentials
	// listener names the listener the session's client last connected
	// through, whose policy judges it (per_listener_settings).
	listener string
	// out is the broker→client QoS 1/2 state: inflight window and queue.
	out *qos.Outbound[outMsg]
	// in is the client→broker QoS 2 state: ids awaiting PUBREL.
	in *qos.Inbound
	// subs maps each subscribed filter (as the client sent it) to its
	// options, so the session can leave the topic tree when it ends.
	subs map[string]subOpts
	// expiresAt is when an offline session ends, zero while connected or
	// never (see expiry).
	expiresAt time.Time
	// expiryTimer ends the session when it expires; willTimer publishes
	// pendingWill after its delay. Both nil unless offline.
	expiryTimer *time.Timer
	willTimer   *time.Timer
	pendingWill *Message
	// conn is the connection currently attached, nil while offline.
	conn *client
	// queuedBytes is the size (topic and payload) of the messages in
	// out's queue, for max_queued_bytes.
	queuedBytes int64
	// space, when not nil, is closed as soon as out's queue has room again;
	// publishers waiting for a full queue wait on it.
	space chan struct{}
	// expiry is the session expiry interval in seconds (expireAtClose,
	// expireNever or a 5.0 value).
	expiry uint32
	// ended is set when the session has been discarded; deliveries to it are
	// ignored from then on.
	ended bool

	// persistent sessions survive the end of their connection; their state
	// is written to the store; num is a persistent session's number, which
	// the keys of its routes and inbound ids in the store carry (store.go),
	// 0 for the others. Neither changes after creation, so mu does not
	// guard them. (With the small fields above: the struct is part of what
	// every connection costs.)
	persistent bool
	num        uint32
}

// newSession returns an empty session with the server's limits; a
// persistent one gets the next session number.
func (s *Server) newSession(id string, persistent bool) *session {
	ss := emptySession(id, persistent, &s.opts)
	if persistent {
		ss.num = s.nextSessionNum()
	}
	return ss
}

// nextSessionNum returns the next session number: above every number
// recovered, never 0, and repeated only after 2^32 sessions in one run.
func (s *Server) nextSessionNum() uint32 {
	for {
		if n := s.sessionNum.Add(1); n != 0 {
			return n
		}
	}
}

// emptySession returns an empty session with the limits of o, without a
// number.
func emptySession(id string, persistent bool, o *Options) *session {
	return &session{
		id:         id,
		persistent: persistent,
		out:        qos.NewOutbound[outMsg](o.MaxInflight, o.MaxQueued),
		in:         qos.NewInbound(0),
		subs:       make(map[string]subOpts),
	}
}

// subOpts are one subscription's options as the client asked for them.
type subOpts struct {
	qos               byte
	noLocal           bool
	retainAsPublished bool
	retainHandling    byte
	id                uint32 // 5.0 subscription identifier, 0 = none
}

// wakeWaitersLocked releases publishers waiting for room in the queue, if
// there is room now (o nil: whether or not). The caller holds s.mu.
func (s *session) wakeWaitersLocked(o *Options) {
	if s.space == nil {
		return
	}
	if o == nil || !s.queueFullLocked(o) {
		close(s.space)
		s.space = nil
	}
}

// queueFullLocked reports whether the queue holds max_queued_messages
// or max_queued_bytes already. The caller holds s.mu.
func (s *session) queueFullLocked(o *Options) bool {
	if s.bridge != nil {
		return false // store-and-forward: the store cap bounds it
	}
	return s.overLimitsLocked(o)
}

// overLimitsLocked reports whether the queue holds max_queued_messages or
// max_queued_bytes already, bridge or not: the bound of the QoS 0
// messages kept in RAM for an offline session (queue_qos0_messages). The
// caller holds s.mu.
func (s *session) overLimitsLocked(o *Options) bool {
	return o.MaxQueued > 0 && s.out.Queued() >= o.MaxQueued ||
		o.MaxSessionQueuedBytes > 0 && s.queuedBytes >= o.MaxSessionQueuedBytes
}

// enqueueLocked queues a QoS 1/2 delivery unless the queue is full. A
// persistent session keeps the body of at most o.HotQueue queued
// deliveries in RAM, and none while offline: beyond that the delivery
// holds only its storedMsg and the body stays on flash. A connected
// session will send it soon, so its body also goes into bodies, the
// shared cache that the writer looks in before it reads the log: a
// subscriber that is only a little behind gets its messages without a
// read back, and the cache's bound still holds. The caller holds s.mu.
func (s *session) enqueueLocked(om outMsg, q byte, o *Options, bodies *bodyCache) bool {
	if s.queueFullLocked(o) {
		return false
	}
	if s.persistent && (s.conn == nil || s.out.Queued() >= o.HotQueue) {
		m := om.msg()
		om.chill()
		if m != nil && om.cold() && s.conn != nil && bodies != nil {
			bodies.put(m)
		}
	}
	if !s.out.Enqueue(om, q) {
		return false
	}
	s.queuedBytes += int64(om.size())
	return true
}

// restoreQueuedLocked puts back a queued delivery read from the store,
// in queue order. The caller holds s.mu.
func (s *session) restoreQueuedLocked(om outMsg, q byte) {
	s.out.RestoreQueued(om, q)
	s.queuedBytes += int64(om.size())
}

// popQueuedLocked removes the oldest queued delivery without sending it.
// The caller holds s.mu.
func (s *session) popQueuedLocked() (outMsg, bool) {
	om, ok := s.out.PopQueued()
	if ok {
		s.queuedBytes -= int64(om.size())
	}
	return om, ok
}

// nextLocked moves the oldest queued delivery into flight if the window
// has room (qos.Outbound.Next). The caller holds s.mu.
func (s *session) nextLocked() (qos.Delivery[outMsg], bool) {
	d, ok := s.out.Next()
	if ok {
		s.queuedBytes -= int64(d.Msg.size())
	}
	return d, ok
}

// unsendLocked undoes nextLocked for a delivery that never left. The
// caller holds s.mu.
func (s *session) unsendLocked(id uint16) {
	if om, _, _, ok := s.out.Lookup(id); ok && s.out.Unsend(id) {
		s.queuedBytes += int64(om.size())
	}
}

// chillQueuedLocked drops the bodies of the queued deliveries of a
// persistent session that goes offline: they wait on flash. The caller
// holds s.mu.
func (s *session) chillQueuedLocked() {
	if s.persistent {
		s.out.UpdateQueued((*outMsg).chill)
	}
}
