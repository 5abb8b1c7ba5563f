package mqtt

import (
	"bufio"
	"errors"
	"os"
	"sync"
	"time"

	"gatemq/mqtt/packet"
	"gatemq/mqtt/topic"
)

// readBufferSize is the size of a reader's bufio.Reader. Small on purpose:
// a packet larger than it is read straight into the packet reader's body
// buffer.
const readBufferSize = 1024

// Bounds on the scratch slices a pooled readState keeps.
const (
	keptMatches = 64
	keptTargets = 64
)

// readState is what a connection's reader needs only while it reads: the
// buffered reader on the socket, the packet reader (and its body buffer),
// the packet just decoded, and the reader's routing scratch. About 2.3 KiB
// on a 64-bit board, it is taken from readStatePool when a reader starts
// and given back when the connection parks (idle.go) or ends, so an idle
// connection holds none of it. The views in pk stay valid until the next
// read; nothing may keep them once the state is given back.
type readState struct {
	br *bufio.Reader
	r  packet.Reader
	pk packet.Packet
	// matchBuf is the reused slice for topic matches, targets the reused
	// slice of deliveries of one message.
	matchBuf []topic.Sub[*session]
	targets  []target
	// raw is the state of a raw read of a plain socket (rawsock_linux.go).
	raw rawReading
}

// readStatePool holds the read states of connections that are not reading.
var readStatePool = sync.Pool{New: func() any {
	return &readState{br: bufio.NewReaderSize(nil, readBufferSize)}
}}

// takeReadState gives c a read state on its socket, refusing packets whose
// Remaining Length is over maxSize.
func (c *client) takeReadState(maxSize int) {
	rs := readStatePool.Get().(*readState)
	rs.br.Reset((*connReader)(c))
	rs.r.Reset(rs.br, maxSize)
	c.rs = rs
}

// releaseReadState gives c's read state back to the pool, keeping none of
// the connection's bytes, nor any session a match found. The reader must
// be at a packet boundary with nothing buffered (or done with the socket).
func (c *client) releaseReadState() {
	rs := c.rs
	if rs == nil {
		return
	}
	c.rs = nil
	rs.br.Reset(nil)
	rs.r.Reset(rs.br, 0)
	rs.pk.Reset()
	clear(rs.matchBuf[:cap(rs.matchBuf)])
	rs.matchBuf = bounded(rs.matchBuf, keptMatches)
	clear(rs.targets[:cap(rs.targets)])
	rs.targets = bounded(rs.targets, keptTargets)
	readStatePool.Put(rs)
}

// bounded returns s emptied, or nil when its capacity is over limit.
func bounded[T any](s []T, limit int) []T {
	if cap(s) > limit {
		return nil
	}
	return s[:0]
}

// connReader is a client seen as the reader of its socket (with raw calls
// where it is a plain one, see rawsock_linux.go), which counts the bytes
// it reads ($SYS/broker/bytes/received). A pointer to it fits an io.Reader
// without an allocation.
type connReader client

// Read reads from the connection and adds what it got to the counter.
func (r *connReader) Read(b []byte) (n int, err error) {
	c := (*client)(r)
	if c.raw != nil {
		n, err = c.rs.raw.read(c.raw, c.conn, b)
	} else {
		n, err = c.conn.Read(b)
	}
	c.srv.stats.bytesReceived.Add(uint64(n))
	return n, err
}

// readPacket reads the next packet into c.rs.pk. The reader waits for it
// until the keep alive runs out (one and a half keep alive intervals after
// the previous packet [MQTT-3.1.2-24]), or, while the connection waits at a
// packet boundary and may park, until the end of its idle time if that
// comes first: park reports that it came, with nothing read (the caller
// parks the connection). A deadline is set only when the reader may have
// to wait: not for a packet already whole in the buffer, so that a
// pipelining client's packets cost no timer updates.
//
// Nor is it set again for every packet at a steady rate: a deadline
// already set is kept while it comes no later than the one wanted now and
// at least half a wait away (armReadDeadline). When it passes early (the
// client fell silent), the wait goes on to the right one. A client that
// sends every few milliseconds thus moves the socket's timer about twice
// per idle time (or keep alive), not once per packet; each move costs a
// lock and a timer heap update in the runtime.
func (c *client) readPacket() (park bool, err error) {
	rs := c.rs
	if rs.br.Buffered() == 0 {
		dl, idle := c.keepaliveDeadline(), false
		if c.idle.can {
			if until := c.idleUntil(); until != 0 && (dl == 0 || until < dl) {
				dl, idle = until, true
			}
		}
		c.idle.noPark = false
		c.armReadDeadline(dl)
		for {
			_, err := rs.br.Peek(1)
			if err == nil {
				break
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return false, err
			}
			if c.deadline == dl || c.srv.clock() >= dl && dl != 0 {
				if idle {
					return true, nil
				}
				return false, err
			}
			c.setReadDeadline(dl) // an earlier deadline passed: wait on
		}
	}
	if !wholePacket(rs.br) {
		c.setReadDeadline(c.keepaliveDeadline())
	}
	return false, rs.r.Read(c.version, &rs.pk)
}

