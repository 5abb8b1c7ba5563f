package main

// mosquitto.conf's bridges, read as Mosquitto 2.0 reads them:
//
//	connection cloud                      # connection NAME starts a block
//	address mqtt.example.com:8883         # the bridge directives below
//	topic sensors/# out 1 "" site1/       #   belong to it, up to the next
//	topic cmd/# in 1 "" site1/            #   connection line or the end
//	remote_username site1                 #   of the file
//	bridge_cafile /etc/ssl/certs/ca.pem
//
// A block becomes one mqtt.BridgeConfig (Mosquitto's defaults filled in)
// plus the TLS settings from which main builds its Dial (wiring.go). The
// directives' own lines are in directives.txt, scope bridge.

import (
	"math"
	"net"
	"os"
	"strings"
	"time"

	"gatemq/internal/fmt"
	"gatemq/mqtt"
	"gatemq/mqtt/topic"
)

// bridgeConf is one `connection NAME` block.
type bridgeConf struct {
	// BridgeConfig is what the broker gets; main sets its Dial.
	mqtt.BridgeConfig
	// The TLS settings (bridge_cafile, bridge_capath, bridge_certfile,
	// bridge_keyfile, bridge_tls_version, bridge_alpn, bridge_insecure).
	// As in Mosquitto, the bridge uses TLS when CAFile or CAPath is set.
	CAFile, CAPath, CertFile, KeyFile, TLSVersion, ALPN string
	Insecure                                            bool
	// BindAddress is bridge_bind_address, an IP address ("" = any).
	BindAddress string
	// File and Line are where the connection line is, for messages.
	File string
	Line int
}

// tls reports whether the bridge connects over TLS.
func (b *bridgeConf) tls() bool { return b.CAFile != "" || b.CAPath != "" }

// Mosquitto 2.0's defaults for a bridge, and gatemq's bridge_max_inflight.
const (
	bridgeDefaultPort        = "1883" // also with TLS, as in Mosquitto
	bridgeDefaultKeepAlive   = 60 * time.Second
	bridgeMinKeepAlive       = 5 // seconds; lower values are raised, as in Mosquitto
	bridgeDefaultRestartBase = 5 * time.Second
	bridgeDefaultRestartCap  = 30 * time.Second
	bridgeDefaultIdleTimeout = 60 * time.Second
	bridgeDefaultThreshold   = 10
	bridgeDefaultMaxInflight = 20 // what a default Mosquitto upstream accepts (max_inflight_messages)
)

// newBridgeConf returns a block with Mosquitto's defaults; bridgeEnd fills
// in those that depend on other directives (client ids, notification
// topic, local_cleansession).
func newBridgeConf(name, file string, line int) bridgeConf {
	return bridgeConf{File: file, Line: line, BridgeConfig: mqtt.BridgeConfig{
		Name:               name,
		ProtocolVersion:    4,
		KeepAlive:          bridgeDefaultKeepAlive,
		RestartBase:        bridgeDefaultRestartBase,
		RestartCap:         bridgeDefaultRestartCap,
		StartType:          "automatic",
		Threshold:          bridgeDefaultThreshold,
		IdleTimeout:        bridgeDefaultIdleTimeout,
		Notifications:      true,
		TryPrivate:         true,
		AttemptUnsubscribe: true,
		OutgoingRetain:     true,
		MaxInflight:        bridgeDefaultMaxInflight,
	}}
}

// bridgeAliases are Mosquitto's old names of bridge directives.
var bridgeAliases = map[string]string{
	"addresses": "address",
	"clientid":  "remote_clientid",
	"username":  "remote_username",
	"password":  "remote_password",
}

// bridgeOnce are the directives a block may hold once (Mosquitto refuses
// a second one: "Duplicate ... value"); the others may be repeated (topic)
// or the last one wins.
var bridgeOnce = map[string]bool{
	"address": true, "remote_clientid": true, "local_clientid": true, "remote_username": true,
	"remote_password": true, "notification_topic": true, "bridge_cafile": true, "bridge_capath": true,
	"bridge_certfile": true, "bridge_keyfile": true, "bridge_tls_version": true, "bridge_alpn": true,
	"bridge_bind_address": true,
}

