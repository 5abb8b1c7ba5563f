package mqtt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// Shared helpers of the MQTT 5.0 integration tests (v5_*_test.go): a
// paho.golang client over a plain net.Conn, a collector that resolves topic
// aliases itself (paho.golang leaves that to the application), and a raw
// MQTT 5.0 socket that encodes with paho.golang's packets package, so the
// broker's codec is checked against another implementation.

// v5Msg is one PUBLISH as a paho.golang client received it.
type v5Msg struct {
	topic     string // topic name, with a topic alias resolved
	wireTopic string // the Topic Name field as sent ("" when only an alias was)
	alias     uint16 // Topic Alias property, 0 when absent
	payload   string
	qos       byte
	retain    bool
	props     paho.PublishProperties
}

// String formats a received message for failure messages.
func (m v5Msg) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s=%q(q%d r=%v", m.topic, m.payload, m.qos, m.retain)
	if m.alias != 0 {
		fmt.Fprintf(&b, " alias=%d wire=%q", m.alias, m.wireTopic)
	}
	if p := m.props.MessageExpiry; p != nil {
		fmt.Fprintf(&b, " exp=%d", *p)
	}
	if p := m.props.SubscriptionIdentifier; p != nil {
		fmt.Fprintf(&b, " sid=%d", *p)
	}
	b.WriteString(")")
	return b.String()
}

// v5Collector records every PUBLISH a paho.golang client receives, in
// order, resolving topic aliases as [MQTT-3.3.2-12] describes for a
// receiver. A PUBLISH with an empty topic and an unknown alias is recorded
// as a violation.
type v5Collector struct {
	mu         sync.Mutex
	msgs       []v5Msg
	aliases    map[uint16]string
	violations []string
}

// handle is the OnPublishReceived callback.
func (c *v5Collector) handle(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	m := v5Msg{topic: p.Topic, wireTopic: p.Topic, payload: string(p.Payload), qos: p.QoS, retain: p.Retain}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Properties != nil {
		m.props = *p.Properties
		if a := p.Properties.TopicAlias; a != nil {
			m.alias = *a
			switch t, ok := c.aliases[m.alias]; {
			case p.Topic != "":
				if c.aliases == nil {
					c.aliases = make(map[uint16]string)
				}
				c.aliases[m.alias] = p.Topic
			case ok:
				m.topic = t
			default:
				c.violations = append(c.violations, fmt.Sprintf("PUBLISH %q with unknown topic alias %d", m.payload, m.alias))
			}
		}
	}
	if m.topic == "" && m.alias == 0 {
		c.violations = append(c.violations, fmt.Sprintf("PUBLISH %q with neither topic nor alias", m.payload))
	}
	c.msgs = append(c.msgs, m)
	return true, nil
}

// all returns a copy of the messages received so far.
func (c *v5Collector) all() []v5Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]v5Msg(nil), c.msgs...)
}

// problems returns the topic alias violations seen so far.
func (c *v5Collector) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// waitFor waits until a message with payload p on topic has arrived and
// returns everything received up to then.
func (c *v5Collector) waitFor(t testing.TB, topic, payload string) []v5Msg {
	t.Helper()
	var got []v5Msg
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		got = c.all()
		for _, m := range got {
			if m.topic == topic && m.payload == payload {
				return nil
			}
		}
		return fmt.Errorf("no %s=%q among %d messages: %v", topic, payload, len(got), got)
	})
	return got
}

// waitN waits until at least n messages have arrived and returns them all.
func (c *v5Collector) waitN(t testing.TB, n int) []v5Msg {
	t.Helper()
	var got []v5Msg
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		got = c.all()
		if len(got) >= n {
			return nil
		}
		return fmt.Errorf("got %d of %d messages: %v", len(got), n, got)
	})
	return got
}

// find returns the received messages with the given payload.
func (c *v5Collector) find(payload string) []v5Msg {
	var out []v5Msg
	for _, m := range c.all() {
		if m.payload == payload {
			out = append(out, m)
		}
	}
	return out
}

// payloadsOf lists the payloads of ms.
func payloadsOf(ms []v5Msg) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.payload
	}
	return out
}

