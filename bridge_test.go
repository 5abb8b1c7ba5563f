package main

// Bridges, proven against Debian's mosquitto as the upstream: the real
// gatemq binary with a `connection` block, Paho clients on both sides.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bridgeWait bounds each wait of the bridge tests.
const bridgeWait = 30 * time.Second

// collector gathers the messages a Paho client receives, as "topic
// payload" lines, in arrival order.
type collector struct {
	mu  sync.Mutex
	got []string
}

func (c *collector) handler(_ paho.Client, m paho.Message) {
	c.mu.Lock()
	c.got = append(c.got, m.Topic()+" "+string(m.Payload()))
	c.mu.Unlock()
}

// lines returns what arrived so far.
func (c *collector) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// waitFor waits until at least n messages arrived (or bridgeWait passed)
// and returns them.
func (c *collector) waitFor(n int, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		got := c.lines()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pahoClient connects a Paho client of protocol version v (4 or 5 is
// served as 4 by this Paho; the bridge's own version is what the tests
// vary) with a persistent session when clean is false, subscribed to
// filters at qos, collecting into col.
func pahoClient(t *testing.T, addr, id string, clean bool, qos byte, col *collector, filters ...string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second).SetOrderMatters(true)
	if col != nil {
		o.SetDefaultPublishHandler(col.handler)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(bridgeWait) || tok.Error() != nil {
		t.Fatalf("paho %s connect to %s: %v", id, addr, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	for _, f := range filters {
		if tok := c.Subscribe(f, qos, nil); !tok.WaitTimeout(bridgeWait) || tok.Error() != nil {
			t.Fatalf("paho %s subscribe %s: %v", id, f, tok.Error())
		}
	}
	return c
}

// publishAll publishes each payload to topic at qos and waits for every
// acknowledgement.
func publishAll(t *testing.T, c paho.Client, topic string, qos byte, payloads ...string) {
	t.Helper()
	toks := make([]paho.Token, 0, len(payloads))
	for _, p := range payloads {
		toks = append(toks, c.Publish(topic, qos, false, p))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(bridgeWait) || tok.Error() != nil {
			t.Fatalf("publish to %s: %v", topic, tok.Error())
		}
	}
}

// numbered returns n payloads "prefix-0" … "prefix-(n-1)".
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// expectLines checks that got is exactly want, in order.
func expectLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %d messages, want %d\n got: %s\nwant: %s", what, len(got), len(want),
			strings.Join(head(got, 8), " | "), strings.Join(head(want, 8), " | "))
	}
}

func head(s []string, n int) []string { return s[:min(n, len(s))] }

// prefixed returns "topic payload" lines for payloads on topic.
func prefixed(topic string, payloads []string) []string {
	out := make([]string, len(payloads))
	for i, p := range payloads {
		out[i] = topic + " " + p
	}
	return out
}

// startBridged starts gatemq with one bridge to upstream address addr,
// made of the topic lines and extra directives, and waits until the
// bridge reports itself connected (its notification topic says 1).
func startBridged(t *testing.T, addr, name string, lines string) *brokerProc {
	t.Helper()
	conf := writeConfig(t, "connection "+name+"\naddress "+addr+"\nremote_clientid "+name+"-edge\n"+lines)
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", t.TempDir())
	b.mustStart(20 * time.Second)
	waitBridgeState(t, b.addr, name+"-edge", "1")
	return b
}

// waitBridgeState waits until the local notification topic of the bridge
// whose remote client id is id holds state.
func waitBridgeState(t *testing.T, addr, id, state string) {
	t.Helper()
	topic := "$SYS/broker/connection/" + id + "/state"
	deadline := time.Now().Add(bridgeWait)
	for {
		col := &collector{}
		c := pahoClient(t, addr, "state-watch", true, 0, col, topic)
		got := col.waitFor(1, time.Second)
		c.Disconnect(50)
		if len(got) > 0 && got[len(got)-1] == topic+" "+state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s: state %v, want %s", id, got, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBridgeDirections forwards out, in and both ways at QoS 0, 1 and 2,
// with prefixes, to a mosquitto upstream, over 3.1.1 and 5.0 bridge
// sessions, and checks that `both` does not loop.
func TestBridgeDirections(t *testing.T) {
	for _, version := range []string{"mqttv311", "mqttv50"} {
		t.Run(version, func(t *testing.T) {
			up := startMosquittoUpstream(t, upstreamOptions{})
			b := startBridged(t, up.addr, "up", "bridge_protocol_version "+version+"\n"+
				"topic sensors/# out 2 local/ site1/\n"+
				"topic cmd/# in 2 local/ site1/\n"+
				"topic chat/# both 1\n")
			upCol, localCol := &collector{}, &collector{}
			upSub := pahoClient(t, up.addr, "up-sub", true, 2, upCol, "site1/sensors/#", "chat/#", "local/#", "sensors/#")
			localSub := pahoClient(t, b.addr, "local-sub", true, 2, localCol, "local/cmd/#", "chat/#", "cmd/#", "site1/#")
			upPub := pahoClient(t, up.addr, "up-pub", true, 0, nil)
			localPub := pahoClient(t, b.addr, "local-pub", true, 0, nil)
			_, _ = upSub, localSub

			var wantUp, wantLocal []string
			for q := byte(0); q <= 2; q++ {
				out := numbered(fmt.Sprintf("out-q%d", q), 20)
				publishAll(t, localPub, "local/sensors/t1", q, out...)
				wantUp = append(wantUp, prefixed("site1/sensors/t1", out)...)
				in := numbered(fmt.Sprintf("in-q%d", q), 20)
				publishAll(t, upPub, "site1/cmd/valve", q, in...)
				wantLocal = append(wantLocal, prefixed("local/cmd/valve", in)...)
				// Each batch arrives before the next is published, so
				// that the order across QoS levels is defined.
				upCol.waitFor(len(wantUp), bridgeWait)
				localCol.waitFor(len(wantLocal), bridgeWait)
			}
			publishAll(t, localPub, "chat/a", 1, "from-local")
			wantUp = append(wantUp, "chat/a from-local")
			wantLocal = append(wantLocal, "chat/a from-local")
			upCol.waitFor(len(wantUp), bridgeWait)
			localCol.waitFor(len(wantLocal), bridgeWait)
			publishAll(t, upPub, "chat/b", 1, "from-upstream")
			wantUp = append(wantUp, "chat/b from-upstream")
			wantLocal = append(wantLocal, "chat/b from-upstream")
			upCol.waitFor(len(wantUp), bridgeWait)
			localCol.waitFor(len(wantLocal), bridgeWait)
			time.Sleep(500 * time.Millisecond) // a loop would bring copies now
			expectLines(t, "upstream subscriber", upCol.lines(), wantUp)
			expectLines(t, "local subscriber", localCol.lines(), wantLocal)
		})
	}
}
