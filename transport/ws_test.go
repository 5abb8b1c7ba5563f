package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of the in-house WebSocket server (ws_handshake.go, ws_conn.go)
// with a raw RFC 6455 client written here, which sends exactly the bytes
// a case needs, broken ones included; the cases follow the Autobahn
// TestSuite's groups (framing, fragmentation, control frames, close
// handling, limits). Real clients (gorilla, Paho, MQTT.js) are in
// websocket_test.go and interop_test.go.

// testKey and testAccept are the example of RFC 6455 section 1.3.
const (
	testKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	testAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// testMask is the masking key of the test client's frames.
var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsClient is a raw WebSocket client. As a net.Conn, its Read returns the
// payloads of the server's data frames (for the benchmark); the tests use
// writeFrame and readFrame.
type wsClient struct {
	net.Conn
	br      *bufio.Reader
	pending []byte // rest of a data frame's payload not yet returned by Read
}

// upgradeRequest is a valid upgrade request for testKey, with extra header
// lines (each without its CRLF).
func upgradeRequest(extra ...string) string {
	var b strings.Builder
	b.WriteString("GET /mqtt HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// readResponse reads an HTTP response's status line and header; names are
// lower-cased and repeated ones joined with ", ".
func readResponse(br *bufio.Reader) (status string, header map[string]string, err error) {
	header = map[string]string{}
	line, err := br.ReadString('\n')
	if err != nil {
		return "", nil, fmt.Errorf("status line: %w (got %q)", err, line)
	}
	if f := strings.Fields(line); len(f) >= 2 && f[0] == "HTTP/1.1" {
		status = f[1]
	} else {
		return "", nil, fmt.Errorf("status line %q", line)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return status, header, nil
		}
		k, v, _ := strings.Cut(line, ":")
		k, v = strings.ToLower(k), strings.TrimSpace(v)
		if old, ok := header[k]; ok {
			v = old + ", " + v
		}
		header[k] = v
	}
}

// wsUpgrade sends req on c and reads the answer; with a 101 it returns the
// client too.
func wsUpgrade(c net.Conn, req string) (*wsClient, string, map[string]string, error) {
	if _, err := io.WriteString(c, req); err != nil {
		return nil, "", nil, err
	}
	br := bufio.NewReader(c)
	status, header, err := readResponse(br)
	if err != nil {
		return nil, "", nil, err
	}
	if status != "101" {
		return nil, status, header, nil
	}
	if header["sec-websocket-accept"] != testAccept {
		return nil, status, header, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", header["sec-websocket-accept"], testAccept)
	}
	return &wsClient{Conn: c, br: br}, status, header, nil
}

// dialWS connects to addr and upgrades with upgradeRequest(extra...).
func dialWS(t *testing.T, addr net.Addr, extra ...string) *wsClient {
	t.Helper()
	c := dial(t, addr)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	ws, status, header, err := wsUpgrade(c, upgradeRequest(extra...))
	if err != nil || ws == nil {
		t.Fatalf("upgrade: %s %v %v", status, header, err)
	}
	return ws
}

// frame encodes a client frame: b0 is FIN, RSV and opcode; size is the
// length claimed (-1: len(payload)); the payload is masked with testMask
// unless unmasked.
func frame(b0 byte, payload []byte, size int64, unmasked bool) []byte {
	if size < 0 {
		size = int64(len(payload))
	}
	b := []byte{b0, 0}
	switch {
	case size <= 125:
		b[1] = byte(size)
	case size <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(size))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(size))
	}
	if unmasked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	b = append(b, testMask[:]...)
	for i, x := range payload {
		b = append(b, x^testMask[i&3])
	}
	return b
}

// Frame first bytes: FIN plus opcode.
const (
	finBinary = 0x80 | opBinary
	finCont   = 0x80 | opContinuation
	finPing   = 0x80 | opPing
	finPong   = 0x80 | opPong
	finClose  = 0x80 | opClose
)

func (c *wsClient) send(t *testing.T, frames ...[]byte) {
	t.Helper()
	if _, err := c.Conn.Write(bytes.Join(frames, nil)); err != nil {
		t.Errorf("client write: %v", err) // not Fatal: send runs in goroutines too
	}
}

