package transport

// Outgoing connections: a bridge's link to its upstream broker, over TCP
// or TLS, with the bridge_* settings of mosquitto.conf.

import (
	"context"
	"net"

	"gatemq/internal/fmt"
)

// DialFunc opens a connection to address (host:port), ready for MQTT bytes;
// ctx bounds the TCP connect and the TLS handshake.
type DialFunc func(ctx context.Context, address string) (net.Conn, error)

// DialOptions are how a bridge connects to its upstream.
type DialOptions struct {
	// BindAddress (bridge_bind_address) is the local IP address the
	// connection leaves from; "" lets the system choose.
	BindAddress string
	// TLS makes the connection a TLS one; nil is plain TCP.
	TLS *ClientTLSOptions
}

// ClientTLSOptions are a bridge's TLS settings, named after their
// mosquitto.conf directives.
type ClientTLSOptions struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// CAFile (bridge_cafile) and CAPath (bridge_capath, its *.pem and
	// *.crt files) hold the CAs the upstream's certificate must chain to;
	// at least one is required.
	CAFile, CAPath string
	// CertFile (bridge_certfile) and KeyFile (bridge_keyfile) are the
	// bridge's own certificate and key (PEM), for upstreams that require
	// one; both or neither.
	CertFile, KeyFile string
	// Version (bridge_tls_version) is the lowest TLS version: "tlsv1.3",
	// "tlsv1.2" (also when empty) or "tlsv1.1".
	Version string
	// ALPN (bridge_alpn) is the protocol offered in the handshake's ALPN
	// extension; "" offers none.
	ALPN string
	// Insecure (bridge_insecure) skips the check that the certificate
	// names the host dialled; it must still chain to the CAs, as in
	// Mosquitto.
	Insecure bool
}

// NewDialer returns the dial function of o. It reads the certificate and
// key files now, so a missing or broken one is reported here, at start,
// rather than at the first connection (the files are not read again). A
// TLS connection checks the upstream's certificate against the host of the
// address dialled (an IP address against the certificate's IP addresses).
// Connections have TCP keep-alive on, as accepted ones do. Built with -tags
// nossl, a TLS dialer is refused with ErrNotBuilt.
func NewDialer(o DialOptions) (DialFunc, error) {
	d := &net.Dialer{KeepAliveConfig: keepAlive}
	if o.BindAddress != "" {
		ip := net.ParseIP(o.BindAddress)
		if ip == nil {
			return nil, fmt.Errorf("transport: bridge_bind_address %q is not an IP address", o.BindAddress)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	if o.TLS != nil {
		return newTLSDialer(d, *o.TLS)
	}
	return func(ctx context.Context, address string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", address)
	}, nil
}
