package mqtt

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 subscription options (§3.8.3.1), Subscription Identifiers
// (§3.8.2.1.2, §3.3.4) and shared subscriptions (§4.8.2).

// subOne is a SUBSCRIBE of one filter with options o.
func subOne(o paho.SubscribeOptions) *paho.Subscribe {
	return &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{o}}
}

// barrier publishes a QoS 1 marker on topic from c itself and waits for it
// to come back through c's own subscription. The broker reads c's packets
// in order, so everything its earlier SUBSCRIBEs queued for c (retained
// messages) arrives before the marker. It returns what c got up to then.
func (c *v5Client) barrier(t testing.TB, topic, payload string) []v5Msg {
	t.Helper()
	c.pub(t, topic, 1, payload)
	return c.col.waitFor(t, topic, payload)
}

// TestV5NoLocal checks [MQTT-3.8.3-3]: with No Local a client does not get
// its own messages on that subscription, but gets other clients' messages,
// and its own through an overlapping subscription without No Local.
func TestV5NoLocal(t *testing.T) {
	tb := startBroker(t, Options{})
	a := connectV5(t, tb, v5Connect("nl-a", nil))
	a.subscribe(t, subOne(paho.SubscribeOptions{Topic: "nl/t", QoS: 1, NoLocal: true}), 1)
	b := connectV5(t, tb, v5Connect("nl-b", nil))

	a.pub(t, "nl/t", 1, "own")
	b.pub(t, "nl/t", 1, "other")
	if got := payloadsOf(a.col.waitFor(t, "nl/t", "other")); !slices.Equal(got, []string{"other"}) {
		t.Errorf("No Local subscriber got %q, want only the other client's message", got)
	}

	a.sub(t, "nl/#", 1)
	a.pub(t, "nl/t", 1, "own again")
	a.col.waitFor(t, "nl/t", "own again")
	if got := a.col.find("own"); len(got) != 0 {
		t.Errorf("the first own message arrived late: %v", got)
	}
}

// TestV5RetainAsPublished checks [MQTT-3.3.1-12] and [MQTT-3.3.1-13]: a live
// retained message reaches a subscription with Retain As Published 0 with
// RETAIN 0, and one with Retain As Published 1 with RETAIN 1; retained
// messages sent because of a new subscription have RETAIN 1 either way
// (§3.3.1.3).
func TestV5RetainAsPublished(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectV5(t, tb, v5Connect("rap-pub", nil))
	pub.publish(t, &paho.Publish{Topic: "rap/t", QoS: 1, Retain: true, Payload: []byte("old")})

	plain := connectV5(t, tb, v5Connect("rap-0", nil))
	plain.subscribe(t, subOne(paho.SubscribeOptions{Topic: "rap/t", QoS: 1}), 1)
	asPub := connectV5(t, tb, v5Connect("rap-1", nil))
	asPub.subscribe(t, subOne(paho.SubscribeOptions{Topic: "rap/t", QoS: 1, RetainAsPublished: true}), 1)
	// Done with the retained message "old" before the next one comes
	// (see TestV5RetainedNotDuplicatedOnSubscribe for why).
	plain.sync(t)
	asPub.sync(t)

	pub.publish(t, &paho.Publish{Topic: "rap/t", QoS: 1, Retain: true, Payload: []byte("live retained")})
	pub.publish(t, &paho.Publish{Topic: "rap/t", QoS: 1, Payload: []byte("live plain")})
	for _, c := range []struct {
		cl   *v5Client
		rap  bool
		want []bool // RETAIN of old, live retained, live plain
	}{{plain, false, []bool{true, false, false}}, {asPub, true, []bool{true, true, false}}} {
		got := c.cl.col.waitFor(t, "rap/t", "live plain")
		if g := payloadsOf(got); !slices.Equal(g, []string{"old", "live retained", "live plain"}) {
			t.Errorf("Retain As Published %v: got %q", c.rap, g)
			continue
		}
		for i, m := range got {
			if m.retain != c.want[i] {
				t.Errorf("Retain As Published %v: %v arrived with RETAIN %v, want %v", c.rap, m, m.retain, c.want[i])
			}
		}
	}
}