// readFrame reads one server frame: its first byte, header length and
// payload. Server frames must not be masked.
func (c *wsClient) readFrame() (b0 byte, hlen int, payload []byte, err error) {
	var h [10]byte
	if _, err = io.ReadFull(c.br, h[:2]); err != nil {
		return 0, 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, 0, nil, errors.New("server frame is masked")
	}
	size := uint64(h[1] & 0x7f)
	hlen = 2
	switch size {
	case 126:
		hlen = 4
	case 127:
		hlen = 10
	}
	if _, err = io.ReadFull(c.br, h[2:hlen]); err != nil {
		return 0, 0, nil, err
	}
	switch size {
	case 126:
		size = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		size = binary.BigEndian.Uint64(h[2:])
	}
	if size > 1<<30 {
		return 0, 0, nil, fmt.Errorf("frame of %d bytes", size)
	}
	payload = make([]byte, size)
	_, err = io.ReadFull(c.br, payload)
	return h[0], hlen, payload, err
}

// Read returns the payloads of the server's binary frames.
func (c *wsClient) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		b0, _, payload, err := c.readFrame()
		if err != nil {
			return 0, err
		}
		if b0&0x0f == opClose {
			return 0, io.EOF
		}
		if b0&0x0f == opBinary || b0&0x0f == opContinuation {
			c.pending = payload
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// readData reads the server's frames until n payload bytes of binary
// frames arrived, and returns them and the pongs' payloads.
func (c *wsClient) readData(t *testing.T, n int) (data []byte, pongs []string) {
	t.Helper()
	for len(data) < n {
		b0, _, p, err := c.readFrame()
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(data), n, err)
		}
		switch b0 {
		case finBinary:
			data = append(data, p...)
		case finPong:
			pongs = append(pongs, string(p))
		default:
			t.Fatalf("frame %#x %q while waiting for data", b0, p)
		}
	}
	return data, pongs
}

// expectClose reads frames until a close frame, checks its code (0: an
// empty payload), and then that the server closes the connection.
func (c *wsClient) expectClose(t *testing.T, code uint16) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		b0, _, p, err := c.readFrame()
		if err != nil {
			t.Fatalf("waiting for close %d: %v", code, err)
		}
		if b0 != finClose {
			continue
		}
		switch {
		case code == 0 && len(p) != 0:
			t.Fatalf("close payload %q, want none", p)
		case code != 0 && (len(p) < 2 || binary.BigEndian.Uint16(p) != code):
			t.Fatalf("close payload %q, want code %d", p, code)
		}
		break
	}
	if _, err := io.Copy(io.Discard, c.br); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server did not close the connection after its close frame")
	}
}

// echoReporting is an echo handler that reports how its Read ended.
func echoReporting(ended chan<- error) Handler {
	return func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		p := make([]byte, 32<<10)
		for {
			n, err := c.Read(p)
			if n > 0 {
				if _, werr := c.Write(p[:n]); werr != nil {
					ended <- werr
					return
				}
			}
			if err != nil {
				ended <- err
				return
			}
		}
	}
}

// wsEchoServer starts a WebSocket listener whose handler echoes; each
// handler's end of Read goes to the returned channel.
func wsEchoServer(t *testing.T) (net.Addr, <-chan error) {
	t.Helper()
	ended := make(chan error, 16)
	s := newServer(t, echoReporting(ended), 0)
	return listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, HandshakeTimeout: 5 * time.Second}), ended
}

func handlerEnd(t *testing.T, ended <-chan error) error {
	t.Helper()
	select {
	case err := <-ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's Read did not end")
		return nil
	}
}

func TestWSAcceptKey(t *testing.T) {
	if got := wsAccept(testKey); got != testAccept {
		t.Fatalf("wsAccept = %q, want %q (RFC 6455 1.3)", got, testAccept)
	}
}

