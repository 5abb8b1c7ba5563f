package mqtt

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// deadlineCounter is a connection that counts how often its read deadline
// is set.
type deadlineCounter struct {
	net.Conn
	sets atomic.Int32
}

func (d *deadlineCounter) SetReadDeadline(t time.Time) error {
	d.sets.Add(1)
	return d.Conn.SetReadDeadline(t)
}

// TestSteadyClientKeepsItsDeadline sends 200 PINGREQs one after the other,
// each after the answer to the one before, with keep alive 60 s: the
// reader waits between every two, but the deadline it set for the first
// wait (the keep alive's, 90 s on) comes before every later one, so it is
// kept (readPacket, armReadDeadline) instead of moved for each packet.
func TestSteadyClientKeepsItsDeadline(t *testing.T) {
	tb := startBroker(t, Options{})
	a, b := net.Pipe()
	conn := &deadlineCounter{Conn: a}
	r := servePipe(t, tb, conn, b)
	r.send(connectPkt("steady", true, 60, nil))
	r.expect(tCONNACK, 0)
	before := conn.sets.Load()
	for range 200 {
		r.send([]byte{tPINGREQ << 4, 0})
		r.expect(13, 0) // PINGRESP
	}
	if n := conn.sets.Load() - before; n > 4 {
		t.Errorf("the read deadline was set %d times for 200 packets, want at most 4", n)
	}
}

// TestEarlyDeadlineWaitsOn checks the other half of a kept deadline: one
// that passes before the wait's own does not end the connection; the
// reader waits on. With keep alive 1 s, the deadline set after CONNECT
// (1.5 s on) is kept when a PINGREQ comes 0.3 s later (still over half a
// wait away), so it passes 1.2 s after that PINGREQ, early: the
// connection must last the full 1.5 s after it. It is served over a pipe,
// which never parks, so the reader waits through all of it.
func TestEarlyDeadlineWaitsOn(t *testing.T) {
	tb := startBroker(t, Options{})
	a, b := net.Pipe()
	r := servePipe(t, tb, a, b)
	r.connect("early", true, 1, nil, false)
	time.Sleep(300 * time.Millisecond) // paces the client; not a wait for the broker
	r.send([]byte{tPINGREQ << 4, 0})
	r.expect(13, 0)
	start := time.Now()
	r.expectClosed()
	if took := time.Since(start); took < 1400*time.Millisecond {
		t.Errorf("closed %v after the last packet; the keep alive allows 1.5 s", took)
	}
}

// servePipe serves conn, the broker's end of a pipe whose other end is
// client, until the test ends, and returns a raw client on client.
func servePipe(t *testing.T, tb *testBroker, conn, client net.Conn) *rawConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tb.srv.ServeConn(ctx, conn); close(done) }()
	t.Cleanup(func() { cancel(); client.Close(); <-done })
	return &rawConn{t: t, c: client, br: bufio.NewReader(client)}
}
