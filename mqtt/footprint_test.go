//go:build linux

package mqtt

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestIdleConnectionFootprint connects many idle MQTT clients and measures
// what each costs the broker's Go heap and goroutine stacks once they have
// parked: at most 4 KiB (the issue "Lighter on the router"; the root
// package's TestIdleConnectionMemory measures the whole binary, transport
// included, in a process of its own). The clients are raw sockets made
// with system calls, so that they cost this process's Go heap nothing.
func TestIdleConnectionFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 sockets")
	}
	const n = 2000
	tb := startParkingBroker(t, Options{})
	addr := tb.addr
	measure := func() int64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse + ms.StackInuse)
	}
	// One connection first: the idle poller and the pools are made once.
	fds := []int{rawSocketConnect(t, addr, "warm-up")}
	waitParked(t, tb.srv, 1)
	syscall.Close(fds[0])
	waitParked(t, tb.srv, 0)
	before := measure()

	fds = fds[:0]
	t.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	for i := range n {
		fds = append(fds, rawSocketConnect(t, addr, string([]byte{'f', byte('a' + i%26), byte('a' + i/26%26), byte('a' + i/676%26)})))
	}
	waitParked(t, tb.srv, n)
	per := float64(measure()-before) / n
	t.Logf("per idle connection: %.0f B of heap and stacks", per)
	if per > 4096 {
		t.Errorf("an idle connection costs %.0f B, over the budget of 4 KiB", per)
	}
}

// rawSocketConnect opens a TCP socket to addr with system calls (no Go
// heap) and completes an MQTT 3.1.1 CONNECT as id (clean session, keep
// alive 0); it returns the socket.
func rawSocketConnect(t *testing.T, addr, id string) int {
	t.Helper()
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	tv := syscall.NsecToTimeval(int64(waitTime / time.Nanosecond))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	// Blocking calls on this goroutine's thread can be interrupted by the
	// runtime's preemption signal (EINTR): they are tried again. A connect
	// interrupted goes on in the kernel (EALREADY until it is done).
	err = syscall.Connect(fd, sa)
	for err == syscall.EINTR || err == syscall.EALREADY {
		time.Sleep(time.Millisecond)
		err = syscall.Connect(fd, sa)
	}
	if err != nil && err != syscall.EISCONN {
		syscall.Close(fd)
		t.Fatal(err)
	}
	pkt := connectPkt(id, true, 0, nil)
	for len(pkt) > 0 {
		n, err := syscall.Write(fd, pkt)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(fd)
			t.Fatal(err)
		}
		pkt = pkt[n:]
	}
	ack := make([]byte, 4)
	for got := 0; got < len(ack); {
		n, err := syscall.Read(fd, ack[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			syscall.Close(fd)
			t.Fatalf("no CONNACK: %v % x", err, ack[:got])
		}
		got += n
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		syscall.Close(fd)
		t.Fatalf("CONNACK % x, want 20 02 00 00", ack)
	}
	return fd
}
