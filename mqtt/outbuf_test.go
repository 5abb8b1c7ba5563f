package mqtt

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"gatemq/mqtt/packet"
)

// TestLargeFanoutOneCopy publishes a 1 MiB message to four subscribers and
// checks that the broker allocates about one copy of it, not one per
// subscriber: the writers send the payload from the shared Message.
func TestLargeFanoutOneCopy(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	const size, subs = 1 << 20, 4
	var wg sync.WaitGroup
	for i := range subs {
		r := dialRaw(t, tb)
		r.send(connectPkt(fmt.Sprintf("big%d", i), true, 0, nil), subscribePkt(1, "big/t", 0))
		r.expect(tCONNACK, 0)
		r.expect(tSUBACK, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// PUBLISH: 1 + 3 length bytes + 2 + 5 topic bytes + payload.
			_ = r.c.SetReadDeadline(time.Now().Add(waitTime))
			if _, err := io.CopyN(io.Discard, r.br, 1+3+2+5+size); err != nil {
				t.Errorf("subscriber: %v", err)
			}
		}()
	}
	payload := make([]byte, size)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := tb.srv.Publish("big/t", payload, 0, false); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte message to %d subscribers allocated %d bytes", size, subs, got)
	if got > 3*size/2 {
		t.Errorf("a %d-byte message to %d subscribers allocated %d bytes, want about one copy", size, subs, got)
	}
}