// TestV5RetainHandling checks §3.8.3.1 Retain Handling: 0 sends the
// retained messages at every SUBSCRIBE [MQTT-3.3.1-9], 1 only when the
// subscription did not exist before [MQTT-3.3.1-10], 2 never
// [MQTT-3.3.1-11].
func TestV5RetainHandling(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectV5(t, tb, v5Connect("rh-pub", nil))
	pub.publish(t, &paho.Publish{Topic: "rh/t", QoS: 1, Retain: true, Payload: []byte("kept")})

	for _, tc := range []struct {
		rh   byte
		want []int // retained deliveries after the first and the second SUBSCRIBE
	}{{0, []int{1, 2}}, {1, []int{1, 1}}, {2, []int{0, 0}}} {
		c := connectV5(t, tb, v5Connect(fmt.Sprint("rh-", tc.rh), nil))
		for i := range 2 {
			c.subscribe(t, subOne(paho.SubscribeOptions{Topic: "rh/t", QoS: 1, RetainHandling: tc.rh}), 1)
			c.barrier(t, "rh/t", fmt.Sprint("barrier ", i))
			kept := c.col.find("kept")
			if len(kept) != tc.want[i] {
				t.Errorf("Retain Handling %d: %d retained deliveries after SUBSCRIBE #%d, want %d", tc.rh, len(kept), i+1, tc.want[i])
			}
			for _, m := range kept {
				if !m.retain {
					t.Errorf("Retain Handling %d: retained message sent on subscribe with RETAIN 0", tc.rh)
				}
			}
		}
	}
}

// TestV5SubscriptionIdentifiers checks §3.8.2.1.2 and [MQTT-3.3.4-3]: a
// PUBLISH carries the Subscription Identifier of the subscription it
// matched (a multi-byte one too), none for a subscription without one, the
// new one after the subscription is replaced, and retained messages sent
// on subscribe carry it as well.
func TestV5SubscriptionIdentifiers(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectV5(t, tb, v5Connect("sid-pub", nil))
	pub.publish(t, &paho.Publish{Topic: "sid/r", QoS: 1, Retain: true, Payload: []byte("retained")})

	c := connectV5(t, tb, v5Connect("sid-sub", nil))
	withID := func(filter string, id int) *paho.Subscribe {
		s := subOne(paho.SubscribeOptions{Topic: filter, QoS: 1})
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: intp(id)}
		return s
	}
	c.subscribe(t, withID("sid/a/+", 7), 1)
	c.subscribe(t, withID("sid/b/#", 300000), 1)
	c.sub(t, "sid/c", 1)
	c.subscribe(t, withID("sid/r", 9), 1)

	pub.pub(t, "sid/a/x", 1, "a")
	pub.pub(t, "sid/b/y/z", 1, "b")
	pub.pub(t, "sid/c", 1, "c")
	c.subscribe(t, withID("sid/a/+", 8), 1)
	pub.pub(t, "sid/a/x", 1, "a again")

	got := c.col.waitFor(t, "sid/a/x", "a again")
	want := map[string]int{"retained": 9, "a": 7, "b": 300000, "c": 0, "a again": 8}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %d messages", got, len(want))
	}
	for _, m := range got {
		sid := 0
		if p := m.props.SubscriptionIdentifier; p != nil {
			sid = *p
		}
		if sid != want[m.payload] {
			t.Errorf("%v: Subscription Identifier %d, want %d (0: none)", m, sid, want[m.payload])
		}
	}
}

