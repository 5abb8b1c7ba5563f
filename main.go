// Command gatemq is an MQTT 3.1.1 and 5.0 broker for routers and home hubs:
// one static binary, small in memory and on flash.
//
// Usage:
//
//	gatemq [-c FILE] [-p PORT] [-listen ADDR:PORT]... [-v]
//	gatemq passwd [-c] [-b] [-D] FILE USER [PASSWORD]
//
// With no config file and no flags it listens on port 1883 of the loopback
// addresses only, as Mosquitto 2 does. See README.md for the directives.
//
// The root package is the binary itself and nothing else: the flags and
// this file's four steps (load → open → serve → wait), the mosquitto.conf
// dialect (config*.go) and the passwd subcommand (passwd.go). What each
// part configures lives next to it: board profiles and the store cap in
// board, access control in mqtt/auth, the serial bridge in board/serial,
// listeners in transport.
package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatemq/board"
	"gatemq/board/serial"
	"gatemq/flashstore"
	"gatemq/internal/cliflag"
	"gatemq/internal/cpuprof"
	"gatemq/internal/fmt"
	"gatemq/internal/memtrim"
	"gatemq/internal/textlog"
	"gatemq/mqtt"
	"gatemq/mqtt/auth"
	"gatemq/mqtt/logdest"
	"gatemq/mqtt/mosqdb"
	"gatemq/transport"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], board.Detector{Root: "/"}, os.Stdout, os.Stderr))
}

// options are the command line's flags.
type options struct {
	cfgPath    string
	port       int
	listens    []string
	dataDir    string
	memoryOnly bool
	verbose    bool
	version    bool
	board      bool
	listSerial bool
	cpuProfile string
}

// parseFlags reads the command line; exit >= 0 means stop with that code
// (-h, or a usage error already reported).
func parseFlags(args []string, stderr io.Writer) (o options, exit int) {
	fs := cliflag.New("gatemq", stderr)
	fs.StringVar(&o.cfgPath, "c", "config `file` in mosquitto.conf style")
	fs.IntVar(&o.port, "p", "listen on this `port` of the loopback addresses (overrides listeners from the config file)")
	fs.ListVar(&o.listens, "listen", "listen on `address:port` (repeatable; e.g. 0.0.0.0:1883 opens the broker to the network; overrides the config file's listeners)")
	fs.StringVar(&o.dataDir, "data", "keep the broker's state in this `folder` (turns persistence on; overrides persistence_location)")
	fs.BoolVar(&o.memoryOnly, "memory", "keep all state in memory only (like persistence false)")
	fs.BoolVar(&o.verbose, "v", "verbose (debug) logging")
	fs.BoolVar(&o.version, "version", "print the version and exit")
	fs.BoolVar(&o.board, "board", "print the detected board profile and the defaults it implies (for the data folder that -c/-data choose), then exit")
	fs.BoolVar(&o.listSerial, "list-serial", "print the serial ports of this machine (USB vendor:product ids, /dev/serial/by-id links) and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "write a CPU profile to `file` until the broker stops (for benchmarks; only in a build with -tags profile)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "gatemq %s: an MQTT broker for routers and home hubs\n\nUsage: gatemq [flags]\n       gatemq passwd [-c] [-b] [-D] FILE USER [PASSWORD]\n\n", version)
		fs.PrintDefaults()
		printDirectives(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, cliflag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if o.cpuProfile != "" && !cpuprof.Available {
		fmt.Fprintln(stderr, "gatemq:", cpuprof.ErrNotBuilt)
		return o, 2
	}
	return o, -1
}

// run is the whole program; it returns the process exit code. det says
// where the board's files are ("/" outside tests).
func run(args []string, det board.Detector, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, stdout, stderr)
	}
	o, exit := parseFlags(args, stderr)
	switch {
	case exit >= 0:
		return exit
	case o.version:
		fmt.Fprintln(stdout, "gatemq", version)
		return 0
	case o.listSerial:
		if err := serial.PrintPorts(stdout); err != nil {
			fmt.Fprintln(stderr, "gatemq:", err)
			return 1
		}
		return 0
	}
	// Signals are caught from the start, so one that arrives while the
	// broker is still starting stops it gracefully too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	s, err := load(o, det, stdout, stderr)
	if err != nil {
		printError(stderr, err)
		return 1
	}
	defer s.logs.Close()
	if o.board {
		fmt.Fprint(stdout, board.Describe(s.profile))
		return 0
	}
	if o.cpuProfile != "" {
		stop, err := cpuprof.Start(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gatemq:", err)
			return 1
		}
		defer stop()
	}
	g, err := start(s)
	if err != nil {
		s.log.Error("gatemq did not start", "err", err)
		printError(stderr, err)
		return 1
	}
	defer g.closeStore()
	defer removePidFile(s)
	wait(g, sigs)
	return 0
}

