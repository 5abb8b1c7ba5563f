package mqtt

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPahoMessageSizeLimit checks that a payload larger than
// MessageSizeLimit is acknowledged but not delivered, and counted as
// dropped, while one at the limit goes through.
func TestPahoMessageSizeLimit(t *testing.T) {
	const limit = 100
	tb := startBroker(t, Options{MessageSizeLimit: limit})
	sub := connectPaho(t, pahoOpts(tb, "size-sub"))
	sub.sub(t, "size/#", 2)
	pub := connectPaho(t, pahoOpts(tb, "size-pub"))
	before := tb.srv.Stats().PublishDropped
	for q := byte(0); q <= 2; q++ {
		tp := "size/q" + strconv.Itoa(int(q))
		pub.pub(t, tp, q, false, strings.Repeat("x", limit+1))
		pub.pub(t, tp, q, false, strings.Repeat("y", limit))
		pub.pub(t, tp, q, true, strings.Repeat("z", limit+1)) // not retained either
		pub.pub(t, tp, q, false, "end")
		got := sub.col.waitFor(t, tp, "end")
		if want := []string{strings.Repeat("y", limit), "end"}; !slices.Equal(payloads(sub.col.on(tp)), want) {
			t.Errorf("QoS %d: subscriber got %v, want only the %d-byte payload and the marker", q, short(got), limit)
		}
	}
	if d := tb.srv.Stats().PublishDropped - before; d != 6 {
		t.Errorf("PublishDropped grew by %d, want 6", d)
	}
	if n := tb.srv.Stats().Retained; n != 0 {
		t.Errorf("%d retained messages, want 0 (the oversized retained message was dropped)", n)
	}
	// The publisher is still connected and working.
	pub.pub(t, "size/q1", 1, false, "still here")
	sub.col.waitFor(t, "size/q1", "still here")
}

// TestPahoMaxQueuedOffline checks MaxQueued on an offline persistent
// session: the first MaxQueued messages are kept, the rest are dropped and
// counted, and the kept ones arrive in order on reconnect.
func TestPahoMaxQueuedOffline(t *testing.T) {
	const maxQueued, sent = 5, 12
	tb := startBroker(t, Options{MaxQueued: maxQueued})
	o := pahoOpts(tb, "mq-sub").SetCleanSession(false)
	s := connectPaho(t, o)
	s.sub(t, "mq/t", 2)
	s.Disconnect(250)
	waitOffline(t, tb, 1)

	pub := connectPaho(t, pahoOpts(tb, "mq-pub"))
	before := tb.srv.Stats().PublishDropped
	for i := 0; i < sent; i++ {
		pub.pub(t, "mq/t", byte(1+i%2), false, strconv.Itoa(i))
	}
	st := tb.srv.Stats()
	if d := st.PublishDropped - before; d != sent-maxQueued {
		t.Errorf("PublishDropped grew by %d, want %d", d, sent-maxQueued)
	}
	if st.Queued != maxQueued {
		t.Errorf("Stats().Queued = %d, want %d", st.Queued, maxQueued)
	}

	s2 := connectPaho(t, o)
	if !s2.sessionPresent {
		t.Fatal("session present = false on resume")
	}
	marker(t, tb, "mq/t", 1, "end")
	got := s2.col.waitFor(t, "mq/t", "end")
	want := []string{"0", "1", "2", "3", "4", "end"}
	if !slices.Equal(payloads(got), want) {
		t.Fatalf("resumed subscriber got %v, want payloads %v", short(got), want)
	}
	for i, r := range got[:maxQueued] {
		if q := byte(1 + i%2); r.qos != q {
			t.Errorf("message %v, want QoS %d", r, q)
		}
	}
}

// TestRawMaxKeepalive checks that a 3.1.1 client asking a keep alive above
// MaxKeepalive is refused with CONNACK 0x02 (as Mosquitto does), and one at
// the limit is accepted.
func TestRawMaxKeepalive(t *testing.T) {
	tb := startBroker(t, Options{MaxKeepalive: 60})
	r := dialRaw(t, tb)
	r.send(connectPkt("ka-max", true, 61, nil))
	r.expectConnack(false, 0x02)
	r.expectClosed()
	r = dialRaw(t, tb)
	r.connect("ka-max", true, 60, nil, false)
}

// TestRawMaxInflight checks that no more than MaxInflight QoS 1 messages
// await PUBACK at once, and that each PUBACK lets the next one go, in order.
func TestRawMaxInflight(t *testing.T) {
	const window, sent = 3, 7
	tb := startBroker(t, Options{MaxInflight: window})
	r := dialRaw(t, tb)
	r.connect("inflight-sub", true, 0, nil, false)
	r.subscribe(1, "if/t", 1)
	pub := connectPaho(t, pahoOpts(tb, "inflight-pub"))
	for i := 0; i < sent; i++ {
		pub.pub(t, "if/t", 1, false, strconv.Itoa(i))
	}
	var ids []uint16
	next := 0
	readNext := func() {
		t.Helper()
		p := r.read().publish(t)
		if p.payload != strconv.Itoa(next) || p.qos != 1 || p.dup {
			t.Fatalf("got %+v, want message %d at QoS 1", p, next)
		}
		next++
		ids = append(ids, p.id)
	}
	for i := 0; i < window; i++ {
		readNext()
	}
	// Everything is queued by now: a fourth PUBLISH would come before the
	// PINGRESP.
	r.send([]byte{tPINGREQ << 4, 0})
	r.expect(13, 0)
	for len(ids) > 0 {
		r.send(ackPkt(tPUBACK, ids[0]))
		ids = ids[1:]
		if next < sent {
			readNext()
		}
		r.send([]byte{tPINGREQ << 4, 0})
		r.expect(13, 0)
	}
	if next != sent {
		t.Fatalf("received %d of %d messages", next, sent)
	}
}
