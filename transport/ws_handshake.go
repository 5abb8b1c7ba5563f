package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"gatemq/internal/digest"
	"gatemq/internal/fmt"
)

// The WebSocket opening handshake (RFC 6455 section 4.2), server side, read
// straight off the connection: no net/http, whose weight (and crypto/tls,
// which it always links) a router's flash cannot spare.

// WebSocket handshake limits.
const (
	// maxUpgradeRequest bounds the HTTP upgrade request (request line and
	// headers, line ends included); a longer one is answered 431.
	maxUpgradeRequest = 8 << 10
	// wsReadBuffer is each connection's read buffer, used first for the
	// upgrade request and then for frame headers. A longer request line
	// or header line is still read (into a temporary slice), within
	// maxUpgradeRequest.
	wsReadBuffer = 1 << 10
	// wsGUID is what the client's key is hashed with (RFC 6455 section 1.3).
	wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	// refuseLinger bounds the wait for the client to close after a refusal.
	refuseLinger = 500 * time.Millisecond
)

// wsSubprotocols are the subprotocols a WebSocket listener answers, in
// order of preference: "mqtt" [MQTT-6.0.0-3], and "mqttv3.1", which old
// clients (Paho JavaScript for MQTT 3.1) offer and Mosquitto accepts.
var wsSubprotocols = [...]string{"mqtt", "mqttv3.1"}

// errRequestTooLarge is readUpgradeRequest's error for a request over
// maxUpgradeRequest.
var errRequestTooLarge = errors.New("transport: websocket: upgrade request over 8 KiB")

// handshakeError is a refused upgrade: the HTTP status answered and why.
type handshakeError struct {
	status int
	reason string
}

func (e *handshakeError) Error() string {
	return "transport: websocket: upgrade refused with " + strconv.Itoa(e.status) + ": " + e.reason
}

// newWSLayer returns the WebSocket handshake for a listener: it reads one
// HTTP/1.1 upgrade request on the connection, answers it (with the "mqtt"
// subprotocol when offered), and returns a net.Conn that carries the byte
// stream in binary messages. A request it refuses gets an HTTP error answer;
// one that is not HTTP or never ends gets none. The caller closes c on
// error.
func newWSLayer() (layer, error) {
	return func(_ context.Context, c net.Conn, _ *ConnInfo) (net.Conn, error) {
		br := bufio.NewReaderSize(c, wsReadBuffer)
		if err := wsHandshake(c, br); err != nil {
			return nil, err
		}
		return newWSConn(c, br, wsMaxMessage), nil
	}, nil
}

// wsHandshake reads the upgrade request from br (which reads c) and writes
// the answer to c: 101 Switching Protocols, or an error status (see
// readUpgradeRequest) and a non-nil error. Bytes the client sent after the
// request (its first frames) stay in br.
func wsHandshake(c net.Conn, br *bufio.Reader) error {
	key, proto, err := readUpgradeRequest(br)
	if err != nil {
		var he *handshakeError
		switch {
		case errors.As(err, &he):
			refuse(c, he.status, he.reason)
		case errors.Is(err, errRequestTooLarge):
			refuse(c, 431, "request line and headers over 8 KiB")
		default:
			return fmt.Errorf("transport: websocket: reading the upgrade request: %w", err)
		}
		return err
	}
	resp := make([]byte, 0, 160)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, wsAccept(key)...)
	if proto != "" {
		resp = append(resp, "\r\nSec-WebSocket-Protocol: "...)
		resp = append(resp, proto...)
	}
	resp = append(resp, "\r\n\r\n"...)
	if _, err := c.Write(resp); err != nil {
		return fmt.Errorf("transport: websocket: writing the upgrade answer: %w", err)
	}
	return nil
}

