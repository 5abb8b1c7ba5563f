package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gatemq/flashstore"
)

// config is gatemq's whole configuration after defaults, the file and flags.
// The directives are those of mosquitto.conf that gatemq honours, plus
// gatemq's own (connect_timeout, sync, store_max_bytes); see README.md.
type config struct {
	// Listeners come from `listener PORT [ADDRESS]` lines (ADDRESS empty =
	// all addresses) and from the mosquitto 1.x default listener (`port N`
	// and/or `bind_address ADDR`, port 1883 when only bind_address is
	// given), which comes first. Empty means main's own default.
	Listeners []listenerConf
	// MaxQueuedTotal is max_queued_messages_total (gatemq's): QoS 1/2
	// deliveries held for offline sessions broker-wide, 0 = no limit; when
	// not set the board's memory limit decides.
	MaxQueuedTotal    int
	MaxQueuedTotalSet bool
	// MaxSubscriptions, MaxTopicLength and MaxTopicLevels are gatemq's
	// limits against abuse (0: the broker's defaults, see mqtt.Options).
	MaxSubscriptions, MaxTopicLength, MaxTopicLevels int
	// PasswordFile and ACLFile are password_file and acl_file (Mosquitto's
	// formats), "" for none.
	PasswordFile, ACLFile string
	// AllowAnonymous is allow_anonymous; AllowAnonymousSet says whether a
	// file set it (mosquitto 2 refuses anonymous clients on network
	// listeners unless it is set to true).
	AllowAnonymous    bool
	AllowAnonymousSet bool
	// MaxInflight is max_inflight_messages, default 100 (Mosquitto: 20, see mqtt.Options.MaxInflight); 0 means no limit
	// (the broker uses 65535, the packet-id space), like mosquitto.
	MaxInflight int
	// MaxQueued is max_queued_messages, default 1000; 0 means no limit.
	MaxQueued int
	// MaxQueuedBytes is max_queued_bytes, default 0 = no limit.
	MaxQueuedBytes int64
	// MessageSizeLimit is message_size_limit (payload bytes), default 0 =
	// MQTT's maximum (268435455).
	MessageSizeLimit int
	// MaxPacketSize is max_packet_size (whole packet), at least 20 as in
	// mosquitto; 0 when the file does not set it (the board profile then
	// chooses from the memory limit). `max_packet_size 0` means no limit
	// beyond MQTT's, as in mosquitto, and is stored as 268435460.
	MaxPacketSize int
	// MaxKeepalive is max_keepalive in seconds, default 65535.
	MaxKeepalive int
	// MaxConnections is max_connections, server-wide for now; -1 (the
	// default) means unlimited, and 0 in a file is stored as -1 because
	// mosquitto treats it as unlimited too.
	MaxConnections int
	// SysInterval is sys_interval, default 10s; 0 disables $SYS updates.
	SysInterval time.Duration
	// Persistence is `persistence true|false` (default false);
	// PersistenceSet says whether a file set it. Whether the broker can
	// honour it is main's decision.
	Persistence    bool
	PersistenceSet bool
	// PersistenceLocation is persistence_location, the data folder.
	PersistenceLocation string
	// PersistentClientExpiration is persistent_client_expiration (mosquitto
	// syntax: 1h, 2d, 1w, 1m = 30 days, 1y = 365 days); 0 = never.
	PersistentClientExpiration time.Duration
	// LogDest and LogType record log_dest and log_type values in file
	// order (log_dest file PATH is recorded as "file PATH"). They are
	// accepted for compatibility; gatemq logs with slog to stderr.
	LogDest []string
	LogType []string
	// ConnectTimeout is gatemq's connect_timeout SECONDS (default 10): a
	// socket that sends no CONNECT within it is closed.
	ConnectTimeout time.Duration
	// User is `user NAME`, recorded only: gatemq does not drop privileges
	// (run it as that user from procd or systemd instead).
	User string
	// PidFile is pid_file PATH, recorded for main.
	PidFile string
	// Sync is gatemq's `sync always|interval [SECONDS]|none`, the flash
	// log's durability policy; default always.
	Sync flashstore.SyncPolicy
	// SyncInterval is the loss window of `sync interval SECONDS`, default
	// flashstore.DefaultSyncInterval (1s).
	SyncInterval time.Duration
	// StoreMaxBytes is gatemq's store_max_bytes N[k|M|G] (binary
	// multiples), the flash log's size cap; default 0 = no cap.
	StoreMaxBytes int64
	// Verbose turns on debug logging (the -v flag; no directive).
	Verbose bool
	// Serial holds the `serial NAME DEVICE` blocks (serialconfig.go).
	Serial serialConfigs
}

