package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// checkFor polls f every few milliseconds until it returns nil or total
// passes, then fails the test with f's last error.
func checkFor(t *testing.T, total time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// echo is a Handler that copies everything back until EOF.
func echo(ctx context.Context, c net.Conn, info ConnInfo) {
	defer c.Close()
	_, _ = io.Copy(c, c)
}

// newServer returns a server that is shut down when the test ends.
func newServer(t *testing.T, h Handler, max int) *Server {
	t.Helper()
	s := NewServer(h, nil, max)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func listen(t *testing.T, s *Server, cfg ListenerConfig) net.Addr {
	t.Helper()
	addr, err := s.Listen(cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	return addr
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a line on c and expects the same line back.
func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got != line+"\n" {
		t.Fatalf("echo = %q, want %q", got, line+"\n")
	}
}

// expectClosedByServer fails unless the server closes c without sending data.
func expectClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err) {
		t.Fatalf("Read on refused connection = %d, %v; want EOF or reset", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func wantConnections(t *testing.T, s *Server, n int) {
	t.Helper()
	checkFor(t, 5*time.Second, func() error {
		if got := s.Connections(); got != n {
			return fmt.Errorf("Connections() = %d, want %d", got, n)
		}
		return nil
	})
}

func TestEchoAndConnInfo(t *testing.T) {
	infos := make(chan ConnInfo, 1)
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		infos <- info
		echo(ctx, c, info)
	}, 0)
	addr := listen(t, s, ListenerConfig{Network: "tcp", Address: "127.0.0.1:0"})

	c := dial(t, addr)
	roundTrip(t, c, "hello gatemq")
	info := <-infos
	if want := "tcp " + addr.String(); info.Listener != want {
		t.Errorf("ConnInfo.Listener = %q, want %q", info.Listener, want)
	}
	if info.Remote == nil || info.Remote.String() != c.LocalAddr().String() {
		t.Errorf("ConnInfo.Remote = %v, want %v", info.Remote, c.LocalAddr())
	}
	wantConnections(t, s, 1)
	c.Close()
	wantConnections(t, s, 0)
	if s.Rejected() != 0 {
		t.Errorf("Rejected() = %d, want 0", s.Rejected())
	}
}

func TestListenerNameAndDefaultNetwork(t *testing.T) {
	infos := make(chan ConnInfo, 1)
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		infos <- info
		c.Close()
	}, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", Name: "lan"})
	dial(t, addr)
	if info := <-infos; info.Listener != "lan" {
		t.Errorf("ConnInfo.Listener = %q, want %q", info.Listener, "lan")
	}
}

func TestListenRejectsUnknownNetwork(t *testing.T) {
	s := newServer(t, echo, 0)
	_, err := s.Listen(ListenerConfig{Network: "udp", Address: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "udp") {
		t.Fatalf("Listen(udp) error = %v, want an unsupported-network error", err)
	}
}

// blockUntilEOF is a Handler that holds the connection until the peer closes
// it or the server shuts down.
func blockUntilEOF(ctx context.Context, c net.Conn, info ConnInfo) {
	defer c.Close()
	go func() { // unblocks Read on shutdown; ends when the handler closes c
		<-ctx.Done()
		c.SetReadDeadline(time.Now())
	}()
	_, _ = io.Copy(io.Discard, c)
}

func TestGlobalLimit(t *testing.T) {
	s := newServer(t, blockUntilEOF, 2)
	a1 := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	a2 := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})

	c1 := dial(t, a1)
	dial(t, a2)
	wantConnections(t, s, 2)

	// Over the limit, on either listener: accepted and closed at once.
	expectClosedByServer(t, dial(t, a1))
	expectClosedByServer(t, dial(t, a2))
	if got := s.Rejected(); got != 2 {
		t.Fatalf("Rejected() = %d, want 2", got)
	}
	if got := s.Connections(); got != 2 {
		t.Fatalf("Connections() = %d after rejections, want 2", got)
	}

	// A slot frees up: the listener still works.
	c1.Close()
	wantConnections(t, s, 1)
	dial(t, a1)
	wantConnections(t, s, 2)
	if got := s.Rejected(); got != 2 {
		t.Fatalf("Rejected() = %d, want still 2", got)
	}
}

func TestListenerLimit(t *testing.T) {
	s := newServer(t, blockUntilEOF, 0)
	limited := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", MaxConnections: 1})
	open := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})

	c1 := dial(t, limited)
	wantConnections(t, s, 1)
	expectClosedByServer(t, dial(t, limited))
	if got := s.Rejected(); got != 1 {
		t.Fatalf("Rejected() = %d, want 1", got)
	}

	// The other listener is not affected by the first one's limit.
	dial(t, open)
	dial(t, open)
	wantConnections(t, s, 3)

	c1.Close()
	wantConnections(t, s, 2)
	dial(t, limited)
	wantConnections(t, s, 3)
	if got := s.Rejected(); got != 1 {
		t.Fatalf("Rejected() = %d, want still 1", got)
	}
}

