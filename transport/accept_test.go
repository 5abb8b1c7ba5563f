package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
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

// goroutineID returns the id of the calling goroutine, from its stack
// trace's first line ("goroutine 42 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// TestSpareGoroutines checks that a goroutine whose handler returned
// serves the next connection, that at most maxSpares wait, and that
// Shutdown ends them (and waits for them).
func TestSpareGoroutines(t *testing.T) {
	ids := make(chan string, 64)
	var mu sync.Mutex
	hold := make(chan struct{}) // handlers return once it is closed
	s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
		ids <- goroutineID()
		mu.Lock()
		h := hold
		mu.Unlock()
		<-h
		c.Close()
	}, nil, 0)
	s.spareLife = time.Hour // no retirement in this test
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	spares := func() (n, queued int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.spare, len(s.handoff)
	}

	// One connection at a time: the second is served by the first's
	// goroutine, which waited as a spare.
	close(hold)
	dial(t, addr)
	first := <-ids
	checkFor(t, 5*time.Second, func() error {
		if n, _ := spares(); n != 1 {
			return fmt.Errorf("%d spares, want 1", n)
		}
		return nil
	})
	dial(t, addr)
	if second := <-ids; second != first {
		t.Fatalf("second connection on goroutine %s, want the spare %s", second, first)
	}

	// Many at once: no more than maxSpares stay.
	mu.Lock()
	hold = make(chan struct{})
	mu.Unlock()
	for range 3 * maxSpares {
		dial(t, addr)
	}
	for range 3 * maxSpares {
		<-ids
	}
	mu.Lock()
	close(hold)
	mu.Unlock()
	checkFor(t, 5*time.Second, func() error {
		if n, q := spares(); n != maxSpares || q != 0 {
			return fmt.Errorf("%d spares (%d handed over), want %d", n, q, maxSpares)
		}
		return nil
	})

	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n, _ := spares(); n != 0 {
		t.Fatalf("%d spares after Shutdown", n)
	}
	// The spares have ended (or are ending, past their last lock).
	checkFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before-maxSpares {
			return fmt.Errorf("%d goroutines after Shutdown, %d before: spares still waiting", n, before)
		}
		return nil
	})
}

// TestSpareGoroutinesRetire checks that spares end once no connection
// has come for a while, and that a handler returning then leaves no
// spare: an idle broker holds no more goroutines than before.
func TestSpareGoroutinesRetire(t *testing.T) {
	var mu sync.Mutex
	hold := make(chan struct{})
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		mu.Lock()
		h := hold
		mu.Unlock()
		<-h
		c.Close()
	}, 0)
	s.spareLife = 200 * time.Millisecond
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	state := func() (spare, active int, admitting bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.spare, s.active, s.admitting
	}
	// Two connections: the first returns at once and waits as a spare
	// until the ticks retire it; the second is held past them.
	mu.Lock()
	close(hold)
	mu.Unlock()
	dial(t, addr)
	checkFor(t, 5*time.Second, func() error {
		if n, _, _ := state(); n != 1 {
			return fmt.Errorf("%d spares, want 1", n)
		}
		return nil
	})
	mu.Lock()
	hold = make(chan struct{})
	mu.Unlock()
	dial(t, addr)
	checkFor(t, 5*time.Second, func() error {
		if n, active, admitting := state(); n != 0 || admitting || active != 2 {
			return fmt.Errorf("%d spares, %d active (want the accept loop and the held connection), admitting %v", n, active, admitting)
		}
		return nil
	})
	// Released long after the last connection came: no spare stays.
	mu.Lock()
	close(hold)
	mu.Unlock()
	checkFor(t, 5*time.Second, func() error {
		if n, active, _ := state(); n != 0 || active != 1 {
			return fmt.Errorf("%d spares, %d active, want 0 and 1 (the accept loop)", n, active)
		}
		return nil
	})
}

// TestSpareGoroutinesShutdownRace hands connections to spares while
// Shutdown runs: every connection is served or closed, and Shutdown
// returns.
func TestSpareGoroutinesShutdownRace(t *testing.T) {
	for range 20 {
		s := NewServer(func(ctx context.Context, c net.Conn, info ConnInfo) {
			c.Close()
		}, nil, 0)
		addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					c, err := net.Dial("tcp", addr.String())
					if err != nil {
						return // the listener closed
					}
					c.Close()
				}
			}()
		}
		time.Sleep(time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		cancel()
		wg.Wait()
		if s.Connections() != 0 {
			t.Fatalf("%d connections open after Shutdown", s.Connections())
		}
	}
}