// setup is everything decided before anything is opened: the
// configuration, the board profile (with the store cap), where to listen
// and who may connect.
type setup struct {
	opts    options
	cfg     config
	log     *textlog.Logger
	logs    *logdest.Logger // the log destinations behind log
	profile board.Profile
	// dataDir is the store's folder, "" for memory only.
	dataDir string
	addrs   []listenAddr
	policy  *auth.Policy
	// listenerPolicies are the listeners' own policies
	// (per_listener_settings true), by listener name.
	listenerPolicies map[string]*auth.Policy
	// bridges are the config's bridges, ready for mqtt.Options.
	bridges []mqtt.BridgeConfig
}

// load reads the config file, opens the log destinations, detects the
// board for the chosen data folder, loads the access-control policy and
// the bridges' certificates.
func load(o options, det board.Detector, stdout, stderr io.Writer) (*setup, error) {
	cfg := defaultConfig()
	if o.cfgPath != "" {
		var err error
		if cfg, err = loadConfigFile(o.cfgPath, cfg); err != nil {
			return nil, err
		}
	}
	cfg.Verbose = cfg.Verbose || o.verbose
	logs, err := openLogs(cfg, stdout, stderr)
	if err != nil {
		return nil, err
	}
	s := &setup{opts: o, cfg: cfg, logs: logs, log: textlog.New(logs.Handler())}
	for _, n := range cfg.Notices {
		s.log.Info(n)
	}
	if err := logs.SyslogError(); err != nil {
		fmt.Fprintln(stderr, "gatemq: log_dest syslog: syslog is not reachable yet (retried every 10 s):", err)
	}
	if s.addrs, err = listenAddresses(cfg, o.port, o.listens); err != nil {
		logs.Close()
		return nil, err
	}
	if s.policy, err = auth.LoadPolicy(authSettings(cfg, o, s.addrs)); err != nil {
		logs.Close()
		return nil, err
	}
	if s.listenerPolicies, err = listenerPolicies(s.addrs); err != nil {
		logs.Close()
		return nil, err
	}
	if s.bridges, err = bridgeConfigs(cfg); err != nil {
		logs.Close()
		return nil, err
	}
	dir, persistent := dataDirChoice(cfg, o)
	det.DataDir = dir
	s.profile = det.Detect()
	if os.Getenv("GOMEMLIMIT") != "" {
		// The environment's limit wins (applyMemoryDefaults), and the
		// defaults that follow from the limit follow it.
		limit := debug.SetMemoryLimit(-1)
		if limit == math.MaxInt64 { // GOMEMLIMIT=off
			limit = 0
		}
		s.profile = s.profile.WithMemoryLimit(limit)
	}
	if persistent {
		s.dataDir = s.profile.DataDir
	}
	return s, nil
}

// printError writes err to stderr, one "gatemq: " line per line (a config
// file's errors come one per line).
func printError(stderr io.Writer, err error) {
	for _, l := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, "gatemq:", l)
	}
}

// dataDirChoice decides whether the broker keeps state (gatemq's default:
// yes, unless `persistence false` or -memory) and in which folder: the
// -data flag, else persistence_location, else the board's data folder for
// root ("") and ~/.local/state/gatemq for others.
func dataDirChoice(cfg config, o options) (dir string, persistent bool) {
	switch {
	case o.memoryOnly:
		return "", false
	case o.dataDir != "":
		return o.dataDir, true
	case cfg.PersistenceSet && !cfg.Persistence:
		return "", false
	case cfg.PersistenceLocation != "":
		return cfg.PersistenceLocation, true
	case os.Geteuid() == 0:
		return "", true // the board's folder, on persistent flash
	}
	if home, err := os.UserHomeDir(); err == nil {
		return home + "/.local/state/gatemq", true
	}
	return "gatemq-data", true
}