// bridge handles a bridge directive (the table's scope bridge, honoured
// or info); rest is the line after the key, for values that may contain
// spaces (passwords, paths, topics).
func (p *confParser) bridge(d directive, key string, args []string, rest string) error {
	if key == "connection" {
		return p.connection(args)
	}
	switch {
	case p.bridgeCur < 0:
		return nil // the block's connection line was refused: one error is enough
	case p.bridgeCur == 0:
		return p.errf("%s outside a bridge block (start one with: connection NAME)", key)
	case d.Status == "info":
		return p.notice(key, args, d)
	}
	b := &p.cfg.Bridges[p.bridgeCur-1]
	name := key
	if a, ok := bridgeAliases[key]; ok {
		name = a
	}
	if first, ok := p.bridgeSeen[name]; ok && bridgeOnce[name] {
		return p.errf("duplicate %s in bridge %s (first on line %d)", name, b.Name, first)
	}
	p.bridgeSeen[name] = p.line
	return p.applyBridge(b, name, args, rest)
}

// connection handles `connection NAME`: it ends the block before and
// starts a new one.
func (p *confParser) connection(args []string) error {
	p.bridgeEnd()
	p.bridgeCur, p.bridgeSeen = -1, map[string]int{}
	if len(args) != 1 {
		return p.errf("connection takes the bridge's name (connection NAME), got %d values", len(args))
	}
	for _, b := range p.cfg.Bridges {
		if b.Name == args[0] {
			return p.errf("bridge %s is defined twice (first at %s:%d)", args[0], b.File, b.Line)
		}
	}
	p.cfg.Bridges = append(p.cfg.Bridges, newBridgeConf(args[0], p.name, p.line))
	p.bridgeCur = len(p.cfg.Bridges)
	return nil
}

// applyBridge sets one directive (by its current name) on b.
func (p *confParser) applyBridge(b *bridgeConf, key string, args []string, rest string) error {
	var err error
	var n int
	switch key {
	case "address":
		b.Addresses, err = p.bridgeAddresses(args)
	case "topic":
		var t mqtt.BridgeTopic
		if t, err = p.bridgeTopic(args); err == nil {
			b.Topics = append(b.Topics, t)
		}
	case "round_robin":
		b.RoundRobin, err = p.boolArg(key, args)
	case "bridge_protocol_version":
		var v string
		if v, err = p.choiceArg(key, args, "mqttv31", "mqttv311", "mqttv50"); err == nil {
			switch v {
			case "mqttv31":
				err = p.notSupported("bridge_protocol_version mqttv31 (MQTT 3.1; gatemq's bridges speak MQTT 3.1.1 and 5.0: use mqttv311)")
			case "mqttv311":
				b.ProtocolVersion = 4
			case "mqttv50":
				b.ProtocolVersion = 5
			}
		}
	case "cleansession":
		b.CleanSession, err = p.boolArg(key, args)
	case "local_cleansession":
		b.LocalCleanSession, err = p.boolArg(key, args)
	case "remote_clientid":
		b.RemoteClientID, err = p.bridgeString(key, rest)
	case "local_clientid":
		b.LocalClientID, err = p.bridgeString(key, rest)
	case "remote_username":
		b.RemoteUsername, err = p.bridgeString(key, rest)
	case "remote_password":
		b.RemotePassword, err = p.bridgeString(key, rest)
		b.HasRemotePassword = err == nil
	case "keepalive_interval":
		n, err = p.bridgeAtLeast(key, args, bridgeMinKeepAlive, 65535, "second")
		b.KeepAlive = time.Duration(n) * time.Second
	case "restart_timeout":
		err = p.restartTimeout(b, args)
	case "start_type":
		b.StartType, err = p.choiceArg(key, args, "automatic", "lazy", "once")
		if err != nil && len(args) == 1 && args[0] == "manual" {
			err = p.errf("start_type manual is not supported (nor by Mosquitto): use automatic, lazy or once")
		}
	case "threshold":
		b.Threshold, err = p.bridgeAtLeast(key, args, 1, math.MaxInt32, "message")
	case "idle_timeout":
		n, err = p.bridgeAtLeast(key, args, 1, math.MaxInt32, "second")
		b.IdleTimeout = time.Duration(n) * time.Second
	case "notifications":
		b.Notifications, err = p.boolArg(key, args)
	case "notification_topic":
		if b.NotificationTopic, err = p.bridgeString(key, rest); err == nil {
			err = p.bridgeTopicName(key, b.NotificationTopic)
		}
	case "notifications_local_only":
		b.NotificationsLocalOnly, err = p.boolArg(key, args)
	case "try_private":
		b.TryPrivate, err = p.boolArg(key, args)
	case "bridge_attempt_unsubscribe":
		b.AttemptUnsubscribe, err = p.boolArg(key, args)
	case "bridge_outgoing_retain":
		b.OutgoingRetain, err = p.boolArg(key, args)
	case "bridge_max_packet_size":
		n, err = p.intArg(key, args, 0, 268435460)
		b.MaxPacketSize = uint32(n)
	case "bridge_max_inflight":
		b.MaxInflight, err = p.intArg(key, args, 1, 65535)
	case "bridge_bind_address":
		if b.BindAddress, err = p.oneArg(key, args); err == nil && net.ParseIP(b.BindAddress) == nil {
			err = p.errf("bridge_bind_address must be an IP address of this machine, got %q", b.BindAddress)
		}
	case "bridge_cafile":
		b.CAFile, err = p.bridgeString(key, rest)
	case "bridge_capath":
		b.CAPath, err = p.bridgeString(key, rest)
	case "bridge_certfile":
		b.CertFile, err = p.bridgeString(key, rest)
	case "bridge_keyfile":
		b.KeyFile, err = p.bridgeString(key, rest)
	case "bridge_insecure":
		b.Insecure, err = p.boolArg(key, args)
	case "bridge_tls_version":
		b.TLSVersion, err = p.choiceArg(key, args, "tlsv1.1", "tlsv1.2", "tlsv1.3")
	case "bridge_alpn":
		b.ALPN, err = p.bridgeString(key, rest)
	case "bridge_require_ocsp":
		var v bool
		if v, err = p.boolArg(key, args); err == nil && v {
			err = p.notSupported("bridge_require_ocsp true (Go's TLS client cannot require a stapled OCSP response)")
		}
	default:
		// The table says honoured but nothing here handles it: a bug that
		// TestConfigEveryDirective catches.
		return p.errf("directive %s is in the table but not handled", key)
	}
	return err
}

