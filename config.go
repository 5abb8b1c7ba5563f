package main

import (
	"bufio"
	_ "embed"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gatemq/flashstore"
	"gatemq/internal/fmt"
)

//go:generate go run ./scripts/gendoc

// config is gatemq's whole configuration after defaults, the file and flags.
// The directives are those of mosquitto.conf(5) plus gatemq's own; the
// table in directives.txt says what each one does.
type config struct {
	// Listeners come from `listener PORT [ADDRESS]` lines (ADDRESS empty =
	// all addresses) and from the mosquitto 1.x default listener (`port N`
	// and/or `bind_address ADDR`, port 1883 when only bind_address is
	// given), which comes first. Empty means main's own default.
	Listeners []listenerConf
	// DefaultListener holds the listener directives given before any
	// `listener` line (max_qos, socket_domain, ...): the default listener
	// (port, bind_address) gets them, and so do main's loopback listeners
	// when the file defines none.
	DefaultListener listenerConf
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
	// PerListenerSettings is per_listener_settings: from that line on,
	// the authentication and client id directives after a listener line
	// are that listener's (listenerConf.Auth).
	PerListenerSettings bool
	// MaxInflight is max_inflight_messages, default 1000 (Mosquitto: 20, see mqtt.Options.MaxInflight); 0 means no limit
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
	// PersistenceFile is persistence_file: the name of Mosquitto's saved
	// state in the data folder, imported on gatemq's first start there
	// ("" = mosquitto.db).
	PersistenceFile string
	// PersistentClientExpiration is persistent_client_expiration (mosquitto
	// syntax: 1h, 2d, 1w, 1m = 30 days, 1y = 365 days); 0 = never.
	PersistentClientExpiration time.Duration
	// LogDest and LogType record log_dest and log_type values in file
	// order (log_dest file PATH is recorded as "file PATH"); main hands
	// them to mqtt/logdest. Empty LogDest means stderr, empty LogType
	// Mosquitto's default types.
	LogDest []string
	LogType []string
	// LogTimestamp is log_timestamp (default true); LogTimestampFormat is
	// log_timestamp_format, a strftime format ("" = RFC 3339).
	LogTimestamp       bool
	LogTimestampFormat string
	// LogFacility is log_facility N (syslog's localN), -1 for daemon.
	LogFacility int
	// ConnectionMessages is connection_messages (default true).
	ConnectionMessages bool
	// ConnectTimeout is gatemq's connect_timeout SECONDS (default 10): a
	// socket that sends no CONNECT within it is closed.
	ConnectTimeout time.Duration
	// User is `user NAME`: the user main switches to after binding the
	// listeners, when started as root.
	User string
	// PidFile is pid_file PATH, written by main at start.
	PidFile string
	// AllowZeroLengthClientID is allow_zero_length_clientid (default
	// true); AutoIDPrefix is auto_id_prefix ("" = the broker's "auto-");
	// ClientIDPrefixes is clientid_prefixes ("" = any id).
	AllowZeroLengthClientID bool
	AutoIDPrefix            string
	ClientIDPrefixes        string
	// RetainAvailable is retain_available (default true);
	// CheckRetainSource is check_retain_source (default true);
	// UpgradeOutgoingQoS is upgrade_outgoing_qos (default false).
	RetainAvailable, CheckRetainSource, UpgradeOutgoingQoS, QueueQoS0 bool
	// NoDelay is set_tcp_nodelay when NoDelaySet (else Go's default, on).
	NoDelay, NoDelaySet bool
	// MemoryLimit is memory_limit in bytes (0: the board profile's).
	MemoryLimit int64
	// Notices are the INFO lines for accepted directives that need no
	// action ("FILE:LINE: NAME ..."), logged at start.
	Notices []string
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
	// Bridges are the `connection NAME` blocks, in file order
	// (bridgeconfig.go).
	Bridges []bridgeConf
}

