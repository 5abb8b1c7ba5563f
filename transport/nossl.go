//go:build nossl

package transport

// Built with -tags nossl: no crypto/tls, no net/http, no WebSocket library
// in the binary. Listen refuses TLS and WebSocket listeners with ErrNotBuilt.

func newTLSLayer(TLSOptions) (layer, func() error, error) { return nil, nil, ErrNotBuilt }

func newWSLayer() (layer, error) { return nil, ErrNotBuilt }
