package mqtt

import (
	"testing"
	"time"

	"gatemq/flashstore"

	"github.com/eclipse/paho.golang/packets"
)

func TestWALScratchExpiry(t *testing.T) {
	w := startWAL(t, Options{}, flashstore.Options{})
	conn := func(present bool) *rawConn {
		r := w.dial()
		c := rawConnectV5("ex", &packets.Properties{SessionExpiryInterval: u32p(1)})
		c.CleanStart = false
		if ca := r.connectV5(c); ca.SessionPresent != present {
			t.Fatalf("present %v", ca.SessionPresent)
		}
		return r
	}
	r := conn(false)
	r.subscribeV5(1, "ex/#", 1)
	t.Logf("record while connected: %+v", durable(t, w.st).sessions["ex"])
	r.sendV5(&packets.Disconnect{})
	r.expectClosed()
	w.waitOfflineN(1)
	t.Logf("record offline: %+v", durable(t, w.st).sessions["ex"])
	r = conn(true)
	t.Logf("record resumed: %+v", durable(t, w.st).sessions["ex"])
	time.Sleep(1100 * time.Millisecond)
	w.srv.Publish("ex/a", []byte("q"), 1, false)
	r.read()
	rs := w.abandon()
	t.Logf("recovered %+v", rs)
}
