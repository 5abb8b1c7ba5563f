package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"gatemq/board"
	"gatemq/mqtt"
	"gatemq/mqtt/auth"
	"gatemq/transport"
)

// This file turns the configuration's values into the options of the
// packages that honour them: where to listen (transport), the broker's
// limits (mqtt) and who may connect (mqtt/auth).

// listenAddr is one address to bind; optional ones may fail (IPv6 loopback
// on a host without IPv6).
type listenAddr struct {
	address  string
	optional bool
	// tls, websocket and certUsername come from the config file's
	// listener: TLS settings, `protocol websockets`, and
	// use_identity_as_username.
	tls          *transport.TLSOptions
	websocket    bool
	certUsername bool
	maxConns     int // this listener's max_connections (0: no own cap)
}

// config is the transport's listener configuration for a; handshake
// bounds the TLS handshake and the WebSocket upgrade (connect_timeout).
func (a listenAddr) config(handshake time.Duration) transport.ListenerConfig {
	return transport.ListenerConfig{Network: "tcp", Address: a.address, Name: a.address, TLS: a.tls, WebSocket: a.websocket,
		MaxConnections: a.maxConns, HandshakeTimeout: handshake}
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
		out = loopback(port)
	case len(cfg.Listeners) > 0:
		for _, l := range cfg.Listeners {
			a := listenAddr{address: net.JoinHostPort(l.Address, strconv.Itoa(l.Port)), websocket: l.Protocol == "websockets",
				maxConns: max(l.MaxConnections, 0)}
			if l.CertFile != "" || l.KeyFile != "" || l.CAFile != "" {
				if l.CertFile == "" || l.KeyFile == "" {
					return nil, fmt.Errorf("listener %d (line %d): TLS needs both certfile and keyfile", l.Port, l.Line)
				}
				a.tls = &transport.TLSOptions{CAFile: l.CAFile, CertFile: l.CertFile, KeyFile: l.KeyFile,
					RequireCertificate: l.RequireCertificate, Version: l.TLSVersion}
			}
			if l.UseIdentityAsUsername {
				if a.tls == nil || !l.RequireCertificate {
					return nil, fmt.Errorf("listener %d (line %d): use_identity_as_username needs require_certificate true", l.Port, l.Line)
				}
				a.certUsername = true
			}
			out = append(out, a)
		}
	default:
		out = loopback(1883)
	}
	return out, nil
}

// loopback returns the IPv4 and (optional) IPv6 loopback addresses for port.
func loopback(port int) []listenAddr {
	p := strconv.Itoa(port)
	return []listenAddr{{address: "127.0.0.1:" + p}, {address: "[::1]:" + p, optional: true}}
}

// onlyLoopback reports whether every address is a loopback one.
func onlyLoopback(addrs []listenAddr) bool {
	for _, a := range addrs {
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

// newTransport makes the listeners' server: each accepted connection goes
// to the broker, as its certificate's name on listeners with
// use_identity_as_username.
func newTransport(g *gateway) *transport.Server {
	certUsername := map[string]bool{} // listener name -> use_identity_as_username
	for _, a := range g.addrs {
		certUsername[a.address] = a.certUsername
	}
	broker := g.broker
	return transport.NewServer(func(ctx context.Context, c net.Conn, info transport.ConnInfo) {
		if certUsername[info.Listener] {
			broker.ServeConnAs(ctx, c, info.PeerCN)
			return
		}
		broker.ServeConn(ctx, c)
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
func brokerOptions(cfg config, p board.Profile, log *slog.Logger) mqtt.Options {
	o := mqtt.Options{
		MaxInflight:      cfg.MaxInflight,
		MaxQueued:        cfg.MaxQueued,
		MessageSizeLimit: cfg.MessageSizeLimit,
		MaxPacketSize:    cfg.MaxPacketSize,
		MaxKeepalive:     cfg.MaxKeepalive,
		ConnectTimeout:   cfg.ConnectTimeout,
		SysInterval:      cfg.SysInterval,
		PersistentExpiry: cfg.PersistentClientExpiration,
		MaxSubscriptions: cfg.MaxSubscriptions,
		MaxTopicLength:   cfg.MaxTopicLength,
		MaxTopicLevels:   cfg.MaxTopicLevels,
		MaxQueuedTotal:   cfg.MaxQueuedTotal,
		Version:          version,
		Logger:           log,
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
		o.MaxQueuedBytes = int(cfg.MaxQueuedBytes)
	}
	if !cfg.MaxQueuedTotalSet && p.MemoryLimit > 0 {
		// About 200 B per held delivery (its entry, its share of the
		// message): half the memory limit, the rest for connections.
		o.MaxQueuedTotal = int(p.MemoryLimit / 2 / 200)
	}
	return o
}