// v5Client is a connected paho.golang (MQTT 5.0) client.
type v5Client struct {
	*paho.Client
	conn    net.Conn
	col     *v5Collector
	connack *paho.Connack
	// disc receives the DISCONNECTs the broker sends (buffered).
	disc chan *paho.Disconnect
}

// v5Connect returns a CONNECT for id with clean start, keep alive 30 s and
// the given properties (nil: none).
func v5Connect(id string, props *paho.ConnectProperties) *paho.Connect {
	if props == nil {
		props = &paho.ConnectProperties{}
	}
	props.RequestProblemInfo = true
	return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, Properties: props}
}

// connectV5 connects a paho.golang client with cp and fails the test
// unless the broker accepts it.
func connectV5(t testing.TB, tb *testBroker, cp *paho.Connect) *v5Client {
	t.Helper()
	c, err := dialV5(t, tb, cp, false)
	if err != nil {
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	return c
}

// dialV5 connects a paho.golang client with cp (manual acknowledgement when
// manualAck) and returns it with the connect error. The client is
// disconnected when the test ends.
func dialV5(t testing.TB, tb *testBroker, cp *paho.Connect, manualAck bool) (*v5Client, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", tb.addr, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	c := &v5Client{conn: conn, col: &v5Collector{}, disc: make(chan *paho.Disconnect, 4)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn:                       conn,
		OnPublishReceived:          []func(paho.PublishReceived) (bool, error){c.col.handle},
		OnServerDisconnect:         func(d *paho.Disconnect) { c.disc <- d },
		PacketTimeout:              waitTime,
		EnableManualAcknowledgment: manualAck,
		SendAcksInterval:           5 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	c.connack, err = c.Connect(ctx, cp)
	t.Cleanup(func() {
		select {
		case <-c.Done():
		default:
			_ = c.Disconnect(&paho.Disconnect{})
		}
		conn.Close()
	})
	return c, err
}

// present reports the CONNACK's Session Present flag.
func (c *v5Client) present() bool { return c.connack != nil && c.connack.SessionPresent }

// sub subscribes to filter at qos with default options and fails the test
// unless the broker grants exactly qos.
func (c *v5Client) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	c.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}, qos)
}

// subscribe sends s and fails the test unless every reason code in the
// SUBACK equals the matching want (one want per subscription).
func (c *v5Client) subscribe(t testing.TB, s *paho.Subscribe, want ...byte) *paho.Suback {
	t.Helper()
	sa, err := c.trySubscribe(s)
	if sa == nil {
		t.Fatalf("subscribe %+v: %v", s.Subscriptions, err)
	}
	if !bytes.Equal(sa.Reasons, want) {
		t.Fatalf("subscribe %+v: SUBACK reason codes % x, want % x", s.Subscriptions, sa.Reasons, want)
	}
	return sa
}

// trySubscribe sends s and returns the SUBACK, which paho.golang also
// returns (with an error) when a reason code is a failure.
func (c *v5Client) trySubscribe(s *paho.Subscribe) (*paho.Suback, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	return c.Subscribe(ctx, s)
}

// publish sends p and returns the acknowledgement (PUBACK, or PUBCOMP/PUBREC
// for QoS 2); a missing acknowledgement fails the test, a failure reason
// code is returned for the caller to check.
func (c *v5Client) publish(t testing.TB, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	pr, err := c.Publish(ctx, p)
	if pr == nil {
		t.Fatalf("publish %s %q: %v", p.Topic, p.Payload, err)
	}
	return pr
}