// gateway is the running broker with what it was opened with.
type gateway struct {
	*setup
	store  *flashstore.Log // nil: memory only
	broker *mqtt.Server
	srv    *transport.Server
	// stopSerial stops the serial bridges, stopTrim the memory trim (set
	// by start).
	stopSerial, stopTrim func()
	// ready is closed once broker is set: connections accepted before
	// wait for it.
	ready chan struct{}
}

// open applies the board's memory defaults, opens the store and rebuilds
// the broker's state from it.
func open(g *gateway) error {
	s := g.setup
	applyMemoryDefaults(s.profile, s.cfg.MemoryLimit, s.log)
	opts := brokerOptions(s.cfg, s.profile, s.log)
	if s.cfg.MaxPacketSize == 0 {
		s.log.Info("packet size limit", "max_packet_size", opts.MaxPacketSize,
			"from", "board profile: an eighth of the Go memory limit (set max_packet_size to choose)")
	}
	opts.Auth = s.policy
	opts.Bridges = s.bridges
	opts.ConnectionsRefused = func() uint64 { return g.srv.Rejected() }
	var mosq *mosqdb.DB
	mosqPath := ""
	if s.dataDir != "" {
		if w := board.TmpfsWarning(s.dataDir, "/"); w != "" {
			s.log.Warn(w)
		}
		var err error
		if mosqPath, mosq, err = mosquittoState(s.cfg, s.dataDir); err != nil {
			return err
		}
		st, err := openStore(s.cfg, s.dataDir, s.profile, s.log)
		if err != nil {
			return err
		}
		g.store, opts.Store = st, st
	}
	g.broker = mqtt.NewServer(opts)
	if len(s.listenerPolicies) > 0 {
		g.broker.SetListenerAuth(s.listenerPolicies)
	}
	var rs mqtt.RecoveryStats
	var err error
	if mosq != nil {
		var is mqtt.ImportStats
		rs, is, err = g.broker.RecoverWithMosquitto(mosq, time.Now())
		if err == nil {
			s.log.Info("imported Mosquitto's saved state (the file is left as it is)", "file", mosqPath, "sessions", is.Sessions,
				"subscriptions", is.Subscriptions, "queued", is.Queued, "inflight", is.Inflight, "retained", is.Retained,
				"inbound_qos2", is.Inbound, "skipped", is.Skipped)
		}
	} else {
		rs, err = g.broker.Recover()
	}
	if err != nil {
		g.closeStore()
		return fmt.Errorf("recovering state from the store: %w", err)
	}
	if g.store != nil {
		s.log.Info("state recovered", "sessions", rs.Sessions, "subscriptions", rs.Subscriptions, "messages", rs.Messages,
			"routes", rs.Routes, "inbound_qos2", rs.Inbound, "retained", rs.Retained, "dropped", rs.Dropped)
	}
	return nil
}

// mosquittoState reads Mosquitto's saved state (persistence_file, default
// mosquitto.db) from the data folder when gatemq has no log there yet: on
// the first start after Mosquitto, gatemq takes it over. It returns a nil
// DB when there is nothing to import. A file that cannot be read stops
// gatemq before it writes anything, so that the next start tries again.
func mosquittoState(cfg config, dir string) (string, *mosqdb.DB, error) {
	name := cfg.PersistenceFile
	if name == "" {
		name = "mosquitto.db"
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("data folder: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") || e.Name() == "MANIFEST" {
			return "", nil, nil // gatemq's own log is there: it wins
		}
	}
	db, err := mosqdb.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("importing Mosquitto's saved state: %w (move the file away to start without it)", err)
	}
	return path, db, nil
}

// closeStore closes the flash log, if there is one.
func (g *gateway) closeStore() {
	if g.store != nil {
		g.store.Close()
	}
}

// applyMemoryDefaults sets the Go soft memory limit (memory_limit, else
// the one the board profile suggests for its RAM) and GC target, unless
// GOMEMLIMIT or GOGC say otherwise.
func applyMemoryDefaults(p board.Profile, configured int64, log *textlog.Logger) {
	limit := p.MemoryLimit
	if configured > 0 {
		limit = configured
	}
	if os.Getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if os.Getenv("GOGC") == "" && p.GCPercent > 0 {
		debug.SetGCPercent(p.GCPercent)
	}
	log.Debug("board profile", "board", p.Name, "model", p.Model, "memory_limit", limit, "gc_percent", p.GCPercent)
}

