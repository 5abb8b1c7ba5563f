//go:build !nossl

package main

// connect_timeout bounds the TLS handshake and the WebSocket upgrade too:
// a socket that connects to a TLS or WebSocket listener and then says
// nothing is closed after connect_timeout, as on a plain MQTT listener,
// not after transport's fixed 10 s default. Helpers from tls_ws_test.go.

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestTLSWebSocketHandshakeHonourConnectTimeout(t *testing.T) {
	pki := twNewPKI(t)
	_, ports := twStart(t, 4, func(p []string) string {
		return "connect_timeout 1\n" +
			"listener " + p[0] + " 127.0.0.1\n" +
			"listener " + p[1] + " 127.0.0.1\n" + pki.serverLines +
			"listener " + p[2] + " 127.0.0.1\nprotocol websockets\n" +
			"listener " + p[3] + " 127.0.0.1\nprotocol websockets\n" + pki.serverLines
	})
	const (
		timeout = time.Second
		// Generous bounds for a noisy machine: well before the old fixed
		// 10 s, and not before the timeout (less a little clock slack).
		early = timeout - 100*time.Millisecond
		late  = 6 * time.Second
	)
	for i, name := range []string{"plain MQTT", "TLS", "WebSocket", "WebSocket over TLS"} {
		port := ports[i]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(15 * time.Second))
			n, err := io.Copy(io.Discard, c) // until the broker closes the silent socket
			took := time.Since(start)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s listener: a silent socket was still open after %v (connect_timeout 1)", name, took.Round(time.Millisecond))
			}
			if took > late || took < early {
				t.Errorf("%s listener: a silent socket was closed after %v (%d bytes, %v), want about connect_timeout 1s (between %v and %v)",
					name, took.Round(time.Millisecond), n, err, early, late)
			}
		})
	}
}
