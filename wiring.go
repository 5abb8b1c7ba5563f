package main

import (
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"strconv"

	"gatemq/board"
	"gatemq/internal/fmt"
	"gatemq/internal/textlog"
	"gatemq/mqtt"
	"gatemq/mqtt/auth"
	"gatemq/transport"
)

// This file turns the configuration's values into the options of the
// packages that honour them: where to listen (transport), the broker's
// limits and bridges (mqtt, with their connections from transport) and who
// may connect (mqtt/auth).

// listenAddr is one address to bind; optional ones may fail (IPv6 loopback
// on a host without IPv6).
type listenAddr struct {
	_        [0]func() // not comparable: no generated == function (flash size)
	address  string
	optional bool
	// unix is the path of a Unix socket listener (address is then the
	// path too); "" for TCP.
	unix string
	// network is "tcp4" or "tcp6" for socket_domain, "" for tcp.
	network string
	// iface is bind_interface.
	iface string
	// tls, websocket and certUsername come from the config file's
	// listener: TLS settings, `protocol websockets`, and
	// use_identity_as_username.
	tls          *transport.TLSOptions
	websocket    bool
	certUsername bool
	certSubject  bool // use_subject_as_username
	maxConns     int  // this listener's max_connections (0: no own cap)
	// mqtt is what the broker applies to this listener's clients
	// (max_qos, max_topic_alias, use_username_as_clientid).
	mqtt mqtt.ListenerOptions
	// auth is the listener's own authentication (per_listener_settings
	// true), nil when the broker's applies.
	auth *listenerAuth
}

// config is the transport's listener configuration for a; connect_timeout
// bounds the TLS handshake and the WebSocket upgrade, set_tcp_nodelay
// decides Nagle's algorithm.
func (a listenAddr) config(cfg config) transport.ListenerConfig {
	lc := transport.ListenerConfig{Network: "tcp", Address: a.address, Name: a.address, TLS: a.tls, WebSocket: a.websocket,
		MaxConnections: a.maxConns, HandshakeTimeout: cfg.ConnectTimeout, Interface: a.iface,
		Nagle: cfg.NoDelaySet && !cfg.NoDelay}
	switch {
	case a.unix != "":
		lc.Network = "unix"
	case a.network != "":
		lc.Network = a.network
	}
	return lc
}

// marks says, for the start line, what the listener speaks besides MQTT
// over TCP.
func (a listenAddr) marks() string {
	switch {
	case a.tls != nil && a.websocket:
		return " (websockets, tls)"
	case a.tls != nil:
		return " (tls)"
	case a.websocket:
		return " (websockets)"
	case a.unix != "":
		return " (unix socket)"
	}
	return ""
}

// port is the listener's port, for messages.
func (a listenAddr) port() string {
	_, p, _ := net.SplitHostPort(a.address)
	return p
}

// fromListenerConf sets a's per-listener settings from l (also used for
// main's loopback listeners with the settings before any listener line).
func (a *listenAddr) fromListenerConf(l listenerConf) {
	a.iface = l.BindInterface
	switch l.SocketDomain {
	case "ipv4":
		a.network = "tcp4"
	case "ipv6":
		a.network = "tcp6"
	}
	if l.MaxQoS > 0 {
		a.mqtt.MaxQoS, a.mqtt.LimitQoS = byte(l.MaxQoS-1), l.MaxQoS-1 < 2
	}
	if l.MaxTopicAlias > 0 {
		a.mqtt.TopicAliasMax = l.MaxTopicAlias - 1
		if a.mqtt.TopicAliasMax == 0 {
			a.mqtt.TopicAliasMax = -1
		}
	}
	a.mqtt.UsernameAsClientID = l.UseUsernameAsClientID
	a.mqtt.MountPoint = l.MountPoint
	if l.Auth != nil {
		a.auth = l.Auth
		a.mqtt.OwnClientIDs, a.mqtt.RefuseEmptyClientID, a.mqtt.AutoIDPrefix = true, l.Auth.RefuseEmptyClientID, l.Auth.AutoIDPrefix
	}
}