// TestV5SubscriptionIdentifiersOverlap checks [MQTT-3.3.4-3..5]: a message
// matching two subscriptions of one client, each with its own identifier,
// reaches the client either as one PUBLISH carrying both identifiers or as
// one PUBLISH per subscription, each with its own.
func TestV5SubscriptionIdentifiersOverlap(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("sido", nil))
	for i, f := range []string{"sido/+", "sido/#"} {
		r.sendV5(&packets.Subscribe{PacketID: uint16(i + 1), Properties: &packets.Properties{SubscriptionIdentifier: intp(i + 1)},
			Subscriptions: []packets.SubOptions{{Topic: f}}})
		r.expect(tSUBACK, 0)
	}
	r.subscribeV5(3, "sido-end", 0)
	marker(t, tb, "sido/x", 0, "hit")
	marker(t, tb, "sido-end", 0, "end")

	var ids []int
	copies := 0
	for {
		p := decodePublishV5(t, r.read())
		if p.topic == "sido-end" {
			break
		}
		copies++
		ids = append(ids, p.subIDs...)
		if len(p.subIDs) == 0 {
			t.Errorf("copy %d of the message carries no Subscription Identifier", copies)
		}
	}
	sort.Ints(ids)
	if !slices.Equal(ids, []int{1, 2}) {
		t.Errorf("the message matching subscriptions 1 and 2 arrived as %d PUBLISH(es) with Subscription Identifiers %v, want 1 and 2 in total", copies, ids)
	}
}

// TestV5SharedSubscription checks §4.8.2: the members of a shared
// subscription group $share/g/... share the messages (each gets some, none
// gets one twice, together they get each exactly once), while a plain
// subscription and another group each get every message.
func TestV5SharedSubscription(t *testing.T) {
	tb := startBroker(t, Options{})
	var members []*v5Client
	for _, id := range []string{"sh-m1", "sh-m2"} {
		c := connectV5(t, tb, v5Connect(id, nil))
		c.sub(t, "$share/g/sh/+", 1)
		members = append(members, c)
	}
	other := connectV5(t, tb, v5Connect("sh-g2", nil))
	other.sub(t, "$share/g2/sh/+", 1)
	plain := connectV5(t, tb, v5Connect("sh-plain", nil))
	plain.sub(t, "sh/+", 1)

	pub := connectV5(t, tb, v5Connect("sh-pub", nil))
	const n = 20
	for i := range n {
		pub.pub(t, "sh/t", 1, fmt.Sprint(i))
	}
	plain.col.waitN(t, n)
	other.col.waitN(t, n)
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if got := len(members[0].col.all()) + len(members[1].col.all()); got < n {
			return fmt.Errorf("group members got %d of %d messages", got, n)
		}
		return nil
	})
	// Let late duplicates show up: each receiver gets a QoS 1 marker on
	// its own topic after everything else.
	for i, c := range append(members, other, plain) {
		c.barrier2(t, tb, fmt.Sprint("sh-done/", i))
	}

	seen := map[string]string{}
	for i, c := range members {
		got := c.col.all()
		var msgs []v5Msg
		for _, m := range got {
			if m.topic == "sh/t" {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) == 0 {
			t.Errorf("member %d got none of the %d messages", i+1, n)
		}
		for _, m := range msgs {
			if prev, dup := seen[m.payload]; dup {
				t.Errorf("message %s delivered twice in the group (%s and member %d)", m.payload, prev, i+1)
			}
			seen[m.payload] = fmt.Sprint("member ", i+1)
		}
	}
	if len(seen) != n {
		t.Errorf("group got %d distinct messages, want %d", len(seen), n)
	}
	for _, c := range []*v5Client{other, plain} {
		if got := len(c.col.all()); got != n+1 {
			t.Errorf("%s got %d messages, want %d and its marker", c.ClientID(), got, n)
		}
	}
}

// barrier2 subscribes c to topic, publishes a QoS 1 marker there from the
// broker and waits for it.
func (c *v5Client) barrier2(t testing.TB, tb *testBroker, topic string) {
	t.Helper()
	c.sub(t, topic, 1)
	marker(t, tb, topic, 1, "done")
	c.col.waitFor(t, topic, "done")
}

