package mqtt

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
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

// handleConnect validates CONNECT, attaches the client to its session and
// answers CONNACK, in four steps: negotiate what the connection will be,
// authenticate the client, take its will, attach it to its session. Each
// step refuses (CONNACK with a reason, where the protocol has one) what it
// cannot accept. It returns false when the connection must end.
func (c *client) handleConnect() bool {
	cn, ok := c.negotiate()
	if !ok {
		return false
	}
	ident, acl, ok := c.authenticate(cn.id)
	if !ok {
		return false
	}
	if !c.takeWill(cn.id, acl) {
		return false
	}
	return c.attachSession(&cn, ident, acl)
}

// connParams is what negotiate settled for a connection; attachSession
// applies it.
type connParams struct {
	id              string // the client id, given or assigned
	assigned        bool   // the broker chose id (5.0: Assigned Client Identifier)
	keepalive       int    // seconds
	serverKeepalive bool   // keepalive is lower than asked (5.0: Server Keep Alive)
	expiry          uint32 // session expiry interval asked for
	maxInflight     int    // the session's inflight window towards the client

	// 5.0 limits the client set in CONNECT (see the client fields).
	problemInfo bool
	maxOut      int
	aliasOutMax uint16
}

// negotiate settles the protocol version, the client id, keep alive, the
// session expiry and the client's 5.0 limits from CONNECT. It refuses a
// protocol it does not speak, an id or keep alive it does not accept, and
// every client while the broker shuts down.
func (c *client) negotiate() (cn connParams, ok bool) {
	if !c.negotiateVersion() {
		return cn, false
	}
	if cn.id, cn.assigned, ok = c.clientID(); !ok {
		return cn, false
	}
	if c.srv.bridgeOwns(cn.id) {
		// A client taking a bridge's session would take its queue, and
		// the bridge would take it back at its next connection.
		c.refuse(packet.ConnRefusedIDRejected, packet.ClientIDNotValid, "client id of a bridge's local session (local_clientid)")
		return cn, false
	}
	if cn.keepalive, cn.serverKeepalive, ok = c.keepAlive(); !ok {
		return cn, false
	}
	if c.srv.shuttingDown() {
		c.refuse(packet.ConnRefusedUnavailable, packet.ServerUnavailable, "server shutting down")
		return cn, false
	}
	cn.expiry = c.sessionExpiry()
	cn.maxInflight = c.srv.opts.MaxInflight
	if c.version == packet.V5 {
		c.clientLimits(&cn)
	}
	return cn, true
}

// negotiateVersion sets c.version from CONNECT's protocol name and level
// (3.1 is served as 3.1.1). Any other protocol is refused [MQTT-3.1.2-2]:
// CONNACK 0x01, then close; a CONNECT of level 5 with another protocol
// name than "MQTT" gets the 5.0 answer, CONNACK 0x84 [MQTT-3.1.2-1].
func (c *client) negotiateVersion() bool {
	cp := &c.rs.pk.Connect
	level := cp.ProtocolLevel
	name := string(cp.ProtocolName)
	if level&packet.BridgeFlag != 0 && level != packet.BridgeFlag|packet.V5 {
		// A bridge with try_private: served as its level says, and its
		// subscriptions never bring its own messages back (No Local).
		level &^= packet.BridgeFlag
		c.bridgePeer = true
	}
	switch {
	case level == packet.V311 && name == "MQTT", level == packet.V31 && name == "MQIsdp":
		c.version = packet.V311
	case level == packet.V5 && name == "MQTT":
		c.version = packet.V5
	default:
		c.version = packet.V311
		if level == packet.V5 {
			c.version = packet.V5 // the client reads a 5.0 CONNACK
		}
		c.refuse(packet.ConnRefusedVersion, packet.UnsupportedProtocolVersion, "unsupported protocol "+name+" level "+strconv.Itoa(int(level)))
		return false
	}
	return true
}