// TestWSHandshakeAccepted: requests that must be upgraded, and the
// subprotocol answered.
func TestWSHandshakeAccepted(t *testing.T) {
	addr, _ := wsEchoServer(t)
	for _, c := range []struct {
		name  string
		req   string
		proto string
	}{
		{"mqtt", upgradeRequest("Sec-WebSocket-Protocol: mqtt"), "mqtt"},
		{"mqttv3.1", upgradeRequest("Sec-WebSocket-Protocol: mqttv3.1"), "mqttv3.1"},
		{"mqtt preferred", upgradeRequest("Sec-WebSocket-Protocol: mqttv3.1, mqtt"), "mqtt"},
		{"two header lines", upgradeRequest("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: mqttv3.1"), "mqttv3.1"},
		{"none offered", upgradeRequest(), ""},
		{"only others", upgradeRequest("Sec-WebSocket-Protocol: chat, superchat"), ""},
		{"case-sensitive", upgradeRequest("Sec-WebSocket-Protocol: MQTT"), ""},
		{"browser", "GET /mqtt?x=1 HTTP/1.1\r\nhost: 192.168.1.1:9001\r\nconnection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\n" +
			"origin: http://192.168.1.1\r\nsec-websocket-version: 13\r\nsec-websocket-key:   " + testKey + "  \r\n" +
			"sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\nsec-websocket-protocol: mqtt\r\n" +
			"Cookie: " + strings.Repeat("c", 3000) + "\r\n\r\n", "mqtt"},
		{"bare LF", strings.ReplaceAll(upgradeRequest(), "\r\n", "\n"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr)
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			ws, status, header, err := wsUpgrade(conn, c.req)
			if err != nil || ws == nil {
				t.Fatalf("status %s %v: %v", status, header, err)
			}
			if !strings.EqualFold(header["upgrade"], "websocket") || !strings.EqualFold(header["connection"], "upgrade") {
				t.Errorf("header %v", header)
			}
			if p, ok := header["sec-websocket-protocol"]; p != c.proto || ok != (c.proto != "") {
				t.Errorf("subprotocol %q, want %q", p, c.proto)
			}
			if _, ok := header["sec-websocket-extensions"]; ok {
				t.Errorf("an extension was accepted: %v", header)
			}
			ws.send(t, frame(finBinary, []byte("ok"), -1, false))
			if got, _ := ws.readData(t, 2); string(got) != "ok" {
				t.Fatalf("echo %q", got)
			}
		})
	}
}

// TestWSHandshakeRefused: requests that are not WebSocket upgrades get an
// HTTP error and a closed connection, and never reach the handler.
func TestWSHandshakeRefused(t *testing.T) {
	var calls atomic.Int64
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) { calls.Add(1); c.Close() }, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, HandshakeTimeout: 5 * time.Second})
	without := func(name string) string {
		var out []string
		for _, l := range strings.SplitAfter(upgradeRequest(), "\r\n") {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "")
	}
	replace := func(old, new string) string { return strings.Replace(upgradeRequest(), old, new, 1) }
	for _, c := range []struct {
		name, req, status string
		header            map[string]string // must be in the answer
	}{
		{"missing key", without("Sec-WebSocket-Key"), "400", nil},
		{"short key", replace(testKey, "dGhlIHNhbXBsZQ=="), "400", nil},
		{"key not base64", replace(testKey, "dGhlIHNhbXBsZSBub25jZQ!!"), "400", nil},
		{"two keys", upgradeRequest("Sec-WebSocket-Key: " + testKey), "400", nil},
		{"version 8", replace("Version: 13", "Version: 8"), "426", map[string]string{"sec-websocket-version": "13"}},
		{"no version", without("Sec-WebSocket-Version"), "426", map[string]string{"sec-websocket-version": "13"}},
		{"no upgrade header", without("Upgrade"), "400", nil},
		{"upgrade to h2c", replace("Upgrade: websocket", "Upgrade: h2c"), "400", nil},
		{"connection keep-alive", replace("Connection: Upgrade", "Connection: keep-alive"), "400", nil},
		{"POST", replace("GET ", "POST "), "405", map[string]string{"allow": "GET"}},
		{"HTTP/1.0", replace("HTTP/1.1", "HTTP/1.0"), "400", nil},
		{"folded header", replace("Connection: Upgrade\r\n", "Connection: keep-alive,\r\n Upgrade\r\n"), "400", nil},
		{"space before colon", replace("Upgrade: websocket", "Upgrade : websocket"), "400", nil},
		{"not HTTP", "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n", "400", nil},
		{"headers too large", "GET / HTTP/1.1\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("a", 100)+"\r\n", 80) + "\r\n", "431", nil},
		{"one header line too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxUpgradeRequest) + "\r\n\r\n", "431", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr)
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			ws, status, header, err := wsUpgrade(conn, c.req)
			if err != nil || ws != nil || status != c.status {
				t.Fatalf("status %s %v (%v), want %s", status, header, err, c.status)
			}
			for k, v := range c.header {
				if header[k] != v {
					t.Errorf("header %s: %q, want %q", k, header[k], v)
				}
			}
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("after the answer: %v, want the server to close", err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("handler called %d times", n)
	}
}

// TestWSHandshakeTimeout: a client that stops in the middle of its request
// is closed after HandshakeTimeout, without an answer.
func TestWSHandshakeTimeout(t *testing.T) {
	s := newServer(t, echo, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, HandshakeTimeout: 300 * time.Millisecond})
	conn := dial(t, addr)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nUpgrade: websocket\r\n")
	got, err := io.ReadAll(conn)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v; want a silent close", got, err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("closed after %v, want about 300ms", took)
	}
}

