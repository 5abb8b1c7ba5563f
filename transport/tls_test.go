//go:build !nossl

package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cnEcho is a Handler that first writes "CN=<PeerCN>\n", then echoes; it
// counts its calls in n.
func cnEcho(n *atomic.Int64) Handler {
	return func(ctx context.Context, c net.Conn, info ConnInfo) {
		n.Add(1)
		defer c.Close()
		fmt.Fprintf(c, "CN=%s\n", info.PeerCN)
		_, _ = io.Copy(c, c)
	}
}

// tlsDial connects with cfg and returns the connection and the greeting
// line, or the first error of the handshake or the read.
func tlsDial(t *testing.T, addr net.Addr, cfg *tls.Config) (*tls.Conn, string, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr.String(), cfg)
	if err != nil {
		return nil, "", err
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	return c, strings.TrimSpace(line), nil
}

func TestTLSListener(t *testing.T) {
	pki := newPKI(t)
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}})

	c, greeting, err := tlsDial(t, addr, clientConfig(pki.ca.pool))
	if err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}
	if greeting != "CN=" {
		t.Fatalf("greeting %q: no client certificate was asked for, PeerCN must be empty", greeting)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated %x, want TLS 1.3", v)
	}
	roundTrip(t, c, "over tls")

	_, _, err = tlsDial(t, addr, clientConfig(pki.other.pool))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("client trusting another CA: err = %v, want x509.UnknownAuthorityError", err)
	}

	old := clientConfig(pki.ca.pool)
	old.MaxVersion = tls.VersionTLS11
	old.MinVersion = tls.VersionTLS10
	if _, _, err := tlsDial(t, addr, old); err == nil {
		t.Fatal("a TLS 1.1 client was accepted; the default minimum is 1.2")
	}

	// A plain client speaking MQTT gets no handler.
	raw := dial(t, addr)
	_, _ = raw.Write([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0})
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, raw) // until the server closes
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1 (failed handshakes must not reach it)", n)
	}
}

func TestTLSRequireCertificate(t *testing.T) {
	pki := newPKI(t)
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{
		CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, RequireCertificate: true,
	}})
	if _, _, err := tlsDial(t, addr, clientConfig(pki.ca.pool)); err == nil {
		t.Error("client without a certificate accepted")
	}
	if _, _, err := tlsDial(t, addr, clientConfig(pki.ca.pool, pki.stranger)); err == nil {
		t.Error("client certificate from an unknown CA accepted")
	}
	c, greeting, err := tlsDial(t, addr, clientConfig(pki.ca.pool, pki.client))
	if err != nil {
		t.Fatalf("client with a good certificate: %v", err)
	}
	if greeting != "CN=device-1" {
		t.Fatalf("greeting %q, want CN=device-1", greeting)
	}
	roundTrip(t, c, "mutual")
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
	// TLS 1.2 reports the client certificate the same way.
	c12 := clientConfig(pki.ca.pool, pki.client)
	c12.MaxVersion = tls.VersionTLS12
	if _, greeting, err := tlsDial(t, addr, c12); err != nil || greeting != "CN=device-1" {
		t.Fatalf("TLS 1.2 with client certificate: %q, %v", greeting, err)
	}
}

func TestTLSReload(t *testing.T) {
	pki := newPKI(t)
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", Name: "tls-main", TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}})
	_ = listen(t, s, ListenerConfig{Address: "127.0.0.1:0"}) // plain listeners are skipped by ReloadTLS
	serverCN := func(c *tls.Conn) string { return c.ConnectionState().PeerCertificates[0].Subject.CommonName }

	c1, _, err := tlsDial(t, addr, clientConfig(pki.ca.pool))
	if err != nil || serverCN(c1) != "server-1" {
		t.Fatalf("first connection: %v", err)
	}
	pki.writeServer(t, pki.ca, "server-2")
	if err := s.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	roundTrip(t, c1, "still here after reload")
	c2, _, err := tlsDial(t, addr, clientConfig(pki.ca.pool))
	if err != nil || serverCN(c2) != "server-2" {
		t.Fatalf("after reload: err %v", err)
	}

	// Broken files: the error names the listener and the old certificate stays.
	writeFile(t, pki.keyFile, []byte("not a key"))
	err = s.ReloadTLS()
	if err == nil || !strings.Contains(err.Error(), "tls-main") {
		t.Fatalf("ReloadTLS with a broken key: %v", err)
	}
	c3, _, err := tlsDial(t, addr, clientConfig(pki.ca.pool))
	if err != nil || serverCN(c3) != "server-2" {
		t.Fatalf("after a failed reload: err %v", err)
	}
	roundTrip(t, c1, "and still here")
}