// idleUntil is when a reader waiting at a packet boundary parks (on the
// reader's clock; 0: not in this wait): the connection's idle time
// (idle.go) after the last packet.
// A reader just woken (or that could not park: noPark) waits for the
// packet that woke it without parking, unless its connection is a
// stream, where what woke it may have been no packet at all (a WebSocket
// ping, which the stream answers itself, a TLS record that carries no
// application data, or the first bytes of one): then it may park again
// once a whole idle time has passed from now.
func (c *client) idleUntil() int64 {
	if !c.idle.noPark {
		return c.lastIn + int64(c.idleAfter())
	}
	if _, stream := c.conn.(socketParker); stream {
		return c.srv.clock() + int64(max(c.idleAfter(), minWokenIdle))
	}
	return 0
}

// minWokenIdle is the least a woken stream waits before it parks again,
// even with idleAfter 0 (a stress test's): a deadline that has passed
// already fails a read before it looks at the socket, so the packet that
// woke the reader would never be read.
const minWokenIdle = 20 * time.Millisecond

// keepaliveDeadline is when the keep alive runs out, on the reader's
// clock (0: never).
func (c *client) keepaliveDeadline() int64 {
	if c.keepalive == 0 {
		return 0
	}
	return c.lastIn + int64(c.keepalive)*int64(time.Second)*3/2
}

// armReadDeadline makes the socket's read deadline come no later than dl
// (on the reader's clock; 0: none). It keeps the deadline set while that
// comes first and is still at least half the wait away (from the last
// packet, lastIn): a client that sends steadily moves the timer about
// twice per wait, and the deadline kept never passes while it goes on.
// A client that sends every second or two with a longer wait (a sensor
// whose connection waits 4 s to park) would otherwise find a kept
// deadline passing between two of its packets, a wake-up for nothing
// that costs more than moving the timer. The caller waits on when a
// deadline passes before dl.
func (c *client) armReadDeadline(dl int64) {
	if dl != 0 && c.deadline != 0 && c.deadline <= dl && c.deadline-c.lastIn >= (dl-c.lastIn)/2 {
		return
	}
	c.setReadDeadline(dl)
}

// setReadDeadline sets the socket's read deadline to dl (on the reader's
// clock; 0: none) unless it is that already.
func (c *client) setReadDeadline(dl int64) {
	if dl == c.deadline {
		return
	}
	c.deadline = dl
	_ = c.conn.SetReadDeadline(c.srv.timeAt(dl))
}

// The reader's clock counts nanoseconds since the server started, on the
// monotonic clock: a time costs a connection 8 bytes instead of a
// time.Time's 24. 0 stands for no time.

// clock returns the time now on the reader's clock.
func (s *Server) clock() int64 {
	return max(int64(time.Since(s.started)), 1)
}

// timeAt returns the time.Time of t on the reader's clock (zero for 0).
func (s *Server) timeAt(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return s.started.Add(time.Duration(t))
}

// wholePacket reports whether br holds at least one whole packet.
func wholePacket(br *bufio.Reader) bool {
	b, _ := br.Peek(min(br.Buffered(), 5))
	if len(b) < 2 {
		return false
	}
	rem := 0
	for i := 1; i < len(b); i++ {
		rem |= int(b[i]&0x7f) << (7 * (i - 1))
		if b[i]&0x80 == 0 {
			return br.Buffered() >= 1+i+rem
		}
	}
	return false
}
