package mqtt

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Shared helpers of the Paho (MQTT 3.1.1) integration tests.

// waitTime bounds every wait for a token, a message or a closed socket.
const waitTime = 5 * time.Second

// rcvd is one PUBLISH as a Paho client received it.
type rcvd struct {
	topic    string
	payload  string
	qos      byte
	retained bool
	dup      bool
}

// String formats a received message for failure messages.
func (r rcvd) String() string {
	return fmt.Sprintf("%s=%q(q%d r=%v d=%v)", r.topic, r.payload, r.qos, r.retained, r.dup)
}

// collector records every message a client receives. It is installed as the
// client's default publish handler and subscriptions are made with a nil
// callback, so each PUBLISH on the wire is recorded exactly once (Paho calls
// every matching route's handler, which would double count overlapping
// subscriptions).
type collector struct {
	mu   sync.Mutex
	msgs []rcvd
}

// handle is the Paho message handler.
func (c *collector) handle(_ paho.Client, m paho.Message) {
	r := rcvd{topic: m.Topic(), payload: string(m.Payload()), qos: m.Qos(), retained: m.Retained(), dup: m.Duplicate()}
	c.mu.Lock()
	c.msgs = append(c.msgs, r)
	c.mu.Unlock()
}

// all returns a copy of the messages received so far.
func (c *collector) all() []rcvd {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rcvd(nil), c.msgs...)
}

// on returns the messages received on topic t so far.
func (c *collector) on(t string) []rcvd {
	var out []rcvd
	for _, r := range c.all() {
		if r.topic == t {
			out = append(out, r)
		}
	}
	return out
}

// waitFor waits until a message on topic t with payload p has arrived and
// returns everything received up to then.
func (c *collector) waitFor(t testing.TB, topic, payload string) []rcvd {
	t.Helper()
	var got []rcvd
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		got = c.all()
		for _, r := range got {
			if r.topic == topic && r.payload == payload {
				return nil
			}
		}
		return fmt.Errorf("no %s=%q among %d messages: %v", topic, payload, len(got), short(got))
	})
	return got
}

// waitN waits until at least n messages have arrived and returns them all.
func (c *collector) waitN(t testing.TB, n int) []rcvd {
	t.Helper()
	var got []rcvd
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		got = c.all()
		if len(got) >= n {
			return nil
		}
		return fmt.Errorf("got %d of %d messages: %v", len(got), n, short(got))
	})
	return got
}

// short formats at most the first 20 messages.
func short(rs []rcvd) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 20 {
			fmt.Fprintf(&b, " …(%d more)", len(rs)-20)
			break
		}
		b.WriteString(r.String())
		b.WriteByte(' ')
	}
	return b.String()
}

// pahoOpts returns Paho options for tb with client id id: clean session,
// no automatic reconnection, no resending from a previous run.
func pahoOpts(tb *testBroker, id string) *paho.ClientOptions {
	return paho.NewClientOptions().
		AddBroker(tb.url).
		SetClientID(id).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitTime).
		SetWriteTimeout(waitTime).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true)
}

// pahoClient is a connected Paho client with its collector.
type pahoClient struct {
	paho.Client
	col  *collector
	lost chan error // connection-lost notifications (buffered)
	// sessionPresent is the CONNACK's session present flag.
	sessionPresent bool
}

// connectPaho connects a client with o (its default publish handler and
// connection-lost handler are replaced) and disconnects it when the test
// ends.
func connectPaho(t testing.TB, o *paho.ClientOptions) *pahoClient {
	t.Helper()
	pc, tok := dialPaho(t, o)
	if err := tok.Error(); err != nil {
		t.Fatalf("connect %q: %v", o.ClientID, err)
	}
	pc.sessionPresent = tok.SessionPresent()
	return pc
}

// dialPaho starts connecting like connectPaho and returns the finished
// connect token without checking it.
func dialPaho(t testing.TB, o *paho.ClientOptions) (*pahoClient, *paho.ConnectToken) {
	t.Helper()
	pc := &pahoClient{col: &collector{}, lost: make(chan error, 4)}
	o.SetDefaultPublishHandler(pc.col.handle)
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		select {
		case pc.lost <- err:
		default:
		}
	})
	pc.Client = paho.NewClient(o)
	tok := pc.Connect().(*paho.ConnectToken)
	if !tok.WaitTimeout(waitTime) {
		t.Fatalf("connect %q: no CONNACK within %v", o.ClientID, waitTime)
	}
	t.Cleanup(func() {
		if pc.IsConnectionOpen() {
			pc.Disconnect(100)
		}
	})
	return pc, tok
}

// wait waits for tok and fails the test on timeout or error.
func wait(t testing.TB, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitTime) {
		t.Fatalf("%s: not completed within %v", what, waitTime)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sub subscribes to filter at qos (SUBACK awaited; a refused filter fails the
// test) and returns the granted QoS.
func (pc *pahoClient) sub(t testing.TB, filter string, qos byte) byte {
	t.Helper()
	tok := pc.Subscribe(filter, qos, nil)
	wait(t, "subscribe "+filter, tok)
	g, ok := tok.(*paho.SubscribeToken).Result()[filter]
	if !ok || g == 0x80 {
		t.Fatalf("subscribe %s: refused (granted %#x, present %v)", filter, g, ok)
	}
	return g
}

// pub publishes and waits for the exchange to complete (PUBACK or PUBCOMP
// for QoS 1/2; the write for QoS 0).
func (pc *pahoClient) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	wait(t, "publish "+topic, pc.Publish(topic, qos, retain, payload))
}

// marker publishes payload on topic from the broker itself at QoS q, as a
// barrier: a client that receives it has also received everything queued
// for it before at the same QoS.
func marker(t testing.TB, tb *testBroker, topic string, q byte, payload string) {
	t.Helper()
	if err := tb.srv.Publish(topic, []byte(payload), q, false); err != nil {
		t.Fatalf("broker publish %s: %v", topic, err)
	}
}

// waitLost waits for the client's connection-lost handler to fire.
func (pc *pahoClient) waitLost(t testing.TB) error {
	t.Helper()
	select {
	case err := <-pc.lost:
		return err
	case <-time.After(waitTime):
		t.Fatalf("connection-lost handler did not fire within %v", waitTime)
		return nil
	}
}