func TestTLSConfigErrors(t *testing.T) {
	pki := newPKI(t)
	mismatchKey := pki.keyFile + ".other"
	_, keyPEM, _ := pki.ca.issue(t, "y", true)
	writeFile(t, mismatchKey, keyPEM)
	cases := []struct {
		name                string
		ca, cert, key, vers string
		require             bool
		msg                 string
	}{
		{"no cert", "", "", pki.keyFile, "", false, "both certfile and keyfile"},
		{"no key", "", pki.certFile, "", "", false, "both certfile and keyfile"},
		{"missing cert", "", pki.certFile + ".missing", pki.keyFile, "", false, "no such file"},
		{"key mismatch", "", pki.certFile, mismatchKey, "", false, "private key does not match"},
		{"bad version", "", pki.certFile, pki.keyFile, "tlsv1.0", false, "tls_version"},
		{"require without cafile", "", pki.certFile, pki.keyFile, "", true, "needs cafile"},
		{"cafile not PEM", pki.keyFile, pki.certFile, pki.keyFile, "", true, "no PEM certificate"},
		{"cafile missing", pki.caFile + ".missing", pki.certFile, pki.keyFile, "", true, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := TLSConfig(c.ca, c.cert, c.key, c.require, c.vers)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %q", err, c.msg)
			}
		})
	}
	for _, v := range []string{"", "tlsv1.1", "tlsv1.2", "tlsv1.3"} {
		if _, _, err := TLSConfig("", pki.certFile, pki.keyFile, false, v); err != nil {
			t.Errorf("tls_version %q: %v", v, err)
		}
	}
	s := newServer(t, echo, 0)
	if _, err := s.Listen(ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: pki.certFile}}); err == nil ||
		!strings.Contains(err.Error(), "127.0.0.1:0") {
		t.Fatalf("Listen with bad TLS options: %v", err)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	pki := newPKI(t)
	var calls atomic.Int64
	s := newServer(t, cnEcho(&calls), 0)
	addr := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", HandshakeTimeout: 100 * time.Millisecond,
		TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}})
	c := dial(t, addr) // connects and never speaks
	checkFor(t, 5*time.Second, func() error {
		if s.Connections() != 1 {
			return fmt.Errorf("connections = %d, want 1 while the handshake waits", s.Connections())
		}
		return nil
	})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, ErrServerClosed) {
		t.Fatalf("read on a silent TLS connection: %v, want the server to close it", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("server did not close the silent connection at the handshake deadline")
	}
	checkFor(t, 5*time.Second, func() error {
		if s.Connections() != 0 {
			return fmt.Errorf("connections = %d after the deadline", s.Connections())
		}
		return nil
	})
	if calls.Load() != 0 {
		t.Fatal("handler called for a connection that never completed the handshake")
	}
}

// TestHandshakeTimeoutBounds: with HandshakeTimeout 1s, a socket that
// connects to a TLS or a WebSocket listener and sends nothing is closed
// after about a second: not before, and well before the 10 s default.
func TestHandshakeTimeoutBounds(t *testing.T) {
	pki := newPKI(t)
	const timeout = time.Second
	for _, c := range []struct {
		name string
		cfg  ListenerConfig
	}{
		{"TLS", ListenerConfig{TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}}},
		{"WebSocket", ListenerConfig{WebSocket: true}},
		{"WebSocket over TLS", ListenerConfig{WebSocket: true, TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			s := newServer(t, cnEcho(&calls), 0)
			cfg := c.cfg
			cfg.Address, cfg.HandshakeTimeout = "127.0.0.1:0", timeout
			conn := dial(t, listen(t, s, cfg))
			start := time.Now()
			_ = conn.SetReadDeadline(start.Add(15 * time.Second))
			_, err := io.Copy(io.Discard, conn)
			took := time.Since(start)
			if isTimeout(err) || took < timeout-100*time.Millisecond || took > 6*time.Second {
				t.Fatalf("silent connection closed after %v (%v), want about %v", took.Round(time.Millisecond), err, timeout)
			}
			if calls.Load() != 0 {
				t.Fatal("handler called for a connection that never completed the handshake")
			}
		})
	}
}
