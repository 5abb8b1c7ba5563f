//go:build nossl

package transport

// Built with -tags nossl: no crypto/tls (nor crypto/x509) in the binary.
// Listen refuses TLS listeners, WebSocket over TLS included, with
// ErrNotBuilt; plain WebSocket listeners work, as they need no TLS.

func newTLSLayer(TLSOptions) (layer, func() error, error) { return nil, nil, ErrNotBuilt }
