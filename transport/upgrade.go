package transport

// TLS and WebSocket listeners
//
// A listener with ListenerConfig.TLS and/or WebSocket runs its handshakes in
// the connection's own goroutine, after the connection limits admitted it
// and before the handler is called, all within HandshakeTimeout; a failed
// or late handshake closes the connection without calling the handler (it
// is logged at debug level). The handler then gets a TLS connection (a
// *tls.Conn inside a stream that can hand its socket to a poller while it
// is idle: tls_park.go) or a WebSocket byte stream as its net.Conn, and
// ConnInfo.PeerCN carries the verified client certificate's Common Name.
//
// WebSocket (RFC 6455, in this package: ws_handshake.go, ws_conn.go): one
// HTTP/1.1 upgrade request (at most 8 KiB, else 431) per connection, any
// path, any Origin (MQTT authenticates in CONNECT, not with cookies); the
// subprotocol answered is "mqtt" (or "mqttv3.1" for old clients), and a
// client that offers neither is still accepted, without one. A request
// that is not a WebSocket upgrade is answered 400 (405 if not GET, 426 if
// not version 13) and closed. MQTT travels in binary messages
// [MQTT-6.0.0-1]: a text message ends the connection (close code 1003).
// Each handler Write is one binary message; Read returns the payloads as
// one byte stream and answers pings. No net/http and no WebSocket library
// are linked.
//
// Building with -tags nossl leaves crypto/tls and crypto/x509 out of the
// binary; TLS listeners (WebSocket over TLS included) then fail in Listen
// with ErrNotBuilt, and TLSConfig and CertReloader do not exist. Plain
// WebSocket listeners are in both builds.

import (
	"context"
	"errors"
	"net"
	"time"

	"gatemq/internal/fmt"
)

// TLSOptions are a listener's TLS settings, named after their mosquitto.conf
// directives. The certificate, key and CA files are read by Listen and again
// by Server.ReloadTLS.
type TLSOptions struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// CAFile (cafile) holds the PEM certificates of the CAs that sign client
	// certificates. Required when RequireCertificate is set.
	CAFile string
	// CAPath (capath) is a folder whose *.pem and *.crt files hold more
	// such CAs; with it, CAFile may be empty.
	CAPath string
	// CRLFile (crlfile) is a certificate revocation list (PEM or DER): a
	// client certificate it revokes is refused. Reloaded with the rest.
	CRLFile string
	// CertFile (certfile) and KeyFile (keyfile) hold the server's PEM
	// certificate chain and private key. Both are required.
	CertFile, KeyFile string
	// RequireCertificate (require_certificate) makes clients present a
	// certificate signed by a CA of CAFile; the handshake fails otherwise.
	// Without it no client certificate is asked for, as in Mosquitto.
	RequireCertificate bool
	// Version (tls_version) is the minimum TLS version: "tlsv1.3",
	// "tlsv1.2" (also when empty) or "tlsv1.1".
	Version string
}

// ErrNotBuilt is returned by Listen for a TLS listener (WebSocket over TLS
// included) when the binary was built with -tags nossl, which leaves TLS
// out.
var ErrNotBuilt = errors.New("transport: TLS listeners are not in this binary (built with -tags nossl)")

// defaultHandshakeTimeout bounds the TLS and WebSocket handshakes when
// ListenerConfig.HandshakeTimeout is 0.
const defaultHandshakeTimeout = 10 * time.Second

// layer turns an accepted connection into the one the handler gets (a TLS
// or WebSocket handshake), filling in info; it returns an error if the
// handshake fails. The caller closes c then.
type layer func(ctx context.Context, c net.Conn, info *ConnInfo) (net.Conn, error)

// buildLayers returns the handshakes a listener needs (nil for plain TCP)
// and, for TLS, the function that reloads its certificates.
func buildLayers(cfg ListenerConfig) (layer, func() error, error) {
	var tlsLayer, wsLayer layer
	var reload func() error
	var err error
	if cfg.TLS != nil {
		if tlsLayer, reload, err = newTLSLayer(*cfg.TLS); err != nil {
			return nil, nil, err
		}
	}
	if cfg.WebSocket {
		if wsLayer, err = newWSLayer(); err != nil {
			return nil, nil, err
		}
	}
	if tlsLayer == nil && wsLayer == nil {
		return nil, nil, nil
	}
	timeout := cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = defaultHandshakeTimeout
	}
	up := func(ctx context.Context, c net.Conn, info *ConnInfo) (net.Conn, error) {
		_ = c.SetDeadline(time.Now().Add(timeout))
		var err error
		for _, l := range []layer{tlsLayer, wsLayer} {
			if l != nil {
				if c, err = l(ctx, c, info); err != nil {
					return nil, err
				}
			}
		}
		_ = c.SetDeadline(time.Time{})
		return c, nil
	}
	return up, reload, nil
}

// ReloadTLS re-reads the certificate, key and CA files of every TLS
// listener, for SIGHUP. New handshakes use the new files; open connections
// keep theirs. A listener whose files fail to load keeps its old ones; the
// errors are returned joined, each naming the listener.
func (s *Server) ReloadTLS() error {
	s.mu.Lock()
	lns := append([]*listener(nil), s.listeners...)
	s.mu.Unlock()
	var errs []error
	for _, l := range lns {
		if l.reload == nil {
			continue
		}
		if err := l.reload(); err != nil {
			errs = append(errs, fmt.Errorf("transport: reloading TLS files of %s: %w", l.name, err))
		}
	}
	return errors.Join(errs...)
}
