package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gatemq/internal/fmt"
)

// ErrServerClosed is returned by [Server.Listen] once [Server.Shutdown] has
// been called.
var ErrServerClosed = errors.New("transport: server closed")

// ConnInfo describes an accepted connection for the handler.
type ConnInfo struct {
	// Listener names the listener that accepted the connection: its
	// ListenerConfig.Name, or "NETWORK ADDRESS" of the bound socket
	// (e.g. "tcp 127.0.0.1:1883") when Name is empty.
	Listener string
	// Remote is the peer's address.
	Remote net.Addr
	// PeerCN is the Common Name of the client certificate verified during
	// the TLS handshake (listeners with TLS.RequireCertificate), for
	// use_identity_as_username; "" otherwise.
	PeerCN string
	// PeerSubject is that certificate's whole subject in RFC 2253 form
	// ("CN=client,OU=Production,O=Server,C=GB"), for
	// use_subject_as_username.
	PeerSubject string
	// Detach lets the handler return before the connection has ended, so
	// that no goroutine need wait with an idle connection: called before
	// the handler returns, it returns the function that the handler's
	// side must call, exactly once, when the connection has ended (from
	// any goroutine; before the handler returns is fine too). The server
	// counts the connection as open, against the limits and in Shutdown's
	// wait, until then. Not calling it leaves the handler's return as the
	// end.
	Detach func() (done func())
}

// Handler serves one connection; it owns c and must close it. ctx is
// cancelled when the server shuts down. The server counts the connection as
// open until the handler returns (or, after ConnInfo.Detach, until the
// connection's end is reported).
//
// A panic in a handler is not recovered: it is a programmer bug, and the
// process is better restarted (by procd or systemd) from its durable state
// than left running with a broker lock possibly still held.
type Handler func(ctx context.Context, c net.Conn, info ConnInfo)

// ListenerConfig describes one listener.
type ListenerConfig struct {
	// Network is "tcp" (the default when empty), "tcp4", "tcp6" or
	// "unix" (Address is then the socket's path: a stale socket file
	// there is removed first, and the file is removed when the listener
	// closes).
	// With "tcp", the listener binds exactly the family of the address
	// given, as Mosquitto does: an IPv4 address (0.0.0.0 included) binds
	// IPv4 only, an IPv6 address (:: included) binds IPv6 only
	// (IPV6_V6ONLY), and an empty host (":1883") binds both families. A
	// host name is left to the resolver. (Go's own "tcp" makes 0.0.0.0
	// and :: dual-stack sockets, which would expose a router on IPv6
	// unasked.)
	Network string
	// Address is host:port; ":1883" listens on all addresses, port 0 picks a
	// free port (see the net.Addr that Listen returns).
	Address string
	// Name is what ConnInfo.Listener carries; empty means "NETWORK ADDRESS"
	// of the bound socket.
	Name string
	// MaxConnections caps the connections open through this listener at
	// once; 0 or negative means unlimited (the server-wide cap still applies).
	MaxConnections int
	// TLS, if set, makes this a TLS listener (see TLSOptions).
	TLS *TLSOptions
	// WebSocket makes the listener expect an HTTP upgrade to WebSocket
	// (subprotocol "mqtt") on each connection, after TLS if TLS is set;
	// the handler then reads and writes the MQTT byte stream.
	WebSocket bool
	// Interface, when set, binds the listener to that network interface
	// (SO_BINDTODEVICE, Linux only; needs CAP_NET_RAW): it accepts only
	// connections that arrive through it, whatever its addresses.
	Interface string
	// Nagle leaves Nagle's algorithm on for accepted TCP connections
	// (Mosquitto's set_tcp_nodelay false). The zero value turns it off
	// (TCP_NODELAY, Go's default): lower latency for small packets.
	Nagle bool
	// HandshakeTimeout bounds the TLS and WebSocket handshakes together,
	// which run before the handler is called: a connection that has not
	// completed them in time is closed. 0 means 10 seconds. The broker
	// passes its connect_timeout, so that a silent socket is closed as
	// soon on a TLS or WebSocket listener as on a plain one.
	HandshakeTimeout time.Duration
}

