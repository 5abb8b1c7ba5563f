package main

// Helpers of the durability proofs (crash_test.go, crash_storefull_test.go,
// portability_test.go): a broker process that can be SIGKILLed and restarted
// on the same data folder and port, an MQTT 3.1.1 wire parser and encoder,
// a net.Conn tap that sees (and may rewrite) every packet a client sends and
// receives, and a tiny raw client for exact packet-level checks.
//
// The gatemq binary comes from gatemqBinary (cli_test.go), outputBuffer too.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// brokerStartedRE matches gatemq's start line.
var brokerStartedRE = regexp.MustCompile(`msg="gatemq started"`)

// brokerRecoveredRE matches gatemq's recovery summary and captures it.
var brokerRecoveredRE = regexp.MustCompile(`msg="state recovered" ([^\n]*)`)

// brokerProc is one gatemq instance on a fixed port and data folder that
// can be killed and started again any number of times. Its methods are safe
// for concurrent use. A cleanup kills a running instance and, if the test
// failed, logs the tail of every run's stderr.
type brokerProc struct {
	t    testing.TB
	argv []string // command line; "-p PORT" is appended
	env  []string // added to the test's environment (GOMEMLIMIT=...)
	port int
	addr string // 127.0.0.1:port

	mu   sync.Mutex
	runs []*brokerRun
	cur  *brokerRun // running instance, nil when stopped
}

// brokerRun is one process of a brokerProc.
type brokerRun struct {
	cmd    *exec.Cmd
	stderr *outputBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
}

// newBrokerProc prepares (does not start) a broker run as argv plus
// "-p PORT" on a free port.
func newBrokerProc(t testing.TB, argv ...string) *brokerProc {
	t.Helper()
	port := freePort(t)
	b := &brokerProc{t: t, argv: argv, port: port, addr: "127.0.0.1:" + strconv.Itoa(port)}
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for i, r := range b.runs {
				t.Logf("broker run %d (%v) stderr, last 3000 bytes:\n%s", i+1, r.err, tail(r.stderr.String(), 3000))
			}
		}
	})
	return b
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// start starts the broker and waits up to timeout for its start line. It
// returns the recovery summary ("" when the broker printed none). A start
// that fails because the port is still taken is retried for a few seconds.
func (b *brokerProc) start(timeout time.Duration) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 40; attempt++ {
		r, err := b.startOnce(timeout)
		if err == nil {
			m := brokerRecoveredRE.FindStringSubmatch(r.stderr.String())
			if m == nil {
				return "", nil
			}
			return m[1], nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", lastErr
}

// mustStart is start failing the test on error; only for the test goroutine.
func (b *brokerProc) mustStart(timeout time.Duration) string {
	b.t.Helper()
	rec, err := b.start(timeout)
	if err != nil {
		b.t.Fatal(err)
	}
	return rec
}

func (b *brokerProc) startOnce(timeout time.Duration) (*brokerRun, error) {
	b.mu.Lock()
	if b.cur != nil {
		b.mu.Unlock()
		return nil, errors.New("broker already running")
	}
	args := append(append([]string(nil), b.argv[1:]...), "-p", strconv.Itoa(b.port))
	r := &brokerRun{cmd: exec.Command(b.argv[0], args...), stderr: newOutputBuffer(), done: make(chan struct{})}
	r.cmd.Stdout = r.stderr
	r.cmd.Stderr = r.stderr
	if len(b.env) > 0 {
		r.cmd.Env = append(os.Environ(), b.env...)
	}
	if err := r.cmd.Start(); err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("starting %v: %w", b.argv, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	b.runs = append(b.runs, r)
	b.cur = r
	b.mu.Unlock()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := r.stderr.snapshot()
		if brokerStartedRE.MatchString(text) {
			return r, nil
		}
		select {
		case <-changed:
		case <-r.done:
			b.mu.Lock()
			b.cur = nil
			b.mu.Unlock()
			return nil, fmt.Errorf("broker exited (%v) before starting:\n%s", r.err, r.stderr.String())
		case <-deadline.C:
			b.kill()
			return nil, fmt.Errorf("broker did not start within %v:\n%s", timeout, r.stderr.String())
		}
	}
}

// pid returns the running instance's process id (0: none).
func (b *brokerProc) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil {
		return 0
	}
	return b.cur.cmd.Process.Pid
}

