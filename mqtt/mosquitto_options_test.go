package mqtt

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatemq/internal/textlog"
	"gatemq/mqtt/auth"
)

// Tests of the options that carry Mosquitto's directives over to the
// broker: client ids (allow_zero_length_clientid, auto_id_prefix,
// clientid_prefixes, use_username_as_clientid), max_qos, retain_available,
// upgrade_outgoing_qos, check_retain_source, max_topic_alias and the
// connection messages.

// logBuf collects a broker's log lines for tests.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger returns a debug logger writing into l.
func (l *logBuf) logger() *textlog.Logger {
	return textlog.New(textlog.NewTextHandler(l, textlog.LevelDebug))
}

// waitLog waits until the log matches re.
func (l *logBuf) waitLog(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		if rx.MatchString(l.String()) {
			return nil
		}
		return fmt.Errorf("log lacks %q:\n%s", re, l.String())
	})
}

// connectUserPkt encodes a 3.1.1 clean CONNECT with a username (and
// password "pw").
func connectUserPkt(id, user string) []byte {
	return mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0x02 | 0x80 | 0x40}, u16(30), str(id), str(user), str("pw"))
}

func TestClientIDOptions(t *testing.T) {
	var logs logBuf
	tb := startBroker(t, Options{RefuseEmptyClientID: true, ClientIDPrefix: "ok-", ConnectionMessages: true, Logger: logs.logger()})
	r := dialRaw(t, tb)
	r.send(connectPkt("", true, 30, nil))
	r.expectConnack(false, 0x02) // identifier rejected
	r.expectClosed()
	r = dialRaw(t, tb)
	r.send(connectPkt("bad-1", true, 30, nil))
	r.expectConnack(false, 0x05) // not authorised
	r.expectClosed()
	logs.waitLog(t, `msg="Client bad-1 disconnected, not authorised\."`)
	dialRaw(t, tb).connect("ok-1", true, 30, nil, false)

	var logs2 logBuf
	tb = startBroker(t, Options{AutoIDPrefix: "lan-", ConnectionMessages: true, Logger: logs2.logger()})
	dialRaw(t, tb).connect("", true, 30, nil, false)
	logs2.waitLog(t, `msg="New client connected from 127\.0\.0\.1:\d+ as lan-\S+ \(p2, c1, k30\)\."`)
}

func TestUsernameAsClientID(t *testing.T) {
	var logs logBuf
	tb := startBrokerListener(t, Options{ConnectionMessages: true, Logger: logs.logger()}, ListenerOptions{UsernameAsClientID: true})
	r := dialRaw(t, tb)
	r.send(connectPkt("anon", true, 30, nil))
	r.expectConnack(false, 0x05)
	r.expectClosed()
	first := dialRaw(t, tb)
	first.send(connectUserPkt("phone", "alice"))
	first.expectConnack(false, 0)
	second := dialRaw(t, tb)
	second.send(connectUserPkt("laptop", "alice"))
	second.expectConnack(false, 0)
	first.expectClosed() // the same client id: taken over
	logs.waitLog(t, `as alice \(p2, c1, k30, u'alice'\)`)
	logs.waitLog(t, `msg="Client alice already connected, closing old connection\."`)
}

func TestListenerMaxQoS(t *testing.T) {
	tb := startBrokerListener(t, Options{}, ListenerOptions{LimitQoS: true, MaxQoS: 1})
	r := dialRaw(t, tb)
	r.connect("q", true, 30, nil, false)
	r.send(subscribePkt(1, "a/#", 2))
	if p := r.expect(tSUBACK, 0); !bytes.Equal(p.body, []byte{0, 1, 1}) {
		t.Fatalf("SUBACK % x, want QoS 1 granted", p.body)
	}
	r.send(publishPkt("a/b", 1, false, false, 2, "ok"))
	r.expectAck(tPUBACK, 2)
	r.send(publishPkt("a/b", 2, false, false, 3, "too high"))
	r.expectClosed(tPUBLISH)

	// 5.0 clients are told in CONNACK; topic aliases follow the listener.
	tb = startBrokerListener(t, Options{}, ListenerOptions{LimitQoS: true, MaxQoS: 0, TopicAliasMax: 5})
	c := connectV5(t, tb, v5Connect("v5", nil))
	if ca := c.connack; ca.Properties == nil || ca.Properties.MaximumQoS == nil || *ca.Properties.MaximumQoS != 0 || ca.Properties.TopicAliasMaximum == nil || *ca.Properties.TopicAliasMaximum != 5 {
		t.Errorf("CONNACK properties %+v, want Maximum QoS 0 and Topic Alias Maximum 5", ca.Properties)
	}
	tb = startBrokerListener(t, Options{}, ListenerOptions{TopicAliasMax: -1})
	c = connectV5(t, tb, v5Connect("noalias", nil))
	if ca := c.connack; ca.Properties != nil && ca.Properties.TopicAliasMaximum != nil && *ca.Properties.TopicAliasMaximum != 0 {
		t.Errorf("Topic Alias Maximum %d, want none", *ca.Properties.TopicAliasMaximum)
	}
}

func TestRetainUnavailable(t *testing.T) {
	tb := startBroker(t, Options{RetainUnavailable: true})
	r := dialRaw(t, tb)
	r.connect("r", true, 30, nil, false)
	r.send(publishPkt("a", 0, false, false, 0, "plain is fine"), publishPkt("a", 1, false, true, 1, "retained"))
	r.expectClosed()
	c := connectV5(t, tb, v5Connect("v5", nil))
	if ca := c.connack; ca.Properties == nil || ca.Properties.RetainAvailable {
		t.Errorf("CONNACK properties %+v, want Retain Available 0", ca.Properties)
	}
}

