package main

// What an idle connection costs the broker: the issue "Lighter on the
// router" measured 14 KiB (an 8 KiB goroutine stack, a 1 KiB read buffer,
// a 2 KiB client struct ...) against Mosquitto's 0.7 KiB. The broker runs
// in a child process (this test binary again, TestIdleMemoryChild) started
// as the binary starts it (load, start: the transport's listener, the
// board's memory settings), so that the measurement counts nothing of the
// clients; the parent opens N raw connections (TCP, TLS, WebSocket, or
// WebSocket over TLS) that each complete an MQTT 3.1.1 CONNECT, and the
// child reports its Go heap and stacks in use
// (runtime.MemStats HeapInuse + StackInuse, after two collections) after
// the first quarter of them and after all of them, each time once every
// connection has parked (mqtt/idle.go: after a quarter of a second
// without a packet): the cost per connection is that of the last three
// quarters, so that what the broker takes once is not counted as if each
// connection took a share of it (holdIdle).
//
// It also logs all the Go runtime holds (goHeld: the heap's free room in
// its spans, metadata, the poller's descriptors), which is more.
//
// N is 1,000 so that `make test` stays quick; GATEMQ_IDLE_CONNS=10000 gives
// the figure (RLIMIT_NOFILE must allow it), GOARCH=386 a 32-bit
// board's, and TestQemuIdleConnectionMemory the mipsle and armv5 builds'
// under qemu-user.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatemq/board"
)

// idleBudget is the most an idle connection may cost, in bytes.
const idleBudget = 4 << 10

// idleBudgetOf returns the most an idle connection of kind
// (startIdleChild) may cost, in bytes: idleBudget, or more over TLS, where
// a parked connection still holds its tls.Conn (README: memory per idle
// connection), and with a client certificate the certificate crypto/tls
// parsed besides.
func idleBudgetOf(kind string) int {
	switch kind {
	case "tls", "wss":
		return 12 << 10
	case "tls-cert":
		return 16 << 10
	}
	return idleBudget
}

// idleChildEnv names the variable that makes TestIdleMemoryChild serve:
// its value is the config file; idleChildAddrEnv's is the address of the
// listener when it is a plain one.
const (
	idleChildEnv     = "GATEMQ_IDLE_MEMORY_CHILD"
	idleChildAddrEnv = "GATEMQ_IDLE_MEMORY_ADDR"
)

// TestIdleConnectionMemory checks that an idle plain TCP connection, and
// a WebSocket one over plain TCP, costs the broker at most 4 KiB of Go
// heap and stack, and one over TLS (mqtts://, with and without a client
// certificate, and wss://) at most idleBudgetOf's figure: one that only
// connected (keep alive 0), and one with a keep alive of 60 s that
// subscribed to a topic of its own (a sensor's typical connection).
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a thousand sockets")
	}
	n := idleConns(t)
	for _, kind := range []string{"tcp", "websocket", "tls", "tls-cert", "wss"} {
		for _, v := range idleVariants {
			t.Run(kind+"/"+v.name, func(t *testing.T) {
				startIdleChild(t, kind).holdIdle(t, kind, n, v)
			})
		}
	}
}

// idleConns is how many connections the idle memory tests open: 1,000, or
// GATEMQ_IDLE_CONNS.
func idleConns(t *testing.T) int {
	t.Helper()
	n := 1000
	if v := os.Getenv("GATEMQ_IDLE_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("GATEMQ_IDLE_CONNS=%q: want a positive count", v)
		}
	}
	return n
}

// idleVariant is one kind of idle client.
type idleVariant struct {
	name      string
	keepalive uint16 // seconds; 0: none
	subscribe bool   // to a topic of its own, at QoS 1
}

// idleVariants are the idle clients measured: one that only connected, and
// a sensor's typical connection.
var idleVariants = []idleVariant{
	{"connect", 0, false},
	{"keepalive 60 s and one subscription", 60, true},
}

// idleFloor is the least an idle connection can plausibly cost, in bytes
// (its client struct and session alone take more): a figure below it means
// the measurement saw nothing, and fails rather than passes.
const idleFloor = 256

// idleCost is what one idle connection costs the broker, in bytes.
type idleCost struct {
	// inUse is the Go heap and stacks in use: what idleBudget bounds.
	inUse float64
	// held is all the Go runtime holds from the system: inUse, the unused
	// room in its heap spans, its metadata, and runtime structures outside
	// the heap (the network poller's descriptors, finalizers): close to
	// what the system counts for the process, and nothing of qemu's.
	held float64
	// rss is the growth of the child's resident set: the process's, with
	// qemu's own memory under emulation.
	rss float64
}