// clientID returns the client id CONNECT gives, or assigns one when it is
// empty. An empty id is refused from a 3.1.1 client that wants its session
// kept [MQTT-3.1.3-8], and from every client with allow_zero_length_clientid
// false. With use_username_as_clientid the username is the id (a client
// without one is refused); with clientid_prefixes an id without the prefix
// is refused.
func (c *client) clientID() (id string, assigned, ok bool) {
	cp := &c.rs.pk.Connect
	o := &c.srv.opts
	refuseEmpty, prefix := o.RefuseEmptyClientID, o.AutoIDPrefix
	if c.lo.OwnClientIDs {
		refuseEmpty, prefix = c.lo.RefuseEmptyClientID, cmp.Or(c.lo.AutoIDPrefix, "auto-")
	}
	id = string(cp.ClientID)
	if c.lo.UsernameAsClientID {
		switch {
		case c.lo.CertName != nil && *c.lo.CertName != "":
			id = *c.lo.CertName
		case cp.UsernameFlag:
			id = string(cp.Username)
		default:
			c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "no username to use as client id (use_username_as_clientid)")
			return "", false, false
		}
	}
	if id == "" {
		if refuseEmpty || (!cp.CleanStart && c.version != packet.V5) {
			c.refuse(packet.ConnRefusedIDRejected, packet.ClientIDNotValid, "empty client id")
			return "", false, false
		}
		id = prefix + strconv.FormatUint(c.srv.nextAutoID.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano()&0xffffff, 36)
		assigned = true
	}
	if o.ClientIDPrefix != "" && !strings.HasPrefix(id, o.ClientIDPrefix) {
		c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "client id without the prefix of clientid_prefixes")
		return "", false, false
	}
	return id, assigned, true
}

// keepAlive returns CONNECT's keep alive in seconds. Above max_keepalive a
// 5.0 client gets max_keepalive instead (lowered: CONNACK says so) and a
// 3.1.1 client is refused.
func (c *client) keepAlive() (secs int, lowered, ok bool) {
	secs = int(c.rs.pk.Connect.KeepAlive)
	limit := c.srv.opts.MaxKeepalive
	if secs <= limit {
		return secs, false, true
	}
	if c.version != packet.V5 {
		c.refuse(packet.ConnRefusedIDRejected, packet.ClientIDNotValid, "keep alive above max_keepalive")
		return 0, false, false
	}
	return limit, true, true
}

// sessionExpiry is the session expiry CONNECT asks for: a 5.0 Session
// Expiry Interval, persistent_client_expiration for a 3.1.1 session kept
// after the connection (CleanSession 0), or the end of the connection.
func (c *client) sessionExpiry() uint32 {
	props := &c.rs.pk.Props
	switch {
	case c.version == packet.V5 && props.HasSessionExpiry:
		return props.SessionExpiry
	case c.version != packet.V5 && !c.rs.pk.Connect.CleanStart:
		return c.srv.opts.persistentExpiry()
	}
	return expireAtClose
}

// clientLimits reads the limits a 5.0 client sets in CONNECT: Request
// Problem Information, Maximum Packet Size, Topic Alias Maximum and Receive
// Maximum (which narrows the inflight window).
func (c *client) clientLimits(cn *connParams) {
	props := &c.rs.pk.Props
	cn.problemInfo = !props.HasRequestProblemInfo || props.RequestProblemInfo == 1
	if props.HasMaximumPacketSize {
		cn.maxOut = int(props.MaximumPacketSize)
	}
	if props.HasTopicAliasMaximum {
		cn.aliasOutMax = props.TopicAliasMaximum
	}
	if props.HasReceiveMaximum {
		cn.maxInflight = min(int(props.ReceiveMaximum), cn.maxInflight)
	}
}

