package mqtt

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"gatemq/internal/fmt"
	"gatemq/mqtt/packet"
	"gatemq/qos"
)

// tryPrivateLevel is the CONNECT protocol level of a 3.1.1 bridge with
// try_private: 4 with the top bit set, which a Mosquitto upstream takes to
// mean "a bridge: do not send its own messages back to it".
const tryPrivateLevel = 0x80 | packet.V311

// connectAndServe makes one connection to the upstream and serves it
// until it ends. up reports that the upstream accepted the connection.
func (b *bridge) connectAndServe() (up bool, err error) {
	s, cfg := b.srv, &b.cfg
	addr := cfg.Addresses[b.addr]
	conn, err := b.dial(addr)
	if err != nil {
		s.log.Warn("bridge: cannot connect to the upstream", "bridge", cfg.Name, "address", addr, "err", err)
		return false, err
	}
	c := s.newClient(conn, &ListenerOptions{})
	c.bridge = b
	c.id = cfg.LocalClientID
	c.version = packet.V311
	if cfg.ProtocolVersion == packet.V5 {
		c.version = packet.V5
	}
	ack, err := b.handshake(c)
	if err != nil {
		conn.Close()
		c.releaseReadState()
		s.log.Warn("bridge: connection refused", "bridge", cfg.Name, "address", addr, "err", err)
		return false, err
	}

	s.sessMu.Lock()
	if s.shuttingDown() {
		s.sessMu.Unlock()
		conn.Close()
		c.releaseReadState()
		return true, nil
	}
	s.clients[c] = struct{}{}
	s.sessMu.Unlock()
	s.stats.sockets.Add(1)

	if b.session() == nil { // ended by a client that took its id with a clean start
		if err := b.setupSession(); err != nil {
			s.log.Error("bridge: session cannot be stored", "bridge", cfg.Name, "err", err)
		}
	}
	ss, _, _ := s.attach(c, cfg.LocalClientID, false, expireNever)
	c.sess = ss
	window, keepalive := b.limits(c, ack)
	ss.mu.Lock()
	ss.identity = nil
	ss.acl.Store(nil) // the bridge forwards what its topics say, not what an ACL says
	ss.out.SetMaxInflight(window)
	ss.mu.Unlock()
	if !ack.SessionPresent {
		b.forgetInbound(ss)
	}
	s.stats.connected()
	b.connects.Add(1)
	b.lastActive.Store(time.Now().UnixNano())
	s.log.Info("bridge connected", "bridge", cfg.Name, "address", addr, "protocol", c.version,
		"session_present", ack.SessionPresent, "window", window, "keepalive", keepalive)
	b.notify(true)
	b.start(c, ss)

	done := make(chan struct{})
	go b.keepAlive(c, keepalive, done)
	why := c.serveBridge(keepalive)
	c.cleanup(why)
	c.releaseReadState()
	close(done)

	if why == "" {
		why = "closed by the broker."
	}
	s.log.Info("bridge disconnected", "bridge", cfg.Name, "address", addr, "why", why)
	b.notify(false)
	return true, nil
}

