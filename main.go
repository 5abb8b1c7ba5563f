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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"gatemq/board"
	"gatemq/board/serial"
	"gatemq/flashstore"
	"gatemq/mqtt"
	"gatemq/mqtt/auth"
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
	listens    listFlag
	dataDir    string
	memoryOnly bool
	verbose    bool
	version    bool
	board      bool
	listSerial bool
	cpuProfile string
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseFlags reads the command line; exit >= 0 means stop with that code
// (-h, or a usage error already reported).
func parseFlags(args []string, stderr io.Writer) (o options, exit int) {
	fs := flag.NewFlagSet("gatemq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cfgPath, "c", "", "config `file` in mosquitto.conf style")
	fs.IntVar(&o.port, "p", 0, "listen on this `port` of the loopback addresses (overrides listeners from the config file)")
	fs.Var(&o.listens, "listen", "listen on `address:port` (repeatable; e.g. 0.0.0.0:1883 opens the broker to the network; overrides the config file's listeners)")
	fs.StringVar(&o.dataDir, "data", "", "keep the broker's state in this `folder` (turns persistence on; overrides persistence_location)")
	fs.BoolVar(&o.memoryOnly, "memory", false, "keep all state in memory only (like persistence false)")
	fs.BoolVar(&o.verbose, "v", false, "verbose (debug) logging")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.board, "board", false, "print the detected board profile and the defaults it implies (for the data folder that -c/-data choose), then exit")
	fs.BoolVar(&o.listSerial, "list-serial", false, "print the serial ports of this machine (USB vendor:product ids, /dev/serial/by-id links) and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until the broker stops (for benchmarks)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "gatemq %s: an MQTT broker for routers and home hubs\n\nUsage: gatemq [flags]\n       gatemq passwd [-c] [-b] [-D] FILE USER [PASSWORD]\n\n", version)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nConfig directives (mosquitto.conf style): see README.md.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
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

	s, err := load(o, det, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatemq:", err)
		return 1
	}
	if o.board {
		fmt.Fprint(stdout, board.Describe(s.profile))
		return 0
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gatemq:", err)
			return 1
		}
		defer stop()
	}
	g, err := open(s)
	if err != nil {
		fmt.Fprintln(stderr, "gatemq:", err)
		return 1
	}
	defer g.closeStore()
	if err := serve(g); err != nil {
		fmt.Fprintln(stderr, "gatemq:", err)
		return 1
	}
	wait(g, sigs)
	return 0
}

// setup is everything decided before anything is opened: the
// configuration, the board profile (with the store cap), where to listen
// and who may connect.
type setup struct {
	opts    options
	cfg     config
	log     *slog.Logger
	profile board.Profile
	// dataDir is the store's folder, "" for memory only.
	dataDir string
	addrs   []listenAddr
	policy  *auth.Policy
}

