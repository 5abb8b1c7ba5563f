package mqtt

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestIdleConnectionFootprint connects many idle MQTT clients (raw sockets
// that sent CONNECT and wait) and measures what each costs the broker in
// heap and goroutine stacks. The budget is 16 KiB per idle connection (the
// issue's floor for a 64 MB router); the figure is logged for the notes.
func TestIdleConnectionFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 sockets")
	}
	const n = 2000
	tb := startBroker(t, Options{})
	measure := func() (heap, stack uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse
	}
	heap0, stack0 := measure()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	// CONNECT, 3.1.1, clean session, keep alive 0, client id "f" + index.
	for i := range n {
		c, err := net.Dial("tcp", tb.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		id := []byte{'f', byte('a' + i%26), byte('a' + i/26%26), byte('a' + i/676%26)}
		pkt := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, byte(len(id))}
		if _, err := c.Write(append(pkt, id...)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(buf); err != nil || buf[0] != 0x20 {
			t.Fatalf("no CONNACK: %v %x", err, buf)
		}
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error { return nil })
	heap1, stack1 := measure()
	perHeap := float64(heap1-heap0) / n / 1024
	perStack := float64(stack1-stack0) / n / 1024
	t.Logf("per idle connection (in-process client sockets included): heap %.1f KiB, stacks %.1f KiB, total %.1f KiB", perHeap, perStack, perHeap+perStack)
	if perHeap+perStack > 16 {
		t.Errorf("idle connection costs %.1f KiB, over the 16 KiB budget", perHeap+perStack)
	}
}