// listenAddresses decides where to listen: -listen flags, else -p on the
// loopback addresses, else the config file's listeners, else port 1883 on
// the loopback addresses.
func listenAddresses(cfg config, port int, listens []string) ([]listenAddr, error) {
	var out []listenAddr
	switch {
	case len(listens) > 0:
		for _, l := range listens {
			if _, _, err := net.SplitHostPort(l); err != nil {
				return nil, fmt.Errorf("-listen %q: want address:port (e.g. 0.0.0.0:1883)", l)
			}
			out = append(out, listenAddr{address: l})
		}
	case port != 0:
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("-p %d: port must be 1..65535", port)
		}
		out = loopback(port, cfg.DefaultListener)
	case len(cfg.Listeners) > 0:
		for _, l := range cfg.Listeners {
			a := listenAddr{address: net.JoinHostPort(l.Address, strconv.Itoa(l.Port)), websocket: l.Protocol == "websockets",
				maxConns: max(l.MaxConnections, 0)}
			a.fromListenerConf(l)
			if l.unixSocket() {
				a.address, a.unix = l.Address, l.Address
			}
			if l.CertFile != "" || l.KeyFile != "" || l.CAFile != "" || l.CAPath != "" || l.CRLFile != "" {
				if l.CertFile == "" || l.KeyFile == "" {
					return nil, fmt.Errorf("listener %d (line %d): TLS needs both certfile and keyfile", l.Port, l.Line)
				}
				a.tls = &transport.TLSOptions{CAFile: l.CAFile, CAPath: l.CAPath, CRLFile: l.CRLFile, CertFile: l.CertFile,
					KeyFile: l.KeyFile, RequireCertificate: l.RequireCertificate, Version: l.TLSVersion}
			}
			for _, c := range []struct {
				set  bool
				name string
			}{{l.UseIdentityAsUsername, "use_identity_as_username"}, {l.UseSubjectAsUsername, "use_subject_as_username"}} {
				if c.set && (a.tls == nil || !l.RequireCertificate) {
					return nil, fmt.Errorf("listener %d (line %d): %s needs require_certificate true", l.Port, l.Line, c.name)
				}
			}
			// As in Mosquitto, the identity (the Common Name) wins over
			// the whole subject when both are set.
			a.certUsername = l.UseIdentityAsUsername
			a.certSubject = l.UseSubjectAsUsername && !l.UseIdentityAsUsername
			out = append(out, a)
		}
	default:
		out = loopback(1883, cfg.DefaultListener)
	}
	return out, nil
}

// loopback returns the IPv4 and (optional) IPv6 loopback addresses for
// port, with the listener settings l (those given before any listener
// line).
func loopback(port int, l listenerConf) []listenAddr {
	p := strconv.Itoa(port)
	out := []listenAddr{{address: "127.0.0.1:" + p}, {address: "[::1]:" + p, optional: true}}
	for i := range out {
		out[i].fromListenerConf(l)
		out[i].network = "" // socket_domain has no say over loopback addresses
	}
	return out
}

