package mqtt

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"gatemq/flashstore"
)

// TestBytesPerDelivery holds the flash log to issue 13's budget: a QoS 1
// or QoS 2 message from a persistent publisher to one persistent
// subscriber writes at most 3 × (topic + payload + 64) bytes of log,
// compaction included. Four Paho publishers send 64-byte payloads to a
// Paho subscriber, as the durable fan-in benchmark does; the figure is
// the log's bytes written from the first publish to the last delivery,
// after a compaction.
func TestBytesPerDelivery(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) { testBytesPerDelivery(t, qos) })
	}
}

func testBytesPerDelivery(t *testing.T, qos byte) {
	const (
		topic = "sensors/kitchen/tmp" // 19 bytes, as in the benchmark
		pubs  = 4
		each  = 500
	)
	payload := string(make([]byte, 64))
	w := startWAL(t, Options{}, flashstore.Options{})
	sub := connectPaho(t, pahoOpts(w.tb, "wear-sub").SetCleanSession(false))
	sub.sub(t, topic, qos)
	var clients []*pahoClient
	for i := range pubs {
		clients = append(clients, connectPaho(t, pahoOpts(w.tb, fmt.Sprint("wear-pub", i)).SetCleanSession(false)))
	}
	before := w.log.Stats().BytesWritten
	var wg sync.WaitGroup
	for _, pc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if tok := pc.Publish(topic, qos, false, payload); !tok.WaitTimeout(waitTime) || tok.Error() != nil {
					t.Errorf("publish: %v", tok.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	sub.col.waitN(t, pubs*each)
	// Paho hands a QoS 2 message over at its PUBLISH: wait for the last
	// exchanges to complete, then for the subscriber to leave, which
	// writes the removals that were waiting for a commit to ride with.
	deadline := time.Now().Add(waitTime)
	for st := w.srv.Stats(); st.Inflight+st.Queued != 0; st = w.srv.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("still in flight or queued: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sub.Disconnect(250)
	for len(durable(t, w.st).routes) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("routes still in the log: %s", durable(t, w.st).describeRoutes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.log.Compact(); err != nil {
		t.Fatal(err)
	}
	per := float64(w.log.Stats().BytesWritten-before) / (pubs * each)
	budget := float64(3 * (len(topic) + len(payload) + 64))
	t.Logf("QoS %d: %.0f bytes of log per delivery, compaction included (budget %.0f)", qos, per, budget)
	if per > budget {
		t.Errorf("QoS %d: %.0f bytes per delivery, over the budget of %.0f", qos, per, budget)
	}
}
