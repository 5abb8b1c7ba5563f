package mqtt

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// rawSubscriber connects a 3.1.1 client over a real socket, subscribes to
// filter at QoS 0 and discards everything the broker sends afterwards.
func rawSubscriber(tb testing.TB, addr, id, filter string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	connect := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, byte(len(id))}
	connect = append(connect, id...)
	sub := []byte{0x82, byte(5 + len(filter)), 0, 1, 0, byte(len(filter))}
	sub = append(append(sub, filter...), 0)
	if _, err := c.Write(append(connect, sub...)); err != nil {
		tb.Fatal(err)
	}
	ack := make([]byte, 9) // CONNACK (4) + SUBACK (5)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[4] != 0x90 {
		tb.Fatalf("subscribe: %v %x", err, ack)
	}
	_ = c.SetReadDeadline(time.Time{})
	go func() { _, _ = io.Copy(io.Discard, c) }() // ends when the test closes c
	tb.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkFanoutQoS0 routes one QoS 0 message to n subscribers per op over
// real sockets. Allocations per op are those of the message itself (the
// broker's own Publish copies topic and payload once); they must not grow
// with n: a delivery to one more subscriber allocates nothing.
func BenchmarkFanoutQoS0(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			tb := startBroker(b, Options{MaxQueuedBytes: 64 << 20})
			for i := range n {
				rawSubscriber(b, tb.addr, fmt.Sprintf("s%d", i), "bench/t")
			}
			payload := make([]byte, 64)
			b.SetBytes(int64(len(payload) * n))
			b.ReportAllocs()
			for b.Loop() {
				if err := tb.srv.Publish("bench/t", payload, 0, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFanoutLarge routes one 64 KiB QoS 0 message to 4 subscribers
// per op. Bytes per op are about one copy of the payload (the message): the
// writers send it from the shared Message, not from a copy of their own.
func BenchmarkFanoutLarge(b *testing.B) {
	tb := startBroker(b, Options{MaxQueuedBytes: 64 << 20})
	for i := range 4 {
		rawSubscriber(b, tb.addr, fmt.Sprintf("s%d", i), "bench/t")
	}
	payload := make([]byte, 64<<10)
	b.SetBytes(int64(len(payload) * 4))
	b.ReportAllocs()
	for b.Loop() {
		if err := tb.srv.Publish("bench/t", payload, 0, false); err != nil {
			b.Fatal(err)
		}
	}
}
