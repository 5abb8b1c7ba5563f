//go:build !nossl

package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
)

// TLSConfig builds a server TLS configuration from mosquitto-style
// settings: the server's certificate chain and key (PEM files, both
// required), the CAs that sign client certificates (cafile; required when
// requireCert is set), whether a client certificate is required, and the
// minimum version ("tlsv1.3", "tlsv1.2" or "", "tlsv1.1").
//
// The returned config picks up the files' current contents through the
// returned CertReloader, so a Reload (on SIGHUP) changes what new
// handshakes use without touching open connections.
func TLSConfig(cafile, certfile, keyfile string, requireCert bool, minVersion string) (*tls.Config, *CertReloader, error) {
	r := &CertReloader{cafile: cafile, certfile: certfile, keyfile: keyfile, require: requireCert}
	var err error
	if r.min, err = tlsVersion(minVersion); err != nil {
		return nil, nil, err
	}
	switch {
	case certfile == "" || keyfile == "":
		return nil, nil, errors.New("transport: TLS needs both certfile and keyfile")
	case requireCert && cafile == "":
		return nil, nil, errors.New("transport: require_certificate needs cafile (the CA that signs client certificates)")
	}
	if err := r.Reload(); err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		MinVersion: r.min,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current.Load(), nil
		},
	}
	return cfg, r, nil
}

// tlsVersion maps mosquitto's tls_version to the minimum version.
func tlsVersion(v string) (uint16, error) {
	switch v {
	case "", "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "tlsv1.1":
		return tls.VersionTLS11, nil
	}
	return 0, fmt.Errorf("transport: tls_version %q: want tlsv1.3, tlsv1.2 or tlsv1.1", v)
}

// CertReloader holds a TLS listener's certificate, key and client CAs as
// last read from their files. It is safe for concurrent use.
type CertReloader struct {
	cafile, certfile, keyfile string
	require                   bool
	min                       uint16
	current                   atomic.Pointer[tls.Config]
}

// Reload reads the files again and, if they all load (and the key matches
// the certificate), makes them the ones new handshakes use. On error the
// previous files stay in use.
func (r *CertReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(r.certfile, r.keyfile)
	if err != nil {
		return fmt.Errorf("transport: certfile %s / keyfile %s: %w", r.certfile, r.keyfile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   r.min,
		ClientAuth:   tls.NoClientCert,
	}
	if r.require {
		pem, err := os.ReadFile(r.cafile)
		if err != nil {
			return fmt.Errorf("transport: cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("transport: cafile %s: no PEM certificate found", r.cafile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.current.Store(cfg)
	return nil
}

// newTLSLayer returns the TLS handshake for a listener and its reload.
func newTLSLayer(o TLSOptions) (layer, func() error, error) {
	cfg, r, err := TLSConfig(o.CAFile, o.CertFile, o.KeyFile, o.RequireCertificate, o.Version)
	if err != nil {
		return nil, nil, err
	}
	l := func(ctx context.Context, c net.Conn, info *ConnInfo) (net.Conn, error) {
		tc := tls.Server(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("transport: TLS handshake: %w", err)
		}
		if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
			info.PeerCN = st.VerifiedChains[0][0].Subject.CommonName
		}
		return tc, nil
	}
	return l, r.Reload, nil
}
