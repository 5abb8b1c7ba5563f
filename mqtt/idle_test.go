package mqtt

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatemq/internal/textlog"
)

// Tests of parked connections (idle.go): a connection that waited
// idleAfter at a packet boundary has no reader goroutine until its socket
// has something to read, its keep alive runs out or the broker closes it.

// testIdleAfter is the idle time of these tests' brokers.
const testIdleAfter = 20 * time.Millisecond

// startParkingBroker starts a broker whose connections park after
// testIdleAfter; the test is skipped where connections do not park.
func startParkingBroker(t *testing.T, opts Options) *testBroker {
	t.Helper()
	if !idlePollerSupported {
		t.Skip("no idle poller on this system")
	}
	tb := startBroker(t, opts)
	tb.srv.idleAfter = testIdleAfter // no connection yet: nobody reads it
	return tb
}

// startWillWatch starts a parking broker and a client subscribed to
// wills/#.
func startWillWatch(t *testing.T) (*testBroker, *rawConn) {
	t.Helper()
	tb := startParkingBroker(t, Options{})
	watcher := dialRaw(t, tb)
	watcher.connect("watcher", true, 0, nil, false)
	watcher.subscribe(1, "wills/#", 0)
	return tb, watcher
}

// waitParked waits until n connections are parked.
func waitParked(t *testing.T, srv *Server, n int) {
	t.Helper()
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if got := srv.ParkedConnections(); got != n {
			return fmt.Errorf("%d connections parked, want %d", got, n)
		}
		return nil
	})
}

// TestIdleParkAndWake checks that a parked connection gets what is
// published to it (the writer needs no reader) and wakes for each packet
// it sends, whole, split or pipelined, then parks again.
func TestIdleParkAndWake(t *testing.T) {
	tb := startParkingBroker(t, Options{})
	sub := dialRaw(t, tb)
	sub.connect("sleeper", true, 0, nil, false)
	sub.subscribe(1, "idle/t", 1)
	waitParked(t, tb.srv, 1)

	if err := tb.srv.Publish("idle/t", []byte("while parked"), 0, false); err != nil {
		t.Fatal(err)
	}
	if p := sub.read().publish(t); p.payload != "while parked" {
		t.Fatalf("got %q", p.payload)
	}
	if n := tb.srv.ParkedConnections(); n != 1 {
		t.Fatalf("a delivery woke the reader: %d parked", n)
	}

	sub.send([]byte{0xC0, 0})
	sub.expect(tPINGRESP, 0)
	waitParked(t, tb.srv, 1)

	// A packet split across the idle time: the woken reader waits for the
	// rest instead of parking in the middle of it.
	sub.send([]byte{0xC0})
	time.Sleep(3 * testIdleAfter)
	sub.send([]byte{0})
	sub.expect(tPINGRESP, 0)
	waitParked(t, tb.srv, 1)

	// Many packets at once, QoS 1 to itself.
	var burst []byte
	for i := range 50 {
		burst = append(burst, publishPkt("idle/t", 1, false, false, uint16(i+1), "burst")...)
	}
	sub.send(burst)
	acks, msgs := 0, 0
	for acks < 50 || msgs < 50 {
		p := sub.read()
		switch p.typ {
		case tPUBACK:
			acks++
		case tPUBLISH:
			msgs++
			if q := p.publish(t); q.qos == 1 {
				sub.send(ackPkt(tPUBACK, q.id))
			}
		default:
			t.Fatalf("unexpected packet type %d", p.typ)
		}
	}
	waitParked(t, tb.srv, 1)
}

// TestIdleKeepaliveWhileParked checks that a parked client that stays
// silent is still disconnected one and a half keep alive intervals after
// its last packet, not before, and that its will is published.
func TestIdleKeepaliveWhileParked(t *testing.T) {
	tb, watcher := startWillWatch(t)
	silent := dialRaw(t, tb)
	start := time.Now()
	silent.connect("silent", true, 1, &rawWill{topic: "wills/silent", payload: "gone"}, false)
	waitParked(t, tb.srv, 2)
	silent.expectClosed()
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("closed after %v, before 1.5 keep alive intervals", d)
	}
	if p := watcher.read().publish(t); p.topic != "wills/silent" || p.payload != "gone" {
		t.Fatalf("got %+v, want the will", p)
	}
	waitParked(t, tb.srv, 1)
}

