//go:build !nossl

package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsDial opens a WebSocket client connection to addr offering protocols.
func wsDial(t *testing.T, scheme string, addr net.Addr, cfg *tls.Config, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, TLSClientConfig: cfg, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(scheme+"://"+addr.String()+"/mqtt", nil)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	return ws, resp, err
}

// readN reads binary messages until n bytes arrived and returns them.
func readN(t *testing.T, ws *websocket.Conn, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		typ, p, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), n, err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("message type %d, want binary", typ)
		}
		got = append(got, p...)
	}
	return got
}

func TestWebSocketEcho(t *testing.T) {
	s := newServer(t, echo, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true})
	ws, resp, err := wsDial(t, "ws", addr, nil, "mqtt")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if ws.Subprotocol() != "mqtt" || resp.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", ws.Subprotocol())
	}
	// An MQTT CONNECT split over two messages comes back whole.
	connect := []byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0}
	for _, part := range [][]byte{connect[:5], connect[5:]} {
		if err := ws.WriteMessage(websocket.BinaryMessage, part); err != nil {
			t.Fatal(err)
		}
	}
	if got := readN(t, ws, len(connect)); !bytes.Equal(got, connect) {
		t.Fatalf("echo %x, want %x", got, connect)
	}
	// A large message crosses the 1 KiB read buffer and the 4 KiB write buffer.
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	if err := ws.WriteMessage(websocket.BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ws, len(big)); !bytes.Equal(got, big) {
		t.Fatal("large message corrupted")
	}
	// The client's close frame ends the handler's Read with EOF.
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	checkFor(t, 5*time.Second, func() error {
		if n := s.Connections(); n != 0 {
			return errors.New("handler still running after the client closed")
		}
		return nil
	})
}

func TestWebSocketHandlerSide(t *testing.T) {
	errs := make(chan error, 1)
	timedOut := make(chan struct{})
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		if _, err := c.Write([]byte("hi")); err != nil {
			errs <- err
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(make([]byte, 10))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			errs <- errors.New("read deadline error is not os.ErrDeadlineExceeded: " + err.Error())
			return
		}
		close(timedOut)
		// As on TCP, the connection is still usable with a new deadline.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		p := make([]byte, 10)
		n, err := c.Read(p)
		if err != nil || string(p[:n]) != "later" {
			errs <- fmt.Errorf("read after a timeout: %q, %v", p[:n], err)
			return
		}
		errs <- nil
	}, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true})
	ws, _, err := wsDial(t, "ws", addr, nil, "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ws, 2); string(got) != "hi" {
		t.Fatalf("got %q", got)
	}
	select {
	case <-timedOut:
	case err := <-errs:
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// The handler's Close sends a normal-closure frame.
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the handler closed: %v, want close 1000", err)
	}
}

func TestWebSocketTextFrameRefused(t *testing.T) {
	errs := make(chan error, 1)
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		_, err := c.Read(make([]byte, 10))
		errs <- err
	}, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true})
	ws, _, err := wsDial(t, "ws", addr, nil, "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, errTextFrame) {
		t.Fatalf("handler Read: %v, want errTextFrame", err)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Fatalf("client: %v, want close 1003", err)
	}
}

func TestWebSocketBadUpgrades(t *testing.T) {
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, HandshakeTimeout: 200 * time.Millisecond})
	for _, c := range []struct{ name, req, status string }{
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 "},
		{"POST upgrade", "POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "HTTP/1.1 405 "},
		{"not HTTP", "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n", ""},
		{"huge header", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxUpgradeRequest) + "\r\n\r\n", "HTTP/1.1 431 "},
		{"silent", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr)
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			go func() { _, _ = io.WriteString(conn, c.req) }()
			resp, _ := io.ReadAll(bufio.NewReader(conn)) // until the server closes
			if !strings.HasPrefix(string(resp), c.status) {
				t.Fatalf("response %q, want prefix %q", resp, c.status)
			}
		})
	}
	// Without the mqtt subprotocol offered, the upgrade still succeeds (no
	// subprotocol in the answer), as lenient brokers do.
	ws, _, err := wsDial(t, "ws", addr, nil)
	if err != nil || ws.Subprotocol() != "" {
		t.Fatalf("no subprotocol: %v %q", err, ws.Subprotocol())
	}
	if got := readN(t, ws, 4); string(got) != "CN=\n" {
		t.Fatalf("got %q", got)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
}

func TestWebSocketOverTLS(t *testing.T) {
	pki := newPKI(t)
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, TLS: &TLSOptions{
		CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, RequireCertificate: true,
	}})
	ws, _, err := wsDial(t, "wss", addr, clientConfig(pki.ca.pool, pki.client), "mqtt")
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	if got := readN(t, ws, len("CN=device-1\n")); string(got) != "CN=device-1\n" {
		t.Fatalf("got %q", got)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ws, 4); string(got) != "ping" {
		t.Fatalf("echo %q", got)
	}
	if _, _, err := wsDial(t, "wss", addr, clientConfig(pki.other.pool, pki.client), "mqtt"); err == nil {
		t.Fatal("wss client trusting another CA connected")
	}
	if _, _, err := wsDial(t, "ws", addr, nil, "mqtt"); err == nil {
		t.Fatal("plain ws client connected to a wss listener")
	}
}