// TCP keep-alive settings for accepted connections.
const (
	keepAliveIdle     = 60 * time.Second
	keepAliveInterval = 15 * time.Second
	keepAliveCount    = 4
)

// keepAlive is TCP keep-alive for accepted and dialled connections.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount}

// Server runs listeners and hands each accepted connection to the handler in
// a goroutine of its own, owned by the Server: a new one, or one whose
// handler returned and that waits, as one of a few spares, for the next
// connection (work). All methods are safe for concurrent use.
type Server struct {
	handler  Handler
	log      Logger
	maxConns int

	ctx    context.Context // handlers' context; cancelled by Shutdown
	cancel context.CancelFunc

	// open counts the handlers running (32 bits: on a 32-bit router a
	// 64-bit atomic takes a lock).
	open     atomic.Int32
	rejected atomic.Uint64 // connections refused by a limit

	mu        sync.Mutex
	closed    bool                  // Shutdown has begun
	listeners []*listener           // live listeners, closed by Shutdown
	conns     map[net.Conn]struct{} // open connections, force-closed after Shutdown's deadline
	active    int                   // accept loops, spares and connections (handlers running, or detached and not yet done)
	// spare counts the goroutines waiting in work for a connection that
	// admit has not handed them yet; handoff carries those handed over
	// and not yet taken. Waiting goroutines (spare + len(handoff)) are
	// at most cap(handoff).
	spare   int
	handoff chan handoff
	// admitting is set by admit and cleared by spareTick every
	// spareLife: only while connections come may a goroutine stay as a
	// spare. retire is closed by spareTick to end the spares waiting
	// then; spareTimer runs spareTick (ticking: it is armed).
	admitting  bool
	ticking    bool
	retire     chan struct{}
	spareTimer *time.Timer
	drained    chan struct{} // closed once closed && active == 0
	drainOnce  sync.Once

	// spareLife is spareLife; tests lengthen or shorten it.
	spareLife time.Duration

	// sleep waits d or until ctx is done, reporting whether d elapsed.
	// Tests replace it to observe the accept back-off without waiting.
	sleep func(ctx context.Context, d time.Duration) bool
}

// listener is one bound socket and its own connection count.
type listener struct {
	ln        net.Listener
	name      string
	max       int
	open      atomic.Int32
	upgrade   layer        // TLS/WebSocket handshakes; nil for plain TCP
	nagle     bool         // leave Nagle's algorithm on (ListenerConfig.Nagle)
	websocket bool         // ListenerConfig.WebSocket
	reload    func() error // reloads TLS files; nil without TLS
}

// Logger receives the Server's events: a message and key-value pairs, as
// log/slog's Logger takes them (which, like gatemq's textlog.Logger, has
// these methods).
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// discardLogger is the Logger of a Server made without one.
type discardLogger struct{}

func (discardLogger) Debug(string, ...any) {}
func (discardLogger) Info(string, ...any)  {}
func (discardLogger) Warn(string, ...any)  {}

