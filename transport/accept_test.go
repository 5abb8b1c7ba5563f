package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeListener returns scripted Accept results, then blocks until Close.
type fakeListener struct {
	mu      sync.Mutex
	results []acceptResult
	closed  chan struct{}
	once    sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newFakeListener(results ...acceptResult) *fakeListener {
	return &fakeListener{results: results, closed: make(chan struct{})}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.results) > 0 {
		r := l.results[0]
		l.results = l.results[1:]
		l.mu.Unlock()
		return r.c, r.err
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *fakeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1883} }

// temporaryErr is what Go reports for EMFILE and friends.
var temporaryErr = &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}

func TestNextBackoff(t *testing.T) {
	want := []time.Duration{
		5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond,
		80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond,
		time.Second, time.Second, time.Second,
	}
	var d time.Duration
	for i, w := range want {
		d = nextBackoff(d)
		if d != w {
			t.Fatalf("step %d: nextBackoff = %v, want %v", i, d, w)
		}
	}
}

// TestAcceptBackoff drives the accept loop with failing accepts and records
// the pauses it takes instead of sleeping.
func TestAcceptBackoff(t *testing.T) {
	served := make(chan struct{}, 1)
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		c.Close()
		served <- struct{}{}
	}, nil, 0)
	var mu sync.Mutex
	var waits []time.Duration
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err() == nil
	}

	server, client := net.Pipe()
	defer client.Close()
	var script []acceptResult
	for i := 0; i < 10; i++ {
		script = append(script, acceptResult{err: temporaryErr})
	}
	script = append(script, acceptResult{c: server})                          // success resets the back-off
	script = append(script, acceptResult{err: errors.New("accept: ENOBUFS")}) // not marked temporary: still retried
	script = append(script, acceptResult{err: temporaryErr})
	ln := newFakeListener(script...)
	if !s.startListener(ln, "fake", 0) {
		t.Fatal("startListener refused before Shutdown")
	}

	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("connection after accept errors was not served")
	}
	checkFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(waits) < 12 {
			return errors.New("accept loop has not retried 12 times yet")
		}
		return nil
	})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second, 5 * ms, 10 * ms}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != len(want) {
		t.Fatalf("waits = %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
}

// TestAcceptBackoffStopsOnShutdown checks that a loop pausing after an accept
// error ends when the server shuts down, using the real sleep.
func TestAcceptBackoffStopsOnShutdown(t *testing.T) {
	s := NewServer(echo, nil, 0)
	script := make([]acceptResult, 0, 20)
	for i := 0; i < cap(script); i++ {
		script = append(script, acceptResult{err: temporaryErr})
	}
	ln := newFakeListener(script...)
	s.startListener(ln, "fake", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown while the accept loop backs off: %v", err)
	}
}

// TestAdmitAfterShutdown covers a connection accepted just as Shutdown runs:
// it is closed without a handler and leaves no count behind.
func TestAdmitAfterShutdown(t *testing.T) {
	called := false
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) { called = true }, nil, 5)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	l := &listener{name: "late", max: 5}
	s.admit(l, server)
	if called {
		t.Fatal("handler ran for a connection admitted after Shutdown")
	}
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection admitted after Shutdown was not closed")
	}
	if s.Connections() != 0 || l.open.Load() != 0 {
		t.Fatalf("counts after late admit: server %d, listener %d; want 0, 0", s.Connections(), l.open.Load())
	}
}
