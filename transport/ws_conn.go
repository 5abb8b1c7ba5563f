package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// WebSocket framing (RFC 6455 section 5), server side, as a net.Conn.

// WebSocket connection limits and sizes.
const (
	// wsMaxMessage bounds a WebSocket message (all its frames); a larger
	// one is refused with close code 1009. Read streams payloads and never
	// holds a message, so the bound costs no memory: it is MQTT's largest
	// packet (a 5-byte fixed header and 268,435,455 bytes), since a
	// message is usually one packet, and the broker's own max_packet_size,
	// usually smaller, is checked on the byte stream with MQTT's reason
	// codes.
	wsMaxMessage = 268435455 + 5
	// wsWriteBuffer is the size of the buffers, shared by all connections,
	// that a Write copies a frame header and the start of its payload into,
	// so that a small message leaves in one write (one TLS record on wss)
	// and an idle connection holds no write buffer.
	wsWriteBuffer = 4 << 10
	// wsCloseGrace bounds the writing of a control frame (pong, close),
	// and a blocked Write once Close is called.
	wsCloseGrace = time.Second
)

// Frame opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// Close codes (RFC 6455 section 7.4.1).
const (
	closeNormal       = 1000
	closeProtocol     = 1002
	closeUnsupported  = 1003
	closeInvalidData  = 1007
	closeTooBig       = 1009
	maxControlPayload = 125 // RFC 6455 5.5
)

// wsCloseError is a Read error that made this side close the WebSocket
// connection with code (after sending a close frame with it).
type wsCloseError struct {
	code   uint16
	reason string
}

func (e *wsCloseError) Error() string {
	return "transport: websocket: " + e.reason + " (closed with " + strconv.Itoa(int(e.code)) + ")"
}

// Read errors of a WebSocket connection that ended it.
var (
	// errTextFrame: the peer sent a text frame; MQTT travels in binary
	// frames only [MQTT-6.0.0-1]. Close code 1003.
	errTextFrame = &wsCloseError{closeUnsupported, "text frame received; MQTT travels in binary frames [MQTT-6.0.0-1]"}
	// errWSClosing is returned by Write once a close frame was sent.
	errWSClosing = errors.New("transport: websocket: connection closing")
)

// wsBuffers holds the write buffers that Write and control frames borrow.
var wsBuffers = sync.Pool{New: func() any { return new([wsWriteBuffer]byte) }}

// wsReaders holds the read buffers of parked connections (ParkSocket):
// a connection takes one again at its next Read.
var wsReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, wsReadBuffer) }}

// wsConn is a server-side WebSocket connection seen as a byte stream: Read
// returns the payloads of binary messages in order (a message may be cut
// anywhere, as a byte stream may [MQTT-6.0.0-2]), each Write sends one
// binary message in one frame. It follows the net.Conn rules: concurrent
// calls are safe; a deadline's expiry is os.ErrDeadlineExceeded and, for
// Read, leaves the connection usable with a later deadline. After any other
// read error every later Read returns it again, and likewise for Write.
//
// Read answers pings (with a pong carrying the same payload), ignores
// pongs, and ends with io.EOF when the peer's close frame arrives, after
// echoing its code. Frames that break RFC 6455 close the WebSocket
// connection with a close frame and a *wsCloseError: 1002 for an unmasked
// frame, reserved bits or opcodes, a fragmented or oversize control frame,
// or a continuation out of place; 1003 for a text frame (errTextFrame);
// 1007 for a close reason that is not UTF-8; 1009 for a message over the
// limit. The handler then closes c, which closes the socket.
type wsConn struct {
	conn net.Conn
	br   *bufio.Reader // reads conn; holds what followed the upgrade request; nil while parked
	max  int64         // largest message accepted

	rmu     sync.Mutex // guards the reader state below; held through Read
	remain  int64      // payload bytes of the current frame not yet read
	key     [4]byte    // the current frame's masking key
	keyPos  int        // index into key of the next payload byte
	inMsg   bool       // a message's final frame has not begun yet
	msgSize int64      // bytes of the current message so far
	rerr    error      // sticky read error

	wmu       sync.Mutex // one frame at a time on conn: Write, pong, close
	werr      error      // sticky write error, errWSClosing once a close frame is out
	dmu       sync.Mutex // guards wdeadline and the setting of conn's write deadline
	wdeadline time.Time  // the user's write deadline, restored after control frames

	closeOnce sync.Once
	closeErr  error
}

// newWSConn returns the connection for conn after a completed handshake;
// br reads conn and may already hold frames. Messages over maxMessage bytes are
// refused with close code 1009.
func newWSConn(conn net.Conn, br *bufio.Reader, maxMessage int64) *wsConn {
	return &wsConn{conn: conn, br: br, max: maxMessage}
}