// openStore opens (and recovers) the flash log in dir with the config's
// sync policy and the size cap: store_max_bytes, else the board profile's.
// It refuses to start on a log it cannot interpret: the error says where
// the damage is and what was kept aside.
func openStore(cfg config, dir string, p board.Profile, log *textlog.Logger) (*flashstore.Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	maxBytes, from := cfg.StoreMaxBytes, "store_max_bytes"
	if maxBytes == 0 {
		maxBytes, from = p.StoreMaxBytes, "board profile: half of the free space plus the store's own files (set store_max_bytes to choose)"
	}
	log.Info("store size cap", "store_max_bytes", maxBytes, "from", from)
	st, rep, err := flashstore.Open(flashstore.Options{
		Dir:          dir,
		Sync:         cfg.Sync,
		SyncInterval: cfg.SyncInterval,
		MaxBytes:     maxBytes,
		Logger:       log.With("component", "flashstore"),
	})
	if err != nil {
		if errors.Is(err, flashstore.ErrCorrupt) {
			return nil, fmt.Errorf("the store in %s is damaged or incomplete and gatemq will not serve with lost state: %w (damaged files are kept aside as *.broken; put a missing file back, or move the folder away to start empty)", dir, err)
		}
		return nil, fmt.Errorf("opening the store in %s: %w", dir, err)
	}
	attrs := []any{"dir", dir, "sync", cfg.Sync.String(), "segments", rep.Segments, "records", rep.Records,
		"live_keys", rep.LiveKeys, "took", rep.Duration}
	if rep.TruncatedBytes > 0 {
		log.Warn("store: torn tail truncated (an interrupted write from before the last stop)", append(attrs, "truncated_bytes", rep.TruncatedBytes)...)
	} else {
		log.Info("store opened", attrs...)
	}
	for _, q := range rep.Quarantined {
		log.Error("store: damaged data kept aside", "file", q)
	}
	return st, nil
}

// start takes the broker from a loaded setup to serving: it writes the
// pid file, binds the listeners, drops privileges (user), opens the store
// and the broker, then lets the accepted connections in and starts the
// serial bridges. On error what it opened is closed again.
func start(s *setup) (*gateway, error) {
	g := &gateway{setup: s, stopSerial: func() {}, stopTrim: func() {}, ready: make(chan struct{})}
	if err := writePidFile(s); err != nil {
		return nil, err
	}
	bound, err := listen(g)
	if err != nil {
		removePidFile(s)
		return nil, err
	}
	fail := func(err error) (*gateway, error) {
		_ = g.srv.Shutdown(context.Background())
		removePidFile(s)
		return nil, err
	}
	if err := dropPrivileges(g); err != nil {
		return fail(err)
	}
	if err := open(g); err != nil {
		return fail(err)
	}
	close(g.ready)
	g.broker.Start()
	g.logs.SetPublish(func(topic string, payload []byte) { _ = g.broker.Publish(topic, payload, 0, false) })
	g.stopTrim = memtrim.Start(g.log)
	g.stopSerial = serial.Start(g.cfg.Serial.withSys(g.cfg.SysInterval), serialBroker{g.broker}, g.log)
	g.log.Info("gatemq started", "version", version, "listening", strings.Join(bound, " "), "data", dataDescription(g.cfg, g.dataDir))
	if onlyLoopback(g.addrs) {
		g.log.Info("listening on loopback only: to open the broker to the network, put `listener 1883 0.0.0.0` and `allow_anonymous true` (or a password_file) in a config file given with -c")
	}
	return g, nil
}

// listen binds every listener and returns their addresses, marked
// "(tls)", "(websockets)" or "(tls, websockets)". Connections accepted
// now wait until the broker is ready.
func listen(g *gateway) ([]string, error) {
	g.srv = newTransport(g)
	var bound []string
	for _, a := range g.addrs {
		addr, err := g.srv.Listen(a.config(g.cfg))
		if errors.Is(err, transport.ErrNotBuilt) {
			_ = g.srv.Shutdown(context.Background())
			return nil, fmt.Errorf("listener %s: this build has no TLS support (built with -tags nossl)", a.address)
		}
		if err != nil {
			if a.optional {
				g.log.Debug("optional listener not available", "address", a.address, "err", err)
				continue
			}
			_ = g.srv.Shutdown(context.Background())
			return nil, listenError(a, err)
		}
		bound = append(bound, addr.String()+a.marks())
	}
	return bound, nil
}