// bridgeString is a value that takes the rest of the line, as Mosquitto's
// string values do (a password or a path may contain spaces).
func (p *confParser) bridgeString(key, rest string) (string, error) {
	if rest == "" {
		return "", p.errf("%s needs a value", key)
	}
	return rest, nil
}

// bridgeAtLeast parses a whole number up to hi; below lo it is raised to
// lo with a notice, as Mosquitto does ("keepalive interval too low, using
// 5 seconds").
func (p *confParser) bridgeAtLeast(key string, args []string, lo, hi int, unit string) (int, error) {
	n, err := p.intArg(key, args, 0, hi)
	if err == nil && n < lo {
		if lo != 1 {
			unit += "s"
		}
		p.cfg.Notices = append(p.cfg.Notices, fmt.Sprintf("%s:%d: %s %d is too low: using %d %s, as Mosquitto does", p.name, p.line, key, n, lo, unit))
		n = lo
	}
	return n, err
}

// restartTimeout handles `restart_timeout BASE CAP` (a backoff from BASE
// up to CAP seconds) and `restart_timeout CONSTANT`, as the man page
// says. (Mosquitto 2.0 itself keeps its default backoff when given one
// value; the man page's constant wait is what the line asks for.)
func (p *confParser) restartTimeout(b *bridgeConf, args []string) error {
	const key = "restart_timeout"
	if len(args) < 1 || len(args) > 2 {
		return p.errf("restart_timeout takes a constant or a base and a cap in seconds (restart_timeout BASE [CAP]), got %d values", len(args))
	}
	base, err := p.bridgeAtLeast(key, args[:1], 1, math.MaxInt32, "second")
	if err != nil {
		return err
	}
	b.RestartBase, b.RestartCap = time.Duration(base)*time.Second, 0
	if len(args) == 2 {
		limit, err := p.intArg(key+" cap", args[1:], 0, math.MaxInt32)
		if err != nil {
			return err
		}
		if limit < base {
			return p.errf("restart_timeout cap %d is lower than the base %d", limit, base)
		}
		b.RestartCap = time.Duration(limit) * time.Second
	}
	return nil
}

