package mqtt

import (
	"net"
	"syscall"
	"time"
)

// Idle connections park.
//
// A goroutine that waits in a socket read keeps its stack, and the runtime
// gives a stack back only down to four times what the goroutine uses while
// it waits (plus 800 bytes of guard): a reader blocked under the packet
// reader, bufio and the net package keeps 8 KiB, and at best 4 KiB, as long
// as the connection lives, with a 1 KiB read buffer besides. For the
// thousands of mostly silent sensors a router may serve, that is most of
// the broker's memory.
//
// So a connection that has waited its idle time at a packet boundary for
// its next packet parks instead: its reader gives its read state (reading.go)
// back to the pool, hands the socket to the server's idle poller, and ends.
// The poller (idle_linux.go: an epoll set of its own, which the runtime's
// poller watches for it) starts a new reader goroutine as soon as the
// socket has something to read or the peer hangs up, when the keep alive
// runs out (the poller keeps the parked connections' keep alive deadlines
// in a heap and wakes at the nearest), and when the broker closes the
// connection itself (closeConn: takeover, slow consumer, shutdown, a
// failed write). The resumed reader reads on exactly as the first one
// would have. The writer side holds nothing while idle in any case: a
// writer goroutine runs only while something is queued.
//
// Parking costs CPU, and far more than a benchmark that keeps the broker
// busy sees (BenchmarkParkWake: some tens of µs, client included). A
// client that sends every few seconds finds the broker idle, and then a
// park and a wake are wake-ups of its threads: the timer at the end of
// the idle time, for the parking alone; the poller's goroutine, and the
// new reader goroutine, whose start wakes a second thread; besides that
// goroutine's stack, its read state from the pool, and an epoll_ctl. In
// scripts/bench's sensors scenario (2-core VM, 500 to 1,000 sensors) a
// park and a wake cost the broker 180-225 µs of CPU on top of the
// message's 75-135 µs; the system calls of the poller, made through
// package syscall, woke the runtime's monitor thread besides, about half
// of it. They are raw calls now (idle_linux.go), and the idle time
// adapts to the client (adaptIdle):
//
//   - a connection woken within 2.7 s of its last packet waits up to 16
//     times idleAfter (4 s) from then on: a sensor that publishes every
//     second or two parks and wakes once, then keeps its reader
//     goroutine while it goes on, as if it never parked (1-2 s sensors,
//     QoS 0: 80 µs per message, 75 with parking off, 290 before);
//   - one woken after a longer silence parks as soon as it has read what
//     woke it, sparing the timer's wake-up, unless that once got it
//     woken again within idleAfter (readings sent as a few packets in a
//     row): a park and a wake then cost 60-70 µs (5-10 s sensors, QoS 0:
//     145 µs per message, 90 with parking off, 270 before).
//
// A connection that was never woken, the silent one that parking is for,
// parks after idleAfter as before.
//
// Only connections served through ServeDetached park (a caller of
// ServeListener expects it to return only when the connection has ended):
// plain TCP and Unix socket connections, and streams over a socket
// (socketParker) while they hold nothing read from the socket that their
// reader could get without more bytes from it, which no poller would see:
// TLS connections (mqtts://) after a read that timed out, and WebSocket
// connections (ws://, and wss:// with the TLS condition besides) while
// they hold no byte of a frame not yet decoded. The transport decides
// when its streams can park (transport's tlsConn and wsConn); the reader
// asks only after its own read timed out at a packet boundary with
// nothing buffered. Where there is no epoll (idle_other.go) every
// connection keeps its reader goroutine.

// defaultIdleAfter is how long a connection waits for its next packet in a
// goroutine of its own before it parks, until a wake teaches it better
// (adaptIdle): a client that sends more often than this never parks.
const defaultIdleAfter = 250 * time.Millisecond

// maxIdleLevel bounds a connection's idle time (adaptIdle): idleAfter <<
// maxIdleLevel, 4 s with defaultIdleAfter.
const maxIdleLevel = 4

// parkAtOnce is the level of a connection that parks as soon as it has
// read its packets (adaptIdle).
const parkAtOnce = 0xff

// idleAfter returns the connection's idle time: how long it waits for its
// next packet in a goroutine of its own before it parks.
func (c *client) idleAfter() time.Duration {
	if c.idle.level == parkAtOnce {
		return 0
	}
	return c.srv.idleAfter << c.idle.level
}

// adaptIdle sets the idle time of a connection woken after it was silent
// for silent since its last packet: the least idleAfter << level over
// half as much again, so that a client that sends about that often keeps
// its reader goroutine from then on instead of parking and waking for
// every packet. When that would be over maxIdleLevel, a client silent
// that long most likely will be again: the connection parks as soon as
// it has read what woke it, which spares the broker waking up at the end
// of an idle time only to park it; unless that once cost the connection
// a wake for a packet that came within idleAfter (a client that sends
// its readings as a few packets in a row: burst), and then it waits
// idleAfter as before.
func (c *client) adaptIdle(silent time.Duration) {
	if c.idle.level == parkAtOnce && silent < c.srv.idleAfter {
		c.idle.burst = true
	}
	for l := uint8(0); l <= maxIdleLevel; l++ {
		if c.srv.idleAfter<<l > silent+silent/2 {
			c.idle.level = l
			return
		}
	}
	c.idle.level = parkAtOnce
	if c.idle.burst {
		c.idle.level = 0
	}
}

