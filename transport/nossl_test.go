//go:build nossl

package transport

import (
	"errors"
	"testing"
)

// TestNoSSLRefusesTLS: without TLS in the binary, TLS listeners (WebSocket
// over TLS included) are refused with ErrNotBuilt; plain TCP and plain
// WebSocket listeners work (ws_test.go tests the latter in both builds).
func TestNoSSLRefusesTLS(t *testing.T) {
	s := newServer(t, echo, 0)
	for _, cfg := range []ListenerConfig{
		{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: "c", KeyFile: "k"}},
		{Address: "127.0.0.1:0", WebSocket: true, TLS: &TLSOptions{CertFile: "c", KeyFile: "k"}},
	} {
		if _, err := s.Listen(cfg); !errors.Is(err, ErrNotBuilt) {
			t.Errorf("Listen(%+v) = %v, want ErrNotBuilt", cfg, err)
		}
	}
	listen(t, s, ListenerConfig{Address: "127.0.0.1:0"}) // plain TCP still works
	ws := dialWS(t, listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true}))
	ws.send(t, frame(finBinary, []byte("no TLS needed"), -1, false))
	if got, _ := ws.readData(t, 13); string(got) != "no TLS needed" {
		t.Errorf("echo over WebSocket: %q", got)
	}
	if err := s.ReloadTLS(); err != nil {
		t.Errorf("ReloadTLS without TLS listeners: %v", err)
	}
}