// authenticate decides who the client is and returns the credentials it
// presented with its ACL rules (nil: everything allowed). It refuses 5.0
// enhanced authentication (none is configured), an address backing off
// after failed logins, and credentials the policy does not admit; with
// use_identity_as_username the certificate's name is the username.
func (c *client) authenticate(id string) (*auth.Credentials, *auth.Client, bool) {
	s := c.srv
	cp := &c.rs.pk.Connect
	if c.version == packet.V5 && len(c.rs.pk.Props.AuthMethod) > 0 {
		// Enhanced authentication is not configured: 0x8C [MQTT-4.12.0-1].
		c.refuse(packet.ConnRefusedNotAuthorized, packet.BadAuthMethod, "enhanced authentication (AUTH) is not configured")
		return nil, nil, false
	}
	a := s.authFor(c.lo.Name)
	// The address is worked out only when some address has failed: most
	// connections never need it.
	var host string
	if !s.guard.idle() {
		host = hostOf(c.conn.RemoteAddr())
	}
	if host != "" && s.guard.blocked(host, time.Now()) {
		s.stats.authBackoff.Add(1)
		c.refuse(packet.ConnRefusedNotAuthorized, packet.ConnectionRateExceeded, "too many failed logins from "+host+": backing off")
		return nil, nil, false
	}
	// The password is kept (copied out of the read buffer) so that a
	// reload can check it again.
	cred := anonymous
	if cp.UsernameFlag || len(cp.Password) > 0 {
		cred = &auth.Credentials{Anonymous: !cp.UsernameFlag, Username: string(cp.Username), Password: slices.Clone(cp.Password)}
	}
	if c.lo.CertName != nil {
		// The certificate is the credential: its name is the username.
		if *c.lo.CertName == "" {
			c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "client certificate without a Common Name (use_identity_as_username)")
			return nil, nil, false
		}
		cred = &auth.Credentials{Username: *c.lo.CertName, Certificate: true}
	}
	if v := a.Authenticate(*cred); v != auth.Admitted {
		c.loginRefused(hostOf(c.conn.RemoteAddr()), cred.Username, v)
		return nil, nil, false
	}
	if host != "" && !cred.Anonymous && !cred.Certificate && a.ChecksPasswords() {
		s.guard.succeeded(host)
	}
	return cred, a.Rules(*cred, id), true
}

// anonymous is the credentials of every client that gives neither a
// username nor a password: one shared value, which nobody modifies.
var anonymous = &auth.Credentials{Anonymous: true}

// loginRefused refuses a client the policy did not admit: an anonymous
// client where they are not allowed, or a bad username or password, which
// counts towards host's back-off.
func (c *client) loginRefused(host, username string, v auth.Verdict) {
	s := c.srv
	if v == auth.AnonymousRefused {
		c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "anonymous clients are not allowed (allow_anonymous false)")
		return
	}
	s.stats.authFailures.Add(1)
	if wait := s.guard.failed(host, time.Now()); wait > 0 {
		s.log.Warn("failed logins: address backs off", "address", host, "for", wait)
	}
	c.refuse(packet.ConnRefusedBadUserPass, packet.BadUsernameOrPassword, "bad username or password for user "+strconv.Quote(username))
}

// takeWill keeps CONNECT's will, if any, as c.will (published when the
// connection ends without DISCONNECT). It refuses a will the ACL does not
// let the client publish, an invalid will topic, and a 5.0 will payload
// that is not UTF-8 when its format indicator says it is.
func (c *client) takeWill(id string, acl *auth.Client) bool {
	cp := &c.rs.pk.Connect
	if !cp.WillFlag {
		return true
	}
	if mp := c.lo.MountPoint; mp != "" {
		cp.WillTopic = mountTopic(mp, cp.WillTopic)
	}
	if acl != nil && !acl.Check(string(cp.WillTopic), auth.Write) {
		c.refuse(packet.ConnRefusedNotAuthorized, packet.NotAuthorized, "the ACL does not let this client publish its will topic")
		return false
	}
	if err := topic.ValidName(cp.WillTopic); err != nil {
		c.srv.log.Info("closing connection: invalid will topic", "remote", c.remote(), "err", err)
		if c.version == packet.V5 {
			c.refuse(0, packet.TopicNameInvalid, "invalid will topic")
		}
		return false
	}
	c.will = newMessage(cp.WillTopic, cp.WillPayload, cp.WillQoS, cp.WillRetain, id)
	if c.version == packet.V5 {
		wp := &cp.WillProps
		if wp.HasPayloadFormat && wp.PayloadFormat == 1 && !packet.ValidUTF8String(cp.WillPayload) {
			c.refuse(0, packet.PayloadFormatInvalid, "will payload is not UTF-8 as its format indicator says")
			return false
		}
		setMessageProps(c.will, wp, time.Now())
		c.willDelay = wp.WillDelay
	}
	return true
}