// Read reads payload bytes of the binary messages into p.
func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.br == nil && c.rerr == nil { // parked until now
		c.br = wsReaders.Get().(*bufio.Reader)
		c.br.Reset(c.conn)
	}
	for c.rerr == nil {
		if len(p) == 0 {
			return 0, nil
		}
		if c.remain == 0 {
			if err := c.nextFrame(); err != nil {
				return 0, err
			}
			continue
		}
		q := p
		if int64(len(q)) > c.remain {
			q = q[:c.remain]
		}
		n, err := c.br.Read(q) // straight into q when it is larger than br's buffer
		c.keyPos = maskBytes(q[:n], c.key, c.keyPos)
		c.remain -= int64(n)
		if err != nil {
			err = c.readError(err, true)
		}
		return n, err
	}
	return 0, c.rerr
}

// socketParker is a stream over a socket that can give the socket up to
// a poller while it holds nothing read from it that a reader could get
// without more bytes from the socket: a TLS connection (tlsConn).
type socketParker interface {
	// SocketParks reports whether ParkSocket may ever succeed.
	SocketParks() bool
	// ParkSocket returns the socket if the stream holds no such bytes.
	ParkSocket() (syscall.Conn, bool)
}

// SocketParks reports whether ParkSocket may succeed: the connection runs
// over a socket, plain (ws://) or under a TLS layer that can park
// (wss://, tlsConn).
func (c *wsConn) SocketParks() bool {
	switch s := c.conn.(type) {
	case syscall.Conn:
		return true
	case socketParker:
		return s.SocketParks()
	}
	return false
}

// ParkSocket lets the connection wait without a read buffer: when nothing
// read from the socket is left undecoded (the frame state needs no bytes:
// a frame's remaining payload and masking position are kept), neither in
// its own buffer nor in the TLS layer under it (wss://: see tlsConn), it
// gives its read buffer back and returns the socket, which a poller may
// watch for the next bytes; the next Read takes a buffer again. It reports
// false, changing nothing, while bytes are buffered or after a read error.
func (c *wsConn) ParkSocket() (syscall.Conn, bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil || (c.br != nil && c.br.Buffered() > 0) {
		return nil, false
	}
	var sc syscall.Conn
	switch s := c.conn.(type) {
	case syscall.Conn:
		sc = s
	case socketParker:
		var ok bool
		if sc, ok = s.ParkSocket(); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	if c.br != nil {
		if c.br.Size() == wsReadBuffer {
			c.br.Reset(nil)
			wsReaders.Put(c.br)
		}
		c.br = nil
	}
	return sc, true
}

// nextFrame reads the next frame header. For a data frame it sets up the
// reading of its payload (c.remain); a control frame it reads and handles
// whole. The header is only consumed from br once it is complete, so a
// deadline that expires meanwhile loses nothing.
func (c *wsConn) nextFrame() error {
	h, err := c.br.Peek(2)
	if err != nil {
		return c.readError(err, len(h) > 0)
	}
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	size := int64(h[1] & 0x7f)
	switch {
	case h[0]&0x70 != 0:
		return c.fail(closeProtocol, "reserved bits set without an extension") // RFC 6455 5.2
	case h[1]&0x80 == 0:
		return c.fail(closeProtocol, "unmasked frame from the client") // RFC 6455 5.1
	case op >= opClose && op <= opPong:
		if !fin || size > maxControlPayload {
			return c.fail(closeProtocol, "fragmented or oversize control frame") // RFC 6455 5.5
		}
		return c.control(op, int(size))
	case op > opBinary:
		return c.fail(closeProtocol, "reserved opcode") // RFC 6455 5.2
	}
	n := 6 // 2 + masking key
	switch size {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h, err = c.br.Peek(n); err != nil {
		return c.readError(err, true)
	}
	switch size {
	case 126:
		size = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		u := binary.BigEndian.Uint64(h[2:])
		if u>>63 != 0 {
			return c.fail(closeProtocol, "frame length with the top bit set") // RFC 6455 5.2
		}
		size = int64(u)
	}
	switch op {
	case opContinuation:
		if !c.inMsg {
			return c.fail(closeProtocol, "continuation frame outside a message") // RFC 6455 5.4
		}
	case opText:
		if !c.inMsg {
			return c.failWith(errTextFrame)
		}
		fallthrough
	default: // opBinary
		if c.inMsg {
			return c.fail(closeProtocol, "new message before the last one ended") // RFC 6455 5.4
		}
		c.msgSize = 0
	}
	if size > c.max || c.msgSize+size > c.max {
		return c.fail(closeTooBig, "message too big")
	}
	copy(c.key[:], h[n-4:n])
	_, _ = c.br.Discard(n)
	c.msgSize += size
	c.remain, c.keyPos, c.inMsg = size, 0, !fin
	return nil
}

// control reads a whole control frame with a payload of size bytes and
// acts on it.
func (c *wsConn) control(op byte, size int) error {
	h, err := c.br.Peek(6 + size)
	if err != nil {
		return c.readError(err, true)
	}
	var payload [maxControlPayload]byte
	p := payload[:copy(payload[:], h[6:])]
	maskBytes(p, [4]byte(h[2:6]), 0)
	_, _ = c.br.Discard(6 + size)
	switch op {
	case opPing:
		_ = c.writeControl(opPong, p) // a failure is the writer's to see
	case opClose:
		if len(p) >= 2 {
			code := binary.BigEndian.Uint16(p)
			switch {
			case !validCloseCode(code):
				return c.fail(closeProtocol, "invalid close code") // RFC 6455 7.4
			case !utf8.Valid(p[2:]):
				return c.fail(closeInvalidData, "close reason is not UTF-8") // RFC 6455 5.5.1
			}
			p = p[:2] // echo the code, not the reason
		} else if len(p) == 1 {
			return c.fail(closeProtocol, "one-byte close payload") // RFC 6455 5.5.1
		}
		_ = c.writeControl(opClose, p) // RFC 6455 5.5.1: echo the code
		c.rerr = io.EOF
		return io.EOF
	}
	return nil // pong: unsolicited ones are allowed and ignored (RFC 6455 5.5.3)
}

// validCloseCode reports whether a peer may send code (RFC 6455 7.4; 1012
// to 1014 were registered later, as gorilla/websocket accepts them).
func validCloseCode(code uint16) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// readError records err as the sticky read error and returns it, unless
// it is a deadline, after which Read may be called again. io.EOF in the
// middle of a frame becomes io.ErrUnexpectedEOF; at a frame boundary it is
// the peer closing TCP without a close frame, reported as io.EOF, as the
// end of the byte stream.
func (c *wsConn) readError(err error, midFrame bool) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if midFrame && errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.rerr = err
	return err
}

// fail ends the connection for a protocol violation: it sends a close frame
// with code and reason, and makes every later Read return the error.
func (c *wsConn) fail(code uint16, reason string) error {
	return c.failWith(&wsCloseError{code, reason})
}

func (c *wsConn) failWith(e *wsCloseError) error {
	var p [maxControlPayload]byte
	binary.BigEndian.PutUint16(p[:], e.code)
	n := 2 + copy(p[2:], e.reason) // the reasons are ASCII and fit
	_ = c.writeControl(opClose, p[:n])
	c.rerr = e
	return e
}

// Write sends p as one binary message of one frame. After an error (or
// once a close frame was sent) it sends nothing more.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if len(p) == 0 {
		return 0, nil
	}
	buf := wsBuffers.Get().(*[wsWriteBuffer]byte)
	defer wsBuffers.Put(buf)
	h := frameHeader(buf[:], opBinary, len(p))
	k := copy(buf[h:], p)
	n, err := c.conn.Write(buf[:h+k])
	if err == nil && k < len(p) {
		var m int
		m, err = c.conn.Write(p[k:]) // large payloads leave from p, not copied
		n += m
	}
	if err != nil {
		c.werr = err
		return max(n-h, 0), err
	}
	return len(p), nil
}