// TestWSEarlyFrames: frames sent right behind the request (before the 101
// arrived) are not lost.
func TestWSEarlyFrames(t *testing.T) {
	addr, _ := wsEchoServer(t)
	conn := dial(t, addr)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	ws, _, _, err := wsUpgrade(conn, upgradeRequest()+string(frame(finBinary, []byte("early"), -1, false)))
	if err != nil || ws == nil {
		t.Fatal(err)
	}
	if got, _ := ws.readData(t, 5); string(got) != "early" {
		t.Fatalf("got %q", got)
	}
}

// TestWSFragmentation: a message in 1, 2 or many frames (empty ones
// included) arrives whole, with pings answered in between.
func TestWSFragmentation(t *testing.T) {
	addr, _ := wsEchoServer(t)
	msg := make([]byte, 70000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	split := func(sizes ...int) [][]byte {
		var out [][]byte
		rest := msg
		for _, n := range sizes {
			out = append(out, rest[:n])
			rest = rest[n:]
		}
		return append(out, rest)
	}
	many := make([]int, 0, 200)
	for i := range 200 {
		many = append(many, i%7*50) // zero-length fragments too
	}
	for _, c := range []struct {
		name  string
		parts [][]byte
		ping  bool
	}{
		{"one frame", split(), false},
		{"two frames", split(100), false},
		{"many frames", split(many...), false},
		{"ping between fragments", split(10, 20000, 3), true},
		{"empty first fragment", split(0), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := dialWS(t, addr)
			var frames [][]byte
			var wantPongs []string
			for i, p := range c.parts {
				b0 := byte(opContinuation)
				if i == 0 {
					b0 = opBinary
				}
				if i == len(c.parts)-1 {
					b0 |= 0x80
				}
				frames = append(frames, frame(b0, p, -1, false))
				if c.ping && i < len(c.parts)-1 {
					pl := fmt.Sprintf("ping %d", i)
					frames = append(frames, frame(finPing, []byte(pl), -1, false))
					frames = append(frames, frame(finPong, []byte("unsolicited"), -1, false)) // ignored
					wantPongs = append(wantPongs, pl)
				}
			}
			go ws.send(t, frames...)
			got, pongs := ws.readData(t, len(msg))
			if !bytes.Equal(got, msg) {
				t.Fatal("message corrupted")
			}
			// The last pong may come after the last data.
			for len(pongs) < len(wantPongs) {
				b0, _, p, err := ws.readFrame()
				if err != nil || b0 != finPong {
					t.Fatalf("frame %#x %q %v, want a pong", b0, p, err)
				}
				pongs = append(pongs, string(p))
			}
			if strings.Join(pongs, "|") != strings.Join(wantPongs, "|") {
				t.Fatalf("pongs %q, want %q", pongs, wantPongs)
			}
		})
	}
}

// TestWSControlFrames: pings of 0 and 125 bytes are answered with the same
// payload; pongs are ignored.
func TestWSControlFrames(t *testing.T) {
	addr, _ := wsEchoServer(t)
	ws := dialWS(t, addr)
	for _, p := range [][]byte{nil, bytes.Repeat([]byte{0xfe}, 125)} {
		ws.send(t, frame(finPong, []byte("x"), -1, false), frame(finPing, p, -1, false))
		b0, _, got, err := ws.readFrame()
		if err != nil || b0 != finPong || !bytes.Equal(got, p) {
			t.Fatalf("frame %#x %x %v, want pong %x", b0, got, err, p)
		}
	}
}

