//go:build !nossl

package main

// The bridges' Dial (wiring.go's bridgeConfigs, transport.NewDialer)
// against local TLS and TCP servers, with the certificates of twNewPKI
// (tls_ws_test.go).

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialServer is a TLS (or, with a nil config, TCP) server on addr that
// echoes one message per connection and reports each connection's TLS
// state and peer address.
type dialServer struct {
	addr  string
	conns chan dialSeen
}

// dialSeen is what the server saw of one connection.
type dialSeen struct {
	state  tls.ConnectionState
	remote net.Addr
	err    error // of the handshake
}

func newDialServer(t *testing.T, addr string, cfg *tls.Config) *dialServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s here: %v", addr, err)
	}
	s := &dialServer{addr: ln.Addr().String(), conns: make(chan dialSeen, 8)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			seen := dialSeen{remote: c.RemoteAddr()}
			if cfg != nil {
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				seen.err = tc.Handshake()
				seen.state = tc.ConnectionState()
				c = tc
			}
			s.conns <- seen
			if seen.err == nil {
				buf := make([]byte, 5)
				if n, err := c.Read(buf); err == nil {
					_, _ = c.Write(buf[:n])
				}
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return s
}

// seen returns what the server saw of the next connection.
func (s *dialServer) seen(t *testing.T) dialSeen {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no connection")
		return dialSeen{}
	}
}

// bridgeDial parses a config with one bridge to address plus lines,
// builds its Dial and dials.
func bridgeDial(t *testing.T, address, lines string) (net.Conn, error) {
	t.Helper()
	text := "connection cloud\naddress " + address + "\ntopic #\n" + lines
	c, err := parseConfText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := bridgeConfigs(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Dial == nil || bs[0].Name != "cloud" {
		t.Fatalf("bridgeConfigs = %+v", bs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return bs[0].Dial(ctx, bs[0].Addresses[0])
}

// dialBridge is bridgeDial, then an echo of "hello" over the connection.
func dialBridge(t *testing.T, address, lines string) error {
	t.Helper()
	conn, err := bridgeDial(t, address, lines)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hello" {
		return fmt.Errorf("echo %q: %v", buf, err)
	}
	return nil
}

// TestBridgeDialTLS: the bridge checks the upstream's certificate against
// bridge_cafile and the host, presents bridge_certfile, offers bridge_alpn
// and holds to bridge_tls_version.
func TestBridgeDialTLS(t *testing.T) {
	pki := twNewPKI(t)
	srv := newDialServer(t, "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.server.pair},
		ClientCAs:    pki.ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		NextProtos:   []string{"mqtt", "x-other"},
	})
	lines := fmt.Sprintf("bridge_cafile %s\nbridge_certfile %s\nbridge_keyfile %s\nbridge_alpn mqtt\nbridge_tls_version tlsv1.3\n",
		pki.ca.file, pki.alice.certFile, pki.alice.keyFile)
	if err := dialBridge(t, srv.addr, lines); err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	s := srv.seen(t)
	switch {
	case s.err != nil:
		t.Fatalf("server handshake: %v", s.err)
	case s.state.NegotiatedProtocol != "mqtt":
		t.Errorf("ALPN: the server negotiated %q, want mqtt", s.state.NegotiatedProtocol)
	case s.state.Version != tls.VersionTLS13:
		t.Errorf("TLS version %x, want TLS 1.3", s.state.Version)
	case len(s.state.PeerCertificates) == 0 || s.state.PeerCertificates[0].Subject.CommonName != "alice":
		t.Errorf("the server did not get alice's certificate: %v", s.state.PeerCertificates)
	}

	// By name: the certificate is valid for localhost too (ServerName
	// from the address's host).
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	if err := dialBridge(t, "localhost:"+port, lines); err != nil {
		t.Errorf("TLS dial by name: %v", err)
	}
	srv.seen(t)

	// A CA that did not sign the server's certificate: refused.
	if err := dialBridge(t, srv.addr, "bridge_cafile "+pki.other.file+"\nbridge_certfile "+pki.alice.certFile+
		"\nbridge_keyfile "+pki.alice.keyFile+"\n"); err == nil {
		t.Error("a server certificate from another CA was accepted")
	}
	srv.seen(t)

	// capath instead of cafile.
	dir := t.TempDir()
	ca, err := os.ReadFile(pki.ca.file)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.crt", string(ca))
	if err := dialBridge(t, srv.addr, "bridge_capath "+dir+"\nbridge_certfile "+pki.alice.certFile+"\nbridge_keyfile "+pki.alice.keyFile+"\n"); err != nil {
		t.Errorf("TLS dial with bridge_capath: %v", err)
	}
	srv.seen(t)
}

// TestBridgeDialTLSInsecure: the server's certificate names 127.0.0.1 and
// localhost, not 127.0.0.2; bridge_insecure lets that pass, as in
// Mosquitto, but not a certificate from another CA.
func TestBridgeDialTLSInsecure(t *testing.T) {
	pki := twNewPKI(t)
	srv := newDialServer(t, "127.0.0.2:0", &tls.Config{Certificates: []tls.Certificate{pki.server.pair}})
	if err := dialBridge(t, srv.addr, "bridge_cafile "+pki.ca.file+"\n"); err == nil || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("a certificate for another host was accepted, or not for that reason: %v", err)
	}
	srv.seen(t)
	if err := dialBridge(t, srv.addr, "bridge_cafile "+pki.ca.file+"\nbridge_insecure true\n"); err != nil {
		t.Errorf("bridge_insecure: %v", err)
	}
	srv.seen(t)
	if err := dialBridge(t, srv.addr, "bridge_cafile "+pki.other.file+"\nbridge_insecure true\n"); err == nil {
		t.Error("bridge_insecure accepted a certificate from another CA")
	}
	srv.seen(t)
}

