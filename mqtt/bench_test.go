package mqtt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"gatemq/internal/textlog"
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
			cpu := cpuTime()
			for b.Loop() {
				if err := tb.srv.Publish("bench/t", payload, 0, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
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

// BenchmarkFaninQoS0 sends QoS 0 PUBLISHes from 4 publishers over real
// sockets (written in batches of 64, as a pipelining client does) to one
// subscriber; an op is one message read, routed and written. cpu-ns/op is
// the process's CPU time per op (clients included), steadier than the
// wall time on a shared machine.
func BenchmarkFaninQoS0(b *testing.B) {
	tb := startBroker(b, Options{MaxQueuedBytes: 64 << 20})
	sub := rawSubscriberConn(b, tb.addr, "sub", "bench/#")
	const pubs, batch = 4, 64
	conns := make([]net.Conn, pubs)
	for i := range conns {
		conns[i] = rawPublisher(b, tb.addr, fmt.Sprintf("pub%d", i))
	}
	pkt := []byte{0x30, 2 + 7 + 64, 0, 7, 'b', 'e', 'n', 'c', 'h', '/', 't'}
	pkt = append(pkt, make([]byte, 64)...)
	buf := bytes.Repeat(pkt, batch)
	b.SetBytes(64)
	b.ResetTimer()
	cpu := cpuTime()
	done := make(chan error, 1)
	go func() { done <- readPublishes(sub, b.N, len(pkt)) }()
	per := (b.N + pubs - 1) / pubs
	var wg sync.WaitGroup
	for i, c := range conns {
		n := max(min(per, b.N-i*per), 0)
		wg.Go(func() {
			for ; n >= batch; n -= batch {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
			_, _ = c.Write(buf[:n*len(pkt)])
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// rawPublisher connects a 3.1.1 client over a real socket and returns it.
func rawPublisher(tb testing.TB, addr, id string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	connect := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, byte(len(id))}
	if _, err := c.Write(append(connect, id...)); err != nil {
		tb.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 {
		tb.Fatalf("connect: %v %x", err, ack)
	}
	return c
}

// rawSubscriberConn is rawSubscriber without the goroutine that discards
// what the broker sends: the caller reads it.
func rawSubscriberConn(tb testing.TB, addr, id, filter string) net.Conn {
	tb.Helper()
	c := rawPublisher(tb, addr, id)
	sub := []byte{0x82, byte(5 + len(filter)), 0, 1, 0, byte(len(filter))}
	if _, err := c.Write(append(append(sub, filter...), 0)); err != nil {
		tb.Fatal(err)
	}
	ack := make([]byte, 5)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x90 {
		tb.Fatalf("subscribe: %v %x", err, ack)
	}
	return c
}

// readPublishes reads n packets of size bytes each from c.
func readPublishes(c net.Conn, n, size int) error {
	br := bufio.NewReaderSize(c, 64<<10)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := br.Discard(n * size)
	return err
}

// BenchmarkConnectDisconnect opens one connection per op over a real
// socket and ends it: CONNECT (3.1.1, clean session) and DISCONNECT
// written at once, CONNACK read, and the broker's close awaited. The
// broker logs warnings only, as make bench's brokers do. Allocations per
// op are the broker's for a connection's whole life plus the client's
// dial.
func BenchmarkConnectDisconnect(b *testing.B) {
	tb := startBroker(b, Options{Logger: textlog.New(textlog.NewTextHandler(io.Discard, textlog.LevelWarn))})
	id := "bench-conn"
	out := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, byte(len(id))}
	out = append(append(out, id...), 0xE0, 0)
	in := make([]byte, 8)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", tb.addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(out); err != nil {
			b.Fatal(err)
		}
		n, err := io.ReadAtLeast(c, in, 4)
		if err != nil || !bytes.Equal(in[:4], []byte{0x20, 2, 0, 0}) {
			b.Fatalf("CONNACK: % x, %v", in[:n], err)
		}
		if n, err := c.Read(in); err != io.EOF {
			b.Fatalf("after DISCONNECT: % x, %v (want the broker's close)", in[:n], err)
		}
		c.Close()
	}
}