// kill sends SIGKILL to the running instance (if any) and waits for it.
func (b *brokerProc) kill() {
	b.mu.Lock()
	r := b.cur
	b.cur = nil
	b.mu.Unlock()
	if r == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// term sends SIGTERM and waits up to timeout for a clean exit; it returns
// the exit code, or an error when the broker had to be killed.
func (b *brokerProc) term(timeout time.Duration) (int, error) {
	b.mu.Lock()
	r := b.cur
	b.mu.Unlock()
	if r == nil {
		return 0, errors.New("broker not running")
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(timeout):
		b.kill()
		return -1, fmt.Errorf("broker did not stop within %v of SIGTERM", timeout)
	}
	b.mu.Lock()
	b.cur = nil
	b.mu.Unlock()
	return r.cmd.ProcessState.ExitCode(), nil
}

// log returns the stderr of the current (or last) run.
func (b *brokerProc) log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.runs) == 0 {
		return ""
	}
	return b.runs[len(b.runs)-1].stderr.String()
}

// allLogs returns every run's stderr, each headed by its number.
func (b *brokerProc) allLogs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	for i, r := range b.runs {
		fmt.Fprintf(&sb, "===== broker run %d (%v)\n%s", i+1, r.err, r.stderr.String())
	}
	return sb.String()
}

// MQTT 3.1.1 control packet types.
const (
	pktCONNECT     = 1
	pktCONNACK     = 2
	pktPUBLISH     = 3
	pktPUBACK      = 4
	pktPUBREC      = 5
	pktPUBREL      = 6
	pktPUBCOMP     = 7
	pktSUBSCRIBE   = 8
	pktSUBACK      = 9
	pktUNSUBSCRIBE = 10
	pktUNSUBACK    = 11
	pktPINGREQ     = 12
	pktPINGRESP    = 13
	pktDISCONNECT  = 14
)

// pktNames names the packet types for traces.
var pktNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// wirePacket is one MQTT 3.1.1 control packet seen on the wire. Its slices
// are its own copies.
type wirePacket struct {
	typ     byte   // control packet type, 1..15
	flags   byte   // low nibble of the first byte
	id      uint16 // packet identifier, for the types that carry one
	topic   string // PUBLISH topic
	payload []byte // PUBLISH payload
	body    []byte // everything after the fixed header
	raw     []byte // the whole packet
}

func (p wirePacket) qos() byte    { return p.flags >> 1 & 3 }
func (p wirePacket) dup() bool    { return p.flags&8 != 0 }
func (p wirePacket) retain() bool { return p.flags&1 != 0 }
func (p wirePacket) name() string { return pktNames[p.typ] }

// String formats the packet for traces and failure messages.
func (p wirePacket) String() string {
	switch p.typ {
	case pktPUBLISH:
		return fmt.Sprintf("PUBLISH(q%d d%v r%v id=%d %s=%q)", p.qos(), b2i(p.dup()), b2i(p.retain()), p.id, p.topic, p.payload)
	case pktCONNACK:
		return fmt.Sprintf("CONNACK(sp=%d rc=%d)", p.body[0]&1, p.body[1])
	case pktPUBACK, pktPUBREC, pktPUBREL, pktPUBCOMP, pktSUBSCRIBE, pktSUBACK, pktUNSUBSCRIBE, pktUNSUBACK:
		return fmt.Sprintf("%s(id=%d)", p.name(), p.id)
	}
	return p.name()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wireParser splits a byte stream into MQTT packets.
type wireParser struct{ buf []byte }

// feed appends b to the stream and returns every packet now complete. An
// error means the stream is not MQTT 3.1.1.
func (w *wireParser) feed(b []byte) ([]wirePacket, error) {
	w.buf = append(w.buf, b...)
	var out []wirePacket
	for {
		p, n, err := parseWirePacket(w.buf)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, p)
		w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	}
}