// bridgeAddresses parses `address HOST[:PORT] ...`: the port defaults to
// 1883; as in Mosquitto the port follows the last ':', so an IPv6 address
// needs one (fd00::1:1883); [fd00::1]:1883 and [fd00::1] are accepted too.
// The addresses are returned as host:port for net.Dial.
func (p *confParser) bridgeAddresses(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, p.errf("address needs at least one HOST[:PORT]")
	}
	out := make([]string, 0, len(args))
	for _, a := range args {
		host, port := a, bridgeDefaultPort
		var err error
		switch i := strings.LastIndexByte(a, ':'); {
		case strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]"):
			host = a[1 : len(a)-1]
		case strings.HasPrefix(a, "["):
			if host, port, err = net.SplitHostPort(a); err != nil {
				return nil, p.errf("address %q: want [IPV6-ADDRESS]:PORT", a)
			}
		case i >= 0:
			host, port = a[:i], a[i+1:]
		}
		if _, err := p.port("address", port); err != nil {
			return nil, err
		}
		switch {
		case host == "":
			return nil, p.errf("address %q has no host", a)
		case strings.Contains(host, ":") && net.ParseIP(host) == nil:
			return nil, p.errf("address %q: an IPv6 address needs a port after it (fd00::1:1883 or [fd00::1]:1883)", a)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// bridgeTopic parses `topic PATTERN [out|in|both [QOS [LOCAL-PREFIX
// [REMOTE-PREFIX]]]]` with Mosquitto's rules: direction out and QoS 0 by
// default, "" for an empty pattern or prefix, prefixes without wildcards,
// an empty pattern only with both prefixes (one topic mapped to another).
// The local and remote filters (prefix + pattern) must be valid MQTT
// filters; Mosquitto checks them only when a prefix is given, and fails
// later, at subscribe time, otherwise.
func (p *confParser) bridgeTopic(args []string) (mqtt.BridgeTopic, error) {
	const syntax = "topic PATTERN [out|in|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]]"
	t := mqtt.BridgeTopic{Direction: mqtt.BridgeOut}
	if len(args) == 0 || len(args) > 5 {
		return t, p.errf("topic takes 1 to 5 values (%s), got %d", syntax, len(args))
	}
	empty := func(s string) string {
		if s == `""` {
			return ""
		}
		return s
	}
	t.Pattern = empty(args[0])
	if len(args) > 1 {
		switch strings.ToLower(args[1]) {
		case "out":
		case "in":
			t.Direction = mqtt.BridgeIn
		case "both":
			t.Direction = mqtt.BridgeBoth
		default:
			return t, p.errf("topic direction must be out, in or both, got %q (%s)", args[1], syntax)
		}
	}
	if len(args) > 2 {
		q, err := p.intArg("topic QoS", args[2:3], 0, 2)
		if err != nil {
			return t, err
		}
		t.QoS = byte(q)
	}
	if len(args) > 3 {
		t.LocalPrefix = empty(args[3])
	}
	if len(args) > 4 {
		t.RemotePrefix = empty(args[4])
	}
	for _, pre := range []struct{ side, prefix string }{{"local", t.LocalPrefix}, {"remote", t.RemotePrefix}} {
		if strings.ContainsAny(pre.prefix, "+#") {
			return t, p.errf("topic %s prefix %q may hold no wildcard (+ #)", pre.side, pre.prefix)
		}
	}
	if t.Pattern == "" && (t.LocalPrefix == "" || t.RemotePrefix == "") {
		return t, p.errf(`topic "" (an empty pattern) needs both a local and a remote prefix: it maps the topic LOCAL-PREFIX to REMOTE-PREFIX`)
	}
	for _, f := range []struct{ side, filter string }{{"local", t.LocalPrefix + t.Pattern}, {"remote", t.RemotePrefix + t.Pattern}} {
		if err := topic.ValidFilter([]byte(f.filter)); err != nil {
			return t, p.errf("topic: the %s filter %q is not a valid MQTT topic filter: %v", f.side, f.filter, err)
		}
	}
	return t, nil
}

// bridgeTopicName checks a topic the bridge publishes to.
func (p *confParser) bridgeTopicName(key, name string) error {
	if err := topic.ValidName([]byte(name)); err != nil {
		return p.errf("%s %q is not a valid MQTT topic name: %v", key, name, err)
	}
	return nil
}

// bridgeEnd checks the block being parsed, if any, fills in the defaults
// that depend on its other directives, and ends it. Its errors are at the
// block's connection line, or at the line they concern.
func (p *confParser) bridgeEnd() {
	cur, seen := p.bridgeCur, p.bridgeSeen
	p.bridgeCur, p.bridgeSeen = 0, nil
	if cur <= 0 {
		return
	}
	b := &p.cfg.Bridges[cur-1]
	at := func(line int, format string, args ...any) {
		if line == 0 {
			line = b.Line
		}
		p.report(&configError{Name: b.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if len(b.Addresses) == 0 {
		at(0, "bridge %s has no address (add: address HOST[:PORT])", b.Name)
	}
	if len(b.Topics) == 0 {
		at(0, "bridge %s has no topic (add: topic PATTERN [out|in|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]])", b.Name)
	}
	if b.HasRemotePassword && b.RemoteUsername == "" {
		at(seen["remote_password"], "bridge %s: remote_password needs remote_username", b.Name)
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		at(max(seen["bridge_certfile"], seen["bridge_keyfile"]), "bridge %s: bridge_certfile and bridge_keyfile go together", b.Name)
	}
	if !b.tls() {
		for _, k := range []string{"bridge_certfile", "bridge_keyfile", "bridge_insecure", "bridge_tls_version", "bridge_alpn"} {
			if line, ok := seen[k]; ok {
				at(line, "bridge %s: %s needs bridge_cafile or bridge_capath (as in Mosquitto, a bridge uses TLS only with one of them)", b.Name, k)
			}
		}
	}
	if _, ok := seen["local_cleansession"]; !ok {
		b.LocalCleanSession = b.CleanSession
	}
	if b.RemoteClientID == "" {
		host, _ := os.Hostname()
		b.RemoteClientID = strings.TrimPrefix(host+"."+b.Name, ".")
	}
	if b.LocalClientID == "" {
		b.LocalClientID = "local." + b.RemoteClientID
	}
	if b.NotificationTopic == "" {
		b.NotificationTopic = "$SYS/broker/connection/" + b.RemoteClientID + "/state"
		if err := topic.ValidName([]byte(b.NotificationTopic)); err != nil {
			at(0, "bridge %s: its notification topic %q is not a valid MQTT topic name (%v): set notification_topic or remote_clientid", b.Name, b.NotificationTopic, err)
		}
	}
}

// bridgeCheckIDs refuses two bridges with the same local client id (the
// second one's connection line), as Mosquitto does: their local sessions
// would take each other over.
func (p *confParser) bridgeCheckIDs() {
	for i, b := range p.cfg.Bridges {
		for _, o := range p.cfg.Bridges[:i] {
			if o.LocalClientID == b.LocalClientID {
				p.report(&configError{Name: b.File, Line: b.Line, Msg: fmt.Sprintf("bridge %s: local client id %s is also bridge %s's (%s:%d): set local_clientid for one of them",
					b.Name, b.LocalClientID, o.Name, o.File, o.Line)})
			}
		}
	}
}

// confStripTopicComment is confStripComment for a `topic` line, whose
// pattern is often # (topic # both): the first value is kept whole, and
// a '#' after it starts a comment, as usual. ok is false for other lines.
func confStripTopicComment(s string) (out string, ok bool) {
	t := strings.TrimLeft(s, " \t")
	after, found := strings.CutPrefix(t, "topic")
	if !found || after == "" || (after[0] != ' ' && after[0] != '\t') {
		return s, false
	}
	pattern := strings.TrimLeft(after, " \t")
	end := strings.IndexAny(pattern, " \t")
	if end < 0 {
		return t, true
	}
	keep := len(t) - len(pattern) + end
	return t[:keep] + confStripComment(t[keep:]), true
}