// TestWSServerFrames: each Write is one final binary frame with the
// shortest length encoding (2, 4 or 10 header bytes).
func TestWSServerFrames(t *testing.T) {
	sizes := []int{1, 125, 126, 4090, 4096, 65535, 65536, 300000}
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		for _, n := range sizes {
			if _, err := c.Write(bytes.Repeat([]byte{byte(n)}, n)); err != nil {
				return
			}
		}
		_, _ = c.Write(nil) // sends nothing
		_, _ = io.Copy(io.Discard, c)
	}, 0)
	ws := dialWS(t, listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true}))
	for _, n := range sizes {
		b0, hlen, p, err := ws.readFrame()
		want := 10
		switch {
		case n <= 125:
			want = 2
		case n <= 65535:
			want = 4
		}
		if err != nil || b0 != finBinary || hlen != want || !bytes.Equal(p, bytes.Repeat([]byte{byte(n)}, n)) {
			t.Fatalf("write of %d: frame %#x, header %d bytes (want %d), %d bytes, %v", n, b0, hlen, want, len(p), err)
		}
	}
	ws.send(t, frame(finClose, []byte{0x03, 0xe8}, -1, false))
	ws.expectClose(t, 1000)
}

// TestWSClose: the client's close frame is echoed with its code, the
// handler's Read ends with io.EOF and the server closes the connection;
// bad close frames are answered 1002 or 1007.
func TestWSClose(t *testing.T) {
	addr, ended := wsEchoServer(t)
	code := func(c uint16, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, c), reason...)
	}
	for _, c := range []struct {
		name    string
		payload []byte
		want    uint16 // 0: empty close
		readErr error
	}{
		{"1000 with reason", code(1000, "bye"), 1000, io.EOF},
		{"1001", code(1001, ""), 1001, io.EOF},
		{"3000", code(3000, "app"), 3000, io.EOF},
		{"4999", code(4999, ""), 4999, io.EOF},
		{"empty", nil, 0, io.EOF},
		{"one byte", []byte{3}, 1002, nil},
		{"code 999", code(999, ""), 1002, nil},
		{"code 1005", code(1005, ""), 1002, nil},
		{"code 1006", code(1006, ""), 1002, nil},
		{"code 1015", code(1015, ""), 1002, nil},
		{"code 2999", code(2999, ""), 1002, nil},
		{"code 5000", code(5000, ""), 1002, nil},
		{"reason not UTF-8", code(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), 1007, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := dialWS(t, addr)
			ws.send(t, frame(finBinary, []byte("data first"), -1, false))
			if got, _ := ws.readData(t, 10); string(got) != "data first" {
				t.Fatalf("echo %q", got)
			}
			ws.send(t, frame(finClose, c.payload, -1, false))
			ws.expectClose(t, c.want)
			err := handlerEnd(t, ended)
			var ce *wsCloseError
			switch {
			case c.readErr != nil && !errors.Is(err, c.readErr):
				t.Fatalf("handler Read: %v, want %v", err, c.readErr)
			case c.readErr == nil && (!errors.As(err, &ce) || ce.code != c.want):
				t.Fatalf("handler Read: %v, want a close error %d", err, c.want)
			}
		})
	}
}