// listenerConf is one `listener` line (or the mosquitto 1.x default listener).
type listenerConf struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// Port is 1..65535, or 0 for a Unix socket listener.
	Port int
	// Address is the host to bind as written (an IP or a name, IPv6
	// without brackets); empty means all addresses. For a Unix socket
	// listener (port 0) it is the socket's path.
	Address string
	// Protocol is "mqtt" (or "") or "websockets".
	Protocol string
	// TLS settings of this listener (cafile, certfile, keyfile,
	// require_certificate, use_identity_as_username, tls_version); TLS is
	// on when CertFile is set.
	CAFile, CertFile, KeyFile, TLSVersion     string
	RequireCertificate, UseIdentityAsUsername bool
	// CAPath, CRLFile and UseSubjectAsUsername are capath, crlfile and
	// use_subject_as_username.
	CAPath, CRLFile      string
	UseSubjectAsUsername bool
	// MaxConnections is max_connections given after this listener\'s line
	// (0: not set; -1: unlimited).
	MaxConnections int
	// MaxQoS is max_qos plus one (0: not set, so 2).
	MaxQoS int
	// MaxTopicAlias is max_topic_alias plus one (0: not set).
	MaxTopicAlias int
	// UseUsernameAsClientID is use_username_as_clientid.
	UseUsernameAsClientID bool
	// BindInterface is bind_interface (SO_BINDTODEVICE), "" for none.
	BindInterface string
	// SocketDomain is socket_domain: "", "ipv4" or "ipv6".
	SocketDomain string
	// MountPoint is mount_point, "" for none.
	MountPoint string
	// Auth holds the listener's own password_file, acl_file,
	// allow_anonymous, allow_zero_length_clientid and auto_id_prefix
	// under per_listener_settings true; nil otherwise.
	Auth *listenerAuth
	// Line is the line that defined the listener, for messages.
	Line int
}

// listenerAuth is a listener's own authentication settings
// (per_listener_settings true): as Mosquitto's, they start from the
// defaults, not from the settings outside the listener.
type listenerAuth struct {
	_                                 [0]func() // not comparable: no generated == function (flash size)
	PasswordFile, ACLFile             string
	AllowAnonymous, AllowAnonymousSet bool
	RefuseEmptyClientID               bool
	AutoIDPrefix                      string
}

// unixSocket reports whether l is a Unix socket listener (listener 0 PATH).
func (l listenerConf) unixSocket() bool { return l.Port == 0 && l.Address != "" }

// defaultConfig returns the configuration used before any file or flag:
// mosquitto's defaults plus gatemq's own.
func defaultConfig() config {
	return config{
		MaxInflight:             1000,
		MaxQueued:               1000,
		MaxKeepalive:            65535,
		MaxConnections:          -1,
		SysInterval:             10 * time.Second,
		ConnectTimeout:          10 * time.Second,
		Sync:                    flashstore.SyncAlways,
		SyncInterval:            flashstore.DefaultSyncInterval,
		LogTimestamp:            true,
		LogFacility:             -1,
		ConnectionMessages:      true,
		AllowZeroLengthClientID: true,
		RetainAvailable:         true,
		CheckRetainSource:       true,
	}
}

// errNotSupportedYet is wrapped by the configError of a mosquitto directive
// (or value) that gatemq recognises but does not support.
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

// configErrors are all the problems of a config file (and the files it
// includes), in the order they were found; one per line.
type configErrors []*configError