// TestBridgeDialBindAddress: a plain TCP bridge leaves from
// bridge_bind_address.
func TestBridgeDialBindAddress(t *testing.T) {
	srv := newDialServer(t, "127.0.0.1:0", nil)
	if err := dialBridge(t, srv.addr, "bridge_bind_address 127.0.0.3\n"); err != nil {
		t.Fatalf("TCP dial: %v", err)
	}
	if s := srv.seen(t); !strings.HasPrefix(s.remote.String(), "127.0.0.3:") {
		t.Errorf("the connection came from %v, want 127.0.0.3", s.remote)
	}
}

// TestBridgeCertificateErrorsAtStart: a missing or broken certificate file
// is an error when the bridges are built, at start, at the bridge's
// connection line; every bridge's error is reported.
func TestBridgeCertificateErrorsAtStart(t *testing.T) {
	pki := twNewPKI(t)
	dir := t.TempDir()
	empty := t.TempDir()
	text := "connection missing\naddress h\ntopic t\nbridge_cafile " + dir + "/none.pem\n" + // 1
		"connection notpem\naddress h\ntopic t\nbridge_cafile " + pki.alice.keyFile + "\n" + // 5
		"connection wrongkey\naddress h\ntopic t\nbridge_cafile " + pki.ca.file + "\nbridge_certfile " + pki.alice.certFile +
		"\nbridge_keyfile " + pki.server.keyFile + "\n" + // 9
		"connection emptydir\naddress h\ntopic t\nbridge_capath " + empty + "\n" + // 15
		"connection fine\naddress h\ntopic t\nbridge_cafile " + pki.ca.file + "\n" // 19
	c, err := parseConfText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := bridgeConfigs(c)
	if bs != nil || err == nil {
		t.Fatalf("bridgeConfigs = %v, %v; want an error", bs, err)
	}
	want := []string{
		"test.conf:1: bridge missing: transport: bridge_cafile: open " + dir + "/none.pem",
		"test.conf:5: bridge notpem: transport: bridge_cafile " + pki.alice.keyFile + ": no PEM certificate found",
		"test.conf:9: bridge wrongkey: transport: bridge_certfile " + pki.alice.certFile,
		"test.conf:15: bridge emptydir: transport: bridge_capath " + empty + ": no PEM certificate",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("errors:\n%v\nwant %d", err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want it to start %q", i, lines[i], w)
		}
	}
}