// writeControl sends a control frame (payload at most 125 bytes) within
// wsCloseGrace, then restores the user's write deadline. After a close
// frame, Write refuses with errWSClosing.
func (c *wsConn) writeControl(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	buf := wsBuffers.Get().(*[wsWriteBuffer]byte)
	defer wsBuffers.Put(buf)
	h := frameHeader(buf[:], op, len(payload))
	n := h + copy(buf[h:], payload)
	c.dmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wsCloseGrace))
	c.dmu.Unlock()
	_, err := c.conn.Write(buf[:n])
	c.dmu.Lock()
	_ = c.conn.SetWriteDeadline(c.wdeadline)
	c.dmu.Unlock()
	switch {
	case err != nil:
		c.werr = err
	case op == opClose:
		c.werr = errWSClosing
	}
	return err
}

// frameHeader writes the header of an unmasked final frame with opcode op
// and an n-byte payload at the start of b, and returns its length (2, 4 or
// 10 bytes, the shortest that holds n: RFC 6455 5.2).
func frameHeader(b []byte, op byte, n int) int {
	b[0] = 0x80 | op
	switch {
	case n <= 125:
		b[1] = byte(n)
		return 2
	case n <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return 10
	}
}

// maskBytes XORs b with the masking key, starting at key[pos], and returns
// the key index for the byte after b (RFC 6455 5.3).
func maskBytes(b []byte, key [4]byte, pos int) int {
	for len(b) > 0 && pos&3 != 0 {
		b[0] ^= key[pos&3]
		b = b[1:]
		pos++
	}
	if len(b) >= 8 {
		k := uint64(binary.LittleEndian.Uint32(key[:]))
		k |= k << 32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
	return (pos + len(b)) & 3
}

// Close sends a normal-closure frame, unless a close frame was sent
// already (waiting at most wsCloseGrace, also for a Write in progress),
// and closes the socket. Later calls return the first call's result.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		c.dmu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(wsCloseGrace)) // unblocks a stuck Write
		c.dmu.Unlock()
		_ = c.writeControl(opClose, []byte{closeNormal >> 8, closeNormal & 0xff})
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

func (c *wsConn) LocalAddr() net.Addr  { return c.conn.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.wdeadline = t
	return c.conn.SetWriteDeadline(t)
}