// TestWSProtocolErrors: frames that break RFC 6455 or MQTT's binding close
// the connection with 1002 (or 1003 for text), and the handler's Read ends
// with the matching error.
func TestWSProtocolErrors(t *testing.T) {
	addr, ended := wsEchoServer(t)
	start := frame(opBinary, []byte("start"), -1, false) // a message that continues
	for _, c := range []struct {
		name   string
		frames [][]byte
		code   uint16
	}{
		{"unmasked", [][]byte{frame(finBinary, []byte("x"), -1, true)}, 1002},
		{"unmasked ping", [][]byte{frame(finPing, []byte("x"), -1, true)}, 1002},
		{"RSV1", [][]byte{frame(finBinary|0x40, []byte("x"), -1, false)}, 1002},
		{"RSV2", [][]byte{frame(finBinary|0x20, []byte("x"), -1, false)}, 1002},
		{"RSV3 on a ping", [][]byte{frame(finPing|0x10, nil, -1, false)}, 1002},
		{"opcode 3", [][]byte{frame(0x83, nil, -1, false)}, 1002},
		{"opcode 7", [][]byte{frame(0x87, nil, -1, false)}, 1002},
		{"opcode 11", [][]byte{frame(0x8b, nil, -1, false)}, 1002},
		{"opcode 15", [][]byte{frame(0x8f, []byte("x"), -1, false)}, 1002},
		{"ping of 126 bytes", [][]byte{frame(finPing, make([]byte, 126), -1, false)}, 1002},
		{"fragmented ping", [][]byte{frame(opPing, []byte("x"), -1, false)}, 1002},
		{"fragmented close", [][]byte{frame(opClose, []byte{3, 0xe8}, -1, false)}, 1002},
		{"continuation first", [][]byte{frame(finCont, []byte("x"), -1, false)}, 1002},
		{"binary inside a message", [][]byte{start, frame(finBinary, []byte("x"), -1, false)}, 1002},
		{"text inside a message", [][]byte{start, frame(0x80|opText, []byte("x"), -1, false)}, 1002},
		{"text", [][]byte{frame(0x80|opText, []byte("hello"), -1, false)}, 1003},
		{"fragmented text", [][]byte{frame(opText, []byte("hel"), -1, false), frame(finCont, []byte("lo"), -1, false)}, 1003},
		{"length top bit", [][]byte{append([]byte{finBinary, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, testMask[:]...)}, 1002},
		{"frame over the limit", [][]byte{frame(finBinary, nil, wsMaxMessage+1, false)[:14]}, 1009},
		{"message over the limit", [][]byte{
			frame(opBinary, []byte("x"), -1, false),
			frame(finCont, nil, wsMaxMessage, false)[:14],
		}, 1009},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := dialWS(t, addr)
			ws.send(t, c.frames...)
			ws.expectClose(t, c.code)
			err := handlerEnd(t, ended)
			var ce *wsCloseError
			if !errors.As(err, &ce) || ce.code != c.code {
				t.Fatalf("handler Read: %v, want a close error %d", err, c.code)
			}
			if c.code == 1003 && !errors.Is(err, errTextFrame) {
				t.Fatalf("handler Read: %v, want errTextFrame", err)
			}
		})
	}
}

// wsPair returns a raw client and the server side of one WebSocket
// connection over loopback TCP (without a handshake), whose messages are
// limited to maxMessage bytes.
func wsPair(t *testing.T, maxMessage int64) (*wsClient, *wsConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc := dial(t, ln.Addr())
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ws := newWSConn(sc, bufio.NewReaderSize(sc, wsReadBuffer), maxMessage)
	t.Cleanup(func() { ws.Close() })
	_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
	return &wsClient{Conn: cc, br: bufio.NewReader(cc)}, ws
}

// TestWSMessageLimit: a message of exactly the limit passes, in one frame
// or several; one byte more is refused with 1009, whether one frame says
// so or the frames add up to it.
func TestWSMessageLimit(t *testing.T) {
	const limit = 1000
	for _, c := range []struct {
		name   string
		frames [][]byte
		ok     bool
	}{
		{"one frame at the limit", [][]byte{frame(finBinary, make([]byte, limit), -1, false)}, true},
		{"three frames at the limit", [][]byte{
			frame(opBinary, make([]byte, 400), -1, false), frame(opContinuation, make([]byte, 400), -1, false),
			frame(finCont, make([]byte, 200), -1, false)}, true},
		{"one frame over", [][]byte{frame(finBinary, make([]byte, limit+1), -1, false)[:8]}, false},
		{"three frames over", [][]byte{
			frame(opBinary, make([]byte, 400), -1, false), frame(opContinuation, make([]byte, 400), -1, false),
			frame(finCont, make([]byte, 201), -1, false)[:8]}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, sv := wsPair(t, limit)
			go cl.send(t, c.frames...)
			_ = sv.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.ReadFull(sv, make([]byte, limit))
			if c.ok {
				if err != nil {
					t.Fatalf("read %d bytes: %v", n, err)
				}
				return
			}
			var ce *wsCloseError
			if !errors.As(err, &ce) || ce.code != closeTooBig || n > 800 {
				t.Fatalf("read %d bytes: %v, want close 1009", n, err)
			}
			sv.Close()
			cl.expectClose(t, closeTooBig)
		})
	}
}