// pub publishes payload on topic at qos without properties and fails the
// test unless the broker acknowledges it with 0x00 or 0x10.
func (c *v5Client) pub(t testing.TB, topic string, qos byte, payload string) {
	t.Helper()
	pr := c.publish(t, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
	if pr.ReasonCode != 0 && pr.ReasonCode != 0x10 {
		t.Fatalf("publish %s %q: reason code %#x", topic, payload, pr.ReasonCode)
	}
}

// drop closes the client's socket without a DISCONNECT (an abrupt close,
// as far as the broker can tell) and waits until the client has stopped.
func (c *v5Client) drop(t testing.TB) {
	t.Helper()
	c.conn.Close()
	select {
	case <-c.Done():
	case <-time.After(waitTime):
		t.Fatal("paho.golang client did not stop after its socket was closed")
	}
}

// bye sends DISCONNECT d and closes the connection.
func (c *v5Client) bye(t testing.TB, d *paho.Disconnect) {
	t.Helper()
	if err := c.Disconnect(d); err != nil {
		t.Fatalf("DISCONNECT: %v", err)
	}
}

// waitDisconnect waits for a DISCONNECT from the broker.
func (c *v5Client) waitDisconnect(t testing.TB) *paho.Disconnect {
	t.Helper()
	select {
	case d := <-c.disc:
		return d
	case <-time.After(waitTime):
		t.Fatalf("no DISCONNECT from the broker within %v", waitTime)
		return nil
	}
}

// u32p and u16p return pointers for paho.golang's optional properties.
func u32p(v uint32) *uint32 { return &v }
func u16p(v uint16) *uint16 { return &v }

// --- raw MQTT 5.0 socket ---

// encodeV5 returns the bytes of a packet of paho.golang's packets package.
func encodeV5(t testing.TB, p interface {
	WriteTo(io.Writer) (int64, error)
}) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatalf("encoding %T: %v", p, err)
	}
	return b.Bytes()
}

// v5 decodes a packet read from the broker with paho.golang's decoder.
func (p rawPkt) v5(t testing.TB) *packets.ControlPacket {
	t.Helper()
	wire := append(append([]byte{p.typ<<4 | p.flags}, varint(len(p.body))...), p.body...)
	cp, err := packets.ReadPacket(bytes.NewReader(wire))
	if err != nil {
		t.Fatalf("decoding packet type %d body % x: %v", p.typ, p.body, err)
	}
	return cp
}

// rawConnectV5 is a CONNECT of protocol level 5 for id (clean start,
// keep alive 0) with props.
func rawConnectV5(id string, props *packets.Properties) *packets.Connect {
	return &packets.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, ClientID: id, CleanStart: true, Properties: props}
}

// connectV5 sends CONNECT c and returns the CONNACK, failing the test
// unless it accepts the connection.
func (r *rawConn) connectV5(c *packets.Connect) *packets.Connack {
	r.t.Helper()
	r.send(encodeV5(r.t, c))
	ca := r.expect(tCONNACK, 0).v5(r.t).Content.(*packets.Connack)
	if ca.ReasonCode != 0 {
		r.t.Fatalf("CONNACK reason code %#x, want 0", ca.ReasonCode)
	}
	return ca
}

// sendV5 encodes and sends one packet.
func (r *rawConn) sendV5(p interface {
	WriteTo(io.Writer) (int64, error)
}) {
	r.t.Helper()
	r.send(encodeV5(r.t, p))
}

// expectDisconnectV5 reads the next packet, checks that it is a DISCONNECT
// whose reason code is one of codes, and then that the broker closes the
// connection.
func (r *rawConn) expectDisconnectV5(codes ...byte) *packets.Disconnect {
	r.t.Helper()
	p, err := r.readPkt(waitTime)
	if err != nil {
		r.t.Fatalf("no DISCONNECT (want reason % #x): %v", codes, err)
	}
	if p.typ != tDISCONNECT {
		r.t.Fatalf("got packet type %d body % x, want DISCONNECT with reason % #x", p.typ, p.body, codes)
	}
	d := p.v5(r.t).Content.(*packets.Disconnect)
	if !bytes.Contains(codes, []byte{d.ReasonCode}) {
		r.t.Fatalf("DISCONNECT reason code %#x (%q), want one of % #x", d.ReasonCode, d.Properties.ReasonString, codes)
	}
	r.expectClosed()
	return d
}

// pubProps are the properties of a raw PUBLISH, decoded here (not with
// paho.golang, which keeps only the last Subscription Identifier).
type pubProps struct {
	topic  string
	id     uint16
	qos    byte
	retain bool
	dup    bool
	// props maps each property identifier to its raw values, in order.
	props   map[byte][][]byte
	subIDs  []int
	payload []byte
}