// TestLimitUnderLoad dials many connections at once and checks that the
// number of handlers running never exceeds the limit.
func TestLimitUnderLoad(t *testing.T) {
	const limit, clients = 3, 24
	var running, peak atomic.Int64
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		echo(ctx, c, info)
		running.Add(-1)
	}, limit)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})

	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, "x")
			if err == nil {
				var b [1]byte
				_, err = io.ReadFull(c, b[:]) // echoed, or EOF/reset if refused
			}
			if err != nil && isTimeout(err) {
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p > limit || p < 1 {
		t.Fatalf("peak concurrent handlers = %d, want 1..%d", p, limit)
	}
	wantConnections(t, s, 0)
	served := uint64(clients) - s.Rejected()
	if served < 1 {
		t.Fatalf("no connection served (rejected %d)", s.Rejected())
	}
}

func TestShutdownWaitsForHandlers(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	release := make(chan struct{})
	var returned atomic.Bool
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		close(started)
		<-ctx.Done()
		close(cancelled)
		<-release // e.g. sending DISCONNECT, flushing state
		returned.Store(true)
	}, nil, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	dial(t, addr)
	<-started // (a connection accepted during Shutdown is closed without a handler)
	wantConnections(t, s, 1)

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	<-cancelled // the handler saw ctx cancelled ...
	select {
	case err := <-done: // ... but has not returned, so Shutdown must still wait
		t.Fatalf("Shutdown returned %v before the handler returned", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !returned.Load() {
		t.Fatal("Shutdown returned before the handler did")
	}
	if got := s.Connections(); got != 0 {
		t.Fatalf("Connections() = %d after Shutdown, want 0", got)
	}

	// Stopped accepting, and refuses new listeners.
	if c, err := net.Dial("tcp", addr.String()); err == nil {
		c.Close()
		t.Fatal("Dial after Shutdown succeeded")
	}
	if _, err := s.Listen(ListenerConfig{Address: "127.0.0.1:0"}); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Listen after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownDeadlineClosesConnections(t *testing.T) {
	started := make(chan struct{})
	handlerDone := make(chan struct{})
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer close(handlerDone)
		defer c.Close()
		close(started)
		_, _ = io.Copy(io.Discard, c) // ignores ctx: only a closed conn stops it
	}, nil, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	dial(t, addr)
	<-started
	wantConnections(t, s, 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // deadline already passed
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still blocked after Shutdown closed its connection")
	}
	wantConnections(t, s, 0)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after handlers returned: %v", err)
	}
}

func TestShutdownWithNoListeners(t *testing.T) {
	s := NewServer(echo, nil, 0)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestBusyPort(t *testing.T) {
	s := newServer(t, echo, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	_, err := s.Listen(ListenerConfig{Address: addr.String()})
	if err == nil {
		t.Fatal("second Listen on a busy port succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
	if !strings.Contains(err.Error(), addr.String()) {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
	// The first listener is unaffected.
	roundTrip(t, dial(t, addr), "still here")
}

func TestListenIPv6Loopback(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("host has no IPv6 loopback: %v", err)
	}
	probe.Close()

	s := newServer(t, echo, 0)
	addr := listen(t, s, ListenerConfig{Network: "tcp", Address: "[::1]:0"})
	if ta, ok := addr.(*net.TCPAddr); !ok || !ta.IP.Equal(net.IPv6loopback) {
		t.Fatalf("bound address = %v, want [::1]:port", addr)
	}
	roundTrip(t, dial(t, addr), "over ipv6")
}

// TestDetachedHandler checks ConnInfo.Detach: a handler that detached and
// returned leaves its connection counted, against the limit and in
// Shutdown's wait, until its done is called, from another goroutine.
func TestDetachedHandler(t *testing.T) {
	dones := make(chan func(), 2)
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		done := info.Detach()
		go func() {
			<-ctx.Done()
			c.Close()
			dones <- done // the test calls it
		}()
	}, nil, 1)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	dial(t, addr)
	wantConnections(t, s, 1)
	time.Sleep(20 * time.Millisecond) // the handler has long returned
	wantConnections(t, s, 1)
	expectClosedByServer(t, dial(t, addr)) // over the limit of 1

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	done := <-dones
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the detached connection's done", err)
	case <-time.After(20 * time.Millisecond):
	}
	done()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := s.Connections(); got != 0 {
		t.Fatalf("Connections() = %d after done, want 0", got)
	}
}
