package mqtt

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 Session Expiry Interval (§3.1.2.11.2, §4.1) and Message Expiry
// Interval (§3.3.2.3.3).

// resumeV5 connects id with Clean Start 0 and the given session expiry.
func resumeV5(t testing.TB, tb *testBroker, id string, expiry uint32) *v5Client {
	t.Helper()
	cp := v5Connect(id, &paho.ConnectProperties{SessionExpiryInterval: u32p(expiry)})
	cp.CleanStart = false
	return connectV5(t, tb, cp)
}

// TestV5SessionExpiryKeepsSession checks [MQTT-3.1.2-23] and [MQTT-4.1.0-1]:
// with a Session Expiry Interval > 0 the session outlives its connection,
// QoS 1 messages published meanwhile are queued, and a Clean Start 0
// reconnect gets Session Present 1 [MQTT-3.2.2-3] and each queued message
// once, in order.
func TestV5SessionExpiryKeepsSession(t *testing.T) {
	tb := startBroker(t, Options{})
	s := connectV5(t, tb, v5Connect("se-keep", &paho.ConnectProperties{SessionExpiryInterval: u32p(60)}))
	s.sub(t, "se/keep", 1)
	s.bye(t, &paho.Disconnect{})
	waitOffline(t, tb, 1)

	pub := connectV5(t, tb, v5Connect("se-keep-pub", nil))
	want := []string{"q1", "q2", "q3"}
	for _, p := range want {
		pub.pub(t, "se/keep", 1, p)
	}
	s = resumeV5(t, tb, "se-keep", 60)
	if !s.present() {
		t.Fatal("reconnect with Clean Start 0 within the expiry: session present 0")
	}
	s.col.waitN(t, len(want))
	marker(t, tb, "se/keep", 1, "end")
	got := s.col.waitFor(t, "se/keep", "end")
	if g := payloadsOf(got); !slices.Equal(g, append(want, "end")) {
		t.Errorf("resumed session got %q, want %q then the marker", g, want)
	}
	for _, m := range got {
		if m.qos != 1 {
			t.Errorf("queued message %v not at QoS 1", m)
		}
	}
}

// TestV5SessionExpiryZeroEndsAtClose checks §3.1.2.11.2: an absent Session
// Expiry Interval (0) ends the session with the connection, even with
// Clean Start 0; a reconnect gets Session Present 0 [MQTT-3.2.2-3] and
// nothing of the old session (no subscription, no queued messages).
func TestV5SessionExpiryZeroEndsAtClose(t *testing.T) {
	tb := startBroker(t, Options{})
	cp := v5Connect("se-zero", nil)
	cp.CleanStart = false
	s := connectV5(t, tb, cp)
	s.sub(t, "se/zero", 1)
	s.drop(t) // even an abrupt close ends it
	waitSessions(t, tb, 0)

	pub := connectV5(t, tb, v5Connect("se-zero-pub", nil))
	pub.pub(t, "se/zero", 1, "lost")
	s = resumeV5(t, tb, "se-zero", 0)
	if s.present() {
		t.Fatal("session present 1 after a session with expiry 0 was closed")
	}
	s.sub(t, "se/zero", 1)
	marker(t, tb, "se/zero", 1, "end")
	if got := s.col.waitFor(t, "se/zero", "end"); len(got) != 1 {
		t.Errorf("new session got %v, want only the marker", got)
	}
}

// TestV5SessionExpiresOffline checks [MQTT-4.1.0-2]: an offline session is
// discarded once its Session Expiry Interval (2 s) has passed, not before;
// its queued messages go with it, and a Clean Start 0 reconnect gets
// Session Present 0.
func TestV5SessionExpiresOffline(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, Options{})
	s := connectV5(t, tb, v5Connect("se-short", &paho.ConnectProperties{SessionExpiryInterval: u32p(2)}))
	s.sub(t, "se/short", 1)
	s.bye(t, &paho.Disconnect{})
	closed := time.Now()
	waitOffline(t, tb, 1)
	marker(t, tb, "se/short", 1, "queued")
	if st := tb.srv.Stats(); st.Queued+st.Inflight != 1 {
		t.Fatalf("offline session holds %d queued + %d inflight messages, want 1", st.Queued, st.Inflight)
	}

	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n := tb.srv.Stats().ClientsTotal; n != 0 {
			return fmt.Errorf("%d sessions, want the expired one gone", n)
		}
		return nil
	})
	if d := time.Since(closed); d < 2*time.Second-50*time.Millisecond {
		t.Errorf("session with expiry 2 s ended %v after its connection closed", d)
	}
	if st := tb.srv.Stats(); st.Queued+st.Inflight != 0 {
		t.Errorf("expired session left %d queued + %d inflight messages", st.Queued, st.Inflight)
	}

	s = resumeV5(t, tb, "se-short", 2)
	if s.present() {
		t.Fatal("session present 1 after the session expired")
	}
	s.sub(t, "se/short", 1)
	marker(t, tb, "se/short", 1, "end")
	if got := s.col.waitFor(t, "se/short", "end"); len(got) != 1 {
		t.Errorf("after expiry got %v, want only the marker (queued message gone)", got)
	}
}

