package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests of idle TLS connections (mqtts://; wss:// in ws_park_test.go),
// which park as plain ones do (mqtt/idle.go, transport/tls_park.go): the
// broker is the child of TestIdleConnectionMemory, which reports how many
// connections are parked, and the clients are Eclipse Paho, mosquitto_sub
// and mosquitto_pub, and raw TLS clients whose ciphertext the test cuts
// where it likes.

// parkGap is a pause long enough for a connection to wake for what it
// received and park again: the broker's idle time (a quarter of a second)
// and some.
const parkGap = 600 * time.Millisecond

// TestTLSParking checks that idle TLS connections park, with no reader
// goroutine and no read buffers, and read on exactly as before when
// something wakes them: a Paho subscriber over TLS 1.3 gets a message that
// a Paho publisher over TLS 1.2 publishes while both are parked, and the
// publisher's PUBACK wakes nobody wrongly; a 40 KiB message (three TLS
// records) whose ciphertext arrives cut inside a record header, inside a
// record body and between records, with the idle time between the cuts,
// arrives whole (the connection parks again while it holds only part of a
// record); and two packets in one record larger than the read buffer are
// both answered at once.
func TestTLSParking(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connections to park")
	}
	ch := startIdleChild(t, "tls")
	ch.measure(t, 0)
	url := "ssl://" + ch.addr
	tls13, tls12 := ch.tls.Clone(), ch.tls.Clone()
	tls13.MinVersion = tls.VersionTLS13
	tls12.MaxVersion = tls.VersionTLS12
	got := newOutputBuffer()
	sub := twMustPaho(t, url, "tls-park-sub", tls13, got)
	pahoDo(t, "subscribe", sub.Subscribe("park/#", 1, nil))
	pub := twMustPaho(t, url, "tls-park-pub", tls12, nil)
	ch.measure(t, 2)
	pahoDo(t, "publish while parked", pub.Publish("park/a", 1, false, "while parked"))
	awaitLine(t, got, "park/a while parked")
	ch.measure(t, 2)

	// The big message, from a raw TLS 1.3 client, to the Paho subscriber.
	c := dialHeldTLS(t, ch, tls.VersionTLS13, "tls-park-split", 0, false)
	ch.measure(t, 3)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 2500) // 40,000 bytes
	wire := c.seal(t, encPublish("park/big", payload, 1, false, false, 7))
	if len(wire) < 2*(16<<10) {
		t.Fatalf("the PUBLISH took %d bytes of ciphertext, want three records", len(wire))
	}
	// Three bytes of the first record's header; then half its body: each
	// wakes the connection, which waits a quarter of a second for the
	// rest and parks again, holding part of a record.
	c.sendRaw(t, wire[:3])
	time.Sleep(parkGap)
	ch.measure(t, 3)
	c.sendRaw(t, wire[3:8<<10])
	time.Sleep(parkGap)
	ch.measure(t, 3)
	// The rest of the first record and a little of the second: the reader
	// is in the middle of a packet now and must not park.
	c.sendRaw(t, wire[8<<10:(16<<10)+100])
	time.Sleep(parkGap)
	if u := ch.measure(t, 2); u.parked != 2 {
		t.Errorf("%d connections parked, want 2: the one in the middle of a PUBLISH parked", u.parked)
	}
	c.sendRaw(t, wire[(16<<10)+100:])
	if p := c.expect(t, pktPUBACK); p.id != 7 {
		t.Fatalf("PUBACK for packet id %d, want 7", p.id)
	}
	awaitLine(t, got, "park/big "+string(payload))
	ch.measure(t, 3)

	// PUBLISH and PINGREQ in one record, the PUBLISH exactly filling the
	// reader's 1 KiB buffer: the PINGREQ is in the TLS layer when the
	// reader's buffer runs dry, and is answered at once.
	pkt := encPublish("park/fill", nil, 0, false, false, 0)
	pkt = encPublish("park/fill", bytes.Repeat([]byte("f"), 1024-len(pkt)-1), 0, false, false, 0)
	if len(pkt) != 1024 {
		t.Fatalf("the PUBLISH is %d bytes, want 1024", len(pkt))
	}
	c.send(t, append(pkt, 0xc0, 0)) // one Write, one record
	c.expect(t, pktPINGRESP)
	ch.measure(t, 3)

	pahoDo(t, "publish after all that", pub.Publish("park/b", 2, false, "still here"))
	awaitLine(t, got, "park/b still here")
	if lines := msgLines(got.String()); len(lines) != 4 {
		t.Errorf("the subscriber received %d messages, want 4, each once", len(lines))
	}
	ch.measure(t, 3)
}

