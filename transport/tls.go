//go:build !nossl

package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
	return tlsConfig(TLSOptions{CAFile: cafile, CertFile: certfile, KeyFile: keyfile, RequireCertificate: requireCert, Version: minVersion})
}

// tlsConfig is TLSConfig with all of o (capath and crlfile too).
func tlsConfig(o TLSOptions) (*tls.Config, *CertReloader, error) {
	r := &CertReloader{cafile: o.CAFile, capath: o.CAPath, crlfile: o.CRLFile, certfile: o.CertFile, keyfile: o.KeyFile, require: o.RequireCertificate}
	var err error
	if r.min, err = tlsVersion(o.Version); err != nil {
		return nil, nil, err
	}
	switch {
	case o.CertFile == "" || o.KeyFile == "":
		return nil, nil, errors.New("transport: TLS needs both certfile and keyfile")
	case o.RequireCertificate && o.CAFile == "" && o.CAPath == "":
		return nil, nil, errors.New("transport: require_certificate needs cafile or capath (the CAs that sign client certificates)")
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
	_                       [0]func() // not comparable: no generated == function (flash size)
	cafile, capath, crlfile string
	certfile, keyfile       string
	require                 bool
	min                     uint16
	current                 atomic.Pointer[tls.Config]
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
		pool, err := r.clientCAs()
		if err != nil {
			return err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if r.crlfile != "" {
			revoked, err := loadCRL(r.crlfile)
			if err != nil {
				return err
			}
			cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				for _, chain := range chains {
					if len(chain) > 0 && revoked[chain[0].SerialNumber.String()] {
						return fmt.Errorf("transport: client certificate %s is revoked (crlfile)", chain[0].SerialNumber)
					}
				}
				return nil
			}
		}
	}
	r.current.Store(cfg)
	return nil
}

// clientCAs reads the CAs of cafile and of the *.pem and *.crt files of
// capath.
func (r *CertReloader) clientCAs() (*x509.CertPool, error) {
	return loadCAs(r.cafile, r.capath, "")
}

// loadCAs reads the CAs of cafile and of the *.pem and *.crt files of
// capath; prefix goes before the directives' names in errors ("bridge_"
// for a bridge's).
func loadCAs(cafile, capath, prefix string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	files := 0
	if cafile != "" {
		pem, err := os.ReadFile(cafile)
		if err != nil {
			return nil, fmt.Errorf("transport: %scafile: %w", prefix, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("transport: %scafile %s: no PEM certificate found", prefix, cafile)
		}
		files++
	}
	if capath != "" {
		entries, err := os.ReadDir(capath)
		if err != nil {
			return nil, fmt.Errorf("transport: %scapath: %w", prefix, err)
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); e.IsDir() || (ext != ".pem" && ext != ".crt") {
				continue
			}
			pem, err := os.ReadFile(filepath.Join(capath, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("transport: %scapath: %w", prefix, err)
			}
			if pool.AppendCertsFromPEM(pem) {
				files++
			}
		}
		if files == 0 {
			return nil, fmt.Errorf("transport: %scapath %s: no PEM certificate in its *.pem or *.crt files", prefix, capath)
		}
	}
	return pool, nil
}

// loadCRL reads a certificate revocation list (PEM or DER) and returns
// the serial numbers it revokes.
//
// It parses with x509.ParseDERCRL, deprecated for ParseRevocationList,
// on purpose: ParseDERCRL is encoding/asn1's Unmarshal into
// pkix.CertificateList, code that crypto/x509 links anyway, while
// ParseRevocationList is 6.6 KB of code of its own (8 KB of the
// linux/mipsle binary with its metadata) that only this function would
// use. Only the serial numbers are read, as before: neither function
// checks the list's signature.
func loadCRL(path string) (map[string]bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transport: crlfile: %w", err)
	}
	if b, _ := pem.Decode(raw); b != nil {
		raw = b.Bytes
	}
	crl, err := x509.ParseDERCRL(raw) //nolint:staticcheck // see above
	if err != nil {
		return nil, fmt.Errorf("transport: crlfile %s: %w", path, err)
	}
	revoked := map[string]bool{}
	for _, e := range crl.TBSCertList.RevokedCertificates {
		revoked[e.SerialNumber.String()] = true
	}
	return revoked, nil
}

// newTLSLayer returns the TLS handshake for a listener and its reload.
func newTLSLayer(o TLSOptions) (layer, func() error, error) {
	cfg, r, err := tlsConfig(o)
	if err != nil {
		return nil, nil, err
	}
	l := func(ctx context.Context, c net.Conn, info *ConnInfo) (net.Conn, error) {
		tc := tls.Server(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("transport: TLS handshake: %w", err)
		}
		if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
			leaf := st.VerifiedChains[0][0]
			info.PeerCN, info.PeerSubject = leaf.Subject.CommonName, leaf.Subject.String()
		}
		return newTLSConn(tc, c), nil
	}
	return l, r.Reload, nil
}

// newTLSDialer returns the TLS dial of a bridge: d's TCP connection, then
// a TLS handshake (within ctx) that checks the upstream's certificate
// against the CAs of o and, unless o.Insecure, its name against the host
// dialled.
func newTLSDialer(d *net.Dialer, o ClientTLSOptions) (DialFunc, error) {
	if o.CAFile == "" && o.CAPath == "" {
		return nil, errors.New("transport: a TLS bridge needs bridge_cafile or bridge_capath")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("transport: bridge_certfile and bridge_keyfile go together")
	}
	roots, err := loadCAs(o.CAFile, o.CAPath, "bridge_")
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: roots}
	if cfg.MinVersion, err = tlsVersion(o.Version); err != nil {
		return nil, err
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("transport: bridge_certfile %s / bridge_keyfile %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.ALPN != "" {
		cfg.NextProtos = []string{o.ALPN}
	}
	if o.Insecure {
		// As Mosquitto's bridge_insecure: the chain is still verified,
		// only the host name is not. Go can skip all or nothing, so the
		// chain is checked here.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("transport: the upstream sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	td := &tls.Dialer{NetDialer: d, Config: cfg} // ServerName: the host of each address
	return func(ctx context.Context, address string) (net.Conn, error) {
		return td.DialContext(ctx, "tcp", address)
	}, nil
}