// TestIdleEndsWhileParked checks the ends that come from elsewhere than
// the client's packets, each for a parked connection, whose cleanup must
// run: a session taken over, the peer closing its socket (its will goes
// out), and the broker's shutdown.
func TestIdleEndsWhileParked(t *testing.T) {
	tb, watcher := startWillWatch(t)

	// Takeover: the old connection is closed, the new one answered.
	old := dialRaw(t, tb)
	old.connect("twin", false, 0, nil, false)
	waitParked(t, tb.srv, 2)
	twin := dialRaw(t, tb)
	twin.connect("twin", false, 0, nil, true)
	old.expectClosed()

	// The peer goes away: its will goes out.
	leaver := dialRaw(t, tb)
	leaver.connect("leaver", true, 0, &rawWill{topic: "wills/leaver", payload: "bye"}, false)
	waitParked(t, tb.srv, 3)
	leaver.c.Close()
	if p := watcher.read().publish(t); p.topic != "wills/leaver" {
		t.Fatalf("got %+v, want leaver's will", p)
	}
	waitParked(t, tb.srv, 2)
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if n := tb.srv.Stats().ClientsConnected; n != 2 {
			return fmt.Errorf("%d clients connected, want 2", n)
		}
		return nil
	})

	// Shutdown: every parked connection is closed and ends.
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := tb.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with parked connections: %v", err)
	}
	watcher.expectClosed()
	twin.expectClosed()
}

// TestIdleDetach checks ServeDetached's contract: detach is called once,
// before ServeDetached returns, when the connection parks, and done once,
// when the connection has ended; ServeListener never parks.
func TestIdleDetach(t *testing.T) {
	if !idlePollerSupported {
		t.Skip("no idle poller on this system")
	}
	srv := NewServer(Options{Logger: textlog.New(textlog.DiscardHandler{})})
	srv.idleAfter = testIdleAfter
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var detaches, dones atomic.Int32
	returned := make(chan bool, 2) // whether detach had been called
	ended := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				go func() {
					srv.ServeDetached(context.Background(), c, ListenerOptions{}, func() func() {
						detaches.Add(1)
						return func() { dones.Add(1); close(ended) }
					})
					returned <- detaches.Load() == 1
				}()
			} else {
				go func() {
					srv.ServeListener(context.Background(), c, ListenerOptions{})
					returned <- false
				}()
			}
		}
	}()
	tb := &testBroker{srv: srv, addr: ln.Addr().String()}
	a := dialRaw(t, tb)
	a.connect("detached", true, 0, nil, false)
	if ok := <-returned; !ok {
		t.Fatal("ServeDetached returned without detaching")
	}
	waitParked(t, srv, 1)
	b := dialRaw(t, tb)
	b.connect("attached", true, 0, nil, false)
	time.Sleep(5 * testIdleAfter)
	if n := srv.ParkedConnections(); n != 1 {
		t.Fatalf("%d connections parked: a ServeListener one parked", n)
	}
	if dones.Load() != 0 {
		t.Fatal("done called while the connection is open")
	}
	a.c.Close()
	select {
	case <-ended:
	case <-time.After(waitTime):
		t.Fatal("done not called after the connection ended")
	}
	b.c.Close()
	<-returned
	if detaches.Load() != 1 || dones.Load() != 1 {
		t.Fatalf("detach called %d times, done %d times; want 1 and 1", detaches.Load(), dones.Load())
	}
}