// parseWirePacket decodes the packet at the start of b; n is 0 when b does
// not hold a whole packet yet.
func parseWirePacket(b []byte) (p wirePacket, n int, err error) {
	if len(b) < 2 {
		return p, 0, nil
	}
	rem, mult, i := 0, 1, 1
	for {
		if i >= len(b) {
			return p, 0, nil
		}
		if i > 4 {
			return p, 0, errors.New("remaining length longer than 4 bytes")
		}
		rem += int(b[i]&127) * mult
		mult *= 128
		i++
		if b[i-1]&128 == 0 {
			break
		}
	}
	if len(b) < i+rem {
		return p, 0, nil
	}
	raw := append([]byte(nil), b[:i+rem]...)
	p = wirePacket{typ: raw[0] >> 4, flags: raw[0] & 15, raw: raw, body: raw[i:]}
	body := p.body
	switch p.typ {
	case pktPUBLISH:
		if len(body) < 2 {
			return p, 0, errors.New("short PUBLISH")
		}
		tl := int(binary.BigEndian.Uint16(body))
		off := 2 + tl
		if p.qos() > 0 {
			off += 2
		}
		if len(body) < off {
			return p, 0, errors.New("short PUBLISH")
		}
		p.topic = string(body[2 : 2+tl])
		if p.qos() > 0 {
			p.id = binary.BigEndian.Uint16(body[2+tl:])
		}
		p.payload = body[off:]
	case pktCONNACK:
		if len(body) != 2 {
			return p, 0, errors.New("bad CONNACK length")
		}
	case pktPUBACK, pktPUBREC, pktPUBREL, pktPUBCOMP, pktSUBSCRIBE, pktSUBACK, pktUNSUBSCRIBE, pktUNSUBACK:
		if len(body) < 2 {
			return p, 0, fmt.Errorf("short %s", p.name())
		}
		p.id = binary.BigEndian.Uint16(body)
	}
	return p, len(raw), nil
}