// load reads the config file, detects the board for the chosen data
// folder, and loads the access-control policy.
func load(o options, det board.Detector, stderr io.Writer) (*setup, error) {
	cfg := defaultConfig()
	if o.cfgPath != "" {
		var err error
		if cfg, err = loadConfigFile(o.cfgPath, cfg); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	cfg.Verbose = cfg.Verbose || o.verbose
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	s := &setup{opts: o, cfg: cfg, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	var err error
	if s.addrs, err = listenAddresses(cfg, o.port, o.listens); err != nil {
		return nil, err
	}
	if s.policy, err = auth.LoadPolicy(authSettings(cfg, o, s.addrs)); err != nil {
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
	// by serve).
	stopSerial, stopTrim func()
}

// open applies the board's memory defaults, opens the store and rebuilds
// the broker's state from it.
func open(s *setup) (*gateway, error) {
	applyMemoryDefaults(s.profile, s.log)
	g := &gateway{setup: s, stopSerial: func() {}, stopTrim: func() {}}
	opts := brokerOptions(s.cfg, s.profile, s.log)
	if s.cfg.MaxPacketSize == 0 {
		s.log.Info("packet size limit", "max_packet_size", opts.MaxPacketSize,
			"from", "board profile: an eighth of the Go memory limit (set max_packet_size to choose)")
	}
	opts.Auth = s.policy
	opts.ConnectionsRefused = func() uint64 { return g.srv.Rejected() }
	if s.dataDir != "" {
		if w := board.TmpfsWarning(s.dataDir, "/"); w != "" {
			s.log.Warn(w)
		}
		st, err := openStore(s.cfg, s.dataDir, s.profile, s.log)
		if err != nil {
			return nil, err
		}
		g.store, opts.Store = st, st
	}
	g.broker = mqtt.NewServer(opts)
	rs, err := g.broker.Recover()
	if err != nil {
		g.closeStore()
		return nil, fmt.Errorf("recovering state from the store: %w", err)
	}
	if g.store != nil {
		s.log.Info("state recovered", "sessions", rs.Sessions, "subscriptions", rs.Subscriptions, "messages", rs.Messages,
			"routes", rs.Routes, "inbound_qos2", rs.Inbound, "retained", rs.Retained, "dropped", rs.Dropped)
	}
	return g, nil
}

// closeStore closes the flash log, if there is one.
func (g *gateway) closeStore() {
	if g.store != nil {
		g.store.Close()
	}
}

// applyMemoryDefaults sets the Go soft memory limit and GC target the board
// profile suggests for its RAM, unless GOMEMLIMIT or GOGC say otherwise.
func applyMemoryDefaults(p board.Profile, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") == "" && p.MemoryLimit > 0 {
		debug.SetMemoryLimit(p.MemoryLimit)
	}
	if os.Getenv("GOGC") == "" && p.GCPercent > 0 {
		debug.SetGCPercent(p.GCPercent)
	}
	log.Debug("board profile", "board", p.Name, "model", p.Model, "memory_limit", p.MemoryLimit, "gc_percent", p.GCPercent)
}

// Memory trim: how often the broker's allocations are looked at, and how
// many bytes allocated in one look make it a burst.
const (
	trimEvery = 10 * time.Second
	trimBurst = 2 << 20
)

// startMemoryTrim gives memory back to the system soon after a burst (a
// large message, many connections at once) instead of at the Go runtime's
// pace, which on a quiet broker is minutes: a burst's garbage is only
// found by the next GC, forced after two minutes, and its pages go back
// later still; on a router the other programs need them. Every trimEvery
// it reads how much the broker allocated (runtime/metrics, cheap), and
// when a look with trimBurst or more is followed by a quiet one, it calls
// debug.FreeOSMemory (a GC, then every free page back). A busy broker is
// left to the runtime. The returned func stops it.
func startMemoryTrim(log *slog.Logger) (stop func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(trimEvery)
		defer t.Stop()
		var last uint64
		wasBusy := false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			allocs := sample[0].Value.Uint64()
			busy := allocs-last >= trimBurst
			if wasBusy && !busy {
				debug.FreeOSMemory()
				log.Debug("memory given back to the system after a burst")
			}
			last, wasBusy = allocs, busy
		}
	})
	return func() { close(done); wg.Wait() }
}

// openStore opens (and recovers) the flash log in dir with the config's
// sync policy and the size cap: store_max_bytes, else the board profile's.
// It refuses to start on a log it cannot interpret: the error says where
// the damage is and what was kept aside.
func openStore(cfg config, dir string, p board.Profile, log *slog.Logger) (*flashstore.Log, error) {
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

// serve opens the listeners, starts the broker and the serial bridges.
func serve(g *gateway) error {
	g.srv = newTransport(g)
	var bound []string
	for _, a := range g.addrs {
		addr, err := g.srv.Listen(a.config(g.cfg.ConnectTimeout))
		if errors.Is(err, transport.ErrNotBuilt) {
			_ = g.srv.Shutdown(context.Background())
			return fmt.Errorf("listener %s: this build has no TLS/WebSocket support (built with -tags nossl)", a.address)
		}
		if err != nil {
			if a.optional {
				g.log.Debug("optional listener not available", "address", a.address, "err", err)
				continue
			}
			_ = g.srv.Shutdown(context.Background())
			return fmt.Errorf("cannot listen on %s: %w", a.address, err)
		}
		bound = append(bound, addr.String())
	}
	g.broker.Start()
	g.stopTrim = startMemoryTrim(g.log)
	g.stopSerial = serial.Start(g.cfg.Serial.Ports, serialBroker{g.broker}, g.log)
	g.log.Info("gatemq started", "version", version, "listening", strings.Join(bound, " "), "data", dataDescription(g.cfg, g.dataDir))
	if onlyLoopback(g.addrs) {
		g.log.Info("listening on loopback only: to open the broker to the network, put `listener 1883 0.0.0.0` and `allow_anonymous true` (or a password_file) in a config file given with -c")
	}
	return nil
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
// access control in force and says why. Then the TLS certificates.
func reload(g *gateway) {
	cfg := defaultConfig()
	var err error
	if g.opts.cfgPath != "" {
		cfg, err = loadConfigFile(g.opts.cfgPath, cfg)
	}
	var p *auth.Policy
	if err == nil {
		p, err = auth.LoadPolicy(authSettings(cfg, g.opts, g.addrs))
	}
	if err != nil {
		g.log.Error("reload failed; keeping the access control in force", "err", err)
	} else {
		g.broker.SetAuth(p)
		g.log.Info("reloaded password and ACL files", "password_file", cfg.PasswordFile, "acl_file", cfg.ACLFile, "allow_anonymous", p.AllowsAnonymous())
	}
	if err := g.srv.ReloadTLS(); err != nil {
		g.log.Error("TLS certificate reload failed; the old certificates stay in force", "err", err)
	}
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called (at shutdown), so a benchmark run can show where the time goes.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
