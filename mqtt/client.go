package mqtt

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"gatemq/internal/textlog"
	"gatemq/mqtt/auth"
	"gatemq/mqtt/logdest"
	"gatemq/mqtt/packet"
	"gatemq/qos"
)

// client is one network connection of one MQTT client. What only a
// running reader or writer needs is not here but in a readState or
// writeState, taken from a pool while one runs: an idle connection holds
// this struct, its session and its socket, and (once parked, idle.go) no
// goroutine.
type client struct {
	srv  *Server
	conn net.Conn
	// raw is the socket of a plain TCP or Unix connection (rawsock_linux.go),
	// read by the reader with raw calls and written without waiting by
	// whoever kicks an idle writer (writeNow); nil for other connections
	// (TLS, WebSocket), which are read through conn and always get a
	// writer goroutine.
	raw syscall.RawConn
	// rs is the reader's buffers and decoded packet (reading.go), owned by
	// the connection's reader goroutine; nil while the connection is
	// parked.
	rs *readState
	// w is the running writer's scratch (writer.go), owned by that
	// goroutine; nil while no writer runs.
	w *writeState

	// bridge is set on a bridge's connection to its upstream (bridge.go).
	bridge *bridge
	// lo is what the client's listener changes (max_qos, topic aliases,
	// use_username_as_clientid, the certificate's name); shared with the
	// listener's other connections (Server.listenerOptions), read-only.
	lo *ListenerOptions

	// Set by CONNECT; read-only afterwards. (The small fields are packed
	// together: the struct is what an idle connection costs.)
	id        string
	sess      *session
	ident     *auth.Credentials // who the client authenticated as
	will      *Message
	willDelay uint32 // 5.0 Will Delay Interval, seconds
	expiry    uint32 // session expiry asked for in CONNECT
	keepalive uint16 // seconds; 0: none
	version   byte
	// bridgePeer is set when the client is another broker's bridge that
	// said so with try_private: No Local for all its subscriptions.
	bridgePeer bool
	// 5.0 limits the client set in CONNECT.
	problemInfo bool // Request Problem Information (reason strings allowed)
	// graceful is set when the client sent DISCONNECT (no will; set by the
	// reader).
	graceful    bool
	aliasOutMax uint16 // Topic Alias Maximum towards the client
	maxOut      int    // Maximum Packet Size towards the client; 0 = none

	// aliasesIn maps the client's topic aliases to topics (reader-owned).
	aliasesIn map[uint16]string
	// aliasesOut maps topics to the aliases the broker set up towards the
	// client (writer-owned).
	aliasesOut map[string]uint16
	// pipe orders what must be durable before it is acted on (pipeline.go;
	// nil until needed, and again while parked).
	pipe atomic.Pointer[pipe]

	// outMu guards the output queues and the writer's state.
	outMu   sync.Mutex
	ctrl    []byte                 // encoded control packets (acks, CONNACK, PINGRESP…) waiting to be written
	q0      []outMsg               // QoS 0 deliveries waiting to be written
	q0bytes int                    // payload bytes in q0
	q0space chan struct{}          // closed when the writer takes q0 (waiting publishers wake)
	resend  []qos.Delivery[outMsg] // in-flight messages to send again after a resume
	// done, made on demand (endedChan), is closed when the connection is
	// fully cleaned up.
	done    chan struct{}
	writing bool // a writer goroutine is running
	slow    bool // disconnected as a slow consumer
	ready   bool // CONNACK is queued: writers may start
	dirty   bool // something was queued while the writer ran
	closed  bool // no more writers may start
	leaving bool // the connection is ending: only answers are still written
	over    bool // the connection has been cleaned up (done)
	// kickedByShutdown is set when the broker closed the connection
	// itself because it shuts down: no will is published then.
	kickedByShutdown bool

	// inUnacked counts the client's QoS 1 PUBLISHes not yet answered with
	// PUBACK and its PUBRELs not yet answered with PUBCOMP: with the QoS 2
	// ids awaiting PUBREL, what Receive Maximum bounds.
	inUnacked atomic.Int32
	// moreIn is set while the reader handles a packet with more bytes
	// already in its buffer: the client is sending faster than one packet
	// at a time, so writers kicked by this packet run as goroutines that
	// gather the next ones' output (kickFrom).
	moreIn  atomic.Bool
	writers sync.WaitGroup

	// When the last packet was read, and the read deadline the socket has
	// now, on the reader's clock (reading.go).
	lastIn   int64
	deadline int64
	// idle is the parking state (idle.go).
	idle parking
	// watch closes the connection when ServeDetached's ctx ends (watch.go).
	watch *ctxWatch
}