// appendRemLen appends MQTT's variable-length remaining length.
func appendRemLen(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 128
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendStr(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// encConnect encodes an MQTT 3.1.1 CONNECT with keep alive 60 s.
func encConnect(clientID string, clean bool) []byte {
	flags := byte(0)
	if clean {
		flags = 2
	}
	body := appendStr(nil, "MQTT")
	body = append(body, 4, flags, 0, 60)
	body = appendStr(body, clientID)
	return append(appendRemLen([]byte{pktCONNECT << 4}, len(body)), body...)
}

// encPublish encodes a PUBLISH.
func encPublish(topic string, payload []byte, qos byte, retain, dup bool, id uint16) []byte {
	h := pktPUBLISH<<4 | qos<<1
	if retain {
		h |= 1
	}
	if dup {
		h |= 8
	}
	body := appendStr(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	body = append(body, payload...)
	return append(appendRemLen([]byte{h}, len(body)), body...)
}

// encSubscribe encodes a SUBSCRIBE of one filter.
func encSubscribe(id uint16, filter string, qos byte) []byte {
	body := binary.BigEndian.AppendUint16(nil, id)
	body = append(appendStr(body, filter), qos)
	return append(appendRemLen([]byte{pktSUBSCRIBE<<4 | 2}, len(body)), body...)
}

// encAck encodes a PUBACK, PUBREC, PUBREL or PUBCOMP.
func encAck(typ byte, id uint16) []byte {
	h := typ << 4
	if typ == pktPUBREL {
		h |= 2
	}
	return []byte{h, 2, byte(id >> 8), byte(id)}
}

// rawClient is a minimal MQTT 3.1.1 client for exact packet-level checks:
// it sends what the test says and hands back every packet it receives.
type rawClient struct {
	conn    net.Conn
	parser  wireParser
	pending []wirePacket
	buf     []byte
}

// dialRaw connects to addr and completes CONNECT; it returns the client and
// CONNACK's session-present flag. CONNACK other than accepted is an error.
func dialRaw(addr, clientID string, clean bool) (*rawClient, bool, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, false, err
	}
	c := &rawClient{conn: conn, buf: make([]byte, 64<<10)}
	if err := c.send(encConnect(clientID, clean)); err != nil {
		conn.Close()
		return nil, false, err
	}
	p, err := c.next(10 * time.Second)
	if err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	if p.typ != pktCONNACK || p.body[1] != 0 {
		conn.Close()
		return nil, false, fmt.Errorf("got %v, want CONNACK accepted", p)
	}
	return c, p.body[0]&1 == 1, nil
}

// mustDialRaw is dialRaw failing the test; the connection is closed in a
// cleanup.
func mustDialRaw(t *testing.T, addr, clientID string, clean bool) (*rawClient, bool) {
	t.Helper()
	c, sp, err := dialRaw(addr, clientID, clean)
	if err != nil {
		t.Fatalf("connecting %s: %v", clientID, err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c, sp
}

// send writes b with a 10 s deadline.
func (c *rawClient) send(b []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// next returns the next packet received, waiting up to timeout.
func (c *rawClient) next(timeout time.Duration) (wirePacket, error) {
	deadline := time.Now().Add(timeout)
	for len(c.pending) == 0 {
		_ = c.conn.SetReadDeadline(deadline)
		n, err := c.conn.Read(c.buf)
		if n > 0 {
			pkts, perr := c.parser.feed(c.buf[:n])
			c.pending = append(c.pending, pkts...)
			if perr != nil {
				return wirePacket{}, perr
			}
		}
		if err != nil && len(c.pending) == 0 {
			return wirePacket{}, err
		}
	}
	p := c.pending[0]
	c.pending = c.pending[1:]
	return p, nil
}

// subscribe sends SUBSCRIBE and waits for a SUBACK granting qos; PUBLISH
// packets that arrive first are kept for next.
func (c *rawClient) subscribe(filter string, qos byte) error {
	if err := c.send(encSubscribe(1, filter, qos)); err != nil {
		return err
	}
	var early []wirePacket
	defer func() { c.pending = append(early, c.pending...) }()
	for {
		p, err := c.next(10 * time.Second)
		if err != nil {
			return fmt.Errorf("waiting for SUBACK: %w", err)
		}
		if p.typ != pktSUBACK {
			early = append(early, p)
			continue
		}
		if len(p.body) != 3 || p.body[2] != qos {
			return fmt.Errorf("SUBACK % x, want granted QoS %d", p.body, qos)
		}
		return nil
	}
}

// receive reads PUBLISH packets, acknowledging QoS 1 and 2 (QoS 2 by
// PUBREC, then PUBCOMP on PUBREL, Method B: a retransmission of an id
// awaiting PUBREL is not returned again), until want messages arrived or
// timeout passed. It returns what arrived.
func (c *rawClient) receive(want int, timeout time.Duration) ([]wirePacket, error) {
	var got []wirePacket
	awaiting := map[uint16]bool{}
	deadline := time.Now().Add(timeout)
	for len(got) < want {
		p, err := c.next(time.Until(deadline))
		if err != nil {
			return got, err
		}
		switch p.typ {
		case pktPUBLISH:
			switch p.qos() {
			case 1:
				err = c.send(encAck(pktPUBACK, p.id))
			case 2:
				if !awaiting[p.id] {
					awaiting[p.id] = true
					got = append(got, p)
				}
				err = c.send(encAck(pktPUBREC, p.id))
			}
			if p.qos() < 2 {
				got = append(got, p)
			}
		case pktPUBREL:
			delete(awaiting, p.id)
			err = c.send(encAck(pktPUBCOMP, p.id))
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// disconnect sends DISCONNECT and closes the connection.
func (c *rawClient) disconnect() {
	_ = c.send([]byte{pktDISCONNECT << 4, 0})
	c.conn.Close()
}

// tapConn is a net.Conn that parses every packet in both directions.
// onIn sees each packet the broker sent; onOut sees each packet the client
// writes and returns the bytes to send in its place (nil drops it). Paho
// reads from one goroutine and writes from one, which is all tapConn needs.
type tapConn struct {
	net.Conn
	in, out wireParser
	onIn    func(wirePacket)
	onOut   func(wirePacket) []byte
	wbuf    []byte
}

// Read reads from the connection and shows the packets completed to onIn.
func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		pkts, perr := c.in.feed(b[:n])
		for _, p := range pkts {
			c.onIn(p)
		}
		if perr != nil && err == nil {
			err = perr
		}
	}
	return n, err
}

// Write passes each complete packet of b through onOut and sends the
// result. Bytes of an incomplete packet wait for the next Write.
func (c *tapConn) Write(b []byte) (int, error) {
	pkts, err := c.out.feed(b)
	if err != nil {
		return 0, err
	}
	c.wbuf = c.wbuf[:0]
	for _, p := range pkts {
		c.wbuf = append(c.wbuf, c.onOut(p)...)
	}
	if len(c.wbuf) > 0 {
		if _, err := c.Conn.Write(c.wbuf); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
