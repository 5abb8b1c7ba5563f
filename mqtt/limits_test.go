package mqtt

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"gatemq/mqtt/packet"
)

// TestAuthGuardBackoff checks the failed-login back-off: free failures, then
// a wait that doubles up to the cap, forgiven after a success or after
// authForgetAfter; loopback is never backed off.
func TestAuthGuardBackoff(t *testing.T) {
	var g authGuard
	now := time.Unix(1000, 0)
	host := "192.0.2.7"
	for i := 1; i <= authFreeFailures; i++ {
		if w := g.failed(host, now); w != 0 {
			t.Fatalf("failure %d backs off %v, want free", i, w)
		}
	}
	want := authBackoffBase
	for i := 0; i < 10; i++ {
		w := g.failed(host, now)
		if w != min(want, authBackoffMax) {
			t.Fatalf("failure %d: wait %v, want %v", authFreeFailures+1+i, w, min(want, authBackoffMax))
		}
		if !g.blocked(host, now) || g.blocked(host, now.Add(w)) {
			t.Fatalf("blocked window wrong after a %v wait", w)
		}
		want *= 2
	}
	if g.blocked("198.51.100.1", now) {
		t.Fatal("another address is blocked")
	}
	g.succeeded(host)
	if g.blocked(host, now) {
		t.Fatal("still blocked after a successful login")
	}
	for range authFreeFailures + 1 {
		g.failed(host, now)
	}
	if w := g.failed(host, now.Add(authForgetAfter+time.Second)); w != 0 {
		t.Fatalf("old failures not forgotten: wait %v", w)
	}
	if h := hostOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5}); h != "" {
		t.Fatalf("loopback address %q would be backed off", h)
	}
	if g.idle() {
		t.Fatal("idle() with addresses tracked")
	}
	// The table stays bounded.
	for i := range authTrackedAddrs + 10 {
		g.failed(net.IPv4(10, 0, byte(i>>8), byte(i)).String(), now)
	}
	if len(g.addrs) > authTrackedAddrs {
		t.Fatalf("%d addresses tracked, cap %d", len(g.addrs), authTrackedAddrs)
	}
}

// TestHostOf checks that hostOf's shortcut for TCP addresses gives what
// its string path gives, and that the guard is idle only with no address
// tracked.
func TestHostOf(t *testing.T) {
	for _, a := range []*net.TCPAddr{
		{IP: net.IPv4(192, 0, 2, 7), Port: 1883},
		{IP: net.ParseIP("192.0.2.7").To4(), Port: 1},
		{IP: net.IPv4(127, 0, 0, 1), Port: 5},
		{IP: net.IPv4(127, 9, 9, 9), Port: 5},
		{IP: net.ParseIP("2001:db8::1"), Port: 1883},
		{IP: net.ParseIP("::1"), Port: 1883},
		{IP: net.ParseIP("::ffff:192.0.2.9"), Port: 1883},
		{IP: net.ParseIP("fe80::1"), Port: 1883, Zone: "eth0"},
		{IP: net.ParseIP("fe80::1"), Port: 1883},
		{Port: 1883},
		{IP: net.IPv4zero, Port: 1883},
	} {
		if got, want := hostOf(a), hostOfString(a); got != want {
			t.Errorf("hostOf(%v) = %q, want %q as from its string", a, got, want)
		}
	}
	if hostOf(&net.UnixAddr{Name: "/run/gatemq.sock", Net: "unix"}) != "" || hostOf(nil) != "" {
		t.Error("a Unix or nil address has a host")
	}
	var g authGuard
	if !g.idle() {
		t.Fatal("a new guard is not idle")
	}
	g.failed("192.0.2.7", time.Now())
	if g.idle() {
		t.Fatal("idle after a failure")
	}
	g.succeeded("192.0.2.7")
	if !g.idle() {
		t.Fatal("not idle once the only address is forgotten")
	}
}