func (es configErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es configErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// confMaxErrors bounds the errors reported for one config (a binary file
// given by mistake would otherwise give one per line).
const confMaxErrors = 50

// directive is one entry of directives.txt.
type directive struct {
	_       [0]func() // not comparable: no generated == function (flash size)
	Name    string    // a family ends in '*'
	Status  string    // "honoured", "info" or "refused"
	Scope   string    // global, listener, bridge, serial or gatemq
	Syntax  string
	Text    string
	Section string
}

// directivesText is the directive table (see its header for the format).
//
//go:embed directives.txt
var directivesText string

// directiveTable is directivesText parsed, on first use.
var directiveTable = sync.OnceValue(func() []directive {
	ds, err := parseDirectiveTable(directivesText)
	if err != nil {
		panic("directives.txt: " + err.Error()) // checked by TestDirectiveTable
	}
	return ds
})

// parseDirectiveTable reads the table format described in directives.txt.
func parseDirectiveTable(text string) ([]directive, error) {
	var ds []directive
	section := ""
	for n, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case line[0] == '\t' || line[0] == ' ':
			if len(ds) == 0 {
				return nil, fmt.Errorf("line %d: text before the first entry", n+1)
			}
			d := &ds[len(ds)-1]
			d.Text = strings.TrimSpace(d.Text + " " + strings.TrimSpace(line))
		default:
			f := strings.SplitN(line, " | ", 4)
			if len(f) != 4 {
				return nil, fmt.Errorf("line %d: want NAME | STATUS | SCOPE | SYNTAX", n+1)
			}
			d := directive{Name: strings.TrimSpace(f[0]), Status: strings.TrimSpace(f[1]), Scope: strings.TrimSpace(f[2]),
				Syntax: strings.TrimSpace(f[3]), Section: section}
			if !slices.Contains([]string{"honoured", "info", "refused"}, d.Status) {
				return nil, fmt.Errorf("line %d: status %q", n+1, d.Status)
			}
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// lookupDirective returns the table's entry for key (an exact name, else
// the family whose prefix key has).
func lookupDirective(key string) (directive, bool) {
	var fam directive
	found := false
	for _, d := range directiveTable() {
		if d.Name == key {
			return d, true
		}
		if pre, ok := strings.CutSuffix(d.Name, "*"); ok && strings.HasPrefix(key, pre) && !found {
			fam, found = d, true
		}
	}
	return fam, found
}

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
// returns it. It reads the whole file (and the files of its include_dir
// lines) and reports every problem: one *configError, or configErrors when
// there are several, each saying "NAME:LINE: message"; on error the
// returned config is cfg unchanged. Listeners, LogDest, LogType and Notices
// from the file are appended to cfg's (cfg's slices are not modified).
// Lines are `directive value...`; blank lines and lines starting with '#'
// are ignored, and a '#' after a space or tab starts a trailing comment.
func parseConfig(r io.Reader, name string, cfg config) (config, error) {
	p := &confParser{name: name, cfg: cfg, seen: make(map[string]int)}
	p.cfg.Listeners = slices.Clone(cfg.Listeners)
	p.cfg.LogDest = slices.Clone(cfg.LogDest)
	p.cfg.LogType = slices.Clone(cfg.LogType)
	p.cfg.Notices = slices.Clone(cfg.Notices)
	p.cfg.Bridges = slices.Clone(cfg.Bridges)
	p.current = &p.cfg.DefaultListener
	p.readAll(r)
	p.report(p.finish())
	switch len(p.errs) {
	case 0:
		return p.cfg, nil
	case 1:
		return cfg, p.errs[0]
	}
	if len(p.errs) > confMaxErrors {
		more := len(p.errs) - confMaxErrors
		p.errs = append(p.errs[:confMaxErrors], &configError{Name: p.name, Line: p.line, Msg: fmt.Sprintf("... and %d more errors", more)})
	}
	return cfg, p.errs
}

// readAll parses every line of r as file p.name, recording problems.
func (p *confParser) readAll(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), confMaxLine)
	for sc.Scan() {
		p.line++
		p.report(p.parseLine(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		p.line++
		if errors.Is(err, bufio.ErrTooLong) {
			p.report(p.errf("line longer than %d bytes", confMaxLine))
			return
		}
		e := p.errf("reading: %v", err)
		e.Err = err
		p.report(e)
	}
}

// report records err (a *configError or nil).
func (p *confParser) report(err error) {
	var ce *configError
	if errors.As(err, &ce) {
		p.errs = append(p.errs, ce)
	} else if err != nil {
		p.errs = append(p.errs, p.errf("%v", err))
	}
}

// confParser holds the state of one parseConfig call.
type confParser struct {
	name  string
	line  int
	cfg   config
	errs  configErrors
	depth int // 0 in the main file, 1 in a file of include_dir

	listeners []listenerConf // `listener` lines of this file
	current   *listenerConf  // the listener later per-listener lines apply to
	seen      map[string]int // single-value string directives -> first line

	defPort, defPortLine int    // `port` (mosquitto 1.x default listener)
	defAddr              string // `bind_address`
	defAddrLine          int

	// bridgeCur is 1 + the index in cfg.Bridges of the block the bridge
	// directives of this file belong to, 0 outside a block, -1 in a block
	// whose connection line was refused; bridgeSeen maps the block's
	// directives to their first line.
	bridgeCur  int
	bridgeSeen map[string]int
}

func (p *confParser) errf(format string, args ...any) *configError {
	return &configError{Name: p.name, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *confParser) notSupported(what string) *configError {
	return &configError{Name: p.name, Line: p.line, Err: errNotSupportedYet,
		Msg: what + " is not supported by gatemq"}
}

func (p *confParser) parseLine(text string) error {
	if p.line == 1 {
		text = strings.TrimPrefix(text, "\ufeff") // UTF-8 byte order mark
	}
	if !utf8.ValidString(text) {
		return p.errf("invalid UTF-8")
	}
	if t, ok := confStripTopicComment(text); ok {
		text = t
	} else {
		text = confStripComment(text)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	fields := strings.Fields(text)
	key, args := fields[0], fields[1:]
	rest := strings.TrimSpace(text[len(key):])
	d, ok := lookupDirective(key)
	switch {
	case !ok:
		msg := fmt.Sprintf("unknown directive %q", key)
		if s := confSuggest(key); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return p.errf("%s (gatemq -h lists every directive)", msg)
	case d.Status == "refused":
		e := p.notSupported("directive " + key)
		e.Msg += ": " + d.Text
		return e
	case d.Scope == "bridge":
		return p.bridge(d, key, args, rest)
	case d.Status == "info":
		return p.notice(key, args, d)
	}
	return p.apply(key, args, rest)
}

// notice accepts an info directive: one INFO line at start says why it
// needs no action.
func (p *confParser) notice(key string, args []string, d directive) error {
	if len(args) == 0 {
		return p.errf("%s needs a value (%s)", key, d.Syntax)
	}
	p.cfg.Notices = append(p.cfg.Notices, fmt.Sprintf("%s:%d: %s accepted, no action needed: %s", p.name, p.line, key, d.Text))
	return nil
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

// includeDir reads the files ending in .conf in dir, in Mosquitto's order
// (see confIncludeLess), as if their lines stood here.
func (p *confParser) includeDir(dir string) error {
	if p.depth > 0 {
		return p.errf("include_dir is only allowed in the main config file")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return p.errf("include_dir %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".conf") && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Sort(includeOrder(names))
	name, line := p.name, p.line
	// As in Mosquitto, an included file starts outside any bridge block,
	// its blocks end with it, and the block around include_dir goes on
	// after it.
	bridgeCur, bridgeSeen := p.bridgeCur, p.bridgeSeen
	p.bridgeCur, p.bridgeSeen = 0, nil
	p.depth++
	for _, n := range names {
		path := filepath.Join(dir, n)
		f, err := os.Open(path)
		if err != nil {
			p.report(p.errf("include_dir: %v", err))
			continue
		}
		p.name, p.line = path, 0
		p.readAll(f)
		f.Close()
		p.bridgeEnd()
	}
	p.depth--
	p.name, p.line = name, line
	p.bridgeCur, p.bridgeSeen = bridgeCur, bridgeSeen
	return nil
}

// confIncludeCmp orders include_dir's files as Mosquitto does: letters
// compared without case first, and on a tie upper case before lower case
// (00.conf, 01.conf, A.conf, a.conf, B.conf, b.conf).
func confIncludeCmp(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ua, ub := confUpper(a[i]), confUpper(b[i])
		if ua != ub {
			return int(ua) - int(ub)
		}
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

// includeOrder sorts file names by confIncludeCmp. It is a sort.Interface
// rather than slices.SortFunc: the sort package's one interface-based sort
// is already in the binary, while slices.SortFunc[[]string] adds about
// 10 KB of code and metadata to the -tags nossl linux/mipsle binary.
type includeOrder []string

func (s includeOrder) Len() int           { return len(s) }
func (s includeOrder) Less(i, j int) bool { return confIncludeCmp(s[i], s[j]) < 0 }
func (s includeOrder) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

func confUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// apply handles one honoured directive; rest is everything after the key,
// for directives whose value may contain spaces (paths).
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
	case "cafile", "certfile", "keyfile", "tls_version", "require_certificate", "use_identity_as_username",
		"capath", "crlfile", "use_subject_as_username":
		return p.listenerTLS(key, args)
	case "tls_keyform":
		var v string
		if v, err = p.oneArg(key, args); err == nil && v != "pem" {
			err = p.notSupported("tls_keyform " + v + " (no OpenSSL engines in Go)")
		}
	case "max_qos", "max_topic_alias", "use_username_as_clientid", "bind_interface", "socket_domain", "mount_point":
		return p.listenerOption(key, args)
	case "include_dir":
		var dir string
		if dir, err = p.oneArg(key, args); err == nil {
			err = p.includeDir(dir)
		}
	case "max_queued_messages_total":
		p.cfg.MaxQueuedTotal, err = p.intArg(key, args, 0, math.MaxInt32)
		p.cfg.MaxQueuedTotalSet = err == nil
	case "max_subscriptions":
		p.cfg.MaxSubscriptions, err = p.intArg(key, args, 1, math.MaxInt32)
	case "max_topic_length":
		p.cfg.MaxTopicLength, err = p.intArg(key, args, 1, 65535)
	case "max_topic_levels":
		p.cfg.MaxTopicLevels, err = p.intArg(key, args, 1, 65535)
	case "password_file", "acl_file", "allow_anonymous", "allow_zero_length_clientid", "auto_id_prefix":
		if la := p.listenerAuth(); la != nil {
			return p.perListenerAuth(la, key, args)
		}
		return p.authDirective(key, args)
	case "max_inflight_messages":
		p.cfg.MaxInflight, err = p.intArg(key, args, 0, 65535)
	case "max_inflight_bytes":
		var n int
		if n, err = p.intArg(key, args, 0, math.MaxInt32); err == nil && n != 0 {
			err = p.notSupported("max_inflight_bytes " + args[0] + " (only 0; gatemq bounds messages in flight by count: max_inflight_messages)")
		}
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
		if err == nil && p.current != &p.cfg.DefaultListener {
			p.current.MaxConnections = n
		} else if err == nil {
			p.cfg.MaxConnections = n
		}
	case "memory_limit":
		var n int
		n, err = p.intArg(key, args, 0, math.MaxInt)
		p.cfg.MemoryLimit = int64(n)
	case "sys_interval":
		p.cfg.SysInterval, err = p.secondsArg(key, args, 0, 65535)
	case "connect_timeout":
		p.cfg.ConnectTimeout, err = p.secondsArg(key, args, 1, 65535)
	case "persistence":
		p.cfg.Persistence, err = p.boolArg(key, args)
		p.cfg.PersistenceSet = err == nil
	case "persistence_location":
		p.cfg.PersistenceLocation, err = p.stringArg(key, rest)
	case "persistence_file":
		p.cfg.PersistenceFile, err = p.oneArg(key, args)
		if err == nil && strings.ContainsRune(p.cfg.PersistenceFile, '/') {
			err = p.errf("persistence_file is a file name in persistence_location, got %q", p.cfg.PersistenceFile)
		}
	case "persistent_client_expiration":
		p.cfg.PersistentClientExpiration, err = p.expiration(key, args)
	case "log_dest":
		return p.logDest(args, rest)
	case "log_type":
		return p.logType(args)
	case "log_timestamp":
		p.cfg.LogTimestamp, err = p.boolArg(key, args)
	case "log_timestamp_format":
		p.cfg.LogTimestampFormat, err = p.stringArg(key, rest)
	case "log_facility":
		p.cfg.LogFacility, err = p.intArg(key, args, 0, 7)
	case "connection_messages":
		p.cfg.ConnectionMessages, err = p.boolArg(key, args)
	case "user":
		p.cfg.User, err = p.stringArg(key, rest)
	case "pid_file":
		p.cfg.PidFile, err = p.stringArg(key, rest)
	case "sync":
		return p.sync(args)
	case "store_max_bytes":
		p.cfg.StoreMaxBytes, err = p.sizeArg(key, args)
	case "clientid_prefixes":
		p.cfg.ClientIDPrefixes, err = p.oneArg(key, args)
	case "retain_available":
		p.cfg.RetainAvailable, err = p.boolArg(key, args)
	case "check_retain_source":
		p.cfg.CheckRetainSource, err = p.boolArg(key, args)
	case "upgrade_outgoing_qos":
		p.cfg.UpgradeOutgoingQoS, err = p.boolArg(key, args)
	case "set_tcp_nodelay":
		p.cfg.NoDelay, err = p.boolArg(key, args)
		p.cfg.NoDelaySet = err == nil
	case "per_listener_settings":
		p.cfg.PerListenerSettings, err = p.boolArg(key, args)
	case "queue_qos0_messages":
		p.cfg.QueueQoS0, err = p.boolArg(key, args)
	default:
		if ok, err := p.serial(key, args); ok {
			return err
		}
		// The table says honoured but nothing here handles it: a bug that
		// TestConfigEveryDirective catches.
		return p.errf("directive %s is in the table but not handled", key)
	}
	return err
}

// listenerAuth returns the listener whose own authentication settings the
// directive being read sets: the listener defined last under
// per_listener_settings true; nil otherwise (the settings are global).
func (p *confParser) listenerAuth() *listenerAuth {
	if !p.cfg.PerListenerSettings || p.current == &p.cfg.DefaultListener {
		return nil
	}
	if p.current.Auth == nil {
		p.current.Auth = &listenerAuth{}
	}
	return p.current.Auth
}

// authDirective sets a global authentication or client id directive.
func (p *confParser) authDirective(key string, args []string) error {
	var err error
	switch key {
	case "password_file":
		p.cfg.PasswordFile, err = p.oneArg(key, args)
	case "acl_file":
		p.cfg.ACLFile, err = p.oneArg(key, args)
	case "allow_anonymous":
		p.cfg.AllowAnonymous, err = p.boolArg(key, args)
		p.cfg.AllowAnonymousSet = err == nil
	case "allow_zero_length_clientid":
		p.cfg.AllowZeroLengthClientID, err = p.boolArg(key, args)
	case "auto_id_prefix":
		p.cfg.AutoIDPrefix, err = p.oneArg(key, args)
	}
	return err
}

// perListenerAuth sets one of a listener's own authentication settings.
func (p *confParser) perListenerAuth(la *listenerAuth, key string, args []string) error {
	var err error
	var v bool
	switch key {
	case "password_file":
		la.PasswordFile, err = p.oneArg(key, args)
	case "acl_file":
		la.ACLFile, err = p.oneArg(key, args)
	case "allow_anonymous":
		la.AllowAnonymous, err = p.boolArg(key, args)
		la.AllowAnonymousSet = err == nil
	case "allow_zero_length_clientid":
		v, err = p.boolArg(key, args)
		la.RefuseEmptyClientID = !v
	case "auto_id_prefix":
		la.AutoIDPrefix, err = p.oneArg(key, args)
	}
	return err
}

// listenerOption handles the listener directives that may also stand
// before any listener line (then they set DefaultListener).
func (p *confParser) listenerOption(key string, args []string) error {
	l := p.current
	var err error
	var n int
	switch key {
	case "max_qos":
		n, err = p.intArg(key, args, 0, 2)
		l.MaxQoS = n + 1
	case "max_topic_alias":
		n, err = p.intArg(key, args, 0, 65535)
		l.MaxTopicAlias = n + 1
	case "use_username_as_clientid":
		l.UseUsernameAsClientID, err = p.boolArg(key, args)
	case "bind_interface":
		l.BindInterface, err = p.oneArg(key, args)
	case "socket_domain":
		l.SocketDomain, err = p.choiceArg(key, args, "ipv4", "ipv6")
	case "mount_point":
		l.MountPoint, err = p.oneArg(key, args)
		if err == nil && (strings.ContainsAny(l.MountPoint, "+#") || strings.HasPrefix(l.MountPoint, "$")) {
			err = p.errf("mount_point may hold no wildcard (+ #) and not start with $, got %q", l.MountPoint)
		}
	}
	if err == nil && l.unixSocket() && (key == "bind_interface" || key == "socket_domain") {
		err = p.errf("%s does not apply to the Unix socket listener on line %d", key, l.Line)
	}
	return err
}

// listener handles `listener PORT [ADDRESS]` and `listener 0 SOCKET-PATH`.
func (p *confParser) listener(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return p.errf("listener takes a port and an optional address (listener PORT [ADDRESS]), got %d values", len(args))
	}
	if args[0] == "0" && len(args) == 2 && strings.Contains(args[1], "/") {
		l := listenerConf{Address: args[1], Protocol: "mqtt", Line: p.line}
		p.listeners = append(p.listeners, l)
		p.current = &p.listeners[len(p.listeners)-1]
		return nil
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
	if p.current == &p.cfg.DefaultListener {
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
	case "capath":
		l.CAPath, err = p.oneArg(key, args)
	case "crlfile":
		l.CRLFile, err = p.oneArg(key, args)
	case "use_subject_as_username":
		l.UseSubjectAsUsername, err = p.boolArg(key, args)
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
		if p.current != &p.cfg.DefaultListener {
			p.current.Protocol = "mqtt"
		}
		return nil
	case "websockets":
		if p.current == &p.cfg.DefaultListener {
			return p.errf("protocol websockets must follow the listener line it applies to")
		}
		if p.current.unixSocket() {
			return p.errf("protocol websockets is not available on the Unix socket listener on line %d", p.current.Line)
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
	if args[0] == "dlt" {
		return p.notSupported("log_dest dlt (the automotive Diagnostic Log and Trace daemon)")
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

// finish ends the last bridge and serial blocks, adds the mosquitto 1.x
// default listener and checks the listeners. Errors are at the line they
// concern.
func (p *confParser) finish() error {
	p.bridgeEnd()
	p.bridgeCheckIDs()
	if err := p.serialFinish(); err != nil {
		return err
	}
	var ls []listenerConf
	if p.defPortLine != 0 || p.defAddrLine != 0 {
		d := p.cfg.DefaultListener
		d.Port, d.Address, d.Protocol, d.Line = 1883, p.defAddr, "mqtt", p.defAddrLine
		if p.defPortLine != 0 {
			d.Port, d.Line = p.defPort, p.defPortLine
		}
		ls = append(ls, d)
	}
	for _, l := range p.listeners {
		if p.cfg.PerListenerSettings && l.Auth == nil {
			l.Auth = &listenerAuth{} // its own settings, all defaults
		}
		ls = append(ls, l)
	}
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

// durationArg parses a duration with its unit (300ms, 5s, 2m, 1h30m)
// between lo and hi.
func (p *confParser) durationArg(key string, args []string, lo, hi time.Duration) (time.Duration, error) {
	v, err := p.oneArg(key, args)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, p.errf("%s must be a duration with its unit, like 300ms, 5s or 2m, got %q", key, v)
	}
	if d < lo || d > hi {
		return 0, p.errf("%s must be between %v and %v, got %v", key, lo, hi, d)
	}
	return d, nil
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

// confSuggest returns the directive gatemq accepts that is closest to key
// when it is within two edits, else "".
func confSuggest(key string) string {
	best, bestDist := "", 3
	for _, d := range directiveTable() {
		if d.Status == "refused" || strings.HasSuffix(d.Name, "*") {
			continue
		}
		if dist := confEditDistance(key, d.Name); dist < bestDist {
			best, bestDist = d.Name, dist
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

// printDirectives writes the directive table for `gatemq -h`: every
// directive of mosquitto.conf(5) and gatemq's own, what it does or why
// gatemq accepts or refuses it, then the serial block's directives.
func printDirectives(w io.Writer) {
	fmt.Fprint(w, "\nConfig file (-c FILE): one directive per line, # starts a comment; the directives of\n"+
		"mosquitto.conf(5) (Mosquitto 2.0) and gatemq's own. [info]: accepted, needs no action in\n"+
		"gatemq (one INFO line at start says why); [refused]: gatemq stops and says why.\n")
	section := ""
	for _, d := range directiveTable() {
		if d.Section != section {
			section = d.Section
			fmt.Fprintf(w, "\n%s:\n", section)
		}
		mark := ""
		if d.Status != "honoured" {
			mark = "  [" + d.Status + "]"
		}
		fmt.Fprintf(w, "  %s%s\n", d.Syntax, mark)
		for _, l := range confWrap(d.Text, 80) {
			fmt.Fprintf(w, "    \t%s\n", l)
		}
	}
	fmt.Fprint(w, "\nSerial sensor block (serial NAME DEVICE, then its serial_* lines):\n")
	for _, d := range serialDirectives {
		fmt.Fprintf(w, "  %s\n", d.syntax)
	}
}

// confWrap splits text into lines of at most width bytes, at spaces.
func confWrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
