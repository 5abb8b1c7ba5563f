package mqtt

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// waitSessions waits until the broker knows exactly n sessions. A clean
// session is forgotten only after its will has been dealt with, so this is
// a barrier for "the will was published, or never will be".
func waitSessions(t testing.TB, tb *testBroker, n int64) {
	t.Helper()
	checkFor(t, waitTime, 5*time.Millisecond, func() error {
		if got := tb.srv.Stats().ClientsTotal; got != n {
			return fmt.Errorf("%d sessions, want %d", got, n)
		}
		return nil
	})
}

// TestPahoWillOnAbruptClose closes a Paho client's socket under it: the
// broker publishes its will at the will QoS [MQTT-3.1.2-8]; live subscribers
// get it with RETAIN 0 [MQTT-3.3.1-9] and, because the will was retained
// [MQTT-3.1.2-17], a later subscriber gets it with RETAIN 1.
func TestPahoWillOnAbruptClose(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "will-sub"))
	sub.sub(t, "will/#", 2)

	conns := make(chan net.Conn, 1)
	o := pahoOpts(tb, "will-1").
		SetWill("will/w1", "gone", 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", u.Host, waitTime)
			if err == nil {
				conns <- c
			}
			return c, err
		})
	connectPaho(t, o)
	var c net.Conn
	select {
	case c = <-conns:
	default:
		t.Fatal("custom connection function not used")
	}
	// Paho ignores "use of closed network connection", so its
	// connection-lost handler does not fire here; the broker's view is
	// what is tested.
	c.Close()

	got := sub.col.waitFor(t, "will/w1", "gone")
	if r := got[len(got)-1]; r.qos != 1 || r.retained {
		t.Errorf("will delivered as %v, want QoS 1 and RETAIN 0 to an existing subscription", r)
	}
	late := connectPaho(t, pahoOpts(tb, "will-late"))
	late.sub(t, "will/w1", 2)
	got = late.col.waitFor(t, "will/w1", "gone")
	if r := got[0]; len(got) != 1 || r.qos != 1 || !r.retained {
		t.Errorf("late subscriber got %v, want the retained will at QoS 1 with RETAIN 1", short(got))
	}
	marker(t, tb, "will/w1", 1, "end")
	if got := sub.col.waitFor(t, "will/w1", "end"); len(got) != 2 {
		t.Errorf("subscriber got %v, want the will once, then the marker", short(got))
	}
}

// TestPahoNoWillAfterDisconnect checks [MQTT-3.1.2-10]: a will is discarded
// when the client sends DISCONNECT.
func TestPahoNoWillAfterDisconnect(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "nowill-sub"))
	sub.sub(t, "will/#", 1)
	w := connectPaho(t, pahoOpts(tb, "nowill-1").SetWill("will/w2", "gone", 1, true))
	w.Disconnect(250)
	waitSessions(t, tb, 1) // only the subscriber's session is left
	marker(t, tb, "will/w2", 1, "end")
	if got := sub.col.waitFor(t, "will/w2", "end"); len(got) != 1 {
		t.Errorf("subscriber got %v, want only the marker (no will after DISCONNECT)", short(got))
	}
	if n := tb.srv.Stats().Retained; n != 0 {
		t.Errorf("%d retained messages, want 0 (the retained will must not be published)", n)
	}
}

// TestRawWillOnKeepaliveTimeout connects with keep alive 1 s and then stays
// silent: after one and a half keep alive periods the broker closes the
// connection [MQTT-3.1.2-24] and publishes the will.
func TestRawWillOnKeepaliveTimeout(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "ka-sub"))
	sub.sub(t, "will/ka", 2)
	r := dialRaw(t, tb)
	r.connect("ka-1", true, 1, &rawWill{topic: "will/ka", payload: "timed out", qos: 2}, false)
	start := time.Now()
	r.expectClosed()
	got := sub.col.waitFor(t, "will/ka", "timed out")
	took := time.Since(start)
	if took < time.Second {
		t.Errorf("will after %v: the broker must wait at least the keep alive period", took)
	}
	if r := got[0]; r.qos != 2 || r.retained {
		t.Errorf("will delivered as %v, want QoS 2, RETAIN 0", r)
	}
}

// TestRawKeepaliveWithPing checks that PINGREQ keeps a connection alive past
// 1.5 keep alive periods and is answered with PINGRESP [MQTT-3.12.4-1].
func TestRawKeepaliveWithPing(t *testing.T) {
	tb := startBroker(t, Options{})
	r := dialRaw(t, tb)
	r.connect("ping-1", true, 1, nil, false)
	// Ping every 0.4 s for 2.4 s, well past the 1.5 s limit. The
	// ticker paces the client; it is not a wait for the broker.
	tick := time.NewTicker(400 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 6; i++ {
		<-tick.C
		r.send([]byte{tPINGREQ << 4, 0})
		if p := r.expect(13, 0); len(p.body) != 0 { // PINGRESP
			t.Fatalf("PINGRESP with body % x", p.body)
		}
	}
	r.send(subscribePkt(1, "ping/t", 0))
	r.expect(tSUBACK, 0)
}

// TestRawWillOnProtocolError checks that a connection closed because of a
// protocol violation publishes its will (3.1.1 §3.1.2.5).
func TestRawWillOnProtocolError(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "perr-sub"))
	sub.sub(t, "will/perr", 0)
	r := dialRaw(t, tb)
	r.connect("perr-1", true, 0, &rawWill{topic: "will/perr", payload: "bad client"}, false)
	r.send(mkPkt(tPUBREL<<4, u16(1))) // reserved flags wrong
	r.expectClosed()
	got := sub.col.waitFor(t, "will/perr", "bad client")
	if got[0].qos != 0 {
		t.Errorf("will delivered as %v, want QoS 0", got[0])
	}
}