// TestV5DisconnectChangesExpiry checks §3.14.2.2.2: the Session Expiry
// Interval in DISCONNECT replaces the one from CONNECT: 60 → 0 ends the
// session at once; 1 → 60 keeps it beyond 1 s.
func TestV5DisconnectChangesExpiry(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, Options{})

	s := connectV5(t, tb, v5Connect("se-to0", &paho.ConnectProperties{SessionExpiryInterval: u32p(60)}))
	s.sub(t, "se/to0", 1)
	s.bye(t, &paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: u32p(0)}})
	waitSessions(t, tb, 0)
	if s = resumeV5(t, tb, "se-to0", 0); s.present() {
		t.Error("DISCONNECT set expiry 0 but the session was still present")
	}
	s.bye(t, &paho.Disconnect{})
	waitSessions(t, tb, 0)

	s = connectV5(t, tb, v5Connect("se-to60", &paho.ConnectProperties{SessionExpiryInterval: u32p(1)}))
	s.sub(t, "se/to60", 1)
	s.bye(t, &paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: u32p(60)}})
	waitOffline(t, tb, 1)
	marker(t, tb, "se/to60", 1, "kept")
	// Nothing to poll for: the session must still be there after the 1 s
	// the CONNECT asked for.
	time.Sleep(1500 * time.Millisecond)
	s = resumeV5(t, tb, "se-to60", 60)
	if !s.present() {
		t.Fatal("DISCONNECT raised the expiry to 60 s but the session ended after 1 s")
	}
	s.col.waitFor(t, "se/to60", "kept")
}

// TestV5DisconnectExpiryAfterZeroIsProtocolError checks [MQTT-3.14.2-2]: a
// DISCONNECT with a non-zero Session Expiry Interval after a CONNECT with 0
// is not a valid DISCONNECT: the broker answers DISCONNECT 0x82 and closes,
// the will is published (the connection was not closed normally,
// §3.1.2.5), and the session still ends.
func TestV5DisconnectExpiryAfterZeroIsProtocolError(t *testing.T) {
	tb := startBroker(t, Options{})
	watcher := connectV5(t, tb, v5Connect("se-bad-watch", nil))
	watcher.sub(t, "se/bad/will", 1)

	r := dialRaw(t, tb)
	c := rawConnectV5("se-bad", nil)
	c.WillFlag, c.WillTopic, c.WillMessage, c.WillQOS = true, "se/bad/will", []byte("gone"), 1
	r.connectV5(c)
	r.sendV5(&packets.Disconnect{ReasonCode: 0, Properties: &packets.Properties{SessionExpiryInterval: u32p(30)}})
	r.expectDisconnectV5(0x82)
	watcher.col.waitFor(t, "se/bad/will", "gone")
	waitSessions(t, tb, 1) // only the watcher's
	s := resumeV5(t, tb, "se-bad", 0)
	if s.present() {
		t.Error("session present after the invalid DISCONNECT")
	}
}

// TestV5MessageExpiry checks §3.3.2.3.3: a message queued for an offline
// session whose Message Expiry Interval passed is not delivered
// [MQTT-3.3.2-5], while one without expiry is; a delivered message carries
// the received interval minus its time in the broker [MQTT-3.3.2-6]; a
// message without the property is forwarded without it.
func TestV5MessageExpiry(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, Options{})
	s := connectV5(t, tb, v5Connect("me-sub", &paho.ConnectProperties{SessionExpiryInterval: u32p(60)}))
	s.sub(t, "me/#", 1)
	pub := connectV5(t, tb, v5Connect("me-pub", nil))

	// Online: forwarded at once with (nearly) all of its interval.
	pub.publish(t, &paho.Publish{Topic: "me/live", QoS: 1, Payload: []byte("live"), Properties: &paho.PublishProperties{MessageExpiry: u32p(10)}})
	pub.publish(t, &paho.Publish{Topic: "me/live", QoS: 1, Payload: []byte("forever")})
	got := s.col.waitFor(t, "me/live", "forever")
	if e := got[0].props.MessageExpiry; got[0].payload != "live" || e == nil || *e > 10 || *e < 9 {
		t.Errorf("online delivery %v: want payload live with Message Expiry 9..10", got[0])
	}
	if e := got[1].props.MessageExpiry; e != nil {
		t.Errorf("message published without expiry delivered with Message Expiry %d", *e)
	}

	// paho.golang sends its PUBACK after the handler returns: wait for
	// both, or the broker redelivers "forever" first on resume.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := tb.srv.Stats().Inflight; n != 0 {
			return fmt.Errorf("%d deliveries still unacknowledged", n)
		}
		return nil
	})
	s.bye(t, &paho.Disconnect{})
	waitOffline(t, tb, 1)
	pub.publish(t, &paho.Publish{Topic: "me/q", QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: u32p(1)}})
	pub.publish(t, &paho.Publish{Topic: "me/q", QoS: 1, Payload: []byte("ten"), Properties: &paho.PublishProperties{MessageExpiry: u32p(10)}})
	pub.publish(t, &paho.Publish{Topic: "me/q", QoS: 1, Payload: []byte("none")})
	// Nothing to poll for: the 1 s expiry must pass while queued.
	time.Sleep(1500 * time.Millisecond)
	s = resumeV5(t, tb, "me-sub", 60)
	if !s.present() {
		t.Fatal("session lost")
	}
	got = s.col.waitFor(t, "me/q", "none")
	// Delivery is in order: an expired "short" would have come first.
	if g := payloadsOf(got); !slices.Equal(g, []string{"ten", "none"}) {
		t.Fatalf("queued deliveries %q, want [ten none] (short expired after 1 s)", g)
	}
	if e := got[0].props.MessageExpiry; e == nil || *e > 9 || *e < 7 {
		t.Errorf("message with expiry 10 queued 1.5 s arrived with Message Expiry %s, want 8 or 9 (at most 10 - 1.5)", ptrStr(e))
	}
	if e := got[1].props.MessageExpiry; e != nil {
		t.Errorf("message without expiry arrived with Message Expiry %d", *e)
	}
}

