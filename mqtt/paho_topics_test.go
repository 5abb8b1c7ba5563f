package mqtt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// subSync subscribes and then waits for an UNSUBACK of an unused filter.
// The broker handles a connection's packets in order and queues the retained
// messages of a SUBSCRIBE before reading the next packet, so after subSync
// returns, every retained message for filter is queued for the client and a
// later marker at the same QoS arrives after them.
func (pc *pahoClient) subSync(t testing.TB, filter string, qos byte) {
	t.Helper()
	pc.sub(t, filter, qos)
	wait(t, "unsubscribe barrier", pc.Unsubscribe("barrier/unused"))
}

// payloads lists the payloads of rs.
func payloads(rs []rcvd) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.payload
	}
	return out
}

// TestPahoRetained sets, replaces and clears a retained message. A new
// subscription receives the retained message with RETAIN 1
// [MQTT-3.3.1-6] [MQTT-3.3.1-8]; a live subscription receives publications
// with RETAIN 0 [MQTT-3.3.1-9]; a new retained message replaces the old
// [MQTT-3.3.1-5]; an empty retained payload clears the topic and is still
// forwarded [MQTT-3.3.1-10] [MQTT-3.3.1-11].
func TestPahoRetained(t *testing.T) {
	tb := startBroker(t, Options{})
	live := connectPaho(t, pahoOpts(tb, "ret-live"))
	live.sub(t, "ret/#", 2)
	pub := connectPaho(t, pahoOpts(tb, "ret-pub"))

	// check subscribes a new client to ret/a and compares what it gets,
	// up to a marker, with want (all retained, QoS 1).
	check := func(name string, want ...string) {
		t.Helper()
		c := connectPaho(t, pahoOpts(tb, "ret-"+name))
		c.subSync(t, "ret/a", 2)
		marker(t, tb, "ret/a", 1, "end")
		got := c.col.waitFor(t, "ret/a", "end")
		if !slices.Equal(payloads(got), append(want, "end")) {
			t.Fatalf("%s: new subscriber got %v, want %q then the marker", name, short(got), want)
		}
		for _, r := range got[:len(got)-1] {
			if !r.retained || r.qos != 1 {
				t.Errorf("%s: retained message delivered as %v, want RETAIN 1 at QoS 1", name, r)
			}
		}
		if got[len(got)-1].retained {
			t.Errorf("%s: marker delivered with RETAIN 1", name)
		}
		c.Disconnect(100)
	}

	pub.pub(t, "ret/a", 1, true, "v1")
	if got := live.col.waitFor(t, "ret/a", "v1"); got[len(got)-1].retained {
		t.Errorf("live subscriber got %v, want RETAIN 0", got[len(got)-1])
	}
	check("set", "v1")

	pub.pub(t, "ret/a", 1, true, "v2")
	check("replaced", "v2")
	if n := tb.srv.Stats().Retained; n != 1 {
		t.Errorf("%d retained messages, want 1", n)
	}

	pub.pub(t, "ret/a", 1, true, "")
	live.col.waitFor(t, "ret/a", "") // forwarded as normal
	check("cleared")
	if n := tb.srv.Stats().Retained; n != 0 {
		t.Errorf("%d retained messages after clearing, want 0", n)
	}
	// A message published without RETAIN does not replace the retained one.
	pub.pub(t, "ret/a", 1, true, "v3")
	pub.pub(t, "ret/a", 1, false, "not retained")
	check("not replaced by plain publish", "v3")
}

