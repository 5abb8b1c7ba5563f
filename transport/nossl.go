//go:build nossl

package transport

// Built with -tags nossl: no crypto/tls (nor crypto/x509) in the binary.
// Listen refuses TLS listeners, WebSocket over TLS included, and NewDialer
// TLS bridges, with ErrNotBuilt; plain WebSocket listeners work, as they
// need no TLS.

import "net"

func newTLSLayer(TLSOptions) (layer, func() error, error) { return nil, nil, ErrNotBuilt }

func newTLSDialer(*net.Dialer, ClientTLSOptions) (DialFunc, error) { return nil, ErrNotBuilt }