// TestTLSParkingMosquitto checks that mosquitto_sub over TLS (libmosquitto
// with OpenSSL, MQTT 5.0) parks while it waits, and gets what
// mosquitto_pub publishes over TLS while it is parked, with MQTT 3.1.1 at
// QoS 1 and 5.0 at QoS 2.
func TestTLSParkingMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connections to park")
	}
	m := mosqTools(t)
	ch := startIdleChild(t, "tls")
	_, port, err := net.SplitHostPort(ch.addr)
	if err != nil {
		t.Fatal(err)
	}
	m.host, m.port, m.addr = "localhost", port, "localhost:"+port // the name the certificate carries
	sub := m.subscribe(t, "--cafile", ch.caFile, "-V", "5", "-q", "2", "-t", "park/#", "-C", "2")
	ch.measure(t, 1)
	m.publish(t, "", "--cafile", ch.caFile, "-q", "1", "-t", "park/m311", "-m", "from mosquitto_pub")
	time.Sleep(parkGap)
	ch.measure(t, 1)
	m.publish(t, "", "--cafile", ch.caFile, "-V", "5", "-q", "2", "-t", "park/m5", "-m", "from mosquitto_pub v5")
	want := []string{"park/m311 from mosquitto_pub", "park/m5 from mosquitto_pub v5"}
	if got := messages(t, sub); !slices.Equal(got, want) {
		t.Errorf("mosquitto_sub over TLS got %q, want %q", got, want)
	}
}

// TestTLSParkedEnds checks the ends of parked TLS connections that come
// from elsewhere than their packets, each of which must wake the reader
// and end the connection: the keep alive running out (not before one and
// a half intervals), a session taken over, the peer resetting its socket,
// a slow consumer disconnected, and the broker's shutdown; with TLS 1.2
// and 1.3 clients.
func TestTLSParkedEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for keep alives and a slow consumer")
	}
	ch := startIdleChildWith(t, "tls", "max_queued_messages 5\nmax_inflight_messages 5\n")
	ch.measure(t, 0)

	start := time.Now()
	silent := dialHeldTLS(t, ch, tls.VersionTLS12, "tls-silent", 1, false)
	ch.measure(t, 1)
	silent.expectEnd(t, 5*time.Second)
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("keep alive 1 s: closed after %v, before 1.5 intervals", d)
	}
	ch.measure(t, 0)

	old := dialHeldTLS(t, ch, tls.VersionTLS13, "tls-twin", 0, false)
	ch.measure(t, 1)
	twin := dialHeldTLS(t, ch, tls.VersionTLS12, "tls-twin", 0, false)
	old.expectEnd(t, 5*time.Second)
	ch.measure(t, 1)

	gone := dialHeldTLS(t, ch, tls.VersionTLS13, "tls-gone", 0, false)
	ch.measure(t, 2)
	_ = gone.tcp.(*net.TCPConn).SetLinger(0)
	gone.tcp.Close() // a reset
	if u := ch.measure(t, 1); u.parked != 1 {
		t.Fatalf("%d connections parked after the reset, want 1", u.parked)
	}

	// A subscriber that never reads again: its QoS 1 queue fills, the
	// publisher waits, and the parked subscriber is disconnected.
	slow := dialHeldTLS(t, ch, tls.VersionTLS13, "tls-slow", 0, true)
	ch.measure(t, 2)
	pub := twMustPaho(t, "ssl://"+ch.addr, "tls-slow-pub", ch.tls, nil)
	for i := range 20 {
		pahoDo(t, fmt.Sprintf("publish %d", i), pub.Publish("idle/tls-slow", 1, false, strings.Repeat("s", 1000)))
	}
	slow.expectEnd(t, 10*time.Second)
	ch.measure(t, 2) // the twin and the publisher

	// Shutdown: the parked connections are closed and end.
	fmt.Fprintln(ch.in, "shutdown")
	if r := ch.expect(t, "shutdown "); r != "ok" {
		t.Fatalf("shutdown with parked TLS connections: %s", r)
	}
	twin.expectEnd(t, 5*time.Second)
}

