//go:build nossl

package transport

import (
	"errors"
	"testing"
)

func TestNoSSLRefusesTLSAndWebSocket(t *testing.T) {
	s := newServer(t, echo, 0)
	for _, cfg := range []ListenerConfig{
		{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: "c", KeyFile: "k"}},
		{Address: "127.0.0.1:0", WebSocket: true},
	} {
		if _, err := s.Listen(cfg); !errors.Is(err, ErrNotBuilt) {
			t.Errorf("Listen(%+v) = %v, want ErrNotBuilt", cfg, err)
		}
	}
	listen(t, s, ListenerConfig{Address: "127.0.0.1:0"}) // plain TCP still works
	if err := s.ReloadTLS(); err != nil {
		t.Errorf("ReloadTLS without TLS listeners: %v", err)
	}
}