// TestPahoRetainedWildcard checks that a wildcard subscription receives every
// matching retained message, with RETAIN 1, at the lower of the message's
// and the subscription's QoS.
func TestPahoRetainedWildcard(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectPaho(t, pahoOpts(tb, "retw-pub"))
	for _, tp := range []string{"w", "w/1", "w/2", "w/x/3", "other/1", "ww/1"} {
		pub.pub(t, tp, 1, true, "r:"+tp)
	}
	cases := []struct {
		filter string
		qos    byte
		want   []string
	}{
		{"w/#", 2, []string{"w", "w/1", "w/2", "w/x/3"}}, // "#" matches the parent too
		{"w/+", 0, []string{"w/1", "w/2"}},
		{"+/1", 1, []string{"other/1", "w/1", "ww/1"}},
		{"#", 1, []string{"other/1", "w", "w/1", "w/2", "w/x/3", "ww/1"}},
		{"w/x/3", 2, []string{"w/x/3"}},
		{"nothing/+", 1, nil},
	}
	for i, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			c := connectPaho(t, pahoOpts(tb, "retw-"+strconv.Itoa(i)))
			c.subSync(t, tc.filter, tc.qos)
			// The marker must match the filter and travel at the QoS
			// of the retained deliveries to be a barrier.
			mq := min(tc.qos, 1)
			mt := strings.NewReplacer("#", "zz", "+", "zz").Replace(tc.filter)
			marker(t, tb, mt, mq, "end")
			got := c.col.waitFor(t, mt, "end")
			var topics []string
			for _, r := range got[:len(got)-1] {
				topics = append(topics, r.topic)
				if !r.retained || r.qos != mq || r.payload != "r:"+r.topic {
					t.Errorf("retained delivery %v, want RETAIN 1 at QoS %d", r, mq)
				}
			}
			slices.Sort(topics)
			if !slices.Equal(topics, tc.want) {
				t.Errorf("retained topics %q, want %q", topics, tc.want)
			}
		})
	}
}

// TestPahoOverlappingSubscriptions subscribes one client to a/+ at QoS 1 and
// a/# at QoS 2: a QoS 2 message matching both arrives once, at QoS 2
// [MQTT-3.3.5-1]. (3.1.1 lets a server send extra copies; gatemq promises
// one.)
func TestPahoOverlappingSubscriptions(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "ovl-sub"))
	sub.sub(t, "a/+", 1)
	sub.sub(t, "a/#", 2)
	sub.sub(t, "a/b", 0)
	pub := connectPaho(t, pahoOpts(tb, "ovl-pub"))
	pub.pub(t, "a/b", 2, false, "q2")
	pub.pub(t, "a/b", 1, false, "q1")
	pub.pub(t, "a/b/c", 2, false, "deep") // only a/#
	marker(t, tb, "a/b", 2, "end")
	marker(t, tb, "a/b/c", 2, "end")
	got := sub.col.waitFor(t, "a/b", "end")
	want := []rcvd{{topic: "a/b", payload: "q2", qos: 2}, {topic: "a/b", payload: "q1", qos: 1}, {topic: "a/b", payload: "end", qos: 2}}
	if !slices.Equal(sub.col.on("a/b"), want) {
		t.Errorf("a/b deliveries %v, want %v", short(got), want)
	}
	sub.col.waitFor(t, "a/b/c", "end")
	want = []rcvd{{topic: "a/b/c", payload: "deep", qos: 2}, {topic: "a/b/c", payload: "end", qos: 2}}
	if got := sub.col.on("a/b/c"); !slices.Equal(got, want) {
		t.Errorf("a/b/c deliveries %v, want %v", short(got), want)
	}
}

// TestPahoDollarTopics checks [MQTT-4.7.2-1]: '#' and '+' at the first level
// do not match topics that start with '$', while a filter naming the '$'
// level does.
func TestPahoDollarTopics(t *testing.T) {
	tb := startBroker(t, Options{SysInterval: 50 * time.Millisecond})
	wild := connectPaho(t, pahoOpts(tb, "dollar-wild"))
	wild.sub(t, "#", 0)
	wild.sub(t, "+/x", 0)
	wild.sub(t, "+/broker/#", 0)
	dollar := connectPaho(t, pahoOpts(tb, "dollar-app"))
	dollar.sub(t, "$app/#", 0)
	pub := connectPaho(t, pahoOpts(tb, "dollar-pub"))
	pub.pub(t, "$app/x", 0, false, "hidden")
	pub.pub(t, "m/x", 0, false, "end")
	got := wild.col.waitFor(t, "m/x", "end")
	dollar.col.waitFor(t, "$app/x", "hidden")
	// $SYS is published every 50 ms: let a few rounds go by.
	sys := connectPaho(t, pahoOpts(tb, "dollar-sys"))
	sys.sub(t, "$SYS/broker/uptime", 0)
	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		if n := len(sys.col.all()); n < 3 {
			return fmt.Errorf("%d $SYS/broker/uptime messages, want 3", n)
		}
		return nil
	})
	pub.pub(t, "m/x", 0, false, "end2")
	got = wild.col.waitFor(t, "m/x", "end2")
	for _, r := range got {
		if strings.HasPrefix(r.topic, "$") {
			t.Errorf("wildcard subscription at the first level received %v", r)
		}
	}
}