// TestLargeMessageIntact sends a message whose payload and 5.0 user
// properties are both large enough to be written from the shared Message,
// behind small packets, to a 3.1.1 and a 5.0 subscriber, and checks every
// byte that arrives.
func TestLargeMessageIntact(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	old := dialRaw(t, tb)
	old.send(connectPkt("old", true, 0, nil), subscribePkt(1, "big/#", 0))
	old.expect(tCONNACK, 0)
	old.expect(tSUBACK, 0)
	v5 := dialRaw(t, tb)
	v5.connectV5(rawConnectV5("new", nil))
	v5.send(mkPkt(0x82, u16(1), []byte{0}, str("big/#"), []byte{0}))
	v5.expect(tSUBACK, 0)

	payload := make([]byte, 300<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	var users []packet.UserProperty
	for i := range 1000 {
		users = append(users, packet.UserProperty{Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")})
	}
	pub := dialRaw(t, tb)
	pub.connectV5(rawConnectV5("pub", nil))
	for i := range 3 { // a small one, the large one, a small one: one writer pass may hold all three
		p := packet.Packet{Type: packet.PUBLISH, Topic: []byte(fmt.Sprint("big/", i)), Payload: []byte("small")}
		if i == 1 {
			p.Payload = payload
			p.Props.User = packet.UserPropertiesOf(users...)
			p.Props.ContentType = []byte("application/octet-stream")
		}
		pub.send(p.Append(nil, packet.V5))
	}
	for _, r := range []*rawConn{old, v5} {
		version := packet.V311
		if r == v5 {
			version = packet.V5
		}
		for i := range 3 {
			raw := r.expect(tPUBLISH, 0)
			var p packet.Packet
			fh := packet.FixedHeader{Type: packet.PUBLISH, Remaining: len(raw.body)}
			if err := packet.Decode(fh, raw.body, version, &p); err != nil {
				t.Fatalf("version %d, message %d: %v", version, i, err)
			}
			want := []byte("small")
			if i == 1 {
				want = payload
			}
			if string(p.Topic) != fmt.Sprint("big/", i) || !bytes.Equal(p.Payload, want) {
				t.Fatalf("version %d, message %d: topic %q, %d payload bytes (intact: %v)", version, i, p.Topic, len(p.Payload), bytes.Equal(p.Payload, want))
			}
			if version == packet.V5 && i == 1 {
				if !p.Props.User.Equal(packet.UserPropertiesOf(users...)) || string(p.Props.ContentType) != "application/octet-stream" {
					t.Fatalf("user properties: %d of %d arrived, content type %q", p.Props.User.Len(), len(users), p.Props.ContentType)
				}
			}
		}
	}
}

// TestLargePublishCostsItsSize sends a 4 MiB PUBLISH from a client to four
// subscribers and checks that the broker allocates about the packet once:
// the body it reads becomes the message (Reader.Keep), and the writers send
// the payload from it.
func TestLargePublishCostsItsSize(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	const size, subs = 4<<20 + 7, 4
	var wg sync.WaitGroup
	for i := range subs {
		r := dialRaw(t, tb)
		r.send(connectPkt(fmt.Sprintf("big%d", i), true, 0, nil), subscribePkt(1, "big/t", 0))
		r.expect(tCONNACK, 0)
		r.expect(tSUBACK, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.c.SetReadDeadline(time.Now().Add(waitTime))
			if _, err := io.CopyN(io.Discard, r.br, 1+4+2+5+size); err != nil {
				t.Errorf("subscriber: %v", err)
			}
		}()
	}
	pub := dialRaw(t, tb)
	pub.send(connectPkt("pub", true, 0, nil))
	pub.expect(tCONNACK, 0)
	pkt := publishPkt("big/t", 0, false, false, 0, string(make([]byte, size)))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := pub.c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte PUBLISH to %d subscribers allocated %d bytes", len(pkt), subs, got)
	if got > 3*size/2 {
		t.Errorf("a %d-byte PUBLISH to %d subscribers allocated %d bytes, want the packet once (and its reading's growth)", len(pkt), subs, got)
	}
}

// TestLargeMessageNotKept checks that once a large message has been
// delivered, nothing of the publisher's connection, the subscribers'
// writers or the reader's buffers keeps it alive: the heap is back to what
// it was (to a 5.0 subscriber its user properties are views of it too).
func TestLargeMessageNotKept(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	sub := dialRaw(t, tb)
	sub.connectV5(rawConnectV5("sub5", nil))
	sub.send(mkPkt(0x82, u16(1), []byte{0}, str("big/#"), []byte{0}))
	sub.expect(tSUBACK, 0)
	old := dialRaw(t, tb)
	old.send(connectPkt("sub3", true, 0, nil), subscribePkt(1, "big/#", 0))
	old.expect(tCONNACK, 0)
	old.expect(tSUBACK, 0)
	pub := dialRaw(t, tb)
	pub.connectV5(rawConnectV5("pub", nil))

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	p := packet.Packet{Type: packet.PUBLISH, Topic: []byte("big/t"), Payload: make([]byte, 4<<20)}
	p.Props.User = packet.UserPropertiesOf(packet.UserProperty{Key: bytes.Repeat([]byte("k"), 8<<10), Value: []byte("v")})
	if _, err := pub.c.Write(p.Append(nil, packet.V5)); err != nil {
		t.Fatal(err)
	}
	p = packet.Packet{}
	for _, r := range []*rawConn{sub, old} {
		if got := r.expect(tPUBLISH, 0); len(got.body) < 4<<20 {
			t.Fatalf("PUBLISH of %d bytes", len(got.body))
		}
	}
	sub, old = nil, nil // their copies are the test's
	checkFor(t, waitTime, 20*time.Millisecond, func() error {
		if after := heap(); after > before+1<<20 {
			return fmt.Errorf("heap %d bytes after the message was delivered, %d before", after, before)
		}
		return nil
	})
}

// TestLargeMessageOverPlainConn sends a large message to a subscriber
// whose connection is not a socket (net.Pipe, as TLS and WebSocket
// connections are not): without writev the pass goes out piece by piece,
// in order.
func TestLargeMessageOverPlainConn(t *testing.T) {
	tb := startBroker(t, Options{MaxQueuedBytes: 64 << 20})
	a, b := net.Pipe()
	r := servePipe(t, tb, a, b)
	r.send(connectPkt("pipe", true, 0, nil))
	r.expect(tCONNACK, 0)
	r.send(subscribePkt(1, "big/#", 0))
	r.expect(tSUBACK, 0)
	payload := make([]byte, 300<<10)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	for i, pl := range [][]byte{[]byte("small"), payload, []byte("small")} {
		if err := tb.srv.Publish(fmt.Sprint("big/", i), pl, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	for i, pl := range [][]byte{[]byte("small"), payload, []byte("small")} {
		got := r.expect(tPUBLISH, 0).publish(t)
		if got.topic != fmt.Sprint("big/", i) || got.payload != string(pl) {
			t.Fatalf("message %d: topic %q, %d payload bytes (intact: %v)", i, got.topic, len(got.payload), got.payload == string(pl))
		}
	}
}

// TestPassBounded: a session whose whole window is ready to go (here 1000
// messages of 3 KB queued while it was away, small enough to be copied
// into the writer's buffer) is encoded a few dozen KiB at a time, not
// into one 3 MB buffer: the writer's memory does not grow with the window.
func TestPassBounded(t *testing.T) {
	tb := startBroker(t, Options{MaxInflight: 1000, MaxQueuedBytes: 64 << 20})
	const n, size = 1000, 3000
	r := dialRaw(t, tb)
	r.send(connectPkt("away", false, 0, nil), subscribePkt(1, "q/t", 1))
	r.expect(tCONNACK, 0)
	r.expect(tSUBACK, 0)
	r.send(disconnectPkt)
	r.expectClosed()
	waitOffline(t, tb, 1)
	payload := make([]byte, size)
	for range n {
		if err := tb.srv.Publish("q/t", payload, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r = dialRaw(t, tb)
	r.send(connectPkt("away", false, 0, nil))
	r.expectConnack(true, 0)
	// PUBLISH: 1 + 2 length bytes + 2 + 3 topic bytes + 2 id bytes + payload.
	_ = r.c.SetReadDeadline(time.Now().Add(waitTime))
	if _, err := io.CopyN(io.Discard, r.br, n*(1+2+2+3+2+size)); err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("sending %d queued %d-byte messages allocated %d bytes", n, size, got)
	if got > n*size/3 {
		t.Errorf("sending %d queued %d-byte messages allocated %d bytes, want well under their %d", n, size, got, n*size)
	}
}
