//go:build !nossl

package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket listener sizes.
const (
	// maxUpgradeRequest bounds the HTTP upgrade request (request line and
	// headers); a longer one fails the handshake.
	maxUpgradeRequest = 8 << 10
	// wsReadBuffer is each connection's read buffer; write buffers come
	// from a pool shared by the listener's connections, so an idle
	// connection holds none.
	wsReadBuffer  = 1 << 10
	wsWriteBuffer = 4 << 10
	// wsCloseGrace bounds the wait to send a close frame when the handler
	// closes the connection.
	wsCloseGrace = time.Second
)

// errTextFrame is returned by a WebSocket connection's Read when the peer
// sends a text frame; the connection is then unusable.
var errTextFrame = errors.New("transport: websocket: text frame received; MQTT travels in binary frames [MQTT-6.0.0-1]")

// newWSLayer returns the WebSocket handshake for a listener: it reads one
// HTTP upgrade request on the connection, answers it with the "mqtt"
// subprotocol, and returns a net.Conn that carries the byte stream in
// binary frames.
func newWSLayer() (layer, error) {
	up := &websocket.Upgrader{
		Subprotocols:    []string{"mqtt", "mqttv3.1"},
		ReadBufferSize:  wsReadBuffer,
		WriteBufferSize: wsWriteBuffer,
		WriteBufferPool: &sync.Pool{},
		// Any origin: MQTT authenticates in CONNECT, not with cookies, and
		// router dashboards are often served from another port or host.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return func(_ context.Context, c net.Conn, _ *ConnInfo) (net.Conn, error) {
		br := bufio.NewReaderSize(&io.LimitedReader{R: c, N: maxUpgradeRequest}, 1024)
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil, fmt.Errorf("transport: websocket: reading the upgrade request: %w", err)
		}
		w := &upgradeResponse{c: c, br: br, header: http.Header{}}
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return nil, fmt.Errorf("transport: websocket: %w", err)
		}
		return &wsConn{ws: ws}, nil
	}, nil
}

// upgradeResponse is the http.ResponseWriter and http.Hijacker the
// upgrader needs, over the one connection: error answers are written
// straight to it (and the connection is then closed by the caller).
type upgradeResponse struct {
	c           net.Conn
	br          *bufio.Reader
	header      http.Header
	wroteHeader bool
}

func (w *upgradeResponse) Header() http.Header { return w.header }

func (w *upgradeResponse) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.header.Set("Connection", "close")
	bw := bufio.NewWriter(w.c)
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", code, http.StatusText(code))
	_ = w.header.Write(bw)
	bw.WriteString("\r\n")
	_ = bw.Flush()
}

func (w *upgradeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.c.Write(p)
}

// Hijack hands the connection to the upgrader, with the reader that holds
// what was read of the request (empty unless the client sent data early).
func (w *upgradeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.c, bufio.NewReadWriter(w.br, bufio.NewWriterSize(w.c, 512)), nil
}

// wsConn is a WebSocket connection seen as a byte stream: Read returns the
// payloads of binary messages in order, each Write sends one binary
// message. It follows the net.Conn rules (concurrent calls are safe;
// deadline expiry is os.ErrDeadlineExceeded). After a read or write error,
// every later Read or Write returns it again.
type wsConn struct {
	ws *websocket.Conn

	rmu  sync.Mutex
	r    io.Reader // the message being read, nil between messages
	rerr error

	wmu  sync.Mutex
	werr error

	closeOnce sync.Once
	closeErr  error
}

func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.rerr == nil {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				c.rerr = wsError(err)
				break
			}
			if typ != websocket.BinaryMessage {
				c.rerr = errTextFrame
				_ = c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "binary frames only"),
					time.Now().Add(wsCloseGrace))
				break
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil // message done; the next Read starts the next one
			if n > 0 || len(p) == 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			c.rerr = wsError(err)
		}
		return n, c.rerr
	}
	return 0, c.rerr
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		c.werr = wsError(err)
		return 0, c.werr
	}
	return len(p), nil
}

// Close sends a normal-closure frame (waiting at most a second) and closes
// the connection.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(wsCloseGrace))
		c.closeErr = c.ws.Close()
	})
	return c.closeErr
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

// wsError maps the library's errors to what net.Conn users expect: io.EOF
// for a close frame, os.ErrDeadlineExceeded for a timeout.
func wsError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return io.EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return os.ErrDeadlineExceeded
	}
	return err
}
