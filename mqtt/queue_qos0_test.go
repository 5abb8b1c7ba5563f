package mqtt

import (
	"strings"
	"testing"

	"gatemq/flashstore"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// queue_qos0_messages: QoS 0 messages published while a persistent
// subscriber is away are kept for it, in order with its QoS 1 ones, within
// max_queued_messages; without the option only the QoS 1 ones are.
func TestPahoQueueQoS0(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      Options
		want      string
		wantQoS0s int
	}{
		{"off", Options{}, "q1-a q1-b", 0},
		{"on", Options{QueueQoS0: true}, "q0-a q1-a q0-b q1-b q0-c", 3},
		{"on, max_queued_messages 3", Options{QueueQoS0: true, MaxQueued: 3}, "q0-a q1-a q0-b", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := startBroker(t, tc.opts)
			o := pahoOpts(tb, "q0-sub").SetCleanSession(false)
			s1 := connectPaho(t, o)
			s1.sub(t, "t/#", 1)
			s1.Disconnect(250)
			waitOffline(t, tb, 1)
			pub := connectPaho(t, pahoOpts(tb, "q0-pub"))
			for _, p := range []struct {
				payload string
				qos     byte
			}{{"q0-a", 0}, {"q1-a", 1}, {"q0-b", 0}, {"q1-b", 1}, {"q0-c", 0}} {
				pub.pub(t, "t/x", p.qos, false, p.payload)
			}
			pub.pub(t, "sync", 1, false, "") // acknowledged: the QoS 0 ones before it are routed
			s2 := connectPaho(t, o)
			marker(t, tb, "t/x", 1, "end")
			s2.col.waitFor(t, "t/x", "end")
			var got []string
			qos0s := 0
			for _, r := range s2.col.on("t/x") {
				if r.payload == "end" {
					continue
				}
				got = append(got, r.payload)
				if r.qos == 0 {
					qos0s++
				}
			}
			if strings.Join(got, " ") != tc.want || qos0s != tc.wantQoS0s {
				t.Errorf("received %q (%d at QoS 0), want %q (%d)", got, qos0s, tc.want, tc.wantQoS0s)
			}
		})
	}
}

// A message published at QoS 1 goes at QoS 0 to a subscription of QoS 0
// (queued in RAM, queue_qos0_messages) and at QoS 1 to another persistent
// session (on flash). The QoS 0 copy takes no reference on the record:
// whichever session drains first, both get the message, and the record
// goes when the QoS 1 delivery is acknowledged.
func TestQueueQoS0BesideStored(t *testing.T) {
	st, _, err := flashstore.Open(flashstore.Options{Dir: t.TempDir(), Sync: flashstore.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tb := startBroker(t, Options{QueueQoS0: true, Store: st})
	o0 := pahoOpts(tb, "sub-q0").SetCleanSession(false)
	o1 := pahoOpts(tb, "sub-q1").SetCleanSession(false)
	for _, o := range []struct {
		opts *paho.ClientOptions
		qos  byte
	}{{o0, 0}, {o1, 1}} {
		c := connectPaho(t, o.opts)
		c.sub(t, "t/#", o.qos)
		c.Disconnect(250)
	}
	waitOffline(t, tb, 2)
	pub := connectPaho(t, pahoOpts(tb, "pub"))
	for _, p := range []string{"a", "b", "c"} {
		pub.pub(t, "t/x", 1, false, p)
	}
	s1 := connectPaho(t, o1) // drains first: its acknowledgements end the records
	s1.col.waitN(t, 3)
	s1.Disconnect(250)
	s0 := connectPaho(t, o0)
	got := s0.col.waitN(t, 3)
	for i, r := range got {
		if want := []string{"a", "b", "c"}[i]; r.payload != want || r.qos != 0 {
			t.Errorf("QoS 0 subscriber's message %d: %s, want %q at QoS 0", i, r, want)
		}
	}
	if n := tb.srv.Stats().BodiesUnreadable; n != 0 {
		t.Errorf("%d bodies unreadable", n)
	}
}