// holdIdle opens n connections of kind that each complete v's CONNECT
// (and SUBSCRIBE), measuring the child once the first quarter of them and
// once all of them are parked, logs the cost of one of the last three
// quarters, checks it against its budget (idleBudgetOf) and idleFloor,
// and returns it.
func (ch *idleChild) holdIdle(t *testing.T, kind string, n int, v idleVariant) idleCost {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	open := func(upTo int) {
		for i := len(conns); i < upTo; i++ {
			c, err := ch.dial()
			if err == nil {
				err = idleClient(c, fmt.Sprintf("idle-%06d", i), v.keepalive, v.subscribe)
			}
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
		}
	}
	// The cost is that of the last three quarters of the connections:
	// what the broker takes once, with its first connections, is in the
	// base. That is chiefly the stacks of ended goroutines the runtime
	// keeps for reuse (up to 64 per processor, each the size of a
	// connection's goroutine, which a race build makes larger): about
	// 1 MiB that a measurement from zero would spread over 1,000
	// connections as 1 KiB each, and over 10,000 as 0.1 KiB.
	warm := n / 4
	open(warm)
	base := ch.measure(t, warm)
	open(n)
	m := ch.measure(t, n)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n-warm) }
	heap, stack := per(m.heap, base.heap), per(m.stack, base.stack)
	c := idleCost{inUse: heap + stack, held: per(m.held, base.held), rss: per(m.rss, base.rss)}
	t.Logf("%s %s, %d connections (%s): %.0f B per idle connection (heap %.0f B, stacks %.0f B); the Go runtime holds %+.0f B per connection; %s %+.0f B per connection; %d goroutines, %d connections parked",
		kind, v.name, n, ch.arch, c.inUse, heap, stack, c.held, ch.rssName, c.rss, m.goroutines, m.parked)
	budget := idleBudgetOf(kind)
	if c.inUse > float64(budget) {
		t.Errorf("an idle connection costs %.0f B, over the budget of %d B", c.inUse, budget)
	}
	if c.inUse < idleFloor {
		t.Errorf("an idle connection costs %.0f B, less than the %d B it must take at least: the measurement is broken", c.inUse, idleFloor)
	}
	return c
}

// idleChild is a broker process started by startIdleChild.
type idleChild struct {
	addr    string                   // its listener's address
	dial    func() (net.Conn, error) // connects to its listener
	in      io.Writer
	lines   chan string // its output, line by line; closed at its end
	arch    string      // its GOARCH, from its ready line
	rssName string      // what its RSS figure is, for the log
	// tls is the clients' TLS configuration for a tls or wss listener
	// (trusting its certificate), caFile the PEM file of the CA that
	// signed it.
	tls    *tls.Config
	caFile string
}

// idleChildAnswer is how long the child may take to answer: to start, or
// to see the connections parked (it waits up to 30 s) and collect twice.
const idleChildAnswer = 2 * time.Minute

// idleUse is the child's memory at one moment.
type idleUse struct {
	heap, stack, rss   uint64
	held               uint64 // all the Go runtime holds from the system
	goroutines, parked int
}

// startIdleChild starts the broker in a child process with one listener of
// kind (tcp, tls, tls-cert: TLS with require_certificate, websocket or
// wss) on a free loopback port; it ends with the
// test. The child is this test binary, or the command run names: a test
// binary of this package, after the program that runs it (qemu-user).
func startIdleChild(t *testing.T, kind string, run ...string) *idleChild {
	t.Helper()
	return startIdleChildWith(t, kind, "", run...)
}