// TestWSReadDeadline: a read deadline that expires in the middle of a frame
// header or payload loses nothing: with a new deadline, Read carries on.
func TestWSReadDeadline(t *testing.T) {
	cl, sv := wsPair(t, wsMaxMessage)
	msg := []byte("a message cut in three pieces")
	raw := append(frame(finPing, []byte("p"), -1, false), frame(finBinary, msg, -1, false)...)
	var got []byte
	buf := make([]byte, 64)
	for _, piece := range [][]byte{raw[:1], raw[1:9], raw[9:12], raw[12:20], raw[20:]} {
		cl.send(t, piece)
		time.Sleep(10 * time.Millisecond)
		_ = sv.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		for {
			n, err := sv.Read(buf)
			got = append(got, buf[:n]...)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q, want %q", got, msg)
	}
	if b0, _, p, err := cl.readFrame(); err != nil || b0 != finPong || string(p) != "p" {
		t.Fatalf("frame %#x %q %v, want pong", b0, p, err)
	}
}

// TestWSWriteDeadline: the write deadline passes through to the socket,
// but does not stop a pong (as the broker leaves an expired write deadline
// on an idle connection).
func TestWSWriteDeadline(t *testing.T) {
	_, sv := wsPair(t, wsMaxMessage)
	_ = sv.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := sv.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write after the deadline: %v", err)
	}
	cl2, sv2 := wsPair(t, wsMaxMessage)
	_ = sv2.SetWriteDeadline(time.Now().Add(-time.Second))
	cl2.send(t, frame(finPing, []byte("still here"), -1, false), frame(finBinary, []byte("x"), -1, false))
	_ = sv2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := sv2.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if b0, _, p, err := cl2.readFrame(); err != nil || b0 != finPong || string(p) != "still here" {
		t.Fatalf("frame %#x %q %v, want pong", b0, p, err)
	}
}

// TestWSConcurrentWrites: Writes from several goroutines and the pongs
// that Read sends never interleave inside a frame.
func TestWSConcurrentWrites(t *testing.T) {
	cl, sv := wsPair(t, wsMaxMessage)
	const writers, writes, pings = 4, 200, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				if _, err := sv.Write(bytes.Repeat([]byte{byte(w)}, 1+i*53%9000)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() {
		for i := range pings {
			if _, err := cl.Conn.Write(frame(finPing, []byte(fmt.Sprint(i)), -1, false)); err != nil {
				return
			}
		}
		_, _ = cl.Conn.Write(frame(finBinary, []byte("end"), -1, false))
	}()
	go func() { _, _ = io.ReadFull(sv, make([]byte, 3)) }() // answers the pings
	var data, pongs int
	for data < writers*writes || pongs < pings {
		b0, _, p, err := cl.readFrame()
		if err != nil {
			t.Fatalf("after %d frames and %d pongs: %v", data, pongs, err)
		}
		switch b0 {
		case finBinary:
			if len(bytes.Trim(p, string(p[:1]))) != 0 {
				t.Fatal("frames interleaved")
			}
			data++
		case finPong:
			if string(p) != fmt.Sprint(pongs) {
				t.Fatalf("pong %q, want %d", p, pongs)
			}
			pongs++
		default:
			t.Fatalf("frame %#x", b0)
		}
	}
	wg.Wait()
}

// TestWSCloseUnblocksWrite: Close sends its close frame once and returns
// soon even while a Write is stuck on a peer that does not read.
func TestWSCloseUnblocksWrite(t *testing.T) {
	_, sv := wsPair(t, wsMaxMessage)
	done := make(chan error, 1)
	go func() {
		_, err := sv.Write(make([]byte, 64<<20))
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	err1, err2 := sv.Close(), sv.Close()
	if took := time.Since(start); took > 3*wsCloseGrace {
		t.Fatalf("Close took %v", took)
	}
	if err1 != nil || err2 != err1 {
		t.Fatalf("Close: %v, then %v", err1, err2)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the stuck Write succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck Write did not return")
	}
}

// TestWSHandlerClose: the handler's Close sends close 1000 once; Write
// after it fails.
func TestWSHandlerClose(t *testing.T) {
	cl, sv := wsPair(t, wsMaxMessage)
	if _, err := sv.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := sv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Write([]byte("more")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if got, _ := cl.readData(t, 3); string(got) != "bye" {
		t.Fatalf("got %q", got)
	}
	cl.expectClose(t, closeNormal)
}

func TestWSMaskBytes(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for pos := range 4 {
			b := make([]byte, n)
			want := make([]byte, n)
			for i := range want {
				want[i] = key[(pos+i)&3]
			}
			if next := maskBytes(b, key, pos); next != (pos+n)&3 || !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: %x next %d, want %x", n, pos, b, next, want)
			}
		}
	}
}
