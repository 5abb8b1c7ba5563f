package main

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestWebSocketParking checks that idle WebSocket connections, ws:// and
// wss://, park, with no reader goroutine and no read buffers, and work on
// when something wakes them: Eclipse Paho gets a message published while
// it is parked, and publishes after; a raw client's ping frame gets its
// pong and the connection parks again; an MQTT packet split across two
// frames, and a frame header split across the idle time, are read whole
// without parking in the middle of them. The broker is the child of
// TestIdleConnectionMemory, which reports how many connections are parked.
func TestWebSocketParking(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connections to park")
	}
	for _, kind := range []string{"websocket", "wss"} {
		t.Run(kind, func(t *testing.T) { testWebSocketParking(t, kind) })
	}
}

// testWebSocketParking is TestWebSocketParking over a listener of kind
// (startIdleChild's websocket or wss).
func testWebSocketParking(t *testing.T, kind string) {
	ch := startIdleChild(t, kind)
	ch.measure(t, 0)
	url := "ws://" + ch.addr + "/mqtt"
	if kind == "wss" {
		url = "wss://" + ch.addr + "/mqtt"
	}
	got := newOutputBuffer()
	sub := twMustPaho(t, url, "ws-park-sub", ch.tls, got)
	pahoDo(t, "subscribe", sub.Subscribe("park/#", 1, nil))
	pub := twMustPaho(t, url, "ws-park-pub", ch.tls, nil)
	ch.measure(t, 2)
	pahoDo(t, "publish", pub.Publish("park/a", 1, false, "while parked"))
	awaitLine(t, got, "park/a while parked")
	ch.measure(t, 2)

	c, err := ch.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := idleClient(c, "ws-park-raw", 0, false); err != nil {
		t.Fatal(err)
	}
	ch.measure(t, 3)
	w := c.(*wsClient)
	_ = w.SetDeadline(time.Now().Add(10 * time.Second))
	// A ping frame (masked, key 0) while parked: the pong carries its
	// payload, and no MQTT packet came, so the connection parks again.
	if _, err := w.Conn.Write([]byte{0x89, 0x84, 0, 0, 0, 0, 'p', 'i', 'n', 'g'}); err != nil {
		t.Fatal(err)
	}
	pong := make([]byte, 6)
	if _, err := io.ReadFull(w.br, pong); err != nil || !bytes.Equal(pong, []byte{0x8a, 4, 'p', 'i', 'n', 'g'}) {
		t.Fatalf("answer to a ping: % x (%v), want a pong with its payload", pong, err)
	}
	ch.measure(t, 3)
	// PINGREQ in two frames, the idle time between them.
	pingresp := func(what string) {
		t.Helper()
		b := make([]byte, 2)
		if _, err := io.ReadFull(w, b); err != nil || !bytes.Equal(b, []byte{0xd0, 0}) {
			t.Fatalf("%s: got % x (%v), want PINGRESP", what, b, err)
		}
	}
	if _, err := w.Write([]byte{0xc0}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := w.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	pingresp("PINGREQ in two frames")
	ch.measure(t, 3)
	// One frame holding PINGREQ, its header split across the idle time.
	frame := []byte{0x82, 0x82, 0, 0, 0, 0, 0xc0, 0}
	if _, err := w.Conn.Write(frame[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := w.Conn.Write(frame[3:]); err != nil {
		t.Fatal(err)
	}
	pingresp("a frame header split across the idle time")
	ch.measure(t, 3)
	pahoDo(t, "publish after all that", pub.Publish("park/b", 2, false, "still here"))
	awaitLine(t, got, "park/b still here")
	if lines := msgLines(got.String()); len(lines) != 2 {
		t.Errorf("the subscriber received %q, want two messages once each", lines)
	}
}