// parking is a connection's parking state. The reader that parks the
// connection owns it until it is in the poller's table; the poller's lock
// guards slot, token and heapAt; the goroutine that takes it out of the
// table owns it next.
type parking struct {
	// can is set when the connection may park: a plain socket, or a TLS
	// or WebSocket stream over one, served by ServeDetached with a detach
	// function. Cleared for good if the server has no idle poller.
	can bool
	// noPark makes the next wait for a packet not park at idleAfter after
	// the last packet (idleUntil): the reader was just woken (by something
	// readable, so it should not wait long), or could not park.
	noPark bool
	// level sets the connection's idle time: idleAfter << level, or none
	// (parkAtOnce); burst is set once parking at once did not pay
	// (adaptIdle).
	level uint8
	burst bool
	// While the connection is parked, it is in the poller's table at index
	// slot (it is parked if and only if it is there), under token (an
	// event that names another is stale), and, with a keep alive, in its
	// deadline heap at heapAt (-1: not).
	slot   int32
	token  uint32
	heapAt int32

	// detach is ServeDetached's; done is what it returned, set the first
	// time the connection parks and called when the connection has ended.
	detach func() (done func())
	done   func()
}

// socketParker is a connection over a socket that may hold bytes it has
// read from the socket and not returned yet, a TLS or WebSocket
// connection (transport's tlsConn and wsConn): it can park only while it
// holds none that could be returned without more bytes from the socket.
type socketParker interface {
	// SocketParks reports whether ParkSocket may ever succeed.
	SocketParks() bool
	// ParkSocket returns the socket if nothing read from it is left
	// undecoded, giving the read buffer back until the next Read.
	ParkSocket() (syscall.Conn, bool)
}

// canPark reports whether conn is a socket an idle poller can watch, or a
// stream over one that can hand it over when idle.
func canPark(conn net.Conn) bool {
	switch c := conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		return idlePollerSupported
	case socketParker:
		return idlePollerSupported && c.SocketParks()
	}
	return false
}

// parkSocket returns the socket for the idle poller to watch while conn
// is parked, or false when conn cannot park now (a stream holding bytes).
func parkSocket(conn net.Conn) (syscall.Conn, bool) {
	switch c := conn.(type) {
	case *net.TCPConn:
		return c, true
	case *net.UnixConn:
		return c, true
	case socketParker:
		return c.ParkSocket()
	}
	return nil, false
}

// park hands the connection to the server's idle poller and reports true:
// the calling goroutine must then return without touching c, which
// another goroutine resumes. It reports false, with the read state still
// there, when the connection cannot park now; the caller then waits for
// the next packet itself.
func (c *client) park() bool {
	p := c.srv.idlePoller()
	if p == nil {
		c.idle.can = false // for good: there is no poller to park with
		return false
	}
	sock, ok := parkSocket(c.conn)
	if !ok {
		c.idle.noPark = true
		return false
	}
	if c.idle.done == nil {
		c.idle.done = c.idle.detach()
		c.idle.detach = nil
	}
	c.releaseReadState()
	c.closeIdlePipe()
	c.trimQueues()
	if p.park(c, sock) {
		return true
	}
	c.takeReadState(maxRemaining(c.srv.opts.MaxPacketSize))
	c.idle.noPark = true
	return false
}

// resume carries on with a parked connection that the poller took out of
// its table, in a new goroutine.
func (c *client) resume() {
	c.adaptIdle(time.Duration(c.srv.clock() - c.lastIn))
	c.takeReadState(maxRemaining(c.srv.opts.MaxPacketSize))
	c.idle.noPark = true
	parked, why := c.readLoop()
	if parked {
		return
	}
	c.finish(why)
}

// finish ends the connection once its reader is done (why: see cleanup):
// cleanup, the read state back to the pool, and the end told to whoever
// waits for it.
func (c *client) finish(why string) {
	c.cleanup(why)
	c.releaseReadState()
	c.srv.unwatch(c)
	if done := c.idle.done; done != nil {
		c.idle.done = nil
		done()
	}
}

// closeConn closes the connection's socket, from any goroutine; a parked
// connection is woken so that its reader sees the end.
func (c *client) closeConn() {
	c.conn.Close()
	if p := c.srv.idle.Load(); p != nil {
		p.unpark(c)
	}
}

// idlePoller returns the server's idle poller, starting it the first time;
// nil when there is none (not supported, or it could not start: then
// connections keep their goroutines, and the error is logged once).
func (s *Server) idlePoller() *idlePoller {
	if p := s.idle.Load(); p != nil {
		return p
	}
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if p := s.idle.Load(); p != nil || s.idleFailed {
		return p
	}
	p, err := newIdlePoller()
	if err != nil {
		s.idleFailed = true
		s.log.Warn("idle connections keep their goroutines: no idle poller", "err", err)
		return nil
	}
	s.idle.Store(p)
	return p
}

// ParkedConnections returns how many connections are parked now: idle,
// with no goroutine and no read buffer of their own.
func (s *Server) ParkedConnections() int {
	if p := s.idle.Load(); p != nil {
		return p.parkedCount()
	}
	return 0
}