// listenerConf is one `listener` line (or the mosquitto 1.x default listener).
type listenerConf struct {
	// Port is 1..65535.
	Port int
	// Address is the host to bind as written (an IP or a name, IPv6
	// without brackets); empty means all addresses.
	Address string
	// Protocol is "mqtt" (or "") or "websockets".
	Protocol string
	// TLS settings of this listener (cafile, certfile, keyfile,
	// require_certificate, use_identity_as_username, tls_version); TLS is
	// on when CertFile is set.
	CAFile, CertFile, KeyFile, TLSVersion     string
	RequireCertificate, UseIdentityAsUsername bool
	// MaxConnections is max_connections given after this listener\'s line
	// (0: not set; -1: unlimited).
	MaxConnections int
	// Line is the line that defined the listener, for messages.
	Line int
}

// defaultConfig returns the configuration used before any file or flag:
// mosquitto's defaults plus gatemq's own.
func defaultConfig() config {
	return config{
		MaxInflight:    100,
		MaxQueued:      1000,
		MaxKeepalive:   65535,
		MaxConnections: -1,
		SysInterval:    10 * time.Second,
		ConnectTimeout: 10 * time.Second,
		Sync:           flashstore.SyncAlways,
		SyncInterval:   flashstore.DefaultSyncInterval,
	}
}

// errNotSupportedYet is wrapped by the configError of a mosquitto directive
// (or value) that gatemq recognises but does not support yet.
var errNotSupportedYet = errors.New("not supported yet by gatemq")

// configError is a problem at one line of a config file. Its message reads
// "NAME:LINE: message".
type configError struct {
	Name string // file name as given to parseConfig
	Line int    // 1-based line number
	Msg  string
	Err  error // errNotSupportedYet, a read error, or nil
}

func (e *configError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg) }

// Unwrap returns the underlying error, if any.
func (e *configError) Unwrap() error { return e.Err }

// loadConfigFile reads the config file at path on top of cfg; see
// parseConfig.
func loadConfigFile(path string, cfg config) (config, error) {
	f, err := os.Open(path)
	if err != nil {
		return cfg, err // *PathError names the file
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return cfg, fmt.Errorf("%s: is a directory, not a config file", path)
	}
	return parseConfig(f, path, cfg)
}

// confMaxLine bounds one line of a config file.
const confMaxLine = 64 << 10

// parseConfig reads a config from r (name is used in errors) on top of cfg and
// returns it. Every error is a *configError saying "NAME:LINE: message"; on
// error the returned config is cfg unchanged. Listeners, LogDest and LogType
// from the file are appended to cfg's (cfg's slices are not modified). Lines
// are `directive value...`; blank lines and lines starting with '#' are
// ignored, and a '#' after a space or tab starts a trailing comment.
func parseConfig(r io.Reader, name string, cfg config) (config, error) {
	p := &confParser{name: name, cfg: cfg, seen: make(map[string]int)}
	p.cfg.Listeners = slices.Clone(cfg.Listeners)
	p.cfg.LogDest = slices.Clone(cfg.LogDest)
	p.cfg.LogType = slices.Clone(cfg.LogType)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), confMaxLine)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return cfg, err
		}
	}
	if err := sc.Err(); err != nil {
		p.line++
		if errors.Is(err, bufio.ErrTooLong) {
			return cfg, p.errf("line longer than %d bytes", confMaxLine)
		}
		e := p.errf("reading: %v", err)
		e.Err = err
		return cfg, e
	}
	if err := p.finish(); err != nil {
		return cfg, err
	}
	return p.cfg, nil
}