// ServeConn serves one MQTT connection until it ends; it closes conn. ctx
// ending closes the connection. It is the handler main gives the transport.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) {
	s.ServeDetached(ctx, conn, ListenerOptions{}, nil)
}

// ServeConnAs is ServeConn for a listener with use_identity_as_username:
// certName (the verified client certificate's Common Name) is the client's
// username, and no password is checked; an empty certName is refused.
func (s *Server) ServeConnAs(ctx context.Context, conn net.Conn, certName string) {
	s.ServeDetached(ctx, conn, ListenerOptions{CertName: &certName}, nil)
}

// ServeListener is ServeConn for a connection accepted by a listener with
// its own settings lo.
func (s *Server) ServeListener(ctx context.Context, conn net.Conn, lo ListenerOptions) {
	s.ServeDetached(ctx, conn, lo, nil)
}

// ServeDetached is ServeListener for a caller that need not hold a
// goroutine for the connection while it is idle. A plain TCP or Unix
// socket connection, or a TLS or WebSocket stream over one, that has sent
// nothing for a while parks (see idle.go),
// and ServeDetached returns then, before the connection ends: it calls
// detach first, once, and calls the function detach returns, once, when the
// connection has ended and been cleaned up (from another goroutine, after
// or even before ServeDetached returns). With detach nil, or a connection
// that never parks, it returns when the connection has ended, as
// ServeListener does.
func (s *Server) ServeDetached(ctx context.Context, conn net.Conn, lo ListenerOptions, detach func() (done func())) {
	c := s.newClient(conn, &lo)
	c.idle.detach = detach
	c.idle.can = detach != nil && canPark(conn)
	c.watch = s.watch(ctx)

	s.sessMu.Lock()
	if s.shuttingDown() {
		s.sessMu.Unlock()
		conn.Close()
		s.unwatch(c)
		c.releaseReadState()
		c.markEnded()
		return
	}
	s.clients[c] = struct{}{}
	s.sessMu.Unlock()
	s.stats.sockets.Add(1)
	if ctx.Err() != nil {
		c.shutdown() // ended before the watch could see c
	}

	if s.connectionMessages() {
		c.logNewConnection()
	}
	parked, why := c.serve()
	if parked {
		return // another goroutine carries on
	}
	c.finish(why)
}

// newClient makes the client of one connection, with a read state for
// CONNECT. It is kept out of line so that ServeDetached's frame, which
// stays on the stack while the connection is idle, holds no copy of the
// client's fields.
//
//go:noinline
func (s *Server) newClient(conn net.Conn, lo *ListenerOptions) *client {
	c := &client{
		srv:  s,
		conn: conn,
		lo:   s.listenerOptions(lo),
	}
	c.raw = rawConnOf(conn)
	c.takeReadState(maxRemaining(s.opts.MaxConnectSize)) // MaxPacketSize once CONNECT is accepted
	return c
}

// logNotice logs msg at Mosquitto's notice level. It is kept out of line
// so that the frames of the connection's always-taken path stay small
// (an idle connection's stack is part of its footprint).
//
//go:noinline
func (c *client) logNotice(msg string) {
	c.srv.log.Log(context.Background(), logdest.LevelNotice, msg)
}

// connectionMessages reports whether Mosquitto's connection lines are to
// be logged: ConnectionMessages is on and the log takes notices. The
// lines are not built otherwise: with them, formatting and writing took a
// quarter of the broker's CPU per connection in make bench's idle scenario.
func (s *Server) connectionMessages() bool {
	return s.opts.ConnectionMessages && s.log.Enabled(context.Background(), logdest.LevelNotice)
}

// logNewConnection logs Mosquitto's line for an accepted connection (out
// of line, as logNotice).
//
//go:noinline
func (c *client) logNewConnection() {
	c.logNotice("New connection from " + c.remote() + " on port " + localPort(c.conn) + ".")
}