// handshake sends CONNECT and reads CONNACK. A refusal is an error naming
// the upstream's reason; a 3.1.1 upstream that refuses try_private's
// protocol level is asked again with the plain level next time.
func (b *bridge) handshake(c *client) (*packet.Packet, error) {
	cfg := &b.cfg
	stop := context.AfterFunc(b.ctx, func() { c.conn.Close() })
	defer stop()
	p := packet.Packet{Type: packet.CONNECT}
	cp := &p.Connect
	cp.ProtocolLevel = c.version
	if c.version == packet.V311 && cfg.TryPrivate && !b.noPrivate {
		cp.ProtocolLevel = tryPrivateLevel
	}
	cp.CleanStart = cfg.CleanSession
	cp.KeepAlive = uint16(min(cfg.KeepAlive/time.Second, 65535))
	cp.ClientID = []byte(cfg.RemoteClientID)
	if cfg.RemoteUsername != "" {
		cp.UsernameFlag, cp.Username = true, []byte(cfg.RemoteUsername)
	}
	if cfg.HasRemotePassword {
		cp.PasswordFlag, cp.Password = true, []byte(cfg.RemotePassword)
	}
	if cfg.Notifications && !cfg.NotificationsLocalOnly {
		// The upstream says "0" for us when the link dies (Mosquitto's will).
		cp.WillFlag, cp.WillQoS, cp.WillRetain = true, 1, true
		cp.WillTopic, cp.WillPayload = []byte(cfg.NotificationTopic), []byte("0")
	}
	if c.version == packet.V5 {
		if !cfg.CleanSession {
			p.Props.SessionExpiry, p.Props.HasSessionExpiry = expireNever, true
		}
		if rm := b.srv.opts.receiveMaximum(); rm < 65535 {
			p.Props.ReceiveMaximum, p.Props.HasReceiveMaximum = uint16(rm), true
		}
	}
	timeout := max(cfg.KeepAlive, 10*time.Second)
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.conn.Write(p.Append(nil, c.version)); err != nil {
		return nil, fmt.Errorf("sending CONNECT: %w", err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	if err := c.rs.r.Read(c.version, &c.rs.pk); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errors.New("no CONNACK within " + timeout.String())
		}
		return nil, fmt.Errorf("reading CONNACK: %w", err)
	}
	ack := &c.rs.pk
	if ack.Type != packet.CONNACK {
		return nil, errors.New("the upstream answered CONNECT with " + ack.Type.String())
	}
	if code := ack.ReasonCode; code != packet.Success {
		if cp.ProtocolLevel == tryPrivateLevel && byte(code) == packet.ConnRefusedVersion {
			b.noPrivate = true // Mosquitto's fallback: plain 3.1.1 from now on
			return nil, fmt.Errorf("%w: it does not take try_private's protocol level; trying without", errRefused)
		}
		return nil, fmt.Errorf("%w: %s", errRefused, connackWhy(c.version, code))
	}
	c.rs.r.SetMaxSize(maxRemaining(b.srv.opts.MaxPacketSize))
	return ack, nil
}

// connackWhy words a CONNACK refusal.
func connackWhy(version byte, code packet.ReasonCode) string {
	if version == packet.V5 {
		return code.String()
	}
	switch byte(code) {
	case packet.ConnRefusedVersion:
		return "unacceptable protocol version (1)"
	case packet.ConnRefusedIDRejected:
		return "identifier rejected (2)"
	case packet.ConnRefusedUnavailable:
		return "server unavailable (3)"
	case packet.ConnRefusedBadUserPass:
		return "bad user name or password (4)"
	case packet.ConnRefusedNotAuthorized:
		return "not authorized (5)"
	}
	return "code " + strconv.Itoa(int(code))
}

// limits applies what the upstream's CONNACK says to the connection and
// returns the in-flight window toward it (a 5.0 upstream's Receive
// Maximum; toward 3.1.1, bridge_max_inflight) and the keep alive.
func (b *bridge) limits(c *client, ack *packet.Packet) (window int, keepalive time.Duration) {
	window, keepalive = b.cfg.MaxInflight, b.cfg.KeepAlive
	// bridge_max_packet_size: larger messages are not forwarded (counted
	// as dropped), as the writer does for a client's Maximum Packet Size.
	c.maxOut = int(b.cfg.MaxPacketSize)
	if c.version != packet.V5 {
		return window, keepalive
	}
	ap := &ack.Props
	window = 65535
	if ap.HasReceiveMaximum && ap.ReceiveMaximum > 0 {
		window = int(ap.ReceiveMaximum)
	}
	if n := int(ap.MaximumPacketSize); ap.HasMaximumPacketSize && (c.maxOut == 0 || n < c.maxOut) {
		c.maxOut = n
	}
	if ap.HasServerKeepAlive {
		keepalive = time.Duration(ap.ServerKeepAlive) * time.Second
	}
	if ap.HasMaximumQoS {
		for _, tp := range b.cfg.Topics {
			if tp.Direction&BridgeOut != 0 && tp.QoS > ap.MaximumQoS {
				b.srv.log.Warn("bridge: the upstream takes at most a lower QoS than an out topic's; it will refuse those messages",
					"bridge", b.cfg.Name, "topic", tp.Pattern, "qos", tp.QoS, "upstream_maximum_qos", ap.MaximumQoS)
			}
		}
	}
	return window, keepalive
}

