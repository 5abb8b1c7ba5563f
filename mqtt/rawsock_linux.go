package mqtt

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawSock reads and writes a plain TCP or Unix socket with raw read(2) and
// write(2) calls inside the runtime's RawConn callbacks. The socket is
// non-blocking (the runtime made it so), so neither call ever waits in
// the kernel, and a raw call spares what the runtime does around a system
// call that may block: marking the thread as in a system call and, when
// the scheduler's monitor thread sleeps because the broker is idle,
// waking that thread up, after which it polls every 20 µs for a while.
// Between two messages at an everyday rate the broker is idle: a wrapped
// call per read and per write cost a monitor wake-up each, and dozens of
// its wake-ups after.
//
// Reads wait for data in the runtime's poller (read deadlines apply, Close
// ends a wait); writes never wait (writeNow hands what the socket does not
// take to a writer goroutine and conn.Write). The reading half belongs to
// the connection's reader goroutine, the writing half to its single
// writer; the method values are made once, so no call allocates.
type rawSock struct {
	rc   syscall.RawConn
	conn net.Conn // for errors' addresses

	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr)
}

// newRawSock returns the rawSock of a plain TCP or Unix connection; nil
// for any other connection.
func newRawSock(conn net.Conn) *rawSock {
	var rc syscall.RawConn
	var err error
	switch c := conn.(type) {
	case *net.TCPConn:
		rc, err = c.SyscallConn()
	case *net.UnixConn:
		rc, err = c.SyscallConn()
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	s := &rawSock{rc: rc, conn: conn}
	s.readFn = s.readOnce
	s.writeFn = s.writeAll
	return s
}

// Read reads what the socket has, waiting in the poller while it has
// nothing; 0 bytes is io.EOF.
func (s *rawSock) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rbuf, s.rn, s.rerr = p, 0, 0
	err := s.rc.Read(s.readFn)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, err // deadline or closed
	case s.rerr != 0:
		return 0, s.opError("read", s.rerr)
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

// readOnce is the RawConn.Read callback: false (wait for data) on EAGAIN.
// It always tries a read first, even after one that drained the socket:
// RawConn.Read clears the poller's ready mark before calling it, so data
// that came since the last read may already have been signalled.
func (s *rawSock) readOnce(fd uintptr) bool {
	for {
		n, e := rawRead(fd, s.rbuf)
		switch e {
		case 0:
			s.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.rerr = e
		return true
	}
}

// writeNow writes as much of b as the socket takes at once, without
// waiting (no write deadline applies), and returns how much that was. An
// error is a broken connection.
func (s *rawSock) writeNow(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	s.wbuf, s.wn, s.werr = b, 0, 0
	err := s.rc.Control(s.writeFn)
	n := s.wn
	s.wbuf = nil
	switch {
	case err != nil:
		return n, err // closed
	case s.werr != 0:
		return n, s.opError("write", s.werr)
	}
	return n, nil
}

// writeAll is the RawConn.Control callback of writeNow: write until done
// or EAGAIN.
func (s *rawSock) writeAll(fd uintptr) {
	for s.wn < len(s.wbuf) {
		b := s.wbuf[s.wn:]
		n, e := rawWrite(fd, b)
		switch e {
		case 0:
			if n == 0 {
				return
			}
			s.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return // full: the rest is for a writer goroutine
		default:
			s.werr = e
			return
		}
	}
}

// opError wraps errno as the net package would ("read tcp A->B: ...").
func (s *rawSock) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: s.conn.LocalAddr().Network(), Source: s.conn.LocalAddr(),
		Addr: s.conn.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