// TestV5WillDelay checks §3.1.3.2.2 and [MQTT-3.1.3-9]: the will of a
// connection that ends abnormally is published after its Will Delay
// Interval, or when the session ends if that is sooner; not at all if the
// client reconnects within the delay; and at once on DISCONNECT with
// reason 0x04 (with no delay).
func TestV5WillDelay(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, Options{})
	watcher := connectV5(t, tb, v5Connect("wd-watch", nil))
	watcher.sub(t, "wd/#", 1)

	withWill := func(id string, expiry, delay uint32, topic string) *paho.Connect {
		cp := v5Connect(id, &paho.ConnectProperties{SessionExpiryInterval: u32p(expiry)})
		cp.WillMessage = &paho.WillMessage{Topic: topic, Payload: []byte(id), QoS: 1}
		cp.WillProperties = &paho.WillProperties{WillDelayInterval: u32p(delay)}
		return cp
	}
	// willAfter drops a client with a will and returns how long the will
	// took to arrive.
	willAfter := func(cp *paho.Connect) time.Duration {
		t.Helper()
		c := connectV5(t, tb, cp)
		start := time.Now()
		c.drop(t)
		watcher.col.waitFor(t, cp.WillMessage.Topic, cp.ClientID)
		return time.Since(start)
	}

	t.Run("after delay", func(t *testing.T) {
		if d := willAfter(withWill("wd-1", 60, 1, "wd/delay")); d < 900*time.Millisecond {
			t.Errorf("will with delay 1 s published after %v", d)
		}
	})
	t.Run("session ends first", func(t *testing.T) {
		if d := willAfter(withWill("wd-2", 1, 30, "wd/expiry")); d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("will with delay 30 s of a session expiring after 1 s published after %v, want about 1 s", d)
		}
	})
	t.Run("session ends at close", func(t *testing.T) {
		if d := willAfter(withWill("wd-3", 0, 30, "wd/zero")); d > 900*time.Millisecond {
			t.Errorf("will with delay 30 s of a session ending at close published after %v, want at once", d)
		}
	})
	t.Run("reconnect within delay", func(t *testing.T) {
		offline := tb.srv.Stats().ClientsDisconnected
		cp := withWill("wd-4", 60, 1, "wd/back")
		c := connectV5(t, tb, cp)
		c.drop(t)
		waitOffline(t, tb, offline+1)
		back := resumeV5(t, tb, "wd-4", 60)
		if !back.present() {
			t.Fatal("session not resumed")
		}
		// Nothing to poll for: the will must not appear after its delay.
		time.Sleep(1500 * time.Millisecond)
		marker(t, tb, "wd/back", 1, "marker")
		watcher.col.waitFor(t, "wd/back", "marker")
		if got := watcher.col.find("wd-4"); len(got) > 0 {
			t.Errorf("will published although the client reconnected within the delay: %v", got)
		}
		back.bye(t, &paho.Disconnect{})
	})
	t.Run("disconnect with will", func(t *testing.T) {
		cp := withWill("wd-5", 0, 0, "wd/0x04")
		cp.WillProperties = nil
		c := connectV5(t, tb, cp)
		c.bye(t, &paho.Disconnect{ReasonCode: 0x04})
		watcher.col.waitFor(t, "wd/0x04", "wd-5")
	})
	t.Run("normal disconnect", func(t *testing.T) {
		before := tb.srv.Stats().ClientsTotal
		cp := withWill("wd-6", 0, 0, "wd/normal")
		c := connectV5(t, tb, cp)
		c.bye(t, &paho.Disconnect{ReasonCode: 0})
		waitSessions(t, tb, before)
		marker(t, tb, "wd/normal", 1, "marker")
		watcher.col.waitFor(t, "wd/normal", "marker")
		if got := watcher.col.find("wd-6"); len(got) > 0 {
			t.Errorf("will published after a normal DISCONNECT [MQTT-3.1.2-10]: %v", got)
		}
	})
}