// forgetInbound drops the QoS 2 packet ids the upstream's old session had
// awaiting PUBREL: an upstream without our session will reuse them for
// new messages, which must not be taken for retransmissions.
func (b *bridge) forgetInbound(ss *session) {
	ss.mu.Lock()
	ids := ss.in.IDs()
	ss.in = qos.NewInbound(0)
	ss.mu.Unlock()
	if !ss.persistent || len(ids) == 0 {
		return
	}
	t := b.srv.beginTxn()
	for _, id := range ids {
		t.delInbound(ss, id)
	}
	if err := b.srv.commitTxn(t); err != nil {
		b.srv.log.Warn("bridge: stale inbound QoS 2 ids not removed from the store", "bridge", b.cfg.Name, "err", err)
	}
}

// start queues what a new connection sends first: SUBSCRIBE for the in
// topics, UNSUBSCRIBE for the out-only ones (bridge_attempt_unsubscribe),
// the state "1" upstream, then the in-flight deliveries again with their
// packet ids (PUBLISH with DUP, or PUBREL); then the writer may start.
func (b *bridge) start(c *client, ss *session) {
	cfg := &b.cfg
	var ctrl []byte
	ss.mu.Lock()
	next := uint16(65535)
	freeID := func() uint16 { // ids the session's deliveries do not use
		for {
			id := next
			next--
			if _, _, _, used := ss.out.Lookup(id); !used {
				return id
			}
		}
	}
	for _, tp := range cfg.Topics {
		f := []byte(tp.RemotePrefix + tp.Pattern)
		switch {
		case tp.Direction&BridgeIn != 0:
			sub := packet.Subscription{Filter: f, QoS: tp.QoS}
			if c.version == packet.V5 {
				sub.NoLocal = tp.Direction == BridgeBoth
				sub.RetainAsPublished = true
			}
			p := packet.Packet{Type: packet.SUBSCRIBE, PacketID: freeID(), Subs: packet.SubscriptionsOf(sub)}
			ctrl = p.Append(ctrl, c.version)
		case cfg.AttemptUnsubscribe:
			p := packet.Packet{Type: packet.UNSUBSCRIBE, PacketID: freeID(), Filters: packet.TopicFiltersOf(f)}
			ctrl = p.Append(ctrl, c.version)
		}
	}
	ds := ss.out.Resume()
	ss.mu.Unlock()
	if cfg.Notifications && !cfg.NotificationsLocalOnly {
		p := packet.Packet{Type: packet.PUBLISH, Retain: true, Topic: []byte(cfg.NotificationTopic), Payload: []byte("1")}
		ctrl = p.Append(ctrl, c.version)
	}
	for _, d := range ds {
		if d.Stage == qos.Sent {
			b.resent.Add(1)
		}
	}
	c.outMu.Lock()
	c.ctrl = append(c.ctrl, ctrl...)
	c.resend = append(c.resend, ds...)
	c.ready = true
	c.outMu.Unlock()
	c.kick()
}