// attachSession applies cn to c, attaches c to its session (taking it over
// from another connection, resuming it, or starting afresh), makes that
// durable and answers CONNACK, followed by what a resumed session still has
// in flight.
func (c *client) attachSession(cn *connParams, ident *auth.Credentials, acl *auth.Client) bool {
	s := c.srv
	cp := &c.rs.pk.Connect
	c.id = cn.id
	c.keepalive = uint16(cn.keepalive)
	c.expiry = cn.expiry
	c.problemInfo, c.maxOut, c.aliasOutMax = cn.problemInfo, cn.maxOut, cn.aliasOutMax

	ss, present, old := s.attach(c, cn.id, cp.CleanStart, cn.expiry)
	c.sess, c.ident = ss, ident
	ss.mu.Lock()
	ss.identity = ident
	ss.listener = c.lo.Name
	ss.acl.Store(acl)
	ss.out.SetMaxInflight(cn.maxInflight)
	ss.mu.Unlock()
	if err := s.saveSession(ss, old, cn.expiry); err != nil {
		c.refuse(packet.ConnRefusedUnavailable, packet.ServerUnavailable, "store failed: "+err.Error())
		s.stats.connected() // cleanup counts the disconnect
		return false
	}
	s.stats.connected()
	s.stats.connects.Add(1)
	if c.version == packet.V5 {
		c.connackV5(cn, ss, present)
	} else {
		c.connack(packet.Success, nil, ss, present)
	}
	if s.debugging() {
		s.log.Debug("client connected", "client", cn.id, "remote", c.remote(), "version", c.version, "clean", cp.CleanStart,
			"session_present", present, "keepalive", cn.keepalive, "expiry", cn.expiry)
	}
	if s.connectionMessages() {
		c.logNotice(connectedMessage(c.remote(), cn.id, cp.ProtocolLevel, cp.CleanStart, cn.keepalive, ident))
	}
	return true
}

// connectedMessage is Mosquitto's line for a client that connected:
// "New client connected from ADDR as ID (pP, cC, kK, u'USER')." with
// Mosquitto's protocol numbers (p1: 3.1, p2: 3.1.1, p5: 5.0).
func connectedMessage(remote, id string, level byte, clean bool, keepalive int, ident *auth.Credentials) string {
	p := map[byte]string{packet.V31: "1", packet.V311: "2", packet.V5: "5"}[level&^packet.BridgeFlag]
	c := "0"
	if clean {
		c = "1"
	}
	msg := "New client connected from " + remote + " as " + id + " (p" + p + ", c" + c + ", k" + strconv.Itoa(keepalive)
	if ident != nil && !ident.Anonymous && ident.Username != "" {
		msg += ", u'" + ident.Username + "'"
	}
	return msg + ")."
}

// logTakeover logs Mosquitto's line for a session taken over (out of line,
// as logNotice).
//
//go:noinline
func (c *client) logTakeover(id string) {
	c.logNotice("Client " + id + " already connected, closing old connection.")
}

// mountTopic returns topic t under the mount point mp, in a new slice. It
// is kept out of line so that the connect path's frames stay small.
//
//go:noinline
func mountTopic(mp string, t []byte) []byte {
	out := make([]byte, 0, len(mp)+len(t))
	return append(append(out, mp...), t...)
}

// notAuthorisedMessage is Mosquitto's line for a client refused by the
// access control.
func notAuthorisedMessage(id string) string {
	if id == "" {
		id = "<unknown>"
	}
	return "Client " + id + " disconnected, not authorised."
}

// saveSession ends old (the session ss replaces, if any) and records ss,
// when it is persistent, with its expiry, its owner and no end time, in
// one commit: CONNACK (with or without session present) leaves once the
// session's existence, or the end of the old one, is durable. A resumed
// session is recorded again too: its record holds the end time of its last
// disconnect (and perhaps another owner), which after a power cut while it
// is connected would end it at the next start. The messages old held
// through shared subscriptions go to other members of their groups even
// when the commit fails.
func (s *Server) saveSession(ss *session, old *session, expiry uint32) error {
	t := s.beginTxn()
	var redo []target
	if old != nil {
		redo = s.endSession(old, t)
	}
	ss.mu.Lock()
	ss.expiry = expiry
	ss.mu.Unlock()
	if ss.persistent {
		t.putSession(ss, 0)
	}
	err := s.commitTxn(t)
	s.redeliverShared(redo)
	return err
}