// TestTopicLimits checks max_topic_length and max_topic_levels on both
// PUBLISH (the connection is closed) and SUBSCRIBE (0x80), with Paho.
func TestTopicLimits(t *testing.T) {
	tb := startBroker(t, Options{MaxTopicLength: 40, MaxTopicLevels: 4})
	sub := connectPaho(t, pahoOpts(tb, "lim-sub"))
	if q := grantedQoS(t, sub, "a/b/c/d", 1); q != 1 {
		t.Fatalf("4-level filter refused: %#x", q)
	}
	if q := grantedQoS(t, sub, "a/b/c/d/e", 1); q != 0x80 {
		t.Fatalf("5-level filter granted %#x, want 0x80", q)
	}
	if q := grantedQoS(t, sub, strings.Repeat("x", 41), 1); q != 0x80 {
		t.Fatalf("41-byte filter granted %#x, want 0x80", q)
	}
	r := dialRaw(t, tb)
	r.connect("lim-raw", true, 0, nil, false)
	r.send(publishPkt("a/b/c/d/e", 0, false, false, 0, "deep"))
	r.expectClosed()
	if st := tb.srv.Stats(); st.TopicsRefused != 1 || st.SubscriptionsRefused != 2 {
		t.Fatalf("counters: topics refused %d (want 1), subscriptions refused %d (want 2)", st.TopicsRefused, st.SubscriptionsRefused)
	}
}

// TestMaxSubscriptions checks that a session holds at most
// MaxSubscriptions subscriptions; re-subscribing to a filter it has is fine.
func TestMaxSubscriptions(t *testing.T) {
	tb := startBroker(t, Options{MaxSubscriptions: 3})
	c := connectPaho(t, pahoOpts(tb, "lim-subs"))
	for _, f := range []string{"s/1", "s/2", "s/3", "s/1"} {
		if q := grantedQoS(t, c, f, 0); q != 0 {
			t.Fatalf("subscription %s refused: %#x", f, q)
		}
	}
	if q := grantedQoS(t, c, "s/4", 0); q != 0x80 {
		t.Fatalf("4th subscription granted %#x, want 0x80", q)
	}
}

// TestSlowConsumerDisconnected checks that a subscriber that stops reading
// its socket while publishers wait for room in its queue is disconnected
// after QueueWait, and that the publisher keeps going.
func TestSlowConsumerDisconnected(t *testing.T) {
	tb := startBroker(t, Options{MaxQueued: 5, MaxInflight: 5, QueueWait: 300 * time.Millisecond})
	r := dialRaw(t, tb)
	r.connect("lim-slow", true, 0, nil, false)
	r.subscribe(1, "slow/t", 1) // and never acknowledges or reads again
	pub := connectPaho(t, pahoOpts(tb, "lim-pub"))
	payload := strings.Repeat("p", 1000)
	for range 40 {
		pub.pub(t, "slow/t", 1, false, payload)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if tb.srv.Stats().SlowConsumersDropped == 0 {
			return errSlowNotYet
		}
		return nil
	})
	r.expectClosed(3, 14) // PUBLISHes it never read may still be in the socket
}

// errSlowNotYet is the polling error of TestSlowConsumerDisconnected.
var errSlowNotYet = errString("no slow consumer disconnected yet")

// errString is a constant error.
type errString string

func (e errString) Error() string { return string(e) }

// grantedQoS subscribes with Paho and returns the SUBACK's code for filter,
// refusals included.
func grantedQoS(t *testing.T, c *pahoClient, filter string, qos byte) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("subscribe %s: no SUBACK", filter)
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		t.Fatalf("subscribe token is %T", tok)
	}
	return st.Result()[filter]
}

// TestConnectTimeoutCounted checks that sockets closed for sending no
// CONNECT in time are counted (for $SYS/broker/limits/connect_timeouts).
func TestConnectTimeoutCounted(t *testing.T) {
	tb := startBroker(t, Options{ConnectTimeout: 200 * time.Millisecond})
	dialRaw(t, tb).expectClosed()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if tb.srv.Stats().ConnectTimeouts != 1 {
			return errString("connect timeout not counted")
		}
		return nil
	})
}

