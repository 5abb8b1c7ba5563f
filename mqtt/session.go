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

	// persistent sessions survive the end of their connection; their state
	// is written to the store. Never changes after creation.
	persistent bool
	// local, when set, makes this the session of an in-process
	// subscription: deliveries call it instead of going to a connection.
	// Never changes after creation.
	local LocalHandler

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
	// expiry is the session expiry interval in seconds (expireAtClose,
	// expireNever or a 5.0 value); expiresAt is when an offline session
	// ends, zero while connected or never.
	expiry    uint32
	expiresAt time.Time
	// expiryTimer ends the session when it expires; willTimer publishes
	// pendingWill after its delay. Both nil unless offline.
	expiryTimer *time.Timer
	willTimer   *time.Timer
	pendingWill *Message
	// conn is the connection currently attached, nil while offline.
	conn *client
	// space, when not nil, is closed as soon as out's queue has room again;
	// publishers waiting for a full queue wait on it.
	space chan struct{}
	// ended is set when the session has been discarded; deliveries to it are
	// ignored from then on.
	ended bool
}

// newSession returns an empty session with the server's limits.
func newSession(id string, persistent bool, o *Options) *session {
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
// there is room now. The caller holds s.mu.
func (s *session) wakeWaitersLocked(maxQueued int) {
	if s.space == nil {
		return
	}
	if maxQueued == 0 || s.out.Queued() < maxQueued {
		close(s.space)
		s.space = nil
	}
}