// wait serves until SIGINT or SIGTERM, reloading the access control and
// the certificates on each SIGHUP, then shuts everything down.
func wait(g *gateway, sigs <-chan os.Signal) {
	sig := <-sigs
	for sig == syscall.SIGHUP {
		reload(g)
		sig = <-sigs
	}
	g.log.Info("shutting down", "signal", sig.String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.stopSerial() // offline statuses go out while the broker still runs
	g.stopTrim()
	_ = g.srv.Shutdown(ctx)
	if err := g.broker.Shutdown(ctx); err != nil {
		g.log.Warn("shutdown did not finish in time", "err", err)
	}
	g.log.Info("stopped")
}

// reload re-reads the config file and its password and ACL files and puts
// them in force without dropping connections; a broken file keeps the
// access control in force and says why. Then it reopens the log file (for
// log rotation) and reloads the TLS certificates.
func reload(g *gateway) {
	cfg := defaultConfig()
	var err error
	if g.opts.cfgPath != "" {
		cfg, err = loadConfigFile(g.opts.cfgPath, cfg)
	}
	var p *auth.Policy
	var lp map[string]*auth.Policy
	if err == nil {
		p, err = auth.LoadPolicy(authSettings(cfg, g.opts, g.addrs))
	}
	if err == nil {
		lp, err = reloadListenerPolicies(cfg, g)
	}
	if err != nil {
		g.log.Error("reload failed; keeping the access control in force", "err", err)
	} else {
		if len(lp) > 0 || len(g.listenerPolicies) > 0 {
			g.broker.SetListenerAuth(lp)
		}
		g.broker.SetAuth(p)
		g.log.Info("reloaded password and ACL files", "password_file", cfg.PasswordFile, "acl_file", cfg.ACLFile, "allow_anonymous", p.AllowsAnonymous())
	}
	if err := g.logs.Reopen(); err != nil {
		g.log.Error("log file not reopened; logging goes on to the old one", "err", err)
	}
	if err := g.srv.ReloadTLS(); err != nil {
		g.log.Error("TLS certificate reload failed; the old certificates stay in force", "err", err)
	}
}

// reloadListenerPolicies loads the listeners' own policies from the
// reloaded config: the listeners themselves are not reloaded (as in
// Mosquitto), their authentication settings are, matched by address.
func reloadListenerPolicies(cfg config, g *gateway) (map[string]*auth.Policy, error) {
	addrs, err := listenAddresses(cfg, g.opts.port, g.opts.listens)
	if err != nil {
		return nil, err
	}
	return listenerPolicies(addrs)
}

// openLogs opens the log destinations of log_dest with the types of
// log_type (-v adds debug) and the timestamp settings.
func openLogs(cfg config, stdout, stderr io.Writer) (*logdest.Logger, error) {
	types, err := logdest.ParseTypes(cfg.LogType)
	if err != nil {
		return nil, err
	}
	if cfg.Verbose {
		types |= logdest.TypeDebug
	}
	return logdest.Open(logdest.Options{Dests: cfg.LogDest, Types: types, Timestamp: cfg.LogTimestamp,
		TimestampFormat: cfg.LogTimestampFormat, Facility: cfg.LogFacility, Stdout: stdout, Stderr: stderr})
}

// writePidFile writes pid_file, if set; gatemq does not start without it,
// as Mosquitto does.
func writePidFile(s *setup) error {
	if s.cfg.PidFile == "" {
		return nil
	}
	if err := os.WriteFile(s.cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid_file: %w", err)
	}
	return nil
}

// removePidFile removes pid_file at exit, when the user gatemq runs as
// may (after dropping privileges it often may not; the next start
// overwrites it).
func removePidFile(s *setup) {
	if s.cfg.PidFile != "" {
		if err := os.Remove(s.cfg.PidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("pid file not removed", "pid_file", s.cfg.PidFile, "err", err)
		}
	}
}

// dropPrivileges switches to the user of `user` (its primary and
// supplementary groups too) when gatemq runs as root, after the listeners
// are bound and the pid and log files open. What that user must write
// later is given to it first: the data folder (created if missing), the
// log file (reopened on SIGHUP) and Unix sockets. An unknown user stops
// gatemq; started as another user, `user` is ignored, as in Mosquitto.
func dropPrivileges(g *gateway) error {
	name := g.cfg.User
	if os.Geteuid() != 0 {
		if name != "" {
			g.log.Info("user "+name+" ignored: gatemq does not run as root", "uid", os.Geteuid())
		}
		return nil
	}
	if name == "" {
		g.log.Log(context.Background(), logdest.LevelNotice, "running as root: Mosquitto would switch to user mosquitto here; set `user NAME` to run as an unprivileged user")
		return nil
	}
	u, err := lookupUser(name, "/etc/passwd", "/etc/group")
	if err != nil {
		return fmt.Errorf("user %s: %w (create it, or change the user directive)", name, err)
	}
	uid, gid, groups := u.uid, u.gid, u.groups
	if g.dataDir != "" {
		if _, err := os.Stat(g.dataDir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(g.dataDir, 0o750); err != nil {
				return fmt.Errorf("data folder: %w", err)
			}
			if err := os.Chown(g.dataDir, uid, gid); err != nil {
				return fmt.Errorf("data folder: %w", err)
			}
		}
	}
	if path, f := g.logs.File(); f != nil {
		if fi, err := f.Stat(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 {
				if err := os.Chown(path, uid, gid); err != nil {
					g.log.Warn("log file stays root's: reopening it on SIGHUP may fail", "file", path, "err", err)
				}
			}
		}
	}
	for _, a := range g.addrs {
		if a.unix != "" {
			_ = os.Chown(a.unix, uid, gid)
		}
	}
	if err := syscall.Setgroups(append([]int{gid}, groups...)); err != nil {
		return fmt.Errorf("user %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("user %s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("user %s: setuid: %w", name, err)
	}
	g.log.Info("dropped privileges", "user", name, "uid", uid, "gid", gid)
	return nil
}

// listenError explains a listener that could not be bound; a busy port
// is most often a Mosquitto still running.
func listenError(a listenAddr, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: %w: another program already listens there; is Mosquitto still running? (systemctl stop mosquitto, /etc/init.d/mosquitto stop, or see: ss -ltnp | grep %s)",
			a.address, err, a.port())
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("cannot listen on %s: %w (ports below 1024 and bind_interface need root or CAP_NET_BIND_SERVICE/CAP_NET_RAW)", a.address, err)
	}
	return fmt.Errorf("cannot listen on %s: %w", a.address, err)
}

