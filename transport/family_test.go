package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// hasIPv6Loopback reports whether this machine can bind [::1].
func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// bannerServer returns a server whose handler writes banner on every
// connection and closes it, so a test can tell its own listener from
// another process's socket that happens to hold the same port number in
// the other address family.
func bannerServer(t *testing.T) (*Server, string) {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	banner := "gatemq-family-" + hex.EncodeToString(b) + "\n"
	s := newServer(t, func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		_, _ = io.WriteString(c, banner)
	}, 0)
	return s, banner
}

// reaches reports whether a TCP connection to host:port reaches the
// server that writes banner.
func reaches(t *testing.T, host string, port int, banner string) bool {
	t.Helper()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, _ := io.ReadAll(io.LimitReader(c, int64(len(banner))))
	if string(got) != banner {
		t.Logf("%s: connected, but to a socket that is not this test's (%q)", addr, got)
		return false
	}
	return true
}

// TestListenBindsTheAddressFamily: an IPv4 address binds IPv4 only (Go's
// "tcp" on 0.0.0.0 would make a dual-stack socket and expose the broker on
// IPv6 unasked), an IPv6 address binds IPv6 only (IPV6_V6ONLY), and no
// address binds both families, as Mosquitto does.
func TestListenBindsTheAddressFamily(t *testing.T) {
	v6 := hasIPv6Loopback()
	if !v6 {
		t.Log("no IPv6 loopback on this machine: checking the IPv4 half only")
	}
	for _, c := range []struct {
		network, address string
		needV6           bool // the listen itself needs IPv6
		wantV4, wantV6   bool
	}{
		{"tcp", "0.0.0.0:0", false, true, false},
		{"", "0.0.0.0:0", false, true, false},
		{"tcp", "127.0.0.1:0", false, true, false},
		{"tcp", "[::]:0", true, false, true},
		{"", "[::]:0", true, false, true},
		{"tcp", "[::1]:0", true, false, true},
		{"tcp", ":0", false, true, true},
		{"", ":0", false, true, true},
		{"tcp4", ":0", false, true, false},
		{"tcp6", ":0", true, false, true},
	} {
		t.Run(c.network+" "+c.address, func(t *testing.T) {
			if c.needV6 && !v6 {
				t.Skip("no IPv6 loopback")
			}
			s, banner := bannerServer(t)
			addr := listen(t, s, ListenerConfig{Network: c.network, Address: c.address})
			port := addr.(*net.TCPAddr).Port
			if got := reaches(t, "127.0.0.1", port, banner); got != c.wantV4 {
				t.Errorf("listening on %q %q: connection from 127.0.0.1 accepted = %v, want %v", c.network, c.address, got, c.wantV4)
			}
			if !v6 {
				return
			}
			if got := reaches(t, "::1", port, banner); got != c.wantV6 {
				t.Errorf("listening on %q %q: connection from ::1 accepted = %v, want %v", c.network, c.address, got, c.wantV6)
			}
		})
	}
}