// TestV5SharedNoRetained checks §4.8.2 / §3.3.1.3: retained messages are not
// sent to a shared subscription when it is made, whatever its Retain
// Handling; and a SUBSCRIBE with No Local on a shared subscription is a
// protocol error [MQTT-3.8.3-4].
func TestV5SharedNoRetained(t *testing.T) {
	tb := startBroker(t, Options{})
	pub := connectV5(t, tb, v5Connect("shr-pub", nil))
	pub.publish(t, &paho.Publish{Topic: "shr/t", QoS: 1, Retain: true, Payload: []byte("retained")})

	c := connectV5(t, tb, v5Connect("shr-m", nil))
	c.subscribe(t, subOne(paho.SubscribeOptions{Topic: "$share/g/shr/t", QoS: 1, RetainHandling: 0}), 1)
	if got := payloadsOf(c.barrier(t, "shr/t", "barrier")); !slices.Equal(got, []string{"barrier"}) {
		t.Errorf("shared subscriber got %q, want no retained message", got)
	}

	r := dialRaw(t, tb)
	r.connectV5(rawConnectV5("shr-nl", nil))
	r.sendV5(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.SubOptions{{Topic: "$share/g/shr/t", QoS: 1, NoLocal: true}}})
	r.expectDisconnectV5(0x82)
}

// sync makes a QoS 1 round trip on c's own connection (a PUBLISH to a
// topic nobody subscribes to). The broker handles a connection's packets
// in order, so once the PUBACK is back it has finished every earlier
// SUBSCRIBE, including queueing the retained messages it sends.
func (c *v5Client) sync(t testing.TB) {
	t.Helper()
	c.pub(t, "sync/"+c.ClientID(), 1, "sync")
}

// TestV5RetainedNotDuplicatedOnSubscribe checks that a retained message
// published while a SUBSCRIBE is being handled reaches the new
// subscription once: either as a live message or as the retained message
// sent because of the subscription, never both. At QoS 2 a second copy
// breaks exactly-once delivery [MQTT-4.3.3] (§4.3.3: the application
// message is delivered exactly once). A publisher retains a new message on
// the topic continuously while clients subscribe.
func TestV5RetainedNotDuplicatedOnSubscribe(t *testing.T) {
	tb := startBroker(t, Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := tb.srv.Publish("race/t", []byte(fmt.Sprint(i)), 2, true); err != nil {
				t.Errorf("broker publish: %v", err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for i := range 40 {
		c := connectV5(t, tb, v5Connect(fmt.Sprint("race-", i), nil))
		c.sub(t, "race/t", 2)
		c.col.waitN(t, 3)
		c.bye(t, &paho.Disconnect{})
		seen := map[string]v5Msg{}
		for _, m := range c.col.all() {
			if prev, dup := seen[m.payload]; dup {
				t.Fatalf("subscriber %d got retained message %q twice at QoS 2: %v then %v", i, m.payload, prev, m)
			}
			seen[m.payload] = m
		}
	}
}

// TestV5SharedRedeliveredToOtherMember checks §4.8.2 for QoS 1 (issue 4:
// "QoS 1/2 messages of a member that disconnects redelivered to another
// member"): when a member's session ends with messages it has not
// acknowledged (in flight or still queued for it), the broker sends them to
// another member of the group ("the Server SHOULD send the Application
// Message to another Client that is subscribed to the same Shared
// Subscription"), so the group gets every message.
func TestV5SharedRedeliveredToOtherMember(t *testing.T) {
	tb := startBroker(t, Options{})
	a := dialRaw(t, tb)
	a.connectV5(rawConnectV5("shx-a", &packets.Properties{ReceiveMaximum: u16p(1)}))
	a.subscribeV5(1, "$share/g/shx/t", 1)
	b := connectV5(t, tb, v5Connect("shx-b", nil))
	b.sub(t, "$share/g/shx/t", 1)

	pub := connectV5(t, tb, v5Connect("shx-pub", nil))
	const n = 10
	for i := range n {
		pub.pub(t, "shx/t", 1, fmt.Sprint(i))
	}
	// a takes one message, never acknowledges it, and goes away; its
	// session (expiry 0) ends with it.
	first := decodePublishV5(t, a.read())
	a.c.Close()
	waitSessions(t, tb, 2)

	checkFor(t, waitTime, 10*time.Millisecond, func() error {
		got := map[string]bool{}
		for _, m := range b.col.all() {
			got[m.payload] = true
		}
		var missing []string
		for i := range n {
			if !got[fmt.Sprint(i)] {
				missing = append(missing, fmt.Sprint(i))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("the remaining member never got %q (the departed member had taken %q without acknowledging it)", missing, first.payload)
		}
		return nil
	})
}