// osUser is what dropPrivileges needs of a user: ids and supplementary
// groups.
type osUser struct {
	uid, gid int
	groups   []int // the gids of /etc/group lines that list the user
}

// errUnknownUser is os/user's error for a name not in /etc/passwd.
type errUnknownUser string

func (e errUnknownUser) Error() string { return "user: unknown user " + string(e) }

// lookupUser finds name in /etc/passwd and its groups in /etc/group, as
// os/user does without cgo (which is how gatemq is built), without
// os/user: its errors link fmt, which the -tags nossl build otherwise
// does without. Comments, blank lines and NIS +/- entries are skipped,
// as glibc and os/user do.
func lookupUser(name, passwd, group string) (osUser, error) {
	var u osUser
	found := false
	err := readColonFile(passwd, func(f []string) bool {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 4 || f[0] != name {
			return false
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return false
		}
		u.uid, u.gid, found = uid, gid, true
		return true
	})
	if err != nil {
		return u, err
	}
	if !found {
		return u, errUnknownUser(name)
	}
	// The groups are a bonus: os/user's GroupIds errors were ignored too.
	_ = readColonFile(group, func(f []string) bool {
		// groupname:password:gid:user,user
		if len(f) != 4 {
			return false
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return false
		}
		for m := range strings.SplitSeq(f[3], ",") {
			if m == name {
				u.groups = append(u.groups, gid)
				break
			}
		}
		return false
	})
	return u, nil
}

// readColonFile calls fn with the colon-separated fields of each line of
// path that is not blank, a comment or a NIS +/- entry, until fn returns
// true.
func readColonFile(path string, fn func(fields []string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		if fn(strings.Split(line, ":")) {
			return nil
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return err
	}
	return nil
}
