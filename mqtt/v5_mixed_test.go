package mqtt

import (
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// MQTT 3.1.1 (paho.mqtt.golang, raw sockets) and MQTT 5.0 (paho.golang)
// clients on the same topics of one broker.

// TestV5MixedPublish checks messages crossing protocol versions at every
// QoS: a 3.1.1 publisher reaches a 5.0 subscriber (with no properties
// invented), and a 5.0 publisher's message with properties and a topic
// alias reaches a 3.1.1 subscriber as a plain 3.1.1 PUBLISH (full topic,
// exact payload, QoS = min of both) [MQTT-3.8.4-8] (§4.3: QoS is per hop).
func TestV5MixedPublish(t *testing.T) {
	tb := startBroker(t, Options{})
	sub5 := connectV5(t, tb, v5Connect("mix-sub5", nil))
	sub5.sub(t, "mix/#", 2)
	sub3 := connectPaho(t, pahoOpts(tb, "mix-sub3"))
	sub3.sub(t, "mix/#", 2)
	raw3 := dialRaw(t, tb)
	raw3.connect("mix-raw3", true, 0, nil, false)
	raw3.subscribe(1, "mix/#", 0)

	pub3 := connectPaho(t, pahoOpts(tb, "mix-pub3"))
	pub5 := connectV5(t, tb, v5Connect("mix-pub5", nil))
	for q := range byte(3) {
		pub3.pub(t, "mix/from311", q, false, fmt.Sprint("311 q", q))
		props := requestProps()
		props.TopicAlias = u16p(1)
		pub5.pub2(t, &paho.Publish{Topic: "mix/from5", QoS: q, Payload: []byte(fmt.Sprint("5 q", q)), Properties: props})
	}

	got5 := sub5.col.waitN(t, 6)
	got3 := sub3.col.waitN(t, 6)
	for q := range byte(3) {
		p311, p5 := fmt.Sprint("311 q", q), fmt.Sprint("5 q", q)
		if ms := sub5.col.find(p311); len(ms) != 1 || ms[0].topic != "mix/from311" || ms[0].qos != q {
			t.Errorf("5.0 subscriber got %v for the 3.1.1 QoS %d message, want it once at QoS %d", ms, q, q)
		} else {
			checkMetadata(t, "3.1.1 message at a 5.0 subscriber", ms[0].props, &paho.PublishProperties{})
		}
		if ms := sub5.col.find(p5); len(ms) != 1 || ms[0].topic != "mix/from5" || ms[0].qos != q {
			t.Errorf("5.0 subscriber got %v for the 5.0 QoS %d message", ms, q)
		} else {
			checkMetadata(t, "5.0 message at a 5.0 subscriber", ms[0].props, requestProps())
		}
		n := 0
		for _, r := range got3 {
			if r.payload == p5 {
				n++
				if r.topic != "mix/from5" || r.qos != q {
					t.Errorf("3.1.1 subscriber got the 5.0 QoS %d message as %v", q, r)
				}
			}
		}
		if n != 1 {
			t.Errorf("3.1.1 subscriber got the 5.0 QoS %d message %d times, want once: %v", q, n, short(got3))
		}
	}
	if len(got5) != 6 || len(sub3.col.all()) != 6 {
		t.Errorf("subscribers got %d (5.0) and %d (3.1.1) messages, want 6 each", len(got5), len(sub3.col.all()))
	}
	// The raw 3.1.1 subscriber checks the bytes: a 3.1.1 PUBLISH has no
	// property block, so any would show up in the payload.
	seen := map[string]bool{}
	for range 6 {
		p := raw3.read().publish(t)
		seen[p.topic+" "+p.payload] = true
	}
	for q := range byte(3) {
		for _, w := range []string{fmt.Sprint("mix/from311 311 q", q), fmt.Sprint("mix/from5 5 q", q)} {
			if !seen[w] {
				t.Errorf("raw 3.1.1 subscriber did not get %q exactly; got %v", w, seen)
			}
		}
	}
}

// TestV5MixedRetained checks retained messages crossing versions: one
// retained by a 3.1.1 client and one retained by a 5.0 client with
// properties reach new subscribers of both versions with RETAIN 1 and
// exact payloads; the 5.0 subscriber also gets the stored properties.
func TestV5MixedRetained(t *testing.T) {
	tb := startBroker(t, Options{})
	pub3 := connectPaho(t, pahoOpts(tb, "mixr-pub3"))
	pub3.pub(t, "mixr/a", 1, true, "from 3.1.1")
	pub5 := connectV5(t, tb, v5Connect("mixr-pub5", nil))
	pub5.pub2(t, &paho.Publish{Topic: "mixr/b", QoS: 1, Retain: true, Payload: []byte("from 5.0"), Properties: requestProps()})

	sub5 := connectV5(t, tb, v5Connect("mixr-sub5", nil))
	sub5.sub(t, "mixr/+", 1)
	sub5.col.waitN(t, 2)
	for _, tc := range []struct {
		payload, topic string
		props          *paho.PublishProperties
	}{{"from 3.1.1", "mixr/a", &paho.PublishProperties{}}, {"from 5.0", "mixr/b", requestProps()}} {
		ms := sub5.col.find(tc.payload)
		if len(ms) != 1 || !ms[0].retain || ms[0].topic != tc.topic {
			t.Errorf("5.0 subscriber got %v, want %s retained once", ms, tc.payload)
			continue
		}
		checkMetadata(t, "retained "+tc.payload, ms[0].props, tc.props)
	}

	sub3 := connectPaho(t, pahoOpts(tb, "mixr-sub3"))
	sub3.sub(t, "mixr/+", 1)
	got := sub3.col.waitN(t, 2)
	for _, w := range []rcvd{{topic: "mixr/a", payload: "from 3.1.1", qos: 1, retained: true}, {topic: "mixr/b", payload: "from 5.0", qos: 1, retained: true}} {
		n := 0
		for _, r := range got {
			if r.topic == w.topic && r.payload == w.payload && r.qos == w.qos && r.retained {
				n++
			}
		}
		if n != 1 {
			t.Errorf("3.1.1 subscriber got %v, want %v once", short(got), w)
		}
	}
}

// TestV5MixedWill checks wills crossing versions: a 3.1.1 client's will
// reaches a 5.0 subscriber (and, retained, a later 5.0 subscriber with
// RETAIN 1); a 5.0 client's will with properties reaches a 3.1.1
// subscriber as a plain message and a 5.0 subscriber with its properties
// (§3.1.3.2: the will properties are sent with the will message).
func TestV5MixedWill(t *testing.T) {
	tb := startBroker(t, Options{})
	watch5 := connectV5(t, tb, v5Connect("mixw-watch5", nil))
	watch5.sub(t, "mixw/#", 1)
	watch3 := connectPaho(t, pahoOpts(tb, "mixw-watch3"))
	watch3.sub(t, "mixw/#", 1)
	// The watchers are done subscribing before the retained will appears
	// (see TestV5RetainedNotDuplicatedOnSubscribe).
	watch5.sync(t)
	watch3.pub(t, "sync/mixw-watch3", 1, false, "sync")

	conns := make(chan net.Conn, 1)
	o := pahoOpts(tb, "mixw-311").
		SetWill("mixw/311", "311 gone", 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho3.ClientOptions) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", u.Host, waitTime)
			if err == nil {
				conns <- c
			}
			return c, err
		})
	connectPaho(t, o)
	(<-conns).Close()
	if ms := watch5.col.waitFor(t, "mixw/311", "311 gone"); len(ms) != 1 || ms[0].qos != 1 || ms[0].retain {
		t.Errorf("5.0 watcher got %v, want the 3.1.1 will once with QoS 1 RETAIN 0", ms)
	}
	late := connectV5(t, tb, v5Connect("mixw-late5", nil))
	late.sub(t, "mixw/311", 1)
	if m := last(t, late.col.waitFor(t, "mixw/311", "311 gone")); !m.retain {
		t.Errorf("retained 3.1.1 will reached a new 5.0 subscriber as %v, want RETAIN 1", m)
	}

	// A 5.0 will with Payload Format 1, Content Type, Response Topic,
	// Correlation Data and two user properties, encoded by hand (see
	// rawWillV5).
	willProps := []byte{0x01, 1}
	willProps = append(append(willProps, 0x03), str("text/plain")...)
	willProps = append(append(willProps, 0x08), str("mixw/reply")...)
	willProps = append(append(willProps, 0x09), str("\x00\x01")...)
	willProps = append(append(append(willProps, 0x26), str("k")...), str("v1")...)
	willProps = append(append(append(willProps, 0x26), str("k")...), str("v2")...)
	r := dialRaw(t, tb)
	r.send(connectV5Bytes("mixw-5", nil, &rawWillV5{topic: "mixw/5", payload: "5 gone", qos: 1, props: willProps}))
	r.expect(tCONNACK, 0)
	r.c.Close()

	m := last(t, watch5.col.waitFor(t, "mixw/5", "5 gone"))
	checkMetadata(t, "5.0 will", m.props, &paho.PublishProperties{PayloadFormat: bytep(1), ContentType: "text/plain",
		ResponseTopic: "mixw/reply", CorrelationData: []byte{0, 1}, User: paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}}})
	got := watch3.col.waitFor(t, "mixw/5", "5 gone")
	if r := got[len(got)-1]; r.qos != 1 || r.retained {
		t.Errorf("3.1.1 watcher got the 5.0 will as %v, want QoS 1 RETAIN 0", r)
	}
}
