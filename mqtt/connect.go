package mqtt

import (
	"strconv"
	"time"

	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
	"gatemq/qos"
)

// Session expiry values (MQTT 5.0 Session Expiry Interval, seconds).
const (
	expireAtClose uint32 = 0          // the session ends with its connection
	expireNever   uint32 = 0xFFFFFFFF // the session never expires
)

// serverTopicAliasMax is how many topic aliases a 5.0 client may set up
// towards the broker on one connection.
const serverTopicAliasMax = 32

// handleConnect validates CONNECT, attaches the client to its session and
// answers CONNACK. It returns false when the connection must end.
func (c *client) handleConnect() bool {
	s := c.srv
	cp := &c.pk.Connect
	level := cp.ProtocolLevel
	name := string(cp.ProtocolName)
	switch {
	case level == packet.V311 && name == "MQTT", level == packet.V31 && name == "MQIsdp":
		c.version = packet.V311
	case level == packet.V5 && name == "MQTT":
		c.version = packet.V5
	default:
		// [MQTT-3.1.2-2]: unsupported protocol level → CONNACK 0x01 (5.0:
		// 0x84), then close.
		c.version = packet.V311
		c.refuse(packet.ConnRefusedVersion, packet.UnsupportedProtocolVersion, "unsupported protocol "+name+" level "+strconv.Itoa(int(level)))
		return false
	}
	v5 := c.version == packet.V5
	props := &c.pk.Props

	id := string(cp.ClientID)
	assigned := false
	if id == "" {
		if !cp.CleanStart && !v5 {
			// [MQTT-3.1.3-8]
			c.refuse(packet.ConnRefusedIDRejected, packet.ClientIDNotValid, "empty client id with clean session 0")
			return false
		}
		id = "auto-" + strconv.FormatUint(s.nextAutoID.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano()&0xffffff, 36)
		assigned = true
	}
	keepalive := int(cp.KeepAlive)
	serverKeepalive := false
	if keepalive > s.opts.MaxKeepalive {
		if !v5 {
			c.refuse(packet.ConnRefusedIDRejected, packet.ClientIDNotValid, "keep alive above max_keepalive")
			return false
		}
		keepalive, serverKeepalive = s.opts.MaxKeepalive, true
	}
	if s.shuttingDown() {
		c.refuse(packet.ConnRefusedUnavailable, packet.ServerUnavailable, "server shutting down")
		return false
	}
	if v5 && len(props.AuthMethod) > 0 {
		// Enhanced authentication is not configured: 0x8C [MQTT-4.12.0-1].
		c.refuse(packet.ConnRefusedNotAuthorized, packet.BadAuthMethod, "enhanced authentication (AUTH) is not configured")
		return false
	}
	a := s.currentAuth()
	host := hostOf(c.conn.RemoteAddr())
	if s.guard.blocked(host, time.Now()) {
		s.stats.authBackoff.Add(1)
		c.refuse(packet.ConnRefusedNotAuthorized, packet.ConnectionRateExceeded, "too many failed logins from "+host+": backing off")
		return false
	}
	if c.certName != nil {
		// The certificate is the credential: its name is the username.
		if *c.certName == "" {
			c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "client certificate without a Common Name (use_identity_as_username)")
			return false
		}
		cp.UsernameFlag, cp.Username = true, []byte(*c.certName)
		a = a.withoutPasswords()
	}
	if ok, notAuthorized := a.authenticate(cp.UsernameFlag, string(cp.Username), cp.Password); !ok {
		if notAuthorized {
			c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "anonymous clients are not allowed (allow_anonymous false)")
		} else {
			s.stats.authFailures.Add(1)
			if wait := s.guard.failed(host, time.Now()); wait > 0 {
				s.log.Warn("failed logins: address backs off", "address", host, "for", wait)
			}
			c.refuse(packet.ConnRefusedBadUserPass, packet.BadUsernameOrPassword, "bad username or password for user "+strconv.Quote(string(cp.Username)))
		}
		return false
	}
	if cp.UsernameFlag && a != nil && a.Passwords != nil {
		s.guard.succeeded(host)
	}
	ident := &identity{username: string(cp.Username), anonymous: !cp.UsernameFlag}
	acl := aclFor(a, ident, id)
	if cp.WillFlag && acl != nil && !acl.Check(string(cp.WillTopic), auth.Write) {
		c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "the ACL does not let this client publish its will topic")
		return false
	}
	if cp.WillFlag {
		if err := topic.ValidName(cp.WillTopic); err != nil {
			s.log.Info("closing connection: invalid will topic", "remote", c.remote(), "err", err)
			if v5 {
				c.refuse(0, packet.TopicNameInvalid, "invalid will topic")
			}
			return false
		}
		c.will = newMessage(cp.WillTopic, cp.WillPayload, cp.WillQoS, cp.WillRetain, id)
		if v5 {
			wp := &cp.WillProps
			if wp.HasPayloadFormat && wp.PayloadFormat == 1 && !packet.ValidUTF8String(cp.WillPayload) {
				c.refuse(0, packet.PayloadFormatInvalid, "will payload is not UTF-8 as its format indicator says")
				return false
			}
			setMessageProps(c.will, wp, time.Now())
			c.willDelay = wp.WillDelay
		}
	}
	expiry := expireAtClose
	switch {
	case v5 && props.HasSessionExpiry:
		expiry = props.SessionExpiry
	case !v5 && !cp.CleanStart:
		expiry = s.opts.persistentExpiry()
	}
	c.id = id
	c.keepalive = time.Duration(keepalive) * time.Second
	c.expiry = expiry
	if v5 {
		c.problemInfo = !props.HasRequestProblemInfo || props.RequestProblemInfo == 1
		if props.HasMaximumPacketSize {
			c.maxOut = int(props.MaximumPacketSize)
		}
		if props.HasTopicAliasMaximum {
			c.aliasOutMax = props.TopicAliasMaximum
		}
	}

	ss, present, old := s.attach(c, id, cp.CleanStart, expiry)
	c.sess = ss
	ss.mu.Lock()
	ss.identity = ident
	ss.acl.Store(acl)
	if v5 && props.HasReceiveMaximum {
		ss.out.SetMaxInflight(min(int(props.ReceiveMaximum), s.opts.MaxInflight))
	} else {
		ss.out.SetMaxInflight(s.opts.MaxInflight)
	}
	ss.mu.Unlock()
	t := s.beginTxn()
	var redo []target
	if old != nil {
		redo = s.endSession(old, t)
	}
	if ss.persistent && (!present || ss.expiry != expiry) {
		ss.expiry = expiry
		t.putSession(ss, 0)
	}
	ss.expiry = expiry
	// CONNACK (with or without session present) leaves once the session's
	// existence, or the end of the old one, is durable.
	err := s.commitTxn(t)
	s.redeliverShared(redo)
	if err != nil {
		c.refuse(packet.ConnRefusedUnavailable, packet.ServerUnavailable, "store failed: "+err.Error())
		s.stats.connected() // cleanup counts the disconnect
		return false
	}
	s.stats.connected()
	ack := packet.Packet{Type: packet.CONNACK, SessionPresent: present, ReasonCode: packet.Success}
	if v5 {
		ap := &ack.Props
		if assigned {
			ap.AssignedClientID = []byte(id)
		}
		if serverKeepalive {
			ap.ServerKeepAlive, ap.HasServerKeepAlive = uint16(keepalive), true
		}
		if s.opts.MaxPacketSize < DefaultMaxPacketSize {
			ap.MaximumPacketSize, ap.HasMaximumPacketSize = uint32(s.opts.MaxPacketSize), true
		}
		ap.TopicAliasMaximum, ap.HasTopicAliasMaximum = serverTopicAliasMax, true
	}
	c.connack(&ack, ss, present)
	s.log.Debug("client connected", "client", id, "remote", c.remote(), "version", c.version, "clean", cp.CleanStart,
		"session_present", present, "keepalive", keepalive, "expiry", expiry)
	return true
}