// TestPahoSysTopics checks that with SysInterval set the broker publishes
// $SYS/broker/... (retained, so a new subscriber gets them at once, and
// again every interval).
func TestPahoSysTopics(t *testing.T) {
	tb := startBroker(t, Options{SysInterval: 50 * time.Millisecond, Version: "9.9-test"})
	c := connectPaho(t, pahoOpts(tb, "sys-sub"))
	c.sub(t, "$SYS/#", 0)
	c.col.waitFor(t, "$SYS/broker/version", "gatemq version 9.9-test")
	// Uptime and clients/connected arrive on subscribe (retained) and again
	// with each interval.
	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		if n := len(c.col.on("$SYS/broker/uptime")); n < 3 {
			return fmt.Errorf("%d uptime messages, want 3 or more", n)
		}
		return nil
	})
	for _, r := range c.col.on("$SYS/broker/uptime") {
		var secs int
		if _, err := fmt.Sscanf(r.payload, "%d seconds", &secs); err != nil || secs < 0 {
			t.Errorf("uptime payload %q, want \"<n> seconds\"", r.payload)
		}
	}
	conn := c.col.on("$SYS/broker/clients/connected")
	if len(conn) == 0 {
		t.Fatal("no $SYS/broker/clients/connected")
	}
	last := conn[len(conn)-1]
	if n, err := strconv.Atoi(last.payload); err != nil || n != 1 {
		t.Errorf("clients/connected = %q, want 1 (this client)", last.payload)
	}
	// A client may not publish into $SYS.
	c.pub(t, "$SYS/broker/version", 1, true, "forged")
	c.pub(t, "$SYS/broker/forged", 1, false, "forged")
	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		if n := len(c.col.on("$SYS/broker/version")); n < 2 {
			return fmt.Errorf("%d version messages, want 2 or more", n)
		}
		return nil
	})
	for _, r := range c.col.all() {
		if r.payload == "forged" {
			t.Errorf("client publish into $SYS was delivered: %v", r)
		}
	}
}

// TestPahoUnsubscribe checks that UNSUBACK answers UNSUBSCRIBE
// [MQTT-3.10.4-4], also for a filter that was not subscribed [MQTT-3.10.4-5],
// and that delivery stops [MQTT-3.10.4-2].
func TestPahoUnsubscribe(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "unsub-sub"))
	sub.sub(t, "u/a", 1)
	sub.sub(t, "u/b", 1)
	pub := connectPaho(t, pahoOpts(tb, "unsub-pub"))
	pub.pub(t, "u/a", 1, false, "before")
	sub.col.waitFor(t, "u/a", "before")

	wait(t, "unsubscribe u/a", sub.Unsubscribe("u/a"))
	pub.pub(t, "u/a", 1, false, "after")
	pub.pub(t, "u/b", 1, false, "end")
	sub.col.waitFor(t, "u/b", "end")
	if got := sub.col.on("u/a"); len(got) != 1 {
		t.Errorf("u/a deliveries %v, want only the one before UNSUBSCRIBE", short(got))
	}
	if n := tb.srv.Stats().Subscriptions; n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}

	r := dialRaw(t, tb)
	r.connect("unsub-raw", true, 0, nil, false)
	r.subscribe(1, "u/c", 1)
	r.send(mkPkt(tUNSUBSCRIBE<<4|2, u16(9), str("u/c"), str("never/subscribed")))
	r.expectAck(tUNSUBACK, 9)
	r.send(publishPkt("u/c", 1, false, false, 2, "self"))
	r.expectAck(tPUBACK, 2)
	r.send(publishPkt("u/b", 1, false, false, 3, "end2"))
	r.expectAck(tPUBACK, 3)
	sub.col.waitFor(t, "u/b", "end2")
	// Nothing but the PUBACKs above may have come back: check with a ping.
	r.send([]byte{tPINGREQ << 4, 0})
	r.expect(13, 0)
}
