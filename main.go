// Command gatemq is an MQTT 3.1.1 broker for routers and home hubs: one
// static binary, small in memory and on flash.
//
// Usage:
//
//	gatemq [-c FILE] [-p PORT] [-listen ADDR:PORT]... [-v]
//
// With no config file and no flags it listens on port 1883 of the loopback
// addresses only, as Mosquitto 2 does. See README.md for the directives.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatemq/board"
	"gatemq/mqtt"
	"gatemq/transport"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// run is the whole program; it returns the process exit code.
func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, os.Stdout, stderr)
	}
	fs := flag.NewFlagSet("gatemq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "config `file` in mosquitto.conf style")
	port := fs.Int("p", 0, "listen on this `port` of the loopback addresses (overrides listeners from the config file)")
	var listens listFlag
	fs.Var(&listens, "listen", "listen on `address:port` (repeatable; e.g. 0.0.0.0:1883 opens the broker to the network; overrides the config file's listeners)")
	dataFlag := fs.String("data", "", "keep the broker's state in this `folder` (turns persistence on; overrides persistence_location)")
	memoryOnly := fs.Bool("memory", false, "keep all state in memory only (like persistence false)")
	verbose := fs.Bool("v", false, "verbose (debug) logging")
	showVersion := fs.Bool("version", false, "print the version and exit")
	showBoard := fs.Bool("board", false, "print the detected board profile and the defaults it implies, then exit")
	listSerial := fs.Bool("list-serial", false, "print the serial ports of this machine (USB vendor:product ids, /dev/serial/by-id links) and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file` until the broker stops (for benchmarks)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "gatemq %s: an MQTT broker for routers and home hubs\n\nUsage: gatemq [flags]\n\n", version)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nConfig directives (mosquitto.conf style): see README.md.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showBoard {
		fmt.Fprint(os.Stdout, board.Describe(board.Detect("/")))
		return 0
	}
	if *listSerial {
		return listSerialPorts(os.Stdout, stderr)
	}
	if *showVersion {
		fmt.Fprintln(os.Stdout, "gatemq", version)
		return 0
	}

	// Signals are caught from the start, so one that arrives while the
	// broker is still starting stops it gracefully too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	cfg := DefaultConfig()
	if *cfgPath != "" {
		var err error
		cfg, err = LoadConfigFile(*cfgPath, cfg)
		if err != nil {
			fmt.Fprintln(stderr, "gatemq: config:", err)
			return 1
		}
	}
	if *verbose {
		cfg.Verbose = true
	}
	if !cfg.PersistenceSet {
		// gatemq's default differs from Mosquitto's: state is durable unless
		// the config says persistence false (or -memory is given).
		cfg.Persistence = true
	}
	if *memoryOnly {
		cfg.Persistence = false
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	addrs, err := listenAddresses(cfg, *port, listens)
	if err != nil {
		fmt.Fprintln(stderr, "gatemq:", err)
		return 1
	}
	access, err := loadAuth(cfg, onlyLoopback(addrs))
	if err != nil {
		fmt.Fprintln(stderr, "gatemq:", err)
		return 1
	}

	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gatemq:", err)
			return 1
		}
		defer stop()
	}
	profile := board.Detect("/")
	applyMemoryDefaults(profile, log)
	opts := brokerOptions(cfg, log)
	if !cfg.MaxQueuedTotalSet && profile.MemoryLimit > 0 {
		// About 200 B per held delivery (its entry, its share of the
		// message): half the memory limit, the rest for connections.
		opts.MaxQueuedTotal = int(profile.MemoryLimit / 2 / 200)
	}
	opts.Auth = access
	var srv *transport.Server
	opts.ConnectionsRefused = func() uint64 { return srv.Rejected() }
	dir := ""
	if !*memoryOnly {
		dir = dataDir(cfg, *dataFlag, profile)
	}
	if dir != "" {
		if w := board.TmpfsWarning(dir, "/"); w != "" {
			log.Warn(w)
		}
		st, err := openStore(cfg, dir, log, profile)
		if err != nil {
			fmt.Fprintln(stderr, "gatemq:", err)
			return 1
		}
		defer st.Close()
		opts.Store = st
	}
	broker := mqtt.NewServer(opts)
	if rs, err := broker.Recover(); err != nil {
		fmt.Fprintln(stderr, "gatemq: recovering state from the store:", err)
		return 1
	} else if dir != "" {
		log.Info("state recovered", "sessions", rs.Sessions, "subscriptions", rs.Subscriptions, "messages", rs.Messages,
			"routes", rs.Routes, "inbound_qos2", rs.Inbound, "retained", rs.Retained, "dropped", rs.Dropped)
	}
	certUsername := map[string]bool{} // listener name -> use_identity_as_username
	for _, a := range addrs {
		certUsername[a.address] = a.certUsername
	}
	srv = transport.NewServer(func(ctx context.Context, c net.Conn, info transport.ConnInfo) {
		if certUsername[info.Listener] {
			broker.ServeConnAs(ctx, c, info.PeerCN)
			return
		}
		broker.ServeConn(ctx, c)
	}, log, maxConnections(cfg))

	var bound []string
	for _, a := range addrs {
		addr, err := srv.Listen(transport.ListenerConfig{Network: "tcp", Address: a.address, Name: a.address, TLS: a.tls, WebSocket: a.websocket, MaxConnections: a.maxConns,
			HandshakeTimeout: cfg.ConnectTimeout})
		if errors.Is(err, transport.ErrNotBuilt) {
			fmt.Fprintf(stderr, "gatemq: listener %s: this build has no TLS/WebSocket support (built with -tags nossl)\n", a.address)
			_ = srv.Shutdown(context.Background())
			return 1
		}
		if err != nil {
			if a.optional {
				log.Debug("optional listener not available", "address", a.address, "err", err)
				continue
			}
			fmt.Fprintf(stderr, "gatemq: cannot listen on %s: %v\n", a.address, err)
			_ = srv.Shutdown(context.Background())
			return 1
		}
		bound = append(bound, addr.String())
	}
	broker.Start()
	stopSerial := startSerial(cfg.Serial.Ports, broker, log)
	log.Info("gatemq started", "version", version, "listening", strings.Join(bound, " "), "data", dataDescription(cfg, dir))
	if onlyLoopback(addrs) {
		log.Info("listening on loopback only: to open the broker to the network, put `listener 1883 0.0.0.0` and `allow_anonymous true` (or a password_file) in a config file given with -c")
	}

	sig := <-sigs
	for sig == syscall.SIGHUP {
		reloadAuth(*cfgPath, onlyLoopback(addrs), broker, log)
		if err := srv.ReloadTLS(); err != nil {
			log.Error("TLS certificate reload failed; the old certificates stay in force", "err", err)
		}
		sig = <-sigs
	}
	signal.Stop(sigs)
	log.Info("shutting down", "signal", sig.String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopSerial() // offline statuses go out while the broker still runs
	_ = srv.Shutdown(ctx)
	if err := broker.Shutdown(ctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
	}
	log.Info("stopped")
	return 0
}

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

// listenAddresses decides where to listen: -listen flags, else -p on the
// loopback addresses, else the config file's listeners, else port 1883 on
// the loopback addresses.
func listenAddresses(cfg Config, port int, listens []string) ([]listenAddr, error) {
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

// dataDescription says where the broker's state lives, for the start log.
func dataDescription(cfg Config, dir string) string {
	if dir != "" {
		return dir + " (sync " + cfg.Sync.String() + ")"
	}
	return "in memory only (persistence off: sessions and retained messages are lost on restart)"
}

// maxConnections turns Mosquitto's max_connections (-1 = unlimited) into the
// transport's (0 = unlimited).
func maxConnections(cfg Config) int {
	if cfg.MaxConnections < 0 {
		return 0
	}
	return cfg.MaxConnections
}

// brokerOptions maps the config onto the broker's options.
func brokerOptions(cfg Config, log *slog.Logger) mqtt.Options {
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
	if cfg.MaxQueuedBytes > 0 {
		o.MaxQueuedBytes = int(cfg.MaxQueuedBytes)
	}
	return o
}