// connack queues CONNACK and then, for a resumed session, every QoS 1/2
// message still in flight, in its original order with its original packet
// id (PUBLISH with DUP, or PUBREL) [MQTT-4.4.0-1], and only then lets the
// writer start: nothing is written before CONNACK, and no queued message is
// moved into flight (and sent) before the resend list is taken.
func (c *client) connack(ack *packet.Packet, ss *session, present bool) {
	var ds []qos.Delivery[outMsg]
	if present && ss != nil {
		ss.mu.Lock()
		ds = ss.out.Resume()
		ss.mu.Unlock()
	}
	c.outMu.Lock()
	if !c.closed {
		c.ctrl = ack.Append(c.ctrl, c.version)
		c.resend = append(c.resend, ds...)
	}
	c.ready = true
	c.outMu.Unlock()
	c.srv.stats.messagesSent.Add(1)
	c.kick()
}

// refuse answers CONNACK with a refusal (code311 for 3.1.1 clients, code5
// for 5.0 clients), logs why and waits briefly for it to be written.
func (c *client) refuse(code311 byte, code5 packet.ReasonCode, why string) {
	c.srv.log.Info("refusing connection", "remote", c.remote(), "client_id", string(c.pk.Connect.ClientID), "why", why)
	code := packet.ReasonCode(code311)
	if c.version == packet.V5 {
		code = code5
	}
	if code != 0 {
		c.connack(&packet.Packet{Type: packet.CONNACK, ReasonCode: code}, nil, false)
		c.flushSoon()
	}
}

// attach finds or creates the session for id and attaches c to it, closing
// any connection that still holds it (session takeover [MQTT-3.1.4-2]).
// cleanStart discards an existing session; expiry > 0 makes a new session
// persistent. present reports whether an existing session was resumed; old
// is a session that the new one replaces, which the caller must end.
func (s *Server) attach(c *client, id string, cleanStart bool, expiry uint32) (ss *session, present bool, old *session) {
	for {
		s.sessMu.Lock()
		old := s.sessions[id]
		if old != nil {
			old.mu.Lock()
			oc := old.conn
			old.mu.Unlock()
			if oc != nil {
				s.sessMu.Unlock()
				s.log.Info("session taken over by a new connection", "client", id, "old_remote", oc.remote(), "new_remote", c.remote())
				oc.kickOut(packet.SessionTakenOver)
				<-oc.done
				continue
			}
		}
		if old != nil && !cleanStart {
			old.mu.Lock()
			old.conn = c
			old.stopTimersLocked()
			old.mu.Unlock()
			s.sessMu.Unlock()
			return old, true, nil
		}
		if old != nil {
			delete(s.sessions, id)
			old.mu.Lock()
			old.stopTimersLocked()
			old.mu.Unlock()
		}
		ss = newSession(id, expiry > 0, &s.opts)
		ss.expiry = expiry
		ss.conn = c
		s.sessions[id] = ss
		s.sessMu.Unlock()
		return ss, false, old
	}
}

// kickOut closes the connection on the broker's initiative; a 5.0 client is
// told why first (e.g. 0x8E session taken over).
func (c *client) kickOut(reason packet.ReasonCode) {
	if c.version == packet.V5 {
		c.sendControl(&packet.Packet{Type: packet.DISCONNECT, ReasonCode: reason})
		c.flushSoon()
	}
	c.conn.Close()
}