// startIdleChildWith is startIdleChild with the config lines extra (global
// directives, each ending in a newline) besides.
func startIdleChildWith(t *testing.T, kind, extra string, run ...string) *idleChild {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	addr := "127.0.0.1:" + port
	conf := anonymousOK + extra + "listener " + port + " 127.0.0.1\n"
	ch := &idleChild{addr: addr, dial: func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }, rssName: "RSS"}
	switch kind {
	case "tls":
		pki := twNewPKI(t)
		conf += pki.serverLines
		tc := twTLS(pki.ca.pool)
		ch.tls, ch.caFile = tc, pki.ca.file
		ch.dial = func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, tc)
		}
	case "tls-cert":
		pki := twNewPKI(t)
		conf += pki.serverLines + "cafile " + pki.ca.file + "\nrequire_certificate true\n"
		tc := twTLS(pki.ca.pool, pki.alice.pair)
		ch.tls, ch.caFile = tc, pki.ca.file
		ch.dial = func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, tc)
		}
	case "websocket":
		conf += "protocol websockets\n"
		ch.dial = func() (net.Conn, error) { return wsDial(addr) }
	case "wss":
		pki := twNewPKI(t)
		conf += "protocol websockets\n" + pki.serverLines
		tc := twTLS(pki.ca.pool)
		ch.tls, ch.caFile = tc, pki.ca.file
		ch.dial = func() (net.Conn, error) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, tc)
			if err != nil {
				return nil, err
			}
			return wsUpgrade(c, addr)
		}
	}
	if len(run) == 0 {
		run = []string{os.Args[0]}
	}
	cmd := exec.Command(run[0], append(run[1:], "-test.run=^TestIdleMemoryChild$", "-test.v=false")...)
	cmd.Env = append(os.Environ(), idleChildEnv+"="+writeConfig(t, conf))
	if kind == "tcp" {
		cmd.Env = append(cmd.Env, idleChildAddrEnv+"="+addr)
	}
	var stderr strings.Builder // its log; shown if the test fails
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch.lines = make(chan string)
	stop := make(chan struct{})
	go func() {
		defer close(ch.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ch.lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		in.Close() // the child stops when its input ends
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the broker child did not stop within 20 s")
		}
		if t.Failed() {
			t.Logf("the broker child's log:\n%s", stderr.String())
		}
	})
	ch.in = in
	ch.arch = ch.expect(t, "ready ")
	return ch
}

// expect reads the child's next line, which must start with want, and
// returns the rest.
func (ch *idleChild) expect(t *testing.T, want string) string {
	t.Helper()
	timeout := time.NewTimer(idleChildAnswer)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-ch.lines:
			if !ok {
				t.Fatalf("the broker child ended before saying %q", want)
			}
			if rest, ok := strings.CutPrefix(line, want); ok {
				return rest
			}
			t.Logf("child: %s", line) // the test framework's own lines
		case <-timeout.C:
			t.Fatalf("the broker child did not say %q within %v", want, idleChildAnswer)
		}
	}
}

// measure asks the child for its memory once n connections are parked.
func (ch *idleChild) measure(t *testing.T, n int) idleUse {
	t.Helper()
	fmt.Fprintf(ch.in, "measure %d\n", n)
	var u idleUse
	rest := ch.expect(t, "use ")
	if _, err := fmt.Sscanf(rest, "%d %d %d %d %d %d", &u.heap, &u.stack, &u.rss, &u.goroutines, &u.parked, &u.held); err != nil {
		t.Fatalf("child's answer %q: %v", rest, err)
	}
	if u.parked < n {
		t.Fatalf("only %d of %d connections parked", u.parked, n)
	}
	return u
}

// idleClient completes an MQTT 3.1.1 CONNECT on c with a clean session
// and keep alive, and, with subscribe, subscribes to a topic of its own at
// QoS 1.
func idleClient(c net.Conn, id string, keepalive uint16, subscribe bool) error {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, byte(keepalive >> 8), byte(keepalive), byte(len(id) >> 8), byte(len(id))}
	pkt := append([]byte{0x10, byte(len(body) + len(id))}, append(body, id...)...)
	want := []byte{0x20, 2, 0, 0}
	if subscribe {
		filter := "idle/" + id
		pkt = append(pkt, 0x82, byte(5+len(filter)), 0, 1, 0, byte(len(filter)))
		pkt = append(append(pkt, filter...), 1)
		want = append(want, 0x90, 3, 0, 1, 1)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return err
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(want) {
		c.Close()
		return fmt.Errorf("answer % x (%v), want % x", got, err, want)
	}
	return nil
}

// wsDial opens a WebSocket connection (subprotocol mqtt) to addr and
// returns it as a byte stream: each Write is one masked binary frame, Read
// returns the payloads of the broker's frames (which these tests expect
// to be unfragmented binary frames).
func wsDial(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return wsUpgrade(c, addr)
}