// TestMaxQueuedTotal checks the broker-wide bound on QoS 1/2 deliveries
// held: the count is exact at every message, so the first message that
// finds 50 or more held is the first dropped for the offline sessions,
// while connected ones still get theirs; and the count comes back down to
// what the sessions hold when they are taken over and discarded.
func TestMaxQueuedTotal(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedTotal: 50})
	for _, id := range []string{"tot-a", "tot-b"} {
		o := pahoOpts(tb, id).SetCleanSession(false)
		c := connectPaho(t, o)
		c.sub(t, "tot/t", 1)
		c.Disconnect(100)
	}
	waitOffline(t, tb, 2) // until then one may still take its messages
	// The connected subscriber takes QoS 0, so that it holds nothing: its
	// unacknowledged QoS 1 deliveries would count too, and come and go.
	live := connectPaho(t, pahoOpts(tb, "tot-live"))
	live.sub(t, "tot/t", 0)
	held := func() int64 { st := tb.srv.Stats(); return int64(st.Queued + st.Inflight) }
	sent := 0
	for !tb.srv.overQueuedTotal() {
		if sent == 25 {
			t.Fatalf("after 25 messages (50 held for the offline sessions) the bound is not reached; count %d", tb.srv.queuedTotal.Load())
		}
		if err := tb.srv.Publish("tot/t", []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if sent != 25 || tb.srv.queuedTotal.Load() != 50 {
		t.Fatalf("over the bound after %d messages with %d held, want 25 and 50", sent, tb.srv.queuedTotal.Load())
	}
	dropped := tb.srv.Stats().PublishDropped
	if dropped != 0 {
		t.Fatalf("%d dropped before the bound was reached", dropped)
	}
	for range 10 {
		if err := tb.srv.Publish("tot/t", []byte("y"), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := tb.srv.Stats().PublishDropped - dropped; got != 20 {
		t.Errorf("%d deliveries dropped past the bound, want 20 (10 messages x 2 offline sessions)", got)
	}
	live.col.waitN(t, sent+10) // the connected subscriber got them all
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n, want := held(), int64(2*sent); n != want || tb.srv.queuedTotal.Load() != want {
			return fmt.Errorf("held %d, count %d; want %d, the offline sessions' queues", n, tb.srv.queuedTotal.Load(), want)
		}
		return nil
	})
	// A clean start discards tot-a's session and its queue: the count
	// follows at once, and new messages are held again.
	o := pahoOpts(tb, "tot-a").SetCleanSession(true)
	c := connectPaho(t, o)
	c.Disconnect(100)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n, want := tb.srv.queuedTotal.Load(), int64(sent); n != want {
			return fmt.Errorf("count %d after tot-a's session ended, want %d", n, want)
		}
		return nil
	})
	if tb.srv.overQueuedTotal() {
		t.Fatal("still over the bound once half the held deliveries are gone")
	}
}

// bigConnectV5 is a 5.0 CONNECT of about size bytes: empty user properties.
func bigConnectV5(id string, size int) []byte {
	return connectV5Bytes(id, bytes.Repeat([]byte{0x26, 0, 0, 0, 0}, size/5), nil)
}

// TestConnectSizeLimit checks the limit on packets before CONNECT is
// accepted: a CONNECT over MaxConnectSize is refused after its fixed
// header (5.0: CONNACK 0x95; 3.1.1: closed), one under it is accepted, and
// once connected the client may send packets up to MaxPacketSize.
func TestConnectSizeLimit(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.send(bigConnectV5("big5", DefaultMaxConnectSize+10))
	if p := r.expect(tCONNACK, 0); len(p.body) < 2 || p.body[1] != byte(packet.PacketTooLarge) {
		t.Fatalf("CONNACK % x, want reason 0x95", p.body)
	}
	r.expectClosed()

	r = dialRaw(t, tb)
	r.send(connectPkt("big3", true, 0, &rawWill{topic: "w", payload: string(make([]byte, DefaultMaxConnectSize))}))
	r.expectClosed()
	if n := tb.srv.Stats().ConnectsTooLarge; n != 2 {
		t.Errorf("ConnectsTooLarge = %d, want 2", n)
	}

	r = dialRaw(t, tb)
	r.send(bigConnectV5("fits", DefaultMaxConnectSize-100))
	r.expect(tCONNACK, 0)
	r.send(publishPkt("t", 1, false, false, 1, string(make([]byte, 4*DefaultMaxConnectSize))))
	if p := r.expect(tPUBACK, 0); p.id() != 1 {
		t.Fatalf("PUBACK % x, want one for packet id 1", p.body)
	}
}

// TestConnectSizeLimitFollowsMaxPacketSize checks that a MaxPacketSize
// under 64 KiB bounds CONNECT too.
func TestConnectSizeLimitFollowsMaxPacketSize(t *testing.T) {
	tb := startBroker(t, Options{MaxPacketSize: 1000})
	r := dialRaw(t, tb)
	r.send(bigConnectV5("big", 2000))
	if p := r.expect(tCONNACK, 0); len(p.body) < 2 || p.body[1] != byte(packet.PacketTooLarge) {
		t.Fatalf("CONNACK % x, want reason 0x95", p.body)
	}
	r = dialRaw(t, tb)
	r.send(bigConnectV5("small", 900))
	r.expect(tCONNACK, 0)
}