// keepAlive sends PINGREQ every keep alive interval (so that a silent
// upstream is noticed: the reader's deadline is one and a half intervals)
// and, for a lazy bridge, ends the connection after idle_timeout without a
// PUBLISH either way and nothing left to send. It returns when done
// closes.
func (b *bridge) keepAlive(c *client, every time.Duration, done <-chan struct{}) {
	var ping <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		ping = t.C
	}
	var idle <-chan time.Time
	if b.cfg.StartType == "lazy" && b.cfg.IdleTimeout > 0 {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		idle = t.C
	}
	// An upstream that answers PINGREQ but acknowledges nothing would
	// hold the window, and the queue behind it, for ever: after two
	// intervals with deliveries in flight and no acknowledgement the
	// connection is ended, and the reconnect sends them again.
	acked, stalled := b.acked.Load(), 0
	for {
		select {
		case <-done:
			return
		case <-ping:
			if a := b.acked.Load(); a != acked || !b.inFlight(c.sess) {
				acked, stalled = a, 0
			} else if stalled++; stalled >= 2 {
				b.stalls.Add(1)
				b.srv.log.Warn("bridge: the upstream acknowledged nothing for two keep alive intervals; reconnecting",
					"bridge", b.cfg.Name, "keepalive", every)
				c.conn.Close()
				return
			}
			c.sendControl(&packet.Packet{Type: packet.PINGREQ})
		case <-idle:
			last := time.Unix(0, b.lastActive.Load())
			if time.Since(last) < b.cfg.IdleTimeout || b.busy(c.sess) {
				continue
			}
			b.srv.log.Info("bridge idle: disconnecting (start_type lazy)", "bridge", b.cfg.Name, "idle_timeout", b.cfg.IdleTimeout)
			c.sendControl(&packet.Packet{Type: packet.DISCONNECT})
			c.flushSoon()
			c.conn.Close()
			return
		}
	}
}

// inFlight reports whether the bridge's session has deliveries in flight.
func (b *bridge) inFlight(ss *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.Inflight() > 0
}

// busy reports whether the bridge's session has deliveries queued or in
// flight.
func (b *bridge) busy(ss *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.Queued() > 0 || ss.out.Inflight() > 0
}

// serveBridge reads the upstream's packets until the connection ends, and
// says why (as cleanup takes it). A keep alive interval without a packet
// from it (PINGRESP answers our PINGREQ) and a half ends the connection.
func (c *client) serveBridge(keepalive time.Duration) (why string) {
	for {
		if keepalive > 0 {
			_ = c.conn.SetReadDeadline(time.Now().Add(keepalive * 3 / 2))
		} else {
			_ = c.conn.SetReadDeadline(time.Time{})
		}
		if err := c.rs.r.Read(c.version, &c.rs.pk); err != nil {
			return c.protocolError(err)
		}
		c.countIn()
		if c.rs.pk.Type == packet.DISCONNECT {
			c.waitPipeline()
			return "disconnected by the upstream (" + c.rs.pk.ReasonCode.String() + ")."
		}
		if err := c.handle(); err != nil {
			return c.protocolError(err)
		}
	}
}

// handleFromUpstream acts on the packets only an upstream sends to a
// bridge (SUBACK, UNSUBACK, PINGRESP) and refuses those a server never
// sends; handled is false for the packets both directions share.
func (c *client) handleFromUpstream() (handled bool, err error) {
	p := &c.rs.pk
	switch p.Type {
	case packet.SUBACK:
		for _, code := range p.ReasonCodes {
			if code >= 0x80 {
				c.srv.log.Warn("bridge: the upstream refused a subscription", "bridge", c.bridge.cfg.Name, "code", code.String())
			}
		}
		return true, nil
	case packet.UNSUBACK, packet.PINGRESP:
		return true, nil
	case packet.PUBLISH, packet.PUBACK, packet.PUBREC, packet.PUBREL, packet.PUBCOMP:
		return false, nil
	}
	return true, &packet.Error{Code: packet.ProtocolError, Msg: "unexpected " + p.Type.String() + " from the upstream"}
}