// NewServer returns a Server that passes connections to h. logger may be nil
// (nothing is logged). maxConnections caps the connections open at once
// across all listeners; 0 or negative means unlimited. A nil h is a
// programming error and panics.
func NewServer(h Handler, logger Logger, maxConnections int) *Server {
	if h == nil {
		panic("transport: NewServer with nil Handler")
	}
	if logger == nil {
		logger = discardLogger{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		handler:   h,
		log:       logger,
		maxConns:  maxConnections,
		ctx:       ctx,
		cancel:    cancel,
		conns:     make(map[net.Conn]struct{}),
		handoff:   make(chan handoff, maxSpares),
		spareLife: spareLife,
		drained:   make(chan struct{}),
		sleep:     sleepCtx,
	}
}

// Listen binds a listener now (so a busy port is an error at startup,
// returned wrapped with the address) and starts accepting on it in a
// goroutine owned by the Server. It returns the bound address, which tells
// the port chosen for port 0. After Shutdown it returns ErrServerClosed.
func (s *Server) Listen(cfg ListenerConfig) (net.Addr, error) {
	network := cfg.Network
	switch network {
	case "":
		network = "tcp"
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("transport: listen %s %s: unsupported network (want tcp, tcp4, tcp6 or unix)", cfg.Network, cfg.Address)
	}
	if s.isClosed() {
		return nil, ErrServerClosed
	}
	upgrade, reload, err := buildLayers(cfg)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s %s: %w", network, cfg.Address, err)
	}
	lc := listenConfig(cfg.Interface)
	if network == "unix" {
		removeStaleSocket(cfg.Address)
	}
	ln, err := lc.Listen(context.Background(), bindNetwork(network, cfg.Address), cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s %s: %w", network, cfg.Address, err)
	}
	name := cfg.Name
	if name == "" {
		name = network + " " + ln.Addr().String()
	}
	if !s.start(&listener{ln: ln, name: name, max: cfg.MaxConnections, upgrade: upgrade, reload: reload, nagle: cfg.Nagle,
		websocket: cfg.WebSocket}) {
		_ = ln.Close()
		return nil, ErrServerClosed
	}
	s.log.Info("transport: listening", "listener", name, "addr", ln.Addr().String())
	return ln.Addr(), nil
}

// bindNetwork narrows "tcp" to the family of address's host when it is an
// IP address: "tcp4" for IPv4 (so that 0.0.0.0 is not a dual-stack
// socket), "tcp6" for IPv6 (Go sets IPV6_V6ONLY on "tcp6" sockets, so ::
// takes no IPv4 connections). An empty host, a host name, or an address
// that does not parse keeps "tcp" (dual stack for an empty host; the
// resolver's choice or Listen's error otherwise).
func bindNetwork(network, address string) string {
	if network != "tcp" {
		return network
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return network
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return network
	case ip.Is4() || ip.Is4In6():
		return "tcp4"
	default:
		return "tcp6"
	}
}

// startListener registers ln and starts its accept loop, unless Shutdown has
// begun (then it returns false and the caller closes ln).
func (s *Server) startListener(ln net.Listener, name string, maxConns int) bool {
	return s.start(&listener{ln: ln, name: name, max: maxConns})
}

// start registers l and starts its accept loop, unless Shutdown has begun
// (then it returns false and the caller closes l.ln).
func (s *Server) start(l *listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners = append(s.listeners, l)
	s.active++
	go s.acceptLoop(l)
	return true
}

// Shutdown stops accepting on all listeners, cancels the handlers' ctx, and
// waits for the handlers to return. If ctx ends first, it closes every
// connection still open (so handlers blocked in Read or Write return soon)
// and returns ctx's error without waiting further. It returns nil when all
// handlers returned in time, or the errors from closing listeners. It may be
// called more than once; later calls wait the same way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	lns := s.listeners
	s.listeners = nil
	if s.spareTimer != nil {
		s.spareTimer.Stop() // spares end with the handlers' context
	}
	if s.active == 0 {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	s.mu.Unlock()

	var errs []error
	for _, l := range lns {
		if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("transport: close %s: %w", l.name, err))
		}
	}
	s.cancel()

	select {
	case <-s.drained:
		return errors.Join(errs...)
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		_ = c.Close() // the handler's own Close later returns an error it can ignore
	}
	s.mu.Unlock()
	s.log.Warn("transport: shutdown deadline passed; closed remaining connections", "count", n)
	return fmt.Errorf("transport: shutdown: %d connections still open: %w", n, ctx.Err())
}

// Connections returns the number of connections currently open, i.e. of
// handlers that have not returned yet.
func (s *Server) Connections() int { return int(s.open.Load()) }

// Rejected returns how many connections were refused (accepted and closed at
// once) because a server-wide or per-listener limit was reached.
func (s *Server) Rejected() uint64 { return s.rejected.Load() }

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// goroutineDone records the end of an accept loop or of a connection.
func (s *Server) goroutineDone() {
	s.mu.Lock()
	s.active--
	if s.closed && s.active == 0 {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	s.mu.Unlock()
}

// sleepCtx waits d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
