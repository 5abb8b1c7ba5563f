package main

// The bridge tests' harness: a TCP proxy whose faults a test switches at
// run time (faultProxy), and Debian's mosquitto as the upstream broker
// (startMosquittoUpstream).
//
//	up := startMosquittoUpstream(t, upstreamOptions{})
//	px := newFaultProxy(t, up.addr)
//	... a bridge to px.addr() ...
//	px.setMode(proxyBlackhole) // the link goes silent
//	px.setMode(proxyRefuse)    // the upstream is gone
//	px.setMode(proxyPass)      // and back

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyMode is what a faultProxy does with connections.
type proxyMode int32

const (
	// proxyPass forwards bytes both ways between the client and a
	// connection to the target, opened when the client connects.
	proxyPass proxyMode = iota
	// proxyRefuse closes every connection at once, with a TCP reset: the
	// open ones when the mode is set, new ones as soon as they are
	// accepted (the client sees its connection reset before any byte).
	proxyRefuse
	// proxyBlackhole keeps connections open and swallows the bytes of
	// both sides: nothing is forwarded, nothing is answered, and no error
	// is seen, as on a link that went silent. A new connection is
	// accepted and never reaches the target. A connection that was open
	// when the mode was set stays swallowed for good, even after
	// proxyPass (its byte stream lost bytes): only new connections go
	// through again.
	proxyBlackhole
)

func (m proxyMode) String() string {
	return [...]string{"pass", "refuse", "blackhole"}[m]
}

// faultProxy is a TCP proxy on 127.0.0.1 to a target address. Its
// goroutines end, and its connections close, at the test's cleanup.
type faultProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	mode   atomic.Int32 // a proxyMode

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and every connection's goroutines
}

// proxyConn is one client connection and, in pass mode, its connection to
// the target.
type proxyConn struct {
	client, upstream net.Conn // upstream is nil when it never reached the target
	swallow          atomic.Bool
	once             sync.Once
}

// close closes both sides; reset makes the client's a TCP reset.
func (c *proxyConn) close(reset bool) {
	c.once.Do(func() {
		if tc, ok := c.client.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		c.client.Close()
		if c.upstream != nil {
			c.upstream.Close()
		}
	})
}

// newFaultProxy starts a proxy to target in pass mode.
func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's address, host:port, for the client to connect to.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// setMode switches the proxy; refuse and blackhole apply at once to the
// open connections too (see the modes).
func (p *faultProxy) setMode(m proxyMode) {
	p.mode.Store(int32(m))
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		switch m {
		case proxyRefuse:
			c.close(true)
		case proxyBlackhole:
			c.swallow.Store(true)
		}
	}
	p.t.Logf("fault proxy %s → %s: %s", p.addr(), p.target, m)
}

// open returns the number of client connections open through the proxy.
func (p *faultProxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines to end.
func (p *faultProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.close(false)
	}
	p.mu.Unlock()
	p.ln.Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("fault proxy %s: goroutines still running 10s after close", p.addr())
	}
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		c := &proxyConn{client: client}
		switch proxyMode(p.mode.Load()) {
		case proxyRefuse:
			c.close(true)
			continue
		case proxyBlackhole:
			c.swallow.Store(true)
		case proxyPass:
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				p.t.Logf("fault proxy: target %s: %v", p.target, err)
				c.close(true)
				continue
			}
			c.upstream = up
		}
		if !p.track(c) {
			c.close(false)
			return
		}
		p.wg.Add(2)
		go p.pipe(c, c.client, c.upstream)
		go p.pipe(c, c.upstream, c.client)
	}
}

// track adds c to the open connections, unless the proxy is closing.
func (p *faultProxy) track(c *proxyConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	// A mode set between Accept and here must apply to c too.
	switch proxyMode(p.mode.Load()) {
	case proxyRefuse:
		c.close(true)
	case proxyBlackhole:
		c.swallow.Store(true)
	}
	p.conns[c] = struct{}{}
	return true
}