// heldTLS is a raw MQTT client over TLS whose ciphertext the test can
// hold back and send in pieces of its choosing (seal, sendRaw). Its TLS
// records carry up to 16 KiB each (no dynamic record sizing).
type heldTLS struct {
	*rawClient
	tls *tls.Conn
	tcp net.Conn
	w   *holdWriter
}

// holdWriter is the socket under a heldTLS: while hold is set, writes go
// to held instead of the socket.
type holdWriter struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	held []byte
}

func (h *holdWriter) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold {
		h.held = append(h.held, b...)
		return len(b), nil
	}
	return h.Conn.Write(b)
}

// dialHeldTLS connects a heldTLS client to ch's TLS listener with TLS
// version vers and completes an MQTT CONNECT as id with keepalive
// (seconds), subscribing to idle/ID at QoS 1 with subscribe; the
// connection is closed when the test ends.
func dialHeldTLS(t *testing.T, ch *idleChild, vers uint16, id string, keepalive uint16, subscribe bool) *heldTLS {
	t.Helper()
	tcp, err := net.DialTimeout("tcp", ch.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close() })
	cfg := ch.tls.Clone()
	cfg.MinVersion, cfg.MaxVersion = vers, vers
	cfg.DynamicRecordSizingDisabled = true
	cfg.ServerName = "127.0.0.1"
	w := &holdWriter{Conn: tcp}
	tc := tls.Client(w, cfg)
	if err := idleClient(tc, id, keepalive, subscribe); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if v := tc.ConnectionState().Version; v != vers {
		t.Fatalf("%s: TLS version %#x, want %#x", id, v, vers)
	}
	return &heldTLS{rawClient: &rawClient{conn: tc, buf: make([]byte, 64<<10)}, tls: tc, tcp: tcp, w: w}
}

// seal returns the ciphertext of b as the TLS layer would send it in one
// Write, without sending it.
func (c *heldTLS) seal(t *testing.T, b []byte) []byte {
	t.Helper()
	c.w.mu.Lock()
	c.w.hold = true
	c.w.mu.Unlock()
	_, err := c.tls.Write(b)
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.hold = false
	wire := c.w.held
	c.w.held = nil
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// sendRaw writes ciphertext straight to the socket.
func (c *heldTLS) sendRaw(t *testing.T, b []byte) {
	t.Helper()
	_ = c.tcp.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.tcp.Write(b); err != nil {
		t.Fatal(err)
	}
}

// send writes b in one TLS Write.
func (c *heldTLS) send(t *testing.T, b []byte) {
	t.Helper()
	if err := c.rawClient.send(b); err != nil {
		t.Fatal(err)
	}
}

// expect returns the next packet, which must be of type typ, within 5 s.
func (c *heldTLS) expect(t *testing.T, typ byte) wirePacket {
	t.Helper()
	p, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatalf("waiting for packet type %d: %v", typ, err)
	}
	if p.typ != typ {
		t.Fatalf("got %v, want packet type %d", p, typ)
	}
	return p
}

// expectEnd reads (and drops) what the broker still sends until the
// connection ends, which must happen within timeout.
func (c *heldTLS) expectEnd(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.next(time.Until(deadline))
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the connection was still open after %v", timeout)
		}
		return // EOF, close_notify or a reset
	}
}