// TestBridgeHarnessUpstreamTLS: the upstream's TLS listener, with client
// certificates required, takes the bridge's TLS connection and answers its
// MQTT CONNECT; without the client certificate it does not.
func TestBridgeHarnessUpstreamTLS(t *testing.T) {
	pki := twNewPKI(t)
	u := startMosquittoUpstream(t, upstreamOptions{CertFile: pki.server.certFile, KeyFile: pki.server.keyFile,
		CAFile: pki.ca.file, RequireCertificate: true})
	c, err := bridgeDial(t, u.tlsAddr, "bridge_cafile "+pki.ca.file+"\nbridge_certfile "+pki.alice.certFile+
		"\nbridge_keyfile "+pki.alice.keyFile+"\n")
	if err != nil {
		t.Fatalf("TLS dial to mosquitto: %v", err)
	}
	defer c.Close()
	mqttConnectOn(t, c, "bridge-tls")

	c2, err := bridgeDial(t, u.tlsAddr, "bridge_cafile "+pki.ca.file+"\n")
	if err == nil {
		defer c2.Close()
		// TLS 1.3: the server refuses the missing certificate after the
		// client's handshake is done, on the first read.
		if _, err = readSome(c2, 1, 5*time.Second); err == nil || isTimeout(err) {
			t.Errorf("mosquitto took a TLS connection without the required client certificate: %v", err)
		}
	}
}

// TestBridgeTLS bridges over TLS: to mosquitto's TLS listener, which
// requires a client certificate (bridge_cafile, bridge_certfile,
// bridge_keyfile), and through a TLS front that, like AWS IoT Core on port
// 443, only completes the handshake for the ALPN protocol x-amzn-mqtt-ca
// (bridge_alpn).
func TestBridgeTLS(t *testing.T) {
	pki := twNewPKI(t)
	up := startMosquittoUpstream(t, upstreamOptions{CertFile: pki.server.certFile, KeyFile: pki.server.keyFile,
		CAFile: pki.ca.file, RequireCertificate: true})
	certs := "bridge_cafile " + pki.ca.file + "\nbridge_certfile " + pki.alice.certFile + "\nbridge_keyfile " + pki.alice.keyFile + "\n"

	t.Run("client certificate", func(t *testing.T) {
		upCol := &collector{}
		pahoClient(t, up.addr, "up-sub", true, 1, upCol, "sensors/#")
		b := startBridged(t, up.tlsAddr, "tls", "topic sensors/# out 1\n"+certs)
		pub := pahoClient(t, b.addr, "pub", true, 0, nil)
		publishAll(t, pub, "sensors/t", 1, "over-tls")
		expectLines(t, "upstream subscriber", upCol.waitFor(1, bridgeWait), []string{"sensors/t over-tls"})
	})

	t.Run("alpn", func(t *testing.T) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server.pair},
			NextProtos: []string{"x-amzn-mqtt-ca"}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		var protos sync.Map
		go func() { // the front: TLS with ALPN outside, plain MQTT to mosquitto inside
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					tc := c.(*tls.Conn)
					if tc.Handshake() != nil {
						return
					}
					protos.Store(tc.ConnectionState().NegotiatedProtocol, true)
					in, err := net.Dial("tcp", up.addr)
					if err != nil {
						return
					}
					defer in.Close()
					go io.Copy(in, c)
					io.Copy(c, in)
				}()
			}
		}()
		upCol := &collector{}
		pahoClient(t, up.addr, "up-sub2", true, 1, upCol, "sensors/#")
		b := startBridged(t, ln.Addr().String(), "aws", "topic sensors/# out 1\nbridge_alpn x-amzn-mqtt-ca\nbridge_cafile "+pki.ca.file+"\n")
		pub := pahoClient(t, b.addr, "pub2", true, 0, nil)
		publishAll(t, pub, "sensors/t", 1, "over-alpn")
		expectLines(t, "upstream subscriber", upCol.waitFor(1, bridgeWait), []string{"sensors/t over-alpn"})
		if _, ok := protos.Load("x-amzn-mqtt-ca"); !ok {
			t.Errorf("the front never negotiated x-amzn-mqtt-ca")
		}
	})
}
