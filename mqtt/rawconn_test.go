package mqtt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// A hand-written MQTT 3.1.1 client for the misbehaving side of the
// integration tests. It encodes its own bytes, independent of mqtt/packet, so
// the broker's codec is checked against the specification and not against
// itself.

// Packet types (fixed header, high nibble) as in MQTT 3.1.1 §2.2.1.
const (
	tCONNECT     = 1
	tCONNACK     = 2
	tPUBLISH     = 3
	tPUBACK      = 4
	tPUBREC      = 5
	tPUBREL      = 6
	tPUBCOMP     = 7
	tSUBSCRIBE   = 8
	tSUBACK      = 9
	tUNSUBSCRIBE = 10
	tUNSUBACK    = 11
	tPINGREQ     = 12
	tDISCONNECT  = 14
)

// rawPkt is one packet read from the broker.
type rawPkt struct {
	typ   byte // high nibble of the first byte
	flags byte // low nibble
	body  []byte
}

// id returns the packet identifier at the start of an ack's body.
func (p rawPkt) id() uint16 {
	if len(p.body) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(p.body)
}

// rawPub is a decoded PUBLISH.
type rawPub struct {
	topic   string
	payload string
	qos     byte
	dup     bool
	retain  bool
	id      uint16
}

// publish decodes p as a PUBLISH.
func (p rawPkt) publish(t testing.TB) rawPub {
	t.Helper()
	if p.typ != tPUBLISH {
		t.Fatalf("got packet type %d flags %#x, want PUBLISH", p.typ, p.flags)
	}
	r := rawPub{qos: p.flags >> 1 & 3, dup: p.flags&8 != 0, retain: p.flags&1 != 0}
	b := p.body
	if len(b) < 2 {
		t.Fatalf("PUBLISH body too short: % x", b)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		t.Fatalf("PUBLISH topic overruns body: % x", b)
	}
	r.topic = string(b[2 : 2+n])
	b = b[2+n:]
	if r.qos > 0 {
		if len(b) < 2 {
			t.Fatalf("PUBLISH without packet id: % x", p.body)
		}
		r.id = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	r.payload = string(b)
	return r
}

// varint encodes a remaining length.
func varint(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// mkPkt builds a packet from its first byte and body parts.
func mkPkt(first byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(append([]byte{first}, varint(len(body))...), body...)
}

// str encodes a length-prefixed UTF-8 string.
func str(s string) []byte { return append(u16(uint16(len(s))), s...) }

// u16 encodes a big-endian two-byte integer.
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// rawWill is the will of a raw CONNECT.
type rawWill struct {
	topic, payload string
	qos            byte
	retain         bool
}

// connectPkt encodes a 3.1.1 CONNECT.
func connectPkt(id string, clean bool, keepalive uint16, will *rawWill) []byte {
	return connectPktProto("MQTT", 4, id, clean, keepalive, will)
}

// connectPktProto encodes a CONNECT with any protocol name and level.
func connectPktProto(name string, level byte, id string, clean bool, keepalive uint16, will *rawWill) []byte {
	var flags byte
	if clean {
		flags |= 0x02
	}
	parts := [][]byte{str(name), {level}, nil, u16(keepalive), str(id)}
	if will != nil {
		flags |= 0x04 | will.qos<<3
		if will.retain {
			flags |= 0x20
		}
		parts = append(parts, str(will.topic), str(will.payload))
	}
	parts[2] = []byte{flags}
	return mkPkt(tCONNECT<<4, parts...)
}

// publishPkt encodes a PUBLISH.
func publishPkt(topic string, qos byte, dup, retain bool, id uint16, payload string) []byte {
	first := byte(tPUBLISH<<4) | qos<<1
	if dup {
		first |= 8
	}
	if retain {
		first |= 1
	}
	parts := [][]byte{str(topic)}
	if qos > 0 {
		parts = append(parts, u16(id))
	}
	return mkPkt(first, append(parts, []byte(payload))...)
}

// subscribePkt encodes a SUBSCRIBE of one filter.
func subscribePkt(id uint16, filter string, qos byte) []byte {
	return mkPkt(tSUBSCRIBE<<4|2, u16(id), str(filter), []byte{qos})
}

// ackPkt encodes PUBACK, PUBREC, PUBREL (flags 2) or PUBCOMP.
func ackPkt(typ byte, id uint16) []byte {
	first := typ << 4
	if typ == tPUBREL {
		first |= 2
	}
	return mkPkt(first, u16(id))
}

// rawConn is a raw TCP connection to the broker.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialRaw opens a raw connection, closed when the test ends.
func dialRaw(t testing.TB, tb *testBroker) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", tb.addr, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes bytes to the broker.
func (r *rawConn) send(b ...[]byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(waitTime))
	if _, err := r.c.Write(bytes.Join(b, nil)); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

// readPkt reads one packet; err is the read error, if any.
func (r *rawConn) readPkt(timeout time.Duration) (rawPkt, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	first, err := r.br.ReadByte()
	if err != nil {
		return rawPkt{}, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		d, err := r.br.ReadByte()
		if err != nil {
			return rawPkt{}, err
		}
		if i == 4 {
			return rawPkt{}, errors.New("malformed remaining length from broker")
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.br, body); err != nil {
		return rawPkt{}, err
	}
	return rawPkt{typ: first >> 4, flags: first & 0xf, body: body}, nil
}

// read reads one packet and fails the test if there is none.
func (r *rawConn) read() rawPkt {
	r.t.Helper()
	p, err := r.readPkt(waitTime)
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	return p
}

// expect reads one packet and checks its type and flags.
func (r *rawConn) expect(typ, flags byte) rawPkt {
	r.t.Helper()
	p := r.read()
	if p.typ != typ || p.flags != flags {
		r.t.Fatalf("got packet type %d flags %#x body % x, want type %d flags %#x", p.typ, p.flags, p.body, typ, flags)
	}
	return p
}

// expectAck reads an ack of type typ for packet id id.
func (r *rawConn) expectAck(typ byte, id uint16) {
	r.t.Helper()
	var flags byte
	if typ == tPUBREL {
		flags = 2
	}
	p := r.expect(typ, flags)
	if len(p.body) != 2 || p.id() != id {
		r.t.Fatalf("ack type %d: body % x, want packet id %d", typ, p.body, id)
	}
}

// connect sends CONNECT and checks for CONNACK accepted with the given
// session present flag.
func (r *rawConn) connect(id string, clean bool, keepalive uint16, will *rawWill, present bool) {
	r.t.Helper()
	r.send(connectPkt(id, clean, keepalive, will))
	r.expectConnack(present, 0)
}

// expectConnack reads a CONNACK and checks its two body bytes.
func (r *rawConn) expectConnack(present bool, code byte) {
	r.t.Helper()
	p := r.expect(tCONNACK, 0)
	var sp byte
	if present {
		sp = 1
	}
	if !bytes.Equal(p.body, []byte{sp, code}) {
		r.t.Fatalf("CONNACK body % x, want %02x %02x", p.body, sp, code)
	}
}

// subscribe subscribes to one filter and checks the granted QoS.
func (r *rawConn) subscribe(id uint16, filter string, qos byte) {
	r.t.Helper()
	r.send(subscribePkt(id, filter, qos))
	p := r.expect(tSUBACK, 0)
	if !bytes.Equal(p.body, append(u16(id), qos)) {
		r.t.Fatalf("SUBACK body % x, want id %d granted %d", p.body, id, qos)
	}
}

// expectClosed reads until the broker closes the connection and fails if
// that does not happen within waitTime or if the broker sends anything but
// the packet types in allowed first.
func (r *rawConn) expectClosed(allowed ...byte) {
	r.t.Helper()
	deadline := time.Now().Add(waitTime)
	for {
		p, err := r.readPkt(time.Until(deadline))
		if err != nil {
			if isClosed(err) {
				return
			}
			r.t.Fatalf("connection not closed by the broker: %v", err)
		}
		if !bytes.Contains(allowed, []byte{p.typ}) {
			r.t.Fatalf("expected the broker to close the connection, got packet type %d flags %#x body % x", p.typ, p.flags, p.body)
		}
	}
}

// isClosed reports whether err means the peer closed the connection (FIN,
// or RST when it closed with unread bytes in its buffer).
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// TestRawMalformedInput sends malformed or forbidden input on a raw socket
// and checks that the broker closes that connection, and only that one: a
// Paho client on the same broker keeps working after every case.
func TestRawMalformedInput(t *testing.T) {
	tb := startBroker(t, Options{MaxPacketSize: 1 << 20})
	pc := connectPaho(t, pahoOpts(tb, "bystander"))
	pc.sub(t, "alive/#", 1)

	cases := []struct {
		name    string
		connect bool   // send a valid CONNECT first
		send    []byte // the bad input
		allowed []byte // packet types the broker may send before closing
	}{
		{name: "remaining length of 5 bytes", connect: true, send: []byte{tPUBLISH << 4, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "SUBSCRIBE with flags 0", connect: true, send: mkPkt(tSUBSCRIBE<<4, u16(1), str("a/b"), []byte{0})},
		{name: "UNSUBSCRIBE with flags 0", connect: true, send: mkPkt(tUNSUBSCRIBE<<4, u16(1), str("a/b"))},
		{name: "PUBREL with flags 0", connect: true, send: mkPkt(tPUBREL<<4, u16(1))},
		{name: "PINGREQ with flags 1", connect: true, send: []byte{tPINGREQ<<4 | 1, 0}},
		{name: "PUBLISH with QoS 3", connect: true, send: mkPkt(tPUBLISH<<4|6, str("a/b"), u16(1), []byte("x"))},
		{name: "second CONNECT", connect: true, send: connectPkt("raw-2nd", true, 0, nil)},
		{name: "PUBLISH before CONNECT", send: publishPkt("a/b", 0, false, false, 0, "x")},
		{name: "SUBSCRIBE before CONNECT", send: subscribePkt(1, "a/b", 0)},
		{name: "topic with NUL", connect: true, send: publishPkt("a\x00b", 0, false, false, 0, "x")},
		{name: "topic with +", connect: true, send: publishPkt("a/+", 1, false, false, 1, "x")},
		{name: "topic with #", connect: true, send: publishPkt("a/#", 0, false, false, 0, "x")},
		{name: "QoS 1 PUBLISH with packet id 0", connect: true, send: publishPkt("a/b", 1, false, false, 0, "x")},
		{name: "SUBSCRIBE with no filter", connect: true, send: mkPkt(tSUBSCRIBE<<4|2, u16(1))},
		{name: "huge remaining length without body", connect: true, send: []byte{tPUBLISH << 4, 0xff, 0xff, 0xff, 0x7f}},
		{name: "reserved packet type 0", connect: true, send: []byte{0x00, 0x00}},
		{name: "reserved packet type 15", connect: true, send: []byte{0xf0, 0x00}},
		{name: "CONNACK from a client", connect: true, send: []byte{tCONNACK << 4, 2, 0, 0}},
		{name: "protocol level 9", send: connectPktProto("MQTT", 9, "raw-l9", true, 0, nil), allowed: []byte{tCONNACK}},
		{name: "protocol name MQTX", send: connectPktProto("MQTX", 4, "raw-name", true, 0, nil), allowed: []byte{tCONNACK}},
		{name: "CONNECT with reserved flag", send: mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0x03}, u16(0), str("raw-rsv"))},
		{name: "CONNECT with will QoS 3", send: mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0x02 | 0x04 | 0x18}, u16(0), str("raw-wq3"), str("w/t"), str("x"))},
		{name: "CONNECT with will retain but no will", send: mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0x22}, u16(0), str("raw-wr"))},
		{name: "CONNECT with password but no user name", send: mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0x42}, u16(0), str("raw-pw"), str("secret"))},
		{name: "CONNECT with flags in fixed header", send: append([]byte{tCONNECT<<4 | 1}, connectPkt("raw-fh", true, 0, nil)[1:]...)},
		// 'G' reads as a PUBACK with reserved flags 0111 and 'E' as a
		// remaining length of 69: the long request covers that length, the
		// short one needs the broker to refuse the first byte by itself
		// [MQTT-3.1.0-1] [MQTT-2.2.2-2].
		{name: "long garbage before CONNECT", send: []byte("GET /mqtt HTTP/1.1\r\nHost: broker.example\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nConnection: close\r\n\r\n")},
		{name: "short garbage before CONNECT", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "garbage after CONNECT", connect: true, send: []byte{0x00, 0xde, 0xad, 0xbe, 0xef}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, tb)
			if tc.connect {
				r.connect(fmt.Sprintf("raw-bad-%d", i), true, 0, nil, false)
			}
			r.send(tc.send)
			if len(tc.allowed) > 0 {
				// A refused CONNECT may be answered with a CONNACK, but
				// never with "accepted".
				p, err := r.readPkt(waitTime)
				if err == nil {
					if p.typ != tCONNACK || len(p.body) != 2 || p.body[1] == 0 {
						t.Fatalf("got packet type %d body % x, want a refusing CONNACK or a close", p.typ, p.body)
					}
				} else if !isClosed(err) {
					t.Fatalf("connection not closed: %v", err)
				}
			}
			r.expectClosed()
			// The broker forgets the connection and still serves others.
			checkFor(t, waitTime, 5*time.Millisecond, func() error {
				if n := tb.srv.Stats().ClientsConnected; n != 1 {
					return fmt.Errorf("%d clients connected, want 1 (the bystander)", n)
				}
				return nil
			})
			payload := fmt.Sprint("after ", i)
			pc.pub(t, "alive/x", 1, false, payload)
			pc.col.waitFor(t, "alive/x", payload)
		})
	}
}

// TestRawProtocolLevelRefused checks [MQTT-3.1.2-2]: an unsupported protocol
// level is answered with CONNACK 0x01 and the connection is closed.
func TestRawProtocolLevelRefused(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.send(connectPktProto("MQTT", 9, "raw-l9", true, 0, nil))
	r.expectConnack(false, 0x01)
	r.expectClosed()
}

// TestRawConnectTimeout checks that a socket that never sends CONNECT is
// closed after ConnectTimeout.
func TestRawConnectTimeout(t *testing.T) {
	tb := startBroker(t, Options{ConnectTimeout: 300 * time.Millisecond})
	r := dialRaw(t, tb)
	r.expectClosed()
	// A socket that sends half a CONNECT is closed too.
	r = dialRaw(t, tb)
	r.send(connectPkt("half", true, 0, nil)[:5])
	r.expectClosed()
}