// propLen gives the length of a fixed-size property value (MQTT 5.0
// §2.2.2.2); -1 marks a UTF-8 string or binary data, -2 a string pair and
// -3 a variable byte integer.
var propLen = map[byte]int{
	0x01: 1, 0x02: 4, 0x03: -1, 0x08: -1, 0x09: -1, 0x0B: -3, 0x11: 4, 0x12: -1, 0x13: 2,
	0x15: -1, 0x16: -1, 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: -1, 0x1C: -1, 0x1F: -1, 0x21: 2,
	0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: -2, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}

// readVBI decodes a variable byte integer at b and returns it and its size.
func readVBI(b []byte) (v, n int, ok bool) {
	mul := 1
	for i := 0; i < 4 && i < len(b); i++ {
		v += int(b[i]&0x7f) * mul
		mul *= 128
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// decodePublishV5 decodes a 5.0 PUBLISH read from the broker, keeping every
// property value.
func decodePublishV5(t testing.TB, p rawPkt) pubProps {
	t.Helper()
	if p.typ != tPUBLISH {
		t.Fatalf("got packet type %d, want PUBLISH", p.typ)
	}
	bad := func(why string) { t.Helper(); t.Fatalf("PUBLISH body % x: %s", p.body, why) }
	r := pubProps{qos: p.flags >> 1 & 3, retain: p.flags&1 != 0, dup: p.flags&8 != 0, props: map[byte][][]byte{}}
	b := p.body
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		bad("topic overruns")
	}
	n := int(binary.BigEndian.Uint16(b))
	r.topic, b = string(b[2:2+n]), b[2+n:]
	if r.qos > 0 {
		if len(b) < 2 {
			bad("no packet id")
		}
		r.id, b = binary.BigEndian.Uint16(b), b[2:]
	}
	plen, m, ok := readVBI(b)
	if !ok || len(b) < m+plen {
		bad("property length overruns")
	}
	props, payload := b[m:m+plen], b[m+plen:]
	for len(props) > 0 {
		id := props[0]
		props = props[1:]
		l, known := propLen[id]
		if !known {
			bad(fmt.Sprintf("unknown property %#x", id))
		}
		var size int
		switch l {
		case -1:
			if len(props) < 2 {
				bad("short string")
			}
			size = 2 + int(binary.BigEndian.Uint16(props))
		case -2:
			if len(props) < 2 {
				bad("short pair")
			}
			k := 2 + int(binary.BigEndian.Uint16(props))
			if len(props) < k+2 {
				bad("short pair")
			}
			size = k + 2 + int(binary.BigEndian.Uint16(props[k:]))
		case -3:
			v, vn, ok := readVBI(props)
			if !ok {
				bad("bad subscription identifier")
			}
			r.subIDs = append(r.subIDs, v)
			size = vn
		default:
			size = l
		}
		if len(props) < size {
			bad(fmt.Sprintf("property %#x overruns", id))
		}
		r.props[id] = append(r.props[id], props[:size])
		props = props[size:]
	}
	r.payload = payload
	return r
}

// intp returns a pointer for paho.golang's Subscription Identifier.
func intp(v int) *int { return &v }

// rawWillV5 is the will of a hand-encoded 5.0 CONNECT; props is the
// encoded property list (without its length). paho.golang's encoder drops
// the PUBLISH-only will properties (Payload Format Indicator, Content
// Type, ...), so wills with them are encoded here.
type rawWillV5 struct {
	topic, payload string
	qos            byte
	retain         bool
	props          []byte
}

// connectV5Bytes encodes a 5.0 CONNECT (clean start, keep alive 0) with
// the encoded CONNECT properties props and an optional will.
func connectV5Bytes(id string, props []byte, will *rawWillV5) []byte {
	flags := byte(0x02)
	parts := [][]byte{str("MQTT"), {5}, nil, u16(0), varint(len(props)), props, str(id)}
	if will != nil {
		flags |= 0x04 | will.qos<<3
		if will.retain {
			flags |= 0x20
		}
		parts = append(parts, varint(len(will.props)), will.props, str(will.topic), str(will.payload))
	}
	parts[2] = []byte{flags}
	return mkPkt(tCONNECT<<4, parts...)
}

// last returns the last of ms (the test fails if there is none).
func last(t testing.TB, ms []v5Msg) v5Msg {
	t.Helper()
	if len(ms) == 0 {
		t.Fatal("no message")
	}
	return ms[len(ms)-1]
}