// connackV5 queues the CONNACK that accepts a 5.0 client, which also says
// what the broker decided: an assigned client id, a lowered keep alive,
// the broker's limits (connackProps). It is kept
// out of line so that its properties take room on the connection's stack
// only while it runs.
//
//go:noinline
func (c *client) connackV5(cn *connParams, ss *session, present bool) {
	var ap packet.Properties
	c.connackProps(&ap, cn)
	c.connack(packet.Success, &ap, ss, present)
}

// connackProps sets in ap the properties of the CONNACK that accepts a 5.0
// client: Assigned Client Identifier, Server Keep Alive, Maximum Packet
// Size, Topic Alias Maximum, Maximum QoS, Retain Available and Receive
// Maximum, each only where it says something.
func (c *client) connackProps(ap *packet.Properties, cn *connParams) {
	if cn.assigned {
		ap.AssignedClientID = []byte(cn.id)
	}
	if cn.serverKeepalive {
		ap.ServerKeepAlive, ap.HasServerKeepAlive = uint16(cn.keepalive), true
	}
	if c.srv.opts.MaxPacketSize < DefaultMaxPacketSize {
		ap.MaximumPacketSize, ap.HasMaximumPacketSize = uint32(c.srv.opts.MaxPacketSize), true
	}
	if n := c.lo.topicAliasMax(); n > 0 {
		ap.TopicAliasMaximum, ap.HasTopicAliasMaximum = uint16(n), true
	}
	if q := c.lo.maxQoS(); q < 2 {
		ap.MaximumQoS, ap.HasMaximumQoS = q, true
	}
	if c.srv.opts.RetainUnavailable {
		ap.RetainAvailable, ap.HasRetainAvailable = 0, true
	}
	if rm := c.srv.opts.receiveMaximum(); rm < 65535 {
		ap.ReceiveMaximum, ap.HasReceiveMaximum = uint16(rm), true
	}
}

// connack queues CONNACK with the reason code and, for a 5.0 client, the
// properties props (nil: none), and then, for a resumed session, every
// QoS 1/2 message still in flight, in its original order with its original
// packet id (PUBLISH with DUP, or PUBREL) [MQTT-4.4.0-1], and only then lets
// the writer start: nothing is written before CONNACK, and no queued
// message is moved into flight (and sent) before the resend list is taken.
func (c *client) connack(code packet.ReasonCode, props *packet.Properties, ss *session, present bool) {
	var ds []qos.Delivery[outMsg]
	if present && ss != nil {
		ss.mu.Lock()
		ds = ss.out.Resume()
		ss.mu.Unlock()
	}
	c.outMu.Lock()
	if !c.closed {
		c.ctrl = packet.AppendConnack(c.ctrl, c.version, present, code, props)
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
	c.srv.log.Info("refusing connection", "remote", c.remote(), "client_id", string(c.rs.pk.Connect.ClientID), "why", why)
	if c.srv.connectionMessages() && (code311 == packet.ConnRefusedNotAuthorized || code311 == packet.ConnRefusedBadUserPass) {
		c.logNotice(notAuthorisedMessage(string(c.rs.pk.Connect.ClientID)))
	}
	code := packet.ReasonCode(code311)
	if c.version == packet.V5 {
		code = code5
	}
	if code != 0 {
		c.connack(code, nil, nil, false)
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
				if s.connectionMessages() {
					c.logTakeover(id)
				}
				oc.kickOut(packet.SessionTakenOver)
				<-oc.endedChan()
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
			old.mu.Lock()
			s.removeSessionBothLocked(old)
			old.stopTimersLocked()
			old.mu.Unlock()
		}
		ss = s.newSession(id, expiry > 0)
		ss.expiry = expiry
		ss.conn = c
		s.addSessionLocked(ss)
		s.sessMu.Unlock()
		return ss, false, old
	}
}

// kickOut closes the connection on the broker's initiative; a 5.0 client is
// told why first (e.g. 0x8E session taken over).
func (c *client) kickOut(reason packet.ReasonCode) {
	if c.version == packet.V5 {
		c.sendDisconnect(reason, nil)
	}
	c.closeConn()
}