// readUpgradeRequest reads an HTTP/1.1 request (request line and headers,
// at most maxUpgradeRequest bytes) from br and checks that it is a
// WebSocket upgrade (RFC 6455 section 4.2.1). It returns the client's
// Sec-WebSocket-Key and the subprotocol chosen: the first of
// wsSubprotocols that the client offered, or "" when it offered none of
// them; as with the gorilla/websocket library used before, such a client
// is accepted without a subprotocol.
//
// Any path and any Origin are accepted: MQTT authenticates in CONNECT, not
// with cookies, and router dashboards are often served from another port
// or host. Host is not required.
//
// A refused request gets a *handshakeError with its status: 400 for a
// request that is not HTTP/1.1, a malformed header line, a missing
// Upgrade: websocket or Connection: upgrade, or a missing or malformed
// Sec-WebSocket-Key; 405 for a method other than GET; 426 for a
// Sec-WebSocket-Version other than 13. An oversize request is
// errRequestTooLarge; a read error (EOF, deadline) is returned as is.
func readUpgradeRequest(br *bufio.Reader) (key, proto string, err error) {
	budget := maxUpgradeRequest
	line, err := readLine(br, &budget)
	if err != nil {
		return "", "", err
	}
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || string(version) != "HTTP/1.1" {
		return "", "", &handshakeError{400, "not an HTTP/1.1 request line"} // RFC 6455 4.2.1 item 1
	}
	get := string(method) == "GET" // line is overwritten by the next read
	var upgrade, connection, version13 bool
	var keys int
	var offered [len(wsSubprotocols)]bool
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return "", "", err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			// Also folded lines (obs-fold), which RFC 9112 section 5.2 lets a
			// server refuse.
			return "", "", &handshakeError{400, "malformed header line"}
		}
		value = bytes.Trim(value, " \t")
		switch {
		case equalFold(name, "Upgrade"):
			upgrade = upgrade || hasToken(value, "websocket")
		case equalFold(name, "Connection"):
			connection = connection || hasToken(value, "upgrade")
		case equalFold(name, "Sec-WebSocket-Version"):
			version13 = version13 || hasToken(value, "13")
		case equalFold(name, "Sec-WebSocket-Key"):
			key = string(value)
			keys++
		case equalFold(name, "Sec-WebSocket-Protocol"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				for i, p := range wsSubprotocols {
					offered[i] = offered[i] || string(tok) == p // case-sensitive, RFC 6455 4.1
				}
			}
		}
	}
	switch {
	case !upgrade:
		return "", "", &handshakeError{400, "no Upgrade: websocket header"} // 4.2.1 item 3
	case !connection:
		return "", "", &handshakeError{400, "no upgrade token in the Connection header"} // 4.2.1 item 4
	case !get:
		return "", "", &handshakeError{405, "the upgrade request must be GET"} // 4.2.1 item 1
	case !version13:
		return "", "", &handshakeError{426, "only Sec-WebSocket-Version 13 is supported"} // 4.2.1 item 6, 4.4
	case keys != 1 || !validKey(key):
		return "", "", &handshakeError{400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value"} // 4.2.1 item 5
	}
	for i, p := range wsSubprotocols {
		if offered[i] {
			return key, p, nil
		}
	}
	return key, "", nil
}

// readLine returns the next line from br without its line end (CRLF, or a
// bare LF), taking its length from *budget; past the budget it returns
// errRequestTooLarge. The line is valid until the next read from br.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	var long []byte // a line longer than br's buffer
	for {
		frag, err := br.ReadSlice('\n')
		if *budget -= len(frag); *budget < 0 {
			return nil, errRequestTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, frag...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(frag)+len(long) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if long != nil {
			frag = append(long, frag...)
		}
		frag = frag[:len(frag)-1]
		if n := len(frag); n > 0 && frag[n-1] == '\r' {
			frag = frag[:n-1]
		}
		return frag, nil
	}
}

// hasToken reports whether the comma-separated list holds tok, compared
// without regard to ASCII case.
func hasToken(list []byte, tok string) bool {
	for t := range bytes.SplitSeq(list, []byte(",")) {
		if equalFold(bytes.Trim(t, " \t"), tok) {
			return true
		}
	}
	return false
}

// equalFold reports whether b and s are equal without regard to ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// wsAccept returns the Sec-WebSocket-Accept value for a client's key: the
// base64 of the SHA-1 of key and wsGUID (RFC 6455 section 4.2.2).
func wsAccept(key string) string {
	sum := digest.SHA1([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// refuse writes an HTTP error answer with a one-line plain-text body,
// shuts the connection's sending side and drains what the client still
// sends (at most refuseLinger), so that the caller's Close does not reset a
// connection with unread bytes, which could destroy the answer before the
// client reads it (as net/http does).
func refuse(c net.Conn, status int, reason string) {
	var text, extra string
	switch status {
	case 400:
		text = "Bad Request"
	case 405:
		text, extra = "Method Not Allowed", "Allow: GET\r\n"
	case 426:
		text, extra = "Upgrade Required", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" // RFC 6455 4.4
	case 431:
		text = "Request Header Fields Too Large"
	}
	body := reason + "\n"
	_, err := io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(status)+" "+text+"\r\nConnection: close\r\n"+extra+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	if cw, ok := c.(interface{ CloseWrite() error }); ok && err == nil && cw.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(refuseLinger))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
}