func TestUpgradeOutgoingQoS(t *testing.T) {
	for _, upgrade := range []bool{false, true} {
		tb := startBroker(t, Options{UpgradeOutgoingQoS: upgrade})
		sub := dialRaw(t, tb)
		sub.connect("sub", true, 30, nil, false)
		sub.subscribe(1, "t", 1)
		pub := dialRaw(t, tb)
		pub.connect("pub", true, 30, nil, false)
		pub.send(publishPkt("t", 0, false, false, 0, "x"))
		p := sub.expect(tPUBLISH, map[bool]byte{false: 0, true: 2}[upgrade]).publish(t)
		if p.payload != "x" {
			t.Errorf("payload %q", p.payload)
		}
	}
}

func TestCheckRetainSource(t *testing.T) {
	acl := func(text string) *auth.Policy {
		a, err := auth.ParseACL(strings.NewReader(text), "acl")
		if err != nil {
			t.Fatal(err)
		}
		return auth.NewPolicy(true, nil, a)
	}
	grant := "topic readwrite #\n"
	for _, skip := range []bool{false, true} {
		tb := startBroker(t, Options{Auth: acl(grant), SkipRetainSource: skip})
		pub := dialRaw(t, tb)
		pub.connect("pub", true, 30, nil, false)
		pub.send(publishPkt("home/lamp", 1, false, true, 1, "on"))
		pub.expectAck(tPUBACK, 1)
		// The publisher may no longer write there; everyone may read.
		tb.srv.SetAuth(acl("topic read #\n"))
		sub := dialRaw(t, tb)
		sub.connect("sub", true, 30, nil, false)
		sub.subscribe(1, "home/#", 1)
		p, err := sub.readPkt(300 * time.Millisecond)
		got := err == nil && p.typ == tPUBLISH
		if got != skip {
			t.Errorf("SkipRetainSource %v: retained message delivered %v", skip, got)
		}
	}
}

func TestConnectionMessages(t *testing.T) {
	var logs logBuf
	tb := startBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	a := dialRaw(t, tb)
	a.connect("a", false, 30, nil, false)
	a.subscribe(1, "x/#", 1)
	a.send(mkPkt(tUNSUBSCRIBE<<4|2, u16(2), str("x/#")))
	a.expect(tUNSUBACK, 0)
	a.send([]byte{tDISCONNECT << 4, 0})
	a.expectClosed()
	b := dialRaw(t, tb)
	b.connect("b", true, 1, nil, false)
	c := dialRaw(t, tb)
	c.connect("c", true, 30, nil, false)
	c.c.Close()
	d := dialRaw(t, tb)
	d.connect("d", true, 30, nil, false)
	d.send([]byte{0xf0, 0}) // reserved packet type
	for _, re := range []string{
		`level=INFO\+2 msg="New connection from 127\.0\.0\.1:\d+ on port \d+\."`,
		`msg="New client connected from 127\.0\.0\.1:\d+ as a \(p2, c0, k30\)\."`,
		`msg="a 1 x/#" log_type=subscribe`,
		`msg="a x/#" log_type=unsubscribe`,
		`msg="Client a disconnected\."`,
		`msg="Client c closed its connection\."`,
		`msg="Client d disconnected due to (malformed packet|protocol error)\."`,
		`msg="Client b has exceeded timeout, disconnecting\."`,
	} {
		logs.waitLog(t, re)
	}
}

func TestMountPoint(t *testing.T) {
	tb := startBrokerListener(t, Options{}, ListenerOptions{MountPoint: "guest/"})
	// Two clients of the mounted listener see each other under their own
	// names; an in-process subscriber sees the whole topics.
	var mu sync.Mutex
	var whole []string
	unsub, err := tb.srv.Subscribe("#", func(topic string, payload []byte, retained bool) {
		mu.Lock()
		whole = append(whole, topic)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	sub := dialRaw(t, tb)
	sub.connect("sub", true, 30, nil, false)
	sub.subscribe(1, "sensors/#", 1)
	sub.send(subscribePkt(2, "$share/g/shared/#", 0))
	sub.expect(tSUBACK, 0)
	pub := dialRaw(t, tb)
	pub.connect("pub", true, 30, &rawWill{topic: "status", payload: "gone"}, false)
	pub.send(publishPkt("sensors/t", 1, false, false, 1, "21"))
	pub.expectAck(tPUBACK, 1)
	if p := sub.expect(tPUBLISH, 2).publish(t); p.topic != "sensors/t" || p.payload != "21" {
		t.Errorf("mounted subscriber got %+v, want sensors/t", p)
	}
	pub.send(publishPkt("shared/x", 0, false, false, 0, "s"))
	if p := sub.expect(tPUBLISH, 0).publish(t); p.topic != "shared/x" {
		t.Errorf("shared subscription got %+v", p)
	}
	tb.srv.Publish("sensors/outside", []byte("no"), 0, false) // outside the mount: not seen
	pub.c.Close()                                             // the will goes out under the mount
	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		want := "guest/sensors/t guest/shared/x sensors/outside guest/status"
		if strings.Join(whole, " ") != want {
			return fmt.Errorf("whole topics %q, want %q", whole, want)
		}
		return nil
	})
	if p, err := sub.readPkt(100 * time.Millisecond); err == nil {
		t.Errorf("mounted subscriber got %+v from outside its mount", p)
	}
}