// onlyLoopback reports whether every address is a loopback one.
func onlyLoopback(addrs []listenAddr) bool {
	for _, a := range addrs {
		if a.unix != "" {
			continue // local by nature
		}
		host, _, _ := net.SplitHostPort(a.address)
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// authSettings are the config's access-control directives. allow_anonymous
// defaults as in Mosquitto 2: false as soon as the config file defines a
// listener (`listener` or `port`, on any address, loopback included); with
// no listener in the file, the broker listens where the flags say or on
// the loopback addresses, and anonymous clients are allowed only while
// every one of those addresses is a loopback one.
func authSettings(cfg config, o options, addrs []listenAddr) auth.Settings {
	fromFile := len(cfg.Listeners) > 0 && o.port == 0 && len(o.listens) == 0
	s := auth.Settings{PasswordFile: cfg.PasswordFile, ACLFile: cfg.ACLFile, DefaultAnonymous: !fromFile && onlyLoopback(addrs)}
	if cfg.AllowAnonymousSet {
		s.AllowAnonymous = &cfg.AllowAnonymous
	}
	return s
}

// listenerPolicies loads the access-control policies of the listeners
// that have their own (per_listener_settings true), by listener name. As
// in Mosquitto 2, such a listener refuses anonymous clients unless its own
// allow_anonymous says otherwise.
func listenerPolicies(addrs []listenAddr) (map[string]*auth.Policy, error) {
	out := map[string]*auth.Policy{}
	for _, a := range addrs {
		if a.auth == nil {
			continue
		}
		st := auth.Settings{PasswordFile: a.auth.PasswordFile, ACLFile: a.auth.ACLFile}
		if a.auth.AllowAnonymousSet {
			v := a.auth.AllowAnonymous
			st.AllowAnonymous = &v
		}
		p, err := auth.LoadPolicy(st)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", a.address, err)
		}
		out[a.address] = p
	}
	return out, nil
}

// newTransport makes the listeners' server: each accepted connection waits
// until the broker is ready (g.ready), then goes to the broker with its
// listener's settings, as its certificate's name on listeners with
// use_identity_as_username.
func newTransport(g *gateway) *transport.Server {
	byName := map[string]listenAddr{}
	for _, a := range g.addrs {
		byName[a.address] = a
	}
	return transport.NewServer(func(ctx context.Context, c net.Conn, info transport.ConnInfo) {
		select {
		case <-g.ready: // as a rule: a receive, cheaper than a select of two
		default:
			select {
			case <-g.ready:
			case <-ctx.Done():
				c.Close()
				return
			}
		}
		a := byName[info.Listener]
		lo := a.mqtt
		lo.Name = info.Listener
		switch {
		case a.certUsername:
			lo.CertName = &info.PeerCN
		case a.certSubject:
			lo.CertName = &info.PeerSubject
		}
		// Idle connections park without a goroutine (mqtt/idle.go).
		g.broker.ServeDetached(ctx, c, lo, info.Detach)
	}, g.log, maxConnections(g.cfg))
}

// dataDescription says where the broker's state lives, for the start log.
func dataDescription(cfg config, dir string) string {
	if dir != "" {
		return dir + " (sync " + cfg.Sync.String() + ")"
	}
	return "in memory only (persistence off: sessions and retained messages are lost on restart)"
}

// maxConnections turns Mosquitto's max_connections (-1 = unlimited) into the
// transport's (0 = unlimited).
func maxConnections(cfg config) int {
	if cfg.MaxConnections < 0 {
		return 0
	}
	return cfg.MaxConnections
}

// brokerOptions maps the config (and, for what it leaves open, the board
// profile) onto the broker's options.
func brokerOptions(cfg config, p board.Profile, log *textlog.Logger) mqtt.Options {
	o := mqtt.Options{
		MaxInflight:         cfg.MaxInflight,
		MaxQueued:           cfg.MaxQueued,
		MessageSizeLimit:    cfg.MessageSizeLimit,
		MaxPacketSize:       cfg.MaxPacketSize,
		MaxKeepalive:        cfg.MaxKeepalive,
		ConnectTimeout:      cfg.ConnectTimeout,
		SysInterval:         cfg.SysInterval,
		PersistentExpiry:    cfg.PersistentClientExpiration,
		MaxSubscriptions:    cfg.MaxSubscriptions,
		MaxTopicLength:      cfg.MaxTopicLength,
		MaxTopicLevels:      cfg.MaxTopicLevels,
		MaxQueuedTotal:      cfg.MaxQueuedTotal,
		ConnectionMessages:  cfg.ConnectionMessages,
		RefuseEmptyClientID: !cfg.AllowZeroLengthClientID,
		AutoIDPrefix:        cfg.AutoIDPrefix,
		ClientIDPrefix:      cfg.ClientIDPrefixes,
		RetainUnavailable:   !cfg.RetainAvailable,
		SkipRetainSource:    !cfg.CheckRetainSource,
		UpgradeOutgoingQoS:  cfg.UpgradeOutgoingQoS,
		QueueQoS0:           cfg.QueueQoS0,
		Version:             version,
		Logger:              log,
	}
	if cfg.MaxInflight == 0 {
		o.MaxInflight = 65535
	}
	if cfg.MaxPacketSize == 0 {
		// An eighth of the Go memory limit (board.MaxPacketSizeFor): a
		// router cannot accept a packet it has no room for.
		o.MaxPacketSize = p.MaxPacketSize
	}
	if cfg.MaxQueuedBytes > 0 {
		// Mosquitto's meaning: the bytes of QoS 1/2 messages queued per
		// session; gatemq also bounds a connected client's QoS 0 backlog
		// with it.
		o.MaxSessionQueuedBytes = cfg.MaxQueuedBytes
		o.MaxQueuedBytes = int(min(cfg.MaxQueuedBytes, math.MaxInt32))
	}
	limit := p.MemoryLimit
	if cfg.MemoryLimit > 0 {
		limit = cfg.MemoryLimit
	}
	if !cfg.MaxQueuedTotalSet && limit > 0 {
		// 200 B per held delivery: with the flash store an offline
		// session's queued message costs about 60 B of RAM, its body
		// staying on flash (36 B of queue entry and identity, ~25 B of
		// the log's index; TestQueuedRAMPerMessage), so this keeps a
		// margin; half the memory limit, the rest for connections. A
		// count, not bytes on flash: the store cap cannot bound RAM, as
		// small messages cost as much RAM as large ones. Without a store
		// (persistence false) bodies stay in RAM and this is optimistic
		// for large payloads.
		o.MaxQueuedTotal = int(limit / 2 / 200)
	}
	return o
}

// bridgeConfigs returns the broker's bridges (mqtt.Options.Bridges), each
// with its Dial: TCP, or TLS with the bridge's certificates, from its
// bridge_bind_address. The certificate and key files are read now: a
// missing or broken one is an error at start, at the bridge's connection
// line, and all bridges' errors are reported together.
func bridgeConfigs(cfg config) ([]mqtt.BridgeConfig, error) {
	var out []mqtt.BridgeConfig
	var errs configErrors
	for _, b := range cfg.Bridges {
		o := transport.DialOptions{BindAddress: b.BindAddress}
		if b.tls() {
			o.TLS = &transport.ClientTLSOptions{CAFile: b.CAFile, CAPath: b.CAPath, CertFile: b.CertFile, KeyFile: b.KeyFile,
				Version: b.TLSVersion, ALPN: b.ALPN, Insecure: b.Insecure}
		}
		dial, err := transport.NewDialer(o)
		if errors.Is(err, transport.ErrNotBuilt) {
			err = errors.New("this build has no TLS support (built with -tags nossl)")
		}
		if err != nil {
			errs = append(errs, &configError{Name: b.File, Line: b.Line, Msg: fmt.Sprintf("bridge %s: %v", b.Name, err), Err: err})
			continue
		}
		bc := b.BridgeConfig
		bc.Addresses = slices.Clone(b.Addresses)
		bc.Topics = slices.Clone(b.Topics)
		bc.Dial = dial
		out = append(out, bc)
	}
	switch len(errs) {
	case 0:
		return out, nil
	case 1:
		return nil, errs[0]
	}
	return nil, errs
}
