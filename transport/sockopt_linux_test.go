package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestAcceptedSocketOptions reads TCP_NODELAY and SO_KEEPALIVE (and the
// keep-alive timings) back from an accepted socket.
func TestAcceptedSocketOptions(t *testing.T) {
	type opts struct{ nodelay, keepalive, idle, intvl, cnt int }
	got := make(chan opts, 1)
	errs := make(chan error, 1)
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			errs <- err
			return
		}
		var o opts
		var gerr error
		get := func(fd uintptr, level, name int) int {
			v, err := syscall.GetsockoptInt(int(fd), level, name)
			if err != nil && gerr == nil {
				gerr = err
			}
			return v
		}
		err = rc.Control(func(fd uintptr) {
			o.nodelay = get(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
			o.keepalive = get(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			o.idle = get(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			o.intvl = get(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			o.cnt = get(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		})
		if err == nil {
			err = gerr
		}
		if err != nil {
			errs <- err
			return
		}
		got <- o
	}, 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0"})
	dial(t, addr)
	select {
	case err := <-errs:
		t.Fatal(err)
	case o := <-got:
		want := opts{1, 1, int(keepAliveIdle.Seconds()), int(keepAliveInterval.Seconds()), keepAliveCount}
		if o != want {
			t.Fatalf("socket options = %+v, want %+v", o, want)
		}
	}
}

// TestIPv6ListenerIsV6Only reads IPV6_V6ONLY back from the socket of a
// listener on "::": Go's "tcp6" sets it, and the broker relies on that to
// keep `listener 1883 ::` off IPv4.
func TestIPv6ListenerIsV6Only(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback")
	}
	for _, c := range []struct {
		address string
		want    int
	}{{"[::]:0", 1}, {":0", 0}} {
		s := newServer(t, echo, 0)
		listen(t, s, ListenerConfig{Network: "tcp", Address: c.address})
		s.mu.Lock()
		ln := s.listeners[0].ln.(*net.TCPListener)
		s.mu.Unlock()
		rc, err := ln.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		if err := rc.Control(func(fd uintptr) {
			v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY)
		}); err != nil {
			t.Fatal(err)
		}
		if gerr != nil {
			t.Fatalf("%s: getsockopt IPV6_V6ONLY: %v", c.address, gerr)
		}
		if v != c.want {
			t.Errorf("listener on %s: IPV6_V6ONLY = %d, want %d", c.address, v, c.want)
		}
	}
}

// TestNagleOption checks that ListenerConfig.Nagle leaves TCP_NODELAY off
// on accepted sockets (Mosquitto's set_tcp_nodelay false).
func TestNagleOption(t *testing.T) {
	got := make(chan int, 1)
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		rc, _ := c.(*net.TCPConn).SyscallConn()
		_ = rc.Control(func(fd uintptr) {
			v, _ := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
			got <- v
		})
	}, 0)
	dial(t, listen(t, s, ListenerConfig{Address: "127.0.0.1:0", Nagle: true}))
	if v := <-got; v != 0 {
		t.Errorf("TCP_NODELAY = %d with Nagle, want 0", v)
	}
}

// TestBindInterface binds a listener to the loopback interface
// (SO_BINDTODEVICE, which needs CAP_NET_RAW) and reads the option back;
// an unknown interface is an error naming it.
func TestBindInterface(t *testing.T) {
	s := newServer(t, echo, 0)
	addr, err := s.Listen(ListenerConfig{Address: "127.0.0.1:0", Interface: "lo"})
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("SO_BINDTODEVICE needs CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dial(t, addr), "via lo")
	s.mu.Lock()
	ln := s.listeners[0].ln.(*net.TCPListener)
	s.mu.Unlock()
	rc, _ := ln.SyscallConn()
	buf := make([]byte, 16)
	n := uint32(len(buf))
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	})
	if dev := strings.TrimRight(string(buf[:n]), "\x00"); dev != "lo" {
		t.Errorf("SO_BINDTODEVICE = %q, want lo", dev)
	}
	if _, err := s.Listen(ListenerConfig{Address: "127.0.0.1:0", Interface: "no-such-if0"}); err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Errorf("unknown interface: %v", err)
	}
}

// TestUnixSocketListener listens on a Unix socket, replacing a stale
// socket file, and removes the file when it stops.
func TestUnixSocketListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the socket file stays, as after a crash
	s := NewServer(echo, nil, 0)
	addr, err := s.Listen(ListenerConfig{Network: "unix", Address: path})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	roundTrip(t, c, "over a unix socket")
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after shutdown: %v", err)
	}
}