// localPort is the port a connection was accepted on, for logs ("0" for
// a Unix socket, as Mosquitto says).
func localPort(conn net.Conn) string {
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	if a := conn.LocalAddr(); a != nil {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	return "0"
}

// maxRemaining converts a limit on a whole packet's size into the largest
// Remaining Length a packet within it can have: the fixed header takes one
// byte plus 1-4 bytes of length.
func maxRemaining(total int) int {
	best := 0
	for n, limit := 1, 128; n <= 4; n, limit = n+1, limit*128 {
		if r := min(total-1-n, limit-1); r > best {
			best = r
		}
	}
	return best
}

// serve reads CONNECT and then every packet until the connection fails,
// and says why (for the connection messages; "" when it never got past
// CONNECT), or until it parks (see idle.go).
func (c *client) serve() (parked bool, why string) {
	s := c.srv
	c.setReadDeadline(s.clock() + int64(s.opts.ConnectTimeout))
	// The first byte must be CONNECT's (type 1, flags 0) [MQTT-3.1.0-1]:
	// anything else (an HTTP request, TLS hello, noise) is closed at once
	// rather than waited on for the body its "length" announces.
	if first, err := c.rs.br.Peek(1); err != nil || first[0] != byte(packet.CONNECT)<<4 {
		if err == nil {
			s.log.Info("closing connection: first packet is not CONNECT", "remote", c.remote(), "byte", first[0])
		} else {
			c.logEnd("before CONNECT", err)
		}
		return false, ""
	}
	if err := c.rs.r.Read(packet.V311, &c.rs.pk); err != nil {
		c.refuseConnect(err)
		return false, ""
	}
	c.countIn()
	if c.rs.pk.Type != packet.CONNECT {
		s.log.Debug("first packet is not CONNECT; closing", "remote", c.remote(), "type", c.rs.pk.Type.String())
		return false, ""
	}
	if !c.handleConnect() {
		return false, ""
	}
	c.rs.r.SetMaxSize(maxRemaining(s.opts.MaxPacketSize))
	c.lastIn = s.clock()
	return c.readLoop()
}

// readLoop reads and handles packets until the connection fails, and
// says why, or until it parks.
func (c *client) readLoop() (parked bool, why string) {
	for {
		park, err := c.readPacket()
		if park {
			if c.park() {
				return true, ""
			}
			continue // not parked: this goroutine waits for the next packet after all
		}
		if err != nil {
			return false, c.protocolError(err)
		}
		c.countIn()
		c.moreIn.Store(c.rs.br.Buffered() > 0)
		if err := c.handle(); err != nil {
			return false, c.protocolError(err)
		}
		if c.graceful || c.rs.pk.Type == packet.DISCONNECT {
			return false, "disconnected."
		}
		c.lastIn = c.srv.clock()
	}
}

// refuseConnect ends a connection whose first packet could not be read. A
// CONNECT over MaxConnectSize is refused after its fixed header, before
// its body is read: with CONNACK 0x95 (Packet too large) when the start of
// the body (protocol name and level, already buffered as a rule) says the
// client speaks 5.0, else by closing, as 3.1.1 has no code for it.
func (c *client) refuseConnect(err error) {
	var pe *packet.Error
	if !errors.As(err, &pe) || pe.Code != packet.PacketTooLarge {
		c.logEnd("before CONNECT", err)
		return
	}
	c.srv.stats.connectsTooLarge.Add(1)
	if b, perr := c.rs.br.Peek(7); perr == nil && string(b[:6]) == "\x00\x04MQTT" && b[6] == packet.V5 {
		c.version = packet.V5
		c.refuse(0, packet.PacketTooLarge, pe.Msg)
		return
	}
	c.srv.log.Info("refusing connection: CONNECT too large", "remote", c.remote(), "err", err)
}

// countIn counts one packet read.
func (c *client) countIn() {
	c.srv.stats.messagesReceived.Add(1)
}

// handle acts on the packet just read into c.rs.pk.
func (c *client) handle() error {
	p := &c.rs.pk
	if c.bridge != nil {
		if handled, err := c.handleFromUpstream(); handled {
			return err
		}
	}
	switch p.Type {
	case packet.PUBLISH:
		return c.handlePublish()
	case packet.PUBACK:
		c.handlePuback(p.PacketID)
	case packet.PUBREC:
		return c.handlePubrec(p.PacketID, p.ReasonCode)
	case packet.PUBREL:
		return c.handlePubrel(p.PacketID)
	case packet.PUBCOMP:
		c.handlePubcomp(p.PacketID)
	case packet.SUBSCRIBE:
		return c.handleSubscribe()
	case packet.UNSUBSCRIBE:
		return c.handleUnsubscribe()
	case packet.PINGREQ:
		if c.pipeBusy() {
			c.waitPipeline() // PINGRESP follows the acknowledgements already due
		}
		c.sendPingresp()
	case packet.DISCONNECT:
		return c.handleDisconnect()
	case packet.AUTH:
		return &packet.Error{Code: packet.ProtocolError, Msg: "AUTH without an authentication method in CONNECT [MQTT-4.12.0-1]"}
	case packet.CONNECT:
		return &packet.Error{Code: packet.ProtocolError, Msg: "second CONNECT [MQTT-3.1.0-2]"}
	default:
		return &packet.Error{Code: packet.ProtocolError, Msg: "unexpected " + p.Type.String() + " from a client"}
	}
	return nil
}

// handleDisconnect ends the connection on the client's DISCONNECT. In 5.0
// the reason 0x04 asks for the will to be published all the same, and a
// Session Expiry Interval may change the session's expiry (but not from 0
// [MQTT-3.14.2-2]).
func (c *client) handleDisconnect() error {
	c.waitPipeline() // what was acknowledged before DISCONNECT goes out first
	p := &c.rs.pk
	if c.version == packet.V5 {
		if p.Props.HasSessionExpiry {
			if c.expiry == expireAtClose && p.Props.SessionExpiry != expireAtClose {
				return &packet.Error{Code: packet.ProtocolError, Msg: "DISCONNECT sets a session expiry after CONNECT set 0 [MQTT-3.14.2-2]"}
			}
			ss := c.sess
			ss.mu.Lock()
			ss.expiry = p.Props.SessionExpiry
			ss.mu.Unlock()
		}
		if p.ReasonCode == packet.DisconnectWithWill {
			return nil // not graceful: the will goes out
		}
	}
	c.graceful = true
	return nil
}

// protocolError logs why the connection ends and, for MQTT 5.0 clients,
// sends DISCONNECT with the reason code of a decode or protocol error, or
// 0x8D when the keep alive ran out; it returns the reason in Mosquitto's
// words (endReason).
func (c *client) protocolError(err error) string {
	if c.version == packet.V5 && !c.graceful {
		var pe *packet.Error
		switch {
		case errors.As(err, &pe):
			// A reason string is allowed on DISCONNECT whatever Request
			// Problem Information says.
			c.sendDisconnect(pe.Code, []byte(pe.Msg))
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.sendDisconnect(packet.KeepAliveTimeout, nil)
		}
	}
	c.logEnd("", err)
	return endReason(err)
}

// sendDisconnect sends a 5.0 client DISCONNECT with the reason code and,
// unless it is nil, the reason string, and closes the connection after a
// moment unless the writer is done sooner (flushSoon). It is kept out of
// line, as sendPingresp is, so that the packet it builds takes room on the
// connection's stack only while it runs.
//
//go:noinline
func (c *client) sendDisconnect(code packet.ReasonCode, reason []byte) {
	d := packet.Packet{Type: packet.DISCONNECT, ReasonCode: code}
	d.Props.ReasonString = reason
	c.sendControl(&d)
	c.flushSoon()
}

// sendPingresp answers PINGREQ. It is kept out of line so that the packet
// it builds is not part of the frame of handle, which is on the stack
// whenever a packet is handled.
//
//go:noinline
func (c *client) sendPingresp() {
	c.sendControl(&packet.Packet{Type: packet.PINGRESP})
}

// endReason words why a connection ended (after CONNECT) as Mosquitto's
// connection messages do, after "Client ID ".
func endReason(err error) string {
	var pe *packet.Error
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case packet.MalformedPacket:
			return "disconnected due to malformed packet."
		case packet.PacketTooLarge:
			return "disconnected due to oversize packet."
		case packet.QoSNotSupported, packet.RetainNotSupported:
			return "disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method)."
		case packet.ReceiveMaxExceeded, packet.QuotaExceeded:
			return "disconnected: " + pe.Msg + "."
		}
		return "disconnected due to protocol error."
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "has exceeded timeout, disconnecting."
	case errors.Is(err, io.EOF):
		return "closed its connection."
	case errors.Is(err, net.ErrClosed):
		return "" // closed by the broker: takeover, shutdown or a limit, logged where decided
	}
	return "disconnected: " + err.Error() + "."
}

