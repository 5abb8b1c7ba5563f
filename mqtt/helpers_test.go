package mqtt

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"gatemq/internal/textlog"
)

// testBroker is a broker served on a real loopback listener.
type testBroker struct {
	srv  *Server
	addr string // host:port
	url  string // tcp://host:port for Paho
}

// startBroker starts a broker with opts on 127.0.0.1:0 and stops it when
// the test ends. Set GATEMQ_TEST_LOG=1 to see the broker's logs.
func startBroker(t testing.TB, opts Options) *testBroker {
	t.Helper()
	return startBrokerListener(t, opts, ListenerOptions{})
}

// startBrokerListener is startBroker with a listener whose settings are lo.
func startBrokerListener(t testing.TB, opts Options, lo ListenerOptions) *testBroker {
	t.Helper()
	if opts.Logger == nil {
		w := io.Discard
		if os.Getenv("GATEMQ_TEST_LOG") != "" {
			w = os.Stderr
		}
		opts.Logger = textlog.New(textlog.NewTextHandler(w, textlog.LevelDebug))
	}
	srv := NewServer(opts)
	srv.Start()
	tb, stop := serveListenerOn(t, srv, lo)
	t.Cleanup(stop)
	return tb
}

// serveOn serves srv on a new loopback port (as startBroker does, for a
// server that has been built and recovered already) and returns the
// function that stops it: listener closed, Shutdown, connections done.
func serveOn(t testing.TB, srv *Server) (*testBroker, func()) {
	t.Helper()
	return serveListenerOn(t, srv, ListenerOptions{})
}

// serveListenerOn is serveOn for a listener whose settings are lo.
func serveListenerOn(t testing.TB, srv *Server, lo ListenerOptions) (*testBroker, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := time.ParseDuration(os.Getenv("GATEMQ_TEST_IDLE_AFTER")); err == nil {
		srv.idleAfter = d // e.g. 1ms: every test parks its connections between packets
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			wg.Add(1)
			go func() {
				// As the transport does: an idle connection parks and
				// this goroutine returns; wg waits for its end all the same.
				detached := false
				defer func() {
					if !detached {
						wg.Done()
					}
				}()
				srv.ServeDetached(ctx, c, lo, func() func() { detached = true; return wg.Done })
			}()
		}
	}()
	stop := func() {
		ln.Close()
		sctx, scancel := context.WithTimeout(context.Background(), waitTime)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
		cancel()
		wg.Wait()
	}
	return &testBroker{srv: srv, addr: ln.Addr().String(), url: "tcp://" + ln.Addr().String()}, stop
}

// checkFor polls fn every `every` until it returns nil or total passes.
func checkFor(t testing.TB, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(every)
	}
	t.Fatalf("condition not met after %v: %v", total, err)
}
