package mqtt

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gatemq/internal/textlog"
	"gatemq/mqtt/auth"
	"gatemq/mqtt/topic"
)

// Server is the broker: it owns every session, the subscription tree and
// the retained messages, and serves connections handed to ServeConn.
// Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *textlog.Logger

	// subMu guards subs. It is a plain mutex because a topic match updates
	// the tree's result cache.
	subMu sync.Mutex
	subs  *topic.Tree[*session]

	retMu    sync.RWMutex
	retained *topic.Retained[*Message]

	// sessMu guards sessions and clients.
	sessMu   sync.Mutex
	sessions map[string]*session
	clients  map[*client]struct{}

	// authMu guards auth and listenerAuth (per_listener_settings).
	authMu       sync.RWMutex
	auth         *auth.Policy
	listenerAuth map[string]*auth.Policy

	guard authGuard

	stats counters
	// bodies caches the messages read back from the store.
	bodies    bodyCache
	nextMsgID atomic.Uint64
	// queuedTotal is what the sessions of the table hold in their windows
	// and queues (QoS 1/2 deliveries, and QoS 0 ones queued for offline
	// clients), for MaxQueuedTotal: kept up to date by their Outbounds
	// (qos.Outbound.CountIn, set by addSessionLocked), so that nothing
	// walks every session to count them.
	queuedTotal atomic.Int64
	// routeSeq orders durable routes (queue and send order).
	routeSeq atomic.Uint64
	// sessionNum is the highest session number given (session.num).
	sessionNum atomic.Uint32
	nextAutoID atomic.Uint64
	started    time.Time

	// bridges are the running bridges (set once by Start; connections
	// served before it see none).
	bridges atomic.Pointer[[]*bridge]

	// closing is closed when Shutdown begins; wg counts the server's own
	// goroutines ($SYS publisher).
	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	// idle watches the parked connections (idle.go), started by the
	// first that parks (under idleMu; idleFailed: it could not start);
	// idleAfter is how long a connection waits before it parks.
	idle       atomic.Pointer[idlePoller]
	idleMu     sync.Mutex
	idleFailed bool
	idleAfter  time.Duration

	// watches are the contexts connections are served with (watch.go).
	watchMu sync.Mutex
	watches map[<-chan struct{}]*ctxWatch

	// loShared are the listener settings connections share (options.go).
	loMu     sync.Mutex
	loShared map[ListenerOptions]*ListenerOptions
}

// NewServer returns a broker with opts (zero fields take their defaults).
// Call Start to begin publishing $SYS and Shutdown to stop.
func NewServer(opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{
		bodies:    bodyCache{max: opts.BodyCacheBytes},
		opts:      opts,
		log:       opts.Logger,
		subs:      topic.NewTree[*session](),
		retained:  topic.NewRetained[*Message](),
		sessions:  make(map[string]*session),
		clients:   make(map[*client]struct{}),
		started:   time.Now(),
		closing:   make(chan struct{}),
		auth:      opts.Auth,
		idleAfter: defaultIdleAfter,
	}
}

// Start begins the server's background work ($SYS publishing when
// SysInterval > 0). It returns at once.
func (s *Server) Start() {
	if s.opts.SysInterval > 0 {
		s.wg.Add(1)
		go s.sysLoop()
	}
	s.startBridges()
}

// Shutdown stops background work and closes every connection (wills of
// connections closed this way are not published: the broker, not the
// client, ended them). Sessions stay in memory (and in the store). It waits
// for connections to finish until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	for _, b := range s.bridgesNow() {
		b.cancel()
	}
	s.sessMu.Lock()
	cs := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		cs = append(cs, c)
	}
	for _, ss := range s.sessions {
		ss.mu.Lock()
		ss.stopTimersLocked()
		ss.mu.Unlock()
	}
	s.sessMu.Unlock()
	for _, c := range cs {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() {
		for _, c := range cs {
			<-c.endedChan()
		}
		s.wg.Wait()
		s.idleMu.Lock()
		if p := s.idle.Load(); p != nil {
			p.close() // every connection has ended
		}
		s.idleFailed = true // and none parks any more
		s.idleMu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the broker's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		ClientsConnected: int64(s.stats.clientsConnected.Load()),
		ClientsMaximum:   int64(s.stats.clientsMaximum.Load()),
		MessagesReceived: s.stats.messagesReceived.Load(),
		MessagesSent:     s.stats.messagesSent.Load(),
		PublishReceived:  s.stats.publishReceived.Load(),
		PublishSent:      s.stats.publishSent.Load(),
		PublishDropped:   s.stats.publishDropped.Load(),
		BytesReceived:    s.stats.bytesReceived.Load(),
		BytesSent:        s.stats.bytesSent.Load(),

		SubscriptionsRefused: s.stats.subsRefused.Load(),
		TopicsRefused:        s.stats.topicsRefused.Load(),
		AuthFailures:         s.stats.authFailures.Load(),
		AuthBackoffRefused:   s.stats.authBackoff.Load(),
		SlowConsumersDropped: s.stats.slowConsumers.Load(),
		ConnectTimeouts:      s.stats.connectTimeouts.Load(),
		ConnectsTooLarge:     s.stats.connectsTooLarge.Load(),
		AuthRevoked:          s.stats.authRevoked.Load(),
		DeliveriesDenied:     s.stats.deliveriesDenied.Load(),
		ReceiveMaxExceeded:   s.stats.receiveMaxExceed.Load(),
		BodiesUnreadable:     s.stats.bodiesUnreadable.Load(),
	}
	st.CachedBodies, st.CachedBytes = s.bodies.len()
	sessions := s.sessionList()
	st.ClientsTotal = int64(len(sessions))
	for _, ss := range sessions {
		ss.mu.Lock()
		if ss.conn == nil {
			st.ClientsDisconnected++
		}
		st.Inflight += int64(ss.out.Inflight())
		st.Queued += int64(ss.out.Queued())
		st.QueuedBytes += ss.queuedBytes
		ss.mu.Unlock()
	}
	s.subMu.Lock()
	st.Subscriptions = int64(s.subs.Len())
	s.subMu.Unlock()
	s.retMu.RLock()
	st.Retained = int64(s.retained.Len())
	s.retMu.RUnlock()
	return st
}

// addSessionLocked puts ss into the session table under its id; from then
// on what its window and queue hold counts in queuedTotal. The caller holds
// s.sessMu (or, as Recover, runs before anything else can reach the table)
// and not ss.mu, and has taken out any session the id named.
func (s *Server) addSessionLocked(ss *session) {
	s.sessions[ss.id] = ss
	ss.mu.Lock()
	ss.out.CountIn(&s.queuedTotal)
	ss.mu.Unlock()
}

// removeSessionBothLocked takes ss out of the session table, and what it
// holds out of queuedTotal. The caller holds s.sessMu and ss.mu, and ss is
// the table's session for its id.
func (s *Server) removeSessionBothLocked(ss *session) {
	delete(s.sessions, ss.id)
	ss.out.CountIn(nil)
}

// sessionList returns a snapshot of the sessions, to visit without holding
// sessMu.
func (s *Server) sessionList() []*session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	return list
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