// logEnd logs the end of a connection at a level that fits the cause.
func (c *client) logEnd(when string, err error) {
	log := c.srv.log
	var pe *packet.Error
	switch {
	case errors.As(err, &pe):
		log.Info("closing connection: protocol violation", "client", c.id, "remote", c.remote(), "when", when, "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if c.id == "" {
			c.srv.stats.connectTimeouts.Add(1)
			log.Info("closing connection: no CONNECT in time", "remote", c.remote())
		} else {
			log.Info("closing connection: keep alive timed out", "client", c.id, "remote", c.remote())
		}
	case !c.srv.debugging():
		// The lines below are debug lines: their arguments are not even
		// built (the remote address formatted, each value boxed) unless
		// they are logged.
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		log.Debug("connection closed", "client", c.id, "remote", c.remote())
	default:
		log.Debug("connection ended", "client", c.id, "remote", c.remote(), "err", err)
	}
}

// debugging reports whether the log takes debug lines, for lines on the
// path of every connection, whose arguments cost allocations and
// formatting to build.
func (s *Server) debugging() bool {
	return s.log.Enabled(context.Background(), textlog.LevelDebug)
}

// remote is the peer's address for logs.
func (c *client) remote() string {
	if a := c.conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// shutdown closes the connection because the broker is stopping: MQTT 5.0
// clients are told why first.
func (c *client) shutdown() {
	c.outMu.Lock()
	c.kickedByShutdown = true
	c.outMu.Unlock()
	if c.version == packet.V5 {
		c.sendDisconnect(packet.ServerShuttingDown, nil)
	}
	c.closeConn()
}

// cleanup runs once, after the reader loop ends: it stops the writer,
// publishes the will when the close was not a DISCONNECT, and detaches or
// ends the session. why is why the connection ended, for the connection
// messages ("" when it never got past CONNECT, or the broker closed it).
func (c *client) cleanup(why string) {
	s := c.srv
	c.waitPipeline()
	// Everything answered so far leaves before the socket closes: a client
	// that writes CONNECT and DISCONNECT back to back gets its CONNACK, a
	// pipelining one its last acknowledgements (bounded: a peer that does
	// not read is closed after a second). Nothing new is sent meanwhile:
	// messages routed to the session now wait for its next connection.
	c.outMu.Lock()
	c.leaving = true
	c.outMu.Unlock()
	c.flushSoon()
	c.conn.Close()
	c.outMu.Lock()
	c.closed = true
	if c.q0space != nil {
		close(c.q0space)
		c.q0space = nil
	}
	byShutdown := c.kickedByShutdown
	c.q0 = nil
	c.outMu.Unlock()
	c.writers.Wait()

	if c.sess != nil {
		if why != "" && !byShutdown && s.connectionMessages() {
			c.logNotice("Client " + c.id + " " + why)
		}
		s.stats.clientsConnected.Add(-1)
		var will *Message
		if !c.graceful && !byShutdown {
			will = c.will
		}
		s.detach(c, will)
	}
	s.sessMu.Lock()
	delete(s.clients, c)
	s.sessMu.Unlock()
	c.markEnded()
}

// endedChan returns a channel that is closed once the connection has been
// cleaned up. It is made on demand: few connections are ever waited for.
func (c *client) endedChan() <-chan struct{} {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.over {
			close(c.done)
		}
	}
	return c.done
}

// markEnded says that the connection has been cleaned up.
func (c *client) markEnded() {
	c.outMu.Lock()
	c.over = true
	if c.done != nil {
		close(c.done)
	}
	c.outMu.Unlock()
}
