//go:build !nossl

package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// greet is a Handler that writes one byte, then waits for the peer to
// close (like a broker's idle connection).
func greet(ctx context.Context, c net.Conn, info ConnInfo) {
	defer c.Close()
	_, _ = c.Write([]byte{'!'})
	_, _ = io.Copy(io.Discard, c)
}

// benchConnect measures connection setup: dial, handshake(s), first byte,
// close. Client and server share the process and its cores.
func benchConnect(b *testing.B, cfg ListenerConfig, dial func(addr string) (net.Conn, error)) {
	s := NewServer(greet, nil, 0)
	defer s.Shutdown(context.Background())
	addr, err := s.Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	one := make([]byte, 1)
	b.ReportAllocs()
	for b.Loop() {
		c, err := dial(addr.String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		noTimeWait(c)
		c.Close()
	}
}

// noTimeWait makes c's close reset the connection, so that a benchmark's
// many short connections do not exhaust the ephemeral ports in TIME_WAIT.
func noTimeWait(c net.Conn) {
	if wc, ok := c.(*wsClient); ok {
		c = wc.Conn
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

func BenchmarkConnectPlain(b *testing.B) {
	benchConnect(b, ListenerConfig{Address: "127.0.0.1:0"}, func(addr string) (net.Conn, error) {
		return net.Dial("tcp", addr)
	})
}

// BenchmarkConnectTLS: a full TLS 1.3 handshake per connection (no session
// resumption) with an ECDSA P-256 server certificate.
func BenchmarkConnectTLS(b *testing.B) {
	pki := newPKI(b)
	cc := clientConfig(pki.ca.pool)
	cc.ClientSessionCache = nil
	benchConnect(b, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}},
		func(addr string) (net.Conn, error) { return tls.Dial("tcp", addr, cc) })
}

// BenchmarkConnectTLSClientCert adds a verified client certificate.
func BenchmarkConnectTLSClientCert(b *testing.B) {
	pki := newPKI(b)
	cc := clientConfig(pki.ca.pool, pki.client)
	benchConnect(b, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{
		CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, RequireCertificate: true,
	}}, func(addr string) (net.Conn, error) { return tls.Dial("tcp", addr, cc) })
}

func BenchmarkConnectWebSocket(b *testing.B) {
	benchConnect(b, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true}, func(addr string) (net.Conn, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		ws, status, _, err := wsUpgrade(c, upgradeRequest("Sec-WebSocket-Protocol: mqtt"))
		if err == nil && ws == nil {
			err = fmt.Errorf("upgrade answered %s", status)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		return ws, nil // the raw test client of ws_test.go
	})
}

// TestIdleConnectionRSS measures the server's resident memory per idle
// connection (plain, TLS, WebSocket, WebSocket over TLS): for each kind a
// fresh child process runs the listener, this process opens the
// connections, and the child's VmRSS is read before and after. It only runs
// with GATEMQ_MEASURE=1 and logs its figures
// (GATEMQ_MEASURE=1 go test -run IdleConnectionRSS -v ./transport).
func TestIdleConnectionRSS(t *testing.T) {
	if kind := os.Getenv("GATEMQ_RSS_CHILD"); kind != "" {
		rssChild(kind)
		return
	}
	if os.Getenv("GATEMQ_MEASURE") != "1" {
		t.Skip("measurement; set GATEMQ_MEASURE=1 to run")
	}
	pki := newPKI(t)
	cc := clientConfig(pki.ca.pool)
	const n = 1000
	for _, d := range []struct {
		kind string
		dial func(addr string) (io.Closer, error)
	}{
		{"plain", func(a string) (io.Closer, error) { return net.Dial("tcp", a) }},
		{"tls", func(a string) (io.Closer, error) { return tls.Dial("tcp", a, cc) }},
		{"ws", func(a string) (io.Closer, error) {
			ws, _, err := websocket.DefaultDialer.Dial("ws://"+a+"/mqtt", nil)
			return ws, err
		}},
		{"wss", func(a string) (io.Closer, error) {
			d := websocket.Dialer{TLSClientConfig: cc}
			ws, _, err := d.Dial("wss://"+a+"/mqtt", nil)
			return ws, err
		}},
	} {
		before, after := measureIdle(t, d.kind, pki, n, d.dial)
		t.Logf("%-5s %d idle connections: child RSS %d -> %d KiB, %.1f KiB per connection", d.kind, n, before, after, float64(after-before)/n)
	}
}

// measureIdle starts a child serving one listener of kind, opens n
// connections with dial, and returns the child's VmRSS (KiB) before and
// after.
func measureIdle(t *testing.T, kind string, pki *testPKI, n int, dial func(string) (io.Closer, error)) (before, after int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnectionRSS$")
	cmd.Env = append(os.Environ(), "GATEMQ_RSS_CHILD="+kind, "GATEMQ_CERT="+pki.certFile, "GATEMQ_KEY="+pki.keyFile)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("child printed no address")
	}
	addr := sc.Text()
	rss := func() int {
		// Have the child collect garbage and return free memory first.
		if _, err := io.WriteString(stdin, "gc\n"); err != nil || !sc.Scan() {
			t.Fatalf("child did not answer gc: %v", err)
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.Fields(v)[0])
				return kb
			}
		}
		t.Fatal("no VmRSS")
		return 0
	}
	// One connection first, so that one-time costs (TLS tables, pools) are
	// not counted per connection.
	first, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	before = rss()
	conns := make([]io.Closer, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return before, rss()
}

// rssChild serves one listener of kind until stdin closes; each
// connection's handler blocks in Read, as a broker's idle connection does.
// Each "gc" line on stdin runs a collection, returns free memory to the OS
// and answers "ok".
func rssChild(kind string) {
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		_, _ = c.Read(make([]byte, 1))
	}, nil, 0)
	cfg := ListenerConfig{Address: "127.0.0.1:0", WebSocket: kind == "ws" || kind == "wss"}
	if kind == "tls" || kind == "wss" {
		cfg.TLS = &TLSOptions{CertFile: os.Getenv("GATEMQ_CERT"), KeyFile: os.Getenv("GATEMQ_KEY")}
	}
	addr, err := s.Listen(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(addr)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		debug.FreeOSMemory()
		fmt.Println("ok")
	}
	_ = s.Shutdown(context.Background())
}