// pipe copies src to dst until either side ends (then it closes both), or
// reads and drops src while c swallows. A nil src (no target) has nothing
// to read.
func (p *faultProxy) pipe(c *proxyConn, src, dst net.Conn) {
	defer p.wg.Done()
	if src == nil {
		return
	}
	defer func() {
		c.close(false)
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.swallow.Load() && dst != nil {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// upstreamOptions choose what startMosquittoUpstream's broker offers.
type upstreamOptions struct {
	// CertFile and KeyFile (PEM) add a TLS listener; CAFile is the CA its
	// clients' certificates must chain to when RequireCertificate is set.
	CertFile, KeyFile, CAFile string
	RequireCertificate        bool
	// Persistence keeps the broker's state in a folder of the test, across
	// stop and start (default off).
	Persistence bool
	// Extra are more mosquitto.conf lines (password_file, acl_file, ...);
	// allow_anonymous true is there already.
	Extra string
	// Verbose logs everything (log_type all); the log is shown when the
	// test fails.
	Verbose bool
}

// upstream is Debian's mosquitto started for a bridge test.
type upstream struct {
	addr    string // 127.0.0.1:port, MQTT over TCP
	tlsAddr string // 127.0.0.1:port, MQTT over TLS; "" without CertFile
	conf    string // the config file's path
	proc    *proc
}

// startMosquittoUpstream starts /usr/sbin/mosquitto on free loopback ports
// with a config made from opts, waits until it accepts connections, and
// stops it at the test's cleanup.
func startMosquittoUpstream(t *testing.T, opts upstreamOptions) *upstream {
	t.Helper()
	n := 1
	if opts.CertFile != "" {
		n = 2
	}
	p, ports, conf := startMosquittoConf(t, n, func(ports []int) string { return upstreamConfig(t, opts, ports) })
	u := &upstream{addr: "127.0.0.1:" + strconv.Itoa(ports[0]), conf: conf, proc: p}
	if n == 2 {
		u.tlsAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	}
	return u
}

// upstreamConfig is the mosquitto.conf of opts on ports (TCP, then TLS).
func upstreamConfig(t *testing.T, opts upstreamOptions, ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", ports[0])
	if opts.CertFile != "" {
		fmt.Fprintf(&b, "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n", ports[1], opts.CertFile, opts.KeyFile)
		if opts.CAFile != "" {
			fmt.Fprintf(&b, "cafile %s\n", opts.CAFile)
		}
		fmt.Fprintf(&b, "require_certificate %t\n", opts.RequireCertificate)
	}
	b.WriteString("allow_anonymous true\n")
	if opts.Persistence {
		fmt.Fprintf(&b, "persistence true\npersistence_location %s/\nautosave_interval 1\n", t.TempDir())
	} else {
		b.WriteString("persistence false\n")
	}
	if opts.Verbose {
		b.WriteString("log_type all\n")
	}
	b.WriteString(opts.Extra)
	return b.String()
}

// stop stops the upstream (SIGTERM) and waits until it has exited.
func (u *upstream) stop(t *testing.T) {
	t.Helper()
	if u.proc.exited() {
		return
	}
	_ = u.proc.cmd.Process.Signal(os.Interrupt)
	u.proc.wait(t, 10*time.Second)
}

// start starts the upstream again, on the same ports with the same
// config (and state, with Persistence), after stop.
func (u *upstream) start(t *testing.T) {
	t.Helper()
	u.proc = startProc(t, nil, requireTool(t, "mosquitto", "mosquitto"), "-c", u.conf)
	addrs := []string{u.addr}
	if u.tlsAddr != "" {
		addrs = append(addrs, u.tlsAddr)
	}
	if err := awaitAccepting(u.proc, addrs); err != nil {
		t.Fatal(err)
	}
}

// startMosquittoConf starts Debian's mosquitto with the config conf(ports)
// on n free loopback ports and returns it with the ports and the config
// file's path once it accepts connections on all of them. A port found free can be taken before
// mosquitto binds it: the start is then retried on other ports. Started as
// root, mosquitto stays root (user root) so that it can read and write the
// test's folders.
func startMosquittoConf(t *testing.T, n int, conf func(ports []int) string) (*proc, []int, string) {
	t.Helper()
	bin := requireTool(t, "mosquitto", "mosquitto")
	for attempt := 1; ; attempt++ {
		ports := make([]int, n)
		addrs := make([]string, n)
		for i := range ports {
			ports[i] = freePort(t)
			addrs[i] = "127.0.0.1:" + strconv.Itoa(ports[i])
		}
		text := conf(ports)
		if os.Geteuid() == 0 {
			text += "user root\n"
		}
		path := filepath.Join(t.TempDir(), "mosquitto.conf")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startProc(t, nil, bin, "-c", path)
		err := awaitAccepting(p, addrs)
		if err == nil {
			return p, ports, path
		}
		if attempt < 5 && errors.Is(err, errExited) && strings.Contains(p.stderr.String(), "Address already in use") {
			t.Logf("a port of %v was taken meanwhile; retrying", ports)
			continue
		}
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
}

// awaitAccepting waits until every address accepts TCP connections; it
// fails (wrapping errExited) if the process exits first.
func awaitAccepting(p *proc, addrs []string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for _, addr := range addrs {
		for {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			select {
			case <-tick.C:
			case <-p.done:
				return fmt.Errorf("%s %w (%v) before accepting on %s", p.name, errExited, p.err, addr)
			case <-deadline:
				return fmt.Errorf("%s does not accept on %s", p.name, addr)
			}
		}
	}
	return nil
}

// readSome reads from c until it has n bytes or timeout passes.
func readSome(c net.Conn, n int, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, n)
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	got, err := io.ReadFull(c, buf)
	return buf[:got], err
}

// echoTarget is a TCP server on 127.0.0.1 that sends back what it reads,
// counting the connections it accepted and the bytes it received.
type echoTarget struct {
	ln       net.Listener
	accepted atomic.Int32
	received atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newEchoTarget(t *testing.T) *echoTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoTarget{ln: ln}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						_, _ = c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

// proxyDial connects to the proxy.
func proxyDial(t *testing.T, p *faultProxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", p.addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoes writes msg on c and reports whether it comes back within timeout.
func echoes(t *testing.T, c net.Conn, msg string, timeout time.Duration) (bool, error) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		return false, err
	}
	got, err := readSome(c, len(msg), timeout)
	return string(got) == msg, err
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedSoon reports whether c gets closed (a read fails, not by timeout)
// within 5 s, and the read's error.
func closedSoon(c net.Conn) (bool, error) {
	_, err := readSome(c, 1, 5*time.Second)
	return err != nil && !isTimeout(err), err
}

// proxiedEcho starts an echo target, a proxy to it and a connection
// through the proxy, which has echoed once.
func proxiedEcho(t *testing.T) (*echoTarget, *faultProxy, net.Conn) {
	t.Helper()
	e := newEchoTarget(t)
	p := newFaultProxy(t, e.ln.Addr().String())
	c := proxyDial(t, p)
	if ok, err := echoes(t, c, "first", 5*time.Second); !ok {
		t.Fatalf("no echo through the proxy: %v", err)
	}
	return e, p, c
}

func TestFaultProxyPass(t *testing.T) {
	e, p, c := proxiedEcho(t)
	for _, msg := range []string{"hello", strings.Repeat("x", 100000)} {
		if ok, err := echoes(t, c, msg, 5*time.Second); !ok {
			t.Fatalf("%d bytes did not come back through the proxy: %v", len(msg), err)
		}
	}
	if p.open() != 1 || e.accepted.Load() != 1 {
		t.Errorf("open %d, target accepted %d; want 1 and 1", p.open(), e.accepted.Load())
	}
	c.Close() // the client leaves: the proxy closes the target's side
	deadline := time.Now().Add(5 * time.Second)
	for p.open() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.open() != 0 {
		t.Errorf("%d connections still open after the client closed", p.open())
	}
}

func TestFaultProxyRefuse(t *testing.T) {
	e, p, old := proxiedEcho(t)
	p.setMode(proxyRefuse)
	// The open connection is cut at once.
	if ok, err := closedSoon(old); !ok {
		t.Errorf("the open connection was not closed by refuse: read error %v", err)
	}
	// A new one is reset before any byte (often before the connect
	// returns), and never reaches the target.
	accepted := e.accepted.Load()
	if c, err := net.DialTimeout("tcp", p.addr(), 5*time.Second); err == nil {
		if ok, err := closedSoon(c); !ok {
			t.Errorf("a new connection was not closed in refuse mode: read error %v", err)
		}
		c.Close()
	}
	if e.accepted.Load() != accepted {
		t.Errorf("the target got a connection in refuse mode")
	}
	// And back to pass.
	p.setMode(proxyPass)
	if ok, err := echoes(t, proxyDial(t, p), "after", 5*time.Second); !ok {
		t.Errorf("no echo after refuse → pass: %v", err)
	}
}

func TestFaultProxyBlackhole(t *testing.T) {
	e, p, old := proxiedEcho(t)
	p.setMode(proxyBlackhole)
	received := e.received.Load()
	// The open connection stays open and silent: the bytes go nowhere.
	if ok, err := echoes(t, old, "lost", 300*time.Millisecond); ok || !isTimeout(err) {
		t.Errorf("blackhole: echo %v, read error %v; want nothing back and the connection open", ok, err)
	}
	// A new connection is accepted, swallowed, and never reaches the target.
	accepted := e.accepted.Load()
	c := proxyDial(t, p)
	if ok, err := echoes(t, c, "lost too", 300*time.Millisecond); ok || !isTimeout(err) {
		t.Errorf("blackhole, new connection: echo %v, read error %v; want nothing back and the connection open", ok, err)
	}
	if e.accepted.Load() != accepted || e.received.Load() != received {
		t.Errorf("the target got %d connections and %d bytes in blackhole mode",
			e.accepted.Load()-accepted, e.received.Load()-received)
	}
	if p.open() != 2 {
		t.Errorf("%d connections open in blackhole mode, want 2 (they stay open)", p.open())
	}
	// Back to pass: new connections go through; the swallowed ones stay
	// swallowed (their byte streams lost bytes).
	p.setMode(proxyPass)
	if ok, err := echoes(t, proxyDial(t, p), "after", 5*time.Second); !ok {
		t.Errorf("no echo after blackhole → pass: %v", err)
	}
	if ok, err := echoes(t, old, "still lost", 300*time.Millisecond); ok || !isTimeout(err) {
		t.Errorf("a swallowed connection came back: echo %v, read error %v", ok, err)
	}
}

// TestFaultProxyCloseEndsAll: closing the proxy closes every connection,
// in every mode, and ends its goroutines (close fails the test if they
// linger).
func TestFaultProxyCloseEndsAll(t *testing.T) {
	e := newEchoTarget(t)
	p := newFaultProxy(t, e.ln.Addr().String())
	var cs []net.Conn
	for _, m := range []proxyMode{proxyPass, proxyBlackhole, proxyPass} {
		p.setMode(m)
		c := proxyDial(t, p)
		if m == proxyPass {
			if ok, err := echoes(t, c, "x", 5*time.Second); !ok {
				t.Fatalf("no echo: %v", err)
			}
		}
		cs = append(cs, c)
	}
	p.close()
	for i, c := range cs {
		if ok, err := closedSoon(c); !ok {
			t.Errorf("connection %d not closed by close: %v", i, err)
		}
	}
	if _, err := net.DialTimeout("tcp", p.addr(), time.Second); err == nil {
		t.Errorf("the proxy still accepts after close")
	}
}

// TestBridgeHarnessUpstream starts the upstream mosquitto, speaks MQTT to
// it through the proxy, and restarts it.
func TestBridgeHarnessUpstream(t *testing.T) {
	u := startMosquittoUpstream(t, upstreamOptions{Persistence: true})
	p := newFaultProxy(t, u.addr)
	mqttConnect(t, p.addr(), "harness")
	u.stop(t)
	u.start(t)
	mqttConnect(t, p.addr(), "harness")
	if conf, err := os.ReadFile(u.conf); err != nil || !strings.Contains(string(conf), "persistence true") {
		t.Errorf("config without persistence (%v):\n%s", err, conf)
	}
}