// wsUpgrade is wsDial over c, a connection to addr (a TLS one for wss).
func wsUpgrade(c net.Conn, addr string) (net.Conn, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /mqtt HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		c.Close()
		return nil, fmt.Errorf("upgrade answered %q (%v)", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	_ = c.SetDeadline(time.Time{})
	return &wsClient{Conn: c, br: br}, nil
}

// wsClient is the client side of a WebSocket connection (wsDial).
type wsClient struct {
	net.Conn
	br   *bufio.Reader
	left int // payload bytes of the current frame not read yet
}

func (w *wsClient) Write(b []byte) (int, error) {
	frame := []byte{0x82}
	switch {
	case len(b) < 126:
		frame = append(frame, 0x80|byte(len(b)))
	default:
		frame = append(frame, 0x80|126, byte(len(b)>>8), byte(len(b)))
	}
	frame = append(frame, 0, 0, 0, 0) // masking key 0: the payload as it is
	if _, err := w.Conn.Write(append(frame, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (w *wsClient) Read(b []byte) (int, error) {
	for w.left == 0 {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return 0, err
		}
		w.left = int(h[1] & 0x7f)
		if w.left == 126 {
			var l [2]byte
			if _, err := io.ReadFull(w.br, l[:]); err != nil {
				return 0, err
			}
			w.left = int(l[0])<<8 | int(l[1])
		}
	}
	n, err := w.br.Read(b[:min(len(b), w.left)])
	w.left -= n
	return n, err
}

// TestIdleMemoryChild is the broker of TestIdleConnectionMemory (and of
// TestQemuIdleConnectionMemory); it does nothing unless one of them started
// it. It starts gatemq as run does (in memory, with the config file the
// variable names), says "ready GOARCH", and answers each line "measure N"
// of its input, once N connections are parked, with "use HEAP STACK RSS
// GOROUTINES PARKED HELD" (bytes of heap and stack in use after two
// collections, resident bytes once the free memory went back to the
// system, and bytes the Go runtime holds: goHeld), and the line
// "shutdown" by shutting the broker down as the binary does and saying
// "shutdown ok" (or the error); it stops at the end of its input.
func TestIdleMemoryChild(t *testing.T) {
	conf, addr := os.Getenv(idleChildEnv), os.Getenv(idleChildAddrEnv)
	if conf == "" {
		t.Skip("only the broker process of TestIdleConnectionMemory")
	}
	g := startInProcess(t, conf, os.Stderr)
	// One connection first on a plain listener, so that the baseline
	// includes what the first connection sets up once (the idle poller,
	// pools).
	if addr != "" {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err == nil {
			err = idleClient(c, "idle-warmup", 0, false)
		}
		if err != nil {
			t.Fatal(err)
		}
		waitParked(g, 1)
		c.Close()
		waitParked(g, 0)
	}

	// runtime/metrics sets itself up at its first read: before the
	// baseline, so that it counts in neither figure.
	goHeld()
	fmt.Println("ready", runtime.GOARCH)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "shutdown" {
			fmt.Println("shutdown", idleChildShutdown(g))
			continue
		}
		var n int
		if _, err := fmt.Sscanf(in.Text(), "measure %d", &n); err != nil {
			t.Fatalf("command %q: %v", in.Text(), err)
		}
		parked := waitParked(g, n)
		runtime.GC()
		debug.FreeOSMemory() // a second collection, and the RSS without what is free
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		held := goHeld()
		rss := procStatusSelf("VmRSS") // last: under qemu-user, new code grows qemu's translation cache
		fmt.Printf("use %d %d %d %d %d %d\n", ms.HeapInuse, ms.StackInuse, rss, runtime.NumGoroutine(), parked, held)
	}
}

// startInProcess starts gatemq in this process as run does, in memory,
// with the config file conf, and stops its serial bridge and memory
// trimming when the test ends; stderr gets what load says there.
func startInProcess(t *testing.T, conf string, stderr io.Writer) *gateway {
	t.Helper()
	o, exit := parseFlags([]string{"-c", conf, "-memory"}, stderr)
	if exit >= 0 {
		t.Fatal("bad flags")
	}
	s, err := load(o, board.Detector{Root: "/"}, io.Discard, stderr)
	if err != nil {
		t.Fatal(err)
	}
	g, err := start(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.stopSerial)
	t.Cleanup(g.stopTrim)
	return g
}

// idleChildShutdown shuts the child's listeners and broker down as the
// binary does on SIGTERM, within 10 s, and returns "ok" or what failed.
func idleChildShutdown(g *gateway) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(g.srv.Shutdown(ctx), g.broker.Shutdown(ctx)); err != nil {
		return err.Error()
	}
	return "ok"
}

// waitParked waits up to 30 s until n connections are parked (exactly n:
// 0 waits for the others to end) and returns how many are.
func waitParked(g *gateway, n int) int {
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := g.broker.ParkedConnections()
		if p == n || time.Now().After(deadline) {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStatusSelf returns a "kB" field of /proc/self/status in bytes (0
// where there is none).
func procStatusSelf(field string) uint64 {
	return procSelf("status", field) << 10
}

// procSelf returns the number in a field of /proc/self/FILE ("status",
// "io"), without its unit (0 where there is none).
func procSelf(file, field string) uint64 {
	b, err := os.ReadFile("/proc/self/" + file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// goHeld returns the bytes the Go runtime holds from the system: all it
// has mapped for use (heap, stacks, metadata, its other structures) less
// the heap pages it has given back.
func goHeld() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}