// confParser holds the state of one parseConfig call.
type confParser struct {
	name string
	line int
	cfg  config

	listeners []listenerConf // `listener` lines of this file
	current   *listenerConf  // the listener later per-listener lines apply to
	seen      map[string]int // single-value string directives -> first line

	defPort, defPortLine int    // `port` (mosquitto 1.x default listener)
	defAddr              string // `bind_address`
	defAddrLine          int
}

func (p *confParser) errf(format string, args ...any) *configError {
	return &configError{Name: p.name, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *confParser) notSupported(what string) *configError {
	return &configError{Name: p.name, Line: p.line, Err: errNotSupportedYet,
		Msg: what + " is not supported yet by gatemq (see README)"}
}

func (p *confParser) parseLine(text string) error {
	if p.line == 1 {
		text = strings.TrimPrefix(text, "\ufeff") // UTF-8 byte order mark
	}
	if !utf8.ValidString(text) {
		return p.errf("invalid UTF-8")
	}
	text = strings.TrimSpace(confStripComment(text))
	if text == "" {
		return nil
	}
	fields := strings.Fields(text)
	key, args := fields[0], fields[1:]
	rest := strings.TrimSpace(text[len(key):])
	return p.apply(key, args, rest)
}

// confStripComment removes a whole-line comment (first non-blank character
// '#') or a trailing one (a '#' right after a space or tab).
func confStripComment(s string) string {
	if strings.HasPrefix(strings.TrimLeft(s, " \t"), "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// apply handles one directive; rest is everything after the key, for
// directives whose value may contain spaces (paths).
func (p *confParser) apply(key string, args []string, rest string) error {
	var err error
	switch key {
	case "listener":
		return p.listener(args)
	case "port":
		if p.defPort, err = p.intArg(key, args, 1, 65535); err == nil {
			p.defPortLine = p.line
		}
	case "bind_address":
		if p.defAddr, err = p.oneArg(key, args); err == nil {
			p.defAddrLine = p.line
		}
	case "protocol":
		return p.protocol(args)
	case "cafile", "certfile", "keyfile", "tls_version", "require_certificate", "use_identity_as_username":
		return p.listenerTLS(key, args)
	case "max_queued_messages_total":
		p.cfg.MaxQueuedTotal, err = p.intArg(key, args, 0, math.MaxInt32)
		p.cfg.MaxQueuedTotalSet = err == nil
	case "max_subscriptions":
		p.cfg.MaxSubscriptions, err = p.intArg(key, args, 1, math.MaxInt32)
	case "max_topic_length":
		p.cfg.MaxTopicLength, err = p.intArg(key, args, 1, 65535)
	case "max_topic_levels":
		p.cfg.MaxTopicLevels, err = p.intArg(key, args, 1, 65535)
	case "password_file":
		p.cfg.PasswordFile, err = p.oneArg(key, args)
	case "acl_file":
		p.cfg.ACLFile, err = p.oneArg(key, args)
	case "allow_anonymous":
		p.cfg.AllowAnonymous, err = p.boolArg(key, args)
		p.cfg.AllowAnonymousSet = err == nil
	case "max_inflight_messages":
		p.cfg.MaxInflight, err = p.intArg(key, args, 0, 65535)
	case "max_queued_messages":
		p.cfg.MaxQueued, err = p.intArg(key, args, 0, math.MaxInt32)
	case "max_queued_bytes":
		var n int
		n, err = p.intArg(key, args, 0, math.MaxInt)
		p.cfg.MaxQueuedBytes = int64(n)
	case "message_size_limit":
		p.cfg.MessageSizeLimit, err = p.intArg(key, args, 0, 268435455)
	case "max_packet_size":
		p.cfg.MaxPacketSize, err = p.intArg(key, args, 0, 268435460) // 1 + 4 + 268435455
		if err == nil && p.cfg.MaxPacketSize > 0 && p.cfg.MaxPacketSize < 20 {
			err = p.errf("max_packet_size must be 0 (no limit) or at least 20, got %d", p.cfg.MaxPacketSize)
		}
		if err == nil && p.cfg.MaxPacketSize == 0 {
			p.cfg.MaxPacketSize = 268435460
		}
	case "max_keepalive":
		p.cfg.MaxKeepalive, err = p.intArg(key, args, 0, 65535)
	case "max_connections":
		// As in Mosquitto, it applies to the listener defined last; before
		// any listener line it is the broker-wide cap.
		var n int
		n, err = p.intArg(key, args, -1, math.MaxInt32)
		if n == 0 {
			n = -1
		}
		if err == nil && p.current != nil {
			p.current.MaxConnections = n
		} else if err == nil {
			p.cfg.MaxConnections = n
		}
	case "sys_interval":
		p.cfg.SysInterval, err = p.secondsArg(key, args, 0, 65535)
	case "connect_timeout":
		p.cfg.ConnectTimeout, err = p.secondsArg(key, args, 1, 65535)
	case "persistence":
		p.cfg.Persistence, err = p.boolArg(key, args)
		p.cfg.PersistenceSet = err == nil
	case "persistence_location":
		p.cfg.PersistenceLocation, err = p.stringArg(key, rest)
	case "persistent_client_expiration":
		p.cfg.PersistentClientExpiration, err = p.expiration(key, args)
	case "log_dest":
		return p.logDest(args, rest)
	case "log_type":
		return p.logType(args)
	case "user":
		p.cfg.User, err = p.stringArg(key, rest)
	case "pid_file":
		p.cfg.PidFile, err = p.stringArg(key, rest)
	case "sync":
		return p.sync(args)
	case "store_max_bytes":
		p.cfg.StoreMaxBytes, err = p.sizeArg(key, args)
	case "set_tcp_nodelay", "log_timestamp", "retain_available":
		// Mosquitto switches whose `true` is what gatemq always does.
		var v bool
		if v, err = p.boolArg(key, args); err == nil && !v {
			err = p.notSupported(key + " false")
		}
	default:
		if ok, err := p.serial(key, args); ok {
			return err
		}
		if confUnsupported(key) {
			return p.notSupported("directive " + key)
		}
		msg := fmt.Sprintf("unknown directive %q", key)
		if s := confSuggest(key); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return p.errf("%s", msg)
	}
	return err
}

// listener handles `listener PORT [ADDRESS]`.
func (p *confParser) listener(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return p.errf("listener takes a port and an optional address (listener PORT [ADDRESS]), got %d values", len(args))
	}
	port, err := p.port("listener", args[0])
	if err != nil {
		return err
	}
	l := listenerConf{Port: port, Protocol: "mqtt", Line: p.line}
	if len(args) == 2 {
		l.Address = strings.TrimSuffix(strings.TrimPrefix(args[1], "["), "]")
	}
	p.listeners = append(p.listeners, l)
	p.current = &p.listeners[len(p.listeners)-1]
	return nil
}

// listenerTLS handles the TLS directives, which apply to the listener
// defined last.
func (p *confParser) listenerTLS(key string, args []string) error {
	if p.current == nil {
		return p.errf("%s must follow the listener line it applies to", key)
	}
	l := p.current
	var err error
	switch key {
	case "cafile":
		l.CAFile, err = p.oneArg(key, args)
	case "certfile":
		l.CertFile, err = p.oneArg(key, args)
	case "keyfile":
		l.KeyFile, err = p.oneArg(key, args)
	case "tls_version":
		l.TLSVersion, err = p.oneArg(key, args)
		if err == nil && l.TLSVersion != "tlsv1.1" && l.TLSVersion != "tlsv1.2" && l.TLSVersion != "tlsv1.3" {
			err = p.errf("tls_version must be tlsv1.1, tlsv1.2 or tlsv1.3, got %q", l.TLSVersion)
		}
	case "require_certificate":
		l.RequireCertificate, err = p.boolArg(key, args)
	case "use_identity_as_username":
		l.UseIdentityAsUsername, err = p.boolArg(key, args)
	}
	return err
}

// protocol handles `protocol mqtt|websockets`, which applies to the listener
// defined last (or the default one before any listener line).
func (p *confParser) protocol(args []string) error {
	v, err := p.oneArg("protocol", args)
	if err != nil {
		return err
	}
	switch v {
	case "mqtt":
		if p.current != nil {
			p.current.Protocol = "mqtt"
		}
		return nil
	case "websockets":
		if p.current == nil {
			return p.errf("protocol websockets must follow the listener line it applies to")
		}
		p.current.Protocol = "websockets"
		return nil
	}
	return p.errf("protocol must be mqtt or websockets, got %q", v)
}

// confLogDests and confLogTypes are mosquitto's log_dest and log_type values.
var (
	confLogDests = []string{"stdout", "stderr", "syslog", "topic", "dlt", "none", "file"}
	confLogTypes = []string{"debug", "error", "warning", "notice", "information", "subscribe",
		"unsubscribe", "websockets", "internal", "none", "all"}
)

func (p *confParser) logDest(args []string, rest string) error {
	if len(args) == 0 {
		return p.errf("log_dest needs a value (one of %s)", strings.Join(confLogDests, ", "))
	}
	if !slices.Contains(confLogDests, args[0]) {
		return p.errf("log_dest must be one of %s, got %q", strings.Join(confLogDests, ", "), args[0])
	}
	if args[0] != "file" {
		if len(args) > 1 {
			return p.errf("log_dest %s takes no further value, got %d", args[0], len(args)-1)
		}
		p.cfg.LogDest = append(p.cfg.LogDest, args[0])
		return nil
	}
	path := strings.TrimSpace(strings.TrimPrefix(rest, "file"))
	if path == "" {
		return p.errf("log_dest file needs a path (log_dest file PATH)")
	}
	if first, ok := p.seen["log_dest file"]; ok {
		return p.errf("duplicate log_dest file (first on line %d)", first)
	}
	p.seen["log_dest file"] = p.line
	p.cfg.LogDest = append(p.cfg.LogDest, "file "+path)
	return nil
}

func (p *confParser) logType(args []string) error {
	v, err := p.oneArg("log_type", args)
	if err != nil {
		return err
	}
	if !slices.Contains(confLogTypes, v) {
		return p.errf("log_type must be one of %s, got %q", strings.Join(confLogTypes, ", "), v)
	}
	p.cfg.LogType = append(p.cfg.LogType, v)
	return nil
}

// sync handles `sync always`, `sync none` and `sync interval [SECONDS]`.
func (p *confParser) sync(args []string) error {
	if len(args) == 0 {
		return p.errf("sync needs a policy (sync always|interval [SECONDS]|none)")
	}
	switch args[0] {
	case "always", "none":
		if len(args) != 1 {
			return p.errf("sync %s takes no further value, got %d", args[0], len(args)-1)
		}
		p.cfg.Sync = flashstore.SyncAlways
		if args[0] == "none" {
			p.cfg.Sync = flashstore.SyncNone
		}
		return nil
	case "interval":
		p.cfg.Sync = flashstore.SyncInterval
		if len(args) == 1 {
			p.cfg.SyncInterval = flashstore.DefaultSyncInterval
			return nil
		}
		d, err := p.secondsArg("sync interval", args[1:], 1, 3600)
		p.cfg.SyncInterval = d
		return err
	}
	return p.errf("sync must be always, interval or none, got %q", args[0])
}

// expiration parses persistent_client_expiration: a positive number followed
// by h, d, w, m (30 days) or y (365 days), as mosquitto does.
func (p *confParser) expiration(key string, args []string) (time.Duration, error) {
	v, err := p.oneArg(key, args)
	if err != nil {
		return 0, err
	}
	units := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
		'm': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	unit, ok := units[v[len(v)-1]]
	n, nerr := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if !ok || nerr != nil || n < 1 {
		return 0, p.errf("%s must be a positive number followed by h, d, w, m or y (e.g. 14d), got %q", key, v)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, p.errf("%s %s is too long", key, v)
	}
	return time.Duration(n) * unit, nil
}

// finish adds the mosquitto 1.x default listener and checks the listeners.
func (p *confParser) finish() error {
	if err := p.serialFinish(); err != nil {
		return err
	}
	var ls []listenerConf
	if p.defPortLine != 0 || p.defAddrLine != 0 {
		d := listenerConf{Port: 1883, Address: p.defAddr, Protocol: "mqtt", Line: p.defAddrLine}
		if p.defPortLine != 0 {
			d.Port, d.Line = p.defPort, p.defPortLine
		}
		ls = append(ls, d)
	}
	ls = append(ls, p.listeners...)
	for i, a := range ls {
		for _, b := range ls[:i] {
			if a.Port == b.Port && a.Address == b.Address {
				p.line = a.Line
				return p.errf("listener %s repeats the one on line %d", confListenerText(a), b.Line)
			}
		}
	}
	p.cfg.Listeners = append(p.cfg.Listeners, ls...)
	return nil
}

func confListenerText(l listenerConf) string {
	if l.Address == "" {
		return strconv.Itoa(l.Port)
	}
	return strconv.Itoa(l.Port) + " " + l.Address
}

// Argument helpers. Each returns a *configError for the current line.

func (p *confParser) oneArg(key string, args []string) (string, error) {
	if len(args) != 1 {
		return "", p.errf("%s takes exactly one value, got %d", key, len(args))
	}
	return args[0], nil
}

func (p *confParser) boolArg(key string, args []string) (bool, error) {
	v, err := p.oneArg(key, args)
	if err != nil {
		return false, err
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, p.errf("%s must be true or false, got %q", key, v)
}

func (p *confParser) choiceArg(key string, args []string, allowed ...string) (string, error) {
	v, err := p.oneArg(key, args)
	if err == nil && !slices.Contains(allowed, v) {
		return "", p.errf("%s must be one of %s, got %q", key, strings.Join(allowed, ", "), v)
	}
	return v, err
}

func (p *confParser) intArg(key string, args []string, lo, hi int) (int, error) {
	v, err := p.oneArg(key, args)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, p.errf("%s %s is out of range (%d..%d)", key, v, lo, hi)
	case err != nil:
		return 0, p.errf("%s must be a whole number, got %q", key, v)
	case n < 0 && lo >= 0:
		return 0, p.errf("%s must not be negative, got %d", key, n)
	case n < int64(lo) || n > int64(hi):
		return 0, p.errf("%s must be between %d and %d, got %d", key, lo, hi, n)
	}
	return int(n), nil
}

func (p *confParser) secondsArg(key string, args []string, lo, hi int) (time.Duration, error) {
	n, err := p.intArg(key, args, lo, hi)
	return time.Duration(n) * time.Second, err
}

func (p *confParser) port(key, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, p.errf("%s port must be a number, got %q", key, v)
	}
	if n < 1 || n > 65535 {
		return 0, p.errf("%s port must be between 1 and 65535, got %d", key, n)
	}
	return n, nil
}

// sizeArg parses a byte count with an optional k, M or G suffix (binary
// multiples, case-insensitive).
func (p *confParser) sizeArg(key string, args []string) (int64, error) {
	v, err := p.oneArg(key, args)
	if err != nil {
		return 0, err
	}
	mult, digits := int64(1), v
	switch strings.ToLower(v[len(v)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 {
		digits = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, p.errf("%s must be a byte count like 8388608, 8192k or 8M, got %q", key, v)
	}
	if n > math.MaxInt64/mult {
		return 0, p.errf("%s %s is out of range", key, v)
	}
	return n * mult, nil
}

// stringArg takes the rest of the line (paths may contain spaces) for a
// directive that may appear once per file.
func (p *confParser) stringArg(key, rest string) (string, error) {
	if rest == "" {
		return "", p.errf("%s needs a value", key)
	}
	if first, ok := p.seen[key]; ok {
		return "", p.errf("duplicate %s (first on line %d)", key, first)
	}
	p.seen[key] = p.line
	return rest, nil
}

// confSupported lists the directives gatemq honours, for suggestions.
var confSupported = []string{
	"listener", "port", "bind_address", "protocol", "allow_anonymous", "password_file", "acl_file",
	"cafile", "certfile", "keyfile", "tls_version", "require_certificate", "use_identity_as_username",
	"max_subscriptions", "max_topic_length", "max_topic_levels", "max_queued_messages_total",
	"max_inflight_messages", "max_queued_messages", "max_queued_bytes", "message_size_limit",
	"max_packet_size", "max_keepalive", "max_connections", "sys_interval", "connect_timeout",
	"persistence", "persistence_location", "persistent_client_expiration", "log_dest", "log_type",
	"user", "pid_file", "sync", "store_max_bytes", "set_tcp_nodelay", "log_timestamp", "retain_available",
}

// confNotYet lists mosquitto directives (and gatemq plans) that gatemq
// recognises but does not support yet. confNotYetPrefixes covers families.
var (
	confNotYet = []string{
		// security and TLS
		"psk_file", "psk_hint", "capath",
		"crlfile", "dhparamfile", "ciphers", "ciphers_tls1.3",
		"use_subject_as_username", "use_username_as_clientid",
		"tls_engine", "tls_engine_kpass_sha1", "tls_keyform", "disable_client_cert_date_checks",
		"allow_zero_length_clientid", "auto_id_prefix", "clientid_prefixes", "per_listener_settings",
		"auth_plugin", "plugin", "global_plugin", "auth_plugin_deny_special_chars",
		// listeners
		"http_dir", "websockets_log_level", "websockets_headers_size", "websockets_origin",
		"bind_interface", "socket_domain", "mount_point", "max_qos", "maximum_qos", "max_topic_alias",
		"max_topic_alias_broker", "accept_protocol_versions", "enable_proxy_protocol",
		// bridges
		"connection", "address", "addresses", "topic", "cleansession", "local_cleansession", "clientid",
		"remote_clientid", "local_clientid", "remote_username", "username", "remote_password", "password",
		"local_username", "local_password", "notifications", "notifications_local_only",
		"notification_topic", "keepalive_interval", "idle_timeout", "restart_timeout", "round_robin",
		"start_type", "threshold", "try_private",
		// general
		"include_dir", "autosave_interval", "autosave_on_changes", "persistence_file",
		"retained_persistence", "allow_duplicate_messages", "check_retain_source",
		"connection_messages", "log_facility", "log_timestamp_format", "max_inflight_bytes",
		"memory_limit", "queue_qos0_messages", "upgrade_outgoing_qos", "retry_interval",
		"store_clean_interval", "global_max_clients", "global_max_connections", "quic_log_level",
	}
	confNotYetPrefixes = []string{"bridge_", "auth_opt_", "plugin_opt_"}
)

func confUnsupported(key string) bool {
	if slices.Contains(confNotYet, key) {
		return true
	}
	for _, pre := range confNotYetPrefixes {
		if strings.HasPrefix(key, pre) {
			return true
		}
	}
	return false
}

// confSuggest returns the supported directive closest to key when it is
// within two edits, else "".
func confSuggest(key string) string {
	best, bestDist := "", 3
	for _, d := range confSupported {
		if dist := confEditDistance(key, d); dist < bestDist {
			best, bestDist = d, dist
		}
	}
	return best
}

// confEditDistance is the Levenshtein distance between a and b (bytes).
func confEditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
