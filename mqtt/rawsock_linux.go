package mqtt

import (
	"io"
	"net"
	"os"
	"syscall"
)

// A plain TCP or Unix socket is read and written with raw read(2) and
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
// take to a writer goroutine and conn.Write). The connection keeps only
// the socket's RawConn (client.raw): the state of a read is the reader's
// (rawReading, in its pooled readState), that of a write the single
// writer's (rawWriting, in its pooled writeState), each with its callback
// made once per pooled state, so no call allocates and an idle connection
// holds neither.

// rawConnOf returns the RawConn of a plain TCP or Unix connection; nil for
// any other.
func rawConnOf(conn net.Conn) syscall.RawConn {
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
	return rc
}

// rawReading is the state of one raw read.
type rawReading struct {
	buf []byte
	n   int
	err syscall.Errno
	fn  func(fd uintptr) bool // readOnce, made on first use
}

// read reads what the socket rc (of conn, for errors) has into p, waiting
// in the poller while it has nothing; 0 bytes is io.EOF.
func (r *rawReading) read(rc syscall.RawConn, conn net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.fn == nil {
		r.fn = r.readOnce
	}
	r.buf, r.n, r.err = p, 0, 0
	err := rc.Read(r.fn)
	r.buf = nil
	switch {
	case err != nil:
		return 0, err // deadline or closed
	case r.err != 0:
		return 0, rawOpError(conn, "read", r.err)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// readOnce is the RawConn.Read callback: false (wait for data) on EAGAIN.
// It always tries a read first, even after one that drained the socket:
// RawConn.Read clears the poller's ready mark before calling it, so data
// that came since the last read may already have been signalled.
func (r *rawReading) readOnce(fd uintptr) bool {
	for {
		n, e := rawRead(fd, r.buf)
		switch e {
		case 0:
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.err = e
		return true
	}
}

// rawWriting is the state of one raw write.
type rawWriting struct {
	buf []byte
	n   int
	err syscall.Errno
	fn  func(fd uintptr) // writeAll, made on first use
}

// writeNow writes as much of b as the socket rc (of conn, for errors)
// takes at once, without waiting (no write deadline applies), and returns
// how much that was. An error is a broken connection.
func (w *rawWriting) writeNow(rc syscall.RawConn, conn net.Conn, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if w.fn == nil {
		w.fn = w.writeAll
	}
	w.buf, w.n, w.err = b, 0, 0
	err := rc.Control(w.fn)
	n := w.n
	w.buf = nil
	switch {
	case err != nil:
		return n, err // closed
	case w.err != 0:
		return n, rawOpError(conn, "write", w.err)
	}
	return n, nil
}

// writeAll is the RawConn.Control callback of writeNow: write until done
// or EAGAIN.
func (w *rawWriting) writeAll(fd uintptr) {
	for w.n < len(w.buf) {
		b := w.buf[w.n:]
		n, e := rawWrite(fd, b)
		switch e {
		case 0:
			if n == 0 {
				return
			}
			w.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return // full: the rest is for a writer goroutine
		default:
			w.err = e
			return
		}
	}
}

// rawOpError wraps errno as the net package would ("read tcp A->B: ...").
func rawOpError(conn net.Conn, op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: conn.LocalAddr().Network(), Source: conn.LocalAddr(),
		Addr: conn.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