// TestIdleFrequentClientStopsParking checks that a client that sends a
// packet every few idle times parks and wakes for its first packet only,
// keeps its reader goroutine while it goes on sending as often, and parks
// again once silent.
func TestIdleFrequentClientStopsParking(t *testing.T) {
	tb := startParkingBroker(t, Options{})
	c := dialRaw(t, tb)
	c.connect("sensor", true, 0, nil, false)
	waitParked(t, tb.srv, 1)
	parked := 0
	for i := range 10 {
		time.Sleep(3 * testIdleAfter)
		if i > 0 && tb.srv.ParkedConnections() != 0 {
			parked++
		}
		c.send([]byte{0xC0, 0})
		c.expect(tPINGRESP, 0)
	}
	if parked > 0 {
		t.Errorf("parked before %d of 9 packets sent every %v after the first", parked, 3*testIdleAfter)
	}
	waitParked(t, tb.srv, 1)
}

// TestAdaptIdle checks the idle times a connection gets after a wake.
func TestAdaptIdle(t *testing.T) {
	c := &client{srv: &Server{idleAfter: 250 * time.Millisecond}}
	wake := func(silent, want time.Duration) {
		t.Helper()
		c.adaptIdle(silent)
		if got := c.idleAfter(); got != want {
			t.Errorf("woken after %v silent: idle time %v, want %v", silent, got, want)
		}
	}
	wake(300*time.Millisecond, 500*time.Millisecond)
	wake(time.Second, 2*time.Second)
	wake(2*time.Second, 4*time.Second)
	// Over 4 s with the margin: parks at once, and goes on doing so.
	wake(2700*time.Millisecond, 0)
	wake(time.Hour, 0)
	// A burst: parking at once cost a wake within idleAfter. The
	// connection waits again, and goes on waiting after long silences.
	wake(10*time.Millisecond, 250*time.Millisecond)
	wake(time.Hour, 250*time.Millisecond)
	wake(time.Second, 2*time.Second)
	wake(time.Hour, 250*time.Millisecond)

	c = &client{srv: &Server{}} // idleAfter 0 (BenchmarkParkWake's): parks at every wait
	wake(time.Millisecond, 0)
	wake(time.Hour, 0)
}

// TestIdleParkAtOnce checks that a connection woken after a long silence
// parks again as soon as it has read its packet, and that it waits
// idleAfter again once that cost it a wake for a packet that followed.
func TestIdleParkAtOnce(t *testing.T) {
	tb := startParkingBroker(t, Options{})
	c := dialRaw(t, tb)
	c.connect("rare", true, 0, nil, false)
	waitParked(t, tb.srv, 1)
	long := 20 * testIdleAfter // over maxIdleLevel with the margin
	time.Sleep(long)
	c.send([]byte{0xC0, 0})
	c.expect(tPINGRESP, 0)
	// Parked again well before idleAfter has passed: at once. (The
	// poller's table is what tells; its lock orders the check after the
	// parking.)
	checkFor(t, testIdleAfter/2, time.Millisecond, func() error {
		if tb.srv.ParkedConnections() != 1 {
			return fmt.Errorf("not parked at once")
		}
		return nil
	})
	// A second packet soon after: woken within idleAfter, the connection
	// waits idleAfter from now on, even after a long silence.
	c.send([]byte{0xC0, 0})
	c.expect(tPINGRESP, 0)
	waitParked(t, tb.srv, 1)
	time.Sleep(long)
	c.send([]byte{0xC0, 0})
	c.expect(tPINGRESP, 0)
	time.Sleep(testIdleAfter / 4)
	if n := tb.srv.ParkedConnections(); n != 0 {
		t.Errorf("a bursty connection parked at once after a long silence")
	}
	waitParked(t, tb.srv, 1)
}

// BenchmarkParkWake measures a PINGREQ round trip on a connection that
// parks before each (idle time 0) against one that never parks: the
// difference is what parking and waking costs.
func BenchmarkParkWake(b *testing.B) {
	if !idlePollerSupported {
		b.Skip("no idle poller on this system")
	}
	for _, bc := range []struct {
		name string
		idle time.Duration
	}{{"parks", 0}, {"stays", time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			tb := startBroker(b, Options{})
			tb.srv.idleAfter = bc.idle
			c := dialRaw(b, tb)
			c.connect("pinger", true, 0, nil, false)
			ping, pong := []byte{0xC0, 0}, make([]byte, 2)
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := c.c.Write(ping); err != nil {
					b.Fatal(err)
				}
				if _, err := c.c.Read(pong); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
