package mqtt

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestPahoQoSMatrix publishes at QoS 0, 1 and 2 to subscriptions at QoS 0, 1
// and 2: each message arrives once, at the lower of the two QoS
// [MQTT-3.8.4-6] (3.1.1 §3.8.4), with RETAIN and DUP clear.
func TestPahoQoSMatrix(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "matrix-sub"))
	pub := connectPaho(t, pahoOpts(tb, "matrix-pub"))
	for sq := byte(0); sq <= 2; sq++ {
		if g := sub.sub(t, fmt.Sprintf("m/s%d/#", sq), sq); g != sq {
			t.Fatalf("subscribe at QoS %d granted %d", sq, g)
		}
	}
	for pq := byte(0); pq <= 2; pq++ {
		for sq := byte(0); sq <= 2; sq++ {
			t.Run(fmt.Sprintf("pub%d-sub%d", pq, sq), func(t *testing.T) {
				topic := fmt.Sprintf("m/s%d/p%d", sq, pq)
				pub.pub(t, topic, pq, false, "hello "+topic)
				sub.col.waitFor(t, topic, "hello "+topic)
				// A barrier at the delivered QoS: anything duplicated
				// would have been queued before it.
				want := min(pq, sq)
				marker(t, tb, topic, want, "end")
				sub.col.waitFor(t, topic, "end")
				got := sub.col.on(topic)
				if len(got) != 2 {
					t.Fatalf("received %d messages, want the message and the marker: %v", len(got), short(got))
				}
				r := got[0]
				if r.payload != "hello "+topic || r.qos != want || r.retained || r.dup {
					t.Errorf("received %v, want payload %q at QoS %d, no RETAIN, no DUP", r, "hello "+topic, want)
				}
			})
		}
	}
}

// seqChecker checks a numbered stream: every number exactly once, in order.
type seqChecker struct {
	next, dups, gaps, disorder int
	seen                       map[int]bool
}

// add records one received sequence number.
func (s *seqChecker) add(n int) {
	if s.seen == nil {
		s.seen = make(map[int]bool)
	}
	switch {
	case s.seen[n]:
		s.dups++
		return
	case n > s.next:
		s.gaps += n - s.next
	case n < s.next:
		s.disorder++ // arrives late: it was counted as a gap before
		s.gaps--
	}
	s.seen[n] = true
	if n >= s.next {
		s.next = n + 1
	}
}

// check fails the test unless exactly total numbers arrived once in order.
func (s *seqChecker) check(t testing.TB, what string, total int) {
	t.Helper()
	if s.dups != 0 || s.gaps != 0 || s.disorder != 0 || len(s.seen) != total {
		t.Errorf("%s: %d distinct of %d, %d duplicates, %d missing, %d out of order",
			what, len(s.seen), total, s.dups, total-len(s.seen), s.disorder)
	}
}

// TestPahoQoS2StreamExactlyOnce sends 10,000 numbered QoS 2 messages from one
// client to another and checks each arrives exactly once and in order
// [MQTT-4.3.3-2] [MQTT-4.6.0-5].
func TestPahoQoS2StreamExactlyOnce(t *testing.T) {
	const total = 10000
	tb := startBroker(t, Options{})
	got := make(chan paho.Message, 2*total)
	sub := connectPaho(t, pahoOpts(tb, "stream-sub"))
	wait(t, "subscribe", sub.Subscribe("stream/q2", 2, func(_ paho.Client, m paho.Message) { got <- m }))
	pub := connectPaho(t, pahoOpts(tb, "stream-pub"))

	// Keep a window of publishes outstanding, as a real client would.
	const window = 200
	toks := make([]paho.Token, 0, total)
	for i := 0; i < total; i++ {
		if i >= window {
			wait(t, "publish "+strconv.Itoa(i-window), toks[i-window])
		}
		toks = append(toks, pub.Publish("stream/q2", 2, false, strconv.Itoa(i)))
	}
	for i := max(0, total-window); i < total; i++ {
		wait(t, "publish "+strconv.Itoa(i), toks[i])
	}
	// Every message is routed once its PUBCOMP is back; a copy sent twice
	// would be queued before this marker.
	marker(t, tb, "stream/q2", 2, strconv.Itoa(total))

	var seq seqChecker
	var bad []string
	deadline := time.After(30 * time.Second)
	for n := -1; n != total; {
		select {
		case m := <-got:
			v, err := strconv.Atoi(string(m.Payload()))
			if err != nil || m.Qos() != 2 || m.Duplicate() {
				bad = append(bad, fmt.Sprintf("%q q%d dup=%v", m.Payload(), m.Qos(), m.Duplicate()))
			}
			seq.add(v)
			n = v
		case <-deadline:
			t.Fatalf("marker not received; so far %d distinct messages, %d duplicates", len(seq.seen), seq.dups)
		}
	}
	seq.check(t, "QoS 2 stream", total+1)
	if len(bad) > 0 {
		t.Errorf("%d messages with a bad payload, QoS or DUP, first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], ", "))
	}
}

// TestPahoQoS1Order sends 1,000 QoS 1 messages on one topic and checks they
// arrive in order, once each [MQTT-4.6.0-5].
func TestPahoQoS1Order(t *testing.T) {
	const total = 1000
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "order-sub"))
	sub.sub(t, "order/q1", 1)
	pub := connectPaho(t, pahoOpts(tb, "order-pub"))
	toks := make([]paho.Token, total)
	for i := range toks {
		toks[i] = pub.Publish("order/q1", 1, false, strconv.Itoa(i))
	}
	for i, tok := range toks {
		wait(t, "publish "+strconv.Itoa(i), tok)
	}
	marker(t, tb, "order/q1", 1, strconv.Itoa(total))
	msgs := sub.col.waitFor(t, "order/q1", strconv.Itoa(total))
	var seq seqChecker
	for _, r := range msgs {
		v, err := strconv.Atoi(r.payload)
		if err != nil || r.qos != 1 {
			t.Fatalf("unexpected message %v", r)
		}
		seq.add(v)
	}
	seq.check(t, "QoS 1 stream", total+1)
}

// TestPahoPerTopicOrder interleaves QoS 1 and 2 messages on three topics from one
// publisher, received through one wildcard subscription: each topic's
// messages keep their order [MQTT-4.6.0-5].
func TestPahoPerTopicOrder(t *testing.T) {
	const perTopic = 300
	topics := []string{"mix/a", "mix/b", "mix/c/d"}
	tb := startBroker(t, Options{})
	sub := connectPaho(t, pahoOpts(tb, "mix-sub"))
	sub.sub(t, "mix/#", 2)
	pub := connectPaho(t, pahoOpts(tb, "mix-pub"))
	var toks []paho.Token
	for i := 0; i < perTopic; i++ {
		for j, tp := range topics {
			// Order is promised per topic and QoS: one QoS per topic.
			toks = append(toks, pub.Publish(tp, byte(1+j%2), false, strconv.Itoa(i)))
		}
	}
	for i, tok := range toks {
		wait(t, "publish "+strconv.Itoa(i), tok)
	}
	for _, tp := range topics {
		marker(t, tb, tp, 1, strconv.Itoa(perTopic))
	}
	sub.col.waitFor(t, topics[len(topics)-1], strconv.Itoa(perTopic))
	for _, tp := range topics {
		var seq seqChecker
		for _, r := range sub.col.on(tp) {
			v, err := strconv.Atoi(r.payload)
			if err != nil {
				t.Fatalf("unexpected message %v", r)
			}
			seq.add(v)
		}
		seq.check(t, tp, perTopic+1)
	}
}
