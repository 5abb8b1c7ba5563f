//go:build !nossl

package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
)

// tlsConn is a server-side TLS connection over a socket that an idle
// connection may hand to a poller (the broker's parked connections, see
// mqtt/idle.go) when the TLS layer holds nothing the poller cannot see.
//
// Why a read that timed out is that moment (crypto/tls/conn.go, Go 1.26):
// tls.Conn.Read returns decrypted bytes it holds (c.input) without
// touching the socket, and reads the next record (readRecordOrCCS) only
// when it holds none. The records it has read from the socket (c.rawInput)
// start at a record boundary; readFromUntil reads the socket only while
// they do not hold the whole of the record being read, and every whole
// record is decrypted and handled (application data, alerts, post-handshake
// messages such as a TLS 1.3 KeyUpdate, which Read handles before it
// returns) before the next one is looked at. So when Read returns nothing
// because the read deadline expired, it holds no plaintext, and what it
// holds of the socket's bytes (c.rawInput, at most a strict prefix of one
// record; c.hand, at most part of one handshake message) cannot make
// progress without more bytes from the socket, which a poller of the
// socket sees arrive. A deadline error is not sticky for Read (it is a
// temporary net.Error, which readRecordOrCCS does not keep), so the next
// Read carries on with that prefix. Read after any other outcome may have
// left bytes behind (a full buffer), so only a timed-out Read makes the
// connection parkable, until the next Read.
//
// What a parked TLS connection still holds is the tls.Conn: its struct,
// the two record ciphers, and the capacity of its rawInput and handshake
// buffers, which crypto/tls never gives back (README: memory per idle
// connection).
type tlsConn struct {
	*tls.Conn
	// sock is the socket under the TLS layer, for the poller.
	sock syscall.Conn
	// drained is set when the last Read returned nothing because its
	// deadline expired (see above). Read and ParkSocket are called by one
	// goroutine at a time, the connection's reader (or a WebSocket
	// stream's, under its lock).
	drained bool
}

// newTLSConn returns tc, the TLS connection over c, as the handler's
// connection: one that can park when c is a socket.
func newTLSConn(tc *tls.Conn, c net.Conn) *tlsConn {
	sc, _ := c.(syscall.Conn)
	return &tlsConn{Conn: tc, sock: sc}
}

// Read reads decrypted bytes, and notes whether the TLS layer is now
// drained.
func (c *tlsConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.drained = n == 0 && errors.Is(err, os.ErrDeadlineExceeded)
	return n, err
}

// SocketParks reports whether ParkSocket may succeed: the TLS connection
// runs over a socket.
func (c *tlsConn) SocketParks() bool {
	return c.sock != nil
}

// ParkSocket returns the socket under the TLS layer if the last Read
// timed out, so that the TLS layer holds nothing a poller of the socket
// cannot see (see tlsConn); it reports false otherwise. It changes
// nothing: the next Read carries on as if it had not been called.
func (c *tlsConn) ParkSocket() (syscall.Conn, bool) {
	if c.sock == nil || !c.drained {
		return nil, false
	}
	return c.sock, true
}
